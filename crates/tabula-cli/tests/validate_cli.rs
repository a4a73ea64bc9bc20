//! End-to-end `tabula validate`, `tabula calibrate` and `tabula sensitivity` in temporary
//! directories.

mod common;

use common::{tabula, MODEL};

const SCENARIO: &str = r#"
[scenario]
name = "toy"
description = "100 mg IV"
model = "model.toml"
duration = 28
output = { step = 0.5 }

[[dose]]
into = "iv"
amount = 100
unit = "mg"
"#;

const TRIAL: &str = r#"
[trial]
name = "toy_trial"
description = "A tiny trial"
patients = 40
seed = 3

[[arm]]
name = "standard"
scenario = "scenario.toml"

[population.parameters]
k = { cv = 0.3 }

[[endpoint]]
name = "cmax"
kind = "peak"
output = "conc"

[[endpoint]]
name = "below_1"
kind = "time_to"
output = "conc"
below = 1
"#;

// cmax = 100 mg / 10 L = 10 mg/L for every patient; the time to fall below 1 mg/L is
// ln(10) / k = 11.5 days at the typical k.
const TARGETS: &str = r#"
[study]
name = "toy_study"
reference = "A toy study"
source = "doi:10/toy"
read = "made up for the test"

[[target]]
id = "C1"
quantity = "Peak concentration"
usable = true
trial = "trial.toml"
arm = "standard"
endpoint = "cmax"
observed = { mean = 10, unit = "mg/L" }
rule = { name = "relative_error", max = 0.05, statistic = "mean" }

[[target]]
id = "C2"
quantity = "Time below 1 mg/L"
usable = true
trial = "trial.toml"
arm = "standard"
endpoint = "below_1"
observed = { median = 30, unit = "day" }
rule = "observed_in_interval"

[[target]]
id = "C3"
quantity = "Not modelled"
usable = false
reason = "The toy model has no such output."
"#;

fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (n, t) in [
        ("model.toml", MODEL),
        ("scenario.toml", SCENARIO),
        ("trial.toml", TRIAL),
        ("targets.toml", TARGETS),
    ] {
        std::fs::write(d.path().join(n), t).unwrap();
    }
    d
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn validate_prints_rows_writes_a_report_and_ends_with_the_tally() {
    let d = fixture();
    let o = tabula(
        d.path(),
        &["validate", "--targets", "targets.toml", "-q", "--out", "v"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().last(), Some("1 passed, 1 failed"), "{out}");
    assert!(out.contains("C1") && out.contains("pass"), "{out}");
    assert!(out.contains("C2") && out.contains("FAIL"), "{out}");
    assert!(out.contains("not usable"), "{out}");
    for f in [
        "validation.md",
        "validation.html",
        "validation.csv",
        "validation.svg",
    ] {
        assert!(d.path().join("v").join(f).is_file(), "missing {f}");
    }
    let md = std::fs::read_to_string(d.path().join("v/validation.md")).unwrap();
    assert!(md.contains("1 passed, 1 failed") && md.contains("The toy model has no such output."));
    // --strict turns the failure into exit code 1.
    let o = tabula(
        d.path(),
        &[
            "validate",
            "--targets",
            "targets.toml",
            "-q",
            "--no-report",
            "--strict",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Only the passing target: --strict succeeds.
    let o = tabula(
        d.path(),
        &[
            "validate",
            "--targets",
            "targets.toml",
            "-q",
            "--no-report",
            "--strict",
            "--only",
            "C1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn validate_reports_bad_input_with_exit_code_2() {
    let d = fixture();
    std::fs::write(
        d.path().join("bad.toml"),
        TARGETS.replace("endpoint = \"cmax\"", "endpoint = \"cmaks\""),
    )
    .unwrap();
    let o = tabula(d.path(), &["validate", "--targets", "bad.toml", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.toml:") && e.contains("did you mean `cmax`"),
        "{e}"
    );
    let o = tabula(
        d.path(),
        &["validate", "--targets", "targets.toml", "--only", "C9"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no target with id `C9`"));
    let o = tabula(d.path(), &["validate", "--targets", "missing_dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn builtin_targets_list_and_a_deterministic_pair_pass() {
    let d = tempfile::tempdir().unwrap();
    let o = tabula(d.path(), &["validate", "--list"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("T50a") && stdout(&o).contains("mackensen_2022"));
    let o = tabula(
        d.path(),
        &[
            "validate",
            "--only",
            "T50a",
            "--only",
            "T50b",
            "--patients",
            "1",
            "-q",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("2 passed, 0 failed"));
}

fn csv_column(text: &str, name: &str) -> Vec<f64> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let j = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(j).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn sobol_indices_of_the_ishigami_function_match_the_closed_form() {
    let d = tempfile::tempdir().unwrap();
    let o = tabula(
        d.path(),
        &[
            "sensitivity",
            "--function",
            "ishigami",
            "--samples",
            "8192",
            "--bootstrap",
            "20",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.path().join("out/sensitivity/sensitivity.csv")).unwrap();
    // Ishigami and Homma (1990), a = 7, b = 0.1: closed-form indices.
    let s1 = csv_column(&csv, "S1");
    let st = csv_column(&csv, "ST");
    let s1_exact = [0.3139, 0.4424, 0.0];
    let st_exact = [0.5576, 0.4424, 0.2437];
    for i in 0..3 {
        assert!((s1[i] - s1_exact[i]).abs() < 0.01, "S1[{i}] = {}", s1[i]);
        assert!((st[i] - st_exact[i]).abs() < 0.01, "ST[{i}] = {}", st[i]);
    }
    // The exact values come from the library, not from this test.
    assert_eq!(csv_column(&csv, "S1_exact").len(), 3);
    assert!(d.path().join("out/sensitivity/sobol.svg").is_file());
    assert!(d.path().join("out/sensitivity/morris.svg").is_file());
}

#[test]
fn sensitivity_of_a_scenario_endpoint() {
    let d = fixture();
    // conc at day 10 = 100 / V exp(-10 k): both matter; with k's range wide, k dominates.
    let o = tabula(
        d.path(),
        &[
            "sensitivity",
            "scenario.toml",
            "--endpoint",
            "conc@10",
            "--param",
            "k=0.05:0.5",
            "--param",
            "V=9:11",
            "--samples",
            "256",
            "--bootstrap",
            "20",
            "-q",
            "--threads",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.path().join("out/sensitivity/sensitivity.csv")).unwrap();
    let st = csv_column(&csv, "ST");
    assert!(st[0] > 0.8 && st[1] < 0.1, "{st:?}");
    let o = tabula(
        d.path(),
        &[
            "sensitivity",
            "scenario.toml",
            "--endpoint",
            "conk@10",
            "--param",
            "k",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `conc`"), "{}", stderr(&o));
}

#[test]
fn calibrate_fits_a_time_course_and_writes_provenance() {
    let d = fixture();
    // Data from the closed form 100 / 10 exp(-0.35 t): the fit must move k from 0.2 to 0.35.
    let times = [1.0f64, 2.0, 4.0, 7.0, 10.0];
    let values: Vec<String> = times
        .iter()
        .map(|t| format!("{}", 10.0 * (-0.35 * t).exp()))
        .collect();
    let problem = format!(
        r#"
[problem]
name = "toy_fit"
description = "k from a time course"

[[parameter]]
name = "k"
lower = 0.05
upper = 1
scale = "log"

[[timecourse]]
scenario = "scenario.toml"
output = "conc"
times = [1, 2, 4, 7, 10]
values = [{}]
sd = 0.01
source = "closed form"

[optimizer]
max_evaluations = 150
refine_evaluations = 60
"#,
        values.join(", ")
    );
    std::fs::write(d.path().join("problem.toml"), problem).unwrap();
    let o = tabula(d.path(), &["calibrate", "problem.toml", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = d.path().join("out/calibration/toy_fit");
    let fitted: toml::Table = std::fs::read_to_string(dir.join("fitted.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let k = fitted["parameter"][0]["value"].as_float().unwrap();
    assert!((k - 0.35).abs() < 0.005, "fitted k = {k}");
    assert_eq!(fitted["parameter"][0]["before"].as_float(), Some(0.2));
    let prov = &fitted["provenance"];
    assert!(
        prov["objective_after"].as_float().unwrap() < prov["objective_before"].as_float().unwrap()
    );
    assert!(prov["date"].as_str().is_some() && prov["tabula_version"].as_str().is_some());
    for f in ["calibration.md", "calibration.html", "before_after.csv"] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    // Bad input: a parameter no model has.
    let bad = std::fs::read_to_string(d.path().join("problem.toml"))
        .unwrap()
        .replace("name = \"k\"", "name = \"kk\"");
    std::fs::write(d.path().join("bad.toml"), bad).unwrap();
    let o = tabula(d.path(), &["calibrate", "bad.toml", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("kk"));
}

#[test]
fn calibrate_lists_the_builtin_problems() {
    let d = tempfile::tempdir().unwrap();
    let o = tabula(d.path(), &["calibrate", "--list"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("crs_thresholds"), "{}", stdout(&o));
    let o = tabula(d.path(), &["calibrate", "crs_treshold"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `crs_thresholds`"));
}

#[test]
fn a_target_in_weeks_is_compared_in_the_trial_time_unit() {
    let d = fixture();
    // ln(10) / k = 11.5 days = 1.64 weeks: in the simulated interval once converted, far below
    // it if 1.64 were read as days.
    let weeks = TARGETS.replace(
        "observed = { median = 30, unit = \"day\" }",
        "observed = { median = 1.64, unit = \"week\" }",
    );
    std::fs::write(d.path().join("weeks.toml"), weeks).unwrap();
    let o = tabula(
        d.path(),
        &["validate", "--targets", "weeks.toml", "-q", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().last(), Some("2 passed, 0 failed"), "{out}");
    assert!(
        out.contains("11.48 (median) day"),
        "observed shown in days: {out}"
    );
}

/// `--knockout-file` runs each knock-out against the same targets: a knock-out that breaks
/// what it names passes, one that misses exits with code 1 and says which.
#[test]
fn knockouts_report_what_they_break_and_fail_when_they_miss() {
    let d = fixture();
    let file = |change: &str| {
        format!(
            "[[knockout]]\nname = \"big_volume\"\ntitle = \"Volume x 10\"\nmechanism = \"a ten times larger volume\"\nchanges = [{{ {change} }}]\nexpect_break = [\"C1\"]\nwhy = \"the peak concentration is dose / volume\"\n"
        )
    };
    // Writes the knock-out with `change` and validates the toy targets against it.
    let run = |change: &str| {
        std::fs::write(d.path().join("ko.toml"), file(change)).unwrap();
        tabula(
            d.path(),
            &[
                "validate",
                "--targets",
                "targets.toml",
                "-q",
                "--out",
                "v",
                "--knockout-file",
                "ko.toml",
            ],
        )
    };
    let o = run("parameter = \"V\", scale = 10");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Volume x 10: broke 1 of 1 expected"), "{out}");
    assert!(d.path().join("v/knockouts.md").is_file());
    assert!(d.path().join("v/knockouts.csv").is_file());
    // The elimination rate does not change the peak: the expected break is missed.
    let o = run("parameter = \"k\", scale = 2");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("MISSED: C1"), "{}", stdout(&o));
    assert!(stderr(&o).contains("big_volume"), "{}", stderr(&o));
}
