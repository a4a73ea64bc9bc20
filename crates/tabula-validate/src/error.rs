//! The crate's error type.

use tabula_fit::FitError;
use tabula_model::ModelError;
use tabula_output::OutputError;
use tabula_trial::TrialError;

/// Everything that can stop a validation, calibration or sensitivity run. A target whose
/// simulation fails is *not* an error: it is a result row with a failure status.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// A target, problem, trial, scenario or model file is malformed (located diagnostics:
    /// file, line, column and field).
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// A request that does not fit the inputs (an unknown target id, a parameter no model has,
    /// a bad endpoint expression...).
    #[error("{0}")]
    Input(String),
    /// A trial could not be prepared or run.
    #[error(transparent)]
    Trial(#[from] TrialError),
    /// A sensitivity analysis or an optimiser failed.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// Writing an output failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A simulation of a single scenario failed.
    #[error("simulation failed: {0}")]
    Simulation(String),
}

impl ValidateError {
    /// Whether the error is the user's input (exit code 2) rather than a failed run.
    pub fn is_input(&self) -> bool {
        match self {
            ValidateError::Invalid(_) | ValidateError::Input(_) => true,
            ValidateError::Trial(e) => e.is_input(),
            ValidateError::Fit(e) => matches!(
                e,
                FitError::InvalidParameter { .. }
                    | FitError::InvalidSetting { .. }
                    | FitError::EmptyParameterSpace
                    | FitError::TooManyDimensions { .. }
            ),
            _ => false,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ValidateError> = std::result::Result<T, E>;
