//! A small XML writer: elements, attributes and text with proper escaping and indentation.

use std::fmt::Write;

/// Escapes text for use in element content or a double-quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow, even escaped, are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes an indented XML document into a string.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    stack: Vec<&'static str>,
    base: usize,
}

impl XmlWriter {
    /// A writer that starts with the XML declaration.
    pub fn new() -> XmlWriter {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            stack: Vec::new(),
            base: 0,
        }
    }

    /// A writer for a fragment (no XML declaration) that will be placed `depth` levels deep.
    pub fn fragment(depth: usize) -> XmlWriter {
        XmlWriter {
            out: String::new(),
            stack: Vec::new(),
            base: depth,
        }
    }

    /// Appends a finished fragment (see [`fragment`](Self::fragment)).
    pub fn append(&mut self, fragment: XmlWriter) {
        self.out.push_str(&fragment.finish());
    }

    /// Current nesting depth, counting the base depth of a fragment.
    pub fn depth(&self) -> usize {
        self.base + self.stack.len()
    }

    fn indent(&mut self) {
        for _ in 0..self.depth() {
            self.out.push_str("  ");
        }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
    }

    /// Opens an element; close it with [`close`](Self::close).
    pub fn open(&mut self, name: &'static str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.out.push_str(">\n");
        self.stack.push(name);
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.stack.pop() {
            self.indent();
            let _ = writeln!(self.out, "</{name}>");
        }
    }

    /// Writes an element without content.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// Writes an element whose content is escaped text, on one line.
    pub fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.tag(name, attrs);
        let _ = writeln!(self.out, ">{}</{name}>", escape(text));
    }

    /// Writes a line of already well-formed markup at the current indentation.
    pub fn raw(&mut self, markup: &str) {
        self.indent();
        self.out.push_str(markup);
        self.out.push('\n');
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("bell\u{7}"), "bell");
    }

    #[test]
    fn nests_and_indents() {
        let mut w = XmlWriter::new();
        w.open("a", &[("x", "1 < 2")]);
        w.empty("b", &[]);
        w.text_element("c", &[], "&");
        let s = w.finish();
        assert!(
            s.contains("<a x=\"1 &lt; 2\">\n  <b/>\n  <c>&amp;</c>\n</a>\n"),
            "{s}"
        );
    }
}
