//! One module per subcommand.

pub mod check;
pub mod list;
pub mod simulate;

use std::path::Path;

use tabula_library::{Builtin, Kind};
use tabula_model::error::did_you_mean;
use tabula_scenario::{load_scenario, Scenario, ScenarioRef};

use crate::exit::{input, Failure};

/// Loads a scenario named on the command line: a file if it exists, else a built-in name.
pub fn resolve_scenario(name: &str) -> Result<Scenario, Failure> {
    let path = Path::new(name);
    if path.is_file() {
        return Ok(load_scenario(ScenarioRef::File(path), &Builtin)?);
    }
    if let Some(text) = tabula_library::get(Kind::Scenario, name) {
        let name = name.trim_end_matches(".toml");
        return Ok(load_scenario(ScenarioRef::Builtin(name, text), &Builtin)?);
    }
    let names: Vec<&str> = tabula_library::list(Kind::Scenario)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let hint = did_you_mean(name, names.iter().copied());
    input(format!(
        "no scenario file or built-in scenario named \"{name}\"{hint}; run `tabula scenarios` for the list"
    ))
}
