//! dealersim: agent-based simulation of over-the-counter dealer markets.
//!
//! Investors and market makers are `bevy_ecs` entities; one schedule of chained phases
//! ([`schedule::TickPhase`]) advances the market a 15-minute tick at a time. Start from
//! [`scenario::load_scenario`] and [`sim::Simulation`] (or [`sim::run_to_directory`]).
//! `ARCHITECTURE.md` maps the modules.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod agents;
pub mod bench;
pub mod dealers;
pub mod experiments;
pub mod market;
pub mod mechanisms;
pub mod numerics;
pub mod output;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod sim;

pub use scenario::{Scenario, load_scenario};
pub use sim::{MakerSummary, RunReport, SimError, Simulation, run_to_directory};
