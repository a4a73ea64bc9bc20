//! Bounded minimisation for calibration.
//!
//! * [`CmaEs`]: global search by the covariance matrix adaptation evolution strategy (Hansen
//!   2016), with optional IPOP restarts; the candidates of a generation are evaluated in
//!   parallel.
//! * [`NelderMead`]: derivative-free local refinement (adaptive coefficients of Gao and Han
//!   2012).
//! * [`LevenbergMarquardt`]: bounded least squares with a finite-difference Jacobian whose
//!   columns are evaluated in parallel.
//!
//! All three search the unit cube of a [`ParameterSpace`]: log-scaled
//! parameters are searched in log space, and every evaluated point is inside the bounds. All
//! random draws come from seeded streams and evaluations land in pre-indexed slots, so results
//! are bit-for-bit the same for any rayon pool size.
//!
//! **Failed evaluations** (closure error, non-finite value or panic) count as `+inf`, i.e.
//! worse than every finite value, and are counted in the result
//! ([`OptimResult::failed_evaluations`], with the first message kept). A run in which no
//! evaluation succeeded is an error ([`FitError::NoFiniteEvaluation`]).
//!
//! **Progress.** The `*_observed` methods call an [`Observer`] once per iteration with the
//! iteration number, the evaluations so far and the best value and parameters; returning
//! [`Control::Stop`] ends the run cleanly (e.g. on Ctrl-C).

mod cmaes;
mod levenberg_marquardt;
mod nelder_mead;

pub use cmaes::CmaEs;
pub use levenberg_marquardt::{LeastSquaresResult, LevenbergMarquardt};
pub use nelder_mead::NelderMead;

use crate::error::{FitError, Result};
use crate::eval::evaluate_one;
use crate::space::ParameterSpace;
use rayon::prelude::*;
use std::fmt::Display;

/// What an observer sees after each iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress<'a> {
    /// Iteration (generation for CMA-ES), counted from 1 across restarts.
    pub iteration: usize,
    /// Objective evaluations so far (including failed ones).
    pub evaluations: usize,
    /// Best objective value so far (`+inf` while nothing succeeded).
    pub best_value: f64,
    /// Parameters (physical units) of the best value so far.
    pub best_params: &'a [f64],
    /// Restart number (CMA-ES with restarts; 0 otherwise).
    pub restart: usize,
}

/// An observer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now and return the best point so far.
    Stop,
}

/// Called once per iteration; any `FnMut(&Progress) -> Control` closure is an observer.
pub trait Observer {
    /// Inspects the progress and says whether to continue.
    fn observe(&mut self, progress: &Progress<'_>) -> Control;
}

impl<F: FnMut(&Progress<'_>) -> Control> Observer for F {
    fn observe(&mut self, progress: &Progress<'_>) -> Control {
        self(progress)
    }
}

/// An observer that never stops the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _: &Progress<'_>) -> Control {
        Control::Continue
    }
}

/// Why an optimiser stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The evaluation budget was used up.
    MaxEvaluations,
    /// The iteration (generation) limit was reached.
    MaxIterations,
    /// The best value reached the requested target.
    TargetReached,
    /// Objective values stopped changing by more than the function tolerance.
    FunctionTolerance,
    /// Steps (or the search distribution) shrank below the parameter tolerance.
    ParameterTolerance,
    /// The projected gradient fell below its tolerance (least squares).
    GradientTolerance,
    /// The CMA-ES covariance matrix became too ill-conditioned to continue.
    IllConditioned,
    /// No step reduced the objective even with very strong damping (least squares).
    NoProgress,
    /// The observer asked to stop.
    StoppedByObserver,
}

impl Termination {
    /// True for the criteria that indicate convergence rather than a budget or a request.
    pub fn converged(self) -> bool {
        matches!(
            self,
            Termination::TargetReached
                | Termination::FunctionTolerance
                | Termination::ParameterTolerance
                | Termination::GradientTolerance
        )
    }
}

/// Result of a scalar minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimResult {
    /// Best parameters found (physical units).
    pub params: Vec<f64>,
    /// Objective at `params`.
    pub value: f64,
    /// Iterations (generations) performed.
    pub iterations: usize,
    /// Objective evaluations performed.
    pub evaluations: usize,
    /// Evaluations that failed and were counted as `+inf`.
    pub failed_evaluations: usize,
    /// Message of the first failed evaluation, if any.
    pub first_failure: Option<String>,
    /// Why the run stopped.
    pub termination: Termination,
    /// Restarts performed (CMA-ES IPOP; 0 otherwise).
    pub restarts: usize,
}

/// Book-keeping shared by the scalar optimisers: maps unit points to physical ones, evaluates
/// batches in parallel, counts failures and tracks the best point in evaluation order.
pub(crate) struct Tracker<'a, F> {
    space: &'a ParameterSpace,
    f: &'a F,
    pub(crate) evaluations: usize,
    pub(crate) failed: usize,
    pub(crate) first_failure: Option<String>,
    pub(crate) best_value: f64,
    pub(crate) best_params: Vec<f64>,
}

impl<'a, F, E> Tracker<'a, F>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    pub(crate) fn new(space: &'a ParameterSpace, f: &'a F) -> Self {
        Tracker {
            space,
            f,
            evaluations: 0,
            failed: 0,
            first_failure: None,
            best_value: f64::INFINITY,
            best_params: space
                .parameters()
                .iter()
                .map(|p| p.from_unit(0.5))
                .collect(),
        }
    }

    /// Evaluates the unit points in parallel; failures become `+inf`.
    pub(crate) fn eval_batch(&mut self, units: &[Vec<f64>]) -> Vec<f64> {
        let space = self.space;
        let f = self.f;
        let results: Vec<(Vec<f64>, std::result::Result<f64, String>)> = units
            .par_iter()
            .map(|u| {
                let x: Vec<f64> = space
                    .parameters()
                    .iter()
                    .zip(u)
                    .map(|(p, &v)| p.from_unit(v))
                    .collect();
                let r = evaluate_one(f, &x);
                (x, r)
            })
            .collect();
        let mut values = Vec::with_capacity(results.len());
        for (x, r) in results {
            self.evaluations += 1;
            match r {
                Ok(v) => {
                    if v < self.best_value {
                        self.best_value = v;
                        self.best_params = x;
                    }
                    values.push(v);
                }
                Err(message) => {
                    self.failed += 1;
                    if self.first_failure.is_none() {
                        self.first_failure = Some(message);
                    }
                    values.push(f64::INFINITY);
                }
            }
        }
        values
    }

    pub(crate) fn progress(&self, iteration: usize, restart: usize) -> Progress<'_> {
        Progress {
            iteration,
            evaluations: self.evaluations,
            best_value: self.best_value,
            best_params: &self.best_params,
            restart,
        }
    }

    pub(crate) fn finish(
        self,
        iterations: usize,
        termination: Termination,
        restarts: usize,
    ) -> Result<OptimResult> {
        if !self.best_value.is_finite() {
            return Err(FitError::NoFiniteEvaluation {
                evaluations: self.evaluations,
                message: self.first_failure.unwrap_or_else(|| "none recorded".into()),
            });
        }
        Ok(OptimResult {
            params: self.best_params,
            value: self.best_value,
            iterations,
            evaluations: self.evaluations,
            failed_evaluations: self.failed,
            first_failure: self.first_failure,
            termination,
            restarts,
        })
    }
}

/// Unit coordinates of the optional starting point, or the centre of the cube.
pub(crate) fn start_point(space: &ParameterSpace, x0: Option<&[f64]>) -> Result<Vec<f64>> {
    let mut u = vec![0.5; space.dim()];
    if let Some(x0) = x0 {
        space.check_point("starting point", x0)?;
        space.to_unit(x0, &mut u)?;
    }
    Ok(u)
}

/// Checks that a tolerance is finite and non-negative.
pub(crate) fn check_tolerance(name: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(FitError::setting(
            name,
            value,
            "a finite, non-negative number",
        ));
    }
    Ok(())
}
