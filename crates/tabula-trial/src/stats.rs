//! Statistics for trial summaries: exact (order-independent) sums, 95% confidence intervals for
//! proportions (Wilson), means (Student t), medians (order statistics) and Kaplan–Meier
//! survival with Greenwood variance and the Brookmeyer–Crowley interval for the median.
//!
//! Every function here is a deterministic function of the *multiset* of values it is given:
//! the result does not depend on the order in which patients were simulated, on the number of
//! threads or on how the population was split into shards. [`ExactSum`] is what makes this
//! true for means: it keeps the sum exactly (Shewchuk's non-overlapping partials) and rounds
//! once, correctly, at the end.

use std::collections::BTreeMap;

/// The two-sided 97.5% standard-normal quantile: every interval in this crate is a 95% interval.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// An exactly accumulated sum of `f64` values, correctly rounded when read.
///
/// Shewchuk's algorithm (as in Python's `math.fsum`): the running sum is kept as a short list
/// of non-overlapping partials whose exact sum is the exact sum of the inputs. The result is
/// therefore independent of the order of the additions and of how partial sums are merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExactSum {
    partials: Vec<f64>,
    special: f64,
}

impl ExactSum {
    /// An empty sum (zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value. Non-finite values are summed separately (they make the result
    /// non-finite, as they would in floating point).
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.special += value;
            return;
        }
        let mut x = value;
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// Adds every partial of another sum (merging two accumulators).
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.partials {
            self.add(p);
        }
        self.special += other.special;
    }

    /// The correctly rounded value of the exact sum.
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let mut n = p.len();
        if n == 0 {
            return 0.0;
        }
        n -= 1;
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases correctly (the remaining partials break the tie).
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

/// A value with a 95% confidence interval (`NaN` limits when none can be given).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Point estimate.
    pub value: f64,
    /// Lower 95% limit.
    pub lower: f64,
    /// Upper 95% limit.
    pub upper: f64,
}

impl Estimate {
    /// An estimate without an interval.
    pub fn point(value: f64) -> Self {
        Estimate {
            value,
            lower: f64::NAN,
            upper: f64::NAN,
        }
    }

    /// Nothing to estimate.
    pub fn missing() -> Self {
        Self::point(f64::NAN)
    }
}

/// A proportion `successes / n` with the Wilson score interval:
/// `(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`.
pub fn wilson(successes: u64, n: u64) -> Estimate {
    if n == 0 {
        return Estimate::missing();
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = Z_975 * Z_975;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z_975 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Estimate {
        value: p,
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
    }
}

/// The mean with the Student t interval `mean ± t(0.975, n-1) sd / sqrt(n)`, from the count,
/// the sum and the sum of squares.
pub fn t_interval(n: u64, sum: f64, sum_sq: f64) -> (Estimate, f64) {
    if n == 0 {
        return (Estimate::missing(), f64::NAN);
    }
    let n_f = n as f64;
    let mean = sum / n_f;
    if n < 2 {
        return (Estimate::point(mean), f64::NAN);
    }
    let var = ((sum_sq - sum * mean) / (n_f - 1.0)).max(0.0);
    let sd = var.sqrt();
    let half = t_quantile_975(n_f - 1.0) * sd / n_f.sqrt();
    (
        Estimate {
            value: mean,
            lower: mean - half,
            upper: mean + half,
        },
        sd,
    )
}

/// The p-quantile of sorted values with linear interpolation between order statistics
/// (Hyndman and Fan type 7, the default of R and NumPy).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// The 1-based ranks `(l, u)` of the distribution-free 95% interval for the median of `n`
/// values: the largest `l` with `P(Bin(n, 1/2) <= l - 1) <= 0.025`, and `u = n + 1 - l`.
/// `None` when no such interval exists (n < 6).
pub fn median_ci_ranks(n: u64) -> Option<(u64, u64)> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    // log P(X = k) for X ~ Bin(n, 1/2), accumulated upwards from k = 0.
    let mut log_pmf = -n_f * std::f64::consts::LN_2;
    let mut cdf = 0.0;
    let mut l = 0;
    for k in 0..n {
        cdf += log_pmf.exp();
        if cdf > 0.025 {
            break;
        }
        // P(X <= k) <= 0.025: rank k + 1 is admissible.
        l = k + 1;
        log_pmf += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    (l >= 1).then_some((l, n + 1 - l))
}

/// The median of sorted values with its distribution-free 95% interval (order statistics).
pub fn median_with_ci(sorted: &[f64]) -> Estimate {
    let median = quantile_sorted(sorted, 0.5);
    match median_ci_ranks(sorted.len() as u64) {
        Some((l, u)) => Estimate {
            value: median,
            lower: sorted[(l - 1) as usize],
            upper: sorted[(u - 1) as usize],
        },
        None => Estimate::point(median),
    }
}

/// How the pointwise Kaplan–Meier interval is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KmInterval {
    /// `S^exp(±z se / ln S)` (the complementary log-log transform; Kalbfleisch and Prentice).
    #[default]
    LogLog,
    /// `S exp(±z se)`, with `se² = Greenwood sum` (R's `survfit` default).
    Log,
}

/// One step of a Kaplan–Meier curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KmStep {
    /// Event time.
    pub time: f64,
    /// Number at risk just before `time`.
    pub at_risk: u64,
    /// Events at `time`.
    pub events: u64,
    /// Survival just after `time`.
    pub survival: f64,
    /// Lower 95% limit of the survival.
    pub lower: f64,
    /// Upper 95% limit of the survival.
    pub upper: f64,
}

/// A Kaplan–Meier estimate with its median.
#[derive(Clone, Debug, PartialEq)]
pub struct KaplanMeier {
    /// Patients analysed.
    pub n: u64,
    /// Events observed.
    pub events: u64,
    /// One step per distinct event time.
    pub steps: Vec<KmStep>,
    /// Distinct censoring times with their counts.
    pub censored: Vec<(f64, u64)>,
    /// Median time to event with its Brookmeyer–Crowley 95% interval (NaN where not reached).
    pub median: Estimate,
}

/// Event and censoring counts by time: the sufficient statistic of a Kaplan–Meier curve.
/// Merging two of them is exact, so shards can be combined.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KmCounts {
    by_time: BTreeMap<u64, (u64, u64)>,
}

/// Order-preserving key of a finite non-negative or negative `f64`.
fn time_key(t: f64) -> u64 {
    let bits = t.to_bits();
    if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    }
}

fn key_time(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

impl KmCounts {
    /// Records a patient: an event at `time`, or censoring at `time`.
    pub fn add(&mut self, time: f64, event: bool) {
        if !time.is_finite() {
            return;
        }
        let e = self.by_time.entry(time_key(time)).or_insert((0, 0));
        if event {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }

    /// Adds the counts of another accumulator.
    pub fn merge(&mut self, other: &KmCounts) {
        for (k, (d, c)) in &other.by_time {
            let e = self.by_time.entry(*k).or_insert((0, 0));
            e.0 += d;
            e.1 += c;
        }
    }

    /// Patients recorded.
    pub fn len(&self) -> u64 {
        self.by_time.values().map(|(d, c)| d + c).sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// The product-limit estimate. At tied times events are counted before censorings.
    pub fn estimate(&self, interval: KmInterval) -> KaplanMeier {
        let n = self.len();
        let mut at_risk = n;
        let mut s = 1.0;
        let mut greenwood = 0.0;
        let mut steps = Vec::new();
        let mut censored = Vec::new();
        let mut events_total = 0;
        for (k, &(d, c)) in &self.by_time {
            let t = key_time(*k);
            if d > 0 {
                let r = at_risk as f64;
                s *= 1.0 - d as f64 / r;
                greenwood += if at_risk > d {
                    d as f64 / (r * (r - d as f64))
                } else {
                    f64::INFINITY
                };
                let (lower, upper) = km_interval(s, greenwood, interval);
                steps.push(KmStep {
                    time: t,
                    at_risk,
                    events: d,
                    survival: s,
                    lower,
                    upper,
                });
                events_total += d;
            }
            if c > 0 {
                censored.push((t, c));
            }
            at_risk -= d + c;
        }
        let median = km_median(&steps);
        KaplanMeier {
            n,
            events: events_total,
            steps,
            censored,
            median,
        }
    }
}

/// Pointwise 95% limits of a survival probability `s` with Greenwood sum `gw`.
fn km_interval(s: f64, gw: f64, interval: KmInterval) -> (f64, f64) {
    if s <= 0.0 || !gw.is_finite() {
        // No variance at S = 0 (every patient at risk had the event): no interval.
        return (f64::NAN, f64::NAN);
    }
    if s >= 1.0 || gw == 0.0 {
        return (s, s);
    }
    let se = gw.sqrt();
    match interval {
        KmInterval::Log => (s * (-Z_975 * se).exp(), (s * (Z_975 * se).exp()).min(1.0)),
        KmInterval::LogLog => {
            let w = Z_975 * se / s.ln().abs();
            (s.powf(w.exp()), s.powf((-w).exp()))
        }
    }
}

/// Median survival time and its Brookmeyer–Crowley interval: the median is the first time the
/// curve falls to 0.5 or below (the midpoint to the next event time when it is exactly 0.5);
/// the lower limit is the first time the lower pointwise limit is <= 0.5 and the upper limit
/// the first time the upper pointwise limit is <= 0.5 (`NaN` if never).
fn km_median(steps: &[KmStep]) -> Estimate {
    let first = |f: &dyn Fn(&KmStep) -> bool| -> f64 {
        steps.iter().find(|s| f(s)).map_or(f64::NAN, |s| s.time)
    };
    let mut median = f64::NAN;
    if let Some(i) = steps.iter().position(|s| s.survival <= 0.5) {
        median = steps[i].time;
        if (steps[i].survival - 0.5).abs() <= 1e-12 {
            if let Some(next) = steps.get(i + 1) {
                median = 0.5 * (steps[i].time + next.time);
            }
        }
    }
    Estimate {
        value: median,
        lower: first(&|s| s.lower <= 0.5),
        upper: first(&|s| s.upper <= 0.5),
    }
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(π x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the regularised incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let bt = ln_bt.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The cumulative distribution function of Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(0.5 * df, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (bisection on [`t_cdf`]).
pub fn t_quantile_975(df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df > 1e7 {
        return Z_975;
    }
    let (mut lo, mut hi) = (Z_975, 20.0);
    while t_cdf(hi, df) < 0.975 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < 0.975 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-15 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The regularised lower incomplete gamma function P(a, x).
pub fn incomplete_gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // Series.
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        sum * (-x + a * x.ln() - gln).exp()
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - gln).exp() * h
    }
}

/// The standard-normal cumulative distribution function Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    // Φ(x) = (1 + sign(x) P(1/2, x²/2)) / 2.
    let p = incomplete_gamma_p(0.5, 0.5 * x * x);
    if x >= 0.0 {
        0.5 * (1.0 + p)
    } else {
        0.5 * (1.0 - p)
    }
}

/// The standard-normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sum_is_order_independent_and_exact() {
        let xs = [1e100, 1.0, -1e100, 1e-100, 3.0, -2.5e-8, 7.25];
        let mut a = ExactSum::new();
        for x in xs {
            a.add(x);
        }
        let mut b = ExactSum::new();
        for x in xs.iter().rev() {
            b.add(*x);
        }
        assert_eq!(a.value(), b.value());
        assert_eq!(a.value(), 11.249999975);
        let (mut c, mut d) = (ExactSum::new(), ExactSum::new());
        for x in &xs[..3] {
            c.add(*x);
        }
        for x in &xs[3..] {
            d.add(*x);
        }
        c.merge(&d);
        assert_eq!(c.value(), a.value());
        // 0.1 ten times is exactly representable as the rounding of 1.0 (naive sum is not 1).
        let mut s = ExactSum::new();
        for _ in 0..10 {
            s.add(0.1);
        }
        assert_eq!(s.value(), 1.0);
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Stat Med 17:857, Table I: 81/263 -> 0.2553 to 0.3662.
        let e = wilson(81, 263);
        assert!((e.lower - 0.2553).abs() < 5e-5, "{e:?}");
        assert!((e.upper - 0.3662).abs() < 5e-5, "{e:?}");
        // 0/10 -> 0 to 0.2775 (Newcombe Table I).
        let e = wilson(0, 10);
        assert_eq!(e.lower, 0.0);
        assert!((e.upper - 0.2775).abs() < 5e-5, "{e:?}");
        assert!(wilson(0, 0).value.is_nan());
    }

    #[test]
    fn t_quantiles_match_tables() {
        for (df, t) in [
            (1.0, 12.706_204_736),
            (2.0, 4.302_652_730),
            (5.0, 2.570_581_836),
            (10.0, 2.228_138_852),
            (30.0, 2.042_272_456),
            (100.0, 1.983_971_519),
        ] {
            let q = t_quantile_975(df);
            assert!((q - t).abs() < 1e-8, "df {df}: {q} vs {t}");
        }
        // Mean of 1..=10: 5.5, sd 3.0276504, half-width t(0.975, 9) = 2.2621572 x sd / sqrt(10).
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let (e, sd) = t_interval(10, xs.iter().sum(), xs.iter().map(|x| x * x).sum());
        assert!((sd - 3.027_650_354).abs() < 1e-8);
        assert!((e.lower - (5.5 - 2.165_850_590)).abs() < 1e-8, "{e:?}");
    }

    #[test]
    fn median_ranks_match_binomial_tables() {
        // Conover, Practical Nonparametric Statistics, Table A3: n = 10 -> (2, 9),
        // n = 20 -> (6, 15), n = 6 -> (1, 6); none for n = 5.
        assert_eq!(median_ci_ranks(10), Some((2, 9)));
        assert_eq!(median_ci_ranks(20), Some((6, 15)));
        assert_eq!(median_ci_ranks(6), Some((1, 6)));
        assert_eq!(median_ci_ranks(5), None);
        // Large n agrees with the normal approximation n/2 - 0.98 sqrt(n) within one rank.
        let (l, u) = median_ci_ranks(10_000).unwrap();
        assert!((l as f64 - (5000.0 - 98.0)).abs() <= 1.5, "{l}");
        assert_eq!(u, 10_001 - l);
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let m = median_with_ci(&xs);
        assert_eq!((m.value, m.lower, m.upper), (5.5, 2.0, 9.0));
    }

    fn aml(times: &[(f64, bool)]) -> KaplanMeier {
        let mut c = KmCounts::default();
        for &(t, e) in times {
            c.add(t, e);
        }
        c.estimate(KmInterval::Log)
    }

    #[test]
    fn kaplan_meier_matches_r_survfit_on_the_aml_data() {
        // R: survfit(Surv(time, status) ~ x, data = aml): Maintained median 31 (18, NA);
        // Nonmaintained median 23 (8, NA).
        let maintained = [
            (9.0, true),
            (13.0, true),
            (13.0, false),
            (18.0, true),
            (23.0, true),
            (28.0, false),
            (31.0, true),
            (34.0, true),
            (45.0, false),
            (48.0, true),
            (161.0, false),
        ];
        let km = aml(&maintained);
        assert_eq!(km.n, 11);
        assert_eq!(km.events, 7);
        assert_eq!(km.median.value, 31.0);
        assert_eq!(km.median.lower, 18.0);
        assert!(km.median.upper.is_nan());
        // S(23) = 10/11 * 9/10 * 7/8 * 6/7 = 0.6136; Greenwood se of S(23) 0.1532 (R: 0.153).
        let s23 = km.steps.iter().find(|s| s.time == 23.0).unwrap();
        assert!((s23.survival - 0.613_636_36).abs() < 1e-7);
        let non = [
            (5.0, true),
            (5.0, true),
            (8.0, true),
            (8.0, true),
            (12.0, true),
            (16.0, false),
            (23.0, true),
            (27.0, true),
            (30.0, true),
            (33.0, true),
            (43.0, true),
            (45.0, true),
        ];
        let km = aml(&non);
        assert_eq!(km.events, 11);
        assert_eq!(km.median.value, 23.0);
        assert_eq!(km.median.lower, 8.0);
        assert!(km.median.upper.is_nan());
    }

    #[test]
    fn log_log_interval_matches_the_formula() {
        let mut c = KmCounts::default();
        for (t, e) in [
            (1.0, true),
            (2.0, true),
            (3.0, false),
            (4.0, true),
            (5.0, false),
        ] {
            c.add(t, e);
        }
        let km = c.estimate(KmInterval::LogLog);
        // At t = 2: S = 0.6, Greenwood = 1/20 + 1/12.
        let s = 0.6_f64;
        let gw: f64 = 1.0 / 20.0 + 1.0 / 12.0;
        let w = Z_975 * gw.sqrt() / s.ln().abs();
        let step = km.steps[1];
        assert!((step.lower - s.powf(w.exp())).abs() < 1e-14);
        assert!((step.upper - s.powf((-w).exp())).abs() < 1e-14);
        assert!(step.lower < s && s < step.upper);
        // S(4) = 0.6 * 1/2 = 0.3: median 4.
        assert_eq!(km.median.value, 4.0);
    }

    #[test]
    fn normal_cdf_matches_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_cdf(Z_975) - 0.975).abs() < 1e-12);
        assert!((normal_cdf(-1.0) - 0.158_655_253_931_457).abs() < 1e-12);
        assert!((normal_cdf(3.0) - 0.998_650_101_968_37).abs() < 1e-12);
    }
}
