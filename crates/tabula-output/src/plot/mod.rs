//! Plots: SVG (always) and PNG, drawn with plotters' SVG back end.
//!
//! Every plot function takes plain data and an options struct and returns a [`Figure`],
//! which holds the SVG text and can be saved as SVG or PNG ([`Figure::save`]) or inlined
//! into an HTML report ([`crate::html::Report::figure`]).
//!
//! | function | shows |
//! |---|---|
//! | [`time_courses`] | small multiples, one panel per observable: lines per arm, quantile bands, dose markers, optional log y |
//! | [`survival_curves`] | Kaplan–Meier-type step curves with censoring ticks and optional confidence bands |
//! | [`observed_vs_simulated`] | validation rows: simulated median and interval against the observed value and range |
//! | [`bar_chart`] | horizontal (grouped) bars with optional error bars: Morris μ*/σ, Sobol S1/ST |
//! | [`forest_plot`] | estimates with confidence intervals, a reference line and the numbers printed |
//!
//! # Fonts, SVG and PNG
//!
//! Plotters is built with only its `svg_backend` feature: no `ttf` (which loads system
//! fonts through font-kit and fails on machines without fonts) and no bitmap back end.
//! SVG files contain `<text>` elements with the font stack
//! `Noto Sans, Helvetica, Arial, sans-serif`; the viewer draws the text, so producing SVG
//! needs no font at all.
//!
//! Layout (label widths, legend wrapping, margins) is measured with the metrics of an
//! embedded font, **Noto Sans** Regular and Bold, subset to Latin, Greek and common
//! symbols (about 34 KB each; SIL Open Font License 1.1, licence and provenance in the
//! crate's `fonts/` directory). PNG files are made by rasterising the same SVG with
//! `resvg` using only those embedded fonts (system font lookup is compiled out), so PNG
//! output is identical on every machine, fonts installed or not. This was preferred over
//! plotters' bitmap back end with `ab_glyph`, which draws unantialiased lines and would
//! lay text out differently from the SVG.
//!
//! # Look
//!
//! Colours follow the Okabe–Ito palette ([`OKABE_ITO`]), which stays distinguishable
//! with the common colour-vision deficiencies. Tick labels share one number of decimals
//! per axis, use a true minus sign and `×10ⁿ` for large magnitudes, and are thinned
//! until they do not overlap. Non-finite values are skipped (lines break there), empty
//! data give an empty frame marked "No data", and degenerate ranges are padded.

mod axes;
mod bars;
mod canvas;
pub(crate) mod fonts;
mod survival;
mod timecourse;
mod validation;

pub use bars::{bar_chart, forest_plot, BarOptions, BarSeries, ForestOptions, ForestRow};
pub use survival::{survival_curves, SurvivalCurve, SurvivalOptions};
pub use timecourse::{time_courses, Band, Line, Panel, TimeCourseOptions};
pub use validation::{observed_vs_simulated, Interval, ValidationPlotOptions, ValidationRow};

use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg;

use crate::atomic::write_atomic;
use crate::error::{OutputError, Result};
use canvas::Paint;

/// The Okabe–Ito colour-blind-safe palette, in the order series use it: blue, vermillion,
/// bluish green, orange, reddish purple, sky blue, black, yellow.
pub const OKABE_ITO: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xB2),
    (0xD5, 0x5E, 0x00),
    (0x00, 0x9E, 0x73),
    (0xE6, 0x9F, 0x00),
    (0xCC, 0x79, 0xA7),
    (0x56, 0xB4, 0xE9),
    (0x00, 0x00, 0x00),
    (0xF0, 0xE4, 0x42),
];

/// The colour of series number `i` (cycling through [`OKABE_ITO`]).
pub(crate) fn series_paint(i: usize) -> Paint {
    let (r, g, b) = OKABE_ITO[i % OKABE_ITO.len()];
    Paint::rgb(r, g, b)
}

/// Image file format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImageFormat {
    /// Scalable vector graphics (text stays text).
    Svg,
    /// Portable network graphics, rasterised at `scale` × the figure's pixel size
    /// (2 gives sharp images on high-density screens and in print).
    Png {
        /// Resolution multiplier (clamped to 0.1–8).
        scale: f32,
    },
}

impl ImageFormat {
    /// The format implied by a file extension: `.svg` or `.png` (PNG at scale 2).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png { scale: 2.0 }),
            _ => Err(OutputError::UnknownFormat {
                path: path.to_path_buf(),
                expected: ".svg, .png",
            }),
        }
    }
}

/// A drawn figure: SVG text with its size in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    svg: String,
    width: u32,
    height: u32,
}

impl Figure {
    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// The SVG document, by value.
    pub fn into_svg(self) -> String {
        self.svg
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Rasterises the figure to PNG bytes at `scale` × its pixel size.
    pub fn to_png(&self, scale: f32) -> Result<Vec<u8>> {
        svg_to_png(&self.svg, scale).map_err(|reason| OutputError::Png { path: None, reason })
    }

    /// Saves the figure atomically; the format follows the extension (`.svg`, `.png`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let format = ImageFormat::from_path(&path)?;
        self.save_as(path, format)
    }

    /// Saves the figure atomically in `format`.
    pub fn save_as(&self, path: impl AsRef<Path>, format: ImageFormat) -> Result<()> {
        let path = path.as_ref();
        match format {
            ImageFormat::Svg => write_atomic(path, self.svg.as_bytes()),
            ImageFormat::Png { scale } => {
                let png = svg_to_png(&self.svg, scale).map_err(|reason| OutputError::Png {
                    path: Some(path.to_path_buf()),
                    reason,
                })?;
                write_atomic(path, &png)
            }
        }
    }
}

/// The font database for rasterising: the embedded fonts only.
fn font_database() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(fonts::REGULAR.to_vec());
        db.load_font_data(fonts::BOLD.to_vec());
        db.set_sans_serif_family(fonts::EMBEDDED_FAMILY);
        db.set_serif_family(fonts::EMBEDDED_FAMILY);
        db.set_monospace_family(fonts::EMBEDDED_FAMILY);
        Arc::new(db)
    })
    .clone()
}

/// Rasterises an SVG document with the embedded fonts.
pub(crate) fn svg_to_png(svg: &str, scale: f32) -> std::result::Result<Vec<u8>, String> {
    let scale = if scale.is_finite() {
        scale.clamp(0.1, 8.0)
    } else {
        2.0
    };
    let opt = usvg::Options {
        font_family: fonts::EMBEDDED_FAMILY.to_string(),
        fontdb: font_database(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| e.to_string())?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    if u64::from(w) * u64::from(h) > 200_000_000 {
        return Err(format!("the image would be {w} × {h} pixels, too large"));
    }
    let mut pixmap = tiny_skia::Pixmap::new(w.max(1), h.max(1))
        .ok_or_else(|| format!("cannot allocate a {w} × {h} image"))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| e.to_string())
}
