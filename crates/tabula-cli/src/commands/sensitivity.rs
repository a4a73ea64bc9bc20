//! `tabula sensitivity`: Morris screening and Sobol indices of a scenario endpoint.

use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use tabula_fit::{MorrisConfig, ParameterSpace, SobolConfig};
use tabula_output::html::Report;
use tabula_output::{render_text, TextTableOptions};
use tabula_validate::sensitivity::{
    analyse, parse_factor, Reference, ScenarioEndpoint, SensitivitySettings, Subject,
};

use crate::commands::resolve_scenario;
use crate::commands::validate::{bar, failure};
use crate::commands::{pool, today};
use crate::exit::{input, CmdResult, Failure};

/// Which analyses to run.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Method {
    /// Morris elementary effects (screening, cheap).
    Morris,
    /// Sobol first- and total-order indices (variance-based).
    Sobol,
    /// Both.
    Both,
}

/// A reference function with known indices.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FunctionArg {
    /// Ishigami and Homma (1990): S1 = .3139/.4424/0, ST = .5576/.4424/.2437.
    Ishigami,
}

/// Arguments of `tabula sensitivity`.
#[derive(clap::Args)]
#[command(after_help = "\
Varies the chosen model parameters of a scenario over their ranges and measures how much each
moves one endpoint. Factors: NAME (the model's plausible range, or value/2 to 2 x value),
NAME=LOWER:UPPER, NAME=LOWER:UPPER:log. Endpoints: OUTPUT@TIME, min(OUTPUT), max(OUTPUT),
mean(OUTPUT), auc(OUTPUT), final(OUTPUT). Writes, in <OUT>/:
  sensitivity.csv           one row per factor: mu*, mu, sigma, S1, ST with intervals
  morris.svg, sobol.svg     bar charts
  sensitivity.html          everything on one page

Cost: Morris r (d + 1) simulations, Sobol N (d + 2) (d factors).

Examples:
  tabula sensitivity sle/cd19_car_t --endpoint b_blood@90 --param cd19_k_kill --param cd19_rho_max
  tabula sensitivity --function ishigami --samples 8192")]
pub struct Args {
    /// A scenario file or built-in scenario name.
    #[arg(required_unless_present = "function")]
    pub scenario: Option<String>,
    /// Analyse a reference function instead of a scenario (checks the estimators).
    #[arg(long, value_enum, conflicts_with = "scenario")]
    pub function: Option<FunctionArg>,
    /// The endpoint (required with a scenario).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// A factor (repeatable): NAME, NAME=LOWER:UPPER or NAME=LOWER:UPPER:log.
    #[arg(long = "param", value_name = "SPEC")]
    pub params: Vec<String>,
    /// Which analyses.
    #[arg(long, value_enum, default_value = "both")]
    pub method: Method,
    /// Sobol base samples N (rounded up to a power of two).
    #[arg(long, default_value_t = 1024)]
    pub samples: usize,
    /// Morris trajectories r.
    #[arg(long, default_value_t = 20)]
    pub trajectories: usize,
    /// Morris grid levels (even).
    #[arg(long, default_value_t = 4)]
    pub levels: usize,
    /// Bootstrap replicates for the intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory.
    #[arg(long, short, default_value = "out/sensitivity")]
    pub out: PathBuf,
    /// Write no files.
    #[arg(long)]
    pub no_report: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `tabula sensitivity`.
pub fn run(a: Args) -> CmdResult {
    if !a.no_report {
        crate::exit::check_out_dir(&a.out)?;
    }
    if a.samples == 0 || a.trajectories < 2 || a.bootstrap == 0 {
        return input("--samples and --bootstrap must be at least 1, --trajectories at least 2");
    }
    let (subject, space) = match a.function {
        Some(FunctionArg::Ishigami) => {
            if !a.params.is_empty() || a.endpoint.is_some() {
                return input("--function takes no --param or --endpoint");
            }
            let space = Subject::reference_space(Reference::Ishigami).map_err(failure)?;
            (Subject::Reference(Reference::Ishigami), space)
        }
        None => {
            let name = a.scenario.as_deref().unwrap_or_default();
            let scenario = resolve_scenario(name)?;
            let Some(endpoint) = &a.endpoint else {
                return input("a scenario needs --endpoint (e.g. --endpoint b_blood@90)");
            };
            if a.params.is_empty() {
                return input("give at least one --param NAME[=LOWER:UPPER]");
            }
            let endpoint = ScenarioEndpoint::parse(endpoint).map_err(failure)?;
            let model = scenario.model.clone();
            let default_range = |n: &str| {
                let i = model.parameter_index(n)?;
                let p = &model.parameters[i];
                Some(p.range.unwrap_or_else(|| {
                    let v = scenario.parameters[i];
                    if v > 0.0 {
                        (v / 2.0, 2.0 * v)
                    } else if v < 0.0 {
                        (2.0 * v, v / 2.0)
                    } else {
                        (0.0, 1.0)
                    }
                }))
            };
            let mut factors = Vec::new();
            for spec in &a.params {
                factors.push(parse_factor(spec, default_range).map_err(failure)?);
            }
            let space = ParameterSpace::new(factors)
                .map_err(|e| Failure::Input(format!("--param: {e}")))?;
            let subject = Subject::scenario(scenario, endpoint, &space).map_err(failure)?;
            (subject, space)
        }
    };
    let d = space.dim();
    let Some(n_base) = a.samples.checked_next_power_of_two() else {
        return input(format!("--samples {} is too large", a.samples));
    };
    let morris = matches!(a.method, Method::Morris | Method::Both).then(|| MorrisConfig {
        trajectories: a.trajectories,
        levels: a.levels,
        bootstrap: a.bootstrap,
        seed: a.seed,
        ..MorrisConfig::default()
    });
    let sobol = matches!(a.method, Method::Sobol | Method::Both).then(|| SobolConfig {
        n_base,
        bootstrap: a.bootstrap,
        seed: a.seed,
        ..SobolConfig::default()
    });
    let settings = SensitivitySettings { morris, sobol };
    settings.check_memory(d).map_err(failure)?;
    let runs = settings
        .morris
        .as_ref()
        .map_or(0, |_| a.trajectories * (d + 1))
        + settings.sobol.as_ref().map_or(0, |_| n_base * (d + 2));
    let pool = pool(a.threads)?;
    let bar = bar(a.quiet, runs as u64, "simulations");
    let started = Instant::now();
    let result = pool
        .install(|| analyse(&subject, &space, &settings, Some(&|| bar.inc(1))))
        .map_err(failure)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    let table = result.table().map_err(failure)?;
    println!("{}", result.subject);
    print!(
        "{}",
        render_text(
            &table,
            &TextTableOptions {
                digits: 4,
                ..Default::default()
            }
        )
    );
    if let (Some(s), Some((s1, st))) = (&result.sobol, &result.exact) {
        let err = s
            .first_order
            .iter()
            .zip(s1)
            .chain(s.total_order.iter().zip(st))
            .map(|(e, x)| (e.value - x).abs())
            .fold(0.0, f64::max);
        println!("largest difference from the exact indices: {err:.4}");
    }
    if !a.no_report {
        std::fs::create_dir_all(&a.out)
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot create {}: {e}", a.out.display())))?;
        table.write_as(
            a.out.join("sensitivity.csv"),
            tabula_output::TableFormat::Csv,
        )?;
        let mut report = Report::new(format!("Sensitivity: {}", result.subject));
        report
            .metadata("Version", env!("CARGO_PKG_VERSION"))
            .metadata("Date", today())
            .metadata("Seed", a.seed.to_string())
            .metadata("Simulations", runs.to_string())
            .metadata("Run time", format!("{seconds:.1} s"))
            .section("Factors")
            .list(space.parameters().iter().map(|p| {
                format!(
                    "{}: {} to {} ({:?} scale)",
                    p.name, p.lower, p.upper, p.scale
                )
            }))
            .section("Indices")
            .table(&table, Some("One row per factor."));
        for (name, fig) in result.figures().map_err(failure)? {
            fig.save(a.out.join(format!("{name}.svg")))?;
            report.figure(&fig, name.clone());
        }
        report.write(a.out.join("sensitivity.html"))?;
        if !a.quiet {
            println!(
                "{runs} simulations in {seconds:.1} s; wrote {}/sensitivity.{{csv,html}}",
                a.out.display()
            );
        }
    }
    Ok(())
}
