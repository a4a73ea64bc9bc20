//! Endpoint definitions against hand-computed values on a synthetic model whose outputs are
//! known functions of time.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_output::Column;
use tabula_trial::{load_trial_file, PreparedTrial, RunOptions};

/// y(t) = (t - 10)^2 (a dip to 0 at day 10), four ASAS-like domains, no variability.
const CURVES: &str = r#"
[model]
name = "curves"
description = "Outputs that are known functions of time"
time_unit = "day"

[parameters]
c = { value = 1, unit = "1/day", description = "Unit conversion", status = "assumed", range = [1, 1] }
slope = { value = 0.5, unit = "1/day", description = "Slope of the domains", status = "assumed", range = [0, 1] }

[states]
X = { unit = "1", initial = 1, description = "A constant state" }

[rates]
X = "0"

[outputs]
y = { expr = "(t * c - 10)^2", unit = "1", description = "Dip" }
pg = { expr = "8 - slope * t", unit = "1", description = "Domain 1" }
pain = { expr = "8 - slope * t", unit = "1", description = "Domain 2" }
fun = { expr = "8 - slope * t", unit = "1", description = "Domain 3" }
infl = { expr = "8 + 0.125 * slope * t", unit = "1", description = "Domain 4" }
"#;

const SCENARIO: &str = r#"
[scenario]
name = "curves"
description = "No doses"
model = "model.toml"
duration = 40
"#;

fn trial(origin: f64) -> String {
    format!(
        r#"
[trial]
name = "curves"
description = "Endpoint definitions"
patients = 1
seed = 1
duration = 20

[[arm]]
name = "only"
scenario = "scenario.toml"
origin = {origin}

[[endpoint]]
name = "v5"
kind = "value"
output = "y"
time = 5

[[endpoint]]
name = "v5_pct"
kind = "value"
output = "y"
time = 5
change = "percent"

[[endpoint]]
name = "nadir"
kind = "nadir"
output = "y"

[[endpoint]]
name = "nadir_lod"
kind = "nadir"
output = "y"
lower_limit = 2
lower_limit_source = "test assay"

[[endpoint]]
name = "depth_lod"
kind = "nadir"
output = "y"
change = "log10_ratio"
lower_limit = 1
lower_limit_source = "test assay"

[[endpoint]]
name = "v5_lod"
kind = "value"
output = "y"
time = 5
lower_limit = 2
lower_limit_source = "test assay"

[[endpoint]]
name = "t_nadir"
kind = "time_to_nadir"
output = "y"

[[endpoint]]
name = "peak"
kind = "peak"
output = "y"
from = 1
to = 20

[[endpoint]]
name = "auc"
kind = "auc"
output = "y"
to = 20

[[endpoint]]
name = "mean"
kind = "mean"
output = "y"
from = 10
to = 20

[[endpoint]]
name = "t_below"
kind = "time_to"
output = "y"
below = 1

[[endpoint]]
name = "t_never"
kind = "time_to"
output = "y"
above = 1000

[[endpoint]]
name = "dur_below"
kind = "duration"
output = "y"
below = 4

[[endpoint]]
name = "rec"
kind = "recovery"
output = "y"
below = 0.01
relative = true
recovered = 0.25

[[endpoint]]
name = "at_rec"
kind = "at_event"
event = "rec"
output = "y"

[[endpoint]]
name = "resp_at"
kind = "responder"
output = "y"
at_most = 4
time = 12

[[endpoint]]
name = "resp_any"
kind = "responder"
output = "y"
below = 0.5
require = "any"

[[endpoint]]
name = "resp_all"
kind = "responder"
output = "y"
below = 0.5
require = "all"

[[endpoint]]
name = "relapse"
kind = "relapse"
response = {{ output = "y", below = 1 }}
relapse = {{ output = "y", at_least = 9 }}

[[endpoint]]
name = "relapse_visits"
kind = "relapse"
response = {{ output = "y", below = 1 }}
relapse = {{ output = "y", at_least = 9 }}
every = 4

[[endpoint]]
name = "asas20"
kind = "asas"
level = 20
time = 4
domains = ["pg", "pain", "fun", "infl"]

[[endpoint]]
name = "asas40"
kind = "asas"
level = 40
time = 4
domains = ["pg", "pain", "fun", "infl"]

[[endpoint]]
name = "asas40_late"
kind = "asas"
level = 40
time = 8
domains = ["pg", "pain", "fun", "infl"]
"#
    )
}

fn value(r: &tabula_trial::InMemoryResult, name: &str) -> f64 {
    match r.patients.column(name) {
        Some(Column::F64(v)) => v[0],
        _ => panic!("no column {name}"),
    }
}

fn event(r: &tabula_trial::InMemoryResult, name: &str) -> bool {
    match r.patients.column(&format!("{name}_event")) {
        Some(Column::Bool(v)) => v[0],
        _ => panic!("no event column for {name}"),
    }
}

fn run(origin: f64) -> tabula_trial::InMemoryResult {
    let d = dir_with(&[
        ("model.toml", CURVES),
        ("scenario.toml", SCENARIO),
        ("trial.toml", &trial(origin)),
    ]);
    let t = load_trial_file(&d.path().join("trial.toml"), &Builtin).unwrap();
    PreparedTrial::new(t)
        .unwrap()
        .run_in_memory(&RunOptions::default())
        .unwrap()
}

fn below_lod(r: &tabula_trial::InMemoryResult, name: &str) -> bool {
    match r.patients.column(&format!("{name}_below_lod")) {
        Some(Column::Bool(v)) => v[0],
        _ => panic!("no detection-limit column for {name}"),
    }
}

/// A level below the detection limit is reported at the limit and flagged, so a depth of
/// depletion is neither an unmeasurable number nor missing (log10 of zero).
#[test]
fn levels_below_the_detection_limit_are_reported_at_it() {
    let r = run(0.0);
    assert_eq!(value(&r, "nadir_lod"), 2.0);
    assert!(below_lod(&r, "nadir_lod"));
    assert_eq!(value(&r, "depth_lod"), -2.0); // log10(1 / y(0) = 100)
    assert!(below_lod(&r, "depth_lod"));
    assert_eq!(value(&r, "v5_lod"), 25.0);
    assert!(!below_lod(&r, "v5_lod"));
    let s = &r.summaries[0];
    // `depth_lod` is the fifth endpoint of the trial.
    match &s.endpoints[4] {
        tabula_trial::summary::Stats::Continuous {
            n,
            missing,
            at_limit,
            ..
        } => {
            assert_eq!((*n, *missing, *at_limit), (1, 0, 1));
        }
        other => panic!("not continuous: {other:?}"),
    }
}

#[test]
fn endpoints_match_hand_computed_values() {
    let r = run(0.0);
    let y = |t: f64| (t - 10.0) * (t - 10.0);
    assert_eq!(value(&r, "v5"), 25.0);
    assert_eq!(value(&r, "v5_pct"), -75.0); // baseline y(0) = 100
    assert_eq!(value(&r, "nadir"), 0.0);
    assert_eq!(value(&r, "t_nadir"), 10.0);
    assert_eq!(value(&r, "peak"), 100.0); // y(20) = 100 (first maximum in [1, 20])
                                          // Trapezoidal AUC on the daily grid over [0, 20].
    let auc: f64 = (0..20)
        .map(|k| 0.5 * (y(k as f64) + y(k as f64 + 1.0)))
        .sum();
    assert!(
        (value(&r, "auc") - auc).abs() < 1e-9,
        "{} vs {auc}",
        value(&r, "auc")
    );
    assert!((auc - 670.0).abs() < 1e-9);
    let mean: f64 = (10..20)
        .map(|k| 0.5 * (y(k as f64) + y(k as f64 + 1.0)))
        .sum::<f64>()
        / 10.0;
    assert!((value(&r, "mean") - mean).abs() < 1e-9);
    // y < 1 first at day 10 (y(9) = 1 is not < 1).
    assert_eq!(value(&r, "t_below"), 10.0);
    assert!(event(&r, "t_below"));
    // Never above 1000: censored at the end of follow-up (day 20).
    assert_eq!(value(&r, "t_never"), 20.0);
    assert!(!event(&r, "t_never"));
    // y < 4 at days 9, 10, 11: trapezoid 0.5 + 1 + 1 + 0.5.
    assert!((value(&r, "dur_below") - 3.0).abs() < 1e-12);
    // Depleted below 1% of baseline (y < 1) at day 10; recovered (y >= 25) at day 15.
    assert_eq!(value(&r, "rec"), 15.0);
    assert!(event(&r, "rec"));
    assert_eq!(value(&r, "at_rec"), 25.0);
    assert_eq!(value(&r, "resp_at"), 1.0); // y(12) = 4 <= 4
    assert_eq!(value(&r, "resp_any"), 1.0);
    assert_eq!(value(&r, "resp_all"), 0.0);
    // Response at day 10 (y < 1), relapse at day 13 (y = 9): 3 days later.
    assert_eq!(value(&r, "relapse"), 3.0);
    assert!(event(&r, "relapse"));
    // With 4-daily visits (0, 4, 8, ...): response first seen at day 12? y(12) = 4 is not < 1;
    // no visit meets the response condition, so the patient is not at risk.
    assert!(value(&r, "relapse_visits").is_nan());
    // Domains 8 -> 6, 6, 6 (25%, 2 units) and 8 -> 8.25 at day 4: ASAS20 yes, ASAS40 no.
    assert_eq!(value(&r, "asas20"), 1.0);
    assert_eq!(value(&r, "asas40"), 0.0);
    // Day 8: 8 -> 4 (50%, 4 units) in three domains, the fourth worse (8.5 > 8): ASAS40 no.
    assert_eq!(value(&r, "asas40_late"), 0.0);
}

#[test]
fn endpoint_times_count_from_the_arm_origin() {
    // With origin 3, "day 5" is simulation time 8 and event times are reported from day 3.
    let r = run(3.0);
    let y = |t: f64| (t - 10.0) * (t - 10.0);
    assert_eq!(value(&r, "v5"), y(8.0));
    assert_eq!(value(&r, "t_nadir"), 7.0);
    assert_eq!(value(&r, "t_below"), 7.0);
    assert_eq!(value(&r, "rec"), 12.0);
    // Baseline stays at simulation time 0: y(0) = 100.
    assert_eq!(value(&r, "v5_pct"), 100.0 * (y(8.0) - 100.0) / 100.0);
}
