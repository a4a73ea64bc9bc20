//! Running targets: every trial a target set needs is read and compiled once, run in memory,
//! and each target's endpoint is summarised over its arm's virtual patients and judged by its
//! rule.
//!
//! A [`Harness`] holds the trials and can be evaluated any number of times with different
//! parameter values (typical values and variability): the calibration objective is an
//! evaluation of a harness. Compiled trials are kept in a pool and reused, so repeated
//! evaluations do not recompile; every evaluation sets all of its parameter values, so the
//! result does not depend on which pooled trial ran it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use tabula_library::{Catalog, Kind};
use tabula_model::error::{did_you_mean, Diagnostics, Location};
use tabula_model::ModelError;
use tabula_output::Column;
use tabula_trial::spec::EndpointType;
use tabula_trial::{load_trial, load_trial_str, PreparedTrial, RunOptions, Trial, TrialRef};

use crate::error::{Result, ValidateError};
use crate::rules::{judge, Verdict};
use crate::stats::Summary;
use crate::target::{Design, Observed, Rule, Statistic, Target};

/// Overrides applied to every trial a run uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Virtual patients per arm (default: each trial file's `patients`).
    pub patients: Option<u64>,
    /// Seed (default: each trial file's `seed`).
    pub seed: Option<u64>,
}

/// Parameter values for one evaluation: typical values and variability (log-normal omega,
/// or the SD of a normal or logit-normal population variable). Names that a trial does not
/// have are ignored by that trial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `(parameter, typical value)`.
    pub typical: Vec<(String, f64)>,
    /// `(population variable, omega or SD)`.
    pub variability: Vec<(String, f64)>,
    /// `(parameter, factor)`: the typical value in each arm's model times the factor (for
    /// mechanism knock-outs; applied after `typical`).
    pub scale: Vec<(String, f64)>,
}

impl Overrides {
    fn names(&self) -> Vec<String> {
        self.typical
            .iter()
            .map(|(n, _)| format!("t:{n}"))
            .chain(self.variability.iter().map(|(n, _)| format!("v:{n}")))
            .chain(self.scale.iter().map(|(n, _)| format!("s:{n}")))
            .collect()
    }
}

/// What happened to one target.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The target does not count (see its `reason`).
    NotUsable,
    /// The target was simulated and judged.
    Evaluated {
        /// The summary of the per-patient values in the target's arm.
        summary: Summary,
        /// The rule's verdict.
        verdict: Verdict,
        /// Patients whose simulation failed (status other than `ok`).
        failed: usize,
    },
    /// The target could not be evaluated (its trial failed to run).
    Error(String),
}

/// A target with its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetResult {
    /// The target.
    pub target: Target,
    /// What happened.
    pub outcome: Outcome,
}

impl TargetResult {
    /// `Some(true)` passed, `Some(false)` failed (including errors), `None` not usable.
    pub fn passed(&self) -> Option<bool> {
        match &self.outcome {
            Outcome::NotUsable => None,
            Outcome::Evaluated { verdict, .. } => Some(verdict.passed),
            Outcome::Error(_) => Some(false),
        }
    }

    /// The summary, when evaluated.
    pub fn summary(&self) -> Option<&Summary> {
        match &self.outcome {
            Outcome::Evaluated { summary, .. } => Some(summary),
            _ => None,
        }
    }
}

/// Counts of a validation run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Usable targets reproduced.
    pub passed: usize,
    /// Usable targets not reproduced (or not evaluable).
    pub failed: usize,
    /// Targets that do not count.
    pub not_usable: usize,
}

impl Tally {
    /// Counts the results.
    pub fn of(results: &[TargetResult]) -> Tally {
        let mut t = Tally {
            passed: 0,
            failed: 0,
            not_usable: 0,
        };
        for r in results {
            match r.passed() {
                Some(true) => t.passed += 1,
                Some(false) => t.failed += 1,
                None => t.not_usable += 1,
            }
        }
        t
    }

    /// Passed / (passed + failed).
    pub fn pass_rate(&self) -> f64 {
        self.passed as f64 / (self.passed + self.failed).max(1) as f64
    }
}

struct Pool {
    names: Vec<String>,
    free: Vec<PreparedTrial>,
}

struct Slot {
    /// How the trial is referred to (name or path), for messages.
    label: String,
    trial: Trial,
    pool: Mutex<Pool>,
    done: AtomicU64,
}

/// The trials a set of targets needs, ready to be evaluated repeatedly.
pub struct Harness {
    targets: Vec<Target>,
    /// Slot of each target.
    slot_of: Vec<usize>,
    slots: Vec<Slot>,
}

/// The text of the validation index (`library/validation/index.toml`), listing the built-in
/// target and trial files (the embedded library cannot list a directory).
fn index(catalog: &Catalog, path: &str) -> Result<toml::Table> {
    let text = catalog.data_file(path).ok_or_else(|| {
        ValidateError::Input(format!(
            "the library has no {path} (the list of built-in files)"
        ))
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        ValidateError::Invalid(ModelError::single(
            None,
            path,
            format!("not valid TOML: {}", e.message()),
        ))
    })
}

/// The file names listed under `key` in an index.
fn listed(table: &toml::Table, key: &str) -> Vec<String> {
    table
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the built-in validation trials (`library/validation/trials/<name>.toml`).
pub fn validation_trial_names(catalog: &Catalog) -> Vec<String> {
    index(catalog, "validation/index.toml")
        .map(|t| {
            listed(&t, "trials")
                .iter()
                .map(|p| {
                    p.trim_start_matches("trials/")
                        .trim_end_matches(".toml")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every built-in target, in the order of the index (`library/validation/index.toml`).
pub fn builtin_targets(catalog: &Catalog) -> Result<Vec<Target>> {
    let idx = index(catalog, "validation/index.toml")?;
    let mut all: Vec<Target> = Vec::new();
    let mut diags = Diagnostics::default();
    for file in listed(&idx, "targets") {
        let path = format!("validation/{file}");
        let Some(text) = catalog.data_file(&path) else {
            diags.push(
                None,
                "targets",
                format!("validation/index.toml lists {file}, which the library does not have"),
            );
            continue;
        };
        match crate::target::load_target_str(
            &tabula_model::library_source_name(catalog, &path),
            text,
        ) {
            Ok(ts) => all.extend(ts),
            Err(e) => diags.extend_from(e),
        }
    }
    check_unique(&all, &mut diags);
    Ok(diags.finish(all)?)
}

/// Reads targets from a file or from every `.toml` file of a directory (sorted by name).
pub fn targets_from_path(path: &Path) -> Result<Vec<Target>> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| {
            ValidateError::Invalid(ModelError::Io {
                path: path.display().to_string(),
                source: e,
            })
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(ValidateError::Input(format!(
                "{} contains no .toml target files",
                path.display()
            )));
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut all = Vec::new();
    let mut diags = Diagnostics::default();
    for f in files {
        match crate::target::load_target_file(&f) {
            Ok(ts) => all.extend(ts),
            Err(e) => diags.extend_from(e),
        }
    }
    check_unique(&all, &mut diags);
    Ok(diags.finish(all)?)
}

fn check_unique(all: &[Target], diags: &mut Diagnostics) {
    for (i, t) in all.iter().enumerate() {
        if let Some(first) = all[..i].iter().find(|p| p.id == t.id) {
            if first.location.file != t.location.file {
                diags.push(
                    Some(t.location.clone()),
                    "target.id",
                    format!("target `{}` is also defined at {}", t.id, first.location),
                );
            }
        }
    }
}

/// Keeps the targets whose id is in `ids` (in the targets' order); an unknown id is an error
/// with a hint.
pub fn select(targets: Vec<Target>, ids: &[String]) -> Result<Vec<Target>> {
    if ids.is_empty() {
        return Ok(targets);
    }
    for id in ids {
        if !targets.iter().any(|t| &t.id == id) {
            let hint = did_you_mean(id, targets.iter().map(|t| t.id.as_str()));
            return Err(ValidateError::Input(format!(
                "no target with id `{id}`{hint}; `tabula validate --list` shows them"
            )));
        }
    }
    Ok(targets
        .into_iter()
        .filter(|t| ids.contains(&t.id))
        .collect())
}

/// Loads the trial a design names: a path ending in `.toml` (relative to the target file), a
/// validation trial (`validation/trials/<name>.toml` in the library) or a built-in trial.
pub fn resolve_trial(design: &Design, catalog: &Catalog) -> std::result::Result<Trial, ModelError> {
    let name = design.trial.as_str();
    if name.ends_with(".toml") {
        let path = match &design.base_dir {
            Some(dir) => dir.join(name),
            None => Path::new(name).to_path_buf(),
        };
        if !path.is_file() {
            return Err(ModelError::single(
                Some(design.locations[0].clone()),
                "trial",
                format!("no trial file {}", path.display()),
            ));
        }
        return load_trial(TrialRef::File(&path), catalog);
    }
    let data = format!("validation/trials/{name}.toml");
    if let Some(text) = catalog.data_file(&data) {
        return load_trial_str(
            &tabula_model::library_source_name(catalog, &data),
            text,
            catalog,
        );
    }
    if let Some(text) = catalog.get(Kind::Trial, name) {
        return load_trial(TrialRef::Builtin(name, text), catalog);
    }
    let mut names = validation_trial_names(catalog);
    names.extend(catalog.list(Kind::Trial).into_iter().map(|(n, _)| n));
    let hint = did_you_mean(name, names.iter().map(String::as_str));
    Err(ModelError::single(
        Some(design.locations[0].clone()),
        "trial",
        format!(
            "no validation trial or built-in trial named \"{name}\"{hint}; \
             give a built-in name or a path ending in .toml"
        ),
    ))
}

fn located(diags: &mut Diagnostics, loc: &Location, field: &str, msg: String) {
    diags.push(Some(loc.clone()), field, msg);
}

/// Memory available to a new allocation, from `/proc/meminfo` (`MemAvailable`); `None` where
/// the system does not say.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Checks the unit of a target's observed values against its endpoint and converts times to
/// the trial's time unit (a median of 6 weeks compared with an endpoint in days becomes 42).
/// Units of time are the only ones converted: other units are descriptive text.
fn observed_in_trial_unit(
    obs: &mut Observed,
    endpoint: &tabula_trial::spec::Endpoint,
    time_unit: &str,
) -> std::result::Result<(), String> {
    if obs.unit.trim().is_empty() || obs.events.is_some() {
        return Ok(());
    }
    let factor = match (
        tabula_model::Unit::parse(obs.unit.trim()),
        tabula_model::Unit::parse(time_unit),
    ) {
        (Ok(u), Ok(t)) => u.factor_to(&t),
        _ => None,
    };
    match (endpoint.measures_time(), factor) {
        (true, Some(f)) => {
            if f != 1.0 {
                obs.scale(f);
                obs.unit = time_unit.to_string();
            }
            Ok(())
        }
        (true, None) => Err(format!(
            "\"{}\" is not a unit of time, but endpoint `{}` is a time (in {time_unit}); expected day, week, month or year",
            obs.unit, endpoint.name
        )),
        (false, Some(_)) => Err(format!(
            "\"{}\" is a unit of time, but endpoint `{}` is not a time (it is {}); expected the unit of its values",
            obs.unit,
            endpoint.name,
            endpoint.value_type().name()
        )),
        (false, None) => Ok(()),
    }
}

/// The coverage of the simulated interval a rule reports.
fn level_of(rule: Option<&Rule>) -> f64 {
    match rule {
        Some(Rule::ObservedInInterval { level }) => *level,
        _ => 0.9,
    }
}

impl Harness {
    /// Reads and checks the trial of every usable target (arms and endpoints must exist; rules
    /// on proportions need a binary endpoint or a `responder` transform). Unusable targets are
    /// ignored.
    pub fn new(targets: &[Target], catalog: &Catalog, settings: &Settings) -> Result<Harness> {
        let mut diags = Diagnostics::default();
        let mut slots: Vec<Slot> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut kept = Vec::new();
        let mut slot_of = Vec::new();
        for t in targets.iter().filter(|t| t.usable) {
            let Some(d) = &t.design else { continue };
            let key = match (&d.base_dir, d.trial.ends_with(".toml")) {
                (Some(dir), true) => dir.join(&d.trial).display().to_string(),
                _ => d.trial.clone(),
            };
            let slot = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => match resolve_trial(d, catalog) {
                    Ok(mut trial) => {
                        if let Some(p) = settings.patients {
                            trial.patients = p;
                        }
                        if let Some(s) = settings.seed {
                            trial.seed = s;
                        }
                        keys.push(key);
                        slots.push(Slot {
                            label: d.trial.clone(),
                            trial,
                            pool: Mutex::new(Pool {
                                names: Vec::new(),
                                free: Vec::new(),
                            }),
                            done: AtomicU64::new(0),
                        });
                        slots.len() - 1
                    }
                    Err(e) => {
                        diags.extend_from(e);
                        continue;
                    }
                },
            };
            let trial = &slots[slot].trial;
            if trial.arm(&d.arm).is_none() {
                let hint = did_you_mean(&d.arm, trial.arms.iter().map(|a| a.name.as_str()));
                let arms: Vec<&str> = trial.arms.iter().map(|a| a.name.as_str()).collect();
                located(
                    &mut diags,
                    &d.locations[1],
                    "arm",
                    format!(
                        "trial `{}` has no arm \"{}\"{hint}; its arms: {}",
                        d.trial,
                        d.arm,
                        arms.join(", ")
                    ),
                );
            }
            let endpoint_names: Vec<&str> =
                trial.endpoints.iter().map(|e| e.name.as_str()).collect();
            let mut check_endpoint =
                |name: &str, loc: &Location, field: &str| -> Option<EndpointType> {
                    match trial.endpoints.iter().find(|e| e.name == name) {
                        Some(e) => Some(e.value_type()),
                        None => {
                            let hint = did_you_mean(name, endpoint_names.iter().copied());
                            located(
                                &mut diags,
                                loc,
                                field,
                                format!(
                                "trial `{}` has no endpoint \"{name}\"{hint}; its endpoints: {}",
                                d.trial,
                                endpoint_names.join(", ")
                            ),
                            );
                            None
                        }
                    }
                };
            let kind = check_endpoint(&d.endpoint, &d.locations[2], "endpoint");
            if let Some(other) = &d.divide_by {
                check_endpoint(other, &d.locations[3], "divide_by");
            }
            if let (Some(kind), Some(rule)) = (kind, &t.rule) {
                if rule.statistic() == Statistic::Proportion
                    && kind != EndpointType::Binary
                    && d.responder.is_none()
                {
                    located(
                        &mut diags,
                        &d.locations[2],
                        "endpoint",
                        format!(
                            "target `{}` compares a proportion, but endpoint \"{}\" is {}; use a \
                             responder endpoint or add `responder = {{ ... }}`",
                            t.id,
                            d.endpoint,
                            kind.name()
                        ),
                    );
                }
            }
            let mut t = t.clone();
            if let Some(e) = trial.endpoints.iter().find(|e| e.name == d.endpoint) {
                if let Err(msg) = observed_in_trial_unit(&mut t.observed, e, &trial.time_unit) {
                    let loc = t
                        .observed
                        .unit_location
                        .clone()
                        .unwrap_or(t.location.clone());
                    located(&mut diags, &loc, "observed.unit", msg);
                }
            }
            kept.push(t);
            slot_of.push(slot);
        }
        diags.finish(())?;
        let harness = Harness {
            targets: kept,
            slot_of,
            slots,
        };
        harness.check_memory()?;
        Ok(harness)
    }

    /// An estimate of the memory the per-patient tables of one evaluation take (the trials
    /// run at the same time and keep every row in memory): 8 bytes per cell.
    pub fn estimated_bytes(&self) -> f64 {
        self.slots
            .iter()
            .map(|s| {
                let t = &s.trial;
                let columns = 2 * t.endpoints.len() + t.population.variables.len() + 6;
                t.patients as f64 * t.arms.len() as f64 * columns as f64 * 8.0
            })
            .sum()
    }

    /// Refuses an evaluation whose per-patient tables cannot fit in the memory available
    /// (where the operating system reports it), naming the population sizes to lower.
    fn check_memory(&self) -> Result<()> {
        let need = self.estimated_bytes();
        let Some(free) = available_memory() else {
            return Ok(());
        };
        if need <= free as f64 {
            return Ok(());
        }
        let sizes: Vec<String> = self
            .slots
            .iter()
            .map(|s| {
                format!(
                    "`{}`: {} patients x {} arms",
                    s.label,
                    s.trial.patients,
                    s.trial.arms.len()
                )
            })
            .collect();
        Err(ValidateError::Input(format!(
            "the per-patient tables of the trials ({}) would need about {need:.2e} bytes of memory, more than the {free} bytes available; lower --patients",
            sizes.join(", ")
        )))
    }

    /// The usable targets this harness evaluates.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The models of every arm of every trial this harness runs (one per distinct model).
    pub fn models(&self) -> Vec<&tabula_model::Model> {
        let mut out: Vec<&tabula_model::Model> = Vec::new();
        for s in &self.slots {
            for a in &s.trial.arms {
                let m = &*a.scenario.model;
                if !out.iter().any(|x| std::ptr::eq(*x, m)) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Total patient simulations of one evaluation (patients x arms, over every trial).
    pub fn patient_runs(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.trial.patients * s.trial.arms.len() as u64)
            .sum()
    }

    /// The trial arm that reproduces usable target `i` (in the order of [`Harness::targets`]).
    pub fn arm_of(&self, i: usize) -> Option<&tabula_trial::spec::Arm> {
        let t = self.targets.get(i)?;
        let d = t.design.as_ref()?;
        let trial = &self.slots[self.slot_of[i]].trial;
        trial.arm(&d.arm).map(|a| &trial.arms[a])
    }

    /// Names of the trials, in the order they are run.
    pub fn trial_names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.label.clone()).collect()
    }

    /// The typical value of a parameter in the first trial arm whose model has it.
    pub fn typical_value(&self, name: &str) -> Option<f64> {
        self.slots.iter().find_map(|s| {
            s.trial.arms.iter().find_map(|a| {
                a.scenario
                    .model
                    .parameter_index(name)
                    .map(|i| a.scenario.parameters[i])
            })
        })
    }

    /// The model parameter (value, range, status, note) in the first arm whose model has it.
    pub fn parameter(&self, name: &str) -> Option<tabula_model::model::Parameter> {
        self.slots.iter().find_map(|s| {
            s.trial.arms.iter().find_map(|a| {
                a.scenario
                    .model
                    .parameter_index(name)
                    .map(|i| a.scenario.model.parameters[i].clone())
            })
        })
    }

    /// The variability (omega or SD) of a population variable in the first trial that has it.
    pub fn variability_value(&self, name: &str) -> Option<f64> {
        use tabula_trial::spec::Dist;
        self.slots.iter().find_map(|s| {
            let j = s.trial.variable(name)?;
            match &s.trial.population.variables[j].dist {
                Some(Dist::LogNormal { omega }) => Some(*omega),
                Some(Dist::Normal { sd, .. }) | Some(Dist::LogitNormal { sd, .. }) => Some(*sd),
                _ => None,
            }
        })
    }

    fn prepared(&self, slot: &Slot, names: &[String]) -> Result<PreparedTrial> {
        {
            let mut pool = slot.pool.lock().unwrap_or_else(|p| p.into_inner());
            if pool.names != names {
                pool.names = names.to_vec();
                pool.free.clear();
            }
            if let Some(p) = pool.free.pop() {
                return Ok(p);
            }
        }
        Ok(PreparedTrial::new(slot.trial.clone())?)
    }

    fn release(&self, slot: &Slot, names: &[String], p: PreparedTrial) {
        let mut pool = slot.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.names == names {
            pool.free.push(p);
        }
    }

    /// Runs every trial with `overrides` and judges every target. A trial that fails to run
    /// turns its targets into [`Outcome::Error`]; nothing else stops the evaluation.
    /// `progress(done, total)` counts patient simulations over all trials.
    pub fn evaluate(
        &self,
        overrides: &Overrides,
        progress: Option<&(dyn Fn(u64, u64) + Sync)>,
    ) -> Vec<TargetResult> {
        let names = overrides.names();
        let total = self.patient_runs();
        for s in &self.slots {
            s.done.store(0, Ordering::Relaxed);
        }
        let per_slot: Vec<std::result::Result<tabula_output::Table, String>> = self
            .slots
            .par_iter()
            .map(|slot| {
                let run = || -> Result<tabula_output::Table> {
                    let mut p = self.prepared(slot, &names)?;
                    for (n, v) in &overrides.typical {
                        let has = p
                            .trial
                            .arms
                            .iter()
                            .any(|a| a.scenario.model.parameter_index(n).is_some());
                        if has {
                            p.set_typical(n, *v)?;
                        }
                    }
                    for (n, f) in &overrides.scale {
                        // From the file's values, not the pooled trial's (already scaled).
                        let base: Vec<Option<f64>> = slot
                            .trial
                            .arms
                            .iter()
                            .map(|a| {
                                a.scenario
                                    .model
                                    .parameter_index(n)
                                    .map(|i| a.scenario.parameters[i])
                            })
                            .collect();
                        if base.iter().any(Option::is_some) {
                            p.map_typical(n, |arm, _| base[arm].unwrap_or(0.0) * f)?;
                        }
                    }
                    for (n, v) in &overrides.variability {
                        if p.trial.variable(n).is_some() {
                            p.set_variability(n, *v)?;
                        }
                    }
                    let report = |done: u64, _t: u64| {
                        slot.done.store(done, Ordering::Relaxed);
                        if let Some(f) = progress {
                            let sum: u64 = self
                                .slots
                                .iter()
                                .map(|s| s.done.load(Ordering::Relaxed))
                                .sum();
                            f(sum, total);
                        }
                    };
                    let options = RunOptions {
                        bands: false,
                        timecourse: false,
                        progress: Some(&report),
                        ..RunOptions::default()
                    };
                    let result = p.run_in_memory(&options);
                    self.release(slot, &names, p);
                    Ok(result?.patients)
                };
                run().map_err(|e| e.to_string())
            })
            .collect();
        self.targets
            .iter()
            .zip(&self.slot_of)
            .map(|(t, &s)| TargetResult {
                target: t.clone(),
                outcome: match &per_slot[s] {
                    Ok(table) => evaluate_target(t, table),
                    Err(e) => {
                        Outcome::Error(format!("trial `{}` failed: {e}", self.slots[s].label))
                    }
                },
            })
            .collect()
    }
}

fn str_column<'a>(table: &'a tabula_output::Table, name: &str) -> Option<&'a [String]> {
    match table.column(name)? {
        Column::Str(v) => Some(v),
        _ => None,
    }
}

fn f64_column<'a>(table: &'a tabula_output::Table, name: &str) -> Option<&'a [f64]> {
    match table.column(name)? {
        Column::F64(v) => Some(v),
        _ => None,
    }
}

/// The per-patient values of a target's endpoint in its arm (`NaN` for patients without a
/// value), after `divide_by` and `responder`, and the number of censored values.
pub fn target_values(
    t: &Target,
    table: &tabula_output::Table,
) -> std::result::Result<(Vec<f64>, usize, usize), String> {
    let d = t.design.as_ref().ok_or("the target has no design")?;
    let arms = str_column(table, "arm").ok_or("the per-patient table has no arm column")?;
    let status = str_column(table, "status").ok_or("the per-patient table has no status column")?;
    let values = f64_column(table, &d.endpoint)
        .ok_or_else(|| format!("no column for endpoint {}", d.endpoint))?;
    let divisor = match &d.divide_by {
        Some(o) => Some(f64_column(table, o).ok_or_else(|| format!("no column for endpoint {o}"))?),
        None => None,
    };
    let events = match table.column(&format!("{}_event", d.endpoint)) {
        Some(Column::Bool(v)) => Some(v.as_slice()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut censored = 0;
    let mut failed = 0;
    for i in 0..arms.len() {
        if arms[i] != d.arm {
            continue;
        }
        if status[i] != tabula_trial::STATUS_OK {
            failed += 1;
            out.push(f64::NAN);
            continue;
        }
        let mut x = values[i];
        if let Some(div) = divisor {
            x /= div[i];
        }
        if let Some(ev) = events {
            if x.is_finite() && !ev[i] {
                censored += 1;
            }
        }
        if let Some((op, thr)) = d.responder {
            if x.is_finite() {
                x = if op.holds(x, thr) { 1.0 } else { 0.0 };
            }
        }
        out.push(x);
    }
    Ok((out, censored, failed))
}

fn evaluate_target(t: &Target, table: &tabula_output::Table) -> Outcome {
    let Some(rule) = &t.rule else {
        return Outcome::Error("the target has no rule".into());
    };
    match target_values(t, table) {
        Ok((values, censored, failed)) => {
            let summary = Summary::of(&values, censored, level_of(Some(rule)));
            let verdict = judge(rule, &t.observed, &summary);
            Outcome::Evaluated {
                summary,
                verdict,
                failed,
            }
        }
        Err(e) => Outcome::Error(e),
    }
}

/// Runs every usable target once with the trial files' parameters; unusable targets are kept
/// in the results (in the given order) as [`Outcome::NotUsable`].
pub fn validate(
    targets: &[Target],
    catalog: &Catalog,
    settings: &Settings,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<Vec<TargetResult>> {
    let harness = Harness::new(targets, catalog, settings)?;
    Ok(with_unusable(
        targets,
        harness.evaluate(&Overrides::default(), progress),
    ))
}

/// Puts the results of a harness evaluation (usable targets only) back among every target, in
/// the order of `targets`; the others become [`Outcome::NotUsable`].
pub fn with_unusable(targets: &[Target], evaluated: Vec<TargetResult>) -> Vec<TargetResult> {
    let mut evaluated = evaluated.into_iter().peekable();
    targets
        .iter()
        .map(|t| match evaluated.peek() {
            Some(r) if t.usable && r.target.id == t.id => evaluated.next().expect("peeked"),
            _ if t.usable => TargetResult {
                target: t.clone(),
                outcome: Outcome::Error("not evaluated (the target has no design)".into()),
            },
            _ => TargetResult {
                target: t.clone(),
                outcome: Outcome::NotUsable,
            },
        })
        .collect()
}
