//! Subcommands of the `dealersim` binary that are more than a few lines of glue.

pub mod auction;
pub mod quote_control;
pub mod sweep;
