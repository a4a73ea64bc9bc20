//! Round trips of the table writers: what is written is read back exactly.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tabula_output::{
    render_text, Column, ColumnSpec, ColumnType, OutputError, ParquetCompression, ParquetOptions,
    Table, TableFormat, TableSchema, TableWriter, TextTableOptions, TimeCourseBatch,
    TimeCourseLayout, TimeCourseWriter,
};

/// Floats that are easy to get wrong in text.
const TRICKY: [f64; 12] = [
    0.0,
    -0.0,
    0.1,
    0.30000000000000004,
    1.0 / 3.0,
    1e-300,
    5e-324,
    -2.5e17,
    123456789.98765433,
    f64::MAX,
    f64::INFINITY,
    f64::NAN,
];

fn layout() -> TimeCourseLayout {
    TimeCourseLayout::new(["B_blood", "IgG, total", "anti \"dsDNA\""])
        .with_arms(["CD19 CAR-T", "rituximab"])
        .with_time_unit("day")
}

/// Two batches covering every tricky value, every observable and both arms.
fn batches() -> Vec<TimeCourseBatch> {
    let mut out = Vec::new();
    for b in 0..2_u64 {
        let mut batch = TimeCourseBatch::with_capacity(64);
        for (i, v) in TRICKY.iter().enumerate() {
            let patient = if i == 0 {
                u64::MAX
            } else {
                b * 1000 + i as u64
            };
            batch.push_with_arm(
                patient,
                0.5 * i as f64 + 1e-9,
                (i % 3) as u32,
                *v,
                (i % 2) as u32,
            );
        }
        out.push(batch);
    }
    out
}

fn write_time_course(path: &Path, format: TableFormat) -> u64 {
    let mut w = TimeCourseWriter::create_as(path, &layout(), format).unwrap();
    for b in batches() {
        w.write(&b).unwrap();
    }
    w.finish().unwrap()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

#[test]
fn time_course_csv_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.csv");
    assert_eq!(write_time_course(&path, TableFormat::Csv), 24);

    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, ["patient", "time", "observable", "value", "arm"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let expected: Vec<(u64, f64, u32, f64, u32)> = batches()
        .iter()
        .flat_map(|b| {
            (0..b.len()).map(move |i| {
                (
                    b.patient[i],
                    b.time[i],
                    b.observable[i],
                    b.value[i],
                    b.arm[i],
                )
            })
        })
        .collect();
    assert_eq!(rows.len(), expected.len());
    let l = layout();
    for (row, (p, t, o, v, a)) in rows.iter().zip(expected) {
        assert_eq!(row[0].parse::<u64>().unwrap(), p);
        assert!(same(row[1].parse::<f64>().unwrap(), t));
        assert_eq!(&row[2], l.observables[o as usize]);
        let value = if row[3].is_empty() {
            f64::NAN
        } else {
            row[3].parse::<f64>().unwrap()
        };
        assert!(same(value, v), "{} vs {v}", &row[3]);
        assert_eq!(&row[4], l.arms[a as usize]);
    }
}

fn read_parquet(path: &Path) -> (Vec<RecordBatch>, parquet::file::metadata::ParquetMetaData) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = builder.metadata().as_ref().clone();
    let batches = builder.build().unwrap().map(|b| b.unwrap()).collect();
    (batches, meta)
}

#[test]
fn time_course_parquet_round_trip_is_exact() {
    for compression in [
        ParquetCompression::Zstd(3),
        ParquetCompression::Snappy,
        ParquetCompression::Uncompressed,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tc.parquet");
        let opts = ParquetOptions {
            compression,
            row_group_rows: 5,
            metadata: vec![("tabula.seed".into(), "42".into())],
        };
        assert_eq!(write_time_course(&path, TableFormat::Parquet(opts)), 24);

        let (read, meta) = read_parquet(&path);
        assert!(
            meta.num_row_groups() >= 4,
            "row groups: {}",
            meta.num_row_groups()
        );
        let kv = meta.file_metadata().key_value_metadata().unwrap();
        assert!(kv
            .iter()
            .any(|k| k.key == "tabula.seed" && k.value.as_deref() == Some("42")));

        let schema = read[0].schema();
        assert_eq!(
            schema.field_with_name("observable").unwrap().data_type(),
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        );
        assert_eq!(
            schema
                .field_with_name("time")
                .unwrap()
                .metadata()
                .get("unit")
                .map(String::as_str),
            Some("day")
        );

        let expected: Vec<TimeCourseBatch> = batches();
        let mut rows = Vec::new();
        for b in &read {
            let patient = b.column(0).as_primitive::<UInt64Type>();
            let time = b.column(1).as_primitive::<Float64Type>();
            let obs = b.column(2).as_dictionary::<Int32Type>();
            let obs_names = obs.values().as_string::<i32>();
            let value = b.column(3).as_primitive::<Float64Type>();
            let arm = b.column(4).as_dictionary::<Int32Type>();
            let arm_names = arm.values().as_string::<i32>();
            for i in 0..b.num_rows() {
                let v = if value.is_null(i) {
                    f64::NAN
                } else {
                    value.value(i)
                };
                rows.push((
                    patient.value(i),
                    time.value(i),
                    obs_names.value(obs.keys().value(i) as usize).to_string(),
                    v,
                    arm_names.value(arm.keys().value(i) as usize).to_string(),
                ));
            }
        }
        let l = layout();
        let flat: Vec<_> = expected
            .iter()
            .flat_map(|b| {
                (0..b.len()).map(move |i| {
                    (
                        b.patient[i],
                        b.time[i],
                        b.observable[i],
                        b.value[i],
                        b.arm[i],
                    )
                })
            })
            .collect();
        assert_eq!(rows.len(), flat.len());
        for (got, (p, t, o, v, a)) in rows.iter().zip(flat) {
            assert_eq!(got.0, p);
            assert!(same(got.1, t));
            assert_eq!(got.2, l.observables[o as usize]);
            assert!(same(got.3, v), "{} vs {v}", got.3);
            assert_eq!(got.4, l.arms[a as usize]);
        }
    }
}

#[test]
fn time_course_json_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.json");
    write_time_course(&path, TableFormat::Json);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 24);
    assert_eq!(rows[0]["patient"].as_u64(), Some(u64::MAX));
    assert_eq!(rows[2]["value"].as_f64(), Some(0.1));
    assert!(rows[11]["value"].is_null()); // NaN
    assert!(rows[10]["value"].is_null()); // inf
    assert_eq!(rows[2]["observable"], "anti \"dsDNA\"");
}

#[test]
fn time_course_without_arms_has_four_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.parquet");
    let mut w = TimeCourseWriter::create(&path, &TimeCourseLayout::new(["x"])).unwrap();
    let mut b = TimeCourseBatch::default();
    b.push(1, 0.0, 0, 2.0);
    w.write(&b).unwrap();
    w.write(&TimeCourseBatch::default()).unwrap();
    w.finish().unwrap();
    let (read, _) = read_parquet(&path);
    assert_eq!(read[0].num_columns(), 4);
}

#[test]
fn empty_time_course_files_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["e.csv", "e.parquet", "e.json"] {
        let path = dir.path().join(name);
        TimeCourseWriter::create(&path, &layout())
            .unwrap()
            .finish()
            .unwrap();
        assert!(path.exists());
    }
    let text = std::fs::read_to_string(dir.path().join("e.csv")).unwrap();
    assert_eq!(text, "patient,time,observable,value,arm\n");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("e.json")).unwrap()).unwrap();
    assert_eq!(json, serde_json::json!([]));
    let (read, _) = read_parquet(&dir.path().join("e.parquet"));
    assert_eq!(read.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}

#[test]
fn malformed_time_course_batches_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.csv");
    let mut w = TimeCourseWriter::create(&path, &layout()).unwrap();

    let mut short = TimeCourseBatch::default();
    short.push_with_arm(1, 0.0, 0, 1.0, 0);
    short.value.pop();
    let err = w.write(&short).unwrap_err();
    assert!(matches!(err, OutputError::InvalidData { .. }));
    assert!(err.to_string().contains("tc.csv"), "{err}");

    let mut bad_obs = TimeCourseBatch::default();
    bad_obs.push_with_arm(1, 0.0, 7, 1.0, 0);
    let msg = w.write(&bad_obs).unwrap_err().to_string();
    assert!(
        msg.contains("observable 7") && msg.contains("3 observables"),
        "{msg}"
    );

    let mut no_arm = TimeCourseBatch::default();
    no_arm.push(1, 0.0, 0, 1.0);
    assert!(w.write(&no_arm).is_err());

    let mut bad_arm = TimeCourseBatch::default();
    bad_arm.push_with_arm(1, 0.0, 0, 1.0, 2);
    assert!(w.write(&bad_arm).is_err());

    // Nothing of the rejected batches was written.
    assert_eq!(w.rows(), 0);
    w.finish().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
}

fn endpoint_schema() -> TableSchema {
    TableSchema::new(vec![
        ColumnSpec::new("patient", ColumnType::U64),
        ColumnSpec::new("arm", ColumnType::Str),
        ColumnSpec::new("relapse_day", ColumnType::F64)
            .with_unit("day")
            .with_description("first relapse"),
        ColumnSpec::new("delta", ColumnType::I64),
        ColumnSpec::new("remission", ColumnType::Bool),
    ])
    .unwrap()
}

fn endpoint_batch(offset: u64) -> Table {
    let mut t = Table::new(endpoint_schema());
    for (i, v) in TRICKY.iter().enumerate() {
        let arm = ["A, with comma", "B \"quoted\"", "C\nnewline", "δ unicode"][i % 4];
        t.push_row(&[
            (offset + i as u64).into(),
            arm.into(),
            (*v).into(),
            (i as i64 - 6).into(),
            (i % 2 == 0).into(),
        ])
        .unwrap();
    }
    t
}

#[test]
fn record_table_round_trips_in_all_formats() {
    let dir = tempfile::tempdir().unwrap();
    let expected: Vec<Table> = vec![endpoint_batch(0), endpoint_batch(100)];
    for name in ["t.csv", "t.parquet", "t.json"] {
        let path = dir.path().join(name);
        let mut w = TableWriter::create(&path, &endpoint_schema()).unwrap();
        for b in &expected {
            w.write(b).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 24);
    }
    let rows: Vec<(u64, String, f64, i64, bool)> = expected
        .iter()
        .flat_map(|t| {
            (0..t.len()).map(move |r| {
                let get = |c: &str| t.column(c).unwrap().get(r).unwrap();
                match (
                    get("patient"),
                    get("arm"),
                    get("relapse_day"),
                    get("delta"),
                    get("remission"),
                ) {
                    (
                        tabula_output::Value::U64(p),
                        tabula_output::Value::Str(a),
                        tabula_output::Value::F64(v),
                        tabula_output::Value::I64(d),
                        tabula_output::Value::Bool(b),
                    ) => (p, a.to_string(), v, d, b),
                    other => panic!("unexpected {other:?}"),
                }
            })
        })
        .collect();

    // CSV
    let mut reader = csv::Reader::from_path(dir.path().join("t.csv")).unwrap();
    let got: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), rows.len());
    for (g, (p, a, v, d, b)) in got.iter().zip(&rows) {
        assert_eq!(g[0].parse::<u64>().unwrap(), *p);
        assert_eq!(&g[1], a);
        let value = if g[2].is_empty() {
            f64::NAN
        } else {
            g[2].parse().unwrap()
        };
        assert!(same(value, *v));
        assert_eq!(g[3].parse::<i64>().unwrap(), *d);
        assert_eq!(g[4].parse::<bool>().unwrap(), *b);
    }

    // Parquet
    let (read, _) = read_parquet(&dir.path().join("t.parquet"));
    let field = read[0]
        .schema()
        .field_with_name("relapse_day")
        .unwrap()
        .clone();
    assert_eq!(
        field.metadata().get("unit").map(String::as_str),
        Some("day")
    );
    assert_eq!(
        field.metadata().get("description").map(String::as_str),
        Some("first relapse")
    );
    let mut i = 0;
    for b in &read {
        let p = b.column(0).as_primitive::<UInt64Type>();
        let a = b.column(1).as_string::<i32>();
        let v = b.column(2).as_primitive::<Float64Type>();
        let d = b.column(3).as_primitive::<arrow_array::types::Int64Type>();
        let r = b.column(4).as_boolean();
        for k in 0..b.num_rows() {
            let (ep, ea, ev, ed, eb) = &rows[i];
            assert_eq!(p.value(k), *ep);
            assert_eq!(a.value(k), ea);
            let value = if v.is_null(k) { f64::NAN } else { v.value(k) };
            assert!(same(value, *ev));
            assert_eq!(d.value(k), *ed);
            assert_eq!(r.value(k), *eb);
            i += 1;
        }
    }
    assert_eq!(i, rows.len());

    // JSON
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t.json")).unwrap()).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), rows.len());
    for (o, (p, a, v, d, b)) in arr.iter().zip(&rows) {
        assert_eq!(o["patient"].as_u64(), Some(*p));
        assert_eq!(o["arm"].as_str(), Some(a.as_str()));
        if v.is_finite() {
            assert!(same(o["relapse_day"].as_f64().unwrap(), *v));
        } else {
            assert!(o["relapse_day"].is_null());
        }
        assert_eq!(o["delta"].as_i64(), Some(*d));
        assert_eq!(o["remission"].as_bool(), Some(*b));
    }
}

#[test]
fn record_table_rejects_mismatches() {
    assert!(TableSchema::new(vec![
        ColumnSpec::new("a", ColumnType::F64),
        ColumnSpec::new("a", ColumnType::I64)
    ])
    .is_err());
    assert!(Table::from_columns(vec![
        ("a", Column::from(vec![1.0])),
        ("b", Column::from(vec![1.0, 2.0]))
    ])
    .is_err());

    let mut t = Table::new(endpoint_schema());
    assert!(t.push_row(&[1_u64.into()]).is_err());
    // A wrong type in the last column leaves the table unchanged.
    let err = t
        .push_row(&[
            1_u64.into(),
            "A".into(),
            1.0.into(),
            1_i64.into(),
            1.0.into(),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("remission"), "{err}");
    assert_eq!(t.len(), 0);
    assert!(t.columns().iter().all(|c| c.is_empty()));
    // Integers are accepted where they fit.
    t.push_row(&[
        3_i64.into(),
        "A".into(),
        2_u64.into(),
        4_u64.into(),
        true.into(),
    ])
    .unwrap();
    assert!(t
        .push_row(&[
            (-1_i64).into(),
            "A".into(),
            2.0.into(),
            4_i64.into(),
            true.into()
        ])
        .is_err());

    let dir = tempfile::tempdir().unwrap();
    let mut w = TableWriter::create(dir.path().join("x.csv"), &endpoint_schema()).unwrap();
    let other = Table::from_columns(vec![("patient", Column::from(vec![1_u64]))]).unwrap();
    let msg = w.write(&other).unwrap_err().to_string();
    assert!(msg.contains("x.csv") && msg.contains("differ"), "{msg}");

    let err = TableWriter::create(dir.path().join("x.xlsx"), &endpoint_schema())
        .err()
        .unwrap();
    assert!(matches!(err, OutputError::UnknownFormat { .. }));
    assert!(err.to_string().contains("x.xlsx"));
}

#[test]
fn table_write_convenience() {
    let dir = tempfile::tempdir().unwrap();
    let t = Table::from_columns(vec![("x", Column::from(vec![1.5, 2.5]))]).unwrap();
    t.write(dir.path().join("sub/dir/t.csv")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sub/dir/t.csv")).unwrap(),
        "x\n1.5\n2.5\n"
    );
}

#[test]
fn text_table_is_aligned() {
    let mut t = Table::from_columns(vec![
        (
            "target",
            Column::from(vec!["B cells", "anti-dsDNA at month 3"]),
        ),
        ("observed", Column::from(vec![0.0, 41.23456])),
        ("n", Column::from(vec![12_u64, 7])),
        ("pass", Column::from(vec![true, false])),
    ])
    .unwrap();
    t.set_unit("observed", "IU/mL").unwrap();
    let text = render_text(&t, &TextTableOptions::default());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "target                 observed (IU/mL)   n  pass"
    );
    assert_eq!(
        lines[1],
        "---------------------  ----------------  --  ----"
    );
    assert_eq!(lines[2], "B cells                               0  12  yes");
    assert_eq!(lines[3], "anti-dsDNA at month 3             41.23   7  no");

    let empty = Table::new(endpoint_schema());
    assert_eq!(
        render_text(&empty, &TextTableOptions::default())
            .lines()
            .count(),
        2
    );
}
