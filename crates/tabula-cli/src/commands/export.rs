//! `tabula export`: a scenario's model in a format other tools read.

use std::path::PathBuf;

use tabula_output::write_atomic;

use crate::commands::resolve_scenario;
use crate::exit::{input, CmdResult, Failure};

/// Arguments of `tabula export`.
#[derive(clap::Args)]
pub struct Args {
    /// The format to write.
    #[command(subcommand)]
    pub format: Format,
}

/// Export formats.
#[derive(clap::Subcommand)]
pub enum Format {
    /// SBML Level 3 Version 1 (COPASI, Tellurium, libRoadRunner): states with rate rules,
    /// derived quantities as initial assignments, outputs as assignment rules, doses as events.
    #[command(after_help = "\
The document holds the scenario's parameter values (with any --param overrides) and its doses
as events at exact times; per-kg and per-m^2 amounts are computed for this patient. See
docs/model-format.md for the model language and crates/tabula-sbml for the mapping.

Examples:
  tabula export sbml sle/cd19_car_t -o cd19.xml
  tabula export sbml my_scenario.toml --param WT=55 > patient.xml")]
    Sbml(SbmlArgs),
}

/// Arguments of `tabula export sbml`.
#[derive(clap::Args)]
pub struct SbmlArgs {
    /// A scenario file, or the name of a built-in scenario (see `tabula scenarios`).
    pub scenario: String,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Override a parameter (in its declared unit); repeatable.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// Runs the command.
pub fn run(a: Args) -> CmdResult {
    match a.format {
        Format::Sbml(a) => sbml(a),
    }
}

fn sbml(a: SbmlArgs) -> CmdResult {
    let mut sc = resolve_scenario(&a.scenario)?;
    for p in &a.params {
        let Some((name, value)) = p.split_once('=') else {
            return input(format!("--param expects NAME=VALUE, found \"{p}\""));
        };
        let name = name.trim();
        let value: f64 = match value.trim().parse() {
            Ok(v) if f64::is_finite(v) => v,
            _ => {
                return input(format!(
                    "--param {name}: \"{value}\" is not a finite number"
                ))
            }
        };
        if let Err(e) = sc.set_parameter(name, value) {
            if sc.model.parameter_index(name).is_some() {
                return input(format!("--param: {e}"));
            }
            let hint = tabula_model::error::did_you_mean(
                name,
                sc.model.parameters.iter().map(|p| p.name.as_str()),
            );
            return input(format!("--param: {e}{hint}"));
        }
        sc.overrides.push(name.to_string());
    }
    // An unusable parameter set or regimen is bad input: the document cannot be written.
    let xml = tabula_sbml::export_scenario(&sc)
        .map_err(|e| Failure::Input(format!("scenario `{}`: {e}", sc.name)))?;
    match &a.out {
        Some(path) => {
            write_atomic(path, xml.as_bytes())?;
            eprintln!(
                "wrote {} (SBML Level 3 Version 1; model `{}`, {} states, {} parameters)",
                path.display(),
                sc.model.name,
                sc.model.states.len(),
                sc.model.parameters.len()
            );
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(xml.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| {
                    Failure::Run(anyhow::anyhow!("cannot write to standard output: {e}"))
                })?;
        }
    }
    Ok(())
}
