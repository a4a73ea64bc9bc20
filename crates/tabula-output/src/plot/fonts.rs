//! The embedded fonts: text measurement for layout and the font database for PNG output.

use std::sync::OnceLock;

/// Noto Sans Regular, subset (SIL Open Font License 1.1; see `fonts/OFL.txt`).
pub(crate) static REGULAR: &[u8] = include_bytes!("../../fonts/NotoSans-Regular.ttf");
/// Noto Sans Bold, subset (SIL Open Font License 1.1; see `fonts/OFL.txt`).
pub(crate) static BOLD: &[u8] = include_bytes!("../../fonts/NotoSans-Bold.ttf");

/// The family name inside the embedded font files.
pub(crate) const EMBEDDED_FAMILY: &str = "Noto Sans";

/// The `font-family` written into SVG files: the embedded font first (used for PNG and
/// by viewers that have it), then metric-similar fallbacks.
pub(crate) const FONT_STACK: &str = "Noto Sans, Helvetica, Arial, sans-serif";

struct Metrics {
    units_per_em: f64,
    /// Advance widths of the printable ASCII range, in font units.
    ascii: [f64; 95],
    face: Option<ttf_parser::Face<'static>>,
    fallback: f64,
}

impl Metrics {
    fn load(data: &'static [u8]) -> Metrics {
        let face = ttf_parser::Face::parse(data, 0).ok();
        let units_per_em = face
            .as_ref()
            .map_or(1000.0, |f| f64::from(f.units_per_em()));
        let advance = |c: char| -> Option<f64> {
            let f = face.as_ref()?;
            let g = f.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
            f.glyph_hor_advance(g).map(f64::from)
        };
        let fallback = 0.55 * units_per_em;
        let mut ascii = [fallback; 95];
        for (i, slot) in ascii.iter_mut().enumerate() {
            if let Some(a) = advance(char::from(32 + i as u8)) {
                *slot = a;
            }
        }
        Metrics {
            units_per_em,
            ascii,
            face,
            fallback,
        }
    }

    fn advance(&self, c: char) -> f64 {
        let code = c as u32;
        if (32..127).contains(&code) {
            return self.ascii[(code - 32) as usize];
        }
        self.face
            .as_ref()
            .and_then(|f| {
                let g = f.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f.glyph_hor_advance(g)
            })
            .map_or(self.fallback, f64::from)
    }
}

fn metrics(bold: bool) -> &'static Metrics {
    static REG: OnceLock<Metrics> = OnceLock::new();
    static BLD: OnceLock<Metrics> = OnceLock::new();
    if bold {
        BLD.get_or_init(|| Metrics::load(BOLD))
    } else {
        REG.get_or_init(|| Metrics::load(REGULAR))
    }
}

/// Width in pixels of `text` set at `size` pixels (CSS font size).
pub(crate) fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let m = metrics(bold);
    let units: f64 = text.chars().map(|c| m.advance(c)).sum();
    units / m.units_per_em * size
}

/// Shortens `text` with an ellipsis so that it fits in `max_width` pixels.
pub(crate) fn fit_text(text: &str, size: f64, bold: bool, max_width: f64) -> String {
    if text_width(text, size, bold) <= max_width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if text_width(&candidate, size, bold) <= max_width {
            return candidate;
        }
    }
    String::new()
}
