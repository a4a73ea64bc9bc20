//! One module per subcommand.

pub mod calibrate;
pub mod check;
pub mod export;
pub mod list;
pub mod sensitivity;
pub mod simulate;
pub mod trial;
pub mod validate;

use std::path::Path;
use std::sync::OnceLock;

use tabula_library::{Catalog, Kind};
use tabula_model::error::did_you_mean;
use tabula_scenario::{load_scenario, Scenario, ScenarioRef};

use crate::exit::{input, Failure};

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// Uses `catalog` (the built-in library with a directory laid over it) for this run.
pub fn set_catalog(catalog: Catalog) {
    let _ = CATALOG.set(catalog);
}

/// The library this run resolves built-in names against (`--library` or the built-ins).
pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(Catalog::builtin)
}

/// Loads a scenario named on the command line: a file if it exists, else a built-in name.
pub fn resolve_scenario(name: &str) -> Result<Scenario, Failure> {
    let path = Path::new(name);
    if path.is_file() {
        return Ok(load_scenario(ScenarioRef::File(path), catalog())?);
    }
    if let Some(text) = catalog().get(Kind::Scenario, name) {
        let name = name.trim_end_matches(".toml");
        return Ok(load_scenario(ScenarioRef::Builtin(name, text), catalog())?);
    }
    let names: Vec<String> = catalog()
        .list(Kind::Scenario)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let hint = did_you_mean(name, names.iter().map(String::as_str));
    input(format!(
        "no scenario file or built-in scenario named \"{name}\"{hint}; run `tabula scenarios` for the list"
    ))
}
