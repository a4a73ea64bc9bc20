//! The in-memory API used by calibration and bindings.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_output::Column;
use tabula_trial::output::summary_json;
use tabula_trial::{load_trial_file, PreparedTrial, RunOptions};

fn f64s(t: &tabula_output::Table, name: &str) -> Vec<f64> {
    match t.column(name) {
        Some(Column::F64(v)) => v.clone(),
        _ => panic!("no column {name}"),
    }
}

#[test]
fn typical_values_and_variability_can_be_changed_without_recompiling() {
    let d = toy(TRIAL);
    let t = load_trial_file(&trial_path(d.path()), &Builtin).unwrap();
    let mut p = PreparedTrial::new(t).unwrap();
    let opts = RunOptions::default();
    let base = p.run_in_memory(&opts).unwrap();
    // summarize() gives the same summaries as a full in-memory run.
    let s = p.summarize(&opts).unwrap();
    assert_eq!(
        summary_json(&p.trial, &base.run, &s),
        summary_json(&p.trial, &base.run, &base.summaries)
    );
    // Doubling the typical clearance doubles every patient's clearance (same deviates).
    p.set_typical("k", 0.4).unwrap();
    let doubled = p.run_in_memory(&opts).unwrap();
    for (a, b) in f64s(&base.patients, "k")
        .iter()
        .zip(f64s(&doubled.patients, "k"))
    {
        assert!((b / a - 2.0).abs() < 1e-12, "{a} -> {b}");
    }
    // No variability: every patient has the typical value.
    p.set_variability("k", 0.0).unwrap();
    let flat = p.run_in_memory(&opts).unwrap();
    assert!(f64s(&flat.patients, "k")
        .iter()
        .all(|&x| (x - 0.4).abs() < 1e-12));
    // Unknown names are input errors.
    assert!(p.set_typical("nope", 1.0).unwrap_err().is_input());
    assert!(p.set_variability("V", 0.1).unwrap_err().is_input());
}
