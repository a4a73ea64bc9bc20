//! The crate's error type.

use tabula_model::ModelError;
use tabula_output::OutputError;

/// Everything that can stop a trial. A patient whose simulation fails is *not* an error: it is
/// a row with a status (see [`crate::PatientStatus`]).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The trial file, a scenario or a model is malformed (located diagnostics).
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// A request that does not fit the trial (an override of an unknown parameter, a bad shard
    /// specification...).
    #[error("{0}")]
    Input(String),
    /// Writing an output failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Reading a file back (merging shards) failed.
    #[error("cannot read '{path}': {message}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Shard outputs do not belong together.
    #[error("cannot merge shards: {0}")]
    Merge(String),
}

impl TrialError {
    /// Whether the error is the user's input (exit code 2) rather than a failed run.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            TrialError::Invalid(_) | TrialError::Input(_) | TrialError::Merge(_)
        )
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = TrialError> = std::result::Result<T, E>;
