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

/// How far below zero a state that cannot be negative may go inside the integrator: ten times
/// its absolute tolerance. The error control keeps each component's local error near its
/// absolute tolerance (in a weighted RMS norm, so one component may exceed it a little), so a
/// dip below zero smaller than this is integration error on a value that is really about zero;
/// it is reported as zero. A deeper dip is projected back to zero and the integrator restarts
/// from there (counted in [`SolverStats::projections`]): projection onto the non-negative
/// orthant, one of the two devices of Shampine et al. 2005 (Appl Math Comput 170:556). The
/// other, evaluating the right-hand side at the state clamped at zero, was tried and not kept:
/// the kink at zero made BDF's Newton iteration fail for 26% of the in vivo CAR-T patients of
/// `sle_refractory`.
pub fn tolerance_floor(atol: f64) -> f64 {
    10.0 * atol
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
    run(model, ws, params, sim, sink, Plain)
}

/// Runs the driver loop with the stepper it is given, or with that stepper wrapped (the tests
/// wrap it to inject faults).
trait WrapStepper {
    fn drive<S: Stepper>(
        &self,
        work: Loop<'_, '_>,
        stepper: &mut S,
        system: &System<'_, '_>,
    ) -> Result<SolverStats, SolveError>;
}

/// No wrapping.
struct Plain;

impl WrapStepper for Plain {
    fn drive<S: Stepper>(
        &self,
        work: Loop<'_, '_>,
        stepper: &mut S,
        system: &System<'_, '_>,
    ) -> Result<SolverStats, SolveError> {
        work.drive(stepper, system)
    }
}

struct Wrapped<'s, 'a, W> {
    work: Loop<'s, 'a>,
    wrap: W,
}

impl<W: WrapStepper> Drive<SolverStats> for Wrapped<'_, '_, W> {
    fn drive<S: Stepper>(
        self,
        stepper: &mut S,
        system: &System<'_, '_>,
    ) -> Result<SolverStats, SolveError> {
        self.wrap.drive(self.work, stepper, system)
    }
}

/// [`simulate`], with the stepper wrapped by `wrap`.
fn run<W: WrapStepper>(
    model: &CompiledModel,
    ws: &mut Workspace,
    params: &[f64],
    sim: &Simulation<'_>,
    sink: &mut dyn FnMut(f64, &[f64], &mut Workspace),
    wrap: W,
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
    let floor: Vec<f64> = atol.iter().map(|a| tolerance_floor(*a)).collect();
    let system = System::new(model, ws, y0);
    let problem = problem(system, sim.options, atol)?;
    with_stepper(
        &problem,
        sim.options.method,
        Wrapped {
            work: Loop {
                model,
                events: &events,
                sim,
                floor: &floor,
                sink,
            },
            wrap,
        },
    )
}

struct Loop<'s, 'a> {
    model: &'s CompiledModel,
    events: &'s [Event],
    sim: &'s Simulation<'a>,
    /// Per state, how far below zero a non-negative state may go inside the integrator before
    /// it is projected back (see [`tolerance_floor`]).
    floor: &'s [f64],
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
            floor,
            sink,
        } = self;
        let end = sim.end;
        let tol = same_time_tolerance(end);
        let times = sim.output_times;
        let n = model.n_states();
        let nonneg = system.nonnegative_states();
        let mut stops: Vec<f64> = breakpoints(events)
            .into_iter()
            .filter(|&b| b > tol && b < end - tol)
            .collect();
        stops.push(end);

        let mut y = stepper.state().to_vec();
        let mut u = vec![0.0; n];
        let mut scratch = vec![0.0; n];
        let mut y_old = vec![0.0; n];
        let mut y_seg = vec![0.0; n];
        let mut t = 0.0;
        apply(events, t, tol, &mut y, &mut u);
        stepper.restart(t, &y, &u)?;
        let mut k = 0;
        let mut steps = 0usize;
        let mut projections = 0usize;
        let mut fallbacks = 0usize;
        // Counts a step from `t_cur` to `t_new` against the budget; a step that did not advance
        // means the step size underflowed.
        let mut count_step = |t_cur: f64, t_new: f64| {
            steps += 1;
            if steps > sim.options.max_steps {
                return Err(SolveError::TooManySteps {
                    max_steps: sim.options.max_steps,
                    time: t_new,
                });
            }
            if t_new <= t_cur {
                return Err(SolveError::Solver {
                    time: t_cur,
                    message: "the step size underflowed".into(),
                });
            }
            Ok(())
        };
        for next in stops {
            // Outputs at the current breakpoint, after its events.
            while k < times.len() && times[k] <= t + tol {
                sink(times[k], &y, &mut system.workspace());
                k += 1;
            }
            // Integrate to the next breakpoint, sampling outputs strictly before it by
            // interpolation inside each step.
            y_seg.copy_from_slice(&y);
            y_old.copy_from_slice(&y);
            let mut t_cur = t;
            let mut trusted = true;
            while t_cur < next {
                let t_new = stepper.step(next)?;
                count_step(t_cur, t_new)?;
                check_finite(model, t_new, stepper.state())?;
                while k < times.len() && times[k] < next - tol && times[k] <= t_new {
                    stepper.interpolate(times[k], &mut scratch)?;
                    if !plausible(&scratch, &y_old, stepper.state(), floor) {
                        trusted = false;
                        break;
                    }
                    clip(&mut scratch, nonneg);
                    sink(times[k], &scratch, &mut system.workspace());
                    k += 1;
                }
                if !trusted {
                    break;
                }
                t_cur = t_new;
                // A non-negative state below its floor is projected back to zero.
                if t_cur < next && nonneg.iter().any(|&i| stepper.state()[i] < -floor[i]) {
                    scratch.copy_from_slice(stepper.state());
                    clip(&mut scratch, nonneg);
                    stepper.restart(t_cur, &scratch, &u)?;
                    projections += 1;
                }
                y_old.copy_from_slice(stepper.state());
            }
            if trusted {
                y.copy_from_slice(stepper.state());
            } else {
                // The dense output of a step failed its plausibility check: integrate this
                // segment again from its start, landing exactly on every output time left in
                // it, so no value comes from interpolation.
                fallbacks += 1;
                stepper.restart(t, &y_seg, &u)?;
                let mut t_cur = t;
                loop {
                    let target = if k < times.len() && times[k] < next - tol {
                        times[k]
                    } else {
                        next
                    };
                    while t_cur < target - tol {
                        let t_new = stepper.step(target)?;
                        count_step(t_cur, t_new)?;
                        t_cur = t_new;
                    }
                    check_finite(model, target, stepper.state())?;
                    if target == next {
                        y.copy_from_slice(stepper.state());
                        break;
                    }
                    scratch.copy_from_slice(stepper.state());
                    clip(&mut scratch, nonneg);
                    sink(times[k], &scratch, &mut system.workspace());
                    k += 1;
                }
            }
            check_finite(model, next, &y)?;
            clip(&mut y, nonneg);
            t = next;
            apply(events, t, tol, &mut y, &mut u);
            if t < end {
                stepper.restart(t, &y, &u)?;
            }
        }
        while k < times.len() {
            sink(times[k], &y, &mut system.workspace());
            k += 1;
        }
        let mut stats = stepper.stats();
        stats.projections = projections;
        stats.fallbacks = fallbacks;
        Ok(stats)
    }
}

/// Sets the non-negative states' values below zero (all within the tolerance floor, or
/// projected) to zero.
fn clip(y: &mut [f64], nonneg: &[usize]) {
    for &i in nonneg {
        if y[i] < 0.0 {
            y[i] = 0.0;
        }
    }
}

/// The plausibility check of an interpolated state against the step it comes from: each
/// component must lie within the range of the step's end points widened by the larger of that
/// range, the end points' magnitudes and the state's tolerance floor. A smooth solution can
/// rise above both ends of a step (a peak inside it), but an accepted step of an order-5 method
/// does not leave that band; a dense output that does has lost its digits (see [`Stepper`]).
fn plausible(y: &[f64], a: &[f64], b: &[f64], floor: &[f64]) -> bool {
    y.iter()
        .zip(a.iter().zip(b))
        .zip(floor)
        .all(|((&v, (&a, &b)), &f)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let m = (hi - lo).max(a.abs()).max(b.abs()).max(f);
            v.is_finite() && v >= lo - m && v <= hi + m
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;

    /// A stepper whose dense output is garbage inside a time window, as diffsol's BDF
    /// interpolant was inside a step shortened to land on a dose.
    struct Corrupt<'s, S> {
        inner: &'s mut S,
        window: (f64, f64),
    }

    impl<S: Stepper> Stepper for Corrupt<'_, S> {
        fn restart(&mut self, t: f64, y: &[f64], u: &[f64]) -> Result<(), SolveError> {
            self.inner.restart(t, y, u)
        }
        fn step(&mut self, t_stop: f64) -> Result<f64, SolveError> {
            self.inner.step(t_stop)
        }
        fn interpolate(&mut self, t: f64, y: &mut [f64]) -> Result<(), SolveError> {
            self.inner.interpolate(t, y)?;
            if t > self.window.0 && t < self.window.1 {
                for v in y.iter_mut() {
                    *v = -300.0 * v.abs() - 1.0;
                }
            }
            Ok(())
        }
        fn state(&self) -> &[f64] {
            self.inner.state()
        }
        fn stats(&self) -> SolverStats {
            self.inner.stats()
        }
    }

    struct Corrupting((f64, f64));

    impl WrapStepper for Corrupting {
        fn drive<S: Stepper>(
            &self,
            work: Loop<'_, '_>,
            stepper: &mut S,
            system: &System<'_, '_>,
        ) -> Result<SolverStats, SolveError> {
            let mut c = Corrupt {
                inner: stepper,
                window: self.0,
            };
            work.drive(&mut c, system)
        }
    }

    /// The guard on the dense output: an implausible interpolated value makes the driver
    /// integrate the segment again to every output time, and the result still matches the
    /// closed form.
    #[test]
    fn implausible_dense_output_falls_back_to_stepping_to_output_times() {
        for case in [
            reference::one_compartment_bolus(),
            reference::repeated_dosing(),
        ] {
            let cm = CompiledModel::new(case.model.clone());
            let mut ws = cm.workspace();
            let params = cm.default_parameters();
            let options = SolverOptions {
                rtol: 1e-10,
                atol: 1e-12,
                ..SolverOptions::default()
            };
            let sim = Simulation {
                regimen: &case.regimen,
                output_times: &case.times,
                end: case.end,
                options: &options,
            };
            let out = cm
                .model()
                .outputs
                .iter()
                .position(|o| o.name == case.output)
                .unwrap();
            let mut values = Vec::new();
            let mut buf = vec![0.0; cm.n_outputs()];
            let stats = run(
                &cm,
                &mut ws,
                &params,
                &sim,
                &mut |t, y, ws| {
                    cm.outputs(ws, t, y, None, &mut buf);
                    values.push((t, buf[out]));
                },
                Corrupting((0.3 * case.end, 0.6 * case.end)),
            )
            .unwrap();
            assert!(stats.fallbacks >= 1, "{}: no fallback taken", case.name);
            assert_eq!(values.len(), case.times.len());
            for (t, v) in values {
                let exact = (case.exact)(t);
                assert!(
                    (v - exact).abs() <= 1e-6 * exact.abs().max(1e-3),
                    "{} at t = {t}: {v} vs exact {exact}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn plausibility_band() {
        let f = [1e-9];
        // A peak inside the step: above both ends, by less than their magnitude.
        assert!(plausible(&[15.0], &[10.0], &[10.0], &f));
        // The patient-141 value: -53,310 between 180.3 and 179.0.
        assert!(!plausible(&[-53_310.0], &[180.3], &[179.0], &f));
        assert!(!plausible(&[f64::NAN], &[1.0], &[1.0], &f));
        // Decay through many decades stays plausible.
        assert!(plausible(&[1e-3], &[1.0], &[1e-6], &f));
    }
}
