//! Sweeps: a grid of field overrides × seeds over a base scenario, run as numbered cells
//! that any number of shards (Slurm array tasks, say) share out, resumable, and merged
//! into one table.
//!
//! A sweep file (`Sweep(...)` in RON) names a base scenario of any mechanism, fields set
//! in every cell (`set`), the grid (`grid`: field path → values) and a number of seeds.
//! Cells are the grid's points in row-major order (the first axis varies slowest) times
//! the seeds (innermost): cell `point · seeds + r`. Replication `r` of every point uses
//! the seed derived from (sweep seed, r), so points are compared on common random numbers.
//!
//! Everything is checked before any cell runs: every path against the base scenario,
//! every grid point's scenario against the validation rules and the machine's memory.
//! Running a shard is in [`shard`], the merge in [`merge`].

pub mod merge;
pub mod path;
pub mod shard;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::experiments::replication_seed;
use crate::output::manifest::sha256_hex;
use crate::output::table::ColumnType;
use crate::scenario::load::{parse_ron, parse_scenario, read_input};
use crate::scenario::locate::{FieldLocations, SourcePosition};
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::resources::Limits;

pub use merge::{MergeReport, merge};
pub use path::FieldPath;
pub use shard::{Shard, ShardReport, run_shard};

/// The most cells one sweep may have: each is a directory of outputs, and a sweep larger
/// than this is better split into several.
pub const MAX_CELLS: u64 = 1_000_000;

/// Columns every merged table starts with; a swept path may not take these names.
pub const CELL_COLUMNS: [&str; 3] = ["cell", "seed_index", "seed"];

/// A sweep file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Sweep")]
pub struct SweepConfig {
    /// The base scenario, as a path relative to the sweep file.
    pub scenario: PathBuf,
    /// Replications of every grid point. Default: 1. Must be ≥ 1.
    #[serde(default = "one")]
    pub seeds: u32,
    /// Seed from which replication r's scenario seed is derived. Default: the base
    /// scenario's seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fields set to one value in every cell (path: value), before the grid's.
    #[serde(default)]
    pub set: Entries<Value>,
    /// The grid: each path with the values it takes. Cells are every combination.
    #[serde(default)]
    pub grid: Entries<Vec<Value>>,
}

fn one() -> u32 {
    1
}

/// A RON map kept in file order (the order decides the cell numbering and the columns),
/// with each key at most once.
#[derive(Clone, Debug, Default)]
pub struct Entries<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from field paths (strings) to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("`{key}` is given twice")));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

/// One swept field: its path, its values and the column type they share.
#[derive(Clone, Debug)]
pub struct Axis {
    /// The field.
    pub path: FieldPath,
    /// Its values, in file order.
    pub values: Vec<Value>,
    /// The merged tables' column type for it.
    pub column: ColumnType,
}

/// A checked sweep, ready to run: the base scenario and everything needed to build any
/// cell's scenario.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file.
    pub file: PathBuf,
    /// The base scenario file: the sweep's `scenario`, resolved beside the sweep file.
    pub base_file: PathBuf,
    /// The base scenario.
    pub base: Scenario,
    // Private so that a built sweep keeps what the checks established (seeds ≥ 1, every
    // axis non-empty), on which the cell arithmetic relies.
    seeds: u32,
    seed: u64,
    set: Vec<(FieldPath, Value)>,
    axes: Vec<Axis>,
    /// SHA-256 of the plan (base scenario, overrides, grid, seeds): cells and output
    /// directories of different sweeps are never mixed up.
    pub sha256: String,
    base_tree: Value,
}

/// One cell of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepCell {
    /// Its number, from 0.
    pub index: u64,
    /// The value index on each axis.
    pub point: Vec<usize>,
    /// The replication.
    pub seed_index: u32,
    /// The scenario seed.
    pub seed: u64,
}

/// A problem found in a sweep, where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepProblem {
    /// The file it is in (the sweep file or the base scenario).
    pub file: PathBuf,
    /// Line and column, when known.
    pub position: Option<SourcePosition>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SweepProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(
                f,
                "{}:{}:{}  {}",
                self.file.display(),
                p.line,
                p.column,
                self.message
            ),
            None => write!(f, "{}  {}", self.file.display(), self.message),
        }
    }
}

/// Why a sweep could not be loaded, run or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The sweep file is not valid RON of the schema.
    #[error("cannot parse sweep `{}`\n  --> {}:{}:{}{}: {message}", path.display(), path.display(), position.line, position.column, if field_path.is_empty() { String::new() } else { format!(" at `{field_path}`") })]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped.
        position: SourcePosition,
        /// The field path there.
        field_path: String,
        /// The parser's message.
        message: String,
    },
    /// The base scenario is not usable on its own.
    #[error("the sweep's base scenario: {0}")]
    Base(#[from] ScenarioError),
    /// Paths, values or cells that do not work, each located.
    #[error("invalid sweep `{}`: {} problem{}{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" }, render_problems(problems))]
    Invalid {
        /// The sweep file.
        path: PathBuf,
        /// Every problem.
        problems: Vec<SweepProblem>,
    },
    /// The output directory holds another sweep's cells, or cells this shard would
    /// overwrite without `--resume`.
    #[error("{0}")]
    OutputDir(String),
    /// A cell's run failed.
    #[error("cell {id} failed: {source}")]
    Cell {
        /// The cell's id.
        id: String,
        /// What failed.
        source: crate::sim::SimError,
    },
    /// Stopped by a signal; the cells completed before it are kept.
    #[error("interrupted after {completed} cell{} of this shard completed; `--resume` continues", if *completed == 1 { "" } else { "s" })]
    Interrupted {
        /// Cells this process completed.
        completed: u64,
    },
    /// The merge found missing, duplicate or foreign cells.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// Writing the merged tables failed; nothing partial was left.
    #[error(transparent)]
    Output(#[from] crate::output::table::OutputError),
}

impl Sweep {
    /// Reads and checks the sweep file at `path` and its base scenario, and checks every
    /// grid point's scenario (validation rules and `limits`), before anything runs.
    ///
    /// # Errors
    /// [`SweepError`] naming the file, line and column of every problem.
    pub fn load(path: &Path, limits: &Limits) -> Result<Self, SweepError> {
        let source = read_input(path).map_err(|source| SweepError::Io {
            action: "read sweep",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&source, path, limits)
    }

    /// As [`load`](Self::load), from the sweep file's text (`path` names it and anchors
    /// the base scenario's relative path).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(source: &str, path: &Path, limits: &Limits) -> Result<Self, SweepError> {
        Self::parse_with_base(source, path, limits, read_input)
    }

    /// As [`parse`](Self::parse), reading the base scenario's text (at the path the sweep
    /// names, joined to the sweep file's folder) with `read_base`: the fuzz target serves
    /// a fixed scenario whatever path the input names.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse_with_base(
        source: &str,
        path: &Path,
        limits: &Limits,
        read_base: impl FnOnce(&Path) -> std::io::Result<String>,
    ) -> Result<Self, SweepError> {
        let config: SweepConfig = parse_ron(source).map_err(|f| SweepError::Parse {
            path: path.to_path_buf(),
            position: f.position,
            field_path: f.field_path,
            message: f.message,
        })?;
        let base_file = path
            .parent()
            .unwrap_or(Path::new(""))
            .join(&config.scenario);
        let mut checker = SweepChecker::new(path, source);
        let base_source = match read_base(&base_file) {
            Ok(text) => text,
            Err(error) => {
                checker.fail(
                    "scenario",
                    format!("scenario: cannot read `{}`: {error}", base_file.display()),
                );
                return Err(checker.into_error());
            }
        };
        let base = parse_scenario(&base_source, &base_file)?;
        crate::scenario::load::check(&base, &base_source, &base_file)?;
        checker.build(config, base, base_file, limits)
    }

    /// Replications per grid point (≥ 1).
    pub fn seeds(&self) -> u32 {
        self.seeds
    }

    /// The seed replication seeds derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The grid's axes, slowest first (each with at least one value).
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// Fields set in every cell.
    pub fn set(&self) -> &[(FieldPath, Value)] {
        &self.set
    }

    /// Number of cells: grid points × seeds.
    pub fn cell_count(&self) -> u64 {
        self.point_count() * u64::from(self.seeds)
    }

    /// Number of grid points (1 for an empty grid).
    pub fn point_count(&self) -> u64 {
        self.axes.iter().map(|a| a.values.len() as u64).product()
    }

    /// The cell numbered `index` (< [`cell_count`](Self::cell_count)).
    pub fn cell(&self, index: u64) -> SweepCell {
        let seeds = u64::from(self.seeds);
        // Bounded by `seeds`, a u32.
        let seed_index = (index % seeds) as u32;
        let mut rest = index / seeds;
        let mut point = vec![0; self.axes.len()];
        for (slot, axis) in point.iter_mut().zip(&self.axes).rev() {
            let n = axis.values.len() as u64;
            // Bounded by the axis length, a usize.
            *slot = (rest % n) as usize;
            rest /= n;
        }
        SweepCell {
            index,
            point,
            seed_index,
            seed: replication_seed(self.seed, seed_index),
        }
    }

    /// The cell's directory name: its number, zero-padded so that names sort in order.
    pub fn cell_id(&self, index: u64) -> String {
        cell_id(index, self.cell_count())
    }

    /// The cell's swept values, by axis.
    pub fn values_of<'a>(
        &'a self,
        cell: &SweepCell,
    ) -> impl Iterator<Item = (&'a Axis, &'a Value)> {
        self.axes
            .iter()
            .zip(cell.point.clone())
            .map(|(axis, i)| (axis, &axis.values[i]))
    }

    /// The cell's scenario: the base with `set`, then the cell's grid values, and the
    /// cell's seed.
    ///
    /// # Errors
    /// The field path and serde's message when a value does not fit its field (checked
    /// for every point by [`load`](Self::load), so only a hand-built cell can fail).
    pub fn scenario_of(&self, cell: &SweepCell) -> Result<Scenario, (String, String)> {
        let mut tree = self.base_tree.clone();
        for (path, value) in &self.set {
            path.set(&mut tree, value.clone())
                .map_err(|m| (path.to_string(), m))?;
        }
        for (axis, value) in self.values_of(cell) {
            axis.path
                .set(&mut tree, value.clone())
                .map_err(|m| (axis.path.to_string(), m))?;
        }
        let mut scenario = from_tree(tree)?;
        scenario.seed = cell.seed;
        Ok(scenario)
    }

    /// The plan written to `sweep.json` in every output directory: enough for `merge` to
    /// know every cell and every column without the sweep file.
    pub fn plan(&self) -> Plan {
        Plan {
            sweep_sha256: self.sha256.clone(),
            sweep_file: self.file.display().to_string(),
            base_scenario: self.base.to_ron().unwrap_or_default(),
            seeds: self.seeds,
            seed: self.seed,
            cells: self.cell_count(),
            set: self
                .set
                .iter()
                .map(|(p, v)| (p.to_string(), v.clone()))
                .collect(),
            axes: self
                .axes
                .iter()
                .map(|a| PlanAxis {
                    path: a.path.to_string(),
                    values: a.values.clone(),
                    column: a.column.name().to_owned(),
                })
                .collect(),
        }
    }
}

/// What every output directory of a sweep records about it (`sweep.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The sweep's hash; all cells and directories of one sweep carry it.
    pub sweep_sha256: String,
    /// The sweep file as given on the command line.
    pub sweep_file: String,
    /// The base scenario, resolved (every default written).
    pub base_scenario: String,
    /// Replications per grid point.
    pub seeds: u32,
    /// The seed replication seeds derive from.
    pub seed: u64,
    /// Number of cells.
    pub cells: u64,
    /// Fields set in every cell.
    pub set: Vec<(String, Value)>,
    /// The grid.
    pub axes: Vec<PlanAxis>,
}

/// One axis of a [`Plan`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanAxis {
    /// The field path.
    pub path: String,
    /// Its values.
    pub values: Vec<Value>,
    /// The column type (`f64`, `i64`, `string`, `bool`).
    pub column: String,
}

/// The directory name of cell `index` of `cells`: its number, zero-padded to at least
/// four digits so that names sort in order.
pub fn cell_id(index: u64, cells: u64) -> String {
    let width = digits(cells.saturating_sub(1)).max(4);
    format!("{index:0width$}")
}

/// Up to ten cell ids of a sweep of `total` cells, then how many more.
pub(crate) fn list_ids(cells: &[u64], total: u64) -> String {
    let mut shown: Vec<String> = cells.iter().take(10).map(|&i| cell_id(i, total)).collect();
    if cells.len() > 10 {
        shown.push(format!("and {} more", cells.len() - 10));
    }
    shown.join(", ")
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn to_tree(scenario: &Scenario) -> Result<Value, String> {
    serde_json::to_value(scenario).map_err(|e| e.to_string())
}

fn from_tree(tree: Value) -> Result<Scenario, (String, String)> {
    serde_path_to_error::deserialize::<_, Scenario>(tree).map_err(|e| {
        let path = crate::scenario::load::field_path(e.path(), true);
        (path, e.into_inner().to_string())
    })
}

fn as_float(value: &Value) -> Value {
    value
        .as_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| value.clone(), Value::Number)
}

/// The column type a list of grid values shares: all integers → i64, numbers → f64,
/// all strings → string, all booleans → bool; anything else is refused.
fn column_type(values: &[Value]) -> Result<ColumnType, String> {
    let all = |f: fn(&Value) -> bool| values.iter().all(f);
    if all(|v| v.is_i64()) {
        Ok(ColumnType::I64)
    } else if all(Value::is_number) {
        // u64 above i64::MAX and floats both go to f64; say so rather than lose digits.
        if values.iter().any(|v| v.is_u64() && !v.is_i64()) {
            return Err("integers above 2^63 cannot be swept".into());
        }
        Ok(ColumnType::F64)
    } else if all(Value::is_string) {
        Ok(ColumnType::Utf8)
    } else if all(Value::is_boolean) {
        Ok(ColumnType::Bool)
    } else {
        Err("the values must all be numbers, all strings or all booleans".into())
    }
}

/// Collects a sweep's problems with their positions.
struct SweepChecker<'a> {
    file: &'a Path,
    locations: FieldLocations,
    problems: Vec<SweepProblem>,
    /// (line, column, message) of each problem, so a repeat is dropped in O(1): a big
    /// grid can report the same problem at every point.
    seen: std::collections::HashSet<(Option<(usize, usize)>, String)>,
}

/// Most problems an invalid sweep lists; the count says how many more there are.
const LISTED_PROBLEMS: usize = 50;

fn render_problems(problems: &[SweepProblem]) -> String {
    let mut out: String = problems
        .iter()
        .take(LISTED_PROBLEMS)
        .map(|p| format!("\n  --> {p}"))
        .collect();
    if problems.len() > LISTED_PROBLEMS {
        out.push_str(&format!(
            "\n  ... and {} more",
            problems.len() - LISTED_PROBLEMS
        ));
    }
    out
}

impl<'a> SweepChecker<'a> {
    fn new(file: &'a Path, source: &str) -> Self {
        Self {
            file,
            locations: FieldLocations::scan(source),
            problems: Vec::new(),
            seen: std::collections::HashSet::new(),
        }
    }

    fn fail(&mut self, written_at: &str, message: String) {
        let position = self.locations.nearest(written_at).map(|(p, _)| p);
        if self
            .seen
            .insert((position.map(|p| (p.line, p.column)), message.clone()))
        {
            self.problems.push(SweepProblem {
                file: self.file.to_path_buf(),
                position,
                message,
            });
        }
    }

    fn finish<T>(self, value: T) -> Result<T, SweepError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.into_error())
        }
    }

    fn into_error(self) -> SweepError {
        SweepError::Invalid {
            path: self.file.to_path_buf(),
            problems: self.problems,
        }
    }

    fn build(
        mut self,
        config: SweepConfig,
        base: Scenario,
        base_file: PathBuf,
        limits: &Limits,
    ) -> Result<Sweep, SweepError> {
        let base_tree = match to_tree(&base) {
            Ok(tree) if from_tree(tree.clone()).as_ref().ok() == Some(&base) => tree,
            _ => {
                self.fail(
                    "scenario",
                    "the base scenario does not survive the override machinery unchanged \
                     (a value serde cannot carry exactly); please report this"
                        .into(),
                );
                return Err(self.into_error());
            }
        };
        if config.seeds == 0 {
            self.fail("seeds", "seeds: must be ≥ 1".into());
        }
        let mut seen = HashSet::new();
        let set = self.paths(&config.set.0, "set", &base_tree, &mut seen, |v| {
            vec![v.clone()]
        });
        let axes_paths = self.paths(&config.grid.0, "grid", &base_tree, &mut seen, Clone::clone);
        let mut axes = Vec::new();
        for (path, values) in axes_paths {
            let at = format!("grid[{path}]");
            if values.is_empty() {
                self.fail(&at, format!("grid `{path}`: give at least one value"));
                continue;
            }
            match column_type(&values) {
                Ok(column) => axes.push(Axis {
                    path,
                    // A number axis with both integers and floats is all floats, so that
                    // every cell's value and its merged column agree.
                    values: if column == ColumnType::F64 {
                        values.iter().map(as_float).collect()
                    } else {
                        values
                    },
                    column,
                }),
                Err(message) => self.fail(&at, format!("grid `{path}`: {message}")),
            }
        }
        let set: Vec<(FieldPath, Value)> = set
            .into_iter()
            .filter_map(|(p, mut v)| v.pop().map(|v| (p, v)))
            .collect();
        let points = axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64));
        match points.and_then(|p| p.checked_mul(u64::from(config.seeds))) {
            Some(cells) if cells <= MAX_CELLS => {}
            _ => self.fail(
                if config.grid.0.is_empty() {
                    "seeds"
                } else {
                    "grid"
                },
                format!("the sweep has more than {MAX_CELLS} cells; split it into several sweeps"),
            ),
        }
        self.check_column_names(&base, &axes);
        if !self.problems.is_empty() {
            return Err(self.into_error());
        }
        let seed = config.seed.unwrap_or(base.seed);
        let mut sweep = Sweep {
            file: self.file.to_path_buf(),
            base_file,
            base,
            seeds: config.seeds,
            seed,
            set,
            axes,
            sha256: String::new(),
            base_tree,
        };
        sweep.sha256 = sha256_hex(
            serde_json::to_string(&Plan {
                sweep_sha256: String::new(),
                sweep_file: String::new(),
                ..sweep.plan()
            })
            .unwrap_or_default()
            .as_bytes(),
        );
        self.check_values(&sweep);
        if self.problems.is_empty() {
            self.check_points(&sweep, limits);
        }
        self.finish(sweep)
    }

    /// Parses and checks each path of `entries` (written under `section`).
    fn paths<V, T>(
        &mut self,
        entries: &[(String, V)],
        section: &str,
        tree: &Value,
        seen: &mut HashSet<String>,
        values: impl Fn(&V) -> Vec<T>,
    ) -> Vec<(FieldPath, Vec<T>)>
    where
        T: std::borrow::Borrow<Value>,
    {
        let mut out = Vec::new();
        for (text, value) in entries {
            let at = format!("{section}[{text}]");
            let path = match FieldPath::parse(text) {
                Ok(path) => path,
                Err(message) => {
                    self.fail(&at, format!("{section} `{text}`: {message}"));
                    continue;
                }
            };
            if path.as_str() == "seed" {
                self.fail(
                    &at,
                    format!("{section} `seed`: the sweep sets every cell's seed; use `seeds` (replications) and `seed`"),
                );
                continue;
            }
            if !seen.insert(text.clone()) {
                self.fail(&at, format!("`{text}` is both set and swept"));
                continue;
            }
            if let Err(message) = path.check(tree) {
                self.fail(&at, format!("{section} `{text}`: {message}"));
                continue;
            }
            let values = values(value);
            let mut plain = true;
            for (i, v) in values.iter().enumerate() {
                let v = v.borrow();
                // `set` may turn an optional field off (`None`); a grid axis needs values.
                if path::is_plain(v) || (section == "set" && v.is_null()) {
                    continue;
                }
                plain = false;
                let at = if section == "grid" {
                    format!("{at}[{i}]")
                } else {
                    at.clone()
                };
                let why = if v.is_null() {
                    "NaN, infinities and None cannot be swept"
                } else {
                    "values are numbers, strings or booleans (a variant without data, like `Csv`, is written as a string: \"Csv\")"
                };
                self.fail(&at, format!("{section} `{text}`: {why}"));
            }
            if plain {
                out.push((path, values));
            }
        }
        out
    }

    fn check_column_names(&mut self, base: &Scenario, axes: &[Axis]) {
        let summary_columns: Vec<String> = base
            .mechanisms
            .iter()
            .flat_map(|m| m.as_mechanism().summary_table().columns.iter())
            .map(|c| c.name.to_string())
            .collect();
        for axis in axes {
            let name = axis.path.as_str();
            if CELL_COLUMNS.contains(&name) || summary_columns.iter().any(|c| c == name) {
                self.fail(
                    &format!("grid[{name}]"),
                    format!("grid `{name}`: the merged table already has a column of that name"),
                );
            }
        }
    }

    /// Checks that each value fits its field, one at a time on the base scenario, so that
    /// every misfit is reported (a whole cell stops at its first).
    fn check_values(&mut self, sweep: &Sweep) {
        let set = sweep.set.iter().map(|(p, v)| (p, v, format!("set[{p}]")));
        let grid = sweep.axes.iter().flat_map(|a| {
            a.values
                .iter()
                .enumerate()
                .map(move |(i, v)| (&a.path, v, format!("grid[{}][{i}]", a.path)))
        });
        for (path, value, at) in set.chain(grid).collect::<Vec<_>>() {
            let mut tree = sweep.base_tree.clone();
            let fitted = path
                .set(&mut tree, value.clone())
                .map_err(|m| (path.to_string(), m))
                .and_then(|()| from_tree(tree));
            if let Err((field, message)) = fitted {
                self.fail(&at, format!("{field}: {message}"));
            }
        }
    }

    /// Builds and checks the scenario of every grid point (seeds change no rule), the
    /// points in parallel and their problems reported in point order.
    fn check_points(&mut self, sweep: &Sweep, limits: &Limits) {
        use rayon::prelude::*;
        let seeds = u64::from(sweep.seeds);
        let found: Vec<(Vec<(String, String)>, u64)> = (0..sweep.point_count())
            .into_par_iter()
            .map(|point| point_problems(sweep, &sweep.cell(point * seeds), limits))
            .collect();
        // Each point fits the disk alone; all the cells (every shard writes into the
        // same directory) must fit it together.
        let total: u64 = found
            .iter()
            .map(|(_, bytes)| bytes.saturating_mul(seeds))
            .fold(0, u64::saturating_add);
        for (at, message) in found.into_iter().flat_map(|(problems, _)| problems) {
            self.fail(&at, message);
        }
        if let Some(free) = limits.disk_bytes
            && total > free
        {
            self.fail(
                "grid",
                format!(
                    "the sweep's {} cells would write about {} of tables, more than the {} free where they go: fewer points or seeds, or a smaller run per cell",
                    sweep.cell_count(),
                    crate::sim::resources::human(total),
                    crate::sim::resources::human(free)
                ),
            );
        }
    }
}

/// One grid point's problems, each with where it is written in the sweep file, and the
/// bytes of tables one of its cells would write.
fn point_problems(
    sweep: &Sweep,
    cell: &SweepCell,
    limits: &Limits,
) -> (Vec<(String, String)>, u64) {
    let (problems, bytes) = match sweep.scenario_of(cell) {
        Ok(scenario) => {
            // Estimates are only meaningful (and only computed) for a valid scenario.
            let problems = crate::scenario::validate(&scenario);
            if problems.is_empty() {
                (
                    crate::sim::resources::check(&scenario, limits),
                    crate::sim::resources::output_bytes(&scenario),
                )
            } else {
                (problems, 0)
            }
        }
        Err((path, message)) => (vec![crate::scenario::Problem { path, message }], 0),
    };
    let located = problems
        .into_iter()
        .map(|problem| {
            let axis = sweep
                .values_of(cell)
                .enumerate()
                .find(|(_, (a, _))| a.path.covers(&problem.path));
            match axis {
                Some((i, (a, _))) => (
                    format!("grid[{}][{}]", a.path, cell.point[i]),
                    problem.to_string(),
                ),
                None => match sweep.set.iter().find(|(p, _)| p.covers(&problem.path)) {
                    Some((p, _)) => (format!("set[{p}]"), problem.to_string()),
                    None => {
                        let values: Vec<String> = sweep
                            .values_of(cell)
                            .map(|(a, v)| format!("{} = {v}", a.path))
                            .collect();
                        (
                            "grid".to_owned(),
                            format!("{problem} (in the cell where {})", values.join(", ")),
                        )
                    }
                },
            }
        })
        .collect();
    (located, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"Scenario(
        seed: 5,
        steps: 3,
        mechanisms: [DealerMarket(
            investors: [Group(count: 50, p_trade: Const(0.1), size_mean: Const(2.0))],
            market_makers: [(name: "A"), (name: "B")],
        )],
    )"#;

    fn sweep(text: &str) -> Result<Sweep, SweepError> {
        sweep_over(BASE, text)
    }

    fn sweep_over(base: &str, text: &str) -> Result<Sweep, SweepError> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("base.ron"), base).expect("write");
        let limits = Limits {
            memory_bytes: None,
            ..Limits::of_this_machine(None)
        };
        Sweep::parse(text, &dir.path().join("sweep.ron"), &limits)
    }

    /// Every grid point fits the disk alone, but not all the cells together: refused.
    #[test]
    fn all_the_cells_must_fit_the_disk_together() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("base.ron"), BASE).expect("write");
        let text = r#"Sweep(scenario: "base.ron", grid: {"steps": [3, 4]}, seeds: 50)"#;
        let one = crate::sim::resources::output_bytes(
            &crate::scenario::parse_scenario(BASE, Path::new("base.ron")).expect("base"),
        );
        let limits = |disk| Limits {
            memory_bytes: None,
            disk_bytes: Some(disk),
            tables_in_memory: false,
        };
        // Room for a few cells, not for 100 of them.
        let refused = Sweep::parse(text, &dir.path().join("sweep.ron"), &limits(10 * one))
            .expect_err("too big for the disk")
            .to_string();
        assert!(
            refused.contains("the sweep's 100 cells would write about"),
            "{refused}"
        );
        Sweep::parse(text, &dir.path().join("sweep.ron"), &limits(1000 * one)).expect("fits");
    }

    impl Sweep {
        fn base_alpha_of_first_maker(&self) -> f64 {
            let m =
                crate::mechanisms::dealer_market::config_of(&self.base).expect("a dealer market");
            m.market_makers[0].alpha
        }
    }

    #[test]
    fn cells_are_numbered_row_major_with_seeds_innermost() {
        let s = sweep(
            r#"Sweep(scenario: "base.ron", seeds: 2, grid: {
                "market.volatility": [0.1, 0.2, 0.3], "mechanisms[0].market_makers[1].alpha": [1.1, 1.5]})"#,
        )
        .expect("valid");
        assert_eq!(s.cell_count(), 12);
        let cell = s.cell(7);
        // 7 = point 3 (volatility index 1, alpha index 1) · 2 seeds + replication 1.
        assert_eq!((cell.point.clone(), cell.seed_index), (vec![1, 1], 1));
        assert_eq!(cell.seed, replication_seed(5, 1));
        let scenario = s.scenario_of(&cell).expect("builds");
        assert_eq!(scenario.market.volatility, 0.2);
        assert_eq!(scenario.seed, replication_seed(5, 1));
        let m = crate::mechanisms::dealer_market::config_of(&scenario).expect("a dealer market");
        assert_eq!(m.market_makers[1].alpha, 1.5);
        assert_eq!(m.market_makers[0].alpha, s.base_alpha_of_first_maker());
        assert_eq!(s.cell_id(7), "0007");
        assert_eq!(cell_id(12_345, 100_000), "12345");
        assert_eq!(cell_id(3, 100_001), "000003");
    }

    #[test]
    fn common_random_numbers_across_points_and_a_stable_hash() {
        let text = r#"Sweep(scenario: "base.ron", seeds: 3, seed: 9, grid: {"market.volatility": [0.1, 0.2]})"#;
        let a = sweep(text).expect("valid");
        for r in 0..3 {
            assert_eq!(a.cell(r).seed, a.cell(3 + r).seed);
        }
        assert_eq!(a.sha256, sweep(text).expect("valid").sha256);
        let other = sweep(&text.replace("0.2]", "0.25]")).expect("valid");
        assert_ne!(a.sha256, other.sha256);
    }

    #[test]
    fn set_applies_to_every_cell_and_the_base_is_untouched_otherwise() {
        let s = sweep(r#"Sweep(scenario: "base.ron", set: {"steps": 7, "output.format": "Csv"})"#)
            .expect("valid");
        assert_eq!(s.cell_count(), 1);
        let scenario = s.scenario_of(&s.cell(0)).expect("builds");
        assert_eq!(scenario.steps, 7);
        assert_eq!(scenario.output.format, crate::scenario::OutputFormat::Csv);
        let mut expected = s.base.clone();
        expected.steps = 7;
        expected.output.format = crate::scenario::OutputFormat::Csv;
        expected.seed = replication_seed(5, 0);
        assert_eq!(scenario, expected);
    }

    #[test]
    fn bad_sweeps_list_every_problem() {
        let error = sweep(
            r#"Sweep(scenario: "base.ron", seeds: 0, grid: {
                "seed": [1, 2], "cell": [1], "market.volatility": [0.1, "high"]})"#,
        )
        .expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("seeds: must be ≥ 1"), "{text}");
        assert!(
            text.contains("grid `seed`: the sweep sets every cell's seed"),
            "{text}"
        );
        assert!(
            text.contains("grid `cell`: the scenario has no field `cell`"),
            "{text}"
        );
        assert!(
            text.contains("must all be numbers, all strings or all booleans"),
            "{text}"
        );
        let error = sweep(r#"Sweep(scenario: "base.ron", grid: {"steps": [1], "steps": [2]})"#)
            .expect_err("duplicate");
        assert!(
            error.to_string().contains("`steps` is given twice"),
            "{error}"
        );
        let error = sweep(r#"Sweep(scenario: "missing.ron")"#).expect_err("no base");
        assert!(error.to_string().contains("missing.ron"), "{error}");
        let error = sweep(
            r#"Sweep(scenario: "base.ron", grid: {"steps": [1,2,3,4,5,6,7,8,9,10], "market.drift": [0.0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]}, seeds: 10001)"#,
        )
        .expect_err("too many");
        assert!(
            error.to_string().contains("more than 1000000 cells"),
            "{error}"
        );
    }

    #[test]
    fn a_number_axis_mixing_integers_and_floats_is_all_floats() {
        let s = sweep(
            r#"Sweep(scenario: "base.ron", grid: {"mechanisms[0].market_makers[1].tier_penalty": [0, 1e-5]})"#,
        )
        .expect("valid");
        assert_eq!(s.axes()[0].column, ColumnType::F64);
        assert!(
            s.axes()[0].values.iter().all(|v| v.is_f64()),
            "{:?}",
            s.axes()[0].values
        );
        let ints = sweep(r#"Sweep(scenario: "base.ron", grid: {"steps": [1, 2]})"#).expect("valid");
        assert_eq!(ints.axes()[0].column, ColumnType::I64);
    }

    #[test]
    fn a_variant_name_replaces_a_variant_holding_a_value() {
        let base = BASE.replace("DealerMarket(", "DealerMarket(tier_snapshots: Every(4),");
        let s = sweep_over(
            &base,
            r#"Sweep(scenario: "base.ron", set: {"mechanisms[0].tier_snapshots": "Off"}, grid: {"steps": [2]})"#,
        )
        .expect("valid");
        let scenario = s.scenario_of(&s.cell(0)).expect("builds");
        assert!(
            scenario
                .to_ron()
                .expect("ron")
                .contains("tier_snapshots: Off")
        );
        // ... while a number sets the value the variant holds.
        let s = sweep_over(
            &base,
            r#"Sweep(scenario: "base.ron", set: {"mechanisms[0].tier_snapshots": 2})"#,
        )
        .expect("valid");
        let scenario = s.scenario_of(&s.cell(0)).expect("builds");
        assert!(
            scenario
                .to_ron()
                .expect("ron")
                .contains("tier_snapshots: Every(2)")
        );
    }

    #[test]
    fn located_errors_for_a_missing_base_nan_and_too_many_seeds() {
        let error = sweep("Sweep(\n  scenario: \"nowhere.ron\",\n)").expect_err("no base");
        let text = error.to_string();
        assert!(
            text.contains("sweep.ron:2:13  scenario: cannot read"),
            "{text}"
        );
        let error =
            sweep(r#"Sweep(scenario: "base.ron", grid: {"market.volatility": [0.1, NaN]})"#)
                .expect_err("NaN");
        assert!(
            error
                .to_string()
                .contains("NaN, infinities and None cannot be swept"),
            "{error}"
        );
        let error = sweep("Sweep(scenario: \"base.ron\",\n seeds: 4000000)").expect_err("too many");
        assert!(
            error
                .to_string()
                .contains("sweep.ron:2:9  the sweep has more than"),
            "{error}"
        );
    }
}
