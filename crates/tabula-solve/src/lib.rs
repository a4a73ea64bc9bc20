//! # tabula-solve: solver, dose events and the driver
//!
//! This crate turns a compiled model, a parameter set and a dosing [`Regimen`] into a time
//! course:
//!
//! 1. the regimen's records (bolus, zero-order infusion by rate or duration, repeated doses,
//!    per-kg scaling, bioavailability) are expanded into exact [`Event`]s for this patient;
//! 2. the [driver](simulate) integrates between breakpoints with a stiff or non-stiff method
//!    from [diffsol](https://github.com/martinjrobins/diffsol) (pinned, behind our own
//!    [`Stepper`] trait), stopping exactly at every dose, infusion start and infusion end,
//!    with the exact Jacobian from the compiled tapes;
//! 3. outputs are sampled by dense interpolation at the requested times.
//!
//! The [`reference`] module ships problems with closed-form solutions, used by the tests, the
//! benchmarks and the documentation.

#![warn(missing_docs)]

mod backend;
pub mod dosing;
mod driver;
mod error;
pub mod linalg;
mod options;
pub mod reference;

pub use backend::{SolverStats, Stepper};
pub use dosing::{Delivery, DoseRecord, Event, Regimen};
pub use driver::{
    simulate, simulate_trajectory, state_scales, tolerance_floor, Simulation, Trajectory,
};
pub use error::SolveError;
pub use options::{Method, SolverOptions};
