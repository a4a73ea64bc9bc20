//! Every built-in model loads and validates, every built-in scenario loads and runs.
//!
//! A module written only to be included (it uses names another module declares) cannot
//! validate on its own; it is checked through every model that includes it.

use tabula_library::{list, Builtin, Kind};
use tabula_model::load_model_ref;

fn included_by_another(name: &str) -> bool {
    let quoted = [format!("\"{name}\""), format!("'{name}'")];
    list(Kind::Model).into_iter().any(|(other, text)| {
        other != name
            && text
                .lines()
                .any(|l| quoted.iter().any(|q| l.contains(q.as_str())))
    })
}

#[test]
fn every_builtin_model_validates() {
    let mut failures = Vec::new();
    for (name, _) in list(Kind::Model) {
        if let Err(e) = load_model_ref(name, None, &Builtin) {
            if !included_by_another(name) {
                failures.push(format!("{name}:\n{e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_builtin_scenario_runs() {
    let mut failures = Vec::new();
    for (name, _) in list(Kind::Scenario) {
        match tabula_scenario::builtin(name) {
            Err(e) => failures.push(format!("{name}: does not load:\n{e}")),
            Ok(sc) => match sc.run() {
                Err(e) => failures.push(format!("{name}: does not run: {e}")),
                Ok(traj) => {
                    // An output may be missing (NaN) only where its `defined_if` fails.
                    let outputs = &sc.model.outputs;
                    let no = outputs.len().max(1);
                    let allowed =
                        |i: usize, v: f64| v.is_nan() && outputs[i % no].defined_if.is_some();
                    let bad_output = traj
                        .outputs
                        .iter()
                        .enumerate()
                        .any(|(i, v)| !v.is_finite() && !allowed(i, *v));
                    if bad_output || traj.states.iter().any(|v| !v.is_finite()) {
                        failures.push(format!("{name}: non-finite values"));
                    }
                }
            },
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
