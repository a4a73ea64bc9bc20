//! Virtual patients: covariates, inter-individual variability, correlations, plausibility
//! bounds, screening on baseline outputs and acceptance–rejection to a target distribution.
//!
//! A patient is generated once, on the *screening arm* (the first arm unless the trial names
//! another): its standard-normal deviates `w`, categorical levels and baseline-visit residual
//! draws are drawn from the patient's own stream, plausibility is checked on the screening
//! arm's values, and the baseline outputs are screened. The accepted random effects are then
//! applied by every arm to its own typical values ([`PopulationPlan::arm_values`]).

use rand::RngExt;
use rand_distr::StandardNormal;
use tabula_compile::{CompiledModel, Workspace};
use tabula_model::expr::{Ast, AstKind};
use tabula_model::BinOp;

use crate::rng::Rng;
use crate::spec::{Arm, Dist, Outside, Population, Target, Trial, Typical};
use crate::stats::normal_cdf;

/// Functions a population expression may call.
pub(crate) const FUNCTIONS: &[&str] = &[
    "exp", "ln", "log", "log10", "sqrt", "abs", "pow", "min", "max", "clamp", "if",
];

/// Redraws of out-of-bounds variables allowed per candidate before it is rejected.
const MAX_REDRAWS: u32 = 100;

#[derive(Clone, Debug)]
enum Expr {
    Num(f64),
    /// A population variable (its value for this patient).
    Var(usize),
    /// A categorical covariate (its level index).
    Level(usize),
    /// A parameter of the arm's model (current value: typical, categorical or drawn).
    Param(usize),
    /// A parameter the arm's model lacks: another arm's typical value.
    Const(f64),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

impl Expr {
    fn eval(&self, vars: &[f64], levels: &[usize], params: &[f64]) -> f64 {
        match self {
            Expr::Num(x) | Expr::Const(x) => *x,
            Expr::Var(i) => vars[*i],
            Expr::Level(i) => levels[*i] as f64,
            Expr::Param(i) => params[*i],
            Expr::Neg(a) => -a.eval(vars, levels, params),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(vars, levels, params), b.eval(vars, levels, params));
                let t = |c: bool| if c { 1.0 } else { 0.0 };
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    BinOp::Pow => a.powf(b),
                    BinOp::Lt => t(a < b),
                    BinOp::Le => t(a <= b),
                    BinOp::Gt => t(a > b),
                    BinOp::Ge => t(a >= b),
                    BinOp::Eq => t(a == b),
                    BinOp::Ne => t(a != b),
                    BinOp::And => t(a != 0.0 && b != 0.0),
                    BinOp::Or => t(a != 0.0 || b != 0.0),
                }
            }
            Expr::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval(vars, levels, params)).collect();
                let arg = |i: usize| v.get(i).copied().unwrap_or(f64::NAN);
                match f.as_str() {
                    "exp" => arg(0).exp(),
                    "ln" | "log" => arg(0).ln(),
                    "log10" => arg(0).log10(),
                    "sqrt" => arg(0).sqrt(),
                    "abs" => arg(0).abs(),
                    "pow" => arg(0).powf(arg(1)),
                    "min" => v.iter().copied().fold(f64::INFINITY, f64::min),
                    "max" => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    "clamp" => arg(0).max(arg(1)).min(arg(2)),
                    "if" => {
                        if arg(0) != 0.0 {
                            arg(1)
                        } else {
                            arg(2)
                        }
                    }
                    _ => f64::NAN,
                }
            }
        }
    }
}

/// How one variable gets its typical value in one arm.
#[derive(Clone, Debug)]
enum TypicalPlan {
    Param(usize),
    Const(f64),
    Expr(Expr),
}

/// The population as seen by one arm's model.
#[derive(Clone, Debug)]
struct ArmPlan {
    typical_params: Vec<f64>,
    param_of_var: Vec<Option<usize>>,
    typical: Vec<TypicalPlan>,
    relation: Vec<Option<Expr>>,
    /// Per categorical, per level: (parameter index, value).
    sets: Vec<Vec<Vec<(usize, f64)>>>,
}

/// The estimated acceptance probability of a baseline value (Allen et al. 2016).
#[derive(Clone, Debug)]
pub struct Acceptance {
    /// Screening-model output index.
    pub output: usize,
    /// The target distribution.
    pub target: Target,
    /// Grid of baseline values.
    lo: f64,
    step: f64,
    /// Kernel estimate of the plausible-population density on the grid.
    density: Vec<f64>,
    /// Scale `c = max over the pilot of target / plausible density`.
    pub scale: f64,
    /// Plausible candidates in the pilot.
    pub pilot_size: usize,
    /// Kernel bandwidth.
    pub bandwidth: f64,
    /// Pilot candidates drawn (plausible or not).
    pub pilot_drawn: usize,
    /// Mean acceptance probability over the pilot's candidates (0 for implausible ones): the
    /// chance that one patient's attempt is accepted.
    pub pilot_acceptance: f64,
}

impl Acceptance {
    fn plausible_density(&self, x: f64) -> f64 {
        let pos = (x - self.lo) / self.step;
        if pos.is_nan() || pos < 0.0 || pos >= (self.density.len() - 1) as f64 {
            return 0.0;
        }
        let i = pos.floor() as usize;
        let f = pos - i as f64;
        self.density[i] * (1.0 - f) + self.density[i + 1] * f
    }

    /// Probability of accepting a plausible patient with baseline value `x`:
    /// `min(1, target(x) / (c * plausible(x)))`.
    pub fn probability(&self, x: f64) -> f64 {
        let ft = self.target.density(x);
        if ft.is_nan() || ft <= 0.0 {
            return 0.0;
        }
        let fp = self.plausible_density(x);
        if fp.is_nan() || fp <= 0.0 {
            return 1.0;
        }
        (ft / (self.scale * fp)).min(1.0)
    }

    /// Expected fraction of plausible candidates accepted (`1 / c`).
    pub fn expected_rate(&self) -> f64 {
        1.0 / self.scale
    }
}

/// One accepted virtual patient: everything needed to build its parameters in any arm.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// Correlated standard-normal deviate of each variable (0 for fixed relations).
    pub z: Vec<f64>,
    /// Level index of each categorical covariate.
    pub levels: Vec<usize>,
    /// Residual draws of the baseline visit, one per screening-model output (0 where the
    /// output has no error model or noise is off).
    pub baseline_eps: Vec<f64>,
    /// Candidates drawn until one was accepted (1 = the first).
    pub attempts: u32,
}

/// Why no patient could be enrolled.
#[derive(Clone, Debug, PartialEq)]
pub struct NotEnrolled {
    /// Candidates drawn.
    pub attempts: u32,
    /// The commonest reason candidates were turned down.
    pub reason: String,
}

/// Scratch space for screening candidates (one per worker).
pub struct ScreenScratch {
    ws: Workspace,
    y0: Vec<f64>,
    out: Vec<f64>,
    params: Vec<f64>,
    values: Vec<f64>,
    w: Vec<f64>,
}

/// The population compiled against the trial's arms.
#[derive(Clone, Debug)]
pub struct PopulationPlan {
    pop: Population,
    arms: Vec<ArmPlan>,
    /// Index of each random variable's `w` (one per variable; `None` for fixed relations).
    random: Vec<bool>,
    block_of: Vec<Option<usize>>,
    screening_arm: usize,
    /// (screening-model output index, min, max).
    screen_bounds: Vec<(usize, f64, f64)>,
    /// Screening-model outputs with a residual-error model.
    noise_outputs: Vec<usize>,
    acceptance: Option<Acceptance>,
}

fn lower(ast: &Ast, pop: &Population, before: usize, arm: &Arm, arms: &[Arm]) -> Expr {
    match &ast.kind {
        AstKind::Num(x) => Expr::Num(*x),
        AstKind::Name(n) => {
            if let Some(i) = pop.variables[..before].iter().position(|v| &v.name == n) {
                return Expr::Var(i);
            }
            if let Some(i) = pop.categoricals.iter().position(|c| &c.name == n) {
                return Expr::Level(i);
            }
            if let Some(i) = arm.scenario.model.parameter_index(n) {
                return Expr::Param(i);
            }
            Expr::Const(reference_value(arms, n))
        }
        AstKind::Neg(a) => Expr::Neg(Box::new(lower(a, pop, before, arm, arms))),
        AstKind::Binary(op, a, b) => Expr::Bin(
            *op,
            Box::new(lower(a, pop, before, arm, arms)),
            Box::new(lower(b, pop, before, arm, arms)),
        ),
        AstKind::Call(f, args) => Expr::Call(
            f.clone(),
            args.iter()
                .map(|a| lower(a, pop, before, arm, arms))
                .collect(),
        ),
    }
}

/// The typical value of a parameter in the first arm whose model has it.
fn reference_value(arms: &[Arm], name: &str) -> f64 {
    arms.iter()
        .find_map(|a| {
            a.scenario
                .model
                .parameter_index(name)
                .map(|i| a.scenario.parameters[i])
        })
        .unwrap_or(f64::NAN)
}

impl ArmPlan {
    fn new(pop: &Population, arm: &Arm, arms: &[Arm], preferred: &Arm) -> ArmPlan {
        let model = &arm.scenario.model;
        let mut typical = Vec::new();
        let mut relation = Vec::new();
        let mut param_of_var = Vec::new();
        for (j, v) in pop.variables.iter().enumerate() {
            let pi = if v.is_parameter {
                model.parameter_index(&v.name)
            } else {
                None
            };
            param_of_var.push(pi);
            relation.push(
                v.expr
                    .as_ref()
                    .map(|(ast, _)| lower(ast, pop, j, arm, arms)),
            );
            typical.push(match &v.typical {
                Typical::Value(x) => TypicalPlan::Const(*x),
                Typical::Expr(ast, _) => TypicalPlan::Expr(lower(ast, pop, j, arm, arms)),
                Typical::Model => match pi {
                    Some(i) => TypicalPlan::Param(i),
                    None => {
                        // The arm's model lacks the parameter: use the screening arm's (or the
                        // first arm's) typical value so that expressions using it still work.
                        let pref = preferred
                            .scenario
                            .model
                            .parameter_index(&v.name)
                            .map(|i| preferred.scenario.parameters[i]);
                        TypicalPlan::Const(pref.unwrap_or_else(|| reference_value(arms, &v.name)))
                    }
                },
            });
        }
        let sets = pop
            .categoricals
            .iter()
            .map(|c| {
                c.set
                    .iter()
                    .map(|lvl| {
                        lvl.iter()
                            .filter_map(|(p, x)| model.parameter_index(p).map(|i| (i, *x)))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        ArmPlan {
            typical_params: arm.scenario.parameters.clone(),
            param_of_var,
            typical,
            relation,
            sets,
        }
    }
}

/// The value of a variable with distribution `dist`, typical value `typ` and deviate `z`.
pub fn transform(dist: &Dist, typ: f64, z: f64) -> f64 {
    match *dist {
        Dist::LogNormal { omega } => typ * (omega * z).exp(),
        Dist::Normal { sd, relative } => {
            let s = if relative { sd * typ.abs() } else { sd };
            typ + s * z
        }
        Dist::LogitNormal { sd, lo, hi } => {
            let p = (typ - lo) / (hi - lo);
            if !(p > 0.0 && p < 1.0) {
                return f64::NAN;
            }
            let l = (p / (1.0 - p)).ln() + sd * z;
            lo + (hi - lo) / (1.0 + (-l).exp())
        }
        Dist::Uniform { lo, hi } => lo + (hi - lo) * normal_cdf(z),
    }
}

/// Outcome of computing a candidate's values.
enum Check {
    Ok,
    /// A variable outside its bounds that must be redrawn.
    Redraw(usize),
    /// The candidate is implausible.
    Reject(String),
}

impl PopulationPlan {
    /// Compiles the population against the trial's arms. `screening` is the compiled model of
    /// the screening arm, used for the pilot of the acceptance–rejection step.
    pub fn new(trial: &Trial, screening: &CompiledModel) -> PopulationPlan {
        let pop = trial.population.clone();
        let sa = pop.screening_arm;
        let arms: Vec<ArmPlan> = trial
            .arms
            .iter()
            .map(|a| ArmPlan::new(&pop, a, &trial.arms, &trial.arms[sa]))
            .collect();
        let random = pop.variables.iter().map(|v| v.expr.is_none()).collect();
        let block_of = (0..pop.variables.len())
            .map(|j| {
                pop.correlations
                    .iter()
                    .position(|c| c.variables.contains(&j))
            })
            .collect();
        let model = &trial.arms[sa].scenario.model;
        let index = |name: &str| model.outputs.iter().position(|o| o.name == name);
        let screen_bounds = pop
            .baseline
            .iter()
            .filter(|b| b.min.is_some() || b.max.is_some())
            .filter_map(|b| {
                index(&b.output).map(|i| {
                    (
                        i,
                        b.min.unwrap_or(f64::NEG_INFINITY),
                        b.max.unwrap_or(f64::INFINITY),
                    )
                })
            })
            .collect();
        let noise_outputs = if trial.noise {
            model
                .outputs
                .iter()
                .enumerate()
                .filter(|(_, o)| o.error.is_some())
                .map(|(i, _)| i)
                .collect()
        } else {
            Vec::new()
        };
        let mut plan = PopulationPlan {
            pop,
            arms,
            random,
            block_of,
            screening_arm: sa,
            screen_bounds,
            noise_outputs,
            acceptance: None,
        };
        let target = plan.pop.baseline.iter().find_map(|b| {
            b.target
                .clone()
                .and_then(|t| index(&b.output).map(|i| (i, t)))
        });
        if let Some((output, target)) = target {
            plan.acceptance = Some(plan.pilot(trial.seed, screening, output, target));
        }
        plan
    }

    /// The population as written.
    pub fn population(&self) -> &Population {
        &self.pop
    }

    /// The acceptance–rejection step, when a baseline target is set.
    pub fn acceptance(&self) -> Option<&Acceptance> {
        self.acceptance.as_ref()
    }

    /// Whether candidates need the screening model at all.
    fn needs_screening(&self) -> bool {
        !self.screen_bounds.is_empty() || self.acceptance.is_some()
    }

    /// Scratch space for [`draw`](Self::draw).
    pub fn scratch(&self, screening: &CompiledModel) -> ScreenScratch {
        ScreenScratch {
            ws: screening.workspace(),
            y0: vec![0.0; screening.n_states()],
            out: vec![0.0; screening.n_outputs()],
            params: Vec::new(),
            values: vec![0.0; self.pop.variables.len()],
            w: vec![0.0; self.pop.variables.len()],
        }
    }

    /// Correlates the independent deviates `w` into `z`.
    fn correlate(&self, w: &[f64], z: &mut [f64]) {
        z.copy_from_slice(w);
        for c in &self.pop.correlations {
            let k = c.variables.len();
            for (i, &vi) in c.variables.iter().enumerate() {
                let mut s = 0.0;
                for (j, &vj) in c.variables.iter().enumerate().take(i + 1) {
                    s += c.cholesky[i * k + j] * w[vj];
                }
                z[vi] = s;
            }
        }
    }

    /// Computes every variable for `arm` into `values` and the arm's parameter vector into
    /// `params`. With `strict`, reports the first variable outside its bounds that must be
    /// redrawn or rejects the candidate; otherwise clamps.
    fn compute(
        &self,
        arm: usize,
        z: &[f64],
        levels: &[usize],
        params: &mut Vec<f64>,
        values: &mut [f64],
        strict: bool,
    ) -> Check {
        let plan = &self.arms[arm];
        params.clear();
        params.extend_from_slice(&plan.typical_params);
        for (c, &lvl) in plan.sets.iter().zip(levels) {
            for &(i, x) in &c[lvl] {
                params[i] = x;
            }
        }
        for (j, v) in self.pop.variables.iter().enumerate() {
            let mut x = match &plan.relation[j] {
                Some(e) => e.eval(values, levels, params),
                None => {
                    let typ = match &plan.typical[j] {
                        TypicalPlan::Param(i) => params[*i],
                        TypicalPlan::Const(x) => *x,
                        TypicalPlan::Expr(e) => e.eval(values, levels, params),
                    };
                    transform(v.dist.as_ref().expect("random variable"), typ, z[j])
                }
            };
            let matters = !v.is_parameter || plan.param_of_var[j].is_some();
            if !x.is_finite() {
                // A parameter that no arm being run has cannot make a patient implausible.
                if strict && matters {
                    return Check::Reject(format!("`{}` is not finite", v.name));
                }
            } else if let Some((lo, hi)) = v.bounds {
                if x < lo || x > hi {
                    match (strict, v.outside) {
                        (true, Outside::Resample) if plan_random(self, j) => {
                            return Check::Redraw(j)
                        }
                        (true, Outside::Reject) | (true, Outside::Resample) => {
                            return Check::Reject(format!("`{}` outside its bounds", v.name))
                        }
                        _ => x = x.clamp(lo, hi),
                    }
                }
            }
            values[j] = x;
            if let Some(i) = plan.param_of_var[j] {
                params[i] = x;
            }
        }
        Check::Ok
    }

    /// Draws one candidate from `rng` and checks it; returns the target output's baseline
    /// value (NaN without a target) or why it was turned down.
    #[allow(clippy::too_many_arguments)]
    fn candidate(
        &self,
        rng: &mut Rng,
        screening: &CompiledModel,
        s: &mut ScreenScratch,
        z: &mut [f64],
        levels: &mut [usize],
        eps: &mut [f64],
        evaluate: bool,
    ) -> Result<f64, String> {
        for (c, lvl) in self.pop.categoricals.iter().zip(levels.iter_mut()) {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            *lvl = c.probabilities.len() - 1;
            for (k, p) in c.probabilities.iter().enumerate() {
                acc += p;
                if u < acc {
                    *lvl = k;
                    break;
                }
            }
        }
        for (j, w) in s.w.iter_mut().enumerate() {
            *w = if self.random[j] {
                rng.sample(StandardNormal)
            } else {
                0.0
            };
        }
        let mut redraws = 0;
        loop {
            self.correlate(&s.w, z);
            match self.compute(
                self.screening_arm,
                z,
                levels,
                &mut s.params,
                &mut s.values,
                true,
            ) {
                Check::Ok => break,
                Check::Reject(m) => return Err(m),
                Check::Redraw(j) => {
                    redraws += 1;
                    if redraws > MAX_REDRAWS {
                        return Err(format!(
                            "`{}` stayed outside its bounds after {MAX_REDRAWS} redraws",
                            self.pop.variables[j].name
                        ));
                    }
                    let members: Vec<usize> = match self.block_of[j] {
                        Some(b) => self.pop.correlations[b].variables.clone(),
                        None => vec![j],
                    };
                    for m in members {
                        s.w[m] = rng.sample(StandardNormal);
                    }
                }
            }
        }
        eps.fill(0.0);
        for &o in &self.noise_outputs {
            eps[o] = rng.sample(StandardNormal);
        }
        if !(evaluate || self.needs_screening()) {
            return Ok(f64::NAN);
        }
        if let Err(e) = screening.setup(&mut s.ws, &s.params) {
            return Err(format!("unusable parameters: {e}"));
        }
        screening.initial_state(&s.ws, &mut s.y0);
        screening.outputs(&mut s.ws, 0.0, &s.y0, Some(eps), &mut s.out);
        let names = &screening.model().outputs;
        for &(o, lo, hi) in &self.screen_bounds {
            let x = s.out[o];
            if !(x >= lo && x <= hi) {
                return Err(format!("baseline `{}` outside [{lo}, {hi}]", names[o].name));
            }
        }
        Ok(self
            .acceptance
            .as_ref()
            .map_or(f64::NAN, |a| s.out[a.output]))
    }

    /// Draws patient candidates from `rng` until one is plausible, passes the baseline
    /// criteria and is accepted by the acceptance–rejection step.
    pub fn draw(
        &self,
        rng: &mut Rng,
        screening: &CompiledModel,
        s: &mut ScreenScratch,
    ) -> Result<Draw, NotEnrolled> {
        let n = self.pop.variables.len();
        let mut z = vec![0.0; n];
        let mut levels = vec![0; self.pop.categoricals.len()];
        let mut eps = vec![0.0; screening.n_outputs()];
        let mut reasons: Vec<(String, u32)> = Vec::new();
        for attempt in 1..=self.pop.max_attempts {
            match self.candidate(rng, screening, s, &mut z, &mut levels, &mut eps, false) {
                Ok(x) => {
                    let accept = match &self.acceptance {
                        None => true,
                        Some(a) => {
                            let u: f64 = rng.random();
                            let p = a.probability(x);
                            if u >= p {
                                note(&mut reasons, "not accepted by the baseline target".into());
                            }
                            u < p
                        }
                    };
                    if accept {
                        return Ok(Draw {
                            z,
                            levels,
                            baseline_eps: eps,
                            attempts: attempt,
                        });
                    }
                }
                Err(reason) => note(&mut reasons, reason),
            }
        }
        let reason = reasons
            .iter()
            .max_by_key(|(_, c)| *c)
            .map(|(r, c)| format!("{r} ({c} of {} candidates)", self.pop.max_attempts))
            .unwrap_or_default();
        Err(NotEnrolled {
            attempts: self.pop.max_attempts,
            reason,
        })
    }

    /// The parameter vector of `arm` for an accepted patient, and the value of every
    /// population variable in that arm (values outside bounds are clamped).
    pub fn arm_values(&self, arm: usize, draw: &Draw, params: &mut Vec<f64>, values: &mut [f64]) {
        self.compute(arm, &draw.z, &draw.levels, params, values, false);
    }

    /// Whether variable `j` means something in `arm` (a covariate, or a parameter of the
    /// arm's model).
    pub fn in_arm(&self, arm: usize, j: usize) -> bool {
        !self.pop.variables[j].is_parameter || self.arms[arm].param_of_var[j].is_some()
    }

    /// The typical parameters of `arm` (no population at all).
    pub fn typical(&self, arm: usize) -> &[f64] {
        &self.arms[arm].typical_params
    }

    /// Estimates the plausible-population density of the target output on a pilot population
    /// (its own random streams, independent of the patients') and the scale `c`.
    fn pilot(
        &self,
        seed: u64,
        screening: &CompiledModel,
        output: usize,
        target: Target,
    ) -> Acceptance {
        use rayon::prelude::*;
        let m = self.pop.pilot as u64;
        let xs: Vec<f64> = (0..m)
            .into_par_iter()
            .map_init(
                || self.scratch(screening),
                |s, k| {
                    let mut rng = crate::rng::stream(
                        seed,
                        crate::rng::Purpose::Pilot,
                        crate::rng::SHARED_ARM,
                        k,
                    );
                    let n = self.pop.variables.len();
                    let mut z = vec![0.0; n];
                    let mut levels = vec![0; self.pop.categoricals.len()];
                    let mut eps = vec![0.0; screening.n_outputs()];
                    for _ in 0..self.pop.max_attempts {
                        if self
                            .candidate(&mut rng, screening, s, &mut z, &mut levels, &mut eps, true)
                            .is_ok()
                        {
                            return s.out[output];
                        }
                    }
                    f64::NAN
                },
            )
            .collect();
        let mut xs: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        // Silverman's rule of thumb: h = 0.9 min(sd, IQR / 1.34) n^(-1/5).
        let mean = xs.iter().sum::<f64>() / n.max(1) as f64;
        let sd =
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64).sqrt();
        let iqr =
            crate::stats::quantile_sorted(&xs, 0.75) - crate::stats::quantile_sorted(&xs, 0.25);
        let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
        let mut h = 0.9 * spread * (n.max(1) as f64).powf(-0.2);
        if h.is_nan() || h <= 0.0 {
            h = (mean.abs() * 1e-3).max(1e-9);
        }
        let (lo, hi) = match (xs.first(), xs.last()) {
            (Some(a), Some(b)) => (a - 4.0 * h, b + 4.0 * h),
            _ => (0.0, 1.0),
        };
        const POINTS: usize = 1024;
        let step = (hi - lo) / (POINTS - 1) as f64;
        let norm = 1.0 / (n.max(1) as f64 * h);
        let density: Vec<f64> = (0..POINTS)
            .into_par_iter()
            .map(|g| {
                let x = lo + g as f64 * step;
                norm * xs
                    .iter()
                    .map(|xi| crate::stats::normal_pdf((x - xi) / h))
                    .sum::<f64>()
            })
            .collect();
        let mut a = Acceptance {
            output,
            target,
            lo,
            step,
            density,
            scale: 1.0,
            pilot_size: n,
            bandwidth: h,
            pilot_drawn: m as usize,
            pilot_acceptance: 0.0,
        };
        let scale = xs
            .iter()
            .map(|&x| {
                let fp = a.plausible_density(x);
                if fp > 0.0 {
                    a.target.density(x) / fp
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max);
        a.scale = if scale > 0.0 { scale } else { 1.0 };
        a.pilot_acceptance = xs.iter().map(|&x| a.probability(x)).sum::<f64>() / (m.max(1) as f64);
        a
    }

    /// Refuses a baseline target that (almost) no virtual patient can meet: when, judged on
    /// the pilot, fewer than 1 patient in 100 would be accepted within `max_attempts`
    /// candidates, the trial would enrol nobody. The message names the baseline field.
    pub fn check_enrolment(&self) -> Result<(), String> {
        let Some(a) = &self.acceptance else {
            return Ok(());
        };
        let attempts = f64::from(self.pop.max_attempts.max(1));
        let enrolled = 1.0 - (1.0 - a.pilot_acceptance).powf(attempts);
        if enrolled >= 0.01 {
            return Ok(());
        }
        let name = self
            .pop
            .baseline
            .iter()
            .find(|b| b.target.is_some())
            .map_or("?", |b| b.output.as_str());
        Err(format!(
            "`population.baseline.{name}.target`: no virtual patient can meet this baseline target: of {} pilot candidates, {} had a plausible baseline `{name}`{} and the expected acceptance is {:.2e} per candidate, so fewer than 1 patient in 100 would be enrolled within {} candidates; expected a target that overlaps the plausible baseline values",
            a.pilot_drawn,
            a.pilot_size,
            if a.pilot_size > 0 {
                format!(
                    " (from {:.4} to {:.4})",
                    a.lo + 4.0 * a.bandwidth,
                    a.lo + a.step * (a.density.len() - 1) as f64 - 4.0 * a.bandwidth
                )
            } else {
                String::new()
            },
            a.pilot_acceptance,
            self.pop.max_attempts
        ))
    }
}

fn plan_random(plan: &PopulationPlan, j: usize) -> bool {
    plan.random[j]
}

fn note(reasons: &mut Vec<(String, u32)>, reason: String) {
    match reasons.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, c)) => *c += 1,
        None => reasons.push((reason, 1)),
    }
}
