//! Calibration problems: fit typical values and variability of model parameters to validation
//! targets and to time-course data.
//!
//! ## Objective
//!
//! Every target contributes one residual `z`, scaled so that `|z| <= 1` exactly when the
//! target's rule passes (where the rule has a two-sided acceptance region):
//!
//! * rules with an acceptance region `[lo, hi]` around the observed value `o` (binomial CI,
//!   CI of a mean, observed range, relative or absolute error): `z = (sim - o) / (hi - o)` above
//!   `o` and `(sim - o) / (o - lo)` below;
//! * fold error: `z = ln(sim / o) / ln(max)`;
//! * observed inside the simulated interval: `z = (o - median) / (half-width of the simulated
//!   interval on o's side)`;
//! * one-sided thresholds: `z = 0` when the rule holds, else the violation divided by the
//!   threshold's magnitude (at least 1e-3), plus 1;
//! * a target that cannot be evaluated: `z = 10`.
//!
//! `|z|` is capped at 10 so one far-off target cannot dominate. Time-course data contribute
//! `(simulated - observed) / sd` per point. The objective is the sum of squares.
//! The trials keep their seeds, so each evaluation sees the same virtual patients (common
//! random numbers) and the objective is a deterministic function of the parameters.
//!
//! ## Optimisation
//!
//! CMA-ES (global; candidates evaluated in parallel) from the model's current values, then
//! Nelder–Mead from the CMA-ES optimum (local refinement). Rates from binary endpoints make
//! the objective piecewise constant at the scale of `1 / patients`, which the simplex
//! tolerates; a gradient method would not.
//!
//! ## Identifiability
//!
//! At the optimum, the Jacobian of the residuals by finite differences with a relative step of
//! 5% (wide enough to step over the plateaus of rates) gives the Fisher information; parameters
//! in its near-null directions or with large relative standard errors are reported as not
//! pinned down by the data (`tabula_fit::least_squares_identifiability`).

use std::path::Path;

use tabula_fit::{
    least_squares_identifiability, CmaEs, IdentifiabilityOptions, IdentifiabilityReport,
    NelderMead, NoiseModel, Observer, Parameter, ParameterSpace, Progress,
};
use tabula_library::Catalog;
use tabula_model::doc::{parse_document, Reader, TableView};
use tabula_model::{ModelError, SourceFile};
use tabula_trial::spec::Op;

use crate::error::{Result, ValidateError};
use crate::read::number;
use crate::rules::statistic;
use crate::target::{Rule, Target};
use crate::validate::{Harness, Outcome, Overrides, Settings, TargetResult};

/// Whether a fitted quantity is a typical value or a variability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitKind {
    /// The typical value of a model parameter (every trial arm and scenario whose model has it).
    Typical,
    /// The variability of a population variable (log-normal omega or normal/logit SD).
    Variability,
}

/// One fitted quantity with its prior range.
#[derive(Clone, Debug, PartialEq)]
pub struct FitParameter {
    /// Parameter or population-variable name.
    pub name: String,
    /// Typical value or variability.
    pub kind: FitKind,
    /// Prior range and scale.
    pub lower: f64,
    /// Upper end of the prior range.
    pub upper: f64,
    /// Search on a log scale.
    pub log: bool,
    /// Where `name` is written, for messages.
    pub location: Option<tabula_model::Location>,
}

impl FitParameter {
    /// `name` or `omega(name)`.
    pub fn label(&self) -> String {
        match self.kind {
            FitKind::Typical => self.name.clone(),
            FitKind::Variability => format!("omega({})", self.name),
        }
    }
}

/// Time-course data of one scenario output.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeCourse {
    /// Scenario (built-in name or path).
    pub scenario: String,
    /// Output or state.
    pub output: String,
    /// Observation times.
    pub times: Vec<f64>,
    /// Observed values.
    pub values: Vec<f64>,
    /// Measurement standard deviation.
    pub sd: f64,
    /// Where the data come from.
    pub source: String,
}

/// Optimiser settings of a problem.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSettings {
    /// CMA-ES evaluation budget.
    pub max_evaluations: usize,
    /// CMA-ES population (default `4 + 3 ln d`).
    pub population: Option<usize>,
    /// Nelder–Mead evaluation budget (0: no refinement).
    pub refine_evaluations: usize,
    /// Seed of the optimiser.
    pub seed: u64,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings {
            max_evaluations: 200,
            population: None,
            refine_evaluations: 60,
            seed: 1,
        }
    }
}

/// A calibration problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Name.
    pub name: String,
    /// What is fitted and why.
    pub description: String,
    /// Target ids.
    pub targets: Vec<String>,
    /// Time-course data.
    pub timecourses: Vec<TimeCourse>,
    /// Fitted quantities.
    pub parameters: Vec<FitParameter>,
    /// Patients per arm during the fit.
    pub patients: Option<u64>,
    /// Trial seed during the fit (default: the trial files').
    pub seed: Option<u64>,
    /// Optimiser settings.
    pub optimizer: OptimizerSettings,
    /// The file it was read from.
    pub file: String,
}

const ROOT: &[&str] = &["problem", "parameter", "timecourse", "optimizer"];
const PROBLEM: &[&str] = &["name", "description", "targets", "patients", "seed"];
const PARAMETER: &[&str] = &["name", "kind", "lower", "upper", "scale"];
const TIMECOURSE: &[&str] = &["scenario", "output", "times", "values", "sd", "source"];
const OPTIMIZER: &[&str] = &[
    "max_evaluations",
    "population",
    "refine_evaluations",
    "seed",
];

/// Reads a problem file.
pub fn load_problem_file(path: &Path) -> Result<Problem, ModelError> {
    parse_problem(&SourceFile::read(path)?)
}

/// Reads a problem from text under a display name.
pub fn load_problem_str(name: &str, text: &str) -> Result<Problem, ModelError> {
    parse_problem(&SourceFile::new(name, text))
}

fn parse_problem(src: &SourceFile) -> Result<Problem, ModelError> {
    let doc = parse_document(src)?;
    let root = TableView::root(&doc);
    let mut r = Reader::new(src);
    root.check_keys(&mut r, ROOT);
    let mut problem = Problem {
        name: String::new(),
        description: String::new(),
        targets: Vec::new(),
        timecourses: Vec::new(),
        parameters: Vec::new(),
        patients: None,
        seed: None,
        optimizer: OptimizerSettings::default(),
        file: src.name.to_string(),
    };
    match root.sub(&mut r, "problem") {
        Some(p) => {
            p.check_keys(&mut r, PROBLEM);
            problem.name = p
                .str(&mut r, "name", true)
                .map(|s| s.text)
                .unwrap_or_default();
            problem.description = p
                .str(&mut r, "description", false)
                .map(|s| s.text)
                .unwrap_or_default();
            problem.targets = p
                .str_array(&mut r, "targets")
                .map(|v| v.into_iter().map(|s| s.text).collect())
                .unwrap_or_default();
            problem.patients = p.whole(&mut r, "patients", 1.0, 1e7);
            problem.seed = p.whole(&mut r, "seed", 0.0, 9.0e15);
        }
        None => r.error(&(0..0), "problem", "missing the `[problem]` table"),
    }
    for t in r.table_array(&root, "parameter") {
        t.check_keys(&mut r, PARAMETER);
        let name = t.str(&mut r, "name", true);
        let location = name.as_ref().map(|s| r.src.location(s.span.start));
        let name = name.map(|s| s.text);
        let kind = t
            .choice(&mut r, "kind", &["typical", "variability"], false)
            .map_or(FitKind::Typical, |s| {
                if s.text == "variability" {
                    FitKind::Variability
                } else {
                    FitKind::Typical
                }
            });
        let lower = number(&mut r, &t, "lower", true, f64::is_finite, "a finite number");
        let upper = number(&mut r, &t, "upper", true, f64::is_finite, "a finite number");
        let scale = t.choice(&mut r, "scale", &["log", "linear"], false);
        let (Some(name), Some((lo, _)), Some((hi, span))) = (name, lower, upper) else {
            continue;
        };
        let log = scale.is_some_and(|s| s.text == "log");
        if lo >= hi {
            r.error(
                &span,
                &t.child("upper"),
                format!("`upper` ({hi}) must exceed `lower` ({lo})"),
            );
        } else if log && lo <= 0.0 {
            r.error(
                &span,
                &t.child("lower"),
                "a log scale needs a positive `lower`",
            );
        }
        problem.parameters.push(FitParameter {
            name,
            kind,
            lower: lo,
            upper: hi,
            log,
            location,
        });
    }
    for t in r.table_array(&root, "timecourse") {
        t.check_keys(&mut r, TIMECOURSE);
        let scenario = t.str(&mut r, "scenario", true).map(|s| s.text);
        let output = t.str(&mut r, "output", true).map(|s| s.text);
        let times = t.num_array(&mut r, "times");
        let values = t.num_array(&mut r, "values");
        let sd = number(
            &mut r,
            &t,
            "sd",
            true,
            |x| x > 0.0,
            "a standard deviation > 0",
        );
        let source = t.str(&mut r, "source", true).map(|s| s.text);
        if let (Some((a, _)), Some((b, span))) = (&times, &values) {
            if a.len() != b.len() || a.is_empty() {
                r.error(
                    span,
                    &t.child("values"),
                    format!("{} times but {} values", a.len(), b.len()),
                );
            }
        }
        if let (Some(scenario), Some(output), Some(times), Some(values), Some(sd), Some(source)) =
            (scenario, output, times, values, sd, source)
        {
            problem.timecourses.push(TimeCourse {
                scenario,
                output,
                times: times.0,
                values: values.0,
                sd: sd.0,
                source,
            });
        }
    }
    if let Some(o) = root.sub(&mut r, "optimizer") {
        o.check_keys(&mut r, OPTIMIZER);
        let d = OptimizerSettings::default();
        problem.optimizer = OptimizerSettings {
            max_evaluations: o
                .whole(&mut r, "max_evaluations", 1.0, 1e7)
                .map_or(d.max_evaluations, |x| x as usize),
            population: o.whole(&mut r, "population", 2.0, 1e4).map(|x| x as usize),
            refine_evaluations: o
                .whole(&mut r, "refine_evaluations", 0.0, 1e7)
                .map_or(d.refine_evaluations, |x| x as usize),
            seed: o.whole(&mut r, "seed", 0.0, 9.0e15).unwrap_or(d.seed),
        };
    }
    if problem.parameters.is_empty() && root.get("parameter").is_none() {
        r.error(&(0..0), "parameter", "no [[parameter]] to fit");
    }
    if problem.targets.is_empty() && problem.timecourses.is_empty() {
        r.error(
            &(0..0),
            "problem.targets",
            "nothing to fit to: give `targets` or [[timecourse]] data",
        );
    }
    r.diags.finish(problem)
}

/// The residual of one target (see the module documentation).
pub fn target_residual(r: &TargetResult) -> f64 {
    const CAP: f64 = 10.0;
    let Outcome::Evaluated {
        summary, verdict, ..
    } = &r.outcome
    else {
        return CAP;
    };
    let Some(rule) = &r.target.rule else {
        return CAP;
    };
    let obs = &r.target.observed;
    let o = obs
        .central
        .map(|(_, v)| v)
        .or_else(|| obs.rate())
        .unwrap_or(f64::NAN);
    let sim = statistic(summary, rule.statistic());
    let floor = |w: f64, scale: f64| w.max(1e-3 * scale.abs().max(1e-6)).max(1e-12);
    let sided = |x: f64, centre: f64, lo: f64, hi: f64| {
        if x >= centre {
            (x - centre) / floor(hi - centre, centre)
        } else {
            (x - centre) / floor(centre - lo, centre)
        }
    };
    let z = match rule {
        Rule::ObservedInInterval { .. } => sided(o, summary.median, summary.lower, summary.upper),
        Rule::FoldError { max, .. } => {
            if sim > 0.0 && o > 0.0 {
                (sim / o).ln() / max.ln().max(1e-9)
            } else {
                CAP
            }
        }
        Rule::Threshold { op, threshold, .. } => {
            if op.holds(sim, *threshold) {
                0.0
            } else {
                let scale = threshold.abs().max(1e-3);
                let v = (sim - threshold).abs() / scale + 1.0;
                match op {
                    Op::Below | Op::AtMost => v,
                    _ => -v,
                }
            }
        }
        Rule::SimulatedInRange { .. } if !o.is_finite() => {
            let (lo, hi) = (verdict.obs_lower, verdict.obs_upper);
            sided(sim, 0.5 * (lo + hi), lo, hi)
        }
        _ => sided(sim, o, verdict.obs_lower, verdict.obs_upper),
    };
    if z.is_finite() {
        z.clamp(-CAP, CAP)
    } else {
        CAP
    }
}

/// A problem ready to be evaluated: the harness of its targets and its time-course scenarios.
pub struct Calibration {
    /// The problem.
    pub problem: Problem,
    /// The fitted quantities as a search space.
    pub space: ParameterSpace,
    harness: Harness,
    scenarios: Vec<(tabula_scenario::Scenario, tabula_compile::CompiledModel)>,
    /// The starting values (the library's current values).
    pub start: Vec<f64>,
}

/// The outcome of one evaluation.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Target results.
    pub results: Vec<TargetResult>,
    /// Residuals: one per target, then one per time-course point.
    pub residuals: Vec<f64>,
    /// Sum of squared residuals.
    pub objective: f64,
}

/// A finished calibration.
#[derive(Clone, Debug)]
pub struct Fit {
    /// Fitted values (physical units), in the order of the problem's parameters.
    pub values: Vec<f64>,
    /// Before: the library's values.
    pub before: Evaluation,
    /// After: the fitted values.
    pub after: Evaluation,
    /// CMA-ES evaluations.
    pub global_evaluations: usize,
    /// Nelder–Mead evaluations.
    pub local_evaluations: usize,
    /// Failed evaluations (ranked last).
    pub failed_evaluations: usize,
    /// How the optimisers stopped.
    pub termination: String,
    /// Identifiability at the optimum (`None` with a reason when it could not be computed).
    pub identifiability: std::result::Result<IdentifiabilityReport, String>,
}

impl Calibration {
    /// Prepares `problem` against `targets` (which must contain every target it names).
    pub fn new(
        problem: Problem,
        targets: &[Target],
        catalog: &Catalog,
        settings: &Settings,
    ) -> Result<Calibration> {
        let chosen = if problem.targets.is_empty() {
            Vec::new()
        } else {
            crate::validate::select(targets.to_vec(), &problem.targets)?
        };
        if let Some(t) = chosen.iter().find(|t| !t.usable) {
            return Err(ValidateError::Input(format!(
                "problem `{}` fits target `{}`, which is not usable ({})",
                problem.name, t.id, t.reason
            )));
        }
        let settings = Settings {
            patients: settings.patients.or(problem.patients),
            seed: settings.seed.or(problem.seed),
        };
        let harness = Harness::new(&chosen, catalog, &settings)?;
        let mut scenarios = Vec::new();
        for tc in &problem.timecourses {
            let path = Path::new(&tc.scenario);
            let scenario = if path.is_file() {
                tabula_scenario::load_scenario(tabula_scenario::ScenarioRef::File(path), catalog)?
            } else {
                tabula_scenario::from_catalog(catalog, &tc.scenario)?
            };
            let known = scenario.model.outputs.iter().any(|o| o.name == tc.output)
                || scenario.model.states.iter().any(|s| s.name == tc.output);
            if !known {
                return Err(ValidateError::Input(format!(
                    "scenario `{}` has no output or state `{}`",
                    tc.scenario, tc.output
                )));
            }
            if let Some(t) = tc
                .times
                .iter()
                .find(|t| !(**t >= 0.0 && **t <= scenario.end))
            {
                return Err(ValidateError::Input(format!(
                    "time-course data of `{}` at time {t}, outside the scenario's [0, {}]",
                    tc.scenario, scenario.end
                )));
            }
            let compiled = scenario.compile();
            scenarios.push((scenario, compiled));
        }
        let mut params = Vec::new();
        let mut start = Vec::new();
        for p in &problem.parameters {
            let current = match p.kind {
                FitKind::Typical => harness.typical_value(&p.name).or_else(|| {
                    scenarios.iter().find_map(|(s, _)| {
                        s.model.parameter_index(&p.name).map(|i| s.parameters[i])
                    })
                }),
                FitKind::Variability => harness.variability_value(&p.name),
            };
            let Some(current) = current else {
                let at = p
                    .location
                    .as_ref()
                    .map_or(String::new(), |l| format!("{l}: `parameter.name`: "));
                return Err(ValidateError::Input(format!(
                    "{at}problem `{}`: no trial or scenario it uses has {} `{}`",
                    problem.name,
                    match p.kind {
                        FitKind::Typical => "a model parameter",
                        FitKind::Variability => "a population variable",
                    },
                    p.name
                )));
            };
            if !(current >= p.lower && current <= p.upper) {
                return Err(ValidateError::Input(format!(
                    "problem `{}`: the current value of {} ({current}) is outside its prior \
                     range [{}, {}]",
                    problem.name,
                    p.label(),
                    p.lower,
                    p.upper
                )));
            }
            start.push(current);
            params.push(if p.log {
                Parameter::log(p.label(), p.lower, p.upper)
            } else {
                Parameter::linear(p.label(), p.lower, p.upper)
            });
        }
        let space = ParameterSpace::new(params)?;
        Ok(Calibration {
            problem,
            space,
            harness,
            scenarios,
            start,
        })
    }

    /// Patient simulations per evaluation.
    pub fn patient_runs(&self) -> u64 {
        self.harness.patient_runs()
    }

    fn overrides(&self, x: &[f64]) -> Overrides {
        let mut o = Overrides::default();
        for (p, &v) in self.problem.parameters.iter().zip(x) {
            match p.kind {
                FitKind::Typical => o.typical.push((p.name.clone(), v)),
                FitKind::Variability => o.variability.push((p.name.clone(), v)),
            }
        }
        o
    }

    /// Evaluates the objective at `x` (physical units).
    pub fn evaluate(&self, x: &[f64]) -> Evaluation {
        let results = self.harness.evaluate(&self.overrides(x), None);
        let mut residuals: Vec<f64> = results.iter().map(target_residual).collect();
        for ((scenario, compiled), tc) in self.scenarios.iter().zip(&self.problem.timecourses) {
            let mut params = scenario.parameters.clone();
            for (p, &v) in self.problem.parameters.iter().zip(x) {
                if p.kind == FitKind::Typical {
                    if let Some(i) = scenario.model.parameter_index(&p.name) {
                        params[i] = v;
                    }
                }
            }
            let mut times = scenario.output_times.clone();
            times.extend(tc.times.iter().copied());
            times.sort_by(f64::total_cmp);
            times.dedup();
            let sim = tabula_solve::Simulation {
                output_times: &times,
                ..scenario.simulation()
            };
            match tabula_solve::simulate_trajectory(compiled, &params, &sim, None) {
                Ok(traj) => {
                    for (t, v) in tc.times.iter().zip(&tc.values) {
                        let s = traj.at(&tc.output, *t).unwrap_or(f64::NAN);
                        let z = (s - v) / tc.sd;
                        residuals.push(if z.is_finite() {
                            z.clamp(-1e3, 1e3)
                        } else {
                            1e3
                        });
                    }
                }
                Err(_) => residuals.extend(tc.times.iter().map(|_| 1e3)),
            }
        }
        let objective = residuals.iter().map(|z| z * z).sum();
        Evaluation {
            results,
            residuals,
            objective,
        }
    }

    /// Runs CMA-ES then Nelder–Mead from the library's values; `observer` sees both phases.
    pub fn fit(&self, observer: &mut dyn Observer) -> Result<Fit> {
        let f = |x: &[f64]| -> std::result::Result<f64, String> { Ok(self.evaluate(x).objective) };
        let before = self.evaluate(&self.start);
        let o = &self.problem.optimizer;
        let cma = CmaEs {
            x0: Some(self.start.clone()),
            sigma0: 0.25,
            population: o.population,
            max_evaluations: o.max_evaluations,
            tol_fun: 1e-9,
            tol_x: 1e-4,
            target: Some(0.0),
            seed: o.seed,
            ..CmaEs::default()
        };
        let global = cma.minimize_observed(&self.space, f, observer)?;
        let mut best = global.params.clone();
        let mut best_value = global.value;
        let mut termination = format!("CMA-ES: {:?}", global.termination);
        let mut local_evaluations = 0;
        let mut failed = global.failed_evaluations;
        if before.objective < best_value {
            best = self.start.clone();
            best_value = before.objective;
        }
        if o.refine_evaluations > 0 && best_value > 0.0 {
            let nm = NelderMead {
                x0: Some(best.clone()),
                initial_step: 0.05,
                max_evaluations: o.refine_evaluations,
                f_tol: 1e-9,
                x_tol: 1e-4,
            };
            let local = nm.minimize_observed(&self.space, f, observer)?;
            local_evaluations = local.evaluations;
            failed += local.failed_evaluations;
            termination.push_str(&format!("; Nelder-Mead: {:?}", local.termination));
            if local.value < best_value {
                best = local.params;
            }
        }
        let after = self.evaluate(&best);
        let residuals =
            |x: &[f64]| -> std::result::Result<Vec<f64>, String> { Ok(self.evaluate(x).residuals) };
        let identifiability = least_squares_identifiability(
            &self.space,
            &best,
            residuals,
            NoiseModel::Known(1.0),
            &IdentifiabilityOptions {
                relative_step: Some(0.05),
                ..IdentifiabilityOptions::default()
            },
        )
        .map_err(|e| e.to_string());
        Ok(Fit {
            values: best,
            before,
            after,
            global_evaluations: global.evaluations,
            local_evaluations,
            failed_evaluations: failed,
            termination,
            identifiability,
        })
    }
}

/// An observer that forwards progress to a closure (for progress bars).
pub struct ProgressObserver<F: FnMut(&Progress<'_>)>(pub F);

impl<F: FnMut(&Progress<'_>)> Observer for ProgressObserver<F> {
    fn observe(&mut self, progress: &Progress<'_>) -> tabula_fit::Control {
        (self.0)(progress);
        tabula_fit::Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBLEM: &str = r#"
[problem]
name = "demo"
description = "fit k"
targets = ["T1"]
patients = 50

[[parameter]]
name = "k"
lower = 0.1
upper = 10
scale = "log"

[[parameter]]
name = "k"
kind = "variability"
lower = 0.05
upper = 1

[optimizer]
max_evaluations = 40
"#;

    #[test]
    fn a_problem_reads() {
        let p = load_problem_str("demo.toml", PROBLEM).unwrap();
        assert_eq!(p.targets, ["T1"]);
        assert_eq!(p.patients, Some(50));
        assert_eq!(p.parameters.len(), 2);
        assert!(p.parameters[0].log && !p.parameters[1].log);
        assert_eq!(p.parameters[1].label(), "omega(k)");
        assert_eq!(p.optimizer.max_evaluations, 40);
        assert_eq!(p.optimizer.refine_evaluations, 60);
    }

    #[test]
    fn problem_errors_are_located() {
        let bad = PROBLEM
            .replace("upper = 10", "upper = 0.01")
            .replace("kind = \"variability\"", "kind = \"spread\"");
        let e = load_problem_str("demo.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("must exceed `lower`"), "{e}");
        assert!(e.contains("unknown value \"spread\""), "{e}");
        assert!(e.contains("demo.toml:"), "{e}");
    }
}
