//! Reference problems with closed-form solutions.
//!
//! Each [`ReferenceCase`] pairs a model file (the same files ship as built-in models under
//! `reference/`), a regimen and the exact solution of one output. They serve the tests (the
//! ODE path must agree with the closed form to 1e-6 relative), the benchmarks and the docs.

use std::sync::Arc;

use tabula_model::{load_model_str, EmptyLibrary, Model};

use crate::dosing::{Delivery, DoseRecord, Regimen};

/// Text of the built-in reference models.
pub mod files {
    /// One-compartment IV.
    pub const ONE_COMPARTMENT: &str =
        include_str!("../../../library/models/reference/one_compartment.toml");
    /// First-order oral absorption.
    pub const ORAL_ABSORPTION: &str =
        include_str!("../../../library/models/reference/oral_absorption.toml");
    /// Two-compartment IV.
    pub const TWO_COMPARTMENT: &str =
        include_str!("../../../library/models/reference/two_compartment.toml");
    /// Robertson's stiff kinetics.
    pub const ROBERTSON: &str = include_str!("../../../library/models/reference/robertson.toml");
}

/// A model, a regimen and the exact time course of one output.
pub struct ReferenceCase {
    /// Short name.
    pub name: &'static str,
    /// What is being checked.
    pub description: &'static str,
    /// The validated model.
    pub model: Arc<Model>,
    /// Doses.
    pub regimen: Regimen,
    /// End time.
    pub end: f64,
    /// Output times.
    pub times: Vec<f64>,
    /// The output with a closed form.
    pub output: &'static str,
    /// The closed form, at the model's default parameters.
    pub exact: Box<dyn Fn(f64) -> f64 + Send + Sync>,
}

fn model(name: &str, text: &str) -> Arc<Model> {
    Arc::new(load_model_str(name, text, &EmptyLibrary).expect("reference models are valid"))
}

fn p(m: &Model, name: &str) -> f64 {
    m.parameters[m.parameter_index(name).expect("parameter exists")].value
}

fn dose(
    m: &Model,
    into: &str,
    time: f64,
    amount: f64,
    delivery: Delivery,
    interval: f64,
    additional: u32,
) -> DoseRecord {
    let route = m
        .routes
        .iter()
        .position(|r| r.name == into)
        .expect("route exists");
    DoseRecord {
        time,
        state: m.routes[route].state,
        route: Some(route),
        amount,
        scale_by: None,
        delivery,
        interval,
        additional,
        label: format!("{amount} into {into}"),
    }
}

fn grid(end: f64, step: f64) -> Vec<f64> {
    let n = (end / step).round() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// One-compartment IV bolus of 100 mg: C = D/V exp(-k t).
pub fn one_compartment_bolus() -> ReferenceCase {
    let m = model("reference/one_compartment.toml", files::ONE_COMPARTMENT);
    let (cl, v) = (p(&m, "CL"), p(&m, "V"));
    let k = cl / v;
    let d = 100.0;
    ReferenceCase {
        name: "one_compartment_bolus",
        description: "IV bolus into one compartment: C(t) = D/V exp(-k t)",
        regimen: Regimen {
            doses: vec![dose(&m, "iv", 0.0, d, Delivery::Bolus, 0.0, 0)],
        },
        model: m,
        end: 48.0,
        times: grid(48.0, 0.5),
        output: "C",
        exact: Box::new(move |t| d / v * (-k * t).exp()),
    }
}

/// Oral dose of 200 mg with bioavailability F: the Bateman function.
pub fn oral_absorption() -> ReferenceCase {
    let m = model("reference/oral_absorption.toml", files::ORAL_ABSORPTION);
    let (cl, v, ka, f) = (p(&m, "CL"), p(&m, "V"), p(&m, "ka"), p(&m, "F"));
    let k = cl / v;
    let d = 200.0;
    ReferenceCase {
        name: "oral_absorption",
        description:
            "first-order absorption: C(t) = F D ka / (V (ka - k)) (exp(-k t) - exp(-ka t))",
        regimen: Regimen {
            doses: vec![dose(&m, "oral", 0.0, d, Delivery::Bolus, 0.0, 0)],
        },
        model: m,
        end: 48.0,
        times: grid(48.0, 0.25),
        output: "C",
        exact: Box::new(move |t| f * d * ka / (v * (ka - k)) * ((-k * t).exp() - (-ka * t).exp())),
    }
}

/// Zero-order infusion of 100 mg over 2 h starting at t = 1 h.
pub fn zero_order_infusion() -> ReferenceCase {
    let m = model("reference/one_compartment.toml", files::ONE_COMPARTMENT);
    let (cl, v) = (p(&m, "CL"), p(&m, "V"));
    let k = cl / v;
    let (d, t0, dur) = (100.0, 1.0, 2.0);
    let rate = d / dur;
    ReferenceCase {
        name: "zero_order_infusion",
        description:
            "infusion R over T: C = R/(k V) (1 - exp(-k (t - t0))) during, then exponential decay",
        regimen: Regimen {
            doses: vec![dose(&m, "iv", t0, d, Delivery::Duration(dur), 0.0, 0)],
        },
        model: m,
        end: 24.0,
        times: grid(24.0, 0.1),
        output: "C",
        exact: Box::new(move |t| {
            if t <= t0 {
                0.0
            } else if t <= t0 + dur {
                rate / (k * v) * (1.0 - (-k * (t - t0)).exp())
            } else {
                rate / (k * v) * (1.0 - (-k * dur).exp()) * (-k * (t - t0 - dur)).exp()
            }
        }),
    }
}

/// Two-compartment IV bolus: a biexponential decline.
pub fn two_compartment_bolus() -> ReferenceCase {
    let m = model("reference/two_compartment.toml", files::TWO_COMPARTMENT);
    let (cl, v1, q, v2) = (p(&m, "CL"), p(&m, "V1"), p(&m, "Q"), p(&m, "V2"));
    let (k10, k12, k21) = (cl / v1, q / v1, q / v2);
    let sum = k10 + k12 + k21;
    let disc = (sum * sum - 4.0 * k10 * k21).sqrt();
    let (alpha, beta) = ((sum + disc) / 2.0, (sum - disc) / 2.0);
    let d = 500.0;
    let a = d / v1 * (alpha - k21) / (alpha - beta);
    let b = d / v1 * (k21 - beta) / (alpha - beta);
    ReferenceCase {
        name: "two_compartment_bolus",
        description: "two-compartment bolus: C(t) = A exp(-alpha t) + B exp(-beta t)",
        regimen: Regimen {
            doses: vec![dose(&m, "iv", 0.0, d, Delivery::Bolus, 0.0, 0)],
        },
        model: m,
        end: 72.0,
        times: grid(72.0, 0.5),
        output: "C",
        exact: Box::new(move |t| a * (-alpha * t).exp() + b * (-beta * t).exp()),
    }
}

/// 100 mg every 12 h, 20 doses: accumulation to steady state by superposition.
pub fn repeated_dosing() -> ReferenceCase {
    let m = model("reference/one_compartment.toml", files::ONE_COMPARTMENT);
    let (cl, v) = (p(&m, "CL"), p(&m, "V"));
    let k = cl / v;
    let (d, tau, n) = (100.0, 12.0, 20u32);
    ReferenceCase {
        name: "repeated_dosing",
        description: "multiple boluses: C(t) = sum over past doses of D/V exp(-k (t - t_i)), reaching steady state",
        regimen: Regimen { doses: vec![dose(&m, "iv", 0.0, d, Delivery::Bolus, tau, n - 1)] },
        model: m,
        end: 300.0,
        times: grid(300.0, 0.5),
        output: "C",
        exact: Box::new(move |t| {
            // Doses given at or before t (a value at a dose time is the value after the dose).
            let given = ((t / tau).floor() as u32 + 1).min(n);
            (0..given).map(|i| d / v * (-k * (t - f64::from(i) * tau)).exp()).sum()
        }),
    }
}

/// Every closed-form case.
pub fn all() -> Vec<ReferenceCase> {
    vec![
        one_compartment_bolus(),
        oral_absorption(),
        zero_order_infusion(),
        two_compartment_bolus(),
        repeated_dosing(),
    ]
}

/// Robertson's stiff problem (no closed form): the model and the classic output times.
pub fn robertson() -> (Arc<Model>, Vec<f64>) {
    let m = model("reference/robertson.toml", files::ROBERTSON);
    (m, vec![0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 4e5])
}

/// Steady-state peak and trough of `repeated_dosing` (D/V / (1 - exp(-k tau)) and its decay).
pub fn steady_state_peak_trough() -> (f64, f64) {
    let m = model("reference/one_compartment.toml", files::ONE_COMPARTMENT);
    let k = p(&m, "CL") / p(&m, "V");
    let peak = 100.0 / p(&m, "V") / (1.0 - (-k * 12.0).exp());
    (peak, peak * (-k * 12.0).exp())
}
