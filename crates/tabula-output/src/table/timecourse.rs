//! The long time-course table: one row per (patient, time, observable).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema};

use super::sink::{arrow_err, csv_err, csv_float, nan_nulls, Sink};
use super::TableFormat;
use crate::error::{OutputError, Result};
use crate::number::write_exact;

/// The fixed vocabulary of a time-course file: observable names and, optionally, arm names.
///
/// Batches refer to observables and arms by index into these lists, so rows carry no
/// strings; Parquet stores both columns dictionary-encoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeCourseLayout {
    /// Observable names, indexed by [`TimeCourseBatch::observable`].
    pub observables: Vec<String>,
    /// Arm names, indexed by [`TimeCourseBatch::arm`]; empty for a file without an `arm`
    /// column.
    pub arms: Vec<String>,
    /// Unit of the `time` column (stored in Parquet field metadata), e.g. `day`.
    pub time_unit: Option<String>,
}

impl TimeCourseLayout {
    /// A layout without arms.
    pub fn new<S: Into<String>>(observables: impl IntoIterator<Item = S>) -> Self {
        TimeCourseLayout {
            observables: observables.into_iter().map(Into::into).collect(),
            arms: Vec::new(),
            time_unit: None,
        }
    }

    /// Adds an `arm` column with these arm names.
    pub fn with_arms<S: Into<String>>(mut self, arms: impl IntoIterator<Item = S>) -> Self {
        self.arms = arms.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the unit of time.
    pub fn with_time_unit(mut self, unit: impl Into<String>) -> Self {
        self.time_unit = Some(unit.into());
        self
    }

    /// Whether rows carry an arm.
    pub fn has_arms(&self) -> bool {
        !self.arms.is_empty()
    }

    fn column_names(&self) -> Vec<&'static str> {
        let mut names = vec!["patient", "time", "observable", "value"];
        if self.has_arms() {
            names.push("arm");
        }
        names
    }

    fn arrow_schema(&self) -> Schema {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let mut time = Field::new("time", DataType::Float64, false);
        if let Some(u) = &self.time_unit {
            time = time.with_metadata(super::sink::field_metadata(Some(u), None));
        }
        let mut fields = vec![
            Field::new("patient", DataType::UInt64, false),
            time,
            Field::new("observable", dict.clone(), false),
            Field::new("value", DataType::Float64, true),
        ];
        if self.has_arms() {
            fields.push(Field::new("arm", dict, false));
        }
        Schema::new(fields)
    }
}

/// A batch of time-course rows as parallel columns (struct of arrays).
///
/// All vectors have the same length, except `arm`, which is empty when the layout has
/// no arms. Reuse one batch with [`TimeCourseBatch::clear`] to avoid allocations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeCourseBatch {
    /// Patient id of each row.
    pub patient: Vec<u64>,
    /// Time of each row.
    pub time: Vec<f64>,
    /// Observable of each row, as an index into [`TimeCourseLayout::observables`].
    pub observable: Vec<u32>,
    /// Value of each row (`NaN` for missing).
    pub value: Vec<f64>,
    /// Arm of each row, as an index into [`TimeCourseLayout::arms`].
    pub arm: Vec<u32>,
}

impl TimeCourseBatch {
    /// An empty batch with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        TimeCourseBatch {
            patient: Vec::with_capacity(rows),
            time: Vec::with_capacity(rows),
            observable: Vec::with_capacity(rows),
            value: Vec::with_capacity(rows),
            arm: Vec::new(),
        }
    }

    /// Appends a row without arm.
    pub fn push(&mut self, patient: u64, time: f64, observable: u32, value: f64) {
        self.patient.push(patient);
        self.time.push(time);
        self.observable.push(observable);
        self.value.push(value);
    }

    /// Appends a row with an arm.
    pub fn push_with_arm(
        &mut self,
        patient: u64,
        time: f64,
        observable: u32,
        value: f64,
        arm: u32,
    ) {
        self.push(patient, time, observable, value);
        self.arm.push(arm);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.patient.len()
    }

    /// Whether the batch has no row.
    pub fn is_empty(&self) -> bool {
        self.patient.is_empty()
    }

    /// Removes all rows, keeping the allocations.
    pub fn clear(&mut self) {
        self.patient.clear();
        self.time.clear();
        self.observable.clear();
        self.value.clear();
        self.arm.clear();
    }

    fn validate(&self, path: &Path, layout: &TimeCourseLayout) -> Result<()> {
        let n = self.patient.len();
        let bad = |reason: String| Err(OutputError::invalid(path.display(), reason));
        for (name, len) in [
            ("time", self.time.len()),
            ("observable", self.observable.len()),
            ("value", self.value.len()),
        ] {
            if len != n {
                return bad(format!(
                    "time-course batch column '{name}' has {len} rows but 'patient' has {n}"
                ));
            }
        }
        if layout.has_arms() && self.arm.len() != n {
            return bad(format!(
                "the file has an arm column but the batch has {} arm entries for {n} rows",
                self.arm.len()
            ));
        }
        if !layout.has_arms() && !self.arm.is_empty() {
            return bad("the batch has arms but the file's layout declares none".to_string());
        }
        let n_obs = layout.observables.len();
        if let Some((row, &o)) = self
            .observable
            .iter()
            .enumerate()
            .find(|(_, &o)| o as usize >= n_obs)
        {
            return bad(format!(
                "row {row} refers to observable {o} but the layout has {n_obs} observables"
            ));
        }
        let n_arms = layout.arms.len();
        if let Some((row, &a)) = self
            .arm
            .iter()
            .enumerate()
            .find(|(_, &a)| a as usize >= n_arms)
        {
            return bad(format!(
                "row {row} refers to arm {a} but the layout has {n_arms} arms"
            ));
        }
        Ok(())
    }
}

/// Streams a long time-course table (`patient, time, observable, value[, arm]`) to CSV,
/// Parquet or JSON, batch by batch, with memory independent of the number of rows.
///
/// The file appears under its final name only when [`TimeCourseWriter::finish`]
/// succeeds.
///
/// ```
/// use tabula_output::{TimeCourseBatch, TimeCourseLayout, TimeCourseWriter};
///
/// let dir = tempfile::tempdir().unwrap();
/// let layout = TimeCourseLayout::new(["B_blood", "IgG"]).with_time_unit("day");
/// let mut w = TimeCourseWriter::create(dir.path().join("tc.parquet"), &layout).unwrap();
/// let mut batch = TimeCourseBatch::with_capacity(4);
/// for day in [0.0, 7.0] {
///     batch.push(1, day, 0, 250.0 / (1.0 + day));
///     batch.push(1, day, 1, 11.0);
/// }
/// w.write(&batch).unwrap();
/// assert_eq!(w.finish().unwrap(), 4);
/// ```
pub struct TimeCourseWriter {
    path: PathBuf,
    layout: TimeCourseLayout,
    sink: Sink,
    rows: u64,
    schema: Arc<Schema>,
    observable_values: ArrayRef,
    arm_values: ArrayRef,
    scratch: String,
}

impl TimeCourseWriter {
    /// Creates a writer; the format follows the extension of `path`.
    pub fn create(path: impl AsRef<Path>, layout: &TimeCourseLayout) -> Result<Self> {
        let format = TableFormat::from_path(&path)?;
        Self::create_as(path, layout, format)
    }

    /// Creates a writer with an explicit format.
    pub fn create_as(
        path: impl AsRef<Path>,
        layout: &TimeCourseLayout,
        format: TableFormat,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if layout.observables.len() > i32::MAX as usize || layout.arms.len() > i32::MAX as usize {
            return Err(OutputError::invalid(
                path.display(),
                "too many observables or arms for a dictionary column",
            ));
        }
        let schema = Arc::new(layout.arrow_schema());
        let sink = Sink::open(&path, &format, &layout.column_names(), || {
            schema.as_ref().clone()
        })?;
        Ok(TimeCourseWriter {
            observable_values: Arc::new(StringArray::from_iter_values(&layout.observables)),
            arm_values: Arc::new(StringArray::from_iter_values(&layout.arms)),
            path,
            layout: layout.clone(),
            sink,
            rows: 0,
            schema,
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

    /// Appends the rows of `batch`. A malformed batch (unequal lengths, an index out of
    /// range, arms missing or unexpected) is rejected whole and nothing of it is written.
    pub fn write(&mut self, batch: &TimeCourseBatch) -> Result<()> {
        batch.validate(&self.path, &self.layout)?;
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let has_arms = self.layout.has_arms();
        match &mut self.sink {
            Sink::Csv(w) => {
                use std::fmt::Write as _;
                for i in 0..batch.len() {
                    self.scratch.clear();
                    let _ = write!(self.scratch, "{}", batch.patient[i]);
                    w.write_field(self.scratch.as_bytes())
                        .map_err(|e| csv_err(&path, e))?;
                    csv_float(&mut self.scratch, batch.time[i]);
                    w.write_field(self.scratch.as_bytes())
                        .map_err(|e| csv_err(&path, e))?;
                    w.write_field(self.layout.observables[batch.observable[i] as usize].as_bytes())
                        .map_err(|e| csv_err(&path, e))?;
                    csv_float(&mut self.scratch, batch.value[i]);
                    w.write_field(self.scratch.as_bytes())
                        .map_err(|e| csv_err(&path, e))?;
                    if has_arms {
                        w.write_field(self.layout.arms[batch.arm[i] as usize].as_bytes())
                            .map_err(|e| csv_err(&path, e))?;
                    }
                    w.write_record(None::<&[u8]>)
                        .map_err(|e| csv_err(&path, e))?;
                }
            }
            Sink::Json { out, rows } => {
                use std::fmt::Write as _;
                for i in 0..batch.len() {
                    let s = &mut self.scratch;
                    s.clear();
                    s.push_str(if *rows == 0 { "\n  {" } else { ",\n  {" });
                    let _ = write!(s, "\"patient\": {}, \"time\": ", batch.patient[i]);
                    json_number(s, batch.time[i]);
                    s.push_str(", \"observable\": ");
                    json_string(s, &self.layout.observables[batch.observable[i] as usize]);
                    s.push_str(", \"value\": ");
                    json_number(s, batch.value[i]);
                    if has_arms {
                        s.push_str(", \"arm\": ");
                        json_string(s, &self.layout.arms[batch.arm[i] as usize]);
                    }
                    s.push('}');
                    out.write_all(s.as_bytes())
                        .map_err(|e| OutputError::io("write", &path, e))?;
                    *rows += 1;
                }
            }
            Sink::Parquet(_) => {
                let rb = self.record_batch(batch)?;
                self.sink.write_batch(&path, &rb)?;
            }
        }
        self.rows += batch.len() as u64;
        Ok(())
    }

    fn record_batch(&self, batch: &TimeCourseBatch) -> Result<RecordBatch> {
        let dict = |keys: &[u32], values: &ArrayRef| -> Result<ArrayRef> {
            // Indices were validated against the dictionary size, which fits in i32.
            let keys = Int32Array::from_iter_values(keys.iter().map(|&k| k as i32));
            DictionaryArray::<Int32Type>::try_new(keys, values.clone())
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| arrow_err(&self.path, e))
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(batch.patient.clone())),
            Arc::new(Float64Array::from(batch.time.clone())),
            dict(&batch.observable, &self.observable_values)?,
            Arc::new(Float64Array::new(
                ScalarBuffer::from(batch.value.clone()),
                nan_nulls(&batch.value),
            )),
        ];
        if self.layout.has_arms() {
            columns.push(dict(&batch.arm, &self.arm_values)?);
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| arrow_err(&self.path, e))
    }

    /// Completes the file, renames it into place and returns the number of rows.
    pub fn finish(self) -> Result<u64> {
        self.sink.finish(&self.path)?;
        Ok(self.rows)
    }
}

fn json_number(buf: &mut String, x: f64) {
    if x.is_finite() {
        write_exact(buf, x);
    } else {
        buf.push_str("null");
    }
}

fn json_string(buf: &mut String, s: &str) {
    if let Ok(quoted) = serde_json::to_string(s) {
        buf.push_str(&quoted);
    }
}
