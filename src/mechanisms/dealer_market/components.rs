//! Market makers' components: id, pricing, hedging policy and the reward ledger.

use bevy_ecs::prelude::*;
use bevy_ecs::query::{IterQueryData, ROQueryItem};
use bevy_ecs::system::SystemParam;
use serde::{Deserialize, Serialize};

use super::investors::InvestorId;
use super::pricing::QuoteCurve;

/// A market maker's stable id: its position in the scenario's list (0, 1, ...).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarketMakerId(pub u32);

/// The market makers with components `D`, in id order: what every system that treats
/// them one by one needs (ids are indices into the quote board and the books' slots,
/// and the order of their trades must not depend on storage order).
#[derive(SystemParam)]
pub struct MakersById<'w, 's, D: IterQueryData + 'static> {
    query: Query<'w, 's, (&'static MarketMakerId, D), Without<InvestorId>>,
}

impl<'w, 's, D: IterQueryData + 'static> MakersById<'w, 's, D> {
    /// Every market maker's id and components, in id order.
    pub fn in_id_order(&mut self) -> Vec<(MarketMakerId, D::Item<'_, 's>)> {
        let mut makers: Vec<_> = self.query.iter_mut().map(|(id, d)| (*id, d)).collect();
        makers.sort_unstable_by_key(|(id, _)| id.0);
        makers
    }

    /// As [`MakersById::in_id_order`], read-only.
    pub fn read_in_id_order(&self) -> Vec<(MarketMakerId, ROQueryItem<'_, 's, D>)> {
        let mut makers: Vec<_> = self.query.iter().map(|(id, d)| (*id, d)).collect();
        makers.sort_unstable_by_key(|(id, _)| id.0);
        makers
    }
}

/// A market maker's pricing parameters.
#[derive(Component, Clone, Copy, Debug)]
pub struct Pricing(pub QuoteCurve);

/// A market maker's hedging policy and volatility estimate; absent when it never hedges.
#[derive(Component, Clone, Debug)]
pub struct Hedger {
    /// The policy.
    pub policy: HedgePolicy,
    /// Current estimate of the per-tick variance of log returns, σ_t².
    pub variance: f64,
}

/// How a market maker hedges (SPEC §2.3, Almgren–Chriss with the VaR criterion).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgePolicy {
    /// γ, weight of √Var[C] in VaR = E[C] + γ√Var[C].
    pub risk_aversion: f64,
    /// N_max, ticks over which a position is scheduled out.
    pub horizon: u32,
    /// How σ_t is estimated.
    pub volatility_estimate: VolatilityEstimate,
    /// Where hedges trade.
    pub venue: HedgeVenue,
    /// The largest slice, in units, when capped (the curve's own limit applies anyway).
    pub max_slice: Option<f64>,
}

/// Where a market maker hedges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HedgeVenue {
    /// With the other market maker quoting the best price for the slice; c(v) is the
    /// best of their quotes to this market maker (SPEC §2.3).
    #[default]
    MarketMakers,
    /// On the reference exchange at S_ref(v); c(v) = S_ref(v). The exchange is an
    /// outside party: it earns no reward, but its cash and position are counted in the
    /// accounting invariant.
    Exchange,
}

/// How a hedger estimates the per-tick volatility σ_t.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum VolatilityEstimate {
    /// The true model volatility σ√Δ.
    #[default]
    Known,
    /// EWMA of squared log returns with this weight in (0, 1], started at σ²Δ.
    Ewma(f64),
    /// A fixed annualised σ the hedger assumes whatever the market does (per tick:
    /// σ·√Δ): a desk whose risk model is calibrated to one regime. Must be ≥ 0.
    Fixed(f64),
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
    /// Investor trades won whose drawn size was truncated to the largest trade.
    pub clipped_trades: u64,
}

impl Activity {
    fn accumulate(&mut self, other: &Activity) {
        self.trades += other.trades;
        self.volume += other.volume;
        self.hedged_out += other.hedged_out;
        self.hedged_in += other.hedged_in;
        self.clipped_trades += other.clipped_trades;
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
    /// Σ x_0·|z| over those schedules: the volume the solver asked to hedge (units).
    pub scheduled_hedge_volume: f64,
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
