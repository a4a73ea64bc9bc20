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
