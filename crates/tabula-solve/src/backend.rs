//! The diffsol backend: our compiled tapes as diffsol equations, and diffsol's solvers behind
//! our own [`Stepper`] trait.
//!
//! diffsol is pinned to an exact version (its API moves quickly); nothing outside this module
//! names a diffsol type.

use std::cell::{Cell, RefCell};

use diffsol::{
    ConstantOp, Matrix, NalgebraContext, NalgebraMat, NalgebraVec, NonLinearOp,
    NonLinearOpJacobian, OdeBuilder, OdeEquations, OdeEquationsRef, OdeSolverMethod,
    OdeSolverProblem, OdeSolverStopReason, Op, ParameterisedOp, UnitCallable, Vector, VectorCommon,
};
use tabula_compile::{CompiledModel, Workspace};

use crate::error::SolveError;
use crate::options::{Method, SolverOptions};

type M = NalgebraMat<f64>;
type V = NalgebraVec<f64>;

/// Counters kept by the equations (diffsol's own statistics do not cover every method).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SolverStats {
    /// Accepted internal steps.
    pub steps: usize,
    /// Right-hand-side evaluations.
    pub rhs_evals: usize,
    /// Jacobian evaluations.
    pub jacobian_evals: usize,
    /// Restarts after discontinuities (doses, infusion switches).
    pub restarts: usize,
    /// Times a non-negative state fell below its tolerance floor and was projected back to
    /// zero (the integrator then restarts from the projected state).
    pub projections: usize,
    /// Segments integrated again, stopping at every output time, because an interpolated
    /// value failed the plausibility check of the dense output.
    pub fallbacks: usize,
}

/// What the driver needs from an integrator: restart after a discontinuity, take a step that
/// never passes a stop time, interpolate inside the last step.
pub trait Stepper {
    /// Restarts at `(t, y)` with infusion rates `u` (one per state) after a discontinuity.
    fn restart(&mut self, t: f64, y: &[f64], u: &[f64]) -> Result<(), SolveError>;
    /// Takes one internal step of the size the error control chose, shortened to land exactly on
    /// `t_stop` when it would pass it; returns the time reached.
    ///
    /// Only the step that would cross `t_stop` is shortened, before it is taken. diffsol's BDF,
    /// asked for a stop time, also shortens the *next* step at the end of every accepted one,
    /// rescaling the difference table that holds its dense output to that next step; when the
    /// factor is tiny (the next breakpoint a hair away), interpolating inside the step just
    /// taken loses every digit to cancellation. That printed -53,310 B cells/uL between two
    /// values near 180 for teclistamab patient 141 of `sle_refractory`, with status `ok`.
    fn step(&mut self, t_stop: f64) -> Result<f64, SolveError>;
    /// The state at `t`, inside the last step.
    fn interpolate(&mut self, t: f64, y: &mut [f64]) -> Result<(), SolveError>;
    /// The current state.
    fn state(&self) -> &[f64];
    /// Counters.
    fn stats(&self) -> SolverStats;
}

/// The model as diffsol equations: RHS, exact Jacobian from the compiled tapes, and infusion
/// inputs added by the driver.
pub(crate) struct System<'m, 'w> {
    model: &'m CompiledModel,
    ws: RefCell<&'w mut Workspace>,
    inputs: RefCell<Vec<f64>>,
    jac: RefCell<Vec<f64>>,
    /// Indices of the states that cannot be negative (not declared `allow_negative`).
    nonneg: Vec<usize>,
    y0: Vec<f64>,
    rhs_evals: Cell<usize>,
    jac_evals: Cell<usize>,
    ctx: NalgebraContext,
}

impl<'m, 'w> System<'m, 'w> {
    pub(crate) fn new(model: &'m CompiledModel, ws: &'w mut Workspace, y0: Vec<f64>) -> Self {
        let n = model.n_states();
        let nnz = model.jacobian_pattern().0.len();
        let nonneg = model
            .model()
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.allow_negative)
            .map(|(i, _)| i)
            .collect();
        System {
            model,
            ws: RefCell::new(ws),
            inputs: RefCell::new(vec![0.0; n]),
            jac: RefCell::new(vec![0.0; nnz]),
            nonneg,
            y0,
            rhs_evals: Cell::new(0),
            jac_evals: Cell::new(0),
            ctx: NalgebraContext::default(),
        }
    }

    /// Indices of the states that cannot be negative.
    pub(crate) fn nonnegative_states(&self) -> &[usize] {
        &self.nonneg
    }

    /// f(t, y) + u.
    fn eval(&self, t: f64, y: &[f64], dy: &mut [f64]) {
        self.rhs_evals.set(self.rhs_evals.get() + 1);
        let mut ws = self.ws.borrow_mut();
        self.model.rhs(&mut ws, t, y, dy);
        for (d, u) in dy.iter_mut().zip(self.inputs.borrow().iter()) {
            *d += u;
        }
    }

    fn jacobian_values(&self, t: f64, y: &[f64]) {
        self.jac_evals.set(self.jac_evals.get() + 1);
        let mut ws = self.ws.borrow_mut();
        self.model
            .jacobian(&mut ws, t, y, &mut self.jac.borrow_mut());
    }
}

impl Op for System<'_, '_> {
    type T = f64;
    type V = V;
    type M = M;
    type C = NalgebraContext;
    fn context(&self) -> &Self::C {
        &self.ctx
    }
    fn nstates(&self) -> usize {
        self.model.n_states()
    }
    fn nout(&self) -> usize {
        self.model.n_states()
    }
    fn nparams(&self) -> usize {
        0
    }
}

fn slice(v: &V) -> &[f64] {
    v.inner().as_slice()
}

impl NonLinearOp for System<'_, '_> {
    fn call_inplace(&self, x: &V, t: f64, y: &mut V) {
        self.eval(t, slice(x), y.inner_mut().as_mut_slice());
    }
}

impl NonLinearOpJacobian for System<'_, '_> {
    fn jac_mul_inplace(&self, x: &V, t: f64, v: &V, y: &mut V) {
        self.jacobian_values(t, slice(x));
        let (rows, cols) = self.model.jacobian_pattern();
        let vals = self.jac.borrow();
        let v = slice(v);
        let out = y.inner_mut().as_mut_slice();
        out.fill(0.0);
        for ((r, c), j) in rows.iter().zip(cols).zip(vals.iter()) {
            out[*r as usize] += j * v[*c as usize];
        }
    }

    fn jacobian_inplace(&self, x: &V, t: f64, y: &mut M) {
        self.jacobian_values(t, slice(x));
        let (rows, cols) = self.model.jacobian_pattern();
        let vals = self.jac.borrow();
        let m = y.inner_mut();
        m.fill(0.0);
        for ((r, c), j) in rows.iter().zip(cols).zip(vals.iter()) {
            m[(*r as usize, *c as usize)] = *j;
        }
    }
}

impl ConstantOp for System<'_, '_> {
    fn call_inplace(&self, _t: f64, y: &mut V) {
        y.inner_mut().as_mut_slice().copy_from_slice(&self.y0);
    }
}

impl<'a> OdeEquationsRef<'a> for System<'_, '_> {
    type Mass = ParameterisedOp<'a, UnitCallable<M>>;
    type Rhs = &'a Self;
    type Root = ParameterisedOp<'a, UnitCallable<M>>;
    type Init = &'a Self;
    type Out = ParameterisedOp<'a, UnitCallable<M>>;
    type Reset = ParameterisedOp<'a, UnitCallable<M>>;
}

impl OdeEquations for System<'_, '_> {
    fn rhs(&self) -> &Self {
        self
    }
    fn mass(&self) -> Option<ParameterisedOp<'_, UnitCallable<M>>> {
        None
    }
    fn init(&self) -> &Self {
        self
    }
    fn set_params(&mut self, _p: &V) {}
    fn get_params(&self, _p: &mut V) {}
}

/// Builds the diffsol problem for one simulation.
pub(crate) fn problem<'m, 'w>(
    system: System<'m, 'w>,
    options: &SolverOptions,
    atol: Vec<f64>,
) -> Result<OdeSolverProblem<System<'m, 'w>>, SolveError> {
    OdeBuilder::<M>::new()
        .rtol(options.rtol)
        .atol(atol)
        .h0(options.h0)
        .t0(0.0)
        .build_from_eqn(system)
        .map_err(|e| SolveError::Solver {
            time: 0.0,
            message: e.to_string(),
        })
}

/// A diffsol solver behind [`Stepper`].
pub(crate) struct DiffsolStepper<'a, 'm, 'w, S> {
    solver: S,
    problem: &'a OdeSolverProblem<System<'m, 'w>>,
    scratch: V,
    y: Vec<f64>,
    dy: Vec<f64>,
    /// The last step size the error control chose (not shortened to land on a stop time).
    natural_h: f64,
    steps: usize,
    restarts: usize,
}

impl<'a, 'm, 'w, S> DiffsolStepper<'a, 'm, 'w, S>
where
    S: OdeSolverMethod<'a, System<'m, 'w>>,
{
    pub(crate) fn new(solver: S, problem: &'a OdeSolverProblem<System<'m, 'w>>) -> Self {
        let h0 = problem.h0;
        let n = problem.eqn.nstates();
        let scratch = V::zeros(n, NalgebraContext::default());
        let y = slice(solver.state().y).to_vec();
        let dy = vec![0.0; n];
        DiffsolStepper {
            solver,
            problem,
            scratch,
            y,
            dy,
            natural_h: h0,
            steps: 0,
            restarts: 0,
        }
    }
}

fn solver_error(t: f64, e: impl std::fmt::Display) -> SolveError {
    SolveError::Solver {
        time: t,
        message: e.to_string(),
    }
}

impl<'a, 'm, 'w, S> Stepper for DiffsolStepper<'a, 'm, 'w, S>
where
    S: OdeSolverMethod<'a, System<'m, 'w>>,
{
    fn restart(&mut self, t: f64, y: &[f64], u: &[f64]) -> Result<(), SolveError> {
        let eqn = &self.problem.eqn;
        eqn.inputs.borrow_mut().copy_from_slice(u);
        eqn.eval(t, y, &mut self.dy);
        {
            let st = self.solver.state_mut();
            st.y.inner_mut().as_mut_slice().copy_from_slice(y);
            st.dy.inner_mut().as_mut_slice().copy_from_slice(&self.dy);
            *st.t = t;
            // Resume with the step size the error control last chose: the step that landed on
            // this breakpoint was shortened to hit it, and restarting from that sliver costs
            // tens of steps of ramp-up. If the discontinuity needs smaller steps, the error
            // test shrinks h within a step or two.
            *st.h = self.natural_h;
        }
        self.y.copy_from_slice(y);
        self.restarts += 1;
        Ok(())
    }

    fn step(&mut self, t_stop: f64) -> Result<f64, SolveError> {
        let (t_now, h) = {
            let st = self.solver.state();
            (st.t, st.h)
        };
        if t_stop <= t_now {
            return Ok(t_now);
        }
        // Ask for the stop only when this step would reach it (see the trait).
        let crossing = t_now + h >= t_stop - 1e-12 * t_stop.abs().max(1.0);
        if crossing {
            self.solver
                .set_stop_time(t_stop)
                .map_err(|e| solver_error(t_now, e))?;
        }
        let reason = self
            .solver
            .step()
            .map_err(|e| solver_error(self.solver.state().t, e))?;
        self.steps += 1;
        let st = self.solver.state();
        self.y.copy_from_slice(slice(st.y));
        if !crossing {
            self.natural_h = st.h;
        }
        Ok(match reason {
            OdeSolverStopReason::TstopReached => t_stop,
            _ => st.t,
        })
    }

    fn interpolate(&mut self, t: f64, y: &mut [f64]) -> Result<(), SolveError> {
        self.solver
            .interpolate_inplace(t, &mut self.scratch)
            .map_err(|e| solver_error(t, e))?;
        y.copy_from_slice(slice(&self.scratch));
        Ok(())
    }

    fn state(&self) -> &[f64] {
        &self.y
    }

    fn stats(&self) -> SolverStats {
        SolverStats {
            steps: self.steps,
            rhs_evals: self.problem.eqn.rhs_evals.get(),
            jacobian_evals: self.problem.eqn.jac_evals.get(),
            restarts: self.restarts,
            ..SolverStats::default()
        }
    }
}

/// Work to do with a stepper, generic over the stepper type so the driver loop is
/// monomorphised for each method.
pub(crate) trait Drive<R> {
    /// Runs with the given stepper; `system` gives access to the workspace between steps.
    fn drive<S: Stepper>(self, stepper: &mut S, system: &System<'_, '_>) -> Result<R, SolveError>;
}

/// Builds the stepper for `method` and hands it to `work`.
pub(crate) fn with_stepper<R>(
    problem: &OdeSolverProblem<System<'_, '_>>,
    method: Method,
    work: impl Drive<R>,
) -> Result<R, SolveError> {
    type LS = crate::linalg::SparseLu;
    let err = |e: diffsol::DiffsolError| solver_error(0.0, e);
    let sys = &problem.eqn;
    // The Newton matrix I - c J has the Jacobian's pattern plus the diagonal.
    let (rows, cols) = sys.model.jacobian_pattern();
    let n = sys.model.n_states();
    let pattern = rows
        .iter()
        .zip(cols)
        .map(|(&r, &c)| (r as usize, c as usize));
    crate::linalg::with_pattern(n, pattern, || match method {
        Method::Bdf => work.drive(
            &mut DiffsolStepper::new(problem.bdf::<LS>().map_err(err)?, problem),
            sys,
        ),
        Method::Esdirk34 => work.drive(
            &mut DiffsolStepper::new(problem.esdirk34::<LS>().map_err(err)?, problem),
            sys,
        ),
        Method::TrBdf2 => work.drive(
            &mut DiffsolStepper::new(problem.tr_bdf2::<LS>().map_err(err)?, problem),
            sys,
        ),
        Method::Tsit45 => work.drive(
            &mut DiffsolStepper::new(problem.tsit45().map_err(err)?, problem),
            sys,
        ),
    })
}

impl<'w> System<'_, 'w> {
    /// The workspace, for evaluating outputs between steps.
    pub(crate) fn workspace(&self) -> std::cell::RefMut<'_, &'w mut Workspace> {
        self.ws.borrow_mut()
    }
}
