//! # tabula-py: the native part of the `tabula` Python package
//!
//! The Python package (`python/tabula`) wraps this extension module, `tabula._tabula`, and turns
//! its results into pandas DataFrames or Arrow tables. This layer stays thin:
//!
//! * [`Scenario`] and [`Model`] hold a validated scenario or model together with the text it was
//!   loaded from, so they pickle as text (`__reduce__`) and rebuild identically in another
//!   process, e.g. a Dask worker;
//! * [`simulate`] runs one scenario with the GIL released (`Python::detach`) and returns the
//!   time course as packed native-endian `float64` bytes, which the Python side wraps with
//!   `numpy.frombuffer` without a per-value conversion;
//! * malformed input raises `TabulaError` (a `ValueError`) with the located message of the
//!   command-line tool; a failed simulation raises `SimulationError` (a `RuntimeError`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use tabula_compile::CompiledModel;
use tabula_library::{Catalog, Given, Kind};
use tabula_model::{load_model_file, load_model_ref, load_model_str, ModelError};
use tabula_scenario::{
    load_scenario, load_scenario_file, load_scenario_str, parse_time, ScenarioRef,
};
use tabula_solve::{simulate_trajectory, Method, Simulation};

pyo3::create_exception!(
    _tabula,
    TabulaError,
    PyValueError,
    "Malformed input: a model, scenario or argument that Tabula cannot use. The message names the file, line and field."
);
pyo3::create_exception!(
    _tabula,
    SimulationError,
    PyRuntimeError,
    "A simulation that could not be completed (solver failure, non-finite state, unusable parameter set)."
);

fn input_error(e: impl std::fmt::Display) -> PyErr {
    TabulaError::new_err(e.to_string())
}

/// Where an object's text came from, so that it can be rebuilt from text alone.
#[derive(Clone, Debug)]
enum Source {
    /// A built-in name.
    Builtin(String),
    /// Text, with the display name used in messages and the file it was read from, if any.
    Text {
        name: String,
        text: String,
        path: Option<String>,
    },
}

impl Source {
    /// Arguments for the class constructor that rebuild the object.
    fn reduce_args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match self {
            Source::Builtin(name) => PyTuple::new(py, [name.as_str()]),
            Source::Text { name, text, path } => {
                let path = path.clone().into_pyobject(py)?.into_any();
                let items: Vec<Bound<'py, PyAny>> = vec![
                    text.clone().into_pyobject(py)?.into_any(),
                    name.clone().into_pyobject(py)?.into_any(),
                    path,
                ];
                PyTuple::new(py, items)
            }
        }
    }

    fn text(&self, kind: Kind) -> Option<String> {
        match self {
            Source::Builtin(name) => tabula_library::get(kind, name).map(str::to_string),
            Source::Text { text, .. } => Some(text.clone()),
        }
    }
}

/// The library names resolve against: the built-in files with the directory named by the
/// environment variable `TABULA_LIBRARY` laid over them, as on the command line (read once per
/// process; an unreadable directory is an error on every call, not a silent fallback).
fn catalog() -> Result<&'static Catalog, ModelError> {
    static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
    CATALOG
        .get_or_init(|| match std::env::var_os("TABULA_LIBRARY") {
            Some(dir) if !dir.is_empty() => {
                Catalog::with_overlay(Path::new(&dir)).map_err(|e| e.to_string())
            }
            _ => Ok(Catalog::builtin()),
        })
        .as_ref()
        .map_err(|e| ModelError::single(None, "TABULA_LIBRARY", e.clone()))
}

/// How a source string is meant, by the library's one precedence rule
/// ([`tabula_library::resolve`], shared with the command line): TOML text, an existing file, or
/// a library name. A library file that is not the embedded built-in (an overlay file) is kept
/// as text, so that it pickles to a worker that may not have the overlay.
fn classify(
    source: &str,
    name: Option<&str>,
    path: Option<&str>,
    kind: Kind,
) -> Result<Source, ModelError> {
    Ok(match tabula_library::resolve(catalog()?, kind, source)? {
        Given::Text(text) => Source::Text {
            name: name.unwrap_or("<text>.toml").to_string(),
            text: text.to_string(),
            path: path.map(str::to_string),
        },
        Given::File(p) => Source::Text {
            name: name.unwrap_or(source).to_string(),
            text: tabula_model::read_text_file(&p)?,
            path: Some(source.to_string()),
        },
        Given::Library(n, text) => {
            if tabula_library::get(kind, &n) == Some(text) {
                Source::Builtin(n)
            } else {
                Source::Text {
                    name: format!("{n}.toml"),
                    text: text.to_string(),
                    path: None,
                }
            }
        }
    })
}

/// One patient under one regimen: a validated scenario, its model, parameters, doses, duration
/// and output times.
///
/// `Scenario(source)` takes the name of a built-in scenario (`"sle/cd19_car_t"`), the path of a
/// scenario file, or the TOML text of one. A scenario pickles as its text.
#[pyclass(frozen, module = "tabula._tabula")]
pub struct Scenario {
    inner: tabula_scenario::Scenario,
    source: Source,
    /// The compiled model, built on first use and shared by every run of this scenario.
    compiled: OnceLock<CompiledModel>,
}

impl Scenario {
    fn compiled(&self) -> &CompiledModel {
        self.compiled.get_or_init(|| self.inner.compile())
    }
}

fn load_scenario_source(source: &Source) -> Result<tabula_scenario::Scenario, ModelError> {
    match source {
        Source::Builtin(name) => match tabula_library::get(Kind::Scenario, name) {
            Some(text) => load_scenario(ScenarioRef::Builtin(name, text), catalog()?),
            None => tabula_scenario::builtin(name),
        },
        Source::Text { name, text, path } => {
            // A file that still holds the same text is loaded as a file, so that relative model
            // paths resolve against its directory; otherwise against the current directory.
            if let Some(p) = path {
                let p = Path::new(p);
                if tabula_model::read_text_file(p).is_ok_and(|t| &t == text) {
                    return load_scenario_file(p, catalog()?);
                }
                if text.is_empty() {
                    return load_scenario_file(p, catalog()?);
                }
            }
            load_scenario_str(name, text, catalog()?)
        }
    }
}

#[pymethods]
impl Scenario {
    #[new]
    #[pyo3(signature = (source, name=None, path=None))]
    fn new(source: &str, name: Option<&str>, path: Option<&str>) -> PyResult<Self> {
        let source = classify(source, name, path, Kind::Scenario).map_err(input_error)?;
        let inner = load_scenario_source(&source).map_err(input_error)?;
        Ok(Scenario {
            inner,
            source,
            compiled: OnceLock::new(),
        })
    }

    /// Rebuilds the scenario from its text in another process.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = slf.get().source.reduce_args(py)?;
        let cls = slf.get_type().into_any();
        PyTuple::new(py, [cls, args.into_any()])
    }

    fn __repr__(&self) -> String {
        format!(
            "Scenario({:?}: model {}, {} states, {} dose records, {} {})",
            self.inner.name,
            self.inner.model.name,
            self.inner.model.states.len(),
            self.inner.regimen.doses.len(),
            self.inner.end,
            self.inner.model.time_unit_text
        )
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// One-line description.
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }

    /// The TOML text the scenario was loaded from.
    #[getter]
    fn text(&self) -> Option<String> {
        self.source.text(Kind::Scenario)
    }

    /// The scenario's model.
    #[getter]
    fn model(&self) -> Model {
        let m = &self.inner.model;
        let source = m
            .files
            .first()
            .map(|f| match &f.builtin {
                Some(b) => Source::Builtin(b.clone()),
                None => Source::Text {
                    name: f.name.to_string(),
                    text: f.text.to_string(),
                    path: f.path.as_ref().map(|p| p.display().to_string()),
                },
            })
            .unwrap_or_else(|| Source::Builtin(self.inner.model_ref.clone()));
        Model {
            inner: m.clone(),
            source,
        }
    }

    /// End of the simulation, in the model's time unit.
    #[getter]
    fn duration(&self) -> f64 {
        self.inner.end
    }

    /// The model's time unit.
    #[getter]
    fn time_unit(&self) -> &str {
        &self.inner.model.time_unit_text
    }

    /// Output times.
    #[getter]
    fn output_times(&self) -> Vec<f64> {
        self.inner.output_times.clone()
    }

    /// Parameter values of this scenario (model defaults with the scenario's overrides).
    #[getter]
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (p, v) in self
            .inner
            .model
            .parameters
            .iter()
            .zip(&self.inner.parameters)
        {
            d.set_item(&p.name, v)?;
        }
        Ok(d)
    }

    /// Names of the outputs.
    #[getter]
    fn outputs(&self) -> Vec<String> {
        self.inner
            .model
            .outputs
            .iter()
            .map(|o| o.name.clone())
            .collect()
    }

    /// Names of the states.
    #[getter]
    fn states(&self) -> Vec<String> {
        self.inner
            .model
            .states
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The doses as written in the scenario: a list of dicts.
    #[getter]
    fn doses<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for d in &self.inner.doses {
            let x = PyDict::new(py);
            x.set_item("into", &d.into)?;
            x.set_item("amount", d.amount)?;
            x.set_item("unit", &d.unit)?;
            x.set_item("time", d.time)?;
            x.set_item("rate", d.rate)?;
            x.set_item("duration", d.duration)?;
            x.set_item("interval", d.interval)?;
            x.set_item("additional", d.additional)?;
            l.append(x)?;
        }
        Ok(l)
    }

    /// The scenario's model, parameter values and doses as an SBML Level 3 document.
    #[pyo3(signature = (params=None))]
    fn to_sbml(&self, params: Option<HashMap<String, f64>>) -> PyResult<String> {
        let mut sc = self.inner.clone();
        apply_params(&mut sc, params.as_ref())?;
        tabula_sbml::export_scenario(&sc).map_err(input_error)
    }
}

/// A validated model: parameters, states, outputs.
///
/// `Model(source)` takes the name of a built-in model (`"sle/cd19_car_t"`), the path of a model
/// file, or the TOML text of one. A model pickles as its text.
#[pyclass(frozen, module = "tabula._tabula")]
pub struct Model {
    inner: std::sync::Arc<tabula_model::Model>,
    source: Source,
}

fn load_model_source(source: &Source) -> Result<tabula_model::Model, ModelError> {
    match source {
        Source::Builtin(name) => load_model_ref(name, None, catalog()?),
        Source::Text { name, text, path } => {
            if let Some(p) = path {
                let p = Path::new(p);
                if text.is_empty() || tabula_model::read_text_file(p).is_ok_and(|t| &t == text) {
                    return load_model_file(p, catalog()?);
                }
            }
            load_model_str(name, text, catalog()?)
        }
    }
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (source, name=None, path=None))]
    fn new(source: &str, name: Option<&str>, path: Option<&str>) -> PyResult<Self> {
        let source = classify(source, name, path, Kind::Model).map_err(input_error)?;
        let inner = load_model_source(&source).map_err(input_error)?;
        Ok(Model {
            inner: std::sync::Arc::new(inner),
            source,
        })
    }

    /// Rebuilds the model from its text in another process.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = slf.get().source.reduce_args(py)?;
        let cls = slf.get_type().into_any();
        PyTuple::new(py, [cls, args.into_any()])
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({:?}: {} states, {} parameters, {} outputs)",
            self.inner.name,
            self.inner.states.len(),
            self.inner.parameters.len(),
            self.inner.outputs.len()
        )
    }

    /// The model's name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Description.
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }

    /// The unit of time.
    #[getter]
    fn time_unit(&self) -> &str {
        &self.inner.time_unit_text
    }

    /// The TOML text of the top-level model file.
    #[getter]
    fn text(&self) -> Option<String> {
        self.source.text(Kind::Model)
    }

    /// Parameters: a list of dicts (name, value, unit, description, status, source, low, high).
    #[getter]
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for p in &self.inner.parameters {
            let d = PyDict::new(py);
            d.set_item("name", &p.name)?;
            d.set_item("value", p.value)?;
            d.set_item("unit", &p.unit_text)?;
            d.set_item("description", &p.description)?;
            d.set_item("status", p.status.as_str())?;
            d.set_item("source", p.source.as_deref())?;
            d.set_item("low", p.range.map(|r| r.0))?;
            d.set_item("high", p.range.map(|r| r.1))?;
            l.append(d)?;
        }
        Ok(l)
    }

    /// States: a list of dicts (name, unit, description).
    #[getter]
    fn states<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for s in &self.inner.states {
            let d = PyDict::new(py);
            d.set_item("name", &s.name)?;
            d.set_item("unit", &s.unit_text)?;
            d.set_item("description", &s.description)?;
            l.append(d)?;
        }
        Ok(l)
    }

    /// Outputs: a list of dicts (name, unit, description).
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for o in &self.inner.outputs {
            let d = PyDict::new(py);
            d.set_item("name", &o.name)?;
            d.set_item("unit", o.unit.to_string())?;
            d.set_item("description", &o.description)?;
            l.append(d)?;
        }
        Ok(l)
    }
}

fn apply_params(
    sc: &mut tabula_scenario::Scenario,
    params: Option<&HashMap<String, f64>>,
) -> PyResult<()> {
    let Some(params) = params else {
        return Ok(());
    };
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    for name in names {
        let v = params[name];
        if !v.is_finite() {
            return Err(input_error(format!(
                "parameter `{name}`: {v} is not a finite number"
            )));
        }
        sc.set_parameter(name, v).map_err(|e| {
            let hint = tabula_model::error::did_you_mean(
                name,
                sc.model.parameters.iter().map(|p| p.name.as_str()),
            );
            input_error(format!("{e}{hint}"))
        })?;
    }
    Ok(())
}

/// A duration: a number in the model's time unit, or a string with a unit ("2 year").
#[derive(FromPyObject)]
enum Duration {
    Number(f64),
    Text(String),
}

fn pack(values: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for v in values {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    out
}

/// Applies the run options shared by `simulate` and `simulate_population`.
fn apply_run_options(
    sc: &mut tabula_scenario::Scenario,
    duration: Option<Duration>,
    output_times: Option<Vec<f64>>,
    method: Option<&str>,
    rtol: Option<f64>,
    atol: Option<f64>,
) -> PyResult<()> {
    if let Some(d) = duration {
        let end = match d {
            Duration::Number(x) => x,
            Duration::Text(s) => parse_time(&s, &sc.model.time_unit)
                .map_err(|e| input_error(format!("duration: {e}")))?,
        };
        sc.set_duration(end).map_err(input_error)?;
    }
    if let Some(t) = output_times {
        if let Some(&last) = t.last() {
            if last > sc.end {
                sc.end = last;
            }
        }
        sc.output_times = t;
    }
    if let Some(m) = method {
        sc.options.method = m.parse::<Method>().map_err(input_error)?;
    }
    if let Some(r) = rtol {
        sc.options.rtol = r;
    }
    if let Some(a) = atol {
        sc.options.atol = a;
    }
    sc.options.validate().map_err(input_error)?;
    Ok(())
}

/// Runs one scenario. Returns `(times, names, values, n_outputs, stats)`: `times` and `values`
/// are native-endian float64 bytes, `values` row-major (one row per time, one column per name);
/// the first `n_outputs` names are outputs and the rest states. The GIL is released while the
/// model is compiled and solved.
#[pyfunction]
#[pyo3(signature = (scenario, params=None, duration=None, output_times=None, states=false, method=None, rtol=None, atol=None))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    params: Option<HashMap<String, f64>>,
    duration: Option<Duration>,
    output_times: Option<Vec<f64>>,
    states: bool,
    method: Option<&str>,
    rtol: Option<f64>,
    atol: Option<f64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut sc = scenario.inner.clone();
    apply_params(&mut sc, params.as_ref())?;
    apply_run_options(&mut sc, duration, output_times, method, rtol, atol)?;

    let traj = py
        .detach(|| {
            let compiled = scenario.compiled();
            let sim = Simulation {
                regimen: &sc.regimen,
                output_times: &sc.output_times,
                end: sc.end,
                options: &sc.options,
            };
            simulate_trajectory(compiled, &sc.parameters, &sim, None)
        })
        .map_err(|e| {
            SimulationError::new_err(format!("simulation of `{}` failed: {e}", sc.name))
        })?;

    let no = traj.output_names.len();
    let ns = traj.state_names.len();
    let mut names = traj.output_names.clone();
    let values = if states {
        names.extend(traj.state_names.iter().cloned());
        let mut v = Vec::with_capacity(traj.times.len() * (no + ns));
        for i in 0..traj.times.len() {
            v.extend_from_slice(&traj.outputs[i * no..(i + 1) * no]);
            v.extend_from_slice(&traj.states[i * ns..(i + 1) * ns]);
        }
        v
    } else {
        traj.outputs.clone()
    };
    let stats = PyDict::new(py);
    stats.set_item("steps", traj.stats.steps)?;
    stats.set_item("rhs_evaluations", traj.stats.rhs_evals)?;
    stats.set_item("jacobian_evaluations", traj.stats.jacobian_evals)?;
    stats.set_item("restarts", traj.stats.restarts)?;
    let items: Vec<Bound<'py, PyAny>> = vec![
        PyBytes::new(py, &pack(&traj.times)).into_any(),
        names.into_pyobject(py)?.into_any(),
        PyBytes::new(py, &pack(&values)).into_any(),
        no.into_pyobject(py)?.into_any(),
        stats.into_any(),
    ];
    PyTuple::new(py, items)
}

/// Runs one scenario for many parameter sets (virtual patients) in parallel, with the GIL
/// released. `values` holds `n x len(names)` native-endian float64 values, row-major: patient
/// `i` gets the scenario's parameters with `names[j]` set to `values[i, j]`. Returns
/// `(times, observables, values, status)`: `values` is `n x len(times) x len(observables)`
/// float64 bytes (NaN for a patient whose run failed) and `status` one string per patient,
/// `"ok"` or the failure's status and message. Results do not depend on the thread count.
#[pyfunction]
#[pyo3(signature = (scenario, names, values, patients=None, duration=None, output_times=None, observables=None, threads=None, method=None, rtol=None, atol=None))]
#[allow(clippy::too_many_arguments)]
fn simulate_population<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    names: Vec<String>,
    values: &Bound<'py, PyBytes>,
    patients: Option<usize>,
    duration: Option<Duration>,
    output_times: Option<Vec<f64>>,
    observables: Option<Vec<String>>,
    threads: Option<usize>,
    method: Option<&str>,
    rtol: Option<f64>,
    atol: Option<f64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut sc = scenario.inner.clone();
    apply_run_options(&mut sc, duration, output_times, method, rtol, atol)?;
    let model = sc.model.clone();
    let columns: Vec<usize> = names
        .iter()
        .map(|n| {
            model.parameter_index(n).ok_or_else(|| {
                let hint = tabula_model::error::did_you_mean(
                    n,
                    model.parameters.iter().map(|p| p.name.as_str()),
                );
                input_error(format!("unknown parameter `{n}`{hint}"))
            })
        })
        .collect::<PyResult<_>>()?;
    let bytes = values.as_bytes();
    let p = names.len();
    if bytes.len() % 8 != 0 || (p > 0 && (bytes.len() / 8) % p != 0) {
        return Err(input_error(format!(
            "values must hold n x {p} float64 numbers; found {} bytes",
            bytes.len()
        )));
    }
    let flat: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    // With no parameter columns, `patients` says how many identical patients to run.
    let n = flat.len().checked_div(p).unwrap_or(patients.unwrap_or(1));
    // Observables: outputs (default all) and states, by name.
    let wanted: Vec<String> =
        observables.unwrap_or_else(|| model.outputs.iter().map(|o| o.name.clone()).collect());
    enum Obs {
        Output(usize),
        State(usize),
    }
    let obs: Vec<Obs> = wanted
        .iter()
        .map(|w| {
            if let Some(i) = model.outputs.iter().position(|o| &o.name == w) {
                Ok(Obs::Output(i))
            } else if let Some(i) = model.states.iter().position(|s| &s.name == w) {
                Ok(Obs::State(i))
            } else {
                Err(input_error(format!(
                    "`{w}` is neither an output nor a state of model `{}`",
                    model.name
                )))
            }
        })
        .collect::<PyResult<_>>()?;
    let nt = sc.output_times.len();
    let k = obs.len();

    let run = || -> Result<(Vec<f64>, Vec<String>), String> {
        use rayon::prelude::*;
        let compiled = scenario.compiled();
        let sim = Simulation {
            regimen: &sc.regimen,
            output_times: &sc.output_times,
            end: sc.end,
            options: &sc.options,
        };
        let no = compiled.n_outputs();
        let work = |i: usize,
                    ws: &mut tabula_compile::Workspace,
                    par: &mut Vec<f64>,
                    out: &mut Vec<f64>| {
            par.copy_from_slice(&sc.parameters);
            for (j, &c) in columns.iter().enumerate() {
                par[c] = flat[i * p + j];
            }
            let mut row = Vec::with_capacity(nt * k);
            let r = tabula_solve::simulate(compiled, ws, par, &sim, &mut |t, y, ws| {
                compiled.outputs(ws, t, y, None, out);
                for o in &obs {
                    row.push(match *o {
                        Obs::Output(i) => out[i],
                        Obs::State(i) => y[i],
                    });
                }
            });
            match r {
                Ok(_) => (row, "ok".to_string()),
                Err(e) => (vec![f64::NAN; nt * k], format!("{}: {e}", e.status())),
            }
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| e.to_string())?;
        let results: Vec<(Vec<f64>, String)> = pool.install(|| {
            (0..n)
                .into_par_iter()
                .map_init(
                    || (compiled.workspace(), sc.parameters.clone(), vec![0.0; no]),
                    |(ws, par, out), i| work(i, ws, par, out),
                )
                .collect()
        });
        let mut values = Vec::with_capacity(n * nt * k);
        let mut status = Vec::with_capacity(n);
        for (row, st) in results {
            values.extend_from_slice(&row);
            status.push(st);
        }
        Ok((values, status))
    };
    let (vals, status) = py.detach(run).map_err(SimulationError::new_err)?;
    let items: Vec<Bound<'py, PyAny>> = vec![
        PyBytes::new(py, &pack(&sc.output_times)).into_any(),
        wanted.into_pyobject(py)?.into_any(),
        PyBytes::new(py, &pack(&vals)).into_any(),
        status.into_pyobject(py)?.into_any(),
    ];
    PyTuple::new(py, items)
}

/// One table as `[(name, kind, data)]`: `kind` is "f64", "i64", "u64" (data: packed native-endian
/// 8-byte values), "str" (a list of strings) or "bool" (a list of booleans).
fn table_columns<'py>(
    py: Python<'py>,
    table: &tabula_output::Table,
) -> PyResult<Bound<'py, PyList>> {
    use tabula_output::Column;
    let list = PyList::empty(py);
    for (spec, column) in table.schema().columns().iter().zip(table.columns()) {
        let (kind, data): (&str, Bound<'py, PyAny>) = match column {
            Column::F64(v) => ("f64", PyBytes::new(py, &pack(v)).into_any()),
            Column::I64(v) => {
                let b: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
                ("i64", PyBytes::new(py, &b).into_any())
            }
            Column::U64(v) => {
                let b: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
                ("u64", PyBytes::new(py, &b).into_any())
            }
            Column::Str(v) => ("str", v.clone().into_pyobject(py)?.into_any()),
            Column::Bool(v) => ("bool", v.clone().into_pyobject(py)?.into_any()),
        };
        let items: Vec<Bound<'py, PyAny>> = vec![
            spec.name.clone().into_pyobject(py)?.into_any(),
            kind.into_pyobject(py)?.into_any(),
            data,
        ];
        list.append(PyTuple::new(py, items)?)?;
    }
    Ok(list)
}

/// Runs a virtual trial in memory with the GIL released. `source` is a built-in trial name, a
/// trial file path or the TOML text of a trial. Returns `(patients, summary)`, each as
/// [`table_columns`]: one row per arm and patient (endpoints, status, reason), and one row per
/// arm and endpoint (estimate and 95% CI). Bit-identical for any `threads`.
#[pyfunction]
#[pyo3(signature = (source, patients=None, seed=None, threads=None, arms=None))]
fn trial<'py>(
    py: Python<'py>,
    source: &str,
    patients: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    arms: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let library = catalog().map_err(input_error)?;
    let mut spec = match tabula_library::resolve(library, Kind::Trial, source)
        .map_err(input_error)?
    {
        Given::Text(text) => tabula_trial::load_trial_str("<text>", text, library),
        Given::File(path) => tabula_trial::load_trial(tabula_trial::TrialRef::File(&path), library),
        Given::Library(name, text) => {
            tabula_trial::load_trial(tabula_trial::TrialRef::Builtin(&name, text), library)
        }
    }
    .map_err(input_error)?;
    if let Some(n) = patients {
        if n == 0 {
            return Err(input_error("patients must be at least 1"));
        }
        spec.patients = n;
    }
    if let Some(s) = seed {
        spec.seed = s;
    }
    if let Some(keep) = arms {
        for a in &keep {
            if spec.arm(a).is_none() {
                let hint =
                    tabula_model::error::did_you_mean(a, spec.arms.iter().map(|x| x.name.as_str()));
                return Err(input_error(format!(
                    "trial `{}` has no arm `{a}`{hint}",
                    spec.name
                )));
            }
        }
        spec.arms.retain(|x| keep.contains(&x.name));
    }
    if threads == Some(0) {
        return Err(input_error("threads must be at least 1"));
    }
    let run = || -> Result<tabula_trial::InMemoryResult, String> {
        let prepared = tabula_trial::PreparedTrial::new(spec).map_err(|e| e.to_string())?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| e.to_string())?;
        let options = tabula_trial::RunOptions {
            bands: false,
            timecourse: false,
            ..Default::default()
        };
        pool.install(|| prepared.run_in_memory(&options))
            .map_err(|e| e.to_string())
    };
    let result = py.detach(run).map_err(SimulationError::new_err)?;
    let items: Vec<Bound<'py, PyAny>> = vec![
        table_columns(py, &result.patients)?.into_any(),
        table_columns(py, &result.summary_table)?.into_any(),
    ];
    PyTuple::new(py, items)
}

/// Built-in trials: a list of `(name, description)`.
#[pyfunction]
fn trials() -> PyResult<Vec<(String, String)>> {
    Ok(catalog()
        .map_err(input_error)?
        .list(Kind::Trial)
        .into_iter()
        .map(|(n, t)| (n, tabula_library::description(t)))
        .collect())
}

/// Built-in scenarios: a list of `(name, description)`.
#[pyfunction]
fn scenarios() -> PyResult<Vec<(String, String)>> {
    Ok(catalog()
        .map_err(input_error)?
        .list(Kind::Scenario)
        .into_iter()
        .map(|(n, t)| (n, tabula_library::description(t)))
        .collect())
}

/// Built-in models and modules: a list of `(name, description)`.
#[pyfunction]
fn models() -> PyResult<Vec<(String, String)>> {
    Ok(catalog()
        .map_err(input_error)?
        .list(Kind::Model)
        .into_iter()
        .map(|(n, t)| (n, tabula_library::description(t)))
        .collect())
}

/// Tabula's native extension module; use it through the `tabula` package.
#[pymodule]
#[pyo3(name = "_tabula")]
fn tabula_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TabulaError", m.py().get_type::<TabulaError>())?;
    m.add("SimulationError", m.py().get_type::<SimulationError>())?;
    m.add_class::<Scenario>()?;
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_population, m)?)?;
    m.add_function(wrap_pyfunction!(scenarios, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(trial, m)?)?;
    m.add_function(wrap_pyfunction!(trials, m)?)?;
    Ok(())
}
