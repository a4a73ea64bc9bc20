//! # tabula-output
//!
//! The output layer of Tabula: everything a run writes for people and for other
//! programs. It sits at the end of the data flow
//! (model → solver → patients → population → endpoints → **outputs**) and depends on no
//! other Tabula crate: it takes plain numbers, strings and vectors.
//!
//! * **Atomic files** ([`AtomicFile`], [`write_atomic`]): every file is written to a
//!   temporary file beside its target, synced, and renamed into place only when complete.
//!   An error or interruption never leaves a half-written file under the final name.
//! * **Tables** ([`table`]): the long time-course table (`patient, time, observable,
//!   value[, arm]`) streamed batch by batch with [`TimeCourseWriter`]; record tables
//!   ([`Table`], [`TableWriter`]) for per-patient endpoints, summaries and validation
//!   rows; CSV (exact round-trip numbers), Parquet (Arrow, Zstandard or Snappy,
//!   dictionary-encoded names) and JSON; aligned terminal text ([`render_text`]).
//! * **Plots** ([`plot`]): time courses and quantile bands in small multiples, survival
//!   curves, observed-versus-simulated validation rows, bar charts and forest plots, as
//!   SVG or PNG, with a colour-blind-safe palette and an embedded font (no system fonts
//!   needed; the [`plot`] module explains the font and PNG design).
//! * **HTML reports** ([`html::Report`]): one self-contained page with metadata, sections,
//!   tables and inline figures; all text escaped.
//!
//! Errors are one enum, [`OutputError`], whose messages name the file and the cause.
//! Bad or degenerate input (empty data, `NaN`, a single point, zero-width ranges,
//! non-positive values on a log axis) is handled without panicking.
//!
//! ## Example
//!
//! ```
//! use tabula_output::html::Report;
//! use tabula_output::plot::{time_courses, Line, Panel, TimeCourseOptions};
//! use tabula_output::{TimeCourseBatch, TimeCourseLayout, TimeCourseWriter};
//!
//! let dir = tempfile::tempdir()?;
//!
//! // A long table, streamed in batches.
//! let layout = TimeCourseLayout::new(["B_blood"]).with_time_unit("day");
//! let mut writer = TimeCourseWriter::create(dir.path().join("timecourse.csv"), &layout)?;
//! let mut batch = TimeCourseBatch::default();
//! let days: Vec<f64> = (0..=56).map(f64::from).collect();
//! let b_cells: Vec<f64> = days.iter().map(|d| 200.0 * (-d / 4.0).exp()).collect();
//! for (t, v) in days.iter().zip(&b_cells) {
//!     batch.push(0, *t, 0, *v);
//! }
//! writer.write(&batch)?;
//! writer.finish()?;
//!
//! // A plot, saved as SVG and added to a report.
//! let panel = Panel::new("B cells, blood")
//!     .with_unit("cells/µL")
//!     .with_line(Line::new("patient 0", days.clone(), b_cells.clone()));
//! let opts = TimeCourseOptions { x_unit: Some("day".into()), ..Default::default() };
//! let figure = time_courses(&[panel], &opts)?;
//! figure.save(dir.path().join("b_cells.svg"))?;
//!
//! let mut report = Report::new("Single patient: CD19 CAR-T");
//! report.metadata("Seed", "1").section("Time course").figure(&figure, "B cells in blood.");
//! report.write(dir.path().join("report.html"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod atomic;
mod error;
pub mod html;
mod number;
pub mod plot;
pub mod table;

pub use atomic::{check_output_dir, remove_temporaries, write_atomic, AtomicFile};
pub use error::{OutputError, Result};
pub use number::{format_exact, format_sig, write_exact};
pub use plot::{Figure, ImageFormat};
pub use table::{
    render_text, Column, ColumnSpec, ColumnType, ParquetCompression, ParquetOptions, Table,
    TableFormat, TableSchema, TableWriter, TextTableOptions, TimeCourseBatch, TimeCourseLayout,
    TimeCourseWriter, Value,
};
