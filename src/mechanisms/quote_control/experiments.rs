//! Quote-control experiments: presets (RON), `rollout` of one policy over seeds, and
//! `compare` of policies across many paths with a table, a figure and a summary.
//!
//! Path p of a comparison draws the environment's stream `(seed, QuoteControl, p)` and
//! the policy's own stream `(seed, QuoteControl, 2⁶³ + p)`, whatever the policy, so all
//! policies face the same price paths and fill draws (common random numbers), and paths
//! run in parallel with results collected in path order.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::PolicyConfig;
use super::market_making::{Episode, MarketMakingConfig, MarketMakingEnv};
use super::policies::{QuotePolicy, spread_constant};
use super::retail::RetailConfig;
use crate::experiments::{Progress, mean_sd};
use crate::output::table::{OutputError, StagedOutput, TableFormat};
use crate::plot::{Figure, Panel, Point, Scale, Series};
use crate::rng::Stream;
use crate::scenario::load::{parse_ron, read_input};
use crate::scenario::locate::{FieldLocations, SourcePosition};
use crate::scenario::{Checker, Range};

/// The presets bundled with the binary: name and text.
pub const BUNDLED_PRESETS: &[(&str, &str)] = &[
    (
        "avellaneda-stoikov",
        include_str!("../../../scenarios/quote_control/avellaneda_stoikov.ron"),
    ),
    (
        "retail-pricing",
        include_str!("../../../scenarios/quote_control/retail_pricing.ron"),
    ),
];

/// Every policy name `compare` and `rollout` accept for a market-making preset.
pub const POLICY_NAMES: &[&str] = &[
    "inventory",
    "symmetric",
    "fixed",
    "random",
    "epsilon-greedy",
];

/// Every policy name `compare` accepts for a retail preset.
pub const RETAIL_POLICY_NAMES: &[&str] = &["fixed", "cost-plus", "random", "epsilon-greedy"];

/// A quote-control preset (`QuoteControlPreset(...)` in RON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "QuoteControlPreset")]
pub struct Preset {
    /// Short name, used for the default output directory.
    pub name: String,
    /// One line on what it is for. Default: "".
    #[serde(default)]
    pub description: String,
    /// Seed of every path's streams. Default: 1.
    #[serde(default = "one")]
    pub seed: u64,
    /// The environment.
    pub env: EnvConfig,
    /// Risk aversions γ at which the Avellaneda–Stoikov policies run (a row each).
    /// Default: [0.1].
    #[serde(default = "default_gammas")]
    pub gammas: Vec<f64>,
    /// The baselines' parameters.
    #[serde(default)]
    pub baselines: Baselines,
}

fn one() -> u64 {
    1
}

fn default_gammas() -> Vec<f64> {
    vec![0.1]
}

/// The environment of a preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EnvConfig {
    /// Two-sided quoting around a mid (Avellaneda–Stoikov).
    MarketMaking(MarketMakingConfig),
    /// One posted price against a reactive competitor (retail dynamic pricing).
    Retail(RetailConfig),
}

/// Parameters of the baseline policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Baselines {
    /// `fixed`: the half-spread. Default: 0.645 (half the γ = 0.1 constant spread).
    pub fixed_half_spread: f64,
    /// `random`: start, step, min and max of the half-spread. Default: 0.645, 0.05,
    /// 0.1, 2.0.
    pub random_walk: (f64, f64, f64, f64),
    /// `epsilon-greedy`: the half-spreads it chooses among. Default: 0.25 to 1.5.
    pub arms: Vec<f64>,
    /// `epsilon-greedy`: ε. Default: 0.1.
    pub epsilon: f64,
    /// Retail `fixed`: the price. Default: 15.
    pub fixed_price: f64,
    /// Retail `cost-plus`: the markup on cost. Default: 0.4.
    pub markup: f64,
    /// Retail `random`: the relative step of the price walk. Default: 0.05.
    pub price_step: f64,
    /// Retail `epsilon-greedy`: the prices it chooses among. Default: 11 to 20.
    pub price_arms: Vec<f64>,
}

impl Default for Baselines {
    fn default() -> Self {
        Self {
            fixed_half_spread: 0.645,
            random_walk: (0.645, 0.05, 0.1, 2.0),
            arms: vec![0.25, 0.5, 0.75, 1.0, 1.25, 1.5],
            epsilon: 0.1,
            fixed_price: 15.0,
            markup: 0.4,
            price_step: 0.05,
            price_arms: vec![11.0, 12.5, 14.0, 15.5, 17.0, 18.5, 20.0],
        }
    }
}

/// Why a preset could not be loaded, or a comparison run or written.
#[derive(Debug, thiserror::Error)]
pub enum QuoteControlError {
    /// Neither a bundled name nor a readable file.
    #[error("no preset `{0}`: use {names} or the path of a preset file", names = BUNDLED_PRESETS.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read preset `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Malformed RON or values out of range, each located.
    #[error("invalid preset `{path}`:{}", problems.iter().map(|(p, pos)| match pos { Some(pos) => format!("\n  --> {path}:{}:{}  {p}", pos.line, pos.column), None => format!("\n  --> {path}  {p}") }).collect::<String>())]
    Invalid {
        /// The file.
        path: String,
        /// Every problem, with where it is written.
        problems: Vec<(String, Option<SourcePosition>)>,
    },
    /// A policy name the preset's environment has no policy of.
    #[error("unknown policy `{0}` for this preset: use {1}")]
    UnknownPolicy(String, String),
    /// A command the preset's environment does not support.
    #[error("{0}")]
    Unsupported(String),
    /// Stopped by a signal; nothing was written.
    #[error("interrupted before every path ran")]
    Interrupted,
    /// Writing failed; nothing partial was left.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Drawing the figure failed.
    #[error("cannot draw the figure: {0}")]
    Figure(#[from] crate::plot::FigureError),
}

/// Loads a bundled preset by name, or a preset file by path, checked.
///
/// # Errors
/// [`QuoteControlError`] naming the file, line and column of every problem.
pub fn load_preset(name_or_path: &str) -> Result<Preset, QuoteControlError> {
    if let Some((name, text)) = BUNDLED_PRESETS.iter().find(|(n, _)| *n == name_or_path) {
        let label = format!("scenarios/quote_control/{}.ron", name.replace('-', "_"));
        return parse_preset(text, &label);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(QuoteControlError::Unknown(name_or_path.to_owned()));
    }
    let text = read_input(path).map_err(|source| QuoteControlError::Io {
        path: name_or_path.to_owned(),
        source,
    })?;
    parse_preset(&text, name_or_path)
}

/// Parses and checks a preset's text (`label` names it in errors).
///
/// # Errors
/// As [`load_preset`].
pub fn parse_preset(text: &str, label: &str) -> Result<Preset, QuoteControlError> {
    let preset: Preset = parse_ron(text).map_err(|f| QuoteControlError::Invalid {
        path: label.to_owned(),
        problems: vec![(
            if f.field_path.is_empty() {
                f.message
            } else {
                format!("{}: {}", f.field_path, f.message)
            },
            Some(f.position),
        )],
    })?;
    let mut checker = Checker::default();
    match &preset.env {
        EnvConfig::MarketMaking(env) => env.validate("env", &mut checker),
        EnvConfig::Retail(env) => env.validate("env", &mut checker),
    }
    if preset.gammas.is_empty() {
        checker.fail("gammas", "give at least one γ");
    }
    for (i, &gamma) in preset.gammas.iter().enumerate() {
        checker.number(format!("gammas[{i}]"), gamma, Range::NonNegative);
    }
    let b = &preset.baselines;
    checker.number(
        "baselines.fixed_half_spread",
        b.fixed_half_spread,
        Range::Finite,
    );
    let (start, step, min, max) = b.random_walk;
    for (i, v) in [start, step, min, max].into_iter().enumerate() {
        checker.number(format!("baselines.random_walk[{i}]"), v, Range::Finite);
    }
    if min > max {
        checker.fail(
            "baselines.random_walk",
            format!("min {min} is above max {max}"),
        );
    }
    if b.arms.is_empty() {
        checker.fail("baselines.arms", "give at least one half-spread");
    }
    for (i, &arm) in b.arms.iter().enumerate() {
        checker.number(format!("baselines.arms[{i}]"), arm, Range::Finite);
    }
    checker.number("baselines.epsilon", b.epsilon, Range::Probability);
    checker.number("baselines.fixed_price", b.fixed_price, Range::Finite);
    checker.number("baselines.markup", b.markup, Range::Finite);
    checker.number("baselines.price_step", b.price_step, Range::Probability);
    if b.price_arms.is_empty() {
        checker.fail("baselines.price_arms", "give at least one price");
    }
    for (i, &arm) in b.price_arms.iter().enumerate() {
        checker.number(format!("baselines.price_arms[{i}]"), arm, Range::Finite);
    }
    let problems = checker.into_problems();
    if problems.is_empty() {
        return Ok(preset);
    }
    let locations = FieldLocations::scan(text);
    Err(QuoteControlError::Invalid {
        path: label.to_owned(),
        problems: problems
            .into_iter()
            .map(|p| {
                let position = locations.nearest(&p.path).map(|(pos, _)| pos);
                (p.to_string(), position)
            })
            .collect(),
    })
}

/// The preset's market-making environment.
///
/// # Errors
/// [`QuoteControlError::Unsupported`] for a retail preset.
pub fn market_making(preset: &Preset) -> Result<&MarketMakingConfig, QuoteControlError> {
    match &preset.env {
        EnvConfig::MarketMaking(config) => Ok(config),
        EnvConfig::Retail(_) => Err(QuoteControlError::Unsupported(format!(
            "preset `{}` is a retail preset: its policies are the retail ones (`compare`, `rollout` with {})",
            preset.name,
            RETAIL_POLICY_NAMES.join(", ")
        ))),
    }
}

/// The recipe of a market-making policy by name, at risk aversion `gamma` (for those
/// that have one), with the preset's baselines: checked once, then built per path.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`].
pub fn policy_config(
    name: &str,
    gamma: f64,
    preset: &Preset,
) -> Result<PolicyConfig, QuoteControlError> {
    let b = &preset.baselines;
    Ok(match name {
        "inventory" => PolicyConfig::Inventory(gamma),
        "symmetric" => PolicyConfig::Symmetric(gamma),
        "fixed" => PolicyConfig::Fixed(b.fixed_half_spread),
        "random" => {
            let (start, step, min, max) = b.random_walk;
            PolicyConfig::RandomWalk {
                start,
                step,
                min,
                max,
            }
        }
        "epsilon-greedy" => PolicyConfig::EpsilonGreedy {
            arms: b.arms.clone(),
            epsilon: b.epsilon,
        },
        other => {
            return Err(QuoteControlError::UnknownPolicy(
                other.to_owned(),
                POLICY_NAMES.join(", "),
            ));
        }
    })
}

/// A market-making policy by name, at risk aversion `gamma`, for the preset's environment.
///
/// # Errors
/// [`QuoteControlError::Unsupported`] for a retail preset, or
/// [`QuoteControlError::UnknownPolicy`].
pub fn policy(
    name: &str,
    gamma: f64,
    preset: &Preset,
) -> Result<Box<dyn QuotePolicy>, QuoteControlError> {
    let env = market_making(preset)?;
    Ok(policy_config(name, gamma, preset)?.build(env))
}

/// Whether the policy's quotes depend on γ (it gets a row per γ).
pub fn uses_gamma(name: &str) -> bool {
    matches!(name, "inventory" | "symmetric")
}

/// Runs `policy` for one episode on path `path` of `seed`.
pub fn rollout(
    env: &mut MarketMakingEnv,
    policy: &mut dyn QuotePolicy,
    seed: u64,
    path: u64,
) -> Episode {
    let mut observation = env.reset_path(seed, path);
    let mut rng: Stream = crate::rng::policy_stream(seed, path);
    let mut episode = Episode::default();
    loop {
        let quotes = policy.quote(&observation, &mut rng);
        let step = env.step(quotes);
        policy.observe(&quotes, &step);
        episode.record(&quotes, &step);
        observation = step.observation;
        if step.terminated || step.truncated {
            return episode.finish(env.steps());
        }
    }
}

crate::table_row! {
    /// One row per (γ, policy) of a comparison.
    pub struct CompareRow in "compare" {
        gamma: f64 => "risk aversion γ of the policy (NaN for policies without one)",
        strategy: String => "policy name",
        spread: f64 => "the constant part of the Avellaneda–Stoikov spread, (2/γ)·ln(1 + γ/k), as the paper's tables report it; for other policies the mean quoted spread",
        spread_mean: f64 => "the quoted spread (ask − bid) averaged over steps and paths",
        profit_mean: f64 => "mean final wealth (cash + q·s_T)",
        profit_sd: f64 => "sample standard deviation of the final wealth",
        profit_ci95: f64 => "half-width of the 95% confidence interval of profit_mean, 1.96·sd/√paths",
        q_mean: f64 => "mean final inventory",
        q_sd: f64 => "sample standard deviation of the final inventory",
        fills_mean: f64 => "mean fills per path (both sides)",
        saturated: u64 => "steps×sides whose fill probability A·e^{−kδ}·dt was capped at 1",
        paths: u32 => "paths run",
    }
}

/// Runs each policy of `names` on `paths` paths (the Avellaneda–Stoikov ones at every
/// γ of the preset), in parallel over paths; `progress` hears paths done and may stop it.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`] (before anything runs) or
/// [`QuoteControlError::Interrupted`].
pub fn compare(
    preset: &Preset,
    names: &[String],
    paths: u32,
    progress: &Progress<'_>,
) -> Result<Vec<CompareRow>, QuoteControlError> {
    let config = market_making(preset)?;
    let mut jobs: Vec<(String, f64, PolicyConfig)> = Vec::new();
    for gamma in &preset.gammas {
        for name in names {
            let recipe = policy_config(name, *gamma, preset)?;
            if uses_gamma(name) {
                jobs.push((name.clone(), *gamma, recipe));
            }
        }
    }
    for name in names.iter().filter(|n| !uses_gamma(n)) {
        jobs.push((
            name.clone(),
            f64::NAN,
            policy_config(name, f64::NAN, preset)?,
        ));
    }
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut rows = Vec::new();
    for (name, gamma, recipe) in jobs {
        if progress.stopped() {
            return Err(QuoteControlError::Interrupted);
        }
        let episodes: Vec<Episode> = (0..paths)
            .into_par_iter()
            .map_init(
                || MarketMakingEnv::new(config.clone()),
                |env, p| {
                    let mut policy = recipe.build(config);
                    let episode = rollout(env, policy.as_mut(), preset.seed, u64::from(p));
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress.done(n);
                    episode
                },
            )
            .collect();
        let column = |f: fn(&Episode) -> f64| episodes.iter().map(f).collect::<Vec<f64>>();
        let (profit_mean, profit_sd, profit_se, _) = mean_sd(&column(|e| e.profit));
        let (q_mean, q_sd, _, _) = mean_sd(&column(|e| e.final_inventory as f64));
        let (spread_mean, _, _, _) = mean_sd(&column(|e| e.mean_spread));
        let (fills_mean, _, _, _) = mean_sd(&column(|e| f64::from(e.fills)));
        rows.push(CompareRow {
            spread: if uses_gamma(&name) {
                spread_constant(gamma, config.k)
            } else {
                spread_mean
            },
            gamma,
            strategy: name,
            spread_mean,
            profit_mean,
            profit_sd,
            profit_ci95: 1.96 * profit_se,
            q_mean,
            q_sd,
            fills_mean,
            saturated: episodes.iter().map(|e| u64::from(e.saturated)).sum(),
            paths,
        });
    }
    Ok(rows)
}

/// Paths a comparison runs in all: `paths` for each job.
pub fn compare_jobs(preset: &Preset, names: &[String]) -> u64 {
    let per_gamma = names.iter().filter(|n| uses_gamma(n)).count() * preset.gammas.len();
    (per_gamma + names.iter().filter(|n| !uses_gamma(n)).count()) as u64
}

/// Writes a comparison's `compare.parquet` (and `.csv`), `figure.svg`, `figure.png` and
/// `summary.md` into `out`, all or nothing.
///
/// # Errors
/// [`QuoteControlError::Output`] or [`QuoteControlError::Figure`].
pub fn write_compare(
    preset: &Preset,
    rows: &[CompareRow],
    out: &Path,
) -> Result<Vec<std::path::PathBuf>, QuoteControlError> {
    write_comparison(
        rows,
        &compare_figure(preset, rows),
        &compare_summary(preset, rows),
        out,
    )
}

/// Writes any comparison's table (Parquet and CSV), its figure (SVG and PNG) and its
/// `summary.md` into `out`, all or nothing: what every `compare` writes.
///
/// # Errors
/// [`QuoteControlError::Output`] or [`QuoteControlError::Figure`].
pub fn write_comparison<R: crate::output::row::TableRow>(
    rows: &[R],
    figure: &Figure,
    summary: &str,
    out: &Path,
) -> Result<Vec<std::path::PathBuf>, QuoteControlError> {
    crate::output::leave_nothing_on_error(out, || {
        let mut staged = StagedOutput::create(out)?;
        for format in [TableFormat::Parquet, TableFormat::Csv] {
            staged.add_rows(rows, format)?;
        }
        staged.add_file("figure.svg", figure.to_svg()?.as_bytes())?;
        staged.add_file("figure.png", &figure.to_png()?)?;
        staged.add_file("summary.md", summary.as_bytes())?;
        Ok(staged.commit()?)
    })
}

fn compare_figure(preset: &Preset, rows: &[CompareRow]) -> Figure {
    let strategies: Vec<&str> = {
        let mut s: Vec<&str> = rows
            .iter()
            .filter(|r| r.gamma.is_finite())
            .map(|r| r.strategy.as_str())
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let series = |value: fn(&CompareRow) -> (f64, Option<f64>)| -> Vec<Series> {
        strategies
            .iter()
            .map(|name| {
                let mut points: Vec<Point> = rows
                    .iter()
                    .filter(|r| r.strategy == *name && r.gamma > 0.0)
                    .map(|r| match value(r) {
                        (y, Some(e)) => Point::with_error(r.gamma, y, e),
                        (y, None) => Point::new(r.gamma, y),
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                Series {
                    name: (*name).to_owned(),
                    points,
                }
            })
            .collect()
    };
    Figure {
        title: format!(
            "{}: final profit and inventory over {} paths",
            preset.name,
            rows.first().map_or(0, |r| r.paths)
        ),
        panels: vec![
            Panel {
                title: "profit (mean ± sd)".into(),
                x_label: "risk aversion γ".into(),
                y_label: "final wealth".into(),
                x_scale: Scale::Log,
                series: series(|r| (r.profit_mean, Some(r.profit_sd))),
                y_range: None,
            },
            Panel {
                title: "final inventory (sd)".into(),
                x_label: "risk aversion γ".into(),
                y_label: "sd of q_T".into(),
                x_scale: Scale::Log,
                series: series(|r| (r.q_sd, None)),
                y_range: None,
            },
        ],
    }
}

fn compare_summary(preset: &Preset, rows: &[CompareRow]) -> String {
    let mut out = format!("# {}\n\n{}\n\n", preset.name, preset.description);
    out.push_str("| γ | strategy | spread | profit mean ± 95% CI | profit sd | q_T mean | q_T sd | fills | saturated |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} ± {:.2} | {:.2} | {:.3} | {:.2} | {:.1} | {} |\n",
            if r.gamma.is_finite() {
                format!("{}", r.gamma)
            } else {
                "–".into()
            },
            r.strategy,
            r.spread,
            r.profit_mean,
            r.profit_ci95,
            r.profit_sd,
            r.q_mean,
            r.q_sd,
            r.fills_mean,
            r.saturated
        ));
    }
    out.push_str(
        "\n`spread` is the constant part of the optimal spread, (2/γ)·ln(1 + γ/k), which is \
         what the paper's tables report (for its k = 1.5: 1.29, 1.33 and 1.15 at γ = 0.1, 0.01, 0.5); \
         `spread_mean` in the table is the spread actually quoted, averaged over steps and paths (for `inventory` it adds the time term γσ²(T − t)). Every policy \
         ran on the same paths (common random numbers).\n",
    );
    out
}

crate::table_row! {
    /// One row per episode of a rollout.
    pub struct EpisodeRow in "episodes" {
        path: u64 => "path number (the episode's stream under the preset's seed)",
        strategy: String => "policy name",
        gamma: f64 => "risk aversion γ of the policy (NaN for policies without one)",
        profit: f64 => "final wealth (cash + q·s_T)",
        final_inventory: i64 => "q at the horizon",
        mean_spread: f64 => "the quoted spread averaged over the steps",
        fills: u32 => "fills, both sides",
        saturated: u32 => "sides whose fill probability was capped at 1",
        censored: u32 => "fills refused by max_inventory",
        reward: f64 => "sum of the step rewards",
        reward_pnl: f64 => "sum of the pnl part",
        reward_inventory_risk: f64 => "sum of the inventory-risk part (before its weight)",
        reward_spread_capture: f64 => "sum of the spread-capture part (before its weight)",
        reward_holding: f64 => "sum of the holding part (before its weight)",
    }
}

/// Runs `name` at `gamma` on paths 0..`paths` of the preset's seed, in parallel.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`].
pub fn rollouts(
    preset: &Preset,
    name: &str,
    gamma: f64,
    paths: u32,
) -> Result<Vec<EpisodeRow>, QuoteControlError> {
    let config = market_making(preset)?;
    let recipe = policy_config(name, gamma, preset)?;
    let gamma = if uses_gamma(name) { gamma } else { f64::NAN };
    Ok((0..paths)
        .into_par_iter()
        .map_init(
            || MarketMakingEnv::new(config.clone()),
            |env, p| {
                let mut policy = recipe.build(config);
                let e = rollout(env, policy.as_mut(), preset.seed, u64::from(p));
                EpisodeRow {
                    path: u64::from(p),
                    strategy: name.to_owned(),
                    gamma,
                    profit: e.profit,
                    final_inventory: e.final_inventory,
                    mean_spread: e.mean_spread,
                    fills: e.fills,
                    saturated: e.saturated,
                    censored: e.censored,
                    reward: e.reward,
                    reward_pnl: e.parts.pnl,
                    reward_inventory_risk: e.parts.inventory_risk,
                    reward_spread_capture: e.parts.spread_capture,
                    reward_holding: e.parts.holding,
                }
            },
        )
        .collect())
}

/// Writes a rollout's episodes (`episodes.parquet`, or `retail_episodes.parquet`) into
/// `out`, all or nothing.
///
/// # Errors
/// [`QuoteControlError::Output`].
pub fn write_rollouts<R: crate::output::row::TableRow>(
    rows: &[R],
    out: &Path,
) -> Result<Vec<std::path::PathBuf>, QuoteControlError> {
    crate::output::leave_nothing_on_error(out, || {
        let mut staged = StagedOutput::create(out)?;
        staged.add_rows(rows, TableFormat::Parquet)?;
        Ok(staged.commit()?)
    })
}
