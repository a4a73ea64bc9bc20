//! Source text with line lookup, and where files come from (disk or the built-in library).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Location, ModelError};

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

    /// Reads a file from disk.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
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
            let mut f = SourceFile::new(format!("<builtin>/{key}.toml"), text.to_string());
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
