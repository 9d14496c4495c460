//! Market mechanisms: each installs its systems into the tick's phases.

pub mod dealer_market;
