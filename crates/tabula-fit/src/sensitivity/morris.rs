//! Morris elementary-effects screening.
//!
//! The unit cube is discretised into a grid of `p` levels `{0, 1/(p-1), ..., 1}` and the step is
//! `Delta = p / (2 (p - 1))` (Morris 1991). A trajectory starts at a random grid point and moves
//! one parameter at a time, in random order and with random sign, by `+-Delta`, so it visits
//! `k + 1` points for `k` parameters. The elementary effect of the parameter moved between
//! points `t` and `t + 1` is `EE = (y_(t+1) - y_t) / (+-Delta)`: the change in output per unit of
//! the normalised range (per whole range for linear parameters, per range of `ln x` for log
//! ones). Over `r` trajectories:
//!
//! * `mu_i`: mean of `EE_i` (signed; effects of opposite sign cancel);
//! * `mu*_i`: mean of `|EE_i|` (Campolongo, Cariboni and Saltelli 2007), the ranking measure;
//! * `sigma_i`: standard deviation of `EE_i` (with `r - 1` in the denominator), large for
//!   non-linear effects and interactions.
//!
//! Improved spread (Campolongo et al. 2007): when `candidates = Some(M)` with `M > r`, `M`
//! random trajectories are generated and `r` of them kept so as to maximise the spread
//! `D^2 = sum over kept pairs (m, l) of d_ml^2`, where `d_ml` is the sum of Euclidean distances
//! between all points of trajectories `m` and `l`. The subset is found by greedy elimination
//! (repeatedly remove the trajectory whose removal loses least spread, as in Ruano et al. 2012),
//! not by the exhaustive search of the original paper, which is combinatorial.

use super::{check_bootstrap, column_interval, Estimate};
use crate::error::{FitError, Result};
use crate::eval::{evaluate, EvaluationFailure, Evaluations, FailurePolicy};
use crate::matrix::Matrix;
use crate::rng::{self, Purpose};
use crate::space::ParameterSpace;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::fmt::Display;

/// Settings of a Morris screening.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisConfig {
    /// Number of trajectories `r` kept in the design (at least 2).
    pub trajectories: usize,
    /// Number of grid levels `p` (even, at least 2; 4 to 8 are usual).
    pub levels: usize,
    /// Number of candidate trajectories to choose the `r` best-spread ones from
    /// (Campolongo 2007); `None` keeps `r` random trajectories.
    pub candidates: Option<usize>,
    /// Bootstrap replicates for the interval of `mu*` (0: none).
    pub bootstrap: usize,
    /// Confidence level of the intervals, in `(0, 1)`.
    pub confidence: f64,
    /// Seed of the trajectories and of the bootstrap.
    pub seed: u64,
    /// What to do with failed evaluations.
    pub failure_policy: FailurePolicy,
}

impl Default for MorrisConfig {
    fn default() -> Self {
        MorrisConfig {
            trajectories: 20,
            levels: 4,
            candidates: None,
            bootstrap: 500,
            confidence: 0.95,
            seed: 0,
            failure_policy: FailurePolicy::Abort,
        }
    }
}

/// Result of a Morris screening.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisIndices {
    /// Parameter names, in order.
    pub names: Vec<String>,
    /// Mean elementary effect `mu`.
    pub mu: Vec<f64>,
    /// Mean absolute elementary effect `mu*`, with bootstrap interval.
    pub mu_star: Vec<Estimate>,
    /// Standard deviation of the elementary effects `sigma`.
    pub sigma: Vec<f64>,
    /// The elementary effects, one row per trajectory used, one column per parameter.
    pub elementary_effects: Matrix,
    /// Trajectories used.
    pub trajectories_used: usize,
    /// Trajectories dropped because one of their evaluations failed.
    pub dropped_trajectories: usize,
    /// The failed evaluations (empty unless [`FailurePolicy::Drop`] let the analysis go on).
    pub failures: Vec<EvaluationFailure>,
}

/// One trajectory in unit coordinates: `k + 1` points and, for each step, the parameter moved
/// and the signed step.
#[derive(Debug, Clone, PartialEq)]
struct Trajectory {
    points: Matrix,
    steps: Vec<(usize, f64)>,
}

/// A Morris design: `r` trajectories of `k + 1` rows each, in physical units.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisDesign {
    space: ParameterSpace,
    trajectories: Vec<Trajectory>,
    unit: Matrix,
    points: Matrix,
}

impl MorrisDesign {
    /// Builds the design for `space`.
    pub fn new(space: &ParameterSpace, config: &MorrisConfig) -> Result<Self> {
        let k = space.dim();
        let r = config.trajectories;
        let p = config.levels;
        if r < 2 {
            return Err(FitError::setting("trajectories", r, "at least 2"));
        }
        if p < 2 || !p.is_multiple_of(2) {
            return Err(FitError::setting(
                "levels",
                p,
                "an even number of at least 2",
            ));
        }
        let m = config.candidates.unwrap_or(r);
        if m < r {
            return Err(FitError::setting(
                "candidates",
                m,
                format!("at least the number of trajectories ({r})"),
            ));
        }
        if m > 10_000 {
            return Err(FitError::setting("candidates", m, "at most 10000"));
        }
        check_bootstrap(config.bootstrap, config.confidence)?;

        let mut rng = rng::stream(config.seed, Purpose::Morris, 0);
        let candidates: Vec<Trajectory> =
            (0..m).map(|_| random_trajectory(k, p, &mut rng)).collect();
        let trajectories = if m > r {
            let keep = select_spread(&candidates, r);
            keep.into_iter().map(|i| candidates[i].clone()).collect()
        } else {
            candidates
        };
        let mut unit = Matrix::zeros(r * (k + 1), k);
        for (t, traj) in trajectories.iter().enumerate() {
            for s in 0..=k {
                unit.row_mut(t * (k + 1) + s)
                    .copy_from_slice(traj.points.row(s));
            }
        }
        Ok(MorrisDesign {
            space: space.clone(),
            trajectories,
            points: space.scale_design(&unit)?,
            unit,
        })
    }

    /// The points at which the model must be evaluated, in physical units, one per row;
    /// trajectory `t` occupies rows `t (k + 1) ..= t (k + 1) + k`.
    pub fn points(&self) -> &Matrix {
        &self.points
    }

    /// The design in unit coordinates (the grid the trajectories move on).
    pub fn unit_points(&self) -> &Matrix {
        &self.unit
    }

    /// Computes `mu`, `mu*` (with bootstrap interval) and `sigma` from the model outputs at
    /// [`points`](Self::points).
    pub fn analyze(
        &self,
        evaluations: &Evaluations,
        config: &MorrisConfig,
    ) -> Result<MorrisIndices> {
        check_bootstrap(config.bootstrap, config.confidence)?;
        let k = self.space.dim();
        let values = &evaluations.values;
        if values.len() != self.points.n_rows() {
            return Err(FitError::DimensionMismatch {
                what: "model outputs for the Morris design".into(),
                expected: self.points.n_rows(),
                found: values.len(),
            });
        }
        let failures = evaluations.all_failures();
        if !failures.is_empty() && config.failure_policy == FailurePolicy::Abort {
            let ev = Evaluations {
                values: values.clone(),
                failures: failures.clone(),
            };
            return Err(ev
                .first_failure_error(&self.space, &self.points)
                .unwrap_or(FitError::Numerical("failed evaluation".into())));
        }
        let mut rows = Vec::new();
        for (t, traj) in self.trajectories.iter().enumerate() {
            let y = &values[t * (k + 1)..(t + 1) * (k + 1)];
            if y.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let mut ee = vec![0.0; k];
            for (s, &(param, delta)) in traj.steps.iter().enumerate() {
                ee[param] = (y[s + 1] - y[s]) / delta;
            }
            rows.push(ee);
        }
        let used = rows.len();
        if used < 2 {
            return Err(FitError::TooFewValidSamples {
                valid: used,
                required: 2,
                failed: failures.len(),
                unit: "trajectories",
            });
        }
        let ee = Matrix::from_rows(&rows)?;
        let n = used as f64;
        let mut mu = vec![0.0; k];
        let mut sigma = vec![0.0; k];
        for i in 0..k {
            let m = (0..used).map(|t| ee.get(t, i)).sum::<f64>() / n;
            let ss = (0..used).map(|t| (ee.get(t, i) - m).powi(2)).sum::<f64>();
            mu[i] = m;
            sigma[i] = (ss / (n - 1.0)).sqrt();
        }
        let mu_star_of = |idx: &mut dyn Iterator<Item = usize>| -> Vec<f64> {
            let mut acc = vec![0.0; k];
            let mut count = 0.0;
            for t in idx {
                for (a, v) in acc.iter_mut().zip(ee.row(t)) {
                    *a += v.abs();
                }
                count += 1.0;
            }
            acc.iter().map(|a| a / count).collect()
        };
        let mu_star_full = mu_star_of(&mut (0..used));
        let replicates: Vec<Vec<f64>> = (0..config.bootstrap)
            .into_par_iter()
            .map(|b| {
                let mut rng = rng::stream(config.seed, Purpose::Bootstrap, b as u32);
                let idx: Vec<usize> = (0..used).map(|_| rng.random_range(0..used)).collect();
                mu_star_of(&mut idx.into_iter())
            })
            .collect();
        let mu_star = (0..k)
            .map(|i| Estimate {
                value: mu_star_full[i],
                ci: if replicates.is_empty() {
                    None
                } else {
                    column_interval(&replicates, i, config.confidence)
                },
            })
            .collect();
        Ok(MorrisIndices {
            names: self.space.names(),
            mu,
            mu_star,
            sigma,
            elementary_effects: ee,
            trajectories_used: used,
            dropped_trajectories: self.trajectories.len() - used,
            failures,
        })
    }
}

/// Builds the Morris design, evaluates `model` on it in parallel and returns `mu`, `mu*` and
/// `sigma` per parameter.
pub fn morris_screening<F, E>(
    space: &ParameterSpace,
    config: &MorrisConfig,
    model: F,
) -> Result<MorrisIndices>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    let design = MorrisDesign::new(space, config)?;
    let evaluations = evaluate(design.points(), &model);
    design.analyze(&evaluations, config)
}

/// A random trajectory on the `p`-level grid in `k` dimensions (Morris 1991).
fn random_trajectory(k: usize, p: usize, rng: &mut ChaCha8Rng) -> Trajectory {
    let step = 1.0 / (p - 1) as f64;
    let delta = p as f64 / (2.0 * (p - 1) as f64);
    let mut x = vec![0.0; k];
    let mut sign = vec![1.0; k];
    for i in 0..k {
        // Base levels 0 .. p/2 - 1 are those from which +Delta stays inside [0, 1].
        let level = rng.random_range(0..p / 2) as f64 * step;
        sign[i] = if rng.random::<bool>() { 1.0 } else { -1.0 };
        x[i] = if sign[i] > 0.0 { level } else { level + delta };
    }
    let mut order: Vec<usize> = (0..k).collect();
    for i in (1..k).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut points = Matrix::zeros(k + 1, k);
    points.row_mut(0).copy_from_slice(&x);
    let mut steps = Vec::with_capacity(k);
    for (s, &i) in order.iter().enumerate() {
        let d = sign[i] * delta;
        x[i] = (x[i] + d).clamp(0.0, 1.0);
        points.row_mut(s + 1).copy_from_slice(&x);
        steps.push((i, d));
    }
    Trajectory { points, steps }
}

/// Indices of `r` trajectories chosen by greedy elimination to maximise the spread.
fn select_spread(candidates: &[Trajectory], r: usize) -> Vec<usize> {
    let m = candidates.len();
    // Pairwise squared trajectory distances, computed in parallel into fixed rows.
    let d2: Vec<Vec<f64>> = (0..m)
        .into_par_iter()
        .map(|a| {
            (0..m)
                .map(|b| {
                    if a == b {
                        0.0
                    } else {
                        trajectory_distance(&candidates[a], &candidates[b]).powi(2)
                    }
                })
                .collect()
        })
        .collect();
    let mut alive = vec![true; m];
    let mut contribution: Vec<f64> = d2.iter().map(|row| row.iter().sum()).collect();
    for _ in 0..m - r {
        // Remove the live trajectory with the smallest contribution (lowest index on ties).
        let mut worst = usize::MAX;
        for i in 0..m {
            if alive[i] && (worst == usize::MAX || contribution[i] < contribution[worst]) {
                worst = i;
            }
        }
        alive[worst] = false;
        for i in 0..m {
            if alive[i] {
                contribution[i] -= d2[i][worst];
            }
        }
    }
    (0..m).filter(|&i| alive[i]).collect()
}

/// Campolongo's distance: the sum of Euclidean distances between all pairs of points.
fn trajectory_distance(a: &Trajectory, b: &Trajectory) -> f64 {
    let mut total = 0.0;
    for p in a.points.rows() {
        for q in b.points.rows() {
            total += p
                .iter()
                .zip(q)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectories_stay_on_the_grid_and_move_one_factor() {
        let mut rng = rng::stream(1, Purpose::Morris, 0);
        for _ in 0..50 {
            let t = random_trajectory(5, 6, &mut rng);
            let delta = 6.0 / 10.0;
            for s in 0..5 {
                let (a, b) = (t.points.row(s), t.points.row(s + 1));
                let changed: Vec<usize> = (0..5).filter(|&i| a[i] != b[i]).collect();
                assert_eq!(changed, vec![t.steps[s].0]);
                assert!((b[changed[0]] - a[changed[0]] - t.steps[s].1).abs() < 1e-12);
                assert!((t.steps[s].1.abs() - delta).abs() < 1e-12);
            }
            for v in t.points.as_slice() {
                assert!((0.0..=1.0).contains(v));
                let level = v * 5.0;
                assert!((level - level.round()).abs() < 1e-9, "off-grid value {v}");
            }
        }
    }

    #[test]
    fn spread_selection_increases_spread() {
        let mut rng = rng::stream(2, Purpose::Morris, 0);
        let cands: Vec<Trajectory> = (0..30).map(|_| random_trajectory(4, 4, &mut rng)).collect();
        let spread = |idx: &[usize]| {
            let mut s = 0.0;
            for (n, &a) in idx.iter().enumerate() {
                for &b in &idx[n + 1..] {
                    s += trajectory_distance(&cands[a], &cands[b]).powi(2);
                }
            }
            s.sqrt()
        };
        let chosen = select_spread(&cands, 6);
        assert_eq!(chosen.len(), 6);
        let first: Vec<usize> = (0..6).collect();
        assert!(spread(&chosen) > spread(&first));
    }
}
