//! # tabula-model: the model language
//!
//! Tabula models are data. A model is a set of TOML files, each declaring:
//!
//! * **parameters** with value, unit, description and source (or an explicit `assumed` /
//!   `calibrated` status with a plausible range);
//! * **derived** quantities, computed once per parameter set;
//! * **states** with units and initial values;
//! * **rates** and **fluxes**: the right-hand side dy/dt = f(t, y, p);
//! * **routes** where doses go, and **outputs** (read-outs, optionally with residual error).
//!
//! Modules combine through `include` (optionally instantiated under a prefix). This crate reads
//! the files, resolves every name, infers and checks units through every expression, orders
//! derived quantities and fluxes by dependency, and rejects anything malformed with a
//! [`Diagnostic`] naming file, line, column and field. The result is a flat, validated [`Model`]
//! that `tabula-compile` turns into fast native evaluation.
//!
//! ```
//! use tabula_model::{load_model_str, EmptyLibrary};
//!
//! let model = load_model_str("demo.toml", r#"
//! [model]
//! name = "decay"
//! description = "First-order elimination"
//! time_unit = "day"
//!
//! [parameters]
//! k = { value = 0.1, unit = "1/day", description = "Elimination rate", status = "assumed", range = [0.01, 1] }
//!
//! [states]
//! A = { unit = "mg", initial = 100, description = "Amount" }
//!
//! [rates]
//! A = "-k * A"
//! "#, &EmptyLibrary).unwrap();
//! assert_eq!(model.states[0].name, "A");
//! ```
//!
//! The file format is documented in `docs/model-format.md`.

#![warn(missing_docs)]

mod check;
pub mod doc;
pub mod error;
pub mod expr;
mod load;
pub mod model;
pub mod source;
pub mod units;

use std::path::Path;

pub use error::{Diagnostic, Diagnostics, Location, ModelError};
pub use expr::BinOp;
pub use model::{
    Derived, ErrorModel, Expr, Flux, Func, Model, Output, ParamStatus, Parameter, Route, State, Sym,
};
pub use source::{
    library_source_name, read_text_file, EmptyLibrary, Library, SourceFile, MAX_INPUT_BYTES,
};
pub use units::Unit;

/// Loads and validates a model from a source file (following its includes).
pub fn load_model_source(src: SourceFile, library: &dyn Library) -> Result<Model, ModelError> {
    let modules = load::assemble(src, library)?;
    check::check(modules)
}

/// Loads and validates a model from text, under a display name (relative includes resolve
/// against the current directory).
pub fn load_model_str(name: &str, text: &str, library: &dyn Library) -> Result<Model, ModelError> {
    load_model_source(SourceFile::new(name, text), library)
}

/// Loads and validates a model file from disk.
pub fn load_model_file(path: &Path, library: &dyn Library) -> Result<Model, ModelError> {
    load_model_source(SourceFile::read(path)?, library)
}

/// Loads a model by reference: a path (ending in `.toml`, or starting with `.` or `/`) or the name
/// of a built-in model. `from` is the file making the reference (for relative paths).
pub fn load_model_ref(
    reference: &str,
    from: Option<&SourceFile>,
    library: &dyn Library,
) -> Result<Model, ModelError> {
    let src = source::load_reference(reference, from, library)
        .map_err(|msg| ModelError::single(None, "model", msg))?;
    load_model_source(src, library)
}

/// Checks that a string is a usable name (for scenario and trial files).
pub fn check_identifier(name: &str) -> Result<(), String> {
    load::check_identifier(name)
}
