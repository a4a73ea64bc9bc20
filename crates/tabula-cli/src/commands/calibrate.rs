//! `tabula calibrate`: fit parameters to validation targets and time-course data.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tabula_output::html::Report;
use tabula_output::{render_text, Column, Table, TextTableOptions};
use tabula_validate::calibrate::{
    load_problem_file, load_problem_str, Calibration, Evaluation, Fit, FitKind, Problem,
    ProgressObserver,
};
use tabula_validate::report::{figure, result_word, tally_line};
use tabula_validate::validate::{Settings, Tally};

use crate::commands::catalog;
use crate::commands::validate::{bar, check_patients, failure, load_targets};
use crate::commands::{pool, today};
use crate::exit::{input, CmdResult, Failure};

/// Arguments of `tabula calibrate`.
#[derive(clap::Args)]
#[command(after_help = "\
A problem file names the targets (ids from `tabula validate --list`) and/or time-course data to
fit, and the parameters to fit with their prior ranges: typical values of model parameters, or
the variability of population variables; see docs/validation.md. Built-in problems live in
library/calibration/. The fit is CMA-ES (candidates in parallel) then Nelder-Mead refinement,
reproducible by seed. Writes, in <OUT>/<problem>/:
  fitted.toml          the fitted values with provenance (targets, objective, date, version)
  calibration.md       before/after table, identifiability
  calibration.html     the same with observed-vs-simulated figures before and after
  before_after.csv     one row per target: residual and result before and after

Examples:
  tabula calibrate --list
  tabula calibrate crs_thresholds
  tabula calibrate my_problem.toml --patients 100 --max-evaluations 60")]
pub struct Args {
    /// A problem file, or the name of a built-in problem.
    #[arg(required_unless_present = "list")]
    pub problem: Option<String>,
    /// List the built-in problems.
    #[arg(long)]
    pub list: bool,
    /// Targets to draw from: a file or directory (default: the built-in targets).
    #[arg(long, value_name = "PATH")]
    pub targets: Option<PathBuf>,
    /// Virtual patients per arm during the fit (overrides the problem and trial files).
    #[arg(long)]
    pub patients: Option<u64>,
    /// Optimiser seed (overrides the problem file).
    #[arg(long)]
    pub seed: Option<u64>,
    /// CMA-ES evaluation budget (overrides the problem file).
    #[arg(long)]
    pub max_evaluations: Option<usize>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory.
    #[arg(long, short, default_value = "out/calibration")]
    pub out: PathBuf,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

fn builtin_problems() -> Vec<String> {
    catalog()
        .data_file("calibration/index.toml")
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("problems").and_then(|v| v.as_array()).map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|p| p.trim_end_matches(".toml").to_string())
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn resolve(name: &str) -> Result<Problem, Failure> {
    let path = Path::new(name);
    if path.is_file() {
        return Ok(load_problem_file(path)?);
    }
    let file = format!("calibration/{}.toml", name.trim_end_matches(".toml"));
    if let Some(text) = catalog().data_file(&file) {
        let display = tabula_model::library_source_name(catalog(), &file);
        return Ok(load_problem_str(&display, text)?);
    }
    crate::commands::refuse_non_file(path)?;
    let names = builtin_problems();
    let hint = tabula_model::error::did_you_mean(name, names.iter().map(String::as_str));
    input(format!(
        "no problem file or built-in problem named \"{name}\"{hint}; run `tabula calibrate --list`"
    ))
}

fn fmt(x: f64) -> String {
    if x.is_finite() {
        tabula_output::format_sig(x, 4)
    } else {
        "NA".into()
    }
}

/// `tabula calibrate`.
pub fn run(a: Args) -> CmdResult {
    crate::exit::check_out_dir(&a.out)?;
    if a.list {
        for n in builtin_problems() {
            match resolve(&n) {
                Ok(p) => println!("{n:24} {}", p.description),
                Err(_) => println!("{n:24} (unreadable)"),
            }
        }
        return Ok(());
    }
    check_patients(a.patients)?;
    let mut problem = resolve(a.problem.as_deref().unwrap_or_default())?;
    if let Some(s) = a.seed {
        problem.optimizer.seed = s;
    }
    if let Some(m) = a.max_evaluations {
        if m == 0 {
            return input("--max-evaluations must be at least 1");
        }
        problem.optimizer.max_evaluations = m;
    }
    let targets = load_targets(a.targets.as_deref(), &[])?;
    let pool = pool(a.threads)?;
    let settings = Settings {
        patients: a.patients,
        seed: None,
    };
    let cal = pool
        .install(|| Calibration::new(problem, &targets, catalog(), &settings))
        .map_err(failure)?;
    let budget = cal.problem.optimizer.max_evaluations + cal.problem.optimizer.refine_evaluations;
    if !a.quiet {
        println!(
            "calibrating {} ({} parameters, {} targets, {} time courses; {} patient runs per evaluation)",
            cal.problem.name,
            cal.space.dim(),
            cal.problem.targets.len(),
            cal.problem.timecourses.len(),
            cal.patient_runs()
        );
    }
    let bar = bar(a.quiet, budget as u64, "evaluations");
    let started = Instant::now();
    let mut observer = ProgressObserver(|p: &tabula_fit::Progress<'_>| {
        bar.set_position(p.evaluations as u64);
        bar.set_message(format!("best {}", fmt(p.best_value)));
    });
    let fit = pool.install(|| cal.fit(&mut observer)).map_err(failure)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    let dir = a
        .out
        .join(tabula_trial::output::sanitize(&cal.problem.name));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Run(anyhow::anyhow!("cannot create {}: {e}", dir.display())))?;
    let params = parameter_table(&cal, &fit)?;
    let rows = before_after_table(&fit)?;
    let opts = TextTableOptions {
        max_cell_width: 50,
        ..Default::default()
    };
    if !a.quiet {
        print!("{}", render_text(&params, &opts));
        println!();
        print!("{}", render_text(&rows, &opts));
        println!(
            "\nobjective {} -> {} ({} + {} evaluations, {seconds:.1} s)",
            fmt(fit.before.objective),
            fmt(fit.after.objective),
            fit.global_evaluations,
            fit.local_evaluations
        );
        println!(
            "before: {}; after: {}",
            tally_line(&Tally::of(&fit.before.results)),
            tally_line(&Tally::of(&fit.after.results))
        );
        match &fit.identifiability {
            Ok(r) => {
                let bad = r.unidentifiable();
                if bad.is_empty() {
                    println!("every fitted parameter is pinned down by the data");
                } else {
                    println!("not pinned down by the data: {}", bad.join(", "));
                }
            }
            Err(e) => println!("identifiability not computed: {e}"),
        }
    }
    let fitted = fitted_toml(&cal, &fit, seconds);
    tabula_output::write_atomic(dir.join("fitted.toml"), fitted.as_bytes())?;
    rows.write_as(
        dir.join("before_after.csv"),
        tabula_output::TableFormat::Csv,
    )?;
    let md = markdown(&cal, &fit, &params, &rows);
    tabula_output::write_atomic(dir.join("calibration.md"), md.as_bytes())?;
    let mut report = Report::new(format!("Calibration: {}", cal.problem.name));
    report
        .metadata("Version", env!("CARGO_PKG_VERSION"))
        .metadata("Date", today())
        .metadata("Problem", cal.problem.file.clone())
        .metadata("Seed", cal.problem.optimizer.seed.to_string())
        .metadata(
            "Objective",
            format!(
                "{} -> {}",
                fmt(fit.before.objective),
                fmt(fit.after.objective)
            ),
        )
        .section("Parameters")
        .paragraph(cal.problem.description.clone())
        .table(&params, None)
        .section("Targets before and after")
        .table(&rows, None);
    for (label, ev) in [("before", &fit.before), ("after", &fit.after)] {
        if let Some(f) =
            figure(&ev.results, &format!("Observed vs simulated, {label}")).map_err(failure)?
        {
            report.figure(&f, format!("Targets {label} calibration."));
        }
    }
    report.write(dir.join("calibration.html"))?;
    if !a.quiet {
        println!(
            "wrote {}/{{fitted.toml,calibration.md,calibration.html,before_after.csv}}",
            dir.display()
        );
    }
    Ok(())
}

fn identifiable(fit: &Fit, i: usize) -> String {
    match &fit.identifiability {
        Ok(r) => {
            let p = &r.parameters[i];
            if p.identifiable {
                format!("yes (RSE {}%)", fmt(100.0 * p.relative_standard_error))
            } else {
                "no".to_string()
            }
        }
        Err(_) => "not computed".to_string(),
    }
}

fn parameter_table(cal: &Calibration, fit: &Fit) -> Result<Table, Failure> {
    let ps = &cal.problem.parameters;
    Ok(Table::from_columns(vec![
        (
            "parameter",
            Column::Str(ps.iter().map(|p| p.label()).collect()),
        ),
        ("before", Column::F64(cal.start.clone())),
        ("fitted", Column::F64(fit.values.clone())),
        ("lower", Column::F64(ps.iter().map(|p| p.lower).collect())),
        ("upper", Column::F64(ps.iter().map(|p| p.upper).collect())),
        (
            "scale",
            Column::Str(
                ps.iter()
                    .map(|p| if p.log { "log" } else { "linear" }.into())
                    .collect(),
            ),
        ),
        (
            "identifiable",
            Column::Str((0..ps.len()).map(|i| identifiable(fit, i)).collect()),
        ),
    ])?)
}

fn before_after_table(fit: &Fit) -> Result<Table, Failure> {
    let b = &fit.before;
    let a = &fit.after;
    let n = b.results.len();
    let sim = |e: &Evaluation| -> Vec<f64> {
        e.results
            .iter()
            .map(|r| match &r.outcome {
                tabula_validate::validate::Outcome::Evaluated { verdict, .. } => verdict.simulated,
                _ => f64::NAN,
            })
            .collect()
    };
    Ok(Table::from_columns(vec![
        (
            "target",
            Column::Str(b.results.iter().map(|r| r.target.id.clone()).collect()),
        ),
        (
            "observed",
            Column::Str(
                b.results
                    .iter()
                    .map(|r| r.target.observed.describe())
                    .collect(),
            ),
        ),
        ("sim_before", Column::F64(sim(b))),
        ("z_before", Column::F64(b.residuals[..n].to_vec())),
        (
            "before",
            Column::Str(
                b.results
                    .iter()
                    .map(|r| result_word(r).to_string())
                    .collect(),
            ),
        ),
        ("sim_after", Column::F64(sim(a))),
        ("z_after", Column::F64(a.residuals[..n].to_vec())),
        (
            "after",
            Column::Str(
                a.results
                    .iter()
                    .map(|r| result_word(r).to_string())
                    .collect(),
            ),
        ),
    ])?)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn fitted_toml(cal: &Calibration, fit: &Fit, seconds: f64) -> String {
    let p = &cal.problem;
    let mut s = String::new();
    let _ = writeln!(s, "# Fitted by `tabula calibrate {}`.", p.name);
    let _ = writeln!(s, "[provenance]");
    let _ = writeln!(s, "problem = {}", toml_str(&p.name));
    let _ = writeln!(s, "problem_file = {}", toml_str(&p.file));
    let _ = writeln!(s, "description = {}", toml_str(&p.description));
    let _ = writeln!(
        s,
        "tabula_version = {}",
        toml_str(env!("CARGO_PKG_VERSION"))
    );
    let _ = writeln!(s, "date = {}", toml_str(&today()));
    let targets: Vec<String> = p.targets.iter().map(|t| toml_str(t)).collect();
    let _ = writeln!(s, "targets = [{}]", targets.join(", "));
    let tcs: Vec<String> = p
        .timecourses
        .iter()
        .map(|t| toml_str(&format!("{} {} ({})", t.scenario, t.output, t.source)))
        .collect();
    let _ = writeln!(s, "timecourses = [{}]", tcs.join(", "));
    let _ = writeln!(
        s,
        "objective = {}",
        toml_str("sum of squared target residuals (|z| <= 1 when a rule passes) and time-course residuals / sd")
    );
    let _ = writeln!(s, "objective_before = {}", fit.before.objective);
    let _ = writeln!(s, "objective_after = {}", fit.after.objective);
    let tb = Tally::of(&fit.before.results);
    let ta = Tally::of(&fit.after.results);
    let _ = writeln!(s, "passed_before = {}", tb.passed);
    let _ = writeln!(s, "passed_after = {}", ta.passed);
    let _ = writeln!(
        s,
        "optimizer = {}",
        toml_str(&format!(
            "CMA-ES ({} evaluations) then Nelder-Mead ({} evaluations); {}",
            fit.global_evaluations, fit.local_evaluations, fit.termination
        ))
    );
    let _ = writeln!(s, "seed = {}", p.optimizer.seed);
    let _ = writeln!(
        s,
        "patients_per_arm = {}",
        toml_str(
            &p.patients
                .map_or("as in each trial file".to_string(), |n| n.to_string())
        )
    );
    let _ = writeln!(s, "seconds = {seconds:.1}");
    for (i, fp) in p.parameters.iter().enumerate() {
        let _ = writeln!(s, "\n[[parameter]]");
        let _ = writeln!(s, "name = {}", toml_str(&fp.name));
        let _ = writeln!(
            s,
            "kind = {}",
            toml_str(match fp.kind {
                FitKind::Typical => "typical",
                FitKind::Variability => "variability",
            })
        );
        let _ = writeln!(s, "before = {}", cal.start[i]);
        let _ = writeln!(s, "value = {}", fit.values[i]);
        let _ = writeln!(s, "prior = [{}, {}]", fp.lower, fp.upper);
        let _ = writeln!(
            s,
            "scale = {}",
            toml_str(if fp.log { "log" } else { "linear" })
        );
        let _ = writeln!(s, "identifiable = {}", toml_str(&identifiable(fit, i)));
    }
    s
}

fn markdown(cal: &Calibration, fit: &Fit, params: &Table, rows: &Table) -> String {
    let opts = TextTableOptions {
        max_cell_width: 60,
        ..Default::default()
    };
    let mut s = format!(
        "# Calibration: {}\n\n{}\n\n",
        cal.problem.name, cal.problem.description
    );
    let _ = writeln!(s, "- Date: {}", today());
    let _ = writeln!(s, "- Version: {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        s,
        "- Objective: {} -> {}",
        fmt(fit.before.objective),
        fmt(fit.after.objective)
    );
    let _ = writeln!(
        s,
        "- Targets: before {}; after {}",
        tally_line(&Tally::of(&fit.before.results)),
        tally_line(&Tally::of(&fit.after.results))
    );
    let _ = writeln!(s, "- Optimiser: {}\n", fit.termination);
    s.push_str("## Parameters\n\n```text\n");
    s.push_str(&render_text(params, &opts));
    s.push_str("```\n\n## Targets\n\n```text\n");
    s.push_str(&render_text(rows, &opts));
    s.push_str("```\n");
    if let Ok(r) = &fit.identifiability {
        let bad = r.unidentifiable();
        let _ = writeln!(
            s,
            "\n## Identifiability\n\nCondition number of the scaled Fisher information: {}. {}",
            fmt(r.condition_number),
            if bad.is_empty() {
                "Every fitted parameter is pinned down by these targets.".to_string()
            } else {
                format!("Not pinned down by these targets: {}.", bad.join(", "))
            }
        );
    }
    s
}
