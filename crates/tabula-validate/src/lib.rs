//! # tabula-validate
//!
//! Tabula against published trials. This crate sits at the end of the data flow
//! (model -> patient -> population -> endpoints -> **comparison with the literature**) and
//! powers `tabula validate`, `tabula calibrate` and `tabula sensitivity`:
//!
//! ```text
//! target files (study, design, observed value, rule)   --target-->   Target
//!   + validation trials (library/validation/trials)    --validate--> Harness: trials read once,
//!                                                                      compiled trials pooled
//!   Harness::evaluate(overrides) -> per-patient endpoint values per arm
//!        --stats::Summary (median, mean, 5-95% interval, proportion)
//!        --rules::judge (Clopper-Pearson, t interval, ranges, fold/relative/absolute, thresholds)
//!        -> TargetResult (pass / fail / not usable) --report--> text, Markdown, HTML, figure
//!
//! calibration problem --calibrate--> residual per target (|z| <= 1 iff its rule passes)
//!        + time-course residuals --> CMA-ES, then Nelder-Mead (tabula-fit) --> identifiability
//!
//! knock-outs (library/validation/knockouts.toml) --knockout--> the same evaluation with one
//!        mechanism disabled: which targets break, and whether those biology says must break did
//!
//! scenario + endpoint + factor ranges --sensitivity--> Morris and Sobol indices (tabula-fit)
//! ```
//!
//! Rules are fixed in the target files before anything is run; a target the model cannot
//! express is marked `usable = false` with a reason and does not count. Every evaluation sets
//! all of its parameter values and uses the trials' seeds (common random numbers), so results
//! are deterministic and independent of the thread count. The file formats, the rules, the
//! calibration objective and the current results are documented in `docs/validation.md`.
#![warn(missing_docs)]

pub mod calibrate;
pub mod coverage;
mod error;
pub mod knockout;
pub mod provenance;
mod read;
pub mod report;
pub mod rules;
pub mod sensitivity;
pub mod stats;
pub mod target;
pub mod validate;

pub use error::{Result, ValidateError};
