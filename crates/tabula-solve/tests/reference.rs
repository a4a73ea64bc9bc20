//! The ODE path against closed forms: every reference problem agrees to 1e-6 relative, with
//! every method; Robertson's stiff problem agrees with a tight-tolerance run.

use tabula_compile::CompiledModel;
use tabula_solve::reference::{self, ReferenceCase};
use tabula_solve::{simulate_trajectory, Method, Regimen, Simulation, SolverOptions};

fn run(case: &ReferenceCase, options: &SolverOptions) -> f64 {
    let cm = CompiledModel::new(case.model.clone());
    let sim = Simulation {
        regimen: &case.regimen,
        output_times: &case.times,
        end: case.end,
        options,
    };
    let traj = simulate_trajectory(&cm, &cm.default_parameters(), &sim, None).unwrap();
    let got = traj.series(case.output).unwrap();
    let peak = case
        .times
        .iter()
        .map(|&t| (case.exact)(t).abs())
        .fold(0.0, f64::max);
    let mut worst: f64 = 0.0;
    for (t, g) in case.times.iter().zip(&got) {
        let want = (case.exact)(*t);
        // Relative error, with an absolute floor of 1e-9 of the peak for values near zero.
        let err = (g - want).abs() / want.abs().max(1e-9 * peak);
        worst = worst.max(err);
    }
    worst
}

#[test]
fn closed_forms_agree_to_1e_minus_6_with_bdf() {
    let opts = SolverOptions {
        rtol: 1e-10,
        atol: 1e-14,
        ..SolverOptions::default()
    };
    for case in reference::all() {
        let worst = run(&case, &opts);
        assert!(
            worst < 1e-6,
            "{}: worst relative error {worst:e}",
            case.name
        );
    }
}

#[test]
fn closed_forms_agree_with_every_method() {
    for method in Method::ALL {
        let opts = SolverOptions {
            method,
            rtol: 1e-10,
            atol: 1e-14,
            ..SolverOptions::default()
        };
        for case in reference::all() {
            let worst = run(&case, &opts);
            assert!(
                worst < 1e-6,
                "{} with {method}: worst relative error {worst:e}",
                case.name
            );
        }
    }
}

#[test]
fn default_tolerances_are_accurate_to_1e_minus_4() {
    for case in reference::all() {
        let worst = run(&case, &SolverOptions::default());
        assert!(
            worst < 1e-4,
            "{}: worst relative error {worst:e}",
            case.name
        );
    }
}

#[test]
fn repeated_dosing_reaches_the_steady_state_peak_and_trough() {
    let case = reference::repeated_dosing();
    let cm = CompiledModel::new(case.model.clone());
    let opts = SolverOptions {
        rtol: 1e-10,
        atol: 1e-14,
        ..SolverOptions::default()
    };
    // The 20th dose is at 228 h: its peak and the trough just before it.
    let times = [228.0 - 1e-9, 228.0];
    let sim = Simulation {
        regimen: &case.regimen,
        output_times: &times,
        end: 240.0,
        options: &opts,
    };
    let traj = simulate_trajectory(&cm, &cm.default_parameters(), &sim, None).unwrap();
    let c = traj.series("C").unwrap();
    let (peak, trough) = reference::steady_state_peak_trough();
    // After 19 half-lives of accumulation the residual distance to steady state is
    // exp(-k * 228) ~ 1e-10 of the peak.
    assert!((c[1] - peak).abs() / peak < 1e-6, "peak {} vs {peak}", c[1]);
    assert!(
        (c[0] - trough).abs() / trough < 1e-6,
        "trough {} vs {trough}",
        c[0]
    );
}

#[test]
fn robertson_matches_a_tight_tolerance_run_and_conserves_mass() {
    let (m, times) = reference::robertson();
    let cm = CompiledModel::new(m);
    let regimen = Regimen::default();
    let end = *times.last().unwrap();
    let tight = SolverOptions {
        rtol: 1e-10,
        atol: 1e-14,
        ..SolverOptions::default()
    };
    let normal = SolverOptions {
        rtol: 1e-6,
        atol: 1e-10,
        ..SolverOptions::default()
    };
    let run = |o: &SolverOptions| {
        let sim = Simulation {
            regimen: &regimen,
            output_times: &times,
            end,
            options: o,
        };
        simulate_trajectory(&cm, &cm.default_parameters(), &sim, None).unwrap()
    };
    let (a, b) = (run(&tight), run(&normal));
    for name in ["y1", "y2", "y3"] {
        let (sa, sb) = (a.series(name).unwrap(), b.series(name).unwrap());
        for (x, y) in sa.iter().zip(&sb) {
            let scale = x.abs().max(1e-10);
            assert!((x - y).abs() / scale < 1e-3, "{name}: {x} vs {y}");
        }
    }
    // Known values at t = 40 (Hairer & Wanner): y1 = 0.7158, y2 = 9.185e-6, y3 = 0.2842.
    let y1 = a.at("y1", 40.0).unwrap();
    assert!((y1 - 0.7158).abs() < 1e-4, "{y1}");
    for total in a.series("total").unwrap() {
        assert!((total - 1.0).abs() < 1e-8, "{total}");
    }
    assert!(
        a.stats.steps < 2000,
        "BDF should take few steps on Robertson: {:?}",
        a.stats
    );
}
