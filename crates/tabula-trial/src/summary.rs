//! Per-arm summaries with 95% confidence intervals, accumulated patient by patient in bounded
//! memory and mergeable across shards with bit-identical results.
//!
//! | type | estimate | interval |
//! |---|---|---|
//! | binary | proportion of evaluable patients | Wilson score |
//! | continuous | mean; median (and 5/25/75/95th percentiles) | Student t for the mean; order statistics (binomial) for the median |
//! | time to event | Kaplan–Meier median | Brookmeyer–Crowley with log-log pointwise limits (Greenwood variance) |
//!
//! Quantiles are exact up to `quantile_cap` patients per arm; beyond it they come from a
//! deterministic subsample (every `ceil(N / cap)`-th patient by index, the same in every shard),
//! and their intervals are computed on that subsample.

use std::collections::BTreeMap;

use crate::endpoint::Outcome;
use crate::spec::EndpointType;
use crate::stats::{
    median_with_ci, quantile_sorted, t_interval, wilson, Estimate, ExactSum, KaplanMeier, KmCounts,
    KmInterval,
};

/// Accumulates one endpoint over the patients of one arm.
#[derive(Clone, Debug)]
pub struct EndpointAccumulator {
    kind: EndpointType,
    stride: u64,
    n: u64,
    missing: u64,
    at_limit: u64,
    sum: ExactSum,
    sum_sq: ExactSum,
    min: f64,
    max: f64,
    sample: Vec<f64>,
    successes: u64,
    km: KmCounts,
}

impl EndpointAccumulator {
    /// An empty accumulator; `stride` selects the patients kept for quantiles (`index % stride
    /// == 0`).
    pub fn new(kind: EndpointType, stride: u64) -> Self {
        EndpointAccumulator {
            kind,
            stride: stride.max(1),
            n: 0,
            missing: 0,
            at_limit: 0,
            sum: ExactSum::new(),
            sum_sq: ExactSum::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sample: Vec::new(),
            successes: 0,
            km: KmCounts::default(),
        }
    }

    /// Adds patient `index`'s outcome (a missing value counts as missing).
    pub fn add(&mut self, index: u64, o: Outcome) {
        if !o.value.is_finite() {
            self.missing += 1;
            return;
        }
        self.n += 1;
        if o.at_limit {
            self.at_limit += 1;
        }
        match self.kind {
            EndpointType::Binary => {
                if o.value >= 0.5 {
                    self.successes += 1;
                }
            }
            EndpointType::TimeToEvent => self.km.add(o.value, o.event),
            EndpointType::Continuous => {
                let x = o.value;
                self.sum.add(x);
                self.sum_sq.add(x * x);
                self.min = self.min.min(x);
                self.max = self.max.max(x);
                if index.is_multiple_of(self.stride) {
                    self.sample.push(x);
                }
            }
        }
    }

    /// Adds another accumulator of the same endpoint (another shard).
    pub fn merge(&mut self, other: &EndpointAccumulator) {
        self.n += other.n;
        self.missing += other.missing;
        self.at_limit += other.at_limit;
        self.sum.merge(&other.sum);
        self.sum_sq.merge(&other.sum_sq);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sample.extend_from_slice(&other.sample);
        self.successes += other.successes;
        self.km.merge(&other.km);
    }

    /// The summary.
    pub fn finish(&self, interval: KmInterval) -> Stats {
        match self.kind {
            EndpointType::Binary => Stats::Binary {
                n: self.n,
                missing: self.missing,
                successes: self.successes,
                proportion: wilson(self.successes, self.n),
            },
            EndpointType::TimeToEvent => {
                let km = self.km.estimate(interval);
                Stats::TimeToEvent {
                    n: self.n,
                    missing: self.missing,
                    events: km.events,
                    median: km.median,
                    curve: km,
                }
            }
            EndpointType::Continuous => {
                let (mean, sd) = t_interval(self.n, self.sum.value(), self.sum_sq.value());
                let mut s = self.sample.clone();
                s.sort_by(f64::total_cmp);
                Stats::Continuous {
                    n: self.n,
                    missing: self.missing,
                    at_limit: self.at_limit,
                    mean,
                    sd,
                    median: median_with_ci(&s),
                    p05: quantile_sorted(&s, 0.05),
                    p25: quantile_sorted(&s, 0.25),
                    p75: quantile_sorted(&s, 0.75),
                    p95: quantile_sorted(&s, 0.95),
                    min: if self.n > 0 { self.min } else { f64::NAN },
                    max: if self.n > 0 { self.max } else { f64::NAN },
                    quantile_sample: s.len() as u64,
                }
            }
        }
    }
}

/// The summary statistics of one endpoint in one arm.
#[derive(Clone, Debug, PartialEq)]
pub enum Stats {
    /// A proportion.
    Binary {
        /// Evaluable patients.
        n: u64,
        /// Patients without a value (failed, not applicable, not assessed).
        missing: u64,
        /// Patients with value 1.
        successes: u64,
        /// Proportion with its Wilson interval.
        proportion: Estimate,
    },
    /// A number per patient.
    Continuous {
        /// Evaluable patients.
        n: u64,
        /// Patients without a value.
        missing: u64,
        /// Patients whose level was below the detection limit (counted in `n` at the limit).
        at_limit: u64,
        /// Mean with its t interval.
        mean: Estimate,
        /// Standard deviation.
        sd: f64,
        /// Median with its order-statistic interval.
        median: Estimate,
        /// 5th percentile.
        p05: f64,
        /// 25th percentile.
        p25: f64,
        /// 75th percentile.
        p75: f64,
        /// 95th percentile.
        p95: f64,
        /// Minimum.
        min: f64,
        /// Maximum.
        max: f64,
        /// Patients the quantiles were computed from (= n unless subsampled).
        quantile_sample: u64,
    },
    /// A time to event.
    TimeToEvent {
        /// Patients at risk.
        n: u64,
        /// Patients not at risk or without a value.
        missing: u64,
        /// Events observed.
        events: u64,
        /// Kaplan–Meier median with its Brookmeyer–Crowley interval.
        median: Estimate,
        /// The whole curve.
        curve: KaplanMeier,
    },
}

impl Stats {
    /// The headline estimate: proportion, median (continuous) or KM median.
    pub fn headline(&self) -> (&'static str, Estimate) {
        match self {
            Stats::Binary { proportion, .. } => ("proportion", *proportion),
            Stats::Continuous { median, .. } => ("median", *median),
            Stats::TimeToEvent { median, .. } => ("km_median", *median),
        }
    }

    /// Evaluable patients.
    pub fn n(&self) -> u64 {
        match self {
            Stats::Binary { n, .. }
            | Stats::Continuous { n, .. }
            | Stats::TimeToEvent { n, .. } => *n,
        }
    }

    /// Patients without a value.
    pub fn missing(&self) -> u64 {
        match self {
            Stats::Binary { missing, .. }
            | Stats::Continuous { missing, .. }
            | Stats::TimeToEvent { missing, .. } => *missing,
        }
    }

    /// The interval method of the headline estimate.
    pub fn method(&self) -> &'static str {
        match self {
            Stats::Binary { .. } => "Wilson score",
            Stats::Continuous { .. } => "order statistics (binomial)",
            Stats::TimeToEvent { .. } => "Kaplan-Meier, Brookmeyer-Crowley (log-log)",
        }
    }
}

/// A failed or non-enrolled patient, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureExample {
    /// Patient index.
    pub patient: u64,
    /// Status.
    pub status: String,
    /// Reason.
    pub reason: String,
}

/// Accumulates one arm.
#[derive(Clone, Debug)]
pub struct ArmAccumulator {
    /// Rows seen.
    pub patients: u64,
    /// Count per status.
    pub status: BTreeMap<String, u64>,
    /// Candidates drawn by enrolled patients.
    pub candidates: ExactSum,
    /// Enrolled patients.
    pub enrolled: u64,
    /// The failures with the lowest patient indices (at most 10).
    pub failures: Vec<FailureExample>,
    /// One accumulator per endpoint.
    pub endpoints: Vec<EndpointAccumulator>,
}

impl ArmAccumulator {
    /// An empty accumulator for endpoints of the given types.
    pub fn new(types: &[EndpointType], stride: u64) -> Self {
        ArmAccumulator {
            patients: 0,
            status: BTreeMap::new(),
            candidates: ExactSum::new(),
            enrolled: 0,
            failures: Vec::new(),
            endpoints: types
                .iter()
                .map(|t| EndpointAccumulator::new(*t, stride))
                .collect(),
        }
    }

    /// Adds one patient row.
    pub fn add(
        &mut self,
        patient: u64,
        status: &str,
        reason: &str,
        screened: u64,
        outcomes: &[Outcome],
    ) {
        self.patients += 1;
        *self.status.entry(status.to_string()).or_insert(0) += 1;
        if status != crate::runner::STATUS_NOT_ENROLLED {
            self.enrolled += 1;
            self.candidates.add(screened as f64);
        }
        if status != crate::runner::STATUS_OK {
            self.note_failure(FailureExample {
                patient,
                status: status.to_string(),
                reason: reason.to_string(),
            });
        }
        for (acc, o) in self.endpoints.iter_mut().zip(outcomes) {
            acc.add(patient, *o);
        }
    }

    fn note_failure(&mut self, f: FailureExample) {
        self.failures.push(f);
        self.failures.sort_by_key(|f| f.patient);
        self.failures.truncate(10);
    }

    /// Adds another accumulator of the same arm.
    pub fn merge(&mut self, other: &ArmAccumulator) {
        self.patients += other.patients;
        for (k, v) in &other.status {
            *self.status.entry(k.clone()).or_insert(0) += v;
        }
        self.candidates.merge(&other.candidates);
        self.enrolled += other.enrolled;
        for f in &other.failures {
            self.note_failure(f.clone());
        }
        for (a, b) in self.endpoints.iter_mut().zip(&other.endpoints) {
            a.merge(b);
        }
    }

    /// The arm's summary.
    pub fn finish(&self, arm: &str, interval: KmInterval) -> ArmSummary {
        ArmSummary {
            arm: arm.to_string(),
            patients: self.patients,
            ok: self
                .status
                .get(crate::runner::STATUS_OK)
                .copied()
                .unwrap_or(0),
            status: self.status.clone(),
            mean_candidates: if self.enrolled > 0 {
                self.candidates.value() / self.enrolled as f64
            } else {
                f64::NAN
            },
            failures: self.failures.clone(),
            endpoints: self.endpoints.iter().map(|e| e.finish(interval)).collect(),
        }
    }
}

/// The summary of one arm.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmSummary {
    /// Arm name.
    pub arm: String,
    /// Patients (rows).
    pub patients: u64,
    /// Patients simulated successfully.
    pub ok: u64,
    /// Count per status (`ok`, `not_enrolled`, `solver_failed`, ...).
    pub status: BTreeMap<String, u64>,
    /// Mean candidates drawn per enrolled patient (1 = no screening losses).
    pub mean_candidates: f64,
    /// Examples of failures (lowest patient indices).
    pub failures: Vec<FailureExample>,
    /// One entry per trial endpoint, in trial order.
    pub endpoints: Vec<Stats>,
}

impl ArmSummary {
    /// Patients whose simulation failed (any status but `ok` and `not_enrolled`).
    pub fn failed(&self) -> u64 {
        self.status
            .iter()
            .filter(|(k, _)| {
                k.as_str() != crate::runner::STATUS_OK
                    && k.as_str() != crate::runner::STATUS_NOT_ENROLLED
            })
            .map(|(_, v)| v)
            .sum()
    }
}
