//! The `DealerPairs(...)` entry of a scenario: the pairs, their dealers, the user groups
//! that arrive to trade with them, and the matching's bounds. Every choice the seed leaves
//! open is a field here, with its default; `docs/dealer_pairs.md` has the formulas.

use serde::{Deserialize, Serialize};

use super::cashflow::Compounding;
use crate::scenario::ParamDistribution;

/// The most users one `DealerPairs` may hold, over all groups (each is an entity of about
/// 200 bytes).
pub const MAX_USERS: u64 = 20_000_000;
/// The most pairs (every arriving user compares every pair's quote).
pub const MAX_PAIRS: usize = 64;
/// The largest OPL window (supply items an investor's portfolio is drawn from).
pub const MAX_WINDOW: u32 = 16;
/// The most strips in one portfolio.
pub const MAX_STRIPS: u32 = super::opl::MAX_ITEMS as u32;
/// The most payments in one stream.
pub const MAX_PERIODS: u32 = 1_200;

/// A dealer-pair market in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerPairsConfig {
    /// r, the annual rate at which claims are valued (unless a dealer has its own
    /// `valuation_rate`) and at which an investor's claims grow to her horizon. Default:
    /// 0.05. Must be > −1 (and > −1/t under simple compounding).
    #[serde(default = "defaults::market_rate")]
    pub market_rate: f64,
    /// How every rate in this mechanism compounds. Default: Annual.
    #[serde(default)]
    pub compounding: Compounding,
    /// The dealer pairs, at least one. Users compare every pair's quote.
    pub pairs: Vec<PairConfig>,
    /// Groups of asset-users (sellers of cash-flow streams), at least one.
    pub asset_users: Vec<AssetUserGroup>,
    /// Groups of investor-users (buyers of claims), at least one.
    pub investor_users: Vec<InvestorUserGroup>,
    /// The optimisation possibilities loop's bounds.
    #[serde(default)]
    pub opl: OplConfig,
    /// How the dealers adapt their margins.
    #[serde(default)]
    pub adaptation: Adaptation,
}

/// One pair: an AssetDealer and an InvestorDealer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Pair")]
pub struct PairConfig {
    /// The pair's name in tables; unique, not empty.
    pub name: String,
    /// The dealer that buys streams from asset-users for a lump sum.
    pub asset_dealer: DealerConfig,
    /// The dealer that sells claims to investor-users for cash.
    pub investor_dealer: DealerConfig,
}

/// One dealer's capital, preferences and opening quote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Dealer")]
pub struct DealerConfig {
    /// Cash at tick 0, in currency. Must be > 0 (CRRA utility needs positive wealth).
    pub capital: f64,
    /// g, the CRRA coefficient of its utility of wealth. Must be > 0 (g = 1 is log).
    pub risk_aversion: f64,
    /// The opening margin m: the AssetDealer pays (1 − m) × fair value, the
    /// InvestorDealer charges (1 + m) × fair value. In [0, 1) for an AssetDealer, [0, 10]
    /// for an InvestorDealer.
    pub margin: f64,
    /// The annual rate at which this dealer values claims. Default: the mechanism's
    /// `market_rate` (every dealer has the same information). Must be > −1.
    #[serde(default)]
    pub valuation_rate: Option<f64>,
}

/// A group of asset-users: each arrives with a stream of expected cash flows and sells it
/// whole for a lump sum no lower than its value at her own reservation rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "AssetUsers")]
pub struct AssetUserGroup {
    /// Users in the group. Must be ≥ 1.
    pub count: u32,
    /// When they arrive.
    pub arrival: Arrival,
    /// Expected first cash flow, currency per period. Must be > 0.
    pub amount: ParamDistribution,
    /// Growth of the expected cash flow per period (flow k is amount·(1+growth)^(k−1)).
    /// Default: Const(0). Must be > −1.
    #[serde(default = "defaults::zero")]
    pub growth: ParamDistribution,
    /// σ, annualised volatility of the stream's level (a driftless lognormal factor that
    /// scales every future flow). Must be ≥ 0.
    pub volatility: ParamDistribution,
    /// Number of payments. Must be in 1..=1200.
    pub periods: u32,
    /// Years between payments (the first is one period after the sale). Must be > 0.
    pub period_years: f64,
    /// The annual rate at which she values her own stream: she sells only for at least
    /// that value. Must be > −1.
    pub reservation_rate: ParamDistribution,
    /// Ticks she waits in the queue before leaving unsold. Must be ≥ 1.
    pub patience: u32,
}

/// A group of investor-users: each arrives with cash and buys a diversified portfolio of
/// strips whose tail risk she tolerates and whose certainty equivalent beats her
/// reservation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "InvestorUsers")]
pub struct InvestorUserGroup {
    /// Users in the group. Must be ≥ 1.
    pub count: u32,
    /// When they arrive.
    pub arrival: Arrival,
    /// Cash she brings, all of which she invests. Must be > 0.
    pub cash: ParamDistribution,
    /// T, her horizon in years: the portfolio is judged by its value at T. Must be > 0.
    pub horizon_years: ParamDistribution,
    /// g, her CRRA coefficient. Must be > 0.
    pub risk_aversion: ParamDistribution,
    /// ε, the largest probability she accepts of ending below `loss_threshold` × cash.
    /// Must be in (0, 1).
    pub tail_tolerance: ParamDistribution,
    /// The value at T, as a multiple of her cash, that counts as a loss. Default: 1 (she
    /// does not want to end with less than she paid). Must be > 0.
    #[serde(default = "defaults::one")]
    pub loss_threshold: f64,
    /// The annual rate of her riskless alternative: she buys only if the portfolio's
    /// certainty equivalent at T is at least cash·(1 + rate)^T (compounded as the
    /// mechanism's rates). Must be > −1.
    pub reservation_rate: ParamDistribution,
    /// Ticks she waits in the queue before leaving. Must be ≥ 1.
    pub patience: u32,
}

/// When a group's users arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Arrival {
    /// A Poisson process of this many users per tick (exponential gaps, from the group's
    /// own stream) until the group's count has arrived; users due after the run's last
    /// tick never arrive. Must be > 0.
    Poisson(f64),
    /// Every user at tick 0.
    AtStart,
}

/// Bounds of the optimisation possibilities loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename = "Opl")]
pub struct OplConfig {
    /// Supply items (the AssetDealer's held remainders, oldest first, then queued
    /// asset-users, first come first) an investor's portfolio is drawn from. Default: 8.
    /// In 1..=16.
    pub window: u32,
    /// The fewest strips (distinct streams) in a portfolio. Default: 2. At least 1.
    pub min_strips: u32,
    /// The most strips in a portfolio. Default: 4. In min_strips..=6.
    pub max_strips: u32,
    /// Candidates handed to matching at a time. Default: 64. At least 1.
    pub chunk: u32,
    /// Candidates evaluated per tick over every pair; investors not reached wait for the
    /// next tick, and the cut is counted (`opl_cut_investors`). Default: 1,000,000.
    pub max_candidates_per_tick: u64,
}

impl Default for OplConfig {
    fn default() -> Self {
        Self {
            window: 8,
            min_strips: 2,
            max_strips: 4,
            chunk: 64,
            max_candidates_per_tick: 1_000_000,
        }
    }
}

/// How dealers set their margins each tick, from the last quotes of the dealers they
/// compete with (`docs/dealer_pairs.md`, "Competition").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Adaptation {
    /// Margins stay at their opening values (no competition on price: the biased case).
    Fixed,
    /// Utility best response: a dealer with rivals on its side quotes κ below the best
    /// rival margin, never below its break-even margin (where a tick's expected margin
    /// income equals the certainty-equivalent cost of the risk it carries); a dealer
    /// without rivals keeps its margin.
    Undercut {
        /// κ, the fraction by which a dealer undercuts the best rival margin. In (0, 1].
        fraction: f64,
    },
}

impl Default for Adaptation {
    fn default() -> Self {
        Self::Undercut { fraction: 0.1 }
    }
}

mod defaults {
    use crate::scenario::ParamDistribution;

    pub fn market_rate() -> f64 {
        0.05
    }
    pub fn zero() -> ParamDistribution {
        ParamDistribution::Const(0.0)
    }
    pub fn one() -> f64 {
        1.0
    }
}

impl DealerPairsConfig {
    /// Asset-users over all groups.
    pub fn asset_user_count(&self) -> u64 {
        self.asset_users.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Investor-users over all groups.
    pub fn investor_user_count(&self) -> u64 {
        self.investor_users.iter().map(|g| u64::from(g.count)).sum()
    }

    /// The rate dealer `d` values claims at.
    pub fn valuation_rate(&self, dealer: &DealerConfig) -> f64 {
        dealer.valuation_rate.unwrap_or(self.market_rate)
    }
}
