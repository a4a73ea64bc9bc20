//! Shared by the end-to-end test files: the binary and a small one-compartment model.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `tabula args` in `dir`.
pub fn tabula(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tabula runs")
}

/// One-compartment IV model: `conc = A / V`, `dA/dt = -k A`, route `iv`.
pub const MODEL: &str = r#"
[model]
name = "toy_pk"
description = "One compartment"
time_unit = "day"

[parameters]
k = { value = 0.2, unit = "1/day", description = "Elimination", status = "assumed", range = [0.01, 2] }
V = { value = 10, unit = "L", description = "Volume", status = "assumed", range = [1, 100] }

[states]
A = { unit = "mg", initial = 0, description = "Drug" }

[rates]
A = "-k * A"

[routes]
iv = { state = "A", description = "IV bolus" }

[outputs]
conc = { expr = "A / V", unit = "mg/L", description = "Concentration" }
"#;
