//! Quote control as a mechanism of the tick: every agent is an entity holding its own
//! environment and policy; Pricing asks each policy for quotes, Matching steps each
//! environment (fills, the mid's move), Record writes one row per group and tick.
//!
//! One tick is one environment step (the environment's `dt`). An agent whose episode
//! reaches the horizon folds it into its statistics and starts its next episode at once.
//! Agent a (numbered across groups in scenario order) runs paths a, a + N, a + 2N, … of
//! the scenario seed (N agents in all), so agents never share a path, and its policy draws
//! from its own stream: results are the same at any thread count.

use bevy_ecs::prelude::*;

use super::config::QuoteControlConfig;
use super::market_making::{Episode, MarketMakingEnv, Quotes};
use super::policies::QuotePolicy;
use crate::output::DeclaredTable;
use crate::output::Recorder;
use crate::output::row::{TableRow, TableSpec};
use crate::rng::Stream;
use crate::scenario::{Checker, Scenario};
use crate::schedule::TickPhase;
use crate::sim::mechanism::{Mechanism, Summary, Systems, TextTable};
use crate::sim::resources::ResourceEstimate;

/// Bytes an agent takes (entity, environment, policy, statistics), for the estimate;
/// Hawkes order flow adds 8 bytes a step (the episode's order counts).
const AGENT_BYTES: u64 = 512;

/// One quoting agent.
#[derive(Component)]
pub struct QuoteAgent {
    group: u32,
    index: u64,
    env: MarketMakingEnv,
    policy: Box<dyn QuotePolicy>,
    rng: Stream,
    quotes: Quotes,
    episode: Episode,
    episodes: u64,
    fills_this_tick: u32,
    stats: Moments,
    /// The episode reached the horizon in the last Matching: the next Pricing starts the
    /// next one, so Record still sees the final state.
    finished: bool,
    /// Cash of the market orders the agent traded with, booked from the fills' prices
    /// (not from the environment's cash): + bid on a bid fill, − ask on an ask fill, and
    /// − q·s for the units taken over at an episode's end.
    outside_cash: f64,
    /// Units those orders hold this episode (+1 per ask fill, −1 per bid fill).
    outside_units: i64,
    /// The agent's wealth over finished episodes (each episode starts from none).
    banked_cash: f64,
    /// Σ |q + outside units| at episode ends: 0 when every fill moved one unit.
    unit_mismatch: u64,
}

/// Running sums of the finished episodes' profit and final inventory.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: u64,
    profit: f64,
    profit_sq: f64,
    q: f64,
    q_sq: f64,
    fills: f64,
}

impl Moments {
    fn add(&mut self, e: &Episode) {
        let q = e.final_inventory as f64;
        self.n += 1;
        self.profit += e.profit;
        self.profit_sq += e.profit * e.profit;
        self.q += q;
        self.q_sq += q * q;
        self.fills += f64::from(e.fills);
    }

    fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.profit += o.profit;
        self.profit_sq += o.profit_sq;
        self.q += o.q;
        self.q_sq += o.q_sq;
        self.fills += o.fills;
    }

    /// Mean and sample sd of a sum and sum of squares over n.
    fn mean_sd(sum: f64, sum_sq: f64, n: u64) -> (f64, f64) {
        if n == 0 {
            return (f64::NAN, f64::NAN);
        }
        let nf = n as f64;
        let mean = sum / nf;
        let sd = if n > 1 {
            ((sum_sq - nf * mean * mean).max(0.0) / (nf - 1.0)).sqrt()
        } else {
            0.0
        };
        (mean, sd)
    }
}

/// The groups' names and policies, by group index.
#[derive(Resource)]
struct Groups(Vec<(String, &'static str)>);

/// Each group's policy, to start every episode afresh (as `compare` runs a path), and
/// the environment it quotes in.
#[derive(Resource)]
struct Policies {
    by_group: Vec<super::config::PolicyConfig>,
    env: super::market_making::MarketMakingConfig,
}

/// The seed and the number of agents, for the next episode's path.
#[derive(Resource)]
struct Paths {
    seed: u64,
    agents: u64,
}

crate::table_row! {
    /// One row per (tick, group): the group's agents after the tick.
    pub struct QuoteGroupRow<'a> in "quote_groups" {
        tick: u32 => "tick (one environment step)",
        group: &'a str => "agent group name",
        policy: &'a str => "the group's policy",
        agents: u32 => "agents in the group",
        mean_wealth: f64 => "mean of cash + q·s over the group's agents, in their current episode",
        mean_inventory: f64 => "mean inventory q",
        sd_inventory: f64 => "sample standard deviation of q across the agents",
        fills: u64 => "fills this tick, both sides, all agents",
        episodes: u64 => "episodes finished so far, all agents",
    }
}

crate::table_row! {
    /// One row per group: its finished episodes.
    pub struct QuoteSummaryRow in "quote_summary" {
        group: String => "agent group name",
        policy: String => "the group's policy",
        agents: u32 => "agents in the group",
        episodes: u64 => "episodes finished (to the horizon)",
        profit_mean: f64 => "mean final wealth of the finished episodes",
        profit_sd: f64 => "sample standard deviation of the final wealth",
        q_mean: f64 => "mean final inventory",
        q_sd: f64 => "sample standard deviation of the final inventory",
        fills_mean: f64 => "mean fills per finished episode",
    }
}

fn post_quotes(paths: Res<Paths>, policies: Res<Policies>, mut agents: Query<&mut QuoteAgent>) {
    let (paths, policies) = (&*paths, &*policies);
    agents.par_iter_mut().for_each(|mut agent| {
        let agent = &mut *agent;
        if agent.finished {
            agent.finished = false;
            let path = agent.index + agent.episodes * paths.agents;
            agent.env.reset_path(paths.seed, path);
            agent.policy = policies.by_group[agent.group as usize].build(&policies.env);
            agent.rng = crate::rng::policy_stream(paths.seed, path);
        }
        let observation = agent.env.observation();
        agent.quotes = agent.policy.quote(&observation, &mut agent.rng);
    });
}

fn step_environments(mut agents: Query<&mut QuoteAgent>) {
    agents.par_iter_mut().for_each(|mut agent| {
        let agent = &mut *agent;
        let step = agent.env.step(agent.quotes);
        agent.policy.observe(&agent.quotes, &step);
        agent.episode.record(&agent.quotes, &step);
        if step.info.ask_filled {
            agent.outside_cash -= agent.quotes.ask;
            agent.outside_units += 1;
        }
        if step.info.bid_filled {
            agent.outside_cash += agent.quotes.bid;
            agent.outside_units -= 1;
        }
        agent.fills_this_tick = u32::from(step.info.ask_filled) + u32::from(step.info.bid_filled);
        if step.terminated {
            let finished = std::mem::take(&mut agent.episode).finish(agent.env.steps());
            agent.stats.add(&finished);
            // The episode's inventory is taken over at the final mid: the outside pays
            // q·s for it, and the agent banks its wealth, cash + q·s.
            let last = step.observation;
            agent.banked_cash += last.wealth();
            agent.outside_cash -= last.inventory as f64 * last.mid;
            agent.unit_mismatch += (last.inventory + agent.outside_units).unsigned_abs();
            agent.outside_units = 0;
            agent.episodes += 1;
            agent.finished = true;
        }
    });
}

/// One group's running sums over its agents, for its `quote_groups` row.
#[derive(Default, Clone, Copy)]
struct GroupSums {
    n: u32,
    wealth: f64,
    q: f64,
    q_sq: f64,
    fills: u64,
    episodes: u64,
}

fn record_groups(
    mut acc: Local<Vec<GroupSums>>,
    clock: Res<crate::market::Clock>,
    groups: Res<Groups>,
    recorder: Option<ResMut<Recorder>>,
    agents: Query<&QuoteAgent>,
) {
    let Some(mut recorder) = recorder else {
        return;
    };
    let Some(mut sink) = recorder.writer(&QuoteGroupRow::TABLE) else {
        return;
    };
    // Reused from tick to tick: no allocation in the tick.
    acc.clear();
    acc.resize(groups.0.len(), GroupSums::default());
    // Query order is spawn order: the sums run in a fixed order.
    for agent in &agents {
        let o = agent.env.observation();
        let a = &mut acc[agent.group as usize];
        let q = o.inventory as f64;
        a.n += 1;
        a.wealth += o.wealth();
        a.q += q;
        a.q_sq += q * q;
        a.fills += u64::from(agent.fills_this_tick);
        a.episodes += agent.episodes;
    }
    for ((name, policy), a) in groups.0.iter().zip(&acc) {
        let (mean_inventory, sd_inventory) = Moments::mean_sd(a.q, a.q_sq, u64::from(a.n));
        sink.write(&QuoteGroupRow {
            tick: clock.tick,
            group: name,
            policy,
            agents: a.n,
            mean_wealth: a.wealth / f64::from(a.n.max(1)),
            mean_inventory,
            sd_inventory,
            fills: a.fills,
            episodes: a.episodes,
        });
    }
}

impl Mechanism for QuoteControlConfig {
    fn kind(&self) -> &'static str {
        "QuoteControl"
    }

    fn validate(&self, _scenario: &Scenario, path: &str, checker: &mut Checker) {
        self.check(path, checker);
    }

    fn build(&self, scenario: &Scenario, world: &mut World) {
        let agents = self.agent_count();
        world.insert_resource(Paths {
            seed: scenario.seed,
            agents,
        });
        world.insert_resource(Policies {
            by_group: self.agents.iter().map(|g| g.policy.clone()).collect(),
            env: self.env.clone(),
        });
        world.insert_resource(Groups(
            self.agents
                .iter()
                .map(|g| (g.name.clone(), g.policy.name()))
                .collect(),
        ));
        let mut index = 0u64;
        let mut batch = Vec::new();
        for (group, spec) in self.agents.iter().enumerate() {
            for _ in 0..spec.count {
                let mut env = MarketMakingEnv::new(self.env.clone());
                env.reset_path(scenario.seed, index);
                batch.push(QuoteAgent {
                    // Validation bounds the groups far below u32::MAX.
                    group: group as u32,
                    index,
                    env,
                    policy: spec.policy.build(&self.env),
                    rng: crate::rng::policy_stream(scenario.seed, index),
                    quotes: Quotes { bid: 0.0, ask: 0.0 },
                    episode: Episode::default(),
                    episodes: 0,
                    fills_this_tick: 0,
                    stats: Moments::default(),
                    finished: false,
                    outside_cash: 0.0,
                    outside_units: 0,
                    banked_cash: 0.0,
                    unit_mismatch: 0,
                });
                index += 1;
            }
        }
        world.spawn_batch(batch);
    }

    fn install(&self, systems: &mut Systems<'_>) {
        systems
            .add(TickPhase::Pricing, post_quotes)
            .add(TickPhase::Matching, step_environments)
            .add(TickPhase::Record, record_groups);
    }

    fn tables(&self, _scenario: &Scenario) -> Vec<DeclaredTable> {
        vec![DeclaredTable::of::<QuoteGroupRow<'_>>(true)]
    }

    fn summary_table(&self) -> TableSpec {
        QuoteSummaryRow::TABLE
    }

    fn summary(&self, world: &mut World) -> Summary {
        let mut per_group = vec![(0u32, Moments::default()); self.agents.len()];
        let mut query = world.query::<&QuoteAgent>();
        for agent in query.iter(world) {
            let slot = &mut per_group[agent.group as usize];
            slot.0 += 1;
            slot.1.merge(&agent.stats);
        }
        let rows: Vec<QuoteSummaryRow> = self
            .agents
            .iter()
            .zip(&per_group)
            .map(|(group, (agents, m))| {
                let (profit_mean, profit_sd) = Moments::mean_sd(m.profit, m.profit_sq, m.n);
                let (q_mean, q_sd) = Moments::mean_sd(m.q, m.q_sq, m.n);
                QuoteSummaryRow {
                    group: group.name.clone(),
                    policy: group.policy.name().to_owned(),
                    agents: *agents,
                    episodes: m.n,
                    profit_mean,
                    profit_sd,
                    q_mean,
                    q_sd,
                    fills_mean: if m.n > 0 {
                        m.fills / m.n as f64
                    } else {
                        f64::NAN
                    },
                }
            })
            .collect();
        let display = TextTable {
            headers: vec![
                "group",
                "policy",
                "agents",
                "episodes",
                "profit",
                "profit sd",
                "q_T",
                "q_T sd",
            ],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.group.clone(),
                        r.policy.clone(),
                        r.agents.to_string(),
                        r.episodes.to_string(),
                        format!("{:.2}", r.profit_mean),
                        format!("{:.2}", r.profit_sd),
                        format!("{:.3}", r.q_mean),
                        format!("{:.2}", r.q_sd),
                    ]
                })
                .collect(),
        };
        Summary {
            mechanism: self.kind(),
            rows: rows.iter().map(TableRow::to_owned_cells).collect(),
            display,
        }
    }

    fn resource_estimate(&self, scenario: &Scenario, path: &str) -> ResourceEstimate {
        let agents = self.agent_count();
        let groups = self.agents.len() as u64;
        let per_agent = match self.env.order_flow {
            super::market_making::OrderFlow::Poisson => AGENT_BYTES,
            super::market_making::OrderFlow::Hawkes { .. } => {
                AGENT_BYTES.saturating_add(u64::from(self.env.steps()).saturating_mul(8))
            }
        };
        ResourceEstimate {
            memory_bytes: agents.saturating_mul(per_agent),
            memory_detail: format!("{agents} agents × about {per_agent} bytes"),
            memory_field: format!("{path}.agents"),
            // One quote_groups row per group and tick, about 60 bytes compressed.
            output_bytes: groups
                .saturating_mul(u64::from(scenario.steps))
                .saturating_mul(60),
            output_detail: format!(
                "{groups} groups × {} ticks of quote_groups rows",
                scenario.steps
            ),
            output_field: "steps".into(),
        }
    }

    fn population(&self) -> Vec<(&'static str, u64)> {
        vec![("quoting_agents", self.agent_count())]
    }

    fn accounting_residual(&self, world: &mut World) -> f64 {
        let mut query = world.query::<&QuoteAgent>();
        // Cash and units at the mid sum to zero when every fill is booked on both sides;
        // units one side gained without the other losing them are a penalty of their
        // own, never netted against a cash shortfall.
        let (mut total, mut gross, mut mismatch) = (0.0, 0.0, 0.0);
        for agent in query.iter(world) {
            let o = agent.env.observation();
            // After an episode's end the environment still shows its final state, whose
            // wealth is already banked and whose units are already taken over.
            let (cash, q) = if agent.finished {
                (0.0, 0)
            } else {
                (o.cash, o.inventory)
            };
            // Agent: banked wealth, this episode's cash and units at the mid. Outside:
            // its cash from the fills' prices and its units at the mid. A unit that one
            // side gained without the other losing it shows as |q + units|·s.
            let agent_side = agent.banked_cash + cash + q as f64 * o.mid;
            let units = if agent.finished {
                0
            } else {
                agent.outside_units
            };
            let outside = agent.outside_cash + units as f64 * o.mid;
            let unmatched = ((q + units).unsigned_abs() + agent.unit_mismatch) as f64 * o.mid.abs();
            total += agent_side + outside;
            mismatch += unmatched;
            gross += agent_side.abs() + outside.abs();
        }
        if gross > 0.0 {
            (total.abs() + mismatch) / gross
        } else {
            0.0
        }
    }
}
