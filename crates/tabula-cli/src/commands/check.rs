//! `tabula check`: validate any Tabula input file without running it.

use std::path::PathBuf;

use tabula_model::load_model_file;
use tabula_scenario::load_scenario_file;

use crate::exit::{input, CmdResult};

/// Arguments of `tabula check`.
#[derive(clap::Args)]
#[command(after_help = "\
The kind of file is recognised by its top-level tables: [model] (a model or module), [scenario],
[trial], [study] with [[target]] (validation targets), [problem] (a calibration problem),
[[knockout]] (mechanism knock-outs) or [[modality]] (therapy modalities). Every problem is
reported with file, line and field; exit code 2 when there is one.

Examples:
  tabula check my_model.toml
  tabula check my_trial.toml")]
pub struct Args {
    /// A model, scenario, trial, target, calibration-problem, knock-out or modality file.
    pub file: PathBuf,
}

/// What kind of input a file is, from its top-level keys.
#[derive(Debug, PartialEq)]
enum FileKind {
    Model,
    Scenario,
    Trial,
    Targets,
    Problem,
    Knockouts,
    Modalities,
}

fn kind_of(text: &str) -> Option<FileKind> {
    let table: toml::Table = text.parse().ok()?;
    let has = |k: &str| table.contains_key(k);
    Some(if has("scenario") {
        FileKind::Scenario
    } else if has("trial") {
        FileKind::Trial
    } else if has("study") || has("target") {
        FileKind::Targets
    } else if has("problem") {
        FileKind::Problem
    } else if has("knockout") {
        FileKind::Knockouts
    } else if has("modality") {
        FileKind::Modalities
    } else {
        FileKind::Model
    })
}

/// Runs the command.
pub fn run(a: Args) -> CmdResult {
    let text = tabula_model::read_text_file(&a.file)?;
    let catalog = crate::commands::catalog();
    let name = a.file.display();
    // A file that is not valid TOML goes to the model reader, which locates the syntax error.
    match kind_of(&text).unwrap_or(FileKind::Model) {
        FileKind::Scenario => {
            let s = load_scenario_file(&a.file, catalog)?;
            for w in s.warnings() {
                eprintln!("warning: {w}");
            }
            println!(
                "{name}: scenario `{}` is valid: model `{}` ({} states, {} parameters), {} dose record(s), {} output times up to {} {}",
                s.name,
                s.model.name,
                s.model.states.len(),
                s.model.parameters.len(),
                s.regimen.doses.len(),
                s.output_times.len(),
                s.end,
                s.model.time_unit_text
            );
        }
        FileKind::Trial => {
            let t = tabula_trial::load_trial_file(&a.file, catalog)?;
            println!(
                "{name}: trial `{}` is valid: {} arm(s), {} endpoint(s), {} patients per arm",
                t.name,
                t.arms.len(),
                t.endpoints.len(),
                t.patients
            );
        }
        FileKind::Targets => {
            let ts = tabula_validate::target::load_target_file(&a.file)?;
            let usable = ts.iter().filter(|t| t.usable).count();
            // Each usable target's trial, arm and endpoint must exist too.
            tabula_validate::validate::Harness::new(
                &ts,
                catalog,
                &tabula_validate::validate::Settings::default(),
            )
            .map_err(crate::commands::validate::failure)?;
            println!(
                "{name}: {} target(s) are valid ({usable} usable; their trials, arms and endpoints exist)",
                ts.len()
            );
        }
        FileKind::Problem => {
            let p = tabula_validate::calibrate::load_problem_file(&a.file)?;
            println!(
                "{name}: calibration problem `{}` is valid: {} parameter(s) to fit",
                p.name,
                p.parameters.len()
            );
        }
        FileKind::Knockouts => {
            let ks = tabula_validate::knockout::load_knockouts_file(&a.file)?;
            println!("{name}: {} knock-out(s) are valid", ks.len());
        }
        FileKind::Modalities => {
            let src = tabula_model::SourceFile::read(&a.file)?;
            let ms = tabula_validate::coverage::load_modalities_str(&src.name, &src.text)?;
            println!("{name}: {} modality definition(s) are valid", ms.len());
        }
        FileKind::Model => {
            if text.trim().is_empty() {
                return input(format!("{name}: the file is empty"));
            }
            let m = load_model_file(&a.file, catalog)?;
            println!(
                "{name}: model `{}` is valid: {} states, {} parameters, {} derived, {} fluxes, {} routes, {} outputs (from {} file(s))",
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
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_top_level_tables() {
        assert_eq!(
            kind_of("[scenario]\nname = 'x'\n"),
            Some(FileKind::Scenario)
        );
        assert_eq!(kind_of("[trial]\n"), Some(FileKind::Trial));
        assert_eq!(kind_of("[study]\n[[target]]\n"), Some(FileKind::Targets));
        assert_eq!(kind_of("[problem]\n"), Some(FileKind::Problem));
        assert_eq!(kind_of("[[knockout]]\n"), Some(FileKind::Knockouts));
        assert_eq!(kind_of("[[modality]]\n"), Some(FileKind::Modalities));
        assert_eq!(kind_of("[model]\n"), Some(FileKind::Model));
        // A `[scenario]` inside a string is not a scenario table.
        assert_eq!(
            kind_of("[model]\ndescription = \"\"\"\n[scenario]\n\"\"\"\n"),
            Some(FileKind::Model)
        );
        assert_eq!(kind_of("[model\n"), None);
    }
}
