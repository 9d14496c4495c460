//! Investors: trade profiles, the population generator, and each tick's trade decision.

use bevy_ecs::prelude::{Component, Entity};
use rand_distr::{Distribution, StandardNormal};

use crate::market::price_process::uniform;
use crate::rng::{Stream, StreamDomain, stream};
use crate::scenario::{InvestorParams, InvestorSpec, ParamDistribution};

/// An investor's stable id: its position in the scenario's population (0, 1, ...).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvestorId(pub u32);

/// An investor's trade profile (SPEC §2.2), in sampling form.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct TradeProfile {
    /// Probability of one trade per tick.
    pub p_trade: f64,
    /// μ_j of the log-normal size.
    pub size_log_mean: f64,
    /// σ_j of the log-normal size.
    pub size_log_sd: f64,
    /// Probability that an uninformed trade is a buy.
    pub p_buy: f64,
    /// 2q_j − 1: probability that the oracle sets the direction.
    pub informed_probability: f64,
}

impl TradeProfile {
    /// From scenario parameters: μ_j = ln(mean) − σ_j²/2 keeps E[v] = `size_mean`.
    pub fn from_params(p: &InvestorParams) -> Self {
        Self {
            p_trade: p.p_trade,
            size_log_mean: p.size_mean.ln() - 0.5 * p.size_dispersion * p.size_dispersion,
            size_log_sd: p.size_dispersion,
            p_buy: p.p_buy,
            informed_probability: 2.0 * p.sophistication - 1.0,
        }
    }
}

/// One draw from a group's parameter law.
fn draw(law: &ParamDistribution, rng: &mut Stream) -> f64 {
    match *law {
        ParamDistribution::Const(x) => x,
        ParamDistribution::Uniform { min, max } => min + (max - min) * uniform(rng),
        ParamDistribution::LogUniform { min, max } => {
            (min.ln() + (max.ln() - min.ln()) * uniform(rng)).exp()
        }
    }
}

/// The parameters of every investor of a (validated) population, in id order. Group
/// members draw their parameters from their own population stream, so investor j's
/// profile does not depend on the other investors.
pub fn population_profiles(specs: &[InvestorSpec], seed: u64) -> Vec<TradeProfile> {
    let mut profiles = Vec::new();
    for spec in specs {
        match spec {
            InvestorSpec::Investor(params) => profiles.push(TradeProfile::from_params(params)),
            InvestorSpec::Group(group) => {
                let first = profiles.len() as u64;
                profiles.extend((0..u64::from(group.count)).map(|k| {
                    let mut rng = stream(seed, StreamDomain::Population, first + k);
                    TradeProfile::from_params(&InvestorParams {
                        p_trade: draw(&group.p_trade, &mut rng),
                        size_mean: draw(&group.size_mean, &mut rng),
                        size_dispersion: draw(&group.size_dispersion, &mut rng),
                        p_buy: draw(&group.p_buy, &mut rng),
                        sophistication: draw(&group.sophistication, &mut rng),
                    })
                }));
            }
        }
    }
    profiles
}

/// An investor's trade for this tick, before a market maker is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Order {
    /// Who trades.
    pub investor: InvestorId,
    /// Its entity, to update its holdings.
    pub entity: Entity,
    /// Size in units, in (0, max_trade_size].
    pub size: f64,
    /// true: the investor buys (market maker sells).
    pub investor_buys: bool,
    /// Whether the oracle set the direction.
    pub informed: bool,
    /// Uniform in [0, 1) used to split exact ties between quotes.
    pub tie_break: f64,
}

/// The trade an investor decides on this tick, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeDecision {
    /// Size in units.
    pub size: f64,
    /// true: buy.
    pub buys: bool,
    /// Whether the oracle set the direction.
    pub informed: bool,
    /// Uniform in [0, 1) for quote tie breaks.
    pub tie_break: f64,
}

/// One tick of an investor's decision. Consumes one uniform when idle and four uniforms
/// plus one normal when trading, whatever the outcome, so streams stay aligned.
/// `price_rises` is sign(P_{t+t_m} − P_t) as a bool, `None` when the price is unchanged.
pub fn decide_trade(
    profile: &TradeProfile,
    rng: &mut Stream,
    max_size: f64,
    price_rises: Option<bool>,
) -> Option<TradeDecision> {
    if uniform(rng) >= profile.p_trade {
        return None;
    }
    let z: f64 = StandardNormal.sample(rng);
    let size = (profile.size_log_mean + profile.size_log_sd * z)
        .exp()
        .min(max_size);
    let informed_draw = uniform(rng);
    let side_draw = uniform(rng);
    let tie_break = uniform(rng);
    let oracle = if informed_draw < profile.informed_probability {
        price_rises
    } else {
        None
    };
    Some(TradeDecision {
        size,
        buys: oracle.unwrap_or(side_draw < profile.p_buy),
        informed: oracle.is_some(),
        tie_break,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::InvestorGroup;

    fn profile(p_trade: f64, mean: f64, sd: f64, q: f64) -> TradeProfile {
        TradeProfile::from_params(&InvestorParams {
            p_trade,
            size_mean: mean,
            size_dispersion: sd,
            p_buy: 0.5,
            sophistication: q,
        })
    }

    #[test]
    fn trade_frequency_and_mean_size_match_the_profile() {
        let p = profile(0.125, 3.5, 0.5, 0.5);
        let mut rng = stream(5, StreamDomain::Investor, 0);
        let n = 400_000;
        let trades: Vec<TradeDecision> = (0..n)
            .filter_map(|_| decide_trade(&p, &mut rng, 1e9, Some(true)))
            .collect();
        let freq = trades.len() as f64 / n as f64;
        assert!(
            (freq - 0.125).abs() < 4.0 * (0.125 * 0.875 / n as f64).sqrt(),
            "freq {freq}"
        );
        let mean = trades.iter().map(|t| t.size).sum::<f64>() / trades.len() as f64;
        // sd of the size is mean·sqrt(e^{σ²} − 1) ≈ 0.53·mean; 4 standard errors.
        assert!(
            (mean / 3.5 - 1.0).abs() < 4.0 * 0.54 / (trades.len() as f64).sqrt(),
            "mean {mean}"
        );
        let buys = trades.iter().filter(|t| t.buys).count() as f64 / trades.len() as f64;
        assert!((buys - 0.5).abs() < 0.01);
        assert!(trades.iter().all(|t| !t.informed));
    }

    #[test]
    fn oracle_sets_the_direction_with_probability_two_q_minus_one() {
        let p = profile(1.0, 1.0, 0.0, 0.8);
        let mut rng = stream(6, StreamDomain::Investor, 0);
        let n = 100_000;
        let decisions: Vec<TradeDecision> = (0..n)
            .filter_map(|_| decide_trade(&p, &mut rng, 10.0, Some(false)))
            .collect();
        let informed = decisions.iter().filter(|t| t.informed).count() as f64 / n as f64;
        assert!((informed - 0.6).abs() < 0.01, "informed {informed}");
        assert!(decisions.iter().filter(|t| t.informed).all(|t| !t.buys));
        // Overall sell share: 0.6 + 0.4·0.5 = 0.8.
        let sells = decisions.iter().filter(|t| !t.buys).count() as f64 / n as f64;
        assert!((sells - 0.8).abs() < 0.01);
        assert!(decisions.iter().all(|t| t.size == 1.0));
    }

    #[test]
    fn sizes_are_clipped_to_the_largest_trade() {
        let p = profile(1.0, 50.0, 2.0, 0.5);
        let mut rng = stream(7, StreamDomain::Investor, 0);
        assert!(
            (0..10_000)
                .filter_map(|_| decide_trade(&p, &mut rng, 60.0, None))
                .all(|t| t.size <= 60.0)
        );
    }

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
