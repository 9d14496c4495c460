//! Quoting policies behind one trait: the Avellaneda–Stoikov strategies from their closed
//! forms, and the baselines (fixed spread, random walk, ε-greedy over a grid of spreads).
//! A policy sees the observation and its own random stream; an outside driver (a
//! reinforcement-learning agent) does not need one: it calls
//! [`MarketMakingEnv::step`](super::market_making::MarketMakingEnv::step) itself.

use serde::{Deserialize, Serialize};

use super::market_making::{Observation, Quotes, Step};
use crate::market::price_process::uniform;
use crate::rng::Stream;

/// The Avellaneda–Stoikov reservation price r = s − q·γ·σ²·(T − t): the mid shaded
/// against the inventory.
pub fn reservation_price(mid: f64, inventory: i64, gamma: f64, sigma: f64, time_left: f64) -> f64 {
    mid - inventory as f64 * gamma * sigma * sigma * time_left
}

/// The constant part of the optimal spread, (2/γ)·ln(1 + γ/k), with its limit 2/k at
/// γ = 0 (computed with `ln_1p`, so small γ loses no digits).
pub fn spread_constant(gamma: f64, k: f64) -> f64 {
    if gamma == 0.0 {
        2.0 / k
    } else {
        2.0 / gamma * (gamma / k).ln_1p()
    }
}

/// The Avellaneda–Stoikov optimal total spread δ_a + δ_b = γσ²(T − t) + (2/γ)·ln(1 + γ/k).
pub fn optimal_spread(gamma: f64, sigma: f64, k: f64, time_left: f64) -> f64 {
    gamma * sigma * sigma * time_left + spread_constant(gamma, k)
}

/// A quoting policy.
pub trait QuotePolicy: Send + Sync {
    /// The quotes for the state `observation`.
    fn quote(&mut self, observation: &Observation, rng: &mut Stream) -> Quotes;
    /// Learns from the step that followed its last quotes (most policies ignore it).
    fn observe(&mut self, _quotes: &Quotes, _step: &Step) {}
}

/// Where an Avellaneda–Stoikov spread is centred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Centre {
    /// The reservation price: the paper's inventory strategy.
    Reservation,
    /// The mid: the paper's symmetric strategy, with the same spread.
    Mid,
}

/// The Avellaneda–Stoikov strategies (section 4 of the paper):
/// - *inventory*: the optimal spread γσ²(T − t) + (2/γ)·ln(1 + γ/k) around the
///   reservation price;
/// - *symmetric*: the constant part (2/γ)·ln(1 + γ/k) around the mid. The paper's
///   symmetric profits hardly move with γ (67.21, 67.36, 66.20), which only the constant
///   spread reproduces (with the time term its profit at γ = 0.5 falls to about 58); and
///   the tables' spread column is that constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AvellanedaStoikov {
    gamma: f64,
    sigma: f64,
    k: f64,
    centre: Centre,
    // (2/γ)·ln(1 + γ/k), once: a log per quote was a seventh of a step's time.
    constant: f64,
}

impl AvellanedaStoikov {
    /// The strategy of risk aversion `gamma` for an environment of `sigma` and `k`.
    pub fn new(gamma: f64, sigma: f64, k: f64, centre: Centre) -> Self {
        Self {
            gamma,
            sigma,
            k,
            centre,
            constant: spread_constant(gamma, k),
        }
    }
}

impl QuotePolicy for AvellanedaStoikov {
    fn quote(&mut self, o: &Observation, _rng: &mut Stream) -> Quotes {
        let half = match self.centre {
            Centre::Reservation => {
                0.5 * (self.gamma * self.sigma * self.sigma * o.time_left + self.constant)
            }
            Centre::Mid => 0.5 * self.constant,
        };
        let centre = match self.centre {
            Centre::Reservation => {
                reservation_price(o.mid, o.inventory, self.gamma, self.sigma, o.time_left)
            }
            Centre::Mid => o.mid,
        };
        Quotes {
            bid: centre - half,
            ask: centre + half,
        }
    }
}

/// A constant half-spread around the mid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedSpread {
    /// δ on each side.
    pub half_spread: f64,
}

impl QuotePolicy for FixedSpread {
    fn quote(&mut self, o: &Observation, _rng: &mut Stream) -> Quotes {
        Quotes {
            bid: o.mid - self.half_spread,
            ask: o.mid + self.half_spread,
        }
    }
}

/// A half-spread that takes a ±`step` random walk each quote, kept in [min, max].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomWalk {
    /// The half-spread now.
    pub half_spread: f64,
    /// Its move each step.
    pub step: f64,
    /// Its lower bound.
    pub min: f64,
    /// Its upper bound.
    pub max: f64,
}

impl QuotePolicy for RandomWalk {
    fn quote(&mut self, o: &Observation, rng: &mut Stream) -> Quotes {
        let up = uniform(rng) < 0.5;
        let next = self.half_spread + if up { self.step } else { -self.step };
        self.half_spread = next.clamp(self.min, self.max);
        Quotes {
            bid: o.mid - self.half_spread,
            ask: o.mid + self.half_spread,
        }
    }
}

/// The ε-greedy rule over `n` arms, by mean reward: with probability ε a uniformly
/// random arm, else the arm of highest mean so far (untried arms first, lowest index on
/// ties). Two uniforms a choice, whatever the outcome; the propensity of each choice is
/// exact, so its logs serve off-policy evaluation. Shared by the quoting and the pricing
/// learners, which differ only in what an arm is.
#[derive(Clone, Debug, PartialEq)]
pub struct Bandit {
    epsilon: f64,
    means: Vec<f64>,
    counts: Vec<u64>,
    last: usize,
    last_propensity: f64,
}

impl Bandit {
    /// A learner over `arms` ≥ 1 arms with exploration `epsilon`.
    pub fn new(arms: usize, epsilon: f64) -> Self {
        let n = arms.max(1);
        Self {
            epsilon,
            means: vec![0.0; n],
            counts: vec![0; n],
            last: 0,
            last_propensity: 1.0,
        }
    }

    /// The arm the greedy rule picks now.
    fn greedy(&self) -> usize {
        if let Some(untried) = self.counts.iter().position(|&c| c == 0) {
            return untried;
        }
        let mut best = 0;
        for (i, &m) in self.means.iter().enumerate() {
            if m > self.means[best] {
                best = i;
            }
        }
        best
    }

    /// Chooses an arm (and remembers it and its propensity).
    pub fn choose(&mut self, rng: &mut Stream) -> usize {
        let n = self.means.len();
        let greedy = self.greedy();
        let explore = uniform(rng) < self.epsilon;
        let pick = uniform(rng);
        let arm = if explore {
            ((pick * n as f64) as usize).min(n - 1)
        } else {
            greedy
        };
        let uniform_share = self.epsilon / n as f64;
        self.last_propensity = if arm == greedy {
            1.0 - self.epsilon + uniform_share
        } else {
            uniform_share
        };
        self.last = arm;
        arm
    }

    /// Credits `reward` to the last arm chosen.
    pub fn learn(&mut self, reward: f64) {
        let arm = self.last;
        self.counts[arm] += 1;
        self.means[arm] += (reward - self.means[arm]) / self.counts[arm] as f64;
    }

    /// The probability with which the last arm was chosen.
    pub fn last_propensity(&self) -> f64 {
        self.last_propensity
    }
}

/// ε-greedy over a grid of half-spreads around the mid ([`Bandit`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EpsilonGreedy {
    arms: Vec<f64>,
    bandit: Bandit,
}

impl EpsilonGreedy {
    /// A learner over `arms` (non-empty; 0.5 alone if empty) with exploration `epsilon`.
    pub fn new(arms: Vec<f64>, epsilon: f64) -> Self {
        let arms = if arms.is_empty() { vec![0.5] } else { arms };
        Self {
            bandit: Bandit::new(arms.len(), epsilon),
            arms,
        }
    }

    /// The probability with which the last quote's arm was chosen.
    pub fn last_propensity(&self) -> f64 {
        self.bandit.last_propensity()
    }
}

impl QuotePolicy for EpsilonGreedy {
    fn quote(&mut self, o: &Observation, rng: &mut Stream) -> Quotes {
        let half = self.arms[self.bandit.choose(rng)];
        Quotes {
            bid: o.mid - half,
            ask: o.mid + half,
        }
    }

    fn observe(&mut self, _quotes: &Quotes, step: &Step) {
        self.bandit.learn(step.reward);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_forms_match_the_papers_spreads() {
        // Avellaneda & Stoikov (2008), Table 1-3: k = 1.5, spreads 1.29 (γ = 0.1),
        // 1.33 (γ = 0.01), 1.15 (γ = 0.5): the constant part of the optimal spread.
        for (gamma, paper) in [(0.1, 1.29), (0.01, 1.33), (0.5, 1.15)] {
            let spread = spread_constant(gamma, 1.5);
            assert!((spread - paper).abs() < 0.005, "γ = {gamma}: {spread}");
        }
        // γ → 0: 2/k, continuously.
        assert_eq!(spread_constant(0.0, 1.5), 2.0 / 1.5);
        assert!((spread_constant(1e-12, 1.5) - 2.0 / 1.5).abs() < 1e-12);
        // At T the time term vanishes; before it, it adds γσ²(T − t).
        assert_eq!(
            optimal_spread(0.1, 2.0, 1.5, 0.0),
            spread_constant(0.1, 1.5)
        );
        assert!(
            (optimal_spread(0.1, 2.0, 1.5, 1.0) - spread_constant(0.1, 1.5) - 0.4).abs() < 1e-12
        );
        // A long position shades the reservation price down: r = s − qγσ²(T − t).
        assert!((reservation_price(100.0, 3, 0.1, 2.0, 0.5) - (100.0 - 0.6)).abs() < 1e-12);
    }

    #[test]
    fn epsilon_greedy_chooses_with_the_propensities_it_reports() {
        let mut policy = EpsilonGreedy::new(vec![0.2, 0.5, 1.0], 0.3);
        let o = Observation {
            step: 0,
            time: 0.0,
            time_left: 1.0,
            mid: 100.0,
            inventory: 0,
            cash: 0.0,
        };
        let mut rng = crate::rng::stream(1, crate::rng::StreamDomain::QuoteControl, 0);
        // Nothing observed: the greedy arm is the first untried one, arm 0.
        let n = 30_000;
        let mut picks = [0u32; 3];
        for _ in 0..n {
            let quotes = policy.quote(&o, &mut rng);
            let arm = [0.2, 0.5, 1.0]
                .iter()
                .position(|&h| ((quotes.ask - o.mid) - h).abs() < 1e-9)
                .expect("an arm");
            picks[arm] += 1;
            let expected = if arm == 0 { 1.0 - 0.3 + 0.1 } else { 0.1 };
            assert!((policy.last_propensity() - expected).abs() < 1e-12);
        }
        for (arm, p) in [(0, 0.8), (1, 0.1), (2, 0.1)] {
            let freq = f64::from(picks[arm]) / f64::from(n);
            let se = (p * (1.0 - p) / f64::from(n)).sqrt();
            assert!((freq - p).abs() < 4.0 * se, "arm {arm}: {freq} against {p}");
        }
    }
}
