//! Building a World from a scenario and driving the tick schedule: the library's entry
//! point (`Simulation`) and the whole-run helper behind `dealersim run`
//! (`run_to_directory`). Everything mechanism-specific goes through [`Mechanism`].

pub mod mechanism;
pub mod resources;
mod run;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};

use crate::market::{self, Clock};
use crate::output::Recorder;
use crate::output::table::OutputError;
use crate::scenario::{Problem, Scenario, validate};
use crate::schedule::{PhaseTimes, TickPhase, install_phase_timers, tick_schedule};
use mechanism::{Faults, Mechanism, Summary, Systems};
pub use run::{
    MemoryRun, RunReport, RunTiming, run_in_memory, run_to_directory, run_to_directory_until,
};

/// Why a simulation could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario breaks a rule (validation problems with field paths).
    #[error("invalid scenario:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid(Vec<Problem>),
    /// The model was asked something it cannot answer (e.g. a size ≥ v_max).
    #[error("model error at tick {tick}: {source}")]
    Model {
        /// The tick at which it happened.
        tick: u32,
        /// What happened (downcast to the mechanism's fault type to inspect it).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing the outputs failed; nothing partial was left behind.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The run was asked to stop (a signal) before its last tick; nothing was written.
    #[error("interrupted before tick {tick}: nothing was written")]
    Interrupted {
        /// The next tick that would have run.
        tick: u32,
    },
    /// The resolved scenario could not be serialised.
    #[error("cannot serialise the resolved scenario: {0}")]
    Serialise(#[from] ron::Error),
}

/// A simulation: its World, the tick schedule and the scenario it was built from.
pub struct Simulation {
    world: World,
    schedule: Schedule,
    scenario: Scenario,
}

impl Simulation {
    /// Builds the World for `scenario`: the shared market's resources, then each
    /// mechanism's entities, resources and systems, in the scenario's order.
    ///
    /// # Errors
    /// [`SimError::Invalid`] when the scenario fails validation.
    pub fn new(scenario: &Scenario) -> Result<Self, SimError> {
        Self::within(scenario, &resources::Limits::of_this_machine(None))
    }

    /// As [`Simulation::new`], with the memory (and disk) the run may use given, e.g. a
    /// `--max-memory` above or below what the machine reports.
    ///
    /// # Errors
    /// [`SimError::Invalid`] when the scenario fails validation or needs more than
    /// `limits` allow.
    pub fn within(scenario: &Scenario, limits: &resources::Limits) -> Result<Self, SimError> {
        let mut problems = validate(scenario);
        if problems.is_empty() {
            // A population the machine cannot hold is refused, not aborted on.
            problems = resources::check(scenario, limits);
        }
        if !problems.is_empty() {
            return Err(SimError::Invalid(problems));
        }
        let _setup = tracing::info_span!("setup", scenario = %scenario.name).entered();
        let started = std::time::Instant::now();
        let mut world = World::new();
        market::insert_market(&mut world, &scenario.market, scenario.seed, scenario.steps);
        world.init_resource::<Faults>();
        world.init_resource::<Recorder>();
        let mut schedule = tick_schedule(scenario.mechanisms.len());
        market::install(&mut schedule);
        for (index, config) in scenario.mechanisms.iter().enumerate() {
            let mechanism = config.as_mechanism();
            mechanism.build(scenario, &mut world);
            mechanism.install(&mut Systems::new(&mut schedule, index));
            tracing::info!(
                mechanism = mechanism.kind(),
                population = ?mechanism.population(),
                "built"
            );
        }
        tracing::info!(
            entities = world.entities().len(),
            seconds = started.elapsed().as_secs_f64(),
            "world built"
        );
        Ok(Self {
            world,
            schedule,
            scenario: scenario.clone(),
        })
    }

    /// The scenario this simulation runs.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The scenario's mechanisms, in order.
    pub fn mechanisms(&self) -> impl Iterator<Item = &dyn Mechanism> {
        self.scenario.mechanisms.iter().map(|m| m.as_mechanism())
    }

    /// The World, for inspection.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The World, e.g. to add systems' resources or inspect components.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The tick schedule, e.g. to add systems to a phase.
    pub fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    /// Checks that the tick schedule has no ordering ambiguity: every pair of systems
    /// that touch the same data runs in a fixed order, so a run cannot depend on the
    /// executor. A new mechanism's tests should call it.
    ///
    /// # Errors
    /// The ambiguities, as bevy describes them.
    pub fn check_schedule(&mut self) -> Result<(), String> {
        self.schedule.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
        let result = self
            .schedule
            .initialize(&mut self.world)
            .map(|_| ())
            .map_err(|error| error.to_string(self.schedule.graph(), &self.world));
        self.schedule
            .set_build_settings(ScheduleBuildSettings::default());
        result
    }

    /// Times every phase of every following tick into the [`PhaseTimes`] resource.
    pub fn enable_phase_timers(&mut self) {
        if !self.world.contains_resource::<PhaseTimes>() {
            self.world.init_resource::<PhaseTimes>();
            install_phase_timers(&mut self.schedule);
        }
    }

    /// Seconds spent in each phase so far (`TickPhase::ALL` order), when timed.
    pub fn phase_seconds(&self) -> Option<[f64; TickPhase::COUNT]> {
        self.world
            .get_resource::<PhaseTimes>()
            .map(PhaseTimes::seconds)
    }

    /// Installs `recorder` to write tables during the run.
    pub fn set_recorder(&mut self, recorder: Recorder) {
        self.world.insert_resource(recorder);
    }

    /// Takes the recorder back (e.g. to finish its tables after the run).
    pub fn take_recorder(&mut self) -> Recorder {
        self.world.remove_resource::<Recorder>().unwrap_or_default()
    }

    /// The next tick to run.
    pub fn tick(&self) -> u32 {
        self.world.resource::<Clock>().tick
    }

    /// Runs one tick.
    ///
    /// # Errors
    /// [`SimError::Model`] on a model fault, [`SimError::Output`] when recording failed.
    pub fn step(&mut self) -> Result<(), SimError> {
        let tick = self.tick();
        self.schedule.run(&mut self.world);
        if let Some(source) = self.world.resource_mut::<Faults>().take_first() {
            return Err(SimError::Model { tick, source });
        }
        if let Some(mut recorder) = self.world.get_resource_mut::<Recorder>()
            && let Some(error) = recorder.take_error()
        {
            return Err(error.into());
        }
        #[cfg(debug_assertions)]
        {
            let residual = self.accounting_residual();
            debug_assert!(
                residual.abs() <= 1e-6,
                "accounting invariant broken at tick {tick}: residual {residual}"
            );
        }
        tracing::debug!(
            tick,
            price = self.world.resource::<market::MarketState>().price,
            "tick done"
        );
        self.world.resource_mut::<Clock>().tick = tick + 1;
        Ok(())
    }

    /// Runs the remaining ticks, calling `on_tick` with the number of ticks done.
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn run(&mut self, mut on_tick: impl FnMut(u32)) -> Result<(), SimError> {
        while self.tick() < self.scenario.steps {
            self.step()?;
            on_tick(self.tick());
        }
        Ok(())
    }

    /// The largest conservation residual over the mechanisms (see
    /// [`Mechanism::accounting_residual`]): zero up to rounding when every trade moved
    /// cash and units between two parties.
    pub fn accounting_residual(&mut self) -> f64 {
        self.each_mechanism(|m, world| m.accounting_residual(world))
            .into_iter()
            .fold(
                0.0,
                |worst: f64, r| if r.abs() > worst.abs() { r } else { worst },
            )
    }

    /// Every mechanism's results so far, in scenario order.
    pub fn summaries(&mut self) -> Vec<Summary> {
        self.each_mechanism(|m, world| m.summary(world))
    }

    /// `f` of every mechanism with the World, in scenario order.
    fn each_mechanism<T>(&mut self, f: impl Fn(&dyn Mechanism, &mut World) -> T) -> Vec<T> {
        let Simulation {
            world, scenario, ..
        } = self;
        scenario
            .mechanisms
            .iter()
            .map(|m| f(m.as_mechanism(), world))
            .collect()
    }
}
