//! Virtual-population sampling: acceptance–rejection reproduces a target distribution,
//! correlations, bounds and categorical covariates behave as specified.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_output::Column;
use tabula_trial::spec::Target;
use tabula_trial::{load_trial_file, PreparedTrial, RunOptions};

/// The baseline output is the parameter itself, so its distribution is easy to check.
const MODEL: &str = r#"
[model]
name = "pop"
description = "Parameters as outputs"
time_unit = "day"

[parameters]
b = { value = 10, unit = "1", description = "Baseline marker", status = "assumed", range = [0.1, 100] }
u = { value = 1, unit = "1", description = "Correlated partner", status = "assumed", range = [0.01, 100] }
f = { value = 0.3, unit = "1", description = "A fraction", status = "assumed", range = [0, 1] }
g = { value = 5, unit = "1", description = "Set by a category", status = "assumed", range = [0, 10] }
h = { value = 10, unit = "1", description = "Truncated", status = "assumed", range = [0.1, 100] }

[states]
X = { unit = "1", initial = 1, description = "Constant" }

[rates]
X = "0"

[outputs]
marker = { expr = "b", unit = "1", description = "Baseline marker" }
"#;

const SCENARIO: &str = r#"
[scenario]
name = "pop"
description = "Nothing happens"
model = "model.toml"
duration = 2
"#;

fn column(r: &tabula_trial::InMemoryResult, name: &str) -> Vec<f64> {
    match r.patients.column(name) {
        Some(Column::F64(v)) => v.clone(),
        _ => panic!("no column {name}"),
    }
}

fn run(population: &str, patients: u64) -> (PreparedTrial, tabula_trial::InMemoryResult) {
    let trial = format!(
        r#"
[trial]
name = "pop"
description = "Population checks"
patients = {patients}
seed = 3

[[arm]]
name = "only"
scenario = "scenario.toml"

{population}
"#
    );
    let d = dir_with(&[
        ("model.toml", MODEL),
        ("scenario.toml", SCENARIO),
        ("trial.toml", &trial),
    ]);
    let t = load_trial_file(&d.path().join("trial.toml"), &Builtin).unwrap();
    let p = PreparedTrial::new(t).unwrap();
    let r = p.run_in_memory(&RunOptions::default()).unwrap();
    (p, r)
}

/// Kolmogorov–Smirnov distance between a sample and a CDF.
fn ks(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
    sample.sort_by(f64::total_cmp);
    let n = sample.len() as f64;
    sample
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn acceptance_rejection_reproduces_the_target_baseline_distribution() {
    let target = Target::Normal {
        mean: 13.0,
        sd: 2.5,
    };
    let n = 3000;
    // Plausible population: log-normal around 10 (omega 0.4), bounded to [2, 60].
    let (p, r) = run(
        r#"
[population]
pilot = 4000
[population.parameters]
b = { omega = 0.4, bounds = [2, 60] }
[population.baseline]
marker = { target = { dist = "normal", mean = 13, sd = 2.5 } }
"#,
        n,
    );
    let mut b = column(&r, "b");
    assert_eq!(b.len(), n as usize);
    let d = ks(&mut b, |x| target.cdf(x));
    // The 1% critical value of the KS statistic for n = 3000 is 1.63 / sqrt(n) = 0.030; allow a
    // little for the kernel estimate of the plausible density.
    assert!(d < 0.035, "KS distance to the target {d}");
    // Without the acceptance step the same population is far from the target.
    let (_, plain) = run(
        r#"
[population.parameters]
b = { omega = 0.4, bounds = [2, 60] }
"#,
        n,
    );
    let mut b0 = column(&plain, "b");
    let d0 = ks(&mut b0, |x| target.cdf(x));
    assert!(d0 > 0.2, "the plausible population already matches? {d0}");
    // The expected acceptance rate is reported, and patients needed several candidates.
    let a = p.population().acceptance().expect("acceptance step");
    assert!(
        a.expected_rate() > 0.05 && a.expected_rate() < 0.9,
        "{}",
        a.expected_rate()
    );
    assert!(r.summaries[0].mean_candidates > 1.2);
}

#[test]
fn correlations_bounds_logit_normal_and_categories_follow_the_specification() {
    let (_, r) = run(
        r#"
[population.covariates]
grp = { levels = ["a", "b"], probabilities = [0.3, 0.7], set = { a = { g = 1 }, b = { g = 9 } } }

[population.parameters]
b = { omega = 0.5, bounds = [8, 100], outside = "clamp" }
h = { omega = 0.5, bounds = [6, 14] }
u = { omega = 0.5 }
f = { dist = "logitnormal", sd = 1.5 }
g = { omega = 0.01 }

[[population.correlation]]
parameters = ["u", "f"]
rho = 0.6
"#,
        4000,
    );
    let b = column(&r, "b");
    let h = column(&r, "h");
    let u = column(&r, "u");
    let f = column(&r, "f");
    let g = column(&r, "g");
    assert!(
        h.iter().all(|x| (6.0..=14.0).contains(x)),
        "resampled into its bounds"
    );
    // Truncation keeps the shape inside: the share below 10 is P(6 < X < 10) / P(6 < X < 14)
    // for X log-normal(10, 0.5): (0.5 - 0.1537) / (0.7499 - 0.1537) = 0.581.
    let below = h.iter().filter(|&&x| x < 10.0).count() as f64 / h.len() as f64;
    assert!((below - 0.581).abs() < 0.03, "truncated share {below}");
    assert!(b.iter().all(|x| (8.0..=100.0).contains(x)));
    let clamped = b.iter().filter(|&&x| x == 8.0).count() as f64 / b.len() as f64;
    // P(X < 8) = Φ(ln(0.8) / 0.5) = 0.328.
    assert!(
        (clamped - 0.328).abs() < 0.03,
        "clamping puts the tail on the bound: {clamped}"
    );
    assert!(f.iter().all(|x| *x > 0.0 && *x < 1.0));
    let med_f = {
        let mut s = f.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    assert!((med_f - 0.3).abs() < 0.03, "logit-normal median {med_f}");
    // The correlation holds on the normal scale: log u against logit f.
    let pairs: Vec<(f64, f64)> = u
        .iter()
        .zip(&f)
        .map(|(&uu, &ff)| (uu.ln(), (ff / (1.0 - ff)).ln()))
        .collect();
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cov = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / n;
    let sx = (pairs.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>() / n).sqrt();
    let sy = (pairs.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>() / n).sqrt();
    let rho = cov / (sx * sy);
    assert!((rho - 0.6).abs() < 0.04, "correlation {rho}");
    assert!(
        (sx - 0.5).abs() < 0.03 && (sy - 1.5).abs() < 0.08,
        "spreads {sx} {sy}"
    );
    // Categories: 30% "a" with g near 1, 70% "b" with g near 9.
    let grp = match r.patients.column("grp") {
        Some(Column::Str(v)) => v.clone(),
        _ => panic!(),
    };
    let share_a = grp.iter().filter(|x| *x == "a").count() as f64 / grp.len() as f64;
    assert!((share_a - 0.3).abs() < 0.03, "{share_a}");
    for (lvl, gv) in grp.iter().zip(&g) {
        let expect = if lvl == "a" { 1.0 } else { 9.0 };
        assert!((gv / expect - 1.0).abs() < 0.05, "{lvl}: {gv}");
    }
}

#[test]
fn an_unreachable_baseline_criterion_leaves_patients_not_enrolled() {
    let (_, r) = run(
        r#"
[population]
max_attempts = 20
[population.parameters]
b = { omega = 0.1 }
[population.baseline]
marker = { min = 1000 }
"#,
        5,
    );
    let status = match r.patients.column("status") {
        Some(Column::Str(v)) => v.clone(),
        _ => panic!(),
    };
    assert!(status.iter().all(|s| s == "not_enrolled"));
    assert_eq!(r.summaries[0].status.get("not_enrolled"), Some(&5));
}
