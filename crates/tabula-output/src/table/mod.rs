//! Tables: typed columns in memory, streamed to CSV, Parquet or JSON files.
//!
//! Two kinds of table cover Tabula's outputs:
//!
//! * the **long time-course table** (`patient`, `time`, `observable`, `value`, optionally
//!   `arm`), written batch by batch with [`TimeCourseWriter`] from struct-of-arrays
//!   [`TimeCourseBatch`]es, so that memory stays flat for any population size;
//! * the **record table** [`Table`]: named, typed columns for per-patient endpoints,
//!   summaries and validation rows, written whole ([`Table::write`]) or streamed in
//!   batches ([`TableWriter`]), and rendered for people ([`render_text`],
//!   [`crate::html::Report::table`]).
//!
//! Missing values are `NaN` in `f64` columns. Files encode them as an empty CSV field,
//! a Parquet null and a JSON `null`; infinities are `inf`/`-inf` in CSV and `null` in JSON.
//! CSV numbers use the shortest exact representation ([`crate::format_exact`]).

mod records;
mod sink;
pub(crate) mod text;
mod timecourse;

pub use records::TableWriter;
pub use text::{render_text, TextTableOptions};
pub use timecourse::{TimeCourseBatch, TimeCourseLayout, TimeCourseWriter};

use std::path::Path;

use crate::error::{OutputError, Result};

/// File format of a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TableFormat {
    /// Comma-separated values with a header row; for small tables and spreadsheets.
    #[default]
    Csv,
    /// Apache Parquet through Arrow; for large tables and data-frame libraries.
    Parquet(ParquetOptions),
    /// A JSON array with one object per row.
    Json,
}

impl TableFormat {
    /// The format implied by a file extension: `.csv`, `.parquet`/`.pq` or `.json`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(TableFormat::Csv),
            Some("parquet") | Some("pq") => Ok(TableFormat::Parquet(ParquetOptions::default())),
            Some("json") => Ok(TableFormat::Json),
            _ => Err(OutputError::UnknownFormat {
                path: path.to_path_buf(),
                expected: ".csv, .parquet, .pq, .json",
            }),
        }
    }

    /// The usual file extension of the format, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet(_) => "parquet",
            TableFormat::Json => "json",
        }
    }
}

/// Compression codec of Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard at the given level (1 to 22; 3 is a good default).
    Zstd(i32),
    /// Snappy: faster, larger files.
    Snappy,
    /// No compression.
    Uncompressed,
}

/// Options of Parquet output.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetOptions {
    /// The compression codec (default: Zstandard level 3).
    pub compression: ParquetCompression,
    /// Rows per row group (default 1,048,576). The encoder holds at most one row group
    /// in memory, so this bounds memory use.
    pub row_group_rows: usize,
    /// Key–value pairs stored in the file footer (for example version, seed, command).
    pub metadata: Vec<(String, String)>,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: ParquetCompression::Zstd(3),
            row_group_rows: 1 << 20,
            metadata: Vec::new(),
        }
    }
}

/// The type of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit float; `NaN` marks a missing value.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer (patient ids, counts).
    U64,
    /// UTF-8 text.
    Str,
    /// Boolean.
    Bool,
}

impl ColumnType {
    /// Lower-case name of the type, as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::F64 => "f64",
            ColumnType::I64 => "i64",
            ColumnType::U64 => "u64",
            ColumnType::Str => "string",
            ColumnType::Bool => "bool",
        }
    }
}

/// Name, type and optional annotations of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name (unique within a table).
    pub name: String,
    /// Value type.
    pub kind: ColumnType,
    /// Unit of the values, shown in headers of rendered tables and stored in Parquet
    /// field metadata.
    pub unit: Option<String>,
    /// Free-text description, stored in Parquet field metadata.
    pub description: Option<String>,
}

impl ColumnSpec {
    /// A column without unit or description.
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Self {
        ColumnSpec {
            name: name.into(),
            kind,
            unit: None,
            description: None,
        }
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The header shown to people: `name (unit)` or `name`.
    pub fn header(&self) -> String {
        match self.unit.as_deref() {
            Some(u) if !u.is_empty() => format!("{} ({u})", self.name),
            _ => self.name.clone(),
        }
    }
}

/// The ordered columns of a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableSchema {
    columns: Vec<ColumnSpec>,
}

impl TableSchema {
    /// A schema from column specifications; names must be unique and non-empty.
    pub fn new(columns: Vec<ColumnSpec>) -> Result<Self> {
        for (i, c) in columns.iter().enumerate() {
            if c.name.is_empty() {
                return Err(OutputError::invalid(
                    "table schema",
                    format!("column {i} has an empty name"),
                ));
            }
            if columns[..i].iter().any(|p| p.name == c.name) {
                return Err(OutputError::invalid(
                    "table schema",
                    format!("column name '{}' appears twice", c.name),
                ));
            }
        }
        Ok(TableSchema { columns })
    }

    /// The column specifications in order.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the schema has no column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Position of the column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether `other` has the same column names and types (units may differ).
    pub fn is_compatible(&self, other: &TableSchema) -> bool {
        self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.name == b.name && a.kind == b.kind)
    }
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Floats; `NaN` is missing.
    F64(Vec<f64>),
    /// Signed integers.
    I64(Vec<i64>),
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Strings.
    Str(Vec<String>),
    /// Booleans.
    Bool(Vec<bool>),
}

impl Column {
    /// An empty column of the given type.
    pub fn empty(kind: ColumnType) -> Self {
        match kind {
            ColumnType::F64 => Column::F64(Vec::new()),
            ColumnType::I64 => Column::I64(Vec::new()),
            ColumnType::U64 => Column::U64(Vec::new()),
            ColumnType::Str => Column::Str(Vec::new()),
            ColumnType::Bool => Column::Bool(Vec::new()),
        }
    }

    /// The column's type.
    pub fn kind(&self) -> ColumnType {
        match self {
            Column::F64(_) => ColumnType::F64,
            Column::I64(_) => ColumnType::I64,
            Column::U64(_) => ColumnType::U64,
            Column::Str(_) => ColumnType::Str,
            Column::Bool(_) => ColumnType::Bool,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row`, if any.
    pub fn get(&self, row: usize) -> Option<Value<'_>> {
        Some(match self {
            Column::F64(v) => Value::F64(*v.get(row)?),
            Column::I64(v) => Value::I64(*v.get(row)?),
            Column::U64(v) => Value::U64(*v.get(row)?),
            Column::Str(v) => Value::Str(v.get(row)?),
            Column::Bool(v) => Value::Bool(*v.get(row)?),
        })
    }

    fn clear(&mut self) {
        match self {
            Column::F64(v) => v.clear(),
            Column::I64(v) => v.clear(),
            Column::U64(v) => v.clear(),
            Column::Str(v) => v.clear(),
            Column::Bool(v) => v.clear(),
        }
    }
}

impl From<Vec<f64>> for Column {
    fn from(v: Vec<f64>) -> Self {
        Column::F64(v)
    }
}
impl From<Vec<i64>> for Column {
    fn from(v: Vec<i64>) -> Self {
        Column::I64(v)
    }
}
impl From<Vec<u64>> for Column {
    fn from(v: Vec<u64>) -> Self {
        Column::U64(v)
    }
}
impl From<Vec<String>> for Column {
    fn from(v: Vec<String>) -> Self {
        Column::Str(v)
    }
}
impl From<Vec<&str>> for Column {
    fn from(v: Vec<&str>) -> Self {
        Column::Str(v.into_iter().map(str::to_string).collect())
    }
}
impl From<Vec<bool>> for Column {
    fn from(v: Vec<bool>) -> Self {
        Column::Bool(v)
    }
}

/// One cell value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A float (`NaN` is missing).
    F64(f64),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
}

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}
impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Str(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Str(v)
    }
}

/// A table of named, typed columns of equal length.
///
/// Serves as a whole table (summaries, validation rows) and as one batch of a streamed
/// table ([`TableWriter::write`]).
///
/// ```
/// use tabula_output::{Column, Table};
///
/// let mut t = Table::from_columns(vec![
///     ("arm", Column::from(vec!["CD19 CAR-T", "rituximab"])),
///     ("responders", Column::from(vec![18_u64, 9])),
///     ("rate", Column::from(vec![0.9, f64::NAN])),
/// ]).unwrap();
/// t.set_unit("rate", "fraction").unwrap();
/// assert_eq!(t.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    schema: TableSchema,
    columns: Vec<Column>,
}

impl Table {
    /// An empty table with the given schema.
    pub fn new(schema: TableSchema) -> Self {
        let columns = schema
            .columns
            .iter()
            .map(|c| Column::empty(c.kind))
            .collect();
        Table { schema, columns }
    }

    /// A table from `(name, column)` pairs; all columns must have the same length.
    pub fn from_columns<S: Into<String>>(columns: Vec<(S, Column)>) -> Result<Self> {
        let mut specs = Vec::with_capacity(columns.len());
        let mut data = Vec::with_capacity(columns.len());
        for (name, col) in columns {
            specs.push(ColumnSpec::new(name, col.kind()));
            data.push(col);
        }
        let schema = TableSchema::new(specs)?;
        Self::from_parts(schema, data)
    }

    /// A table from a schema and matching columns.
    pub fn from_parts(schema: TableSchema, columns: Vec<Column>) -> Result<Self> {
        if schema.len() != columns.len() {
            return Err(OutputError::invalid(
                "table",
                format!(
                    "the schema has {} columns but {} were given",
                    schema.len(),
                    columns.len()
                ),
            ));
        }
        let rows = columns.first().map_or(0, Column::len);
        for (spec, col) in schema.columns.iter().zip(&columns) {
            if spec.kind != col.kind() {
                return Err(OutputError::invalid(
                    "table",
                    format!(
                        "column '{}' is declared {} but holds {} values",
                        spec.name,
                        spec.kind.name(),
                        col.kind().name()
                    ),
                ));
            }
            if col.len() != rows {
                return Err(OutputError::invalid(
                    "table",
                    format!(
                        "column '{}' has {} rows but column '{}' has {rows}",
                        spec.name,
                        col.len(),
                        schema.columns[0].name
                    ),
                ));
            }
        }
        Ok(Table { schema, columns })
    }

    /// The schema.
    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    /// The columns, in schema order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.schema.index_of(name).map(|i| &self.columns[i])
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the unit of column `name`.
    pub fn set_unit(&mut self, name: &str, unit: impl Into<String>) -> Result<()> {
        let i = self.require(name)?;
        self.schema.columns[i].unit = Some(unit.into());
        Ok(())
    }

    /// Sets the description of column `name`.
    pub fn set_description(&mut self, name: &str, description: impl Into<String>) -> Result<()> {
        let i = self.require(name)?;
        self.schema.columns[i].description = Some(description.into());
        Ok(())
    }

    fn require(&self, name: &str) -> Result<usize> {
        self.schema.index_of(name).ok_or_else(|| {
            OutputError::invalid("table", format!("there is no column called '{name}'"))
        })
    }

    /// Appends one row. Integers are accepted in float columns, and integers of the other
    /// signedness where the value fits; any other mismatch is an error and leaves the
    /// table unchanged.
    pub fn push_row(&mut self, row: &[Value<'_>]) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(OutputError::invalid(
                "table",
                format!(
                    "a row has {} values but the table has {} columns",
                    row.len(),
                    self.columns.len()
                ),
            ));
        }
        // Check everything first so that a failed push leaves the table as it was.
        for (spec, v) in self.schema.columns.iter().zip(row) {
            if coerce(spec.kind, v).is_none() {
                return Err(OutputError::invalid(
                    "table",
                    format!(
                        "column '{}' is {} but the row gives {v:?}",
                        spec.name,
                        spec.kind.name()
                    ),
                ));
            }
        }
        for (col, v) in self.columns.iter_mut().zip(row) {
            match (col, coerce_owned(v)) {
                (Column::F64(c), Owned::F(x)) => c.push(x),
                (Column::F64(c), Owned::I(x)) => c.push(x as f64),
                (Column::F64(c), Owned::U(x)) => c.push(x as f64),
                (Column::I64(c), Owned::I(x)) => c.push(x),
                (Column::I64(c), Owned::U(x)) => c.push(x as i64),
                (Column::U64(c), Owned::U(x)) => c.push(x),
                (Column::U64(c), Owned::I(x)) => c.push(x as u64),
                (Column::Str(c), Owned::S(x)) => c.push(x.to_string()),
                (Column::Bool(c), Owned::B(x)) => c.push(x),
                // Excluded by the check above.
                _ => {}
            }
        }
        Ok(())
    }

    /// The value at (`row`, `column`).
    pub fn get(&self, row: usize, column: usize) -> Option<Value<'_>> {
        self.columns.get(column)?.get(row)
    }

    /// Removes all rows, keeping the schema (to reuse the table as a batch buffer).
    pub fn clear(&mut self) {
        for c in &mut self.columns {
            c.clear();
        }
    }

    /// Writes the table to `path` atomically, in the format given by its extension.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let format = TableFormat::from_path(&path)?;
        self.write_as(path, format)
    }

    /// Writes the table to `path` atomically in `format`.
    pub fn write_as(&self, path: impl AsRef<Path>, format: TableFormat) -> Result<()> {
        let mut w = TableWriter::create_as(path, &self.schema, format)?;
        w.write(self)?;
        w.finish().map(|_| ())
    }
}

enum Owned<'a> {
    F(f64),
    I(i64),
    U(u64),
    S(&'a str),
    B(bool),
}

fn coerce_owned<'a>(v: &Value<'a>) -> Owned<'a> {
    match *v {
        Value::F64(x) => Owned::F(x),
        Value::I64(x) => Owned::I(x),
        Value::U64(x) => Owned::U(x),
        Value::Str(x) => Owned::S(x),
        Value::Bool(x) => Owned::B(x),
    }
}

/// Whether `v` can be stored in a column of type `kind`.
fn coerce(kind: ColumnType, v: &Value<'_>) -> Option<()> {
    let ok = match (kind, v) {
        (ColumnType::F64, Value::F64(_) | Value::I64(_) | Value::U64(_)) => true,
        (ColumnType::I64, Value::I64(_)) => true,
        (ColumnType::I64, Value::U64(x)) => *x <= i64::MAX as u64,
        (ColumnType::U64, Value::U64(_)) => true,
        (ColumnType::U64, Value::I64(x)) => *x >= 0,
        (ColumnType::Str, Value::Str(_)) => true,
        (ColumnType::Bool, Value::Bool(_)) => true,
        _ => false,
    };
    ok.then_some(())
}
