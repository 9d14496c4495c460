//! The dealer market's scenario configuration: `DealerMarket(...)` in a scenario's
//! `mechanisms`, with every field's meaning, unit and default (`docs/scenarios.md` lists
//! the same; keep the two in step). Converted into model parameters when the World is
//! built (`build.rs`); the maths never sees these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::components::{HedgeVenue, VolatilityEstimate};
pub use super::tiering::TieBreak;
use crate::scenario::{ParamDistribution, TICKS_PER_DAY};

/// The dealer market (SPEC §2): investors trade with market makers, who price by size and
/// tier and hedge with each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerMarketConfig {
    /// The investor population: explicit investors and generated groups, in id order.
    pub investors: Vec<InvestorSpec>,
    /// The market makers, in id order (0, 1, ...). At least one.
    pub market_makers: Vec<MarketMakerConfig>,
    /// Largest size of an investor trade, in units: a size drawn above it is truncated to
    /// it, and the run counts such trades (`clipped_trades` in the summary and manifest;
    /// validation warns when a size law puts more than 0.1% of its mass above it). Hedge
    /// slices are not capped by it (see `hedging.max_slice`). Default: 1,000. Must be
    /// below `market.v_max`.
    #[serde(default = "defaults::max_trade_size")]
    pub max_trade_size: f64,
    /// t_m, ticks after a trade at which its position revenue is realised (and the
    /// oracle's look-ahead). Default: 4 (one hour). Must be ≥ 1.
    #[serde(default = "defaults::position_horizon")]
    pub position_horizon: u32,
    /// What the `tiers` and `tier_counts` tables hold: every book's score and tier of
    /// every counterparty (`Every(k)`, `Final`), per-tier counts only (`Counts(k)`), or
    /// nothing (`Off`). A full snapshot has one row per (market maker, counterparty), 20M
    /// rows at a million investors and 20 market makers, so the default `Auto` writes full
    /// snapshots every 96 ticks while a snapshot has at most 1,000,000 rows and per-tier
    /// counts every 96 ticks above that. Snapshots are taken every k ticks and at the
    /// last tick. Default: `Auto`.
    #[serde(default)]
    pub tier_snapshots: TierSnapshots,
}

/// What the dealer market writes of its books' tiers (see
/// [`DealerMarketConfig::tier_snapshots`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TierSnapshots {
    /// `Every(96)` while a snapshot has at most [`AUTO_FULL_SNAPSHOT_ROWS`] rows, else
    /// `Counts(96)`.
    #[default]
    Auto,
    /// No tier table.
    Off,
    /// Every score and tier, at the last tick only.
    Final,
    /// Every score and tier, every k ticks (k ≥ 1) and at the last tick.
    Every(u32),
    /// The number of counterparties in each tier of each book (`tier_counts`), every k
    /// ticks (k ≥ 1) and at the last tick.
    Counts(u32),
}

/// The largest full snapshot `TierSnapshots::Auto` writes, in rows (market makers ×
/// counterparties): about 6 MB of Parquet.
pub const AUTO_FULL_SNAPSHOT_ROWS: u64 = 1_000_000;

/// Which table a snapshot plan writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotScope {
    /// `tiers`: one row per (market maker, counterparty).
    Full,
    /// `tier_counts`: one row per (market maker, tier).
    Counts,
}

/// A resolved snapshot plan: the scope and the interval (`None`: at the last tick only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPlan {
    /// What is written.
    pub scope: SnapshotScope,
    /// Every this many ticks (and at the last); `None`: at the last tick only.
    pub every: Option<u32>,
}

impl TierSnapshots {
    /// The plan for books with `rows_per_snapshot` (market maker, counterparty) pairs;
    /// `None` when nothing is written.
    pub fn plan(self, rows_per_snapshot: u64) -> Option<SnapshotPlan> {
        let full = |every| SnapshotPlan {
            scope: SnapshotScope::Full,
            every,
        };
        let counts = |every| SnapshotPlan {
            scope: SnapshotScope::Counts,
            every,
        };
        match self {
            Self::Auto if rows_per_snapshot <= AUTO_FULL_SNAPSHOT_ROWS => {
                Some(full(Some(TICKS_PER_DAY)))
            }
            Self::Auto => Some(counts(Some(TICKS_PER_DAY))),
            Self::Off => None,
            Self::Final => Some(full(None)),
            Self::Every(k) => Some(full(Some(k.max(1)))),
            Self::Counts(k) => Some(counts(Some(k.max(1)))),
        }
    }
}

impl DealerMarketConfig {
    /// Number of investors the config generates.
    pub fn investor_count(&self) -> u64 {
        self.investors
            .iter()
            .map(|spec| match spec {
                InvestorSpec::Investor(_) => 1,
                InvestorSpec::Group(group) => u64::from(group.count),
            })
            .sum()
    }

    /// The tier snapshots this config writes, resolved for its population: one row per
    /// (market maker, counterparty other than itself) in a full snapshot.
    pub fn snapshot_plan(&self) -> Option<SnapshotPlan> {
        let makers = self.market_makers.len() as u64;
        let rows = makers.saturating_mul((self.investor_count() + makers).saturating_sub(1));
        self.tier_snapshots.plan(rows)
    }
}

/// One entry of the investor list: a single investor or a generated group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InvestorSpec {
    /// One investor with explicit parameters.
    Investor(InvestorParams),
    /// `count` investors whose parameters are drawn from distributions.
    Group(InvestorGroup),
}

/// One investor's trade profile (SPEC §2.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestorParams {
    /// Probability of one trade in a tick. Required. In [0, 1]; 1/8 is once every two
    /// hours, 1/192 once every two days.
    pub p_trade: f64,
    /// Mean trade size E[v], in units. Required. Must be > 0. The log-normal's μ_j is
    /// derived as ln(size_mean) − size_dispersion²/2 so that the mean is exact.
    pub size_mean: f64,
    /// σ_j, standard deviation of ln v. Default: 0.5. Must be ≥ 0.
    #[serde(default = "defaults::size_dispersion")]
    pub size_dispersion: f64,
    /// Probability that an uninformed trade is a buy. Default: 0.5. In [0, 1].
    #[serde(default = "defaults::p_buy")]
    pub p_buy: f64,
    /// q_j ∈ [0.5, 1): with probability 2q_j − 1 the investor trades in the direction of
    /// sign(P_{t+t_m} − P_t). Default: 0.5 (uninformed).
    #[serde(default = "defaults::sophistication")]
    pub sophistication: f64,
}

/// A generated group of investors; each parameter is drawn independently per investor
/// from its distribution, with the investor's own population stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestorGroup {
    /// Number of investors in the group. Must be ≥ 1.
    pub count: u32,
    /// Law of p_trade; support within [0, 1].
    pub p_trade: ParamDistribution,
    /// Law of the mean trade size, in units; support > 0.
    pub size_mean: ParamDistribution,
    /// Law of σ_j. Default: Const(0.5).
    #[serde(default = "defaults::size_dispersion_law")]
    pub size_dispersion: ParamDistribution,
    /// Law of p_buy. Default: Const(0.5).
    #[serde(default = "defaults::p_buy_law")]
    pub p_buy: ParamDistribution,
    /// Law of q_j; support within [0.5, 1). Default: Const(0.5).
    #[serde(default = "defaults::sophistication_law")]
    pub sophistication: ParamDistribution,
}

/// One market maker (SPEC §2.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketMakerConfig {
    /// Unique name, used in outputs and in fixed tier tables. Required, non-empty.
    pub name: String,
    /// α_i, the volume penalty: s_i(v, u) = S_ref(0)·(S_ref(v)/S_ref(0))^α + δ·u.
    /// Default: 1.3. Must be > 0.
    #[serde(default = "defaults::alpha")]
    pub alpha: f64,
    /// δ_i, the spread added per tier (relative to the mid). Default: 2e-5. Must be ≥ 0.
    #[serde(default = "defaults::tier_penalty")]
    pub tier_penalty: f64,
    /// How counterparties are put into tiers. Default: AverageYield with its defaults.
    #[serde(default)]
    pub tiering: TieringConfig,
    /// Almgren–Chriss hedging against the other market makers, or `None` to never hedge.
    /// Default: Some(HedgingConfig defaults). Needs at least two market makers.
    #[serde(default = "defaults::hedging")]
    pub hedging: Option<HedgingConfig>,
}

/// A market maker's tiering policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TieringConfig {
    /// Score ψ = EWMA of each trade's yield, updated when its position revenue is realised.
    AverageYield(DynamicTiering),
    /// Score ψ = average yield × EWMA of volume per tick.
    RevenueRate(DynamicTiering),
    /// Tiers written in the scenario and never changed.
    Fixed(FixedTiering),
}

impl Default for TieringConfig {
    fn default() -> Self {
        TieringConfig::AverageYield(DynamicTiering::default())
    }
}

/// Parameters of the score-based tiering policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicTiering {
    /// K, the number of tiers; tier 0 is the best. Default: 5. Must be ≥ 1.
    pub tiers: u8,
    /// β, the EWMA weight of the newest observation, in (0, 1]. Default: 0.1.
    pub weight: f64,
    /// Re-tier every this many ticks. Default: 1. Must be ≥ 1.
    pub retier_every: u32,
    /// ψ of a counterparty before its first realised trade; also the EWMA's starting
    /// value. Default: 0.
    pub prior_yield: f64,
    /// Investor id → tier held fixed whatever its score; pinned investors are left out
    /// of the quantile split of the others. Default: none. (The price-sensitivity
    /// experiment moves one investor through the tiers this way.)
    pub pinned_investors: BTreeMap<u32, u8>,
    /// How equal scores are ordered: `Salted` (each book its own fixed random order) or
    /// `ByIndex` (every book by counterparty index). Default: Salted, so that at the prior
    /// (all scores equal) no investor is in the best tier of every book; `ByIndex` puts
    /// the same low ids first everywhere, which correlates the books' tiers.
    pub tie_order: TieBreak,
}

/// Explicit tiers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedTiering {
    /// K, the number of tiers. Default: 5. Must be ≥ 1.
    #[serde(default = "defaults::tiers")]
    pub tiers: u8,
    /// Tier of every counterparty not listed. Default: 0. Must be < tiers.
    #[serde(default)]
    pub default_tier: u8,
    /// Investor id → tier.
    #[serde(default)]
    pub investors: BTreeMap<u32, u8>,
    /// Market maker name → tier.
    #[serde(default)]
    pub market_makers: BTreeMap<String, u8>,
}

/// Almgren–Chriss VaR hedging parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HedgingConfig {
    /// γ, weight of √Var[C] in VaR = E[C] + γ√Var[C]. Default: 0.5. Must be ≥ 0.
    pub risk_aversion: f64,
    /// N_max, ticks over which a position is scheduled out. Default: 20 (5 hours).
    /// Must be ≥ 1.
    pub horizon: u32,
    /// σ_t, the hedger's per-tick volatility. Default: Known.
    pub volatility_estimate: VolatilityEstimate,
    /// Where hedges trade. Default: MarketMakers.
    pub venue: HedgeVenue,
    /// Largest hedge slice, in units, or `None` for none beyond the curve's own limit
    /// (a slice must stay below `market.v_max`, where S_ref diverges). SPEC §2.3 has no
    /// cap, so none is the default; set one to model a desk's ticket limit. Default: None.
    /// Must be > 0.
    pub max_slice: Option<f64>,
}

impl Default for DynamicTiering {
    fn default() -> Self {
        Self {
            tiers: defaults::tiers(),
            weight: 0.1,
            retier_every: 1,
            prior_yield: 0.0,
            pinned_investors: BTreeMap::new(),
            tie_order: TieBreak::Salted,
        }
    }
}

impl Default for HedgingConfig {
    fn default() -> Self {
        Self {
            risk_aversion: 0.5,
            horizon: 20,
            volatility_estimate: VolatilityEstimate::Known,
            venue: HedgeVenue::MarketMakers,
            max_slice: None,
        }
    }
}

/// Default values, as functions for serde.
mod defaults {
    use super::*;

    pub fn max_trade_size() -> f64 {
        1_000.0
    }
    pub fn position_horizon() -> u32 {
        4
    }
    pub fn size_dispersion() -> f64 {
        0.5
    }
    pub fn p_buy() -> f64 {
        0.5
    }
    pub fn sophistication() -> f64 {
        0.5
    }
    pub fn size_dispersion_law() -> ParamDistribution {
        ParamDistribution::Const(size_dispersion())
    }
    pub fn p_buy_law() -> ParamDistribution {
        ParamDistribution::Const(p_buy())
    }
    pub fn sophistication_law() -> ParamDistribution {
        ParamDistribution::Const(sophistication())
    }
    pub fn alpha() -> f64 {
        1.3
    }
    pub fn tier_penalty() -> f64 {
        2e-5
    }
    pub fn tiers() -> u8 {
        5
    }
    pub fn hedging() -> Option<HedgingConfig> {
        Some(HedgingConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_snapshots_are_full_up_to_the_row_limit_then_counts() {
        let full = TierSnapshots::Auto.plan(AUTO_FULL_SNAPSHOT_ROWS).unwrap();
        assert_eq!(full.scope, SnapshotScope::Full);
        assert_eq!(full.every, Some(TICKS_PER_DAY));
        let counts = TierSnapshots::Auto
            .plan(AUTO_FULL_SNAPSHOT_ROWS + 1)
            .unwrap();
        assert_eq!(counts.scope, SnapshotScope::Counts);
        assert_eq!(TierSnapshots::Off.plan(1), None);
        assert_eq!(TierSnapshots::Final.plan(u64::MAX).unwrap().every, None);
        assert_eq!(
            TierSnapshots::Every(7).plan(u64::MAX).unwrap().every,
            Some(7)
        );
    }
}
