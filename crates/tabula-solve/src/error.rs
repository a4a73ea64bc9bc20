//! Errors of the solver layer.

use tabula_compile::SetupError;

use crate::dosing::RegimenError;

/// Why a simulation stopped early. A virtual-trial runner records this as the patient's status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// The parameter set is unusable (non-finite derived quantity, negative initial value...).
    #[error("invalid parameter set: {0}")]
    Setup(#[from] SetupError),
    /// The regimen cannot be applied.
    #[error("invalid regimen: {0}")]
    Regimen(#[from] RegimenError),
    /// The integrator failed (step size underflow, repeated error-test or Newton failures...).
    #[error("solver failed at t = {time}: {message}")]
    Solver {
        /// Time reached.
        time: f64,
        /// What the integrator reported.
        message: String,
    },
    /// The step budget ran out.
    #[error("more than {max_steps} steps before t = {time}; the problem may be too stiff for the method or the tolerances too tight")]
    TooManySteps {
        /// The budget.
        max_steps: usize,
        /// Time reached.
        time: f64,
    },
    /// A state became NaN or infinite.
    #[error("state `{state}` became {value} at t = {time}")]
    NonFinite {
        /// State name.
        state: String,
        /// Its value.
        value: f64,
        /// When.
        time: f64,
    },
    /// Output times or options are unusable.
    #[error("{0}")]
    Invalid(String),
}

impl SolveError {
    /// A short machine-readable status for per-patient tables (`solver_failed`, ...).
    pub fn status(&self) -> &'static str {
        match self {
            SolveError::Setup(_) => "invalid_parameters",
            SolveError::Regimen(_) => "invalid_regimen",
            SolveError::Solver { .. } => "solver_failed",
            SolveError::TooManySteps { .. } => "too_many_steps",
            SolveError::NonFinite { .. } => "non_finite",
            SolveError::Invalid(_) => "invalid_input",
        }
    }
}
