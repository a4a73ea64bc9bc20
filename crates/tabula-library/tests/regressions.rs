//! Regression tests, each named after what broke.

use tabula_scenario::load_scenario_str;

/// Teclistamab patient 141 of `tabula trial sle_refractory` reported `b_blood` = -53,310
/// cells/uL at t = 3.875 (neighbours about 180) with status `ok`: diffsol's BDF had shortened
/// its next step to land on the day-4 dose and the rescaled difference table made the dense
/// output of the step just taken meaningless. The driver no longer asks the integrator to land
/// on breakpoints (it steps past and interpolates back), and a plausibility check catches the
/// next defect of this kind.
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
