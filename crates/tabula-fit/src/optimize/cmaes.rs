//! CMA-ES, following N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772
//! (2016), with the default (mu/mu_w, lambda) strategy parameters of its Table 1 (positive
//! recombination weights only).
//!
//! Search space: the unit cube of the parameter space. A candidate `x` (which may leave the
//! cube) is evaluated at its periodic reflection into `[0, 1]` in every coordinate,
//! `T(x) = 1 - |(x mod 2) - 1|`. `T` is the identity inside the cube and continuous, so optima
//! on a bound are reached, and no evaluation ever falls outside the bounds.
//!
//! One generation:
//! 1. draw `z_k ~ N(0, I)`, `y_k = B D z_k`, `x_k = m + sigma y_k` for `k = 1..lambda`
//!    (sequentially from a seeded stream);
//! 2. evaluate `f(T(x_k))` in parallel; rank by value (failures last, ties by index);
//! 3. `y_w = sum_i w_i y_(i:lambda)`, `m <- m + sigma y_w`;
//! 4. `p_sigma <- (1 - c_sigma) p_sigma + sqrt(c_sigma (2 - c_sigma) mu_eff) C^(-1/2) y_w`;
//! 5. `p_c <- (1 - c_c) p_c + h_sigma sqrt(c_c (2 - c_c) mu_eff) y_w`;
//! 6. `C <- (1 - c_1 - c_mu) C + c_1 (p_c p_c^T + delta(h_sigma) C) + c_mu sum_i w_i y_i y_i^T`;
//! 7. `sigma <- sigma exp((c_sigma / d_sigma) (|p_sigma| / E|N(0, I)| - 1))`;
//! 8. every few generations, `C = B D^2 B^T` by a symmetric eigen-decomposition.
//!
//! Restarts (IPOP-CMA-ES, Auger and Hansen 2005): after a run stops on a convergence or
//! conditioning criterion, a new run starts from a uniformly drawn mean with twice the
//! population, until `restarts` are used or the budget is spent. The best point of all runs is
//! returned.

use super::{
    check_tolerance, start_point, Control, NoObserver, Observer, OptimResult, Termination, Tracker,
};
use crate::error::{FitError, Result};
use crate::linalg::sym_eigen;
use crate::rng::{self, Purpose};
use crate::space::ParameterSpace;
use rand::RngExt;
use rand_distr::StandardNormal;
use std::fmt::Display;

/// Settings of a CMA-ES run.
#[derive(Debug, Clone, PartialEq)]
pub struct CmaEs {
    /// Initial mean in physical units (inside the bounds); `None` starts at the centre of the
    /// unit cube (the geometric centre for log parameters).
    pub x0: Option<Vec<f64>>,
    /// Initial step size in unit-cube units (a quarter to a third of the range is usual).
    pub sigma0: f64,
    /// Population size `lambda`; `None` uses `4 + floor(3 ln n)`.
    pub population: Option<usize>,
    /// Evaluation budget over all restarts (a generation in progress may finish past it).
    pub max_evaluations: usize,
    /// Generation limit per run; `None` for no limit.
    pub max_generations: Option<usize>,
    /// Stop a run when the best values of the last `10 + 30 n / lambda` generations and all
    /// values of the current one lie within this range.
    pub tol_fun: f64,
    /// Stop a run when `sigma * sqrt(max C_ii)` and `sigma |p_c|` fall below this (unit cube).
    pub tol_x: f64,
    /// Stop as soon as the best value is at or below this target.
    pub target: Option<f64>,
    /// Number of IPOP restarts with doubled population.
    pub restarts: usize,
    /// Seed of all random draws.
    pub seed: u64,
}

impl Default for CmaEs {
    fn default() -> Self {
        CmaEs {
            x0: None,
            sigma0: 0.3,
            population: None,
            max_evaluations: 10_000,
            max_generations: None,
            tol_fun: 1e-12,
            tol_x: 1e-12,
            target: None,
            restarts: 0,
            seed: 0,
        }
    }
}

/// How one run ended.
enum RunEnd {
    /// Stop everything (budget, target, observer).
    Final(Termination),
    /// The run converged or stalled; a restart may follow.
    Local(Termination),
}

impl CmaEs {
    /// Minimises `f` over `space`.
    pub fn minimize<F, E>(&self, space: &ParameterSpace, f: F) -> Result<OptimResult>
    where
        F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
        E: Display,
    {
        self.minimize_observed(space, f, &mut NoObserver)
    }

    /// Minimises `f` over `space`, reporting each generation to `observer`.
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
        self.validate()?;
        let n = space.dim();
        let m0 = start_point(space, self.x0.as_deref())?;
        let base_lambda = self
            .population
            .unwrap_or(4 + (3.0 * (n as f64).ln()).floor() as usize);
        let mut tracker = Tracker::new(space, &f);
        let mut generation = 0;
        let mut restart = 0;
        loop {
            let lambda = base_lambda.saturating_mul(1 << restart.min(20));
            let mut rng = rng::stream(self.seed, Purpose::CmaEs, restart as u32);
            let mean = if restart == 0 {
                m0.clone()
            } else {
                (0..n).map(|_| rng.random::<f64>()).collect()
            };
            let end = self.run(
                &mut tracker,
                &mut rng,
                mean,
                lambda,
                restart,
                &mut generation,
                observer,
            );
            match end {
                RunEnd::Final(t) => return tracker.finish(generation, t, restart),
                RunEnd::Local(t) => {
                    if restart >= self.restarts || tracker.evaluations >= self.max_evaluations {
                        return tracker.finish(generation, t, restart);
                    }
                    restart += 1;
                }
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.sigma0.is_finite() && self.sigma0 > 0.0) {
            return Err(FitError::setting(
                "sigma0",
                self.sigma0,
                "a positive step size in unit-cube units, e.g. 0.3",
            ));
        }
        if let Some(l) = self.population {
            if l < 2 {
                return Err(FitError::setting("population", l, "at least 2"));
            }
        }
        if self.max_evaluations == 0 {
            return Err(FitError::setting("max_evaluations", 0, "at least 1"));
        }
        if self.max_generations == Some(0) {
            return Err(FitError::setting("max_generations", 0, "at least 1"));
        }
        check_tolerance("tol_fun", self.tol_fun)?;
        check_tolerance("tol_x", self.tol_x)?;
        if let Some(t) = self.target {
            if t.is_nan() {
                return Err(FitError::setting("target", t, "a number"));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run<F, E>(
        &self,
        tracker: &mut Tracker<'_, F>,
        rng: &mut rand_chacha::ChaCha8Rng,
        mut mean: Vec<f64>,
        lambda: usize,
        restart: usize,
        generation: &mut usize,
        observer: &mut dyn Observer,
    ) -> RunEnd
    where
        F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
        E: Display,
    {
        let n = mean.len();
        let nf = n as f64;
        // Strategy parameters (Hansen 2016, Table 1).
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let sum: f64 = raw.iter().sum();
        let w: Vec<f64> = raw.iter().map(|x| x / sum).collect();
        let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_s = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        let d_s = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_s;
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let eigen_gap = (lambda as f64 / (c_1 + c_mu) / nf / 10.0).max(1.0) as usize;
        let history_len = 10 + (30.0 * nf / lambda as f64).ceil() as usize;

        let mut sigma = self.sigma0;
        let mut c = identity(n);
        let mut b = identity(n);
        let mut d = vec![1.0; n];
        let mut p_c = vec![0.0; n];
        let mut p_s = vec![0.0; n];
        let mut last_eigen = 0;
        let mut history: Vec<f64> = Vec::new();
        let mut g = 0usize;

        loop {
            if tracker.evaluations >= self.max_evaluations {
                return RunEnd::Final(Termination::MaxEvaluations);
            }
            if self.max_generations.is_some_and(|mg| g >= mg) {
                return RunEnd::Local(Termination::MaxIterations);
            }
            g += 1;
            *generation += 1;

            // 1. Sample.
            let mut ys = Vec::with_capacity(lambda);
            let mut xs = Vec::with_capacity(lambda);
            for _ in 0..lambda {
                let z: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
                let y: Vec<f64> = (0..n)
                    .map(|i| (0..n).map(|j| b[i * n + j] * d[j] * z[j]).sum())
                    .collect();
                let x: Vec<f64> = (0..n).map(|i| reflect(mean[i] + sigma * y[i])).collect();
                ys.push(y);
                xs.push(x);
            }
            // 2. Evaluate in parallel and rank.
            let fx = tracker.eval_batch(&xs);
            let mut order: Vec<usize> = (0..lambda).collect();
            order.sort_by(|&i, &j| fx[i].total_cmp(&fx[j]).then(i.cmp(&j)));

            // 3. Mean.
            let mut y_w = vec![0.0; n];
            for (wi, &k) in w.iter().zip(&order) {
                for (a, yk) in y_w.iter_mut().zip(&ys[k]) {
                    *a += wi * yk;
                }
            }
            for (m, yw) in mean.iter_mut().zip(&y_w) {
                *m += sigma * yw;
            }
            // 4. Step-size path, with C^(-1/2) y_w = B D^-1 B^T y_w.
            let bty: Vec<f64> = (0..n)
                .map(|j| (0..n).map(|i| b[i * n + j] * y_w[i]).sum::<f64>() / d[j])
                .collect();
            let cs_fac = (c_s * (2.0 - c_s) * mu_eff).sqrt();
            for i in 0..n {
                let inv_sqrt_c_y: f64 = (0..n).map(|j| b[i * n + j] * bty[j]).sum();
                p_s[i] = (1.0 - c_s) * p_s[i] + cs_fac * inv_sqrt_c_y;
            }
            let ps_norm = p_s.iter().map(|v| v * v).sum::<f64>().sqrt();
            let h_sig = ps_norm / (1.0 - (1.0 - c_s).powi(2 * g as i32)).sqrt() / chi_n
                < 1.4 + 2.0 / (nf + 1.0);
            // 5. Covariance path.
            let cc_fac = if h_sig {
                (c_c * (2.0 - c_c) * mu_eff).sqrt()
            } else {
                0.0
            };
            for (pc, yw) in p_c.iter_mut().zip(&y_w) {
                *pc = (1.0 - c_c) * *pc + cc_fac * yw;
            }
            // 6. Covariance matrix.
            let delta_h = if h_sig { 0.0 } else { c_c * (2.0 - c_c) };
            let keep = 1.0 - c_1 - c_mu + c_1 * delta_h;
            for i in 0..n {
                for j in 0..=i {
                    let mut rank_mu = 0.0;
                    for (wk, &k) in w.iter().zip(&order) {
                        rank_mu += wk * ys[k][i] * ys[k][j];
                    }
                    let v = keep * c[i * n + j] + c_1 * p_c[i] * p_c[j] + c_mu * rank_mu;
                    c[i * n + j] = v;
                    c[j * n + i] = v;
                }
            }
            // 7. Step size.
            sigma *= ((c_s / d_s) * (ps_norm / chi_n - 1.0)).exp();
            // 8. Decomposition.
            if g - last_eigen >= eigen_gap {
                last_eigen = g;
                let (vals, vecs) = sym_eigen(&c, n);
                if vals.iter().any(|v| !v.is_finite()) || vals[0] <= 0.0 {
                    return RunEnd::Local(Termination::IllConditioned);
                }
                if vals[n - 1] / vals[0] > 1e14 {
                    return RunEnd::Local(Termination::IllConditioned);
                }
                b = vecs;
                d = vals.iter().map(|v| v.sqrt()).collect();
            }
            if !sigma.is_finite() || sigma <= 0.0 {
                return RunEnd::Local(Termination::IllConditioned);
            }

            if observer.observe(&tracker.progress(*generation, restart)) == Control::Stop {
                return RunEnd::Final(Termination::StoppedByObserver);
            }
            if self.target.is_some_and(|t| tracker.best_value <= t) {
                return RunEnd::Final(Termination::TargetReached);
            }
            // Termination criteria of the run.
            history.push(fx[order[0]]);
            if history.len() > history_len {
                history.remove(0);
            }
            if history.len() == history_len {
                let (lo, hi) = history
                    .iter()
                    .chain(fx.iter())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    });
                if lo.is_finite() && hi.is_finite() && hi - lo <= self.tol_fun {
                    return RunEnd::Local(Termination::FunctionTolerance);
                }
            }
            let max_sd = (0..n).map(|i| c[i * n + i]).fold(0.0f64, f64::max).sqrt();
            if sigma * max_sd < self.tol_x && p_c.iter().all(|v| (sigma * v).abs() < self.tol_x) {
                return RunEnd::Local(Termination::ParameterTolerance);
            }
        }
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Periodic reflection of `x` into `[0, 1]`.
fn reflect(x: f64) -> f64 {
    if (0.0..=1.0).contains(&x) {
        return x;
    }
    if !x.is_finite() {
        return 0.5;
    }
    let r = x.rem_euclid(2.0);
    if r > 1.0 {
        2.0 - r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_is_periodic_and_continuous() {
        assert_eq!(reflect(0.3), 0.3);
        assert!((reflect(1.2) - 0.8).abs() < 1e-15);
        assert!((reflect(-0.2) - 0.2).abs() < 1e-15);
        assert!((reflect(2.3) - 0.3).abs() < 1e-12);
        assert!((reflect(-1.7) - 0.3).abs() < 1e-12);
    }
}
