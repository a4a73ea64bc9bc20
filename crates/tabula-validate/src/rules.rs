//! Judging a simulated summary against an observed outcome with a target's rule.

use crate::stats::{clopper_pearson, mean_interval, Summary};
use crate::target::{Observed, Rule, Statistic};

/// The outcome of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Whether the target is reproduced.
    pub passed: bool,
    /// The simulated statistic the rule compared (median, mean or proportion).
    pub simulated: f64,
    /// The simulated interval shown next to it (the prediction interval of per-patient values,
    /// or the Wilson interval of a simulated proportion); `NaN` when none.
    pub sim_lower: f64,
    /// Upper end of the simulated interval.
    pub sim_upper: f64,
    /// The acceptance region on the observed side (the observed CI or range), when the rule
    /// has one; `NaN` otherwise.
    pub obs_lower: f64,
    /// Upper end of the acceptance region.
    pub obs_upper: f64,
    /// One sentence: what was compared with what.
    pub detail: String,
}

fn fmt(x: f64) -> String {
    tabula_output::format_sig(x, 4)
}

/// The simulated statistic a rule compares.
pub fn statistic(sim: &Summary, s: Statistic) -> f64 {
    match s {
        Statistic::Median => sim.median,
        Statistic::Mean => sim.mean,
        Statistic::Proportion => sim.proportion,
    }
}

/// The observed number a distance rule compares with: the central value, else the rate.
fn observed_point(obs: &Observed) -> f64 {
    obs.central
        .map(|(_, v)| v)
        .or_else(|| obs.rate())
        .unwrap_or(f64::NAN)
}

/// Applies `rule` to the simulated summary `sim` and the observation `obs`.
pub fn judge(rule: &Rule, obs: &Observed, sim: &Summary) -> Verdict {
    let stat = statistic(sim, rule.statistic());
    let mut v = Verdict {
        passed: false,
        simulated: stat,
        sim_lower: sim.lower,
        sim_upper: sim.upper,
        obs_lower: f64::NAN,
        obs_upper: f64::NAN,
        detail: String::new(),
    };
    if rule.statistic() == Statistic::Proportion && sim.n > 0 {
        let successes = (sim.proportion * sim.n as f64).round() as u64;
        let w = tabula_trial::stats::wilson(successes, sim.n as u64);
        v.sim_lower = w.lower;
        v.sim_upper = w.upper;
    }
    if sim.n == 0 || !stat.is_finite() {
        v.detail = "no simulated value (every patient failed or the endpoint is missing)".into();
        return v;
    }
    // A tolerance of a few ulps keeps exact ties (e.g. 0 inside [0, 0]) inside.
    let inside = |x: f64, lo: f64, hi: f64| {
        let tol = 1e-9 * (lo.abs().max(hi.abs())).max(1e-300);
        x >= lo - tol && x <= hi + tol
    };
    match rule {
        Rule::ObservedInInterval { level } => {
            let o = observed_point(obs);
            v.passed = inside(o, sim.lower, sim.upper);
            v.detail = format!(
                "observed {} vs simulated {}% interval [{}, {}] (median {})",
                fmt(o),
                fmt(100.0 * level),
                fmt(sim.lower),
                fmt(sim.upper),
                fmt(sim.median)
            );
        }
        Rule::RateInBinomialCi { level } => {
            let (x, n) = (obs.events.unwrap_or(0), obs.n.unwrap_or(0));
            let (lo, hi) = clopper_pearson(x, n, *level);
            v.obs_lower = lo;
            v.obs_upper = hi;
            v.passed = inside(stat, lo, hi);
            v.detail = format!(
                "simulated {} of {} patients vs observed {x}/{n}, exact {}% CI [{}, {}]",
                fmt(stat),
                sim.n,
                fmt(100.0 * level),
                fmt(lo),
                fmt(hi)
            );
        }
        Rule::MeanInObservedCi { level } => {
            let m = observed_point(obs);
            let (lo, hi) = mean_interval(m, obs.sd.unwrap_or(f64::NAN), obs.n.unwrap_or(0), *level);
            v.obs_lower = lo;
            v.obs_upper = hi;
            v.passed = inside(stat, lo, hi);
            v.detail = format!(
                "simulated mean {} vs observed mean {}, {}% CI [{}, {}]",
                fmt(stat),
                fmt(m),
                fmt(100.0 * level),
                fmt(lo),
                fmt(hi)
            );
        }
        Rule::SimulatedInRange { statistic } => {
            let (lo, hi) = (obs.lower.unwrap_or(f64::NAN), obs.upper.unwrap_or(f64::NAN));
            v.obs_lower = lo;
            v.obs_upper = hi;
            v.passed = inside(stat, lo, hi);
            v.detail = format!(
                "simulated {} {} vs observed range [{}, {}]",
                statistic.name(),
                fmt(stat),
                fmt(lo),
                fmt(hi)
            );
        }
        Rule::RelativeError { max, statistic } => {
            let o = observed_point(obs);
            let err = (stat - o).abs() / o.abs();
            v.obs_lower = o - max * o.abs();
            v.obs_upper = o + max * o.abs();
            v.passed = err <= *max;
            v.detail = format!(
                "simulated {} {} vs observed {}: relative error {}% (limit {}%)",
                statistic.name(),
                fmt(stat),
                fmt(o),
                fmt(100.0 * err),
                fmt(100.0 * max)
            );
        }
        Rule::FoldError { max, statistic } => {
            let o = observed_point(obs);
            let fold = if stat > 0.0 && o > 0.0 {
                (stat / o).max(o / stat)
            } else {
                f64::INFINITY
            };
            v.obs_lower = o / max;
            v.obs_upper = o * max;
            v.passed = fold <= *max;
            v.detail = format!(
                "simulated {} {} vs observed {}: {}-fold (limit {})",
                statistic.name(),
                fmt(stat),
                fmt(o),
                fmt(fold),
                fmt(*max)
            );
        }
        Rule::AbsoluteError { max, statistic } => {
            let o = observed_point(obs);
            v.obs_lower = o - max;
            v.obs_upper = o + max;
            v.passed = (stat - o).abs() <= *max;
            v.detail = format!(
                "simulated {} {} vs observed {} (limit ± {})",
                statistic.name(),
                fmt(stat),
                fmt(o),
                fmt(*max)
            );
        }
        Rule::Threshold {
            op,
            threshold,
            statistic,
        } => {
            v.passed = op.holds(stat, *threshold);
            match op {
                tabula_trial::spec::Op::Below | tabula_trial::spec::Op::AtMost => {
                    v.obs_upper = *threshold;
                }
                _ => v.obs_lower = *threshold,
            }
            v.detail = format!(
                "simulated {} {} (required {} {})",
                statistic.name(),
                fmt(stat),
                op.symbol(),
                fmt(*threshold)
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::CentralKind;

    fn obs_mean() -> Observed {
        Observed {
            central: Some((CentralKind::Mean, 110.0)),
            sd: Some(32.0),
            n: Some(5),
            ..Observed::default()
        }
    }

    #[test]
    fn interval_rules() {
        let sim = Summary::of(&(60..=160).map(f64::from).collect::<Vec<_>>(), 0, 0.9);
        let v = judge(&Rule::ObservedInInterval { level: 0.9 }, &obs_mean(), &sim);
        assert!(v.passed, "{}", v.detail);
        let v = judge(&Rule::MeanInObservedCi { level: 0.95 }, &obs_mean(), &sim);
        assert!(v.passed && (v.simulated - 110.0).abs() < 1e-12);
        let far = Summary::of(&[300.0, 310.0, 320.0], 0, 0.9);
        assert!(!judge(&Rule::ObservedInInterval { level: 0.9 }, &obs_mean(), &far).passed);
    }

    #[test]
    fn rate_rule_uses_the_exact_interval() {
        let obs = Observed {
            events: Some(5),
            n: Some(5),
            ..Observed::default()
        };
        let mut values = vec![1.0; 60];
        values.extend(vec![0.0; 40]);
        let sim = Summary::of(&values, 0, 0.9);
        let v = judge(&Rule::RateInBinomialCi { level: 0.95 }, &obs, &sim);
        assert!(v.passed, "0.6 is inside [0.478, 1]: {}", v.detail);
        let sim = Summary::of(&[1.0, 0.0, 0.0, 0.0], 0, 0.9);
        assert!(!judge(&Rule::RateInBinomialCi { level: 0.95 }, &obs, &sim).passed);
    }

    #[test]
    fn threshold_and_distance_rules() {
        let sim = Summary::of(&[0.004], 0, 0.9);
        let obs = Observed::default();
        let rule = Rule::Threshold {
            op: tabula_trial::spec::Op::Below,
            threshold: 0.01,
            statistic: Statistic::Median,
        };
        assert!(judge(&rule, &obs, &sim).passed);
        let obs = Observed {
            central: Some((CentralKind::Value, 2.71)),
            ..Observed::default()
        };
        let sim = Summary::of(&[3.2], 0, 0.9);
        let fold = Rule::FoldError {
            max: 1.25,
            statistic: Statistic::Median,
        };
        assert!(judge(&fold, &obs, &sim).passed);
        let sim = Summary::of(&[3.5], 0, 0.9);
        assert!(!judge(&fold, &obs, &sim).passed);
        assert!(!judge(&fold, &obs, &Summary::of(&[], 0, 0.9)).passed);
    }
}
