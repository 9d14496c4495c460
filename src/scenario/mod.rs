//! Scenario files: the RON schema with every field's meaning, unit and default.
//!
//! A scenario is plain serde data (`deny_unknown_fields` everywhere). Loading and error
//! reporting live in [`load`], semantic checks in [`validate`], and source positions of
//! fields in [`locate`]. The documented defaults below are the ones `docs/scenarios.md`
//! lists; keep the two in step.

pub mod load;
pub mod locate;
pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use load::{ScenarioError, load_scenario, parse_scenario};
pub use validate::{Problem, validate};

/// Ticks per day: the model's tick is 15 minutes in a 24-hour market.
pub const TICKS_PER_DAY: u32 = 96;

/// A complete simulation setup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free-text name, copied into the manifest. Default: "".
    #[serde(default)]
    pub name: String,
    /// Master seed from which every random stream is derived. Default: 1.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Number of 15-minute ticks to simulate. Default: 96 (one day). Must be ≥ 1.
    #[serde(default = "defaults::steps")]
    pub steps: u32,
    /// The exogenous market and the exchange reference curve.
    #[serde(default)]
    pub market: MarketConfig,
    /// The investor population: explicit investors and generated groups, in id order.
    pub investors: Vec<InvestorSpec>,
    /// The market makers, in id order (0, 1, ...). At least one.
    pub market_makers: Vec<MarketMakerConfig>,
    /// What the run writes.
    #[serde(default)]
    pub output: OutputConfig,
}

/// The exogenous market (SPEC §2.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// P_0, the mid-price at tick 0, in currency per unit. Default: 100. Must be > 0.
    pub initial_price: f64,
    /// μ, annualised drift of the GBM mid. Default: 0.
    pub drift: f64,
    /// σ, annualised volatility of the GBM mid. Default: 0.10 (the paper's "low"; 0.30
    /// is "high"). Must be ≥ 0.
    pub volatility: f64,
    /// Δ, the tick length in years. Default: 1/(365·96) (15 minutes, 24-hour market).
    pub tick_years: f64,
    /// The reference spread s0 drawn each tick.
    pub reference_spread: ReferenceSpreadConfig,
    /// λ, shape exponent of the exchange order book behind S_ref(v). Default: 1.6.
    /// Must be > 1 (λ = 2 uses the logarithmic branch).
    pub lambda: f64,
    /// v_max, the depth at which S_ref(v) diverges, in units. Default: 10,000.
    /// Must be above `max_trade_size`.
    pub v_max: f64,
    /// Largest size of any single trade, in units. Investor sizes drawn above it are
    /// clipped to it and hedge slices never exceed it, so no trade reaches v_max.
    /// Default: 1,000.
    pub max_trade_size: f64,
    /// t_m, ticks after a trade at which its position revenue is realised (and the
    /// oracle's look-ahead). Default: 4 (one hour). Must be ≥ 1.
    pub position_horizon: u32,
}

/// The clipped normal law of the reference spread s0, relative to the mid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReferenceSpreadConfig {
    /// Mean of the normal before clipping. Default: 1.5e-4.
    pub mean: f64,
    /// Standard deviation of the normal before clipping. Default: 5e-5. Must be ≥ 0.
    pub std_dev: f64,
    /// Lower clip. Default: 2e-5. Must be > 0.
    pub min: f64,
    /// Upper clip. Default: 5e-4. Must be ≥ `min`.
    pub max: f64,
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

/// A distribution for one parameter of a generated group. All have bounded support, so
/// validation can check every value a draw could take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParamDistribution {
    /// Always this value.
    Const(f64),
    /// Uniform on [min, max].
    Uniform {
        /// Lower end.
        min: f64,
        /// Upper end, ≥ min.
        max: f64,
    },
    /// Log-uniform on [min, max] (ln of the value is uniform); both ends > 0. Natural for
    /// frequencies and sizes that span orders of magnitude.
    LogUniform {
        /// Lower end, > 0.
        min: f64,
        /// Upper end, ≥ min.
        max: f64,
    },
}

impl ParamDistribution {
    /// The law's mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::Const(x) => x,
            Self::Uniform { min, max } => 0.5 * (min + max),
            // E[X] for ln X uniform on [ln a, ln b]: (b − a) / ln(b/a), or a when a = b.
            Self::LogUniform { min, max } if max > min => (max - min) / (max / min).ln(),
            Self::LogUniform { min, .. } => min,
        }
    }

    /// The law of `factor`·X (factor > 0): both ends scaled, so a log-uniform law keeps
    /// its shape.
    pub fn scaled(&self, factor: f64) -> Self {
        match *self {
            Self::Const(x) => Self::Const(x * factor),
            Self::Uniform { min, max } => Self::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Self::LogUniform { min, max } => Self::LogUniform {
                min: min * factor,
                max: max * factor,
            },
        }
    }
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

/// What a run writes into its output directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Table format. Default: Parquet.
    pub format: OutputFormat,
    /// Write one row per trade (can be large: about N·p̄_trade rows per tick). Default: false.
    pub trades: bool,
    /// Write every market maker's scores and tiers every this many ticks (and at the last
    /// tick); 0 = never. One row per (market maker, counterparty), so large populations
    /// want 0 or a long interval. Default: 96.
    pub tier_snapshot_every: u32,
}

/// Table format of the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputFormat {
    /// Apache Parquet, Snappy-compressed.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            initial_price: 100.0,
            drift: 0.0,
            volatility: 0.10,
            tick_years: 1.0 / (365.0 * f64::from(TICKS_PER_DAY)),
            reference_spread: ReferenceSpreadConfig::default(),
            lambda: 1.6,
            v_max: 10_000.0,
            max_trade_size: 1_000.0,
            position_horizon: 4,
        }
    }
}

impl Default for ReferenceSpreadConfig {
    fn default() -> Self {
        Self {
            mean: 1.5e-4,
            std_dev: 5e-5,
            min: 2e-5,
            max: 5e-4,
        }
    }
}

impl Default for DynamicTiering {
    fn default() -> Self {
        Self {
            tiers: defaults::tiers(),
            weight: 0.1,
            retier_every: 1,
            prior_yield: 0.0,
            pinned_investors: BTreeMap::new(),
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
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            format: OutputFormat::Parquet,
            trades: false,
            tier_snapshot_every: TICKS_PER_DAY,
        }
    }
}

impl Scenario {
    /// Number of investors the scenario generates.
    pub fn investor_count(&self) -> u64 {
        self.investors
            .iter()
            .map(|spec| match spec {
                InvestorSpec::Investor(_) => 1,
                InvestorSpec::Group(group) => u64::from(group.count),
            })
            .sum()
    }

    /// The scenario as canonical RON text (every default written out): what a run saves
    /// as `scenario.ron` and hashes into its manifest.
    ///
    /// # Errors
    /// Only if serialisation fails, which plain data does not.
    pub fn to_ron(&self) -> Result<String, ron::Error> {
        let config = ron::ser::PrettyConfig::new()
            .struct_names(true)
            .extensions(load::extensions());
        ron::ser::to_string_pretty(self, config)
    }
}

/// Default values, as functions for serde.
mod defaults {
    use super::*;

    pub fn seed() -> u64 {
        1
    }
    pub fn steps() -> u32 {
        TICKS_PER_DAY
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
