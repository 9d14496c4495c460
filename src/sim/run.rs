//! A whole run to an output directory: every mechanism's declared tables streamed
//! during the ticks, the summaries, the resolved scenario and the manifest, all staged
//! and committed together.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::mechanism::Summary;
use super::resources::Limits;
use super::{SimError, Simulation};
use crate::output::manifest::{Manifest, ManifestFile, ManifestMechanism, sha256_hex};
use crate::output::memory::MemoryTable;
use crate::output::table::{Cell, Column, OutputError, StagedOutput, TableFormat, TableWriter};
use crate::output::{self, Recorder};
use crate::scenario::{OutputFormat, Scenario};

/// What `run_to_directory` produced.
#[derive(Debug)]
pub struct RunReport {
    /// Each mechanism's results, in scenario order.
    pub summaries: Vec<Summary>,
    /// The manifest written.
    pub manifest: Manifest,
    /// Final paths of the files written.
    pub files: Vec<PathBuf>,
    /// Where the run's time went.
    pub timing: RunTiming,
}

/// The wall time of a run's three stages, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunTiming {
    /// Validating, checking resources and building the World, and opening the tables.
    pub setup_seconds: f64,
    /// Stepping every tick (rows are recorded as they come, so this includes encoding
    /// the row groups filled during the run).
    pub tick_seconds: f64,
    /// Finishing the tables, the summaries, `scenario.ron`, the manifest and the commit.
    pub output_seconds: f64,
}

/// Runs `scenario` to completion and writes its outputs to `out_dir`: every table its
/// mechanisms declare and the scenario asks for (summaries last), `scenario.ron` and
/// `manifest.json`. Files are staged under temporary names and renamed only when the
/// whole run succeeded. `scenario_source` is recorded in the manifest; `on_tick` sees the
/// ticks done.
///
/// # Errors
/// [`SimError`] from building, running or writing; on error nothing is left in `out_dir`
/// except what was there before.
pub fn run_to_directory(
    scenario: &Scenario,
    scenario_source: &str,
    out_dir: &Path,
    on_tick: impl FnMut(u32),
) -> Result<RunReport, SimError> {
    let limits = Limits::of_this_machine(None);
    let stop = AtomicBool::new(false);
    run_to_directory_until(scenario, scenario_source, out_dir, on_tick, &stop, &limits)
}

/// As [`run_to_directory`], stopping between ticks once `stop` is set (by a signal
/// handler, say) with [`SimError::Interrupted`]: the staged files are removed and the
/// output directory keeps only what it held before. The World is built
/// [`within`](Simulation::within) `limits`.
///
/// # Errors
/// As [`run_to_directory`], and [`SimError::Interrupted`].
pub fn run_to_directory_until(
    scenario: &Scenario,
    scenario_source: &str,
    out_dir: &Path,
    on_tick: impl FnMut(u32),
    stop: &AtomicBool,
    limits: &Limits,
) -> Result<RunReport, SimError> {
    output::leave_nothing_on_error(out_dir, || {
        run_and_write(scenario, scenario_source, out_dir, on_tick, stop, limits)
    })
}

/// What [`simulate`] leaves: the stepped World, the tables it wrote (the mechanisms'
/// declared tables, then one summary table per mechanism), and where the time went.
struct Simulated {
    simulation: Simulation,
    tables: Vec<TableWriter>,
    summaries: Vec<Summary>,
    /// Every table name this scenario's mechanisms declare, written or not, summaries too.
    known_tables: Vec<&'static str>,
    setup_seconds: f64,
    tick_seconds: f64,
}

/// Builds the World, opens every table the scenario writes with `open`, steps every tick
/// (stopping with [`SimError::Interrupted`] once `stop` is set) and writes the summaries:
/// the part of a run that does not depend on where the tables go.
fn simulate(
    scenario: &Scenario,
    mut on_tick: impl FnMut(u32),
    stop: &AtomicBool,
    limits: &Limits,
    mut open: impl FnMut(&'static str, &'static [Column]) -> Result<TableWriter, OutputError>,
) -> Result<Simulated, SimError> {
    let setting_up = Instant::now();
    let mut simulation = Simulation::within(scenario, limits)?;
    let declared: Vec<_> = simulation
        .mechanisms()
        .flat_map(|m| m.tables(scenario))
        .collect();
    let summary_specs: Vec<_> = simulation.mechanisms().map(|m| m.summary_table()).collect();
    let mut recorder = Recorder::default();
    for table in declared.iter().filter(|t| t.written) {
        recorder.open(table.spec.name, open(table.spec.name, table.spec.columns)?);
    }
    simulation.set_recorder(recorder);
    // With `RUST_LOG=info` the run reports its time per phase (the timers cost a few
    // µs a tick, so they run only when someone reads them).
    if tracing::enabled!(tracing::Level::INFO) {
        simulation.enable_phase_timers();
    }

    let setup_seconds = setting_up.elapsed().as_secs_f64();
    let run_span = tracing::info_span!("run", steps = scenario.steps).entered();
    let started = Instant::now();
    while simulation.tick() < scenario.steps {
        if stop.load(Ordering::Relaxed) {
            return Err(SimError::Interrupted {
                tick: simulation.tick(),
            });
        }
        simulation.step()?;
        on_tick(simulation.tick());
    }
    let tick_seconds = started.elapsed().as_secs_f64();
    tracing::info!(seconds = tick_seconds, "ticks done");
    if let Some(seconds) = simulation.phase_seconds() {
        for (phase, seconds) in crate::schedule::TickPhase::ALL.iter().zip(seconds) {
            tracing::info!(?phase, seconds, "phase total");
        }
    }
    drop(run_span);

    let mut tables = simulation.take_recorder().into_tables()?;
    let summaries = simulation.summaries();
    for (summary, spec) in summaries.iter().zip(&summary_specs) {
        let mut table = open(spec.name, spec.columns)?;
        for row in &summary.rows {
            let cells: Vec<Cell<'_>> = row.iter().map(|c| c.as_cell()).collect();
            table.write_row(&cells)?;
        }
        tables.push(table);
    }
    let known_tables = declared
        .iter()
        .map(|t| t.spec.name)
        .chain(summary_specs.iter().map(|s| s.name))
        .collect();
    Ok(Simulated {
        simulation,
        tables,
        summaries,
        known_tables,
        setup_seconds,
        tick_seconds,
    })
}

/// The manifest of a finished run whose resolved scenario is `resolved` and whose
/// outputs are `files`.
fn manifest_of(
    simulated: &mut Simulated,
    scenario: &Scenario,
    scenario_source: &str,
    resolved: &str,
    files: Vec<ManifestFile>,
) -> Manifest {
    let world = simulated.simulation.world_mut();
    let mechanisms = scenario
        .mechanisms
        .iter()
        .map(|config| {
            let mechanism = config.as_mechanism();
            ManifestMechanism {
                kind: mechanism.kind(),
                population: mechanism.population().into_iter().collect(),
                accounting_residual: mechanism.accounting_residual(world),
                figures: mechanism.run_figures(world).into_iter().collect(),
            }
        })
        .collect();
    Manifest {
        dealersim_version: env!("CARGO_PKG_VERSION"),
        scenario_name: scenario.name.clone(),
        scenario_source: scenario_source.to_string(),
        scenario_sha256: sha256_hex(resolved.as_bytes()),
        seed: scenario.seed,
        steps: scenario.steps,
        mechanisms,
        rng: "Xoshiro256++ per entity, seeded by SplitMix64(seed, domain, id)",
        files,
        wall_time_seconds: simulated.tick_seconds,
    }
}

fn run_and_write(
    scenario: &Scenario,
    scenario_source: &str,
    out_dir: &Path,
    on_tick: impl FnMut(u32),
    stop: &AtomicBool,
    limits: &Limits,
) -> Result<RunReport, SimError> {
    let resolved = scenario.to_ron()?;
    let staged = std::cell::RefCell::new(None::<StagedOutput>);
    let format = match scenario.output.format {
        OutputFormat::Parquet => TableFormat::Parquet,
        OutputFormat::Csv => TableFormat::Csv,
    };
    // The stage is created once the World is built, so a scenario too large for the
    // machine is refused before the output directory is touched.
    let mut simulated = simulate(scenario, on_tick, stop, limits, |name, columns| {
        let mut staged = staged.borrow_mut();
        let stage = match &mut *staged {
            Some(stage) => stage,
            None => staged.insert(StagedOutput::create(out_dir)?),
        };
        stage.table(name, columns, format)
    })?;
    let mut staged = match staged.into_inner() {
        Some(stage) => stage,
        None => StagedOutput::create(out_dir)?,
    };
    let _write_span = tracing::info_span!("write outputs", dir = %out_dir.display()).entered();
    let writing = Instant::now();

    let mut files = Vec::new();
    for table in std::mem::take(&mut simulated.tables) {
        let finished = table.finish()?;
        files.push(manifest_entry(finished.final_path(), Some(finished.rows())));
        staged.add_table(finished);
    }
    staged.add_file("scenario.ron", resolved.as_bytes())?;
    files.push(ManifestFile {
        name: "scenario.ron".into(),
        rows: None,
    });
    files.push(ManifestFile {
        name: "manifest.json".into(),
        rows: None,
    });
    let manifest = manifest_of(&mut simulated, scenario, scenario_source, &resolved, files);
    let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    staged.add_file("manifest.json", &manifest_json)?;
    // A signal while the outputs were being finished still means "write nothing": the
    // last moment to honour it is before the commit.
    if stop.load(Ordering::Relaxed) {
        return Err(SimError::Interrupted {
            tick: simulated.simulation.tick(),
        });
    }
    let files = staged.commit()?;
    let output_seconds = writing.elapsed().as_secs_f64();
    tracing::info!(
        files = files.len(),
        seconds = output_seconds,
        "outputs committed"
    );
    remove_stale_tables(out_dir, &simulated.known_tables, &files);
    Ok(RunReport {
        timing: RunTiming {
            setup_seconds: simulated.setup_seconds,
            tick_seconds: simulated.tick_seconds,
            output_seconds,
        },
        summaries: simulated.summaries,
        manifest,
        files,
    })
}

/// What [`run_in_memory`] produced: every table as columns, with the summaries and the
/// manifest a run to a directory would have written.
#[derive(Debug)]
pub struct MemoryRun {
    /// The tables the scenario writes, in the order a run to a directory writes them:
    /// each mechanism's declared tables, then each mechanism's summary table.
    pub tables: Vec<MemoryTable>,
    /// Each mechanism's results, in scenario order.
    pub summaries: Vec<Summary>,
    /// The manifest; its `files` name the tables (by table name, without extension).
    pub manifest: Manifest,
    /// The scenario with every default filled in, as `scenario.ron` holds it.
    pub resolved_scenario: String,
    /// Where the run's time went.
    pub timing: RunTiming,
}

/// Runs `scenario` like [`run_to_directory_until`] but keeps every table in memory
/// (nothing is written anywhere): the same rows, in the same order, as the files a run
/// to a directory writes. The format in `output` is ignored.
///
/// # Errors
/// [`SimError`] from building or running, and [`SimError::Interrupted`] once `stop` is
/// set.
pub fn run_in_memory(
    scenario: &Scenario,
    scenario_source: &str,
    on_tick: impl FnMut(u32),
    stop: &AtomicBool,
    limits: &Limits,
) -> Result<MemoryRun, SimError> {
    let resolved = scenario.to_ron()?;
    let mut simulated = simulate(scenario, on_tick, stop, limits, TableWriter::in_memory)?;
    let writing = Instant::now();
    let tables = std::mem::take(&mut simulated.tables)
        .into_iter()
        .map(TableWriter::into_memory)
        .collect::<Result<Vec<_>, _>>()?;
    let files = tables
        .iter()
        .map(|t| ManifestFile {
            name: t.name.clone(),
            rows: Some(t.rows() as u64),
        })
        .collect();
    let manifest = manifest_of(&mut simulated, scenario, scenario_source, &resolved, files);
    Ok(MemoryRun {
        tables,
        summaries: simulated.summaries,
        manifest,
        resolved_scenario: resolved,
        timing: RunTiming {
            setup_seconds: simulated.setup_seconds,
            tick_seconds: simulated.tick_seconds,
            output_seconds: writing.elapsed().as_secs_f64(),
        },
    })
}

/// Table files an earlier run may have left in `dir` that this run did not write (say
/// `trades.parquet` from a run with trades on, or the other format's files): removed so
/// that the directory describes one run only. Only the names of tables this scenario's
/// mechanisms declare are touched, and failures to remove are logged, not fatal (the run
/// itself succeeded).
fn remove_stale_tables(dir: &Path, known: &[&str], written: &[PathBuf]) {
    for stem in known {
        for format in [TableFormat::Parquet, TableFormat::Csv] {
            let path = dir.join(format!("{stem}.{}", format.extension()));
            if path.exists()
                && !written.contains(&path)
                && let Err(error) = std::fs::remove_file(&path)
            {
                tracing::warn!("cannot remove stale output {}: {error}", path.display());
            }
        }
    }
}

fn manifest_entry(path: &Path, rows: Option<u64>) -> ManifestFile {
    ManifestFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
    }
}
