//! A resolved virtual trial: arms, population, endpoints and outputs, as read from a trial file
//! (see `docs/trials.md`). Everything here is validated: names resolve, numbers are in range,
//! times are in the model time unit.

use tabula_model::expr::Ast;
use tabula_scenario::Scenario;

/// How patients are shared between arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Design {
    /// The same virtual patients (the same draws) go through every arm: arm differences are
    /// not confounded by sampling noise.
    #[default]
    Paired,
    /// Each arm draws its own patients (as in a parallel-group randomised trial).
    Parallel,
}

impl Design {
    /// The name used in trial files.
    pub fn name(self) -> &'static str {
        match self {
            Design::Paired => "paired",
            Design::Parallel => "parallel",
        }
    }
}

/// One arm: a scenario's model, regimen and solver settings, with overrides.
#[derive(Clone, Debug)]
pub struct Arm {
    /// Name shown in tables and plots.
    pub name: String,
    /// Free-text description (e.g. the regimen in words).
    pub description: String,
    /// The scenario reference as written.
    pub scenario_ref: String,
    /// The resolved scenario with the arm's parameter overrides, dose changes and solver
    /// settings applied; its `parameters` are the arm's typical values.
    pub scenario: Scenario,
    /// Simulation time of the arm's treatment day 0: endpoint times count from here.
    pub origin: f64,
    /// End of the simulation (origin + follow-up).
    pub end: f64,
    /// Output aliases `(alias, output name)` for endpoints whose output differs by arm.
    pub aliases: Vec<(String, String)>,
    /// Names of the parameters the arm overrides.
    pub overrides: Vec<String>,
}

impl Arm {
    /// The model output an endpoint name refers to in this arm (through an alias), if any.
    pub fn resolve_output(&self, name: &str) -> Option<usize> {
        let target = self
            .aliases
            .iter()
            .find(|(a, _)| a == name)
            .map_or(name, |(_, o)| o.as_str());
        self.scenario
            .model
            .outputs
            .iter()
            .position(|o| o.name == target)
    }
}

/// A continuous distribution of one population variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// `typical * exp(omega * z)`.
    LogNormal {
        /// SD of the log.
        omega: f64,
    },
    /// `typical + sd * z`.
    Normal {
        /// Standard deviation.
        sd: f64,
        /// When true, `sd` is a coefficient of variation (multiplied by |typical|).
        relative: bool,
    },
    /// `lo + (hi - lo) expit(logit((typical - lo)/(hi - lo)) + sd * z)`.
    LogitNormal {
        /// SD on the logit scale.
        sd: f64,
        /// Lower limit of the support.
        lo: f64,
        /// Upper limit of the support.
        hi: f64,
    },
    /// `lo + (hi - lo) Φ(z)` (the typical value is not used).
    Uniform {
        /// Lower limit.
        lo: f64,
        /// Upper limit.
        hi: f64,
    },
}

/// Where a variable's typical (median or mean) value comes from.
#[derive(Clone, Debug)]
pub enum Typical {
    /// The value in the arm's model (after the arm's overrides and categorical settings).
    Model,
    /// A number.
    Value(f64),
    /// An expression of earlier variables and model parameters.
    Expr(Ast, String),
}

/// What to do with a draw outside its plausible bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Outside {
    /// Draw the variable (with its correlation block) again, up to 100 times: a truncated
    /// distribution.
    #[default]
    Resample,
    /// Reject the whole candidate patient and draw a new one.
    Reject,
    /// Set the value to the bound.
    Clamp,
}

impl Outside {
    /// The name used in trial files.
    pub fn name(self) -> &'static str {
        match self {
            Outside::Resample => "resample",
            Outside::Reject => "reject",
            Outside::Clamp => "clamp",
        }
    }
}

/// One population variable: a model parameter that varies between patients, or a covariate
/// that only feeds expressions.
#[derive(Clone, Debug)]
pub struct Variable {
    /// Name (a model parameter for parameters).
    pub name: String,
    /// True for `[population.parameters]`, false for `[population.covariates]`.
    pub is_parameter: bool,
    /// The random part; `None` for a fixed relation (`expr`).
    pub dist: Option<Dist>,
    /// The typical value.
    pub typical: Typical,
    /// A deterministic relation replacing the draw entirely.
    pub expr: Option<(Ast, String)>,
    /// Plausible bounds.
    pub bounds: Option<(f64, f64)>,
    /// What happens outside the bounds.
    pub outside: Outside,
    /// Unit (for reports).
    pub unit: String,
    /// Source or justification (for reports).
    pub source: String,
}

/// A categorical covariate whose level sets parameter values.
#[derive(Clone, Debug)]
pub struct Categorical {
    /// Name.
    pub name: String,
    /// Level names.
    pub levels: Vec<String>,
    /// Level probabilities (sum to 1).
    pub probabilities: Vec<f64>,
    /// Per level, the parameters it sets: (name, value).
    pub set: Vec<Vec<(String, f64)>>,
    /// Source or justification.
    pub source: String,
}

/// A correlation block over the standard-normal deviates of some variables.
#[derive(Clone, Debug)]
pub struct Correlation {
    /// Indices into [`Population::variables`].
    pub variables: Vec<usize>,
    /// Lower-triangular Cholesky factor of the correlation matrix, row-major `k x k`.
    pub cholesky: Vec<f64>,
    /// The correlation matrix as given, row-major.
    pub matrix: Vec<f64>,
}

/// A target distribution of a baseline output for acceptance–rejection.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Normal.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal.
    LogNormal {
        /// Median.
        median: f64,
        /// SD of the log.
        omega: f64,
    },
    /// Uniform on `[lo, hi]`.
    Uniform {
        /// Lower limit.
        lo: f64,
        /// Upper limit.
        hi: f64,
    },
    /// Piecewise-constant density: bin edges and relative weights.
    Histogram {
        /// Bin edges (ascending, one more than the weights).
        edges: Vec<f64>,
        /// Relative weight of each bin.
        weights: Vec<f64>,
    },
}

impl Target {
    /// The target density at `x` (unnormalised for histograms).
    pub fn density(&self, x: f64) -> f64 {
        match self {
            Target::Normal { mean, sd } => crate::stats::normal_pdf((x - mean) / sd) / sd,
            Target::LogNormal { median, omega } => {
                if x <= 0.0 {
                    0.0
                } else {
                    crate::stats::normal_pdf((x / median).ln() / omega) / (omega * x)
                }
            }
            Target::Uniform { lo, hi } => {
                if (*lo..=*hi).contains(&x) {
                    1.0 / (hi - lo)
                } else {
                    0.0
                }
            }
            Target::Histogram { edges, weights } => {
                let total: f64 = weights.iter().sum();
                for (i, w) in weights.iter().enumerate() {
                    if x >= edges[i]
                        && (x < edges[i + 1] || (i + 1 == weights.len() && x == edges[i + 1]))
                    {
                        return w / total / (edges[i + 1] - edges[i]);
                    }
                }
                0.0
            }
        }
    }

    /// The target cumulative distribution function (for checks and reports).
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Target::Normal { mean, sd } => crate::stats::normal_cdf((x - mean) / sd),
            Target::LogNormal { median, omega } => {
                if x <= 0.0 {
                    0.0
                } else {
                    crate::stats::normal_cdf((x / median).ln() / omega)
                }
            }
            Target::Uniform { lo, hi } => ((x - lo) / (hi - lo)).clamp(0.0, 1.0),
            Target::Histogram { edges, weights } => {
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                for (i, w) in weights.iter().enumerate() {
                    let (a, b) = (edges[i], edges[i + 1]);
                    if x >= b {
                        acc += w / total;
                    } else if x > a {
                        acc += w / total * (x - a) / (b - a);
                    }
                }
                acc.clamp(0.0, 1.0)
            }
        }
    }
}

/// A condition on a baseline output (evaluated before treatment, at time 0).
#[derive(Clone, Debug)]
pub struct BaselineCriterion {
    /// Output name.
    pub output: String,
    /// Plausible range (inclusive).
    pub min: Option<f64>,
    /// Plausible range (inclusive).
    pub max: Option<f64>,
    /// Target distribution (acceptance–rejection).
    pub target: Option<Target>,
}

/// The virtual population.
#[derive(Clone, Debug, Default)]
pub struct Population {
    /// Variables in file order (covariates first, then parameters).
    pub variables: Vec<Variable>,
    /// Categorical covariates.
    pub categoricals: Vec<Categorical>,
    /// Correlation blocks.
    pub correlations: Vec<Correlation>,
    /// Baseline criteria.
    pub baseline: Vec<BaselineCriterion>,
    /// The arm whose model evaluates the baseline outputs.
    pub screening_arm: usize,
    /// Candidates drawn per patient before giving up (the patient is then "not_enrolled").
    pub max_attempts: u32,
    /// Size of the pilot population that estimates the plausible baseline density.
    pub pilot: u32,
}

/// A comparison with a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `<`
    Below,
    /// `<=`
    AtMost,
    /// `>`
    Above,
    /// `>=`
    AtLeast,
}

impl Op {
    /// The symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Below => "<",
            Op::AtMost => "<=",
            Op::Above => ">",
            Op::AtLeast => ">=",
        }
    }

    /// Whether `x op threshold` holds (false for NaN).
    pub fn holds(self, x: f64, threshold: f64) -> bool {
        match self {
            Op::Below => x < threshold,
            Op::AtMost => x <= threshold,
            Op::Above => x > threshold,
            Op::AtLeast => x >= threshold,
        }
    }
}

/// `output op threshold`, the threshold optionally a multiple of the patient's baseline.
#[derive(Clone, Debug)]
pub struct Condition {
    /// Output (or alias) name.
    pub output: String,
    /// Comparison.
    pub op: Op,
    /// Threshold.
    pub threshold: f64,
    /// Threshold x baseline value instead of the threshold itself.
    pub relative: bool,
}

impl Condition {
    /// Human-readable form, e.g. `b_blood < 0.01 x baseline`.
    pub fn describe(&self) -> String {
        if self.relative {
            format!(
                "{} {} {} x baseline",
                self.output,
                self.op.symbol(),
                self.threshold
            )
        } else {
            format!("{} {} {}", self.output, self.op.symbol(), self.threshold)
        }
    }
}

/// How a value is compared with the patient's baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Change {
    /// The value itself.
    #[default]
    None,
    /// value - baseline.
    Absolute,
    /// value / baseline.
    Ratio,
    /// 100 (value - baseline) / baseline.
    Percent,
    /// log10(value / baseline).
    Log10Ratio,
}

impl Change {
    /// The name used in trial files.
    pub fn name(self) -> &'static str {
        match self {
            Change::None => "none",
            Change::Absolute => "absolute",
            Change::Ratio => "ratio",
            Change::Percent => "percent",
            Change::Log10Ratio => "log10_ratio",
        }
    }

    /// Applies the change to `x` against `baseline`.
    pub fn apply(self, x: f64, baseline: f64) -> f64 {
        match self {
            Change::None => x,
            Change::Absolute => x - baseline,
            Change::Ratio => x / baseline,
            Change::Percent => 100.0 * (x - baseline) / baseline,
            Change::Log10Ratio => (x / baseline).log10(),
        }
    }
}

/// A time window relative to the arm's origin (`to = None`: end of follow-up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Start (inclusive).
    pub from: f64,
    /// End (inclusive); `None` for the end of follow-up.
    pub to: Option<f64>,
}

/// What an endpoint computes. Every time is relative to the arm's origin; the baseline is the
/// value at simulation time 0 (before any treatment).
#[derive(Clone, Debug)]
pub enum EndpointKind {
    /// The value at `time`, optionally as a change from baseline.
    Value {
        /// Output.
        output: String,
        /// Assessment time.
        time: f64,
        /// Change from baseline.
        change: Change,
    },
    /// The minimum over the window.
    Nadir {
        /// Output.
        output: String,
        /// Window.
        window: Window,
        /// Change from baseline.
        change: Change,
    },
    /// The maximum over the window.
    Peak {
        /// Output.
        output: String,
        /// Window.
        window: Window,
        /// Change from baseline.
        change: Change,
    },
    /// Time of the minimum over the window (first if tied).
    TimeToNadir {
        /// Output.
        output: String,
        /// Window.
        window: Window,
    },
    /// Time of the maximum over the window (first if tied).
    TimeToPeak {
        /// Output.
        output: String,
        /// Window.
        window: Window,
    },
    /// Area under the curve over the window (trapezoidal rule on the assessment grid).
    Auc {
        /// Output.
        output: String,
        /// Window.
        window: Window,
    },
    /// Time-averaged value over the window (AUC / window length).
    Mean {
        /// Output.
        output: String,
        /// Window.
        window: Window,
    },
    /// Time to the first assessment in the window at which the condition holds; censored at the
    /// end of the window.
    TimeTo {
        /// Condition.
        condition: Condition,
        /// Window.
        window: Window,
    },
    /// Total time in the window during which the condition holds (assessment grid).
    Duration {
        /// Condition.
        condition: Condition,
        /// Window.
        window: Window,
    },
    /// Time to the first assessment at which the output is back (`recovered`) after it was
    /// depleted (`depleted`); censored at the end of the window; patients never depleted are
    /// not at risk.
    Recovery {
        /// Depletion condition (e.g. below a threshold).
        depleted: Condition,
        /// Recovery condition (e.g. at least a threshold).
        recovered: Condition,
        /// Window.
        window: Window,
    },
    /// 1 if the condition holds (at `time`, or at any / every assessment of a window), else 0.
    Responder {
        /// Condition.
        condition: Condition,
        /// Single assessment time, or a window.
        when: When,
    },
    /// Time from the first response to the first relapse after it; censored at the end of the
    /// window; non-responders are not at risk.
    Relapse {
        /// Response condition.
        response: Condition,
        /// Relapse condition.
        relapse: Condition,
        /// Window.
        window: Window,
    },
    /// The output's value at the event time of an earlier time-to-event endpoint.
    AtEvent {
        /// Output.
        output: String,
        /// Index of the time-to-event endpoint.
        event: usize,
        /// Change from baseline.
        change: Change,
    },
    /// ASAS20 or ASAS40 response at `time` against the observed baseline visit.
    Asas {
        /// 20 or 40.
        level: u32,
        /// Assessment time.
        time: f64,
        /// The four domains: patient global, pain, function, inflammation.
        domains: [String; 4],
    },
}

/// When a responder endpoint is assessed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    /// At one assessment time.
    At(f64),
    /// At any assessment of the window.
    Any(Window),
    /// At every assessment of the window.
    All(Window),
}

/// The statistical type of an endpoint's per-patient value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointType {
    /// A number: mean (t interval) and median (order-statistic interval).
    Continuous,
    /// 0 or 1: proportion (Wilson interval).
    Binary,
    /// An event or censoring time: Kaplan–Meier median (Brookmeyer–Crowley interval).
    TimeToEvent,
}

impl EndpointType {
    /// The name used in tables.
    pub fn name(self) -> &'static str {
        match self {
            EndpointType::Continuous => "continuous",
            EndpointType::Binary => "binary",
            EndpointType::TimeToEvent => "time_to_event",
        }
    }
}

/// A named endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Name (a column of the per-patient table).
    pub name: String,
    /// What it means, for people.
    pub description: String,
    /// Definition.
    pub kind: EndpointKind,
    /// Shown as a forest plot in the report.
    pub key: bool,
    /// Assessment interval: only assessments at `k * every` from the origin count (clinic
    /// visits); `None` uses every point of the assessment grid.
    pub every: Option<f64>,
    /// The assay's lower limit of detection, in the output's unit, for endpoints that report
    /// a level (`value`, `nadir`, `peak`, `at_event`): a level below it is reported at the limit
    /// (and counted as such), as a laboratory reports "< LOD", so that a depth below what any
    /// assay can see neither enters the estimate as a number nor drops out of it.
    pub lower_limit: Option<DetectionLimit>,
}

/// An assay's lower limit of detection with its source.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionLimit {
    /// The limit, in the endpoint output's unit.
    pub value: f64,
    /// Where the limit comes from (assay, study).
    pub source: String,
}

impl Endpoint {
    /// The kind's name as written in trial files.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            EndpointKind::Value { .. } => "value",
            EndpointKind::Nadir { .. } => "nadir",
            EndpointKind::Peak { .. } => "peak",
            EndpointKind::TimeToNadir { .. } => "time_to_nadir",
            EndpointKind::TimeToPeak { .. } => "time_to_peak",
            EndpointKind::Auc { .. } => "auc",
            EndpointKind::Mean { .. } => "mean",
            EndpointKind::TimeTo { .. } => "time_to",
            EndpointKind::Duration { .. } => "duration",
            EndpointKind::Recovery { .. } => "recovery",
            EndpointKind::Responder { .. } => "responder",
            EndpointKind::Relapse { .. } => "relapse",
            EndpointKind::AtEvent { .. } => "at_event",
            EndpointKind::Asas { .. } => "asas",
        }
    }

    /// The statistical type of the per-patient value.
    pub fn value_type(&self) -> EndpointType {
        match self.kind {
            EndpointKind::TimeTo { .. }
            | EndpointKind::Recovery { .. }
            | EndpointKind::Relapse { .. } => EndpointType::TimeToEvent,
            EndpointKind::Responder { .. } | EndpointKind::Asas { .. } => EndpointType::Binary,
            _ => EndpointType::Continuous,
        }
    }

    /// Whether the endpoint's values are times in the trial's time unit: times to an event, to
    /// a nadir or a peak, and durations.
    pub fn measures_time(&self) -> bool {
        matches!(
            self.kind,
            EndpointKind::TimeToNadir { .. }
                | EndpointKind::TimeToPeak { .. }
                | EndpointKind::TimeTo { .. }
                | EndpointKind::Duration { .. }
                | EndpointKind::Recovery { .. }
                | EndpointKind::Relapse { .. }
        )
    }

    /// The outputs (or aliases) the endpoint reads.
    pub fn outputs(&self) -> Vec<&str> {
        match &self.kind {
            EndpointKind::Value { output, .. }
            | EndpointKind::Nadir { output, .. }
            | EndpointKind::Peak { output, .. }
            | EndpointKind::TimeToNadir { output, .. }
            | EndpointKind::TimeToPeak { output, .. }
            | EndpointKind::Auc { output, .. }
            | EndpointKind::Mean { output, .. }
            | EndpointKind::AtEvent { output, .. } => vec![output],
            EndpointKind::TimeTo { condition, .. }
            | EndpointKind::Duration { condition, .. }
            | EndpointKind::Responder { condition, .. } => vec![&condition.output],
            EndpointKind::Recovery {
                depleted,
                recovered,
                ..
            } => vec![&depleted.output, &recovered.output],
            EndpointKind::Relapse {
                response, relapse, ..
            } => vec![&response.output, &relapse.output],
            EndpointKind::Asas { domains, .. } => domains.iter().map(String::as_str).collect(),
        }
    }

    /// Assessment times (relative to the origin) the endpoint needs on the grid.
    pub fn times(&self) -> Vec<f64> {
        let w = |w: &Window| {
            let mut v = vec![w.from];
            v.extend(w.to);
            v
        };
        match &self.kind {
            EndpointKind::Value { time, .. } | EndpointKind::Asas { time, .. } => vec![*time],
            EndpointKind::Nadir { window, .. }
            | EndpointKind::Peak { window, .. }
            | EndpointKind::TimeToNadir { window, .. }
            | EndpointKind::TimeToPeak { window, .. }
            | EndpointKind::Auc { window, .. }
            | EndpointKind::Mean { window, .. }
            | EndpointKind::TimeTo { window, .. }
            | EndpointKind::Duration { window, .. }
            | EndpointKind::Recovery { window, .. }
            | EndpointKind::Relapse { window, .. } => w(window),
            EndpointKind::Responder { when, .. } => match when {
                When::At(t) => vec![*t],
                When::Any(win) | When::All(win) => w(win),
            },
            EndpointKind::AtEvent { .. } => Vec::new(),
        }
    }
}

/// Time-course quantile bands.
#[derive(Clone, Debug)]
pub struct BandSpec {
    /// Outputs (or aliases).
    pub outputs: Vec<String>,
    /// Spacing of the band times (from the origin).
    pub step: f64,
    /// At most this many patients per arm enter the quantiles (a deterministic subsample by
    /// patient index beyond it).
    pub max_patients: u64,
}

/// The per-patient long time-course table.
#[derive(Clone, Debug)]
pub struct TimeCourseSpec {
    /// Outputs (or aliases).
    pub outputs: Vec<String>,
    /// Spacing of the recorded times (from the origin).
    pub step: f64,
}

/// Solver settings a trial overrides for every arm.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolverOverrides {
    /// Method.
    pub method: Option<tabula_solve::Method>,
    /// Relative tolerance.
    pub rtol: Option<f64>,
    /// Absolute tolerance.
    pub atol: Option<f64>,
    /// Step budget per patient.
    pub max_steps: Option<usize>,
}

impl SolverOverrides {
    /// Applies the overrides to solver options.
    pub fn apply(&self, o: &mut tabula_solve::SolverOptions) {
        if let Some(m) = self.method {
            o.method = m;
        }
        if let Some(x) = self.rtol {
            o.rtol = x;
        }
        if let Some(x) = self.atol {
            o.atol = x;
        }
        if let Some(x) = self.max_steps {
            o.max_steps = x;
        }
    }
}

/// A fully resolved virtual trial.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Where it came from (file path as given, or `<builtin>/trials/<name>.toml`).
    pub source_name: String,
    /// The trial file's text (for provenance and shard manifests).
    pub source_text: String,
    /// Patients per arm.
    pub patients: u64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Paired or parallel.
    pub design: Design,
    /// Residual error on outputs that declare one.
    pub noise: bool,
    /// Assessment-grid spacing (model time unit).
    pub step: f64,
    /// A denser grid early on: `(until, step)` from each arm's origin.
    pub dense: Option<(f64, f64)>,
    /// Follow-up after each arm's origin, when the trial sets it.
    pub duration: Option<f64>,
    /// Time unit of every model (as written).
    pub time_unit: String,
    /// Solver overrides applied to every arm.
    pub solver: SolverOverrides,
    /// Arms.
    pub arms: Vec<Arm>,
    /// The population.
    pub population: Population,
    /// Endpoints, in file order (an `at_event` endpoint comes after its event).
    pub endpoints: Vec<Endpoint>,
    /// Quantile bands.
    pub bands: Option<BandSpec>,
    /// Per-patient time courses.
    pub timecourse: Option<TimeCourseSpec>,
}

impl Trial {
    /// The arm called `name`.
    pub fn arm(&self, name: &str) -> Option<usize> {
        self.arms.iter().position(|a| a.name == name)
    }

    /// The population variable called `name`.
    pub fn variable(&self, name: &str) -> Option<usize> {
        self.population
            .variables
            .iter()
            .position(|v| v.name == name)
    }
}
