//! # tabula-scenario: one patient, one regimen
//!
//! A scenario file names a model (built-in or a path), parameter overrides, doses, a duration,
//! output times, solver settings and what to plot. [`load_scenario`] resolves it completely:
//! the model is loaded and validated, dose amounts are converted into the target state's unit
//! (with per-kg or per-m² doses scaled by the model's `WT` or `BSA` parameter for each patient),
//! times given with units (`"2 week"`) are converted to the model's time unit, and every problem
//! is reported with file, line and field. [`Scenario::run`] then simulates it.
//!
//! The format is documented in `docs/model-format.md`, section 6.

#![warn(missing_docs)]

mod diagnose;
mod parse;

use std::sync::Arc;

use tabula_compile::CompiledModel;
use tabula_model::{Model, ModelError};
use tabula_solve::{simulate_trajectory, Regimen, Simulation, SolveError, SolverOptions};

pub use tabula_solve::Trajectory;

pub use diagnose::non_finite_cause;

pub use parse::{
    load_scenario, load_scenario_file, load_scenario_str, parse_time, read_dose, DoseSpec,
    ScenarioRef,
};

/// Loads a built-in scenario by name (e.g. `sle/cd19_car_t`), resolving its model against the
/// built-in library.
pub fn builtin(name: &str) -> Result<Scenario, ModelError> {
    from_catalog(&tabula_library::Catalog::builtin(), name)
}

/// Loads a scenario by name from a catalog (the built-in library, possibly with a directory laid
/// over it), resolving its model against the same catalog.
pub fn from_catalog(catalog: &tabula_library::Catalog, name: &str) -> Result<Scenario, ModelError> {
    let name = name.trim_end_matches(".toml");
    let text = catalog
        .get(tabula_library::Kind::Scenario, name)
        .ok_or_else(|| {
            let names: Vec<String> = catalog
                .list(tabula_library::Kind::Scenario)
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let hint = tabula_model::error::did_you_mean(name, names.iter().map(String::as_str));
            ModelError::single(
                None,
                "scenario",
                format!("no built-in scenario named \"{name}\"{hint}"),
            )
        })?;
    load_scenario(ScenarioRef::Builtin(name, text), catalog)
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario or its model is malformed.
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// The simulation failed.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// The simulation failed because a flux or rate became NaN or infinite.
    #[error("{error}: {cause}")]
    NonFinite {
        /// What the solver reported.
        error: SolveError,
        /// The first non-finite flux or rate, with the time ([`non_finite_cause`]).
        cause: String,
    },
}

/// A fully resolved scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The model reference as written.
    pub model_ref: String,
    /// The validated model.
    pub model: Arc<Model>,
    /// Parameter values (defaults with the scenario's overrides).
    pub parameters: Vec<f64>,
    /// Names of the overridden parameters.
    pub overrides: Vec<String>,
    /// Doses, in state units.
    pub regimen: Regimen,
    /// The doses as written, for reports.
    pub doses: Vec<DoseSpec>,
    /// End time (model time unit).
    pub end: f64,
    /// Output times.
    pub output_times: Vec<f64>,
    /// Solver settings.
    pub options: SolverOptions,
    /// States or outputs to plot.
    pub plot: Vec<String>,
    /// Plot these with a logarithmic y axis.
    pub log_plot: Vec<String>,
    /// Tags for listings (e.g. `therapy`, `sle`).
    pub tags: Vec<String>,
}

/// Most output times a scenario may have (the file reader's limit too).
pub const MAX_OUTPUT_TIMES: f64 = 1e7;

impl Scenario {
    /// Changes the end of the simulation to `end` (model time unit), for `--duration` and
    /// Python's `duration=`: a regular output grid keeps its step (the last point is `end`),
    /// an irregular one keeps its number of points spread evenly. Refuses an `end` that is not
    /// positive and finite, or that would give more than [`MAX_OUTPUT_TIMES`] output times.
    pub fn set_duration(&mut self, end: f64) -> Result<(), String> {
        if !(end.is_finite() && end > 0.0) {
            return Err(format!("duration must be > 0, found {end}"));
        }
        let t = &self.output_times;
        let step = match t.as_slice() {
            [a, b, ..]
                if t.windows(2)
                    .all(|w| ((w[1] - w[0]) - (b - a)).abs() <= 1e-9 * (b - a).abs()) =>
            {
                b - a
            }
            _ => end / (t.len().max(2) - 1) as f64,
        };
        if end / step > MAX_OUTPUT_TIMES {
            return Err(format!(
                "duration {end} with the scenario's output step {step} gives {:.3e} output times, more than {MAX_OUTPUT_TIMES:e}; choose a coarser `output` step in the scenario",
                end / step
            ));
        }
        let n = (end / step + 1e-9).floor() as usize;
        let mut times: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
        if times.last().is_some_and(|&l| end - l > 1e-9 * end) {
            times.push(end);
        }
        self.output_times = times;
        self.end = end;
        Ok(())
    }

    /// Compiles the model.
    pub fn compile(&self) -> CompiledModel {
        CompiledModel::new(self.model.clone())
    }

    /// Runs the scenario (noiseless outputs).
    pub fn run(&self) -> Result<Trajectory, ScenarioError> {
        let compiled = self.compile();
        self.run_compiled(&compiled)
    }

    /// Runs the scenario with an already compiled model.
    pub fn run_compiled(&self, compiled: &CompiledModel) -> Result<Trajectory, ScenarioError> {
        let sim = Simulation {
            regimen: &self.regimen,
            output_times: &self.output_times,
            end: self.end,
            options: &self.options,
        };
        simulate_trajectory(compiled, &self.parameters, &sim, None).map_err(|error| {
            let failed_at = match &error {
                SolveError::Solver { time, .. }
                | SolveError::TooManySteps { time, .. }
                | SolveError::NonFinite { time, .. } => *time,
                _ => return ScenarioError::Solve(error),
            };
            match non_finite_cause(compiled, &self.parameters, &sim, failed_at) {
                Some(cause) => ScenarioError::NonFinite { error, cause },
                None => ScenarioError::Solve(error),
            }
        })
    }

    /// The simulation description borrowed from this scenario.
    pub fn simulation(&self) -> Simulation<'_> {
        Simulation {
            regimen: &self.regimen,
            output_times: &self.output_times,
            end: self.end,
            options: &self.options,
        }
    }

    /// Problems that do not stop the run but probably are mistakes, one sentence each: a dose
    /// record whose first dose comes after the end of the run (it has no effect).
    pub fn warnings(&self) -> Vec<String> {
        let unit = &self.model.time_unit_text;
        self.doses
            .iter()
            .enumerate()
            .filter(|(_, d)| d.time > self.end)
            .map(|(i, d)| {
                format!(
                    "scenario `{}`: dose {} (into `{}` at {} {unit}) comes after the end of the run ({} {unit}) and has no effect",
                    self.name,
                    i + 1,
                    d.into,
                    d.time,
                    self.end
                )
            })
            .collect()
    }

    /// Sets a parameter by name.
    pub fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), String> {
        let i = self
            .model
            .parameter_index(name)
            .ok_or_else(|| format!("unknown parameter `{name}`"))?;
        self.model.parameters[i]
            .check_value(value)
            .map_err(|m| format!("`{name}` = {value}: {m}"))?;
        self.parameters[i] = value;
        Ok(())
    }
}
