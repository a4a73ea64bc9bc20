//! Draws one figure of each kind, a text table and an HTML report into a directory
//! (default `out/gallery`).
//!
//! ```sh
//! cargo run -p tabula-output --example gallery -- out/gallery
//! ```

use tabula_output::html::{NoteKind, Report};
use tabula_output::plot::{
    bar_chart, forest_plot, observed_vs_simulated, survival_curves, time_courses, Band, BarOptions,
    BarSeries, ForestOptions, ForestRow, Interval, Line, Panel, SurvivalCurve, SurvivalOptions,
    TimeCourseOptions, ValidationPlotOptions, ValidationRow,
};
use tabula_output::{Column, Table};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "out/gallery".into()),
    );
    let days: Vec<f64> = (0..=365).step_by(3).map(f64::from).collect();
    let arms = ["CD19 CAR-T", "BCMA CAR-T", "Rituximab"];
    let observables = [
        ("CD19+ B cells, blood", "cells/µL", 180.0, 0.02),
        ("CD19+ B cells, lymph node", "cells/g", 5e6, 0.05),
        ("Long-lived plasma cells", "cells/mL BM", 3e4, 0.002),
        ("Anti-dsDNA", "IU/mL", 240.0, 0.01),
        ("Total IgG", "g/L", 11.0, 0.001),
        ("IL-6", "pg/mL", 4.0, 0.05),
        ("CAR-T cells, blood", "cells/µL", 0.0, 0.0),
        ("SLEDAI-2K", "points", 12.0, 0.008),
        ("Complement C3", "g/L", 0.7, -0.002),
    ];
    let panels: Vec<Panel> = observables
        .iter()
        .map(|(name, unit, base, rate)| {
            let mut p = Panel::new(*name).with_unit(*unit);
            for (a, arm) in arms.iter().enumerate() {
                let k = rate * (1.0 + a as f64 * 0.6);
                let median: Vec<f64> = days
                    .iter()
                    .map(|d| {
                        if *base == 0.0 {
                            60.0 * (d / 10.0) * (-(d / 10.0)).exp() * (3 - a) as f64
                        } else {
                            base * ((-k * d).exp() * 0.9 + 0.1 * (1.0 - (-d / 200.0).exp()))
                        }
                    })
                    .collect();
                let lo = median.iter().map(|m| m * 0.55).collect();
                let hi = median.iter().map(|m| m * 1.7).collect();
                p = p.with_band(Band::new(*arm, days.clone(), lo, median, hi));
            }
            p
        })
        .collect();
    let opts = TimeCourseOptions {
        title: Some("SLE virtual trial: median and 5th–95th percentile by arm".into()),
        x_unit: Some("day".into()),
        markers: vec![0.0, 28.0],
        band_note: Some("Shaded: 5th–95th percentile".into()),
        ..TimeCourseOptions::default()
    };
    let tc = time_courses(&panels, &opts)?;
    tc.save(dir.join("timecourses.svg"))?;
    tc.save(dir.join("timecourses.png"))?;
    let log = time_courses(
        &panels[..4],
        &TimeCourseOptions {
            log_y: true,
            ..opts.clone()
        },
    )?;
    log.save(dir.join("timecourses_log.svg"))?;
    log.save(dir.join("timecourses_log.png"))?;

    let single = Panel::new("CD19+ B cells, blood")
        .with_unit("cells/µL")
        .with_line(Line::new(
            "Patient 1",
            days.clone(),
            days.iter()
                .map(|d| 180.0 * (-d / 9.0).exp() + 120.0 * (1.0 - (-d / 150.0).exp()))
                .collect(),
        ));
    let one = time_courses(
        &[single],
        &TimeCourseOptions {
            title: Some("Single patient".into()),
            x_unit: Some("day".into()),
            markers: vec![0.0],
            ..Default::default()
        },
    )?;
    one.save(dir.join("single.png"))?;

    let km = |label: &str, hazard: f64| {
        let mut t = vec![0.0];
        let mut s = vec![1.0];
        let mut cur = 1.0;
        for i in 1..12 {
            cur *= 1.0 - hazard * (1.0 + (i % 3) as f64 * 0.3);
            t.push(i as f64 * 30.0 + hazard * 100.0);
            s.push(cur);
        }
        let lo = s.iter().map(|v: &f64| (v - 0.08).max(0.0)).collect();
        let hi = s.iter().map(|v: &f64| (v + 0.08).min(1.0)).collect();
        SurvivalCurve::new(label, t, s)
            .with_censored(vec![45.0, 130.0, 250.0, 365.0])
            .with_interval(lo, hi)
    };
    let surv = survival_curves(
        &[
            km("CD19 CAR-T", 0.01),
            km("BCMA CAR-T", 0.03),
            km("Rituximab", 0.07),
        ],
        &SurvivalOptions {
            title: Some("Relapse-free survival".into()),
            x_unit: Some("day".into()),
            y_label: "Relapse-free".into(),
            x_max: Some(365.0),
            ..Default::default()
        },
    )?;
    surv.save(dir.join("survival.png"))?;
    surv.save(dir.join("survival.svg"))?;

    let rows = vec![
        ValidationRow::new(
            "B-cell aplasia duration (Mackensen 2022)",
            Interval::new(110.0, 80.0, 150.0),
            Interval::new(112.0, 86.0, 130.0),
        )
        .with_unit("days"),
        ValidationRow::new(
            "Anti-dsDNA at month 3",
            Interval::new(12.0, 2.0, 40.0),
            Interval::new(5.0, 0.0, 20.0),
        )
        .with_unit("IU/mL"),
        ValidationRow::new(
            "SLEDAI-2K at month 6",
            Interval::new(0.5, 0.0, 2.0),
            Interval::point(0.0),
        )
        .with_unit("points"),
        ValidationRow::new(
            "Peak CAR-T expansion",
            Interval::new(25.0, 8.0, 90.0),
            Interval::new(30.0, 10.0, 120.0),
        )
        .with_unit("cells/µL"),
        ValidationRow::new(
            "Total IgG nadir",
            Interval::new(7.8, 6.5, 9.0),
            Interval::new(8.3, 7.0, 9.4),
        )
        .with_unit("g/L"),
    ];
    let val = observed_vs_simulated(
        &rows,
        &ValidationPlotOptions {
            title: Some("Validation against published outcomes".into()),
            ..Default::default()
        },
    )?;
    val.save(dir.join("validation.png"))?;

    let params = [
        "CAR-T kill rate",
        "CAR-T expansion rate",
        "Long-lived PC half-life",
        "Lymphodepletion depth",
        "B-cell production",
        "Autoreactive fraction",
    ];
    let mu = BarSeries::new("μ*", vec![0.82, 0.61, 0.44, 0.2, 0.12, 0.03]).with_errors(
        vec![0.7, 0.5, 0.35, 0.12, 0.05, 0.0],
        vec![0.95, 0.7, 0.5, 0.3, 0.2, 0.06],
    );
    let sigma = BarSeries::new("σ", vec![0.3, 0.45, 0.1, 0.15, 0.05, 0.01]);
    let bars = bar_chart(
        &params,
        &[mu, sigma],
        &BarOptions {
            title: Some("Morris screening: drug-free remission".into()),
            x_label: "Elementary effect".into(),
            ..Default::default()
        },
    )?;
    bars.save(dir.join("morris.png"))?;

    let forest = forest_plot(
        &[
            ForestRow::new("CD19 CAR-T", 0.82, 0.71, 0.9),
            ForestRow::new("BCMA CAR-T", 0.64, 0.51, 0.75),
            ForestRow::new("CD19 + BCMA", 0.88, 0.79, 0.94),
            ForestRow::new("Teclistamab", 0.52, 0.4, 0.63),
            ForestRow::new("Rituximab", 0.35, 0.24, 0.47),
        ],
        &ForestOptions {
            title: Some("Drug-free remission at month 12".into()),
            x_label: "Proportion of virtual patients".into(),
            reference: Some(0.5),
            ..Default::default()
        },
    )?;
    forest.save(dir.join("forest.png"))?;

    let table = Table::from_columns(vec![
        ("arm", Column::from(arms.to_vec())),
        ("patients", Column::from(vec![1000_u64, 1000, 1000])),
        ("remission", Column::from(vec![0.8213, 0.6402, f64::NAN])),
        ("time_to_relapse", Column::from(vec![412.3, 288.91, 150.0])),
        ("crs_grade3", Column::from(vec![true, false, false])),
    ])?;
    let mut table = table;
    table.set_unit("time_to_relapse", "day")?;
    println!(
        "{}",
        tabula_output::render_text(&table, &Default::default())
    );
    let mut report = Report::new("Virtual trial: refractory SLE <demo>");
    report
        .metadata("Tabula version", "0.1.0")
        .metadata("Date", "2025-01-01")
        .metadata("Seed", "42")
        .metadata(
            "Command",
            "tabula trial trials/sle_car_t.toml --patients 1000",
        )
        .note(
            NoteKind::Warning,
            "Simulated outcomes; not clinical advice.",
        )
        .section("Endpoints")
        .paragraph("Endpoint summary by arm. Missing values are shown as a dash.")
        .table(&table, Some("Table 1. Endpoints by arm"))
        .figure(
            &forest,
            "Drug-free remission at month 12 with 95% confidence intervals.",
        )
        .section("Time courses")
        .figure(&tc, "Median and 5th–95th percentile by arm.")
        .section("Relapse")
        .figure(&surv, "Kaplan–Meier estimate of relapse-free survival.")
        .section("Validation")
        .figure(&val, "Observed vs simulated.")
        .section("Sensitivity")
        .figure(&bars, "Morris elementary effects.");
    report.write(dir.join("report.html"))?;
    Ok(())
}
