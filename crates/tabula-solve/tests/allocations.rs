//! The integration loop does not allocate per step: a simulation twice as long (twice the steps,
//! the same doses and output count) makes no more allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tabula_compile::CompiledModel;
use tabula_solve::reference;
use tabula_solve::{simulate, Simulation, SolverOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steps_do_not_allocate() {
    let case = reference::two_compartment_bolus();
    let cm = CompiledModel::new(case.model.clone());
    let mut ws = cm.workspace();
    let params = cm.default_parameters();
    let options = SolverOptions {
        rtol: 1e-10,
        atol: 1e-12,
        ..SolverOptions::default()
    };
    let run = |end: f64, ws: &mut tabula_compile::Workspace| {
        let times = [0.0, end];
        let sim = Simulation {
            regimen: &case.regimen,
            output_times: &times,
            end,
            options: &options,
        };
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let stats = simulate(&cm, ws, &params, &sim, &mut |_, _, _| {}).unwrap();
        (ALLOCATIONS.load(Ordering::Relaxed) - before, stats.steps)
    };
    let (short_allocs, short_steps) = run(72.0, &mut ws);
    let (long_allocs, long_steps) = run(144.0, &mut ws);
    assert!(
        long_steps > short_steps + 100,
        "the long run takes more steps: {short_steps} vs {long_steps}"
    );
    assert_eq!(
        long_allocs, short_allocs,
        "allocations grew with steps ({short_steps} -> {long_steps} steps)"
    );
}
