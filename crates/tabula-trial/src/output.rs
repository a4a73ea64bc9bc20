//! Writing a trial's results: the per-patient table (streamed), summaries (JSON, CSV, text),
//! quantile bands, plots, the HTML report and the run manifest.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use tabula_output::plot::{
    forest_plot, survival_curves, time_courses, Band, ForestOptions, ForestRow, Panel,
    SurvivalCurve, SurvivalOptions, TimeCourseOptions,
};
use tabula_output::{
    format_sig, render_text, write_atomic, Column, Figure, ImageFormat, ParquetOptions, Table,
    TableFormat, TableWriter, TextTableOptions, TimeCourseBatch, TimeCourseWriter,
};

use crate::error::Result;
use crate::runner::{BandAccumulator, PreparedTrial, TrialRun, TrialSink};
use crate::spec::{Change, Condition, EndpointKind, EndpointType, Trial, When, Window};
use crate::summary::{ArmSummary, Stats};

/// Table format of the per-patient, band and time-course tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Apache Parquet (default: compact, typed).
    #[default]
    Parquet,
    /// Comma-separated values.
    Csv,
}

impl Format {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }

    /// The output crate's format. Parquet row groups hold 16,384 rows, so the encoder's
    /// buffer stays small whatever the number of patients.
    pub fn table_format(self) -> TableFormat {
        match self {
            Format::Parquet => TableFormat::Parquet(ParquetOptions {
                row_group_rows: 1 << 14,
                ..ParquetOptions::default()
            }),
            Format::Csv => TableFormat::Csv,
        }
    }
}

/// Where and how results are written.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    /// Output directory.
    pub dir: PathBuf,
    /// Table format.
    pub format: Format,
    /// Plot format (`None`: no plots).
    pub plots: Option<ImageFormat>,
    /// Write the HTML report.
    pub report: bool,
}

/// Facts about the run for the manifest and the report (not part of the summaries, which
/// stay deterministic).
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// Tabula version.
    pub version: String,
    /// The command line.
    pub command: String,
    /// Date (UTC, ISO 8601).
    pub date: String,
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock seconds of the simulation.
    pub seconds: f64,
    /// The trial reference as given (a path or a built-in name).
    pub trial_ref: String,
    /// The trial file's canonical path, when it is a file (to resolve its scenarios when
    /// shards are merged).
    pub trial_path: Option<String>,
    /// What the validation says of each arm's therapy: `(arm, [(line, validated)])`, from the
    /// validation's coverage (empty when not known). Shown in the summary and the report.
    pub validation: Vec<(String, Vec<(String, bool)>)>,
}

/// The validation status lines of a run ("Validation status" block of summary.txt); empty
/// when no arm has any.
pub fn validation_text(p: &Provenance) -> String {
    let lines: Vec<String> = p
        .validation
        .iter()
        .flat_map(|(arm, ls)| {
            ls.iter().map(move |(l, ok)| {
                format!("  {}{arm}: {l}", if *ok { "" } else { "NOT VALIDATED  " })
            })
        })
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(
            "\nValidation status of each arm's therapy:\n{}\n",
            lines.join("\n")
        )
    }
}

/// A sink streaming the per-patient table and time courses to files.
pub struct FileSink {
    patients: Option<TableWriter>,
    timecourse: Option<TimeCourseWriter>,
    /// Paths written.
    pub paths: Vec<PathBuf>,
}

impl FileSink {
    /// Opens `patients.<ext>` (and `timecourse.<ext>` when recorded) in `opts.dir`.
    pub fn create(
        trial: &PreparedTrial,
        opts: &OutputOptions,
        timecourse: bool,
    ) -> Result<FileSink> {
        let ext = opts.format.extension();
        let p = opts.dir.join(format!("patients.{ext}"));
        let patients =
            TableWriter::create_as(&p, &trial.patient_schema(), opts.format.table_format())?;
        let mut paths = vec![p];
        let timecourse = match (timecourse, trial.timecourse_layout()) {
            (true, Some(layout)) => {
                let p = opts.dir.join(format!("timecourse.{ext}"));
                let w = TimeCourseWriter::create_as(&p, &layout, opts.format.table_format())?;
                paths.push(p);
                Some(w)
            }
            _ => None,
        };
        Ok(FileSink {
            patients: Some(patients),
            timecourse,
            paths,
        })
    }

    /// Completes the files (they appear under their final names only now).
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        if let Some(w) = self.patients.take() {
            w.finish()?;
        }
        if let Some(w) = self.timecourse.take() {
            w.finish()?;
        }
        Ok(self.paths)
    }
}

impl TrialSink for FileSink {
    fn patients(&mut self, batch: &Table) -> Result<()> {
        if let Some(w) = &mut self.patients {
            w.write(batch)?;
        }
        Ok(())
    }

    fn timecourse(&mut self, batch: &TimeCourseBatch) -> Result<()> {
        if let Some(w) = &mut self.timecourse {
            w.write(batch)?;
        }
        Ok(())
    }
}

fn window_text(w: &Window) -> String {
    match w.to {
        Some(to) => format!("[{}, {}]", num(w.from), num(to)),
        None => format!("[{}, end of follow-up]", num(w.from)),
    }
}

fn num(x: f64) -> String {
    format_sig(x, 6)
}

fn cond_text(c: &Condition) -> String {
    c.describe()
}

fn change_text(c: Change) -> &'static str {
    match c {
        Change::None => "",
        Change::Absolute => ", change from baseline",
        Change::Ratio => ", ratio to baseline",
        Change::Percent => ", % change from baseline",
        Change::Log10Ratio => ", log10 ratio to baseline",
    }
}

/// A one-line definition of an endpoint (times from the arm's origin).
pub fn definition(trial: &Trial, k: usize) -> String {
    let e = &trial.endpoints[k];
    match &e.kind {
        EndpointKind::Value {
            output,
            time,
            change,
        } => format!("{output} at {}{}", num(*time), change_text(*change)),
        EndpointKind::Nadir {
            output,
            window,
            change,
        } => format!(
            "minimum of {output} over {}{}",
            window_text(window),
            change_text(*change)
        ),
        EndpointKind::Peak {
            output,
            window,
            change,
        } => format!(
            "maximum of {output} over {}{}",
            window_text(window),
            change_text(*change)
        ),
        EndpointKind::TimeToNadir { output, window } => format!(
            "time of the minimum of {output} over {}",
            window_text(window)
        ),
        EndpointKind::TimeToPeak { output, window } => format!(
            "time of the maximum of {output} over {}",
            window_text(window)
        ),
        EndpointKind::Auc { output, window } => format!(
            "area under {output} over {} (trapezoidal)",
            window_text(window)
        ),
        EndpointKind::Mean { output, window } => {
            format!("time-averaged {output} over {}", window_text(window))
        }
        EndpointKind::TimeTo { condition, window } => format!(
            "time to first {} in {}; censored at the end",
            cond_text(condition),
            window_text(window)
        ),
        EndpointKind::Duration { condition, window } => format!(
            "time with {} in {}",
            cond_text(condition),
            window_text(window)
        ),
        EndpointKind::Recovery {
            depleted,
            recovered,
            window,
        } => format!(
            "time to {} after {} in {}; censored at the end; not at risk if never depleted",
            cond_text(recovered),
            cond_text(depleted),
            window_text(window)
        ),
        EndpointKind::Responder { condition, when } => match when {
            When::At(t) => format!("{} at {}", cond_text(condition), num(*t)),
            When::Any(w) => format!(
                "{} at any assessment in {}",
                cond_text(condition),
                window_text(w)
            ),
            When::All(w) => format!(
                "{} at every assessment in {}",
                cond_text(condition),
                window_text(w)
            ),
        },
        EndpointKind::Relapse {
            response,
            relapse,
            window,
        } => format!(
            "time from first {} to first later {} in {}; non-responders not at risk",
            cond_text(response),
            cond_text(relapse),
            window_text(window)
        ),
        EndpointKind::AtEvent {
            output,
            event,
            change,
        } => format!(
            "{output} at the event of {}{}",
            trial.endpoints[*event].name,
            change_text(*change)
        ),
        EndpointKind::Asas {
            level,
            time,
            domains,
        } => format!(
            "ASAS{level} at {} vs the baseline visit (domains {})",
            num(*time),
            domains.join(", ")
        ),
    }
}

/// The unit of endpoint `k`'s value in arm `arm`.
pub fn endpoint_unit(trial: &Trial, arm: usize, k: usize) -> String {
    let a = &trial.arms[arm];
    let tu = trial.time_unit.clone();
    let out_unit = |name: &str| -> String {
        a.resolve_output(name)
            .map(|o| a.scenario.model.outputs[o].unit.to_string())
            .unwrap_or_default()
    };
    let with_change = |name: &str, c: Change| -> String {
        match c {
            Change::None | Change::Absolute => out_unit(name),
            Change::Ratio => "1".into(),
            Change::Percent => "%".into(),
            Change::Log10Ratio => "log10".into(),
        }
    };
    let e = &trial.endpoints[k];
    match &e.kind {
        EndpointKind::Value { output, change, .. }
        | EndpointKind::Nadir { output, change, .. }
        | EndpointKind::Peak { output, change, .. }
        | EndpointKind::AtEvent { output, change, .. } => with_change(output, *change),
        EndpointKind::Mean { output, .. } => out_unit(output),
        EndpointKind::Auc { output, .. } => format!("{}*{tu}", out_unit(output)),
        EndpointKind::Responder { .. } | EndpointKind::Asas { .. } => "proportion".into(),
        _ => tu,
    }
}

fn estimate_json(e: &crate::stats::Estimate) -> Json {
    json!({"value": e.value, "lower": e.lower, "upper": e.upper})
}

fn stats_json(s: &Stats) -> Json {
    match s {
        Stats::Binary {
            n,
            missing,
            successes,
            proportion,
        } => json!({
            "n": n, "missing": missing, "successes": successes,
            "proportion": estimate_json(proportion), "interval": "Wilson score",
        }),
        Stats::Continuous {
            n,
            missing,
            at_limit,
            mean,
            sd,
            median,
            p05,
            p25,
            p75,
            p95,
            min,
            max,
            quantile_sample,
        } => json!({
            "n": n, "missing": missing, "at_detection_limit": at_limit,
            "mean": estimate_json(mean), "mean_interval": "Student t",
            "sd": sd,
            "median": estimate_json(median), "median_interval": "order statistics (binomial)",
            "p05": p05, "p25": p25, "p75": p75, "p95": p95, "min": min, "max": max,
            "quantile_sample": quantile_sample,
        }),
        Stats::TimeToEvent {
            n,
            missing,
            events,
            median,
            curve,
        } => json!({
            "n": n, "not_at_risk_or_missing": missing, "events": events, "censored": n - events,
            "median": estimate_json(median),
            "median_interval": "Brookmeyer-Crowley, log-log pointwise limits, Greenwood variance",
            "curve": curve.steps.iter().map(|s| json!([s.time, s.at_risk, s.events, s.survival, s.lower, s.upper])).collect::<Vec<_>>(),
            "curve_columns": ["time", "at_risk", "events", "survival", "lower", "upper"],
        }),
    }
}

/// The summary as JSON (deterministic: no dates, no timings).
pub fn summary_json(trial: &Trial, run: &TrialRun, summaries: &[ArmSummary]) -> Json {
    let endpoints: Vec<Json> = trial
        .endpoints
        .iter()
        .enumerate()
        .map(|(k, e)| {
            json!({
                "name": e.name, "kind": e.kind_name(), "type": e.value_type().name(),
                "description": e.description, "definition": definition(trial, k),
            })
        })
        .collect();
    let arms: Vec<Json> = summaries
        .iter()
        .enumerate()
        .map(|(ai, s)| {
            let a = &trial.arms[ai];
            json!({
                "arm": s.arm, "scenario": a.scenario_ref, "origin": a.origin, "follow_up": a.end - a.origin,
                "patients": s.patients, "ok": s.ok, "failed": s.failed(),
                "not_enrolled": s.status.get(crate::runner::STATUS_NOT_ENROLLED).copied().unwrap_or(0),
                "status": s.status, "mean_candidates": s.mean_candidates,
                "failure_examples": s.failures.iter().map(|f| json!({"patient": f.patient, "status": f.status, "reason": f.reason})).collect::<Vec<_>>(),
                "endpoints": s.endpoints.iter().enumerate().map(|(k, st)| {
                    let mut v = stats_json(st);
                    if let Json::Object(m) = &mut v {
                        m.insert("name".into(), json!(trial.endpoints[k].name));
                        m.insert("unit".into(), json!(endpoint_unit(trial, ai, k)));
                    }
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "trial": trial.name, "description": trial.description, "seed": trial.seed,
        "design": trial.design.name(), "patients_per_arm": trial.patients,
        "shard": {"index": run.shard.index, "count": run.shard.count},
        "time_unit": trial.time_unit, "confidence_level": 0.95,
        "endpoints": endpoints, "arms": arms,
    })
}

/// The long summary table: one row per arm and endpoint.
pub fn summary_table(trial: &Trial, summaries: &[ArmSummary]) -> Result<Table> {
    let mut cols: [Vec<String>; 5] = Default::default();
    let (mut n, mut missing) = (Vec::new(), Vec::new());
    let (mut est, mut lo, mut hi, mut mean, mut mlo, mut mhi) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut events = Vec::new();
    for (k, e) in trial.endpoints.iter().enumerate() {
        for (ai, s) in summaries.iter().enumerate() {
            let st = &s.endpoints[k];
            let (stat, h) = st.headline();
            cols[0].push(e.name.clone());
            cols[1].push(s.arm.clone());
            cols[2].push(e.value_type().name().to_string());
            cols[3].push(stat.to_string());
            cols[4].push(endpoint_unit(trial, ai, k));
            n.push(st.n());
            missing.push(st.missing());
            est.push(h.value);
            lo.push(h.lower);
            hi.push(h.upper);
            match st {
                Stats::Continuous { mean: m, .. } => {
                    mean.push(m.value);
                    mlo.push(m.lower);
                    mhi.push(m.upper);
                    events.push(f64::NAN);
                }
                Stats::TimeToEvent { events: ev, .. } => {
                    mean.push(f64::NAN);
                    mlo.push(f64::NAN);
                    mhi.push(f64::NAN);
                    events.push(*ev as f64);
                }
                Stats::Binary { successes, .. } => {
                    mean.push(f64::NAN);
                    mlo.push(f64::NAN);
                    mhi.push(f64::NAN);
                    events.push(*successes as f64);
                }
            }
        }
    }
    let [endpoint, arm, kind, statistic, unit] = cols;
    Ok(Table::from_columns(vec![
        ("endpoint", Column::Str(endpoint)),
        ("arm", Column::Str(arm)),
        ("type", Column::Str(kind)),
        ("statistic", Column::Str(statistic)),
        ("estimate", Column::F64(est)),
        ("lower", Column::F64(lo)),
        ("upper", Column::F64(hi)),
        ("unit", Column::Str(unit)),
        ("n", Column::U64(n)),
        ("missing", Column::U64(missing)),
        ("count", Column::F64(events)),
        ("mean", Column::F64(mean)),
        ("mean_lower", Column::F64(mlo)),
        ("mean_upper", Column::F64(mhi)),
    ])?)
}

/// `estimate (lower to upper)`, for people.
pub fn estimate_text(st: &Stats) -> String {
    let (_, e) = st.headline();
    let pct = matches!(st, Stats::Binary { .. });
    let f = |x: f64| {
        if x.is_nan() {
            "NA".to_string()
        } else if pct {
            format!("{:.1}%", 100.0 * x)
        } else {
            format_sig(x, 4)
        }
    };
    if e.value.is_nan() {
        if let Stats::TimeToEvent { .. } = st {
            return "not reached".into();
        }
        return "NA".into();
    }
    format!("{} ({} to {})", f(e.value), f(e.lower), f(e.upper))
}

/// The readable summary: one line per endpoint and arm.
pub fn summary_text(trial: &Trial, summaries: &[ArmSummary]) -> Result<String> {
    let mut c: [Vec<String>; 6] = Default::default();
    let (mut n, mut missing) = (Vec::new(), Vec::new());
    for (k, e) in trial.endpoints.iter().enumerate() {
        for (ai, s) in summaries.iter().enumerate() {
            let st = &s.endpoints[k];
            c[0].push(e.name.clone());
            c[1].push(s.arm.clone());
            n.push(st.n());
            missing.push(st.missing());
            c[2].push(
                match st {
                    Stats::Binary { .. } => "proportion",
                    Stats::Continuous { .. } => "median",
                    Stats::TimeToEvent { .. } => "KM median",
                }
                .into(),
            );
            c[3].push(estimate_text(st));
            c[4].push(match st {
                Stats::Binary { successes, .. } => format!("{successes} responders"),
                Stats::Continuous { mean, at_limit, .. } => {
                    let mut d = format!("mean {}", format_sig(mean.value, 4));
                    if *at_limit > 0 {
                        let lod = e.lower_limit.as_ref().map_or(f64::NAN, |l| l.value);
                        d.push_str(&format!("; {at_limit} below LOD {}", format_sig(lod, 3)));
                    }
                    d
                }
                Stats::TimeToEvent { events, .. } => format!("{events} events"),
            });
            c[5].push(endpoint_unit(trial, ai, k));
        }
    }
    let [endpoint, arm, stat, est, extra, unit] = c;
    let t = Table::from_columns(vec![
        ("endpoint", Column::Str(endpoint)),
        ("arm", Column::Str(arm)),
        ("n", Column::U64(n)),
        ("not evaluable", Column::U64(missing)),
        ("statistic", Column::Str(stat)),
        ("estimate (95% CI)", Column::Str(est)),
        ("details", Column::Str(extra)),
        ("unit", Column::Str(unit)),
    ])?;
    let mut s = format!("{}: {}\n", trial.name, trial.description);
    s.push_str(&format!(
        "{} patients per arm, seed {}, {} design\n\n",
        trial.patients,
        trial.seed,
        trial.design.name()
    ));
    let opts = TextTableOptions {
        max_cell_width: 60,
        ..TextTableOptions::default()
    };
    s.push_str(&render_text(&t, &opts));
    s.push('\n');
    let st = status_table(summaries)?;
    s.push_str(&render_text(&st, &opts));
    Ok(s)
}

/// Patients by arm and status.
pub fn status_table(summaries: &[ArmSummary]) -> Result<Table> {
    let mut statuses: Vec<String> = Vec::new();
    for s in summaries {
        for k in s.status.keys() {
            if !statuses.contains(k) {
                statuses.push(k.clone());
            }
        }
    }
    let mut cols = vec![(
        "arm".to_string(),
        Column::Str(summaries.iter().map(|s| s.arm.clone()).collect()),
    )];
    cols.push((
        "patients".into(),
        Column::U64(summaries.iter().map(|s| s.patients).collect()),
    ));
    for st in statuses {
        let v = summaries
            .iter()
            .map(|s| s.status.get(&st).copied().unwrap_or(0))
            .collect();
        cols.push((st, Column::U64(v)));
    }
    cols.push((
        "candidates per patient".into(),
        Column::F64(summaries.iter().map(|s| s.mean_candidates).collect()),
    ));
    Ok(Table::from_columns(cols)?)
}

/// The band quantiles as a table (times from the origin).
pub fn bands_table(trial: &Trial, bands: &[BandAccumulator]) -> Result<Table> {
    let (mut arm, mut obs) = (Vec::new(), Vec::new());
    let (mut time, mut p05, mut p50, mut p95) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut n = Vec::new();
    for (a, b) in trial.arms.iter().zip(bands) {
        for (k, o) in b.outputs.iter().enumerate() {
            let Some(name) = o else { continue };
            let (lo, mid, hi) = b.quantiles(k);
            for (j, t) in b.times.iter().enumerate() {
                arm.push(a.name.clone());
                obs.push(name.clone());
                time.push(*t);
                p05.push(lo[j]);
                p50.push(mid[j]);
                p95.push(hi[j]);
                n.push(
                    b.values[k * b.times.len() + j]
                        .iter()
                        .filter(|x| !x.is_nan())
                        .count() as u64,
                );
            }
        }
    }
    let mut t = Table::from_columns(vec![
        ("arm", Column::Str(arm)),
        ("observable", Column::Str(obs)),
        ("time", Column::F64(time)),
        ("p05", Column::F64(p05)),
        ("p50", Column::F64(p50)),
        ("p95", Column::F64(p95)),
        ("n", Column::U64(n)),
    ])?;
    t.set_unit("time", trial.time_unit.clone())?;
    Ok(t)
}

/// The band samples (for merging shards): one row per sampled patient, output and time.
pub fn band_samples_table(trial: &Trial, bands: &[BandAccumulator]) -> Result<Table> {
    let (mut arm, mut obs, mut time, mut value) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (a, b) in trial.arms.iter().zip(bands) {
        let nt = b.times.len();
        for (k, o) in b.outputs.iter().enumerate() {
            let Some(name) = o else { continue };
            for (j, t) in b.times.iter().enumerate() {
                for v in &b.values[k * nt + j] {
                    arm.push(a.name.clone());
                    obs.push(name.clone());
                    time.push(*t);
                    value.push(*v);
                }
            }
        }
    }
    Ok(Table::from_columns(vec![
        ("arm", Column::Str(arm)),
        ("observable", Column::Str(obs)),
        ("time", Column::F64(time)),
        ("value", Column::F64(value)),
    ])?)
}

/// Figures: bands (one per output), Kaplan–Meier curves (one per time-to-event endpoint),
/// forest plots (one per key endpoint). Returned with a file stem and a caption.
pub fn figures(
    trial: &Trial,
    summaries: &[ArmSummary],
    bands: Option<&[BandAccumulator]>,
) -> Result<Vec<(String, Figure, String)>> {
    let mut out = Vec::new();
    let tu = trial.time_unit.clone();
    // Forest plots.
    let keys: Vec<usize> = {
        let marked: Vec<usize> = (0..trial.endpoints.len())
            .filter(|&k| trial.endpoints[k].key)
            .collect();
        if marked.is_empty() {
            (0..trial.endpoints.len())
                .filter(|&k| trial.endpoints[k].value_type() != EndpointType::Continuous)
                .take(6)
                .collect()
        } else {
            marked
        }
    };
    for k in keys {
        let e = &trial.endpoints[k];
        let rows: Vec<ForestRow> = summaries
            .iter()
            .filter(|s| s.endpoints[k].n() > 0)
            .map(|s| {
                let (_, h) = s.endpoints[k].headline();
                ForestRow::new(s.arm.clone(), h.value, h.lower, h.upper)
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let what = match e.value_type() {
            EndpointType::Binary => "proportion",
            EndpointType::Continuous => "median",
            EndpointType::TimeToEvent => "Kaplan-Meier median",
        };
        let unit = (0..trial.arms.len())
            .map(|a| endpoint_unit(trial, a, k))
            .find(|u| !u.is_empty() && u != "proportion");
        let opts = ForestOptions {
            title: Some(format!("{}: {what} by arm (95% CI)", e.name)),
            x_label: if e.description.is_empty() {
                e.name.clone()
            } else {
                e.description.clone()
            },
            x_unit: unit,
            reference: None,
            ..ForestOptions::default()
        };
        let fig = forest_plot(&rows, &opts)?;
        out.push((
            format!("forest_{}", e.name),
            fig,
            format!(
                "{}: {what} and 95% confidence interval per arm ({}).",
                e.name,
                definition(trial, k)
            ),
        ));
    }
    // Kaplan–Meier curves.
    for (k, e) in trial.endpoints.iter().enumerate() {
        if e.value_type() != EndpointType::TimeToEvent {
            continue;
        }
        let curves: Vec<SurvivalCurve> = summaries
            .iter()
            .filter_map(|s| match &s.endpoints[k] {
                Stats::TimeToEvent { curve, n, .. } if *n > 0 => {
                    let mut t = vec![0.0];
                    let mut sv = vec![1.0];
                    let mut lo = vec![1.0];
                    let mut hi = vec![1.0];
                    for st in &curve.steps {
                        t.push(st.time);
                        sv.push(st.survival);
                        lo.push(if st.lower.is_nan() { 0.0 } else { st.lower });
                        hi.push(if st.upper.is_nan() {
                            st.survival
                        } else {
                            st.upper
                        });
                    }
                    let censored: Vec<f64> = curve.censored.iter().map(|c| c.0).take(200).collect();
                    Some(
                        SurvivalCurve::new(s.arm.clone(), t, sv)
                            .with_censored(censored)
                            .with_interval(lo, hi),
                    )
                }
                _ => None,
            })
            .collect();
        if curves.is_empty() {
            continue;
        }
        let y = match &e.kind {
            EndpointKind::Recovery { .. } => "Not yet recovered",
            EndpointKind::Relapse { .. } => "Relapse-free (responders)",
            _ => "Event-free",
        };
        let opts = SurvivalOptions {
            title: Some(format!("{}: Kaplan-Meier estimate by arm", e.name)),
            x_label: "Time from treatment".into(),
            x_unit: Some(tu.clone()),
            y_label: y.into(),
            ..SurvivalOptions::default()
        };
        let fig = survival_curves(&curves, &opts)?;
        out.push((
            format!("km_{}", e.name),
            fig,
            format!(
                "{}: Kaplan-Meier curves with pointwise 95% bands ({}).",
                e.name,
                definition(trial, k)
            ),
        ));
    }
    // Bands.
    if let (Some(bands), Some(spec)) = (bands, &trial.bands) {
        for (k, name) in spec.outputs.iter().enumerate() {
            let mut panels = Vec::new();
            let mut all = Vec::new();
            for (a, b) in trial.arms.iter().zip(bands) {
                if b.outputs[k].is_none() || b.patients == 0 {
                    continue;
                }
                let (lo, mid, hi) = b.quantiles(k);
                all.extend(mid.iter().copied().filter(|x| *x > 0.0));
                let unit = a
                    .resolve_output(name)
                    .map(|o| a.scenario.model.outputs[o].unit.to_string())
                    .unwrap_or_default();
                panels.push(
                    Panel::new(a.name.clone())
                        .with_unit(unit)
                        .with_band(Band::new(a.name.clone(), b.times.clone(), lo, mid, hi)),
                );
            }
            if panels.is_empty() {
                continue;
            }
            let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = all.iter().copied().fold(0.0, f64::max);
            let opts = TimeCourseOptions {
                title: Some(format!("{name}: median and 5th-95th percentiles by arm")),
                x_label: "Time from treatment".into(),
                x_unit: Some(tu.clone()),
                log_y: lo > 0.0 && hi / lo > 1e3,
                band_note: Some("Shaded: 5th-95th percentile; line: median".into()),
                markers: vec![0.0],
                marker_label: "Treatment day 0".into(),
                ..TimeCourseOptions::default()
            };
            let fig = time_courses(&panels, &opts)?;
            out.push((format!("bands_{name}"), fig, format!("{name} over time: median (line) and 5th-95th percentiles (band) of the virtual patients in each arm.")));
        }
    }
    Ok(out)
}

/// Writes summaries, bands, plots, the report and the manifest; returns the paths written.
pub fn write_results(
    prepared: &PreparedTrial,
    run: &TrialRun,
    opts: &OutputOptions,
    provenance: &Provenance,
    interval: crate::stats::KmInterval,
) -> Result<Vec<PathBuf>> {
    let trial = &prepared.trial;
    let dir = &opts.dir;
    let summaries = run.summaries(trial, interval);
    let mut written = Vec::new();
    fn put(written: &mut Vec<PathBuf>, p: PathBuf, bytes: &[u8]) -> Result<()> {
        write_atomic(&p, bytes)?;
        written.push(p);
        Ok(())
    }
    let sj = summary_json(trial, run, &summaries);
    put(
        &mut written,
        dir.join("summary.json"),
        pretty(&sj).as_bytes(),
    )?;
    let st = summary_table(trial, &summaries)?;
    let p = dir.join("summary.csv");
    st.write_as(&p, TableFormat::Csv)?;
    written.push(p);
    put(
        &mut written,
        dir.join("summary.txt"),
        format!(
            "{}{}",
            summary_text(trial, &summaries)?,
            validation_text(provenance)
        )
        .as_bytes(),
    )?;
    let ext = opts.format.extension();
    if let Some(b) = &run.bands {
        let p = dir.join(format!("bands.{ext}"));
        bands_table(trial, b)?.write_as(&p, opts.format.table_format())?;
        written.push(p);
        if run.shard.count > 1 {
            let p = dir.join(format!("band_samples.{ext}"));
            band_samples_table(trial, b)?.write_as(&p, opts.format.table_format())?;
            written.push(p);
        }
    }
    let figs = if opts.plots.is_some() || opts.report {
        figures(trial, &summaries, run.bands.as_deref())?
    } else {
        Vec::new()
    };
    if let Some(fmt) = opts.plots {
        let e = match fmt {
            ImageFormat::Svg => "svg",
            ImageFormat::Png { .. } => "png",
        };
        for (stem, fig, _) in &figs {
            let p = dir.join(format!("{}.{e}", sanitize(stem)));
            fig.save_as(&p, fmt)?;
            written.push(p);
        }
    }
    if opts.report {
        let report = crate::report::build(prepared, run, &summaries, &figs, provenance)?;
        let p = dir.join("report.html");
        report.write(&p)?;
        written.push(p);
    }
    let manifest = manifest(trial, run, provenance, opts);
    put(
        &mut written,
        dir.join("run.json"),
        pretty(&manifest).as_bytes(),
    )?;
    Ok(written)
}

/// The run manifest: what was run, for provenance and for merging shards.
pub fn manifest(trial: &Trial, run: &TrialRun, p: &Provenance, opts: &OutputOptions) -> Json {
    json!({
        "tabula_version": p.version,
        "command": p.command,
        "date": p.date,
        "threads": p.threads,
        "wall_seconds": p.seconds,
        "trial_ref": p.trial_ref,
        "trial_path": p.trial_path,
        "validation": p.validation.iter().map(|(arm, ls)| json!({
            "arm": arm,
            "status": ls.iter().map(|(l, ok)| json!({"text": l, "validated": ok})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "trial": trial.name,
        "trial_source": trial.source_name,
        "trial_text": trial.source_text,
        "seed": trial.seed,
        "patients_per_arm": trial.patients,
        "shard": {"index": run.shard.index, "count": run.shard.count},
        "format": opts.format.extension(),
        "bands": run.bands.is_some(),
        "solver_steps": run.steps,
        "rhs_evaluations": run.rhs_evals,
    })
}

fn pretty(v: &Json) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// A file-name-safe version of a name.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The path of the per-patient table in an output directory, whichever format it has.
pub fn patients_path(dir: &Path) -> Option<PathBuf> {
    ["parquet", "csv"]
        .iter()
        .map(|e| dir.join(format!("patients.{e}")))
        .find(|p| p.is_file())
}
