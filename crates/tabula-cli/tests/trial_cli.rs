//! End-to-end `tabula trial`, `tabula trials` and `tabula trial-merge` in temporary directories.

mod common;

use common::{tabula, MODEL};

const SCENARIO: &str = r#"
[scenario]
name = "toy"
description = "100 mg IV"
model = "model.toml"
duration = 28

[[dose]]
into = "iv"
amount = 100
unit = "mg"
"#;

const TRIAL: &str = r#"
[trial]
name = "toy_trial"
description = "A tiny trial"
patients = 24
seed = 3

[[arm]]
name = "standard"
scenario = "scenario.toml"

[[arm]]
name = "half"
scenario = "scenario.toml"
dose_scale = 0.5

[population.parameters]
k = { cv = 0.4 }

[[endpoint]]
name = "cmax"
kind = "peak"
output = "conc"

[[endpoint]]
name = "below_1"
kind = "time_to"
output = "conc"
below = 1

[[endpoint]]
name = "above_5_d3"
kind = "responder"
output = "conc"
above = 5
time = 3
"#;

fn fixture(trial: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (n, t) in [
        ("model.toml", MODEL),
        ("scenario.toml", SCENARIO),
        ("trial.toml", trial),
    ] {
        std::fs::write(d.path().join(n), t).unwrap();
    }
    d
}

#[test]
fn a_trial_runs_and_writes_its_outputs() {
    let d = fixture(TRIAL);
    let o = tabula(
        d.path(),
        &[
            "trial",
            "trial.toml",
            "--format",
            "csv",
            "--quiet",
            "--threads",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.path().join("out/toy_trial");
    for f in [
        "patients.csv",
        "summary.json",
        "summary.csv",
        "summary.txt",
        "report.html",
        "run.json",
        "km_below_1.svg",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let patients = std::fs::read_to_string(out.join("patients.csv")).unwrap();
    assert_eq!(patients.lines().count(), 1 + 48);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Virtual trial: toy_trial") && report.contains("Wilson"));
    // The thread count does not change the per-patient table.
    let o = tabula(
        d.path(),
        &[
            "trial",
            "trial.toml",
            "--format",
            "csv",
            "--quiet",
            "--threads",
            "1",
            "--out",
            "one",
        ],
    );
    assert!(o.status.success());
    let one = std::fs::read_to_string(d.path().join("one/toy_trial/patients.csv")).unwrap();
    assert_eq!(one, patients);
}

#[test]
fn shards_merge_into_the_unsharded_outputs() {
    let d = fixture(TRIAL);
    let run = |args: &[&str]| {
        let o = tabula(d.path(), args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let quiet = ["--quiet", "--no-report", "--plot", "none"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["trial", "trial.toml"];
        v.extend_from_slice(&quiet);
        v.extend_from_slice(extra);
        v
    };
    run(&with(&["--shard", "0/2", "--out", "s"]));
    run(&with(&["--shard", "1/2", "--out", "s"]));
    run(&with(&["--format", "csv", "--out", "whole"]));
    let mut merge = vec![
        "trial-merge",
        "s/toy_trial/shard-0-of-2",
        "s/toy_trial/shard-1-of-2",
    ];
    merge.extend_from_slice(&["--out", "merged", "--format", "csv"]);
    merge.extend_from_slice(&quiet);
    run(&merge);
    let read = |p: &str| std::fs::read_to_string(d.path().join(p)).unwrap();
    assert_eq!(
        read("whole/toy_trial/patients.csv"),
        read("merged/toy_trial/patients.csv")
    );
    assert_eq!(
        read("whole/toy_trial/summary.csv"),
        read("merged/toy_trial/summary.csv")
    );
}

#[test]
fn malformed_trial_files_exit_with_code_2_and_a_located_message() {
    let bad = TRIAL.replace("kind = \"peak\"", "kind = \"peek\"");
    let d = fixture(&bad);
    let o = tabula(d.path(), &["trial", "trial.toml", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("trial.toml:22:8: `endpoint[0].kind`"), "{err}");
    assert!(err.contains("did you mean `peak`"), "{err}");
    let o = tabula(d.path(), &["trial", "no_such_trial", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    let d = fixture(TRIAL);
    let o = tabula(
        d.path(),
        &["trial", "trial.toml", "--shard", "2/2", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.path().join("out").exists(), "no output for bad input");
}

#[test]
fn built_in_trials_are_listed() {
    let d = tempfile::tempdir().unwrap();
    let o = tabula(d.path(), &["trials"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("sle_refractory") && s.contains("as_therapies"),
        "{s}"
    );
}

/// Hidden `.NAME.*.tmp` files below `dir`.
fn temporaries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tmp") {
                found.push(p);
            }
        }
    }
    found
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_trial_removes_the_temporary_files_and_exits_130() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let d = fixture(TRIAL);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args([
            "trial",
            "trial.toml",
            "--patients",
            "10000000",
            "--endpoints-only",
            "--quiet",
            "--threads",
            "1",
        ])
        .current_dir(d.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the per-patient table is being written.
    let started = Instant::now();
    while temporaries(d.path()).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the trial ended before it was interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(temporaries(d.path()), Vec::<std::path::PathBuf>::new());
}
