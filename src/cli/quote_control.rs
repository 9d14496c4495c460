//! `dealersim compare` and `dealersim rollout`: quote-control policies on a preset.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dealersim::experiments::Progress;
use dealersim::mechanisms::quote_control::experiments::Preset;
use dealersim::mechanisms::quote_control::experiments::{
    EnvConfig, QuoteControlError, compare, compare_jobs, load_preset, rollouts, write_compare,
    write_rollouts,
};
use dealersim::mechanisms::quote_control::retail_compare::{
    compare_retail, retail_rollouts, write_retail_compare,
};

use super::super::{EXIT_BAD_SCENARIO, EXIT_RUN_FAILED, EXIT_USAGE, Signals, progress_bar};

fn failure(error: &QuoteControlError) -> ExitCode {
    errln!("error: {error}");
    ExitCode::from(match error {
        QuoteControlError::Unknown(_)
        | QuoteControlError::Io { .. }
        | QuoteControlError::Invalid { .. } => EXIT_BAD_SCENARIO,
        QuoteControlError::UnknownPolicy(..) | QuoteControlError::Unsupported(_) => EXIT_USAGE,
        _ => EXIT_RUN_FAILED,
    })
}

/// Compares `policies` (comma-separated) on `seeds` paths each, writing the table, the
/// figure and the summary to `out`.
pub fn compare_policies(
    preset: &str,
    policies: Option<&str>,
    seeds: u32,
    out: Option<PathBuf>,
    quiet: bool,
) -> ExitCode {
    let preset = match load_preset(preset) {
        Ok(preset) => preset,
        Err(error) => return failure(&error),
    };
    let policies = policies.unwrap_or(match preset.env {
        EnvConfig::Retail(_) => "fixed,cost-plus,random,epsilon-greedy",
        EnvConfig::MarketMaking(_) => "inventory,symmetric",
    });
    let names: Vec<String> = policies
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        errln!("error: --policies names no policy");
        return ExitCode::from(EXIT_USAGE);
    }
    let out = out.unwrap_or_else(|| Path::new("out").join("compare").join(&preset.name));
    let retail = matches!(preset.env, EnvConfig::Retail(_));
    let jobs = if retail {
        names.len() as u64
    } else {
        compare_jobs(&preset, &names)
    };
    let bar = progress_bar(jobs * u64::from(seeds), quiet, "path");
    let signals = Signals::install();
    let report = |done| bar.set_position(done);
    let progress = Progress::new(&report).with_stop(&signals.stop);
    let written = if retail {
        compare_retail(&preset, &names, seeds, &progress)
            .and_then(|rows| write_retail_compare(&preset, &rows, &out))
    } else {
        compare(&preset, &names, seeds, &progress)
            .and_then(|rows| write_compare(&preset, &rows, &out))
    };
    bar.finish_and_clear();
    if let Err(QuoteControlError::Interrupted) = written {
        errln!("interrupted: nothing was written to {}", out.display());
        return ExitCode::from(signals.exit_status());
    }
    match written {
        Ok(files) => {
            if !quiet {
                if let Ok(summary) = std::fs::read_to_string(out.join("summary.md")) {
                    outln!("{summary}");
                }
                outln!("wrote {} files to {}", files.len(), out.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("nothing was written to {}", out.display());
            failure(&error)
        }
    }
}

/// Runs one policy on `seeds` paths and prints each episode (and writes them to `out`).
pub fn rollout_policy(
    preset: &str,
    policy: &str,
    gamma: Option<f64>,
    seeds: u32,
    out: Option<PathBuf>,
    quiet: bool,
) -> ExitCode {
    let preset = match load_preset(preset) {
        Ok(preset) => preset,
        Err(error) => return failure(&error),
    };
    if matches!(preset.env, EnvConfig::Retail(_)) {
        return retail_rollout(&preset, policy, seeds, out, quiet);
    }
    let gamma = gamma.unwrap_or(preset.gammas[0]);
    if !(gamma.is_finite() && gamma >= 0.0) {
        errln!("error: --gamma must be a finite number ≥ 0, got {gamma}");
        return ExitCode::from(EXIT_USAGE);
    }
    let rows = match rollouts(&preset, policy, gamma, seeds) {
        Ok(rows) => rows,
        Err(error) => return failure(&error),
    };
    if !quiet {
        outln!("path  profit     q_T  fills  spread  reward");
        for r in &rows {
            outln!(
                "{:>4}  {:>8.2}  {:>4}  {:>5}  {:>6.3}  {:>8.2}",
                r.path,
                r.profit,
                r.final_inventory,
                r.fills,
                r.mean_spread,
                r.reward
            );
        }
        let n = rows.len().max(1) as f64;
        outln!(
            "mean  {:>8.2}  {:>4.1}  {:>5.1}  {:>6.3}  {:>8.2}",
            rows.iter().map(|r| r.profit).sum::<f64>() / n,
            rows.iter().map(|r| r.final_inventory as f64).sum::<f64>() / n,
            rows.iter().map(|r| f64::from(r.fills)).sum::<f64>() / n,
            rows.iter().map(|r| r.mean_spread).sum::<f64>() / n,
            rows.iter().map(|r| r.reward).sum::<f64>() / n,
        );
    }
    write_episodes(&rows, out, quiet)
}

/// `rollout` on a retail preset: each episode's profit, price, sales and lost demand.
fn retail_rollout(
    preset: &Preset,
    policy: &str,
    seeds: u32,
    out: Option<PathBuf>,
    quiet: bool,
) -> ExitCode {
    let rows = match retail_rollouts(preset, policy, seeds) {
        Ok(rows) => rows,
        Err(error) => return failure(&error),
    };
    if !quiet {
        outln!("path     profit   price  sales  lost  war");
        for r in &rows {
            outln!(
                "{:>4}  {:>9.1}  {:>6.2}  {:>5}  {:>4}  {:>3}",
                r.path,
                r.profit,
                r.price_mean,
                r.sales,
                r.lost,
                r.war_steps
            );
        }
        let n = rows.len().max(1) as f64;
        outln!(
            "mean  {:>9.1}  {:>6.2}  {:>5.0}  {:>4.0}  {:>3.0}",
            rows.iter().map(|r| r.profit).sum::<f64>() / n,
            rows.iter().map(|r| r.price_mean).sum::<f64>() / n,
            rows.iter().map(|r| r.sales as f64).sum::<f64>() / n,
            rows.iter().map(|r| r.lost as f64).sum::<f64>() / n,
            rows.iter().map(|r| f64::from(r.war_steps)).sum::<f64>() / n,
        );
    }
    write_episodes(&rows, out, quiet)
}

/// With `--out`, the episodes' table into that directory (all or nothing).
fn write_episodes<R: dealersim::output::row::TableRow>(
    rows: &[R],
    out: Option<PathBuf>,
    quiet: bool,
) -> ExitCode {
    let Some(out) = out else {
        return ExitCode::SUCCESS;
    };
    match write_rollouts(rows, &out) {
        Ok(files) => {
            if !quiet {
                for file in files {
                    outln!("wrote {}", file.display());
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("nothing was written to {}", out.display());
            failure(&error)
        }
    }
}
