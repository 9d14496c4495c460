//! Posted-price retail: a seller posts one price a step under a minimum margin, a
//! maximum change per step, price bounds and a price grid; shoppers arrive (Poisson,
//! Hawkes, or browsing sessions contaminated by scrapers that never buy), each buys with
//! a probability of constant elasticity in the seller's price and the competitor's;
//! stock limits sales (lost demand is counted and may be charged), and a reactive
//! competitor undercuts into a price war when undercut itself.
//!
//! Each step draws, in this order and whatever the price: the arrivals, the scraper
//! split, then one uniform per real shopper; so policies compared on one seed see the
//! same shoppers (common random numbers, exactly so for Poisson and sessions; Hawkes
//! counts are drawn for the whole episode at reset).

use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use super::hawkes::Hawkes;
use super::policies::Bandit;
use crate::market::price_process::uniform;
use crate::rng::{Stream, StreamDomain, stream};
use crate::scenario::{Checker, Range};

/// The most shoppers a step may bring on average: each one draws a uniform.
pub const MAX_ARRIVALS_PER_STEP: f64 = 1e6;

/// The most shoppers an episode may bring on average.
pub const MAX_ARRIVALS_PER_EPISODE: f64 = 1e10;

/// The most steps a retail episode may have.
pub const MAX_RETAIL_STEPS: u64 = 10_000_000;

/// Who arrives each step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Arrivals {
    /// Poisson, `rate` shoppers a step on average.
    Poisson(f64),
    /// Hawkes with an exponential kernel, rates per step (`docs/quote_control.md`).
    Hawkes {
        /// μ > 0, baseline rate.
        mu: f64,
        /// α ≥ 0, the jump at each arrival.
        alpha: f64,
        /// β > 0, the decay; α/β < 1.
        beta: f64,
    },
    /// Browsing sessions: shoppers' sessions at Poisson `rate` a step, and scrapers'
    /// (bots that look and never buy) at their own Poisson `scraper_rate`. Both count as
    /// sessions, so conversion per session is contaminated by a share
    /// scraper_rate / (rate + scraper_rate).
    Sessions {
        /// Shoppers' sessions a step on average.
        rate: f64,
        /// Scrapers' sessions a step on average.
        scraper_rate: f64,
    },
}

/// The shoppers' demand: a real shopper buys one unit with probability
/// min(1, base · (p/p_ref)^(−elasticity) · (p_comp/p_ref)^(cross)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Demand {
    /// Purchase probability when both prices are at the reference. Default: 0.3.
    pub base: f64,
    /// p_ref. Default: 15.
    pub reference_price: f64,
    /// Own-price elasticity (> 0: dearer sells less). Default: 2.
    pub elasticity: f64,
    /// Cross-price elasticity to the competitor (> 0: a dearer rival sends shoppers).
    /// Default: 1.
    pub cross_elasticity: f64,
}

impl Default for Demand {
    fn default() -> Self {
        Self {
            base: 0.3,
            reference_price: 15.0,
            elasticity: 2.0,
            cross_elasticity: 1.0,
        }
    }
}

/// The reactive competitor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Competitor {
    /// Its price when left alone. Default: 15.
    pub base_price: f64,
    /// The lowest it goes. Default: 10.5.
    pub floor: f64,
    /// Undercut by more than this share and it starts a price war. Default: 0.05.
    pub war_threshold: f64,
    /// In a war it prices this share under the seller (not under its floor). Default: 0.02.
    pub undercut: f64,
    /// Out of a war it moves this share of the way back to its base each step. Default: 0.2.
    pub relax: f64,
}

impl Default for Competitor {
    fn default() -> Self {
        Self {
            base_price: 15.0,
            floor: 10.5,
            war_threshold: 0.05,
            undercut: 0.02,
            relax: 0.2,
        }
    }
}

/// The reward's weights: pnl − volatility·|Δp|/p − lost_opportunity·lost·(p − c).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetailWeights {
    /// Weight of the step's profit. Default: 1.
    pub pnl: f64,
    /// Weight of the relative price change. Default: 0.
    pub volatility: f64,
    /// Weight of the margin lost on unserved demand. Default: 0.
    pub lost_opportunity: f64,
}

impl Default for RetailWeights {
    fn default() -> Self {
        Self {
            pnl: 1.0,
            volatility: 0.0,
            lost_opportunity: 0.0,
        }
    }
}

/// A posted-price environment (`Retail(...)` in a preset).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetailConfig {
    /// Steps in an episode. Default: 365.
    pub steps: u32,
    /// Unit cost c. Default: 10.
    pub cost: f64,
    /// The price before the first step. Default: 15.
    pub initial_price: f64,
    /// Prices are at least c·(1 + min_margin). Default: 0.05.
    pub min_margin: f64,
    /// A step moves the price by at most this share of the last price. Default: 0.1.
    pub max_change: f64,
    /// Lowest and highest price. Default: (5, 50).
    pub price_bounds: (f64, f64),
    /// Prices are multiples of this (0: any). Default: 0.01.
    pub rounding: f64,
    /// Who arrives. Default: `Poisson(20.0)`.
    pub arrivals: Arrivals,
    /// How shoppers buy.
    pub demand: Demand,
    /// Units on hand at the start and the most the shelf holds. Default: 100.
    pub capacity: u32,
    /// Units delivered after each step (up to capacity). Default: 6.
    pub restock: u32,
    /// Cost per unit held at the end of a step. Default: 0.01.
    pub holding_cost: f64,
    /// Cost per unit of demand not served (a shortage). Default: 0.5.
    pub shortage_cost: f64,
    /// The rival.
    pub competitor: Competitor,
    /// The reward.
    pub objective: RetailWeights,
}

impl Default for RetailConfig {
    fn default() -> Self {
        Self {
            steps: 365,
            cost: 10.0,
            initial_price: 15.0,
            min_margin: 0.05,
            max_change: 0.1,
            price_bounds: (5.0, 50.0),
            rounding: 0.01,
            arrivals: Arrivals::Poisson(20.0),
            demand: Demand::default(),
            capacity: 100,
            restock: 6,
            holding_cost: 0.01,
            shortage_cost: 0.5,
            competitor: Competitor::default(),
            objective: RetailWeights::default(),
        }
    }
}

impl RetailConfig {
    /// Checks every field, with paths under `path`.
    pub fn validate(&self, path: &str, checker: &mut Checker) {
        checker.at_least_one(format!("{path}.steps"), u64::from(self.steps), "step");
        checker.at_most(
            format!("{path}.steps"),
            u64::from(self.steps),
            MAX_RETAIL_STEPS,
            "steps an episode (Hawkes counts are kept for the episode)",
        );
        checker.number(format!("{path}.cost"), self.cost, Range::NonNegative);
        checker.number(
            format!("{path}.min_margin"),
            self.min_margin,
            Range::NonNegative,
        );
        checker.number(
            format!("{path}.max_change"),
            self.max_change,
            Range::Positive,
        );
        let (lo, hi) = self.price_bounds;
        checker.number(format!("{path}.price_bounds"), lo, Range::NonNegative);
        checker.number(format!("{path}.price_bounds"), hi, Range::Positive);
        let floor = self.cost * (1.0 + self.min_margin);
        if hi < lo || hi < floor {
            checker.fail(
                format!("{path}.price_bounds"),
                format!("the highest price {hi} must be at least the lowest ({lo}) and the margin floor c·(1 + min_margin) = {floor}"),
            );
        }
        checker.number(
            format!("{path}.initial_price"),
            self.initial_price,
            Range::Positive,
        );
        checker.number(
            format!("{path}.rounding"),
            self.rounding,
            Range::NonNegative,
        );
        match self.arrivals {
            Arrivals::Poisson(rate) => {
                checker.number(format!("{path}.arrivals"), rate, Range::NonNegative)
            }
            Arrivals::Hawkes { mu, alpha, beta } => {
                Hawkes { mu, alpha, beta }.validate(&format!("{path}.arrivals"), checker)
            }
            Arrivals::Sessions { rate, scraper_rate } => {
                checker.number(format!("{path}.arrivals.rate"), rate, Range::NonNegative);
                checker.number(
                    format!("{path}.arrivals.scraper_rate"),
                    scraper_rate,
                    Range::NonNegative,
                );
            }
        }
        let rate = match self.arrivals {
            Arrivals::Poisson(rate) => rate,
            Arrivals::Sessions { rate, scraper_rate } => rate + scraper_rate,
            Arrivals::Hawkes { mu, alpha, beta } => mu / (1.0 - alpha / beta).max(1e-12),
        };
        let per_episode = rate * f64::from(self.steps);
        if rate <= MAX_ARRIVALS_PER_STEP && per_episode > MAX_ARRIVALS_PER_EPISODE {
            checker.fail(
                format!("{path}.arrivals"),
                format!("{per_episode:.3e} arrivals an episode on average; at most {MAX_ARRIVALS_PER_EPISODE:e} (each shopper is drawn)"),
            );
        }
        if self.rounding > 0.0 && hi.is_finite() && hi >= floor {
            let first = (floor.max(lo) / self.rounding).ceil() * self.rounding;
            if self.rounding < 1e-9 * hi || first > hi {
                checker.fail(
                    format!("{path}.rounding"),
                    format!("the grid of {} has no price between the floor {} and the highest price {hi} (or is finer than 1e-9 of it)", self.rounding, floor.max(lo)),
                );
            }
        }
        if rate > MAX_ARRIVALS_PER_STEP {
            checker.fail(
                format!("{path}.arrivals"),
                format!("{rate:.3e} arrivals a step on average; at most {MAX_ARRIVALS_PER_STEP:e} (each shopper is drawn)"),
            );
        }
        let d = &self.demand;
        checker.number(format!("{path}.demand.base"), d.base, Range::Probability);
        checker.number(
            format!("{path}.demand.reference_price"),
            d.reference_price,
            Range::Positive,
        );
        checker.number(
            format!("{path}.demand.elasticity"),
            d.elasticity,
            Range::Finite,
        );
        checker.number(
            format!("{path}.demand.cross_elasticity"),
            d.cross_elasticity,
            Range::Finite,
        );
        checker.number(
            format!("{path}.holding_cost"),
            self.holding_cost,
            Range::NonNegative,
        );
        checker.number(
            format!("{path}.shortage_cost"),
            self.shortage_cost,
            Range::NonNegative,
        );
        let c = &self.competitor;
        checker.number(
            format!("{path}.competitor.base_price"),
            c.base_price,
            Range::Positive,
        );
        checker.number(format!("{path}.competitor.floor"), c.floor, Range::Positive);
        checker.number(
            format!("{path}.competitor.war_threshold"),
            c.war_threshold,
            Range::Probability,
        );
        checker.number(
            format!("{path}.competitor.undercut"),
            c.undercut,
            Range::Probability,
        );
        checker.number(
            format!("{path}.competitor.relax"),
            c.relax,
            Range::Probability,
        );
        let o = &self.objective;
        for (field, v) in [
            ("pnl", o.pnl),
            ("volatility", o.volatility),
            ("lost_opportunity", o.lost_opportunity),
        ] {
            checker.number(format!("{path}.objective.{field}"), v, Range::Finite);
        }
    }

    /// `wanted` made a legal price after `last`: within the change limit, the bounds and
    /// above the margin floor, then on the grid (rounded up when rounding down would
    /// break the floor). The bool says whether anything was changed beyond rounding.
    pub fn legal_price(&self, wanted: f64, last: f64) -> (f64, bool) {
        let floor = (self.cost * (1.0 + self.min_margin)).max(self.price_bounds.0);
        let high = self.price_bounds.1;
        let wanted = if wanted.is_nan() { last } else { wanted };
        let lo = (last * (1.0 - self.max_change)).max(floor).min(high);
        let hi = (last * (1.0 + self.max_change)).min(high).max(lo);
        let clamped = wanted.clamp(lo, hi);
        let mut price = clamped;
        if self.rounding > 0.0 {
            price = (clamped / self.rounding).round() * self.rounding;
            if price < floor {
                price = (clamped / self.rounding).ceil() * self.rounding;
            }
            if price > high {
                price = (high / self.rounding).floor() * self.rounding;
            }
            // Validation guarantees a grid point in [floor, high]; keep the unrounded
            // price rather than break a bound if a config slipped past it.
            if !(price.is_finite() && price >= floor && price <= high) {
                price = clamped;
            }
        }
        (price, clamped != wanted)
    }
}

/// What the seller sees before pricing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetailObservation {
    /// Steps done.
    pub step: u32,
    /// Its last price.
    pub price: f64,
    /// The competitor's price now.
    pub competitor_price: f64,
    /// Units on the shelf.
    pub stock: u32,
    /// Last step's demand (real shoppers who wanted to buy).
    pub demand: u32,
    /// Last step's sales.
    pub sales: u32,
    /// Profit so far.
    pub profit: f64,
    /// Whether the competitor is in a price war.
    pub war: bool,
    /// The unit cost.
    pub cost: f64,
}

/// A retail step's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetailStep {
    /// The state after it.
    pub observation: RetailObservation,
    /// The weighted reward.
    pub reward: f64,
    /// The episode is over.
    pub terminated: bool,
    /// The price charged (after the constraints).
    pub price: f64,
    /// Whether the constraints changed the wanted price (beyond rounding).
    pub constrained: bool,
    /// Arrivals (sessions, scrapers included).
    pub arrivals: u32,
    /// Of which scrapers.
    pub scrapers: u32,
    /// Units wanted but not on the shelf.
    pub lost: u32,
    /// The step's profit: revenue − cost of goods − holding − shortage (the reward's
    /// `pnl` part, before its weight).
    pub pnl: f64,
    /// The reward's `volatility` part before its weight: |Δp| / p_last.
    pub volatility: f64,
    /// The reward's `lost_opportunity` part before its weight: lost·(p − c).
    pub lost_opportunity: f64,
}

/// One retail environment.
#[derive(Clone, Debug)]
pub struct RetailEnv {
    config: RetailConfig,
    state: RetailObservation,
    rng: Stream,
    hawkes_counts: Vec<u32>,
}

impl RetailEnv {
    /// An environment of `config` (validated), reset with path 0 of seed 0.
    pub fn new(config: RetailConfig) -> Self {
        let mut env = Self {
            state: initial(&config),
            rng: stream(0, StreamDomain::QuoteControl, 0),
            hawkes_counts: Vec::new(),
            config,
        };
        env.reset_path(0, 0);
        env
    }

    /// Steps in an episode.
    pub fn steps(&self) -> u32 {
        self.config.steps
    }

    /// Starts episode `path` of `seed`.
    pub fn reset_path(&mut self, seed: u64, path: u64) -> RetailObservation {
        self.rng = stream(seed, StreamDomain::QuoteControl, path);
        self.state = initial(&self.config);
        self.hawkes_counts = match self.config.arrivals {
            Arrivals::Hawkes { mu, alpha, beta } => {
                let steps = self.config.steps as usize;
                Hawkes { mu, alpha, beta }.sample_counts(
                    f64::from(self.config.steps),
                    steps,
                    &mut self.rng,
                )
            }
            _ => Vec::new(),
        };
        self.state
    }

    /// The state now.
    pub fn observation(&self) -> RetailObservation {
        self.state
    }

    /// Posts `wanted` (made legal first) for one step.
    pub fn step(&mut self, wanted: f64) -> RetailStep {
        let c = &self.config;
        let before = self.state;
        let (price, constrained) = c.legal_price(wanted, before.price);
        if before.step >= c.steps {
            return RetailStep {
                observation: before,
                reward: 0.0,
                terminated: true,
                price: before.price,
                constrained: false,
                arrivals: 0,
                scrapers: 0,
                lost: 0,
                pnl: 0.0,
                volatility: 0.0,
                lost_opportunity: 0.0,
            };
        }
        let (arrivals, scrapers) = match c.arrivals {
            Arrivals::Poisson(rate) => (poisson(rate, &mut self.rng), 0),
            Arrivals::Hawkes { .. } => (
                self.hawkes_counts
                    .get(before.step as usize)
                    .copied()
                    .unwrap_or(0),
                0,
            ),
            Arrivals::Sessions { rate, scraper_rate } => {
                let shoppers = poisson(rate, &mut self.rng);
                let bots = poisson(scraper_rate, &mut self.rng);
                (shoppers.saturating_add(bots), bots)
            }
        };
        let d = &c.demand;
        let buy = (d.base
            * (price / d.reference_price).powf(-d.elasticity)
            * (before.competitor_price / d.reference_price).powf(d.cross_elasticity))
        .clamp(0.0, 1.0);
        let mut demand = 0u32;
        for _ in 0..arrivals - scrapers {
            demand += u32::from(uniform(&mut self.rng) < buy);
        }
        let sales = demand.min(before.stock);
        let lost = demand - sales;
        let left = before.stock - sales;
        let pnl = f64::from(sales) * (price - c.cost)
            - c.holding_cost * f64::from(left)
            - c.shortage_cost * f64::from(lost);
        let stock = left.saturating_add(c.restock).min(c.capacity);
        let k = &c.competitor;
        let war = price < before.competitor_price * (1.0 - k.war_threshold);
        let competitor_price = if war {
            (price * (1.0 - k.undercut)).max(k.floor)
        } else {
            before.competitor_price + k.relax * (k.base_price - before.competitor_price)
        };
        let o = &c.objective;
        let volatility = (price - before.price).abs() / before.price;
        let lost_opportunity = f64::from(lost) * (price - c.cost);
        let reward =
            o.pnl * pnl - o.volatility * volatility - o.lost_opportunity * lost_opportunity;
        let step = before.step + 1;
        self.state = RetailObservation {
            step,
            price,
            competitor_price,
            stock,
            demand,
            sales,
            profit: before.profit + pnl,
            war,
            cost: c.cost,
        };
        RetailStep {
            observation: self.state,
            reward,
            terminated: step >= c.steps,
            price,
            constrained,
            arrivals,
            scrapers,
            lost,
            pnl,
            volatility,
            lost_opportunity,
        }
    }
}

fn poisson(rate: f64, rng: &mut Stream) -> u32 {
    if rate <= 0.0 {
        return 0;
    }
    Poisson::new(rate).map_or(0, |p| {
        let x: f64 = p.sample(rng);
        x.min(f64::from(u32::MAX)) as u32
    })
}

fn initial(config: &RetailConfig) -> RetailObservation {
    RetailObservation {
        step: 0,
        price: config.initial_price,
        competitor_price: config.competitor.base_price,
        stock: config.capacity,
        demand: 0,
        sales: 0,
        profit: 0.0,
        war: false,
        cost: config.cost,
    }
}

/// A pricing policy for the retail environment.
pub trait PricePolicy: Send + Sync {
    /// The price it wants now (the environment makes it legal).
    fn price(&mut self, observation: &RetailObservation, rng: &mut Stream) -> f64;
    /// Learns from the step after its last price.
    fn observe(&mut self, _step: &RetailStep) {}
}

/// Always the same price.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPrice(pub f64);

impl PricePolicy for FixedPrice {
    fn price(&mut self, _o: &RetailObservation, _rng: &mut Stream) -> f64 {
        self.0
    }
}

/// Cost times (1 + markup).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostPlus(pub f64);

impl PricePolicy for CostPlus {
    fn price(&mut self, o: &RetailObservation, _rng: &mut Stream) -> f64 {
        o.cost * (1.0 + self.0)
    }
}

/// The last price ± a relative step, with probability ½ each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomWalkPrice(pub f64);

impl PricePolicy for RandomWalkPrice {
    fn price(&mut self, o: &RetailObservation, rng: &mut Stream) -> f64 {
        let up = uniform(rng) < 0.5;
        o.price * if up { 1.0 + self.0 } else { 1.0 - self.0 }
    }
}

/// ε-greedy over a grid of prices, by mean step reward ([`Bandit`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EpsilonGreedyPrice {
    arms: Vec<f64>,
    bandit: Bandit,
}

impl EpsilonGreedyPrice {
    /// A learner over `arms` (prices; 15 alone if empty) with exploration `epsilon`.
    pub fn new(arms: Vec<f64>, epsilon: f64) -> Self {
        let arms = if arms.is_empty() { vec![15.0] } else { arms };
        Self {
            bandit: Bandit::new(arms.len(), epsilon),
            arms,
        }
    }
}

impl PricePolicy for EpsilonGreedyPrice {
    fn price(&mut self, _o: &RetailObservation, rng: &mut Stream) -> f64 {
        self.arms[self.bandit.choose(rng)]
    }
    fn observe(&mut self, step: &RetailStep) {
        self.bandit.learn(step.reward);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_made_legal() {
        let c = RetailConfig::default();
        // The margin floor 10.5, ±10% a step, the grid 0.01.
        assert_eq!(c.legal_price(15.0, 15.0), (15.0, false));
        assert_eq!(c.legal_price(30.0, 15.0), (16.5, true));
        let (p, constrained) = c.legal_price(1.0, 11.0);
        assert!(constrained && (p - 10.5).abs() < 1e-9, "{p}");
        let (p, _) = c.legal_price(15.004, 15.0);
        assert!((p - 15.0).abs() < 1e-9);
        let (p, constrained) = c.legal_price(f64::NAN, 12.0);
        assert!(!constrained && (p - 12.0).abs() < 1e-9);
    }

    #[test]
    fn sales_are_capped_by_stock_and_the_rest_is_lost() {
        let config = RetailConfig {
            arrivals: Arrivals::Poisson(200.0),
            demand: Demand {
                base: 1.0,
                elasticity: 0.0,
                cross_elasticity: 0.0,
                ..Demand::default()
            },
            capacity: 10,
            restock: 0,
            ..RetailConfig::default()
        };
        let mut env = RetailEnv::new(config);
        env.reset_path(1, 0);
        let step = env.step(15.0);
        assert_eq!(step.observation.sales, 10);
        assert_eq!(step.lost, step.observation.demand - 10);
        assert_eq!(step.observation.stock, 0);
        let expected = 10.0 * 5.0 - 0.5 * f64::from(step.lost);
        assert!((step.pnl - expected).abs() < 1e-9);
    }

    #[test]
    fn scrapers_never_buy_and_undercutting_starts_a_price_war() {
        let config = RetailConfig {
            arrivals: Arrivals::Sessions {
                rate: 0.0,
                scraper_rate: 50.0,
            },
            ..RetailConfig::default()
        };
        let mut env = RetailEnv::new(config);
        env.reset_path(2, 0);
        let step = env.step(13.0);
        assert_eq!(step.scrapers, step.arrivals);
        assert_eq!(step.observation.demand, 0);
        // 13.5 is 10% under the rival's 15: war, the rival goes to 13.5·0.98.
        assert!(step.observation.war);
        assert!((step.observation.competitor_price - 13.5 * 0.98).abs() < 1e-9);
    }
}
