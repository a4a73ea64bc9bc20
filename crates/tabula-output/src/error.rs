//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while writing tables, plots or reports.
///
/// Messages name the file (where there is one) and the cause, so that a caller can
/// show them to a user as they are.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An I/O operation on a file or directory failed.
    #[error("cannot {action} '{path}': {cause}")]
    Io {
        /// What was being done ("create", "write", "rename to", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating-system error.
        cause: std::io::Error,
    },
    /// The Parquet encoder failed.
    #[error("cannot write Parquet file '{path}': {cause}")]
    Parquet {
        /// The final path of the file being written.
        path: PathBuf,
        /// The encoder's error.
        cause: parquet::errors::ParquetError,
    },
    /// An Arrow array or record batch could not be built.
    #[error("cannot build Arrow data for '{path}': {cause}")]
    Arrow {
        /// The final path of the file being written.
        path: PathBuf,
        /// Arrow's error.
        cause: arrow_schema::ArrowError,
    },
    /// The CSV encoder failed.
    #[error("cannot write CSV file '{path}': {cause}")]
    Csv {
        /// The final path of the file being written.
        path: PathBuf,
        /// The encoder's error.
        cause: csv::Error,
    },
    /// The JSON encoder failed.
    #[error("cannot write JSON file '{path}': {cause}")]
    Json {
        /// The final path of the file being written.
        path: PathBuf,
        /// The encoder's error.
        cause: serde_json::Error,
    },
    /// A batch or table does not match the declared layout (lengths, types, indices).
    #[error("invalid data for '{target}': {reason}")]
    InvalidData {
        /// The file being written, or a description of the in-memory target.
        target: String,
        /// What is wrong, with the offending names and numbers.
        reason: String,
    },
    /// A path given as an output directory cannot be one.
    #[error("'{path}' cannot be used as an output directory: {reason}")]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
        /// Why: an existing file, a dangling symbolic link...
        reason: String,
    },
    /// The file name has no extension that selects a known format.
    #[error("cannot tell the output format of '{path}': expected an extension among {expected}")]
    UnknownFormat {
        /// The path whose extension was inspected.
        path: PathBuf,
        /// The accepted extensions.
        expected: &'static str,
    },
    /// A plot could not be drawn.
    #[error("cannot draw plot '{title}': {reason}")]
    Plot {
        /// The plot's title (or its kind when it has none).
        title: String,
        /// The drawing back end's message.
        reason: String,
    },
    /// An SVG image could not be rasterised to PNG.
    #[error("cannot render PNG{}: {reason}", path.as_ref().map(|p| format!(" '{}'", p.display())).unwrap_or_default())]
    Png {
        /// The target file, when rendering straight to a file.
        path: Option<PathBuf>,
        /// What failed.
        reason: String,
    },
}

/// Shorthand for results whose error is [`OutputError`].
pub type Result<T, E = OutputError> = std::result::Result<T, E>;

impl OutputError {
    /// Builds an [`OutputError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        cause: std::io::Error,
    ) -> Self {
        OutputError::Io {
            action,
            path: path.into(),
            cause,
        }
    }

    /// Builds an [`OutputError::InvalidData`].
    pub(crate) fn invalid(target: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        OutputError::InvalidData {
            target: target.to_string(),
            reason: reason.into(),
        }
    }
}
