//! Time per simulated patient: the 20-state stiff benchmark problem (two years, daily output,
//! five dose records) and the larger built-in disease models, plus the cost of compiling a
//! model and of one right-hand-side and Jacobian evaluation.
//!
//! Run with `cargo bench -p tabula-scenario`; the numbers are reported in docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tabula_compile::{Backend, CompiledModel};
use tabula_scenario::builtin;
use tabula_solve::{simulate, simulate_trajectory};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("patient");
    g.sample_size(30);
    for name in [
        "reference/car_t_benchmark",
        "sle/cd19_car_t",
        "as/adalimumab_40mg_eow",
    ] {
        let Ok(sc) = builtin(name) else { continue };
        let cm = sc.compile();
        let stats = cm.stats();
        eprintln!("{name}: {} states, tapes {stats:?}", cm.n_states());
        g.bench_function(format!("{name}/daily_output"), |b| {
            b.iter(|| {
                simulate_trajectory(&cm, black_box(&sc.parameters), &sc.simulation(), None).unwrap()
            })
        });
        let interp = CompiledModel::with_backend(sc.model.clone(), Backend::Interpreter);
        g.bench_function(format!("{name}/daily_output_interpreter"), |b| {
            b.iter(|| {
                simulate_trajectory(&interp, black_box(&sc.parameters), &sc.simulation(), None)
                    .unwrap()
            })
        });
        // Endpoint-only: outputs at two times, nothing stored.
        let times = [0.0, sc.end];
        let mut sim = sc.simulation();
        sim.output_times = &times;
        let mut ws = cm.workspace();
        g.bench_function(format!("{name}/endpoint_only"), |b| {
            b.iter(|| {
                simulate(
                    &cm,
                    &mut ws,
                    black_box(&sc.parameters),
                    &sim,
                    &mut |_, y, _| {
                        black_box(y);
                    },
                )
                .unwrap()
            })
        });
        g.bench_function(format!("{name}/compile"), |b| {
            b.iter(|| CompiledModel::new(black_box(sc.model.clone())))
        });
        let mut ws = cm.workspace();
        cm.setup(&mut ws, &sc.parameters).unwrap();
        let mut y = vec![0.0; cm.n_states()];
        cm.initial_state(&ws, &mut y);
        let mut dy = vec![0.0; cm.n_states()];
        let mut jac = vec![0.0; cm.jacobian_pattern().0.len()];
        g.bench_function(format!("{name}/rhs"), |b| {
            b.iter(|| cm.rhs(&mut ws, 1.0, black_box(&y), &mut dy))
        });
        let mut wsi = interp.workspace();
        interp.setup(&mut wsi, &sc.parameters).unwrap();
        g.bench_function(format!("{name}/rhs_interpreter"), |b| {
            b.iter(|| interp.rhs(&mut wsi, 1.0, black_box(&y), &mut dy))
        });
        g.bench_function(format!("{name}/jacobian"), |b| {
            b.iter(|| cm.jacobian(&mut ws, 1.0, black_box(&y), &mut jac))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
