//! Plots: valid SVG with the expected labels, PNG output, and no panic on bad data.

use proptest::prelude::*;
use resvg::tiny_skia::Pixmap;
use tabula_output::plot::{
    bar_chart, forest_plot, observed_vs_simulated, survival_curves, time_courses, Band, BarOptions,
    BarSeries, ForestOptions, ForestRow, Interval, Line, Panel, SurvivalCurve, SurvivalOptions,
    TimeCourseOptions, ValidationPlotOptions, ValidationRow,
};
use tabula_output::Figure;

/// Parses the SVG (failing the test if it is not well-formed XML) and returns its texts.
fn texts(fig: &Figure) -> Vec<String> {
    let doc = roxmltree::Document::parse(fig.svg()).expect("SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn has(fig: &Figure, label: &str) -> bool {
    texts(fig).iter().any(|t| t == label)
}

fn days() -> Vec<f64> {
    (0..=60).map(|d| f64::from(d) * 0.1 * 10.0).collect()
}

#[test]
fn time_courses_show_panels_series_and_legend() {
    let t = days();
    let panels: Vec<Panel> = (0..12)
        .map(|i| {
            Panel::new(format!("Observable {i}"))
                .with_unit("cells/µL")
                .with_band(Band::new(
                    "CD19 CAR-T",
                    t.clone(),
                    t.iter().map(|x| 0.1 * x).collect(),
                    t.iter().map(|x| 0.2 * x).collect(),
                    t.iter().map(|x| 0.3 * x).collect(),
                ))
                .with_line(Line::new(
                    "Rituximab <anti-CD20>",
                    t.clone(),
                    t.iter().map(|x| 0.25 * x).collect(),
                ))
        })
        .collect();
    let opts = TimeCourseOptions {
        title: Some("Twelve panels".into()),
        x_unit: Some("day".into()),
        markers: vec![0.0, 7.0, 14.0],
        band_note: Some("Shaded: 5th–95th percentile".into()),
        ..TimeCourseOptions::default()
    };
    let fig = time_courses(&panels, &opts).unwrap();
    let all = texts(&fig);
    for i in 0..12 {
        assert!(has(&fig, &format!("Observable {i}")));
    }
    assert!(has(&fig, "CD19 CAR-T"));
    assert!(has(&fig, "Rituximab <anti-CD20>"));
    assert!(fig.svg().contains("Rituximab &lt;anti-CD20&gt;"));
    assert!(has(&fig, "Dose"));
    assert!(has(&fig, "Time (day)"));
    assert!(has(&fig, "Twelve panels"));
    // Tick labels carry no floating-point noise.
    assert!(all.iter().all(|t| !t.contains("0000000")), "{all:?}");
    // 4 columns × 3 rows.
    assert!(fig.width() > 4 * 300 && fig.height() > 3 * 200);
}

#[test]
fn tick_labels_are_clean() {
    let x: Vec<f64> = (0..=6).map(|i| f64::from(i) * 0.1).collect();
    let y: Vec<f64> = x.iter().map(|v| v + 0.1).collect();
    let fig = time_courses(
        &[Panel::new("p").with_line(Line::new("", x, y))],
        &TimeCourseOptions::default(),
    )
    .unwrap();
    let all = texts(&fig);
    assert!(all.iter().any(|t| t == "0.3"), "{all:?}");
    assert!(all.iter().all(|t| t.len() < 8), "{all:?}");
}

#[test]
fn log_axis_handles_zero_and_negative_values() {
    let t = days();
    let y: Vec<f64> = t.iter().map(|d| 1000.0 * (-d / 5.0).exp() - 1.0).collect();
    let panel = Panel::new("B cells").with_line(Line::new("arm", t.clone(), y));
    let fig = time_courses(
        &[panel],
        &TimeCourseOptions {
            log_y: true,
            ..TimeCourseOptions::default()
        },
    )
    .unwrap();
    let all = texts(&fig);
    assert!(all.iter().any(|t| t == "100" || t == "10²"), "{all:?}");
}

#[test]
fn survival_curves_draw_steps_and_censoring() {
    let a = SurvivalCurve::new("CD19 CAR-T", vec![0.0, 30.0, 90.0], vec![1.0, 0.9, 0.8])
        .with_censored(vec![60.0, 120.0])
        .with_interval(vec![1.0, 0.8, 0.7], vec![1.0, 1.0, 0.9]);
    let b = SurvivalCurve::new("Rituximab", vec![0.0, 10.0, 20.0], vec![1.0, 0.5, 0.25]);
    let fig = survival_curves(
        &[a, b],
        &SurvivalOptions {
            y_label: "Relapse-free".into(),
            ..Default::default()
        },
    )
    .unwrap();
    for l in [
        "CD19 CAR-T",
        "Rituximab",
        "Censored",
        "Relapse-free",
        "0.0",
        "1.0",
    ] {
        assert!(has(&fig, l), "{l}: {:?}", texts(&fig));
    }
}

#[test]
fn validation_bars_and_forest_show_their_labels() {
    let rows = vec![
        ValidationRow::new(
            "B cells day 28",
            Interval::new(0.4, 0.1, 2.0),
            Interval::new(0.0, 0.0, 1.0),
        )
        .with_unit("cells/µL"),
        ValidationRow::new(
            "Missing observation",
            Interval::point(3.0),
            Interval::missing(),
        ),
        ValidationRow::new("Nothing", Interval::missing(), Interval::missing()),
    ];
    for shared in [false, true] {
        let fig = observed_vs_simulated(
            &rows,
            &ValidationPlotOptions {
                shared_axis: shared,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(has(&fig, "B cells day 28") || has(&fig, "B cells day 28 (cells/µL)"));
        assert!(has(&fig, "Observed: value and range"));
    }

    let bars = bar_chart(
        &["k_kill", "expansion"],
        &[
            BarSeries::new("S1", vec![0.5, -0.1]).with_errors(vec![0.4, -0.2], vec![0.6, 0.0]),
            BarSeries::new("ST", vec![0.7, f64::NAN]),
        ],
        &BarOptions {
            x_label: "Sobol index".into(),
            ..Default::default()
        },
    )
    .unwrap();
    for l in ["k_kill", "expansion", "S1", "ST", "Sobol index"] {
        assert!(has(&bars, l), "{l}");
    }

    let forest = forest_plot(
        &[
            ForestRow::new("Arm A", 1.5, 1.1, 2.2),
            ForestRow::new("Arm B", 0.8, f64::NAN, f64::NAN),
        ],
        &ForestOptions {
            log_x: true,
            reference: Some(1.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(has(&forest, "1.5 (1.1 to 2.2)"), "{:?}", texts(&forest));
    assert!(has(&forest, "0.80"));
    assert!(has(&forest, "Estimate (95% CI)"));
}

fn dark_pixels(png: &[u8], rows: std::ops::Range<u32>) -> usize {
    let p = Pixmap::decode_png(png).unwrap();
    let w = p.width();
    rows.flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let c = p.pixel(x, y).unwrap();
            (c.red() as u32 + c.green() as u32 + c.blue() as u32) < 200
        })
        .count()
}

#[test]
fn png_renders_text_with_the_embedded_font() {
    let panel = Panel::new("").with_line(Line::new("", vec![0.0, 1.0], vec![0.0, 1.0]));
    let with = time_courses(
        &[panel],
        &TimeCourseOptions {
            title: Some("Title Text".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let png = with.to_png(1.0).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let p = Pixmap::decode_png(&png).unwrap();
    assert_eq!((p.width(), p.height()), (with.width(), with.height()));
    // The title glyphs put dark pixels in the top band.
    assert!(dark_pixels(&png, 14..34) > 100, "no title text rendered");

    let hi = with.to_png(2.0).unwrap();
    let p = Pixmap::decode_png(&hi).unwrap();
    assert_eq!(p.width(), 2 * with.width());
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
        (vec![], vec![]),
        (vec![1.0], vec![5.0]),
        (vec![1.0, 1.0, 1.0], vec![2.0, 2.0, 2.0]),
        (vec![0.0, 1.0], vec![0.0, 0.0]),
        (vec![nan, nan], vec![nan, nan]),
        (vec![0.0, 1.0, 2.0], vec![-5.0, -1.0, -3.0]),
        (vec![0.0, inf, 2.0], vec![1.0, -inf, inf]),
        (vec![0.0, 1.0, 2.0], vec![1e-300, 1e300, f64::MAX]),
        (vec![-f64::MAX, f64::MAX], vec![f64::MIN_POSITIVE, 1.0]),
        (vec![0.0, 1.0, 2.0, 3.0], vec![1.0]),
    ];
    for (x, y) in &cases {
        for log_y in [false, true] {
            let panel = Panel::new("p")
                .with_line(Line::new("a", x.clone(), y.clone()))
                .with_band(Band::new(
                    "b",
                    x.clone(),
                    y.clone(),
                    vec![],
                    y.iter().map(|v| v * 2.0).collect(),
                ));
            let opts = TimeCourseOptions {
                log_y,
                markers: vec![nan, 0.5, inf],
                ..Default::default()
            };
            let fig = time_courses(&[panel], &opts).unwrap();
            texts(&fig);
            fig.to_png(0.5).unwrap();
        }
        let s = survival_curves(
            &[SurvivalCurve::new("s", x.clone(), y.clone()).with_censored(y.clone())],
            &Default::default(),
        )
        .unwrap();
        texts(&s);
        let b = bar_chart(
            &["a", "b"],
            &[BarSeries::new("v", y.clone()).with_errors(x.clone(), y.clone())],
            &Default::default(),
        )
        .unwrap();
        texts(&b);
        let v = y.first().copied().unwrap_or(nan);
        let w = x.last().copied().unwrap_or(nan);
        for log_x in [false, true] {
            let f = forest_plot(
                &[ForestRow::new("r", v, w, v)],
                &ForestOptions {
                    log_x,
                    reference: Some(v),
                    ..Default::default()
                },
            )
            .unwrap();
            texts(&f);
            let val = observed_vs_simulated(
                &[ValidationRow::new(
                    "r",
                    Interval::new(v, w, v),
                    Interval::new(w, v, w),
                )],
                &ValidationPlotOptions {
                    log_x,
                    ..Default::default()
                },
            )
            .unwrap();
            texts(&val);
        }
    }
    // Nothing at all.
    texts(&time_courses(&[], &TimeCourseOptions::default()).unwrap());
    texts(
        &time_courses(
            &[Panel::new("empty")],
            &TimeCourseOptions {
                x_range: Some((5.0, 5.0)),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    texts(&survival_curves(&[], &Default::default()).unwrap());
    texts(&bar_chart::<&str>(&[], &[], &Default::default()).unwrap());
    texts(&forest_plot(&[], &Default::default()).unwrap());
    texts(&observed_vs_simulated(&[], &Default::default()).unwrap());
    // Absurd sizes are clamped.
    let fig = survival_curves(
        &[],
        &SurvivalOptions {
            width: 0,
            height: u32::MAX,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(fig.width() >= 50 && fig.height() <= 50_000);
}

/// Floats with many special values mixed in.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -1e3..1e3f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => prop::num::f64::ANY,
        1 => 1e-12..1e-9f64,
        1 => Just(1.0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_series_never_panic(
        x in prop::collection::vec(wild(), 0..40),
        y in prop::collection::vec(wild(), 0..40),
        log_y in any::<bool>(),
        panels in 1usize..6,
    ) {
        let ps: Vec<Panel> = (0..panels)
            .map(|i| Panel::new(format!("p{i}")).with_line(Line::new("a", x.clone(), y.clone())).with_band(
                Band::new("b", x.clone(), y.clone(), y.clone(), y.iter().map(|v| v + 1.0).collect()),
            ))
            .collect();
        let fig = time_courses(&ps, &TimeCourseOptions { log_y, markers: x.clone(), ..Default::default() }).unwrap();
        prop_assert!(roxmltree::Document::parse(fig.svg()).is_ok());

        let s = survival_curves(&[SurvivalCurve::new("s", x.clone(), y.clone()).with_censored(x.clone())], &Default::default()).unwrap();
        prop_assert!(roxmltree::Document::parse(s.svg()).is_ok());

        let labels: Vec<String> = x.iter().map(|v| format!("{v}")).collect();
        let b = bar_chart(&labels, &[BarSeries::new("v", y.clone())], &Default::default()).unwrap();
        prop_assert!(roxmltree::Document::parse(b.svg()).is_ok());

        let rows: Vec<ForestRow> = x.iter().zip(&y).map(|(a, b)| ForestRow::new("r", *a, a.min(*b), a.max(*b))).collect();
        let f = forest_plot(&rows, &ForestOptions { log_x: log_y, ..Default::default() }).unwrap();
        prop_assert!(roxmltree::Document::parse(f.svg()).is_ok());

        let vrows: Vec<ValidationRow> = x.iter().zip(&y).map(|(a, b)| ValidationRow::new("t", Interval::new(*a, *b, *a), Interval::point(*b))).collect();
        let v = observed_vs_simulated(&vrows, &ValidationPlotOptions { log_x: log_y, ..Default::default() }).unwrap();
        prop_assert!(roxmltree::Document::parse(v.svg()).is_ok());
    }
}
