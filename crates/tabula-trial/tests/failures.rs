//! Failure is data: a patient whose simulation fails keeps a row with its status and reason,
//! the run goes on, and the summaries count the failures.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_output::Column;
use tabula_trial::{load_trial_file, PreparedTrial, RunOptions};

const FAILING: &str = r#"
[trial]
name = "failing"
description = "Some patients cannot be simulated"
patients = 40
seed = 5
duration = 28

[[arm]]
name = "normal"
scenario = "scenario.toml"

[[arm]]
name = "tiny budget"
scenario = "scenario.toml"
solver = { max_steps = 3 }

[population.parameters]
# ln(p - 0.5) is not finite for p < 0.5: about a quarter of the patients.
p = { typical = 0.7, omega = 0.5 }

[[endpoint]]
name = "nadir"
kind = "nadir"
output = "response_true"
"#;

fn strings(c: &Column) -> Vec<String> {
    match c {
        Column::Str(v) => v.clone(),
        _ => panic!("expected strings"),
    }
}

#[test]
fn failed_patients_become_status_rows_and_the_run_goes_on() {
    let d = toy(FAILING);
    let t = load_trial_file(&trial_path(d.path()), &Builtin).unwrap();
    let p = PreparedTrial::new(t).unwrap();
    let r = p.run_in_memory(&RunOptions::default()).unwrap();
    assert_eq!(r.patients.len(), 80, "every patient keeps a row");
    let arm = strings(r.patients.column("arm").unwrap());
    let status = strings(r.patients.column("status").unwrap());
    let reason = strings(r.patients.column("reason").unwrap());
    let Column::F64(pv) = r.patients.column("p").unwrap() else {
        panic!()
    };
    let Column::F64(nadir) = r.patients.column("nadir").unwrap() else {
        panic!()
    };
    for i in 0..80 {
        let expect_setup_failure = pv[i] < 0.5;
        if expect_setup_failure {
            assert_eq!(status[i], "invalid_parameters", "row {i}");
            assert!(
                reason[i].contains("`q`"),
                "reason names the quantity: {}",
                reason[i]
            );
        } else if arm[i] == "tiny budget" {
            assert_eq!(status[i], "too_many_steps", "row {i}");
        } else {
            assert_eq!(status[i], "ok", "row {i}: {}", reason[i]);
            assert!(nadir[i].is_finite());
            continue;
        }
        assert!(nadir[i].is_nan(), "a failed patient has no endpoint value");
    }
    let bad = pv[..40].iter().filter(|&&x| x < 0.5).count() as u64;
    assert!(bad > 2 && bad < 30, "the knob splits the population: {bad}");
    let normal = &r.summaries[0];
    assert_eq!(
        normal
            .status
            .get("invalid_parameters")
            .copied()
            .unwrap_or(0),
        bad
    );
    assert_eq!(normal.ok, 40 - bad);
    assert_eq!(normal.failed(), bad);
    assert_eq!(normal.endpoints[0].n(), 40 - bad);
    assert_eq!(normal.endpoints[0].missing(), bad);
    let tiny = &r.summaries[1];
    assert_eq!(tiny.ok, 0);
    assert_eq!(tiny.failed(), 40);
    assert_eq!(
        tiny.status.get("too_many_steps").copied().unwrap_or(0),
        40 - bad
    );
    assert!(!tiny.failures.is_empty());
    // The failures kept for the report are those with the lowest patient indices.
    assert_eq!(tiny.failures[0].patient, 0);
}
