//! The two-sided quoting environment of Avellaneda & Stoikov (2008), in discrete time,
//! with a Gym-like `reset`/`step` API and a batch of independent environments stepped in
//! parallel.
//!
//! Each step of length dt: the agent posts a bid and an ask around the mid s; each side is
//! filled (one unit) with probability A·e^{−k·δ}·dt, δ the quote's distance from the mid
//! (δ_a = ask − s, δ_b = s − bid); then the mid moves. Fills use the quotes against the mid
//! they were posted at, as in the paper's simulation. Each step draws the ask's and the
//! bid's fill uniforms, then the mid's move, whatever the quotes, so two policies run on
//! one seed see the same price path and the same fill draws: comparisons use common
//! random numbers.

use serde::{Deserialize, Serialize};

use rand_distr::{Distribution, StandardNormal};

use crate::market::price_process::uniform;
use crate::rng::{Stream, StreamDomain, stream};
use crate::scenario::{Checker, Range};

/// How the mid moves over one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MidProcess {
    /// s ± σ√dt with probability ½ each: the paper's binomial walk.
    BinaryStep,
    /// s + σ√dt·Z, Z standard normal: arithmetic Brownian motion.
    Arithmetic,
    /// s·exp(−σ²dt/2 + σ√dt·Z): geometric Brownian motion (σ relative, per unit time).
    Gbm,
}

/// The most steps an episode may have under Hawkes order flow (its counts are kept).
pub const MAX_HAWKES_STEPS: f64 = 1e7;

/// The most Hawkes orders a side may expect in an episode (each is an accepted event).
pub const MAX_ORDERS_PER_EPISODE: f64 = 1e9;

/// How market orders arrive against a side of the book.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderFlow {
    /// Poisson at rate `a`.
    Poisson,
    /// A Hawkes process per side, rates per unit time.
    Hawkes {
        /// μ > 0, baseline rate.
        mu: f64,
        /// α ≥ 0, the jump at each order.
        alpha: f64,
        /// β > 0, the decay; α/β < 1.
        beta: f64,
    },
}

/// What the reward of a step is made of: a weighted sum whose parts are all reported.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveWeights {
    /// Weight of the change in marked-to-market wealth (cash + q·s). Default: 1.
    pub pnl: f64,
    /// Weight of the running inventory risk γσ²q²/2 per unit time (× dt), subtracted;
    /// γ is `risk_aversion`. Default: 0.
    pub inventory_risk: f64,
    /// Risk aversion γ of the inventory-risk term. Default: 0.1.
    pub risk_aversion: f64,
    /// Weight of the spread captured (δ of each fill), added. Default: 0.
    pub spread_capture: f64,
    /// Weight of the holding cost `holding_cost`·|q|·dt, subtracted. Default: 0.
    pub holding: f64,
    /// Holding cost per unit of inventory per unit time. Default: 0.
    pub holding_cost: f64,
}

impl Default for ObjectiveWeights {
    fn default() -> Self {
        Self {
            pnl: 1.0,
            inventory_risk: 0.0,
            risk_aversion: 0.1,
            spread_capture: 0.0,
            holding: 0.0,
            holding_cost: 0.0,
        }
    }
}

/// A market-making environment (`MarketMaking(...)` in a preset). Defaults are the
/// paper's setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketMakingConfig {
    /// s₀, the mid at t = 0. Default: 100. Must be > 0 for `Gbm`.
    pub s0: f64,
    /// T, the horizon (same time unit as σ, A and dt). Default: 1. Must be > 0.
    pub horizon: f64,
    /// σ: per √time in price units (`BinaryStep`, `Arithmetic`) or relative (`Gbm`).
    /// Default: 2. Must be ≥ 0.
    pub sigma: f64,
    /// dt, the step. Default: 0.005 (200 steps). Must be in (0, T].
    pub dt: f64,
    /// A, the arrival rate of market orders against a quote at the mid. Default: 140.
    /// Must be ≥ 0.
    pub a: f64,
    /// k, the decay of the fill rate with the quote's distance. Default: 1.5. Must be > 0.
    pub k: f64,
    /// How the mid moves. Default: `BinaryStep`.
    pub mid: MidProcess,
    /// |q| above this is never reached: a fill that would exceed it is censored (counted,
    /// not executed). Default: none.
    pub max_inventory: Option<u32>,
    /// How market orders arrive against each side. `Poisson` (the paper): rate A, so a
    /// quote δ away fills with probability A·e^{−kδ}·dt a step. `Hawkes(mu, alpha, beta)`
    /// (rates per unit time, branching ratio below 1): each side's orders are a Hawkes
    /// process, its step counts drawn exactly for the episode at reset; each order lifts
    /// the quote with probability e^{−kδ}, so a step with N orders fills it (one unit)
    /// with probability 1 − (1 − e^{−kδ})^N, and `a` is not used. Default: `Poisson`.
    pub order_flow: OrderFlow,
    /// The reward's composition. Default: the change in wealth only.
    pub objective: ObjectiveWeights,
}

impl Default for MarketMakingConfig {
    fn default() -> Self {
        Self {
            s0: 100.0,
            horizon: 1.0,
            sigma: 2.0,
            dt: 0.005,
            a: 140.0,
            k: 1.5,
            mid: MidProcess::BinaryStep,
            max_inventory: None,
            order_flow: OrderFlow::Poisson,
            objective: ObjectiveWeights::default(),
        }
    }
}

impl MarketMakingConfig {
    /// Checks the fields, with paths under `path`.
    pub fn validate(&self, path: &str, checker: &mut Checker) {
        checker.number(format!("{path}.s0"), self.s0, Range::Positive);
        checker.number(format!("{path}.horizon"), self.horizon, Range::Positive);
        checker.number(format!("{path}.sigma"), self.sigma, Range::NonNegative);
        checker.number(format!("{path}.dt"), self.dt, Range::Positive);
        if self.dt.is_finite() && self.horizon.is_finite() && self.dt > self.horizon {
            checker.fail(
                format!("{path}.dt"),
                format!(
                    "must be at most the horizon ({}), got {}",
                    self.horizon, self.dt
                ),
            );
        }
        // Only for a dt and horizon that passed their own checks: one problem a field.
        if self.dt > 0.0 && self.horizon > 0.0 && self.horizon.is_finite() && self.steps_f64() > 1e8
        {
            checker.fail(
                format!("{path}.dt"),
                format!(
                    "horizon / dt = {:.3e} steps; at most 1e8 a path",
                    self.steps_f64()
                ),
            );
        }
        checker.number(format!("{path}.a"), self.a, Range::NonNegative);
        checker.number(format!("{path}.k"), self.k, Range::Positive);
        if let OrderFlow::Hawkes { mu, alpha, beta } = self.order_flow {
            let hawkes = super::hawkes::Hawkes { mu, alpha, beta };
            hawkes.validate(&format!("{path}.order_flow"), checker);
            // The counts are drawn (and kept, 8 bytes a step) for the whole episode.
            if self.steps_f64() > MAX_HAWKES_STEPS {
                checker.fail(
                    format!("{path}.dt"),
                    format!("with Hawkes order flow an episode has at most {MAX_HAWKES_STEPS:e} steps (its counts are kept), got {:.3e}", self.steps_f64()),
                );
            }
            let orders = hawkes.mean_count(self.horizon);
            if checker.is_clean() && (orders.is_nan() || orders > MAX_ORDERS_PER_EPISODE) {
                checker.fail(
                    format!("{path}.order_flow"),
                    format!("{orders:.3e} orders a side an episode on average; at most {MAX_ORDERS_PER_EPISODE:e}"),
                );
            }
        }
        let o = &self.objective;
        for (field, value) in [
            ("pnl", o.pnl),
            ("inventory_risk", o.inventory_risk),
            ("spread_capture", o.spread_capture),
            ("holding", o.holding),
        ] {
            checker.number(format!("{path}.objective.{field}"), value, Range::Finite);
        }
        checker.number(
            format!("{path}.objective.risk_aversion"),
            o.risk_aversion,
            Range::NonNegative,
        );
        checker.number(
            format!("{path}.objective.holding_cost"),
            o.holding_cost,
            Range::NonNegative,
        );
    }

    fn steps_f64(&self) -> f64 {
        (self.horizon / self.dt).round()
    }

    /// Steps in an episode: T/dt rounded to the nearest whole number (≥ 1).
    pub fn steps(&self) -> u32 {
        // Validation caps T/dt at 1e8.
        self.steps_f64().clamp(1.0, 1e8) as u32
    }
}

/// A bid and an ask, in price units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quotes {
    /// The price the agent buys at.
    pub bid: f64,
    /// The price the agent sells at.
    pub ask: f64,
}

/// What the agent sees before quoting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Steps done.
    pub step: u32,
    /// t, the time now.
    pub time: f64,
    /// T − t.
    pub time_left: f64,
    /// s, the mid.
    pub mid: f64,
    /// q, the inventory (units; > 0 long).
    pub inventory: i64,
    /// x, the cash.
    pub cash: f64,
}

impl Observation {
    /// Cash plus inventory at the mid.
    pub fn wealth(&self) -> f64 {
        self.cash + self.inventory as f64 * self.mid
    }
}

/// The parts of a step's reward, before weighting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardParts {
    /// Change in marked-to-market wealth.
    pub pnl: f64,
    /// γσ²q²/2 · dt, with q after the step's fills.
    pub inventory_risk: f64,
    /// Σ δ over the step's fills.
    pub spread_capture: f64,
    /// holding_cost · |q| · dt.
    pub holding: f64,
}

impl RewardParts {
    fn add(&mut self, other: &RewardParts) {
        self.pnl += other.pnl;
        self.inventory_risk += other.inventory_risk;
        self.spread_capture += other.spread_capture;
        self.holding += other.holding;
    }
}

/// What a step reports beside the observation and reward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    /// Whether the ask was lifted (the agent sold one unit).
    pub ask_filled: bool,
    /// Whether the bid was hit (the agent bought one unit).
    pub bid_filled: bool,
    /// Sides whose fill probability A·e^{−kδ}·dt exceeded 1 and was capped at 1 (0–2):
    /// the step is too coarse for such a quote.
    pub saturated: u8,
    /// Fills refused by `max_inventory` (0–2).
    pub censored: u8,
    /// The reward's parts.
    pub parts: RewardParts,
}

/// One step's result, as Gymnasium's `step` returns it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The state after the step.
    pub observation: Observation,
    /// The weighted sum of the parts.
    pub reward: f64,
    /// The horizon is reached.
    pub terminated: bool,
    /// Cut short by something other than the model's end (never, here).
    pub truncated: bool,
    /// Fills and the reward's parts.
    pub info: StepInfo,
}

/// One market-making environment.
#[derive(Clone, Debug)]
pub struct MarketMakingEnv {
    config: MarketMakingConfig,
    steps: u32,
    // Market orders per step against (ask, bid), drawn at reset under Hawkes order flow.
    orders: Vec<(u32, u32)>,
    root_dt: f64,
    state: Observation,
    rng: Stream,
}

impl MarketMakingEnv {
    /// An environment of `config` (validated), reset with seed 0.
    pub fn new(config: MarketMakingConfig) -> Self {
        let steps = config.steps();
        let mut env = Self {
            state: initial(&config, steps),
            root_dt: config.dt.sqrt(),
            orders: Vec::new(),
            config,
            steps,
            rng: stream(0, StreamDomain::QuoteControl, 0),
        };
        env.reset(0);
        env
    }

    /// The configuration.
    pub fn config(&self) -> &MarketMakingConfig {
        &self.config
    }

    /// Steps in an episode.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Starts a new episode whose draws come from `seed` alone.
    pub fn reset(&mut self, seed: u64) -> Observation {
        self.reset_path(seed, 0)
    }

    /// Starts episode `path` of `seed` (stream `(seed, QuoteControl, path)`): the paths of
    /// a comparison share a seed and differ by number.
    pub fn reset_path(&mut self, seed: u64, path: u64) -> Observation {
        self.rng = stream(seed, StreamDomain::QuoteControl, path);
        self.state = initial(&self.config, self.steps);
        self.orders = match self.config.order_flow {
            OrderFlow::Poisson => Vec::new(),
            OrderFlow::Hawkes { mu, alpha, beta } => {
                let hawkes = super::hawkes::Hawkes { mu, alpha, beta };
                let horizon = f64::from(self.steps) * self.config.dt;
                let steps = self.steps as usize;
                let asks = hawkes.sample_counts(horizon, steps, &mut self.rng);
                let bids = hawkes.sample_counts(horizon, steps, &mut self.rng);
                asks.into_iter().zip(bids).collect()
            }
        };
        self.state
    }

    /// The state now.
    pub fn observation(&self) -> Observation {
        self.state
    }

    /// Posts `quotes` for one step. After the horizon the state stays and the step is
    /// `terminated` with zero reward (no draws are made).
    pub fn step(&mut self, quotes: Quotes) -> Step {
        let c = &self.config;
        let before = self.state;
        if before.step >= self.steps {
            return Step {
                observation: before,
                reward: 0.0,
                terminated: true,
                truncated: false,
                info: StepInfo::default(),
            };
        }
        let u_ask = uniform(&mut self.rng);
        let u_bid = uniform(&mut self.rng);
        let s = before.mid;
        let mut info = StepInfo::default();
        let mut q = before.inventory;
        let mut cash = before.cash;
        let delta_ask = quotes.ask - s;
        let delta_bid = s - quotes.bid;
        let limit = c.max_inventory.map(i64::from);
        let ((p_ask, sat_ask), (p_bid, sat_bid)) = match c.order_flow {
            OrderFlow::Poisson => (
                fill_probability(c.a, c.k, delta_ask, c.dt),
                fill_probability(c.a, c.k, delta_bid, c.dt),
            ),
            OrderFlow::Hawkes { .. } => {
                let (asks, bids) = self
                    .orders
                    .get(before.step as usize)
                    .copied()
                    .unwrap_or((0, 0));
                (
                    (any_order_fills(c.k, delta_ask, asks), false),
                    (any_order_fills(c.k, delta_bid, bids), false),
                )
            }
        };
        info.saturated = u8::from(sat_ask) + u8::from(sat_bid);
        if u_ask < p_ask && quotes.ask.is_finite() {
            if limit.is_some_and(|l| q - 1 < -l) {
                info.censored += 1;
            } else {
                q -= 1;
                cash += quotes.ask;
                info.ask_filled = true;
                info.parts.spread_capture += delta_ask;
            }
        }
        if u_bid < p_bid && quotes.bid.is_finite() {
            if limit.is_some_and(|l| q + 1 > l) {
                info.censored += 1;
            } else {
                q += 1;
                cash -= quotes.bid;
                info.bid_filled = true;
                info.parts.spread_capture += delta_bid;
            }
        }
        let root_dt = self.root_dt;
        let mid = match c.mid {
            MidProcess::BinaryStep => {
                if uniform(&mut self.rng) < 0.5 {
                    s + c.sigma * root_dt
                } else {
                    s - c.sigma * root_dt
                }
            }
            MidProcess::Arithmetic => s + c.sigma * root_dt * normal(&mut self.rng),
            MidProcess::Gbm => {
                s * (-0.5 * c.sigma * c.sigma * c.dt + c.sigma * root_dt * normal(&mut self.rng))
                    .exp()
            }
        };
        let step = before.step + 1;
        let time = f64::from(step) * c.dt;
        let after = Observation {
            step,
            time,
            time_left: (c.horizon - time).max(0.0),
            mid,
            inventory: q,
            cash,
        };
        let o = &c.objective;
        let qf = q as f64;
        info.parts.pnl = after.wealth() - before.wealth();
        info.parts.inventory_risk = 0.5 * o.risk_aversion * c.sigma * c.sigma * qf * qf * c.dt;
        info.parts.holding = o.holding_cost * qf.abs() * c.dt;
        let reward = o.pnl * info.parts.pnl - o.inventory_risk * info.parts.inventory_risk
            + o.spread_capture * info.parts.spread_capture
            - o.holding * info.parts.holding;
        self.state = after;
        Step {
            observation: after,
            reward,
            terminated: step >= self.steps,
            truncated: false,
            info,
        }
    }
}

fn normal(rng: &mut Stream) -> f64 {
    StandardNormal.sample(rng)
}

fn initial(config: &MarketMakingConfig, steps: u32) -> Observation {
    Observation {
        step: 0,
        time: 0.0,
        time_left: if steps == 0 { 0.0 } else { config.horizon },
        mid: config.s0,
        inventory: 0,
        cash: 0.0,
    }
}

/// The per-step fill probability of a quote δ from the mid, A·e^{−kδ}·dt, capped at 1
/// (at most one fill a side a step); the bool says whether the cap was needed.
pub fn fill_probability(a: f64, k: f64, delta: f64, dt: f64) -> (f64, bool) {
    let p = a * (-k * delta).exp() * dt;
    if p.is_nan() {
        // A NaN quote (or parameters) fills nothing; the step checks quotes too.
        (0.0, false)
    } else if p > 1.0 {
        (1.0, true)
    } else {
        (p, false)
    }
}

/// The probability that at least one of `orders` market orders, each lifting a quote δ
/// away with probability min(1, e^{−kδ}), reaches it: 1 − (1 − e^{−kδ})^orders.
pub fn any_order_fills(k: f64, delta: f64, orders: u32) -> f64 {
    let q = (-k * delta).exp().min(1.0);
    if orders == 0 || q.is_nan() {
        return 0.0;
    }
    // (1 − q)^n through ln_1p, exact for small q.
    1.0 - ((-q).ln_1p() * f64::from(orders)).exp()
}

/// Independent environments of one configuration stepped together, in parallel; each
/// has its own seed, so results do not depend on the thread count or the batch size.
#[derive(Clone, Debug)]
pub struct VecEnv {
    envs: Vec<MarketMakingEnv>,
    seed: u64,
    // Episodes each environment has started since the last `reset` (autoreset counts).
    episodes: Vec<u32>,
}

/// The observation as a flat vector: these fields, in this order (see
/// [`Observation::to_array`]).
pub const OBSERVATION_FIELDS: [&str; 4] = ["time_left", "mid", "inventory", "cash"];

impl Observation {
    /// `[T − t, s, q, x]`, the fields of [`OBSERVATION_FIELDS`] (q as a float).
    pub fn to_array(&self) -> [f64; 4] {
        [self.time_left, self.mid, self.inventory as f64, self.cash]
    }
}

/// Where [`VecEnv::step_depths`] writes its results: one row per environment.
#[derive(Debug)]
pub struct FlatSteps<'a> {
    /// The observations after the step, [`OBSERVATION_FIELDS`] each.
    pub observations: &'a mut [[f64; 4]],
    /// The rewards.
    pub rewards: &'a mut [f64],
    /// Whether the step reached the horizon.
    pub terminated: &'a mut [bool],
    /// Whether the step was cut short (never, here).
    pub truncated: &'a mut [bool],
}

impl VecEnv {
    /// `count` environments of `config`.
    pub fn new(config: &MarketMakingConfig, count: usize) -> Self {
        Self {
            envs: vec![MarketMakingEnv::new(config.clone()); count],
            seed: 0,
            episodes: vec![0; count],
        }
    }

    /// The environments.
    pub fn envs(&self) -> &[MarketMakingEnv] {
        &self.envs
    }

    /// Number of environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Whether the batch has no environment.
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Resets environment i with path i of `seed`.
    pub fn reset(&mut self, seed: u64) -> Vec<Observation> {
        use rayon::prelude::*;
        self.seed = seed;
        self.episodes.fill(0);
        self.envs
            .par_iter_mut()
            .enumerate()
            .map(|(i, env)| env.reset_path(seed, i as u64))
            .collect()
    }

    /// Steps environment i with `actions[i]` (as many actions as environments; missing
    /// ones leave their environment as it is and report a terminated step).
    pub fn step(&mut self, actions: &[Quotes]) -> Vec<Step> {
        use rayon::prelude::*;
        self.envs
            .par_iter_mut()
            .enumerate()
            .map(|(i, env)| match actions.get(i) {
                Some(&quotes) => env.step(quotes),
                None => Step {
                    observation: env.observation(),
                    reward: 0.0,
                    terminated: true,
                    truncated: true,
                    info: StepInfo::default(),
                },
            })
            .collect()
    }

    /// Steps every environment with quotes at depths `[δ_bid, δ_ask]` from its mid
    /// (bid = s − δ_bid, ask = s + δ_ask; a negative depth quotes through the mid) and
    /// writes the results into `out`, allocating nothing: the loop behind the Python
    /// vector environment.
    ///
    /// An environment whose episode had ended is reset instead, its action ignored, and
    /// reports its first observation with reward 0 and neither flag: Gymnasium's
    /// "next step" autoreset. Episode e of environment i (e counted from the last
    /// [`reset`](Self::reset)) is path `e·2³² + i` of the seed, so a batch's episodes do
    /// not depend on the batch size or the thread count.
    ///
    /// # Panics
    /// If `depths` or a slice of `out` is shorter than the batch (a caller's bug; the
    /// bindings check lengths first).
    pub fn step_depths(&mut self, depths: &[[f64; 2]], out: FlatSteps<'_>) {
        use rayon::prelude::*;
        let n = self.envs.len();
        assert!(
            depths.len() >= n
                && out.observations.len() >= n
                && out.rewards.len() >= n
                && out.terminated.len() >= n
                && out.truncated.len() >= n,
            "step_depths: fewer rows than environments"
        );
        let seed = self.seed;
        // Batches of a few thousand cheap steps: chunks keep rayon's overhead per step low.
        const CHUNK: usize = 256;
        self.envs
            .par_chunks_mut(CHUNK)
            .zip(self.episodes.par_chunks_mut(CHUNK))
            .zip(depths.par_chunks(CHUNK))
            .zip(out.observations.par_chunks_mut(CHUNK))
            .zip(out.rewards.par_chunks_mut(CHUNK))
            .zip(out.terminated.par_chunks_mut(CHUNK))
            .zip(out.truncated.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(
                |(
                    chunk,
                    ((((((envs, episodes), depths), obs), rewards), terminated), truncated),
                )| {
                    for (j, env) in envs.iter_mut().enumerate() {
                        let i = (chunk * CHUNK + j) as u64;
                        if env.observation().step >= env.steps() {
                            episodes[j] = episodes[j].saturating_add(1);
                            let path = (u64::from(episodes[j]) << 32) | i;
                            obs[j] = env.reset_path(seed, path).to_array();
                            rewards[j] = 0.0;
                            terminated[j] = false;
                            truncated[j] = false;
                            continue;
                        }
                        let mid = env.observation().mid;
                        let [bid_depth, ask_depth] = depths[j];
                        let step = env.step(Quotes {
                            bid: mid - bid_depth,
                            ask: mid + ask_depth,
                        });
                        obs[j] = step.observation.to_array();
                        rewards[j] = step.reward;
                        terminated[j] = step.terminated;
                        truncated[j] = step.truncated;
                    }
                },
            );
    }
}

/// The totals of one episode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Final wealth (cash + q·s_T): the profit, starting from nothing.
    pub profit: f64,
    /// q at T.
    pub final_inventory: i64,
    /// The quoted spread (ask − bid) averaged over the steps.
    pub mean_spread: f64,
    /// Fills, both sides.
    pub fills: u32,
    /// Sides whose fill probability was capped at 1.
    pub saturated: u32,
    /// Fills refused by the inventory limit.
    pub censored: u32,
    /// Σ reward.
    pub reward: f64,
    /// Σ of each part.
    pub parts: RewardParts,
}

impl Episode {
    /// Adds one step.
    pub fn record(&mut self, quotes: &Quotes, step: &Step) {
        self.mean_spread += quotes.ask - quotes.bid;
        self.fills += u32::from(step.info.ask_filled) + u32::from(step.info.bid_filled);
        self.saturated += u32::from(step.info.saturated);
        self.censored += u32::from(step.info.censored);
        self.reward += step.reward;
        self.parts.add(&step.info.parts);
        self.profit = step.observation.wealth();
        self.final_inventory = step.observation.inventory;
    }

    /// Turns the spread sum into the mean over `steps`.
    pub fn finish(mut self, steps: u32) -> Self {
        if steps > 0 {
            self.mean_spread /= f64::from(steps);
        }
        self
    }
}
