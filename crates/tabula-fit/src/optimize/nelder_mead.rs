//! Nelder-Mead simplex search (Nelder and Mead 1965) with the dimension-adaptive coefficients
//! of Gao and Han (2012): reflection 1, expansion `1 + 2/n`, contraction `3/4 - 1/(2n)`, shrink
//! `1 - 1/n` (the classical 1, 2, 1/2, 1/2 for `n < 2`).
//!
//! It works in the unit cube; every trial point is projected onto the cube, so the simplex may
//! flatten against a bound when the optimum lies there. It is meant for local refinement from
//! a good start (e.g. the CMA-ES result), not for global search. The initial simplex and shrink
//! steps are evaluated in parallel.

use super::{
    check_tolerance, start_point, Control, NoObserver, Observer, OptimResult, Termination, Tracker,
};
use crate::error::{FitError, Result};
use crate::space::ParameterSpace;
use std::fmt::Display;

/// Settings of a Nelder-Mead run.
#[derive(Debug, Clone, PartialEq)]
pub struct NelderMead {
    /// Starting point in physical units; `None` starts at the centre of the unit cube.
    pub x0: Option<Vec<f64>>,
    /// Edge length of the initial simplex in unit-cube units.
    pub initial_step: f64,
    /// Evaluation budget.
    pub max_evaluations: usize,
    /// Stop when the values at the vertices span at most this much...
    pub f_tol: f64,
    /// ...and every vertex is within this distance (max norm, unit cube) of the best one.
    pub x_tol: f64,
}

impl Default for NelderMead {
    fn default() -> Self {
        NelderMead {
            x0: None,
            initial_step: 0.05,
            max_evaluations: 5_000,
            f_tol: 1e-12,
            x_tol: 1e-10,
        }
    }
}

impl NelderMead {
    /// Minimises `f` over `space`.
    pub fn minimize<F, E>(&self, space: &ParameterSpace, f: F) -> Result<OptimResult>
    where
        F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
        E: Display,
    {
        self.minimize_observed(space, f, &mut NoObserver)
    }

    /// Minimises `f` over `space`, reporting each iteration to `observer`.
    pub fn minimize_observed<F, E>(
        &self,
        space: &ParameterSpace,
        f: F,
        observer: &mut dyn Observer,
    ) -> Result<OptimResult>
    where
        F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
        E: Display,
    {
        if !(self.initial_step.is_finite() && self.initial_step > 0.0 && self.initial_step <= 1.0) {
            return Err(FitError::setting(
                "initial_step",
                self.initial_step,
                "a step in (0, 1] in unit-cube units",
            ));
        }
        if self.max_evaluations == 0 {
            return Err(FitError::setting("max_evaluations", 0, "at least 1"));
        }
        check_tolerance("f_tol", self.f_tol)?;
        check_tolerance("x_tol", self.x_tol)?;
        let n = space.dim();
        let nf = n as f64;
        let (alpha, beta, gamma, delta) = if n < 2 {
            (1.0, 2.0, 0.5, 0.5)
        } else {
            (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf)
        };
        let u0 = start_point(space, self.x0.as_deref())?;
        let mut tracker = Tracker::new(space, &f);

        let mut simplex = vec![u0.clone()];
        for i in 0..n {
            let mut v = u0.clone();
            v[i] = if v[i] + self.initial_step <= 1.0 {
                v[i] + self.initial_step
            } else {
                v[i] - self.initial_step
            };
            simplex.push(v);
        }
        let mut values = tracker.eval_batch(&simplex);
        let mut iteration = 0;
        let termination = loop {
            // Sort vertices by value; ties keep their previous order.
            let mut idx: Vec<usize> = (0..=n).collect();
            idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
            simplex = idx.iter().map(|&i| simplex[i].clone()).collect();
            values = idx.iter().map(|&i| values[i]).collect();

            let f_spread = values[n] - values[0];
            let x_spread = simplex[1..]
                .iter()
                .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
                .fold(0.0f64, f64::max);
            if f_spread <= self.f_tol && x_spread <= self.x_tol {
                break Termination::FunctionTolerance;
            }
            if x_spread <= self.x_tol * 1e-3 {
                break Termination::ParameterTolerance;
            }
            if tracker.evaluations >= self.max_evaluations {
                break Termination::MaxEvaluations;
            }
            iteration += 1;

            let centroid: Vec<f64> = (0..n)
                .map(|j| simplex[..n].iter().map(|v| v[j]).sum::<f64>() / nf)
                .collect();
            let worst = simplex[n].clone();
            let along = |t: f64| -> Vec<f64> {
                centroid
                    .iter()
                    .zip(&worst)
                    .map(|(c, w)| (c + t * (c - w)).clamp(0.0, 1.0))
                    .collect()
            };
            let xr = along(alpha);
            let fr = tracker.eval_batch(std::slice::from_ref(&xr))[0];
            let mut shrink = false;
            if fr < values[0] {
                let xe = along(alpha * beta);
                let fe = tracker.eval_batch(std::slice::from_ref(&xe))[0];
                if fe < fr {
                    simplex[n] = xe;
                    values[n] = fe;
                } else {
                    simplex[n] = xr;
                    values[n] = fr;
                }
            } else if fr < values[n - 1] {
                simplex[n] = xr;
                values[n] = fr;
            } else if fr < values[n] {
                let xc = along(alpha * gamma);
                let fc = tracker.eval_batch(std::slice::from_ref(&xc))[0];
                if fc <= fr {
                    simplex[n] = xc;
                    values[n] = fc;
                } else {
                    shrink = true;
                }
            } else {
                let xc = along(-gamma);
                let fc = tracker.eval_batch(std::slice::from_ref(&xc))[0];
                if fc < values[n] {
                    simplex[n] = xc;
                    values[n] = fc;
                } else {
                    shrink = true;
                }
            }
            if shrink {
                let best = simplex[0].clone();
                let moved: Vec<Vec<f64>> = simplex[1..]
                    .iter()
                    .map(|v| {
                        v.iter()
                            .zip(&best)
                            .map(|(x, b)| b + delta * (x - b))
                            .collect()
                    })
                    .collect();
                let fm = tracker.eval_batch(&moved);
                for (k, (v, fv)) in moved.into_iter().zip(fm).enumerate() {
                    simplex[k + 1] = v;
                    values[k + 1] = fv;
                }
            }
            if observer.observe(&tracker.progress(iteration, 0)) == Control::Stop {
                break Termination::StoppedByObserver;
            }
        };
        tracker.finish(iteration, termination, 0)
    }
}
