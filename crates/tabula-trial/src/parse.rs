//! Reading trial files. Every problem is reported with file, line, column and field, and every
//! problem found is reported at once.

use std::ops::Range;
use std::path::{Path, PathBuf};

use tabula_model::doc::{parse_document, to_f64, Reader, SpannedStr, TableView, Value};
use tabula_model::error::did_you_mean;
use tabula_model::expr::{parse as parse_expr, Ast, AstKind};
use tabula_model::source::is_path_reference;
use tabula_model::{Library, ModelError, SourceFile, Unit};
use tabula_scenario::{load_scenario, parse_time, ScenarioRef};
use tabula_solve::Method;
use toml::de::DeValue;

use crate::spec::*;

/// How a trial is named: a file or a built-in.
#[derive(Clone, Debug)]
pub enum TrialRef<'a> {
    /// A file path.
    File(&'a Path),
    /// A built-in trial: name and text.
    Builtin(&'a str, &'a str),
}

const ROOT: &[&str] = &[
    "trial",
    "solver",
    "arm",
    "population",
    "endpoint",
    "bands",
    "timecourse",
];
const TRIAL: &[&str] = &[
    "name",
    "description",
    "patients",
    "seed",
    "design",
    "duration",
    "step",
    "dense",
    "noise",
];
const SOLVER: &[&str] = &["method", "rtol", "atol", "max_steps"];
const ARM: &[&str] = &[
    "name",
    "description",
    "scenario",
    "origin",
    "parameters",
    "dose_scale",
    "replace_doses",
    "dose",
    "alias",
    "solver",
];
const POPULATION: &[&str] = &[
    "parameters",
    "covariates",
    "correlation",
    "baseline",
    "screening_arm",
    "max_attempts",
    "pilot",
];

const VARIABLE: &[&str] = &[
    "dist",
    "cv",
    "omega",
    "sd",
    "median",
    "mean",
    "typical",
    "limits",
    "bounds",
    "outside",
    "expr",
    "unit",
    "source",
    "description",
];
const CATEGORICAL: &[&str] = &["levels", "probabilities", "set", "source", "description"];
const CORRELATION: &[&str] = &["parameters", "rho", "matrix"];
const BASELINE: &[&str] = &["min", "max", "target"];
const TARGET: &[&str] = &[
    "dist", "mean", "sd", "median", "omega", "min", "max", "edges", "weights",
];
const ENDPOINT: &[&str] = &[
    "lower_limit",
    "lower_limit_source",
    "name",
    "kind",
    "description",
    "output",
    "time",
    "from",
    "to",
    "change",
    "below",
    "above",
    "at_most",
    "at_least",
    "relative",
    "recovered",
    "response",
    "relapse",
    "event",
    "level",
    "domains",
    "require",
    "key",
    "every",
];
const CONDITION: &[&str] = &[
    "output", "below", "above", "at_most", "at_least", "relative",
];
const BANDS: &[&str] = &["outputs", "step", "max_patients"];
/// The most memory the quantile bands of one arm may take (every kept value is held): 4 GiB.
const BAND_MEMORY_LIMIT: f64 = (4u64 << 30) as f64;
const TIMECOURSE: &[&str] = &["outputs", "step"];
const KINDS: &[&str] = &[
    "value",
    "nadir",
    "peak",
    "time_to_nadir",
    "time_to_peak",
    "auc",
    "mean",
    "time_to",
    "duration",
    "recovery",
    "responder",
    "relapse",
    "at_event",
    "asas",
];

/// A library of models that also knows scenarios by name (the built-ins, or the built-ins with
/// a directory laid over them).
pub trait ScenarioLibrary: Library {
    /// The text of scenario `name`, if it exists.
    fn scenario(&self, name: &str) -> Option<String>;
    /// Every scenario name, for hints.
    fn scenario_names(&self) -> Vec<String>;
}

impl ScenarioLibrary for tabula_library::Builtin {
    fn scenario(&self, name: &str) -> Option<String> {
        tabula_library::get(tabula_library::Kind::Scenario, name).map(str::to_string)
    }
    fn scenario_names(&self) -> Vec<String> {
        tabula_library::list(tabula_library::Kind::Scenario)
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect()
    }
}

impl ScenarioLibrary for tabula_library::Catalog {
    fn scenario(&self, name: &str) -> Option<String> {
        self.get(tabula_library::Kind::Scenario, name)
            .map(str::to_string)
    }
    fn scenario_names(&self) -> Vec<String> {
        self.list(tabula_library::Kind::Scenario)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }
}

/// Loads a built-in trial by name (e.g. `sle_refractory`).
pub fn builtin_trial(name: &str) -> Result<Trial, ModelError> {
    let name = name.trim_end_matches(".toml");
    let text = tabula_library::get(tabula_library::Kind::Trial, name).ok_or_else(|| {
        let names: Vec<&str> = tabula_library::list(tabula_library::Kind::Trial)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let hint = did_you_mean(name, names.iter().copied());
        ModelError::single(
            None,
            "trial",
            format!("no built-in trial named \"{name}\"{hint}; run `tabula trials` for the list"),
        )
    })?;
    load_trial(TrialRef::Builtin(name, text), &tabula_library::Builtin)
}

/// Loads a trial from a file or a built-in.
pub fn load_trial(
    reference: TrialRef<'_>,
    library: &dyn ScenarioLibrary,
) -> Result<Trial, ModelError> {
    match reference {
        TrialRef::File(p) => load_trial_source(SourceFile::read(p)?, library),
        TrialRef::Builtin(name, text) => {
            let display =
                tabula_model::library_source_name(library, &format!("trials/{name}.toml"));
            let mut src = SourceFile::new(display, text.to_string());
            src.builtin = Some(name.to_string());
            load_trial_source(src, library)
        }
    }
}

/// Loads a trial file from disk.
pub fn load_trial_file(path: &Path, library: &dyn ScenarioLibrary) -> Result<Trial, ModelError> {
    load_trial(TrialRef::File(path), library)
}

/// Loads a trial from text (relative scenario paths resolve against the current directory).
pub fn load_trial_str(
    name: &str,
    text: &str,
    library: &dyn ScenarioLibrary,
) -> Result<Trial, ModelError> {
    load_trial_source(SourceFile::new(name, text), library)
}

struct Ctx<'s> {
    r: Reader<'s>,
    unit: Option<Unit>,
    /// The shortest follow-up of any arm (from its origin), once the arms are read.
    follow_up: f64,
}

impl Ctx<'_> {
    fn err(&mut self, span: &Range<usize>, field: &str, msg: impl Into<String>) {
        self.r.error(span, field, msg);
    }

    /// A time: a number in the model time unit, or a string with a unit ("6 month").
    fn time(&mut self, t: &TableView<'_, '_>, key: &str) -> Option<(f64, Range<usize>)> {
        let v = t.get(key)?;
        self.time_value(v, &t.child(key))
    }

    fn time_value(&mut self, v: &Value<'_>, field: &str) -> Option<(f64, Range<usize>)> {
        let parsed = match v.get_ref() {
            DeValue::String(s) => match &self.unit {
                Some(u) => parse_time(s, u),
                None => Err("times with units need a model; fix the arms first".to_string()),
            },
            other => to_f64(other).ok_or_else(|| {
                "expected a number (in the model time unit) or a string such as \"6 month\""
                    .to_string()
            }),
        };
        match parsed {
            Ok(x) if x.is_finite() => Some((x, v.span())),
            Ok(x) => {
                self.err(
                    &v.span(),
                    field,
                    format!("expected a finite time, found {x}"),
                );
                None
            }
            Err(m) => {
                self.err(&v.span(), field, m);
                None
            }
        }
    }

    fn positive(&mut self, t: &TableView<'_, '_>, key: &str) -> Option<f64> {
        let (x, span) = t.num(&mut self.r, key, false)?;
        if x > 0.0 {
            Some(x)
        } else {
            self.err(
                &span,
                &t.child(key),
                format!("expected a number > 0, found {x}"),
            );
            None
        }
    }

    fn pair(&mut self, t: &TableView<'_, '_>, key: &str) -> Option<(f64, f64)> {
        let (v, span) = t.num_array(&mut self.r, key)?;
        if v.len() == 2 && v[0] <= v[1] {
            Some((v[0], v[1]))
        } else {
            self.err(
                &span,
                &t.child(key),
                "expected [low, high] with low <= high",
            );
            None
        }
    }
}

pub(crate) fn load_trial_source(
    src: SourceFile,
    library: &dyn ScenarioLibrary,
) -> Result<Trial, ModelError> {
    let doc = parse_document(&src)?;
    let root = TableView::root(&doc);
    let mut cx = Ctx {
        r: Reader::new(&src),
        unit: None,
        follow_up: f64::INFINITY,
    };
    root.check_keys(&mut cx.r, ROOT);

    // [trial]
    let Some(tr) = root.sub(&mut cx.r, "trial") else {
        if root.get("trial").is_none() {
            cx.err(
                &(0..0),
                "trial",
                "missing the `[trial]` table (name, description, patients, seed)",
            );
        }
        return Err(into_error(cx));
    };
    tr.check_keys(&mut cx.r, TRIAL);
    let name = tr
        .str(&mut cx.r, "name", true)
        .map(|s| s.text)
        .unwrap_or_default();
    if let Err(m) = tabula_model::check_identifier(&name) {
        // A missing name is reported by `str`; an empty one here.
        if tr
            .get("name")
            .is_some_and(|v| matches!(v.get_ref(), DeValue::String(_)))
        {
            let span = tr.get("name").map_or(tr.span.clone(), |v| v.span());
            cx.err(&span, "trial.name", m);
        }
    }
    let description = tr
        .str(&mut cx.r, "description", true)
        .map(|s| s.text)
        .unwrap_or_default();
    let patients = match tr.whole(&mut cx.r, "patients", 1.0, crate::rng::MAX_PATIENTS as f64) {
        Some(n) => n,
        None => {
            if tr.get("patients").is_none() {
                cx.err(
                    &tr.span,
                    "trial.patients",
                    "missing required field `patients` (virtual patients per arm)",
                );
            }
            1
        }
    };
    let seed = match tr.get("seed") {
        None => {
            cx.err(&tr.span, "trial.seed", "missing required field `seed` (any whole number; results are reproducible for a given seed)");
            0
        }
        Some(v) => match v.get_ref() {
            DeValue::Integer(_) => match to_f64(v.get_ref()) {
                Some(x) if x >= 0.0 && x <= u64::MAX as f64 => {
                    // Integers parse exactly up to 2^53; larger seeds are read from the text.
                    let text = &src.text[v.span()];
                    text.replace('_', "").parse::<u64>().unwrap_or(x as u64)
                }
                _ => {
                    cx.err(&v.span(), "trial.seed", "expected a whole number >= 0");
                    0
                }
            },
            _ => {
                cx.err(&v.span(), "trial.seed", "expected a whole number >= 0");
                0
            }
        },
    };
    let design = match tr.choice(&mut cx.r, "design", &["paired", "parallel"], false) {
        Some(s) if s.text == "parallel" => Design::Parallel,
        _ => Design::Paired,
    };
    let noise = tr.bool(&mut cx.r, "noise").unwrap_or(true);

    // [solver]
    let mut solver = SolverOverrides::default();
    if let Some(s) = root.sub(&mut cx.r, "solver") {
        solver = read_solver(&mut cx, &s);
    }

    // [[arm]]
    let arm_tables = cx.r.table_array(&root, "arm");
    if arm_tables.is_empty() && root.get("arm").is_none() {
        cx.err(
            &root.span,
            "arm",
            "a trial needs at least one [[arm]] (name, scenario)",
        );
    }
    let mut arms = Vec::new();
    for t in &arm_tables {
        if let Some(arm) = read_arm(&mut cx, t, &src, library, &solver) {
            if arms.iter().any(|a: &Arm| a.name == arm.name) {
                let span = t.get("name").map_or(t.span.clone(), |v| v.span());
                cx.err(
                    &span,
                    &t.child("name"),
                    format!("two arms are called \"{}\"", arm.name),
                );
            }
            arms.push(arm);
        }
    }
    if arms.is_empty() {
        return Err(into_error(cx));
    }
    let time_unit = arms[0].scenario.model.time_unit_text.clone();
    cx.unit = Some(arms[0].scenario.model.time_unit.clone());
    for (a, t) in arms.iter().zip(&arm_tables) {
        if !a
            .scenario
            .model
            .time_unit
            .same_as(cx.unit.as_ref().expect("set above"))
        {
            cx.err(
                &t.span,
                &t.child("scenario"),
                format!(
                    "the model of arm \"{}\" counts time in {}, the first arm's in {}; every arm must use one time unit",
                    a.name, a.scenario.model.time_unit_text, time_unit
                ),
            );
        }
    }

    let step = match cx.time(&tr, "step") {
        None => 1.0,
        Some((x, span)) => {
            if x > 0.0 {
                x
            } else {
                cx.err(&span, "trial.step", "the assessment step must be > 0");
                1.0
            }
        }
    };
    let dense = tr.sub(&mut cx.r, "dense").and_then(|d| {
        d.check_keys(&mut cx.r, &["until", "step"]);
        let until = cx.time(&d, "until");
        let st = cx.time(&d, "step");
        match (until, st) {
            (Some((u, _)), Some((s, span))) => {
                if u > 0.0 && s > 0.0 && u / s <= 1e7 {
                    Some((u, s))
                } else {
                    cx.err(
                        &span,
                        "trial.dense",
                        "expected until > 0 and step > 0 (at most 10^7 points)",
                    );
                    None
                }
            }
            _ => {
                cx.err(&d.span, "trial.dense", "expected `until` and `step`");
                None
            }
        }
    });
    let duration = match cx.time(&tr, "duration") {
        None => None,
        Some((x, span)) => {
            if x > 0.0 {
                Some(x)
            } else {
                cx.err(
                    &span,
                    "trial.duration",
                    "the follow-up duration must be > 0",
                );
                None
            }
        }
    };
    for (a, t) in arms.iter_mut().zip(&arm_tables) {
        a.end = match duration {
            Some(d) => a.origin + d,
            None => a.scenario.end,
        };
        if a.end <= a.origin {
            cx.err(&t.span, &t.path, "the follow-up after the origin is empty");
        }
        if (a.end - a.origin) / step > 1e7 {
            cx.err(
                &t.span,
                &t.path,
                "more than 10^7 assessments per patient; raise trial.step",
            );
        }
    }

    cx.follow_up = arms
        .iter()
        .map(|a| a.end - a.origin)
        .fold(f64::INFINITY, f64::min);

    // Names every arm knows: outputs and aliases.
    let outputs = known_outputs(&arms);

    // [population]
    let population = match root.sub(&mut cx.r, "population") {
        Some(p) => read_population(&mut cx, &p, &arms),
        None => Population {
            max_attempts: 1000,
            pilot: 4000,
            ..Population::default()
        },
    };

    // [[endpoint]]
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for t in cx.r.table_array(&root, "endpoint") {
        if let Some(e) = read_endpoint(&mut cx, &t, &outputs, &endpoints) {
            if endpoints.iter().any(|x| x.name == e.name) {
                cx.err(
                    &t.span,
                    &t.child("name"),
                    format!("two endpoints are called \"{}\"", e.name),
                );
            }
            endpoints.push(e);
        }
    }
    // Endpoint names become columns next to the population variables.
    for e in &endpoints {
        if population.variables.iter().any(|v| v.name == e.name)
            || [
                "arm",
                "patient",
                "status",
                "reason",
                "screened",
                "steps",
                "projections",
                "fallbacks",
            ]
            .contains(&e.name.as_str())
        {
            cx.err(
                &root.span,
                "endpoint",
                format!(
                    "endpoint name \"{}\" clashes with a column of the per-patient table",
                    e.name
                ),
            );
        }
    }

    // The longest follow-up of any arm, for the sizes of the time grids below.
    let follow_up = arms.iter().map(|a| a.end - a.origin).fold(0.0, f64::max);
    let bands = root.sub(&mut cx.r, "bands").and_then(|b| {
        b.check_keys(&mut cx.r, BANDS);
        let outs = output_list(&mut cx, &b, "outputs", &outputs)?;
        let max_patients = b
            .whole(&mut cx.r, "max_patients", 10.0, 1e7)
            .unwrap_or(2000);
        let step = match cx.time(&b, "step") {
            None => 7.0,
            Some((x, span)) => {
                // Every band time of every kept patient and output is held in memory.
                let points = follow_up / x + 1.0;
                let bytes = points * outs.len() as f64 * max_patients.min(patients) as f64 * 8.0;
                if x > 0.0 && points <= 1e7 && bytes <= BAND_MEMORY_LIMIT {
                    x
                } else {
                    cx.err(
                        &span,
                        "bands.step",
                        format!(
                            "a band step of {x} {time_unit} gives {points:.3e} band times per patient; with {} output(s) and {} patients the bands would need {bytes:.3e} bytes, more than the limit of {} GiB; expected a step of at least {:.3e} {time_unit} (or fewer max_patients)",
                            outs.len(),
                            max_patients.min(patients),
                            BAND_MEMORY_LIMIT / f64::from(1u32 << 30),
                            follow_up * outs.len() as f64 * max_patients.min(patients) as f64 * 8.0 / BAND_MEMORY_LIMIT
                        ),
                    );
                    7.0
                }
            }
        };
        Some(BandSpec {
            outputs: outs,
            step: if step > 0.0 { step } else { 7.0 },
            max_patients,
        })
    });
    let timecourse = root.sub(&mut cx.r, "timecourse").and_then(|b| {
        b.check_keys(&mut cx.r, TIMECOURSE);
        let outs = output_list(&mut cx, &b, "outputs", &outputs)?;
        let step = match cx.time(&b, "step") {
            None => step,
            Some((x, span)) => {
                if x > 0.0 && follow_up / x <= 1e7 {
                    x
                } else {
                    cx.err(
                        &span,
                        "timecourse.step",
                        format!("a step of {x} {time_unit} gives more than 10^7 time-course rows per patient and output; expected a step of at least {:.3e} {time_unit}", follow_up / 1e7),
                    );
                    1.0
                }
            }
        };
        Some(TimeCourseSpec {
            outputs: outs,
            step: if step > 0.0 { step } else { 1.0 },
        })
    });

    let trial = Trial {
        name,
        description,
        source_name: src.name.to_string(),
        source_text: src.text.to_string(),
        patients,
        seed,
        design,
        noise,
        step,
        dense,
        duration,
        time_unit,
        solver,
        arms,
        population,
        endpoints,
        bands,
        timecourse,
    };
    cx.r.diags.finish(trial)
}

fn into_error(cx: Ctx<'_>) -> ModelError {
    match cx.r.diags.finish(()) {
        Ok(()) => ModelError::single(None, "", "invalid trial"),
        Err(e) => e,
    }
}

fn read_solver(cx: &mut Ctx<'_>, s: &TableView<'_, '_>) -> SolverOverrides {
    s.check_keys(&mut cx.r, SOLVER);
    let mut o = SolverOverrides::default();
    if let Some(m) = s.str(&mut cx.r, "method", false) {
        match m.text.parse::<Method>() {
            Ok(x) => o.method = Some(x),
            Err(e) => cx.err(&m.span, &s.child("method"), e),
        }
    }
    for key in ["rtol", "atol"] {
        if let Some((x, span)) = s.num(&mut cx.r, key, false) {
            let ok = x > 0.0 && (key == "atol" || x < 1.0);
            if !ok {
                cx.err(
                    &span,
                    &s.child(key),
                    format!("{key} must be in (0, 1) for rtol, > 0 for atol; found {x}"),
                );
            } else if key == "rtol" {
                o.rtol = Some(x);
            } else {
                o.atol = Some(x);
            }
        }
    }
    if let Some(n) = s.whole(&mut cx.r, "max_steps", 1.0, 1e12) {
        o.max_steps = Some(n as usize);
    }
    o
}

fn read_arm(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    src: &SourceFile,
    library: &dyn ScenarioLibrary,
    solver: &SolverOverrides,
) -> Option<Arm> {
    t.check_keys(&mut cx.r, ARM);
    let name = t.str(&mut cx.r, "name", true)?;
    if name.text.trim().is_empty() {
        cx.err(&name.span, &t.child("name"), "the arm name is empty");
    }
    let description = t
        .str(&mut cx.r, "description", false)
        .map(|s| s.text)
        .unwrap_or_default();
    let sref = t.str(&mut cx.r, "scenario", true)?;
    let mut scenario = match resolve_scenario(&sref.text, src, library) {
        Ok(s) => s,
        Err(ModelError::Invalid(mut d)) => {
            for x in d.iter_mut().filter(|x| x.location.is_none()) {
                x.location = Some(cx.r.loc(&sref.span));
                x.field = t.child("scenario");
            }
            for x in d {
                cx.r.diags.push(x.location, x.field, x.message);
            }
            return None;
        }
        Err(e) => {
            cx.err(&sref.span, &t.child("scenario"), e.to_string());
            return None;
        }
    };
    // Solver: the trial's settings, then the arm's.
    solver.apply(&mut scenario.options);
    if let Some(s) = t.sub(&mut cx.r, "solver") {
        read_solver(cx, &s).apply(&mut scenario.options);
    }
    let model = scenario.model.clone();

    // Typical-value overrides.
    let mut overrides = Vec::new();
    if let Some(p) = t.sub(&mut cx.r, "parameters") {
        for (k, kspan, v) in p.entries() {
            let field = p.child(k);
            let Some(i) = model.parameter_index(k) else {
                let hint = did_you_mean(k, model.parameters.iter().map(|x| x.name.as_str()));
                cx.err(
                    &kspan,
                    &field,
                    format!(
                        "the model of scenario \"{}\" has no parameter `{k}`{hint}",
                        sref.text
                    ),
                );
                continue;
            };
            match to_f64(v.get_ref()) {
                Some(x) if x.is_finite() && (x >= 0.0 || model.parameters[i].allow_negative) => {
                    scenario.parameters[i] = x;
                    overrides.push(k.to_string());
                }
                _ => cx.err(
                    &v.span(),
                    &field,
                    format!("expected a finite number (>= 0 unless the parameter allows negative values) in {}", model.parameters[i].unit_text),
                ),
            }
        }
    }

    // Doses: scale, replace, add.
    if t.bool(&mut cx.r, "replace_doses") == Some(true) {
        scenario.regimen.doses.clear();
        scenario.doses.clear();
    }
    if let Some(v) = t.get("dose_scale") {
        let field = t.child("dose_scale");
        match v.get_ref() {
            DeValue::Table(_) => {
                if let Some(st) = cx.r.table(v, &field) {
                    for (k, kspan, fv) in st.entries() {
                        let f = match to_f64(fv.get_ref()) {
                            Some(f) if f.is_finite() && f >= 0.0 => f,
                            _ => {
                                cx.err(&fv.span(), &st.child(k), "expected a factor >= 0");
                                continue;
                            }
                        };
                        let mut hit = false;
                        for d in scenario.regimen.doses.iter_mut() {
                            let route = d.route.map(|r| model.routes[r].name.as_str());
                            if route == Some(k) || model.states[d.state].name == k {
                                d.amount *= f;
                                hit = true;
                            }
                        }
                        if !hit {
                            let names: Vec<&str> = scenario
                                .regimen
                                .doses
                                .iter()
                                .map(|d| {
                                    d.route.map_or(model.states[d.state].name.as_str(), |r| {
                                        model.routes[r].name.as_str()
                                    })
                                })
                                .collect();
                            let hint = did_you_mean(k, names.iter().copied());
                            cx.err(
                                &kspan,
                                &st.child(k),
                                format!("no dose of the scenario goes into `{k}`{hint}"),
                            );
                        }
                    }
                }
            }
            other => match to_f64(other) {
                Some(f) if f.is_finite() && f >= 0.0 => {
                    for d in scenario.regimen.doses.iter_mut() {
                        d.amount *= f;
                    }
                }
                _ => cx.err(
                    &v.span(),
                    &field,
                    "expected a factor >= 0, or a table of factors by route",
                ),
            },
        }
        if let Some(d) = scenario
            .regimen
            .doses
            .iter()
            .find(|d| !d.amount.is_finite())
        {
            cx.err(
                &v.span(),
                &field,
                format!(
                    "the factor makes a dose into `{}` infinite; expected a factor that keeps every amount finite",
                    model.states[d.state].name
                ),
            );
        }
    }
    let unit = model.time_unit.clone();
    for dt in cx.r.table_array(t, "dose") {
        // The scenario format's own reader: a dose means the same in a scenario and an arm.
        if let Some((rec, _)) = tabula_scenario::read_dose(&mut cx.r, &unit, &dt, &model) {
            scenario.regimen.doses.push(rec);
        }
    }
    let saved = cx.unit.replace(unit);
    let origin = match cx.time(t, "origin") {
        None => 0.0,
        Some((o, span)) => {
            if o < 0.0 || o >= scenario.end {
                cx.err(
                    &span,
                    &t.child("origin"),
                    format!(
                        "origin must be in [0, {}) (the scenario's duration)",
                        scenario.end
                    ),
                );
                0.0
            } else {
                o
            }
        }
    };
    cx.unit = saved;

    // Aliases.
    let mut aliases = Vec::new();
    if let Some(a) = t.sub(&mut cx.r, "alias") {
        for (k, kspan, v) in a.entries() {
            match v.get_ref() {
                DeValue::String(s) => {
                    if model.outputs.iter().any(|o| o.name == s.as_ref()) {
                        aliases.push((k.to_string(), s.to_string()));
                    } else {
                        let hint = did_you_mean(s, model.outputs.iter().map(|o| o.name.as_str()));
                        cx.err(
                            &v.span(),
                            &a.child(k),
                            format!(
                                "`{s}` is not an output of the model of scenario \"{}\"{hint}",
                                sref.text
                            ),
                        );
                    }
                }
                _ => cx.err(&kspan, &a.child(k), "expected the name of an output"),
            }
        }
    }
    let end = scenario.end;
    Some(Arm {
        name: name.text,
        description,
        scenario_ref: sref.text,
        scenario,
        origin,
        end,
        aliases,
        overrides,
    })
}

/// Resolves an arm's scenario: a path relative to the trial file, or a built-in name.
fn resolve_scenario(
    reference: &str,
    from: &SourceFile,
    library: &dyn ScenarioLibrary,
) -> Result<tabula_scenario::Scenario, ModelError> {
    if is_path_reference(reference) {
        if from.builtin.is_some() {
            return Err(ModelError::single(
                None,
                "",
                format!("a built-in trial may only use built-in scenarios, not \"{reference}\""),
            ));
        }
        let base: PathBuf = from
            .path
            .as_ref()
            .and_then(|p| p.parent())
            .map_or_else(PathBuf::new, Path::to_path_buf);
        let path = base.join(reference);
        if !path.is_file() {
            return Err(ModelError::single(
                None,
                "",
                format!("no scenario file \"{}\"", path.display()),
            ));
        }
        return load_scenario(ScenarioRef::File(&path), library);
    }
    let name = reference.trim_end_matches(".toml");
    match library.scenario(name) {
        Some(text) => load_scenario(ScenarioRef::Builtin(name, &text), library),
        None => {
            let names = library.scenario_names();
            let hint = did_you_mean(name, names.iter().map(String::as_str));
            Err(ModelError::single(None, "", format!("no built-in scenario named \"{name}\"{hint}; run `tabula scenarios` for the list, or give a path ending in .toml")))
        }
    }
}

/// Names endpoints may use: every arm's outputs and aliases.
fn known_outputs(arms: &[Arm]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for a in arms {
        for o in &a.scenario.model.outputs {
            if !v.contains(&o.name) {
                v.push(o.name.clone());
            }
        }
        for (alias, _) in &a.aliases {
            if !v.contains(alias) {
                v.push(alias.clone());
            }
        }
    }
    v
}

fn check_output(cx: &mut Ctx<'_>, s: &SpannedStr, field: &str, outputs: &[String]) -> bool {
    if outputs.iter().any(|o| o == &s.text) {
        return true;
    }
    let hint = did_you_mean(&s.text, outputs.iter().map(String::as_str));
    cx.err(
        &s.span,
        field,
        format!(
            "`{}` is not an output (or alias) of any arm's model{hint}",
            s.text
        ),
    );
    false
}

fn output_list(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    key: &str,
    outputs: &[String],
) -> Option<Vec<String>> {
    let Some(list) = t.str_array(&mut cx.r, key) else {
        cx.err(
            &t.span,
            &t.child(key),
            format!("missing required field `{key}` (a list of output names)"),
        );
        return None;
    };
    let mut out = Vec::new();
    for s in list {
        if check_output(cx, &s, &t.child(key), outputs) {
            out.push(s.text);
        }
    }
    Some(out)
}

/// Names a population expression may use, with where their values come from.
fn check_expr(
    cx: &mut Ctx<'_>,
    text: &SpannedStr,
    field: &str,
    earlier: &[String],
    arms: &[Arm],
) -> Option<Ast> {
    let ast = match parse_expr(&text.text) {
        Ok(a) => a,
        Err(e) => {
            let loc = text.inner_start() + e.span.start;
            cx.err(
                &(loc..loc + 1),
                field,
                format!("in expression \"{}\": {}", text.text, e.message),
            );
            return None;
        }
    };
    let mut ok = true;
    let mut bad = Vec::new();
    ast.for_each_name(&mut |name, span| {
        let known = earlier.iter().any(|e| e == name)
            || arms
                .iter()
                .any(|a| a.scenario.model.parameter_index(name).is_some());
        if !known {
            bad.push((name.to_string(), span.clone()));
        }
    });
    for (name, span) in bad {
        ok = false;
        let loc = text.inner_start() + span.start;
        let cands = earlier.iter().map(String::as_str).chain(
            arms.iter()
                .flat_map(|a| a.scenario.model.parameters.iter().map(|p| p.name.as_str())),
        );
        let hint = did_you_mean(&name, cands);
        cx.err(
            &(loc..loc + 1),
            field,
            format!(
                "`{name}` is neither an earlier population variable nor a model parameter{hint}"
            ),
        );
    }
    let mut bad_fn = Vec::new();
    check_functions(&ast, &mut bad_fn);
    for f in bad_fn {
        ok = false;
        cx.err(&text.span, field, format!("unknown function `{f}`; expected one of exp, ln, log, log10, sqrt, abs, pow, min, max, clamp, if"));
    }
    ok.then_some(ast)
}

fn check_functions(ast: &Ast, bad: &mut Vec<String>) {
    match &ast.kind {
        AstKind::Call(name, args) => {
            if !crate::population::FUNCTIONS.contains(&name.as_str()) {
                bad.push(name.clone());
            }
            for a in args {
                check_functions(a, bad);
            }
        }
        AstKind::Neg(a) => check_functions(a, bad),
        AstKind::Binary(_, a, b) => {
            check_functions(a, bad);
            check_functions(b, bad);
        }
        AstKind::Num(_) | AstKind::Name(_) => {}
    }
}

fn read_population(cx: &mut Ctx<'_>, p: &TableView<'_, '_>, arms: &[Arm]) -> Population {
    p.check_keys(&mut cx.r, POPULATION);
    let mut pop = Population {
        max_attempts: p.whole(&mut cx.r, "max_attempts", 1.0, 1e7).unwrap_or(1000) as u32,
        pilot: p.whole(&mut cx.r, "pilot", 100.0, 1e7).unwrap_or(4000) as u32,
        ..Population::default()
    };
    if let Some(s) = p.str(&mut cx.r, "screening_arm", false) {
        match arms.iter().position(|a| a.name == s.text) {
            Some(i) => pop.screening_arm = i,
            None => {
                let hint = did_you_mean(&s.text, arms.iter().map(|a| a.name.as_str()));
                cx.err(
                    &s.span,
                    &p.child("screening_arm"),
                    format!("no arm called \"{}\"{hint}", s.text),
                );
            }
        }
    }
    let mut names: Vec<String> = Vec::new();

    // Covariates: categorical (with levels) or continuous.
    if let Some(c) = p.sub(&mut cx.r, "covariates") {
        for (k, kspan, v) in c.entries() {
            let field = c.child(k);
            let Some(t) = cx.r.table(v, &field) else {
                continue;
            };
            if arms
                .iter()
                .any(|a| a.scenario.model.parameter_index(k).is_some())
            {
                cx.err(
                    &kspan,
                    &field,
                    format!("`{k}` is a model parameter: declare it under [population.parameters]"),
                );
                continue;
            }
            if names.iter().any(|n| n == k) {
                cx.err(&kspan, &field, format!("`{k}` is declared twice"));
                continue;
            }
            if t.get("levels").is_some() {
                if let Some(cat) = read_categorical(cx, &t, k, arms) {
                    pop.categoricals.push(cat);
                    names.push(k.to_string());
                }
            } else if let Some(var) = read_variable(cx, &t, k, false, &names, arms) {
                pop.variables.push(var);
                names.push(k.to_string());
            }
        }
    }
    if let Some(ps) = p.sub(&mut cx.r, "parameters") {
        for (k, kspan, v) in ps.entries() {
            let field = ps.child(k);
            let Some(t) = cx.r.table(v, &field) else {
                continue;
            };
            if !arms
                .iter()
                .any(|a| a.scenario.model.parameter_index(k).is_some())
            {
                let hint = did_you_mean(
                    k,
                    arms.iter()
                        .flat_map(|a| a.scenario.model.parameters.iter().map(|p| p.name.as_str())),
                );
                cx.err(
                    &kspan,
                    &field,
                    format!("no arm's model has a parameter `{k}`{hint}"),
                );
                continue;
            }
            if names.iter().any(|n| n == k) {
                cx.err(&kspan, &field, format!("`{k}` is declared twice"));
                continue;
            }
            if let Some(var) = read_variable(cx, &t, k, true, &names, arms) {
                pop.variables.push(var);
                names.push(k.to_string());
            }
        }
    }

    // Correlations.
    for t in cx.r.table_array(p, "correlation") {
        t.check_keys(&mut cx.r, CORRELATION);
        let Some(list) = t.str_array(&mut cx.r, "parameters") else {
            cx.err(
                &t.span,
                &t.child("parameters"),
                "missing required field `parameters` (the correlated variables)",
            );
            continue;
        };
        let mut idx = Vec::new();
        for s in &list {
            match pop.variables.iter().position(|v| v.name == s.text) {
                Some(i) if pop.variables[i].dist.is_some() && pop.variables[i].expr.is_none() => {
                    if pop.correlations.iter().any(|c| c.variables.contains(&i)) || idx.contains(&i)
                    {
                        cx.err(
                            &s.span,
                            &t.child("parameters"),
                            format!("`{}` is already in a correlation block", s.text),
                        );
                    }
                    idx.push(i);
                }
                Some(_) => cx.err(
                    &s.span,
                    &t.child("parameters"),
                    format!("`{}` has no random part to correlate", s.text),
                ),
                None => {
                    let hint = did_you_mean(&s.text, pop.variables.iter().map(|v| v.name.as_str()));
                    cx.err(
                        &s.span,
                        &t.child("parameters"),
                        format!("`{}` is not a population variable{hint}", s.text),
                    );
                }
            }
        }
        let k = idx.len();
        if k < 2 || k != list.len() {
            if k < 2 && k == list.len() {
                cx.err(
                    &t.span,
                    &t.child("parameters"),
                    "a correlation block needs at least two variables",
                );
            }
            continue;
        }
        let matrix: Option<Vec<f64>> = if let Some((rho, span)) = t.num(&mut cx.r, "rho", false) {
            let lo = -1.0 / (k as f64 - 1.0);
            if rho <= lo || rho >= 1.0 {
                cx.err(
                    &span,
                    &t.child("rho"),
                    format!("an exchangeable correlation of {k} variables must be in ({lo}, 1)"),
                );
                None
            } else {
                Some(
                    (0..k * k)
                        .map(|i| if i / k == i % k { 1.0 } else { rho })
                        .collect(),
                )
            }
        } else if let Some(v) = t.get("matrix") {
            read_matrix(cx, v, &t.child("matrix"), k)
        } else {
            cx.err(
                &t.span,
                &t.path,
                "give `rho` (one correlation for every pair) or `matrix`",
            );
            None
        };
        if let Some(m) = matrix {
            match cholesky(&m, k) {
                Some(l) => pop.correlations.push(Correlation {
                    variables: idx,
                    cholesky: l,
                    matrix: m,
                }),
                None => cx.err(
                    &t.span,
                    &t.path,
                    "the correlation matrix is not positive definite",
                ),
            }
        }
    }

    // Baseline criteria, evaluated with the screening arm's model.
    if let Some(b) = p.sub(&mut cx.r, "baseline") {
        let model = &arms[pop.screening_arm].scenario.model;
        let mut targets = 0;
        for (k, kspan, v) in b.entries() {
            let field = b.child(k);
            let Some(t) = cx.r.table(v, &field) else {
                continue;
            };
            t.check_keys(&mut cx.r, BASELINE);
            if !model.outputs.iter().any(|o| o.name == k) {
                let hint = did_you_mean(k, model.outputs.iter().map(|o| o.name.as_str()));
                cx.err(
                    &kspan,
                    &field,
                    format!(
                        "`{k}` is not an output of the screening arm's model ({}){hint}",
                        model.name
                    ),
                );
                continue;
            }
            let min = t.num(&mut cx.r, "min", false).map(|x| x.0);
            let max = t.num(&mut cx.r, "max", false).map(|x| x.0);
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    cx.err(&t.span, &field, "min must be <= max");
                }
            }
            let target = t
                .sub(&mut cx.r, "target")
                .and_then(|tt| read_target(cx, &tt));
            if target.is_some() {
                targets += 1;
                if targets > 1 {
                    cx.err(&kspan, &field, "only one baseline output may have a target distribution (multivariate targets are not supported)");
                }
            }
            if min.is_none() && max.is_none() && target.is_none() {
                cx.err(&t.span, &field, "give `min`, `max` or `target`");
            }
            pop.baseline.push(BaselineCriterion {
                output: k.to_string(),
                min,
                max,
                target,
            });
        }
    }
    pop
}

fn read_matrix(cx: &mut Ctx<'_>, v: &Value<'_>, field: &str, k: usize) -> Option<Vec<f64>> {
    let DeValue::Array(rows) = v.get_ref() else {
        cx.err(&v.span(), field, "expected an array of rows");
        return None;
    };
    let mut m = Vec::with_capacity(k * k);
    if rows.len() != k {
        cx.err(
            &v.span(),
            field,
            format!("expected {k} rows, one per variable"),
        );
        return None;
    }
    for row in rows.iter() {
        let DeValue::Array(cells) = row.get_ref() else {
            cx.err(&row.span(), field, "expected a row of numbers");
            return None;
        };
        if cells.len() != k {
            cx.err(
                &row.span(),
                field,
                format!("expected {k} numbers in each row"),
            );
            return None;
        }
        for c in cells.iter() {
            match to_f64(c.get_ref()) {
                Some(x) if x.is_finite() => m.push(x),
                _ => {
                    cx.err(&c.span(), field, "expected a number");
                    return None;
                }
            }
        }
    }
    for i in 0..k {
        for j in 0..k {
            let x = m[i * k + j];
            let ok = if i == j {
                x == 1.0
            } else {
                x.abs() < 1.0 && x == m[j * k + i]
            };
            if !ok {
                cx.err(&v.span(), field, "a correlation matrix must be symmetric with ones on the diagonal and entries in (-1, 1)");
                return None;
            }
        }
    }
    Some(m)
}

/// The lower-triangular Cholesky factor of a `k x k` matrix, or `None` if it is not positive
/// definite.
pub fn cholesky(m: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = m[i * k + j];
            for p in 0..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            if i == j {
                if s <= 1e-12 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

fn read_target(cx: &mut Ctx<'_>, t: &TableView<'_, '_>) -> Option<Target> {
    t.check_keys(&mut cx.r, TARGET);
    let dist = t.choice(
        &mut cx.r,
        "dist",
        &["normal", "lognormal", "uniform", "histogram"],
        false,
    );
    let Some(dist) = dist else {
        if t.get("dist").is_none() {
            cx.err(
                &t.span,
                &t.child("dist"),
                "missing `dist` (normal, lognormal, uniform or histogram)",
            );
        }
        return None;
    };
    let need =
        |cx: &mut Ctx<'_>, key: &str| -> Option<f64> { t.num(&mut cx.r, key, true).map(|x| x.0) };
    match dist.text.as_str() {
        "normal" => {
            let mean = need(cx, "mean")?;
            let sd = cx.positive(t, "sd")?;
            Some(Target::Normal { mean, sd })
        }
        "lognormal" => {
            let median = cx.positive(t, "median")?;
            let omega = cx.positive(t, "omega")?;
            Some(Target::LogNormal { median, omega })
        }
        "uniform" => {
            let lo = need(cx, "min")?;
            let hi = need(cx, "max")?;
            if hi > lo {
                Some(Target::Uniform { lo, hi })
            } else {
                cx.err(&t.span, &t.path, "max must be > min");
                None
            }
        }
        _ => {
            let (edges, span) = t.num_array(&mut cx.r, "edges")?;
            let (weights, _) = t.num_array(&mut cx.r, "weights")?;
            let ok = edges.len() == weights.len() + 1
                && edges.windows(2).all(|w| w[0] < w[1])
                && weights.iter().all(|w| *w >= 0.0)
                && weights.iter().sum::<f64>() > 0.0;
            if ok {
                Some(Target::Histogram { edges, weights })
            } else {
                cx.err(&span, &t.child("edges"), "expected ascending edges, one more than the (non-negative, not all zero) weights");
                None
            }
        }
    }
}

fn read_categorical(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    name: &str,
    arms: &[Arm],
) -> Option<Categorical> {
    t.check_keys(&mut cx.r, CATEGORICAL);
    let levels: Vec<String> = t
        .str_array(&mut cx.r, "levels")?
        .into_iter()
        .map(|s| s.text)
        .collect();
    let Some((probabilities, span)) = t.num_array(&mut cx.r, "probabilities") else {
        cx.err(
            &t.span,
            &t.child("probabilities"),
            "missing `probabilities` (one per level, summing to 1)",
        );
        return None;
    };
    if levels.is_empty() || probabilities.len() != levels.len() {
        cx.err(
            &span,
            &t.child("probabilities"),
            "expected one probability per level",
        );
        return None;
    }
    let sum: f64 = probabilities.iter().sum();
    if probabilities.iter().any(|p| *p < 0.0) || (sum - 1.0).abs() > 1e-6 {
        cx.err(
            &span,
            &t.child("probabilities"),
            format!("probabilities must be >= 0 and sum to 1 (they sum to {sum})"),
        );
        return None;
    }
    let mut set = vec![Vec::new(); levels.len()];
    if let Some(s) = t.sub(&mut cx.r, "set") {
        for (lvl, lspan, v) in s.entries() {
            let Some(li) = levels.iter().position(|l| l == lvl) else {
                let hint = did_you_mean(lvl, levels.iter().map(String::as_str));
                cx.err(
                    &lspan,
                    &s.child(lvl),
                    format!("`{lvl}` is not a level of `{name}`{hint}"),
                );
                continue;
            };
            let Some(lt) = cx.r.table(v, &s.child(lvl)) else {
                continue;
            };
            for (p, pspan, pv) in lt.entries() {
                if !arms
                    .iter()
                    .any(|a| a.scenario.model.parameter_index(p).is_some())
                {
                    cx.err(
                        &pspan,
                        &lt.child(p),
                        format!("no arm's model has a parameter `{p}`"),
                    );
                    continue;
                }
                match to_f64(pv.get_ref()) {
                    Some(x) if x.is_finite() => set[li].push((p.to_string(), x)),
                    _ => cx.err(&pv.span(), &lt.child(p), "expected a number"),
                }
            }
        }
    }
    Some(Categorical {
        name: name.to_string(),
        levels,
        probabilities,
        set,
        source: t
            .str(&mut cx.r, "source", false)
            .map(|s| s.text)
            .unwrap_or_default(),
    })
}

fn read_variable(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    name: &str,
    is_parameter: bool,
    earlier: &[String],
    arms: &[Arm],
) -> Option<Variable> {
    t.check_keys(&mut cx.r, VARIABLE);
    let field = t.path.clone();
    let unit = t
        .str(&mut cx.r, "unit", false)
        .map(|s| s.text)
        .unwrap_or_else(|| {
            arms.iter()
                .find_map(|a| {
                    let m = &a.scenario.model;
                    m.parameter_index(name)
                        .map(|i| m.parameters[i].unit_text.clone())
                })
                .unwrap_or_default()
        });
    let source = t
        .str(&mut cx.r, "source", false)
        .map(|s| s.text)
        .unwrap_or_default();
    let _ = t.str(&mut cx.r, "description", false);
    let bounds = cx.pair(t, "bounds");
    let outside = match t.choice(
        &mut cx.r,
        "outside",
        &["resample", "reject", "clamp"],
        false,
    ) {
        Some(s) if s.text == "reject" => Outside::Reject,
        Some(s) if s.text == "clamp" => Outside::Clamp,
        _ => Outside::Resample,
    };
    if let Some(e) = t.str(&mut cx.r, "expr", false) {
        for k in ["dist", "cv", "omega", "sd", "median", "mean", "typical"] {
            if t.get(k).is_some() {
                cx.err(
                    &e.span,
                    &field,
                    format!("`expr` gives the value exactly; remove `{k}`"),
                );
            }
        }
        let ast = check_expr(cx, &e, &t.child("expr"), earlier, arms)?;
        return Some(Variable {
            name: name.to_string(),
            is_parameter,
            dist: None,
            typical: Typical::Model,
            expr: Some((ast, e.text)),
            bounds,
            outside,
            unit,
            source,
        });
    }
    let dist_name = t
        .choice(
            &mut cx.r,
            "dist",
            &["lognormal", "normal", "logitnormal", "uniform"],
            false,
        )
        .map_or_else(|| "lognormal".to_string(), |s| s.text);
    // Typical value: `typical`, or `median` / `mean` as the distribution suggests.
    let mut typical = Typical::Model;
    let mut typical_given = 0;
    for key in ["typical", "median", "mean"] {
        let Some(v) = t.get(key) else { continue };
        typical_given += 1;
        let fitting = match key {
            "median" => matches!(dist_name.as_str(), "lognormal" | "logitnormal"),
            "mean" => dist_name == "normal",
            _ => true,
        };
        if !fitting {
            cx.err(
                &v.span(),
                &t.child(key),
                format!(
                    "a {dist_name} variable takes `{}` (or `typical`)",
                    if dist_name == "normal" {
                        "mean"
                    } else {
                        "median"
                    }
                ),
            );
        }
        match v.get_ref() {
            DeValue::String(s) => {
                let st = SpannedStr {
                    text: s.to_string(),
                    span: v.span(),
                };
                if let Some(ast) = check_expr(cx, &st, &t.child(key), earlier, arms) {
                    typical = Typical::Expr(ast, st.text);
                }
            }
            other => match to_f64(other) {
                Some(x) if x.is_finite() => typical = Typical::Value(x),
                _ => cx.err(
                    &v.span(),
                    &t.child(key),
                    "expected a number or an expression string",
                ),
            },
        }
    }
    if typical_given > 1 {
        cx.err(
            &t.span,
            &field,
            "give at most one of `typical`, `median` and `mean`",
        );
    }
    if !is_parameter && matches!(typical, Typical::Model) && dist_name != "uniform" {
        cx.err(
            &t.span,
            &field,
            format!(
                "covariate `{name}` is not a model parameter: give its `{}`",
                if dist_name == "normal" {
                    "mean"
                } else {
                    "median"
                }
            ),
        );
        return None;
    }
    let cv = t.num(&mut cx.r, "cv", false);
    let omega = t.num(&mut cx.r, "omega", false);
    let sd = t.num(&mut cx.r, "sd", false);
    let spread_count = [cv.is_some(), omega.is_some(), sd.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if spread_count > 1 {
        cx.err(&t.span, &field, "give one of `cv`, `omega` and `sd`");
    }
    let check_nonneg =
        |cx: &mut Ctx<'_>, v: Option<(f64, Range<usize>)>, key: &str| -> Option<f64> {
            let (x, span) = v?;
            if x >= 0.0 {
                Some(x)
            } else {
                cx.err(
                    &span,
                    &t.child(key),
                    format!("{key} must be >= 0, found {x}"),
                );
                None
            }
        };
    let cv = check_nonneg(cx, cv, "cv");
    let omega = check_nonneg(cx, omega, "omega");
    let sd = check_nonneg(cx, sd, "sd");
    let limits = cx.pair(t, "limits");
    // A spread was given but is invalid (already reported): stop here.
    let spread_given = ["cv", "omega", "sd"].iter().any(|k| t.get(k).is_some());
    if spread_given && cv.is_none() && omega.is_none() && sd.is_none() {
        return None;
    }
    let dist = match dist_name.as_str() {
        "lognormal" => {
            if sd.is_some() {
                cx.err(
                    &t.span,
                    &t.child("sd"),
                    "a log-normal variable takes `omega` (SD of the log) or `cv`",
                );
            }
            let omega = omega.or_else(|| cv.map(|c| (1.0 + c * c).ln().sqrt()));
            match omega {
                Some(o) => Dist::LogNormal { omega: o },
                None => {
                    cx.err(
                        &t.span,
                        &field,
                        "a log-normal variable needs `omega` or `cv`",
                    );
                    return None;
                }
            }
        }
        "normal" => match (sd, cv, omega) {
            (Some(s), None, None) => Dist::Normal {
                sd: s,
                relative: false,
            },
            (None, Some(c), None) => Dist::Normal {
                sd: c,
                relative: true,
            },
            _ => {
                cx.err(&t.span, &field, "a normal variable needs `sd` or `cv`");
                return None;
            }
        },
        "logitnormal" => {
            let (lo, hi) = limits.unwrap_or((0.0, 1.0));
            if hi <= lo {
                cx.err(&t.span, &t.child("limits"), "limits must have low < high");
            }
            match sd.or(omega) {
                Some(s) => Dist::LogitNormal { sd: s, lo, hi },
                None => {
                    cx.err(
                        &t.span,
                        &field,
                        "a logit-normal variable needs `sd` (on the logit scale)",
                    );
                    return None;
                }
            }
        }
        _ => match limits {
            Some((lo, hi)) if hi > lo => Dist::Uniform { lo, hi },
            _ => {
                cx.err(
                    &t.span,
                    &t.child("limits"),
                    "a uniform variable needs `limits = [low, high]` with low < high",
                );
                return None;
            }
        },
    };
    if limits.is_some() && !matches!(dist, Dist::LogitNormal { .. } | Dist::Uniform { .. }) {
        cx.err(&t.span, &t.child("limits"), "`limits` is the support of a logit-normal or uniform variable; use `bounds` for plausibility bounds");
    }
    // Typical values from the arms' models must suit the distribution.
    if let Typical::Model = typical {
        for a in arms {
            let m = &a.scenario.model;
            let Some(i) = m.parameter_index(name) else {
                continue;
            };
            let x = a.scenario.parameters[i];
            let bad = match dist {
                Dist::LogNormal { .. } => (x <= 0.0)
                    .then(|| "a log-normal variable needs a typical value > 0".to_string()),
                Dist::LogitNormal { lo, hi, .. } => (!(x > lo && x < hi)).then(|| {
                    format!("a logit-normal variable needs a typical value inside ({lo}, {hi})")
                }),
                _ => None,
            };
            if let Some(msg) = bad {
                cx.err(
                    &t.span,
                    &field,
                    format!("{msg}; arm \"{}\" has {name} = {x}", a.name),
                );
                break;
            }
        }
    }
    Some(Variable {
        name: name.to_string(),
        is_parameter,
        dist: Some(dist),
        typical,
        expr: None,
        bounds,
        outside,
        unit,
        source,
    })
}

fn read_change(cx: &mut Ctx<'_>, t: &TableView<'_, '_>) -> Change {
    match t.choice(
        &mut cx.r,
        "change",
        &["none", "absolute", "ratio", "percent", "log10_ratio"],
        false,
    ) {
        Some(s) => match s.text.as_str() {
            "absolute" => Change::Absolute,
            "ratio" => Change::Ratio,
            "percent" => Change::Percent,
            "log10_ratio" => Change::Log10Ratio,
            _ => Change::None,
        },
        None => Change::None,
    }
}

fn read_window(cx: &mut Ctx<'_>, t: &TableView<'_, '_>) -> Window {
    let from = cx.time(t, "from").map_or(0.0, |x| x.0);
    let to = cx.time(t, "to").map(|x| x.0);
    if let Some(to) = to {
        if to < from {
            cx.err(
                &t.span,
                &t.child("to"),
                format!("`to` ({to}) is before `from` ({from})"),
            );
        }
    }
    Window { from, to }
}

/// `output` plus exactly one of `below`, `above`, `at_most`, `at_least`, and `relative`.
fn read_condition(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    outputs: &[String],
    ops: &[&str],
) -> Option<Condition> {
    let out = t.str(&mut cx.r, "output", true)?;
    if !check_output(cx, &out, &t.child("output"), outputs) {
        return None;
    }
    let mut found = None;
    for key in ops {
        if let Some((x, _)) = t.num(&mut cx.r, key, false) {
            if found.is_some() {
                cx.err(&t.span, &t.path, format!("give one of {}", ops.join(", ")));
                return None;
            }
            let op = match *key {
                "below" => Op::Below,
                "above" => Op::Above,
                "at_most" => Op::AtMost,
                _ => Op::AtLeast,
            };
            found = Some((op, x));
        }
    }
    let Some((op, threshold)) = found else {
        cx.err(
            &t.span,
            &t.path,
            format!("missing the threshold: one of {}", ops.join(", ")),
        );
        return None;
    };
    Some(Condition {
        output: out.text,
        op,
        threshold,
        relative: t.bool(&mut cx.r, "relative").unwrap_or(false),
    })
}

const ALL_OPS: &[&str] = &["below", "above", "at_most", "at_least"];

/// `lower_limit` (a number > 0 in the output's unit) with its required `lower_limit_source`,
/// for the endpoint kinds that report a level.
fn read_lower_limit(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    kind: &EndpointKind,
) -> Option<DetectionLimit> {
    let (value, span) = t.num(&mut cx.r, "lower_limit", false)?;
    if !(value.is_finite() && value > 0.0) {
        cx.err(
            &span,
            &t.child("lower_limit"),
            format!("the detection limit must be a finite number > 0, found {value}"),
        );
        return None;
    }
    let levels = matches!(
        kind,
        EndpointKind::Value { .. }
            | EndpointKind::Nadir { .. }
            | EndpointKind::Peak { .. }
            | EndpointKind::AtEvent { .. }
    );
    if !levels {
        cx.err(
            &span,
            &t.child("lower_limit"),
            "a detection limit applies to endpoints that report a level (value, nadir, peak, at_event)",
        );
        return None;
    }
    let Some(source) = t.str(&mut cx.r, "lower_limit_source", false) else {
        cx.err(
            &span,
            &t.child("lower_limit_source"),
            "a detection limit needs `lower_limit_source`: the assay or study it comes from",
        );
        return None;
    };
    Some(DetectionLimit {
        value,
        source: source.text,
    })
}

fn read_endpoint(
    cx: &mut Ctx<'_>,
    t: &TableView<'_, '_>,
    outputs: &[String],
    earlier: &[Endpoint],
) -> Option<Endpoint> {
    t.check_keys(&mut cx.r, ENDPOINT);
    let name = t.str(&mut cx.r, "name", true)?;
    if let Err(m) = tabula_model::check_identifier(&name.text) {
        cx.err(&name.span, &t.child("name"), m);
    }
    let description = t
        .str(&mut cx.r, "description", false)
        .map(|s| s.text)
        .unwrap_or_default();
    let key = t.bool(&mut cx.r, "key").unwrap_or(false);
    let every = match cx.time(t, "every") {
        Some((x, _)) if x > 0.0 => Some(x),
        Some((_, span)) => {
            cx.err(
                &span,
                &t.child("every"),
                "the assessment interval must be > 0",
            );
            None
        }
        None => None,
    };
    let Some(kind) = t.choice(&mut cx.r, "kind", KINDS, false) else {
        if t.get("kind").is_none() {
            cx.err(
                &t.span,
                &t.child("kind"),
                format!("missing `kind`; expected one of: {}", KINDS.join(", ")),
            );
        }
        return None;
    };
    let output = |cx: &mut Ctx<'_>| -> Option<String> {
        let s = t.str(&mut cx.r, "output", true)?;
        check_output(cx, &s, &t.child("output"), outputs).then_some(s.text)
    };
    let time = |cx: &mut Ctx<'_>| -> Option<f64> {
        match cx.time(t, "time") {
            Some((x, span)) if x > cx.follow_up * (1.0 + 1e-9) => {
                let unit = cx.unit.as_ref().map(|u| u.to_string()).unwrap_or_default();
                cx.err(
                    &span,
                    &t.child("time"),
                    format!(
                        "the assessment time {x} {unit} is after the end of follow-up ({} {unit} from the arm's origin); no patient could be assessed. Expected a time <= {}, or a longer trial.duration",
                        cx.follow_up, cx.follow_up
                    ),
                );
                None
            }
            Some((x, _)) => Some(x),
            None => {
                if t.get("time").is_none() {
                    cx.err(
                        &t.span,
                        &t.child("time"),
                        "missing `time` (assessment time from the arm's origin)",
                    );
                }
                None
            }
        }
    };
    let kind = match kind.text.as_str() {
        "value" => {
            let output = output(cx)?;
            let time = time(cx)?;
            EndpointKind::Value {
                output,
                time,
                change: read_change(cx, t),
            }
        }
        "nadir" | "peak" => {
            let output = output(cx)?;
            let window = read_window(cx, t);
            let change = read_change(cx, t);
            if kind.text == "nadir" {
                EndpointKind::Nadir {
                    output,
                    window,
                    change,
                }
            } else {
                EndpointKind::Peak {
                    output,
                    window,
                    change,
                }
            }
        }
        "time_to_nadir" => EndpointKind::TimeToNadir {
            output: output(cx)?,
            window: read_window(cx, t),
        },
        "time_to_peak" => EndpointKind::TimeToPeak {
            output: output(cx)?,
            window: read_window(cx, t),
        },
        "auc" => EndpointKind::Auc {
            output: output(cx)?,
            window: read_window(cx, t),
        },
        "mean" => EndpointKind::Mean {
            output: output(cx)?,
            window: read_window(cx, t),
        },
        "time_to" | "duration" => {
            let condition = read_condition(cx, t, outputs, ALL_OPS)?;
            let window = read_window(cx, t);
            if kind.text == "time_to" {
                EndpointKind::TimeTo { condition, window }
            } else {
                EndpointKind::Duration { condition, window }
            }
        }
        "recovery" => {
            let depleted = read_condition(cx, t, outputs, &["below", "at_most"])?;
            let recovered = match t.num(&mut cx.r, "recovered", false) {
                Some((x, _)) => x,
                None => depleted.threshold,
            };
            let window = read_window(cx, t);
            EndpointKind::Recovery {
                recovered: Condition {
                    output: depleted.output.clone(),
                    op: Op::AtLeast,
                    threshold: recovered,
                    relative: depleted.relative,
                },
                depleted,
                window,
            }
        }
        "responder" => {
            let condition = read_condition(cx, t, outputs, ALL_OPS)?;
            let when = if t.get("time").is_some() {
                When::At(time(cx)?)
            } else {
                let w = read_window(cx, t);
                match t.choice(&mut cx.r, "require", &["any", "all"], false) {
                    Some(s) if s.text == "all" => When::All(w),
                    _ => When::Any(w),
                }
            };
            EndpointKind::Responder { condition, when }
        }
        "relapse" => {
            let sub = |cx: &mut Ctx<'_>, key: &str| -> Option<Condition> {
                let Some(st) = t.sub(&mut cx.r, key) else {
                    cx.err(
                        &t.span,
                        &t.child(key),
                        format!("missing `{key} = {{ output = ..., at_least = ... }}`"),
                    );
                    return None;
                };
                st.check_keys(&mut cx.r, CONDITION);
                read_condition(cx, &st, outputs, ALL_OPS)
            };
            let response = sub(cx, "response");
            let relapse = sub(cx, "relapse");
            EndpointKind::Relapse {
                response: response?,
                relapse: relapse?,
                window: read_window(cx, t),
            }
        }
        "at_event" => {
            let output = output(cx)?;
            let ev = t.str(&mut cx.r, "event", true)?;
            let idx = earlier.iter().position(|e| e.name == ev.text);
            match idx {
                Some(i) if earlier[i].value_type() == EndpointType::TimeToEvent => {
                    EndpointKind::AtEvent {
                        output,
                        event: i,
                        change: read_change(cx, t),
                    }
                }
                Some(_) => {
                    cx.err(
                        &ev.span,
                        &t.child("event"),
                        format!("`{}` is not a time-to-event endpoint", ev.text),
                    );
                    return None;
                }
                None => {
                    let hint = did_you_mean(&ev.text, earlier.iter().map(|e| e.name.as_str()));
                    cx.err(&ev.span, &t.child("event"), format!("no earlier endpoint called `{}`{hint} (an event must be defined before it is used)", ev.text));
                    return None;
                }
            }
        }
        _ => {
            // asas
            let level = match t.num(&mut cx.r, "level", false) {
                None => 20,
                Some((x, _)) if x == 20.0 || x == 40.0 => x as u32,
                Some((x, span)) => {
                    cx.err(
                        &span,
                        &t.child("level"),
                        format!("ASAS level must be 20 or 40, found {x}"),
                    );
                    20
                }
            };
            let time = time(cx)?;
            let default = [
                "patient_global",
                "total_back_pain",
                "basfi",
                "asas_inflammation",
            ];
            let domains: Vec<String> = match t.str_array(&mut cx.r, "domains") {
                Some(list) => {
                    if list.len() != 4 {
                        cx.err(
                            &t.span,
                            &t.child("domains"),
                            "expected four domains: patient global, pain, function, inflammation",
                        );
                        return None;
                    }
                    let mut v = Vec::new();
                    for s in list {
                        if !check_output(cx, &s, &t.child("domains"), outputs) {
                            return None;
                        }
                        v.push(s.text);
                    }
                    v
                }
                None => {
                    for d in default {
                        if !outputs.iter().any(|o| o == d) {
                            cx.err(&t.span, &t.child("domains"), format!("no arm has the default ASAS domain output `{d}`; give `domains`"));
                            return None;
                        }
                    }
                    default.iter().map(|s| s.to_string()).collect()
                }
            };
            let domains: [String; 4] = domains.try_into().ok()?;
            EndpointKind::Asas {
                level,
                time,
                domains,
            }
        }
    };
    let lower_limit = read_lower_limit(cx, t, &kind);
    let e = Endpoint {
        name: name.text,
        description,
        kind,
        key,
        every,
        lower_limit,
    };
    for x in e.times() {
        if x < 0.0 {
            cx.err(
                &t.span,
                &t.path,
                format!("endpoint times count from the arm's origin and must be >= 0, found {x}"),
            );
            break;
        }
    }
    Some(e)
}
