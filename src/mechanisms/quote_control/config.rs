//! The `QuoteControl(...)` entry of a scenario: groups of quoting agents, each agent in
//! its own copy of the environment, stepped one environment step a tick.

use serde::{Deserialize, Serialize};

use super::market_making::MarketMakingConfig;
use super::policies::{
    AvellanedaStoikov, Centre, EpsilonGreedy, FixedSpread, QuotePolicy, RandomWalk,
};
use crate::scenario::{Checker, Range};

/// The most agents one `QuoteControl` may hold (each is an environment, a policy and its
/// running statistics, about half a kilobyte).
pub const MAX_AGENTS: u64 = 50_000_000;

/// A quote-control mechanism in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteControlConfig {
    /// The environment every agent quotes in (its own copy, its own paths). Its `dt` is
    /// one tick of the run; an agent whose episode reaches the horizon starts the next
    /// one. Default: the Avellaneda–Stoikov setting.
    #[serde(default)]
    pub env: MarketMakingConfig,
    /// The agents, by group. At least one group, each of at least one agent.
    pub agents: Vec<AgentGroup>,
}

/// Agents that share a policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    /// The group's name in tables; unique, not empty.
    pub name: String,
    /// How many agents. Must be ≥ 1.
    pub count: u32,
    /// What each one quotes.
    pub policy: PolicyConfig,
}

/// A policy and its parameters (`docs/quote_control.md` has the formulas).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PolicyConfig {
    /// Avellaneda–Stoikov inventory strategy of risk aversion γ ≥ 0.
    Inventory(f64),
    /// Avellaneda–Stoikov symmetric strategy of risk aversion γ ≥ 0.
    Symmetric(f64),
    /// A constant half-spread around the mid.
    Fixed(f64),
    /// A half-spread random walk.
    RandomWalk {
        /// Starting half-spread.
        start: f64,
        /// Move per step, ≥ 0.
        step: f64,
        /// Lower bound.
        min: f64,
        /// Upper bound, ≥ min.
        max: f64,
    },
    /// ε-greedy over half-spreads.
    EpsilonGreedy {
        /// The half-spreads, at least one.
        arms: Vec<f64>,
        /// Exploration probability in [0, 1].
        epsilon: f64,
    },
}

impl PolicyConfig {
    /// The policy's name, as `compare` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Inventory(_) => "inventory",
            Self::Symmetric(_) => "symmetric",
            Self::Fixed(_) => "fixed",
            Self::RandomWalk { .. } => "random",
            Self::EpsilonGreedy { .. } => "epsilon-greedy",
        }
    }

    /// A fresh policy for an environment of `env`.
    pub fn build(&self, env: &MarketMakingConfig) -> Box<dyn QuotePolicy> {
        match self {
            Self::Inventory(gamma) => Box::new(AvellanedaStoikov::new(
                *gamma,
                env.sigma,
                env.k,
                Centre::Reservation,
            )),
            Self::Symmetric(gamma) => Box::new(AvellanedaStoikov::new(
                *gamma,
                env.sigma,
                env.k,
                Centre::Mid,
            )),
            Self::Fixed(half_spread) => Box::new(FixedSpread {
                half_spread: *half_spread,
            }),
            Self::RandomWalk {
                start,
                step,
                min,
                max,
            } => Box::new(RandomWalk {
                half_spread: *start,
                step: *step,
                min: *min,
                max: *max,
            }),
            Self::EpsilonGreedy { arms, epsilon } => {
                Box::new(EpsilonGreedy::new(arms.clone(), *epsilon))
            }
        }
    }

    fn validate(&self, path: &str, checker: &mut Checker) {
        match self {
            Self::Inventory(gamma) | Self::Symmetric(gamma) => {
                checker.number(path, *gamma, Range::NonNegative);
            }
            Self::Fixed(half) => checker.number(path, *half, Range::Finite),
            Self::RandomWalk {
                start,
                step,
                min,
                max,
            } => {
                checker.number(format!("{path}.start"), *start, Range::Finite);
                checker.number(format!("{path}.step"), *step, Range::NonNegative);
                checker.number(format!("{path}.min"), *min, Range::Finite);
                checker.number(format!("{path}.max"), *max, Range::Finite);
                if min > max {
                    checker.fail(
                        format!("{path}.max"),
                        format!("must be ≥ min ({min}), got {max}"),
                    );
                }
            }
            Self::EpsilonGreedy { arms, epsilon } => {
                if arms.is_empty() {
                    checker.fail(format!("{path}.arms"), "give at least one half-spread");
                }
                for (i, arm) in arms.iter().enumerate() {
                    checker.number(format!("{path}.arms[{i}]"), *arm, Range::Finite);
                }
                checker.number(format!("{path}.epsilon"), *epsilon, Range::Probability);
            }
        }
    }
}

impl QuoteControlConfig {
    /// Agents in all groups.
    pub fn agent_count(&self) -> u64 {
        self.agents.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Checks every field, with paths under `path`.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        self.env.validate(&format!("{path}.env"), checker);
        if self.agents.is_empty() {
            checker.fail(
                format!("{path}.agents"),
                "give at least one group of agents",
            );
        }
        for (i, group) in self.agents.iter().enumerate() {
            let at = format!("{path}.agents[{i}]");
            checker.unique_name(
                format!("{at}.name"),
                &group.name,
                self.agents[..i].iter().map(|g| g.name.as_str()),
                "groups",
            );
            checker.at_least_one(format!("{at}.count"), u64::from(group.count), "agent");
            group.policy.validate(&format!("{at}.policy"), checker);
        }
        checker.at_most(
            format!("{path}.agents"),
            self.agent_count(),
            MAX_AGENTS,
            "agents in one QuoteControl",
        );
    }
}
