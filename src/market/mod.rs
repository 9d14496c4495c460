//! The exogenous market every mechanism shares (SPEC §2.1): mid-price, reference spread
//! and reference curve, held as ECS resources and advanced first in the `PriceProcess`
//! phase by [`advance_market`].

pub mod price_process;
pub mod reference_curve;

use bevy_ecs::prelude::*;

use crate::rng::{Stream, StreamDomain, stream};
use crate::scenario::MarketConfig;
use crate::schedule::MarketSystems;
use crate::sim::mechanism::Faults;
use price_process::{GbmStep, PricePath, ReferenceSpreadLaw};
use reference_curve::{CurveShape, ReferenceCurve};

/// The simulation clock.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Clock {
    /// The current tick, 0-based.
    pub tick: u32,
    /// Number of ticks in the run.
    pub steps: u32,
}

/// The market as of the current tick.
#[derive(Resource, Clone, Copy, Debug)]
pub struct MarketState {
    /// P_t, the mid-price.
    pub price: f64,
    /// P_{t−1} (equal to P_0 on tick 0).
    pub previous_price: f64,
    /// This tick's reference curve (s0 and shape).
    pub curve: ReferenceCurve,
}

/// The generators of the exogenous market, with their own streams.
#[derive(Resource, Debug)]
pub struct MarketProcess {
    /// The mid-price path, generated ahead for the oracle and position revenue.
    pub path: PricePath,
    /// The reference spread law.
    pub spread_law: ReferenceSpreadLaw,
    /// The stream for reference spread draws.
    pub spread_rng: Stream,
    /// σ√Δ, the model's per-tick volatility (for agents that know it).
    pub tick_volatility: f64,
    /// Δ, the tick length in years.
    pub tick_years: f64,
}

/// The market's resources at tick 0 for `config`, with streams from `seed`.
pub fn insert_market(world: &mut World, config: &MarketConfig, seed: u64, steps: u32) {
    let s = &config.reference_spread;
    world.insert_resource(Clock { tick: 0, steps });
    world.insert_resource(MarketState {
        price: config.initial_price,
        previous_price: config.initial_price,
        curve: ReferenceCurve {
            reference_spread: s.mean,
            shape: CurveShape::new(config.lambda, config.v_max),
        },
    });
    world.insert_resource(MarketProcess {
        path: PricePath::new(
            config.initial_price,
            GbmStep::new(config.drift, config.volatility, config.tick_years),
            stream(seed, StreamDomain::MidPrice, 0),
        ),
        spread_law: ReferenceSpreadLaw {
            mean: s.mean,
            std_dev: s.std_dev,
            min: s.min,
            max: s.max,
        },
        spread_rng: stream(seed, StreamDomain::ReferenceSpread, 0),
        tick_volatility: config.volatility * config.tick_years.sqrt(),
        tick_years: config.tick_years,
    });
}

/// Adds [`advance_market`] to the schedule, first in `PriceProcess`.
pub fn install(schedule: &mut Schedule) {
    schedule.add_systems(advance_market.in_set(MarketSystems));
}

/// The mid-price left (0, ∞).
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "the mid-price left (0, ∞) (P = {0}): market.drift, market.volatility or market.tick_years drive it out of range"
)]
pub struct PriceOutOfRange(pub f64);

/// PriceProcess: P_t from the path, a fresh s0. Mechanisms may look the path ahead
/// (`path.price(t + k)`); only ticks before the current one are forgotten.
pub fn advance_market(
    clock: Res<Clock>,
    mut process: ResMut<MarketProcess>,
    mut state: ResMut<MarketState>,
    mut faults: ResMut<Faults>,
) {
    let tick = u64::from(clock.tick);
    let price = process.path.price(tick);
    if !(price.is_finite() && price > 0.0) {
        faults.push(PriceOutOfRange(price));
    }
    state.previous_price = if clock.tick == 0 { price } else { state.price };
    state.price = price;
    let law = process.spread_law;
    state.curve.reference_spread = law.sample(&mut process.spread_rng);
    process.path.forget_before(tick);
}
