//! Fixed-width text rendering of tables for terminals.

use super::{ColumnType, Table, Value};
use crate::number::format_sig;

/// Options of [`render_text`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextTableOptions {
    /// Significant digits of floats (default 4).
    pub digits: usize,
    /// Show units in the header (`name (unit)`), default true.
    pub units: bool,
    /// Text shown for missing floats (default `NA`).
    pub missing: String,
    /// Cells longer than this many characters are cut with `…` (default 40; 0: no limit).
    pub max_cell_width: usize,
}

impl Default for TextTableOptions {
    fn default() -> Self {
        TextTableOptions {
            digits: 4,
            units: true,
            missing: "NA".to_string(),
            max_cell_width: 40,
        }
    }
}

/// Formats one cell as shown to people (shared with the HTML tables).
pub(crate) fn display_cell(v: Value<'_>, digits: usize, missing: &str) -> String {
    match v {
        Value::F64(x) if x.is_nan() => missing.to_string(),
        Value::F64(x) => format_sig(x, digits),
        Value::I64(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::Str(s) => s.to_string(),
        Value::Bool(b) => if b { "yes" } else { "no" }.to_string(),
    }
}

/// Renders `table` as aligned plain text: a header, a rule, then one line per row.
/// Numbers are right-aligned, text and booleans left-aligned; columns are separated by
/// two spaces. Every line ends with a newline.
///
/// ```
/// use tabula_output::{render_text, Column, Table, TextTableOptions};
///
/// let t = Table::from_columns(vec![
///     ("target", Column::from(vec!["B cells day 28", "anti-dsDNA"])),
///     ("simulated", Column::from(vec![0.012345, 41.0])),
/// ]).unwrap();
/// let text = render_text(&t, &TextTableOptions::default());
/// assert_eq!(text.lines().nth(2).unwrap(), "B cells day 28    0.01235");
/// ```
pub fn render_text(table: &Table, opts: &TextTableOptions) -> String {
    let specs = table.schema().columns();
    let headers: Vec<String> = specs
        .iter()
        .map(|c| {
            if opts.units {
                c.header()
            } else {
                c.name.clone()
            }
        })
        .collect();
    let cells: Vec<Vec<String>> = (0..table.len())
        .map(|r| {
            table
                .columns()
                .iter()
                .map(|col| {
                    col.get(r)
                        .map(|v| {
                            clip(
                                display_cell(v, opts.digits, &opts.missing),
                                opts.max_cell_width,
                            )
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..specs.len())
        .map(|c| {
            cells
                .iter()
                .map(|row| width(&row[c]))
                .chain(std::iter::once(width(&headers[c])))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let right: Vec<bool> = specs
        .iter()
        .map(|c| matches!(c.kind, ColumnType::F64 | ColumnType::I64 | ColumnType::U64))
        .collect();

    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        let mut s = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                s.push_str("  ");
            }
            let pad = widths[c].saturating_sub(width(cell));
            if right[c] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &headers);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &rule);
    for row in &cells {
        line(&mut out, row);
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn clip(s: String, max: usize) -> String {
    if max == 0 || width(&s) <= max {
        s
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
