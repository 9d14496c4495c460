//! The quote-control environment (SPEC §4, seed 001): a policy posts quotes, an execution
//! model decides fills, and an objective turns the result into a reward, with a Gym-like
//! `reset`/`step` API and batches of environments stepped in parallel.
//!
//! This first part holds the market-making setting of Avellaneda & Stoikov (2008):
//! - [`market_making`]: the environment (mid processes, A·e^{−kδ} fills, inventory limits,
//!   the composite objective), [`VecEnv`](market_making::VecEnv);
//! - [`policies`]: the Avellaneda–Stoikov closed forms and strategies, and baselines;
//! - [`hawkes`]: exponential-kernel Hawkes arrivals, simulated exactly and binned;
//! - [`experiments`]: presets, `rollout` and `compare`;
//! - [`ope`]: off-policy evaluation (IPS, SNIPS, effective sample size) from logged
//!   propensities.
//!
//! In a scenario, `QuoteControl(...)` ([`config`]) runs groups of agents in the tick
//! ([`mechanism`]): each agent an entity with its own environment and policy, quoting in
//! Pricing and stepped in Matching. `docs/quote_control.md` says what is still to come.

pub mod config;
pub mod experiments;
pub mod hawkes;
pub mod market_making;
pub mod mechanism;
pub mod ope;
pub mod policies;
pub mod retail;
pub mod retail_compare;
