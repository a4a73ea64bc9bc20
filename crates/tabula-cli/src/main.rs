//! `tabula`: in silico trials of immune-reset therapies.
//!
//! A thin layer over the library crates: argument parsing, progress, exit codes. Exit code 2
//! means the input was malformed (the message names file, line and field); 1 means a run
//! failed; 0 means success.

mod commands;
mod exit;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Failure;

const ABOUT: &str =
    "Tabula simulates immune-reset therapies in autoimmune disease: CAR-T, CAR-NK, \
in vivo CAR-T, T-cell engagers, depleting antibodies and mesenchymal stem cells, acting on a \
mechanistic model of B- and T-cell biology, antibodies, cytokines and disease scores.";

const AFTER_HELP: &str = "\
Examples:
  tabula scenarios                          list the built-in scenarios
  tabula simulate reference/pk_bolus        run a built-in scenario
  tabula simulate my_scenario.toml --out results --format parquet
  tabula simulate sle/cd19_car_t --param cd19_rho_max=0.05 --plot png
  tabula check my_model.toml                validate a model, scenario, trial or target file
  tabula model reference/one_compartment    show a model's parameters with units and sources
  tabula export sbml sle/cd19_car_t -o cd19.xml   the model and doses as SBML
  tabula trial sle_refractory --patients 200   a virtual trial (see `tabula trials`)
  tabula validate                           every validation target against published trials
  tabula calibrate crs_thresholds           fit parameters to targets (see --list)
  tabula sensitivity --function ishigami    Sobol/Morris, checked on a known function

Documentation: docs/model-format.md (files), docs/model.md (the built-in model),
docs/validation.md (targets, calibration, sensitivity).";

#[derive(Parser)]
#[command(name = "tabula", version, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    /// A directory laid over the built-in library (same layout: models/, scenarios/, trials/);
    /// its files take precedence, so edited models run by name without rebuilding.
    #[arg(long, global = true, env = "TABULA_LIBRARY", value_name = "DIR")]
    library: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate one patient under one regimen: time-course table and plot.
    Simulate(commands::simulate::Args),
    /// Validate any input file (model, scenario, trial, targets, ...) and report every problem found.
    Check(commands::check::Args),
    /// Show a model: states, parameters (value, unit, source), outputs.
    Model(commands::list::ModelArgs),
    /// Export a scenario's model for other tools (SBML Level 3).
    Export(commands::export::Args),
    /// List the built-in models and modules.
    Models,
    /// List the built-in scenarios.
    Scenarios,
    /// List the built-in therapies and their example scenarios.
    Therapies,
    /// Run a virtual trial: arms x virtual population, endpoints with confidence intervals.
    Trial(commands::trial::Args),
    /// List the built-in virtual trials.
    Trials,
    /// Merge the outputs of `tabula trial --shard i/n` runs.
    TrialMerge(commands::trial::MergeArgs),
    /// Run the validation targets against published trials: one row per target, a report.
    Validate(commands::validate::Args),
    /// Global sensitivity of a scenario endpoint: Morris screening and Sobol indices.
    Sensitivity(commands::sensitivity::Args),
    /// Fit parameters (typical values, variability) to validation targets or time courses.
    Calibrate(commands::calibrate::Args),
}

fn main() -> ExitCode {
    signals::install();
    let cli = Cli::parse();
    if let Some(dir) = &cli.library {
        match tabula_library::Catalog::with_overlay(dir) {
            Ok(c) => commands::set_catalog(c),
            Err(e) => {
                eprintln!("error: --library {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        }
    }
    let result = match cli.command {
        Command::Simulate(a) => commands::simulate::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::Model(a) => commands::list::model(a),
        Command::Export(a) => commands::export::run(a),
        Command::Models => commands::list::models(),
        Command::Scenarios => commands::list::scenarios(),
        Command::Therapies => commands::list::therapies(),
        Command::Trial(a) => commands::trial::run(a),
        Command::Trials => commands::trial::list(),
        Command::TrialMerge(a) => commands::trial::merge(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Sensitivity(a) => commands::sensitivity::run(a),
        Command::Calibrate(a) => commands::calibrate::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
