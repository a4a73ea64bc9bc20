//! HTML reports: escaping, structure, self-containment.

use tabula_output::html::{escape, HtmlTableOptions, NoteKind, Report};
use tabula_output::plot::{time_courses, Line, Panel, TimeCourseOptions};
use tabula_output::{Column, Table};

const EVIL: &str = "<script>alert('x')</script> & \"quotes\"";

#[test]
fn escape_covers_the_special_characters() {
    assert_eq!(escape("a<b>c&d\"e'f"), "a&lt;b&gt;c&amp;d&quot;e&#39;f");
    assert_eq!(escape("µ ≥ 5 — ok"), "µ ≥ 5 — ok");
    assert_eq!(escape(""), "");
}

#[test]
fn all_text_is_escaped() {
    let mut table = Table::from_columns(vec![
        (EVIL, Column::from(vec![EVIL, "plain"])),
        ("value", Column::from(vec![1.0, f64::NAN])),
    ])
    .unwrap();
    table.set_unit("value", EVIL).unwrap();
    table.set_description("value", EVIL).unwrap();
    let panel = Panel::new(EVIL).with_line(Line::new(EVIL, vec![0.0, 1.0], vec![1.0, 2.0]));
    let fig = time_courses(
        &[panel],
        &TimeCourseOptions {
            title: Some(EVIL.into()),
            ..Default::default()
        },
    )
    .unwrap();

    let mut r = Report::new(EVIL);
    r.metadata(EVIL, EVIL)
        .section(EVIL)
        .subsection(EVIL)
        .paragraph(EVIL)
        .list([EVIL])
        .note(NoteKind::Warning, EVIL)
        .table(&table, Some(EVIL))
        .figure(&fig, EVIL)
        .footer(EVIL);
    let html = r.to_html();
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(!html.contains("alert('x')"));
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
}

#[test]
fn report_is_self_contained_and_structured() {
    let table = Table::from_columns(vec![
        ("arm", Column::from(vec!["A", "B"])),
        ("remission", Column::from(vec![0.8213456, f64::NAN])),
        ("n", Column::from(vec![10_u64, 12])),
    ])
    .unwrap();
    let panel = Panel::new("B cells").with_line(Line::new("A", vec![0.0, 1.0], vec![1.0, 2.0]));
    let fig = time_courses(&[panel], &TimeCourseOptions::default()).unwrap();
    let mut r = Report::new("Trial");
    r.metadata("Seed", "42")
        .metadata("Command", "tabula trial x.toml")
        .section("One")
        .paragraph("line 1\nline 2")
        .table(&table, Some("Endpoints"))
        .section("Two")
        .figure(&fig, "Time course")
        .section("Three");
    let html = r.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Trial</title>"));
    assert!(html.contains("<dt>Seed</dt><dd>42</dd>"));
    assert!(html.contains("<nav class=\"toc\">"));
    assert!(html.contains("<section id=\"s3\">"));
    assert!(html.contains("line 1<br>\nline 2"));
    assert!(html.contains("<td class=\"num\">0.8213</td>"));
    assert!(html.contains("<td class=\"num na\">—</td>"));
    assert!(html.contains("<svg"));
    assert!(html.contains("Figure 1.</span> Time course"));
    // No external resources and no scripts.
    for bad in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "found {bad}");
    }
    // Same input, same bytes.
    assert_eq!(html, r.to_html());
}

#[test]
fn long_tables_are_truncated_with_a_note() {
    let n = 1000;
    let table = Table::from_columns(vec![(
        "patient",
        Column::from((0..n).collect::<Vec<u64>>()),
    )])
    .unwrap();
    let mut r = Report::new("t");
    r.table_with(
        &table,
        None,
        &HtmlTableOptions {
            max_rows: 10,
            ..Default::default()
        },
    );
    let html = r.to_html();
    assert_eq!(html.matches("<tr>").count(), 11);
    assert!(html.contains("Showing the first 10 of 1000 rows."));
}
