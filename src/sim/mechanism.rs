//! The contract every market mechanism meets: what the core asks of it and what it
//! hands it. The core (`sim`, `schedule`, `scenario`, `output`, `market`) only ever talks
//! to a mechanism through [`Mechanism`]; `ARCHITECTURE.md` shows how to add one.

use std::error::Error;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::IntoScheduleConfigs;
use bevy_ecs::system::ScheduleSystem;

use crate::output::DeclaredTable;
use crate::output::row::{OwnedCell, TableSpec};
use crate::scenario::{Checker, Scenario};
use crate::schedule::{MechanismSet, TickPhase};
use crate::sim::resources::ResourceEstimate;

/// A market mechanism: its configuration (one entry of the scenario's `mechanisms`)
/// together with everything it does in a run. Implemented by each mechanism's config
/// type; the scenario's list is turned into `&dyn Mechanism` by
/// [`MechanismConfig::as_mechanism`](crate::mechanisms::MechanismConfig::as_mechanism).
pub trait Mechanism: Sync {
    /// The kind as written in scenario files (the variant of `MechanismConfig`).
    fn kind(&self) -> &'static str;

    /// Checks this config, adding every problem to `checker` with a field path under
    /// `path` (e.g. `mechanisms[0].agents[1].rate`). It may also flag shared
    /// fields it depends on (e.g. `market.v_max` below its largest trade). Called only
    /// from validation, before anything is built.
    fn validate(&self, scenario: &Scenario, path: &str, checker: &mut Checker);

    /// Spawns the mechanism's entities and inserts its resources into `world`, which
    /// already holds the shared market resources (`Clock`, `MarketState`,
    /// `MarketProcess`, [`Faults`]). Only called on a validated scenario.
    fn build(&self, scenario: &Scenario, world: &mut World);

    /// Adds the mechanism's systems to the tick's phases.
    fn install(&self, systems: &mut Systems<'_>);

    /// Every table the mechanism streams during a run, and whether this scenario writes
    /// it. Its `Record` systems write their rows through the `Recorder`. Names must be
    /// unique across the scenario's mechanisms (validation checks).
    fn tables(&self, scenario: &Scenario) -> Vec<DeclaredTable>;

    /// The table of its end-of-run summary, written by the core from
    /// [`Mechanism::summary`].
    fn summary_table(&self) -> TableSpec;

    /// The run's results so far: rows for the summary table and for the terminal.
    fn summary(&self, world: &mut World) -> Summary;

    /// What a run of this config will need: peak memory and output size, with the
    /// fields that drive each (under `path`, `mechanisms[i]`). Checked against the
    /// machine before anything is built ([`crate::sim::resources::check`]).
    fn resource_estimate(&self, scenario: &Scenario, path: &str) -> ResourceEstimate;

    /// Entity counts for the manifest, by role (`[("buyers", 10), ("sellers", 2)]`).
    fn population(&self) -> Vec<(&'static str, u64)>;

    /// Figures of the whole run worth keeping in the manifest (counts of truncations,
    /// lost users, solver cut-offs...), by name. Default: none.
    fn run_figures(&self, world: &mut World) -> Vec<(&'static str, serde_json::Value)> {
        let _ = world;
        Vec::new()
    }

    /// The mechanism's conservation residual: how far Σ cash + Σ position·price over its
    /// agents (and outside parties it trades with) is from zero, relative to the gross
    /// cash; zero up to rounding when every trade moved cash and units between two
    /// parties.
    fn accounting_residual(&self, world: &mut World) -> f64;
}

/// Where a mechanism puts its systems: each phase of the tick has a sub-set per
/// mechanism ([`MechanismSet`]), run in the scenario's order, so two mechanisms' systems
/// never run unordered and one mechanism's systems are ordered only by itself.
pub struct Systems<'a> {
    schedule: &'a mut Schedule,
    mechanism: usize,
}

impl<'a> Systems<'a> {
    /// The installer for mechanism `mechanism` (its index in the scenario; the core
    /// makes the sub-sets for exactly as many mechanisms as the scenario lists).
    pub(crate) fn new(schedule: &'a mut Schedule, mechanism: usize) -> Self {
        Self {
            schedule,
            mechanism,
        }
    }

    /// Adds `systems` to `phase`, inside this mechanism's sub-set of it.
    pub fn add<M>(
        &mut self,
        phase: TickPhase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        let set = MechanismSet {
            phase,
            mechanism: self.mechanism,
        };
        self.schedule.add_systems(systems.in_set(set));
        self
    }
}

/// A state a model cannot continue from (a size the curve cannot price, a price that
/// left its range). Systems push faults; the driver stops the run at the end of the tick
/// and reports the first, with the tick.
#[derive(Resource, Default)]
pub struct Faults(Vec<Box<dyn Error + Send + Sync>>);

impl Faults {
    /// Records `fault`.
    pub fn push(&mut self, fault: impl Error + Send + Sync + 'static) {
        self.0.push(Box::new(fault));
    }

    /// The first fault recorded, clearing the rest.
    pub fn take_first(&mut self) -> Option<Box<dyn Error + Send + Sync>> {
        let first = self.0.drain(..).next();
        self.0.clear();
        first
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|e| e.to_string()))
            .finish()
    }
}

/// A mechanism's results: written to its summary table, and shown on the terminal.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The mechanism kind.
    pub mechanism: &'static str,
    /// The rows of its summary table ([`Mechanism::summary_table`]), in column order.
    pub rows: Vec<Vec<OwnedCell>>,
    /// The same results formatted for a terminal.
    pub display: TextTable,
}

/// A small table of text for the terminal: the first column left-aligned, the others
/// right-aligned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextTable {
    /// Column headers.
    pub headers: Vec<&'static str>,
    /// Rows of formatted values.
    pub rows: Vec<Vec<String>>,
}

impl std::fmt::Display for TextTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|v| v.chars().count())
                    .chain([self.headers[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut std::fmt::Formatter<'_>, row: &[&str]| -> std::fmt::Result {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (v, &w))| {
                    if c == 0 {
                        format!("{v:<w$}")
                    } else {
                        format!("{v:>w$}")
                    }
                })
                .collect();
            writeln!(f, "{}", cells.join("  "))
        };
        line(f, &self.headers)?;
        let rule = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        writeln!(f, "{}", "-".repeat(rule))?;
        for row in &self.rows {
            let row: Vec<&str> = row.iter().map(String::as_str).collect();
            line(f, &row)?;
        }
        Ok(())
    }
}
