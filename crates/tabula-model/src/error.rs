//! Diagnostics: what is wrong, where (file, line, column, field), and what was expected.

use std::fmt;
use std::sync::Arc;

/// A position in a source file, 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (or `<builtin>/name.toml` for embedded files).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in an input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Where, when known.
    pub location: Option<Location>,
    /// The field, as a dotted path (`parameters.CL.unit`).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        // Fields and messages may quote the input: keep them short whatever the input.
        let message = excerpt(&self.message, 10 * MAX_ECHO_CHARS);
        if self.field.is_empty() {
            write!(f, "{message}")
        } else {
            write!(f, "`{}`: {message}", excerpt(&self.field, MAX_ECHO_CHARS))
        }
    }
}

/// The error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is malformed; every problem found is listed.
    #[error("{}", format_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ModelError {
    /// The diagnostics, if this is a validation error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ModelError::Invalid(d) => d,
            ModelError::Io { .. } => &[],
        }
    }

    /// A validation error with a single diagnostic.
    pub fn single(
        location: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ModelError::Invalid(vec![Diagnostic {
            location,
            field: field.into(),
            message: message.into(),
        }])
    }
}

fn format_diagnostics(diags: &[Diagnostic]) -> String {
    let mut s = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&d.to_string());
    }
    if diags.len() > 1 {
        s.push_str(&format!("\n({} problems)", diags.len()));
    }
    s
}

/// Collects diagnostics while a file is checked, so the user sees every problem at once.
#[derive(Default, Debug)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a problem.
    pub fn push(
        &mut self,
        location: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            location,
            field: field.into(),
            message: message.into(),
        });
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of problems recorded.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `Ok(value)` if nothing was recorded, else the collected error.
    pub fn finish<T>(self, value: T) -> Result<T, ModelError> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            Err(ModelError::Invalid(self.items))
        }
    }

    /// Appends the diagnostics of another error.
    pub fn extend_from(&mut self, err: ModelError) {
        match err {
            ModelError::Invalid(d) => self.items.extend(d),
            ModelError::Io { path, source } => {
                self.push(None, "", format!("cannot read {path}: {source}"))
            }
        }
    }
}

/// The most characters of a user's input echoed in a message.
pub const MAX_ECHO_CHARS: usize = 200;

/// `text` cut to its first `max` characters, with ` … (N characters in all)` when cut, so
/// a message quoting hostile input stays short.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!(
            "{}… ({} characters in all)",
            &text[..end],
            text.chars().count()
        ),
    }
}

/// Edit distance, for "did you mean" hints.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ` (did you mean `x`?)` when a candidate is close enough, else an empty string.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (levenshtein(&name.to_lowercase(), &c.to_lowercase()), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= 2.max(name.len() / 4) && d < name.len() => {
            format!(" (did you mean `{c}`?)")
        }
        _ => String::new(),
    }
}
