//! Bit-identical results for any number of threads and any sharding.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_trial::output::summary_json;
use tabula_trial::{
    load_trial_file, merge_shards, Format, OutputOptions, PreparedTrial, Provenance, RunOptions,
    Shard, TrialRun,
};

fn prepared(d: &std::path::Path) -> PreparedTrial {
    let t = load_trial_file(&trial_path(d), &Builtin).expect("trial loads");
    PreparedTrial::new(t).expect("prepares")
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

#[test]
fn one_and_two_threads_give_bit_identical_tables_and_summaries() {
    let d = toy(TRIAL);
    let p = prepared(d.path());
    // Small chunks so that two threads really interleave patients.
    let opts = RunOptions {
        chunk: 3,
        ..RunOptions::default()
    };
    let a = in_pool(1, || p.run_in_memory(&opts).unwrap());
    let b = in_pool(2, || p.run_in_memory(&opts).unwrap());
    assert_eq!(a.patients.len(), 120);
    assert_eq!(cells(&a.patients), cells(&b.patients));
    assert_eq!(cells(&a.summary_table), cells(&b.summary_table));
    let ja = summary_json(&p.trial, &a.run, &a.summaries);
    let jb = summary_json(&p.trial, &b.run, &b.summaries);
    assert_eq!(ja, jb);
    // And the population really varies (the test would pass trivially otherwise).
    let k = a.patients.column("k").unwrap();
    let tabula_output::Column::F64(k) = k else {
        panic!()
    };
    assert!(k.iter().any(|x| (x - k[0]).abs() > 1e-6));
}

#[test]
fn union_of_shards_equals_the_unsharded_run_and_merged_summaries_are_equal() {
    let d = toy(TRIAL);
    let p = prepared(d.path());
    let whole = p.run_in_memory(&RunOptions::default()).unwrap();
    let parts: Vec<_> = (0..3)
        .map(|i| {
            let o = RunOptions {
                shard: Shard { index: i, count: 3 },
                chunk: 4,
                ..RunOptions::default()
            };
            p.run_in_memory(&o).unwrap()
        })
        .collect();
    // Rows: for each arm, shard 0's rows, then shard 1's, then shard 2's.
    let mut union = Vec::new();
    for arm in ["low", "high"] {
        for part in &parts {
            for row in cells(&part.patients) {
                if row.starts_with(&format!("{arm}|")) {
                    union.push(row);
                }
            }
        }
    }
    assert_eq!(union, cells(&whole.patients));
    // Accumulators merged across shards give the unsharded summaries exactly.
    let mut merged: TrialRun = parts[0].run.clone();
    for part in &parts[1..] {
        merged.merge(&part.run);
    }
    let sm = merged.summaries(&p.trial, Default::default());
    let mut jm = summary_json(&p.trial, &merged, &sm);
    let mut jw = summary_json(&p.trial, &whole.run, &whole.summaries);
    jm["shard"] = serde_json::Value::Null;
    jw["shard"] = serde_json::Value::Null;
    assert_eq!(jm, jw);
}

#[test]
fn trial_merge_of_shard_directories_reproduces_the_unsharded_files() {
    let d = toy(TRIAL);
    let p = prepared(d.path());
    let out = tempfile::tempdir().unwrap();
    let prov = Provenance {
        trial_path: Some(trial_path(d.path()).display().to_string()),
        validation: Vec::new(),
        ..Provenance::default()
    };
    let opts = |dir: &str| OutputOptions {
        dir: out.path().join(dir),
        format: Format::Csv,
        plots: None,
        report: false,
    };
    p.run_to_dir(&RunOptions::default(), &opts("whole"), &prov)
        .unwrap();
    let mut shard_dirs = Vec::new();
    for i in 0..2 {
        let name = format!("s{i}");
        let o = RunOptions {
            shard: Shard { index: i, count: 2 },
            ..RunOptions::default()
        };
        p.run_to_dir(&o, &opts(&name), &prov).unwrap();
        shard_dirs.push(out.path().join(&name));
    }
    merge_shards(&shard_dirs, &opts("merged"), &prov, &Builtin).unwrap();
    let read = |dir: &str, f: &str| std::fs::read_to_string(out.path().join(dir).join(f)).unwrap();
    assert_eq!(
        read("whole", "patients.csv"),
        read("merged", "patients.csv")
    );
    assert_eq!(read("whole", "summary.csv"), read("merged", "summary.csv"));
    assert_eq!(read("whole", "bands.csv"), read("merged", "bands.csv"));
    let j = |dir: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&read(dir, "summary.json")).unwrap();
        v["shard"] = serde_json::Value::Null;
        v
    };
    assert_eq!(j("whole"), j("merged"));
    // A shard alone covers only its half.
    let s0 = read("s0", "patients.csv");
    assert_eq!(s0.lines().count() - 1, 60);
}
