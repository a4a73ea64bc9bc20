//! Parallel, order-preserving evaluation of a model over a design, and the failure policy.
//!
//! The model is any closure `Fn(&[f64]) -> Result<f64, E>` that is `Sync`, with `E:
//! Display`. Rows are evaluated in parallel with rayon; each result is written to the slot of
//! its row, so the output is the same whatever the number of threads. Any sum over the results
//! is taken afterwards, sequentially, in row order.
//!
//! # Failures
//!
//! An evaluation *fails* when the closure returns `Err`, returns a non-finite value (NaN or
//! infinity) or panics. A failure never aborts the other evaluations: its slot holds `NaN` and
//! an [`EvaluationFailure`] records the row and the message. What an analysis then does is set
//! by [`FailurePolicy`]:
//!
//! * [`FailurePolicy::Abort`] (default): the analysis returns [`FitError::EvaluationFailed`]
//!   naming the lowest failed row, its parameter values, the message and the failure count.
//! * [`FailurePolicy::Drop`]: the smallest self-contained unit that contains a failure is
//!   dropped (a Saltelli base row with all its `A`, `B` and `A_B^i` points; a Morris trajectory)
//!   and the analysis goes on with the rest; the result reports how many units were dropped and
//!   lists the failures. The estimate is then conditional on the model succeeding, which biases
//!   it if failures cluster in one region of the space.
//!
//! Optimisers always treat a failed evaluation as `+inf` (worse than any finite value) and
//! count it; see [`crate::optimize`].

use crate::error::FitError;
use crate::matrix::Matrix;
use crate::space::ParameterSpace;
use rayon::prelude::*;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an analysis does with failed evaluations (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Stop with [`FitError::EvaluationFailed`] naming the first failed row.
    #[default]
    Abort,
    /// Drop the units (base rows, trajectories) that contain a failure and carry on.
    Drop,
}

/// One failed evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationFailure {
    /// Row of the design.
    pub index: usize,
    /// Why it failed.
    pub message: String,
}

/// Model outputs of a whole design, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluations {
    /// One value per row; `NaN` where the evaluation failed.
    pub values: Vec<f64>,
    /// The failures, by increasing row.
    pub failures: Vec<EvaluationFailure>,
}

impl Evaluations {
    /// Builds evaluations from externally computed outputs: every non-finite value becomes a
    /// failure. Use this when the model was run elsewhere (a cluster, another process).
    pub fn from_values(values: &[f64]) -> Self {
        let failures = values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_finite())
            .map(|(index, v)| EvaluationFailure {
                index,
                message: format!("non-finite model output {v}"),
            })
            .collect();
        Evaluations {
            values: values
                .iter()
                .map(|&v| if v.is_finite() { v } else { f64::NAN })
                .collect(),
            failures,
        }
    }

    /// The recorded failures plus a failure for every non-finite value that was not recorded
    /// (e.g. after editing `values` by hand), by increasing row.
    pub(crate) fn all_failures(&self) -> Vec<EvaluationFailure> {
        let mut recorded = vec![false; self.values.len()];
        for f in &self.failures {
            if let Some(r) = recorded.get_mut(f.index) {
                *r = true;
            }
        }
        let mut failures = self.failures.clone();
        for (index, v) in self.values.iter().enumerate() {
            if !v.is_finite() && !recorded[index] {
                failures.push(EvaluationFailure {
                    index,
                    message: format!("non-finite model output {v}"),
                });
            }
        }
        failures.sort_by_key(|f| f.index);
        failures
    }

    /// The error that [`FailurePolicy::Abort`] reports, if any evaluation failed.
    pub fn first_failure_error(&self, space: &ParameterSpace, points: &Matrix) -> Option<FitError> {
        let first = self.failures.first()?;
        let point = if first.index < points.n_rows() {
            space.describe_point(points.row(first.index))
        } else {
            String::new()
        };
        Some(FitError::EvaluationFailed {
            index: first.index,
            point,
            message: first.message.clone(),
            failed: self.failures.len(),
            total: self.values.len(),
        })
    }
}

/// Evaluates one point, turning errors, non-finite values and panics into `Err(message)`.
pub(crate) fn evaluate_one<F, E>(model: &F, x: &[f64]) -> std::result::Result<f64, String>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E>,
    E: Display,
{
    match catch_unwind(AssertUnwindSafe(|| model(x))) {
        Ok(Ok(v)) if v.is_finite() => Ok(v),
        Ok(Ok(v)) => Err(format!("non-finite model output {v}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic_message(panic.as_ref())),
    }
}

/// Like [`evaluate_one`] for vector-valued functions (residuals).
pub(crate) fn evaluate_vec<F, E>(f: &F, x: &[f64]) -> std::result::Result<Vec<f64>, String>
where
    F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E>,
    E: Display,
{
    match catch_unwind(AssertUnwindSafe(|| f(x))) {
        Ok(Ok(v)) => match v.iter().position(|r| !r.is_finite()) {
            None => Ok(v),
            Some(i) => Err(format!("non-finite residual {} at position {i}", v[i])),
        },
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic_message(panic.as_ref())),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into());
    format!("the model panicked: {text}")
}

/// Evaluates `model` at every row of `points` in parallel; results are in row order and do
/// not depend on the number of threads.
pub fn evaluate<F, E>(points: &Matrix, model: &F) -> Evaluations
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    let results: Vec<std::result::Result<f64, String>> = (0..points.n_rows())
        .into_par_iter()
        .map(|i| evaluate_one(model, points.row(i)))
        .collect();
    let mut values = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (index, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => values.push(v),
            Err(message) => {
                values.push(f64::NAN);
                failures.push(EvaluationFailure { index, message });
            }
        }
    }
    Evaluations { values, failures }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_recorded_not_fatal() {
        let pts = Matrix::from_rows(&[vec![1.0], vec![-1.0], vec![0.0], vec![2.0]]).unwrap();
        let model = |x: &[f64]| -> std::result::Result<f64, String> {
            if x[0] < 0.0 {
                Err("negative".into())
            } else if x[0] > 1.5 {
                panic!("too big")
            } else {
                Ok(1.0 / x[0])
            }
        };
        let ev = evaluate(&pts, &model);
        assert_eq!(ev.values[0], 1.0);
        assert!(ev.values[1].is_nan() && ev.values[2].is_nan() && ev.values[3].is_nan());
        let idx: Vec<usize> = ev.failures.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![1, 2, 3]);
        assert_eq!(ev.failures[0].message, "negative");
        assert!(ev.failures[1].message.contains("non-finite"));
        assert!(ev.failures[2].message.contains("too big"));
    }
}
