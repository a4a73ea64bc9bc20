//! Global sensitivity analysis against closed-form answers.

use tabula_fit::problems::{Ishigami, LinearModel, SobolG};
use tabula_fit::{
    evaluate, morris_screening, sobol_indices, Evaluations, FailurePolicy, FitError, MorrisConfig,
    MorrisDesign, Parameter, ParameterSpace, SaltelliDesign, Sampler, SobolConfig,
};

type Res = Result<f64, String>;

fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn ishigami_indices_agree_with_analytic_values_to_two_decimals() {
    let f = Ishigami::default();
    let space = Ishigami::space().unwrap();
    let config = SobolConfig {
        n_base: 1 << 13,
        bootstrap: 200,
        seed: 42,
        ..SobolConfig::default()
    };
    let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(f.eval(x))).unwrap();
    assert_eq!(s.n_evaluations, (1 << 13) * 5);
    let (s1, st) = (f.first_order(), f.total_order());
    for i in 0..3 {
        let (e1, et) = (s.first_order[i], s.total_order[i]);
        println!(
            "x{}: S1 = {:.4} [{:.4}, {:.4}] (exact {:.4}), ST = {:.4} [{:.4}, {:.4}] (exact {:.4})",
            i + 1,
            e1.value,
            e1.ci.unwrap().0,
            e1.ci.unwrap().1,
            s1[i],
            et.value,
            et.ci.unwrap().0,
            et.ci.unwrap().1,
            st[i]
        );
        assert!((e1.value - s1[i]).abs() < 0.01, "S1[{i}] = {}", e1.value);
        assert!((et.value - st[i]).abs() < 0.01, "ST[{i}] = {}", et.value);
        let (lo, hi) = e1.ci.unwrap();
        assert!(lo <= e1.value && e1.value <= hi);
    }
    assert!((s.output_variance - f.variance()).abs() / f.variance() < 0.01);
}

#[test]
fn ishigami_second_order_isolates_the_x1_x3_interaction() {
    let f = Ishigami::default();
    let space = Ishigami::space().unwrap();
    let config = SobolConfig {
        n_base: 1 << 13,
        second_order: true,
        bootstrap: 0,
        ..SobolConfig::default()
    };
    let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(f.eval(x))).unwrap();
    assert_eq!(s.n_evaluations, (1 << 13) * 8);
    let exact13 = f.total_order()[2];
    for p in &s.second_order {
        println!("S{}{} = {:.4}", p.i + 1, p.j + 1, p.estimate.value);
        let want = if (p.i, p.j) == (0, 2) { exact13 } else { 0.0 };
        assert!((p.estimate.value - want).abs() < 0.02, "{p:?}");
        assert!(p.estimate.ci.is_none());
    }
    assert_eq!(s.second_order.len(), 3);
}

#[test]
fn g_function_indices_agree_with_analytic_values() {
    let g = SobolG {
        a: vec![0.0, 1.0, 4.5, 9.0, 99.0, 99.0],
    };
    let space = g.space().unwrap();
    let config = SobolConfig {
        n_base: 1 << 13,
        bootstrap: 0,
        ..SobolConfig::default()
    };
    let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(g.eval(x))).unwrap();
    let (s1, st) = (g.first_order(), g.total_order());
    for i in 0..6 {
        assert!((s.first_order[i].value - s1[i]).abs() < 0.01, "S1[{i}]");
        assert!((s.total_order[i].value - st[i]).abs() < 0.01, "ST[{i}]");
    }
}

#[test]
fn linear_model_indices_are_recovered() {
    let lm = LinearModel {
        coefficients: vec![1.0, -2.0, 0.5, 0.0],
        ranges: vec![(0.0, 1.0), (-1.0, 1.0), (10.0, 14.0), (0.0, 5.0)],
    };
    let space = lm.space().unwrap();
    let exact = lm.indices();
    for sampler in [Sampler::Sobol, Sampler::LatinHypercube] {
        let config = SobolConfig {
            n_base: 4096,
            sampler,
            bootstrap: 100,
            seed: 3,
            ..SobolConfig::default()
        };
        let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(lm.eval(x))).unwrap();
        for (i, &exact) in exact.iter().enumerate() {
            assert!(
                (s.first_order[i].value - exact).abs() < 0.01,
                "{sampler:?} S1[{i}]"
            );
            assert!(
                (s.total_order[i].value - exact).abs() < 0.01,
                "{sampler:?} ST[{i}]"
            );
        }
        // A parameter without effect has total index exactly zero.
        assert_eq!(s.total_order[3].value, 0.0);
    }
}

#[test]
fn morris_recovers_linear_elementary_effects_exactly() {
    let lm = LinearModel {
        coefficients: vec![3.0, -1.0, 0.0],
        ranges: vec![(0.0, 2.0), (5.0, 6.0), (0.0, 1.0)],
    };
    let space = lm.space().unwrap();
    let config = MorrisConfig {
        trajectories: 10,
        levels: 6,
        candidates: Some(40),
        bootstrap: 100,
        seed: 9,
        ..MorrisConfig::default()
    };
    let m = morris_screening(&space, &config, |x: &[f64]| Ok::<_, String>(lm.eval(x))).unwrap();
    let ee = lm.elementary_effects();
    for (i, &ee) in ee.iter().enumerate() {
        assert!((m.mu[i] - ee).abs() < 1e-9, "mu[{i}] = {}", m.mu[i]);
        assert!((m.mu_star[i].value - ee.abs()).abs() < 1e-9);
        assert!(m.sigma[i] < 1e-9);
        let (lo, hi) = m.mu_star[i].ci.unwrap();
        assert!((lo - ee.abs()).abs() < 1e-9 && (hi - ee.abs()).abs() < 1e-9);
    }
    assert_eq!(m.elementary_effects.n_rows(), 10);
}

#[test]
fn morris_screens_ishigami() {
    let f = Ishigami::default();
    let space = Ishigami::space().unwrap();
    let config = MorrisConfig {
        trajectories: 50,
        levels: 8,
        candidates: Some(200),
        bootstrap: 200,
        seed: 5,
        ..MorrisConfig::default()
    };
    let m = morris_screening(&space, &config, |x: &[f64]| Ok::<_, String>(f.eval(x))).unwrap();
    for i in 0..3 {
        println!(
            "x{}: mu = {:.3}, mu* = {:.3} {:?}, sigma = {:.3}",
            i + 1,
            m.mu[i],
            m.mu_star[i].value,
            m.mu_star[i].ci,
            m.sigma[i]
        );
    }
    // x3 acts only through its interaction with x1: mu ~ 0 but mu*, sigma > 0.
    assert!(m.mu_star.iter().all(|e| e.value > 1.0));
    assert!(m.sigma[2] > 1.0);
    assert!(m.mu[2].abs() < m.mu_star[2].value);
}

#[test]
fn results_are_bit_identical_for_one_and_two_threads() {
    let f = Ishigami::default();
    let space = Ishigami::space().unwrap();
    let model = |x: &[f64]| -> Res { Ok(f.eval(x)) };
    let sobol = |sampler| {
        let config = SobolConfig {
            n_base: 512,
            sampler,
            second_order: true,
            bootstrap: 64,
            seed: 17,
            ..SobolConfig::default()
        };
        sobol_indices(&space, &config, model).unwrap()
    };
    for sampler in [Sampler::Uniform, Sampler::SobolShifted] {
        let one = with_threads(1, || sobol(sampler));
        let two = with_threads(2, || sobol(sampler));
        assert_eq!(one, two);
    }
    let morris = || {
        let config = MorrisConfig {
            trajectories: 12,
            candidates: Some(30),
            seed: 4,
            ..MorrisConfig::default()
        };
        morris_screening(&space, &config, model).unwrap()
    };
    assert_eq!(with_threads(1, morris), with_threads(2, morris));
}

#[test]
fn failed_evaluations_abort_or_drop_as_configured() {
    let space = ParameterSpace::new(vec![
        Parameter::linear("k_in", 0.0, 1.0),
        Parameter::log("k_out", 0.1, 10.0),
    ])
    .unwrap();
    let model = |x: &[f64]| -> Res {
        if x[0] > 0.9 {
            Err(format!("solver failed at k_in = {}", x[0]))
        } else if x[1] > 9.0 {
            Ok(f64::NAN)
        } else {
            Ok(x[0] + x[1].ln())
        }
    };
    let mut config = SobolConfig {
        n_base: 256,
        bootstrap: 20,
        ..SobolConfig::default()
    };
    let err = sobol_indices(&space, &config, model).unwrap_err();
    match &err {
        FitError::EvaluationFailed {
            point,
            message,
            failed,
            total,
            ..
        } => {
            assert!(point.contains("k_in="));
            assert!(message.contains("solver failed") || message.contains("non-finite"));
            assert!(*failed > 0 && *total == 256 * 4);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("failed"));

    config.failure_policy = FailurePolicy::Drop;
    let s = sobol_indices(&space, &config, model).unwrap();
    assert!(s.dropped_base_rows > 0);
    assert_eq!(s.n_base_used + s.dropped_base_rows, 256);
    assert!(!s.failures.is_empty());
    assert!(s.first_order.iter().all(|e| e.value.is_finite()));

    let morris = MorrisConfig {
        failure_policy: FailurePolicy::Drop,
        trajectories: 30,
        ..MorrisConfig::default()
    };
    let m = morris_screening(&space, &morris, model).unwrap();
    assert!(m.dropped_trajectories > 0 && m.trajectories_used + m.dropped_trajectories == 30);
    let abort = MorrisConfig {
        trajectories: 30,
        ..MorrisConfig::default()
    };
    assert!(matches!(
        morris_screening(&space, &abort, model),
        Err(FitError::EvaluationFailed { .. })
    ));
    // Everything fails: a clear error, no panic.
    let dead = |_: &[f64]| -> Res { Err("no".into()) };
    assert!(matches!(
        sobol_indices(&space, &config, dead),
        Err(FitError::TooFewValidSamples { .. })
    ));
}

#[test]
fn bad_settings_and_outputs_are_typed_errors() {
    let space = Ishigami::space().unwrap();
    let model = |x: &[f64]| -> Res { Ok(x[0]) };
    for n_base in [0, 1] {
        let c = SobolConfig {
            n_base,
            ..SobolConfig::default()
        };
        assert!(matches!(
            sobol_indices(&space, &c, model),
            Err(FitError::InvalidSetting { .. })
        ));
    }
    let c = SobolConfig {
        confidence: 1.5,
        ..SobolConfig::default()
    };
    assert!(sobol_indices(&space, &c, model).is_err());
    for (trajectories, levels, candidates) in [(1, 4, None), (10, 5, None), (10, 4, Some(5))] {
        let c = MorrisConfig {
            trajectories,
            levels,
            candidates,
            ..MorrisConfig::default()
        };
        assert!(matches!(
            morris_screening(&space, &c, model),
            Err(FitError::InvalidSetting { .. })
        ));
    }
    // Constant output: variance-based indices are undefined.
    let c = SobolConfig {
        n_base: 64,
        ..SobolConfig::default()
    };
    assert!(matches!(
        sobol_indices(&space, &c, |_: &[f64]| Ok::<_, String>(1.0)),
        Err(FitError::ZeroVariance { .. })
    ));
    // Outputs of the wrong length, and outputs computed elsewhere with a NaN.
    let design = SaltelliDesign::new(&space, &c).unwrap();
    let short = Evaluations::from_values(&[1.0, 2.0]);
    assert!(matches!(
        design.analyze(&short, &c),
        Err(FitError::DimensionMismatch { .. })
    ));
    let mut ev = evaluate(design.points(), &model);
    ev.values[7] = f64::NAN;
    let ev = Evaluations::from_values(&ev.values);
    assert!(matches!(
        design.analyze(&ev, &c),
        Err(FitError::EvaluationFailed { index: 7, .. })
    ));
    // Too many dimensions for the Sobol table.
    let big = ParameterSpace::new(
        (0..501)
            .map(|i| Parameter::linear(format!("p{i}"), 0.0, 1.0))
            .collect(),
    )
    .unwrap();
    assert!(matches!(
        SaltelliDesign::new(&big, &c),
        Err(FitError::TooManyDimensions { .. })
    ));
    let m = MorrisDesign::new(&space, &MorrisConfig::default()).unwrap();
    assert_eq!(m.points().n_rows(), 20 * 4);
}
