//! Optimisers and identifiability on standard problems.

use tabula_fit::problems::rosenbrock;
use tabula_fit::{
    least_squares_identifiability, likelihood_identifiability, CmaEs, Control, FitError,
    IdentifiabilityOptions, Issue, LevenbergMarquardt, NelderMead, NoiseModel, Parameter,
    ParameterSpace, Progress, Termination,
};

type Res = Result<f64, String>;
type VecRes = Result<Vec<f64>, String>;

fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

fn box_space(n: usize, lo: f64, hi: f64) -> ParameterSpace {
    ParameterSpace::new(
        (0..n)
            .map(|i| Parameter::linear(format!("x{i}"), lo, hi))
            .collect(),
    )
    .unwrap()
}

fn rosen(x: &[f64]) -> Res {
    Ok(rosenbrock(x))
}

#[test]
fn cmaes_solves_rosenbrock_2d() {
    let space = box_space(2, -2.0, 2.0);
    let r = CmaEs {
        seed: 1,
        ..CmaEs::default()
    }
    .minimize(&space, rosen)
    .unwrap();
    println!(
        "2-D: f = {:.3e} at {:?} after {} evaluations ({:?})",
        r.value, r.params, r.evaluations, r.termination
    );
    assert!(r.value < 1e-12);
    assert!(r.params.iter().all(|x| (x - 1.0).abs() < 1e-5));
    assert!(r.termination.converged());
}

#[test]
fn cmaes_solves_rosenbrock_10d() {
    let space = box_space(10, -2.0, 2.0);
    let r = CmaEs {
        seed: 7,
        max_evaluations: 60_000,
        restarts: 3,
        target: Some(1e-12),
        ..CmaEs::default()
    }
    .minimize(&space, rosen)
    .unwrap();
    println!(
        "10-D: f = {:.3e} after {} evaluations, {} restarts ({:?})",
        r.value, r.evaluations, r.restarts, r.termination
    );
    assert_eq!(r.termination, Termination::TargetReached);
    assert!(r.params.iter().all(|x| (x - 1.0).abs() < 1e-5));
}

#[test]
fn nelder_mead_solves_rosenbrock_2d() {
    let space = box_space(2, -2.0, 2.0);
    let r = NelderMead {
        x0: Some(vec![-1.2, 1.0]),
        ..NelderMead::default()
    }
    .minimize(&space, rosen)
    .unwrap();
    println!(
        "NM 2-D: f = {:.3e} after {} evaluations ({:?})",
        r.value, r.evaluations, r.termination
    );
    assert!(r.value < 1e-10);
    assert!(r.params.iter().all(|x| (x - 1.0).abs() < 1e-4));
}

/// Distance to a point outside the box: the constrained optimum is on two bounds.
#[test]
fn optimum_on_the_bounds_is_found() {
    let space = ParameterSpace::new(vec![
        Parameter::linear("a", 0.0, 1.0),
        Parameter::linear("b", 0.0, 1.0),
        Parameter::log("c", 1.0, 3.0),
    ])
    .unwrap();
    let target = [2.0, 0.3, 0.5];
    let expected = [1.0, 0.3, 1.0];
    let f = |x: &[f64]| -> Res { Ok(x.iter().zip(target).map(|(a, b)| (a - b).powi(2)).sum()) };
    let cma = CmaEs {
        seed: 3,
        ..CmaEs::default()
    }
    .minimize(&space, f)
    .unwrap();
    let nm = NelderMead::default().minimize(&space, f).unwrap();
    let lm = LevenbergMarquardt::default()
        .minimize(&space, |x: &[f64]| -> VecRes {
            Ok(x.iter().zip(target).map(|(a, b)| a - b).collect())
        })
        .unwrap();
    for (name, x) in [
        ("CMA-ES", &cma.params),
        ("Nelder-Mead", &nm.params),
        ("LM", &lm.params),
    ] {
        for (xi, ei) in x.iter().zip(expected) {
            assert!((xi - ei).abs() < 1e-6, "{name}: {x:?}");
        }
    }
    assert!((cma.value - 1.25).abs() < 1e-10);
}

fn decay_data(noise: f64) -> (Vec<f64>, Vec<f64>) {
    let t: Vec<f64> = (0..21).map(f64::from).collect();
    let y = t
        .iter()
        .map(|&ti| 5.0 * (-0.3 * ti).exp() + noise * (7.3 * ti).sin())
        .collect();
    (t, y)
}

fn decay_space() -> ParameterSpace {
    ParameterSpace::new(vec![
        Parameter::log("amplitude", 0.1, 100.0),
        Parameter::log("rate", 1e-3, 10.0),
    ])
    .unwrap()
}

#[test]
fn levenberg_marquardt_recovers_exponential_decay() {
    let (t, y) = decay_data(0.0);
    let residuals = |p: &[f64]| -> VecRes {
        Ok(t.iter()
            .zip(&y)
            .map(|(&ti, &yi)| p[0] * (-p[1] * ti).exp() - yi)
            .collect())
    };
    let r = LevenbergMarquardt::default()
        .minimize(&decay_space(), residuals)
        .unwrap();
    println!(
        "LM decay: {:?}, cost {:.3e}, {} iterations, {} evaluations ({:?})",
        r.params, r.cost, r.iterations, r.evaluations, r.termination
    );
    assert!((r.params[0] - 5.0).abs() < 1e-7 && (r.params[1] - 0.3).abs() < 1e-8);
    assert!(r.termination.converged());
    assert_eq!(r.residuals.len(), 21);
}

#[test]
fn identifiable_fit_is_not_flagged_and_matches_likelihood_curvature() {
    let (t, y) = decay_data(0.05);
    let residuals = |p: &[f64]| -> VecRes {
        Ok(t.iter()
            .zip(&y)
            .map(|(&ti, &yi)| p[0] * (-p[1] * ti).exp() - yi)
            .collect())
    };
    let space = decay_space();
    let fit = LevenbergMarquardt::default()
        .minimize(&space, residuals)
        .unwrap();
    assert!((fit.params[0] - 5.0).abs() < 0.1 && (fit.params[1] - 0.3).abs() < 0.01);
    let sigma = 0.05;
    let opts = IdentifiabilityOptions::default();
    let ls = least_squares_identifiability(
        &space,
        &fit.params,
        residuals,
        NoiseModel::Known(sigma),
        &opts,
    )
    .unwrap();
    for p in &ls.parameters {
        println!(
            "{}: {:.5} +- {:.5} (RSE {:.4}) {:?}",
            p.name, p.value, p.standard_error, p.relative_standard_error, p.issues
        );
        assert!(p.identifiable && p.relative_standard_error < 0.05);
    }
    assert!(ls.unidentifiable().is_empty());
    // Gaussian negative log-likelihood with the same sigma: its Hessian is the same
    // information up to the residual curvature term, small at a good fit.
    let nll = |p: &[f64]| -> Res {
        let r = residuals(p)?;
        Ok(r.iter().map(|v| v * v).sum::<f64>() / (2.0 * sigma * sigma))
    };
    let ml = likelihood_identifiability(&space, &fit.params, nll, &opts).unwrap();
    for (a, b) in ls.parameters.iter().zip(&ml.parameters) {
        assert!(
            (a.standard_error / b.standard_error - 1.0).abs() < 0.05,
            "{a:?} vs {b:?}"
        );
    }
}

/// Linear regression: the covariance is exactly sigma^2 (X^T X)^-1.
#[test]
fn identifiability_matches_linear_regression_covariance() {
    let t: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.5).collect();
    let y: Vec<f64> = t.iter().map(|ti| 1.0 + 2.0 * ti).collect();
    let space = ParameterSpace::new(vec![
        Parameter::linear("intercept", -10.0, 10.0),
        Parameter::linear("slope", -10.0, 10.0),
    ])
    .unwrap();
    let residuals = |p: &[f64]| -> VecRes {
        Ok(t.iter()
            .zip(&y)
            .map(|(ti, yi)| p[0] + p[1] * ti - yi)
            .collect())
    };
    let sigma = 0.2;
    let rep = least_squares_identifiability(
        &space,
        &[1.0, 2.0],
        residuals,
        NoiseModel::Known(sigma),
        &IdentifiabilityOptions::default(),
    )
    .unwrap();
    let (n, st, stt) = (
        t.len() as f64,
        t.iter().sum::<f64>(),
        t.iter().map(|v| v * v).sum::<f64>(),
    );
    let det = n * stt - st * st;
    let var = [sigma * sigma * stt / det, sigma * sigma * n / det];
    let cov01 = -sigma * sigma * st / det;
    for (p, v) in rep.parameters.iter().zip(var) {
        assert!((p.standard_error / v.sqrt() - 1.0).abs() < 1e-6);
    }
    assert!((rep.covariance.get(0, 1) / cov01 - 1.0).abs() < 1e-6);
    assert!((rep.correlation.get(0, 1) - cov01 / (var[0] * var[1]).sqrt()).abs() < 1e-6);
}

#[test]
fn product_of_parameters_is_flagged_unidentifiable() {
    let x: Vec<f64> = (1..=10).map(f64::from).collect();
    let y: Vec<f64> = x.iter().map(|xi| 6.0 * xi).collect();
    let space = ParameterSpace::new(vec![
        Parameter::log("a", 0.1, 10.0),
        Parameter::log("b", 0.1, 10.0),
    ])
    .unwrap();
    let residuals = |p: &[f64]| -> VecRes {
        Ok(x.iter()
            .zip(&y)
            .map(|(xi, yi)| p[0] * p[1] * xi - yi)
            .collect())
    };
    let fit = LevenbergMarquardt::default()
        .minimize(&space, residuals)
        .unwrap();
    assert!(
        (fit.params[0] * fit.params[1] - 6.0).abs() < 1e-6,
        "{:?}",
        fit.params
    );
    let rep = least_squares_identifiability(
        &space,
        &fit.params,
        residuals,
        NoiseModel::Known(0.1),
        &IdentifiabilityOptions::default(),
    )
    .unwrap();
    println!(
        "a*b*x: eigenvalues {:?}, condition {:e}",
        rep.eigenvalues, rep.condition_number
    );
    assert_eq!(rep.unidentifiable(), vec!["a", "b"]);
    for p in &rep.parameters {
        assert!(p
            .issues
            .iter()
            .any(|i| matches!(i, Issue::NullDirection { .. })));
        assert!(p.standard_error.is_infinite());
    }
    assert!((rep.correlation.get(0, 1).abs() - 1.0).abs() < 1e-6);
    // Estimated noise from exactly zero residuals is refused with an explanation.
    assert!(matches!(
        least_squares_identifiability(
            &space,
            &[2.0, 3.0],
            residuals,
            NoiseModel::Estimated,
            &IdentifiabilityOptions::default()
        ),
        Err(FitError::Numerical(_))
    ));
}

#[test]
fn optimisers_are_bit_identical_for_one_and_two_threads() {
    let space = box_space(5, -2.0, 2.0);
    // Fails in a corner, to check that failure handling is deterministic too.
    let f = |x: &[f64]| -> Res {
        if x[0] < -1.8 {
            Err("corner".into())
        } else {
            Ok(rosenbrock(x))
        }
    };
    let cma = || {
        CmaEs {
            seed: 11,
            restarts: 1,
            max_evaluations: 3_000,
            ..CmaEs::default()
        }
        .minimize(&space, f)
        .unwrap()
    };
    assert_eq!(with_threads(1, cma), with_threads(2, cma));
    let nm = || NelderMead::default().minimize(&space, f).unwrap();
    assert_eq!(with_threads(1, nm), with_threads(2, nm));
    let (t, y) = decay_data(0.05);
    let lm = || {
        LevenbergMarquardt::default()
            .minimize(&decay_space(), |p: &[f64]| -> VecRes {
                Ok(t.iter()
                    .zip(&y)
                    .map(|(&ti, &yi)| p[0] * (-p[1] * ti).exp() - yi)
                    .collect())
            })
            .unwrap()
    };
    assert_eq!(with_threads(1, lm), with_threads(2, lm));
}

#[test]
fn observer_sees_progress_and_can_stop() {
    let space = box_space(3, -2.0, 2.0);
    let mut seen = Vec::new();
    let mut obs = |p: &Progress<'_>| {
        seen.push((p.iteration, p.evaluations, p.best_value));
        if p.iteration == 5 {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let r = CmaEs::default()
        .minimize_observed(&space, rosen, &mut obs)
        .unwrap();
    assert_eq!(r.termination, Termination::StoppedByObserver);
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[1].1 > w[0].1 && w[1].2 <= w[0].2));
    assert_eq!(r.evaluations, seen[4].1);
    let mut count = 0;
    let r = NelderMead::default()
        .minimize_observed(&space, rosen, &mut |_: &Progress<'_>| {
            count += 1;
            if count == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
    assert_eq!(
        (r.termination, r.iterations),
        (Termination::StoppedByObserver, 3)
    );
}

#[test]
fn failed_evaluations_are_counted_not_fatal() {
    let space = box_space(2, -2.0, 2.0);
    let f = |x: &[f64]| -> Res {
        if x[1] < 0.0 {
            Err(format!("unstable at {}", x[1]))
        } else if x[0] < -1.0 {
            Ok(f64::NAN)
        } else {
            Ok(rosenbrock(x))
        }
    };
    let r = CmaEs {
        seed: 2,
        ..CmaEs::default()
    }
    .minimize(&space, f)
    .unwrap();
    assert!(r.failed_evaluations > 0);
    assert!(r.first_failure.is_some());
    assert!(r.value < 1e-10);
    let dead = |_: &[f64]| -> Res { Err("always".into()) };
    assert!(matches!(
        CmaEs {
            max_evaluations: 100,
            ..CmaEs::default()
        }
        .minimize(&space, dead),
        Err(FitError::NoFiniteEvaluation { .. })
    ));
    assert!(matches!(
        NelderMead {
            max_evaluations: 5,
            ..NelderMead::default()
        }
        .minimize(&space, |_: &[f64]| -> Res { panic!("boom") }),
        Err(FitError::NoFiniteEvaluation { .. })
    ));
    assert!(matches!(
        LevenbergMarquardt::default().minimize(&space, |_: &[f64]| -> VecRes { Err("bad".into()) }),
        Err(FitError::EvaluationFailed { .. })
    ));
}

#[test]
fn bad_settings_are_typed_errors() {
    let space = box_space(2, -2.0, 2.0);
    let bad = [
        CmaEs {
            sigma0: 0.0,
            ..CmaEs::default()
        },
        CmaEs {
            sigma0: f64::NAN,
            ..CmaEs::default()
        },
        CmaEs {
            population: Some(1),
            ..CmaEs::default()
        },
        CmaEs {
            max_evaluations: 0,
            ..CmaEs::default()
        },
        CmaEs {
            tol_fun: -1.0,
            ..CmaEs::default()
        },
    ];
    for c in bad {
        assert!(
            matches!(
                c.minimize(&space, rosen),
                Err(FitError::InvalidSetting { .. })
            ),
            "{c:?}"
        );
    }
    let out_of_bounds = CmaEs {
        x0: Some(vec![3.0, 0.0]),
        ..CmaEs::default()
    };
    assert!(matches!(
        out_of_bounds.minimize(&space, rosen),
        Err(FitError::InvalidParameter { .. })
    ));
    let wrong_len = NelderMead {
        x0: Some(vec![0.0]),
        ..NelderMead::default()
    };
    assert!(matches!(
        wrong_len.minimize(&space, rosen),
        Err(FitError::DimensionMismatch { .. })
    ));
    let lm = LevenbergMarquardt {
        fd_step: 0.0,
        ..LevenbergMarquardt::default()
    };
    assert!(lm
        .minimize(&space, |x: &[f64]| -> VecRes { Ok(x.to_vec()) })
        .is_err());
    let empty_residuals =
        LevenbergMarquardt::default().minimize(&space, |_: &[f64]| -> VecRes { Ok(vec![]) });
    assert!(matches!(
        empty_residuals,
        Err(FitError::InvalidSetting { .. })
    ));
}

#[test]
fn one_parameter_problems_work() {
    let space = ParameterSpace::new(vec![Parameter::log("k", 0.01, 100.0)]).unwrap();
    let f = |x: &[f64]| -> Res { Ok((x[0].ln() - 2.0_f64.ln()).powi(2)) };
    let cma = CmaEs::default().minimize(&space, f).unwrap();
    let nm = NelderMead::default().minimize(&space, f).unwrap();
    let lm = LevenbergMarquardt::default()
        .minimize(&space, |x: &[f64]| -> VecRes {
            Ok(vec![x[0].ln() - 2.0_f64.ln()])
        })
        .unwrap();
    for x in [cma.params[0], nm.params[0], lm.params[0]] {
        assert!((x - 2.0).abs() < 1e-5, "{x}");
    }
}
