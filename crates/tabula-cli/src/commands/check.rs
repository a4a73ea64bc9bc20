//! `tabula check`: validate a model or scenario file.

use std::path::PathBuf;

use tabula_model::load_model_file;
use tabula_scenario::load_scenario_file;

use crate::exit::CmdResult;

/// Arguments of `tabula check`.
#[derive(clap::Args)]
pub struct Args {
    /// A model or scenario file (.toml). Scenarios are recognised by their [scenario] table.
    pub file: PathBuf,
}

/// Runs the command.
pub fn run(a: Args) -> CmdResult {
    let text = tabula_model::read_text_file(&a.file)?;
    let is_scenario = text.lines().any(|l| l.trim() == "[scenario]");
    if is_scenario {
        let s = load_scenario_file(&a.file, crate::commands::catalog())?;
        for w in s.warnings() {
            eprintln!("warning: {w}");
        }
        println!(
            "{}: scenario `{}` is valid: model `{}` ({} states, {} parameters), {} dose record(s), {} output times up to {} {}",
            a.file.display(),
            s.name,
            s.model.name,
            s.model.states.len(),
            s.model.parameters.len(),
            s.regimen.doses.len(),
            s.output_times.len(),
            s.end,
            s.model.time_unit_text
        );
    } else {
        let m = load_model_file(&a.file, crate::commands::catalog())?;
        println!(
            "{}: model `{}` is valid: {} states, {} parameters, {} derived, {} fluxes, {} routes, {} outputs (from {} file(s))",
            a.file.display(),
            m.name,
            m.states.len(),
            m.parameters.len(),
            m.derived.len(),
            m.fluxes.len(),
            m.routes.len(),
            m.outputs.len(),
            m.files.len()
        );
    }
    Ok(())
}
