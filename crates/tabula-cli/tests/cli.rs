//! End-to-end tests of the `tabula` binary in temporary directories: what a user sees and the
//! exit codes (0 success, 1 failed run, 2 malformed input).

use std::path::Path;
use std::process::{Command, Output};

fn tabula(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const MODEL: &str = r#"[model]
name = "decay"
description = "One-compartment elimination"
time_unit = "h"

[parameters]
CL = { value = 5, unit = "L/h", description = "Clearance", status = "assumed", range = [0.1, 50] }
V = { value = 50, unit = "L", description = "Volume", status = "assumed", range = [1, 500] }

[states]
A = { unit = "mg", initial = 0, description = "Amount" }

[rates]
A = "-CL / V * A"

[routes]
iv = { state = "A" }

[outputs]
C = { expr = "A / V", unit = "mg/L", description = "Concentration" }
"#;

const SCENARIO: &str = r#"[scenario]
name = "my_bolus"
description = "100 mg IV bolus"
model = "decay.toml"
duration = "1 day"
output = { step = 1 }

[[dose]]
into = "iv"
amount = 100
unit = "mg"
"#;

#[test]
fn simulate_a_builtin_scenario_writes_table_plot_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let o = tabula(
        &["simulate", "reference/pk_bolus", "--out", "res"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("res/pk_bolus");
    let csv = std::fs::read_to_string(out.join("timecourse.csv")).unwrap();
    assert!(
        csv.starts_with("patient,time,observable,value\n0,0.0,C,2.0\n"),
        "{}",
        &csv[..80]
    );
    assert!(std::fs::read_to_string(out.join("timecourse.svg"))
        .unwrap()
        .contains("<svg"));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["scenario"], "pk_bolus");
    assert!(run["statistics"]["steps"].as_u64().unwrap() > 0);
    // No temporary files are left behind.
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            ["timecourse.csv", "timecourse.svg", "run.json"].contains(&name.as_str()),
            "stray file {name}"
        );
    }
}

#[test]
fn simulate_a_user_file_with_parameter_override_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decay.toml"), MODEL).unwrap();
    std::fs::write(dir.path().join("bolus.toml"), SCENARIO).unwrap();
    let o = tabula(
        &[
            "simulate",
            "bolus.toml",
            "--param",
            "V=100",
            "--format",
            "parquet",
            "--plot",
            "png",
            "-q",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("out/my_bolus");
    assert!(out.join("timecourse.parquet").metadata().unwrap().len() > 0);
    let png = std::fs::read(out.join("timecourse.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let run = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(run.contains("\"V\""), "the override is recorded");
}

#[test]
fn malformed_model_gives_file_line_field_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("decay.toml"),
        MODEL.replace("\"-CL / V * A\"", "\"-CL * A\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("bolus.toml"), SCENARIO).unwrap();
    let o = tabula(&["simulate", "bolus.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("decay.toml:14:6: `rates.A`"), "{t}");
    assert!(t.contains("mg/h was expected"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn bad_inputs_exit_with_code_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decay.toml"), MODEL).unwrap();
    std::fs::write(dir.path().join("bolus.toml"), SCENARIO).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["simulate", "no_such_scenario"],
            "no scenario file or built-in scenario",
        ),
        (
            &["simulate", "reference/pk_bolsu"],
            "did you mean `reference/pk_bolus`",
        ),
        (
            &["simulate", "bolus.toml", "--param", "VV=3"],
            "unknown parameter `VV`",
        ),
        (&["simulate", "bolus.toml", "--param", "V"], "NAME=VALUE"),
        (
            &["simulate", "bolus.toml", "--param", "V=abc"],
            "not a finite number",
        ),
        (
            &["simulate", "bolus.toml", "--duration", "3 parsecs"],
            "--duration",
        ),
        (&["simulate", "bolus.toml", "--rtol", "2"], "rtol"),
        (&["check", "missing.toml"], "cannot read"),
        (&["simulate", "bolus.toml", "--method", "euler"], "euler"),
    ];
    for (args, expect) in cases {
        let o = tabula(args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains(expect),
            "{args:?}: expected {expect:?} in {}",
            text(&o)
        );
    }
}

#[test]
fn bad_scenario_fields_are_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decay.toml"), MODEL).unwrap();
    let bad = SCENARIO
        .replace("into = \"iv\"", "into = \"ivv\"")
        .replace("unit = \"mg\"", "unit = \"mg/furlong\"");
    std::fs::write(dir.path().join("bolus.toml"), bad).unwrap();
    let o = tabula(&["check", "bolus.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("bolus.toml:9:8: `dose[0].into`"), "{t}");
    assert!(t.contains("did you mean `iv`"), "{t}");
}

#[test]
fn a_failing_simulation_exits_with_code_1() {
    let dir = tempfile::tempdir().unwrap();
    // Finite-time blow-up: dA/dt = A^2.
    let model = MODEL
        .replace("\"-CL / V * A\"", "\"A * A / (1 mg * 1 h)\"")
        .replace("[rates]", "[parameters.x]\n[rates]");
    let model = model.replace("[parameters.x]\n", "");
    let model = model.replace("\"A * A / (1 mg * 1 h)\"", "\"A * A / M0 / T0\"").replace(
        "[states]",
        "M0 = { value = 1, unit = \"mg\", description = \"m\", status = \"assumed\", range = [0, 2] }\nT0 = { value = 1, unit = \"h\", description = \"t\", status = \"assumed\", range = [0, 2] }\n\n[states]",
    );
    std::fs::write(dir.path().join("decay.toml"), model).unwrap();
    std::fs::write(dir.path().join("bolus.toml"), SCENARIO).unwrap();
    let o = tabula(&["simulate", "bolus.toml"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("simulation of `my_bolus` failed"),
        "{}",
        text(&o)
    );
}

#[test]
fn listings_and_help_work() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (&["scenarios"][..], "reference/pk_bolus"),
        (&["models"][..], "reference/one_compartment"),
        (&["therapies"][..], "therapy/car_t"),
        (&["model", "reference/one_compartment"][..], "Clearance"),
        // A module that uses names of other modules is shown as a model includes it.
        (&["model", "therapy/rituximab"][..], "rtx_CL"),
        (&["--help"][..], "simulate"),
        (&["simulate", "--help"][..], "timecourse.csv"),
    ] {
        let o = tabula(args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(expect), "{args:?}: {}", text(&o));
    }
}

#[test]
fn a_library_overlay_takes_precedence_over_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib/scenarios/reference");
    std::fs::create_dir_all(&lib).unwrap();
    let s = include_str!("../../../library/scenarios/reference/pk_bolus.toml")
        .replace("amount = 100", "amount = 200");
    std::fs::write(lib.join("pk_bolus.toml"), s).unwrap();
    let o = tabula(
        &["--library", "lib", "simulate", "reference/pk_bolus", "-q"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(dir.path().join("out/pk_bolus/timecourse.csv")).unwrap();
    assert!(
        csv.contains("\n0,0.0,C,4.0\n"),
        "the overlay's 200 mg dose was used: {}",
        &csv[..80]
    );
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let d = tempfile::tempdir().unwrap();
    // `tabula model ... | head -0`: the reader is gone before the first write.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["model", "sle/cd19_car_t"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        o.status.success() || o.status.signal() == Some(13),
        "ended by SIGPIPE or successfully, not {:?}: {err}",
        o.status
    );
}
