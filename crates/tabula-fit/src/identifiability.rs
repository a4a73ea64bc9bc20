//! Local (Fisher-information) identifiability at a fitted optimum.
//!
//! # Fisher information
//!
//! * Least squares with residuals `r(theta)` (ideally already divided by the measurement
//!   standard deviations): `F = J^T J / s^2`, with `J` the finite-difference Jacobian and `s^2`
//!   either known ([`NoiseModel::Known`]) or estimated as `SSR / (m - n)`
//!   ([`NoiseModel::Estimated`]).
//! * Negative log-likelihood `L(theta)`: `F = H`, the finite-difference Hessian (observed
//!   information).
//!
//! The covariance of the estimates is approximated by `F^-1` (Cramer-Rao), giving standard
//! errors `SE_i`, relative standard errors `RSE_i = SE_i / |theta_i|` and the correlation
//! matrix.
//!
//! # Criteria
//!
//! Eigen-analysis uses the *scaled* information `F_s = S F S`, `S = diag(s_i)` with
//! `s_i = |theta_i|` (the range width if `theta_i = 0`), i.e. the information about relative
//! changes, so that eigenvalues are comparable across units. With `lambda_max` its largest
//! eigenvalue:
//!
//! 1. **Null direction** ([`Issue::NullDirection`]): an eigenvalue with
//!    `lambda_k <= eigenvalue_ratio * lambda_max` (default `1e-8`; negative values mean the
//!    point is not a minimum). The data cannot move the parameters along that eigenvector;
//!    every parameter whose component in it has magnitude `>= loading_threshold` (default 0.2)
//!    is flagged and gets `SE = RSE = inf`. The remaining covariance is the pseudo-inverse over
//!    the other directions.
//! 2. **Large relative standard error** ([`Issue::LargeRse`]): `RSE_i > rse_threshold`
//!    (default 0.5, i.e. 50 %): practically non-identifiable with this data.
//! 3. **High correlation** ([`Issue::HighCorrelation`], a warning): `|corr_ij| >=
//!    correlation_threshold` (default 0.95).
//! 4. **At a bound** ([`Issue::AtBound`], a warning): the estimate lies on (within 1e-9 of the
//!    range) a bound, where the quadratic approximation is unreliable.
//!
//! A parameter is reported as identifiable when neither 1 nor 2 applies. These are local
//! indicators; a profile likelihood is the definitive check for flagged parameters.

use crate::error::{FitError, Result};
use crate::finite_diff::{hessian, jacobian};
use crate::linalg::sym_eigen;
use crate::matrix::Matrix;
use crate::space::ParameterSpace;
use std::fmt::Display;

/// How the residual scale is known in a least-squares problem.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NoiseModel {
    /// Estimate `s^2 = SSR / (m - n)` from the residuals (needs `m > n`).
    #[default]
    Estimated,
    /// The residuals have this known standard deviation (1.0 for pre-weighted residuals).
    Known(f64),
}

/// Thresholds of the identifiability criteria (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifiabilityOptions {
    /// Relative standard error above which a parameter is flagged.
    pub rse_threshold: f64,
    /// Ratio to the largest scaled eigenvalue at or below which a direction is null.
    pub eigenvalue_ratio: f64,
    /// Eigenvector component magnitude above which a parameter belongs to a null direction.
    pub loading_threshold: f64,
    /// Correlation magnitude reported as high.
    pub correlation_threshold: f64,
    /// Relative finite-difference step; `None`: `1e-6` for Jacobians, `1e-4` for Hessians.
    pub relative_step: Option<f64>,
}

impl Default for IdentifiabilityOptions {
    fn default() -> Self {
        IdentifiabilityOptions {
            rse_threshold: 0.5,
            eigenvalue_ratio: 1e-8,
            loading_threshold: 0.2,
            correlation_threshold: 0.95,
            relative_step: None,
        }
    }
}

/// A reason a parameter is flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Issue {
    /// The parameter loads on a (near-)null direction of the scaled information.
    NullDirection {
        /// That direction's eigenvalue divided by the largest one.
        eigenvalue_ratio: f64,
        /// The parameter's component in the eigenvector.
        loading: f64,
    },
    /// The relative standard error exceeds the threshold.
    LargeRse {
        /// The relative standard error.
        rse: f64,
    },
    /// Strong correlation with another parameter (warning only).
    HighCorrelation {
        /// Index of the other parameter.
        other: usize,
        /// The correlation coefficient.
        correlation: f64,
    },
    /// The estimate lies on a bound (warning only).
    AtBound,
}

/// Per-parameter indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterReport {
    /// Parameter name.
    pub name: String,
    /// Estimate (physical units).
    pub value: f64,
    /// Standard error (`inf` on a null direction).
    pub standard_error: f64,
    /// `SE / |value|` (`inf` on a null direction, `NaN` when the value is 0).
    pub relative_standard_error: f64,
    /// False when a null direction or a large RSE was found.
    pub identifiable: bool,
    /// Everything found, warnings included.
    pub issues: Vec<Issue>,
}

/// Result of an identifiability analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifiabilityReport {
    /// One entry per parameter.
    pub parameters: Vec<ParameterReport>,
    /// Fisher information in physical units.
    pub fisher_information: Matrix,
    /// Eigenvalues of the scaled information, ascending.
    pub eigenvalues: Vec<f64>,
    /// Matching unit eigenvectors, one per column.
    pub eigenvectors: Matrix,
    /// `lambda_max / lambda_min` of the scaled information (`inf` if `lambda_min <= 0`).
    pub condition_number: f64,
    /// Covariance approximation in physical units (pseudo-inverse when null directions exist).
    pub covariance: Matrix,
    /// Correlation matrix from `covariance` (`NaN` where a variance is zero).
    pub correlation: Matrix,
    /// The residual variance used (least squares only).
    pub residual_variance: Option<f64>,
}

impl IdentifiabilityReport {
    /// Names of the parameters that are not identifiable.
    pub fn unidentifiable(&self) -> Vec<&str> {
        self.parameters
            .iter()
            .filter(|p| !p.identifiable)
            .map(|p| p.name.as_str())
            .collect()
    }
}

/// Identifiability of a least-squares fit at `theta` (physical units).
pub fn least_squares_identifiability<F, E>(
    space: &ParameterSpace,
    theta: &[f64],
    residuals: F,
    noise: NoiseModel,
    options: &IdentifiabilityOptions,
) -> Result<IdentifiabilityReport>
where
    F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E> + Sync,
    E: Display,
{
    validate(options)?;
    let n = space.dim();
    let j = jacobian(
        space,
        &residuals,
        theta,
        options.relative_step.unwrap_or(1e-6),
    )?;
    let m = j.n_rows();
    let s2 = match noise {
        NoiseModel::Known(sd) => {
            if !(sd.is_finite() && sd > 0.0) {
                return Err(FitError::setting(
                    "noise standard deviation",
                    sd,
                    "a positive number",
                ));
            }
            sd * sd
        }
        NoiseModel::Estimated => {
            if m <= n {
                return Err(FitError::setting(
                    "residual count",
                    m,
                    format!("more residuals than parameters ({n}) to estimate the noise"),
                ));
            }
            let r = crate::eval::evaluate_vec(&residuals, theta).map_err(|message| {
                FitError::EvaluationFailed {
                    index: 0,
                    point: space.describe_point(theta),
                    message,
                    failed: 1,
                    total: 1,
                }
            })?;
            let ssr: f64 = r.iter().map(|v| v * v).sum();
            ssr / (m - n) as f64
        }
    };
    if s2 == 0.0 {
        return Err(FitError::Numerical(
            "the residuals are exactly zero, so the estimated noise variance is zero; \
             pass NoiseModel::Known with the measurement standard deviation"
                .into(),
        ));
    }
    let mut fim = vec![0.0; n * n];
    for k in 0..m {
        let row = j.row(k);
        for a in 0..n {
            for b in 0..n {
                fim[a * n + b] += row[a] * row[b] / s2;
            }
        }
    }
    report(space, theta, fim, Some(s2), options)
}

/// Identifiability from a negative log-likelihood minimised at `theta` (physical units): the
/// Fisher information is the Hessian of `neg_log_likelihood` there.
pub fn likelihood_identifiability<F, E>(
    space: &ParameterSpace,
    theta: &[f64],
    neg_log_likelihood: F,
    options: &IdentifiabilityOptions,
) -> Result<IdentifiabilityReport>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    validate(options)?;
    let h = hessian(
        space,
        &neg_log_likelihood,
        theta,
        options.relative_step.unwrap_or(1e-4),
    )?;
    report(space, theta, h.into_vec(), None, options)
}

fn validate(o: &IdentifiabilityOptions) -> Result<()> {
    let positive = |name: &'static str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(FitError::setting(name, v, "a positive number"))
        }
    };
    positive("rse_threshold", o.rse_threshold)?;
    positive("eigenvalue_ratio", o.eigenvalue_ratio)?;
    positive("loading_threshold", o.loading_threshold)?;
    positive("correlation_threshold", o.correlation_threshold)?;
    if let Some(h) = o.relative_step {
        positive("relative_step", h)?;
    }
    Ok(())
}

fn report(
    space: &ParameterSpace,
    theta: &[f64],
    fim: Vec<f64>,
    residual_variance: Option<f64>,
    o: &IdentifiabilityOptions,
) -> Result<IdentifiabilityReport> {
    let n = space.dim();
    if fim.iter().any(|v| !v.is_finite()) {
        return Err(FitError::Numerical(
            "the Fisher information has non-finite entries".into(),
        ));
    }
    let scale: Vec<f64> = space
        .parameters()
        .iter()
        .zip(theta)
        .map(|(p, &t)| if t != 0.0 { t.abs() } else { p.upper - p.lower })
        .collect();
    let mut scaled = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            scaled[a * n + b] = scale[a] * fim[a * n + b] * scale[b];
        }
    }
    let (vals, vecs) = sym_eigen(&scaled, n);
    let lmax = vals[n - 1];
    let null: Vec<bool> = vals
        .iter()
        .map(|&l| lmax <= 0.0 || l <= o.eigenvalue_ratio * lmax)
        .collect();
    // Pseudo-inverse of the scaled information over the non-null directions.
    let mut cov_s = vec![0.0; n * n];
    for k in 0..n {
        if null[k] {
            continue;
        }
        for a in 0..n {
            for b in 0..n {
                cov_s[a * n + b] += vecs[a * n + k] * vecs[b * n + k] / vals[k];
            }
        }
    }
    let mut cov = Matrix::zeros(n, n);
    for a in 0..n {
        for b in 0..n {
            cov.set(a, b, scale[a] * cov_s[a * n + b] * scale[b]);
        }
    }
    let mut corr = Matrix::zeros(n, n);
    for a in 0..n {
        for b in 0..n {
            let d = cov.get(a, a) * cov.get(b, b);
            corr.set(
                a,
                b,
                if d > 0.0 {
                    cov.get(a, b) / d.sqrt()
                } else {
                    f64::NAN
                },
            );
        }
    }
    let mut parameters = Vec::with_capacity(n);
    for (i, p) in space.parameters().iter().enumerate() {
        let mut issues = Vec::new();
        for k in 0..n {
            let loading = vecs[i * n + k];
            if null[k] && loading.abs() >= o.loading_threshold {
                issues.push(Issue::NullDirection {
                    eigenvalue_ratio: if lmax > 0.0 { vals[k] / lmax } else { f64::NAN },
                    loading,
                });
            }
        }
        let on_null = !issues.is_empty();
        let se = if on_null {
            f64::INFINITY
        } else {
            cov.get(i, i).max(0.0).sqrt()
        };
        let rse = if theta[i] != 0.0 {
            se / theta[i].abs()
        } else {
            f64::NAN
        };
        if !on_null && rse > o.rse_threshold {
            issues.push(Issue::LargeRse { rse });
        }
        for other in 0..n {
            let c = corr.get(i, other);
            if other != i && c.abs() >= o.correlation_threshold {
                issues.push(Issue::HighCorrelation {
                    other,
                    correlation: c,
                });
            }
        }
        let tol = 1e-9 * (p.upper - p.lower);
        if theta[i] - p.lower <= tol || p.upper - theta[i] <= tol {
            issues.push(Issue::AtBound);
        }
        let identifiable = !issues
            .iter()
            .any(|is| matches!(is, Issue::NullDirection { .. } | Issue::LargeRse { .. }));
        parameters.push(ParameterReport {
            name: p.name.clone(),
            value: theta[i],
            standard_error: se,
            relative_standard_error: rse,
            identifiable,
            issues,
        });
    }
    Ok(IdentifiabilityReport {
        parameters,
        fisher_information: Matrix::from_row_major(n, n, fim)?,
        condition_number: if vals[0] > 0.0 {
            lmax / vals[0]
        } else {
            f64::INFINITY
        },
        eigenvalues: vals,
        eigenvectors: Matrix::from_row_major(n, n, vecs)?,
        covariance: cov,
        correlation: corr,
        residual_variance,
    })
}
