//! One module per subcommand.

pub mod calibrate;
pub mod check;
pub mod export;
pub mod list;
pub mod sensitivity;
pub mod simulate;
pub mod trial;
pub mod validate;

use std::path::Path;
use std::sync::OnceLock;

use tabula_library::{Catalog, Given, Kind};
use tabula_scenario::{load_scenario, Scenario, ScenarioRef};

use crate::exit::{input, Failure};

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// Uses `catalog` (the built-in library with a directory laid over it) for this run.
pub fn set_catalog(catalog: Catalog) {
    let _ = CATALOG.set(catalog);
}

/// The library this run resolves built-in names against (`--library` or the built-ins).
pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(Catalog::builtin)
}

/// Loads a scenario named on the command line, by the library's one precedence rule
/// ([`tabula_library::resolve`]): a file if the path exists, else a library name.
pub fn resolve_scenario(name: &str) -> Result<Scenario, Failure> {
    Ok(
        match tabula_library::resolve(catalog(), Kind::Scenario, name)? {
            Given::Text(text) => tabula_scenario::load_scenario_str("<text>", text, catalog())?,
            Given::File(path) => load_scenario(ScenarioRef::File(&path), catalog())?,
            Given::Library(name, text) => {
                load_scenario(ScenarioRef::Builtin(&name, text), catalog())?
            }
        },
    )
}

/// Most worker threads per available core: more only adds memory and switching.
const THREADS_PER_CORE: usize = 4;

/// Refuses a path that exists but is not a regular file (a directory, a device such as
/// `/dev/zero`) with the shared reader's message, rather than calling it an unknown name.
pub fn refuse_non_file(path: &Path) -> Result<(), Failure> {
    if path.exists() && !path.is_file() {
        tabula_model::read_text_file(path)?;
    }
    Ok(())
}

/// A rayon pool with `threads` workers (all cores by default), at most [`THREADS_PER_CORE`]
/// per available core (a larger request is capped, with a warning).
pub fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool, Failure> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(mut n) = threads {
        if n == 0 {
            return input("--threads must be at least 1");
        }
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let cap = THREADS_PER_CORE * cores;
        if n > cap {
            eprintln!(
                "warning: --threads {n} capped at {cap} ({THREADS_PER_CORE} per available core, {cores} cores)"
            );
            n = cap;
        }
        b = b.num_threads(n);
    }
    b.build()
        .map_err(|e| Failure::Run(anyhow::anyhow!("cannot start worker threads: {e}")))
}

/// Free bytes on the file system that holds `dir` (or its nearest existing ancestor); `None`
/// where unknown.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let existing = dir
            .ancestors()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .find(|p| p.is_dir())?;
        let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated path and `s` a properly sized out-parameter.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return None;
        }
        Some((s.f_bavail as u64).saturating_mul(s.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
