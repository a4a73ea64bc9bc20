//! # tabula-sbml: models and scenarios as SBML Level 3
//!
//! Writes a validated Tabula [`Model`] with one patient's parameter values and dosing
//! [`Regimen`] as an SBML Level 3 Version 1 core document that COPASI, Tellurium and
//! libRoadRunner read, and that passes libSBML's consistency checks. The mapping keeps the
//! model's semantics exactly:
//!
//! | Tabula | SBML |
//! |---|---|
//! | parameter | `parameter` (`constant="true"`) with the scenario's value and unit |
//! | derived quantity | `parameter` (`constant="true"`) with an `initialAssignment`: computed once, as in Tabula |
//! | state in an amount unit (mass, moles, cells, dimensionless) | `species` in the single compartment `patient` (size 1, dimensionless), `hasOnlySubstanceUnits="true"`, so its value is the state itself in the state's unit |
//! | state in a concentration or density unit (`mg/L`, `cells/uL`) | `parameter` (`constant="false"`): SBML accepts only amount units for species |
//! | initial value | `initialAmount`, plus an `initialAssignment` when it is an expression |
//! | rates and fluxes | one `rateRule` per state: d(state)/dt = rate + inflows - outflows + infusion input |
//! | flux, intermediate | `parameter` with an `assignmentRule` (its current value, usable in other expressions) |
//! | output | `parameter` with an `assignmentRule`, noiseless (a residual-error model is described in the notes) |
//! | bolus | `event` at the dose time: `X := X + amount` |
//! | infusion | a parameter `u_X` (the input rate of state `X`, in the rate rule) set by an `event` at every infusion start and end to the sum of the active rates |
//!
//! Each dose time gives one event (doses at the same time are merged, so no event priorities
//! are needed), triggered by `time >= t` with `initialValue="false"` (an event at `t = 0`
//! fires at the start), `persistent="true"` and no delay. Repeated doses are expanded and dose
//! amounts are numbers computed for this patient (per-kg and per-m² doses scaled by the
//! scenario's `WT` or `BSA`, bioavailability applied), exactly as the Tabula driver does.
//!
//! Expressions become MathML ([`mathml`]); units become unit definitions ([`units`]). Every
//! element keeps the Tabula name in its `name` attribute and the description, unit as written
//! and source in its notes; ids are the Tabula names except where a name would collide with an
//! SBML or MathML symbol (`time`, `pi`, ...), which get a trailing `_`.
//!
//! ```
//! let sc = tabula_scenario::builtin("reference/pk_bolus").unwrap();
//! let xml = tabula_sbml::export_scenario(&sc).unwrap();
//! assert!(xml.contains("<rateRule variable=\"A\">"));
//! assert!(xml.contains("<event id=\"dose_1\""));
//! ```

#![warn(missing_docs)]

pub mod mathml;
pub mod units;
pub mod xml;

use std::collections::HashSet;

use tabula_compile::{CompiledModel, SetupError};
use tabula_model::{Expr, Model, Sym};
use tabula_scenario::Scenario;
use tabula_solve::dosing::{breakpoints, RegimenError};
use tabula_solve::{Event, Regimen};

use crate::mathml::{attr_number, MathContext, Resolve, UsedFunctions};
use crate::units::UnitTable;
use crate::xml::XmlWriter;

/// Why a model or scenario cannot be exported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SbmlError {
    /// The parameter set is unusable (a derived quantity or initial value is not finite...).
    #[error("cannot export: {0}")]
    Setup(#[from] SetupError),
    /// The regimen cannot be expanded into events for this parameter set.
    #[error("cannot export the doses: {0}")]
    Regimen(#[from] RegimenError),
}

/// What the document says about itself: model id, name and free-text notes.
#[derive(Clone, Debug, Default)]
pub struct About {
    /// The SBML model id (made a valid identifier if it is not one).
    pub id: String,
    /// A human-readable name.
    pub name: String,
    /// Paragraphs for the model's notes.
    pub notes: Vec<String>,
}

/// Names SBML or MathML reserve, or that tools treat specially; a model symbol with one of these
/// names gets a trailing `_` in the document.
const RESERVED: &[&str] = &[
    "time",
    "pi",
    "e",
    "exponentiale",
    "avogadro",
    "true",
    "false",
    "infinity",
    "notanumber",
    "inf",
    "nan",
    "INF",
    "NaN",
    "delay",
    "rateOf",
    "tabula_min",
    "tabula_max",
    "tabula_hill",
    "patient",
];

/// SBML ids of every symbol of a model.
struct Ids {
    params: Vec<String>,
    derived: Vec<String>,
    states: Vec<String>,
    fluxes: Vec<String>,
    outputs: Vec<String>,
    routes: Vec<String>,
    taken: HashSet<String>,
}

impl Ids {
    fn new(model: &Model) -> Ids {
        let mut taken: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
        // Model names are unique among themselves; only clashes with reserved names need care.
        let mut all: Vec<&str> = Vec::new();
        all.extend(model.parameters.iter().map(|p| p.name.as_str()));
        all.extend(model.derived.iter().map(|p| p.name.as_str()));
        all.extend(model.states.iter().map(|p| p.name.as_str()));
        all.extend(model.fluxes.iter().map(|p| p.name.as_str()));
        all.extend(model.outputs.iter().map(|p| p.name.as_str()));
        all.extend(model.routes.iter().map(|p| p.name.as_str()));
        let reserved: HashSet<&str> = RESERVED.iter().copied().collect();
        for n in &all {
            if !reserved.contains(n) {
                taken.insert(n.to_string());
            }
        }
        let mut id = |name: &str| -> String {
            if !reserved.contains(name) {
                return name.to_string();
            }
            let mut s = format!("{name}_");
            while taken.contains(&s) {
                s.push('_');
            }
            taken.insert(s.clone());
            s
        };
        let params = model.parameters.iter().map(|p| id(&p.name)).collect();
        let derived = model.derived.iter().map(|p| id(&p.name)).collect();
        let states = model.states.iter().map(|p| id(&p.name)).collect();
        let fluxes = model.fluxes.iter().map(|p| id(&p.name)).collect();
        let outputs = model.outputs.iter().map(|p| id(&p.name)).collect();
        let routes = model.routes.iter().map(|p| id(&p.name)).collect();
        Ids {
            params,
            derived,
            states,
            fluxes,
            outputs,
            routes,
            taken,
        }
    }

    /// A fresh id built from `base` (which need not be a valid id yet).
    fn fresh(&mut self, base: &str) -> String {
        let mut s = sanitize_id(base);
        while self.taken.contains(&s) {
            s.push('_');
        }
        self.taken.insert(s.clone());
        s
    }
}

impl Resolve for Ids {
    fn id(&self, sym: Sym) -> &str {
        match sym {
            Sym::Param(i) => &self.params[i],
            Sym::Derived(i) => &self.derived[i],
            Sym::State(i) => &self.states[i],
            Sym::Flux(i) => &self.fluxes[i],
            Sym::Output(i) => &self.outputs[i],
            Sym::Route(i) => &self.routes[i],
        }
    }
}

/// Turns any text into a valid SBML id: letters, digits and `_`, not starting with a digit.
pub fn sanitize_id(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Exports a scenario: its model with the scenario's parameter values and doses.
pub fn export_scenario(sc: &Scenario) -> Result<String, SbmlError> {
    let m = &sc.model;
    let mut notes = vec![
        format!("Scenario {}: {}", sc.name, sc.description),
        format!("Model {}: {}", m.name, m.description),
        format!(
            "The scenario runs for {} {} with {} output times.",
            attr_number(sc.end),
            m.time_unit_text,
            sc.output_times.len()
        ),
    ];
    if !sc.overrides.is_empty() {
        notes.push(format!(
            "Parameters set by the scenario: {}.",
            sc.overrides.join(", ")
        ));
    }
    for d in &sc.doses {
        let how = match (d.rate, d.duration) {
            (Some(r), _) => format!(" infused at rate {}", attr_number(r)),
            (None, Some(t)) => format!(" infused over {} {}", attr_number(t), m.time_unit_text),
            _ => String::new(),
        };
        let repeat = if d.additional > 0 {
            format!(
                ", repeated every {} {} for {} more doses",
                attr_number(d.interval),
                m.time_unit_text,
                d.additional
            )
        } else {
            String::new()
        };
        notes.push(format!(
            "Dose: {} {} into {} at t = {}{}{}.",
            d.amount.map_or("?".into(), attr_number),
            d.unit,
            d.into,
            attr_number(d.time),
            how,
            repeat
        ));
    }
    let about = About {
        id: sc.name.clone(),
        name: sc.description.clone(),
        notes,
    };
    export_model(m, &sc.parameters, &sc.regimen, &about)
}

/// Exports a model with a parameter set (one value per model parameter, in declaration order)
/// and a regimen.
pub fn export_model(
    model: &Model,
    parameters: &[f64],
    regimen: &Regimen,
    about: &About,
) -> Result<String, SbmlError> {
    let compiled = CompiledModel::new(std::sync::Arc::new(model.clone()));
    let mut ws = compiled.workspace();
    compiled.setup(&mut ws, parameters)?;
    let mut initial = vec![0.0; model.states.len()];
    compiled.initial_state(&ws, &mut initial);
    let mut derived = vec![0.0; model.derived.len()];
    compiled.derived_values(&ws, &mut derived);
    let events = regimen.events(|p| parameters[p], |r| compiled.bioavailability(&ws, r))?;

    let mut ids = Ids::new(model);
    let compartment = "patient".to_string();
    let mut units = UnitTable::default();
    let mut used = UsedFunctions::default();

    // States that receive infusions get an input-rate parameter.
    let mut input: Vec<Option<String>> = vec![None; model.states.len()];
    for e in &events {
        if let Event::Infusion { state, .. } = *e {
            if input[state].is_none() {
                input[state] = Some(ids.fresh(&format!("u_{}", ids.states[state])));
            }
        }
    }

    // States in amount units are species; concentrations and densities (which SBML does not
    // accept as substance units) are parameters. Both carry a rate rule.
    let is_species: Vec<bool> = model
        .states
        .iter()
        .map(|s| units::is_substance(&s.unit))
        .collect();
    let any_species = is_species.iter().any(|&b| b);

    // The body of the model, written at depth 2 (<sbml><model>), assembled at the end.
    let mut species = XmlWriter::fragment(2);
    species.open("listOfSpecies", &[]);
    for (i, s) in model.states.iter().enumerate() {
        if !is_species[i] {
            continue;
        }
        let unit = units.id(&s.unit);
        species.open(
            "species",
            &[
                ("id", &ids.states[i]),
                ("name", &s.name),
                ("compartment", &compartment),
                ("initialAmount", &attr_number(initial[i])),
                ("substanceUnits", &unit),
                ("hasOnlySubstanceUnits", "true"),
                ("boundaryCondition", "false"),
                ("constant", "false"),
            ],
        );
        notes(
            &mut species,
            &[s.description.clone(), format!("Unit: {}", s.unit_text)],
        );
        species.close();
    }
    species.close();

    let mut params = XmlWriter::fragment(2);
    params.open("listOfParameters", &[]);
    for (i, s) in model.states.iter().enumerate() {
        if is_species[i] {
            continue;
        }
        let unit = units.id(&s.unit);
        params.open(
            "parameter",
            &[
                ("id", &ids.states[i]),
                ("name", &s.name),
                ("value", &attr_number(initial[i])),
                ("units", &unit),
                ("constant", "false"),
            ],
        );
        notes(
            &mut params,
            &[
                s.description.clone(),
                format!("Unit: {}", s.unit_text),
                "State (a parameter with a rate rule: SBML species cannot have this unit).".into(),
            ],
        );
        params.close();
    }
    for (i, p) in model.parameters.iter().enumerate() {
        let unit = units.id(&p.unit);
        params.open(
            "parameter",
            &[
                ("id", &ids.params[i]),
                ("name", &p.name),
                ("value", &attr_number(parameters[i])),
                ("units", &unit),
                ("constant", "true"),
            ],
        );
        let mut n = vec![
            p.description.clone(),
            format!("Unit: {}", p.unit_text),
            format!("Status: {}", p.status.as_str()),
        ];
        if let Some(s) = &p.source {
            n.push(format!("Source: {s}"));
        }
        if let Some((lo, hi)) = p.range {
            n.push(format!(
                "Plausible range: [{}, {}]",
                attr_number(lo),
                attr_number(hi)
            ));
        }
        if let Some(note) = &p.note {
            n.push(note.clone());
        }
        if (parameters[i] - p.value).abs() > 0.0 {
            n.push(format!(
                "The model's default value is {}; this document uses the scenario's.",
                attr_number(p.value)
            ));
        }
        notes(&mut params, &n);
        params.close();
    }
    for (i, d) in model.derived.iter().enumerate() {
        let unit = units.id(&d.unit);
        params.open(
            "parameter",
            &[
                ("id", &ids.derived[i]),
                ("name", &d.name),
                ("value", &attr_number(derived[i])),
                ("units", &unit),
                ("constant", "true"),
            ],
        );
        notes(
            &mut params,
            &[
                d.description.clone(),
                "Derived quantity: computed once from the parameters (initial assignment).".into(),
            ],
        );
        params.close();
    }
    let time_unit = units.id(&model.time_unit);
    for (i, s) in model.states.iter().enumerate() {
        if let Some(id) = &input[i] {
            let unit = units.id(&s.unit.div(&model.time_unit));
            params.open(
                "parameter",
                &[
                    ("id", id),
                    ("name", id),
                    ("value", "0"),
                    ("units", &unit),
                    ("constant", "false"),
                ],
            );
            notes(
                &mut params,
                &[format!(
                    "Infusion input into {} ({}/{}): set by the dose events to the sum of the active infusion rates.",
                    s.name, s.unit_text, model.time_unit_text
                )],
            );
            params.close();
        }
    }
    for (i, f) in model.fluxes.iter().enumerate() {
        let unit = units.id(&f.unit);
        params.empty(
            "parameter",
            &[
                ("id", &ids.fluxes[i]),
                ("name", &f.name),
                ("units", &unit),
                ("constant", "false"),
            ],
        );
    }
    for (i, o) in model.outputs.iter().enumerate() {
        let unit = units.id(&o.unit);
        params.open(
            "parameter",
            &[
                ("id", &ids.outputs[i]),
                ("name", &o.name),
                ("units", &unit),
                ("constant", "false"),
            ],
        );
        let mut n = vec![o.description.clone(), "Output (noiseless).".into()];
        if let Some(e) = &o.error {
            n.push(format!(
                "Residual error in Tabula trials (not applied here): additive {}, proportional {}{}{}.",
                attr_number(e.additive),
                attr_number(e.proportional),
                e.lower.map_or(String::new(), |l| format!(", lower {}", attr_number(l))),
                e.upper.map_or(String::new(), |u| format!(", upper {}", attr_number(u)))
            ));
        }
        notes(&mut params, &n);
        params.close();
    }
    params.close();

    let mut inits = XmlWriter::fragment(2);
    let initial_exprs: Vec<usize> = (0..model.states.len())
        .filter(|&i| !matches!(model.states[i].initial, Expr::Const(_)))
        .collect();
    if !model.derived.is_empty() || !initial_exprs.is_empty() {
        inits.open("listOfInitialAssignments", &[]);
        for (i, d) in model.derived.iter().enumerate() {
            inits.open("initialAssignment", &[("symbol", &ids.derived[i])]);
            let mut cx = MathContext {
                names: &ids,
                model,
                units: &mut units,
                used: &mut used,
            };
            mathml::math(&mut inits, &d.expr, Some(&d.unit), &mut cx);
            inits.close();
        }
        for &i in &initial_exprs {
            inits.open("initialAssignment", &[("symbol", &ids.states[i])]);
            let mut cx = MathContext {
                names: &ids,
                model,
                units: &mut units,
                used: &mut used,
            };
            let s = &model.states[i];
            mathml::math(&mut inits, &s.initial, Some(&s.unit), &mut cx);
            inits.close();
        }
        inits.close();
    }

    let mut rules = XmlWriter::fragment(2);
    rules.open("listOfRules", &[]);
    for (i, f) in model.fluxes.iter().enumerate() {
        rules.open("assignmentRule", &[("variable", &ids.fluxes[i])]);
        let mut cx = MathContext {
            names: &ids,
            model,
            units: &mut units,
            used: &mut used,
        };
        mathml::math(&mut rules, &f.rate, Some(&f.unit), &mut cx);
        rules.close();
    }
    for (i, o) in model.outputs.iter().enumerate() {
        rules.open("assignmentRule", &[("variable", &ids.outputs[i])]);
        let mut cx = MathContext {
            names: &ids,
            model,
            units: &mut units,
            used: &mut used,
        };
        mathml::math(&mut rules, &o.expr, Some(&o.unit), &mut cx);
        rules.close();
    }
    for (i, input) in input.iter().enumerate() {
        let mut rhs = model.derivative(i);
        let rate_unit = model.states[i].unit.div(&model.time_unit);
        if let Some(u) = input {
            // The input parameter is not a model symbol: write it as a sum by hand.
            rules.open("rateRule", &[("variable", &ids.states[i])]);
            mathml::open_math(&mut rules);
            rules.open("apply", &[]);
            rules.empty("plus", &[]);
            let mut cx = MathContext {
                names: &ids,
                model,
                units: &mut units,
                used: &mut used,
            };
            mathml::expr(&mut rules, &rhs, Some(&rate_unit), &mut cx);
            rules.text_element("ci", &[], u);
            rules.close();
            rules.close();
            rules.close();
        } else {
            if rhs.is_zero() {
                rhs = Expr::Const(0.0);
            }
            rules.open("rateRule", &[("variable", &ids.states[i])]);
            let mut cx = MathContext {
                names: &ids,
                model,
                units: &mut units,
                used: &mut used,
            };
            mathml::math(&mut rules, &rhs, Some(&rate_unit), &mut cx);
            rules.close();
        }
    }
    rules.close();

    let state_units: Vec<String> = model.states.iter().map(|s| units.id(&s.unit)).collect();
    let input_units: Vec<String> = model
        .states
        .iter()
        .zip(&input)
        .map(|(s, u)| match u {
            Some(_) => units.id(&s.unit.div(&model.time_unit)),
            None => String::new(),
        })
        .collect();
    let mut evs = XmlWriter::fragment(2);
    let ev_units = EventUnits {
        time: &time_unit,
        state: &state_units,
        input: &input_units,
    };
    write_events(&mut evs, &events, &ids, &input, &ev_units);

    // Assemble.
    let mut w = XmlWriter::new();
    w.open(
        "sbml",
        &[("xmlns", mathml::SBML_NS), ("level", "3"), ("version", "1")],
    );
    let model_id = sanitize_id(&about.id);
    w.open(
        "model",
        &[
            ("id", &model_id),
            ("name", &about.name),
            ("timeUnits", &time_unit),
        ],
    );
    let mut n = about.notes.clone();
    n.push(format!(
        "Exported by Tabula {}. Each state has a rate rule. States in amount units (mass, moles, cells, dimensionless scores) are species with hasOnlySubstanceUnits=true in the compartment `{compartment}` of size 1, so each species is the Tabula state in its own unit; states in concentration or density units are parameters, as SBML allows only amount units for species. Derived quantities are initial assignments. Doses are events at exact times; infusions set input-rate parameters u_X. Outputs are assignment rules without residual error.",
        env!("CARGO_PKG_VERSION")
    ));
    n.push("Units: cells and copies map to SBML `item`; IU, U, AU, score and events map to `dimensionless`.".into());
    for r in &model.references {
        n.push(format!("Reference: {r}"));
    }
    notes(&mut w, &n);
    if used != UsedFunctions::default() {
        w.open("listOfFunctionDefinitions", &[]);
        mathml::function_definitions(&mut w, used);
        w.close();
    }
    units.write(&mut w);
    if any_species {
        w.open("listOfCompartments", &[]);
        w.empty(
            "compartment",
            &[
                ("id", &compartment),
                ("name", "virtual patient"),
                ("size", "1"),
                ("units", "dimensionless"),
                ("constant", "true"),
            ],
        );
        w.close();
        w.append(species);
    }
    w.append(params);
    w.append(inits);
    w.append(rules);
    w.append(evs);
    Ok(w.finish())
}

/// Writes `<notes>` with one XHTML paragraph per entry (empty entries are skipped).
fn notes(w: &mut XmlWriter, paragraphs: &[String]) {
    let paragraphs: Vec<&String> = paragraphs.iter().filter(|p| !p.trim().is_empty()).collect();
    if paragraphs.is_empty() {
        return;
    }
    w.open("notes", &[]);
    w.open("body", &[("xmlns", "http://www.w3.org/1999/xhtml")]);
    for p in paragraphs {
        w.text_element("p", &[], p);
    }
    w.close();
    w.close();
}

/// Unit ids for the numbers in events.
struct EventUnits<'a> {
    time: &'a str,
    state: &'a [String],
    input: &'a [String],
}

/// Groups the events by time (the driver's same-time tolerance) and writes one SBML event per
/// time: boluses add to their states, infusion switches set the input rates.
fn write_events(
    w: &mut XmlWriter,
    events: &[Event],
    ids: &Ids,
    input: &[Option<String>],
    units: &EventUnits<'_>,
) {
    let times = breakpoints(events);
    if times.is_empty() {
        return;
    }
    let horizon = times.last().copied().unwrap_or(0.0);
    let tol = 1e-12 * horizon.abs().max(1.0);
    let mut groups: Vec<f64> = Vec::new();
    for t in times {
        if groups.last().is_none_or(|&g| t - g > tol) {
            groups.push(t);
        }
    }
    w.open("listOfEvents", &[]);
    for (k, &t) in groups.iter().enumerate() {
        // Boluses at t, summed per state in event order.
        let mut bolus: Vec<(usize, f64)> = Vec::new();
        // States whose infusion set changes at t.
        let mut switched: Vec<usize> = Vec::new();
        for e in events {
            match *e {
                Event::Bolus {
                    time,
                    state,
                    amount,
                } if (time - t).abs() <= tol => match bolus.iter_mut().find(|(s, _)| *s == state) {
                    Some((_, a)) => *a += amount,
                    None => bolus.push((state, amount)),
                },
                Event::Infusion {
                    start, end, state, ..
                } if ((start - t).abs() <= tol || (end - t).abs() <= tol)
                    && !switched.contains(&state) =>
                {
                    switched.push(state)
                }
                _ => {}
            }
        }
        let id = format!("dose_{}", k + 1);
        let name = format!("doses at t = {}", attr_number(t));
        w.open(
            "event",
            &[
                ("id", &id),
                ("name", &name),
                ("useValuesFromTriggerTime", "true"),
            ],
        );
        w.open(
            "trigger",
            &[("initialValue", "false"), ("persistent", "true")],
        );
        mathml::time_reached(w, t, units.time);
        w.close();
        w.open("listOfEventAssignments", &[]);
        for (state, amount) in bolus {
            w.open("eventAssignment", &[("variable", &ids.states[state])]);
            mathml::increment(w, &ids.states[state], amount, &units.state[state]);
            w.close();
        }
        for state in switched {
            // The rates active just after t, summed in event order as the driver does.
            let mut rate = 0.0;
            for e in events {
                if let Event::Infusion {
                    start,
                    end,
                    state: s,
                    rate: r,
                } = *e
                {
                    if s == state && start <= t + tol && end > t + tol {
                        rate += r;
                    }
                }
            }
            if let Some(u) = &input[state] {
                w.open("eventAssignment", &[("variable", u)]);
                mathml::constant(w, rate, &units.input[state]);
                w.close();
            }
        }
        w.close();
        w.close();
    }
    w.close();
}
