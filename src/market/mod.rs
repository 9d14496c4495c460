//! The exogenous market (SPEC §2.1): mid-price, reference spread and reference curve,
//! held as ECS resources and advanced in the `PriceProcess` phase.

pub mod price_process;
pub mod reference_curve;

use bevy_ecs::prelude::Resource;

use crate::rng::Stream;
use price_process::{PricePath, ReferenceSpreadLaw};
use reference_curve::ReferenceCurve;

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
    /// t_m, the position-revenue horizon in ticks.
    pub position_horizon: u32,
    /// σ√Δ, the model's per-tick volatility, for hedgers that know it.
    pub tick_volatility: f64,
    /// Δ, the tick length in years.
    pub tick_years: f64,
    /// Largest size of any trade, in units (below v_max).
    pub max_trade_size: f64,
}
