//! Global sensitivity analysis: Morris screening and Sobol variance-based indices.
//!
//! Both methods follow the same two-step shape, so that a simulator run elsewhere (another
//! process, a cluster) can be plugged in between:
//!
//! 1. build a design ([`MorrisDesign::new`], [`SaltelliDesign::new`]) and evaluate the model at
//!    its rows (with [`crate::evaluate`], or externally and wrapped by
//!    [`crate::Evaluations::from_values`]);
//! 2. analyse the outputs (`analyze`). Several endpoints of one simulation can be analysed from
//!    the same design, one `analyze` call per endpoint.
//!
//! [`morris_screening`] and [`sobol_indices`] do both steps with a closure.
//!
//! Confidence intervals are percentile bootstrap intervals: the analysis units (base rows for
//! Sobol, trajectories for Morris) are resampled with replacement `bootstrap` times, each
//! replicate from its own seeded random stream, and the estimates recomputed. To report
//! progress while a design is evaluated, wrap the model closure so that it increments an
//! atomic counter.

mod morris;
mod sobol;

pub use morris::{morris_screening, MorrisConfig, MorrisDesign, MorrisIndices};
pub use sobol::{sobol_indices, PairIndex, SaltelliDesign, SobolConfig, SobolIndices};

use crate::error::{FitError, Result};

/// A point estimate with an optional bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The estimate from all usable samples.
    pub value: f64,
    /// Percentile bootstrap interval `(lower, upper)` at the configured confidence level;
    /// `None` when bootstrapping was switched off (`bootstrap = 0`) or no replicate was usable.
    pub ci: Option<(f64, f64)>,
}

/// Checks the bootstrap settings shared by both analyses.
fn check_bootstrap(bootstrap: usize, confidence: f64) -> Result<()> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(FitError::setting(
            "confidence",
            confidence,
            "a level strictly between 0 and 1, e.g. 0.95",
        ));
    }
    if bootstrap > 1_000_000 {
        return Err(FitError::setting(
            "bootstrap",
            bootstrap,
            "at most 1000000 replicates",
        ));
    }
    Ok(())
}

/// Percentile interval of the finite values in `samples` (sorted in place), using linear
/// interpolation between order statistics. `None` if fewer than two finite values.
fn percentile_interval(samples: &mut Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    samples.retain(|v| v.is_finite());
    if samples.len() < 2 {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Some((quantile(samples, alpha), quantile(samples, 1.0 - alpha)))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Collects column `k` of bootstrap replicate estimates and turns it into an interval.
fn column_interval(replicates: &[Vec<f64>], k: usize, confidence: f64) -> Option<(f64, f64)> {
    let mut col: Vec<f64> = replicates.iter().map(|r| r[k]).collect();
    percentile_interval(&mut col, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interval_interpolates() {
        let mut v: Vec<f64> = (0..=100).map(f64::from).collect();
        v.push(f64::NAN);
        let (lo, hi) = percentile_interval(&mut v, 0.9).unwrap();
        assert!((lo - 5.0).abs() < 1e-12 && (hi - 95.0).abs() < 1e-12);
        assert!(percentile_interval(&mut vec![1.0], 0.9).is_none());
        assert!(check_bootstrap(10, 1.0).is_err());
        assert!(check_bootstrap(10, f64::NAN).is_err());
    }
}
