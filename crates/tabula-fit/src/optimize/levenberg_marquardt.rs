//! Bounded Levenberg-Marquardt for nonlinear least squares `min 1/2 |r(theta)|^2`.
//!
//! The search runs in unit-cube coordinates `u` (log space for log parameters). Each iteration
//! computes the forward-difference Jacobian `J = dr/du` (columns evaluated in parallel) and the
//! damped Gauss-Newton step
//!
//! `(J^T J + lambda diag(J^T J)) delta = -J^T r`         (Marquardt 1963)
//!
//! solved by Cholesky; the trial point is projected onto the cube. A step is accepted when the
//! cost decreases, and `lambda` follows Nielsen's rule: on acceptance
//! `lambda <- lambda max(1/3, 1 - (2 rho - 1)^3)` with `rho` the ratio of actual to predicted
//! reduction, on rejection `lambda <- lambda nu`, `nu <- 2 nu`. Convergence is declared on the
//! projected gradient (`|P(u - g) - u|_inf`), on the relative step or on the relative cost
//! reduction.

use super::{check_tolerance, start_point, Control, NoObserver, Observer, Progress, Termination};
use crate::error::{FitError, Result};
use crate::eval::evaluate_vec;
use crate::linalg::{cholesky, cholesky_solve};
use crate::space::ParameterSpace;
use rayon::prelude::*;
use std::fmt::Display;

/// Settings of a Levenberg-Marquardt run.
#[derive(Debug, Clone, PartialEq)]
pub struct LevenbergMarquardt {
    /// Starting point in physical units; `None` starts at the centre of the unit cube.
    pub x0: Option<Vec<f64>>,
    /// Iteration limit (accepted or rejected steps each count as one iteration).
    pub max_iterations: usize,
    /// Stop when an accepted step lowers the cost by less than this fraction.
    pub f_tol: f64,
    /// Stop when the step is below `x_tol (|u| + x_tol)` in unit-cube coordinates.
    pub x_tol: f64,
    /// Stop when the projected gradient's largest component is below this.
    pub g_tol: f64,
    /// Forward-difference step in unit-cube coordinates.
    pub fd_step: f64,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        LevenbergMarquardt {
            x0: None,
            max_iterations: 500,
            f_tol: 1e-14,
            x_tol: 1e-12,
            g_tol: 1e-12,
            fd_step: 1e-7,
        }
    }
}

/// Result of a least-squares fit.
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquaresResult {
    /// Fitted parameters (physical units).
    pub params: Vec<f64>,
    /// `1/2 sum r_i^2` at `params`.
    pub cost: f64,
    /// Residuals at `params`.
    pub residuals: Vec<f64>,
    /// Iterations performed.
    pub iterations: usize,
    /// Residual-vector evaluations (Jacobian columns included).
    pub evaluations: usize,
    /// Trial evaluations that failed and were treated as rejected steps.
    pub failed_evaluations: usize,
    /// Why the run stopped.
    pub termination: Termination,
}

impl LevenbergMarquardt {
    /// Minimises `1/2 |r(theta)|^2` over `space`.
    pub fn minimize<F, E>(&self, space: &ParameterSpace, residuals: F) -> Result<LeastSquaresResult>
    where
        F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E> + Sync,
        E: Display,
    {
        self.minimize_observed(space, residuals, &mut NoObserver)
    }

    /// As [`minimize`](Self::minimize), reporting each iteration (best value = current cost).
    pub fn minimize_observed<F, E>(
        &self,
        space: &ParameterSpace,
        residuals: F,
        observer: &mut dyn Observer,
    ) -> Result<LeastSquaresResult>
    where
        F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E> + Sync,
        E: Display,
    {
        if self.max_iterations == 0 {
            return Err(FitError::setting("max_iterations", 0, "at least 1"));
        }
        check_tolerance("f_tol", self.f_tol)?;
        check_tolerance("x_tol", self.x_tol)?;
        check_tolerance("g_tol", self.g_tol)?;
        if !(self.fd_step > 0.0 && self.fd_step < 0.1) {
            return Err(FitError::setting(
                "fd_step",
                self.fd_step,
                "a step in (0, 0.1)",
            ));
        }
        let n = space.dim();
        let to_phys = |u: &[f64]| -> Vec<f64> {
            space
                .parameters()
                .iter()
                .zip(u)
                .map(|(p, &v)| p.from_unit(v))
                .collect()
        };
        let mut evaluations = 0usize;
        let mut failed = 0usize;

        let mut u = start_point(space, self.x0.as_deref())?;
        let mut x = to_phys(&u);
        evaluations += 1;
        let mut r = evaluate_vec(&residuals, &x).map_err(|message| FitError::EvaluationFailed {
            index: 0,
            point: space.describe_point(&x),
            message,
            failed: 1,
            total: 1,
        })?;
        let m = r.len();
        if m == 0 {
            return Err(FitError::setting(
                "residual count",
                0,
                "at least 1 residual",
            ));
        }
        let mut cost = half_sq(&r);
        let mut jac = self.jacobian(space, &residuals, &u, &r, &mut evaluations)?;
        let mut lambda = -1.0;
        let mut nu = 2.0;
        let mut iteration = 0;

        let termination = loop {
            if cost == 0.0 {
                break Termination::FunctionTolerance;
            }
            // Normal equations.
            let mut a = vec![0.0; n * n];
            let mut g = vec![0.0; n];
            for k in 0..m {
                let row = &jac[k * n..(k + 1) * n];
                for i in 0..n {
                    g[i] += row[i] * r[k];
                    for j in 0..=i {
                        a[i * n + j] += row[i] * row[j];
                    }
                }
            }
            for i in 0..n {
                for j in 0..i {
                    a[j * n + i] = a[i * n + j];
                }
            }
            let pg = (0..n)
                .map(|i| ((u[i] - g[i]).clamp(0.0, 1.0) - u[i]).abs())
                .fold(0.0f64, f64::max);
            if pg <= self.g_tol {
                break Termination::GradientTolerance;
            }
            let max_diag = (0..n).map(|i| a[i * n + i]).fold(0.0f64, f64::max);
            let floor = if max_diag > 0.0 {
                1e-12 * max_diag
            } else {
                1.0
            };
            if lambda < 0.0 {
                lambda = 1e-3;
            }
            // Inner loop: raise damping until a step is accepted.
            let mut accepted = false;
            let mut stop = None;
            while !accepted {
                if iteration >= self.max_iterations {
                    stop = Some(Termination::MaxIterations);
                    break;
                }
                if lambda > 1e32 {
                    stop = Some(Termination::NoProgress);
                    break;
                }
                iteration += 1;
                let mut damped = a.clone();
                for i in 0..n {
                    damped[i * n + i] += lambda * a[i * n + i].max(floor);
                }
                let Some(l) = cholesky(&damped, n) else {
                    lambda *= nu;
                    nu *= 2.0;
                    continue;
                };
                let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
                let delta = cholesky_solve(&l, n, &neg_g);
                let u_new: Vec<f64> = u
                    .iter()
                    .zip(&delta)
                    .map(|(a, d)| (a + d).clamp(0.0, 1.0))
                    .collect();
                let step: Vec<f64> = u_new.iter().zip(&u).map(|(a, b)| a - b).collect();
                let step_norm = norm(&step);
                if step_norm <= self.x_tol * (norm(&u) + self.x_tol) {
                    stop = Some(Termination::ParameterTolerance);
                    break;
                }
                let x_new = to_phys(&u_new);
                evaluations += 1;
                let trial = evaluate_vec(&residuals, &x_new);
                let r_new = match trial {
                    Ok(v) if v.len() == m => v,
                    Ok(v) => {
                        return Err(FitError::DimensionMismatch {
                            what: format!("residual vector at [{}]", space.describe_point(&x_new)),
                            expected: m,
                            found: v.len(),
                        })
                    }
                    Err(_) => {
                        failed += 1;
                        lambda *= nu;
                        nu *= 2.0;
                        continue;
                    }
                };
                let cost_new = half_sq(&r_new);
                // Predicted reduction of the linear model for the projected step.
                let a_step: Vec<f64> = (0..n)
                    .map(|i| (0..n).map(|j| a[i * n + j] * step[j]).sum())
                    .collect();
                let predicted = -(dot(&g, &step) + 0.5 * dot(&step, &a_step));
                if cost_new < cost {
                    let rho = if predicted > 0.0 {
                        (cost - cost_new) / predicted
                    } else {
                        0.0
                    };
                    lambda *= (1.0 / 3.0f64).max(1.0 - (2.0 * rho - 1.0).powi(3));
                    nu = 2.0;
                    let rel = (cost - cost_new) / cost;
                    u = u_new;
                    x = x_new;
                    r = r_new;
                    cost = cost_new;
                    accepted = true;
                    if rel <= self.f_tol {
                        stop = Some(Termination::FunctionTolerance);
                    }
                } else {
                    lambda *= nu;
                    nu *= 2.0;
                }
            }
            let progress = Progress {
                iteration,
                evaluations,
                best_value: cost,
                best_params: &x,
                restart: 0,
            };
            if observer.observe(&progress) == Control::Stop {
                break Termination::StoppedByObserver;
            }
            if let Some(t) = stop {
                break t;
            }
            jac = self.jacobian(space, &residuals, &u, &r, &mut evaluations)?;
        };
        Ok(LeastSquaresResult {
            params: x,
            cost,
            residuals: r,
            iterations: iteration,
            evaluations,
            failed_evaluations: failed,
            termination,
        })
    }

    /// Forward-difference Jacobian `dr/du` (row-major `m x n`), stepping away from the upper
    /// bound; columns are evaluated in parallel.
    fn jacobian<F, E>(
        &self,
        space: &ParameterSpace,
        residuals: &F,
        u: &[f64],
        r: &[f64],
        evaluations: &mut usize,
    ) -> Result<Vec<f64>>
    where
        F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E> + Sync,
        E: Display,
    {
        let n = u.len();
        let m = r.len();
        let columns: Vec<Column> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut up = u.to_vec();
                let h = if u[i] + self.fd_step <= 1.0 {
                    self.fd_step
                } else {
                    -self.fd_step
                };
                up[i] += h;
                let x: Vec<f64> = space
                    .parameters()
                    .iter()
                    .zip(&up)
                    .map(|(p, &v)| p.from_unit(v))
                    .collect();
                let res = evaluate_vec(residuals, &x);
                (x, h, res)
            })
            .collect();
        *evaluations += n;
        let mut jac = vec![0.0; m * n];
        for (i, (x, h, res)) in columns.into_iter().enumerate() {
            let ri = res.map_err(|message| FitError::EvaluationFailed {
                index: i + 1,
                point: space.describe_point(&x),
                message: format!("finite-difference Jacobian column {i}: {message}"),
                failed: 1,
                total: n,
            })?;
            if ri.len() != m {
                return Err(FitError::DimensionMismatch {
                    what: format!("residual vector at [{}]", space.describe_point(&x)),
                    expected: m,
                    found: ri.len(),
                });
            }
            for k in 0..m {
                jac[k * n + i] = (ri[k] - r[k]) / h;
            }
        }
        Ok(jac)
    }
}

/// A Jacobian column: the perturbed point, its step and the residuals there.
type Column = (Vec<f64>, f64, std::result::Result<Vec<f64>, String>);

fn half_sq(r: &[f64]) -> f64 {
    0.5 * r.iter().map(|v| v * v).sum::<f64>()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
