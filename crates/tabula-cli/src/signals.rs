//! Signals: a closed pipe ends the program quietly, Ctrl-C removes unfinished output files.
//!
//! * `SIGPIPE` is restored to its default action, as for other command-line tools, so that
//!   `tabula model sle/cd19_car_t | head -1` ends when `head` stops reading instead of
//!   failing on the next write to standard output.
//! * `SIGINT` and `SIGTERM` set a flag that a watcher thread polls; it deletes the temporary
//!   files of outputs still being written ([`tabula_output::remove_temporaries`]) and exits
//!   with status 130 (128 + SIGINT), leaving no hidden `.NAME.*.tmp` files behind.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status after an interrupt: 128 + SIGINT.
const INTERRUPTED_EXIT: i32 = 130;

#[cfg(unix)]
extern "C" fn on_interrupt(_signal: libc::c_int) {
    // Only an atomic store: the one thing a signal handler may safely do here.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handlers (unix; elsewhere the defaults stay).
pub fn install() {
    #[cfg(unix)]
    {
        let handler = on_interrupt as extern "C" fn(libc::c_int);
        // SAFETY: `signal` with SIG_DFL or with a handler that performs one atomic store is
        // async-signal-safe; called once at start-up before other threads exist.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
            libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        }
        let watcher = std::thread::Builder::new()
            .name("interrupt-watcher".into())
            .spawn(|| loop {
                if INTERRUPTED.load(Ordering::SeqCst) {
                    let removed = tabula_output::remove_temporaries();
                    eprintln!("\ninterrupted; removed {removed} unfinished output file(s)");
                    std::process::exit(INTERRUPTED_EXIT);
                }
                std::thread::sleep(Duration::from_millis(50));
            });
        if let Err(e) = watcher {
            eprintln!("warning: cannot watch for Ctrl-C ({e}); an interrupted run may leave temporary files");
        }
    }
}
