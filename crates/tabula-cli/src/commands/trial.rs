//! `tabula trial`, `tabula trials` and `tabula trial-merge`: virtual trials.

use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use tabula_library::{description, Kind};
use tabula_output::ImageFormat;
use tabula_trial::output::{sanitize, summary_text};
use tabula_trial::{
    load_trial, merge_shards, Format, OutputOptions, PreparedTrial, Provenance, RunOptions, Shard,
    Trial, TrialError, TrialRef,
};

use crate::commands::{catalog, pool, today};
use crate::exit::{input, CmdResult, Failure};

/// Table format.
#[derive(Clone, Copy, ValueEnum)]
pub enum TableFormatArg {
    /// Apache Parquet (compact, typed; the default).
    Parquet,
    /// Comma-separated values.
    Csv,
}

/// Plot format.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlotArg {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
    /// No plot files (the report still has its figures).
    None,
}

/// Arguments of `tabula trial`.
#[derive(clap::Args)]
#[command(after_help = "\
A trial file names arms (scenarios with overrides), a virtual population, endpoints and
outputs; see docs/trials.md. Writes, in <OUT>/<trial name>/ (<OUT>/<trial name>/shard-<i>-of-<n>/
with --shard):
  patients.parquet (or .csv)     one row per arm and patient: status, parameters, endpoints
  summary.json, summary.csv      per arm and endpoint: estimate with 95% CI, counts
  summary.txt                    the same, readable
  bands.parquet, bands_*.svg     5/50/95% time-course bands (when the trial declares [bands])
  km_*.svg, forest_*.svg         Kaplan-Meier curves and forest plots
  report.html                    everything above on one page
  run.json                       provenance (version, seed, command, date) and shard manifest

Examples:
  tabula trials
  tabula trial sle_refractory --patients 200
  tabula trial my_trial.toml --threads 2 --format csv
  tabula trial sle_refractory --shard 0/4 --out shards     (then tabula trial-merge)")]
pub struct Args {
    /// A trial file, or the name of a built-in trial (see `tabula trials`).
    pub trial: String,
    /// Output directory.
    #[arg(long, short, default_value = "out")]
    pub out: PathBuf,
    /// Patients per arm (overrides the trial file).
    #[arg(long)]
    pub patients: Option<u64>,
    /// Random seed (overrides the trial file).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard i of n (0-based), e.g. 0/4; merge with `tabula trial-merge`.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Endpoints only: no time-course bands, no per-patient time courses.
    #[arg(long)]
    pub endpoints_only: bool,
    /// Quantile bands even if the trial has no [bands] (of the endpoints' outputs).
    #[arg(long)]
    pub bands: bool,
    /// Per-patient time courses (the trial's [timecourse], or the band outputs weekly).
    #[arg(long)]
    pub timecourse: bool,
    /// Format of the per-patient and band tables.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: TableFormatArg,
    /// Format of the plot files.
    #[arg(long, value_enum, default_value = "svg")]
    pub plot: PlotArg,
    /// Do not write the HTML report.
    #[arg(long)]
    pub no_report: bool,
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long, short)]
    pub quiet: bool,
}

fn failure(e: TrialError) -> Failure {
    if e.is_input() {
        Failure::Input(e.to_string())
    } else {
        Failure::Run(e.into())
    }
}

/// Loads a trial named on the command line, by the library's one precedence rule
/// ([`tabula_library::resolve`]); returns the file's canonical path for a file.
fn resolve(name: &str) -> Result<(Trial, Option<String>), Failure> {
    Ok(
        match tabula_library::resolve(catalog(), Kind::Trial, name)? {
            tabula_library::Given::Text(text) => (
                tabula_trial::load_trial_str("<text>", text, catalog())?,
                None,
            ),
            tabula_library::Given::File(path) => {
                let t = load_trial(TrialRef::File(&path), catalog())?;
                let canonical = path.canonicalize().ok().map(|p| p.display().to_string());
                (t, canonical)
            }
            tabula_library::Given::Library(name, text) => {
                (load_trial(TrialRef::Builtin(&name, text), catalog())?, None)
            }
        },
    )
}

/// The command line, for provenance (arguments that are not UTF-8 are shown lossily).
fn command_line() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn plots(p: PlotArg) -> Option<ImageFormat> {
    match p {
        PlotArg::Svg => Some(ImageFormat::Svg),
        PlotArg::Png => Some(ImageFormat::Png { scale: 2.0 }),
        PlotArg::None => None,
    }
}

fn format(f: TableFormatArg) -> Format {
    match f {
        TableFormatArg::Parquet => Format::Parquet,
        TableFormatArg::Csv => Format::Csv,
    }
}

/// `tabula trial`.
pub fn run(a: Args) -> CmdResult {
    crate::exit::check_out_dir(&a.out)?;
    let (mut trial, trial_path) = resolve(&a.trial)?;
    if let Some(n) = a.patients {
        if n == 0 || n > tabula_trial::rng::MAX_PATIENTS {
            return input(format!(
                "--patients must be between 1 and {}",
                tabula_trial::rng::MAX_PATIENTS
            ));
        }
        trial.patients = n;
    }
    if let Some(s) = a.seed {
        trial.seed = s;
    }
    let shard = match &a.shard {
        Some(s) => Shard::parse(s).map_err(failure)?,
        None => Shard::default(),
    };
    if a.bands && trial.bands.is_none() {
        let mut outputs: Vec<String> = Vec::new();
        for e in &trial.endpoints {
            for o in e.outputs() {
                if !outputs.iter().any(|x| x == o) {
                    outputs.push(o.to_string());
                }
            }
        }
        outputs.truncate(6);
        trial.bands = Some(tabula_trial::spec::BandSpec {
            outputs,
            step: 7.0,
            max_patients: 2000,
        });
    }
    if a.timecourse && trial.timecourse.is_none() {
        let outputs = trial
            .bands
            .as_ref()
            .map(|b| b.outputs.clone())
            .unwrap_or_default();
        if outputs.is_empty() {
            return input(
                "--timecourse needs a [timecourse] or [bands] table in the trial, or --bands",
            );
        }
        trial.timecourse = Some(tabula_trial::spec::TimeCourseSpec { outputs, step: 7.0 });
    }
    let pool = pool(a.threads)?;
    let threads = pool.current_num_threads();
    let mut dir = a.out.join(sanitize(&trial.name));
    if shard.count > 1 {
        dir = dir.join(format!("shard-{}-of-{}", shard.index, shard.count));
    }
    let out = OutputOptions {
        dir: dir.clone(),
        format: format(a.format),
        plots: plots(a.plot),
        report: !a.no_report,
    };
    let provenance = Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: command_line(),
        date: today(),
        threads,
        seconds: 0.0,
        trial_ref: a.trial.clone(),
        trial_path,
        validation: validation_status(&trial),
    };
    let started = Instant::now();
    let prepared = pool
        .install(|| PreparedTrial::new(trial))
        .map_err(failure)?;
    let per_arm = shard.range(prepared.trial.patients);
    let total = (per_arm.end - per_arm.start) * prepared.trial.arms.len() as u64;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} patients ({per_sec}, {eta} left)",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    };
    let progress = |done: u64, _total: u64| bar.set_position(done);
    let options = RunOptions {
        shard,
        bands: !a.endpoints_only,
        timecourse: !a.endpoints_only,
        progress: Some(&progress),
        ..RunOptions::default()
    };
    let need = prepared.estimated_output_bytes(&options);
    if let Some(free) = crate::commands::free_bytes(&dir) {
        if need > free as f64 {
            return input(format!(
                "`patients` = {} per arm ({} arms) would write about {need:.2e} bytes of tables to {}, but only {free} bytes are free there; lower trial.patients (or --patients), or use --shard",
                prepared.trial.patients,
                prepared.trial.arms.len(),
                dir.display()
            ));
        }
    }
    let sim_started = Instant::now();
    let (run, paths) = pool
        .install(|| prepared.run_to_dir(&options, &out, &provenance))
        .map_err(failure)?;
    let sim_seconds = sim_started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if !a.quiet {
        let trial = &prepared.trial;
        let summaries = run.summaries(trial, options.km_interval);
        match summary_text(trial, &summaries) {
            Ok(s) => print!("{s}"),
            Err(e) => return Err(failure(e)),
        }
        print!("{}", tabula_trial::output::validation_text(&provenance));
        let failed: u64 = summaries.iter().map(|s| s.failed()).sum();
        let rate = total as f64 / sim_seconds.max(1e-9);
        println!(
            "\n{total} patients ({} arms) in {sim_seconds:.1} s on {threads} threads: {rate:.1} patients/s, {:.1} per thread; {} solver steps; {failed} failed; set-up {:.1} s",
            trial.arms.len(),
            rate / threads as f64,
            run.steps,
            (started.elapsed().as_secs_f64() - sim_seconds).max(0.0)
        );
        println!("\nwrote:");
        for p in paths {
            println!("  {}", p.display());
        }
    }
    Ok(())
}

/// What the built-in validation says of each arm's therapy (nothing when it cannot be read:
/// the status is information, not a reason to refuse a run).
fn validation_status(trial: &tabula_trial::Trial) -> Vec<(String, Vec<(String, bool)>)> {
    match tabula_validate::coverage::builtin_coverage(catalog()) {
        Ok(c) => tabula_validate::coverage::trial_status(trial, &c),
        Err(e) => {
            eprintln!("note: the validation status of the arms is unknown ({e})");
            Vec::new()
        }
    }
}

/// `tabula trials`: the built-in trials.
pub fn list() -> CmdResult {
    let rows: Vec<(String, String)> = catalog()
        .list(Kind::Trial)
        .into_iter()
        .map(|(n, t)| (n, description(t)))
        .collect();
    let (a, b): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    let t = tabula_output::Table::from_columns(vec![
        ("trial", tabula_output::Column::Str(a)),
        ("description", tabula_output::Column::Str(b)),
    ])?;
    let opts = tabula_output::TextTableOptions {
        max_cell_width: 100,
        ..Default::default()
    };
    print!("{}", tabula_output::render_text(&t, &opts));
    Ok(())
}

/// Arguments of `tabula trial-merge`.
#[derive(clap::Args)]
#[command(after_help = "\
Combines the output directories of `tabula trial --shard i/n` runs (one per shard) into the
outputs the unsharded run would have written: the per-patient table is the shards' tables in
patient order, and the summaries, bands, plots and report are recomputed from them.

Example:
  tabula trial sle_refractory --shard 0/2 --out a
  tabula trial sle_refractory --shard 1/2 --out b
  tabula trial-merge a/sle_refractory/shard-0-of-2 b/sle_refractory/shard-1-of-2 --out merged")]
pub struct MergeArgs {
    /// The shard output directories.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output directory (the merged run goes to <OUT>/<trial name>).
    #[arg(long, short, default_value = "out")]
    pub out: PathBuf,
    /// Format of the merged tables (default: the shards').
    #[arg(long, value_enum)]
    pub format: Option<TableFormatArg>,
    /// Format of the plot files.
    #[arg(long, value_enum, default_value = "svg")]
    pub plot: PlotArg,
    /// Do not write the HTML report.
    #[arg(long)]
    pub no_report: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `tabula trial-merge`.
pub fn merge(a: MergeArgs) -> CmdResult {
    crate::exit::check_out_dir(&a.out)?;
    let manifest = a.shards[0].join("run.json");
    let name = tabula_model::read_text_file(&manifest)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m["trial"].as_str().map(str::to_string));
    let Some(name) = name else {
        return input(format!(
            "{} is not a trial shard output (no readable run.json)",
            a.shards[0].display()
        ));
    };
    let out = OutputOptions {
        dir: a.out.join(sanitize(&name)),
        format: a
            .format
            .map_or_else(|| tabula_trial::merge::shard_format(&a.shards[0]), format),
        plots: plots(a.plot),
        report: !a.no_report,
    };
    let provenance = Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: command_line(),
        date: today(),
        threads: rayon::current_num_threads(),
        seconds: 0.0,
        trial_ref: name.clone(),
        trial_path: None,
        validation: Vec::new(),
    };
    let paths = merge_shards(&a.shards, &out, &provenance, catalog()).map_err(failure)?;
    if !a.quiet {
        println!("merged {} shards of {name}; wrote:", a.shards.len());
        for p in paths {
            println!("  {}", p.display());
        }
    }
    Ok(())
}
