//! How a command failed: bad input (exit code 2) or a failed run (exit code 1).

use tabula_model::ModelError;

/// A command's failure.
pub enum Failure {
    /// The input is malformed: exit code 2.
    Input(String),
    /// The run failed: exit code 1.
    Run(anyhow::Error),
}

impl From<ModelError> for Failure {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Invalid(_) => Failure::Input(e.to_string()),
            ModelError::Io { .. } => Failure::Input(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

impl From<tabula_output::OutputError> for Failure {
    fn from(e: tabula_output::OutputError) -> Self {
        match e {
            tabula_output::OutputError::NotADirectory { .. } => Failure::Input(e.to_string()),
            _ => Failure::Run(e.into()),
        }
    }
}

/// Refuses an `--out` path that cannot be a directory (an existing file, a dangling link).
pub fn check_out_dir(dir: &std::path::Path) -> Result<(), Failure> {
    tabula_output::check_output_dir(dir).map_err(|e| Failure::Input(format!("--out: {e}")))
}

/// Result of a command.
pub type CmdResult = Result<(), Failure>;

/// Shorthand for an input error.
pub fn input<T>(msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Input(msg.into()))
}
