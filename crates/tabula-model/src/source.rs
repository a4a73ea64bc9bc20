//! Source text with line lookup, and where files come from (disk or the built-in library).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Location, ModelError};

/// The largest input text file (model, scenario, trial, target, calibration problem, data
/// table) Tabula reads: 16 MiB. The built-in files are below 100 KiB; the limit keeps a
/// mistaken argument (`/dev/zero`, a multi-gigabyte log) from exhausting memory.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads an input text file: the one reader every command uses for files it parses.
///
/// Refuses, with a message naming the path, what is not a regular file (a directory, a device
/// such as `/dev/zero`, a pipe), a file larger than [`MAX_INPUT_BYTES`], and text that is not
/// UTF-8 (naming the byte offset of the first invalid byte).
pub fn read_text_file(path: &Path) -> Result<String, ModelError> {
    use std::io::Read;
    let fail = |message: String| ModelError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    let io = |source: std::io::Error| ModelError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        return Err(fail(format!("it is {what}; expected a text file")));
    }
    let too_big = |size: u64| {
        fail(format!(
            "the file is {size} bytes; input files are limited to {} MiB",
            MAX_INPUT_BYTES >> 20
        ))
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Read at most one byte past the limit: a file may grow after the size check.
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "not UTF-8 text (invalid byte at offset {}); expected a text file",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A loaded input file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Name shown in messages: the path as given, or `<builtin>/<name>.toml`.
    pub name: Arc<str>,
    /// Where it lives on disk, for resolving relative includes (`None` for built-ins).
    pub path: Option<PathBuf>,
    /// The built-in name (`immune/b_lineage`), for built-ins.
    pub builtin: Option<String>,
    /// The text.
    pub text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps text under a display name.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            path: None,
            builtin: None,
            text,
            line_starts,
        }
    }

    /// Reads a file from disk (through [`read_text_file`]: regular files of at most
    /// [`MAX_INPUT_BYTES`] of UTF-8 text).
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = read_text_file(path)?;
        let mut f = SourceFile::new(path.display().to_string(), text);
        f.path = Some(path.to_path_buf());
        Ok(f)
    }

    /// The 1-based line and column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Location {
            file: self.name.clone(),
            line: line + 1,
            column,
        }
    }
}

/// Finds built-in modules and scenarios by name. The library crate implements it over the files
/// embedded in the binary; tests can implement it over a map.
pub trait Library: Send + Sync {
    /// The text of built-in model module `name` (e.g. `immune/b_lineage`), if it exists.
    fn model(&self, name: &str) -> Option<&str>;
    /// Names of all built-in model modules, for "did you mean" hints and listings.
    fn model_names(&self) -> Vec<String>;
    /// The path of the file on disk that supplies library file `path` (relative to the library
    /// root, e.g. `models/immune/b_lineage.toml`), when a directory laid over the built-ins
    /// supplies it; messages about that file then name it. `None` for embedded files.
    fn overlay_path(&self, _path: &str) -> Option<String> {
        None
    }
}

/// The name shown in messages for library file `path` (relative to the library root): the
/// overlay file's path when one supplies it, else `<builtin>/<path>`.
pub fn library_source_name(library: &dyn Library, path: &str) -> String {
    library
        .overlay_path(path)
        .unwrap_or_else(|| format!("<builtin>/{path}"))
}

/// A library with nothing in it.
pub struct EmptyLibrary;

impl Library for EmptyLibrary {
    fn model(&self, _name: &str) -> Option<&str> {
        None
    }
    fn model_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How an `include` or a scenario's `model` names a file: a path on disk or a built-in name.
pub fn is_path_reference(name: &str) -> bool {
    name.ends_with(".toml") || name.starts_with('.') || name.starts_with('/')
}

/// Loads a model reference relative to `from` (the including file), or from the library.
pub fn load_reference(
    name: &str,
    from: Option<&SourceFile>,
    library: &dyn Library,
) -> Result<SourceFile, String> {
    if is_path_reference(name) {
        let base = from
            .and_then(|f| f.path.as_ref())
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let path = match base {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        if from.is_some_and(|f| f.path.is_none()) && !Path::new(name).is_absolute() {
            // A built-in file may only include built-ins.
            return Err(format!(
                "built-in module cannot include the file \"{name}\"; use a built-in name"
            ));
        }
        return SourceFile::read(&path).map_err(|e| e.to_string());
    }
    let key = name.trim_end_matches(".toml");
    match library.model(key) {
        Some(text) => {
            let name = library
                .overlay_path(&format!("models/{key}.toml"))
                .unwrap_or_else(|| format!("<builtin>/{key}.toml"));
            let mut f = SourceFile::new(name, text.to_string());
            f.builtin = Some(key.to_string());
            Ok(f)
        }
        None => {
            let names = library.model_names();
            let hint = crate::error::did_you_mean(key, names.iter().map(String::as_str));
            Err(format!(
                "no built-in model named \"{key}\"{hint}; run `tabula models` for the list, or give a path ending in .toml"
            ))
        }
    }
}
