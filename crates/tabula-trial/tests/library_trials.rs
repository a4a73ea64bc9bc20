//! The built-in example trials load, and a few patients of each run in every arm.

use tabula_trial::{builtin_trial, PreparedTrial, RunOptions};

fn check(name: &str, arms: usize) {
    let mut t = builtin_trial(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(t.arms.len(), arms, "{name}");
    assert_eq!(
        t.patients, 1000,
        "{name}: the README example uses 1000 per arm"
    );
    t.patients = 3;
    let p = PreparedTrial::new(t).unwrap();
    let r = p.run_in_memory(&RunOptions::default()).unwrap();
    for s in &r.summaries {
        assert_eq!(s.ok, 3, "{name}, {}: {:?}", s.arm, s.failures);
    }
}

#[test]
fn sle_refractory_runs_in_all_eight_arms() {
    check("sle_refractory", 8);
}

#[test]
fn as_therapies_runs_in_all_six_arms() {
    check("as_therapies", 6);
}
