//! The `dealersim` command line: a thin layer over the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use dealersim::scenario::load::located;
use dealersim::scenario::{OutputFormat, Scenario, ScenarioError, load_scenario_with_warnings};
use dealersim::sim::resources::Limits;
use dealersim::{SimError, run_to_directory_until};
use dealersim::{bench, experiments, schedule};

/// Writes a line to stdout; a closed pipe ends the program quietly with status 141 (as a
/// Unix tool killed by SIGPIPE reports), any other write error with a message and 1.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(error);
        }
    }};
}

/// As [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = write!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(error);
        }
    }};
}

/// Writes a line to stderr, ignoring failure: there is nowhere left to report it.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod cli;

/// Agent-based simulation of over-the-counter dealer markets.
#[derive(Parser)]
#[command(name = "dealersim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its outputs to a directory.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Output directory [default: out/<scenario file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the number of ticks.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        steps: Option<u32>,
        /// Override the master seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the table format.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Also write one row per trade (can be large).
        #[arg(long)]
        trades: bool,
        /// No progress bar and no summary table.
        #[arg(long, short)]
        quiet: bool,
        /// The most memory the run may use, e.g. 8G or 512M [default: the memory this
        /// machine has available].
        #[arg(long, value_parser = parse_size)]
        max_memory: Option<u64>,
    },
    /// Remove what runs into DIR killed outright (SIGKILL, power loss) left staged beside it.
    Clean {
        /// The output directory of those runs.
        dir: PathBuf,
    },
    /// Check a scenario file without running it.
    Validate {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The most memory the run may use, e.g. 8G or 512M [default: the memory this
        /// machine has available].
        #[arg(long, value_parser = parse_size)]
        max_memory: Option<u64>,
    },
    /// Run the benchmark ladder: wall time, throughput, peak memory and phase split per rung.
    Bench {
        /// Rungs to run: S, M, L, XL [default: S M L].
        #[arg(conflicts_with = "scaling")]
        rungs: Vec<String>,
        /// Run the population-scaling study (scenarios/bench/scaling.ron) instead: time
        /// per tick at N = 10k .. 10M with a fixed number of trades per tick.
        #[arg(long)]
        scaling: bool,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Internal: run one rung (or one scaling point) in this process, print JSON.
        #[arg(long, hide = true)]
        child: bool,
        /// Internal: the scaling point's population, with --child --scaling.
        #[arg(long, hide = true)]
        population: Option<u32>,
    },
    /// Run one of the paper's experiments (or an experiment file) with replications in parallel.
    Experiment {
        /// A bundled experiment name (see --list) or the path of an experiment file.
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List the bundled experiments.
        #[arg(long)]
        list: bool,
        /// Override the replications per variant.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        runs: Option<u32>,
        /// Override the experiment seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: out/experiments/<name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a sweep (a grid of field overrides × seeds over a base scenario), or one shard
    /// of it; every cell's outputs go to DIR/cells/<cell>/.
    Sweep {
        /// The sweep file (RON).
        sweep: PathBuf,
        /// Run only shard i of n: the cells whose number is ≡ i (mod n) [default: from
        /// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT in an array job, else 0/1].
        #[arg(long, value_name = "i/n")]
        shard: Option<String>,
        /// Output directory, shared by every shard [default: out/sweeps/<sweep file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip this shard's cells already complete in DIR (those killed mid-run are run
        /// again).
        #[arg(long)]
        resume: bool,
        /// Check the sweep and list the shard's cells (number, seed, values); run nothing.
        #[arg(long)]
        dry_run: bool,
        /// The most memory a cell may use, e.g. 8G or 512M [default: the memory this
        /// machine has available].
        #[arg(long, value_parser = parse_size)]
        max_memory: Option<u64>,
        /// No progress bar and no summary line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare quoting policies on a quote-control preset over many paths: a table, a
    /// figure and a summary.
    Compare {
        /// A bundled preset (`avellaneda-stoikov`) or the path of a preset file.
        preset: String,
        /// Comma-separated policies: inventory, symmetric, fixed, random, epsilon-greedy.
        /// [default: inventory,symmetric for market making; fixed,cost-plus,random,
        /// epsilon-greedy for retail]
        #[arg(long)]
        policies: Option<String>,
        /// Paths per policy (and per γ for the Avellaneda–Stoikov ones).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        seeds: u32,
        /// Output directory [default: out/compare/<preset name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run one quoting policy on a quote-control preset and print each episode.
    Rollout {
        /// A bundled preset (`avellaneda-stoikov`, `retail-pricing`) or the path of a
        /// preset file.
        preset: String,
        /// The policy: inventory, symmetric, fixed, random, epsilon-greedy (market
        /// making); fixed, cost-plus, random, epsilon-greedy (retail).
        #[arg(long)]
        policy: String,
        /// γ for the Avellaneda–Stoikov policies [default: the preset's first].
        #[arg(long)]
        gamma: Option<f64>,
        /// Episodes (paths 0..N of the preset's seed).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        seeds: u32,
        /// Also write the episodes to DIR/episodes.parquet.
        #[arg(long)]
        out: Option<PathBuf>,
        /// No output but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Clear one expressive-bidding auction book: the fills and one price per symbol that
    /// maximise total surplus under every bidder's logic (docs/auction.md).
    Auction {
        /// The book file (RON).
        book: PathBuf,
        /// Also write auction_symbols and auction_fills tables into DIR.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Table format for --out [default: parquet].
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// No output but errors (and the files written).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Gather a sweep's cells (from one output directory or several) into one summary
    /// table per mechanism, with the swept values as columns, and a timing table.
    Merge {
        /// The sweep's output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged tables.
        #[arg(long)]
        out: PathBuf,
        /// Table format [default: parquet].
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// No summary lines.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Parquet,
    Csv,
}

impl FormatArg {
    /// The table format `--format` names, Parquet when it is not given.
    fn table_format(format: Option<Self>) -> dealersim::output::table::TableFormat {
        match format {
            Some(FormatArg::Csv) => dealersim::output::table::TableFormat::Csv,
            _ => dealersim::output::table::TableFormat::Parquet,
        }
    }
}

/// Exit status for a scenario that cannot be used (bad file, bad values).
const EXIT_BAD_SCENARIO: u8 = 2;
/// Exit status for a failure while running or writing.
const EXIT_RUN_FAILED: u8 = 1;
/// Exit status for a command line that cannot be parsed (EX_USAGE of sysexits.h).
const EXIT_USAGE: u8 = 64;
/// Exit status after SIGINT (Ctrl-C) stopped a run: 128 + 2.
const EXIT_SIGINT: u8 = 130;
/// Exit status after SIGTERM stopped a run: 128 + 15.
const EXIT_SIGTERM: u8 = 143;
/// Exit status when stdout is a pipe whose reader has gone (128 + SIGPIPE, as a shell
/// reports a tool killed by the signal).
const EXIT_BROKEN_PIPE: i32 = 141;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with status 0; a usage error to stderr with
            // its own status, apart from the bad-scenario status 2.
            let status = if error.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = error.print();
            return ExitCode::from(status);
        }
    };
    match cli.command {
        Command::Bench {
            rungs,
            scaling,
            json,
            child,
            population,
        } => {
            if scaling {
                bench_scaling(json, child.then_some(population).flatten())
            } else {
                bench(rungs, json, child)
            }
        }
        Command::Experiment {
            name,
            list,
            runs,
            seed,
            out,
            quiet,
        } => experiment(name, list, runs, seed, out, quiet),
        Command::Sweep {
            sweep,
            shard,
            out,
            resume,
            dry_run,
            max_memory,
            quiet,
        } => cli::sweep::sweep(&sweep, shard, out, resume, dry_run, max_memory, quiet),
        Command::Merge {
            dirs,
            out,
            format,
            quiet,
        } => cli::sweep::merge_dirs(&dirs, &out, format, quiet),
        Command::Auction {
            book,
            out,
            format,
            quiet,
        } => cli::auction::clear_book(&book, out, format, quiet),
        Command::Compare {
            preset,
            policies,
            seeds,
            out,
            quiet,
        } => cli::quote_control::compare_policies(&preset, policies.as_deref(), seeds, out, quiet),
        Command::Rollout {
            preset,
            policy,
            gamma,
            seeds,
            out,
            quiet,
        } => cli::quote_control::rollout_policy(&preset, &policy, gamma, seeds, out, quiet),
        Command::Clean { dir } => {
            let removed = dealersim::output::staging::remove_stale_staging(&dir, false);
            for path in &removed {
                outln!("removed {}", path.display());
            }
            if removed.is_empty() {
                outln!("nothing to clean beside {}", dir.display());
            }
            ExitCode::SUCCESS
        }
        Command::Validate {
            scenario,
            max_memory,
        } => match load_scenario_with_warnings(&scenario) {
            Ok((s, warnings)) => {
                print_warnings(&warnings);
                let out = default_out_dir(&scenario);
                if let Err(failure) = check_resources(&s, &scenario, &out, max_memory) {
                    return failure;
                }
                let mechanisms: Vec<String> = s
                    .mechanisms
                    .iter()
                    .map(|m| {
                        let m = m.as_mechanism();
                        let counts: Vec<String> = m
                            .population()
                            .iter()
                            .map(|(role, n)| format!("{n} {}", role.replace('_', " ")))
                            .collect();
                        format!("{} with {}", m.kind(), counts.join(", "))
                    })
                    .collect();
                outln!(
                    "{}: ok ({}; {} ticks)",
                    scenario.display(),
                    mechanisms.join("; "),
                    s.steps
                );
                ExitCode::SUCCESS
            }
            Err(error) => scenario_failure(&error),
        },
        Command::Run {
            scenario: path,
            out,
            steps,
            seed,
            format,
            trades,
            quiet,
            max_memory,
        } => {
            let mut scenario = match load_scenario_with_warnings(&path) {
                Ok((s, warnings)) => {
                    if !quiet {
                        print_warnings(&warnings);
                    }
                    s
                }
                Err(error) => return scenario_failure(&error),
            };
            if let Some(steps) = steps {
                scenario.steps = steps;
            }
            if let Some(seed) = seed {
                scenario.seed = seed;
            }
            if let Some(format) = format {
                scenario.output.format = match format {
                    FormatArg::Parquet => OutputFormat::Parquet,
                    FormatArg::Csv => OutputFormat::Csv,
                };
            }
            scenario.output.trades |= trades;
            let out = out.unwrap_or_else(|| default_out_dir(&path));
            let limits = match check_resources(&scenario, &path, &out, max_memory) {
                Ok(limits) => limits,
                Err(failure) => return failure,
            };
            let progress = progress_bar(u64::from(scenario.steps), quiet, "tick");
            let signals = Signals::install();
            let result = run_to_directory_until(
                &scenario,
                &path.display().to_string(),
                &out,
                |done| progress.set_position(u64::from(done)),
                &signals.stop,
                &limits,
            );
            progress.finish_and_clear();
            match result {
                Ok(report) => {
                    if !quiet {
                        for summary in &report.summaries {
                            out!("{}", summary.display);
                        }
                        outln!(
                            "wrote {} files to {} in {:.2} s",
                            report.files.len(),
                            out.display(),
                            report.manifest.wall_time_seconds
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(SimError::Interrupted { tick }) => {
                    errln!(
                        "interrupted at tick {tick}: nothing was written to {}",
                        out.display()
                    );
                    ExitCode::from(signals.exit_status())
                }
                Err(error) => {
                    errln!("error: {error}");
                    errln!("nothing was written to {}", out.display());
                    ExitCode::from(match error {
                        SimError::Invalid(_) => EXIT_BAD_SCENARIO,
                        _ => EXIT_RUN_FAILED,
                    })
                }
            }
        }
    }
}

fn experiment(
    name: Option<String>,
    list: bool,
    runs: Option<u32>,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
) -> ExitCode {
    if list {
        for (bundled, text) in experiments::BUNDLED {
            let description = experiments::parse_experiment(text, Path::new(bundled))
                .map(|c| c.description)
                .unwrap_or_default();
            outln!("{bundled:<20} {description}");
        }
        return ExitCode::SUCCESS;
    }
    let Some(name) = name else {
        errln!("error: name an experiment or pass --list");
        return ExitCode::from(EXIT_USAGE);
    };
    let (mut config, source) = match experiments::load_experiment(&name) {
        Ok(loaded) => loaded,
        Err(error) => {
            errln!("error: {error}");
            return ExitCode::from(EXIT_BAD_SCENARIO);
        }
    };
    if !quiet {
        let warnings: Vec<String> = experiments::warnings(&config)
            .iter()
            .map(|w| format!("{source}  {w}"))
            .collect();
        print_warnings(&warnings);
    }
    if let Some(runs) = runs {
        config.runs = runs;
    }
    if let Some(seed) = seed {
        config.seed = seed;
    }
    let out = out.unwrap_or_else(|| Path::new("out").join("experiments").join(&config.name));
    let bar = progress_bar(experiments::total_runs(&config), quiet, "replication");
    let signals = Signals::install();
    let report = |done| bar.set_position(done);
    let progress = experiments::Progress::new(&report).with_stop(&signals.stop);
    let result = experiments::write_experiment(&config, &source, &out, &progress);
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if !quiet {
                if let Ok(summary) = std::fs::read_to_string(out.join("summary.md")) {
                    outln!("{summary}");
                }
                outln!(
                    "wrote {} files to {} in {:.2} s",
                    report.files.len(),
                    out.display(),
                    report.wall_time_seconds
                );
            }
            ExitCode::SUCCESS
        }
        Err(experiments::ExperimentError::Interrupted) => {
            errln!("interrupted: nothing was written to {}", out.display());
            ExitCode::from(signals.exit_status())
        }
        Err(error) => {
            errln!("error: {error}");
            errln!("nothing was written to {}", out.display());
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// Runs each rung in its own child process, so that each one's peak memory is its own.
fn bench(rungs: Vec<String>, json: bool, child: bool) -> ExitCode {
    if child {
        let report = rungs
            .first()
            .ok_or_else(|| "no rung given".to_string())
            .and_then(|name| bench::load_rung(name).map_err(|e| e.to_string()))
            .and_then(|rung| bench::run_rung(&rung).map_err(|e| e.to_string()))
            .and_then(|report| serde_json::to_string(&report).map_err(|e| e.to_string()));
        return print_child_report(report);
    }
    let names: Vec<String> = if rungs.is_empty() {
        bench::DEFAULT_RUNGS
            .iter()
            .map(|s| (*s).to_string())
            .collect()
    } else {
        rungs
    };
    for name in &names {
        if let Err(error) = bench::load_rung(name) {
            errln!("error: {error}");
            return ExitCode::from(EXIT_BAD_SCENARIO);
        }
    }
    let Ok(exe) = std::env::current_exe() else {
        errln!("error: cannot locate the dealersim executable to run the rungs");
        return ExitCode::from(EXIT_RUN_FAILED);
    };
    let mut reports = Vec::new();
    for name in &names {
        if !json {
            errln!("running rung {name} ...");
        }
        match run_child::<bench::RungReport>(&exe, &["bench", "--child", name]) {
            Ok(report) => reports.push(report),
            Err(error) => {
                errln!("error: rung {name}: {error}");
                return ExitCode::from(EXIT_RUN_FAILED);
            }
        }
    }
    if json {
        return print_json(&reports);
    }
    out!("{}", bench_table(&reports));
    ExitCode::SUCCESS
}

/// Runs the scaling study: every population `repeats` times, each run in its own child
/// process (own memory, no warm caches from the last). `child_population`: run that one
/// point here and print its JSON.
fn bench_scaling(json: bool, child_population: Option<u32>) -> ExitCode {
    let study = match bench::load_scaling_study() {
        Ok(study) => study,
        Err(error) => {
            errln!("error: {error}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    if let Some(n) = child_population {
        let point = bench::run_scaling_point(&study, n)
            .map_err(|e| e.to_string())
            .and_then(|p| serde_json::to_string(&p).map_err(|e| e.to_string()));
        return print_child_report(point);
    }
    let Ok(exe) = std::env::current_exe() else {
        errln!("error: cannot locate the dealersim executable to run the study");
        return ExitCode::from(EXIT_RUN_FAILED);
    };
    let mut runs = Vec::new();
    for &n in &study.populations {
        let mut at_n = Vec::new();
        for repeat in 1..=study.repeats {
            if !json {
                errln!("N = {n}: run {repeat} of {} ...", study.repeats);
            }
            let population = n.to_string();
            let args = ["bench", "--child", "--scaling", "--population", &population];
            match run_child::<bench::ScalingPoint>(&exe, &args) {
                Ok(point) => at_n.push(point),
                Err(error) => {
                    errln!("error: scaling at N = {n}: {error}");
                    return ExitCode::from(EXIT_RUN_FAILED);
                }
            }
        }
        runs.push(at_n);
    }
    let report = bench::scaling_report(runs);
    if json {
        return print_json(&report);
    }
    outln!("scaling study: {}", study.description);
    outln!("investors  trades/tick  ms/tick (median)  ms/tick (all runs)        setup s  peak MiB");
    for (p, all) in report.points.iter().zip(&report.all_seconds_per_tick) {
        let all: Vec<String> = all.iter().map(|s| format!("{:.2}", s * 1e3)).collect();
        outln!(
            "{:>9} {:>12.0} {:>17.3} {:>19} {:>14.2} {:>9.0}",
            p.investors,
            p.trades as f64 / p.ticks as f64,
            p.seconds_per_tick * 1e3,
            all.join(" "),
            p.setup_seconds,
            p.peak_memory_mib
        );
    }
    outln!(
        "log-log slope of time per tick against N: {:.3}; largest N / smallest N: {:.2}x",
        report.log_log_slope,
        report.largest_to_smallest
    );
    outln!("\nphase split (% of phase time, median run)");
    let rows = report
        .points
        .iter()
        .map(|p| (format!("{:>9}", p.investors), p.phase_seconds.as_slice()));
    out!("{}", phase_split_table("investors", rows));
    ExitCode::SUCCESS
}

/// Prints a child's JSON line, or its error, with the matching exit status.
fn print_child_report(report: Result<String, String>) -> ExitCode {
    match report {
        Ok(line) => {
            outln!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("error: {error}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// Runs `exe args` and parses its standard output as JSON, or returns its error text.
fn run_child<T: serde::de::DeserializeOwned>(exe: &Path, args: &[&str]) -> Result<T, String> {
    let output = std::process::Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        serde_json::from_slice::<T>(&output.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Prints `value` as pretty JSON.
fn print_json(value: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            outln!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("error: {error}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// A table of each row's time per phase as a share of its total: a header of phase
/// names after `label`, then one line per (row label, phase times).
fn phase_split_table<'a>(
    label: &str,
    rows: impl Iterator<Item = (String, &'a [bench::PhaseTime])>,
) -> String {
    let mut out = label.to_string();
    for phase in schedule::TickPhase::ALL {
        out.push_str(&format!(" {:>12}", format!("{phase:?}")));
    }
    out.push('\n');
    for (row, phases) in rows {
        let total: f64 = phases.iter().map(|p| p.seconds).sum();
        out.push_str(&row);
        for p in phases {
            let share = 100.0 * p.seconds / total.max(f64::MIN_POSITIVE);
            out.push_str(&format!(" {share:>11.1}%"));
        }
        out.push('\n');
    }
    out
}

/// The human-readable bench report: one row per rung, then the phase split.
fn bench_table(reports: &[bench::RungReport]) -> String {
    let mut out = String::from(
        "rung  investors  makers  ticks  reps     wall s    ticks/s  investor-ticks/s   trades/s  peak MiB  floor ratio\n",
    );
    for r in reports {
        out.push_str(&format!(
            "{:<4} {:>10} {:>7} {:>6} {:>5} {:>10.3} {:>10.1} {:>17.3e} {:>10.3e} {:>9.0} {:>12}\n",
            r.rung,
            r.investors,
            r.market_makers,
            r.ticks,
            r.replications,
            r.wall_seconds,
            r.ticks_per_second,
            r.investor_ticks_per_second,
            r.trades_per_second,
            r.peak_memory_mib,
            r.floor_ratio
                .map_or_else(|| "-".to_string(), |x| format!("{x:.1}x")),
        ));
    }
    out.push_str(
        "\ntick loop and whole run (`dealersim run`: setup, ticks, outputs), seconds\n\
         rung  tick loop     floor    setup    ticks   output    whole run   output MB\n",
    );
    for r in reports {
        let floor = r
            .floor_seconds
            .map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        match &r.end_to_end {
            Some(e) => out.push_str(&format!(
                "{:<4} {:>10.3} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>12.3} {:>11.1}\n",
                r.rung,
                r.run_seconds,
                floor,
                e.timing.setup_seconds,
                e.timing.tick_seconds,
                e.timing.output_seconds,
                e.total_seconds,
                e.output_bytes as f64 / 1e6,
            )),
            None => out.push_str(&format!(
                "{:<4} {:>10.3} {:>9}        -        -        -            -           -\n",
                r.rung, r.run_seconds, floor
            )),
        }
    }
    out.push_str("\nphase split (% of phase time)\n");
    let rows = reports
        .iter()
        .map(|r| (format!("{:<4}", r.rung), r.phase_seconds.as_slice()));
    out.push_str(&phase_split_table("rung", rows));
    out
}

/// Refuses a scenario that needs more memory than the machine has (or `max_memory`), or
/// would write more than the disk under `out` holds: a located scenario error, status 2.
fn check_resources(
    scenario: &Scenario,
    path: &Path,
    out: &Path,
    max_memory: Option<u64>,
) -> Result<Limits, ExitCode> {
    let limits = Limits::for_run(out, max_memory);
    let problems = dealersim::sim::resources::check(scenario, &limits);
    if problems.is_empty() {
        return Ok(limits);
    }
    let source = dealersim::scenario::load::read_input(path).unwrap_or_default();
    Err(scenario_failure(&located(path, &source, problems)))
}

/// A size as people write it: bytes, or with a K, M, G or T suffix (powers of 1024;
/// `iB`/`B` after it allowed), e.g. `8G`, `512MiB`, `1.5g`.
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, scale) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        Some('t') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok((x * scale as f64) as u64),
        _ => Err(format!(
            "`{text}` is not a size (e.g. 8G, 512M, 1073741824)"
        )),
    }
}

fn scenario_failure(error: &ScenarioError) -> ExitCode {
    errln!("error: {error}");
    ExitCode::from(EXIT_BAD_SCENARIO)
}

fn default_out_dir(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
    Path::new("out").join(stem)
}

/// A progress bar on a terminal, nothing otherwise (logs and pipes stay clean).
fn progress_bar(total: u64, quiet: bool, unit: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {unit} {{pos}}/{{len}} [{{bar:40}}] {{elapsed_precise}} eta {{eta}}"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Scenario warnings, one a line on stderr: the run goes ahead.
fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        errln!("warning: {warning}");
    }
}

/// The end of a program whose stdout can no longer be written.
fn stdout_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(EXIT_BROKEN_PIPE);
    }
    errln!("error: cannot write to standard output: {error}");
    std::process::exit(i32::from(EXIT_RUN_FAILED));
}

/// SIGINT and SIGTERM during a run: the first asks the run to stop after the current
/// tick (staged files are removed, nothing is written); a second one ends the process at
/// once (what it staged is removed by the next run or `dealersim clean`).
struct Signals {
    stop: Arc<AtomicBool>,
    /// The signal that asked to stop (0: none yet).
    which: Arc<AtomicUsize>,
}

impl Signals {
    fn install() -> Self {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        for (signal, status) in [(SIGINT, EXIT_SIGINT), (SIGTERM, EXIT_SIGTERM)] {
            // In registration order: a second signal (the flag already set) ends the
            // process; the signal's number is stored before the flag that the run reads,
            // so whoever sees the flag sees which signal set it.
            let installed = signal_hook::flag::register_conditional_shutdown(
                signal,
                i32::from(status),
                Arc::clone(&stop),
            )
            .and_then(|_| {
                signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)
            })
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)));
            if let Err(error) = installed {
                tracing::warn!("cannot handle signal {signal}: {error}");
            }
        }
        Self { stop, which }
    }

    /// 130 after SIGINT, 143 after SIGTERM (128 + the signal, as shells report).
    fn exit_status(&self) -> u8 {
        if self.which.load(Ordering::SeqCst) == signal_hook::consts::SIGINT as usize {
            EXIT_SIGINT
        } else {
            EXIT_SIGTERM
        }
    }
}
