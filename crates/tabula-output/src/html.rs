//! Self-contained HTML reports: inline CSS, inline SVG figures, no scripts, no external
//! resources. A report opens in any browser, can be mailed as one file and prints cleanly.
//!
//! All text given to the builder (titles, metadata, paragraphs, table cells, captions) is
//! HTML-escaped. The output is deterministic: the builder adds no timestamps of its own,
//! so pass the date as metadata.

use std::fmt::Write as _;
use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::Result;
use crate::plot::Figure;
use crate::table::text::display_cell;
use crate::table::{ColumnType, Table};

/// Escapes `&`, `<`, `>`, `"` and `'` for use in HTML text and attribute values.
///
/// ```
/// assert_eq!(tabula_output::html::escape("IL-6 <10 & \"low\""), "IL-6 &lt;10 &amp; &quot;low&quot;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How a table is shown in a report.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlTableOptions {
    /// Significant digits of floats (default 4).
    pub digits: usize,
    /// At most this many rows are shown; a note gives the total (default 200).
    pub max_rows: usize,
}

impl Default for HtmlTableOptions {
    fn default() -> Self {
        HtmlTableOptions {
            digits: 4,
            max_rows: 200,
        }
    }
}

/// The kind of a highlighted note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Neutral information.
    Info,
    /// Something the reader must not miss (assumptions, failed targets).
    Warning,
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Section(String),
    Subsection(String),
    Paragraph(String),
    List(Vec<String>),
    Note(NoteKind, String),
    /// Already rendered (escaped) HTML of a table.
    Table(String),
    /// SVG document and caption.
    Figure(String, String),
}

/// A report under construction.
///
/// ```
/// use tabula_output::html::Report;
/// use tabula_output::{Column, Table};
///
/// let table = Table::from_columns(vec![
///     ("arm", Column::from(vec!["CD19 CAR-T", "rituximab"])),
///     ("remission", Column::from(vec![0.82, 0.35])),
/// ]).unwrap();
/// let mut report = Report::new("Virtual trial: SLE <refractory>");
/// report
///     .metadata("Tabula version", "0.1.0")
///     .metadata("Seed", "42")
///     .section("Endpoints")
///     .paragraph("Drug-free remission at month 12 by arm.")
///     .table(&table, Some("Remission rates"));
/// let html = report.to_html();
/// assert!(html.contains("SLE &lt;refractory&gt;"));
/// assert!(!html.contains("<script"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    title: String,
    metadata: Vec<(String, String)>,
    blocks: Vec<Block>,
    footer: Option<String>,
}

impl Report {
    /// An empty report with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            metadata: Vec::new(),
            blocks: Vec::new(),
            footer: None,
        }
    }

    /// Adds a metadata entry (version, date, seed, command, model, ...), shown under the title.
    pub fn metadata(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Starts a section (a level-2 heading, listed in the contents).
    pub fn section(&mut self, heading: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Section(heading.into()));
        self
    }

    /// Starts a subsection (a level-3 heading).
    pub fn subsection(&mut self, heading: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Subsection(heading.into()));
        self
    }

    /// Adds a paragraph of plain text (escaped; line breaks are kept).
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Adds a bulleted list of plain-text items.
    pub fn list<S: Into<String>>(&mut self, items: impl IntoIterator<Item = S>) -> &mut Self {
        self.blocks
            .push(Block::List(items.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds a highlighted note.
    pub fn note(&mut self, kind: NoteKind, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Note(kind, text.into()));
        self
    }

    /// Adds a table with default options and an optional caption.
    pub fn table(&mut self, table: &Table, caption: Option<&str>) -> &mut Self {
        self.table_with(table, caption, &HtmlTableOptions::default())
    }

    /// Adds a table with explicit options.
    pub fn table_with(
        &mut self,
        table: &Table,
        caption: Option<&str>,
        opts: &HtmlTableOptions,
    ) -> &mut Self {
        self.blocks
            .push(Block::Table(table_html(table, caption, opts)));
        self
    }

    /// Adds a figure (its SVG inlined) with a caption.
    pub fn figure(&mut self, figure: &Figure, caption: impl Into<String>) -> &mut Self {
        self.blocks
            .push(Block::Figure(figure.svg().to_string(), caption.into()));
        self
    }

    /// Sets the footer text (default: none).
    pub fn footer(&mut self, text: impl Into<String>) -> &mut Self {
        self.footer = Some(text.into());
        self
    }

    /// The complete HTML document.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(16 * 1024);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(h, "<title>{}</title>", escape(&self.title));
        h.push_str("<style>\n");
        h.push_str(CSS);
        h.push_str("</style>\n</head>\n<body>\n<main>\n<header>\n");
        let _ = writeln!(h, "<h1>{}</h1>", escape(&self.title));
        if !self.metadata.is_empty() {
            h.push_str("<dl class=\"meta\">\n");
            for (k, v) in &self.metadata {
                let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
            }
            h.push_str("</dl>\n");
        }
        h.push_str("</header>\n");

        let sections: Vec<&String> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Section(s) => Some(s),
                _ => None,
            })
            .collect();
        if sections.len() >= 3 {
            h.push_str("<nav class=\"toc\">\n<h2>Contents</h2>\n<ol>\n");
            for (i, s) in sections.iter().enumerate() {
                let _ = writeln!(h, "<li><a href=\"#s{}\">{}</a></li>", i + 1, escape(s));
            }
            h.push_str("</ol>\n</nav>\n");
        }

        let mut section_no = 0;
        let mut figure_no = 0;
        let mut open = false;
        for block in &self.blocks {
            match block {
                Block::Section(s) => {
                    if open {
                        h.push_str("</section>\n");
                    }
                    section_no += 1;
                    let _ = writeln!(h, "<section id=\"s{section_no}\">\n<h2>{}</h2>", escape(s));
                    open = true;
                }
                Block::Subsection(s) => {
                    let _ = writeln!(h, "<h3>{}</h3>", escape(s));
                }
                Block::Paragraph(p) => {
                    let _ = writeln!(h, "<p>{}</p>", escape(p).replace('\n', "<br>\n"));
                }
                Block::List(items) => {
                    h.push_str("<ul>\n");
                    for item in items {
                        let _ = writeln!(h, "<li>{}</li>", escape(item));
                    }
                    h.push_str("</ul>\n");
                }
                Block::Note(kind, text) => {
                    let class = match kind {
                        NoteKind::Info => "note",
                        NoteKind::Warning => "note warning",
                    };
                    let _ = writeln!(
                        h,
                        "<p class=\"{class}\">{}</p>",
                        escape(text).replace('\n', "<br>\n")
                    );
                }
                Block::Table(html) => h.push_str(html),
                Block::Figure(svg, caption) => {
                    figure_no += 1;
                    h.push_str("<figure>\n");
                    h.push_str(strip_xml_declaration(svg));
                    h.push('\n');
                    if !caption.is_empty() {
                        let _ = writeln!(
                            h,
                            "<figcaption><span class=\"label\">Figure {figure_no}.</span> {}</figcaption>",
                            escape(caption)
                        );
                    }
                    h.push_str("</figure>\n");
                }
            }
        }
        if open {
            h.push_str("</section>\n");
        }
        if let Some(f) = &self.footer {
            let _ = writeln!(h, "<footer>{}</footer>", escape(f));
        }
        h.push_str("</main>\n</body>\n</html>\n");
        h
    }

    /// Writes the report to `path` atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path, self.to_html().as_bytes())
    }
}

fn strip_xml_declaration(svg: &str) -> &str {
    let s = svg.trim_start();
    if s.starts_with("<?xml") {
        s.find("?>").map_or(s, |i| s[i + 2..].trim_start())
    } else {
        s
    }
}

/// Renders a table as escaped HTML.
fn table_html(table: &Table, caption: Option<&str>, opts: &HtmlTableOptions) -> String {
    let mut h = String::new();
    h.push_str("<div class=\"table-wrap\">\n<table>\n");
    if let Some(c) = caption.filter(|c| !c.is_empty()) {
        let _ = writeln!(h, "<caption>{}</caption>", escape(c));
    }
    let specs = table.schema().columns();
    let numeric: Vec<bool> = specs
        .iter()
        .map(|c| matches!(c.kind, ColumnType::F64 | ColumnType::I64 | ColumnType::U64))
        .collect();
    h.push_str("<thead><tr>");
    for (spec, num) in specs.iter().zip(&numeric) {
        let class = if *num { " class=\"num\"" } else { "" };
        let title = spec
            .description
            .as_deref()
            .map(|d| format!(" title=\"{}\"", escape(d)))
            .unwrap_or_default();
        let _ = write!(h, "<th{class}{title}>{}", escape(&spec.name));
        if let Some(u) = spec.unit.as_deref().filter(|u| !u.is_empty()) {
            let _ = write!(h, "<span class=\"unit\">{}</span>", escape(u));
        }
        h.push_str("</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let shown = table.len().min(opts.max_rows);
    for r in 0..shown {
        h.push_str("<tr>");
        for (col, num) in table.columns().iter().zip(&numeric) {
            let v = col.get(r);
            let missing = matches!(v, Some(crate::table::Value::F64(x)) if x.is_nan());
            let text = v
                .map(|v| display_cell(v, opts.digits, "—"))
                .unwrap_or_default();
            let class = match (*num, missing) {
                (true, true) => " class=\"num na\"",
                (true, false) => " class=\"num\"",
                (false, _) => "",
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(&text));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
    if shown < table.len() {
        let _ = writeln!(
            h,
            "<p class=\"table-note\">Showing the first {shown} of {} rows.</p>",
            table.len()
        );
    }
    h.push_str("</div>\n");
    h
}

const CSS: &str = r#":root {
  --ink: #1f2933; --muted: #5f6b76; --rule: #d9dee3; --soft: #f5f7f9;
  --accent: #0072b2; --warn-bg: #fff6e5; --warn: #b35c00;
}
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; background: #ffffff; color: var(--ink);
  font-family: -apple-system, "Segoe UI", "Noto Sans", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.5rem 3rem; }
header { border-bottom: 2px solid var(--ink); padding-bottom: 1rem; margin-bottom: 1.5rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 0.75rem; font-weight: 650; }
h2 { font-size: 1.3rem; margin: 2.25rem 0 0.75rem; padding-bottom: 0.3rem;
  border-bottom: 1px solid var(--rule); font-weight: 650; }
h3 { font-size: 1.08rem; margin: 1.5rem 0 0.5rem; font-weight: 650; }
p, ul { margin: 0.5rem 0 1rem; max-width: 52rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1.25rem;
  margin: 0; padding: 0.75rem 1rem; background: var(--soft); border-radius: 4px; font-size: 0.9rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.85rem; overflow-wrap: anywhere; }
nav.toc { margin: 0 0 1.5rem; font-size: 0.95rem; }
nav.toc h2 { font-size: 1rem; border: none; margin: 0 0 0.25rem; }
nav.toc ol { margin: 0; padding-left: 1.5rem; }
a { color: var(--accent); }
.note { padding: 0.6rem 0.9rem; border-left: 4px solid var(--accent); background: var(--soft); }
.note.warning { border-left-color: var(--warn); background: var(--warn-bg); }
.table-wrap { overflow-x: auto; margin: 0.75rem 0 1.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; min-width: 40%; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 0.4rem; }
th, td { padding: 0.35rem 0.75rem; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
th { border-bottom: 2px solid var(--ink); font-weight: 600; white-space: nowrap; }
th .unit { display: block; font-weight: 400; color: var(--muted); font-size: 0.8rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.na { color: var(--muted); }
tbody tr:nth-child(even) { background: var(--soft); }
.table-note { font-size: 0.85rem; color: var(--muted); margin-top: 0.3rem; }
figure { margin: 1rem 0 2rem; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: var(--muted); margin-top: 0.5rem; max-width: 52rem; }
figcaption .label { font-weight: 600; color: var(--ink); }
footer { margin-top: 3rem; padding-top: 0.75rem; border-top: 1px solid var(--rule);
  font-size: 0.85rem; color: var(--muted); }
@media print {
  main { max-width: none; padding: 0; }
  figure, table { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;
