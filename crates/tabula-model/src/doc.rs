//! Reading TOML with positions: every value keeps its byte span, so a problem is reported at
//! its file, line and column, with the dotted path of the field.
//!
//! Model, scenario and trial files are all read through [`Reader`] and [`TableView`].

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{did_you_mean, Diagnostics, Location, ModelError};
use crate::source::SourceFile;

/// A spanned TOML value.
pub type Value<'i> = Spanned<DeValue<'i>>;

/// Parses a whole document, turning a syntax error into a located diagnostic.
pub fn parse_document(src: &SourceFile) -> Result<Spanned<DeTable<'_>>, ModelError> {
    DeTable::parse(&src.text).map_err(|e| {
        let location = e.span().map(|s| src.location(s.start));
        let msg = e.message().trim().to_string();
        let msg = crate::error::excerpt(&msg, 4 * crate::error::MAX_ECHO_CHARS);
        ModelError::single(location, "", format!("not valid TOML: {msg}"))
    })
}

/// The TOML type of a value, for messages.
pub fn kind_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A number (integer or float) as `f64`; `None` for other types.
pub fn to_f64(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Integer(i) => {
            let s = i.as_str().replace('_', "");
            let s = s.trim_start_matches('+');
            let (neg, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, s),
            };
            let digits = digits
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            let v = i64::from_str_radix(digits, i.radix()).ok()? as f64;
            Some(if neg { -v } else { v })
        }
        DeValue::Float(f) => {
            let s = f.as_str().replace('_', "");
            s.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// Reads fields from one file, collecting every problem found.
pub struct Reader<'s> {
    /// The file being read.
    pub src: &'s SourceFile,
    /// Problems found so far.
    pub diags: Diagnostics,
}

impl<'s> Reader<'s> {
    /// A reader over `src`.
    pub fn new(src: &'s SourceFile) -> Self {
        Reader {
            src,
            diags: Diagnostics::default(),
        }
    }

    /// Location of a byte span's start.
    pub fn loc(&self, span: &Range<usize>) -> Location {
        self.src.location(span.start)
    }

    /// Records a problem at `span`.
    pub fn error(&mut self, span: &Range<usize>, field: &str, message: impl Into<String>) {
        let loc = self.loc(span);
        self.diags.push(Some(loc), field, message);
    }

    /// Views a value as a table, or records that a table was expected.
    pub fn table<'a, 'i>(&mut self, v: &'a Value<'i>, path: &str) -> Option<TableView<'a, 'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(TableView {
                table: t,
                span: v.span(),
                path: path.to_string(),
            }),
            other => {
                self.error(
                    &v.span(),
                    path,
                    format!("expected a table, found {}", kind_name(other)),
                );
                None
            }
        }
    }

    /// The tables of an array-of-tables field `key` of `t` (`[[arm]]`); a single table is
    /// accepted too. Records a problem for anything else, or for an element that is not a table.
    pub fn table_array<'a, 'i>(
        &mut self,
        t: &TableView<'a, 'i>,
        key: &str,
    ) -> Vec<TableView<'a, 'i>> {
        let Some(v) = t.get(key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.table(item, &format!("{}[{i}]", t.child(key))))
                .collect(),
            DeValue::Table(_) => self.table(v, &t.child(key)).into_iter().collect(),
            other => {
                self.error(
                    &v.span(),
                    &t.child(key),
                    format!("expected [[{key}]] tables, found {}", kind_name(other)),
                );
                Vec::new()
            }
        }
    }
}

/// A table with its path (`parameters.CL`) and span.
#[derive(Clone)]
pub struct TableView<'a, 'i> {
    /// The entries.
    pub table: &'a DeTable<'i>,
    /// Span of the whole table.
    pub span: Range<usize>,
    /// Dotted path of the table.
    pub path: String,
}

/// A string with the span of its value.
#[derive(Clone, Debug)]
pub struct SpannedStr {
    /// The text.
    pub text: String,
    /// Byte span of the TOML value (including quotes).
    pub span: Range<usize>,
}

impl SpannedStr {
    /// Byte offset of the first character inside the quotes (approximate for escaped strings).
    pub fn inner_start(&self) -> usize {
        self.span.start + 1
    }
}

impl<'a, 'i> TableView<'a, 'i> {
    /// The root table of a parsed document (path "").
    pub fn root(doc: &'a Spanned<DeTable<'i>>) -> Self {
        TableView {
            table: doc.get_ref(),
            span: doc.span(),
            path: String::new(),
        }
    }

    /// A string field that must be one of `allowed` (with a "did you mean" hint otherwise).
    pub fn choice(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        allowed: &[&str],
        required: bool,
    ) -> Option<SpannedStr> {
        let s = self.str(r, key, required)?;
        if allowed.contains(&s.text.as_str()) {
            Some(s)
        } else {
            let hint = did_you_mean(&s.text, allowed.iter().copied());
            r.error(
                &s.span,
                &self.child(key),
                format!(
                    "unknown value \"{}\"{hint}; expected one of: {}",
                    s.text,
                    allowed.join(", ")
                ),
            );
            None
        }
    }

    /// An optional whole-number field in `[min, max]`.
    pub fn whole(&self, r: &mut Reader<'_>, key: &str, min: f64, max: f64) -> Option<u64> {
        let (x, span) = self.num(r, key, false)?;
        if x.fract() == 0.0 && x >= min && x <= max {
            Some(x as u64)
        } else {
            r.error(
                &span,
                &self.child(key),
                format!("expected a whole number between {min} and {max}, found {x}"),
            );
            None
        }
    }

    /// The dotted path of a child field.
    pub fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Entries in file order: (key, key span, value).
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Range<usize>, &'a Value<'i>)> + 'a {
        self.table
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
    }

    /// Records every key that is not in `allowed`, with a "did you mean" hint.
    pub fn check_keys(&self, r: &mut Reader<'_>, allowed: &[&str]) {
        for (k, span, _) in self.entries() {
            if !allowed.contains(&k) {
                let hint = did_you_mean(k, allowed.iter().copied());
                r.error(
                    &span,
                    &self.child(k),
                    format!(
                        "unknown field `{k}`{hint}; expected one of: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A string field.
    pub fn str(&self, r: &mut Reader<'_>, key: &str, required: bool) -> Option<SpannedStr> {
        match self.get(key) {
            None => {
                if required {
                    r.error(
                        &self.span,
                        &self.child(key),
                        format!("missing required field `{key}`"),
                    );
                }
                None
            }
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Some(SpannedStr {
                    text: s.to_string(),
                    span: v.span(),
                }),
                other => {
                    r.error(
                        &v.span(),
                        &self.child(key),
                        format!("expected a string, found {}", kind_name(other)),
                    );
                    None
                }
            },
        }
    }

    /// A numeric field (integer or float), which must be finite.
    pub fn num(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        required: bool,
    ) -> Option<(f64, Range<usize>)> {
        match self.get(key) {
            None => {
                if required {
                    r.error(
                        &self.span,
                        &self.child(key),
                        format!("missing required field `{key}`"),
                    );
                }
                None
            }
            Some(v) => match to_f64(v.get_ref()) {
                Some(x) if x.is_finite() => Some((x, v.span())),
                Some(x) => {
                    r.error(
                        &v.span(),
                        &self.child(key),
                        format!("expected a finite number, found {x}"),
                    );
                    None
                }
                None => {
                    r.error(
                        &v.span(),
                        &self.child(key),
                        format!("expected a number, found {}", kind_name(v.get_ref())),
                    );
                    None
                }
            },
        }
    }

    /// A boolean field.
    pub fn bool(&self, r: &mut Reader<'_>, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                r.error(
                    &v.span(),
                    &self.child(key),
                    format!("expected true or false, found {}", kind_name(other)),
                );
                None
            }
        }
    }

    /// An array of numbers.
    pub fn num_array(&self, r: &mut Reader<'_>, key: &str) -> Option<(Vec<f64>, Range<usize>)> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            r.error(
                &v.span(),
                &self.child(key),
                format!(
                    "expected an array of numbers, found {}",
                    kind_name(v.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match to_f64(item.get_ref()) {
                Some(x) if x.is_finite() => out.push(x),
                _ => {
                    r.error(
                        &item.span(),
                        &format!("{}[{i}]", self.child(key)),
                        "expected a finite number",
                    );
                    return None;
                }
            }
        }
        Some((out, v.span()))
    }

    /// An array of strings.
    pub fn str_array(&self, r: &mut Reader<'_>, key: &str) -> Option<Vec<SpannedStr>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            r.error(
                &v.span(),
                &self.child(key),
                format!(
                    "expected an array of strings, found {}",
                    kind_name(v.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(SpannedStr {
                    text: s.to_string(),
                    span: item.span(),
                }),
                other => {
                    r.error(
                        &item.span(),
                        &format!("{}[{i}]", self.child(key)),
                        format!("expected a string, found {}", kind_name(other)),
                    );
                }
            }
        }
        Some(out)
    }

    /// A sub-table field.
    pub fn sub(&self, r: &mut Reader<'_>, key: &str) -> Option<TableView<'a, 'i>> {
        let v = self.get(key)?;
        r.table(v, &self.child(key))
    }
}

/// A number or an expression string (`initial = 0` or `initial = "s / k"`).
#[derive(Clone, Debug)]
pub enum NumOrExpr {
    /// A literal.
    Num(f64),
    /// An expression and where it is.
    Expr(SpannedStr),
}

/// Reads a field that may be a number or an expression string.
pub fn num_or_expr(
    t: &TableView<'_, '_>,
    r: &mut Reader<'_>,
    key: &str,
    required: bool,
) -> Option<(NumOrExpr, Range<usize>)> {
    match t.get(key) {
        None => {
            if required {
                r.error(
                    &t.span,
                    &t.child(key),
                    format!("missing required field `{key}`"),
                );
            }
            None
        }
        Some(v) => match v.get_ref() {
            DeValue::String(s) => Some((
                NumOrExpr::Expr(SpannedStr {
                    text: s.to_string(),
                    span: v.span(),
                }),
                v.span(),
            )),
            other => match to_f64(other) {
                Some(x) if x.is_finite() => Some((NumOrExpr::Num(x), v.span())),
                _ => {
                    r.error(
                        &v.span(),
                        &t.child(key),
                        format!(
                            "expected a number or an expression string, found {}",
                            kind_name(other)
                        ),
                    );
                    None
                }
            },
        },
    }
}
