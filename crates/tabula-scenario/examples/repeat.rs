//! Runs a built-in scenario many times (for profiling): `cargo run --release --example repeat -- <scenario> <n>`.

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args
        .next()
        .unwrap_or_else(|| "reference/car_t_benchmark".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let sc = match tabula_scenario::builtin(&name) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let cm = sc.compile();
    let start = std::time::Instant::now();
    let mut steps = 0;
    for _ in 0..n {
        let t = sc.run_compiled(&cm).expect("runs");
        steps = t.stats.steps;
    }
    let per = start.elapsed().as_secs_f64() / n as f64;
    println!(
        "{name}: {:.3} ms per patient ({steps} steps, {:.2} us per step)",
        per * 1e3,
        per * 1e6 / steps as f64
    );
}
