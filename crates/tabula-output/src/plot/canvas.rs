//! Drawing primitives on plotters' SVG back end, in pixel coordinates.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle, FontTransform};

use super::fonts::FONT_STACK;
use super::Figure;
use crate::error::{OutputError, Result};

/// An RGB colour with opacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Paint {
    pub rgb: (u8, u8, u8),
    pub alpha: f64,
}

impl Paint {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Paint {
        Paint {
            rgb: (r, g, b),
            alpha: 1.0,
        }
    }

    pub fn alpha(self, alpha: f64) -> Paint {
        Paint { alpha, ..self }
    }

    fn color(self) -> RGBAColor {
        RGBColor(self.rgb.0, self.rgb.1, self.rgb.2).mix(self.alpha)
    }
}

pub(crate) const TEXT: Paint = Paint::rgb(0x22, 0x22, 0x22);
pub(crate) const MUTED: Paint = Paint::rgb(0x55, 0x55, 0x55);
pub(crate) const AXIS: Paint = Paint::rgb(0x70, 0x70, 0x70);
pub(crate) const GRID: Paint = Paint::rgb(0xE4, 0xE4, 0xE4);
pub(crate) const GRID_MINOR: Paint = Paint::rgb(0xF0, 0xF0, 0xF0);
pub(crate) const STRIPE: Paint = Paint::rgb(0xF5, 0xF6, 0xF7);
pub(crate) const MARKER: Paint = Paint::rgb(0x88, 0x88, 0x88);

/// Horizontal anchor of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// Vertical anchor of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Baseline {
    Top,
    Middle,
}

/// Font settings of one piece of text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Font {
    pub size: f64,
    pub bold: bool,
    pub paint: Paint,
}

impl Font {
    pub const fn new(size: f64, bold: bool, paint: Paint) -> Font {
        Font { size, bold, paint }
    }
}

/// Drawing units per pixel. The back end takes integer coordinates, so figures are drawn
/// on a grid this many times finer than the pixel and the SVG's `viewBox` scales it back:
/// lines and text are placed to a quarter pixel.
const UNITS: f64 = 4.0;

/// Drawing units of a pixel coordinate, limited to a range the back end's `i32` handles.
fn px(v: f64) -> i32 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(-1e5, 1e5) * UNITS).round() as i32
    }
}

/// Drawing units of a line width in pixels.
fn stroke(width: impl Into<f64>) -> u32 {
    (width.into() * UNITS).round().clamp(1.0, 400.0) as u32
}

/// A figure being drawn.
pub(crate) struct Canvas<'a> {
    area: DrawingArea<SVGBackend<'a>, Shift>,
    title: String,
}

impl Canvas<'_> {
    fn fail(&self, e: impl std::fmt::Display) -> OutputError {
        OutputError::Plot {
            title: self.title.clone(),
            reason: e.to_string(),
        }
    }

    /// A polyline.
    pub fn polyline(
        &mut self,
        points: &[(f64, f64)],
        paint: Paint,
        width: impl Into<f64>,
    ) -> Result<()> {
        if points.len() < 2 {
            return Ok(());
        }
        let pts: Vec<(i32, i32)> = points.iter().map(|&(x, y)| (px(x), px(y))).collect();
        let style = ShapeStyle {
            color: paint.color(),
            filled: false,
            stroke_width: stroke(width),
        };
        self.area
            .draw(&PathElement::new(pts, style))
            .map_err(|e| self.fail(e))
    }

    /// A straight line.
    pub fn line(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        paint: Paint,
        width: impl Into<f64> + Copy,
    ) -> Result<()> {
        self.polyline(&[a, b], paint, width)
    }

    /// A dashed straight line.
    pub fn dashed(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        paint: Paint,
        width: impl Into<f64> + Copy,
        dash: f64,
    ) -> Result<()> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        if !(len.is_finite() && len > 0.0) {
            return Ok(());
        }
        let n = ((len / (2.0 * dash)).ceil() as usize).min(2000);
        for i in 0..n {
            let t0 = (2 * i) as f64 * dash / len;
            let t1 = (((2 * i + 1) as f64) * dash / len).min(1.0);
            self.line(
                (a.0 + dx * t0, a.1 + dy * t0),
                (a.0 + dx * t1, a.1 + dy * t1),
                paint,
                width,
            )?;
        }
        Ok(())
    }

    /// A filled polygon.
    pub fn polygon(&mut self, points: &[(f64, f64)], paint: Paint) -> Result<()> {
        if points.len() < 3 {
            return Ok(());
        }
        let pts: Vec<(i32, i32)> = points.iter().map(|&(x, y)| (px(x), px(y))).collect();
        self.area
            .draw(&Polygon::new(pts, paint.color().filled()))
            .map_err(|e| self.fail(e))
    }

    /// A filled rectangle between two corners.
    pub fn fill_rect(&mut self, a: (f64, f64), b: (f64, f64), paint: Paint) -> Result<()> {
        self.area
            .draw(&Rectangle::new(
                [(px(a.0), px(a.1)), (px(b.0), px(b.1))],
                paint.color().filled(),
            ))
            .map_err(|e| self.fail(e))
    }

    /// A filled diamond centred on `c`.
    pub fn diamond(&mut self, c: (f64, f64), r: f64, paint: Paint) -> Result<()> {
        let pts = [
            (c.0, c.1 - r),
            (c.0 + r, c.1),
            (c.0, c.1 + r),
            (c.0 - r, c.1),
        ];
        let halo = [
            (c.0, c.1 - r - 1.5),
            (c.0 + r + 1.5, c.1),
            (c.0, c.1 + r + 1.5),
            (c.0 - r - 1.5, c.1),
        ];
        self.polygon(&halo, Paint::rgb(255, 255, 255))?;
        self.polygon(&pts, paint)
    }

    /// Text anchored at (`x`, `y`); `vertical` turns it 90° counter-clockwise.
    pub fn text(
        &mut self,
        text: &str,
        at: (f64, f64),
        font: Font,
        anchor: Anchor,
        baseline: Baseline,
        vertical: bool,
    ) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        // plotters writes `font-size` as size / 1.24.
        let desc = FontDesc::new(
            FontFamily::Name(FONT_STACK),
            font.size * UNITS * 1.24,
            if font.bold {
                FontStyle::Bold
            } else {
                FontStyle::Normal
            },
        );
        let desc = if vertical {
            desc.transform(FontTransform::Rotate270)
        } else {
            desc
        };
        let h = match anchor {
            Anchor::Start => HPos::Left,
            Anchor::Middle => HPos::Center,
            Anchor::End => HPos::Right,
        };
        let v = match baseline {
            Baseline::Top => VPos::Top,
            Baseline::Middle => VPos::Center,
        };
        let color = font.paint.color();
        let style = desc.color(&color).pos(Pos::new(h, v));
        self.area
            .draw(&Text::new(text.to_string(), (px(at.0), px(at.1)), style))
            .map_err(|e| self.fail(e))
    }
}

/// Draws a figure of `width` × `height` pixels on a white background.
pub(crate) fn render(
    width: u32,
    height: u32,
    title: &str,
    draw: impl FnOnce(&mut Canvas<'_>) -> Result<()>,
) -> Result<Figure> {
    let width = width.clamp(50, 20_000);
    let height = height.clamp(50, 50_000);
    let mut svg = String::new();
    let units = (
        (f64::from(width) * UNITS) as u32,
        (f64::from(height) * UNITS) as u32,
    );
    {
        let area = SVGBackend::with_string(&mut svg, units).into_drawing_area();
        let mut canvas = Canvas {
            area,
            title: title.to_string(),
        };
        canvas.area.fill(&WHITE).map_err(|e| canvas.fail(e))?;
        draw(&mut canvas)?;
        canvas.area.present().map_err(|e| canvas.fail(e))?;
    }
    // Display size in pixels; the viewBox keeps the finer drawing grid.
    let svg = svg.replacen(
        &format!("width=\"{}\" height=\"{}\"", units.0, units.1),
        &format!("width=\"{width}\" height=\"{height}\""),
        1,
    );
    Ok(Figure {
        svg: tidy_svg(&svg, title),
        width,
        height,
    })
}

/// Post-processes plotters' SVG: rounded font sizes, round line joins, a `<title>`.
fn tidy_svg(svg: &str, title: &str) -> String {
    let mut out = String::with_capacity(svg.len() + 256);
    let mut rest = svg;
    const KEY: &str = "font-size=\"";
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        match rest[..end].parse::<f64>() {
            Ok(v) => {
                let r = (v * 10.0).round() / 10.0;
                out.push_str(&format!("{r}"));
            }
            Err(_) => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let mut out = out.replace(
        "<polyline fill=\"none\"",
        "<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"",
    );
    if !title.is_empty() {
        if let Some(open_end) = out
            .find("<svg")
            .and_then(|s| out[s..].find('>').map(|e| s + e + 1))
        {
            let t = format!("\n<title>{}</title>", crate::html::escape(title));
            out.insert_str(open_end, &t);
        }
    }
    out
}
