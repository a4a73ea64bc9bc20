//! Sobol indices by Saltelli sampling.
//!
//! Two independent `N x d` unit matrices `A` and `B` are taken from the left and right halves
//! of an `N x 2d` design. `A_B^(i)` is `A` with column `i` taken from `B`, and (for second-order
//! indices) `B_A^(i)` is `B` with column `i` from `A`. With `f_A = f(A)` etc., centred on the mean
//! of `[f_A; f_B]`, and `V` the variance of `[f_A; f_B]`:
//!
//! * first order (Saltelli et al. 2010, Table 2 (b)):
//!   `S_i = mean_j( f_B,j (f_ABi,j - f_A,j) ) / V`;
//! * total order (Jansen 1999; Saltelli et al. 2010, Table 2 (f)):
//!   `ST_i = mean_j( (f_A,j - f_ABi,j)^2 ) / (2 V)`;
//! * second order (Saltelli 2002):
//!   `S_ij = mean_j( f_BAi,j f_ABk,j - f_A,j f_B,j ) / V - S_i - S_k`.
//!
//! Cost: `N (d + 2)` model runs, or `N (2d + 2)` with second order.

use super::{check_bootstrap, column_interval, Estimate};
use crate::error::{FitError, Result};
use crate::eval::{evaluate, EvaluationFailure, Evaluations, FailurePolicy};
use crate::matrix::Matrix;
use crate::rng::{self, Purpose};
use crate::sampling::{Sampler, SobolSequence};
use crate::space::ParameterSpace;
use rand::RngExt;
use rayon::prelude::*;
use std::fmt::Display;

/// Settings of a Sobol analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolConfig {
    /// Number of base rows `N` (rows of `A` and `B`); powers of two suit the Sobol sampler.
    pub n_base: usize,
    /// Also estimate second-order indices (costs `d` more runs per base row).
    pub second_order: bool,
    /// Generator of the `N x 2d` base design.
    pub sampler: Sampler,
    /// Number of bootstrap replicates for the confidence intervals (0: none).
    pub bootstrap: usize,
    /// Confidence level of the intervals, in `(0, 1)`.
    pub confidence: f64,
    /// Seed of the base design (random samplers) and of the bootstrap.
    pub seed: u64,
    /// What to do with failed evaluations.
    pub failure_policy: FailurePolicy,
}

impl Default for SobolConfig {
    fn default() -> Self {
        SobolConfig {
            n_base: 1024,
            second_order: false,
            sampler: Sampler::Sobol,
            bootstrap: 500,
            confidence: 0.95,
            seed: 0,
            failure_policy: FailurePolicy::Abort,
        }
    }
}

/// A second-order index for the pair `(i, j)`, `i < j`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairIndex {
    /// First parameter (index into the space).
    pub i: usize,
    /// Second parameter.
    pub j: usize,
    /// The estimate of `S_ij`.
    pub estimate: Estimate,
}

/// Result of a Sobol analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolIndices {
    /// Parameter names, in order.
    pub names: Vec<String>,
    /// First-order indices `S_i`.
    pub first_order: Vec<Estimate>,
    /// Total-order indices `ST_i`.
    pub total_order: Vec<Estimate>,
    /// Second-order indices for all pairs `i < j` (empty unless requested).
    pub second_order: Vec<PairIndex>,
    /// Mean of the model output over `A` and `B`.
    pub output_mean: f64,
    /// Variance of the model output over `A` and `B`.
    pub output_variance: f64,
    /// Base rows used (after dropping failures).
    pub n_base_used: usize,
    /// Model evaluations in the design.
    pub n_evaluations: usize,
    /// Base rows dropped because one of their evaluations failed.
    pub dropped_base_rows: usize,
    /// The failed evaluations (empty unless [`FailurePolicy::Drop`] let the analysis go on).
    pub failures: Vec<EvaluationFailure>,
}

/// A Saltelli design: `N` blocks of rows `[A_j, A_B^(1)_j, ..., A_B^(d)_j,
/// (B_A^(1)_j, ..., B_A^(d)_j,) B_j]`, in physical units.
#[derive(Debug, Clone, PartialEq)]
pub struct SaltelliDesign {
    space: ParameterSpace,
    n_base: usize,
    second_order: bool,
    points: Matrix,
}

impl SaltelliDesign {
    /// Builds the design for `space` with `config.n_base` base rows.
    pub fn new(space: &ParameterSpace, config: &SobolConfig) -> Result<Self> {
        let d = space.dim();
        if config.n_base < 2 {
            return Err(FitError::setting(
                "n_base",
                config.n_base,
                "at least 2 base rows (typically 512 or more)",
            ));
        }
        if config.sampler == Sampler::Sobol || config.sampler == Sampler::SobolShifted {
            let max = SobolSequence::MAX_DIMS / 2;
            if d > max {
                return Err(FitError::TooManyDimensions {
                    sampler: "Saltelli sampling on the Sobol sequence",
                    max,
                    requested: d,
                });
            }
        }
        check_bootstrap(config.bootstrap, config.confidence)?;
        let base = config
            .sampler
            .unit_design(config.n_base, 2 * d, config.seed)?;
        let block = block_size(d, config.second_order);
        let mut unit = Matrix::zeros(config.n_base * block, d);
        for j in 0..config.n_base {
            let (a, b) = base.row(j).split_at(d);
            let r0 = j * block;
            unit.row_mut(r0).copy_from_slice(a);
            for i in 0..d {
                let row = unit.row_mut(r0 + 1 + i);
                row.copy_from_slice(a);
                row[i] = b[i];
            }
            if config.second_order {
                for i in 0..d {
                    let row = unit.row_mut(r0 + 1 + d + i);
                    row.copy_from_slice(b);
                    row[i] = a[i];
                }
            }
            unit.row_mut(r0 + block - 1).copy_from_slice(b);
        }
        Ok(SaltelliDesign {
            space: space.clone(),
            n_base: config.n_base,
            second_order: config.second_order,
            points: space.scale_design(&unit)?,
        })
    }

    /// The points at which the model must be evaluated, in physical units, one per row.
    pub fn points(&self) -> &Matrix {
        &self.points
    }

    /// Rows per base row: `d + 2`, or `2d + 2` with second order.
    pub fn block_size(&self) -> usize {
        block_size(self.space.dim(), self.second_order)
    }

    /// Estimates the indices from the model outputs at [`points`](Self::points).
    pub fn analyze(&self, evaluations: &Evaluations, config: &SobolConfig) -> Result<SobolIndices> {
        check_bootstrap(config.bootstrap, config.confidence)?;
        let values = &evaluations.values;
        if values.len() != self.points.n_rows() {
            return Err(FitError::DimensionMismatch {
                what: "model outputs for the Saltelli design".into(),
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
        let block = self.block_size();
        let valid: Vec<usize> = (0..self.n_base)
            .filter(|&j| {
                values[j * block..(j + 1) * block]
                    .iter()
                    .all(|v| v.is_finite())
            })
            .collect();
        if valid.len() < 2 {
            return Err(FitError::TooFewValidSamples {
                valid: valid.len(),
                required: 2,
                failed: failures.len(),
                unit: "base rows",
            });
        }
        let est = Estimator {
            values,
            d: self.space.dim(),
            block,
            second_order: self.second_order,
        };
        let full = est
            .estimate(&valid)
            .ok_or(FitError::ZeroVariance { n: 2 * valid.len() })?;

        let replicates: Vec<Vec<f64>> = (0..config.bootstrap)
            .into_par_iter()
            .map(|b| {
                let mut rng = rng::stream(config.seed, Purpose::Bootstrap, b as u32);
                let rows: Vec<usize> = (0..valid.len())
                    .map(|_| valid[rng.random_range(0..valid.len())])
                    .collect();
                est.estimate(&rows)
                    .map(|e| e.flat)
                    .unwrap_or_else(|| vec![f64::NAN; full.flat.len()])
            })
            .collect();
        let ci = |k: usize| {
            if replicates.is_empty() {
                None
            } else {
                column_interval(&replicates, k, config.confidence)
            }
        };
        let d = self.space.dim();
        let first_order = (0..d)
            .map(|i| Estimate {
                value: full.flat[i],
                ci: ci(i),
            })
            .collect();
        let total_order = (0..d)
            .map(|i| Estimate {
                value: full.flat[d + i],
                ci: ci(d + i),
            })
            .collect();
        let mut second_order = Vec::new();
        if self.second_order {
            let mut k = 2 * d;
            for i in 0..d {
                for j in i + 1..d {
                    second_order.push(PairIndex {
                        i,
                        j,
                        estimate: Estimate {
                            value: full.flat[k],
                            ci: ci(k),
                        },
                    });
                    k += 1;
                }
            }
        }
        Ok(SobolIndices {
            names: self.space.names(),
            first_order,
            total_order,
            second_order,
            output_mean: full.mean,
            output_variance: full.variance,
            n_base_used: valid.len(),
            n_evaluations: values.len(),
            dropped_base_rows: self.n_base - valid.len(),
            failures,
        })
    }
}

/// Builds the Saltelli design for `space`, evaluates `model` on it in parallel and estimates
/// first-, total- (and optionally second-) order Sobol indices with bootstrap intervals.
///
/// ```
/// use tabula_fit::{sobol_indices, Parameter, ParameterSpace, SobolConfig};
/// let space = ParameterSpace::new(vec![
///     Parameter::linear("a", 0.0, 1.0),
///     Parameter::linear("b", 0.0, 1.0),
/// ]).unwrap();
/// let config = SobolConfig { n_base: 256, bootstrap: 50, ..SobolConfig::default() };
/// let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(x[0] + 0.1 * x[1])).unwrap();
/// assert!(s.total_order[0].value > 0.95);
/// ```
pub fn sobol_indices<F, E>(
    space: &ParameterSpace,
    config: &SobolConfig,
    model: F,
) -> Result<SobolIndices>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    let design = SaltelliDesign::new(space, config)?;
    let evaluations = evaluate(design.points(), &model);
    design.analyze(&evaluations, config)
}

fn block_size(d: usize, second_order: bool) -> usize {
    if second_order {
        2 * d + 2
    } else {
        d + 2
    }
}

struct Estimator<'a> {
    values: &'a [f64],
    d: usize,
    block: usize,
    second_order: bool,
}

struct Estimates {
    mean: f64,
    variance: f64,
    /// `[S_1..S_d, ST_1..ST_d, S_12, S_13, ..., S_(d-1)d]`.
    flat: Vec<f64>,
}

impl Estimator<'_> {
    /// Output of block `j` at offset `k` within the block.
    fn f(&self, j: usize, k: usize) -> f64 {
        self.values[j * self.block + k]
    }

    /// The estimators over the base rows `rows` (with repetitions for the bootstrap).
    /// `None` when the output variance is zero.
    fn estimate(&self, rows: &[usize]) -> Option<Estimates> {
        let d = self.d;
        let n = rows.len() as f64;
        let fa = |j: usize| self.f(j, 0);
        let fb = |j: usize| self.f(j, self.block - 1);
        let mean = rows.iter().map(|&j| fa(j) + fb(j)).sum::<f64>() / (2.0 * n);
        let variance = rows
            .iter()
            .map(|&j| (fa(j) - mean).powi(2) + (fb(j) - mean).powi(2))
            .sum::<f64>()
            / (2.0 * n);
        if variance.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let n_pairs = if self.second_order {
            d * (d - 1) / 2
        } else {
            0
        };
        let mut flat = vec![0.0; 2 * d + n_pairs];
        for i in 0..d {
            let (mut s1, mut st) = (0.0, 0.0);
            for &j in rows {
                let (a, b, ab) = (fa(j), fb(j) - mean, self.f(j, 1 + i));
                s1 += b * (ab - a);
                st += (a - ab).powi(2);
            }
            flat[i] = s1 / n / variance;
            flat[d + i] = st / (2.0 * n) / variance;
        }
        if self.second_order {
            let mut k = 2 * d;
            for i in 0..d {
                for l in i + 1..d {
                    let mut v = 0.0;
                    for &j in rows {
                        let ba_i = self.f(j, 1 + d + i) - mean;
                        let ab_l = self.f(j, 1 + l) - mean;
                        v += ba_i * ab_l - (fa(j) - mean) * (fb(j) - mean);
                    }
                    flat[k] = v / n / variance - flat[i] - flat[l];
                    k += 1;
                }
            }
        }
        Some(Estimates {
            mean,
            variance,
            flat,
        })
    }
}
