//! The driver: owns the time loop, applies dose events exactly on time and samples outputs.
//!
//! Between two breakpoints (dose times, infusion starts and ends) the right-hand side is
//! smooth; the solver is stopped exactly at each breakpoint, the event is applied to the state
//! (a bolus) or to the input rates (an infusion switch), and the solver restarts from there.
//! Output times inside a segment are filled by the solver's dense interpolation, so the output
//! grid never forces extra steps. A value at a dose time is the value just after the dose.

use tabula_compile::{CompiledModel, Workspace};

use crate::backend::{problem, with_stepper, Drive, SolverStats, Stepper, System};
use crate::dosing::{breakpoints, Event, Regimen};
use crate::error::SolveError;
use crate::options::SolverOptions;

/// What to simulate, apart from the model and its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Simulation<'a> {
    /// Doses.
    pub regimen: &'a Regimen,
    /// Output times, ascending, inside `[0, end]`.
    pub output_times: &'a [f64],
    /// End of the simulation (model time unit).
    pub end: f64,
    /// Method and tolerances.
    pub options: &'a SolverOptions,
}

/// The typical magnitude of each state, which scales its absolute tolerance: the model's
/// declared `scale` if any; otherwise the largest of the initial value and the doses given into
/// the state (bolus amounts, infusion totals); otherwise the largest such magnitude among states
/// with the same unit; otherwise 1.
pub fn state_scales(model: &tabula_model::Model, y0: &[f64], events: &[Event]) -> Vec<f64> {
    let n = model.states.len();
    let mut own = vec![0.0f64; n];
    for (i, y) in y0.iter().enumerate() {
        own[i] = own[i].max(y.abs());
    }
    for e in events {
        match *e {
            Event::Bolus { state, amount, .. } => own[state] = own[state].max(amount.abs()),
            Event::Infusion {
                start,
                end,
                state,
                rate,
            } => own[state] = own[state].max((rate * (end - start)).abs()),
        }
    }
    (0..n)
        .map(|i| {
            if let Some(s) = model.states[i].scale {
                return s;
            }
            if own[i] > 0.0 && own[i].is_finite() {
                return own[i];
            }
            let unit = &model.states[i].unit;
            let same = (0..n)
                .filter(|&j| model.states[j].unit.same_as(unit))
                .map(|j| model.states[j].scale.unwrap_or(own[j]))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            if same > 0.0 {
                same
            } else {
                1.0
            }
        })
        .collect()
}

/// Times closer than this (relative to the horizon) are the same time.
fn same_time_tolerance(end: f64) -> f64 {
    1e-12 * end.abs().max(1.0)
}

/// Runs one simulation. `sink(t, y, ws)` is called at every output time, in order, with the
/// state and the workspace (loaded with this parameter set) so outputs can be evaluated on the
/// spot without storing states.
pub fn simulate(
    model: &CompiledModel,
    ws: &mut Workspace,
    params: &[f64],
    sim: &Simulation<'_>,
    sink: &mut dyn FnMut(f64, &[f64], &mut Workspace),
) -> Result<SolverStats, SolveError> {
    sim.options.validate().map_err(SolveError::Invalid)?;
    if !(sim.end.is_finite() && sim.end >= 0.0) {
        return Err(SolveError::Invalid(format!(
            "the end time must be finite and >= 0, found {}",
            sim.end
        )));
    }
    let tol = same_time_tolerance(sim.end);
    let mut prev = f64::NEG_INFINITY;
    for &t in sim.output_times {
        if !t.is_finite() || t < -tol || t > sim.end + tol || t < prev {
            return Err(SolveError::Invalid(format!(
                "output times must be ascending and inside [0, {}]; found {t} after {prev}",
                sim.end
            )));
        }
        prev = t;
    }
    model.setup(ws, params)?;
    let mut y0 = vec![0.0; model.n_states()];
    model.initial_state(ws, &mut y0);
    let events = sim
        .regimen
        .events(|p| params[p], |r| model.bioavailability(ws, r))?;
    let scales = state_scales(model.model(), &y0, &events);
    let atol: Vec<f64> = scales.iter().map(|s| s * sim.options.atol).collect();
    let system = System::new(model, ws, y0);
    let problem = problem(system, sim.options, atol)?;
    with_stepper(
        &problem,
        sim.options.method,
        Loop {
            model,
            events: &events,
            sim,
            sink,
        },
    )
}

struct Loop<'s, 'a> {
    model: &'s CompiledModel,
    events: &'s [Event],
    sim: &'s Simulation<'a>,
    sink: &'s mut dyn FnMut(f64, &[f64], &mut Workspace),
}

/// Applies the events at `t` to `y` and recomputes the infusion rates `u` active after `t`.
/// Returns whether anything changed.
fn apply(events: &[Event], t: f64, tol: f64, y: &mut [f64], u: &mut [f64]) -> bool {
    let mut changed = false;
    u.fill(0.0);
    for e in events {
        match *e {
            Event::Bolus {
                time,
                state,
                amount,
            } => {
                if (time - t).abs() <= tol {
                    y[state] += amount;
                    changed = true;
                }
            }
            Event::Infusion {
                start,
                end,
                state,
                rate,
            } => {
                if start <= t + tol && end > t + tol {
                    u[state] += rate;
                }
                if (start - t).abs() <= tol || (end - t).abs() <= tol {
                    changed = true;
                }
            }
        }
    }
    changed
}

fn check_finite(model: &CompiledModel, t: f64, y: &[f64]) -> Result<(), SolveError> {
    match y.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(SolveError::NonFinite {
            state: model.model().states[i].name.clone(),
            value: y[i],
            time: t,
        }),
    }
}

impl Drive<SolverStats> for Loop<'_, '_> {
    fn drive<S: Stepper>(
        self,
        stepper: &mut S,
        system: &System<'_, '_>,
    ) -> Result<SolverStats, SolveError> {
        let Loop {
            model,
            events,
            sim,
            sink,
        } = self;
        let end = sim.end;
        let tol = same_time_tolerance(end);
        let times = sim.output_times;
        let n = model.n_states();
        let mut stops: Vec<f64> = breakpoints(events)
            .into_iter()
            .filter(|&b| b > tol && b < end - tol)
            .collect();
        stops.push(end);

        let mut y = stepper.state().to_vec();
        let mut u = vec![0.0; n];
        let mut scratch = vec![0.0; n];
        let mut t = 0.0;
        apply(events, t, tol, &mut y, &mut u);
        stepper.restart(t, &y, &u)?;
        let mut k = 0;
        let mut steps = 0usize;
        for next in stops {
            // Outputs at the current breakpoint, after its events.
            while k < times.len() && times[k] <= t + tol {
                sink(times[k], &y, &mut system.workspace());
                k += 1;
            }
            // Integrate to the next breakpoint, sampling outputs strictly before it.
            let mut t_cur = t;
            while t_cur < next {
                let t_new = stepper.step(next)?;
                steps += 1;
                if steps > sim.options.max_steps {
                    return Err(SolveError::TooManySteps {
                        max_steps: sim.options.max_steps,
                        time: t_new,
                    });
                }
                while k < times.len() && times[k] < next - tol && times[k] <= t_new {
                    stepper.interpolate(times[k], &mut scratch)?;
                    check_finite(model, times[k], &scratch)?;
                    sink(times[k], &scratch, &mut system.workspace());
                    k += 1;
                }
                if t_new <= t_cur {
                    return Err(SolveError::Solver {
                        time: t_cur,
                        message: "the step size underflowed".into(),
                    });
                }
                t_cur = t_new;
            }
            y.copy_from_slice(stepper.state());
            check_finite(model, next, &y)?;
            t = next;
            if apply(events, t, tol, &mut y, &mut u) && t < end {
                stepper.restart(t, &y, &u)?;
            }
        }
        while k < times.len() {
            sink(times[k], &y, &mut system.workspace());
            k += 1;
        }
        Ok(stepper.stats())
    }
}

/// A simulated time course held in memory: states and outputs at each output time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trajectory {
    /// Output times.
    pub times: Vec<f64>,
    /// States, row-major: `states[i * n_states + j]` is state `j` at `times[i]`.
    pub states: Vec<f64>,
    /// Outputs, row-major like `states`.
    pub outputs: Vec<f64>,
    /// Names of the states.
    pub state_names: Vec<String>,
    /// Names of the outputs.
    pub output_names: Vec<String>,
    /// Solver counters.
    pub stats: SolverStats,
}

impl Trajectory {
    /// The time course of a state or output, by name.
    pub fn series(&self, name: &str) -> Option<Vec<f64>> {
        if let Some(j) = self.output_names.iter().position(|n| n == name) {
            let no = self.output_names.len();
            return Some(
                self.times
                    .iter()
                    .enumerate()
                    .map(|(i, _)| self.outputs[i * no + j])
                    .collect(),
            );
        }
        let j = self.state_names.iter().position(|n| n == name)?;
        let ns = self.state_names.len();
        Some(
            self.times
                .iter()
                .enumerate()
                .map(|(i, _)| self.states[i * ns + j])
                .collect(),
        )
    }

    /// The value of a state or output at the output time closest to `t`.
    pub fn at(&self, name: &str, t: f64) -> Option<f64> {
        let i = self
            .times
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))?
            .0;
        self.series(name).map(|s| s[i])
    }
}

/// Runs a simulation and keeps every state and output. `noise` supplies one standard-normal
/// draw per output and time when observation noise is wanted.
pub fn simulate_trajectory(
    model: &CompiledModel,
    params: &[f64],
    sim: &Simulation<'_>,
    mut noise: Option<&mut dyn FnMut() -> f64>,
) -> Result<Trajectory, SolveError> {
    let m = model.model();
    let mut traj = Trajectory {
        state_names: m.states.iter().map(|s| s.name.clone()).collect(),
        output_names: m.outputs.iter().map(|o| o.name.clone()).collect(),
        ..Trajectory::default()
    };
    let no = model.n_outputs();
    let nt = sim.output_times.len();
    traj.times.reserve_exact(nt);
    traj.states.reserve_exact(nt * model.n_states());
    traj.outputs.reserve_exact(nt * no);
    let mut out = vec![0.0; no];
    let mut eps = vec![0.0; no];
    let mut ws = model.workspace();
    let stats = simulate(model, &mut ws, params, sim, &mut |t, y, ws| {
        let e = match noise.as_mut() {
            Some(draw) => {
                for x in eps.iter_mut() {
                    *x = draw();
                }
                Some(eps.as_slice())
            }
            None => None,
        };
        model.outputs(ws, t, y, e, &mut out);
        traj.times.push(t);
        traj.states.extend_from_slice(y);
        traj.outputs.extend_from_slice(&out);
    })?;
    traj.stats = stats;
    Ok(traj)
}
