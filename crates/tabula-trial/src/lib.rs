//! # tabula-trial: virtual populations and virtual trials
//!
//! A trial runs several **arms** (each a scenario: model, regimen, solver settings) over a
//! **virtual population**, evaluates named **endpoints** per patient and summarises them per
//! arm with 95% confidence intervals. This crate sits between the single-patient engine
//! (`tabula-scenario`, `tabula-solve`) and the outputs (`tabula-output`):
//!
//! ```text
//! trial file --parse--> Trial --PreparedTrial::new--> compiled arms + population plan
//!     --run (rayon, chunks, patient order)--> per-patient rows (streamed) + accumulators
//!     --summaries--> ArmSummary (JSON, CSV, text) --> plots, HTML report
//! ```
//!
//! The file format is documented in `docs/trials.md`.
//!
//! ## Inter-individual variability
//!
//! Each population variable `P` has a typical value `θ` (the arm's model value unless the
//! trial gives one, possibly an expression of covariates) and a standard-normal deviate
//! `z`:
//!
//! | distribution | value |
//! |---|---|
//! | log-normal | `P = θ exp(ω z)`, with `ω² = ln(1 + CV²)` when a CV is given |
//! | normal | `P = θ + σ z` (`σ = CV |θ|` when a CV is given) |
//! | logit-normal on `(a, b)` | `P = a + (b - a) / (1 + exp(-(logit((θ - a)/(b - a)) + σ z)))` |
//! | uniform on `(a, b)` | `P = a + (b - a) Φ(z)` |
//!
//! Correlated variables share a block: with the block's correlation matrix `R = L Lᵀ`
//! (Cholesky), `z_block = L w` for independent standard normals `w`, so the correlation
//! applies on the normal (log, logit) scale. Categorical covariates draw one uniform per
//! patient and set parameter values by level. Plausibility bounds either redraw the variable
//! (a truncated distribution), reject the candidate, or clamp.
//!
//! **Screening and acceptance–rejection** (Allen, Rieger & Musante 2016,
//! doi:10.1002/psp4.12063). Candidates are evaluated at the pre-treatment baseline (outputs
//! at time 0 of the screening arm's model, with residual error when the trial has noise) and
//! rejected outside plausible output ranges. To match a target distribution `f_T` of one
//! baseline output, a pilot population (its own streams) estimates the density of plausible
//! patients `f_P` by a Gaussian kernel (Silverman bandwidth); a plausible candidate with
//! baseline `x` is accepted with probability `min(1, f_T(x) / (c f_P(x)))`, with
//! `c = max over the pilot of f_T / f_P`. Accepted patients then follow `f_T` wherever the
//! plausible population covers it, without weights; the expected acceptance rate is `1/c`.
//!
//! ## Seeds and determinism
//!
//! Every random number comes from a ChaCha8 stream keyed by the trial seed and a 64-bit
//! stream number `purpose << 56 | arm << 40 | patient` ([`rng`]): patient `i`'s covariates,
//! parameters, redraws and acceptance draws (shared by every arm in a paired design), and its
//! residual-error draws in arm `a`. Nothing about threads, chunks or shards enters a stream.
//! Results are consumed in patient order and every summary statistic is a function of the
//! multiset of per-patient values (sums are exact, [`stats::ExactSum`]), so a run is
//! bit-identical for any thread count and the union of `--shard i/n` runs equals the
//! unsharded run, summaries included.
//!
//! ## Confidence intervals (95%)
//!
//! * Proportions: Wilson score, `(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`.
//! * Means: `x̄ ± t(0.975, n-1) s / sqrt(n)`.
//! * Medians: order statistics `[x_(l), x_(n+1-l)]`, `l` the largest rank with
//!   `P(Bin(n, 1/2) <= l - 1) <= 0.025` (distribution-free).
//! * Time to event: Kaplan–Meier with Greenwood variance; pointwise limits on the
//!   log(-log) scale; the median's interval by Brookmeyer–Crowley (the times at which the
//!   pointwise limits cross 0.5). Censoring at the end of follow-up.
//!
//! ## Failure is data
//!
//! A patient whose parameters are unusable, whose simulation fails, or for whom no candidate
//! is accepted keeps a row with a `status` (`invalid_parameters`, `solver_failed`,
//! `too_many_steps`, `non_finite`, `not_enrolled`, ...) and a `reason`; the run goes on and
//! the summaries count the failures per arm.
//!
//! ## Example
//!
//! ```no_run
//! use tabula_trial::{builtin_trial, PreparedTrial, RunOptions, NullSink};
//!
//! let mut trial = builtin_trial("sle_refractory")?;
//! trial.patients = 50;
//! let prepared = PreparedTrial::new(trial)?;
//! let run = prepared.run(&RunOptions::default(), &mut NullSink)?;
//! for arm in run.summaries(&prepared.trial, Default::default()) {
//!     println!("{}: {} ok of {}", arm.arm, arm.ok, arm.patients);
//! }
//! # Ok::<(), tabula_trial::TrialError>(())
//! ```

#![warn(missing_docs)]

pub mod endpoint;
mod error;
pub mod merge;
pub mod output;
mod parse;
pub mod population;
mod report;
pub mod rng;
pub mod runner;
pub mod spec;
pub mod stats;
pub mod summary;

pub use error::{Result, TrialError};
pub use merge::merge_shards;
pub use output::{FileSink, Format, OutputOptions, Provenance};
pub use parse::{
    builtin_trial, cholesky, load_trial, load_trial_file, load_trial_str, ScenarioLibrary, TrialRef,
};
pub use runner::{
    MemorySink, NullSink, PreparedTrial, RunOptions, Shard, TrialRun, TrialSink, STATUS_INTERNAL,
    STATUS_NOT_ENROLLED, STATUS_OK,
};
pub use spec::Trial;
pub use summary::ArmSummary;

use std::path::PathBuf;

use tabula_output::Table;

/// What an in-memory run returns (for bindings and calibration).
#[derive(Debug)]
pub struct InMemoryResult {
    /// One row per arm and patient (schema: [`runner::patient_schema`]).
    pub patients: Table,
    /// One summary per arm.
    pub summaries: Vec<ArmSummary>,
    /// The summary table (one row per arm and endpoint).
    pub summary_table: Table,
    /// Accumulators, mergeable with other shards.
    pub run: TrialRun,
}

impl PreparedTrial {
    /// Runs and keeps the per-patient table in memory.
    pub fn run_in_memory(&self, options: &RunOptions<'_>) -> Result<InMemoryResult> {
        let mut sink = MemorySink::new(self);
        let run = self.run(options, &mut sink)?;
        let summaries = run.summaries(&self.trial, options.km_interval);
        let summary_table = output::summary_table(&self.trial, &summaries)?;
        Ok(InMemoryResult {
            patients: sink.into_table()?,
            summaries,
            summary_table,
            run,
        })
    }

    /// Runs for summaries only (nothing per patient is kept): the fast path for calibration.
    pub fn summarize(&self, options: &RunOptions<'_>) -> Result<Vec<ArmSummary>> {
        let run = self.run(options, &mut NullSink)?;
        Ok(run.summaries(&self.trial, options.km_interval))
    }

    /// Runs and writes every output file into `out.dir`; returns the run and the paths.
    pub fn run_to_dir(
        &self,
        options: &RunOptions<'_>,
        out: &OutputOptions,
        provenance: &Provenance,
    ) -> Result<(TrialRun, Vec<PathBuf>)> {
        std::fs::create_dir_all(&out.dir).map_err(|e| TrialError::Read {
            path: out.dir.display().to_string(),
            message: format!("cannot create the directory: {e}"),
        })?;
        let mut sink = FileSink::create(self, out, options.timecourse)?;
        let started = std::time::Instant::now();
        let run = self.run(options, &mut sink)?;
        let mut provenance = provenance.clone();
        provenance.seconds = started.elapsed().as_secs_f64();
        let mut paths = sink.finish()?;
        paths.extend(output::write_results(
            self,
            &run,
            out,
            &provenance,
            options.km_interval,
        )?);
        Ok((run, paths))
    }
}
