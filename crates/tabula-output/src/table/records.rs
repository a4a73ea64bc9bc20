//! Streaming writer for record tables.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema};

use super::sink::{arrow_err, csv_err, csv_float, field_metadata, nan_nulls, Sink};
use super::{Column, ColumnType, Table, TableFormat, TableSchema};
use crate::error::{OutputError, Result};
use crate::number::write_exact;

/// Streams [`Table`] batches with one schema to a CSV, Parquet or JSON file.
///
/// The file appears under its final name only when [`TableWriter::finish`] succeeds; a
/// writer dropped earlier leaves no file (and an existing one untouched).
///
/// ```
/// use tabula_output::{Column, ColumnSpec, ColumnType, Table, TableSchema, TableWriter};
///
/// let dir = tempfile::tempdir().unwrap();
/// let schema = TableSchema::new(vec![
///     ColumnSpec::new("patient", ColumnType::U64),
///     ColumnSpec::new("relapse_day", ColumnType::F64).with_unit("day"),
/// ]).unwrap();
/// let mut w = TableWriter::create(dir.path().join("endpoints.parquet"), &schema).unwrap();
/// let mut batch = Table::new(schema.clone());
/// for p in 0..3_u64 {
///     batch.push_row(&[p.into(), (100.0 * p as f64).into()]).unwrap();
/// }
/// w.write(&batch).unwrap();
/// assert_eq!(w.finish().unwrap(), 3);
/// ```
pub struct TableWriter {
    path: PathBuf,
    schema: TableSchema,
    sink: Sink,
    rows: u64,
    scratch: String,
}

impl TableWriter {
    /// Creates a writer; the format follows the extension of `path`.
    pub fn create(path: impl AsRef<Path>, schema: &TableSchema) -> Result<Self> {
        let format = TableFormat::from_path(&path)?;
        Self::create_as(path, schema, format)
    }

    /// Creates a writer with an explicit format.
    pub fn create_as(
        path: impl AsRef<Path>,
        schema: &TableSchema,
        format: TableFormat,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let header: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
        let sink = Sink::open(&path, &format, &header, || arrow_schema(schema))?;
        Ok(TableWriter {
            path,
            schema: schema.clone(),
            sink,
            rows: 0,
            scratch: String::new(),
        })
    }

    /// The final path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends the rows of `batch`, whose columns must have the writer's names and types.
    pub fn write(&mut self, batch: &Table) -> Result<()> {
        if !self.schema.is_compatible(batch.schema()) {
            let names = |s: &TableSchema| {
                s.columns()
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.kind.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(OutputError::invalid(
                self.path.display(),
                format!(
                    "batch columns [{}] differ from the file's [{}]",
                    names(batch.schema()),
                    names(&self.schema)
                ),
            ));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        match &mut self.sink {
            Sink::Csv(w) => {
                for row in 0..batch.len() {
                    for col in batch.columns() {
                        csv_cell(&mut self.scratch, col, row);
                        w.write_field(self.scratch.as_bytes())
                            .map_err(|e| csv_err(&path, e))?;
                    }
                    w.write_record(None::<&[u8]>)
                        .map_err(|e| csv_err(&path, e))?;
                }
            }
            Sink::Json { out, rows } => {
                for row in 0..batch.len() {
                    self.scratch.clear();
                    self.scratch
                        .push_str(if *rows == 0 { "\n  {" } else { ",\n  {" });
                    for (i, (spec, col)) in self
                        .schema
                        .columns()
                        .iter()
                        .zip(batch.columns())
                        .enumerate()
                    {
                        if i > 0 {
                            self.scratch.push_str(", ");
                        }
                        json_string(&mut self.scratch, &spec.name);
                        self.scratch.push_str(": ");
                        json_cell(&mut self.scratch, col, row);
                    }
                    self.scratch.push('}');
                    out.write_all(self.scratch.as_bytes())
                        .map_err(|e| OutputError::io("write", &path, e))?;
                    *rows += 1;
                }
            }
            Sink::Parquet(_) => {
                let rb = record_batch(&path, &self.schema, batch)?;
                self.sink.write_batch(&path, &rb)?;
            }
        }
        self.rows += batch.len() as u64;
        Ok(())
    }

    /// Completes the file, renames it into place and returns the number of rows.
    pub fn finish(self) -> Result<u64> {
        self.sink.finish(&self.path)?;
        Ok(self.rows)
    }
}

/// The Arrow schema of a record table: `f64` columns are nullable (NaN is written as null).
pub(crate) fn arrow_schema(schema: &TableSchema) -> Schema {
    let fields: Vec<Field> = schema
        .columns()
        .iter()
        .map(|c| {
            let (dt, nullable) = match c.kind {
                ColumnType::F64 => (DataType::Float64, true),
                ColumnType::I64 => (DataType::Int64, false),
                ColumnType::U64 => (DataType::UInt64, false),
                ColumnType::Str => (DataType::Utf8, false),
                ColumnType::Bool => (DataType::Boolean, false),
            };
            Field::new(&c.name, dt, nullable)
                .with_metadata(field_metadata(c.unit.as_deref(), c.description.as_deref()))
        })
        .collect();
    Schema::new(fields)
}

fn record_batch(path: &Path, schema: &TableSchema, batch: &Table) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|col| -> ArrayRef {
            match col {
                Column::F64(v) => Arc::new(Float64Array::new(
                    ScalarBuffer::from(v.clone()),
                    nan_nulls(v),
                )),
                Column::I64(v) => Arc::new(Int64Array::from(v.clone())),
                Column::U64(v) => Arc::new(UInt64Array::from(v.clone())),
                Column::Str(v) => Arc::new(StringArray::from_iter_values(v.iter())),
                Column::Bool(v) => Arc::new(BooleanArray::from(v.clone())),
            }
        })
        .collect();
    RecordBatch::try_new(Arc::new(arrow_schema(schema)), arrays).map_err(|e| arrow_err(path, e))
}

fn csv_cell(buf: &mut String, col: &Column, row: usize) {
    use std::fmt::Write as _;
    buf.clear();
    match col {
        Column::F64(v) => csv_float(buf, v[row]),
        Column::I64(v) => {
            let _ = write!(buf, "{}", v[row]);
        }
        Column::U64(v) => {
            let _ = write!(buf, "{}", v[row]);
        }
        Column::Str(v) => buf.push_str(&v[row]),
        Column::Bool(v) => buf.push_str(if v[row] { "true" } else { "false" }),
    }
}

fn json_cell(buf: &mut String, col: &Column, row: usize) {
    use std::fmt::Write as _;
    match col {
        Column::F64(v) => {
            let x = v[row];
            if x.is_finite() {
                write_exact(buf, x);
            } else {
                buf.push_str("null");
            }
        }
        Column::I64(v) => {
            let _ = write!(buf, "{}", v[row]);
        }
        Column::U64(v) => {
            let _ = write!(buf, "{}", v[row]);
        }
        Column::Str(v) => json_string(buf, &v[row]),
        Column::Bool(v) => buf.push_str(if v[row] { "true" } else { "false" }),
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(buf: &mut String, s: &str) {
    // Serialising a &str cannot fail.
    if let Ok(quoted) = serde_json::to_string(s) {
        buf.push_str(&quoted);
    }
}
