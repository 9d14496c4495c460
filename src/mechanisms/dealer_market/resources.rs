//! The dealer market's resources: population sizes, the arrival sampler, this tick's
//! orders and quotes, trades waiting for their position revenue, the trade log, the
//! exchange as an outside party, and the faults the model can raise.
//!
//! Counterparty indices: investors are `0..N` (their ids), market maker m is `N + m`.

use std::collections::VecDeque;

use bevy_ecs::prelude::*;

use super::investors::{ArrivalMember, ArrivalSampler, Order};
use super::pricing::QuoteCurve;
use crate::agents::Holdings;
use crate::market::reference_curve::SizeOutOfRange;

/// The dealer market's own settings, from its config.
#[derive(Resource, Clone, Copy, Debug)]
pub struct DealerRules {
    /// t_m, ticks from a trade to its position revenue (and the oracle's look-ahead).
    pub position_horizon: u32,
    /// Largest size of any trade, in units (below v_max).
    pub max_trade_size: f64,
}

/// Population sizes, for counterparty indexing.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Population {
    /// N, number of investors.
    pub investors: u32,
    /// M, number of market makers.
    pub market_makers: u32,
}

impl Population {
    /// Counterparty index of market maker `m`.
    pub fn maker_slot(&self, m: u32) -> usize {
        (self.investors + m) as usize
    }

    /// Number of counterparty slots in every book.
    pub fn slots(&self) -> usize {
        (self.investors + self.market_makers) as usize
    }
}

/// How the Arrivals phase decides who trades; a run picks one with
/// [`ArrivalMode::for_population`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalMode {
    /// Activity-proportional skip-sampling ([`ArrivalSampler`]): O(trades) per tick.
    Skip,
    /// One uniform per investor per tick: O(N); the direct reference implementation the
    /// tests compare the default against.
    PerInvestor,
}

impl ArrivalMode {
    /// A candidate of the skip sampler costs about this many times a step of the direct
    /// scan: the scan reads investors in storage order, while the sampler reads each
    /// candidate at random. Measured on rung L (1M investors, 5.5% candidates a tick),
    /// both modes forced, with the draws of the trades made in parallel in both: about
    /// 8 ns an investor scanned (the ECS walk and one uniform from the investor's own
    /// stream) against about 65 ns a candidate (a miss on its member, the gap's log, the
    /// trade's draws), so 8. It was 20 before the buckets were sampled in parallel,
    /// which put L on the scan at twice the arrival time.
    pub const RANDOM_ACCESS_COST: f64 = 8.0;

    /// Smaller populations always use the direct scan. It takes under 0.2 ms a tick
    /// there, so the choice cannot matter for speed, and the paper-sized runs (and the
    /// published figures made from them) keep the draws they were made with.
    pub const MIN_SKIP_POPULATION: usize = 50_000;

    /// The cheaper exact method for `investors` of which `expected_candidates` are
    /// candidates per tick. Both give the same distribution, but not the same draws, so
    /// the choice depends only on the scenario, keeping runs reproducible.
    pub fn for_population(expected_candidates: f64, investors: usize) -> Self {
        if investors >= Self::MIN_SKIP_POPULATION
            && expected_candidates * Self::RANDOM_ACCESS_COST < investors as f64
        {
            ArrivalMode::Skip
        } else {
            ArrivalMode::PerInvestor
        }
    }
}

/// The arrival sampler and the mode in use.
#[derive(Resource, Debug)]
pub struct Arrivals {
    /// Which method decides who trades.
    pub mode: ArrivalMode,
    /// The buckets of the skip-sampling method.
    pub sampler: ArrivalSampler,
    /// Scratch: this tick's sampled traders, kept to reuse the allocation.
    pub traders: Vec<ArrivalMember>,
}

/// This tick's orders, sorted by investor id.
#[derive(Resource, Debug, Default)]
pub struct PendingOrders(pub Vec<Order>);

/// This tick's pricing curves, indexed by market maker id, and S_ref(0).
#[derive(Resource, Debug, Default)]
pub struct QuoteBoard {
    /// S_ref(0) = s0/2 this tick.
    pub half_spread: f64,
    /// Each market maker's curve.
    pub curves: Vec<QuoteCurve>,
    /// The distinct α among the curves (market makers often share one), and each
    /// curve's index into them: a quote needs one exp per distinct α, not per maker.
    exponents: Vec<f64>,
    exponent_of: Vec<usize>,
}

impl QuoteBoard {
    /// Indexes the curves' distinct α (bitwise equal): call after changing `curves`.
    pub fn index_exponents(&mut self) {
        self.exponents.clear();
        self.exponent_of.clear();
        for curve in &self.curves {
            let bits = curve.alpha.to_bits();
            let index = match self.exponents.iter().position(|a| a.to_bits() == bits) {
                Some(i) => i,
                None => {
                    self.exponents.push(curve.alpha);
                    self.exponents.len() - 1
                }
            };
            self.exponent_of.push(index);
        }
    }

    /// Every market maker's quote for a size with log reference ratio `log_ratio` to a
    /// counterparty quoted at `tiers[m]` by market maker m, into `spreads` (`scales` is
    /// scratch). The same arithmetic as [`QuoteCurve::spread`], so bit for bit the same.
    #[inline]
    pub fn quotes(
        &self,
        log_ratio: f64,
        tiers: &[u8],
        scales: &mut Vec<f64>,
        spreads: &mut Vec<f64>,
    ) {
        scales.clear();
        scales.extend(
            self.exponents
                .iter()
                .map(|alpha| self.half_spread * (alpha * log_ratio).exp()),
        );
        spreads.clear();
        spreads.extend(
            self.curves
                .iter()
                .zip(&self.exponent_of)
                .zip(tiers)
                .map(|((curve, &e), &tier)| scales[e] + curve.tier_penalty * f64::from(tier)),
        );
    }
}

/// A trade whose position revenue is due t_m ticks after it.
#[derive(Clone, Copy, Debug)]
pub struct PendingRevenue {
    /// The market maker that quoted.
    pub maker: u32,
    /// The counterparty's slot in the maker's book.
    pub counterparty: u32,
    /// Size from the maker's side (+ when it bought), units.
    pub maker_signed_size: f64,
    /// P_t at the trade.
    pub mid_at_trade: f64,
    /// Spread revenue the maker earned on it, currency.
    pub spread_revenue: f64,
    /// Whether its yield feeds the maker's score of the counterparty: true for the side
    /// that quoted, false for a hedger's own side of its hedge.
    pub scores: bool,
}

/// Trades waiting for their position revenue: one bucket per tick, at most t_m + 1 kept.
#[derive(Resource, Debug, Default)]
pub struct PositionRevenueQueue {
    buckets: VecDeque<(u32, Vec<PendingRevenue>)>,
}

impl PositionRevenueQueue {
    pub(super) fn push(&mut self, tick: u32, entry: PendingRevenue) {
        match self.buckets.back_mut() {
            Some((t, bucket)) if *t == tick => bucket.push(entry),
            _ => self.buckets.push_back((tick, vec![entry])),
        }
    }

    /// Removes and returns the trades made at or before `tick`.
    pub(super) fn take_due(&mut self, tick: u32) -> Vec<PendingRevenue> {
        let mut due = Vec::new();
        while self.buckets.front().is_some_and(|(t, _)| *t <= tick) {
            if let Some((_, bucket)) = self.buckets.pop_front() {
                due.extend(bucket);
            }
        }
        due
    }

    /// Number of trades waiting.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|(_, b)| b.len()).sum()
    }

    /// Whether no trade is waiting.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|(_, b)| b.is_empty())
    }
}

/// Whether a trade came from an investor order or a market maker's hedge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeKind {
    /// An investor traded with the cheapest market maker.
    Investor,
    /// A market maker hedged with another.
    Hedge,
    /// A market maker hedged on the reference exchange (`maker` is the hedger).
    ExchangeHedge,
}

/// The reference exchange as a hedging venue: an outside party whose holdings count in
/// the accounting invariant.
#[derive(Resource, Debug, Default)]
pub struct Exchange {
    /// What the exchange has bought and paid.
    pub holdings: Holdings,
}

/// The exchange's quote: S_ref(v) = S_ref(0)·(S_ref(v)/S_ref(0))¹, no tier penalty.
pub(super) const EXCHANGE_CURVE: QuoteCurve = QuoteCurve {
    alpha: 1.0,
    tier_penalty: 0.0,
};

/// One executed trade, as the trades table records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeRecord {
    /// Tick of execution.
    pub tick: u32,
    /// Investor order or hedge.
    pub kind: TradeKind,
    /// The market maker that quoted (provided liquidity); the hedger for exchange hedges.
    pub maker: u32,
    /// Investor id, or market maker id for hedges.
    pub counterparty: u32,
    /// Size from the quoting maker's side (+ when it bought), units.
    pub maker_signed_size: f64,
    /// Relative spread paid by the counterparty.
    pub spread: f64,
    /// Execution price, P_t·(1 ± spread).
    pub price: f64,
    /// Tier the maker quoted at.
    pub tier: u8,
    /// Whether an investor's direction came from the oracle.
    pub informed: bool,
}

/// This tick's trades, kept only when the run records trades.
#[derive(Resource, Debug, Default)]
pub struct TradeLog {
    /// Whether to keep trades at all.
    pub enabled: bool,
    /// The trades of the current tick.
    pub trades: Vec<TradeRecord>,
}

impl TradeLog {
    pub(super) fn push(&mut self, record: TradeRecord) {
        if self.enabled {
            self.trades.push(record);
        }
    }
}

/// A state the model cannot continue from.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum ModelFault {
    /// A trade size the reference curve cannot price.
    #[error(transparent)]
    Size(#[from] SizeOutOfRange),
    /// A best quote at or above 100% of the mid (a sell would execute at P·(1 − s) ≤ 0),
    /// or not a number.
    #[error(
        "market maker {maker}'s best quote for a {kind} of size {size} is a spread of {spread}, not below 1: \
         the trade's price P·(1 ∓ s) would not be positive; lower market_makers[{maker}].alpha or \
         tier_penalty, or market.reference_spread.max"
    )]
    Quote {
        /// The quoting market maker's id.
        maker: u32,
        /// `investor trade` or `hedge`.
        kind: &'static str,
        /// The trade's size, units.
        size: f64,
        /// The spread quoted.
        spread: f64,
    },
}
