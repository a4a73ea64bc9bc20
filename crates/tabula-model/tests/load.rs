//! Loading and validating model files: good models load, bad ones fail with located messages.

use tabula_model::{load_model_str, EmptyLibrary, Library, ModelError};

const GOOD: &str = r#"
[model]
name = "two_cmt"
description = "Two-compartment IV"
time_unit = "day"

[parameters]
CL = { value = 0.257, unit = "L/day", description = "Clearance", source = "doi:10.1111/bcp.13991" }
V1 = { value = 2.98, unit = "L", description = "Central volume", source = "doi:10.1111/bcp.13991" }
V2 = { value = 2.0, unit = "L", description = "Peripheral volume", status = "assumed", range = [1, 5] }
Q = { value = 0.5, unit = "L/day", description = "Intercompartmental clearance", status = "assumed", range = [0.1, 2] }
C_ref = { value = 1, unit = "mg/L", description = "Reference concentration", status = "assumed", range = [0, 10] }

[derived]
k10 = { expr = "CL / V1", unit = "1/day", description = "Elimination" }
k12 = "Q / V1"
k21 = "Q / V2"

[states]
A1 = { unit = "mg", initial = 0, description = "Central amount" }
A2 = { unit = "mg", initial = 0, description = "Peripheral amount" }

[rates]
A1 = "-k10 * A1"

[fluxes]
distribution = { from = "A1", to = "A2", rate = "k12 * A1" }
redistribution = { from = "A2", to = "A1", rate = "k21 * A2" }

[routes]
iv = { state = "A1" }

[outputs]
C = { expr = "A1 / V1", unit = "mg/L", description = "Concentration" }
above = { expr = "C > C_ref", description = "Above the reference" }
"#;

fn errors(text: &str) -> Vec<String> {
    match load_model_str("test.toml", text, &EmptyLibrary) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

fn good_with(old: &str, new: &str) -> String {
    assert!(GOOD.contains(old), "fixture lacks {old}");
    GOOD.replace(old, new)
}

#[test]
fn a_good_model_loads() {
    let m = load_model_str("test.toml", GOOD, &EmptyLibrary).unwrap();
    assert_eq!(m.states.len(), 2);
    assert_eq!(m.derived.len(), 3);
    assert_eq!(m.fluxes.len(), 2);
    assert_eq!(m.outputs[0].unit.to_string(), "mg/L");
}

#[test]
fn syntax_errors_are_located() {
    let e = errors(&good_with("\"-k10 * A1\"", "\"-k10 * * A1\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("test.toml:24:14:"), "{}", e[0]);
    assert!(e[0].contains("rates.A1"), "{}", e[0]);
}

#[test]
fn unknown_names_get_suggestions() {
    let e = errors(&good_with("\"-k10 * A1\"", "\"-k100 * A1\""));
    assert!(
        e.iter()
            .any(|m| m.contains("unknown name `k100`") && m.contains("did you mean `k10`")),
        "{e:?}"
    );
}

#[test]
fn unit_mismatch_in_a_rate_is_reported() {
    let e = errors(&good_with("\"-k10 * A1\"", "\"-CL * A1\""));
    assert!(
        e.iter()
            .any(|m| m.contains("rates.A1") && m.contains("mg/day was expected")),
        "{e:?}"
    );
}

#[test]
fn scale_mismatch_is_not_converted_silently() {
    let e = errors(&good_with(
        "unit = \"mg/L\", description = \"Concentration\"",
        "unit = \"ng/mL\", description = \"Concentration\"",
    ));
    assert!(
        e.iter()
            .any(|m| m.contains("a conversion factor is missing")),
        "{e:?}"
    );
}

#[test]
fn duplicates_point_at_both_places() {
    let e = errors(&good_with(
        "k21 = \"Q / V2\"",
        "k21 = \"Q / V2\"\nCL = \"Q\"",
    ));
    assert!(
        e.iter()
            .any(|m| m.contains("declared twice") && m.contains("test.toml:")),
        "{e:?}"
    );
}

#[test]
fn negative_and_unsourced_parameters_are_rejected() {
    let e = errors(&good_with("value = 0.257", "value = -0.257"));
    assert!(e.iter().any(|m| m.contains("negative")), "{e:?}");
    let e = errors(&good_with(
        ", source = \"doi:10.1111/bcp.13991\" }\nV1",
        " }\nV1",
    ));
    assert!(e.iter().any(|m| m.contains("no `source`")), "{e:?}");
    let e = errors(&good_with(
        "status = \"assumed\", range = [1, 5]",
        "status = \"assumed\"",
    ));
    assert!(
        e.iter().any(|m| m.contains("needs a plausible `range")),
        "{e:?}"
    );
    let e = errors(&good_with("range = [1, 5]", "range = [3, 5]"));
    assert!(e.iter().any(|m| m.contains("outside its range")), "{e:?}");
}

#[test]
fn conditionals_are_not_allowed_in_rates() {
    let e = errors(&good_with("\"-k10 * A1\"", "\"-k10 * A1 * (t > 1)\""));
    assert!(
        e.iter().any(|m| m.contains("not allowed in rates")),
        "{e:?}"
    );
    let e = errors(&good_with("\"-k10 * A1\"", "\"if(t > 1, 0, -k10 * A1)\""));
    assert!(
        e.iter().any(|m| m.contains("not allowed in rates")),
        "{e:?}"
    );
}

#[test]
fn unknown_fields_and_wrong_types() {
    let e = errors(&good_with("value = 0.257,", "vaule = 0.257,"));
    assert!(
        e.iter()
            .any(|m| m.contains("unknown field `vaule`") && m.contains("did you mean `value`")),
        "{e:?}"
    );
    let e = errors(&good_with("value = 0.257", "value = \"fast\""));
    assert!(e.iter().any(|m| m.contains("expected a number")), "{e:?}");
    let e = errors(&good_with("value = 0.257", "value = nan"));
    assert!(e.iter().any(|m| m.contains("finite")), "{e:?}");
    let e = errors("[model\nname=1");
    assert!(e[0].contains("not valid TOML"), "{e:?}");
}

#[test]
fn state_without_dynamics_is_an_error() {
    let e = errors(&good_with("A2 = { unit = \"mg\", initial = 0, description = \"Peripheral amount\" }", "A2 = { unit = \"mg\", initial = 0, description = \"Peripheral amount\" }\nA3 = { unit = \"mg\", initial = 0, description = \"Lonely\" }"));
    assert!(e.iter().any(|m| m.contains("no rate and no flux")), "{e:?}");
}

#[test]
fn cycles_in_derived_are_reported() {
    let e = errors(&good_with(
        "k21 = \"Q / V2\"",
        "k21 = \"Q / V2 * k22 / k22\"\nk22 = \"k21\"",
    ));
    assert!(e.iter().any(|m| m.contains("cycle")), "{e:?}");
}

struct Lib;
impl Library for Lib {
    fn model(&self, name: &str) -> Option<&str> {
        match name {
            "pk/decay" => Some(
                r#"
[model]
name = "decay"
description = "A decaying drug"
[parameters]
k = { value = 0.5, unit = "1/day", description = "Rate", status = "assumed", range = [0, 1] }
[states]
D = { unit = "mg", initial = 0, description = "Drug" }
[rates]
D = "-k * D"
[routes]
dose = { state = "D" }
[outputs]
conc = { expr = "D / 2", unit = "mg", description = "Drug", defined_if = "D > 0", undefined_reason = "no drug" }
"#,
            ),
            _ => None,
        }
    }
    fn model_names(&self) -> Vec<String> {
        vec!["pk/decay".into()]
    }
}

#[test]
fn includes_with_prefixes_instantiate_modules() {
    let text = r#"
[model]
name = "two_drugs"
description = "Two instances of one module"
time_unit = "day"
include = [
  { module = "pk/decay", prefix = "a_", set = { k = 0.1 } },
  { module = "pk/decay", prefix = "b_" },
]
[outputs]
total = { expr = "a_D + b_D", unit = "mg", description = "Both" }
"#;
    let m = load_model_str("top.toml", text, &Lib).unwrap();
    let names: Vec<_> = m.states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a_D", "b_D"]);
    assert_eq!(m.parameters[m.parameter_index("a_k").unwrap()].value, 0.1);
    assert_eq!(m.parameters[m.parameter_index("b_k").unwrap()].value, 0.5);
    assert_eq!(m.routes.len(), 2);
    // Output conditions follow the prefix too.
    let o = &m.outputs[m.outputs.iter().position(|o| o.name == "b_conc").unwrap()];
    assert!(o.defined_if.is_some());
}

#[test]
fn unknown_modules_and_bad_set_keys() {
    let text = "[model]\nname='x'\ndescription='y'\ntime_unit='day'\ninclude=['pk/decai']\n";
    let e = load_model_str("top.toml", text, &Lib).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("did you mean `pk/decay`"), "{msg}");
    let text = "[model]\nname='x'\ndescription='y'\ntime_unit='day'\ninclude=[{module='pk/decay', prefix='a_', set={kk=1}}]\n";
    let msg = load_model_str("top.toml", text, &Lib)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("has no parameter `kk`"), "{msg}");
}

#[test]
fn io_errors_name_the_file() {
    let e = tabula_model::load_model_file(std::path::Path::new("no/such/file.toml"), &EmptyLibrary)
        .unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }));
    assert!(e.to_string().contains("no/such/file.toml"));
}

#[test]
fn input_files_must_be_regular_utf8_text_of_bounded_size() {
    use std::path::Path;
    use tabula_model::{read_text_file, MAX_INPUT_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let msg = |p: &Path| read_text_file(p).unwrap_err().to_string();
    // A directory and an endless device are refused without reading them.
    assert!(msg(dir.path()).contains("it is a directory"));
    #[cfg(unix)]
    assert!(msg(Path::new("/dev/zero")).contains("not a regular file"));
    // One byte over the limit.
    let big = dir.path().join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_INPUT_BYTES + 1).unwrap();
    assert!(msg(&big).contains("limited to 16 MiB"), "{}", msg(&big));
    // Bytes that are not UTF-8, with the offset of the first bad one.
    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, b"abc\xff\xfe").unwrap();
    assert!(
        msg(&bin).contains("invalid byte at offset 3"),
        "{}",
        msg(&bin)
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "x = 1\n").unwrap();
    assert_eq!(read_text_file(&good).unwrap(), "x = 1\n");
}

#[test]
fn divisions_by_zero_and_non_finite_constants_are_refused() {
    let e = errors(&good_with(
        "\"-k10 * A1\"",
        "\"-k10 * A1 * V1 / (V1 - V1)\"",
    ));
    assert!(
        e.iter().any(
            |m| m.contains("division by `V1 - V1`, which is always zero")
                && m.starts_with("test.toml:24:")
        ),
        "{e:?}"
    );
    // One problem: the state whose rate failed is not also said to have no rate.
    assert_eq!(e.len(), 1, "{e:?}");
    let e = errors(&good_with("\"-k10 * A1\"", "\"-k10 * A1 / (0 * V1)\""));
    assert!(e.iter().any(|m| m.contains("always zero")), "{e:?}");
    let e = errors(&good_with("\"-k10 * A1\"", "\"-k10 * A1 * 1e400\""));
    assert!(
        e.iter().any(|m| m.contains("`1e400` is too large")),
        "{e:?}"
    );
    let e = errors(&good_with(
        "\"-k10 * A1\"",
        "\"-k10 * A1 * (1e200 * 1e200)\"",
    ));
    assert!(e.iter().any(|m| m.contains("evaluates to inf")), "{e:?}");
    // Not zero for every value of its names: accepted.
    load_model_str(
        "test.toml",
        &good_with("\"-k10 * A1\"", "\"-k10 * A1 * V1 / (V1 - V2)\""),
        &EmptyLibrary,
    )
    .unwrap();
}

#[test]
fn deep_or_long_expressions_give_short_located_messages() {
    let deep = format!(
        "\"-k10 * {}A1{}\"",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = errors(&good_with("\"-k10 * A1\"", &deep));
    assert_eq!(e.len(), 1, "{}", e[0].len());
    assert!(e[0].len() < 1000, "{} characters", e[0].len());
    assert!(e[0].contains("characters in all)"), "{}", e[0]);
    let nested = format!("\"-k10 * A1 * {}1{}\"", "exp(".repeat(300), ")".repeat(300));
    let e = errors(&good_with("\"-k10 * A1\"", &nested));
    assert!(e[0].contains("nested deeper than 200 levels"), "{}", e[0]);
    assert!(e[0].starts_with("test.toml:24:"), "{}", e[0]);
}

#[test]
fn a_parameter_value_is_checked_the_same_way_everywhere() {
    let m = load_model_str("test.toml", GOOD, &EmptyLibrary).unwrap();
    let cl = &m.parameters[0];
    assert!(cl.check_value(0.3).is_ok());
    assert!(cl.check_value(-5.0).unwrap_err().contains("-5 is negative"));
    assert!(cl
        .check_value(f64::NAN)
        .unwrap_err()
        .contains("not a finite number"));
}
