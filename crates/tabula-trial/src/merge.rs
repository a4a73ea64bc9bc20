//! Reading shard outputs back and merging them: the merged per-patient table is the
//! concatenation of the shards' tables (arm by arm, shard by shard, hence in patient order),
//! and the merged summaries are computed from those rows by the same accumulators as an
//! unsharded run, so they are identical to it.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, BooleanArray, Float64Array, StringArray, UInt64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value as Json;
use tabula_model::SourceFile;

use crate::parse::ScenarioLibrary;
use tabula_output::{Column, ColumnType, Table, TableSchema, TableWriter};

use crate::endpoint::Outcome;
use crate::error::{Result, TrialError};
use crate::output::{write_results, Format, OutputOptions, Provenance};
use crate::runner::{BandAccumulator, PreparedTrial, Shard, TrialRun};
use crate::spec::{EndpointType, Trial};
use crate::stats::KmInterval;
use crate::summary::ArmAccumulator;

fn read_err(path: &Path, message: impl ToString) -> TrialError {
    TrialError::Read {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Streams a table written by this crate (CSV or Parquet, by extension) in batches with the
/// given schema.
pub fn read_table(
    path: &Path,
    schema: &TableSchema,
    mut f: impl FnMut(&Table) -> Result<()>,
) -> Result<()> {
    let is_csv = path.extension().is_some_and(|e| e == "csv");
    if is_csv {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| read_err(path, e))?;
        let headers = rdr.headers().map_err(|e| read_err(path, e))?.clone();
        let idx: Vec<usize> = schema
            .columns()
            .iter()
            .map(|c| {
                headers
                    .iter()
                    .position(|h| h == c.name)
                    .ok_or_else(|| read_err(path, format!("no column '{}'", c.name)))
            })
            .collect::<Result<_>>()?;
        let mut batch = Table::new(schema.clone());
        let mut cols: Vec<Column> = batch.columns().to_vec();
        let mut rows = 0;
        for rec in rdr.records() {
            let rec = rec.map_err(|e| read_err(path, e))?;
            for ((c, &i), spec) in cols.iter_mut().zip(&idx).zip(schema.columns()) {
                let cell = rec.get(i).unwrap_or("");
                let bad = || {
                    read_err(
                        path,
                        format!("bad value '{cell}' in column '{}'", spec.name),
                    )
                };
                match c {
                    Column::F64(v) => v.push(match cell {
                        "" => f64::NAN,
                        "inf" => f64::INFINITY,
                        "-inf" => f64::NEG_INFINITY,
                        s => s.parse().map_err(|_| bad())?,
                    }),
                    Column::U64(v) => v.push(cell.parse().map_err(|_| bad())?),
                    Column::I64(v) => v.push(cell.parse().map_err(|_| bad())?),
                    Column::Str(v) => v.push(cell.to_string()),
                    Column::Bool(v) => v.push(cell == "true"),
                }
            }
            rows += 1;
            if rows == 4096 {
                batch = Table::from_parts(schema.clone(), std::mem::take(&mut cols))?;
                f(&batch)?;
                cols = Table::new(schema.clone()).columns().to_vec();
                rows = 0;
            }
        }
        if rows > 0 {
            batch = Table::from_parts(schema.clone(), cols)?;
            f(&batch)?;
        }
        return Ok(());
    }
    let file = File::open(path).map_err(|e| read_err(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| read_err(path, e))?
        .with_batch_size(4096)
        .build()
        .map_err(|e| read_err(path, e))?;
    for rb in reader {
        let rb = rb.map_err(|e| read_err(path, e))?;
        let mut cols = Vec::new();
        for spec in schema.columns() {
            let a = rb
                .column_by_name(&spec.name)
                .ok_or_else(|| read_err(path, format!("no column '{}'", spec.name)))?;
            let wrong = || {
                read_err(
                    path,
                    format!("column '{}' has an unexpected type", spec.name),
                )
            };
            let col = match spec.kind {
                ColumnType::F64 => {
                    let x = a
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .ok_or_else(wrong)?;
                    Column::F64(
                        (0..x.len())
                            .map(|i| if x.is_null(i) { f64::NAN } else { x.value(i) })
                            .collect(),
                    )
                }
                ColumnType::U64 => {
                    let x = a.as_any().downcast_ref::<UInt64Array>().ok_or_else(wrong)?;
                    Column::U64(x.values().to_vec())
                }
                ColumnType::Str => {
                    let x = a.as_any().downcast_ref::<StringArray>().ok_or_else(wrong)?;
                    Column::Str((0..x.len()).map(|i| x.value(i).to_string()).collect())
                }
                ColumnType::Bool => {
                    let x = a
                        .as_any()
                        .downcast_ref::<BooleanArray>()
                        .ok_or_else(wrong)?;
                    Column::Bool((0..x.len()).map(|i| x.value(i)).collect())
                }
                ColumnType::I64 => return Err(wrong()),
            };
            cols.push(col);
        }
        f(&Table::from_parts(schema.clone(), cols)?)?;
    }
    Ok(())
}

/// Adds the rows of `batch` belonging to arm `arm` to `acc`; returns the selected rows.
fn accumulate(
    trial: &Trial,
    arm: &str,
    batch: &Table,
    acc: &mut ArmAccumulator,
) -> Result<Option<Table>> {
    let s = batch.schema();
    let col = |name: &str| s.index_of(name).map(|i| &batch.columns()[i]);
    let (
        Some(Column::Str(arms)),
        Some(Column::U64(pat)),
        Some(Column::Str(status)),
        Some(Column::Str(reason)),
        Some(Column::U64(scr)),
    ) = (
        col("arm"),
        col("patient"),
        col("status"),
        col("reason"),
        col("screened"),
    )
    else {
        return Err(TrialError::Merge(
            "the per-patient table lacks its key columns".into(),
        ));
    };
    let mut ecols = Vec::new();
    for e in &trial.endpoints {
        let v = match col(&e.name) {
            Some(Column::F64(v)) => v,
            _ => {
                return Err(TrialError::Merge(format!(
                    "the per-patient table has no endpoint column '{}'",
                    e.name
                )))
            }
        };
        let ev = if e.value_type() == EndpointType::TimeToEvent {
            match col(&format!("{}_event", e.name)) {
                Some(Column::Bool(b)) => Some(b),
                _ => return Err(TrialError::Merge(format!("no column '{}_event'", e.name))),
            }
        } else {
            None
        };
        let lim = if e.lower_limit.is_some() {
            match col(&format!("{}_below_lod", e.name)) {
                Some(Column::Bool(b)) => Some(b),
                _ => {
                    return Err(TrialError::Merge(format!(
                        "no column '{}_below_lod'",
                        e.name
                    )))
                }
            }
        } else {
            None
        };
        ecols.push((v, ev, lim));
    }
    let keep: Vec<usize> = (0..batch.len()).filter(|&r| arms[r] == arm).collect();
    if keep.is_empty() {
        return Ok(None);
    }
    let mut outcomes = Vec::with_capacity(ecols.len());
    for &r in &keep {
        outcomes.clear();
        for (v, ev, lim) in &ecols {
            outcomes.push(Outcome {
                value: v[r],
                event: ev.is_some_and(|b| b[r]),
                at_limit: lim.is_some_and(|b| b[r]),
            });
        }
        acc.add(pat[r], &status[r], &reason[r], scr[r], &outcomes);
    }
    let cols = batch
        .columns()
        .iter()
        .map(|c| match c {
            Column::F64(v) => Column::F64(keep.iter().map(|&r| v[r]).collect()),
            Column::U64(v) => Column::U64(keep.iter().map(|&r| v[r]).collect()),
            Column::I64(v) => Column::I64(keep.iter().map(|&r| v[r]).collect()),
            Column::Str(v) => Column::Str(keep.iter().map(|&r| v[r].clone()).collect()),
            Column::Bool(v) => Column::Bool(keep.iter().map(|&r| v[r]).collect()),
        })
        .collect();
    Ok(Some(Table::from_parts(s.clone(), cols)?))
}

struct ShardDir {
    dir: PathBuf,
    manifest: Json,
    shard: Shard,
}

fn manifest_of(dir: &Path) -> Result<ShardDir> {
    let p = dir.join("run.json");
    let text = tabula_model::read_text_file(&p).map_err(|e| match e {
        tabula_model::ModelError::Io { source, .. } => read_err(&p, source),
        other => read_err(&p, other),
    })?;
    let manifest: Json = serde_json::from_str(&text).map_err(|e| read_err(&p, e))?;
    let shard = Shard {
        index: manifest["shard"]["index"].as_u64().unwrap_or(0),
        count: manifest["shard"]["count"].as_u64().unwrap_or(1),
    };
    Ok(ShardDir {
        dir: dir.to_path_buf(),
        manifest,
        shard,
    })
}

/// Loads the trial a shard ran (from the text stored in its manifest, resolving relative
/// scenario paths against the trial file's directory), with the seed and population size the
/// shard used.
fn trial_of(m: &Json, library: &dyn ScenarioLibrary) -> Result<Trial> {
    let text = m["trial_text"].as_str().unwrap_or_default();
    let name = m["trial_source"].as_str().unwrap_or("trial.toml");
    let mut src = SourceFile::new(name.to_string(), text.to_string());
    if let Some(b) = name.strip_prefix("<builtin>/trials/") {
        src.builtin = Some(b.trim_end_matches(".toml").to_string());
    } else if let Some(p) = m["trial_path"].as_str() {
        src.path = Some(PathBuf::from(p));
    }
    let mut trial = crate::parse::load_trial_source(src, library)?;
    if let Some(s) = m["seed"].as_u64() {
        trial.seed = s;
    }
    if let Some(n) = m["patients_per_arm"].as_u64() {
        trial.patients = n;
    }
    Ok(trial)
}

/// Merges shard output directories into `out`: the per-patient table, summaries, bands,
/// plots and report, exactly as an unsharded run would have written them.
pub fn merge_shards(
    dirs: &[PathBuf],
    out: &OutputOptions,
    provenance: &Provenance,
    library: &dyn ScenarioLibrary,
) -> Result<Vec<PathBuf>> {
    if dirs.is_empty() {
        return Err(TrialError::Merge("no shard directories given".into()));
    }
    let mut shards: Vec<ShardDir> = dirs.iter().map(|d| manifest_of(d)).collect::<Result<_>>()?;
    shards.sort_by_key(|s| s.shard.index);
    let first = &shards[0].manifest;
    let count = shards[0].shard.count;
    for s in &shards {
        for key in ["trial_text", "seed", "patients_per_arm"] {
            if s.manifest[key] != first[key] {
                return Err(TrialError::Merge(format!(
                    "{} ran a different trial ({key} differs)",
                    s.dir.display()
                )));
            }
        }
        if s.shard.count != count {
            return Err(TrialError::Merge(format!(
                "{} is shard {}/{}, expected one of {count}",
                s.dir.display(),
                s.shard.index,
                s.shard.count
            )));
        }
    }
    let indices: Vec<u64> = shards.iter().map(|s| s.shard.index).collect();
    if indices != (0..count).collect::<Vec<_>>() {
        return Err(TrialError::Merge(format!(
            "expected shards 0..{count} once each, found {indices:?}"
        )));
    }
    let trial = trial_of(first, library)?;
    let prepared = PreparedTrial::new(trial)?;
    let trial = &prepared.trial;
    let schema = prepared.patient_schema();
    let types: Vec<EndpointType> = trial.endpoints.iter().map(|e| e.value_type()).collect();
    let stride = trial.patients.div_ceil(50_000);

    let ext = out.format.extension();
    let path = out.dir.join(format!("patients.{ext}"));
    let mut writer = TableWriter::create_as(&path, &schema, out.format.table_format())?;
    let mut run = TrialRun {
        arms: Vec::new(),
        bands: None,
        shard: Shard::default(),
        steps: 0,
        rhs_evals: 0,
    };
    for s in &shards {
        run.steps += s.manifest["solver_steps"].as_u64().unwrap_or(0);
        run.rhs_evals += s.manifest["rhs_evaluations"].as_u64().unwrap_or(0);
    }
    for arm in &trial.arms {
        let mut acc = ArmAccumulator::new(&types, stride);
        for s in &shards {
            let p = crate::output::patients_path(&s.dir).ok_or_else(|| {
                TrialError::Merge(format!("{} has no patients table", s.dir.display()))
            })?;
            read_table(&p, &schema, |batch| {
                if let Some(rows) = accumulate(trial, &arm.name, batch, &mut acc)? {
                    writer.write(&rows)?;
                }
                Ok(())
            })?;
        }
        run.arms.push(acc);
    }
    writer.finish()?;
    let mut written = vec![path];

    // Bands from the shards' samples.
    if first["bands"].as_bool() == Some(true) {
        if let Some(spec) = &trial.bands {
            let mut bands: Vec<BandAccumulator> = Vec::new();
            for (ai, a) in trial.arms.iter().enumerate() {
                let times: Vec<f64> = prepared.band_times(ai).to_vec();
                bands.push(BandAccumulator {
                    outputs: spec
                        .outputs
                        .iter()
                        .map(|o| a.resolve_output(o).map(|_| o.clone()))
                        .collect(),
                    values: vec![Vec::new(); spec.outputs.len() * times.len()],
                    times,
                    patients: 0,
                });
            }
            let bschema = TableSchema::new(vec![
                tabula_output::ColumnSpec::new("arm", ColumnType::Str),
                tabula_output::ColumnSpec::new("observable", ColumnType::Str),
                tabula_output::ColumnSpec::new("time", ColumnType::F64),
                tabula_output::ColumnSpec::new("value", ColumnType::F64),
            ])?;
            for s in &shards {
                let p = ["parquet", "csv"]
                    .iter()
                    .map(|e| s.dir.join(format!("band_samples.{e}")))
                    .find(|p| p.is_file());
                let Some(p) = p else {
                    return Err(TrialError::Merge(format!(
                        "{} has bands but no band_samples table",
                        s.dir.display()
                    )));
                };
                read_table(&p, &bschema, |b| {
                    let c = b.columns();
                    let (Column::Str(arm), Column::Str(obs), Column::F64(time), Column::F64(value)) =
                        (&c[0], &c[1], &c[2], &c[3])
                    else {
                        return Ok(());
                    };
                    for r in 0..b.len() {
                        let Some(ai) = trial.arm(&arm[r]) else {
                            continue;
                        };
                        let Some(k) = spec.outputs.iter().position(|o| *o == obs[r]) else {
                            continue;
                        };
                        let acc = &mut bands[ai];
                        let Some(j) = acc.times.iter().position(|t| *t == time[r]) else {
                            continue;
                        };
                        let nt = acc.times.len();
                        acc.values[k * nt + j].push(value[r]);
                    }
                    Ok(())
                })?;
            }
            for b in &mut bands {
                b.patients = b.values.iter().map(|v| v.len() as u64).max().unwrap_or(0);
            }
            run.bands = Some(bands);
        }
    }
    written.extend(write_results(
        &prepared,
        &run,
        out,
        provenance,
        KmInterval::LogLog,
    )?);
    Ok(written)
}

/// The default output format of a merged run: the shards' own.
pub fn shard_format(dir: &Path) -> Format {
    match manifest_of(dir) {
        Ok(s) if s.manifest["format"] == "csv" => Format::Csv,
        _ => Format::Parquet,
    }
}
