//! Runs a trial and prints its summary and throughput (the benchmark numbers in
//! `docs/trials.md` come from it).
//!
//! ```text
//! cargo run --release -p tabula-trial --example run_trial -- sle_refractory 100 2
//! cargo run --release -p tabula-trial --example run_trial -- sle_refractory 1000 1 "CD19 CAR-T"
//! ```
//!
//! Arguments: a built-in trial name or a trial file, patients per arm, worker threads, and
//! optionally the one arm to keep. Environment:
//!
//! * `OUT=<dir>`: write every output file there (per-patient Parquet table, summaries, plots,
//!   report) instead of keeping only the summaries;
//! * `FULL=1`: also record a daily time course of every output of the first arm's model
//!   (written to `<dir>/timecourse.parquet` with `OUT`, else kept in memory and dropped);
//! * `ENDPOINTS=1`: no bands (endpoints only) even with `OUT`;
//! * `PLOT=png`: PNG plots instead of SVG; `QUIET=1`: no summary table.

use std::time::Instant;

use tabula_trial::output::summary_text;
use tabula_trial::spec::TimeCourseSpec;
use tabula_trial::{
    builtin_trial, load_trial_file, Format, MemorySink, NullSink, OutputOptions, PreparedTrial,
    Provenance, RunOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("sle_refractory", String::as_str);
    let patients: u64 = args.get(2).map_or(Ok(50), |s| s.parse())?;
    let threads: usize = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let mut trial = if name.ends_with(".toml") {
        load_trial_file(std::path::Path::new(name), &tabula_library::Builtin)?
    } else {
        builtin_trial(name)?
    };
    trial.patients = patients;
    if let Some(arm) = args.get(4) {
        trial.arms.retain(|a| &a.name == arm);
        trial.population.screening_arm = 0;
    }
    let full = std::env::var_os("FULL").is_some();
    if full {
        trial.bands = None;
        let outputs = trial.arms[0].scenario.model.outputs.iter();
        trial.timecourse = Some(TimeCourseSpec {
            outputs: outputs.map(|o| o.name.clone()).collect(),
            step: 1.0,
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let prepared = pool.install(|| PreparedTrial::new(trial))?;
    let started = Instant::now();
    let options = RunOptions {
        bands: std::env::var_os("OUT").is_some()
            && !full
            && std::env::var_os("ENDPOINTS").is_none(),
        timecourse: full,
        ..RunOptions::default()
    };
    let run = match std::env::var_os("OUT") {
        Some(dir) => {
            let out = OutputOptions {
                dir: dir.into(),
                format: Format::Parquet,
                plots: Some(match std::env::var("PLOT").as_deref() {
                    Ok("png") => tabula_output::ImageFormat::Png { scale: 1.0 },
                    _ => tabula_output::ImageFormat::Svg,
                }),
                report: true,
            };
            let prov = Provenance {
                version: env!("CARGO_PKG_VERSION").into(),
                command: args.join(" "),
                threads,
                trial_ref: name.into(),
                ..Provenance::default()
            };
            pool.install(|| prepared.run_to_dir(&options, &out, &prov))?
                .0
        }
        None if full => {
            let mut sink = MemorySink::new(&prepared);
            let run = pool.install(|| prepared.run(&options, &mut sink))?;
            eprintln!("{} time-course rows kept", sink.timecourse.len());
            run
        }
        None => pool.install(|| prepared.run(&options, &mut NullSink))?,
    };
    let secs = started.elapsed().as_secs_f64();
    let summaries = run.summaries(&prepared.trial, options.km_interval);
    if std::env::var_os("QUIET").is_none() {
        print!("{}", summary_text(&prepared.trial, &summaries)?);
    }
    for s in &summaries {
        for f in s.failures.iter().take(3) {
            println!(
                "{}: patient {} {}: {}",
                s.arm, f.patient, f.status, f.reason
            );
        }
    }
    let n = patients * prepared.trial.arms.len() as u64;
    println!(
        "\n{n} patients in {secs:.2} s on {threads} threads: {:.1} patients/s per thread, {} steps",
        n as f64 / secs / threads as f64,
        run.steps
    );
    Ok(())
}
