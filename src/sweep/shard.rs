//! Running one shard of a sweep: its cells one after another, each written atomically to
//! `DIR/cells/<id>/`, skipping (with `--resume`) those already complete.
//!
//! Shard `i` of `n` runs the cells whose number is ≡ i (mod n). Round-robin rather than
//! contiguous blocks because grids are usually ordered by size (populations, horizons):
//! blocks would give the last shard all the largest cells, while every residue class
//! takes an even share of each axis.
//!
//! A cell is complete when its `cell.json` is there: the run's own files are committed
//! first (tables, summaries, `scenario.ron`, `manifest.json`), and `cell.json` (the
//! cell's values, seed, timing and summary rows) is committed last, by rename, so a cell
//! killed at any moment has no `cell.json` and is run again.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Plan, Sweep, SweepCell, SweepError, list_ids};
use crate::experiments::Progress;
use crate::output::row::OwnedCell;
use crate::output::staging::remove_stale_staging;
use crate::output::table::StagedOutput;
use crate::sim::resources::Limits;
use crate::sim::{RunTiming, SimError, run_to_directory_until};

/// The file whose presence marks a cell complete.
pub const CELL_RECORD: &str = "cell.json";

/// The plan file every output directory of a sweep holds.
pub const PLAN_FILE: &str = "sweep.json";

/// One shard of `count`: the cells whose number is ≡ `index` (mod `count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0.
    pub index: u32,
    /// ≥ 1.
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` (0 ≤ i < n).
    ///
    /// # Errors
    /// What is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("--shard `{text}`: write i/n with 0 ≤ i < n, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// The shard of a Slurm array task, from its environment (`var` reads a variable):
    /// task `SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`, counted from
    /// `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP` (so `--array=1-8` and
    /// `--array=0-14:2` map to shards 0..7 too). `None` outside an array job.
    ///
    /// # Errors
    /// A task ID without a count, or values that do not fit together.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let number = |name: &str, default: Option<u64>| -> Result<u64, String> {
            match var(name) {
                Some(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}=`{text}` is not a whole number")),
                None => default.ok_or_else(|| {
                    format!("SLURM_ARRAY_TASK_ID is set but {name} is not; pass --shard i/n")
                }),
            }
        };
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("SLURM_ARRAY_TASK_ID=`{id}` is not a whole number"))?;
        let count = number("SLURM_ARRAY_TASK_COUNT", None)?;
        let min = number("SLURM_ARRAY_TASK_MIN", Some(0))?;
        let step = number("SLURM_ARRAY_TASK_STEP", Some(1))?.max(1);
        let offset = id
            .checked_sub(min)
            .filter(|o| o % step == 0)
            .ok_or_else(|| {
                format!("SLURM_ARRAY_TASK_ID={id} is not in the array (min {min}, step {step})")
            })?;
        let index = offset / step;
        if count == 0 || index >= count || count > u64::from(u32::MAX) {
            return Err(format!(
                "SLURM_ARRAY_TASK_ID={id} is task {index} but SLURM_ARRAY_TASK_COUNT={count}"
            ));
        }
        // Both below u32::MAX, checked above.
        Ok(Some(Self {
            index: index as u32,
            count: count as u32,
        }))
    }

    /// Whether cell `index` is this shard's.
    pub fn owns(&self, index: u64) -> bool {
        index % u64::from(self.count) == u64::from(self.index)
    }
}

/// What a cell leaves in `cell.json`: the cell, its values, where its time went and its
/// summary rows (what `merge` gathers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// The sweep's hash.
    pub sweep_sha256: String,
    /// The cell's number.
    pub cell: u64,
    /// Its directory name.
    pub id: String,
    /// The replication.
    pub seed_index: u32,
    /// The scenario seed.
    pub seed: u64,
    /// The swept values, by path.
    pub values: Vec<(String, Value)>,
    /// SHA-256 of the cell's resolved scenario (as in its manifest).
    pub scenario_sha256: String,
    /// The shard that ran it.
    pub shard: String,
    /// Setup, ticks and outputs.
    pub timing: RunTiming,
    /// The whole cell, from building its scenario to committing `cell.json`'s neighbours.
    pub total_seconds: f64,
    /// Each mechanism's summary rows, in scenario order.
    pub summaries: Vec<SummaryRecord>,
}

/// One mechanism's summary rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// The summary table's name.
    pub table: String,
    /// Its rows, in column order.
    pub rows: Vec<Vec<OwnedCell>>,
}

/// What a shard did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardReport {
    /// The shard's cells.
    pub cells: u64,
    /// Cells run now.
    pub ran: Vec<u64>,
    /// Cells already complete, skipped (`--resume`).
    pub skipped: Vec<u64>,
}

/// Runs `shard`'s cells of `sweep` into `out` (`out/cells/<id>/`), one after another,
/// each with every thread. With `resume`, cells already complete are skipped; without it
/// they are an error (before anything runs). `progress` hears the cells done (run or
/// skipped) and may stop the shard between ticks: the cell under way is abandoned (its
/// staging removed), those completed are kept.
///
/// # Errors
/// [`SweepError::OutputDir`] if `out` holds another sweep or, without `resume`, complete
/// cells of this shard; [`SweepError::Cell`] if a cell fails; [`SweepError::Interrupted`].
pub fn run_shard(
    sweep: &Sweep,
    shard: Shard,
    out: &Path,
    resume: bool,
    limits: &Limits,
    progress: &Progress<'_>,
) -> Result<ShardReport, SweepError> {
    write_plan(sweep, out)?;
    let mine: Vec<u64> = (0..sweep.cell_count()).filter(|&i| shard.owns(i)).collect();
    remove_stale_cell_staging(sweep, shard, out);
    // One pass splits the shard's cells into complete and still to run (no per-cell
    // search of the complete ones, which would be quadratic in a large shard).
    let (complete, to_run): (Vec<u64>, Vec<u64>) = mine.iter().partition(|&&i| {
        read_record(&cell_dir(out, sweep, i)).is_ok_and(|r| r.sweep_sha256 == sweep.sha256)
    });
    if !resume && !complete.is_empty() {
        return Err(SweepError::OutputDir(format!(
            "{} cell{} of shard {shard} {} already complete in `{}` ({}): pass --resume to skip {}, or choose another --out",
            complete.len(),
            if complete.len() == 1 { "" } else { "s" },
            if complete.len() == 1 { "is" } else { "are" },
            out.display(),
            list_ids(&complete, sweep.cell_count()),
            if complete.len() == 1 { "it" } else { "them" },
        )));
    }
    let mut report = ShardReport {
        cells: mine.len() as u64,
        ran: Vec::new(),
        skipped: complete.clone(),
    };
    let mut done = complete.len() as u64;
    progress.done(done);
    let never = AtomicBool::new(false);
    let stop = progress.stop_flag().unwrap_or(&never);
    for index in to_run {
        let cell = sweep.cell(index);
        match run_cell(sweep, &cell, shard, out, limits, stop) {
            Ok(()) => {}
            Err(SweepError::Cell {
                source: SimError::Interrupted { .. },
                ..
            }) => {
                return Err(SweepError::Interrupted {
                    completed: report.ran.len() as u64,
                });
            }
            Err(error) => return Err(error),
        }
        report.ran.push(index);
        done += 1;
        progress.done(done);
    }
    Ok(report)
}

/// The directory of cell `index`.
pub fn cell_dir(out: &Path, sweep: &Sweep, index: u64) -> PathBuf {
    out.join("cells").join(sweep.cell_id(index))
}

/// Reads a cell's record.
///
/// # Errors
/// A message when it is missing or unreadable.
pub fn read_record(dir: &Path) -> Result<CellRecord, String> {
    let path = dir.join(CELL_RECORD);
    // The tool's own file: not capped like the inputs a person writes.
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_cell(
    sweep: &Sweep,
    cell: &SweepCell,
    shard: Shard,
    out: &Path,
    limits: &Limits,
    stop: &AtomicBool,
) -> Result<(), SweepError> {
    let started = Instant::now();
    let id = sweep.cell_id(cell.index);
    let failed = |source: SimError| SweepError::Cell {
        id: id.clone(),
        source,
    };
    let scenario = sweep.scenario_of(cell).map_err(|(path, message)| {
        failed(SimError::Invalid(vec![crate::scenario::Problem {
            path,
            message,
        }]))
    })?;
    let dir = cell_dir(out, sweep, cell.index);
    let label = format!("{} (sweep cell {id})", sweep.file.display());
    let run =
        run_to_directory_until(&scenario, &label, &dir, |_| {}, stop, limits).map_err(failed)?;
    let record = CellRecord {
        sweep_sha256: sweep.sha256.clone(),
        cell: cell.index,
        id: id.clone(),
        seed_index: cell.seed_index,
        seed: cell.seed,
        values: sweep
            .values_of(cell)
            .map(|(axis, value)| (axis.path.to_string(), value.clone()))
            .collect(),
        scenario_sha256: run.manifest.scenario_sha256.clone(),
        shard: shard.to_string(),
        timing: run.timing,
        total_seconds: started.elapsed().as_secs_f64(),
        summaries: run
            .summaries
            .iter()
            .zip(&scenario.mechanisms)
            .map(|(summary, config)| SummaryRecord {
                table: config.as_mechanism().summary_table().name.to_owned(),
                rows: summary.rows.clone(),
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
    let mut staged = StagedOutput::create(&dir)?;
    staged.add_file(CELL_RECORD, &json)?;
    staged.commit()?;
    Ok(())
}

/// Removes the staging that killed runs of this shard's cells left in `out/cells`, those
/// of cells that completed before the kill included (they are skipped, so their own
/// run would never clean it).
fn remove_stale_cell_staging(sweep: &Sweep, shard: Shard, out: &Path) {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return;
    };
    let mut cells: Vec<u64> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name
                .strip_prefix('.')?
                .split_once(".staging-")?
                .0
                .to_owned();
            id.parse::<u64>().ok()
        })
        .filter(|&i| i < sweep.cell_count() && shard.owns(i))
        .collect();
    cells.dedup();
    for index in cells {
        for removed in remove_stale_staging(&cell_dir(out, sweep, index), false) {
            tracing::info!(
                "removed the staging of a killed cell: {}",
                removed.display()
            );
        }
    }
}

/// Writes `sweep.json` into `out`, or checks that the one there is this sweep's.
fn write_plan(sweep: &Sweep, out: &Path) -> Result<(), SweepError> {
    let path = out.join(PLAN_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(SweepError::Io {
                action: "read the plan",
                path,
                source,
            });
        }
    };
    if let Some(text) = existing {
        return match serde_json::from_str::<Plan>(&text) {
            Ok(plan) if plan.sweep_sha256 == sweep.sha256 => Ok(()),
            Ok(plan) => Err(SweepError::OutputDir(format!(
                "`{}` holds the cells of another sweep (`{}`, or this file since changed): choose another --out, or remove it",
                out.display(),
                plan.sweep_file
            ))),
            Err(e) => Err(SweepError::OutputDir(format!(
                "`{}` is not a sweep's plan ({e}): choose another --out",
                path.display()
            ))),
        };
    }
    let json = serde_json::to_vec_pretty(&sweep.plan()).unwrap_or_default();
    // Shards started together all write the same bytes; each rename is atomic.
    let mut staged = StagedOutput::create(out)?;
    staged.add_file(PLAN_FILE, &json)?;
    staged.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "0/0", "1", "a/2", "-1/3", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for cell in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.owns(cell)).count(), 1);
        }
        assert!(shards[1].owns(4) && shards[1].owns(7));
    }

    #[test]
    fn slurm_array_tasks_map_to_shards() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Shard::from_slurm(env(&[])), Ok(None));
        let shard = |pairs| Shard::from_slurm(env(pairs)).map(|s| s.map(|s| s.to_string()));
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "8")
            ]),
            Ok(Some("3/8".into()))
        );
        // --array=1-8
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "8"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("SLURM_ARRAY_TASK_MIN", "1")
            ]),
            Ok(Some("7/8".into()))
        );
        // --array=0-14:2
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "14"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("SLURM_ARRAY_TASK_STEP", "2")
            ]),
            Ok(Some("7/8".into()))
        );
        for bad in [
            &[("SLURM_ARRAY_TASK_ID", "3")][..],
            &[
                ("SLURM_ARRAY_TASK_ID", "8"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
            ],
            &[
                ("SLURM_ARRAY_TASK_ID", "x"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
            ],
            &[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
            ],
            &[
                ("SLURM_ARRAY_TASK_ID", "0"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
            ],
        ] {
            assert!(Shard::from_slurm(env(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn summary_cells_survive_json_exactly() {
        let cells = vec![
            OwnedCell::F64(0.1 + 0.2),
            OwnedCell::F64(-0.0),
            OwnedCell::F64(f64::NAN),
            OwnedCell::F64(f64::INFINITY),
            OwnedCell::F64(f64::NEG_INFINITY),
            OwnedCell::F64(f64::MIN_POSITIVE / 3.0),
            OwnedCell::U64(u64::MAX),
            OwnedCell::Str("MM0".into()),
        ];
        let json = serde_json::to_string(&cells).expect("serialise");
        let back: Vec<OwnedCell> = serde_json::from_str(&json).expect("parse");
        for (a, b) in cells.iter().zip(&back) {
            match (a, b) {
                (OwnedCell::F64(x), OwnedCell::F64(y)) => {
                    assert!(
                        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                        "{x} {y}"
                    )
                }
                _ => assert_eq!(a, b),
            }
        }
    }
}
