//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong in `tabula-fit`.
///
/// Messages carry the offending names and numbers so that a command-line front end can show
/// them unchanged.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitError {
    /// A parameter definition is unusable (bad name, bounds or scale).
    #[error("parameter '{name}': {reason}")]
    InvalidParameter {
        /// The parameter's name (may be empty when the name itself is the problem).
        name: String,
        /// What is wrong and what was expected.
        reason: String,
    },

    /// A parameter space, design or problem with no parameters.
    #[error("the parameter space is empty: at least one parameter is required")]
    EmptyParameterSpace,

    /// A setting (sample size, number of levels, tolerance...) is out of its valid range.
    #[error("invalid setting `{setting}` = {value}: expected {expected}")]
    InvalidSetting {
        /// Name of the setting.
        setting: &'static str,
        /// The value that was given, formatted.
        value: String,
        /// What would have been accepted.
        expected: String,
    },

    /// Two lengths that must agree do not.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch {
        /// What was being checked.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        found: usize,
    },

    /// More dimensions were requested than the sampler supports.
    #[error("{sampler} supports at most {max} dimensions, {requested} were requested")]
    TooManyDimensions {
        /// Sampler name.
        sampler: &'static str,
        /// Supported maximum.
        max: usize,
        /// What was asked for.
        requested: usize,
    },

    /// A quasi-random sequence ran out of points.
    #[error("the Sobol sequence is exhausted after {max} points")]
    SequenceExhausted {
        /// Number of points the sequence can produce.
        max: u64,
    },

    /// A model or objective evaluation failed and the analysis was asked to stop on failures.
    #[error(
        "evaluation {index} failed at parameters [{point}]: {message} \
         ({failed} of {total} evaluations failed)"
    )]
    EvaluationFailed {
        /// Row of the design (or evaluation counter) that failed first.
        index: usize,
        /// The parameter values of that evaluation, formatted `name=value, ...`.
        point: String,
        /// The error message returned by the model, or a description of the bad value.
        message: String,
        /// How many evaluations failed in total.
        failed: usize,
        /// How many evaluations were attempted.
        total: usize,
    },

    /// After discarding failed evaluations too little remained for a meaningful estimate.
    #[error(
        "only {valid} usable {unit} remain after {failed} failed evaluations; \
         at least {required} are required"
    )]
    TooFewValidSamples {
        /// Units (base rows, trajectories...) that remain.
        valid: usize,
        /// Minimum needed.
        required: usize,
        /// Number of failed evaluations.
        failed: usize,
        /// What a unit is ("base rows", "trajectories").
        unit: &'static str,
    },

    /// The model output does not vary, so variance-based indices are undefined.
    #[error("the model output has zero variance over {n} evaluations; indices are undefined")]
    ZeroVariance {
        /// Number of evaluations used.
        n: usize,
    },

    /// An optimiser never obtained a finite objective value.
    #[error("no finite objective value in {evaluations} evaluations (first failure: {message})")]
    NoFiniteEvaluation {
        /// Evaluations attempted.
        evaluations: usize,
        /// The first failure message.
        message: String,
    },

    /// A linear-algebra step could not be carried out (e.g. a matrix with no finite entries).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Short form for `std::result::Result<T, FitError>`.
pub type Result<T> = std::result::Result<T, FitError>;

impl FitError {
    /// Convenience constructor for [`FitError::InvalidSetting`].
    pub(crate) fn setting(
        setting: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        FitError::InvalidSetting {
            setting,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
