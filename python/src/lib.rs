//! `dealersim._dealersim`: the Rust half of the Python package. Runs, validation and
//! experiments with the GIL released and Ctrl-C honoured between ticks; tables handed
//! over as Arrow ([`arrow`]); the quote-control batch stepped through NumPy ([`env`]).
//! The Python half (`python/dealersim/`) wraps these in the documented API.

mod arrow;
mod env;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use dealersim::Scenario;
use dealersim::experiments::{self, ExperimentError, OwnedCell, Progress};
use dealersim::output::table::{Cell, TableWriter};
use dealersim::scenario::load::{
    LocatedProblem, ScenarioError as LoadError, check, load_scenario_with_warnings, parse_scenario,
    render_invalid,
};
use dealersim::scenario::validate::{Problem, validate, warnings};
use dealersim::sim::resources::Limits;
use dealersim::sim::{SimError, run_in_memory};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrow::ArrowTable;

pyo3::create_exception!(
    _dealersim,
    ScenarioError,
    PyValueError,
    "A scenario (or experiment, or environment configuration) that cannot be used: the \
     message is the CLI's, with file, line, column and field path; `problems` lists each \
     as a dict with `line`, `column` (None where unknown), `field` and `message`."
);
pyo3::create_exception!(
    _dealersim,
    RunError,
    PyRuntimeError,
    "A run that started but failed (a model fault, an output error, a resource limit)."
);

/// How Python passed a scenario.
#[derive(Clone, Copy)]
enum Input {
    /// A path to a RON file.
    Path,
    /// RON text.
    Ron,
    /// JSON text (a Python dict, dumped by the wrapper).
    Json,
}

impl Input {
    fn parse(kind: &str) -> PyResult<Self> {
        match kind {
            "path" => Ok(Self::Path),
            "ron" => Ok(Self::Ron),
            "json" => Ok(Self::Json),
            other => Err(PyValueError::new_err(format!(
                "internal error: scenario input kind `{other}`"
            ))),
        }
    }
}

/// A `ScenarioError` carrying `message` and `problems`.
fn scenario_error(py: Python<'_>, message: String, problems: Vec<ProblemAt>) -> PyErr {
    let error = ScenarioError::new_err(message);
    let list = PyList::empty(py);
    for p in problems {
        let item = PyDict::new(py);
        let filled = item
            .set_item("line", p.line)
            .and_then(|()| item.set_item("column", p.column))
            .and_then(|()| item.set_item("field", p.field))
            .and_then(|()| item.set_item("message", p.message))
            .and_then(|()| list.append(item));
        if let Err(e) = filled {
            return e;
        }
    }
    match error.value(py).setattr("problems", list) {
        Ok(()) => error,
        Err(e) => e,
    }
}

struct ProblemAt {
    line: Option<usize>,
    column: Option<usize>,
    field: String,
    message: String,
}

fn located(problem: &LocatedProblem) -> ProblemAt {
    ProblemAt {
        line: problem.position.map(|p| p.line),
        column: problem.position.map(|p| p.column),
        field: problem.problem.path.clone(),
        message: problem.problem.message.clone(),
    }
}

fn unlocated(problem: &Problem) -> ProblemAt {
    ProblemAt {
        line: None,
        column: None,
        field: problem.path.clone(),
        message: problem.message.clone(),
    }
}

/// The Python exception for a scenario that cannot be loaded.
fn load_error(py: Python<'_>, error: &LoadError) -> PyErr {
    match error {
        LoadError::Io { .. } => PyOSError::new_err(error.to_string()),
        LoadError::Parse {
            position,
            field_path,
            message,
            ..
        } => scenario_error(
            py,
            error.to_string(),
            vec![ProblemAt {
                line: Some(position.line),
                column: Some(position.column),
                field: field_path.clone(),
                message: message.clone(),
            }],
        ),
        LoadError::Invalid { problems, .. } => scenario_error(
            py,
            error.to_string(),
            problems.iter().map(located).collect(),
        ),
    }
}

/// The name a scenario given as text goes by in messages and the manifest.
const RON_NAME: &str = "<string>";
const DICT_NAME: &str = "<dict>";

/// Reads, parses and validates a scenario; returns it, the name it goes by (its path)
/// and its warnings.
fn load(py: Python<'_>, input: Input, text: &str) -> PyResult<(Scenario, String, Vec<String>)> {
    match input {
        Input::Path => {
            let path = Path::new(text);
            let (scenario, warnings) =
                load_scenario_with_warnings(path).map_err(|e| load_error(py, &e))?;
            Ok((scenario, text.to_owned(), warnings))
        }
        Input::Ron => {
            let path = Path::new(RON_NAME);
            let scenario = parse_scenario(text, path).map_err(|e| load_error(py, &e))?;
            check(&scenario, text, path).map_err(|e| load_error(py, &e))?;
            let warnings = warnings(&scenario)
                .iter()
                .map(|w| format!("{RON_NAME}  {w}"))
                .collect();
            Ok((scenario, RON_NAME.to_owned(), warnings))
        }
        Input::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let scenario: Scenario =
                serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                    let field = e.path().to_string();
                    let message = e.inner().to_string();
                    scenario_error(
                        py,
                        format!("cannot use scenario `{DICT_NAME}`: at `{field}`: {message}"),
                        vec![ProblemAt {
                            line: None,
                            column: None,
                            field,
                            message,
                        }],
                    )
                })?;
            invalid_unless_empty(py, DICT_NAME, validate(&scenario))?;
            let warnings = warnings(&scenario)
                .iter()
                .map(|w| format!("{DICT_NAME}  {w}"))
                .collect();
            Ok((scenario, DICT_NAME.to_owned(), warnings))
        }
    }
}

/// A `ScenarioError` for `problems` of an input without positions, unless there are none.
fn invalid_unless_empty(py: Python<'_>, name: &str, problems: Vec<Problem>) -> PyResult<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let located: Vec<LocatedProblem> = problems
        .into_iter()
        .map(|problem| LocatedProblem {
            position: None,
            exact: false,
            problem,
        })
        .collect();
    let message = render_invalid("scenario", Path::new(name), &located);
    Err(scenario_error(
        py,
        message,
        located.iter().map(|p| unlocated(&p.problem)).collect(),
    ))
}

/// Runs `work` on its own thread with the GIL released, checking for Python signals
/// every 50 ms: on Ctrl-C (or any handler that raises) `stop` is set, the work is waited
/// for (it stops between ticks) and the signal's exception is raised.
fn interruptible<T: Send>(
    py: Python<'_>,
    stop: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        // Waited on with the GIL released, which asks for `Sync`; only this thread locks it.
        let receiver = std::sync::Mutex::new(receiver);
        let worker = scope.spawn(move || {
            // The receiver outlives the worker unless the caller is gone; nothing to do then.
            let _ = sender.send(work());
        });
        loop {
            let waited = py.detach(|| match receiver.lock() {
                Ok(receiver) => receiver.recv_timeout(Duration::from_millis(50)),
                Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
            });
            match waited {
                Ok(value) => return Ok(value),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(signal) = py.check_signals() {
                        stop.store(true, Ordering::Relaxed);
                        let _ = py.detach(|| worker.join());
                        return Err(signal);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = py.detach(|| worker.join());
                    return Err(RunError::new_err(
                        "internal error: the run stopped without a result (a panic); please \
                         report it with the scenario",
                    ));
                }
            }
        }
    })
}

/// The Python exception for a failed run.
fn sim_error(py: Python<'_>, name: &str, error: SimError) -> PyErr {
    match error {
        SimError::Invalid(problems) => match invalid_unless_empty(py, name, problems) {
            Err(e) => e,
            Ok(()) => RunError::new_err("invalid scenario"),
        },
        other => RunError::new_err(other.to_string()),
    }
}

/// A finished run: its tables, summary text, manifest and resolved scenario.
#[pyclass(module = "dealersim._dealersim", frozen)]
struct RunResult {
    tables: Vec<(String, Py<ArrowTable>)>,
    #[pyo3(get)]
    summary: String,
    #[pyo3(get)]
    manifest_json: String,
    #[pyo3(get)]
    scenario: String,
    #[pyo3(get)]
    warnings: Vec<String>,
    #[pyo3(get)]
    timing: (f64, f64, f64),
}

#[pymethods]
impl RunResult {
    /// The tables, in the order a run to a directory writes them, by name.
    fn tables(&self, py: Python<'_>) -> Vec<(String, Py<ArrowTable>)> {
        self.tables
            .iter()
            .map(|(n, t)| (n.clone(), t.clone_ref(py)))
            .collect()
    }
}

/// Runs a scenario in memory; `kind` says how `scenario` is given ("path", "ron",
/// "json"). Overrides apply after loading, as the CLI's flags do.
#[pyfunction]
#[pyo3(signature = (kind, scenario, seed=None, steps=None, trades=None))]
fn run(
    py: Python<'_>,
    kind: &str,
    scenario: &str,
    seed: Option<u64>,
    steps: Option<u32>,
    trades: Option<bool>,
) -> PyResult<RunResult> {
    let (mut loaded, name, warnings) = load(py, Input::parse(kind)?, scenario)?;
    if let Some(seed) = seed {
        loaded.seed = seed;
    }
    if let Some(steps) = steps {
        loaded.steps = steps;
    }
    if let Some(trades) = trades {
        loaded.output.trades = trades;
    }
    let stop = AtomicBool::new(false);
    let limits = Limits::in_memory();
    let result = interruptible(py, &stop, || {
        run_in_memory(&loaded, &name, |_| {}, &stop, &limits)
    })?;
    let done = result.map_err(|e| sim_error(py, &name, e))?;
    let summary = done
        .summaries
        .iter()
        .map(|s| s.display.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let manifest_json = serde_json::to_string_pretty(&done.manifest)
        .map_err(|e| RunError::new_err(e.to_string()))?;
    let tables = done
        .tables
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            Ok((name, Py::new(py, ArrowTable::new(t)?)?))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(RunResult {
        tables,
        summary,
        manifest_json,
        scenario: done.resolved_scenario,
        warnings,
        timing: (
            done.timing.setup_seconds,
            done.timing.tick_seconds,
            done.timing.output_seconds,
        ),
    })
}

/// Loads and validates a scenario; returns its warnings (raises `ScenarioError`).
#[pyfunction]
fn validate_scenario(py: Python<'_>, kind: &str, scenario: &str) -> PyResult<Vec<String>> {
    let (loaded, name, warnings) = load(py, Input::parse(kind)?, scenario)?;
    // The same check as a run's: the World's memory against this machine.
    let limits = Limits::in_memory();
    invalid_unless_empty(
        py,
        &name,
        dealersim::sim::resources::check(&loaded, &limits),
    )?;
    Ok(warnings)
}

/// The scenario (any input kind) as JSON, every default filled in: a dict to edit.
#[pyfunction]
fn scenario_json(py: Python<'_>, kind: &str, scenario: &str) -> PyResult<String> {
    let (loaded, _, _) = load(py, Input::parse(kind)?, scenario)?;
    serde_json::to_string(&loaded).map_err(|e| RunError::new_err(e.to_string()))
}

/// A finished experiment: its result table, figure and summary.
#[pyclass(module = "dealersim._dealersim", frozen)]
struct ExperimentResult {
    #[pyo3(get)]
    name: String,
    results: Py<ArrowTable>,
    #[pyo3(get)]
    summary: String,
    #[pyo3(get)]
    figure_svg: String,
    #[pyo3(get)]
    figure_png: Vec<u8>,
}

#[pymethods]
impl ExperimentResult {
    /// The result table.
    #[getter]
    fn results(&self, py: Python<'_>) -> Py<ArrowTable> {
        self.results.clone_ref(py)
    }
}

fn experiment_error(py: Python<'_>, error: ExperimentError) -> PyErr {
    match error {
        ExperimentError::Unknown(_)
        | ExperimentError::Parse { .. }
        | ExperimentError::Invalid { .. } => scenario_error(py, error.to_string(), Vec::new()),
        ExperimentError::Io { .. } => PyOSError::new_err(error.to_string()),
        other => RunError::new_err(other.to_string()),
    }
}

/// Runs a bundled experiment (or an experiment file) with its replications in parallel.
#[pyfunction]
#[pyo3(signature = (name, runs=None, seed=None))]
fn experiment(
    py: Python<'_>,
    name: &str,
    runs: Option<u32>,
    seed: Option<u64>,
) -> PyResult<ExperimentResult> {
    let (mut config, _source) =
        experiments::load_experiment(name).map_err(|e| experiment_error(py, e))?;
    if let Some(runs) = runs {
        config.runs = runs;
    }
    if let Some(seed) = seed {
        config.seed = seed;
    }
    let problems = experiments::check(&config);
    if !problems.is_empty() {
        let message = problems
            .iter()
            .map(|p| format!("\n  {p}"))
            .collect::<String>();
        return Err(scenario_error(
            py,
            format!("invalid experiment `{name}`:{message}"),
            problems.iter().map(unlocated).collect(),
        ));
    }
    let stop = AtomicBool::new(false);
    let silent = |_| {};
    let output = interruptible(py, &stop, || {
        let progress = Progress::new(&silent).with_stop(&stop);
        experiments::run_experiment(&config, &progress)
    })?
    .map_err(|e| experiment_error(py, e))?;
    let mut table = TableWriter::in_memory("results", output.columns)
        .map_err(|e| RunError::new_err(e.to_string()))?;
    for row in &output.rows {
        let cells: Vec<Cell<'_>> = row.iter().map(OwnedCell::as_cell).collect();
        table
            .write_row(&cells)
            .map_err(|e| RunError::new_err(e.to_string()))?;
    }
    let table = table
        .into_memory()
        .map_err(|e| RunError::new_err(e.to_string()))?;
    let figure_error = |e: dealersim::plot::FigureError| RunError::new_err(e.to_string());
    Ok(ExperimentResult {
        name: config.name.clone(),
        results: Py::new(py, ArrowTable::new(table)?)?,
        summary: output.summary,
        figure_svg: output.figure.to_svg().map_err(figure_error)?,
        figure_png: output.figure.to_png().map_err(figure_error)?,
    })
}

/// The bundled experiments: (name, description).
#[pyfunction]
fn experiment_names() -> Vec<(String, String)> {
    experiments::BUNDLED
        .iter()
        .map(|(name, text)| {
            let description = experiments::parse_experiment(text, Path::new(name))
                .map(|c| c.description)
                .unwrap_or_default();
            ((*name).to_owned(), description)
        })
        .collect()
}

#[pymodule]
fn _dealersim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("RunError", py.get_type::<RunError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<ArrowTable>()?;
    m.add_class::<RunResult>()?;
    m.add_class::<ExperimentResult>()?;
    m.add_class::<env::MarketMakingBatch>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(validate_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(scenario_json, m)?)?;
    m.add_function(wrap_pyfunction!(experiment, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_names, m)?)?;
    Ok(())
}
