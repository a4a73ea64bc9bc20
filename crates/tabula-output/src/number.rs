//! Number formatting: exact (for data files) and readable (for people).
//!
//! * [`format_exact`] writes the shortest decimal that parses back to the same `f64`
//!   bit for bit. Data files use it, so a CSV round trip never loses precision.
//! * [`format_sig`] rounds to a number of significant digits for tables and reports.
//! * Axis tick labels share one number of decimals per axis and never show floating
//!   point noise such as `0.30000000000000004`.

use std::fmt::Write as _;

/// Appends the shortest decimal representation of `x` that parses back to exactly `x`.
///
/// Integral values keep a `.0` (`3.0`) so that readers that infer column types from the
/// first rows (pandas, polars, R) never take a float column for an integer one; very
/// large or small magnitudes use an exponent (`1e-7`, `6.02e23`). Non-finite values are
/// written as `NaN`, `inf` and `-inf`, which Rust, Python and R all parse.
pub fn write_exact(buf: &mut String, x: f64) {
    if x.is_nan() {
        buf.push_str("NaN");
    } else if x.is_infinite() {
        buf.push_str(if x > 0.0 { "inf" } else { "-inf" });
    } else {
        // `Debug` for f64 prints the shortest round-trip representation.
        let _ = write!(buf, "{x:?}");
    }
}

/// The shortest decimal representation of `x` that parses back to exactly `x`.
///
/// ```
/// use tabula_output::format_exact;
/// assert_eq!(format_exact(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(format_exact(2.0), "2.0");
/// assert_eq!(format_exact(1e-9), "1e-9");
/// assert_eq!(format_exact(0.1 + 0.2).parse::<f64>().unwrap(), 0.1 + 0.2);
/// ```
pub fn format_exact(x: f64) -> String {
    let mut s = String::new();
    write_exact(&mut s, x);
    s
}

/// Formats `x` with `digits` significant digits for people to read.
///
/// Trailing zeros are dropped. Magnitudes from 0.001 to below 1,000,000 are written in
/// fixed notation, others in scientific notation (`1.2e-5`). `NaN` is written `NA`.
///
/// ```
/// use tabula_output::format_sig;
/// assert_eq!(format_sig(0.123456, 3), "0.123");
/// assert_eq!(format_sig(1234.56, 3), "1235");
/// assert_eq!(format_sig(2.5e-5, 3), "2.5e-5");
/// assert_eq!(format_sig(0.30000000000000004, 3), "0.3");
/// assert_eq!(format_sig(f64::NAN, 3), "NA");
/// ```
pub fn format_sig(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NA".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let digits = digits.clamp(1, 17);
    let sci = format!("{:.*e}", digits - 1, x);
    let (mantissa, exp) = split_exponent(&sci);
    if (-3..6).contains(&exp) {
        let decimals = (digits as i32 - 1 - exp).max(0) as usize;
        let mut s = format!("{x:.decimals$}");
        trim_zeros(&mut s);
        if s == "-0" {
            s = "0".to_string();
        }
        s
    } else {
        let mut m = mantissa.to_string();
        trim_zeros(&mut m);
        format!("{m}e{exp}")
    }
}

/// Splits `1.23e-5` into (`1.23`, -5).
fn split_exponent(s: &str) -> (&str, i32) {
    match s.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

/// Removes trailing zeros after a decimal point, and the point itself if bare.
fn trim_zeros(s: &mut String) {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
}

/// Replaces the ASCII hyphen of a leading minus sign by the typographic minus (U+2212).
fn typographic_minus(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) => format!("\u{2212}{rest}"),
        None => s,
    }
}

/// Superscript digits for exponents in tick labels.
fn superscript(exp: i32) -> String {
    let mut out = String::new();
    if exp < 0 {
        out.push('\u{207B}');
    }
    for c in exp.unsigned_abs().to_string().chars() {
        out.push(match c {
            '0' => '\u{2070}',
            '1' => '\u{00B9}',
            '2' => '\u{00B2}',
            '3' => '\u{00B3}',
            '4' => '\u{2074}',
            '5' => '\u{2075}',
            '6' => '\u{2076}',
            '7' => '\u{2077}',
            '8' => '\u{2078}',
            '9' => '\u{2079}',
            _ => c,
        });
    }
    out
}

/// Labels for linear-axis ticks: one shared number of decimals, just enough to tell the
/// ticks apart; `×10ⁿ` notation for very large or very small magnitudes.
pub(crate) fn linear_tick_labels(ticks: &[f64]) -> Vec<String> {
    if ticks.is_empty() {
        return Vec::new();
    }
    let step = ticks
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0 && d.is_finite())
        .fold(f64::INFINITY, f64::min);
    let max_abs = ticks.iter().fold(0.0_f64, |m, t| m.max(t.abs()));
    let tolerance = if step.is_finite() {
        step * 1e-6
    } else {
        max_abs * 1e-9
    };
    let exact_enough = |label: &str, t: f64| {
        label
            .parse::<f64>()
            .map(|v| (v - t).abs() <= tolerance)
            .unwrap_or(false)
    };
    if max_abs < 1e5 && (max_abs >= 1e-3 || max_abs == 0.0) {
        for decimals in 0..=12 {
            let labels: Vec<String> = ticks.iter().map(|t| format!("{t:.decimals$}")).collect();
            if labels.iter().zip(ticks).all(|(l, t)| exact_enough(l, *t)) {
                return labels
                    .into_iter()
                    .map(clean_zero)
                    .map(typographic_minus)
                    .collect();
            }
        }
    } else {
        for precision in 0..=12 {
            let labels: Vec<String> = ticks.iter().map(|t| format!("{t:.precision$e}")).collect();
            if labels.iter().zip(ticks).all(|(l, t)| exact_enough(l, *t)) {
                return labels.iter().map(|l| pretty_scientific(l)).collect();
            }
        }
    }
    ticks.iter().map(|t| format_sig(*t, 6)).collect()
}

/// `-0.0` becomes `0.0`: a tick at zero never shows a sign.
fn clean_zero(s: String) -> String {
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// `1.5e6` → `1.5×10⁶`; `0e0` → `0`.
fn pretty_scientific(s: &str) -> String {
    let (m, e) = split_exponent(s);
    if m.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        return "0".to_string();
    }
    let mantissa = typographic_minus(m.to_string());
    if mantissa == "1" {
        format!("10{}", superscript(e))
    } else if mantissa == "\u{2212}1" {
        format!("\u{2212}10{}", superscript(e))
    } else {
        format!("{mantissa}\u{00D7}10{}", superscript(e))
    }
}

/// Labels for logarithmic-axis ticks: plain numbers when every tick lies between 0.001
/// and 10,000, otherwise powers of ten (`10⁶`, `2×10⁵`) throughout.
pub(crate) fn log_tick_labels(ticks: &[f64]) -> Vec<String> {
    let plain = ticks.iter().all(|t| (1e-3..=1e4).contains(t));
    ticks
        .iter()
        .map(|&t| {
            if !(t.is_finite() && t > 0.0) {
                String::new()
            } else if plain {
                format_sig(t, 3)
            } else {
                let e = t.log10().floor();
                let m = t / 10f64.powf(e);
                let (m, e) = if m >= 9.9995 { (1.0, e + 1.0) } else { (m, e) };
                let mantissa = format_sig(m, 3);
                if mantissa == "1" {
                    format!("10{}", superscript(e as i32))
                } else {
                    format!("{mantissa}\u{00D7}10{}", superscript(e as i32))
                }
            }
        })
        .collect()
}

/// "Nice" tick values (multiples of 1, 2, 2.5 or 5 × 10ⁿ) covering `[lo, hi]`, about
/// `target` of them. `lo < hi` and both finite are expected; anything else gives `[lo]`.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let step = nice_step((hi - lo) / target.max(2) as f64);
    if !(step.is_finite() && step > 0.0) {
        return vec![lo, hi];
    }
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !(first.is_finite() && last.is_finite()) || last - first > 1000.0 {
        return vec![lo, hi];
    }
    let mut ticks = Vec::new();
    let mut k = first;
    while k <= last {
        let t = k * step;
        // Snap to the step's decimal grid to avoid 0.30000000000000004.
        let t = snap(t, step);
        if ticks.last().is_none_or(|p| t > *p) {
            ticks.push(t);
        }
        k += 1.0;
    }
    ticks
}

/// A step of 1, 2, 2.5 or 5 × 10ⁿ at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return f64::NAN;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Rounds `t` to the decimal precision implied by `step`.
fn snap(t: f64, step: f64) -> f64 {
    let decimals = (-(step.log10().floor()) + 2.0).clamp(0.0, 15.0) as usize;
    format!("{t:.decimals$}").parse().unwrap_or(t)
}

/// Major ticks for a logarithmic axis over `[lo, hi]` (both > 0): powers of ten, thinned
/// when there are many decades, or 1-2-5 steps within a narrow range.
pub(crate) fn log_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return if lo > 0.0 && lo.is_finite() {
            vec![lo]
        } else {
            Vec::new()
        };
    }
    let e0 = lo.log10().ceil() as i32;
    let e1 = hi.log10().floor() as i32;
    let decades = e1 - e0 + 1;
    if decades >= 2 {
        let every = ((decades as usize).div_ceil(target.max(2))).max(1) as i32;
        return (e0..=e1)
            .filter(|e| (e - e0) % every == 0)
            .map(|e| 10f64.powi(e))
            .collect();
    }
    // Narrow range: 1, 2, 5 multiples, then plain linear ticks if still too few.
    let mut ticks = Vec::new();
    for e in (lo.log10().floor() as i32)..=(hi.log10().ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let t = snap(m * 10f64.powi(e), 10f64.powi(e));
            if t >= lo * (1.0 - 1e-12) && t <= hi * (1.0 + 1e-12) {
                ticks.push(t);
            }
        }
    }
    if ticks.len() >= 3 {
        ticks
    } else {
        nice_ticks(lo, hi, target)
            .into_iter()
            .filter(|t| *t > 0.0)
            .collect()
    }
}

/// Minor ticks (2..9 × 10ⁿ) for a logarithmic axis, when few decades are shown.
pub(crate) fn log_minor_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    if e1 - e0 > 6 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in e0..=e1 {
        for m in 2..=9 {
            let t = m as f64 * 10f64.powi(e);
            if t > lo && t < hi {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_round_trips() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.1,
            1.0 / 3.0,
            1e-300,
            6.02214076e23,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
            123_456_789.123_456_79,
        ] {
            let s = format_exact(x);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x} -> {s}");
        }
        assert_eq!(format_exact(1e300).len(), 5);
    }

    #[test]
    fn sig_digits() {
        assert_eq!(format_sig(999.96, 4), "1000");
        assert_eq!(format_sig(999_999.7, 3), "1e6");
        assert_eq!(format_sig(-0.000123456, 3), "-1.23e-4");
        assert_eq!(format_sig(0.00123456, 3), "0.00123");
        assert_eq!(format_sig(12.0, 3), "12");
        assert_eq!(format_sig(-1e-9, 2), "-1e-9");
    }

    #[test]
    fn ticks_are_clean() {
        let t = nice_ticks(0.0, 1.0, 5);
        assert_eq!(t, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let labels = linear_tick_labels(&nice_ticks(0.1, 0.7, 6));
        assert_eq!(
            labels,
            vec!["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]
        );
        let labels = linear_tick_labels(&[0.0, 0.25, 0.5]);
        assert_eq!(labels, vec!["0.00", "0.25", "0.50"]);
        let labels = linear_tick_labels(&[-1.0, 0.0, 1.0]);
        assert_eq!(labels, vec!["\u{2212}1", "0", "1"]);
        let labels = linear_tick_labels(&[0.0, 5e5, 1e6]);
        assert_eq!(labels, vec!["0", "5×10⁵", "10⁶"]);
    }

    #[test]
    fn log_ticks_cover_decades() {
        assert_eq!(log_ticks(0.5, 2000.0, 6), vec![1.0, 10.0, 100.0, 1000.0]);
        let narrow = log_ticks(3.0, 7.0, 5);
        assert!(narrow.len() >= 2, "{narrow:?}");
        assert_eq!(log_tick_labels(&[0.01, 0.1, 1.0]), vec!["0.01", "0.1", "1"]);
        assert_eq!(log_tick_labels(&[1e5, 1e6]), vec!["10⁵", "10⁶"]);
        assert_eq!(
            log_tick_labels(&[5e3, 1e4, 2e4]),
            vec!["5×10³", "10⁴", "2×10⁴"]
        );
        assert_eq!(log_tick_labels(&[1e-5, 1e-4]), vec!["10⁻⁵", "10⁻⁴"]);
    }

    #[test]
    fn degenerate_ticks_do_not_panic() {
        assert_eq!(nice_ticks(1.0, 1.0, 5), vec![1.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        let t = nice_ticks(1e9, 1e9 + 1e-6, 5);
        assert!(!t.is_empty());
        let _ = linear_tick_labels(&t);
        let t = nice_ticks(-1e308, 1e308, 5);
        assert!(!t.is_empty());
        let _ = linear_tick_labels(&t);
    }
}
