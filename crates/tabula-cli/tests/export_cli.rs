//! End-to-end `tabula export sbml` in temporary directories.

use std::process::Command;

fn tabula() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tabula"))
}

#[test]
fn exports_a_builtin_scenario_to_standard_output() {
    let out = tabula()
        .args(["export", "sbml", "reference/pk_bolus"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<sbml xmlns=\"http://www.sbml.org/sbml/level3/version1/core\""));
    assert!(xml.contains("<event id=\"dose_1\""));
}

#[test]
fn writes_a_file_with_parameter_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pk.xml");
    let out = tabula()
        .args([
            "export",
            "sbml",
            "reference/pk_repeated",
            "--param",
            "WT=80",
            "-o",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(
        xml.contains("id=\"WT\" name=\"WT\" value=\"80.0\""),
        "{xml}"
    );
    // 1.5 mg/kg x 80 kg per dose, 20 doses.
    assert_eq!(xml.matches("<event ").count(), 20);
    assert!(
        xml.contains("> 120.0 <") || xml.contains(">120.0<"),
        "{xml}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
}

#[test]
fn bad_input_exits_with_code_2() {
    let out = tabula()
        .args(["export", "sbml", "reference/pk_bolu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pk_bolus"));

    let out = tabula()
        .args(["export", "sbml", "reference/pk_bolus", "--param", "VV=3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown parameter `VV`"));

    let out = tabula()
        .args(["export", "sbml", "reference/pk_bolus", "--param", "V=0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "k = CL / V is not finite");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`k`"));
}

#[test]
fn every_example_exports() {
    let out = tabula().arg("scenarios").output().unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = listing
        .lines()
        .skip_while(|l| !l.starts_with("---"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() > 10);
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        let path = dir.path().join(format!("{}.xml", name.replace('/', "_")));
        let out = tabula()
            .args(["export", "sbml", name, "-o"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
