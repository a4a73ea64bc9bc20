//! Calibrate a two-parameter elimination curve to noisy data: CMA-ES for the global search
//! (with a progress line per generation), Levenberg-Marquardt to polish, then a local
//! identifiability check, and a Sobol analysis of the fitted model's 24 h level.
//!
//! Run with `cargo run --example calibrate -p tabula-fit`.

use tabula_fit::{
    least_squares_identifiability, sobol_indices, CmaEs, Control, IdentifiabilityOptions,
    LevenbergMarquardt, NoiseModel, Parameter, ParameterSpace, Progress, SobolConfig,
};

fn main() -> Result<(), tabula_fit::FitError> {
    // Synthetic observations of c(t) = dose/v * exp(-k t) with a deterministic wobble as noise.
    let (dose, v_true, k_true, sd) = (100.0, 12.0, 0.15, 0.05);
    let times: Vec<f64> = (0..16).map(|i| 0.5 + 1.5 * f64::from(i)).collect();
    let observed: Vec<f64> = times
        .iter()
        .map(|&t| dose / v_true * (-k_true * t).exp() + sd * (3.1 * t).sin())
        .collect();

    let space = ParameterSpace::new(vec![
        Parameter::log("volume_L", 1.0, 100.0),
        Parameter::log("k_el_per_h", 1e-3, 2.0),
    ])?;
    let residuals = |p: &[f64]| -> Result<Vec<f64>, String> {
        Ok(times
            .iter()
            .zip(&observed)
            .map(|(&t, &y)| (dose / p[0] * (-p[1] * t).exp() - y) / sd)
            .collect())
    };
    let sse = |p: &[f64]| -> Result<f64, String> { Ok(residuals(p)?.iter().map(|r| r * r).sum()) };

    let mut progress = |p: &Progress<'_>| {
        if p.iteration.is_multiple_of(10) {
            println!(
                "generation {:>4}  evaluations {:>5}  best {:.6e}",
                p.iteration, p.evaluations, p.best_value
            );
        }
        Control::Continue
    };
    let global = CmaEs {
        seed: 2024,
        ..CmaEs::default()
    }
    .minimize_observed(&space, sse, &mut progress)?;
    println!(
        "CMA-ES: {:?} -> {:.4} ({:?})",
        global.params, global.value, global.termination
    );

    let local = LevenbergMarquardt {
        x0: Some(global.params.clone()),
        ..LevenbergMarquardt::default()
    }
    .minimize(&space, residuals)?;
    println!("LM:     {:?} -> cost {:.4}", local.params, local.cost);

    let report = least_squares_identifiability(
        &space,
        &local.params,
        residuals,
        NoiseModel::Known(1.0), // residuals are already divided by the noise SD
        &IdentifiabilityOptions::default(),
    )?;
    for p in &report.parameters {
        println!(
            "{:>12} = {:.4} +- {:.4} (RSE {:.1} %) identifiable: {}",
            p.name,
            p.value,
            p.standard_error,
            100.0 * p.relative_standard_error,
            p.identifiable
        );
    }

    let level_24h = |p: &[f64]| -> Result<f64, String> { Ok(dose / p[0] * (-p[1] * 24.0).exp()) };
    let config = SobolConfig {
        n_base: 1024,
        bootstrap: 200,
        seed: 7,
        ..SobolConfig::default()
    };
    let s = sobol_indices(&space, &config, level_24h)?;
    for (i, name) in s.names.iter().enumerate() {
        println!(
            "{name:>12}: S1 = {:.3}, ST = {:.3} {:?}",
            s.first_order[i].value, s.total_order[i].value, s.total_order[i].ci
        );
    }
    Ok(())
}
