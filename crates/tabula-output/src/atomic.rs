//! Atomic file creation: write to a temporary file beside the target, rename on success.
//!
//! Every writer in this crate goes through [`AtomicFile`]. The data is written to a hidden
//! temporary file in the target's directory (so the final rename never crosses a file
//! system), flushed and `fsync`ed, then renamed over the final name. A writer that is
//! dropped before [`AtomicFile::commit`] (an error, a panic, an early return) deletes its
//! temporary file, and an existing file under the final name is left untouched. A process
//! killed mid-write can leave a hidden `.NAME.*.tmp` file behind, never a truncated file
//! under the final name; a process that is interrupted can remove the temporary files still
//! open with [`remove_temporaries`] (the `tabula` binary does so on Ctrl-C).

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

use crate::error::{OutputError, Result};

/// Buffer size of the writer wrapped around the temporary file.
const BUFFER_BYTES: usize = 256 * 1024;

/// The temporary files of every [`AtomicFile`] not yet committed or dropped, and whether
/// [`remove_temporaries`] has closed the registry to new files.
struct Pending {
    paths: Vec<PathBuf>,
    closed: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    paths: Vec::new(),
    closed: false,
});

fn pending() -> MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(temp: &Path) {
    let mut p = pending();
    if let Some(i) = p.paths.iter().position(|x| x == temp) {
        p.paths.swap_remove(i);
    }
}

/// Deletes the temporary file of every [`AtomicFile`] still being written and refuses to
/// create new ones, for a process about to exit on an interrupt (a destructor does not run
/// then). Returns how many files were removed. Files already committed are not touched.
pub fn remove_temporaries() -> usize {
    let mut p = pending();
    p.closed = true;
    let mut removed = 0;
    for path in p.paths.drain(..) {
        if fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A file being written that appears under its final name only when committed.
///
/// Implements [`Write`] (buffered). Missing parent directories are created.
///
/// ```
/// use std::io::Write;
/// use tabula_output::AtomicFile;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("notes.txt");
/// let mut file = AtomicFile::create(&path).unwrap();
/// writeln!(file, "hello").unwrap();
/// assert!(!path.exists()); // not visible yet
/// file.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    inner: Option<BufWriter<NamedTempFile>>,
}

impl AtomicFile {
    /// Starts writing `path`: creates a temporary file in the same directory.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file_name = path
            .file_name()
            .ok_or_else(|| {
                OutputError::io(
                    "create",
                    &path,
                    io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
                )
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| OutputError::io("create directory", &dir, e))?;
        let prefix = format!(".{file_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Ordinary file permissions (the umask still applies), not the 0600 of temp files.
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        // Created under the registry's lock, so that `remove_temporaries` sees every file.
        let mut registry = pending();
        if registry.closed {
            return Err(OutputError::io(
                "create",
                &path,
                io::Error::new(io::ErrorKind::Interrupted, "the run was interrupted"),
            ));
        }
        let temp = builder
            .tempfile_in(&dir)
            .map_err(|e| OutputError::io("create a temporary file for", &path, e))?;
        registry.paths.push(temp.path().to_path_buf());
        drop(registry);
        Ok(AtomicFile {
            path,
            inner: Some(BufWriter::with_capacity(BUFFER_BYTES, temp)),
        })
    }

    /// The final path this file will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs to disk and renames the temporary file to the final path,
    /// replacing any existing file there.
    pub fn commit(mut self) -> Result<()> {
        let Some(buffered) = self.inner.take() else {
            return Err(OutputError::io(
                "commit",
                &self.path,
                io::Error::other("the file was already committed"),
            ));
        };
        let temp_path = buffered.get_ref().path().to_path_buf();
        let result = (|| {
            let temp = buffered
                .into_inner()
                .map_err(|e| OutputError::io("write", &self.path, e.into_error()))?;
            temp.as_file()
                .sync_all()
                .map_err(|e| OutputError::io("sync", &self.path, e))?;
            temp.persist(&self.path).map_err(|e| {
                OutputError::io("rename the temporary file to", &self.path, e.error)
            })?;
            sync_parent_dir(&self.path);
            Ok(())
        })();
        // Renamed, or deleted with the dropped temporary file: no longer pending either way.
        forget(&temp_path);
        result
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<NamedTempFile>> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("write after commit"))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // The temporary file deletes itself (NamedTempFile); forget it here.
        if let Some(w) = &self.inner {
            forget(w.get_ref().path());
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

/// Checks that `dir` can be an output directory before anything is computed: it and each of
/// its existing ancestors must be a directory (or a link to one). An existing file, or a
/// symbolic link whose target does not exist, is refused with a message saying which. A
/// directory that does not exist yet is fine (writers create it).
pub fn check_output_dir(dir: &Path) -> Result<()> {
    let refuse = |path: &Path, reason: String| OutputError::NotADirectory {
        path: path.to_path_buf(),
        reason,
    };
    for p in dir.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match fs::symlink_metadata(p) {
            Err(_) => continue, // does not exist yet
            Ok(link) => match fs::metadata(p) {
                Ok(m) if m.is_dir() => return Ok(()),
                Ok(_) => {
                    let what = if p == dir {
                        "it is an existing file".to_string()
                    } else {
                        format!("'{}' is an existing file, not a directory", p.display())
                    };
                    return Err(refuse(
                        dir,
                        format!("{what}; expected a directory (created if missing)"),
                    ));
                }
                Err(_) if link.file_type().is_symlink() => {
                    let target = fs::read_link(p)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Err(refuse(
                        dir,
                        format!(
                            "'{}' is a symbolic link to '{target}', which does not exist; remove the link or create its target",
                            p.display()
                        ),
                    ));
                }
                Err(e) => return Err(OutputError::io("inspect", p, e)),
            },
        }
    }
    Ok(())
}

/// Makes the rename durable on file systems that need the directory synced (best effort).
fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| OutputError::io("write", path, e))?;
    file.commit()
}
