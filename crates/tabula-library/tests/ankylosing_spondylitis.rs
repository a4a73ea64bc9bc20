//! Behaviour tests of the ankylosing spondylitis (AS) models (docs/model-as.md, section 11).
//! Each test runs built-in AS scenarios through the engine and checks a property that the
//! published data or the model's design require; each can fail if the model or the engine
//! regresses. Outputs are noise-free (scenario runs do not add residual error).

use tabula_scenario::builtin;

/// Loads and runs a built-in scenario; evaluates to its trajectory.
macro_rules! run {
    ($name:expr) => {{
        let name: &str = $name;
        let sc = builtin(name).unwrap_or_else(|e| panic!("scenario {name} does not load:\n{e}"));
        sc.run()
            .unwrap_or_else(|e| panic!("scenario {name} does not run: {e}"))
    }};
}

/// The time course of a state or output.
macro_rules! series {
    ($tr:expr, $name:expr) => {{
        let name: &str = $name;
        $tr.series(name)
            .unwrap_or_else(|| panic!("no state or output named {name}"))
    }};
}

/// A state or output at the output time closest to `t`.
macro_rules! at {
    ($tr:expr, $name:expr, $t:expr) => {{
        let name: &str = $name;
        $tr.at(name, $t)
            .unwrap_or_else(|| panic!("no state or output named {name}"))
    }};
}

/// Runs the untreated patient for a week with parameter overrides (outputs at days 0 and 7).
macro_rules! baseline_with {
    ($overrides:expr) => {{
        let overrides: &[(&str, f64)] = $overrides;
        let mut sc = builtin("as/untreated_steady_state").expect("untreated scenario loads");
        for (p, v) in overrides {
            sc.set_parameter(p, *v).unwrap();
        }
        sc.end = 7.0;
        sc.output_times = vec![0.0, 7.0];
        sc.run().expect("untreated scenario runs")
    }};
}

const AS_SCENARIOS: &[&str] = &[
    "as/untreated_steady_state",
    "as/naproxen_12_weeks",
    "as/adalimumab_40mg_eow",
    "as/adalimumab_ada_loss_of_response",
    "as/secukinumab_150mg",
    "as/msc_four_weekly_infusions",
    "as/msc_repeat_courses",
    "as/anti_trbv9_single_course",
    "as/anti_trbv9_every_4_months",
    "as/trbv9_car_t_what_if",
    "as/treatment_sequence_comparison",
];

fn asdas_by_hand(
    back_pain: f64,
    stiffness_duration: f64,
    patient_global: f64,
    peripheral: f64,
    crp: f64,
) -> f64 {
    // Lukas 2009 ASDAS-CRP; CRP in mg/L, 2 mg/L used below 2 (ASAS recommendation).
    0.121 * back_pain
        + 0.058 * stiffness_duration
        + 0.110 * patient_global
        + 0.073 * peripheral
        + 0.579 * (crp.max(2.0) + 1.0).ln()
}

#[test]
fn asdas_crp_and_basdai_match_the_published_formulas() {
    // 1. Registry means at TNF-inhibitor start (RMD Open 2025, PMC11843021, Table 2).
    let tr = baseline_with!(&[
        ("q2_0", 6.9),
        ("q3_0", 4.7),
        ("q6_0", 6.1),
        ("pga_0", 6.7),
        ("CRP0", 18.2)
    ]);
    let want = asdas_by_hand(6.9, 6.1, 6.7, 4.7, 18.2);
    assert!((want - 3.979_69).abs() < 1e-4, "hand value {want}");
    assert!(
        (at!(&tr, "asdas_crp", 0.0) - want).abs() < 1e-9,
        "ASDAS {} vs {want}",
        at!(&tr, "asdas_crp", 0.0)
    );
    assert_eq!(
        at!(&tr, "asdas_state", 0.0),
        4.0,
        "3.98 is very high disease activity (> 3.5)"
    );
    // 2. CRP below 2 mg/L counts as 2 mg/L; low items: inactive disease.
    let tr = baseline_with!(&[
        ("q2_0", 1.0),
        ("q3_0", 1.0),
        ("q6_0", 1.0),
        ("pga_0", 1.0),
        ("CRP0", 0.5),
        ("CRP_healthy", 0.5)
    ]);
    let want = asdas_by_hand(1.0, 1.0, 1.0, 1.0, 0.5);
    assert!((want - 0.998_09).abs() < 1e-4, "hand value {want}");
    assert!((at!(&tr, "asdas_crp", 0.0) - want).abs() < 1e-9);
    assert_eq!(
        at!(&tr, "asdas_state", 0.0),
        1.0,
        "below 1.3 is inactive disease"
    );
    // 3. Boundary cases of the disease-activity states (1.3, 2.1, 3.5).
    let tr = baseline_with!(&[
        ("q2_0", 4.0),
        ("q3_0", 2.0),
        ("q6_0", 5.0),
        ("pga_0", 6.0),
        ("CRP0", 8.0)
    ]);
    let want = asdas_by_hand(4.0, 5.0, 6.0, 2.0, 8.0);
    assert!((want - 2.852_15).abs() < 1e-4, "hand value {want}");
    assert!((at!(&tr, "asdas_crp", 0.0) - want).abs() < 1e-9);
    assert_eq!(
        at!(&tr, "asdas_state", 0.0),
        3.0,
        "2.1-3.5 is high disease activity"
    );
    // 4. BASDAI = (Q1 + Q2 + Q3 + Q4 + (Q5 + Q6)/2) / 5.
    let tr = baseline_with!(&[]);
    assert!(
        (at!(&tr, "basdai", 0.0) - 6.05).abs() < 1e-9,
        "default items give (6.8+6.9+4.7+5.5+(6.6+6.1)/2)/5 = 6.05"
    );
    let tr = baseline_with!(&[
        ("q1_0", 2.0),
        ("q2_0", 3.0),
        ("q3_0", 4.0),
        ("q4_0", 5.0),
        ("q5_0", 6.0),
        ("q6_0", 8.0)
    ]);
    assert!(
        (at!(&tr, "basdai", 0.0) - 4.2).abs() < 1e-9,
        "(2+3+4+5+(6+8)/2)/5 = 4.2"
    );
    assert!(
        (at!(&tr, "asas_inflammation", 0.0) - 7.0).abs() < 1e-9,
        "ASAS inflammation = mean(Q5, Q6)"
    );
}

#[test]
fn untreated_patient_stays_at_steady_state() {
    let tr = run!("as/untreated_steady_state");
    let n = tr.times.len();
    for name in &tr.state_names {
        if name == "mSASSS" {
            continue;
        }
        let s = series!(&tr, name);
        let scale = s[0].abs().max(1e-9);
        for v in &s {
            assert!(
                (v - s[0]).abs() <= 1e-8 * scale + 1e-12,
                "state {name} drifts: {} -> {v}",
                s[0]
            );
        }
    }
    for out in [
        "asdas_crp",
        "basdai",
        "crp",
        "pathogenic_clone",
        "inflammation",
    ] {
        let s = series!(&tr, out);
        assert!(
            (s[n - 1] - s[0]).abs() < 1e-8 * s[0].abs().max(1.0),
            "output {out} drifts"
        );
    }
    // Structural damage accrues linearly at the untreated rate: 1.3 mSASSS units per year.
    let m = series!(&tr, "mSASSS");
    let years = (tr.times[n - 1] - tr.times[0]) / 365.25;
    let per_year = (m[n - 1] - m[0]) / years;
    assert!(
        (per_year - 1.3).abs() < 0.01,
        "untreated mSASSS progression {per_year} units/year"
    );
    assert_eq!(tr.times[n - 1], 730.0);
}

#[test]
fn nsaid_lowers_symptoms_but_not_crp_or_structural_progression() {
    let nsaid = run!("as/naproxen_12_weeks");
    let untreated = run!("as/untreated_steady_state");
    // Symptoms fall within two weeks and stay down on treatment.
    for t in [14.0, 42.0, 84.0] {
        assert!(
            at!(&nsaid, "basdai", t) < at!(&nsaid, "basdai", 0.0) - 1.5,
            "BASDAI on NSAID at day {t}"
        );
        assert!(at!(&nsaid, "total_back_pain", t) < at!(&nsaid, "total_back_pain", 0.0) - 1.5);
    }
    // CRP, inflammation and the pathogenic clone are untouched.
    for t in [14.0, 84.0, 168.0] {
        assert!(
            (at!(&nsaid, "crp", t) / at!(&nsaid, "crp", 0.0) - 1.0).abs() < 1e-6,
            "CRP changed on NSAID"
        );
        assert!((at!(&nsaid, "inflammation", t) - 1.0).abs() < 1e-6);
        assert!((at!(&nsaid, "pathogenic_clone_pct", t) - 100.0).abs() < 1e-4);
    }
    // Structural progression is the same as without treatment.
    let d_nsaid = at!(&nsaid, "msasss", 168.0) - at!(&nsaid, "msasss", 0.0);
    let d_none = at!(&untreated, "msasss", 168.0) - at!(&untreated, "msasss", 0.0);
    assert!(
        (d_nsaid - d_none).abs() < 1e-6 * d_none,
        "mSASSS progression {d_nsaid} vs {d_none}"
    );
    // The effect stops when the drug stops.
    assert!(
        at!(&nsaid, "basdai", 168.0) > at!(&nsaid, "basdai", 84.0) + 1.0,
        "symptoms return after stopping"
    );
}

#[test]
fn tnf_inhibitor_lowers_asdas_within_weeks_and_ada_cause_secondary_failure() {
    let typical = run!("as/adalimumab_40mg_eow");
    let base = at!(&typical, "asdas_crp", 0.0);
    // Clinically important improvement (>= 1.1) by week 4, kept to week 52.
    assert!(
        at!(&typical, "asdas_crp", 28.0) <= base - 1.1,
        "week 4 ASDAS {}",
        at!(&typical, "asdas_crp", 28.0)
    );
    assert!(at!(&typical, "asdas_crp", 364.0) <= base - 1.1);
    assert!(
        at!(&typical, "crp", 84.0) < 0.6 * at!(&typical, "crp", 0.0),
        "CRP falls on TNF blockade"
    );
    assert_eq!(
        at!(&typical, "ada_positive", 364.0),
        0.0,
        "typical patient forms no ADA"
    );
    assert!(
        at!(&typical, "tnfi_conc", 252.0) > 5.0,
        "steady-state adalimumab level"
    );
    // Immunogenic patient: same early response, ADA from about week 16, loss of response.
    let ada = run!("as/adalimumab_ada_loss_of_response");
    let w12 = at!(&ada, "asdas_crp", 84.0);
    assert!(w12 <= base - 1.1, "responds before ADA form");
    assert_eq!(
        at!(&ada, "ada_positive", 84.0),
        0.0,
        "no ADA yet at week 12"
    );
    assert_eq!(
        at!(&ada, "ada_positive", 252.0),
        1.0,
        "ADA-positive by week 36"
    );
    assert!(
        at!(&ada, "tnfi_conc", 252.0) < 1.0,
        "ADA raise clearance: drug level collapses"
    );
    assert!(
        at!(&ada, "asdas_crp", 252.0) > w12 + 0.4,
        "response lost: ASDAS {} vs {w12}",
        at!(&ada, "asdas_crp", 252.0)
    );
    assert!(at!(&ada, "tnf_activity", 252.0) > 3.0 * at!(&typical, "tnf_activity", 252.0));
}

#[test]
fn il17_inhibitor_lowers_asdas_and_crp() {
    let tr = run!("as/secukinumab_150mg");
    let base = at!(&tr, "asdas_crp", 0.0);
    assert!(at!(&tr, "asdas_crp", 112.0) <= base - 1.1, "week 16 ASDAS");
    assert!(at!(&tr, "il17_activity", 112.0) < 0.1, "IL-17A neutralised");
    let crp_ratio = at!(&tr, "crp", 112.0) / at!(&tr, "crp", 0.0);
    assert!(
        crp_ratio < 0.8 && crp_ratio > 0.3,
        "CRP ratio {crp_ratio}: lowered, less than by TNF blockade"
    );
}

#[test]
fn msc_effect_peaks_within_weeks_of_a_course_and_wanes() {
    let tr = run!("as/msc_four_weekly_infusions");
    let t = &tr.times;
    let asdas = series!(&tr, "asdas_crp");
    let base = asdas[0];
    let (i_min, min) =
        asdas.iter().enumerate().fold(
            (0, f64::MAX),
            |b, (i, v)| if *v < b.1 { (i, *v) } else { b },
        );
    assert!(
        t[i_min] >= 21.0 && t[i_min] <= 56.0,
        "ASDAS nadir on day {}",
        t[i_min]
    );
    assert!(
        min <= base - 1.0,
        "nadir {min} vs baseline {base} (Wang 2014: 3.6 -> 2.4)"
    );
    // Cells are cleared within days of the last infusion (day 21) ...
    assert!(
        at!(&tr, "msc_viable", 28.0) < 1e-3 * 7e7,
        "infused MSC still present a week after the last infusion"
    );
    // ... while the effect lasts weeks and then wanes (Wang 2014: 3.2 at week 20).
    let modulation = series!(&tr, "msc_modulation");
    let (i_peak, _) =
        modulation.iter().enumerate().fold(
            (0, f64::MIN),
            |b, (i, v)| if *v > b.1 { (i, *v) } else { b },
        );
    assert!(
        t[i_peak] >= 14.0 && t[i_peak] <= 35.0,
        "modulation peak on day {}",
        t[i_peak]
    );
    assert!(
        at!(&tr, "msc_modulation", 56.0) > 0.1,
        "effect still present 5 weeks after the last infusion"
    );
    let w20 = at!(&tr, "asdas_crp", 140.0);
    assert!(
        w20 > min + 0.7 && w20 < base,
        "week 20 ASDAS {w20}: waned but not fully back"
    );
    // A second course gives a second response of similar size.
    let rep = run!("as/msc_repeat_courses");
    let second = rep
        .times
        .iter()
        .zip(series!(&rep, "asdas_crp"))
        .filter(|(t, _)| **t > 168.0 && **t < 240.0)
        .map(|(_, v)| v)
        .fold(f64::MAX, f64::min);
    assert!(
        (second - min).abs() < 0.3,
        "second-course nadir {second} vs first {min}"
    );
}

#[test]
fn clone_depletion_gives_a_remission_that_outlasts_the_drug() {
    let tr = run!("as/anti_trbv9_single_course");
    assert!(
        at!(&tr, "pathogenic_clone_pct", 28.0) < 1.0,
        "clone depleted by week 4"
    );
    assert!(
        at!(&tr, "trbv9_other", 28.0) < 0.05 * at!(&tr, "trbv9_other", 0.0),
        "collateral TRBV9+ depletion"
    );
    assert!(
        at!(&tr, "asdas_crp", 84.0) < 2.1,
        "low disease activity within 3 months"
    );
    // Time after the last dose (day 252) at which the antibody no longer kills (< 0.01/day).
    let t = &tr.times;
    let kill = series!(&tr, "trbv9_kill_rate");
    let i_gone = (0..t.len())
        .find(|&i| t[i] > 252.0 && kill[i] < 0.01)
        .expect("antibody washes out");
    let asdas = series!(&tr, "asdas_crp");
    for i in i_gone..t.len() {
        if t[i] > t[i_gone] + 150.0 {
            break;
        }
        assert!(
            asdas[i] < 2.1,
            "remission lost on day {} only {} days after washout",
            t[i],
            t[i] - t[i_gone]
        );
    }
    // Not a cure: the clone regrows and disease returns within 4 years.
    assert!(at!(&tr, "pathogenic_clone_pct", 1460.0) > 50.0);
    assert!(at!(&tr, "asdas_crp", 1460.0) > 3.0);
    // Maintenance every 4 months keeps inactive disease for 4 years (Britanova 2023 case).
    let q4m = run!("as/anti_trbv9_every_4_months");
    for (t, v) in q4m.times.iter().zip(series!(&q4m, "asdas_crp")) {
        if *t >= 90.0 {
            assert!(v < 1.3, "ASDAS {v} on day {t}: remission not maintained");
        }
    }
}

#[test]
fn trbv9_car_t_depletes_the_clone_after_lymphodepletion() {
    let tr = run!("as/trbv9_car_t_what_if");
    let t0 = at!(&tr, "t_cells_blood", 0.0);
    let nadir = series!(&tr, "t_cells_blood")
        .into_iter()
        .fold(f64::MAX, f64::min);
    assert!(nadir < 0.2 * t0, "lymphodepletion nadir {nadir} vs {t0}");
    let dose = at!(&tr, "car_t_total", 5.0);
    let peak = series!(&tr, "car_t_total")
        .into_iter()
        .fold(f64::MIN, f64::max);
    assert!(peak > 2.0 * dose, "CAR-T expansion {peak} from {dose}");
    assert!(
        at!(&tr, "pathogenic_clone_pct", 28.0) < 0.1,
        "clone eradicated"
    );
    assert!(at!(&tr, "asdas_crp", 84.0) < 2.1, "remission by week 12");
}

#[test]
fn no_state_goes_negative() {
    for name in AS_SCENARIOS {
        let tr = run!(name);
        let ns = tr.state_names.len();
        for (j, s) in tr.state_names.iter().enumerate() {
            let col: Vec<f64> = (0..tr.times.len()).map(|i| tr.states[i * ns + j]).collect();
            let max = col.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            let min = col.iter().fold(f64::MAX, |m, v| m.min(*v));
            assert!(
                min >= -1e-6 * max.max(1e-12),
                "{name}: state {s} goes negative ({min})"
            );
        }
    }
}
