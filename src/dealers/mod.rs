//! Market makers: their components, pricing, tiering and hedging maths.

pub mod hedging_schedule;
pub mod order_statistics;
pub mod pricing;
pub mod slot_set;
pub mod tiering;

use bevy_ecs::prelude::Component;

use crate::scenario::HedgingConfig;

pub use pricing::QuoteCurve;
pub use tiering::CounterpartyBook;

/// A market maker's stable id: its position in the scenario's list (0, 1, ...).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarketMakerId(pub u32);

/// A market maker's pricing parameters.
#[derive(Component, Clone, Copy, Debug)]
pub struct Pricing(pub QuoteCurve);

/// A market maker's hedging policy and volatility estimate; absent when it never hedges.
#[derive(Component, Clone, Debug)]
pub struct Hedger {
    /// The scenario's hedging parameters.
    pub config: HedgingConfig,
    /// Current estimate of the per-tick variance of log returns, σ_t².
    pub variance: f64,
}

/// The four reward components of SPEC §2.3, in currency.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RewardComponents {
    /// Spread earned on trades this market maker quoted (investors' and hedgers').
    pub spread_revenue: f64,
    /// (P_{t+t_m} − P_t)·ṽ of trades made t_m ticks earlier.
    pub position_revenue: f64,
    /// Spread paid on this market maker's own hedges (a cost, ≥ 0; subtracted).
    pub hedging_cost: f64,
    /// min(z·(P_t − P_{t−1}), 0) on the position carried into the tick (≤ 0; added).
    pub risk_cost: f64,
}

impl RewardComponents {
    /// spread + position revenue − hedging cost + risk cost.
    pub fn total(&self) -> f64 {
        self.spread_revenue + self.position_revenue - self.hedging_cost + self.risk_cost
    }

    /// Adds another set component-wise.
    pub fn accumulate(&mut self, other: &RewardComponents) {
        self.spread_revenue += other.spread_revenue;
        self.position_revenue += other.position_revenue;
        self.hedging_cost += other.hedging_cost;
        self.risk_cost += other.risk_cost;
    }
}

/// Activity counters of one tick (reset every tick).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Activity {
    /// Investor trades won.
    pub trades: u64,
    /// Investor volume won, in units.
    pub volume: f64,
    /// Volume this market maker hedged away to others, in units.
    pub hedged_out: f64,
    /// Volume other market makers hedged to this one, in units.
    pub hedged_in: f64,
}

impl Activity {
    fn accumulate(&mut self, other: &Activity) {
        self.trades += other.trades;
        self.volume += other.volume;
        self.hedged_out += other.hedged_out;
        self.hedged_in += other.hedged_in;
    }
}

/// A market maker's reward and activity, this tick and cumulated.
#[derive(Component, Clone, Debug, Default)]
pub struct Ledger {
    /// This tick's reward components.
    pub tick: RewardComponents,
    /// This tick's activity.
    pub activity: Activity,
    /// Cumulated reward components.
    pub total: RewardComponents,
    /// Cumulated activity.
    pub total_activity: Activity,
    /// Position carried into this tick (exposed to the move P_{t−1} → P_t).
    pub position_at_open: f64,
    /// Hedge schedules solved so far.
    pub hedge_decisions: u64,
    /// Sum of the first-slice fractions x_0 of those schedules (mean = this / decisions).
    pub first_slice_total: f64,
}

impl Ledger {
    /// Starts a tick: clears the per-tick figures and notes the opening position.
    pub fn open_tick(&mut self, position: f64) {
        self.tick = RewardComponents::default();
        self.activity = Activity::default();
        self.position_at_open = position;
    }

    /// Ends a tick: adds its figures to the totals.
    pub fn close_tick(&mut self) {
        self.total.accumulate(&self.tick);
        self.total_activity.accumulate(&self.activity);
    }
}
