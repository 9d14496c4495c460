//! The market mechanisms, one folder each, and the one place that lists them.
//!
//! A mechanism is a config type that implements [`Mechanism`]: the core builds, runs and
//! records it through that trait alone. This module is the registry the scenario schema
//! and the experiment files deserialize through; adding a mechanism means a folder, a
//! variant in [`MechanismConfig`] (and in [`KINDS`]), and, if it has experiments, a
//! variant in [`Design`]. `ARCHITECTURE.md` walks through it.

pub mod auction;
pub mod dealer_market;
pub mod dealer_pairs;
pub mod quote_control;

use serde::{Deserialize, Serialize};

use crate::experiments::ExperimentDesign;
use crate::sim::mechanism::Mechanism;

/// One entry of a scenario's `mechanisms` list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MechanismConfig {
    /// The dealer market of Ganesh et al. 2019 (SPEC §2): investors, market makers,
    /// tiering and hedging.
    DealerMarket(dealer_market::DealerMarketConfig),
    /// Quoting agents, each in its own Avellaneda–Stoikov environment (SPEC §4, first
    /// part): a policy per group, one environment step a tick.
    QuoteControl(quote_control::config::QuoteControlConfig),
    /// Dealer pairs (SPEC §3): AssetDealers and InvestorDealers, asset-users and
    /// investor-users, cash-flow claims and competition between pairs.
    DealerPairs(dealer_pairs::DealerPairsConfig),
}

/// Every mechanism kind, as written in scenario files.
pub const KINDS: &[&str] = &["DealerMarket", "QuoteControl", "DealerPairs"];

impl MechanismConfig {
    /// The mechanism behind the config.
    pub fn as_mechanism(&self) -> &dyn Mechanism {
        match self {
            MechanismConfig::DealerMarket(config) => config,
            MechanismConfig::QuoteControl(config) => config,
            MechanismConfig::DealerPairs(config) => config,
        }
    }
}

/// Top-level fields of an old-style scenario (from before mechanisms were listed) and
/// how to write them now; the loader turns an "unknown field" error on one of them into
/// this advice.
pub fn moved_field_advice(field: &str) -> Option<&'static str> {
    // A field inside a mechanism is listed as `mechanisms[].name`, whatever the index.
    let key = match field
        .strip_prefix("mechanisms[")
        .and_then(|rest| rest.split_once("]."))
    {
        Some((index, inner)) if index.bytes().all(|b| b.is_ascii_digit()) => {
            format!("mechanisms[].{inner}")
        }
        _ => field.to_string(),
    };
    dealer_market::MOVED_FIELDS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, advice)| *advice)
}

/// The experiment designs, each belonging to one mechanism.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Design {
    /// Market share of one investor as one market maker moves it through the tiers.
    PriceSensitivity(dealer_market::experiments::price_sensitivity::PriceSensitivityDesign),
    /// |z_t| / Σ v of a market maker with half the flow versus all of it.
    Internalization(dealer_market::experiments::internalization::InternalizationDesign),
    /// Hedging + risk cost over a grid of risk aversion, at two volatilities.
    RiskAversion(dealer_market::experiments::risk_aversion::RiskAversionDesign),
    /// Identical dealer pairs' profit per tick against the run length, and who gains when
    /// one pair is better capitalised or less risk-averse.
    DealerPairs(dealer_pairs::experiments::DealerPairsDesign),
}

impl Design {
    /// The design behind the variant.
    pub fn as_design(&self) -> &dyn ExperimentDesign {
        match self {
            Design::PriceSensitivity(d) => d,
            Design::Internalization(d) => d,
            Design::RiskAversion(d) => d,
            Design::DealerPairs(d) => d,
        }
    }
}

/// The experiments bundled with dealersim, every mechanism's: (name, file contents).
pub const BUNDLED_EXPERIMENTS: &[(&str, &str)] = &[
    (
        "price-sensitivity",
        include_str!("../../scenarios/experiments/price_sensitivity.ron"),
    ),
    (
        "internalization",
        include_str!("../../scenarios/experiments/internalization.ron"),
    ),
    (
        "risk-aversion",
        include_str!("../../scenarios/experiments/risk_aversion.ron"),
    ),
    (
        "dealer-pairs",
        include_str!("../../scenarios/experiments/dealer_pairs.ron"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `KINDS`, each mechanism's `kind()` and the name serde reads agree.
    #[test]
    fn the_registry_names_each_kind_once_and_the_same_way() {
        let (_, text) = BUNDLED_EXPERIMENTS[0];
        let experiment = crate::experiments::parse_experiment(text, std::path::Path::new("x"))
            .expect("bundled experiment");
        for config in &experiment.scenario.mechanisms {
            let kind = config.as_mechanism().kind();
            assert!(KINDS.contains(&kind), "{kind} missing from KINDS");
            let written = ron::to_string(config).expect("serialise");
            assert!(
                written.starts_with(kind),
                "{written:.40} is not written as {kind}"
            );
        }
        let mut sorted = KINDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), KINDS.len());
        for (field, _) in dealer_market::MOVED_FIELDS {
            assert!(moved_field_advice(field).is_some());
        }
    }
}
