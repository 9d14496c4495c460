//! dealersim: agent-based simulation of over-the-counter dealer markets.
//!
//! Every agent is a `bevy_ecs` entity; one schedule of chained phases
//! ([`schedule::TickPhase`]) advances the market a 15-minute tick at a time. Each trading
//! mechanism is a folder under [`mechanisms`] behind one trait
//! ([`sim::mechanism::Mechanism`]); the core (`sim`, `schedule`, `scenario`, `output`,
//! `market`) names none. Start from [`scenario::load_scenario`] and [`sim::Simulation`]
//! (or [`sim::run_to_directory`]). `ARCHITECTURE.md` maps the modules.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod agents;
pub mod bench;
pub mod experiments;
pub mod market;
pub mod mechanisms;
pub mod numerics;
pub mod output;
pub mod plot;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod sim;
pub mod sweep;

pub use scenario::{Scenario, load_scenario};
pub use sim::{RunReport, SimError, Simulation, run_to_directory, run_to_directory_until};
