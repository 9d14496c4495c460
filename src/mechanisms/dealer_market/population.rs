//! The investor population of a (validated) config, as trade profiles in id order.

use super::config::{InvestorParams, InvestorSpec};
use super::investors::TradeProfile;
use crate::rng::{StreamDomain, stream};

/// The profile of one explicitly written investor.
pub fn profile_of(p: &InvestorParams) -> TradeProfile {
    TradeProfile::new(
        p.p_trade,
        p.size_mean,
        p.size_dispersion,
        p.p_buy,
        p.sophistication,
    )
}

/// The parameters of every investor of a (validated) population, in id order. Group
/// members draw their parameters from their own population stream, so investor j's
/// profile does not depend on the other investors.
pub fn population_profiles(specs: &[InvestorSpec], seed: u64) -> Vec<TradeProfile> {
    let mut profiles = Vec::new();
    for spec in specs {
        match spec {
            InvestorSpec::Investor(params) => profiles.push(profile_of(params)),
            InvestorSpec::Group(group) => {
                let first = profiles.len() as u64;
                profiles.extend((0..u64::from(group.count)).map(|k| {
                    let mut rng = stream(seed, StreamDomain::Population, first + k);
                    // Drawn in this order, one after another, from the member's stream.
                    let p_trade = group.p_trade.draw(&mut rng);
                    let size_mean = group.size_mean.draw(&mut rng);
                    let size_dispersion = group.size_dispersion.draw(&mut rng);
                    let p_buy = group.p_buy.draw(&mut rng);
                    let sophistication = group.sophistication.draw(&mut rng);
                    TradeProfile::new(p_trade, size_mean, size_dispersion, p_buy, sophistication)
                }));
            }
        }
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::dealer_market::config::InvestorGroup;
    use crate::scenario::ParamDistribution;

    #[test]
    fn group_draws_respect_their_laws_and_do_not_depend_on_neighbours() {
        let group = InvestorSpec::Group(InvestorGroup {
            count: 1000,
            p_trade: ParamDistribution::LogUniform {
                min: 1.0 / 192.0,
                max: 0.125,
            },
            size_mean: ParamDistribution::Uniform { min: 0.5, max: 7.0 },
            size_dispersion: ParamDistribution::Const(0.5),
            p_buy: ParamDistribution::Const(0.5),
            sophistication: ParamDistribution::Uniform { min: 0.5, max: 0.6 },
        });
        let profiles = population_profiles(std::slice::from_ref(&group), 11);
        assert_eq!(profiles.len(), 1000);
        assert!(
            profiles
                .iter()
                .all(|p| (1.0 / 192.0..=0.125).contains(&p.p_trade))
        );
        assert!(
            profiles
                .iter()
                .all(|p| (0.0..=0.2).contains(&p.informed_probability))
        );
        let again = population_profiles(std::slice::from_ref(&group), 11);
        assert_eq!(profiles, again);
    }
}
