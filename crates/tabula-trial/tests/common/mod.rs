//! Shared fixtures: small models, scenarios and trials written into a temporary directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tabula_output::{Column, Table};

/// A one-compartment PK/PD model: drug `A` (mg) eliminated at rate `k`, a response `R` pushed
/// down by the drug and relaxing back to 100; `q = ln(p - 0.5)` is not finite when p < 0.5.
pub const PKPD: &str = r#"
[model]
name = "toy_pkpd"
description = "Toy PK/PD for trial tests"
time_unit = "day"

[parameters]
k = { value = 0.2, unit = "1/day", description = "Elimination", status = "assumed", range = [0.01, 2] }
V = { value = 10, unit = "L", description = "Volume", status = "assumed", range = [1, 100] }
EC50 = { value = 2, unit = "mg/L", description = "Potency", status = "assumed", range = [0.1, 20] }
kout = { value = 0.3, unit = "1/day", description = "Response turnover", status = "assumed", range = [0.01, 2] }
R0 = { value = 100, unit = "AU", description = "Baseline response", status = "assumed", range = [10, 1000] }
p = { value = 2, unit = "1", description = "Knob for forced failures", status = "assumed", range = [0, 10] }
WT = { value = 70, unit = "kg", description = "Body weight", status = "assumed", range = [30, 150] }

[derived]
q = { expr = "ln(p - 0.5)", unit = "1", description = "Not finite when p < 0.5", allow_negative = true }

[states]
A = { unit = "mg", initial = 0, description = "Drug" }
R = { unit = "AU", initial = "R0", description = "Response" }

[rates]
A = "-k * A"
R = "kout * R0 - kout * R * (1 + A / V / (EC50 + A / V))"

[routes]
iv = { state = "A", description = "IV bolus" }

[outputs]
conc = { expr = "A / V", unit = "mg/L", description = "Concentration" }
response = { expr = "R", unit = "AU", description = "Response", error = { proportional = 0.05, lower = 0 } }
response_true = { expr = "R", unit = "AU", description = "Response without error" }
"#;

/// Writes `files` (name, text) into a fresh temporary directory.
pub fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).expect("write fixture");
    }
    d
}

/// A scenario for the toy model: `dose` mg at time 0 and day 14, `days` of follow-up.
pub fn scenario(dose: f64, days: f64) -> String {
    format!(
        r#"
[scenario]
name = "toy"
description = "Toy regimen"
model = "model.toml"
duration = {days}
output = {{ step = 1 }}

[[dose]]
into = "iv"
amount = {dose}
unit = "mg"
time = 0
interval = 14
additional = 1
"#
    )
}

/// A trial over the toy model with variability, two arms, endpoints of every type and bands.
pub const TRIAL: &str = r#"
[trial]
name = "toy_trial"
description = "Toy trial"
patients = 60
seed = 11
duration = 56

[[arm]]
name = "low"
scenario = "scenario.toml"
dose_scale = 0.5

[[arm]]
name = "high"
scenario = "scenario.toml"

[population.covariates]
HT = { dist = "normal", mean = 170, sd = 10, bounds = [140, 200] }

[population.parameters]
WT = { dist = "normal", mean = 70, sd = 15, bounds = [40, 130] }
k = { cv = 0.3 }
EC50 = { omega = 0.5, typical = "2 * (WT / 70)^0.5" }
kout = { omega = 0.3, bounds = [0.05, 1] }

[[population.correlation]]
parameters = ["k", "EC50"]
rho = 0.4

[[endpoint]]
name = "nadir"
kind = "nadir"
output = "response"
to = 28

[[endpoint]]
name = "resp_d28"
kind = "responder"
output = "response_true"
below = 0.8
relative = true
time = 28

[[endpoint]]
name = "time_below"
kind = "time_to"
output = "response_true"
below = 60

[[endpoint]]
name = "recovery"
kind = "recovery"
output = "response_true"
below = 70
recovered = 90

[[endpoint]]
name = "auc"
kind = "auc"
output = "conc"

[bands]
outputs = ["response", "conc"]
step = 7
max_patients = 25
"#;

/// Every cell of a table as an exact string (NaN-safe), row by row.
pub fn cells(t: &Table) -> Vec<String> {
    (0..t.len())
        .map(|r| {
            t.columns()
                .iter()
                .map(|c| match c {
                    Column::F64(v) => format!("{:016x}", v[r].to_bits()),
                    Column::U64(v) => v[r].to_string(),
                    Column::I64(v) => v[r].to_string(),
                    Column::Str(v) => v[r].clone(),
                    Column::Bool(v) => v[r].to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// The toy trial's directory: model, scenario and trial files.
pub fn toy(trial: &str) -> tempfile::TempDir {
    dir_with(&[
        ("model.toml", PKPD),
        ("scenario.toml", &scenario(20.0, 56.0)),
        ("trial.toml", trial),
    ])
}

/// Path of the trial file in a fixture directory.
pub fn trial_path(d: &Path) -> PathBuf {
    d.join("trial.toml")
}
