//! The dealer-pair market (SPEC §3, seed 000): pairs of an AssetDealer, which buys
//! asset-users' cash-flow streams for a lump sum, and an InvestorDealer, which sells
//! diversified portfolios of strips of them to investor-users; the two trade the strips
//! behind the scenes, and pairs compete for users on their margins.
//!
//! - The maths, pure: [`cashflow`] (the CashFlowPricer: discount factors, day counts,
//!   present values, a growing stream in closed form), [`utility`] (CRRA utility and
//!   certainty equivalents), [`tail`] (the Fenton–Wilkinson lognormal of a portfolio),
//!   [`opl`] (the optimisation possibilities loop and the MatchingAlgo) and
//!   [`competition`] (the margin best response).
//! - The mechanism: [`config`] and [`validate`] (the scenario schema and its rules),
//!   [`book`] (components and resources), [`build`], [`systems`] (the tick), [`records`]
//!   (tables) and [`mechanism`] (the trait); [`experiments`] (`dealer-pairs`).
//!
//! `docs/dealer_pairs.md` states every formula and every choice the seed leaves open.

pub mod book;
pub mod build;
pub mod cashflow;
pub mod competition;
pub mod config;
pub mod experiments;
pub mod mechanism;
pub mod opl;
pub mod records;
pub mod systems;
pub mod tail;
pub mod utility;
pub mod validate;

pub use config::DealerPairsConfig;

use crate::mechanisms::MechanismConfig;
use crate::scenario::Scenario;

/// The scenario's `DealerPairs` config, if it has one.
pub fn config_of(scenario: &Scenario) -> Option<&DealerPairsConfig> {
    scenario.mechanisms.iter().find_map(|m| match m {
        MechanismConfig::DealerPairs(config) => Some(config),
        _ => None,
    })
}

/// As [`config_of`], to edit it (experiment designs build their variants this way).
pub fn config_of_mut(scenario: &mut Scenario) -> Option<&mut DealerPairsConfig> {
    scenario.mechanisms.iter_mut().find_map(|m| match m {
        MechanismConfig::DealerPairs(config) => Some(config),
        _ => None,
    })
}
