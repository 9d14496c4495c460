//! `compare` on a retail preset: each pricing policy on the same paths (common random
//! numbers), reduced to a table, a figure and a summary.

use std::path::Path;

use rayon::prelude::*;

use super::experiments::{EnvConfig, Preset, QuoteControlError, RETAIL_POLICY_NAMES};
use super::retail::{
    CostPlus, EpsilonGreedyPrice, FixedPrice, PricePolicy, RandomWalkPrice, RetailConfig, RetailEnv,
};
use crate::experiments::{Progress, mean_sd};
use crate::plot::{Figure, Panel, Point, Scale, Series};

/// How to build a retail pricing policy from the preset's baselines.
type PriceMaker = fn(&super::experiments::Baselines) -> Box<dyn PricePolicy>;

/// The builder of a retail pricing policy by name: checked once, then called per path.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`].
fn price_maker(name: &str) -> Result<PriceMaker, QuoteControlError> {
    Ok(match name {
        "fixed" => |b| Box::new(FixedPrice(b.fixed_price)),
        "cost-plus" => |b| Box::new(CostPlus(b.markup)),
        "random" => |b| Box::new(RandomWalkPrice(b.price_step)),
        "epsilon-greedy" => |b| Box::new(EpsilonGreedyPrice::new(b.price_arms.clone(), b.epsilon)),
        other => {
            return Err(QuoteControlError::UnknownPolicy(
                other.to_owned(),
                RETAIL_POLICY_NAMES.join(", "),
            ));
        }
    })
}

/// A retail pricing policy by name.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`].
pub fn price_policy(
    name: &str,
    preset: &Preset,
) -> Result<Box<dyn PricePolicy>, QuoteControlError> {
    Ok(price_maker(name)?(&preset.baselines))
}

crate::table_row! {
    /// One row per policy of a retail comparison.
    pub struct RetailCompareRow in "retail_compare" {
        strategy: String => "policy name",
        profit_mean: f64 => "mean episode profit (revenue − cost of goods − holding − shortage)",
        profit_sd: f64 => "sample standard deviation of the episode profit",
        profit_ci95: f64 => "half-width of the 95% confidence interval of profit_mean, 1.96·sd/√paths",
        price_mean: f64 => "the charged price averaged over steps and paths",
        sales_mean: f64 => "mean units sold per episode",
        lost_mean: f64 => "mean units of demand lost to empty shelves per episode",
        war_share: f64 => "share of steps the competitor spent in a price war",
        constrained_share: f64 => "share of steps whose wanted price the constraints changed",
        scrapers_mean: f64 => "mean scraper sessions per episode",
        paths: u32 => "paths run",
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct RetailEpisode {
    profit: f64,
    price_sum: f64,
    sales: u64,
    lost: u64,
    war_steps: u32,
    constrained_steps: u32,
    scrapers: u64,
}

fn episode(
    config: &RetailConfig,
    policy: &mut dyn PricePolicy,
    seed: u64,
    path: u64,
) -> RetailEpisode {
    let mut env = RetailEnv::new(config.clone());
    let mut observation = env.reset_path(seed, path);
    let mut rng = crate::rng::policy_stream(seed, path);
    let mut e = RetailEpisode::default();
    loop {
        let wanted = policy.price(&observation, &mut rng);
        let step = env.step(wanted);
        policy.observe(&step);
        e.price_sum += step.price;
        e.sales += u64::from(step.observation.sales);
        e.lost += u64::from(step.lost);
        e.war_steps += u32::from(step.observation.war);
        e.constrained_steps += u32::from(step.constrained);
        e.scrapers += u64::from(step.scrapers);
        e.profit = step.observation.profit;
        observation = step.observation;
        if step.terminated {
            return e;
        }
    }
}

/// Runs each of `names` on paths 0..`paths` of the preset's seed, in parallel over paths.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`] (before anything runs),
/// [`QuoteControlError::Unsupported`] for a market-making preset, or
/// [`QuoteControlError::Interrupted`].
pub fn compare_retail(
    preset: &Preset,
    names: &[String],
    paths: u32,
    progress: &Progress<'_>,
) -> Result<Vec<RetailCompareRow>, QuoteControlError> {
    let EnvConfig::Retail(config) = &preset.env else {
        return Err(QuoteControlError::Unsupported(format!(
            "preset `{}` is not a retail preset",
            preset.name
        )));
    };
    let makers = names
        .iter()
        .map(|name| price_maker(name))
        .collect::<Result<Vec<_>, _>>()?;
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut rows = Vec::new();
    for (name, make) in names.iter().zip(makers) {
        if progress.stopped() {
            return Err(QuoteControlError::Interrupted);
        }
        let episodes: Vec<RetailEpisode> = (0..paths)
            .into_par_iter()
            .map(|p| {
                let mut policy = make(&preset.baselines);
                let e = episode(config, policy.as_mut(), preset.seed, u64::from(p));
                progress.done(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                e
            })
            .collect();
        let steps = f64::from(config.steps);
        let column =
            |f: &dyn Fn(&RetailEpisode) -> f64| episodes.iter().map(f).collect::<Vec<f64>>();
        let (profit_mean, profit_sd, profit_se, _) = mean_sd(&column(&|e| e.profit));
        let mean = |f: &dyn Fn(&RetailEpisode) -> f64| mean_sd(&column(f)).0;
        rows.push(RetailCompareRow {
            strategy: name.clone(),
            profit_mean,
            profit_sd,
            profit_ci95: 1.96 * profit_se,
            price_mean: mean(&|e| e.price_sum / steps),
            sales_mean: mean(&|e| e.sales as f64),
            lost_mean: mean(&|e| e.lost as f64),
            war_share: mean(&|e| f64::from(e.war_steps) / steps),
            constrained_share: mean(&|e| f64::from(e.constrained_steps) / steps),
            scrapers_mean: mean(&|e| e.scrapers as f64),
            paths,
        });
    }
    Ok(rows)
}

/// Writes a retail comparison's `retail_compare.parquet` (and `.csv`), `figure.svg`,
/// `figure.png` and `summary.md` into `out`, all or nothing.
///
/// # Errors
/// [`QuoteControlError::Output`] or [`QuoteControlError::Figure`].
pub fn write_retail_compare(
    preset: &Preset,
    rows: &[RetailCompareRow],
    out: &Path,
) -> Result<Vec<std::path::PathBuf>, QuoteControlError> {
    let figure = Figure {
        title: format!(
            "{}: profit and price by policy over {} paths",
            preset.name,
            rows.first().map_or(0, |r| r.paths)
        ),
        panels: vec![
            Panel {
                title: "episode profit (mean ± sd)".into(),
                x_label: "mean price charged".into(),
                y_label: "profit".into(),
                x_scale: Scale::Linear,
                series: rows
                    .iter()
                    .map(|r| Series {
                        name: r.strategy.clone(),
                        points: vec![Point::with_error(r.price_mean, r.profit_mean, r.profit_sd)],
                    })
                    .collect(),
                y_range: None,
            },
            Panel {
                title: "price war".into(),
                x_label: "mean price charged".into(),
                y_label: "share of steps at war".into(),
                x_scale: Scale::Linear,
                series: rows
                    .iter()
                    .map(|r| Series {
                        name: r.strategy.clone(),
                        points: vec![Point::new(r.price_mean, r.war_share)],
                    })
                    .collect(),
                y_range: Some((0.0, 1.0)),
            },
        ],
    };
    let mut summary = format!("# {}\n\n{}\n\n", preset.name, preset.description);
    summary.push_str(
            "| strategy | profit mean ± 95% CI | profit sd | price | sales | lost | war | constrained |\n",
        );
    summary.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        summary.push_str(&format!(
            "| {} | {:.1} ± {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.0}% | {:.0}% |\n",
            r.strategy,
            r.profit_mean,
            r.profit_ci95,
            r.profit_sd,
            r.price_mean,
            r.sales_mean,
            r.lost_mean,
            100.0 * r.war_share,
            100.0 * r.constrained_share
        ));
    }
    summary.push_str("\nEvery policy ran on the same paths (common random numbers).\n");
    super::experiments::write_comparison(rows, &figure, &summary, out)
}

crate::table_row! {
    /// One row per episode of a retail rollout.
    pub struct RetailEpisodeRow in "retail_episodes" {
        path: u64 => "path number (the episode's stream under the preset's seed)",
        strategy: String => "policy name",
        profit: f64 => "episode profit",
        price_mean: f64 => "the charged price averaged over the steps",
        sales: u64 => "units sold",
        lost: u64 => "units of demand lost to empty shelves",
        war_steps: u32 => "steps the competitor spent in a price war",
        constrained_steps: u32 => "steps whose wanted price the constraints changed",
        scrapers: u64 => "scraper sessions",
    }
}

/// Runs `name` on paths 0..`paths` of a retail preset's seed, in parallel.
///
/// # Errors
/// [`QuoteControlError::UnknownPolicy`], or [`QuoteControlError::Unsupported`] for a
/// market-making preset.
pub fn retail_rollouts(
    preset: &Preset,
    name: &str,
    paths: u32,
) -> Result<Vec<RetailEpisodeRow>, QuoteControlError> {
    let EnvConfig::Retail(config) = &preset.env else {
        return Err(QuoteControlError::Unsupported(format!(
            "preset `{}` is not a retail preset",
            preset.name
        )));
    };
    let make = price_maker(name)?;
    let steps = f64::from(config.steps);
    Ok((0..paths)
        .into_par_iter()
        .map(|p| {
            let mut policy = make(&preset.baselines);
            let e = episode(config, policy.as_mut(), preset.seed, u64::from(p));
            RetailEpisodeRow {
                path: u64::from(p),
                strategy: name.to_owned(),
                profit: e.profit,
                price_mean: e.price_sum / steps,
                sales: e.sales,
                lost: e.lost,
                war_steps: e.war_steps,
                constrained_steps: e.constrained_steps,
                scrapers: e.scrapers,
            }
        })
        .collect())
}
