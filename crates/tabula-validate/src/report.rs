//! Presenting validation results: one row per target (text, CSV, Markdown), an
//! observed-versus-simulated figure and an HTML page.

use tabula_output::html::Report;
use tabula_output::plot::{observed_vs_simulated, Interval, ValidationPlotOptions, ValidationRow};
use tabula_output::{Column, Figure, Table};

use std::collections::BTreeMap;

use crate::error::Result;
use crate::provenance::Evidence;
use crate::validate::{Outcome, Tally, TargetResult};

fn fmt(x: f64) -> String {
    if x.is_finite() {
        tabula_output::format_sig(x, 4)
    } else {
        "NA".to_string()
    }
}

/// `pass`, `FAIL`, `error` or `not usable`.
pub fn result_word(r: &TargetResult) -> &'static str {
    match &r.outcome {
        Outcome::NotUsable => "not usable",
        Outcome::Error(_) => "error",
        Outcome::Evaluated { verdict, .. } if verdict.passed => "pass",
        Outcome::Evaluated { .. } => "FAIL",
    }
}

/// The simulated statistic, median and interval of a result, or `NaN`s.
fn simulated(r: &TargetResult) -> (f64, f64, f64, f64) {
    match &r.outcome {
        Outcome::Evaluated {
            summary, verdict, ..
        } => (
            verdict.simulated,
            summary.median,
            verdict.sim_lower,
            verdict.sim_upper,
        ),
        _ => (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
    }
}

/// One row per target: id, study, quantity, observed, simulated statistic and interval, rule,
/// result, source and the rule's detail (or the reason a target is not usable).
pub fn results_table(results: &[TargetResult]) -> Result<Table> {
    let mut cols: [Vec<String>; 8] = Default::default();
    let mut nums: [Vec<f64>; 4] = Default::default();
    for r in results {
        let t = &r.target;
        let (stat, median, lo, hi) = simulated(r);
        let detail = match &r.outcome {
            Outcome::NotUsable => t.reason.clone(),
            Outcome::Error(e) => e.clone(),
            Outcome::Evaluated { verdict, .. } => verdict.detail.clone(),
        };
        let strings = [
            t.id.clone(),
            t.study.name.clone(),
            t.quantity.clone(),
            t.observed.describe(),
            t.rule.as_ref().map(|r| r.describe()).unwrap_or_default(),
            result_word(r).to_string(),
            t.study.source.clone(),
            detail,
        ];
        for (c, s) in cols.iter_mut().zip(strings) {
            c.push(s);
        }
        for (c, x) in nums.iter_mut().zip([stat, median, lo, hi]) {
            c.push(x);
        }
    }
    let [id, study, quantity, observed, rule, result, source, detail] = cols;
    let [stat, median, lo, hi] = nums;
    Ok(Table::from_columns(vec![
        ("id", Column::Str(id)),
        ("study", Column::Str(study)),
        ("quantity", Column::Str(quantity)),
        ("observed", Column::Str(observed)),
        ("simulated", Column::F64(stat)),
        ("sim_median", Column::F64(median)),
        ("sim_lower", Column::F64(lo)),
        ("sim_upper", Column::F64(hi)),
        ("rule", Column::Str(rule)),
        ("result", Column::Str(result)),
        ("source", Column::Str(source)),
        ("detail", Column::Str(detail)),
    ])?)
}

/// [`results_table`] with an `evidence` column after `study`: calibration, same study or
/// independent (see [`crate::provenance`]), one per result in order.
pub fn results_table_with_evidence(
    results: &[TargetResult],
    evidence: &[Evidence],
) -> Result<Table> {
    let base = results_table(results)?;
    let mut columns: Vec<(String, Column)> = base
        .schema()
        .columns()
        .iter()
        .map(|c| c.name.clone())
        .zip(base.columns().iter().cloned())
        .collect();
    let words = evidence.iter().map(|e| e.name().to_string()).collect();
    columns.insert(2, ("evidence".to_string(), Column::Str(words)));
    Ok(Table::from_columns(
        columns
            .iter()
            .map(|(n, c)| (n.as_str(), c.clone()))
            .collect(),
    )?)
}

/// One line per evidence class, e.g. `independent targets (their study informed no
/// parameter): 4 of 6 pass (67%)`.
pub fn evidence_lines(tallies: &BTreeMap<Evidence, Tally>) -> Vec<String> {
    tallies
        .iter()
        .map(|(class, t)| {
            let what = match class {
                Evidence::Calibration => "calibration targets (informed some parameter)",
                Evidence::SameStudy => "same-study targets (their study informed some parameter)",
                Evidence::Independent => "independent targets (their study informed no parameter)",
            };
            format!(
                "{what}: {} of {} pass ({:.0}%)",
                t.passed,
                t.passed + t.failed,
                100.0 * t.pass_rate()
            )
        })
        .collect()
}

/// The closing line: `N passed, M failed` (usable targets only).
pub fn tally_line(t: &Tally) -> String {
    format!("{} passed, {} failed", t.passed, t.failed)
}

/// Observed against simulated, one row per evaluated target. Rates are shown as proportions.
pub fn figure(results: &[TargetResult], title: &str) -> Result<Option<Figure>> {
    let rows: Vec<ValidationRow> = results
        .iter()
        .filter_map(|r| {
            let Outcome::Evaluated { verdict, .. } = &r.outcome else {
                return None;
            };
            let t = &r.target;
            let obs = &t.observed;
            let (lo, hi) = if verdict.obs_lower.is_finite() || verdict.obs_upper.is_finite() {
                (verdict.obs_lower, verdict.obs_upper)
            } else {
                (obs.lower.unwrap_or(f64::NAN), obs.upper.unwrap_or(f64::NAN))
            };
            let mark = if verdict.passed { "" } else { " ✗" };
            let mut row = ValidationRow::new(
                format!("{} {}{mark}", t.id, t.quantity),
                Interval::new(verdict.simulated, verdict.sim_lower, verdict.sim_upper),
                Interval::new(obs.point(), lo, hi),
            );
            if !obs.unit.is_empty() && obs.events.is_none() {
                row = row.with_unit(obs.unit.clone());
            }
            Some(row)
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let opts = ValidationPlotOptions {
        title: Some(title.to_string()),
        simulated_label: "Simulated: compared statistic and 90% interval".into(),
        observed_label: "Observed: value and acceptance region".into(),
        width: 900,
        ..ValidationPlotOptions::default()
    };
    Ok(Some(observed_vs_simulated(&rows, &opts)?))
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown report: metadata, the tally, one table row per target and the reasons of the
/// targets that do not count.
pub fn markdown(
    results: &[TargetResult],
    evidence: &[Evidence],
    lines: &[String],
    title: &str,
    metadata: &[(String, String)],
) -> String {
    let tally = Tally::of(results);
    let mut s = format!("# {title}\n\n");
    for (k, v) in metadata {
        s.push_str(&format!("- **{k}**: {v}\n"));
    }
    s.push_str(&format!(
        "\n**{}** — pass rate {}% of usable targets; {} targets do not count.\n\n\
         Simulated: the statistic the rule compares (median, mean or proportion) with the 5th-95th \
         percentiles of the per-patient values, or the Wilson 95% interval of a proportion.\n\n",
        tally_line(&tally),
        fmt(100.0 * tally.pass_rate()),
        tally.not_usable
    ));
    for l in lines {
        s.push_str(&format!("- {l}\n"));
    }
    if !lines.is_empty() {
        s.push('\n');
    }
    s.push_str(
        "| Target | Evidence | Study | Quantity | Observed | Simulated [interval] | Rule | Result |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for (r, e) in results
        .iter()
        .zip(evidence)
        .filter(|(r, _)| r.passed().is_some())
    {
        let t = &r.target;
        let (stat, _, lo, hi) = simulated(r);
        let sim = if stat.is_finite() {
            format!("{} [{}, {}]", fmt(stat), fmt(lo), fmt(hi))
        } else {
            "—".to_string()
        };
        s.push_str(&format!(
            "| {} | {} | {} ({}) | {} | {} | {} | {} | {} |\n",
            md_cell(&t.id),
            e.name(),
            md_cell(&t.study.name),
            md_cell(&t.study.source),
            md_cell(&t.quantity),
            md_cell(&t.observed.describe()),
            sim,
            md_cell(&t.rule.as_ref().map(|r| r.describe()).unwrap_or_default()),
            result_word(r)
        ));
    }
    let unusable: Vec<&TargetResult> = results.iter().filter(|r| r.passed().is_none()).collect();
    if !unusable.is_empty() {
        s.push_str("\n## Targets that do not count\n\n| Target | Study | Quantity | Reason |\n|---|---|---|---|\n");
        for r in unusable {
            let t = &r.target;
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                md_cell(&t.id),
                md_cell(&t.study.name),
                md_cell(&t.quantity),
                md_cell(&t.reason)
            ));
        }
    }
    s.push_str("\n## Details\n\n");
    for r in results.iter().filter(|r| r.passed().is_some()) {
        let detail = match &r.outcome {
            Outcome::Evaluated { verdict, .. } => verdict.detail.clone(),
            Outcome::Error(e) => e.clone(),
            Outcome::NotUsable => String::new(),
        };
        s.push_str(&format!(
            "- **{}** ({}): {}{}\n",
            r.target.id,
            result_word(r),
            detail,
            if r.target.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", r.target.note.trim())
            }
        ));
    }
    s
}

/// An HTML page with the same content as [`markdown`] and the figure.
pub fn html(
    results: &[TargetResult],
    evidence: &[Evidence],
    lines: &[String],
    title: &str,
    metadata: &[(String, String)],
    figure: Option<&Figure>,
) -> Result<Report> {
    let tally = Tally::of(results);
    let mut report = Report::new(title);
    for (k, v) in metadata {
        report.metadata(k.clone(), v.clone());
    }
    let sec = report.section("Summary").paragraph(format!(
        "{} — pass rate {}% of usable targets; {} targets do not count.",
        tally_line(&tally),
        fmt(100.0 * tally.pass_rate()),
        tally.not_usable
    ));
    for l in lines {
        sec.paragraph(l.clone());
    }
    sec.table(
        &results_table_with_evidence(results, evidence)?,
        Some("One row per target; evidence: whether the target informed a parameter."),
    );
    if let Some(f) = figure {
        report.section("Observed vs simulated").figure(
            f,
            "Each row: the simulated statistic the rule compares with its 90% interval, and the \
             observed value with its acceptance region (CI, range, or tolerance band).",
        );
    }
    Ok(report)
}
