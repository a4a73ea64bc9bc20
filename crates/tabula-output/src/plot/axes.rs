//! Scales, ticks, frames, clipping and legends shared by all plot kinds.

use super::canvas::{Anchor, Baseline, Canvas, Font, Paint, AXIS, GRID, GRID_MINOR, MUTED, TEXT};
use super::fonts::{fit_text, text_width};
use crate::error::Result;
use crate::number::{linear_tick_labels, log_minor_ticks, log_tick_labels, log_ticks, nice_ticks};

/// Tick labels.
pub(crate) const TICK_FONT: Font = Font::new(11.0, false, MUTED);
/// Axis titles.
pub(crate) const AXIS_FONT: Font = Font::new(12.0, false, TEXT);
/// Panel titles.
pub(crate) const PANEL_FONT: Font = Font::new(13.0, true, TEXT);
/// Figure titles.
pub(crate) const TITLE_FONT: Font = Font::new(16.0, true, TEXT);
/// Legend entries.
pub(crate) const LEGEND_FONT: Font = Font::new(12.0, false, TEXT);
/// Outer margin of every figure, in pixels.
pub(crate) const MARGIN: f64 = 16.0;

/// Values beyond this magnitude are treated as this magnitude when scaling.
const HUGE: f64 = 1e300;

/// A mapping from data values to the unit interval, linear or base-10 logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Scale {
    /// A scale covering the finite `values` (positive ones for a log scale), widened by
    /// `pad` × span on each side. A linear scale over non-negative data does not go below
    /// zero when `zero_floor` is set. Empty or degenerate data get a sensible range.
    pub fn fit(
        values: impl IntoIterator<Item = f64>,
        log: bool,
        pad: f64,
        zero_floor: bool,
    ) -> Scale {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for v in values {
            if !v.is_finite() || (log && v <= 0.0) {
                continue;
            }
            let v = v.clamp(-HUGE, HUGE);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if log {
            if lo > hi {
                return Scale {
                    lo: 1.0,
                    hi: 10.0,
                    log,
                };
            }
            let (mut l, mut h) = (lo.log10(), hi.log10());
            if h - l < 1e-9 {
                l -= 0.5;
                h += 0.5;
            }
            let span = h - l;
            l -= pad * span;
            h += pad * span;
            Scale {
                lo: 10f64.powf(l.max(-300.0)),
                hi: 10f64.powf(h.min(300.0)),
                log,
            }
        } else {
            if lo > hi {
                return Scale {
                    lo: 0.0,
                    hi: 1.0,
                    log,
                };
            }
            let scale = lo.abs().max(hi.abs());
            if hi - lo <= scale * 1e-12 {
                if lo == 0.0 {
                    return Scale {
                        lo: 0.0,
                        hi: 1.0,
                        log,
                    };
                }
                let d = scale * 0.1;
                return Scale {
                    lo: lo - d,
                    hi: hi + d,
                    log,
                };
            }
            let span = hi - lo;
            let mut l = lo - pad * span;
            let h = hi + pad * span;
            if zero_floor && lo >= 0.0 && l < 0.0 {
                l = 0.0;
            }
            Scale { lo: l, hi: h, log }
        }
    }

    /// A fixed range (sanitised: non-finite or inverted ranges fall back to `fit`).
    pub fn fixed(lo: f64, hi: f64, log: bool) -> Scale {
        let ok = lo.is_finite() && hi.is_finite() && hi > lo && (!log || lo > 0.0);
        if ok {
            Scale { lo, hi, log }
        } else {
            Scale::fit([lo, hi], log, 0.05, false)
        }
    }

    /// Position of `v` in the range as a fraction (may fall outside 0..1). `None` for NaN;
    /// non-positive values on a log scale map far below the range.
    pub fn frac(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        let f = if self.log {
            if v <= 0.0 {
                return Some(-1e3);
            }
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v.clamp(-HUGE, HUGE) - self.lo) / (self.hi - self.lo)
        };
        if f.is_nan() {
            None
        } else {
            Some(f.clamp(-1e3, 1e3))
        }
    }

    /// Tick values and labels, about `target` of them.
    pub fn ticks(&self, target: usize) -> Ticks {
        let eps = (self.hi - self.lo).abs() * 1e-9;
        let within = |t: &f64| *t >= self.lo - eps && *t <= self.hi + eps;
        if self.log {
            let major: Vec<f64> = log_ticks(self.lo, self.hi, target)
                .into_iter()
                .filter(within)
                .collect();
            let labels = log_tick_labels(&major);
            let decades = major.len() >= 2
                && major
                    .iter()
                    .all(|t| (t.log10() - t.log10().round()).abs() < 1e-9)
                && major.windows(2).all(|w| (w[1] / w[0] - 10.0).abs() < 1e-6);
            let minor = if decades {
                log_minor_ticks(self.lo, self.hi)
            } else {
                Vec::new()
            };
            Ticks {
                major,
                labels,
                minor,
            }
        } else {
            let major: Vec<f64> = nice_ticks(self.lo, self.hi, target)
                .into_iter()
                .filter(within)
                .collect();
            let labels = linear_tick_labels(&major);
            Ticks {
                major,
                labels,
                minor: Vec::new(),
            }
        }
    }
}

/// Major ticks with their labels, and unlabelled minor ticks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ticks {
    pub major: Vec<f64>,
    pub labels: Vec<String>,
    pub minor: Vec<f64>,
}

impl Ticks {
    /// Widest label, in pixels.
    pub fn max_label_width(&self, font: Font) -> f64 {
        self.labels
            .iter()
            .map(|l| text_width(l, font.size, font.bold))
            .fold(0.0, f64::max)
    }
}

/// Ticks for a horizontal axis `length` pixels long whose labels do not overlap.
pub(crate) fn x_ticks(scale: &Scale, length: f64) -> Ticks {
    let max_target = ((length / 60.0) as usize).clamp(2, 10);
    let mut best = scale.ticks(2);
    for target in (2..=max_target).rev() {
        let t = scale.ticks(target);
        let pos: Vec<f64> = t
            .major
            .iter()
            .map(|v| scale.frac(*v).unwrap_or(0.0) * length)
            .collect();
        let widths: Vec<f64> = t
            .labels
            .iter()
            .map(|l| text_width(l, TICK_FONT.size, TICK_FONT.bold))
            .collect();
        let fits = pos
            .windows(2)
            .zip(widths.windows(2))
            .all(|(p, w)| p[1] - p[0] >= (w[0] + w[1]) / 2.0 + 10.0);
        if fits {
            return t;
        }
        best = t;
    }
    // Still crowded at two ticks: keep only the ends.
    if best.major.len() > 2 {
        let keep = [0, best.major.len() - 1];
        best = Ticks {
            major: keep.iter().map(|&i| best.major[i]).collect(),
            labels: keep.iter().map(|&i| best.labels[i].clone()).collect(),
            minor: Vec::new(),
        };
    }
    best
}

/// Ticks for a vertical axis `length` pixels long.
pub(crate) fn y_ticks(scale: &Scale, length: f64) -> Ticks {
    let max_target = ((length / 34.0) as usize).clamp(2, 8);
    let min_gap = TICK_FONT.size * 1.6;
    for target in (2..=max_target).rev() {
        let t = scale.ticks(target);
        let pos: Vec<f64> = t
            .major
            .iter()
            .map(|v| scale.frac(*v).unwrap_or(0.0) * length)
            .collect();
        if pos.windows(2).all(|p| (p[1] - p[0]).abs() >= min_gap) {
            return t;
        }
    }
    scale.ticks(2)
}

/// An axis-aligned rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// A plotting area: a pixel rectangle with an x and a y scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub rect: Rect,
    pub x: Scale,
    pub y: Scale,
}

impl Frame {
    /// Pixel x of data value `v` (may lie outside the rectangle).
    pub fn px(&self, v: f64) -> Option<f64> {
        self.x.frac(v).map(|f| self.rect.x0 + f * self.rect.width())
    }

    /// Pixel y of data value `v` (may lie outside the rectangle).
    pub fn py(&self, v: f64) -> Option<f64> {
        self.y
            .frac(v)
            .map(|f| self.rect.y1 - f * self.rect.height())
    }

    /// Pixel position of a data point.
    pub fn point(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        Some((self.px(x)?, self.py(y)?))
    }

    /// Whether a pixel lies inside the rectangle (with a small tolerance).
    pub fn contains(&self, p: (f64, f64)) -> bool {
        let r = self.rect;
        p.0 >= r.x0 - 0.5 && p.0 <= r.x1 + 0.5 && p.1 >= r.y0 - 0.5 && p.1 <= r.y1 + 0.5
    }
}

/// What to draw around a frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AxesStyle {
    pub x_labels: bool,
    pub y_labels: bool,
    pub x_grid: bool,
    pub y_grid: bool,
}

/// Draws grid lines, axis lines, tick marks and tick labels.
pub(crate) fn draw_axes(
    c: &mut Canvas<'_>,
    f: &Frame,
    xt: &Ticks,
    yt: &Ticks,
    style: AxesStyle,
) -> Result<()> {
    let r = f.rect;
    if style.y_grid {
        for v in &yt.minor {
            if let Some(y) = f.py(*v).filter(|y| *y > r.y0 && *y < r.y1) {
                c.line((r.x0, y), (r.x1, y), GRID_MINOR, 1)?;
            }
        }
        for v in &yt.major {
            if let Some(y) = f.py(*v).filter(|y| *y > r.y0 + 0.5 && *y < r.y1 - 0.5) {
                c.line((r.x0, y), (r.x1, y), GRID, 1)?;
            }
        }
    }
    if style.x_grid {
        for v in &xt.minor {
            if let Some(x) = f.px(*v).filter(|x| *x > r.x0 && *x < r.x1) {
                c.line((x, r.y0), (x, r.y1), GRID_MINOR, 1)?;
            }
        }
        for v in &xt.major {
            if let Some(x) = f.px(*v).filter(|x| *x > r.x0 + 0.5 && *x < r.x1 - 0.5) {
                c.line((x, r.y0), (x, r.y1), GRID, 1)?;
            }
        }
    }
    c.line((r.x0, r.y1), (r.x1, r.y1), AXIS, 1)?;
    c.line((r.x0, r.y0), (r.x0, r.y1), AXIS, 1)?;
    if style.x_labels {
        for (v, label) in xt.major.iter().zip(&xt.labels) {
            if let Some(x) = f.px(*v) {
                c.line((x, r.y1), (x, r.y1 + 4.0), AXIS, 1)?;
                c.text(
                    label,
                    (x, r.y1 + 7.0),
                    TICK_FONT,
                    Anchor::Middle,
                    Baseline::Top,
                    false,
                )?;
            }
        }
    }
    if style.y_labels {
        for (v, label) in yt.major.iter().zip(&yt.labels) {
            if let Some(y) = f.py(*v) {
                c.line((r.x0 - 4.0, y), (r.x0, y), AXIS, 1)?;
                c.text(
                    label,
                    (r.x0 - 7.0, y),
                    TICK_FONT,
                    Anchor::End,
                    Baseline::Middle,
                    false,
                )?;
            }
        }
    }
    Ok(())
}

/// Height of a row of x tick labels below a frame, including the gap.
pub(crate) fn x_tick_band() -> f64 {
    7.0 + TICK_FONT.size * 1.3
}

/// Axis title text: `label (unit)`, or either alone.
pub(crate) fn axis_title(label: &str, unit: Option<&str>) -> String {
    match unit.filter(|u| !u.is_empty()) {
        Some(u) if !label.is_empty() => format!("{label} ({u})"),
        Some(u) => u.to_string(),
        None => label.to_string(),
    }
}

/// Clips a polyline to `r`. `None` points break the line. Returns the visible runs.
pub(crate) fn clip_polyline(points: &[Option<(f64, f64)>], r: Rect) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let flush = |current: &mut Vec<(f64, f64)>, runs: &mut Vec<Vec<(f64, f64)>>| {
        if current.len() >= 2 {
            runs.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    if points.len() == 1 {
        if let Some(p) = points[0] {
            if p.0 >= r.x0 && p.0 <= r.x1 && p.1 >= r.y0 && p.1 <= r.y1 {
                // A single point: a tiny horizontal tick so that it stays visible.
                return vec![vec![(p.0 - 2.0, p.1), (p.0 + 2.0, p.1)]];
            }
        }
        return runs;
    }
    for w in points.windows(2) {
        match (w[0], w[1]) {
            (Some(a), Some(b)) => match clip_segment(a, b, r) {
                Some((ca, cb)) => {
                    let continues = current
                        .last()
                        .is_some_and(|l| (l.0 - ca.0).abs() < 1e-6 && (l.1 - ca.1).abs() < 1e-6);
                    if !continues {
                        flush(&mut current, &mut runs);
                        current.push(ca);
                    }
                    current.push(cb);
                }
                None => flush(&mut current, &mut runs),
            },
            _ => flush(&mut current, &mut runs),
        }
    }
    flush(&mut current, &mut runs);
    runs
}

/// Liang–Barsky clipping of the segment `a`–`b` to `r`.
fn clip_segment(a: (f64, f64), b: (f64, f64), r: Rect) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, a.0 - r.x0),
        (dx, r.x1 - a.0),
        (-dy, a.1 - r.y0),
        (dy, r.y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// Sutherland–Hodgman clipping of a polygon to `r`.
pub(crate) fn clip_polygon(points: &[(f64, f64)], r: Rect) -> Vec<(f64, f64)> {
    type Inside = fn((f64, f64), Rect) -> bool;
    type Cross = fn((f64, f64), (f64, f64), Rect) -> (f64, f64);
    let edges: [(Inside, Cross); 4] = [
        (|p, r| p.0 >= r.x0, |a, b, r| lerp(a, b, r.x0, true)),
        (|p, r| p.0 <= r.x1, |a, b, r| lerp(a, b, r.x1, true)),
        (|p, r| p.1 >= r.y0, |a, b, r| lerp(a, b, r.y0, false)),
        (|p, r| p.1 <= r.y1, |a, b, r| lerp(a, b, r.y1, false)),
    ];
    let mut poly: Vec<(f64, f64)> = points.to_vec();
    for (inside, cross) in edges {
        if poly.is_empty() {
            break;
        }
        let input = std::mem::take(&mut poly);
        let mut prev = input[input.len() - 1];
        for &cur in &input {
            let (ci, pi) = (inside(cur, r), inside(prev, r));
            if ci {
                if !pi {
                    poly.push(cross(prev, cur, r));
                }
                poly.push(cur);
            } else if pi {
                poly.push(cross(prev, cur, r));
            }
            prev = cur;
        }
    }
    poly
}

fn lerp(a: (f64, f64), b: (f64, f64), at: f64, vertical_edge: bool) -> (f64, f64) {
    if vertical_edge {
        let t = if b.0 != a.0 {
            (at - a.0) / (b.0 - a.0)
        } else {
            0.0
        };
        (at, a.1 + t * (b.1 - a.1))
    } else {
        let t = if b.1 != a.1 {
            (at - a.1) / (b.1 - a.1)
        } else {
            0.0
        };
        (a.0 + t * (b.0 - a.0), at)
    }
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    /// A line segment.
    Line,
    /// A shaded band with its median line.
    Band,
    /// A shaded band without a line.
    Shade,
    /// A dashed grey line (dose markers).
    Dashed,
    /// A small vertical tick (censoring).
    Tick,
    /// A filled square (bars).
    Square,
    /// A point with a horizontal range (observed values).
    PointRange,
    /// A thick bar with a median mark (simulated intervals).
    Interval,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct LegendItem {
    pub label: String,
    pub paint: Paint,
    pub swatch: Swatch,
}

const SWATCH_W: f64 = 24.0;
const LEGEND_ROW: f64 = 20.0;

fn item_width(item: &LegendItem) -> f64 {
    SWATCH_W + 6.0 + text_width(&item.label, LEGEND_FONT.size, LEGEND_FONT.bold) + 18.0
}

/// Places legend items in rows no wider than `width`: (row, x offset) per item.
fn legend_layout(items: &[LegendItem], width: f64) -> (Vec<(usize, f64)>, usize) {
    let mut places = Vec::with_capacity(items.len());
    let (mut row, mut x) = (0usize, 0.0);
    for item in items {
        let w = item_width(item);
        if x > 0.0 && x + w - 18.0 > width {
            row += 1;
            x = 0.0;
        }
        places.push((row, x));
        x += w;
    }
    let rows = if items.is_empty() { 0 } else { row + 1 };
    (places, rows)
}

/// Height a legend takes in a space `width` pixels wide (0 when empty).
pub(crate) fn legend_height(items: &[LegendItem], width: f64) -> f64 {
    let (_, rows) = legend_layout(items, width);
    rows as f64 * LEGEND_ROW
}

/// Draws a legend with its top-left corner at `origin`.
pub(crate) fn draw_legend(
    c: &mut Canvas<'_>,
    items: &[LegendItem],
    origin: (f64, f64),
    width: f64,
) -> Result<()> {
    let (places, _) = legend_layout(items, width);
    for (item, (row, dx)) in items.iter().zip(places) {
        let x = origin.0 + dx;
        let y = origin.1 + row as f64 * LEGEND_ROW + LEGEND_ROW / 2.0;
        draw_swatch(c, item, x, y)?;
        let max_label = (width - dx - SWATCH_W - 6.0).max(20.0);
        let label = fit_text(&item.label, LEGEND_FONT.size, LEGEND_FONT.bold, max_label);
        c.text(
            &label,
            (x + SWATCH_W + 6.0, y),
            LEGEND_FONT,
            Anchor::Start,
            Baseline::Middle,
            false,
        )?;
    }
    Ok(())
}

fn draw_swatch(c: &mut Canvas<'_>, item: &LegendItem, x: f64, y: f64) -> Result<()> {
    let p = item.paint;
    match item.swatch {
        Swatch::Line => c.line((x, y), (x + SWATCH_W, y), p, 2),
        Swatch::Band => {
            c.fill_rect((x, y - 6.0), (x + SWATCH_W, y + 6.0), p.alpha(0.22))?;
            c.line((x, y), (x + SWATCH_W, y), p, 2)
        }
        Swatch::Shade => c.fill_rect((x, y - 6.0), (x + SWATCH_W, y + 6.0), p.alpha(0.22)),
        Swatch::Dashed => c.dashed((x, y), (x + SWATCH_W, y), p, 1, 3.0),
        Swatch::Tick => {
            c.line((x, y), (x + SWATCH_W, y), p, 2)?;
            c.line(
                (x + SWATCH_W / 2.0, y - 5.0),
                (x + SWATCH_W / 2.0, y + 5.0),
                p,
                2,
            )
        }
        Swatch::Square => c.fill_rect((x + 6.0, y - 6.0), (x + 18.0, y + 6.0), p),
        Swatch::PointRange => {
            c.line((x + 2.0, y), (x + SWATCH_W - 2.0, y), p, 2)?;
            c.diamond((x + SWATCH_W / 2.0, y), 5.0, p)
        }
        Swatch::Interval => {
            c.fill_rect((x, y - 4.0), (x + SWATCH_W, y + 4.0), p.alpha(0.35))?;
            c.line(
                (x + SWATCH_W / 2.0, y - 7.0),
                (x + SWATCH_W / 2.0, y + 7.0),
                p,
                3,
            )
        }
    }
}

/// Draws the figure title (if any) and legend (if any) at the top; returns the y where
/// the content below them starts.
pub(crate) fn draw_header(
    c: &mut Canvas<'_>,
    title: Option<&str>,
    legend: &[LegendItem],
    width: f64,
) -> Result<f64> {
    let mut y = MARGIN;
    if let Some(t) = title.filter(|t| !t.is_empty()) {
        let t = fit_text(t, TITLE_FONT.size, TITLE_FONT.bold, width - 2.0 * MARGIN);
        c.text(
            &t,
            (MARGIN, y),
            TITLE_FONT,
            Anchor::Start,
            Baseline::Top,
            false,
        )?;
        y += TITLE_FONT.size * 1.6;
    }
    if !legend.is_empty() {
        draw_legend(c, legend, (MARGIN, y), width - 2.0 * MARGIN)?;
        y += legend_height(legend, width - 2.0 * MARGIN) + 4.0;
    }
    Ok(y + 4.0)
}

/// Height that [`draw_header`] will use.
pub(crate) fn header_height(title: Option<&str>, legend: &[LegendItem], width: f64) -> f64 {
    let mut y = MARGIN;
    if title.is_some_and(|t| !t.is_empty()) {
        y += TITLE_FONT.size * 1.6;
    }
    if !legend.is_empty() {
        y += legend_height(legend, width - 2.0 * MARGIN) + 4.0;
    }
    y + 4.0
}

/// "No data" in the middle of a frame.
pub(crate) fn draw_no_data(c: &mut Canvas<'_>, r: Rect) -> Result<()> {
    c.text(
        "No data",
        ((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0),
        Font::new(12.0, false, MUTED),
        Anchor::Middle,
        Baseline::Middle,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_tick_labels_never_overlap() {
        let ranges = [
            (0.0, 1.0, false),
            (0.0, 730.0, false),
            (-1e6, 3e7, false),
            (0.001, 0.0013, false),
            (1e-3, 1e9, true),
            (2.0, 7.0, true),
            (123456.0, 123457.5, false),
        ];
        for (lo, hi, log) in ranges {
            let scale = Scale::fixed(lo, hi, log);
            for length in [60.0, 120.0, 250.0, 400.0, 900.0] {
                let t = x_ticks(&scale, length);
                assert!(!t.major.is_empty(), "{lo}..{hi} at {length}px");
                let pos: Vec<f64> = t
                    .major
                    .iter()
                    .map(|v| scale.frac(*v).unwrap() * length)
                    .collect();
                let widths: Vec<f64> = t
                    .labels
                    .iter()
                    .map(|l| text_width(l, TICK_FONT.size, false))
                    .collect();
                if length >= 120.0 {
                    for (p, w) in pos.windows(2).zip(widths.windows(2)) {
                        assert!(
                            p[1] - p[0] >= (w[0] + w[1]) / 2.0,
                            "{lo}..{hi} at {length}px: {:?}",
                            t.labels
                        );
                    }
                }
                assert!(t
                    .major
                    .iter()
                    .all(|v| *v >= lo * (1.0 - 1e-9) - 1e-12 && *v <= hi * (1.0 + 1e-9) + 1e-12));
            }
        }
    }

    #[test]
    fn degenerate_scales_are_padded() {
        let s = Scale::fit([5.0, 5.0], false, 0.05, true);
        assert!(s.lo < 5.0 && s.hi > 5.0);
        let s = Scale::fit([0.0], false, 0.05, true);
        assert_eq!((s.lo, s.hi), (0.0, 1.0));
        let s = Scale::fit([-3.0, 0.0], true, 0.05, false);
        assert_eq!((s.lo, s.hi), (1.0, 10.0));
        let s = Scale::fit([f64::NAN, f64::INFINITY], false, 0.05, false);
        assert_eq!((s.lo, s.hi), (0.0, 1.0));
        let s = Scale::fit([1.0, 2.0], false, 0.05, true);
        assert!(s.lo >= 0.0 && s.lo < 1.0);
        let s = Scale::fixed(3.0, 1.0, false);
        assert!(s.hi > s.lo);
    }

    #[test]
    fn clipping_keeps_inside_parts() {
        let r = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 10.0,
            y1: 10.0,
        };
        let runs = clip_polyline(
            &[
                Some((-5.0, 5.0)),
                Some((5.0, 5.0)),
                Some((15.0, 5.0)),
                None,
                Some((1.0, 1.0)),
                Some((2.0, 2.0)),
            ],
            r,
        );
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 5.0), (5.0, 5.0), (10.0, 5.0)],
                vec![(1.0, 1.0), (2.0, 2.0)]
            ]
        );
        let poly = clip_polygon(&[(-5.0, -5.0), (15.0, -5.0), (15.0, 15.0), (-5.0, 15.0)], r);
        assert_eq!(poly.len(), 4);
        assert!(poly
            .iter()
            .all(|p| p.0 >= 0.0 && p.0 <= 10.0 && p.1 >= 0.0 && p.1 <= 10.0));
        assert!(clip_polygon(&[(20.0, 20.0), (30.0, 20.0), (30.0, 30.0)], r).is_empty());
    }
}
