//! The quote-control (Avellaneda–Stoikov) batch behind `dealersim.gym`: B environments
//! stepped in one call, actions read from and results written into NumPy arrays with no
//! copy, the GIL released while the batch steps.

use dealersim::mechanisms::quote_control::market_making::{
    FlatSteps, MarketMakingConfig, OBSERVATION_FIELDS, VecEnv,
};
use dealersim::scenario::Checker;
use dealersim::scenario::load::parse_ron;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::{ProblemAt, scenario_error, unlocated};

/// The configuration from JSON (a dict) or RON text (`(s0: 100, ...)`), validated.
fn config(py: Python<'_>, format: &str, text: &str) -> PyResult<MarketMakingConfig> {
    let parsed = match format {
        "json" => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let field = e.path().to_string();
                let message = e.inner().to_string();
                scenario_error(
                    py,
                    format!("cannot use the environment configuration: at `{field}`: {message}"),
                    vec![ProblemAt {
                        line: None,
                        column: None,
                        field,
                        message,
                    }],
                )
            })?
        }
        _ => parse_ron::<MarketMakingConfig>(text).map_err(|f| {
            scenario_error(
                py,
                format!(
                    "cannot parse the environment configuration\n  --> {}:{}{}: {}",
                    f.position.line,
                    f.position.column,
                    if f.field_path.is_empty() {
                        String::new()
                    } else {
                        format!(" at `{}`", f.field_path)
                    },
                    f.message
                ),
                vec![ProblemAt {
                    line: Some(f.position.line),
                    column: Some(f.position.column),
                    field: f.field_path.clone(),
                    message: f.message.clone(),
                }],
            )
        })?,
    };
    let mut checker = Checker::default();
    parsed.validate("config", &mut checker);
    let problems = checker.into_problems();
    if !problems.is_empty() {
        let message = problems
            .iter()
            .map(|p| format!("\n  {p}"))
            .collect::<String>();
        return Err(scenario_error(
            py,
            format!("invalid environment configuration:{message}"),
            problems.iter().map(unlocated).collect(),
        ));
    }
    Ok(parsed)
}

/// B market-making environments of one configuration (Avellaneda & Stoikov 2008).
///
/// Actions are depths `[δ_bid, δ_ask]` from the mid, one row per environment;
/// observations are `[T − t, s, q, x]`. An environment whose episode ended resets on its
/// next step (Gymnasium's "next step" autoreset).
#[pyclass(module = "dealersim._dealersim")]
pub struct MarketMakingBatch {
    batch: VecEnv,
    config_json: String,
    steps: u32,
}

#[pymethods]
impl MarketMakingBatch {
    /// `count` environments of the configuration `config`, given as JSON (`format =
    /// "json"`) or as RON text (`"ron"`).
    #[new]
    #[pyo3(signature = (config, count, format="json"))]
    fn new(py: Python<'_>, config: &str, count: usize, format: &str) -> PyResult<Self> {
        if count == 0 {
            return Err(PyValueError::new_err(
                "a batch needs at least one environment",
            ));
        }
        let config = self::config(py, format, config)?;
        let config_json =
            serde_json::to_string(&config).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            steps: config.steps(),
            batch: VecEnv::new(&config, count),
            config_json,
        })
    }

    /// Number of environments.
    #[getter]
    fn num_envs(&self) -> usize {
        self.batch.len()
    }

    /// Steps in an episode (T/dt).
    #[getter]
    fn steps_per_episode(&self) -> u32 {
        self.steps
    }

    /// The configuration with every default filled in, as JSON.
    #[getter]
    fn config_json(&self) -> String {
        self.config_json.clone()
    }

    /// The observation's fields, in order.
    #[staticmethod]
    fn observation_fields() -> Vec<&'static str> {
        OBSERVATION_FIELDS.to_vec()
    }

    /// Starts episode 0 of every environment (environment i on path i of `seed`);
    /// returns the observations, shape (B, 4).
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64) -> Bound<'py, PyArray2<f64>> {
        let observations = py.detach(|| self.batch.reset(seed));
        let array = PyArray2::<f64>::zeros(py, [observations.len(), 4], false);
        if let Ok(mut view) = array.try_readwrite()
            && let Ok(slice) = view.as_slice_mut()
        {
            for (row, o) in slice.as_chunks_mut::<4>().0.iter_mut().zip(&observations) {
                *row = o.to_array();
            }
        }
        array
    }

    /// Steps every environment with `actions` (float64, shape (B, 2), finite); returns
    /// `(observations (B, 4), rewards (B,), terminated (B,), truncated (B,))`.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
    )> {
        let n = self.batch.len();
        let shape = actions.shape();
        if shape != [n, 2] {
            return Err(PyValueError::new_err(format!(
                "actions must have shape ({n}, 2), one [bid depth, ask depth] per environment; \
                 got {shape:?}"
            )));
        }
        let flat = actions
            .as_slice()
            .map_err(|_| PyValueError::new_err("actions must be a C-contiguous float64 array"))?;
        if let Some(i) = flat.iter().position(|x| !x.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "action [{}, {}] is {}: depths must be finite",
                i / 2,
                i % 2,
                flat[i]
            )));
        }
        let depths = flat.as_chunks::<2>().0;
        let observations = PyArray2::<f64>::zeros(py, [n, 4], false);
        let rewards = PyArray1::<f64>::zeros(py, n, false);
        let terminated = PyArray1::<bool>::zeros(py, n, false);
        let truncated = PyArray1::<bool>::zeros(py, n, false);
        {
            let mut o = observations.readwrite();
            let mut r = rewards.readwrite();
            let mut te = terminated.readwrite();
            let mut tr = truncated.readwrite();
            let contiguous =
                || PyValueError::new_err("internal error: a fresh array is not contiguous");
            let out = FlatSteps {
                observations: o
                    .as_slice_mut()
                    .map_err(|_| contiguous())?
                    .as_chunks_mut::<4>()
                    .0,
                rewards: r.as_slice_mut().map_err(|_| contiguous())?,
                terminated: te.as_slice_mut().map_err(|_| contiguous())?,
                truncated: tr.as_slice_mut().map_err(|_| contiguous())?,
            };
            let batch = &mut self.batch;
            py.detach(|| batch.step_depths(depths, out));
        }
        Ok((observations, rewards, terminated, truncated))
    }
}
