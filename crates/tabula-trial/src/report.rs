//! The HTML report: a page a clinician can read, built from the trial, its summaries and its
//! figures.

use tabula_output::html::{NoteKind, Report};
use tabula_output::{format_sig, Column, Figure, Table};

use crate::error::Result;
use crate::output::{definition, endpoint_unit, estimate_text, status_table, Provenance};
use crate::runner::{PreparedTrial, TrialRun};
use crate::spec::{Dist, Outside, Target, Typical};
use crate::summary::{ArmSummary, Stats};

fn s(x: f64) -> String {
    format_sig(x, 4)
}

fn dist_text(
    d: &Option<Dist>,
    typical: &Typical,
    expr: &Option<(tabula_model::expr::Ast, String)>,
) -> (String, String, String) {
    let typ = match typical {
        Typical::Model => "model value".to_string(),
        Typical::Value(x) => s(*x),
        Typical::Expr(_, t) => t.clone(),
    };
    match (d, expr) {
        (_, Some((_, e))) => ("fixed relation".into(), e.clone(), String::new()),
        (Some(Dist::LogNormal { omega }), _) => (
            "log-normal".into(),
            format!("median {typ}"),
            format!(
                "omega {} (CV {:.0}%)",
                s(*omega),
                100.0 * ((omega * omega).exp() - 1.0).sqrt()
            ),
        ),
        (Some(Dist::Normal { sd, relative }), _) => (
            "normal".into(),
            format!("mean {typ}"),
            if *relative {
                format!("CV {:.0}%", 100.0 * sd)
            } else {
                format!("SD {}", s(*sd))
            },
        ),
        (Some(Dist::LogitNormal { sd, lo, hi }), _) => (
            format!("logit-normal on ({}, {})", s(*lo), s(*hi)),
            format!("median {typ}"),
            format!("SD {} (logit scale)", s(*sd)),
        ),
        (Some(Dist::Uniform { lo, hi }), _) => (
            "uniform".into(),
            format!("{} to {}", s(*lo), s(*hi)),
            String::new(),
        ),
        (None, None) => ("fixed".into(), typ, String::new()),
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Normal { mean, sd } => format!("normal, mean {}, SD {}", s(*mean), s(*sd)),
        Target::LogNormal { median, omega } => {
            format!("log-normal, median {}, omega {}", s(*median), s(*omega))
        }
        Target::Uniform { lo, hi } => format!("uniform on [{}, {}]", s(*lo), s(*hi)),
        Target::Histogram { edges, .. } => format!("histogram with {} bins", edges.len() - 1),
    }
}

/// Builds the report.
pub fn build(
    prepared: &PreparedTrial,
    run: &TrialRun,
    summaries: &[ArmSummary],
    figures: &[(String, Figure, String)],
    p: &Provenance,
) -> Result<Report> {
    let trial = &prepared.trial;
    let mut r = Report::new(format!("Virtual trial: {}", trial.name));
    r.metadata("Description", trial.description.clone())
        .metadata("Patients per arm", trial.patients.to_string())
        .metadata(
            "Design",
            format!(
                "{} (the same virtual patients in every arm)",
                trial.design.name()
            )
            .replace(
                "parallel (the same virtual patients in every arm)",
                "parallel (independent patients per arm)",
            ),
        )
        .metadata("Seed", trial.seed.to_string())
        .metadata("Tabula version", p.version.clone())
        .metadata("Date", p.date.clone())
        .metadata("Command", p.command.clone());
    if run.shard.count > 1 {
        r.metadata("Shard", format!("{}/{}", run.shard.index, run.shard.count));
    }

    // What the validation says of each arm's therapy, before any number is read.
    if !p.validation.is_empty() {
        r.section("Validation status");
        for (arm, lines) in &p.validation {
            for (line, ok) in lines {
                let kind = if *ok {
                    NoteKind::Info
                } else {
                    NoteKind::Warning
                };
                r.note(kind, format!("{arm}: {line}"));
            }
        }
    }

    // Key results.
    r.section("Key results");
    r.paragraph(format!(
        "{} virtual patients per arm were simulated for each of {} arms. Estimates are given with 95% confidence intervals: proportions with the Wilson score interval, medians of continuous endpoints with the distribution-free order-statistic interval, and times to event as Kaplan-Meier medians with the Brookmeyer-Crowley interval. The intervals describe the uncertainty from simulating a finite virtual population, not the uncertainty of the model itself.",
        trial.patients,
        trial.arms.len()
    ));
    let mut cols: Vec<(String, Column)> = vec![(
        "endpoint".into(),
        Column::Str(trial.endpoints.iter().map(|e| e.name.clone()).collect()),
    )];
    for (ai, sm) in summaries.iter().enumerate() {
        let _ = ai;
        cols.push((
            sm.arm.clone(),
            Column::Str(sm.endpoints.iter().map(estimate_text).collect()),
        ));
    }
    if !trial.endpoints.is_empty() {
        r.table(
            &Table::from_columns(cols)?,
            Some("Estimate (95% CI) by endpoint and arm"),
        );
    }
    for (stem, fig, caption) in figures.iter().filter(|f| f.0.starts_with("forest_")) {
        let _ = stem;
        r.figure(fig, caption.clone());
    }

    // Design.
    r.section("Arms and regimens");
    let arms = &trial.arms;
    let doses = |a: &crate::spec::Arm| -> String {
        let mut v: Vec<String> = a
            .scenario
            .regimen
            .doses
            .iter()
            .map(|d| {
                let reps = if d.additional > 0 {
                    format!(
                        ", then {} more every {} {}",
                        d.additional,
                        s(d.interval),
                        trial.time_unit
                    )
                } else {
                    String::new()
                };
                format!(
                    "{} at {} {}{reps}",
                    d.label,
                    s(d.time - a.origin),
                    trial.time_unit
                )
            })
            .collect();
        if v.len() > 6 {
            let n = v.len();
            v.truncate(6);
            v.push(format!("... ({n} records)"));
        }
        v.join("; ")
    };
    let t = Table::from_columns(vec![
        (
            "arm",
            Column::Str(arms.iter().map(|a| a.name.clone()).collect()),
        ),
        (
            "scenario",
            Column::Str(arms.iter().map(|a| a.scenario_ref.clone()).collect()),
        ),
        (
            "model",
            Column::Str(arms.iter().map(|a| a.scenario.model.name.clone()).collect()),
        ),
        (
            "doses (times from treatment day 0)",
            Column::Str(arms.iter().map(doses).collect()),
        ),
        (
            "treatment day 0",
            Column::F64(arms.iter().map(|a| a.origin).collect()),
        ),
        (
            "follow-up",
            Column::F64(arms.iter().map(|a| a.end - a.origin).collect()),
        ),
        (
            "overrides",
            Column::Str(arms.iter().map(|a| a.overrides.join(", ")).collect()),
        ),
    ])?;
    r.table(&t, Some("Arms: each is a scenario's model and regimen"));
    for a in arms.iter().filter(|a| !a.description.is_empty()) {
        r.paragraph(format!("{}: {}", a.name, a.description));
    }

    // Population.
    r.section("Virtual population");
    let pop = &trial.population;
    if pop.variables.is_empty() && pop.categoricals.is_empty() {
        r.note(NoteKind::Warning, "No inter-individual variability was declared: every patient is the typical patient (only residual error differs).");
    } else {
        let mut rows: [Vec<String>; 7] = Default::default();
        for v in &pop.variables {
            let (d, typ, spread) = dist_text(&v.dist, &v.typical, &v.expr);
            rows[0].push(v.name.clone());
            rows[1].push(
                if v.is_parameter {
                    "parameter"
                } else {
                    "covariate"
                }
                .into(),
            );
            rows[2].push(d);
            rows[3].push(format!("{typ} {}", v.unit).trim().to_string());
            rows[4].push(spread);
            rows[5].push(match v.bounds {
                Some((lo, hi)) => format!(
                    "[{}, {}] ({})",
                    s(lo),
                    s(hi),
                    match v.outside {
                        Outside::Resample => "resample",
                        Outside::Reject => "reject",
                        Outside::Clamp => "clamp",
                    }
                ),
                None => String::new(),
            });
            rows[6].push(if v.source.is_empty() {
                "no source given".into()
            } else {
                v.source.clone()
            });
        }
        let [name, kind, dist, typ, spread, bounds, source] = rows;
        let t = Table::from_columns(vec![
            ("variable", Column::Str(name)),
            ("kind", Column::Str(kind)),
            ("distribution", Column::Str(dist)),
            ("typical", Column::Str(typ)),
            ("spread", Column::Str(spread)),
            ("plausible bounds", Column::Str(bounds)),
            ("source", Column::Str(source)),
        ])?;
        r.table(&t, Some("Inter-individual variability"));
        for c in &pop.categoricals {
            let levels: Vec<String> = c
                .levels
                .iter()
                .zip(&c.probabilities)
                .zip(&c.set)
                .map(|((l, p), set)| {
                    let sets: Vec<String> = set
                        .iter()
                        .map(|(n, x)| format!("{n} = {}", s(*x)))
                        .collect();
                    format!(
                        "{l} ({:.0}%){}",
                        100.0 * p,
                        if sets.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", sets.join(", "))
                        }
                    )
                })
                .collect();
            r.paragraph(format!(
                "Categorical covariate {}: {}.",
                c.name,
                levels.join("; ")
            ));
        }
        for c in &pop.correlations {
            let names: Vec<&str> = c
                .variables
                .iter()
                .map(|&i| pop.variables[i].name.as_str())
                .collect();
            r.paragraph(format!(
                "Correlated (on the normal scale of their random effects): {}.",
                names.join(", ")
            ));
        }
    }
    if !pop.baseline.is_empty() {
        let items: Vec<String> = pop
            .baseline
            .iter()
            .map(|b| {
                let mut parts = Vec::new();
                if let Some(x) = b.min {
                    parts.push(format!(">= {}", s(x)));
                }
                if let Some(x) = b.max {
                    parts.push(format!("<= {}", s(x)));
                }
                if let Some(t) = &b.target {
                    parts.push(format!("matched to {}", target_text(t)));
                }
                format!("{}: {}", b.output, parts.join(", "))
            })
            .collect();
        r.paragraph(format!(
            "Screening at the baseline visit (model of arm \"{}\"): candidates outside the plausible ranges are rejected and a new candidate is drawn.",
            trial.arms[pop.screening_arm].name
        ));
        r.list(items);
        if let Some(a) = prepared.population().acceptance() {
            r.paragraph(format!(
                "Acceptance-rejection (Allen, Rieger and Musante 2016): a pilot of {} plausible candidates estimated the baseline density (Gaussian kernel, bandwidth {}); each plausible candidate is accepted with probability min(1, target density / ({} x plausible density)); expected acceptance {:.1}%.",
                a.pilot_size, s(a.bandwidth), s(a.scale), 100.0 * a.expected_rate()
            ));
        }
    }

    // Endpoints.
    r.section("Endpoints");
    let t = Table::from_columns(vec![
        (
            "endpoint",
            Column::Str(trial.endpoints.iter().map(|e| e.name.clone()).collect()),
        ),
        (
            "type",
            Column::Str(
                trial
                    .endpoints
                    .iter()
                    .map(|e| e.value_type().name().to_string())
                    .collect(),
            ),
        ),
        (
            "description",
            Column::Str(
                trial
                    .endpoints
                    .iter()
                    .map(|e| e.description.clone())
                    .collect(),
            ),
        ),
        (
            "definition",
            Column::Str(
                (0..trial.endpoints.len())
                    .map(|k| definition(trial, k))
                    .collect(),
            ),
        ),
    ])?;
    r.table(
        &t,
        Some("Endpoint definitions (times from each arm's treatment day 0)"),
    );
    r.paragraph("Assessments are made on a fixed grid (the trial's step) from treatment day 0 to the end of follow-up; the baseline is the pre-treatment visit at the start of the simulation. Event times are the first assessment at which the condition holds.");

    // Results in full.
    r.section("Results by endpoint");
    for (k, e) in trial.endpoints.iter().enumerate() {
        r.subsection(format!(
            "{}{}",
            e.name,
            if e.description.is_empty() {
                String::new()
            } else {
                format!(": {}", e.description)
            }
        ));
        let mut c: [Vec<String>; 3] = Default::default();
        let mut n = Vec::new();
        let mut miss = Vec::new();
        for (ai, sm) in summaries.iter().enumerate() {
            let st = &sm.endpoints[k];
            c[0].push(sm.arm.clone());
            c[1].push(estimate_text(st));
            c[2].push(match st {
                Stats::Binary { successes, .. } => format!("{successes} with the outcome"),
                Stats::Continuous {
                    mean, sd, p05, p95, ..
                } => format!(
                    "mean {} (95% CI {} to {}), SD {}, 5th-95th percentile {} to {} {}",
                    s(mean.value),
                    s(mean.lower),
                    s(mean.upper),
                    s(*sd),
                    s(*p05),
                    s(*p95),
                    endpoint_unit(trial, ai, k)
                ),
                Stats::TimeToEvent { events, n, .. } => {
                    format!("{events} events in {n} patients at risk")
                }
            });
            n.push(st.n());
            miss.push(st.missing());
        }
        let [arm, est, detail] = c;
        let t = Table::from_columns(vec![
            ("arm", Column::Str(arm)),
            ("n", Column::U64(n)),
            ("not evaluable", Column::U64(miss)),
            ("estimate (95% CI)", Column::Str(est)),
            ("details", Column::Str(detail)),
        ])?;
        r.table(&t, None);
        if let Some((_, fig, cap)) = figures.iter().find(|f| f.0 == format!("km_{}", e.name)) {
            r.figure(fig, cap.clone());
        }
    }
    let bands: Vec<&(String, Figure, String)> = figures
        .iter()
        .filter(|f| f.0.starts_with("bands_"))
        .collect();
    if !bands.is_empty() {
        r.section("Time courses");
        for (_, fig, cap) in bands {
            r.figure(fig, cap.clone());
        }
    }

    // Failures.
    r.section("Patients and failures");
    r.table(
        &status_table(summaries)?,
        Some("Patients by arm and status"),
    );
    let failures: Vec<String> = summaries
        .iter()
        .flat_map(|sm| {
            sm.failures.iter().take(5).map(move |f| {
                format!(
                    "{}, patient {}: {} ({})",
                    sm.arm, f.patient, f.status, f.reason
                )
            })
        })
        .collect();
    if failures.is_empty() {
        r.paragraph("Every patient was enrolled and simulated to the end of follow-up.");
    } else {
        r.note(NoteKind::Warning, "Failed or non-enrolled patients are kept in the per-patient table with their status and reason; they count as not evaluable in the summaries.");
        r.list(failures);
    }

    // Provenance.
    r.section("Provenance");
    r.list([
        format!("Trial file: {} ({})", trial.source_name, p.trial_ref),
        format!("Tabula {}; {} worker threads; {:.1} s of simulation; {} solver steps", p.version, p.threads, p.seconds, run.steps),
        format!("Seed {}: patient i draws from its own random stream (seed, i), so results do not depend on threads or shards", trial.seed),
        format!("Models: {}", trial.arms.iter().map(|a| a.scenario.model.name.clone()).collect::<Vec<_>>().join(", ")),
    ]);
    r.footer("Generated by Tabula. Virtual patients are model predictions, not clinical data.");
    Ok(r)
}
