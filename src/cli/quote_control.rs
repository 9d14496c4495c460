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
        print_episodes(
            &rows,
            |r| r.path,
            &[
                ("profit", 8, 2, 2, |r| r.profit),
                ("q_T", 4, 0, 1, |r| r.final_inventory as f64),
                ("fills", 5, 0, 1, |r| f64::from(r.fills)),
                ("spread", 6, 3, 3, |r| r.mean_spread),
                ("reward", 8, 2, 2, |r| r.reward),
            ],
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
        print_episodes(
            &rows,
            |r| r.path,
            &[
                ("profit", 9, 1, 1, |r| r.profit),
                ("price", 6, 2, 2, |r| r.price_mean),
                ("sales", 5, 0, 0, |r| r.sales as f64),
                ("lost", 4, 0, 0, |r| r.lost as f64),
                ("war", 3, 0, 0, |r| f64::from(r.war_steps)),
            ],
        );
    }
    write_episodes(&rows, out, quiet)
}

/// One printed column of episodes: header, width, decimals in a row, decimals in the
/// mean line, and the value.
type EpisodeColumn<R> = (&'static str, usize, usize, usize, fn(&R) -> f64);

/// Prints one line per episode and a last line of means over them.
fn print_episodes<R>(rows: &[R], path: fn(&R) -> u64, columns: &[EpisodeColumn<R>]) {
    let mut header = String::from("path");
    for &(name, width, ..) in columns {
        header.push_str(&format!("  {name:>width$}"));
    }
    outln!("{header}");
    for r in rows {
        let mut line = format!("{:>4}", path(r));
        for &(_, width, decimals, _, value) in columns {
            line.push_str(&format!("  {:>width$.decimals$}", value(r)));
        }
        outln!("{line}");
    }
    let n = rows.len().max(1) as f64;
    let mut line = String::from("mean");
    for &(_, width, _, decimals, value) in columns {
        let mean = rows.iter().map(value).sum::<f64>() / n;
        line.push_str(&format!("  {mean:>width$.decimals$}"));
    }
    outln!("{line}");
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
