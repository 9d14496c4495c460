//! Experiments: a grid of scenario variants × replications run in parallel, reduced to a
//! result table, a figure and a markdown summary (SPEC §2.4, Ganesh et al. 2019).
//!
//! An experiment file (`scenarios/experiments/*.ron`) holds a base scenario, a design
//! (which variants to build from it and what to measure), a run count and a seed.
//! Replication r of every variant uses the seed derived from (experiment seed, r), so
//! variants are compared on common random numbers, and results do not depend on the
//! number of threads: each replication is its own World, and results are collected in
//! job order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::mechanisms::Design;
use crate::output::manifest::sha256_hex;
pub use crate::output::row::OwnedCell;
use crate::output::table::{Cell, Column, OutputError, StagedOutput, TableFormat};
use crate::plot::{Figure, FigureError};
use crate::rng::{StreamDomain, stream};
use crate::scenario::load::{advice_for_moved_field, extensions, parse_ron};
use crate::scenario::locate::{FieldLocations, SourcePosition};
use crate::scenario::{Problem, Scenario, validate};
use crate::sim::{SimError, Simulation};

/// An experiment file (written `Experiment(...)` in RON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Experiment")]
pub struct ExperimentConfig {
    /// Short name, used for the default output directory.
    pub name: String,
    /// One line on what the experiment shows. Default: "".
    #[serde(default)]
    pub description: String,
    /// Experiment seed; replication r uses a seed derived from (seed, r). Default: 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Replications of every variant. Must be ≥ 1.
    pub runs: u32,
    /// The base market every variant is built from.
    pub scenario: Scenario,
    /// Which variants to run and what to measure.
    pub design: Design,
}

fn default_seed() -> u64 {
    1
}

/// What every design provides: its checks, the scenario variants it builds, and the run
/// that reduces replications to a table, a figure and a summary.
pub trait ExperimentDesign {
    /// Problems with the design against its base scenario. Paths are from the
    /// experiment file's root: `design.…` for the design's own fields, `scenario.…` for
    /// what the design needs of the scenario.
    fn check(&self, scenario: &Scenario) -> Vec<Problem>;
    /// The scenario variants, in table order.
    fn variants(&self, base: &Scenario) -> Vec<Variant>;
    /// Runs every variant `config.runs` times and reduces the results.
    ///
    /// # Errors
    /// [`ExperimentError::Run`] when a replication fails.
    fn run(
        &self,
        config: &ExperimentConfig,
        progress: &Progress<'_>,
    ) -> Result<ExperimentOutput, ExperimentError>;
}

pub use crate::mechanisms::BUNDLED_EXPERIMENTS as BUNDLED;

/// Why an experiment could not be loaded, run or written.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Neither a bundled name nor a readable file.
    #[error("no experiment `{0}`: use one of {names} or the path of an experiment file", names = BUNDLED.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read experiment `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Malformed RON or a wrong field.
    #[error("cannot parse experiment `{}`\n  --> {}:{}:{}{}: {message}", path.display(), path.display(), position.line, position.column, if field_path.is_empty() { String::new() } else { format!(" at `{field_path}`") })]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped.
        position: SourcePosition,
        /// The field path.
        field_path: String,
        /// The parser's message.
        message: String,
    },
    /// Values out of range or inconsistent, each with its position.
    #[error("invalid experiment `{}`: {} problem{}{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" }, problems.iter().map(|(p, pos)| match pos { Some(pos) => format!("\n  --> {}:{}:{}  {p}", path.display(), pos.line, pos.column), None => format!("\n  --> {}  {p}", path.display()) }).collect::<String>())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, with where it is written (or its nearest written parent).
        problems: Vec<(Problem, Option<SourcePosition>)>,
    },
    /// A replication failed.
    #[error("replication {replication} of variant `{variant}` failed: {source}")]
    Run {
        /// The variant's label.
        variant: String,
        /// The replication index.
        replication: u32,
        /// What failed.
        source: SimError,
    },
    /// Writing the outputs failed; nothing partial was left behind.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Drawing the figure failed.
    #[error("cannot draw the figure: {0}")]
    Figure(#[from] FigureError),
    /// Stopped on request (a signal) before every replication ran; nothing was written.
    #[error("interrupted before every replication ran")]
    Interrupted,
}

/// What a running experiment reports its progress to, and may be stopped by.
pub struct Progress<'a> {
    report: &'a (dyn Fn(u64) + Sync),
    stop: Option<&'a AtomicBool>,
}

impl<'a> Progress<'a> {
    /// Calls `report` with the replications done so far, after each one.
    pub fn new(report: &'a (dyn Fn(u64) + Sync)) -> Self {
        Self { report, stop: None }
    }

    /// No reports, no stop.
    pub fn silent() -> Progress<'static> {
        Progress {
            report: &|_| {},
            stop: None,
        }
    }

    /// Stops the experiment (no replication starts after it is set) when `stop` is set,
    /// by a signal handler, say: the experiment then fails with
    /// [`ExperimentError::Interrupted`].
    pub fn with_stop(self, stop: &'a AtomicBool) -> Self {
        Self {
            stop: Some(stop),
            ..self
        }
    }

    /// Reports `done` replications finished.
    pub fn done(&self, done: u64) {
        (self.report)(done);
    }

    /// The stop flag, if there is one (to hand to a run that checks it between ticks).
    pub fn stop_flag(&self) -> Option<&'a AtomicBool> {
        self.stop
    }

    /// Whether a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// Loads a bundled experiment by name, or an experiment file by path.
///
/// # Errors
/// [`ExperimentError`] naming the file, line, column and field of every problem.
pub fn load_experiment(name_or_path: &str) -> Result<(ExperimentConfig, String), ExperimentError> {
    if let Some((name, text)) = BUNDLED.iter().find(|(n, _)| *n == name_or_path) {
        let label = format!("scenarios/experiments/{}.ron", name.replace('-', "_"));
        return Ok((parse_experiment(text, Path::new(&label))?, label));
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(ExperimentError::Unknown(name_or_path.to_string()));
    }
    let text = crate::scenario::load::read_input(path).map_err(|source| ExperimentError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((parse_experiment(&text, path)?, name_or_path.to_string()))
}

/// Parses and validates an experiment file's text (`path` names it in errors).
///
/// # Errors
/// As [`load_experiment`].
pub fn parse_experiment(text: &str, path: &Path) -> Result<ExperimentConfig, ExperimentError> {
    let config: ExperimentConfig = parse_ron(text).map_err(|f| ExperimentError::Parse {
        path: path.to_path_buf(),
        position: f.position,
        message: advice_for_moved_field(&f).unwrap_or(f.message),
        field_path: f.field_path,
    })?;
    let problems = check(&config);
    if problems.is_empty() {
        return Ok(config);
    }
    let locations = FieldLocations::scan(text);
    Err(ExperimentError::Invalid {
        path: path.to_path_buf(),
        problems: problems
            .into_iter()
            .map(|p| {
                let position = locations.nearest(&p.path).map(|(pos, _)| pos);
                (p, position)
            })
            .collect(),
    })
}

/// Every problem of an experiment: its own fields, the base scenario's (prefixed with
/// `scenario.`), the design's, and every variant the design builds.
pub fn check(config: &ExperimentConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    if config.runs == 0 {
        problems.push(Problem {
            path: "runs".into(),
            message: "must be ≥ 1 (replications per variant), got 0".into(),
        });
    }
    problems.extend(validate(&config.scenario).into_iter().map(|p| Problem {
        path: format!("scenario.{}", p.path),
        message: p.message,
    }));
    if !problems.is_empty() {
        return problems;
    }
    problems.extend(config.design.as_design().check(&config.scenario));
    if !problems.is_empty() {
        return problems;
    }
    // The design's own fields are fine; the scenarios it builds must be valid too (e.g. a
    // hedger volatility estimate out of range). Each distinct problem is reported once.
    let variants = config.design.as_design().variants(&config.scenario);
    for variant in &variants {
        for p in validate(&variant.scenario) {
            let message = format!(
                "builds an invalid scenario (variant `{}`): {p}",
                variant.label
            );
            if !problems
                .iter()
                .any(|q: &Problem| q.message.ends_with(&p.to_string()))
            {
                problems.push(Problem {
                    path: "design".into(),
                    message,
                });
            }
        }
    }
    problems
}

/// Warnings about an experiment's base scenario and the variants its design builds
/// (paths from the file's root), each reported once.
pub fn warnings(config: &ExperimentConfig) -> Vec<Problem> {
    let mut found: Vec<Problem> = crate::scenario::warnings(&config.scenario)
        .into_iter()
        .map(|p| Problem {
            path: format!("scenario.{}", p.path),
            message: p.message,
        })
        .collect();
    for variant in config.design.as_design().variants(&config.scenario) {
        for p in crate::scenario::warnings(&variant.scenario) {
            let path = format!("scenario.{}", p.path);
            if !found
                .iter()
                .any(|q| q.path == path && q.message == p.message)
            {
                found.push(Problem {
                    path,
                    message: format!("{} (variant `{}`)", p.message, variant.label),
                });
            }
        }
    }
    found
}

/// One scenario variant of an experiment.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Human-readable label, used in errors.
    pub label: String,
    /// The scenario to replicate.
    pub scenario: Scenario,
}

/// Runs `measure(variant index, simulation)` on every (variant, replication) pair in
/// parallel and returns the measurements as `results[variant][replication]`, in order. `on_done` is called after
/// each replication with the number done so far (from worker threads).
///
/// # Errors
/// The failure of the first failing job in job order (not in completion order), so the
/// error does not depend on thread scheduling either.
pub fn replicate<T: Send>(
    variants: &[Variant],
    runs: u32,
    seed: u64,
    measure: impl Fn(usize, &mut Simulation) -> Result<T, SimError> + Sync,
    progress: &Progress<'_>,
) -> Result<Vec<Vec<T>>, ExperimentError> {
    let runs_usize = runs as usize;
    let done = AtomicU64::new(0);
    let results: Vec<Result<T, ExperimentError>> = (0..variants.len() * runs_usize)
        .into_par_iter()
        .map(|job| {
            // Jobs not yet started when a stop is asked for are not started.
            if progress.stopped() {
                return Err(ExperimentError::Interrupted);
            }
            let (v, r) = (job / runs_usize, (job % runs_usize) as u32);
            let mut scenario = variants[v].scenario.clone();
            scenario.seed = replication_seed(seed, r);
            let outcome = Simulation::new(&scenario)
                .and_then(|mut sim| measure(v, &mut sim))
                .map_err(|source| ExperimentError::Run {
                    variant: variants[v].label.clone(),
                    replication: r,
                    source,
                });
            progress.done(done.fetch_add(1, Ordering::Relaxed) + 1);
            outcome
        })
        .collect();
    let mut grouped: Vec<Vec<T>> = Vec::with_capacity(variants.len());
    let mut results = results.into_iter();
    for _ in 0..variants.len() {
        let mut row = Vec::with_capacity(runs_usize);
        for _ in 0..runs_usize {
            match results.next() {
                Some(Ok(value)) => row.push(value),
                Some(Err(error)) => return Err(error),
                None => break,
            }
        }
        grouped.push(row);
    }
    Ok(grouped)
}

/// The scenario seed of replication `r`: derived from the experiment seed, the same for
/// every variant (common random numbers).
pub fn replication_seed(seed: u64, replication: u32) -> u64 {
    stream(seed, StreamDomain::Replication, u64::from(replication)).next_u64()
}

/// What one experiment produced, before writing.
pub struct ExperimentOutput {
    /// Columns of the result table.
    pub columns: &'static [Column],
    /// Rows of the result table, as owned cells.
    pub rows: Vec<Vec<OwnedCell>>,
    /// The figure.
    pub figure: Figure,
    /// The markdown summary.
    pub summary: String,
}

/// Runs an experiment with `runs` replications per variant (the file's count unless
/// overridden) and `seed`, calling `on_done` with replications finished.
///
/// # Errors
/// [`ExperimentError`] when a replication fails.
pub fn run_experiment(
    config: &ExperimentConfig,
    progress: &Progress<'_>,
) -> Result<ExperimentOutput, ExperimentError> {
    config.design.as_design().run(config, progress)
}

/// Total replications an experiment runs (for a progress bar).
pub fn total_runs(config: &ExperimentConfig) -> u64 {
    let variants = config.design.as_design().variants(&config.scenario).len();
    variants as u64 * u64::from(config.runs)
}

/// Files written by [`write_experiment`].
#[derive(Debug)]
pub struct ExperimentReport {
    /// Final paths, in writing order.
    pub files: Vec<PathBuf>,
    /// Seconds the replications took.
    pub wall_time_seconds: f64,
}

/// Runs `config` and writes `results.parquet`, `results.csv`, `figure.svg`, `figure.png`,
/// `summary.md`, `experiment.ron` and `manifest.json` into `out_dir`, atomically.
///
/// # Errors
/// [`ExperimentError`]; nothing partial is left in `out_dir`.
pub fn write_experiment(
    config: &ExperimentConfig,
    source: &str,
    out_dir: &Path,
    progress: &Progress<'_>,
) -> Result<ExperimentReport, ExperimentError> {
    crate::output::leave_nothing_on_error(out_dir, || {
        let mut staged = StagedOutput::create(out_dir)?;
        let started = Instant::now();
        let output = run_experiment(config, progress)?;
        let wall_time_seconds = started.elapsed().as_secs_f64();
        for format in [TableFormat::Parquet, TableFormat::Csv] {
            let mut table = staged.table("results", output.columns, format)?;
            for row in &output.rows {
                let cells: Vec<Cell<'_>> = row.iter().map(OwnedCell::as_cell).collect();
                table.write_row(&cells)?;
            }
            staged.add_table(table.finish()?);
        }
        staged.add_file("figure.svg", output.figure.to_svg()?.as_bytes())?;
        staged.add_file("figure.png", &output.figure.to_png()?)?;
        staged.add_file("summary.md", output.summary.as_bytes())?;
        let resolved = ron::ser::to_string_pretty(
            config,
            ron::ser::PrettyConfig::new()
                .struct_names(true)
                .extensions(extensions()),
        )
        .unwrap_or_default();
        staged.add_file("experiment.ron", resolved.as_bytes())?;
        let manifest = serde_json::json!({
            "dealersim_version": env!("CARGO_PKG_VERSION"),
            "experiment": config.name,
            "experiment_source": source,
            "experiment_sha256": sha256_hex(resolved.as_bytes()),
            "seed": config.seed,
            "runs_per_variant": config.runs,
            "rng": "Xoshiro256++ per entity; replication seeds from SplitMix64(seed, replication)",
            "wall_time_seconds": wall_time_seconds,
        });
        let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        staged.add_file("manifest.json", &manifest)?;
        let files = staged.commit()?;
        Ok(ExperimentReport {
            files,
            wall_time_seconds,
        })
    })
}

/// Mean, sample standard deviation and standard error of the finite values in `xs`,
/// with their count.
pub fn mean_sd(xs: &[f64]) -> (f64, f64, f64, usize) {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    }
    let mean = finite.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        finite.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let sd = var.sqrt();
    (mean, sd, sd / (n as f64).sqrt(), n)
}

/// Running mean and sample variance by Welford's update, which keeps no sum of squares
/// (so no cancellation when the mean is large against the spread).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunningMoments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl RunningMoments {
    /// Adds one observation.
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Their mean; NaN before the first.
    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.mean }
    }

    /// Their sample standard deviation; NaN before the first, 0 with one.
    pub fn sd(&self) -> f64 {
        match self.n {
            0 => f64::NAN,
            1 => 0.0,
            n => (self.m2 / (n - 1) as f64).sqrt(),
        }
    }
}

/// The q-quantile (0 ≤ q ≤ 1) of the finite values in `xs`, by linear interpolation
/// between order statistics (type 7, as numpy's default); NaN when there are none.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let h = q.clamp(0.0, 1.0) * (finite.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    finite[lo] + (h - lo as f64) * (finite[hi] - finite[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_moments_match_the_two_pass_formulas_without_cancellation() {
        let xs = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 4.0, 1e9 + 7.0];
        let mut m = RunningMoments::default();
        assert!(m.mean().is_nan() && m.sd().is_nan());
        for x in xs {
            m.add(x);
        }
        let (mean, sd, ..) = mean_sd(&xs);
        assert_eq!(m.count(), 4);
        assert!((m.mean() - mean).abs() < 1e-6);
        // Within ulp(1e9)-sized rounding of the mean; Σx² − n·mean² would lose every digit
        // here (its terms are 4e18 against a spread of 21).
        assert!((m.sd() - sd).abs() < 1e-6, "{} {}", m.sd(), sd);
        let mut one = RunningMoments::default();
        one.add(3.0);
        assert_eq!((one.mean(), one.sd()), (3.0, 0.0));
    }

    #[test]
    fn quantiles_match_numpy_type_7() {
        let xs = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn mean_and_standard_error() {
        let (mean, sd, se, n) = mean_sd(&[1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((mean, n), (2.0, 3));
        assert!((sd - 1.0).abs() < 1e-15 && (se - 1.0 / 3f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn bundled_experiments_parse_and_validate() {
        for (name, text) in BUNDLED {
            if let Err(e) = parse_experiment(text, Path::new(name)) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn replication_seeds_differ_and_are_stable() {
        assert_ne!(replication_seed(1, 0), replication_seed(1, 1));
        assert_eq!(replication_seed(1, 5), replication_seed(1, 5));
    }
}
