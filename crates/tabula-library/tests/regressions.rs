//! Regression tests, each named after what broke.

use tabula_scenario::load_scenario_str;

/// Teclistamab patient 141 of `tabula trial sle_refractory` reported `b_blood` = -53,310
/// cells/uL at t = 3.875 (neighbours about 180) with status `ok`: diffsol's BDF had shortened
/// its next step to land on the day-4 dose and the rescaled difference table made the dense
/// output of the step just taken meaningless. The driver now gives the integrator the stop time
/// only for the step that would cross the breakpoint, and a plausibility check of the dense
/// output (with re-integration to the output times) catches the next defect of this kind.
#[test]
fn teclistamab_patient_141_dense_output_before_a_dose() {
    let text = include_str!("regressions/teclistamab_patient_141.toml");
    let sc = load_scenario_str(
        "teclistamab_patient_141.toml",
        text,
        &tabula_library::Builtin,
    )
    .unwrap();
    let traj = sc.run().unwrap();
    let b = traj.series("b_blood").unwrap();
    assert_eq!(traj.times.len(), 81);
    for i in 1..b.len() - 1 {
        let (lo, hi) = (b[i - 1].min(b[i + 1]), b[i - 1].max(b[i + 1]));
        assert!(
            b[i] >= 0.99 * lo && b[i] <= 1.01 * hi,
            "b_blood at t = {} is {} between {} and {}",
            traj.times[i],
            b[i],
            b[i - 1],
            b[i + 1]
        );
    }
}

/// With `cd19_rho_max` at the top of its prior range the homeostatic share of CAR-T
/// proliferation exceeded contraction with no limit: the CAR-T pool grew to 1e22 cells until
/// Newton failed on day 730 (found by `tabula sensitivity`). Homeostatic proliferation now draws
/// on the shared cytokine, which CAR-T consume, so the pool stays within lymphocyte space for
/// every value in the range.
#[test]
fn car_t_pool_is_bounded_over_the_prior_range_of_rho_max() {
    let text = tabula_library::get(tabula_library::Kind::Scenario, "sle/cd19_car_t")
        .expect("built-in scenario");
    let mut sc = load_scenario_str("sle/cd19_car_t", text, &tabula_library::Builtin).unwrap();
    let i = sc.model.parameter_index("cd19_rho_max").unwrap();
    let (_, hi) = sc.model.parameters[i]
        .range
        .expect("a calibrated parameter has a range");
    sc.parameters[i] = hi;
    let traj = sc.run().expect("the solver succeeds");
    let car = traj.series("cd19_car_total").unwrap();
    let peak = car.iter().cloned().fold(0.0, f64::max);
    assert!(peak < 1e13, "CAR-T pool reached {peak:e} cells");
    // After the lymphodepletion surge the pool does not grow again.
    let year = traj.times.iter().position(|&t| t >= 365.0).unwrap();
    let last = *car.last().unwrap();
    assert!(
        last <= car[year] * 1.01,
        "CAR-T pool grows in year 2: {:e} -> {last:e}",
        car[year]
    );
}
