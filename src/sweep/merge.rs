//! Merging a sweep's cells, from one output directory or several (one per shard or per
//! node), into one table per mechanism summary, with the grid's values as columns.
//!
//! The merged summary tables hold only what the cells computed, so the same sweep gives
//! byte-identical tables however it was sharded. Wall times differ from run to run, so
//! they go to a table of their own, `timing`, keyed by the same `cell` column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::shard::{CELL_RECORD, CellRecord, PLAN_FILE, read_record};
use super::{CELL_COLUMNS, Plan, SweepError, list_ids};
use crate::output::table::{Cell, Column, ColumnType, StagedOutput, TableFormat};
use crate::scenario::Scenario;
use crate::scenario::load::parse_ron;

/// What a merge wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeReport {
    /// Cells gathered.
    pub cells: u64,
    /// Each table written, with its rows.
    pub tables: Vec<(PathBuf, u64)>,
}

/// Gathers every cell of the sweep whose output directories are `dirs` into `out`: one
/// table per mechanism summary (named as the mechanism's summary table) with the columns
/// `cell`, `seed_index`, `seed`, one per swept path, then the summary's own; a `timing`
/// table; and the plan, `sweep.json`. All are staged and committed together.
///
/// # Errors
/// [`SweepError::Merge`] naming every missing, duplicate or foreign cell (nothing is
/// written then); [`SweepError::Output`] if writing fails.
pub fn merge(dirs: &[PathBuf], out: &Path, format: TableFormat) -> Result<MergeReport, SweepError> {
    if dirs.is_empty() {
        return Err(SweepError::Merge(
            "give at least one sweep output directory".into(),
        ));
    }
    let plan = common_plan(dirs)?;
    let base: Scenario = parse_ron(&plan.base_scenario).map_err(|f| {
        SweepError::Merge(format!(
            "the base scenario recorded in `{}` cannot be read ({}:{}: {}); merge with the dealersim version that ran the sweep",
            dirs[0].join(PLAN_FILE).display(),
            f.position.line,
            f.position.column,
            f.message
        ))
    })?;
    let records = gather(dirs, &plan)?;

    let axis_types: Vec<ColumnType> = plan.axes.iter().map(|a| axis_type(&a.column)).collect();
    let axis_columns: Vec<Column> = plan
        .axes
        .iter()
        .map(|a| Column {
            name: a.path.clone().into(),
            ty: axis_type(&a.column),
            doc: "the swept field's value in this cell",
        })
        .collect();
    let lead = |extra: &[Column]| -> Vec<Column> {
        let docs = ["cell number", "replication", "scenario seed"];
        let types = [ColumnType::U64, ColumnType::U32, ColumnType::U64];
        CELL_COLUMNS
            .iter()
            .zip(docs.iter().zip(types))
            .map(|(name, (doc, ty))| Column {
                name: (*name).into(),
                ty,
                doc,
            })
            .chain(axis_columns.iter().cloned())
            .chain(extra.iter().cloned())
            .collect()
    };

    let mut staged = StagedOutput::create(out)?;
    let mut tables = Vec::new();
    for (m, config) in base.mechanisms.iter().enumerate() {
        let spec = config.as_mechanism().summary_table();
        let mut table = staged.table(spec.name, lead(spec.columns), format)?;
        for record in records.values() {
            let summary = record.summaries.get(m).ok_or_else(|| {
                SweepError::Merge(format!(
                    "cell {} has no summary for mechanism {m}",
                    record.id
                ))
            })?;
            for row in &summary.rows {
                let mut cells = lead_cells(record, &axis_types);
                cells.extend(row.iter().map(|c| c.as_cell()));
                table.write_row(&cells)?;
            }
        }
        let finished = table.finish()?;
        tables.push((finished.final_path().to_path_buf(), finished.rows()));
        staged.add_table(finished);
    }

    let timing_columns = lead(&[
        column(
            "shard",
            ColumnType::Utf8,
            "the shard that ran the cell (i/n)",
        ),
        column(
            "setup_seconds",
            ColumnType::F64,
            "building the World and opening the tables",
        ),
        column("tick_seconds", ColumnType::F64, "stepping every tick"),
        column(
            "output_seconds",
            ColumnType::F64,
            "finishing and committing the outputs",
        ),
        column("total_seconds", ColumnType::F64, "the whole cell"),
    ]);
    let mut timing = staged.table("timing", timing_columns, format)?;
    for record in records.values() {
        let mut cells = lead_cells(record, &axis_types);
        cells.extend([
            Cell::Str(&record.shard),
            Cell::F64(record.timing.setup_seconds),
            Cell::F64(record.timing.tick_seconds),
            Cell::F64(record.timing.output_seconds),
            Cell::F64(record.total_seconds),
        ]);
        timing.write_row(&cells)?;
    }
    let finished = timing.finish()?;
    tables.push((finished.final_path().to_path_buf(), finished.rows()));
    staged.add_table(finished);
    staged.add_file(
        PLAN_FILE,
        &serde_json::to_vec_pretty(&plan).unwrap_or_default(),
    )?;
    staged.commit()?;
    Ok(MergeReport {
        cells: plan.cells,
        tables,
    })
}

fn column(name: &'static str, ty: ColumnType, doc: &'static str) -> Column {
    Column {
        name: name.into(),
        ty,
        doc,
    }
}

fn axis_type(name: &str) -> ColumnType {
    match name {
        "i64" => ColumnType::I64,
        "string" => ColumnType::Utf8,
        "bool" => ColumnType::Bool,
        _ => ColumnType::F64,
    }
}

/// Whether `value` can be written in a column of type `ty` (what `lead_cells` writes).
fn fits(value: &serde_json::Value, ty: ColumnType) -> bool {
    match ty {
        ColumnType::I64 => value.as_i64().is_some(),
        ColumnType::Utf8 => value.is_string(),
        ColumnType::Bool => value.is_boolean(),
        _ => value.as_f64().is_some(),
    }
}

/// The cells every merged row starts with; each swept value in its axis's column type.
fn lead_cells<'a>(record: &'a CellRecord, axis_types: &[ColumnType]) -> Vec<Cell<'a>> {
    let mut cells = vec![
        Cell::U64(record.cell),
        Cell::U32(record.seed_index),
        Cell::U64(record.seed),
    ];
    // `gather` refused any cell whose value does not fit its axis's type ([`fits`]), so
    // these conversions succeed.
    cells.extend(
        record
            .values
            .iter()
            .zip(axis_types)
            .map(|((_, v), ty)| match ty {
                ColumnType::I64 => Cell::I64(v.as_i64().unwrap_or_default()),
                ColumnType::Utf8 => Cell::Str(v.as_str().unwrap_or_default()),
                ColumnType::Bool => Cell::Bool(v.as_bool().unwrap_or_default()),
                _ => Cell::F64(v.as_f64().unwrap_or(f64::NAN)),
            }),
    );
    cells
}

/// The plan every directory holds, which must be one sweep's.
fn common_plan(dirs: &[PathBuf]) -> Result<Plan, SweepError> {
    let mut plan: Option<(Plan, &PathBuf)> = None;
    for dir in dirs {
        let path = dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SweepError::Merge(format!(
                "`{}` is not a sweep's output directory (no readable {PLAN_FILE}: {e})",
                dir.display()
            ))
        })?;
        let this: Plan = serde_json::from_str(&text)
            .map_err(|e| SweepError::Merge(format!("`{}`: {e}", path.display())))?;
        match &plan {
            Some((first, first_dir)) if first.sweep_sha256 != this.sweep_sha256 => {
                return Err(SweepError::Merge(format!(
                    "`{}` and `{}` hold different sweeps (`{}` and `{}`)",
                    first_dir.display(),
                    dir.display(),
                    first.sweep_file,
                    this.sweep_file
                )));
            }
            Some(_) => {}
            None => plan = Some((this, dir)),
        }
    }
    plan.map(|(p, _)| p)
        .ok_or_else(|| SweepError::Merge("no directories".into()))
}

/// Every cell's record, by number; every cell exactly once.
fn gather(dirs: &[PathBuf], plan: &Plan) -> Result<BTreeMap<u64, CellRecord>, SweepError> {
    let mut found: BTreeMap<u64, (CellRecord, &PathBuf)> = BTreeMap::new();
    let mut duplicates: Vec<String> = Vec::new();
    let mut incomplete: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for dir in dirs {
        let cells = dir.join("cells");
        let Ok(entries) = std::fs::read_dir(&cells) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // Staging directories of runs under way or killed are hidden.
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let cell_dir = cells.join(&name);
            if !cell_dir.join(CELL_RECORD).exists() {
                incomplete.push(format!("{name} (in `{}`)", dir.display()));
                continue;
            }
            let record = match read_record(&cell_dir) {
                Ok(record) => record,
                Err(message) => {
                    problems.push(format!("cell {name} cannot be read: {message}"));
                    continue;
                }
            };
            if record.sweep_sha256 != plan.sweep_sha256
                || record.cell >= plan.cells
                || record.id != name
            {
                problems.push(format!(
                    "`{}` is not a cell of this sweep",
                    cell_dir.display()
                ));
                continue;
            }
            if record.values.len() != plan.axes.len()
                || record
                    .values
                    .iter()
                    .zip(&plan.axes)
                    .any(|((p, _), a)| *p != a.path)
            {
                problems.push(format!("cell {name}'s values do not follow the grid"));
                continue;
            }
            if let Some(((path, _), a)) = record
                .values
                .iter()
                .zip(&plan.axes)
                .find(|((_, v), a)| !fits(v, axis_type(&a.column)))
            {
                problems.push(format!(
                    "cell {name}'s value of `{path}` is not of its axis's type ({})",
                    a.column
                ));
                continue;
            }
            if let Some((_, first)) = found.get(&record.cell) {
                duplicates.push(format!(
                    "{name} (in `{}` and `{}`)",
                    first.display(),
                    dir.display()
                ));
                continue;
            }
            found.insert(record.cell, (record, dir));
        }
    }
    let missing: Vec<u64> = (0..plan.cells).filter(|i| !found.contains_key(i)).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} of {} cells missing: {}{}",
            missing.len(),
            plan.cells,
            list_ids(&missing, plan.cells),
            if incomplete.is_empty() {
                String::new()
            } else {
                format!(
                    "; started but not complete: {}",
                    incomplete
                        .iter()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if !duplicates.is_empty() {
        let shown = duplicates.len().min(10);
        let more = if duplicates.len() > shown {
            format!(", and {} more", duplicates.len() - shown)
        } else {
            String::new()
        };
        problems.push(format!(
            "{} cells present twice: {}{more}",
            duplicates.len(),
            duplicates[..shown].join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(SweepError::Merge(problems.join("; ")));
    }
    Ok(found.into_iter().map(|(i, (r, _))| (i, r)).collect())
}
