//! Why a simulation failed: the first non-finite flux or rate, by name.
//!
//! A `NaN` in the right-hand side (the square root of a negative number, a logarithm of zero,
//! a division by a state that reached zero) reaches the user as the integrator's complaint
//! ("step size too small"), which names no equation. [`non_finite_cause`] looks for it: it
//! re-runs the simulation up to the time of the failure, then evaluates every flux and rate at
//! the last good state and at explicit Euler steps of growing size from it (where the
//! integrator's trial steps went), and names the first flux or rate that is not finite.

use tabula_compile::CompiledModel;
use tabula_solve::{simulate, Simulation};

/// Euler step sizes probed from the last good state, as fractions of the distance to the
/// failure (the integrator's trial steps went somewhere in between, or a little beyond).
const PROBE_STEPS: [f64; 10] = [0.0, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0];

/// Output times of the re-run up to the failure: the last one reached is the last good state.
const RERUN_POINTS: usize = 200;

/// The first flux or rate that is not finite near `failed_at`, as a sentence naming it, the
/// time and any negative states; `None` when every value probed is finite.
pub fn non_finite_cause(
    model: &CompiledModel,
    params: &[f64],
    sim: &Simulation<'_>,
    failed_at: f64,
) -> Option<String> {
    let m = model.model();
    let mut ws = model.workspace();
    model.setup(&mut ws, params).ok()?;
    let mut y = vec![0.0; model.n_states()];
    model.initial_state(&ws, &mut y);
    let mut t = 0.0;
    if failed_at > 0.0 && failed_at.is_finite() {
        let times: Vec<f64> = (0..RERUN_POINTS)
            .map(|i| failed_at * i as f64 / RERUN_POINTS as f64)
            .collect();
        let probe = Simulation {
            regimen: sim.regimen,
            output_times: &times,
            end: failed_at,
            options: sim.options,
        };
        let mut last: Option<(f64, Vec<f64>)> = None;
        let _ = simulate(model, &mut ws, params, &probe, &mut |tt, yy, _| {
            last = Some((tt, yy.to_vec()));
        });
        if let Some((tt, yy)) = last {
            t = tt;
            y = yy;
        }
        model.setup(&mut ws, params).ok()?;
    }
    let mut dy0 = vec![0.0; y.len()];
    model.rhs(&mut ws, t, &y, &mut dy0);
    // At least a thousandth of a time unit, so that a failure at the very start is probed too.
    let reach = (failed_at - t).max(1e-3);
    let mut dy = vec![0.0; y.len()];
    let mut out = vec![0.0; model.n_outputs()];
    let mut fluxes = vec![0.0; m.fluxes.len()];
    for h in PROBE_STEPS.map(|f| f * reach) {
        let yp: Vec<f64> = if h == 0.0 {
            y.clone()
        } else {
            y.iter().zip(&dy0).map(|(a, d)| a + h * d).collect()
        };
        if yp.iter().any(|v| !v.is_finite()) {
            break;
        }
        let tp = t + h;
        model.outputs(&mut ws, tp, &yp, None, &mut out);
        model.flux_values(&ws, &mut fluxes);
        model.rhs(&mut ws, tp, &yp, &mut dy);
        let what = match fluxes.iter().position(|v| !v.is_finite()) {
            Some(i) => format!("flux `{}` evaluates to {}", m.fluxes[i].name, fluxes[i]),
            None => match dy.iter().position(|v| !v.is_finite()) {
                Some(i) => format!(
                    "the rate of state `{}` evaluates to {}",
                    m.states[i].name, dy[i]
                ),
                None => continue,
            },
        };
        let negative: Vec<String> = m
            .states
            .iter()
            .zip(&yp)
            .filter(|(_, v)| **v < 0.0)
            .take(5)
            .map(|(s, v)| format!("{} = {v:.4e}", s.name))
            .collect();
        let at = if negative.is_empty() {
            String::new()
        } else {
            format!(" where {}", negative.join(", "))
        };
        return Some(format!(
            "{what} at t = {tp:.6} {}{at} (a square root or logarithm of a negative number, or a division by zero, in its expression?)",
            m.time_unit_text
        ));
    }
    None
}
