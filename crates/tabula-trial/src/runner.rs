//! The runner: arms x patients in parallel, deterministic and in bounded memory.
//!
//! Arms run one after another. Within an arm, the shard's patients are cut into fixed-size
//! chunks; a window of chunks is simulated in parallel (rayon), each worker reusing one solver
//! workspace, and the window's results are then consumed **in patient order**: rows are
//! streamed to the sink, endpoint values enter the summary accumulators, band samples are
//! stored. Nothing depends on which thread simulated a patient, so outputs are bit-identical
//! for any number of threads, and a shard's rows are exactly the unsharded run's rows for its
//! patients.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use tabula_compile::{CompiledModel, Workspace};
use tabula_output::{
    Column, ColumnSpec, ColumnType, Table, TableSchema, TimeCourseBatch, TimeCourseLayout, Value,
};
use tabula_solve::{simulate, Simulation, SolveError};

use crate::endpoint::{ArmEndpoints, Outcome, State};
use crate::error::{Result, TrialError};
use crate::population::{PopulationPlan, ScreenScratch};
use crate::rng::{stream, Purpose, SHARED_ARM};
use crate::spec::{Design, EndpointType, Trial};
use crate::stats::KmInterval;
use crate::summary::{ArmAccumulator, ArmSummary};

/// Status of a patient simulated to the end.
pub const STATUS_OK: &str = "ok";
/// Status of a patient for whom no acceptable candidate was found.
pub const STATUS_NOT_ENROLLED: &str = "not_enrolled";
/// Status of a patient whose simulation panicked (a bug; reported, never fatal).
pub const STATUS_INTERNAL: &str = "internal_error";

/// Which part of the population a run covers: patients `[start, end)` of every arm, with
/// `start = N * index / count` and `end = N * (index + 1) / count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `i/n`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            TrialError::Input(format!(
                "--shard expects i/n with 0 <= i < n, found \"{text}\""
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The patient range of this shard among `n`.
    pub fn range(&self, n: u64) -> std::ops::Range<u64> {
        let at = |k: u64| ((u128::from(n) * u128::from(k)) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// A progress callback: `(patients done, patients in the run)`.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// How to run.
#[derive(Clone)]
pub struct RunOptions<'a> {
    /// The part of the population to run.
    pub shard: Shard,
    /// Patients per chunk (the unit of parallel work).
    pub chunk: usize,
    /// Patients per arm whose values all enter the quantiles; beyond it, a subsample.
    pub quantile_cap: u64,
    /// Record time-course bands (when the trial declares them).
    pub bands: bool,
    /// Stream per-patient time courses (when the trial declares them).
    pub timecourse: bool,
    /// Pointwise Kaplan–Meier interval.
    pub km_interval: KmInterval,
    /// Called after every window of chunks.
    pub progress: Option<Progress<'a>>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            shard: Shard::default(),
            chunk: 16,
            quantile_cap: 50_000,
            bands: true,
            timecourse: true,
            km_interval: KmInterval::LogLog,
            progress: None,
        }
    }
}

/// Where per-patient rows and time courses go.
pub trait TrialSink {
    /// A batch of per-patient rows (schema: [`PreparedTrial::patient_schema`]).
    fn patients(&mut self, batch: &Table) -> Result<()>;
    /// A batch of time-course rows (layout: [`PreparedTrial::timecourse_layout`]).
    fn timecourse(&mut self, batch: &TimeCourseBatch) -> Result<()>;
}

/// A sink that keeps every per-patient row in memory (for small trials and bindings).
#[derive(Debug)]
pub struct MemorySink {
    schema: TableSchema,
    columns: Vec<Column>,
    /// Time-course rows, when recorded.
    pub timecourse: TimeCourseBatch,
}

impl MemorySink {
    /// An empty sink for `trial`.
    pub fn new(trial: &PreparedTrial) -> Self {
        let schema = trial.patient_schema();
        MemorySink {
            columns: Table::new(schema.clone()).columns().to_vec(),
            schema,
            timecourse: TimeCourseBatch::default(),
        }
    }

    /// The per-patient table collected so far.
    pub fn into_table(self) -> Result<Table> {
        Ok(Table::from_parts(self.schema, self.columns)?)
    }
}

impl TrialSink for MemorySink {
    fn patients(&mut self, batch: &Table) -> Result<()> {
        for (c, b) in self.columns.iter_mut().zip(batch.columns()) {
            match (c, b) {
                (Column::F64(a), Column::F64(b)) => a.extend_from_slice(b),
                (Column::U64(a), Column::U64(b)) => a.extend_from_slice(b),
                (Column::I64(a), Column::I64(b)) => a.extend_from_slice(b),
                (Column::Str(a), Column::Str(b)) => a.extend_from_slice(b),
                (Column::Bool(a), Column::Bool(b)) => a.extend_from_slice(b),
                _ => {
                    return Err(TrialError::Input(
                        "a batch does not match the per-patient schema".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn timecourse(&mut self, b: &TimeCourseBatch) -> Result<()> {
        let t = &mut self.timecourse;
        t.patient.extend_from_slice(&b.patient);
        t.time.extend_from_slice(&b.time);
        t.observable.extend_from_slice(&b.observable);
        t.value.extend_from_slice(&b.value);
        t.arm.extend_from_slice(&b.arm);
        Ok(())
    }
}

/// A sink that drops everything (summaries only).
#[derive(Debug, Default)]
pub struct NullSink;

impl TrialSink for NullSink {
    fn patients(&mut self, _: &Table) -> Result<()> {
        Ok(())
    }
    fn timecourse(&mut self, _: &TimeCourseBatch) -> Result<()> {
        Ok(())
    }
}

/// Per-arm band samples: the values of the sampled patients at the band times.
#[derive(Clone, Debug)]
pub struct BandAccumulator {
    /// Band times relative to the origin.
    pub times: Vec<f64>,
    /// Output names (or aliases) in band order; `None` where the arm lacks the output.
    pub outputs: Vec<Option<String>>,
    /// `values[k * times.len() + j]`: the sampled values of output `k` at time `j`.
    pub values: Vec<Vec<f64>>,
    /// Patients sampled.
    pub patients: u64,
}

impl BandAccumulator {
    /// Adds another shard's samples.
    pub fn merge(&mut self, other: &BandAccumulator) {
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            a.extend_from_slice(b);
        }
        self.patients += other.patients;
    }

    /// 5th, 50th and 95th percentiles (type 7) of output `k` at every band time.
    pub fn quantiles(&self, k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let nt = self.times.len();
        let mut lo = Vec::with_capacity(nt);
        let mut mid = Vec::with_capacity(nt);
        let mut hi = Vec::with_capacity(nt);
        for j in 0..nt {
            let mut v: Vec<f64> = self.values[k * nt + j]
                .iter()
                .copied()
                .filter(|x| !x.is_nan())
                .collect();
            v.sort_by(f64::total_cmp);
            lo.push(crate::stats::quantile_sorted(&v, 0.05));
            mid.push(crate::stats::quantile_sorted(&v, 0.5));
            hi.push(crate::stats::quantile_sorted(&v, 0.95));
        }
        (lo, mid, hi)
    }
}

/// The outcome of a run: per-arm accumulators (mergeable) and band samples.
#[derive(Clone, Debug)]
pub struct TrialRun {
    /// One accumulator per arm.
    pub arms: Vec<ArmAccumulator>,
    /// Band samples per arm, when recorded.
    pub bands: Option<Vec<BandAccumulator>>,
    /// The shard that was run.
    pub shard: Shard,
    /// Solver steps taken over all patients.
    pub steps: u64,
    /// Right-hand-side evaluations over all patients.
    pub rhs_evals: u64,
}

impl TrialRun {
    /// Per-arm summaries.
    pub fn summaries(&self, trial: &Trial, interval: KmInterval) -> Vec<ArmSummary> {
        self.arms
            .iter()
            .zip(&trial.arms)
            .map(|(a, arm)| a.finish(&arm.name, interval))
            .collect()
    }

    /// Adds another shard's results (same trial, disjoint patients).
    pub fn merge(&mut self, other: &TrialRun) {
        for (a, b) in self.arms.iter_mut().zip(&other.arms) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.bands, &other.bands) {
            for (x, y) in a.iter_mut().zip(b) {
                x.merge(y);
            }
        }
        self.steps += other.steps;
        self.rhs_evals += other.rhs_evals;
    }
}

/// One arm, ready to run.
struct ArmRun {
    model: Arc<CompiledModel>,
    grid: Vec<f64>,
    endpoints: ArmEndpoints,
    noise_outputs: Vec<usize>,
    /// For each output, the screening-model output whose baseline draw it shares.
    baseline_map: Vec<Option<usize>>,
    /// Per grid point: band time index (u32::MAX if none).
    band_slot: Vec<u32>,
    band_outputs: Vec<Option<usize>>,
    band_times: Vec<f64>,
    /// Per grid point: whether it is a time-course time.
    tc_slot: Vec<bool>,
    tc_outputs: Vec<Option<usize>>,
}

/// A trial compiled and ready to run any number of times.
pub struct PreparedTrial {
    /// The trial (with any overrides applied).
    pub trial: Trial,
    plan: PopulationPlan,
    screening: Arc<CompiledModel>,
    arms: Vec<ArmRun>,
}

fn grid_for(times: &mut Vec<f64>, end: f64) -> Vec<f64> {
    let tol = 1e-9 * end.abs().max(1.0);
    times.retain(|t| t.is_finite() && *t >= 0.0 && *t <= end + tol);
    times.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::with_capacity(times.len());
    for &t in times.iter() {
        match out.last() {
            Some(&last) if t - last <= tol => {}
            _ => out.push(t.min(end)),
        }
    }
    out
}

fn regular(origin: f64, end: f64, step: f64) -> Vec<f64> {
    let n = ((end - origin) / step + 1e-9).floor() as u64;
    (0..=n).map(|k| origin + k as f64 * step).collect()
}

fn slot_of(grid: &[f64], t: f64, tol: f64) -> Option<usize> {
    let i = grid.partition_point(|&g| g < t - tol);
    (i < grid.len() && (grid[i] - t).abs() <= tol).then_some(i)
}

impl PreparedTrial {
    /// Compiles every arm's model and the population (including the pilot of the
    /// acceptance–rejection step, if any).
    pub fn new(trial: Trial) -> Result<PreparedTrial> {
        let mut cache: Vec<(String, Arc<CompiledModel>)> = Vec::new();
        let mut compiled = Vec::new();
        for a in &trial.arms {
            // Arms built on the same model file share one compiled model.
            let key = a
                .scenario
                .model
                .files
                .iter()
                .map(|f| format!("{}\u{1}{}", f.name, f.text))
                .collect::<Vec<_>>()
                .join("\u{2}");
            let m = match cache.iter().find(|(k, _)| *k == key) {
                Some((_, m)) => m.clone(),
                None => {
                    let m = Arc::new(a.scenario.compile());
                    cache.push((key, m.clone()));
                    m
                }
            };
            compiled.push(m);
        }
        let screening = compiled[trial.population.screening_arm].clone();
        let plan = PopulationPlan::new(&trial, &screening);
        plan.check_enrolment().map_err(TrialError::Input)?;
        let screen_names: Vec<&str> = screening
            .model()
            .outputs
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        let mut arms = Vec::new();
        for (i, a) in trial.arms.iter().enumerate() {
            let model = compiled[i].clone();
            let endpoints = ArmEndpoints::new(&trial, i);
            let tol = 1e-9 * a.end.abs().max(1.0);
            let mut times = vec![0.0, a.end];
            times.extend(regular(a.origin, a.end, trial.step));
            if let Some((until, step)) = trial.dense {
                times.extend(regular(a.origin, (a.origin + until).min(a.end), step));
            }
            times.extend(endpoints.grid_times());
            let mut band_times = Vec::new();
            if let Some(b) = &trial.bands {
                if a.origin > 0.0 {
                    band_times.push(0.0);
                }
                band_times.extend(regular(a.origin, a.end, b.step));
                times.extend(band_times.iter().copied());
            }
            let mut tc_times = Vec::new();
            if let Some(tc) = &trial.timecourse {
                if a.origin > 0.0 {
                    tc_times.push(0.0);
                }
                tc_times.extend(regular(a.origin, a.end, tc.step));
                times.extend(tc_times.iter().copied());
            }
            let grid = grid_for(&mut times, a.end);
            let mut band_slot = vec![u32::MAX; grid.len()];
            for (j, &t) in band_times.iter().enumerate() {
                if let Some(g) = slot_of(&grid, t, tol) {
                    band_slot[g] = j as u32;
                }
            }
            let mut tc_slot = vec![false; grid.len()];
            for &t in &tc_times {
                if let Some(g) = slot_of(&grid, t, tol) {
                    tc_slot[g] = true;
                }
            }
            let outputs = &model.model().outputs;
            let noise_outputs = if trial.noise {
                outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.error.is_some())
                    .map(|(j, _)| j)
                    .collect()
            } else {
                Vec::new()
            };
            let baseline_map = outputs
                .iter()
                .map(|o| screen_names.iter().position(|n| *n == o.name))
                .collect();
            let band_outputs = trial
                .bands
                .as_ref()
                .map(|b| b.outputs.iter().map(|o| a.resolve_output(o)).collect())
                .unwrap_or_default();
            let tc_outputs = trial
                .timecourse
                .as_ref()
                .map(|b| b.outputs.iter().map(|o| a.resolve_output(o)).collect())
                .unwrap_or_default();
            arms.push(ArmRun {
                model,
                grid,
                endpoints,
                noise_outputs,
                baseline_map,
                band_slot,
                band_outputs,
                band_times: band_times.iter().map(|t| t - a.origin).collect(),
                tc_slot,
                tc_outputs,
            });
        }
        Ok(PreparedTrial {
            trial,
            plan,
            screening,
            arms,
        })
    }

    /// The population plan (acceptance statistics, typical values).
    pub fn population(&self) -> &PopulationPlan {
        &self.plan
    }

    /// The compiled model of arm `arm`.
    pub fn model(&self, arm: usize) -> &CompiledModel {
        &self.arms[arm].model
    }

    /// Band times of arm `arm`, relative to its origin.
    pub fn band_times(&self, arm: usize) -> &[f64] {
        &self.arms[arm].band_times
    }

    /// The assessment grid of arm `arm` (simulation times).
    pub fn grid(&self, arm: usize) -> &[f64] {
        &self.arms[arm].grid
    }

    /// Replaces a parameter's typical value in every arm whose model has it; an error if no
    /// arm has it. (For calibration: the compiled models are reused.)
    pub fn set_typical(&mut self, name: &str, value: f64) -> Result<()> {
        self.map_typical(name, |_, _| value)
    }

    /// Replaces a parameter's typical value arm by arm: `value(arm, current)` is the new value
    /// in arm `arm` (for arms whose model has it); an error if no arm has it or a value is not
    /// finite.
    pub fn map_typical(&mut self, name: &str, value: impl Fn(usize, f64) -> f64) -> Result<()> {
        let mut n = 0;
        for (k, a) in self.trial.arms.iter_mut().enumerate() {
            if let Some(i) = a.scenario.model.parameter_index(name) {
                let v = value(k, a.scenario.parameters[i]);
                if !v.is_finite() {
                    return Err(TrialError::Input(format!(
                        "typical value of `{name}` must be finite"
                    )));
                }
                a.scenario.parameters[i] = v;
                n += 1;
            }
        }
        if n == 0 {
            return Err(TrialError::Input(format!(
                "no arm's model has a parameter `{name}`"
            )));
        }
        // Rebuild the population: typical values enter every draw and the pilot.
        self.plan = PopulationPlan::new(&self.trial, &self.screening);
        Ok(())
    }

    /// Replaces the variability of a population variable: `omega` for log-normal, `sd` for
    /// normal, logit-normal; an error for unknown variables.
    pub fn set_variability(&mut self, name: &str, spread: f64) -> Result<()> {
        use crate::spec::Dist;
        let Some(j) = self.trial.variable(name) else {
            return Err(TrialError::Input(format!(
                "`{name}` is not a population variable"
            )));
        };
        if !(spread.is_finite() && spread >= 0.0) {
            return Err(TrialError::Input(format!(
                "variability of `{name}` must be >= 0"
            )));
        }
        match &mut self.trial.population.variables[j].dist {
            Some(Dist::LogNormal { omega }) => *omega = spread,
            Some(Dist::Normal { sd, .. }) | Some(Dist::LogitNormal { sd, .. }) => *sd = spread,
            _ => {
                return Err(TrialError::Input(format!(
                    "`{name}` has no variability to set (uniform or a fixed relation)"
                )))
            }
        }
        self.plan = PopulationPlan::new(&self.trial, &self.screening);
        Ok(())
    }

    /// A rough estimate of the bytes a run writes: 8 bytes per cell of the per-patient table
    /// and of the per-patient time courses (the actual files are usually smaller, compressed).
    /// Lets a caller refuse a population that cannot fit on disk before it starts.
    pub fn estimated_output_bytes(&self, options: &RunOptions<'_>) -> f64 {
        let range = options.shard.range(self.trial.patients);
        let per_arm = (range.end - range.start) as f64;
        let mut bytes = per_arm * self.arms.len() as f64 * self.patient_schema().len() as f64 * 8.0;
        if options.timecourse && self.trial.timecourse.is_some() {
            for a in &self.arms {
                let points = a.tc_slot.iter().filter(|x| **x).count() as f64;
                // patient, time, observable, value, arm
                bytes += per_arm * points * a.tc_outputs.len() as f64 * 5.0 * 8.0;
            }
        }
        bytes
    }

    /// The schema of the per-patient table.
    pub fn patient_schema(&self) -> TableSchema {
        patient_schema(&self.trial)
    }

    /// The layout of the time-course table.
    pub fn timecourse_layout(&self) -> Option<TimeCourseLayout> {
        self.trial.timecourse.as_ref().map(|tc| {
            TimeCourseLayout::new(tc.outputs.clone())
                .with_arms(self.trial.arms.iter().map(|a| a.name.clone()))
                .with_time_unit(self.trial.time_unit.clone())
        })
    }

    /// Runs the trial (or one shard of it), streaming rows to `sink`.
    pub fn run(&self, options: &RunOptions<'_>, sink: &mut dyn TrialSink) -> Result<TrialRun> {
        let trial = &self.trial;
        let n = trial.patients;
        let range = options.shard.range(n);
        let per_arm = range.end - range.start;
        let total = per_arm * trial.arms.len() as u64;
        let stride = n.div_ceil(options.quantile_cap.max(1));
        let types: Vec<EndpointType> = trial.endpoints.iter().map(|e| e.value_type()).collect();
        let record_bands = options.bands && trial.bands.is_some();
        let band_stride = trial
            .bands
            .as_ref()
            .map_or(1, |b| n.div_ceil(b.max_patients.max(1)));
        let record_tc = options.timecourse && trial.timecourse.is_some();
        let schema = self.patient_schema();
        // Bound what is in flight: at most about 2^19 time-course rows (or 8 chunks per
        // thread without time courses). Chunking never changes results, only memory.
        let threads = rayon::current_num_threads().max(1) as u64;
        let tc_rows = if record_tc {
            let a = &self.arms;
            a.iter()
                .map(|r| r.tc_slot.iter().filter(|x| **x).count() * r.tc_outputs.len())
                .max()
                .unwrap_or(0) as u64
        } else {
            0
        };
        const BUDGET: u64 = 1 << 19;
        let mut chunk = options.chunk.max(1) as u64;
        let mut window = threads * 8;
        if tc_rows > 0 {
            chunk = chunk.min((BUDGET / (threads * 4 * tc_rows)).max(1));
            window = (BUDGET / (chunk * tc_rows)).clamp(threads, threads * 8);
        }
        let mut done = 0;
        let mut run = TrialRun {
            arms: Vec::new(),
            bands: record_bands.then(Vec::new),
            shard: options.shard,
            steps: 0,
            rhs_evals: 0,
        };
        for (ai, arm) in self.arms.iter().enumerate() {
            let mut acc = ArmAccumulator::new(&types, stride);
            let mut bands = record_bands.then(|| {
                let b = trial.bands.as_ref().expect("checked");
                BandAccumulator {
                    times: arm.band_times.clone(),
                    outputs: b
                        .outputs
                        .iter()
                        .zip(&arm.band_outputs)
                        .map(|(name, o)| o.map(|_| name.clone()))
                        .collect(),
                    values: vec![Vec::new(); b.outputs.len() * arm.band_times.len()],
                    patients: 0,
                }
            });
            // One window of chunks at a time: the list of all chunks of a large population
            // would itself be large (2^40 patients in 16-patient chunks: 1 TB).
            let span = chunk * window;
            let mut start = range.start;
            while start < range.end {
                let stop = start.saturating_add(span).min(range.end);
                let win: Vec<(u64, u64)> = (start..stop)
                    .step_by(chunk as usize)
                    .map(|s| (s, (s + chunk).min(stop)))
                    .collect();
                start = stop;
                let results: Vec<ChunkResult> = win
                    .par_iter()
                    .map_init(
                        || self.scratch(ai),
                        |scratch, &(s, e)| {
                            self.run_chunk(ai, s, e, scratch, record_bands, band_stride, record_tc)
                        },
                    )
                    .collect();
                for r in results {
                    let mut batch = Table::new(schema.clone());
                    for p in &r.patients {
                        acc.add(
                            p.index,
                            p.status,
                            &p.reason,
                            u64::from(p.screened),
                            &p.outcomes,
                        );
                        push_row(&mut batch, trial, ai, p)?;
                        run.steps += p.steps;
                        run.rhs_evals += p.rhs;
                        if let (Some(b), Some(values)) = (&mut bands, &p.band_values) {
                            b.patients += 1;
                            for (slot, v) in b.values.iter_mut().zip(values) {
                                slot.push(*v);
                            }
                        }
                    }
                    sink.patients(&batch)?;
                    if !r.timecourse.is_empty() {
                        sink.timecourse(&r.timecourse)?;
                    }
                    done += r.patients.len() as u64;
                }
                if let Some(p) = options.progress {
                    p(done, total);
                }
            }
            run.arms.push(acc);
            if let (Some(all), Some(b)) = (&mut run.bands, bands) {
                all.push(b);
            }
        }
        Ok(run)
    }

    fn scratch(&self, arm: usize) -> Scratch {
        let m = &self.arms[arm].model;
        Scratch {
            ws: m.workspace(),
            screen: self.plan.scratch(&self.screening),
            params: Vec::new(),
            values: vec![0.0; self.trial.population.variables.len()],
            out: vec![0.0; m.n_outputs()],
            base: vec![0.0; m.n_outputs()],
            eps: vec![0.0; m.n_outputs()],
            y0: vec![0.0; m.n_states()],
            states: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_chunk(
        &self,
        arm: usize,
        start: u64,
        end: u64,
        s: &mut Scratch,
        bands: bool,
        band_stride: u64,
        tc: bool,
    ) -> ChunkResult {
        let mut out = ChunkResult {
            patients: Vec::with_capacity((end - start) as usize),
            timecourse: TimeCourseBatch::default(),
        };
        for index in start..end {
            let with_bands = bands && index.is_multiple_of(band_stride);
            let mut tc_batch = TimeCourseBatch::default();
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.run_patient(arm, index, s, with_bands, tc.then_some(&mut tc_batch))
            }));
            let p = match result {
                Ok(p) => p,
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|x| x.to_string()))
                        .unwrap_or_default();
                    // The workspace may be inconsistent: start afresh.
                    *s = self.scratch(arm);
                    tc_batch.clear();
                    PatientResult::failed(
                        index,
                        self.arms[arm].endpoints.len(),
                        STATUS_INTERNAL,
                        format!("the simulation panicked: {msg}"),
                    )
                }
            };
            if p.status == STATUS_OK {
                let b = &tc_batch;
                let t = &mut out.timecourse;
                t.patient.extend_from_slice(&b.patient);
                t.time.extend_from_slice(&b.time);
                t.observable.extend_from_slice(&b.observable);
                t.value.extend_from_slice(&b.value);
                t.arm.extend_from_slice(&b.arm);
            }
            out.patients.push(p);
        }
        out
    }

    fn run_patient(
        &self,
        ai: usize,
        index: u64,
        s: &mut Scratch,
        with_bands: bool,
        mut tc: Option<&mut TimeCourseBatch>,
    ) -> PatientResult {
        let trial = &self.trial;
        let arm = &self.arms[ai];
        let spec = &trial.arms[ai];
        let n_end = arm.endpoints.len();
        let pop_arm = match trial.design {
            Design::Paired => SHARED_ARM,
            Design::Parallel => ai as u32,
        };
        let mut rng = stream(trial.seed, Purpose::Population, pop_arm, index);
        let draw = match self.plan.draw(&mut rng, &self.screening, &mut s.screen) {
            Ok(d) => d,
            Err(ne) => {
                let mut p = PatientResult::failed(index, n_end, STATUS_NOT_ENROLLED, ne.reason);
                p.screened = ne.attempts;
                return p;
            }
        };
        self.plan
            .arm_values(ai, &draw, &mut s.params, &mut s.values);
        let shown: Vec<f64> = s
            .values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if self.plan.in_arm(ai, j) {
                    *v
                } else {
                    f64::NAN
                }
            })
            .collect();
        let model = &*arm.model;
        let mut noise = stream(trial.seed, Purpose::Noise, ai as u32, index);
        let noisy = !arm.noise_outputs.is_empty();

        // The baseline visit: outputs at time 0 before any dose.
        let mut p = PatientResult {
            index,
            status: STATUS_OK,
            reason: String::new(),
            screened: draw.attempts,
            steps: 0,
            rhs: 0,
            projections: 0,
            fallbacks: 0,
            values: shown,
            levels: draw.levels.clone(),
            outcomes: Vec::new(),
            band_values: None,
        };
        if let Err(e) = model.setup(&mut s.ws, &s.params) {
            let e = SolveError::Setup(e);
            p.status = e.status();
            p.reason = e.to_string();
            p.outcomes = vec![missing(); n_end];
            return p;
        }
        model.initial_state(&s.ws, &mut s.y0);
        s.eps.fill(0.0);
        for &j in &arm.noise_outputs {
            s.eps[j] = match arm.baseline_map[j] {
                Some(k) => draw.baseline_eps[k],
                None => noise.sample(StandardNormal),
            };
        }
        model.outputs(
            &mut s.ws,
            0.0,
            &s.y0,
            noisy.then_some(s.eps.as_slice()),
            &mut s.base,
        );

        let nb = arm.band_times.len();
        let mut band_values = with_bands.then(|| vec![f64::NAN; arm.band_outputs.len() * nb]);
        arm.endpoints.start(&mut s.states);
        let sim = Simulation {
            regimen: &spec.scenario.regimen,
            output_times: &arm.grid,
            end: spec.end,
            options: &spec.scenario.options,
        };
        let mut g = 0usize;
        let Scratch {
            ws,
            params,
            out,
            base,
            eps,
            states,
            ..
        } = s;
        let result = simulate(model, ws, params, &sim, &mut |t, y, ws| {
            if noisy {
                for &j in &arm.noise_outputs {
                    eps[j] = noise.sample(StandardNormal);
                }
            }
            model.outputs(ws, t, y, noisy.then_some(eps.as_slice()), out);
            arm.endpoints.update(states, t, out, base);
            if let Some(bv) = band_values.as_mut() {
                let slot = arm.band_slot[g];
                if slot != u32::MAX {
                    for (k, o) in arm.band_outputs.iter().enumerate() {
                        if let Some(o) = o {
                            bv[k * nb + slot as usize] = out[*o];
                        }
                    }
                }
            }
            if let Some(tc) = tc.as_deref_mut() {
                if arm.tc_slot[g] {
                    for (k, o) in arm.tc_outputs.iter().enumerate() {
                        if let Some(o) = o {
                            tc.push_with_arm(index, t - spec.origin, k as u32, out[*o], ai as u32);
                        }
                    }
                }
            }
            g += 1;
        });
        match result {
            Ok(stats) => {
                p.steps = stats.steps as u64;
                p.rhs = stats.rhs_evals as u64;
                p.projections = stats.projections as u64;
                p.fallbacks = stats.fallbacks as u64;
                arm.endpoints.finish(states, base, &mut s.outcomes);
                p.outcomes = s.outcomes.clone();
                p.band_values = band_values;
            }
            Err(e) => {
                p.status = e.status();
                p.reason = e.to_string();
                p.outcomes = vec![missing(); n_end];
            }
        }
        p
    }
}

fn missing() -> Outcome {
    Outcome {
        value: f64::NAN,
        event: false,
        at_limit: false,
    }
}

struct Scratch {
    ws: Workspace,
    screen: ScreenScratch,
    params: Vec<f64>,
    values: Vec<f64>,
    out: Vec<f64>,
    base: Vec<f64>,
    eps: Vec<f64>,
    y0: Vec<f64>,
    states: Vec<State>,
    outcomes: Vec<Outcome>,
}

struct ChunkResult {
    patients: Vec<PatientResult>,
    timecourse: TimeCourseBatch,
}

/// One patient's row before it is written.
#[derive(Clone, Debug)]
struct PatientResult {
    index: u64,
    status: &'static str,
    reason: String,
    screened: u32,
    steps: u64,
    rhs: u64,
    projections: u64,
    fallbacks: u64,
    values: Vec<f64>,
    levels: Vec<usize>,
    outcomes: Vec<Outcome>,
    band_values: Option<Vec<f64>>,
}

impl PatientResult {
    fn failed(index: u64, n_end: usize, status: &'static str, reason: String) -> PatientResult {
        PatientResult {
            index,
            status,
            reason,
            screened: 0,
            steps: 0,
            rhs: 0,
            projections: 0,
            fallbacks: 0,
            values: Vec::new(),
            levels: Vec::new(),
            outcomes: vec![missing(); n_end],
            band_values: None,
        }
    }
}

/// The per-patient table's columns: `arm, patient, status, reason, screened, steps,
/// projections, fallbacks`, one
/// column per population variable and categorical covariate, then one per endpoint (and
/// `<name>_event` for time-to-event endpoints).
pub fn patient_schema(trial: &Trial) -> TableSchema {
    let mut cols = vec![
        ColumnSpec::new("arm", ColumnType::Str),
        ColumnSpec::new("patient", ColumnType::U64).with_description("Patient index (0-based)"),
        ColumnSpec::new("status", ColumnType::Str)
            .with_description("ok, not_enrolled, or why the simulation failed"),
        ColumnSpec::new("reason", ColumnType::Str),
        ColumnSpec::new("screened", ColumnType::U64)
            .with_description("Candidates drawn until one was accepted"),
        ColumnSpec::new("steps", ColumnType::U64).with_description("Solver steps"),
        ColumnSpec::new("projections", ColumnType::U64).with_description(
            "Times a non-negative state fell below its tolerance floor and was projected to zero",
        ),
        ColumnSpec::new("fallbacks", ColumnType::U64).with_description(
            "Segments integrated again to every output time after an implausible dense output",
        ),
    ];
    for v in &trial.population.variables {
        cols.push(ColumnSpec::new(&v.name, ColumnType::F64).with_unit(v.unit.clone()));
    }
    for c in &trial.population.categoricals {
        cols.push(ColumnSpec::new(&c.name, ColumnType::Str));
    }
    for e in &trial.endpoints {
        cols.push(
            ColumnSpec::new(&e.name, ColumnType::F64).with_description(e.description.clone()),
        );
        if e.value_type() == EndpointType::TimeToEvent {
            cols.push(
                ColumnSpec::new(format!("{}_event", e.name), ColumnType::Bool)
                    .with_description("true: event observed; false: censored"),
            );
        }
        if let Some(l) = &e.lower_limit {
            cols.push(
                ColumnSpec::new(format!("{}_below_lod", e.name), ColumnType::Bool)
                    .with_description(format!(
                    "true: the level was below the detection limit {} ({}) and is reported at it",
                    l.value, l.source
                )),
            );
        }
    }
    TableSchema::new(cols).expect("column names are checked when the trial is read")
}

fn push_row(batch: &mut Table, trial: &Trial, arm: usize, p: &PatientResult) -> Result<()> {
    let mut row: Vec<Value<'_>> = vec![
        Value::Str(&trial.arms[arm].name),
        Value::U64(p.index),
        Value::Str(p.status),
        Value::Str(&p.reason),
        Value::U64(u64::from(p.screened)),
        Value::U64(p.steps),
        Value::U64(p.projections),
        Value::U64(p.fallbacks),
    ];
    for j in 0..trial.population.variables.len() {
        row.push(Value::F64(p.values.get(j).copied().unwrap_or(f64::NAN)));
    }
    for (c, cat) in trial.population.categoricals.iter().enumerate() {
        row.push(Value::Str(
            p.levels.get(c).map_or("", |&l| cat.levels[l].as_str()),
        ));
    }
    for (e, o) in trial.endpoints.iter().zip(&p.outcomes) {
        row.push(Value::F64(o.value));
        if e.value_type() == EndpointType::TimeToEvent {
            row.push(Value::Bool(o.event && o.value.is_finite()));
        }
        if e.lower_limit.is_some() {
            row.push(Value::Bool(o.at_limit));
        }
    }
    batch.push_row(&row)?;
    Ok(())
}
