//! Small helpers shared by the target and problem file readers (on top of
//! `tabula_model::doc`).

use std::ops::Range;

use tabula_model::doc::{Reader, TableView};

/// A number in the open or closed interval given by `check`, with `expected` describing it.
pub(crate) fn number(
    r: &mut Reader<'_>,
    t: &TableView<'_, '_>,
    key: &str,
    required: bool,
    check: impl Fn(f64) -> bool,
    expected: &str,
) -> Option<(f64, Range<usize>)> {
    let (x, span) = t.num(r, key, required)?;
    if check(x) {
        Some((x, span))
    } else {
        r.error(
            &span,
            &t.child(key),
            format!("expected {expected}, found {x}"),
        );
        None
    }
}

/// The span of a key's value, or of the table when the key is absent.
pub(crate) fn span_of(t: &TableView<'_, '_>, key: &str) -> Range<usize> {
    t.get(key).map_or(t.span.clone(), |v| v.span())
}

/// Reads the library data file `path` (overlay first) with `load`, naming the file as the
/// library does in messages; a library without the file is an error.
pub(crate) fn library_file<T>(
    catalog: &tabula_library::Catalog,
    path: &str,
    load: impl Fn(&str, &str) -> Result<T, tabula_model::ModelError>,
) -> Result<T, tabula_model::ModelError> {
    let Some(text) = catalog.data_file(path) else {
        return Err(tabula_model::ModelError::single(
            None,
            path,
            format!("the library has no {path}"),
        ));
    };
    load(&tabula_model::library_source_name(catalog, path), text)
}
