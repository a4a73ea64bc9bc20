//! The few statistics the tolerance rules need: quantiles of simulated values, the exact
//! (Clopper–Pearson) binomial interval of an observed rate and the Student-t interval of an
//! observed mean.

use tabula_trial::stats::{incomplete_beta, quantile_sorted, t_cdf};

/// Summary of one endpoint's per-patient values in one arm (patients whose simulation
/// succeeded and for whom the endpoint has a value).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Patients with a value.
    pub n: usize,
    /// Patients of the arm without a value (failed simulation, not applicable, never at risk).
    pub missing: usize,
    /// Median (type-7 quantile).
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (n - 1); `NaN` for fewer than two values.
    pub sd: f64,
    /// Lower end of the central prediction interval (see `level`).
    pub lower: f64,
    /// Upper end of the central prediction interval.
    pub upper: f64,
    /// Coverage of `[lower, upper]`: the share of simulated patients between them (0.9 for
    /// the 5th to 95th percentiles).
    pub level: f64,
    /// Share of values >= 0.5 (the responder rate of a binary endpoint).
    pub proportion: f64,
    /// Values that are censoring times (time-to-event endpoints without an event).
    pub censored: usize,
}

impl Summary {
    /// Summarises `values` (non-finite values count as missing) with a central interval of
    /// coverage `level`.
    pub fn of(values: &[f64], censored: usize, level: f64) -> Summary {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let missing = values.len() - v.len();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = if n > 0 {
            v.iter().sum::<f64>() / n as f64
        } else {
            f64::NAN
        };
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let alpha = (1.0 - level) / 2.0;
        Summary {
            n,
            missing,
            median: quantile_sorted(&v, 0.5),
            mean,
            sd,
            lower: quantile_sorted(&v, alpha),
            upper: quantile_sorted(&v, 1.0 - alpha),
            level,
            proportion: if n > 0 {
                v.iter().filter(|x| **x >= 0.5).count() as f64 / n as f64
            } else {
                f64::NAN
            },
            censored,
        }
    }
}

/// The exact (Clopper–Pearson) two-sided interval of a binomial proportion `x / n` at
/// confidence `level`: `[B(a/2; x, n-x+1), B(1-a/2; x+1, n-x)]` with `B(q; a, b)` the beta
/// quantile, `a = 1 - level`; the lower limit is 0 when `x = 0` and the upper 1 when `x = n`.
pub fn clopper_pearson(x: u64, n: u64, level: f64) -> (f64, f64) {
    if n == 0 || x > n {
        return (f64::NAN, f64::NAN);
    }
    let a = 1.0 - level;
    let (xf, nf) = (x as f64, n as f64);
    let lower = if x == 0 {
        0.0
    } else {
        beta_quantile(a / 2.0, xf, nf - xf + 1.0)
    };
    let upper = if x == n {
        1.0
    } else {
        beta_quantile(1.0 - a / 2.0, xf + 1.0, nf - xf)
    };
    (lower, upper)
}

/// The `q` quantile of the Beta(a, b) distribution, by bisection on the regularised
/// incomplete beta function.
pub fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if incomplete_beta(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-14 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The two-sided Student-t quantile `t(1 - (1 - level)/2, df)`.
pub fn t_quantile(level: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let p = 1.0 - (1.0 - level) / 2.0;
    let (mut lo, mut hi) = (0.0f64, 10.0f64);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The confidence interval of an observed mean: `mean ± t(level, n - 1) sd / sqrt(n)`.
pub fn mean_interval(mean: f64, sd: f64, n: u64, level: f64) -> (f64, f64) {
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let half = t_quantile(level, (n - 1) as f64) * sd / (n as f64).sqrt();
    (mean - half, mean + half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_published_values() {
        // Reference values (R: binom.test(x, n)$conf.int), checked independently by solving
        // the binomial tail equations P(X >= x; n, p) = 0.025 and P(X <= x; n, p) = 0.025.
        let (lo, hi) = clopper_pearson(5, 5, 0.95);
        assert!((lo - 0.4781762).abs() < 1e-6 && hi == 1.0, "{lo} {hi}");
        let (lo, hi) = clopper_pearson(13, 15, 0.95);
        assert!((lo - 0.5953973).abs() < 1e-6 && (hi - 0.9834241).abs() < 1e-6);
        let (lo, hi) = clopper_pearson(0, 3, 0.95);
        assert!(lo == 0.0 && (hi - 0.7075982).abs() < 1e-6);
        let (lo, hi) = clopper_pearson(1, 7, 0.95);
        assert!((lo - 0.0036102969).abs() < 1e-8 && (hi - 0.5787232).abs() < 1e-6);
    }

    #[test]
    fn t_interval_of_a_mean() {
        // t(0.975, 4) = 2.776445.
        assert!((t_quantile(0.95, 4.0) - 2.776445).abs() < 1e-5);
        let (lo, hi) = mean_interval(110.0, 32.0, 5, 0.95);
        assert!((lo - (110.0 - 2.776445 * 32.0 / 5f64.sqrt())).abs() < 1e-3);
        assert!(hi > 149.0 && hi < 150.0);
    }

    #[test]
    fn summary_quantiles() {
        let v: Vec<f64> = (0..=100).map(f64::from).chain([f64::NAN]).collect();
        let s = Summary::of(&v, 0, 0.9);
        assert_eq!(s.n, 101);
        assert_eq!(s.missing, 1);
        assert!((s.median - 50.0).abs() < 1e-12);
        assert!((s.lower - 5.0).abs() < 1e-12 && (s.upper - 95.0).abs() < 1e-12);
        assert!((s.proportion - 100.0 / 101.0).abs() < 1e-12);
    }
}
