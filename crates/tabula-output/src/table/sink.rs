//! The file end shared by the table writers: CSV, JSON or Parquet over an [`AtomicFile`].

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{ParquetCompression, ParquetOptions, TableFormat};
use crate::atomic::AtomicFile;
use crate::error::{OutputError, Result};
use crate::number::write_exact;

/// An open table file.
pub(crate) enum Sink {
    Csv(Box<csv::Writer<AtomicFile>>),
    Json { out: AtomicFile, rows: u64 },
    Parquet(Box<ArrowWriter<AtomicFile>>),
}

impl Sink {
    /// Opens `path` for `format`. CSV gets `header` as its first row; Parquet gets
    /// `arrow_schema`; JSON opens its array.
    pub(crate) fn open(
        path: &Path,
        format: &TableFormat,
        header: &[&str],
        arrow_schema: impl FnOnce() -> Schema,
    ) -> Result<Self> {
        let file = AtomicFile::create(path)?;
        match format {
            TableFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(file);
                w.write_record(header).map_err(|e| csv_err(path, e))?;
                Ok(Sink::Csv(Box::new(w)))
            }
            TableFormat::Json => {
                let mut out = file;
                out.write_all(b"[")
                    .map_err(|e| OutputError::io("write", path, e))?;
                Ok(Sink::Json { out, rows: 0 })
            }
            TableFormat::Parquet(opts) => {
                let schema = Arc::new(arrow_schema());
                let props = writer_properties(path, opts)?;
                let w = ArrowWriter::try_new(file, schema, Some(props))
                    .map_err(|e| parquet_err(path, e))?;
                Ok(Sink::Parquet(Box::new(w)))
            }
        }
    }

    /// Completes the file and renames it into place.
    pub(crate) fn finish(self, path: &Path) -> Result<()> {
        let file = match self {
            Sink::Csv(w) => w
                .into_inner()
                .map_err(|e| OutputError::io("write", path, e.into_error()))?,
            Sink::Json { mut out, rows } => {
                let end: &[u8] = if rows == 0 { b"]\n" } else { b"\n]\n" };
                out.write_all(end)
                    .map_err(|e| OutputError::io("write", path, e))?;
                out
            }
            Sink::Parquet(w) => w.into_inner().map_err(|e| parquet_err(path, e))?,
        };
        file.commit()
    }

    /// Writes a record batch (Parquet only).
    pub(crate) fn write_batch(&mut self, path: &Path, batch: &RecordBatch) -> Result<()> {
        if let Sink::Parquet(w) = self {
            w.write(batch).map_err(|e| parquet_err(path, e))?;
        }
        Ok(())
    }
}

fn writer_properties(path: &Path, opts: &ParquetOptions) -> Result<WriterProperties> {
    let compression = match opts.compression {
        ParquetCompression::Zstd(level) => {
            Compression::ZSTD(ZstdLevel::try_new(level).map_err(|e| parquet_err(path, e))?)
        }
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
    };
    let metadata = (!opts.metadata.is_empty()).then(|| {
        opts.metadata
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect()
    });
    Ok(WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .set_created_by(format!("tabula-output {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(metadata)
        .build())
}

pub(crate) fn csv_err(path: &Path, cause: csv::Error) -> OutputError {
    OutputError::Csv {
        path: path.to_path_buf(),
        cause,
    }
}

pub(crate) fn parquet_err(path: &Path, cause: parquet::errors::ParquetError) -> OutputError {
    OutputError::Parquet {
        path: path.to_path_buf(),
        cause,
    }
}

pub(crate) fn arrow_err(path: &Path, cause: arrow_schema::ArrowError) -> OutputError {
    OutputError::Arrow {
        path: path.to_path_buf(),
        cause,
    }
}

/// Formats a float for CSV: exact, and empty for `NaN` (missing).
pub(crate) fn csv_float(buf: &mut String, x: f64) {
    buf.clear();
    if !x.is_nan() {
        write_exact(buf, x);
    }
}

/// Field metadata (unit, description) for Arrow fields.
pub(crate) fn field_metadata(
    unit: Option<&str>,
    description: Option<&str>,
) -> HashMap<String, String> {
    let mut m = HashMap::new();
    if let Some(u) = unit {
        m.insert("unit".to_string(), u.to_string());
    }
    if let Some(d) = description {
        m.insert("description".to_string(), d.to_string());
    }
    m
}

/// A null buffer marking `NaN`s as null, or `None` when there is no `NaN`.
pub(crate) fn nan_nulls(values: &[f64]) -> Option<arrow_buffer::NullBuffer> {
    if values.iter().any(|v| v.is_nan()) {
        Some(values.iter().map(|v| !v.is_nan()).collect())
    } else {
        None
    }
}
