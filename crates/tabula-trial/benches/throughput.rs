//! Trial throughput: patients per second per core on the full SLE model (CD19 CAR-T arm of the
//! built-in `sle_refractory` trial, two years of follow-up), endpoints only versus a daily time
//! course of every output. One worker thread, so the numbers are per core.
//!
//! Run with `cargo bench -p tabula-trial --bench throughput`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tabula_trial::spec::TimeCourseSpec;
use tabula_trial::{builtin_trial, MemorySink, NullSink, PreparedTrial, RunOptions};

const PATIENTS: u64 = 16;

fn trial(arm: &str, timecourse: bool) -> PreparedTrial {
    let mut t = builtin_trial("sle_refractory").expect("built-in trial");
    t.arms.retain(|a| a.name == arm);
    t.population.screening_arm = 0;
    t.patients = PATIENTS;
    t.bands = None;
    t.timecourse = timecourse.then(|| TimeCourseSpec {
        outputs: t.arms[0]
            .scenario
            .model
            .outputs
            .iter()
            .map(|o| o.name.clone())
            .collect(),
        step: 1.0,
    });
    PreparedTrial::new(t).expect("prepares")
}

fn throughput(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut g = c.benchmark_group("sle_2_years");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(PATIENTS));
    for arm in ["CD19 CAR-T", "Rituximab"] {
        let endpoints = trial(arm, false);
        let options = RunOptions {
            timecourse: false,
            bands: false,
            ..RunOptions::default()
        };
        g.bench_function(format!("{arm}: endpoints only"), |b| {
            b.iter(|| pool.install(|| black_box(endpoints.run(&options, &mut NullSink).unwrap())))
        });
        let full = trial(arm, true);
        let options = RunOptions::default();
        g.bench_function(format!("{arm}: daily time course of every output"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let mut sink = MemorySink::new(&full);
                    black_box(full.run(&options, &mut sink).unwrap());
                    black_box(sink.timecourse.len())
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
