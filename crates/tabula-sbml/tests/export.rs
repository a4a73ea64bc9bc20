//! Structure of exported SBML documents. The numerical cross-check against libRoadRunner lives
//! in `tests/sbml/` (it needs Python); these tests need nothing but Rust.

use std::collections::HashSet;

use roxmltree::{Document, Node};
use tabula_library::{Builtin, Kind};
use tabula_scenario::{builtin, load_scenario_str};

fn children<'a>(n: Node<'a, 'a>, name: &str) -> Vec<Node<'a, 'a>> {
    n.descendants()
        .filter(|c| c.is_element() && c.tag_name().name() == name)
        .collect()
}

/// Every `<ci>` in the model's math names a declared id, a function or a lambda variable.
fn check_references(doc: &Document) {
    let mut declared: HashSet<&str> = HashSet::new();
    for tag in ["species", "parameter", "compartment", "functionDefinition"] {
        for n in children(doc.root_element(), tag) {
            assert!(declared.insert(n.attribute("id").unwrap()), "duplicate id");
        }
    }
    let bvars: HashSet<&str> = children(doc.root_element(), "bvar")
        .iter()
        .flat_map(|b| b.children().filter(|c| c.is_element()))
        .filter_map(|c| c.text())
        .map(str::trim)
        .collect();
    for ci in children(doc.root_element(), "ci") {
        let id = ci.text().unwrap().trim();
        assert!(
            declared.contains(id) || bvars.contains(id),
            "undeclared <ci>{id}</ci>"
        );
    }
}

#[test]
fn every_builtin_scenario_exports_a_well_formed_document() {
    for (name, _) in tabula_library::list(Kind::Scenario) {
        let sc = builtin(name).unwrap();
        let xml = tabula_sbml::export_scenario(&sc).unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.attribute("level"), Some("3"));
        let m = &sc.model;
        // Amount states are species, concentration states parameters; each has a rate rule.
        let species = children(root, "species").len();
        let amounts = m
            .states
            .iter()
            .filter(|s| tabula_sbml::units::is_substance(&s.unit))
            .count();
        assert_eq!(species, amounts, "{name}");
        assert_eq!(children(root, "rateRule").len(), m.states.len(), "{name}");
        assert_eq!(
            children(root, "assignmentRule").len(),
            m.fluxes.len() + m.outputs.len(),
            "{name}"
        );
        // One event per distinct dose, infusion-start or infusion-end time.
        let events = sc.regimen.events(|p| sc.parameters[p], |_| 1.0).unwrap();
        let times = tabula_solve::dosing::breakpoints(&events);
        assert_eq!(children(root, "event").len(), times.len(), "{name}");
        for t in children(root, "trigger") {
            assert_eq!(t.attribute("initialValue"), Some("false"));
            assert_eq!(t.attribute("persistent"), Some("true"));
        }
        check_references(&doc);
        // The Tabula name is kept for every element that carries one.
        for s in &m.states {
            let holder = children(root, "species")
                .into_iter()
                .chain(children(root, "parameter"))
                .find(|n| n.attribute("name") == Some(s.name.as_str()))
                .unwrap_or_else(|| panic!("{name}: state {}", s.name));
            assert!(children(root, "rateRule")
                .iter()
                .any(|r| r.attribute("variable") == holder.attribute("id")));
        }
    }
}

const MODEL: &str = r#"
[model]
name = "logic"
description = "Exercises every function and the reserved-name renaming"
time_unit = "h"

[parameters]
time = { value = 2, unit = "1/h", description = "A rate named like SBML's time symbol", status = "assumed", range = [0, 10] }
K = { value = 5, unit = "mg", description = "Half-saturation", status = "assumed", range = [1, 10] }
n = { value = 2, unit = "1", description = "Hill exponent", status = "assumed", range = [1, 4] }

[derived]
big = { expr = "if(n > 1.5 and not(n == 1), 1, 0)", description = "A condition" }

[states]
A = { unit = "mg", initial = "K * 2", description = "Amount" }

[rates]
A = "-time * A * hill(A, K, n) + min(A, K, 2 * K) * time - max(A, K) * time * 0.1 + clamp(A, K, 2 * K) * time * 0"

[routes]
iv = { state = "A", description = "IV" }

[outputs]
flag = { expr = "(A > K) + big", description = "Above K" }
lg = { expr = "log10(A / K) + ln(A / K) + sqrt(abs(A / K)) + exp(-A / K) + pow(A / K, 2)", description = "Functions" }
"#;

const SCENARIO: &str = r#"
[scenario]
name = "logic run"
description = "Bolus and two overlapping infusions"
model = "logic.toml"
duration = 24
output = { step = 1 }

[[dose]]
into = "iv"
amount = 10
time = 0

[[dose]]
into = "A"
amount = 6
duration = 3
time = 2

[[dose]]
into = "A"
amount = 4
duration = 2
time = 4
"#;

#[test]
fn functions_logic_and_infusions_are_mapped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logic.toml"), MODEL).unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    let sc = tabula_scenario::load_scenario_file(&path, &Builtin).unwrap();
    let xml = tabula_sbml::export_scenario(&sc).unwrap();
    let doc = Document::parse(&xml).unwrap();
    check_references(&doc);
    let root = doc.root_element();
    // `time` is renamed; its name is kept.
    let p = children(root, "parameter")
        .into_iter()
        .find(|n| n.attribute("name") == Some("time"))
        .unwrap();
    assert_eq!(p.attribute("id"), Some("time_"));
    // Helper functions are defined once each.
    let fns: Vec<&str> = children(root, "functionDefinition")
        .iter()
        .map(|n| n.attribute("id").unwrap())
        .collect();
    assert_eq!(fns, ["tabula_min", "tabula_max", "tabula_hill"]);
    // A 3-argument min folds into two calls.
    assert!(xml.matches("<ci>tabula_min</ci>").count() >= 3);
    // Comparisons used as numbers become indicator piecewise expressions.
    assert!(xml.contains("<piecewise>"));
    assert!(xml.contains("<and/>") && xml.contains("<not/>") && xml.contains("<eq/>"));
    // Events at 0 (bolus), 2 (start), 4 (second start), 5 (first end), 6 (second end).
    let events = children(root, "event");
    assert_eq!(events.len(), 5);
    let assignments: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let a = children(*e, "eventAssignment")[0];
            let v = children(a, "cn")
                .last()
                .map(|c| c.text().unwrap().trim().to_string())
                .unwrap_or_default();
            (a.attribute("variable").unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(assignments[0], ("A".to_string(), "10.0".to_string()));
    assert_eq!(assignments[1], ("u_A".to_string(), "2.0".to_string()));
    assert_eq!(assignments[2], ("u_A".to_string(), "4.0".to_string()));
    assert_eq!(assignments[3], ("u_A".to_string(), "2.0".to_string()));
    assert_eq!(assignments[4], ("u_A".to_string(), "0.0".to_string()));
    // The state's rate rule includes the input.
    let rr = children(root, "rateRule")[0];
    assert!(children(rr, "ci").iter().any(|c| c.text() == Some("u_A")));
    // Initial value as an expression gets an initial assignment; the value is also given.
    let a = children(root, "species")[0];
    assert_eq!(a.attribute("initialAmount"), Some("10.0"));
    assert!(children(root, "initialAssignment")
        .iter()
        .any(|n| n.attribute("symbol") == Some("A")));
}

#[test]
fn unit_definitions_follow_the_model_units() {
    let sc = builtin("reference/pk_bolus").unwrap();
    let xml = tabula_sbml::export_scenario(&sc).unwrap();
    let doc = Document::parse(&xml).unwrap();
    let root = doc.root_element();
    let model = children(root, "model")[0];
    let tu = model.attribute("timeUnits").unwrap();
    let def = children(root, "unitDefinition")
        .into_iter()
        .find(|d| d.attribute("id") == Some(tu))
        .unwrap();
    let units = children(def, "unit");
    assert!(units
        .iter()
        .any(|u| u.attribute("kind") == Some("second") && u.attribute("exponent") == Some("1")));
    assert!(units
        .iter()
        .any(|u| u.attribute("kind") == Some("dimensionless")
            && u.attribute("multiplier") == Some("3600.0")));
}

#[test]
fn inline_scenario_on_a_builtin_model() {
    let text = r#"
[scenario]
name = "pk"
description = "Two boluses at the same time are one event"
model = "reference/one_compartment"
duration = 10
output = { step = 1 }

[[dose]]
into = "iv"
amount = 100
time = 1

[[dose]]
into = "iv"
amount = 50
time = 1
"#;
    let sc = load_scenario_str("pk.toml", text, &Builtin).unwrap();
    let xml = tabula_sbml::export_scenario(&sc).unwrap();
    let doc = Document::parse(&xml).unwrap();
    let events = children(doc.root_element(), "event");
    assert_eq!(events.len(), 1);
    assert!(xml.contains("150.0"), "{xml}");
}
