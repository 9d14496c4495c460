//! The tick: one schedule of chained phases that every mechanism plugs its systems into.
//!
//! `PriceProcess → Arrivals → Tiering → Pricing → Matching → Hedging → Reward → Record`
//! is the quote → arrival → execution → position → reward loop. The shared market moves
//! first ([`MarketSystems`]); then each mechanism's systems run in its own sub-set of each
//! phase ([`MechanismSet`]), mechanisms in scenario order. The order reads top to bottom
//! in [`tick_schedule`].

use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};

/// The phases of a tick, run in declaration order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickPhase {
    /// Advance the clock's market: mid-price, reference spread, opening positions.
    PriceProcess,
    /// Agents decide whether, how much and which way to trade (orders, arrivals).
    Arrivals,
    /// Liquidity providers re-rank their counterparties (e.g. into price tiers).
    Tiering,
    /// Quotes and prices for this tick are posted.
    Pricing,
    /// Each order executes with the cheapest quote.
    Matching,
    /// Positions are hedged or rebalanced.
    Hedging,
    /// Position revenue t_m ticks after each trade, risk cost, tick totals.
    Reward,
    /// Each mechanism's tables are written out.
    Record,
}

impl TickPhase {
    /// The number of phases.
    pub const COUNT: usize = 8;

    /// Every phase, in the order a tick runs them.
    pub const ALL: [TickPhase; Self::COUNT] = [
        TickPhase::PriceProcess,
        TickPhase::Arrivals,
        TickPhase::Tiering,
        TickPhase::Pricing,
        TickPhase::Matching,
        TickPhase::Hedging,
        TickPhase::Reward,
        TickPhase::Record,
    ];
}

/// The shared market's systems (mid-price, reference spread), first in `PriceProcess`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarketSystems;

/// One mechanism's part of one phase: mechanism `mechanism` (its index in the
/// scenario's list) runs its `phase` systems here, after the mechanisms before it.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MechanismSet {
    /// The phase.
    pub phase: TickPhase,
    /// The mechanism's index in the scenario.
    pub mechanism: usize,
}

/// The label of the tick schedule.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tick;

/// An empty tick schedule with the phases chained in order. Systems run on one thread in
/// a fixed order; data parallelism happens inside the heavy systems, with rayon, where
/// results are reduced in a fixed order.
///
/// `mechanisms` sub-sets are made in every phase ([`MechanismSet`]), chained in index
/// order after [`MarketSystems`], so systems of different mechanisms (which may share
/// resources such as `Faults` or the `Recorder`) never run unordered.
pub fn tick_schedule(mechanisms: usize) -> Schedule {
    let mut schedule = Schedule::new(Tick);
    schedule.set_executor(SingleThreadedExecutor::new());
    for pair in TickPhase::ALL.windows(2) {
        schedule.configure_sets(pair[0].before(pair[1]));
    }
    schedule.configure_sets(MarketSystems.in_set(TickPhase::PriceProcess));
    for phase in TickPhase::ALL {
        for mechanism in 0..mechanisms {
            let set = MechanismSet { phase, mechanism };
            schedule.configure_sets(set.in_set(phase));
            if mechanism == 0 && phase == TickPhase::PriceProcess {
                schedule.configure_sets(set.after(MarketSystems));
            }
            if mechanism > 0 {
                let previous = MechanismSet {
                    phase,
                    mechanism: mechanism - 1,
                };
                schedule.configure_sets(set.after(previous));
            }
        }
    }
    schedule
}

/// The boundaries between phases, where the optional phase timers run.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseBoundary {
    /// Before the first phase.
    TickStart,
    /// Right after a phase, before the next one.
    After(TickPhase),
}

/// Wall time spent in each phase, summed over ticks (filled when phase timers are
/// installed, see [`install_phase_timers`]).
#[derive(Resource, Debug, Clone)]
pub struct PhaseTimes {
    mark: Instant,
    /// Time per phase, in [`TickPhase::ALL`] order.
    pub totals: [Duration; TickPhase::COUNT],
}

impl Default for PhaseTimes {
    fn default() -> Self {
        Self {
            mark: Instant::now(),
            totals: [Duration::ZERO; TickPhase::COUNT],
        }
    }
}

impl PhaseTimes {
    /// Seconds per phase, in [`TickPhase::ALL`] order.
    pub fn seconds(&self) -> [f64; TickPhase::COUNT] {
        self.totals.map(|d| d.as_secs_f64())
    }
}

/// Adds timers between the phases of `schedule`: each phase's wall time accumulates in
/// the [`PhaseTimes`] resource (inserted by this function's caller). Only benchmarks
/// install them; a normal run has no timing systems.
pub fn install_phase_timers(schedule: &mut Schedule) {
    schedule.configure_sets(PhaseBoundary::TickStart.before(TickPhase::PriceProcess));
    for (i, &phase) in TickPhase::ALL.iter().enumerate() {
        schedule.configure_sets(PhaseBoundary::After(phase).after(phase));
        if let Some(&next) = TickPhase::ALL.get(i + 1) {
            schedule.configure_sets(PhaseBoundary::After(phase).before(next));
        }
        schedule.add_systems(
            (move |mut times: ResMut<PhaseTimes>| {
                let now = Instant::now();
                let elapsed = now - times.mark;
                times.totals[i] += elapsed;
                times.mark = now;
            })
            .in_set(PhaseBoundary::After(phase)),
        );
    }
    schedule.add_systems(
        (|mut times: ResMut<PhaseTimes>| times.mark = Instant::now())
            .in_set(PhaseBoundary::TickStart),
    );
}
