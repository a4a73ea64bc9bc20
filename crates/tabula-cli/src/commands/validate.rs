//! `tabula validate`: every validation target against its published value.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tabula_output::{render_text, Column, Table, TextTableOptions};
use tabula_validate::coverage::{self, Coverage};
use tabula_validate::knockout::{self, Knockout, KnockoutResult};
use tabula_validate::provenance::{Evidence, Provenance};
use tabula_validate::report::{
    evidence_lines, figure, html, markdown, result_word, results_table_with_evidence, tally_line,
};
use tabula_validate::target::Target;
use tabula_validate::validate::{
    builtin_targets, select, targets_from_path, with_unusable, Harness, Overrides, Settings, Tally,
};
use tabula_validate::ValidateError;

use crate::commands::{catalog, pool, today};
use crate::exit::{input, CmdResult, Failure};

/// Arguments of `tabula validate`.
#[derive(clap::Args)]
#[command(after_help = "\
Runs every validation target (by default the built-in ones, library/validation/), each through
the virtual trial that reproduces its study's design, and judges it by its tolerance rule. Prints
one row per target and ends with `N passed, M failed` (usable targets only). Writes, in <OUT>/:
  validation.md, validation.html   the report (table, observed-vs-simulated figure, details)
  validation.csv                   one row per target
  validation.svg                   observed vs simulated
  coverage.csv                     usable targets per therapy modality and outcome class
With --knockouts, also runs every mechanism knock-out (library/validation/knockouts.toml: CAR-T
killing / 80, no lymphodepletion, ...) and reports which targets each one breaks, against the
targets biology says it must break (knockouts.md, knockouts.csv); exits with code 1 when a
knock-out misses an expected break that is not a declared known gap, or a known gap now breaks.

Examples:
  tabula validate
  tabula validate --only T01 --only T02 --patients 100
  tabula validate --knockouts
  tabula validate --targets my_targets/ --strict
  tabula validate --list")]
pub struct Args {
    /// A target file or a directory of target files (default: the built-in targets).
    #[arg(long, value_name = "PATH")]
    pub targets: Option<PathBuf>,
    /// Run only these targets (repeatable).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Virtual patients per arm (overrides every trial file; default: the files' own).
    #[arg(long)]
    pub patients: Option<u64>,
    /// Random seed (overrides every trial file).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory.
    #[arg(long, short, default_value = "out/validation")]
    pub out: PathBuf,
    /// Exit with code 1 when a usable target fails.
    #[arg(long)]
    pub strict: bool,
    /// List the targets and exit.
    #[arg(long)]
    pub list: bool,
    /// Also run the mechanism knock-outs and report which targets each breaks.
    #[arg(long)]
    pub knockouts: bool,
    /// A knock-out file to use instead of the built-in one (implies --knockouts).
    #[arg(long, value_name = "FILE")]
    pub knockout_file: Option<PathBuf>,
    /// Do not write the report files.
    #[arg(long)]
    pub no_report: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Maps a library error to an exit code: bad input 2, failed run 1.
pub fn failure(e: ValidateError) -> Failure {
    if e.is_input() {
        Failure::Input(e.to_string())
    } else {
        Failure::Run(e.into())
    }
}

/// A progress bar over patient simulations (hidden when `quiet`).
pub fn bar(quiet: bool, total: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    let template =
        format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        b.set_style(style.progress_chars("=> "));
    }
    b
}

/// Checks a `--patients` override.
pub fn check_patients(n: Option<u64>) -> Result<(), Failure> {
    if let Some(n) = n {
        if n == 0 || n > tabula_trial::rng::MAX_PATIENTS {
            return input(format!(
                "--patients must be between 1 and {}",
                tabula_trial::rng::MAX_PATIENTS
            ));
        }
    }
    Ok(())
}

/// The targets a command works on: a file or directory, or the built-in ones.
pub fn load_targets(path: Option<&Path>, only: &[String]) -> Result<Vec<Target>, Failure> {
    let all = match path {
        Some(p) => {
            if !p.exists() {
                return input(format!("no target file or directory {}", p.display()));
            }
            targets_from_path(p)
        }
        None => builtin_targets(catalog()),
    }
    .map_err(failure)?;
    select(all, only).map_err(failure)
}

/// The knock-outs to run: a file, or the built-in ones. With the full built-in target set
/// (`check`), every target they name must exist; with `--only` or `--targets` the targets a
/// knock-out names but this run lacks are reported as not run.
fn load_knockouts(
    path: Option<&Path>,
    targets: &[Target],
    check: bool,
) -> Result<Vec<Knockout>, Failure> {
    let ks = match path {
        Some(p) => {
            if !p.is_file() {
                return input(format!("no knock-out file {}", p.display()));
            }
            knockout::load_knockouts_file(p)
        }
        None => knockout::builtin_knockouts(catalog()),
    }
    .map_err(|e| Failure::Input(e.to_string()))?;
    if check {
        let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        knockout::check_targets(&ks, &ids).map_err(|e| Failure::Input(e.to_string()))?;
    }
    Ok(ks)
}

fn list(targets: &[Target]) -> CmdResult {
    let col = |f: &dyn Fn(&Target) -> String| Column::Str(targets.iter().map(f).collect());
    let t = Table::from_columns(vec![
        ("id", col(&|t| t.id.clone())),
        ("study", col(&|t| t.study.name.clone())),
        ("quantity", col(&|t| t.quantity.clone())),
        (
            "usable",
            col(&|t| if t.usable { "yes".into() } else { "no".into() }),
        ),
        (
            "trial/arm/endpoint",
            col(&|t| {
                t.design.as_ref().map_or_else(
                    || t.reason.clone(),
                    |d| format!("{}/{}/{}", d.trial, d.arm, d.endpoint),
                )
            }),
        ),
    ])?;
    let opts = TextTableOptions {
        max_cell_width: 60,
        ..Default::default()
    };
    print!("{}", render_text(&t, &opts));
    Ok(())
}

/// `tabula validate`.
pub fn run(a: Args) -> CmdResult {
    if !a.no_report {
        crate::exit::check_out_dir(&a.out)?;
    }
    check_patients(a.patients)?;
    let targets = load_targets(a.targets.as_deref(), &a.only)?;
    if a.list {
        return list(&targets);
    }
    let knockouts = if a.knockouts || a.knockout_file.is_some() {
        Some(load_knockouts(
            a.knockout_file.as_deref(),
            &targets,
            a.only.is_empty() && a.targets.is_none(),
        )?)
    } else {
        None
    };
    let pool = pool(a.threads)?;
    let settings = Settings {
        patients: a.patients,
        seed: a.seed,
    };
    let started = Instant::now();
    let harness = pool
        .install(|| Harness::new(&targets, catalog(), &settings))
        .map_err(failure)?;
    let bar = bar(a.quiet, harness.patient_runs(), "patients");
    let progress = |done: u64, _total: u64| bar.set_position(done);
    let evaluated = pool.install(|| harness.evaluate(&Overrides::default(), Some(&progress)));
    let results = with_unusable(&targets, evaluated);
    bar.finish_and_clear();
    let knocked: Option<Vec<KnockoutResult>> = knockouts.as_ref().map(|ks| {
        let kbar = crate::commands::validate::bar(a.quiet, ks.len() as u64, "knock-outs");
        let progress = |i: usize, _n: usize, k: &Knockout| {
            kbar.set_position(i as u64);
            kbar.set_message(k.title.clone());
        };
        let out = pool.install(|| knockout::run(&harness, &results, ks, Some(&progress)));
        kbar.finish_and_clear();
        out
    });
    let seconds = started.elapsed().as_secs_f64();
    let tally = Tally::of(&results);

    // Which targets informed a parameter (`informed_by`): calibration vs independent evidence.
    let provenance = Provenance::new(harness.models(), &targets);
    if a.targets.is_none() && a.only.is_empty() {
        if let Some((id, who)) = provenance.unknown().first() {
            return input(format!(
                "parameter {who}: informed_by names target \"{id}\", which no target file defines"
            ));
        }
    }
    let evidence: Vec<Evidence> = results
        .iter()
        .map(|r| provenance.evidence(&r.target, &targets))
        .collect();
    let lines = evidence_lines(&provenance.tallies(&results, &targets));
    let table = results_table_with_evidence(&results, &evidence).map_err(failure)?;
    let keep = [
        "id",
        "evidence",
        "quantity",
        "observed",
        "simulated",
        "sim_lower",
        "sim_upper",
        "result",
        "source",
    ];
    let shown = Table::from_columns(
        keep.iter()
            .filter_map(|k| table.column(k).map(|c| (*k, c.clone())))
            .collect(),
    )?;
    let opts = TextTableOptions {
        max_cell_width: 44,
        ..Default::default()
    };
    print!("{}", render_text(&shown, &opts));
    let modalities =
        coverage::builtin_modalities(catalog()).map_err(|e| Failure::Input(e.to_string()))?;
    let cover = Coverage::new(&modalities, &harness, &provenance, &targets, Some(&results));
    let cover_table = cover.table().map_err(failure)?;
    if !a.quiet {
        println!("\nCoverage: usable targets per modality and outcome class");
        print!("{}", render_text(&cover_table, &opts));
    }
    for r in results.iter().filter(|r| result_word(r) == "error") {
        if let tabula_validate::validate::Outcome::Error(e) = &r.outcome {
            eprintln!("{}: {e}", r.target.id);
        }
    }

    if !a.no_report {
        let metadata = vec![
            ("Version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("Date".to_string(), today()),
            (
                "Patients per arm".to_string(),
                a.patients
                    .map_or_else(|| "as in each trial file".to_string(), |n| n.to_string()),
            ),
            (
                "Seed".to_string(),
                a.seed
                    .map_or_else(|| "as in each trial file".to_string(), |n| n.to_string()),
            ),
            ("Targets".to_string(), targets.len().to_string()),
            ("Run time".to_string(), format!("{seconds:.1} s")),
        ];
        let title = "Tabula validation against published trials";
        std::fs::create_dir_all(&a.out)
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot create {}: {e}", a.out.display())))?;
        let fig = figure(&results, "Observed vs simulated").map_err(failure)?;
        let detected = knocked
            .as_ref()
            .map(|k| coverage::classes_detected(k, &targets));
        let report = format!(
            "{}\n{}",
            markdown(&results, &evidence, &lines, title, &metadata),
            coverage::markdown(&cover, detected.as_ref())
        );
        tabula_output::write_atomic(a.out.join("validation.md"), report.as_bytes())?;
        cover_table.write_as(a.out.join("coverage.csv"), tabula_output::TableFormat::Csv)?;
        table.write_as(
            a.out.join("validation.csv"),
            tabula_output::TableFormat::Csv,
        )?;
        if let Some(f) = &fig {
            f.save(a.out.join("validation.svg"))?;
        }
        html(&results, &evidence, &lines, title, &metadata, fig.as_ref())
            .map_err(failure)?
            .write(a.out.join("validation.html"))?;
        if let Some(k) = &knocked {
            tabula_output::write_atomic(
                a.out.join("knockouts.md"),
                knockout::markdown(k).as_bytes(),
            )?;
            knockout::table(k)
                .map_err(failure)?
                .write_as(a.out.join("knockouts.csv"), tabula_output::TableFormat::Csv)?;
        }
        if !a.quiet {
            println!(
                "\n{} targets in {seconds:.1} s; wrote {}/validation.{{md,html,csv,svg}}, coverage.csv{}",
                results.len(),
                a.out.display(),
                if knocked.is_some() {
                    " and knockouts.{md,csv}"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(k) = &knocked {
        println!(
            "\nMechanism knock-outs (targets that pass without the knock-out and fail with it):"
        );
        for l in knockout::summary_lines(k) {
            println!("  {l}");
        }
        println!();
    }
    for l in &lines {
        println!("{l}");
    }
    println!("{}", tally_line(&tally));
    if let Some(k) = &knocked {
        let off: Vec<&str> = k
            .iter()
            .filter(|r| !r.as_expected())
            .map(|r| r.knockout.name.as_str())
            .collect();
        if !off.is_empty() {
            return Err(Failure::Run(anyhow::anyhow!(
                "knock-outs that did not break what they must, or whose known gaps now break: {} (see {})",
                off.join(", "),
                knockout::BUILTIN
            )));
        }
    }
    if a.strict && tally.failed > 0 {
        return Err(Failure::Run(anyhow::anyhow!(
            "{} of {} usable targets failed (--strict)",
            tally.failed,
            tally.passed + tally.failed
        )));
    }
    Ok(())
}
