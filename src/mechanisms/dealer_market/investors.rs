//! Investors: trade profiles, the population generator, and each tick's trade decision.

use bevy_ecs::prelude::{Component, Entity};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::market::price_process::uniform;
use crate::rng::{Stream, StreamDomain, stream};

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
    /// From the investor's parameters: μ_j = ln(mean) − σ_j²/2 keeps E[v] = `size_mean`;
    /// the oracle sets the direction with probability 2q − 1 (`sophistication` = q).
    pub fn new(
        p_trade: f64,
        size_mean: f64,
        size_dispersion: f64,
        p_buy: f64,
        sophistication: f64,
    ) -> Self {
        Self {
            p_trade,
            size_log_mean: size_mean.ln() - 0.5 * size_dispersion * size_dispersion,
            size_log_sd: size_dispersion,
            p_buy,
            informed_probability: 2.0 * sophistication - 1.0,
        }
    }
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
    /// Whether its size was truncated to the largest trade.
    pub clipped: bool,
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
    /// Whether the drawn size was above the largest trade and truncated to it.
    pub clipped: bool,
}

/// One tick of an investor's decision, drawn directly: one uniform decides whether it
/// trades (the per-investor reference method), then [`trade_details`].
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
    Some(trade_details(profile, rng, max_size, price_rises))
}

/// The trade of an investor known to trade this tick: size, direction and tie-break,
/// from its own stream (one normal and three uniforms, whatever the outcome).
pub fn trade_details(
    profile: &TradeProfile,
    rng: &mut Stream,
    max_size: f64,
    price_rises: Option<bool>,
) -> TradeDecision {
    let z: f64 = StandardNormal.sample(rng);
    let drawn = (profile.size_log_mean + profile.size_log_sd * z).exp();
    // A documented truncation, counted by the run (`clipped_trades`), not a silent one.
    let clipped = drawn > max_size;
    let size = drawn.min(max_size);
    let informed_draw = uniform(rng);
    let side_draw = uniform(rng);
    let tie_break = uniform(rng);
    let oracle = if informed_draw < profile.informed_probability {
        price_rises
    } else {
        None
    };
    TradeDecision {
        size,
        buys: oracle.unwrap_or(side_draw < profile.p_buy),
        informed: oracle.is_some(),
        tie_break,
        clipped,
    }
}

/// Investors whose p_trade lies within a factor 2 of each other, sampled together.
#[derive(Clone, Debug)]
struct ArrivalBucket {
    /// q, the largest p_trade in the bucket: the candidate probability.
    candidate_probability: f64,
    /// ln(1 − q), for geometric gaps (−∞ when q = 1).
    log_miss: f64,
    /// Each member, in id order.
    members: Vec<ArrivalMember>,
    /// The bucket's own stream, for gaps and thinning.
    rng: Stream,
}

impl ArrivalBucket {
    /// Calls `trade(member)` for each of the bucket's investors that trades this tick, in
    /// id order; `candidates` is scratch.
    fn sample(
        &mut self,
        candidates: &mut Vec<(usize, f64)>,
        mut trade: impl FnMut(&ArrivalMember),
    ) {
        // Two passes with the same draws in the same order: the first walks the gaps
        // and draws each candidate's thinning uniform from the stream alone; the
        // second reads the members. In a large population each read misses cache,
        // and with no stream work between them the misses overlap.
        candidates.clear();
        let n = self.members.len();
        let mut pos = 0usize;
        loop {
            // Candidates are the successes of Bernoulli(q) trials: the gap before the
            // next one is geometric, ⌊ln U / ln(1 − q)⌋ with U uniform in (0, 1].
            let u = 1.0 - uniform(&mut self.rng);
            let gap = if self.log_miss == f64::NEG_INFINITY {
                0.0
            } else {
                (u.ln() / self.log_miss).floor()
            };
            if gap.is_nan() || gap >= (n - pos) as f64 {
                break;
            }
            pos += gap as usize;
            candidates.push((pos, uniform(&mut self.rng)));
            pos += 1;
            if pos >= n {
                break;
            }
        }
        for &(pos, thinning) in candidates.iter() {
            let member = &self.members[pos];
            if thinning * self.candidate_probability < member.profile.p_trade {
                trade(member);
            }
        }
    }
}

/// An investor as the sampler holds it: a copy of its (fixed) profile, so that a trade
/// is drawn from the sampler's own memory without a look-up in the ECS.
#[derive(Clone, Copy, Debug)]
pub struct ArrivalMember {
    /// The investor's trade profile.
    pub profile: TradeProfile,
    /// Its entity.
    pub entity: Entity,
    /// Its id.
    pub id: InvestorId,
}

/// Activity-proportional arrival sampling. Investors are bucketed by p_trade, each
/// bucket spanning a factor of two. Within a bucket, the candidates of a tick are drawn
/// by skipping geometric gaps with the bucket's largest probability q, and a candidate j
/// is kept with probability p_j/q ≥ 1/2. Each investor then trades with probability
/// exactly p_j, independently across investors and ticks, as with one uniform per
/// investor. The work is O(trades + buckets), not O(N).
#[derive(Clone, Debug, Default)]
pub struct ArrivalSampler {
    buckets: Vec<ArrivalBucket>,
    /// The scenario's seed: the buckets' streams and each trade's
    /// [`trade_stream`](crate::rng::trade_stream) derive from it.
    seed: u64,
    /// Scratch for one bucket's candidates this tick: (position, thinning uniform).
    candidates: Vec<(usize, f64)>,
}

/// The most buckets: p_trade below p_max·2⁻⁶³ shares the last one (still exact, just
/// less efficient).
const MAX_BUCKETS: usize = 64;

impl ArrivalSampler {
    /// Buckets `investors`, given in id order, using streams derived from `seed`.
    pub fn new(investors: impl IntoIterator<Item = ArrivalMember>, seed: u64) -> Self {
        let investors: Vec<ArrivalMember> = investors
            .into_iter()
            .filter(|m| m.profile.p_trade > 0.0)
            .collect();
        let p_max = investors
            .iter()
            .map(|m| m.profile.p_trade)
            .fold(0.0, f64::max);
        let mut members: Vec<Vec<ArrivalMember>> = vec![Vec::new(); MAX_BUCKETS];
        for investor in investors {
            // Bucket k holds p in (p_max·2^-(k+1), p_max·2^-k].
            let k = ((p_max / investor.profile.p_trade).log2().floor().max(0.0) as usize)
                .min(MAX_BUCKETS - 1);
            members[k].push(investor);
        }
        let buckets = members
            .into_iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, members)| {
                let q = members
                    .iter()
                    .map(|m| m.profile.p_trade)
                    .fold(0.0, f64::max);
                ArrivalBucket {
                    candidate_probability: q,
                    log_miss: (-q).ln_1p(),
                    members,
                    rng: stream(seed, StreamDomain::Arrivals, k as u64),
                }
            })
            .collect();
        Self {
            buckets,
            seed,
            candidates: Vec::new(),
        }
    }

    /// A sampler over `profiles` (investor ids 0, 1, … in order) with no entities behind
    /// them, for code that never looks an investor up: benchmarks and the floor program.
    pub fn without_entities(profiles: impl IntoIterator<Item = TradeProfile>, seed: u64) -> Self {
        let members = profiles
            .into_iter()
            .zip(0..)
            .map(|(profile, id)| ArrivalMember {
                profile,
                entity: Entity::PLACEHOLDER,
                id: InvestorId(id),
            });
        Self::new(members, seed)
    }

    /// The seed the sampler's streams derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Calls `trade(member)` for every investor that trades this tick, bucket by bucket,
    /// in id order within each bucket.
    pub fn sample(&mut self, mut trade: impl FnMut(&ArrivalMember)) {
        let candidates = &mut self.candidates;
        for bucket in &mut self.buckets {
            bucket.sample(candidates, &mut trade);
        }
    }

    /// Every investor that trades this tick, appended to `traders` in the order of
    /// [`ArrivalSampler::sample`], buckets sampled in parallel: each bucket has its own
    /// stream, so the draws and the order do not depend on the thread count.
    pub fn sample_into(&mut self, traders: &mut Vec<ArrivalMember>) {
        if self.buckets.len() < 2 {
            return self.sample(|member| traders.push(*member));
        }
        let found: Vec<Vec<ArrivalMember>> = self
            .buckets
            .par_iter_mut()
            .map(|bucket| {
                let mut candidates = Vec::new();
                let mut found = Vec::new();
                bucket.sample(&mut candidates, |member| found.push(*member));
                found
            })
            .collect();
        for bucket in found {
            traders.extend(bucket);
        }
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Expected candidates per tick, Σ q_b·|b|: the sampler's work (at most twice the
    /// expected trades).
    pub fn expected_candidates(&self) -> f64 {
        self.buckets
            .iter()
            .map(|b| b.candidate_probability * b.members.len() as f64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(p_trade: f64, mean: f64, sd: f64, q: f64) -> TradeProfile {
        TradeProfile::new(p_trade, mean, sd, 0.5, q)
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
    fn the_arrival_sampler_trades_each_investor_with_its_own_probability() {
        let probabilities = [1.0, 0.5, 0.3, 0.26, 0.01, 1e-3, 0.0];
        let mut world = bevy_ecs::world::World::new();
        let members: Vec<ArrivalMember> = probabilities
            .iter()
            .enumerate()
            .map(|(i, &p)| ArrivalMember {
                profile: TradeProfile {
                    p_trade: p,
                    size_log_mean: 0.0,
                    size_log_sd: 0.5,
                    p_buy: 0.5,
                    informed_probability: 0.0,
                },
                entity: world.spawn_empty().id(),
                id: InvestorId(i as u32),
            })
            .collect();
        let mut sampler = ArrivalSampler::new(members, 3);
        // Buckets (p_max·2^-(k+1), p_max·2^-k]: {1} {0.5, 0.3, 0.26} {0.01} {0.001}; p = 0 is left out.
        assert_eq!(sampler.buckets(), 4);
        let ticks = 200_000;
        let mut counts = [0u64; 7];
        let mut twin = sampler.clone();
        let mut traders = Vec::new();
        for _ in 0..ticks {
            let mut sampled = Vec::new();
            sampler.sample(|m| {
                counts[m.id.0 as usize] += 1;
                sampled.push(m.id);
            });
            // The parallel form draws the same traders in the same order.
            traders.clear();
            twin.sample_into(&mut traders);
            assert!(traders.iter().map(|m| m.id).eq(sampled));
        }
        for (&p, &count) in probabilities.iter().zip(&counts) {
            let expected = p * f64::from(ticks);
            let sd = (f64::from(ticks) * p * (1.0 - p)).sqrt();
            assert!(
                (count as f64 - expected).abs() <= 5.0 * sd + 1e-9,
                "p = {p}: {count} vs {expected}"
            );
        }
    }
}
