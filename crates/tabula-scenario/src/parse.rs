//! Reading scenario files.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use tabula_model::doc::{parse_document, to_f64, Reader, TableView};
use tabula_model::error::did_you_mean;
use tabula_model::{load_model_ref, Library, Model, ModelError, SourceFile, Unit};
use tabula_solve::{Delivery, DoseRecord, Method, Regimen, SolverOptions};
use toml::de::DeValue;

use crate::Scenario;

/// How a scenario is named on the command line: a file or a built-in name.
#[derive(Clone, Debug)]
pub enum ScenarioRef<'a> {
    /// A file path.
    File(&'a Path),
    /// A built-in scenario: name and text.
    Builtin(&'a str, &'a str),
}

/// A dose as written in the scenario, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct DoseSpec {
    /// Route or state name.
    pub into: String,
    /// Amount as written (None when given by rate x duration).
    pub amount: Option<f64>,
    /// Unit as written.
    pub unit: String,
    /// Time of the first dose (model time unit).
    pub time: f64,
    /// Infusion rate as written, if any.
    pub rate: Option<f64>,
    /// Infusion duration (model time unit), if any.
    pub duration: Option<f64>,
    /// Repeat interval (model time unit).
    pub interval: f64,
    /// Additional doses.
    pub additional: u32,
}

const SCENARIO_TOP: &[&str] = &["scenario", "solver", "parameters", "dose"];
const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "duration",
    "output",
    "plot",
    "log_plot",
    "tags",
];
const OUTPUT_KEYS: &[&str] = &["step", "times", "points"];
const SOLVER_KEYS: &[&str] = &["method", "rtol", "atol", "max_steps", "h0"];
const DOSE_KEYS: &[&str] = &[
    "into",
    "amount",
    "unit",
    "time",
    "rate",
    "duration",
    "interval",
    "additional",
    "label",
];

/// The most repeats one dose record may have (`additional`): each is an event the solver stops
/// at, and a million covers daily dosing for over 2700 years.
pub const MAX_ADDITIONAL: f64 = 1e6;

/// Parses `"2 week"`, `"36 h"` or a bare number (already in `time_unit`) into `time_unit`.
pub fn parse_time(text: &str, time_unit: &Unit) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')
        })
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let value: f64 = num.trim().parse().map_err(|_| {
        format!("expected a number with a time unit such as \"2 week\", found \"{text}\"")
    })?;
    if unit.trim().is_empty() {
        return Ok(value);
    }
    let u = Unit::parse(unit.trim()).map_err(|e| e.message)?;
    let f = u
        .factor_to(time_unit)
        .ok_or_else(|| format!("\"{}\" is not a unit of time", unit.trim()))?;
    Ok(value * f)
}

struct Ctx<'s> {
    r: Reader<'s>,
    time_unit: Unit,
}

impl Ctx<'_> {
    /// A time field: a number (model time unit) or a string with a unit.
    fn time(&mut self, t: &TableView<'_, '_>, key: &str) -> Option<(f64, Range<usize>)> {
        time_field(&mut self.r, &self.time_unit, t, key)
    }
}

/// A time field of `t`: a number (in `time_unit`) or a string with a unit ("2 week"), >= 0.
fn time_field(
    r: &mut Reader<'_>,
    time_unit: &Unit,
    t: &TableView<'_, '_>,
    key: &str,
) -> Option<(f64, Range<usize>)> {
    let v = t.get(key)?;
    let parsed = match v.get_ref() {
        DeValue::String(s) => parse_time(s, time_unit),
        other => to_f64(other).ok_or_else(|| {
            "expected a number (in the model time unit) or a string such as \"2 week\"".to_string()
        }),
    };
    match parsed {
        Ok(x) if x.is_finite() && x >= 0.0 => Some((x, v.span())),
        Ok(x) => {
            r.error(
                &v.span(),
                &t.child(key),
                format!("expected a time >= 0, found {x}"),
            );
            None
        }
        Err(msg) => {
            r.error(&v.span(), &t.child(key), msg);
            None
        }
    }
}

/// Loads a scenario from a file or a built-in.
pub fn load_scenario(
    reference: ScenarioRef<'_>,
    library: &dyn Library,
) -> Result<Scenario, ModelError> {
    match reference {
        ScenarioRef::File(p) => load_scenario_file(p, library),
        ScenarioRef::Builtin(name, text) => {
            let display =
                tabula_model::library_source_name(library, &format!("scenarios/{name}.toml"));
            let mut src = SourceFile::new(display, text.to_string());
            src.builtin = Some(name.to_string());
            load_scenario_source(src, library)
        }
    }
}

/// Loads a scenario file.
pub fn load_scenario_file(path: &Path, library: &dyn Library) -> Result<Scenario, ModelError> {
    load_scenario_source(SourceFile::read(path)?, library)
}

/// Loads a scenario from text (relative model paths resolve against the current directory).
pub fn load_scenario_str(
    name: &str,
    text: &str,
    library: &dyn Library,
) -> Result<Scenario, ModelError> {
    load_scenario_source(SourceFile::new(name, text), library)
}

fn load_scenario_source(src: SourceFile, library: &dyn Library) -> Result<Scenario, ModelError> {
    let doc = parse_document(&src)?;
    let mut r = Reader::new(&src);
    let root = TableView::root(&doc);
    root.check_keys(&mut r, SCENARIO_TOP);
    let Some(sc) = root.sub(&mut r, "scenario") else {
        if root.get("scenario").is_none() {
            r.error(
                &(0..0),
                "scenario",
                "missing the `[scenario]` table (name, description, model, duration)",
            );
        }
        return r.diags.finish(()).map(|_| unreachable!());
    };
    sc.check_keys(&mut r, SCENARIO_KEYS);
    let name = match sc.str(&mut r, "name", true) {
        Some(s) if s.text.trim().is_empty() => {
            r.error(
                &s.span,
                "scenario.name",
                "the name is empty; expected a short name such as \"cd19_car_t\" (it names the output files)",
            );
            String::new()
        }
        Some(s) => s.text,
        None => String::new(),
    };
    let description = sc
        .str(&mut r, "description", true)
        .map(|s| s.text)
        .unwrap_or_default();
    let tags = sc
        .str_array(&mut r, "tags")
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.text)
        .collect();
    let Some(model_ref) = sc.str(&mut r, "model", true) else {
        return Err(ModelError::Invalid(r.diags_into_vec()));
    };

    // The model: a built-in scenario may only name built-in models.
    let model = match load_model_ref(&model_ref.text, Some(&src), library) {
        Ok(m) => Arc::new(m),
        Err(ModelError::Invalid(mut d)) => {
            // Point a missing-model error at the scenario's `model` field.
            for x in d.iter_mut().filter(|x| x.location.is_none()) {
                x.location = Some(r.loc(&model_ref.span));
                x.field = "scenario.model".into();
            }
            return Err(ModelError::Invalid(d));
        }
        Err(e) => return Err(e),
    };

    let mut cx = Ctx {
        r,
        time_unit: model.time_unit.clone(),
    };
    let end = match cx.time(&sc, "duration") {
        Some((x, _)) if x > 0.0 => x,
        Some((_, span)) => {
            cx.r.error(&span, "scenario.duration", "duration must be > 0");
            1.0
        }
        None => {
            if sc.get("duration").is_none() {
                cx.r.error(
                    &sc.span,
                    "scenario.duration",
                    "missing required field `duration` (model time unit, or e.g. \"2 year\")",
                );
            }
            1.0
        }
    };

    // Output times.
    let output_times = match sc.sub(&mut cx.r, "output") {
        None => uniform(end, 500),
        Some(o) => {
            o.check_keys(&mut cx.r, OUTPUT_KEYS);
            if let Some((times, span)) = o.num_array(&mut cx.r, "times") {
                let mut ok = !times.is_empty();
                for w in times.windows(2) {
                    ok &= w[0] <= w[1];
                }
                ok &= times.iter().all(|&t| (0.0..=end).contains(&t));
                if !ok {
                    cx.r.error(
                        &span,
                        "scenario.output.times",
                        format!("expected ascending times inside [0, {end}]"),
                    );
                }
                times
            } else if let Some((step, span)) = cx.time(&o, "step") {
                if step <= 0.0 || end / step > 1e7 {
                    cx.r.error(
                        &span,
                        "scenario.output.step",
                        format!("step must be > 0 and give at most 10^7 points over {end}"),
                    );
                    uniform(end, 500)
                } else {
                    let n = (end / step + 1e-9).floor() as usize;
                    let mut t: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
                    if end - t[n] > 1e-9 * end {
                        t.push(end);
                    }
                    t
                }
            } else if let Some((points, span)) = o.num(&mut cx.r, "points", false) {
                if !(2.0..=1e7).contains(&points) {
                    cx.r.error(
                        &span,
                        "scenario.output.points",
                        "points must be between 2 and 10^7",
                    );
                    uniform(end, 500)
                } else {
                    uniform(end, points as usize - 1)
                }
            } else {
                cx.r.error(
                    &o.span,
                    "scenario.output",
                    "expected `step`, `times` or `points`",
                );
                uniform(end, 500)
            }
        }
    };

    // Plots.
    let names_ok = |list: Option<Vec<tabula_model::doc::SpannedStr>>,
                    field: &str,
                    cx: &mut Ctx<'_>|
     -> Vec<String> {
        let mut out = Vec::new();
        for s in list.unwrap_or_default() {
            let known = model.outputs.iter().any(|o| o.name == s.text)
                || model.states.iter().any(|x| x.name == s.text);
            if known {
                out.push(s.text);
            } else {
                let cands = model
                    .outputs
                    .iter()
                    .map(|o| o.name.as_str())
                    .chain(model.states.iter().map(|x| x.name.as_str()));
                let hint = did_you_mean(&s.text, cands);
                cx.r.error(
                    &s.span,
                    field,
                    format!("`{}` is not an output or state of the model{hint}", s.text),
                );
            }
        }
        out
    };
    let plot = names_ok(sc.str_array(&mut cx.r, "plot"), "scenario.plot", &mut cx);
    let log_plot = names_ok(
        sc.str_array(&mut cx.r, "log_plot"),
        "scenario.log_plot",
        &mut cx,
    );

    // Solver.
    let mut options = SolverOptions::default();
    if let Some(s) = root.sub(&mut cx.r, "solver") {
        s.check_keys(&mut cx.r, SOLVER_KEYS);
        if let Some(m) = s.str(&mut cx.r, "method", false) {
            match m.text.parse::<Method>() {
                Ok(x) => options.method = x,
                Err(e) => cx.r.error(&m.span, "solver.method", e),
            }
        }
        if let Some((x, _)) = s.num(&mut cx.r, "rtol", false) {
            options.rtol = x;
        }
        if let Some((x, _)) = s.num(&mut cx.r, "atol", false) {
            options.atol = x;
        }
        if let Some((x, _)) = s.num(&mut cx.r, "max_steps", false) {
            options.max_steps = x.max(1.0) as usize;
        }
        if let Some((x, _)) = s.num(&mut cx.r, "h0", false) {
            options.h0 = x;
        }
        if let Err(e) = options.validate() {
            cx.r.error(&s.span, "solver", e);
        }
    }

    // Parameter overrides.
    let mut parameters: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
    let mut overrides = Vec::new();
    if let Some(p) = root.sub(&mut cx.r, "parameters") {
        for (k, kspan, v) in p.entries() {
            let field = p.child(k);
            let Some(i) = model.parameter_index(k) else {
                let hint = did_you_mean(k, model.parameters.iter().map(|x| x.name.as_str()));
                cx.r.error(
                    &kspan,
                    &field,
                    format!("the model has no parameter `{k}`{hint}"),
                );
                continue;
            };
            match to_f64(v.get_ref()) {
                Some(x) if x.is_finite() => {
                    if let Err(m) = model.parameters[i].check_value(x) {
                        cx.r.error(&v.span(), &field, m);
                    }
                    parameters[i] = x;
                    overrides.push(k.to_string());
                }
                _ => cx.r.error(
                    &v.span(),
                    &field,
                    format!(
                        "expected a finite number in {}",
                        model.parameters[i].unit_text
                    ),
                ),
            }
        }
    }

    // Doses.
    let mut regimen = Regimen::default();
    let mut doses = Vec::new();
    if let Some(v) = root.get("dose") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("dose[{i}]");
                    let Some(t) = cx.r.table(item, &path) else {
                        continue;
                    };
                    if let Some((rec, spec)) = read_dose(&mut cx.r, &cx.time_unit, &t, &model) {
                        regimen.doses.push(rec);
                        doses.push(spec);
                    }
                }
            }
            _ => cx.r.error(&v.span(), "dose", "expected [[dose]] tables"),
        }
    }

    cx.r.diags.finish(Scenario {
        name,
        description,
        model_ref: model_ref.text,
        model,
        parameters,
        overrides,
        regimen,
        doses,
        end,
        output_times,
        options,
        plot,
        log_plot,
        tags,
    })
}

fn uniform(end: f64, intervals: usize) -> Vec<f64> {
    (0..=intervals)
        .map(|i| end * i as f64 / intervals as f64)
        .collect()
}

trait IntoVec {
    fn diags_into_vec(self) -> Vec<tabula_model::Diagnostic>;
}

impl IntoVec for Reader<'_> {
    fn diags_into_vec(self) -> Vec<tabula_model::Diagnostic> {
        match self.diags.finish(()) {
            Ok(()) => Vec::new(),
            Err(e) => e.diagnostics().to_vec(),
        }
    }
}

/// Reads one dose record (`[[dose]]`, `docs/model-format.md` section 6) for `model`: target
/// route or state, amount unit (converted to the state's unit, per kg of `WT` or per m^2 of
/// `BSA` where the unit says so), bolus or infusion, repeats. Times are in `time_unit` unless
/// written with a unit. Every problem is recorded in `r`; `None` when the record is unusable.
/// Scenario files and trial arms share it, so a dose means the same everywhere.
pub fn read_dose(
    r: &mut Reader<'_>,
    time_unit: &Unit,
    t: &TableView<'_, '_>,
    model: &Model,
) -> Option<(DoseRecord, DoseSpec)> {
    t.check_keys(r, DOSE_KEYS);
    let into = t.str(r, "into", true)?;
    let (state, route) = if let Some(r) = model.routes.iter().position(|r| r.name == into.text) {
        (model.routes[r].state, Some(r))
    } else if let Some(s) = model.states.iter().position(|s| s.name == into.text) {
        (s, None)
    } else {
        let cands = model
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .chain(model.states.iter().map(|s| s.name.as_str()));
        let hint = did_you_mean(&into.text, cands);
        let routes: Vec<&str> = model.routes.iter().map(|r| r.name.as_str()).collect();
        r.error(
            &into.span,
            &t.child("into"),
            format!(
                "`{}` is neither a route nor a state of the model{hint}; routes: {}",
                into.text,
                if routes.is_empty() {
                    "(none)".to_string()
                } else {
                    routes.join(", ")
                }
            ),
        );
        return None;
    };
    // Without a unit, the amount is in the target state's own unit.
    let unit_s = t
        .str(r, "unit", false)
        .unwrap_or_else(|| tabula_model::doc::SpannedStr {
            text: model.states[state].unit_text.clone(),
            span: t.span.clone(),
        });
    let unit = match Unit::parse(&unit_s.text) {
        Ok(u) => u,
        Err(e) => {
            r.error(&unit_s.span, &t.child("unit"), e.message);
            return None;
        }
    };
    let time = time_field(r, time_unit, t, "time").map_or(0.0, |x| x.0);
    let amount = t.num(r, "amount", false).map(|x| x.0);
    let rate = t.num(r, "rate", false).map(|x| x.0);
    let duration = time_field(r, time_unit, t, "duration").map(|x| x.0);
    let interval = time_field(r, time_unit, t, "interval").map_or(0.0, |x| x.0);
    let additional = match t.num(r, "additional", false) {
        None => 0,
        Some((x, span)) => {
            if x < 0.0 || x.fract() != 0.0 || x > MAX_ADDITIONAL {
                r.error(
                    &span,
                    &t.child("additional"),
                    format!(
                        "expected a whole number of additional doses from 0 to {MAX_ADDITIONAL}, found {x}; every repeat is a dose event the solver stops at, so a longer schedule needs a longer `interval` or an infusion (`rate`, `duration`)"
                    ),
                );
                0
            } else {
                x as u32
            }
        }
    };
    if additional > 0 && interval <= 0.0 {
        r.error(
            &t.span,
            &t.child("interval"),
            format!("{additional} additional doses need an `interval` > 0"),
        );
    }

    // Conversion: amount unit -> state unit, possibly per kg (WT) or per m^2 (BSA).
    let target = &model.states[state];
    let (factor, scale_by) = match unit.factor_to(&target.unit) {
        Some(f) => (f, None),
        None => {
            let mut found = None;
            for (param, residual) in [("WT", "kg"), ("BSA", "m^2")] {
                let per = Unit::parse(residual).expect("known unit");
                if let Some(f) = unit.mul(&per).factor_to(&target.unit) {
                    match model.parameter_index(param) {
                        Some(pi) if model.parameters[pi].unit.same_dimension(&per) => {
                            // Convert the parameter's own unit (e.g. g) to the residual (kg).
                            let pf = model.parameters[pi]
                                .unit
                                .factor_to(&per)
                                .expect("same dimension");
                            found = Some((f * pf, Some(pi)));
                        }
                        _ => {
                            r.error(&unit_s.span, &t.child("unit"), format!(
                                "a dose in {} per {residual} needs a model parameter `{param}` in {residual}",
                                target.unit
                            ));
                            return None;
                        }
                    }
                }
            }
            match found {
                Some(x) => x,
                None => {
                    r.error(&unit_s.span, &t.child("unit"), format!(
                        "dose unit {unit} cannot be converted to the unit of state `{}` ({}), even per kg or per m^2",
                        target.name, target.unit
                    ));
                    return None;
                }
            }
        }
    };

    let (amount_v, delivery) = match (amount, rate, duration) {
        (Some(a), None, None) => (a, Delivery::Bolus),
        (Some(a), Some(r), None) => (a, Delivery::Rate(r * factor)),
        (Some(a), None, Some(d)) => (a, Delivery::Duration(d)),
        (None, Some(r), Some(d)) => (r * d, Delivery::Duration(d)),
        (Some(_), Some(_), Some(_)) => {
            r.error(
                &t.span,
                &t.path,
                "give two of `amount`, `rate` and `duration`, not all three",
            );
            return None;
        }
        _ => {
            r.error(&t.span, &t.path, "a dose needs `amount` (bolus), `amount` with `rate` or `duration` (infusion), or `rate` with `duration`");
            return None;
        }
    };
    if amount_v.is_nan() || amount_v < 0.0 {
        r.error(&t.span, &t.child("amount"), "the amount must be >= 0");
        return None;
    }
    if let Delivery::Rate(x) | Delivery::Duration(x) = delivery {
        if x.is_nan() || x <= 0.0 {
            r.error(&t.span, &t.path, "infusion rate and duration must be > 0");
            return None;
        }
    }
    let label = t
        .str(r, "label", false)
        .map(|s| s.text)
        .unwrap_or_else(|| format!("{} {} into {}", fmt_num(amount_v), unit_s.text, into.text));
    let rec = DoseRecord {
        time,
        state,
        route,
        amount: amount_v * factor,
        scale_by,
        delivery,
        interval,
        additional,
        label,
    };
    let spec = DoseSpec {
        into: into.text,
        amount,
        unit: unit_s.text,
        time,
        rate,
        duration,
        interval,
        additional,
    };
    Some((rec, spec))
}

fn fmt_num(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}
