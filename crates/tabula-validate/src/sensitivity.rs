//! Global sensitivity of one scenario endpoint to chosen model parameters: Morris screening
//! and Sobol indices (first and total order), computed by `tabula-fit`.
//!
//! The endpoint is a summary of one output (or state) of a single-patient scenario:
//!
//! | written | value |
//! |---|---|
//! | `B_blood@28` | the output at the output time closest to day 28 |
//! | `min(B_blood)`, `max(...)` | the smallest / largest value over the output times |
//! | `mean(...)` | the time average (trapezoid rule divided by the span) |
//! | `auc(...)` | the area under the curve (trapezoid rule over the output times) |
//! | `final(...)` or `B_blood` | the value at the last output time |
//!
//! A factor is a model parameter with a range: `name=lower:upper` (`:log` or `:lin` may
//! follow), or just `name`, which takes the parameter's plausible range from the model file
//! when it has one and `[value / 2, 2 value]` otherwise. Ranges spanning a factor of 10 or
//! more of positive values are sampled on a log scale unless `:lin` is given.
//!
//! The Ishigami function (Ishigami and Homma 1990) is available as a reference problem
//! ([`Reference::Ishigami`]), so the same code path can be checked against known indices.

use std::sync::Arc;

use tabula_compile::CompiledModel;
use tabula_fit::problems::Ishigami;
use tabula_fit::{
    morris_screening, sobol_indices, MorrisConfig, MorrisIndices, Parameter, ParameterSpace,
    SobolConfig, SobolIndices,
};
use tabula_output::plot::{bar_chart, BarOptions, BarSeries};
use tabula_output::{Column, Figure, Table};
use tabula_scenario::Scenario;
use tabula_solve::simulate_trajectory;

use crate::error::{Result, ValidateError};

/// How an output's time course is reduced to one number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduce {
    /// The value at the output time closest to this time.
    At(f64),
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The time average.
    Mean,
    /// The area under the curve.
    Auc,
    /// The value at the last output time.
    Final,
}

/// A scalar endpoint of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioEndpoint {
    /// Output or state name.
    pub output: String,
    /// The reduction.
    pub reduce: Reduce,
}

impl ScenarioEndpoint {
    /// Parses `name@t`, `min(name)`, `max(name)`, `mean(name)`, `auc(name)`, `final(name)` or
    /// `name`.
    pub fn parse(text: &str) -> Result<ScenarioEndpoint> {
        let s = text.trim();
        let bad = || {
            ValidateError::Input(format!(
                "cannot read endpoint \"{text}\": write OUTPUT@TIME, min(OUTPUT), max(OUTPUT), \
                 mean(OUTPUT), auc(OUTPUT), final(OUTPUT) or OUTPUT"
            ))
        };
        if let Some((name, t)) = s.split_once('@') {
            let t: f64 = t.trim().parse().map_err(|_| bad())?;
            if !t.is_finite() || name.trim().is_empty() {
                return Err(bad());
            }
            return Ok(ScenarioEndpoint {
                output: name.trim().to_string(),
                reduce: Reduce::At(t),
            });
        }
        if let Some((f, rest)) = s.split_once('(') {
            let name = rest.strip_suffix(')').ok_or_else(bad)?.trim();
            let reduce = match f.trim() {
                "min" => Reduce::Min,
                "max" => Reduce::Max,
                "mean" => Reduce::Mean,
                "auc" => Reduce::Auc,
                "final" => Reduce::Final,
                _ => return Err(bad()),
            };
            if name.is_empty() {
                return Err(bad());
            }
            return Ok(ScenarioEndpoint {
                output: name.to_string(),
                reduce,
            });
        }
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ')') {
            return Err(bad());
        }
        Ok(ScenarioEndpoint {
            output: s.to_string(),
            reduce: Reduce::Final,
        })
    }

    /// The endpoint as written.
    pub fn describe(&self) -> String {
        match self.reduce {
            Reduce::At(t) => format!("{}@{}", self.output, tabula_output::format_sig(t, 6)),
            Reduce::Min => format!("min({})", self.output),
            Reduce::Max => format!("max({})", self.output),
            Reduce::Mean => format!("mean({})", self.output),
            Reduce::Auc => format!("auc({})", self.output),
            Reduce::Final => format!("final({})", self.output),
        }
    }

    /// Reduces a time course (`times`, `values`) to the endpoint's number.
    pub fn reduce(&self, times: &[f64], values: &[f64]) -> f64 {
        if values.is_empty() {
            return f64::NAN;
        }
        let trapezoid = || {
            times
                .windows(2)
                .zip(values.windows(2))
                .map(|(t, v)| 0.5 * (t[1] - t[0]) * (v[0] + v[1]))
                .sum::<f64>()
        };
        match self.reduce {
            Reduce::At(t) => {
                let i = times
                    .iter()
                    .enumerate()
                    .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
                    .map_or(0, |x| x.0);
                values[i]
            }
            Reduce::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Reduce::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Reduce::Final => values[values.len() - 1],
            Reduce::Auc => trapezoid(),
            Reduce::Mean => {
                let span = times[times.len() - 1] - times[0];
                if span > 0.0 {
                    trapezoid() / span
                } else {
                    values[0]
                }
            }
        }
    }
}

/// Reads a factor: `name`, `name=lower:upper`, optionally followed by `:log` or `:lin`.
/// `default_range` gives the range of a bare name (the model's plausible range, or half to
/// twice the value).
pub fn parse_factor(
    spec: &str,
    default_range: impl Fn(&str) -> Option<(f64, f64)>,
) -> Result<Parameter> {
    let bad = |why: &str| {
        ValidateError::Input(format!(
            "cannot read factor \"{spec}\": {why} (write NAME, NAME=LOWER:UPPER, or \
             NAME=LOWER:UPPER:log)"
        ))
    };
    let (name, range) = match spec.split_once('=') {
        Some((n, r)) => (n.trim(), Some(r)),
        None => (spec.trim(), None),
    };
    if name.is_empty() {
        return Err(bad("no parameter name"));
    }
    let (lower, upper, scale) = match range {
        Some(r) => {
            let parts: Vec<&str> = r.split(':').map(str::trim).collect();
            if parts.len() < 2 || parts.len() > 3 {
                return Err(bad("expected LOWER:UPPER"));
            }
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|_| bad(&format!("`{s}` is not a number")))
            };
            let scale = match parts.get(2) {
                None => None,
                Some(&"log") => Some(true),
                Some(&"lin") | Some(&"linear") => Some(false),
                Some(other) => return Err(bad(&format!("unknown scale `{other}`"))),
            };
            (num(parts[0])?, num(parts[1])?, scale)
        }
        None => {
            let (a, b) = default_range(name).ok_or_else(|| {
                ValidateError::Input(format!("the scenario's model has no parameter `{name}`"))
            })?;
            (a, b, None)
        }
    };
    if !(lower.is_finite() && upper.is_finite() && lower < upper) {
        return Err(bad("the lower bound must be below the upper bound"));
    }
    let log = scale.unwrap_or(lower > 0.0 && upper / lower >= 10.0);
    if log && lower <= 0.0 {
        return Err(bad("a log scale needs positive bounds"));
    }
    Ok(if log {
        Parameter::log(name, lower, upper)
    } else {
        Parameter::linear(name, lower, upper)
    })
}

/// The function whose sensitivity is analysed.
pub enum Subject {
    /// A scenario endpoint as a function of some of its model parameters.
    Scenario {
        /// The scenario (its parameters are the base values).
        scenario: Box<Scenario>,
        /// The compiled model.
        compiled: Arc<CompiledModel>,
        /// The endpoint.
        endpoint: ScenarioEndpoint,
        /// Model parameter index of each factor.
        indices: Vec<usize>,
    },
    /// A reference function with known indices.
    Reference(Reference),
}

/// Reference functions with closed-form sensitivity indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1` on `[-π, π]³` (Ishigami and Homma 1990).
    Ishigami,
}

impl Subject {
    /// A scenario endpoint against the factors of `space` (every factor must be a parameter of
    /// the scenario's model; the endpoint must be one of its outputs or states).
    pub fn scenario(
        scenario: Scenario,
        endpoint: ScenarioEndpoint,
        space: &ParameterSpace,
    ) -> Result<Subject> {
        let model = &scenario.model;
        let mut indices = Vec::new();
        for p in space.parameters() {
            let i = model.parameter_index(&p.name).ok_or_else(|| {
                let hint = tabula_model::error::did_you_mean(
                    &p.name,
                    model.parameters.iter().map(|q| q.name.as_str()),
                );
                ValidateError::Input(format!(
                    "model `{}` has no parameter `{}`{hint}",
                    scenario.model_ref, p.name
                ))
            })?;
            indices.push(i);
        }
        let known = model.outputs.iter().any(|o| o.name == endpoint.output)
            || model.states.iter().any(|s| s.name == endpoint.output);
        if !known {
            let names = model
                .outputs
                .iter()
                .map(|o| o.name.as_str())
                .chain(model.states.iter().map(|s| s.name.as_str()));
            let hint = tabula_model::error::did_you_mean(&endpoint.output, names);
            return Err(ValidateError::Input(format!(
                "model `{}` has no output or state `{}`{hint}",
                scenario.model_ref, endpoint.output
            )));
        }
        if let Reduce::At(t) = &endpoint.reduce {
            if !(0.0..=scenario.end).contains(t) {
                return Err(ValidateError::Input(format!(
                    "endpoint `{}@{t}`: the time is outside the simulated interval [0, {}] {} of scenario `{}`",
                    endpoint.output, scenario.end, model.time_unit_text, scenario.name
                )));
            }
        }
        let compiled = Arc::new(scenario.compile());
        Ok(Subject::Scenario {
            scenario: Box::new(scenario),
            compiled,
            endpoint,
            indices,
        })
    }

    /// The default parameter space of a reference function.
    pub fn reference_space(r: Reference) -> Result<ParameterSpace> {
        match r {
            Reference::Ishigami => Ok(Ishigami::space()?),
        }
    }

    /// The endpoint's value at the physical factor values `x`.
    pub fn eval(&self, x: &[f64]) -> std::result::Result<f64, String> {
        match self {
            Subject::Reference(Reference::Ishigami) => Ok(Ishigami::default().eval(x)),
            Subject::Scenario {
                scenario,
                compiled,
                endpoint,
                indices,
            } => {
                let mut params = scenario.parameters.clone();
                for (&i, &v) in indices.iter().zip(x) {
                    params[i] = v;
                }
                let traj = simulate_trajectory(compiled, &params, &scenario.simulation(), None)
                    .map_err(|e| e.to_string())?;
                let series = traj
                    .series(&endpoint.output)
                    .ok_or_else(|| format!("no output {}", endpoint.output))?;
                Ok(endpoint.reduce(&traj.times, &series))
            }
        }
    }

    /// What is analysed, in words.
    pub fn describe(&self) -> String {
        match self {
            Subject::Reference(Reference::Ishigami) => {
                "Ishigami function (a = 7, b = 0.1)".to_string()
            }
            Subject::Scenario {
                scenario, endpoint, ..
            } => format!("{} of scenario {}", endpoint.describe(), scenario.name),
        }
    }

    /// The closed-form first- and total-order indices, for reference functions.
    pub fn exact_indices(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        match self {
            Subject::Reference(Reference::Ishigami) => {
                let f = Ishigami::default();
                Some((f.first_order().to_vec(), f.total_order().to_vec()))
            }
            Subject::Scenario { .. } => None,
        }
    }
}

/// Settings of an analysis.
#[derive(Clone, Debug)]
pub struct SensitivitySettings {
    /// Run Morris screening.
    pub morris: Option<MorrisConfig>,
    /// Compute Sobol indices.
    pub sobol: Option<SobolConfig>,
}

/// The most memory an analysis may plan for (designs, outputs, bootstrap replicates): 4 GiB.
pub const MEMORY_LIMIT_BYTES: u128 = 4 << 30;

impl SensitivitySettings {
    /// An upper estimate of the memory the analyses need for `d` factors, in bytes: every
    /// design point with its output, and the bootstrap replicates of every index.
    pub fn estimated_bytes(&self, d: usize) -> u128 {
        let d = d as u128;
        let mut bytes = 0u128;
        if let Some(m) = &self.morris {
            let r = m.candidates.unwrap_or(0).max(m.trajectories) as u128;
            bytes += r * (d + 1) * (d + 1) * 8 + m.bootstrap as u128 * (d + 1) * 3 * 8;
        }
        if let Some(s) = &self.sobol {
            let n = s.n_base as u128;
            bytes += n * (d + 2) * (d + 1) * 8 + n * 2 * d * 8 + s.bootstrap as u128 * d * 2 * 8;
        }
        bytes
    }

    /// Refuses settings whose [`estimated_bytes`](Self::estimated_bytes) exceed
    /// [`MEMORY_LIMIT_BYTES`], naming the sizes to lower.
    pub fn check_memory(&self, d: usize) -> Result<()> {
        let need = self.estimated_bytes(d);
        if need <= MEMORY_LIMIT_BYTES {
            return Ok(());
        }
        let mut sizes = Vec::new();
        if let Some(s) = &self.sobol {
            sizes.push(format!("{} Sobol base samples", s.n_base));
        }
        if let Some(m) = &self.morris {
            sizes.push(format!("{} Morris trajectories", m.trajectories));
        }
        Err(ValidateError::Input(format!(
            "{} with {d} factor(s) would need about {:.3e} bytes of memory, more than the limit of {} GiB; lower --samples, --trajectories or --bootstrap",
            sizes.join(" and "),
            need as f64,
            MEMORY_LIMIT_BYTES >> 30
        )))
    }
}

/// The results of an analysis.
#[derive(Clone, Debug)]
pub struct SensitivityResult {
    /// What was analysed.
    pub subject: String,
    /// The factors.
    pub names: Vec<String>,
    /// Morris screening, if run.
    pub morris: Option<MorrisIndices>,
    /// Sobol indices, if computed.
    pub sobol: Option<SobolIndices>,
    /// Closed-form indices (first, total order) of a reference function.
    pub exact: Option<(Vec<f64>, Vec<f64>)>,
}

/// Runs the analyses of `settings` on `subject` over `space` (model evaluations in parallel on
/// the current rayon pool; results independent of the thread count). `tick` is called after
/// every evaluation (progress display).
pub fn analyse(
    subject: &Subject,
    space: &ParameterSpace,
    settings: &SensitivitySettings,
    tick: Option<&(dyn Fn() + Sync)>,
) -> Result<SensitivityResult> {
    settings.check_memory(space.dim())?;
    let f = |x: &[f64]| {
        let v = subject.eval(x);
        if let Some(t) = tick {
            t();
        }
        v
    };
    let morris = match &settings.morris {
        Some(c) => Some(morris_screening(space, c, f)?),
        None => None,
    };
    let sobol = match &settings.sobol {
        Some(c) => Some(sobol_indices(space, c, f)?),
        None => None,
    };
    Ok(SensitivityResult {
        subject: subject.describe(),
        names: space.names(),
        morris,
        sobol,
        exact: subject.exact_indices(),
    })
}

impl SensitivityResult {
    /// One row per factor: Morris `mu*` (with its interval), `mu`, `sigma`; Sobol `S1` and
    /// `ST` with their bootstrap intervals; the exact indices of a reference function.
    pub fn table(&self) -> Result<Table> {
        let n = self.names.len();
        let nan = vec![f64::NAN; n];
        let mut cols: Vec<(String, Column)> =
            vec![("parameter".into(), Column::Str(self.names.clone()))];
        if let Some(m) = &self.morris {
            cols.push((
                "mu_star".into(),
                Column::F64(m.mu_star.iter().map(|e| e.value).collect()),
            ));
            let ci = |k: usize| -> Vec<f64> {
                m.mu_star
                    .iter()
                    .map(|e| e.ci.map_or(f64::NAN, |c| if k == 0 { c.0 } else { c.1 }))
                    .collect()
            };
            cols.push(("mu_star_lower".into(), Column::F64(ci(0))));
            cols.push(("mu_star_upper".into(), Column::F64(ci(1))));
            cols.push(("mu".into(), Column::F64(m.mu.clone())));
            cols.push(("sigma".into(), Column::F64(m.sigma.clone())));
        }
        if let Some(s) = &self.sobol {
            for (label, est) in [("S1", &s.first_order), ("ST", &s.total_order)] {
                cols.push((
                    label.into(),
                    Column::F64(est.iter().map(|e| e.value).collect()),
                ));
                for (k, suffix) in [(0, "lower"), (1, "upper")] {
                    cols.push((
                        format!("{label}_{suffix}"),
                        Column::F64(
                            est.iter()
                                .map(|e| e.ci.map_or(f64::NAN, |c| if k == 0 { c.0 } else { c.1 }))
                                .collect(),
                        ),
                    ));
                }
            }
        }
        if let Some((s1, st)) = &self.exact {
            cols.push(("S1_exact".into(), Column::F64(s1.clone())));
            cols.push(("ST_exact".into(), Column::F64(st.clone())));
        }
        if cols.len() == 1 {
            cols.push(("note".into(), Column::Str(vec!["no analysis".into(); n])));
        }
        let _ = nan;
        Ok(Table::from_columns(cols)?)
    }

    /// Bar charts: Morris `mu*` and `sigma`; Sobol `S1` and `ST` with bootstrap intervals.
    pub fn figures(&self) -> Result<Vec<(String, Figure)>> {
        let mut out = Vec::new();
        if let Some(m) = &self.morris {
            let lo: Vec<f64> = m
                .mu_star
                .iter()
                .map(|e| e.ci.map_or(f64::NAN, |c| c.0))
                .collect();
            let hi: Vec<f64> = m
                .mu_star
                .iter()
                .map(|e| e.ci.map_or(f64::NAN, |c| c.1))
                .collect();
            let mu = BarSeries::new("μ*", m.mu_star.iter().map(|e| e.value).collect())
                .with_errors(lo, hi);
            let sigma = BarSeries::new("σ", m.sigma.clone());
            let opts = BarOptions {
                title: Some(format!("Morris screening: {}", self.subject)),
                x_label: "elementary effect (per unit of the scaled range)".into(),
                width: 760,
                ..BarOptions::default()
            };
            out.push((
                "morris".to_string(),
                bar_chart(&self.names, &[mu, sigma], &opts)?,
            ));
        }
        if let Some(s) = &self.sobol {
            let series = |label: &str, est: &[tabula_fit::Estimate]| {
                BarSeries::new(label, est.iter().map(|e| e.value).collect()).with_errors(
                    est.iter().map(|e| e.ci.map_or(f64::NAN, |c| c.0)).collect(),
                    est.iter().map(|e| e.ci.map_or(f64::NAN, |c| c.1)).collect(),
                )
            };
            let opts = BarOptions {
                title: Some(format!("Sobol indices: {}", self.subject)),
                x_label: "share of output variance".into(),
                width: 760,
                ..BarOptions::default()
            };
            out.push((
                "sobol".to_string(),
                bar_chart(
                    &self.names,
                    &[
                        series("first order S1", &s.first_order),
                        series("total order ST", &s.total_order),
                    ],
                    &opts,
                )?,
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e = ScenarioEndpoint::parse("B_blood@28").unwrap();
        assert_eq!(e.reduce, Reduce::At(28.0));
        assert_eq!(
            ScenarioEndpoint::parse("auc(X)").unwrap().reduce,
            Reduce::Auc
        );
        assert_eq!(ScenarioEndpoint::parse("X").unwrap().reduce, Reduce::Final);
        assert!(ScenarioEndpoint::parse("avg(X)").is_err());
        assert!(ScenarioEndpoint::parse("X@soon").is_err());
        let times = [0.0, 1.0, 2.0];
        let v = [0.0, 2.0, 0.0];
        assert_eq!(
            ScenarioEndpoint::parse("auc(X)")
                .unwrap()
                .reduce(&times, &v),
            2.0
        );
        assert_eq!(
            ScenarioEndpoint::parse("mean(X)")
                .unwrap()
                .reduce(&times, &v),
            1.0
        );
        assert_eq!(
            ScenarioEndpoint::parse("X@0.9").unwrap().reduce(&times, &v),
            2.0
        );
        assert_eq!(
            ScenarioEndpoint::parse("max(X)")
                .unwrap()
                .reduce(&times, &v),
            2.0
        );
    }

    #[test]
    fn factors_parse() {
        let none = |_: &str| None;
        let p = parse_factor("k=0.1:10", none).unwrap();
        assert_eq!(p.scale, tabula_fit::Scale::Log);
        let p = parse_factor("k=0.1:10:lin", none).unwrap();
        assert_eq!(p.scale, tabula_fit::Scale::Linear);
        assert!(parse_factor("k=-1:1:log", none).is_err());
        assert!(parse_factor("k=2:1", none).is_err());
        assert!(parse_factor("k", none).is_err());
        let p = parse_factor("k", |_| Some((1.0, 3.0))).unwrap();
        assert_eq!((p.lower, p.upper), (1.0, 3.0));
    }
}
