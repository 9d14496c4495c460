//! Scenario files: the shared part of the RON schema (seed, steps, market, output) and
//! the list of mechanisms, with every field's meaning, unit and default.
//!
//! A scenario is plain serde data (`deny_unknown_fields` everywhere). Each mechanism owns
//! its configuration (in its folder under `mechanisms/`); this module only holds the list.
//! Loading and error reporting live in [`load`], semantic checks in [`validate`] (whose
//! [`Checker`] mechanisms use for their own fields), and source positions of fields in
//! [`locate`]. The documented defaults below are the ones `docs/scenarios.md` lists; keep
//! the two in step.

pub mod load;
pub mod locate;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use load::{ScenarioError, load_scenario, load_scenario_with_warnings, parse_scenario};
pub use validate::{Checker, Problem, Range, validate, warnings};

use crate::mechanisms::MechanismConfig;

/// Ticks per day: the model's tick is 15 minutes in a 24-hour market.
pub const TICKS_PER_DAY: u32 = 96;

/// A complete simulation setup: the shared market, the mechanisms that trade in it, and
/// what the run writes.
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
    /// The exogenous market and the exchange reference curve, shared by every mechanism.
    #[serde(default)]
    pub market: MarketConfig,
    /// The trading mechanisms, each with its own agents, in one World and one tick. At
    /// least one; each kind at most once. The kinds are listed in `docs/scenarios.md`.
    pub mechanisms: Vec<MechanismConfig>,
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
    /// Must be above the largest trade any mechanism of the scenario can make.
    pub v_max: f64,
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

    /// One draw from the law, from `rng` (one uniform, none for `Const`).
    pub fn draw(&self, rng: &mut crate::rng::Stream) -> f64 {
        use crate::market::price_process::uniform;
        match *self {
            Self::Const(x) => x,
            Self::Uniform { min, max } => min + (max - min) * uniform(rng),
            Self::LogUniform { min, max } => {
                (min.ln() + (max.ln() - min.ln()) * uniform(rng)).exp()
            }
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

/// What a run writes into its output directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Table format. Default: Parquet.
    pub format: OutputFormat,
    /// Write the per-trade (per-event) tables of every mechanism that has one (they can
    /// be large: a row per trade). Default: false.
    pub trades: bool,
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

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            format: OutputFormat::Parquet,
            trades: false,
        }
    }
}

impl Scenario {
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
}
