//! Time courses and quantile bands, one panel per observable.

use super::axes::{
    axis_title, clip_polygon, clip_polyline, draw_axes, draw_header, draw_no_data, header_height,
    x_tick_band, x_ticks, y_ticks, AxesStyle, Frame, LegendItem, Rect, Scale, Swatch, AXIS_FONT,
    MARGIN, PANEL_FONT, TICK_FONT,
};
use super::canvas::{render, Anchor, Baseline, Canvas, Paint, MARKER, MUTED};
use super::fonts::fit_text;
use super::{series_paint, Figure};
use crate::error::Result;

/// A line through (x, y) points; non-finite points break it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    /// Legend label (typically the arm); lines and bands with the same label share a colour.
    pub label: String,
    /// x values (time).
    pub x: Vec<f64>,
    /// y values.
    pub y: Vec<f64>,
}

impl Line {
    /// A line from its label and coordinates (extra values in the longer vector are ignored).
    pub fn new(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Line {
            label: label.into(),
            x,
            y,
        }
    }
}

/// A shaded band between `lower` and `upper` (e.g. 5th and 95th percentiles) with an
/// optional middle line (e.g. the median; leave `middle` empty for none).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    /// Legend label (typically the arm).
    pub label: String,
    /// x values (time).
    pub x: Vec<f64>,
    /// Lower edge.
    pub lower: Vec<f64>,
    /// Middle line (may be empty).
    pub middle: Vec<f64>,
    /// Upper edge.
    pub upper: Vec<f64>,
}

impl Band {
    /// A band with a middle line.
    pub fn new(
        label: impl Into<String>,
        x: Vec<f64>,
        lower: Vec<f64>,
        middle: Vec<f64>,
        upper: Vec<f64>,
    ) -> Self {
        Band {
            label: label.into(),
            x,
            lower,
            middle,
            upper,
        }
    }
}

/// One panel: an observable with its unit, lines and bands.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Panel title (the observable's name).
    pub title: String,
    /// Unit of the y axis.
    pub unit: Option<String>,
    /// Lines, drawn over the bands.
    pub lines: Vec<Line>,
    /// Shaded bands.
    pub bands: Vec<Band>,
}

impl Panel {
    /// An empty panel.
    pub fn new(title: impl Into<String>) -> Self {
        Panel {
            title: title.into(),
            ..Panel::default()
        }
    }

    /// Sets the y unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Adds a line.
    pub fn with_line(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    /// Adds a band.
    pub fn with_band(mut self, band: Band) -> Self {
        self.bands.push(band);
        self
    }
}

/// Options of [`time_courses`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimeCourseOptions {
    /// Figure title.
    pub title: Option<String>,
    /// x-axis label (default `Time`).
    pub x_label: String,
    /// x-axis unit (e.g. `day`).
    pub x_unit: Option<String>,
    /// Logarithmic y axes (non-positive values fall below the axis).
    pub log_y: bool,
    /// Fixed x range; by default the range of the data.
    pub x_range: Option<(f64, f64)>,
    /// Times of vertical dashed markers (doses).
    pub markers: Vec<f64>,
    /// Legend text of the markers (default `Dose`).
    pub marker_label: String,
    /// Legend text explaining the shading, e.g. `Shaded: 5th–95th percentile`.
    pub band_note: Option<String>,
    /// Number of panel columns; by default 1 to 4 depending on the number of panels.
    pub columns: Option<usize>,
    /// Width of one panel in pixels (default 340; a lone panel defaults to 640).
    pub panel_width: Option<u32>,
    /// Height of one panel in pixels (default 240; a lone panel defaults to 380).
    pub panel_height: Option<u32>,
}

impl Default for TimeCourseOptions {
    fn default() -> Self {
        TimeCourseOptions {
            title: None,
            x_label: "Time".to_string(),
            x_unit: None,
            log_y: false,
            x_range: None,
            markers: Vec::new(),
            marker_label: "Dose".to_string(),
            band_note: None,
            columns: None,
            panel_width: None,
            panel_height: None,
        }
    }
}

/// Draws time courses as small multiples: one panel per observable, sharing the x axis,
/// each with its own y axis; lines and quantile bands share one colour per label and a
/// legend at the top.
///
/// ```
/// use tabula_output::plot::{time_courses, Band, Line, Panel, TimeCourseOptions};
///
/// let t: Vec<f64> = (0..=28).map(f64::from).collect();
/// let median: Vec<f64> = t.iter().map(|d| 250.0 * (-d / 5.0).exp()).collect();
/// let lo: Vec<f64> = median.iter().map(|m| m * 0.5).collect();
/// let hi: Vec<f64> = median.iter().map(|m| m * 1.8).collect();
/// let panel = Panel::new("CD19+ B cells, blood")
///     .with_unit("cells/µL")
///     .with_band(Band::new("CAR-T", t.clone(), lo, median.clone(), hi))
///     .with_line(Line::new("rituximab", t.clone(), median.iter().map(|m| m * 1.3).collect()));
/// let opts = TimeCourseOptions {
///     x_unit: Some("day".into()),
///     markers: vec![0.0],
///     band_note: Some("Shaded: 5th–95th percentile".into()),
///     ..TimeCourseOptions::default()
/// };
/// let fig = time_courses(&[panel], &opts).unwrap();
/// assert!(fig.svg().contains("rituximab"));
/// ```
pub fn time_courses(panels: &[Panel], opts: &TimeCourseOptions) -> Result<Figure> {
    let n = panels.len();
    let title = opts.title.as_deref().unwrap_or("time courses");
    let cols = opts
        .columns
        .unwrap_or(match n {
            0 | 1 => 1,
            2 | 4 => 2,
            3 | 5 | 6 | 9 => 3,
            _ => 4,
        })
        .clamp(1, n.max(1));
    let rows = n.max(1).div_ceil(cols);
    let (pw, ph) = match (n, opts.panel_width, opts.panel_height) {
        (1, None, None) => (640.0, 380.0),
        (_, w, h) => (f64::from(w.unwrap_or(340)), f64::from(h.unwrap_or(240))),
    };
    let pw = pw.clamp(120.0, 4000.0);
    let ph = ph.clamp(100.0, 4000.0);
    let width = 2.0 * MARGIN + cols as f64 * pw;

    // Colours by label, in order of first appearance.
    let mut labels: Vec<(String, bool)> = Vec::new();
    for p in panels {
        for (label, is_band) in p
            .bands
            .iter()
            .map(|b| (&b.label, true))
            .chain(p.lines.iter().map(|l| (&l.label, false)))
        {
            match labels.iter_mut().find(|(l, _)| l == label) {
                Some(entry) => entry.1 |= is_band,
                None => labels.push((label.clone(), is_band)),
            }
        }
    }
    let colour =
        |label: &str| series_paint(labels.iter().position(|(l, _)| l == label).unwrap_or(0));

    // The shared x scale.
    let x_scale = match opts.x_range {
        Some((a, b)) => Scale::fixed(a, b, false),
        None => Scale::fit(
            panels
                .iter()
                .flat_map(|p| {
                    p.lines
                        .iter()
                        .flat_map(|l| l.x.iter())
                        .chain(p.bands.iter().flat_map(|b| b.x.iter()))
                })
                .copied(),
            false,
            0.0,
            false,
        ),
    };
    let markers: Vec<f64> = opts
        .markers
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m >= x_scale.lo && *m <= x_scale.hi)
        .collect();

    let mut legend: Vec<LegendItem> = labels
        .iter()
        .filter(|(l, _)| !l.is_empty())
        .map(|(l, is_band)| LegendItem {
            label: l.clone(),
            paint: colour(l),
            swatch: if *is_band { Swatch::Band } else { Swatch::Line },
        })
        .collect();
    if let Some(note) = opts
        .band_note
        .as_ref()
        .filter(|_| labels.iter().any(|(_, b)| *b))
    {
        legend.push(LegendItem {
            label: note.clone(),
            paint: Paint::rgb(0x60, 0x60, 0x60),
            swatch: Swatch::Shade,
        });
    }
    if !markers.is_empty() && !opts.marker_label.is_empty() {
        legend.push(LegendItem {
            label: opts.marker_label.clone(),
            paint: MARKER,
            swatch: Swatch::Dashed,
        });
    }

    let header = header_height(opts.title.as_deref(), &legend, width);
    let x_title = axis_title(&opts.x_label, opts.x_unit.as_deref());
    let x_title_band = if x_title.is_empty() {
        0.0
    } else {
        AXIS_FONT.size * 1.8
    };
    let height = header + rows as f64 * ph + x_title_band + MARGIN;

    // Per-panel y scales and ticks; a common left inset so that frames line up.
    let title_band = PANEL_FONT.size * 1.7;
    let frame_h = (ph - title_band - x_tick_band() - 8.0).max(20.0);
    let y_scales: Vec<Scale> = panels
        .iter()
        .map(|p| panel_y_scale(p, &x_scale, opts.log_y))
        .collect();
    let y_tick_sets: Vec<_> = y_scales.iter().map(|s| y_ticks(s, frame_h)).collect();
    let has_units = panels
        .iter()
        .any(|p| p.unit.as_deref().is_some_and(|u| !u.is_empty()));
    let unit_band = if has_units { AXIS_FONT.size * 1.6 } else { 0.0 };
    let max_label = y_tick_sets
        .iter()
        .map(|t| t.max_label_width(TICK_FONT))
        .fold(0.0, f64::max);
    let left = unit_band + max_label + 12.0;
    let right_pad = 14.0;
    let frame_w = (pw - left - right_pad).max(20.0);
    let xt = x_ticks(&x_scale, frame_w);

    render(width.round() as u32, height.round() as u32, title, |c| {
        let top = draw_header(c, opts.title.as_deref(), &legend, width)?;
        if panels.is_empty() {
            let r = Rect {
                x0: MARGIN + left,
                y0: top + title_band,
                x1: MARGIN + left + frame_w,
                y1: top + title_band + frame_h,
            };
            draw_axes(
                c,
                &Frame {
                    rect: r,
                    x: x_scale,
                    y: Scale::fit([], false, 0.0, false),
                },
                &xt,
                &Default::default(),
                AXES,
            )?;
            return draw_no_data(c, r);
        }
        for (i, panel) in panels.iter().enumerate() {
            let (col, row) = (i % cols, i / cols);
            let cell_x = MARGIN + col as f64 * pw;
            let cell_y = top + row as f64 * ph;
            let rect = Rect {
                x0: cell_x + left,
                y0: cell_y + title_band,
                x1: cell_x + left + frame_w,
                y1: cell_y + title_band + frame_h,
            };
            let frame = Frame {
                rect,
                x: x_scale,
                y: y_scales[i],
            };
            let ptitle = fit_text(&panel.title, PANEL_FONT.size, PANEL_FONT.bold, pw - 8.0);
            c.text(
                &ptitle,
                (cell_x + 2.0, cell_y + 2.0),
                PANEL_FONT,
                Anchor::Start,
                Baseline::Top,
                false,
            )?;
            if let Some(unit) = panel.unit.as_deref().filter(|u| !u.is_empty()) {
                let u = fit_text(unit, AXIS_FONT.size, false, frame_h);
                let font = super::canvas::Font::new(AXIS_FONT.size, false, MUTED);
                c.text(
                    &u,
                    (cell_x + AXIS_FONT.size * 0.6, (rect.y0 + rect.y1) / 2.0),
                    font,
                    Anchor::Middle,
                    Baseline::Middle,
                    true,
                )?;
            }
            draw_axes(c, &frame, &xt, &y_tick_sets[i], AXES)?;
            draw_markers(c, &frame, &markers)?;
            let mut any = false;
            for band in &panel.bands {
                any |= draw_band(c, &frame, band, colour(&band.label))?;
            }
            for line in &panel.lines {
                any |= draw_line(c, &frame, &line.x, &line.y, colour(&line.label), 2)?;
            }
            if !any {
                draw_no_data(c, rect)?;
            }
        }
        if !x_title.is_empty() {
            let y = top + rows as f64 * ph + 2.0;
            let t = fit_text(&x_title, AXIS_FONT.size, false, width - 2.0 * MARGIN);
            c.text(
                &t,
                (width / 2.0, y),
                AXIS_FONT,
                Anchor::Middle,
                Baseline::Top,
                false,
            )?;
        }
        Ok(())
    })
}

const AXES: AxesStyle = AxesStyle {
    x_labels: true,
    y_labels: true,
    x_grid: true,
    y_grid: true,
};

/// The y scale of a panel: all finite values whose x lies in the shown range.
fn panel_y_scale(p: &Panel, x: &Scale, log: bool) -> Scale {
    let in_x = |t: f64| t >= x.lo && t <= x.hi;
    let mut ys: Vec<f64> = Vec::new();
    for l in &p.lines {
        ys.extend(
            l.x.iter()
                .zip(&l.y)
                .filter(|(t, _)| in_x(**t))
                .map(|(_, y)| *y),
        );
    }
    for b in &p.bands {
        for (i, t) in b.x.iter().enumerate() {
            if in_x(*t) {
                for v in [&b.lower, &b.middle, &b.upper] {
                    if let Some(y) = v.get(i) {
                        ys.push(*y);
                    }
                }
            }
        }
    }
    Scale::fit(ys, log, 0.05, !log)
}

/// Dashed vertical markers; many markers become short ticks along the top edge.
fn draw_markers(c: &mut Canvas<'_>, f: &Frame, markers: &[f64]) -> Result<()> {
    let r = f.rect;
    let dense = markers.len() > 40;
    for m in markers {
        if let Some(x) = f.px(*m) {
            if dense {
                c.line((x, r.y0), (x, r.y0 + 6.0), MARKER, 1)?;
            } else {
                c.dashed((x, r.y0), (x, r.y1), MARKER, 1, 4.0)?;
            }
        }
    }
    Ok(())
}

/// Draws a clipped line; returns whether anything was visible.
pub(crate) fn draw_line(
    c: &mut Canvas<'_>,
    f: &Frame,
    x: &[f64],
    y: &[f64],
    paint: Paint,
    width: u32,
) -> Result<bool> {
    let pts: Vec<Option<(f64, f64)>> = x
        .iter()
        .zip(y)
        .map(|(a, b)| {
            if a.is_finite() && !b.is_nan() {
                f.point(*a, *b)
            } else {
                None
            }
        })
        .collect();
    let runs = clip_polyline(&pts, f.rect);
    for run in &runs {
        c.polyline(run, paint, width)?;
    }
    Ok(!runs.is_empty())
}

/// Draws a clipped band and its middle line; returns whether anything was visible.
fn draw_band(c: &mut Canvas<'_>, f: &Frame, band: &Band, paint: Paint) -> Result<bool> {
    let n = band.x.len().min(band.lower.len()).min(band.upper.len());
    let mut any = false;
    let mut start = 0;
    while start < n {
        let valid =
            |i: usize| band.x[i].is_finite() && !band.lower[i].is_nan() && !band.upper[i].is_nan();
        if !valid(start) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end + 1 < n && valid(end + 1) {
            end += 1;
        }
        let mut poly: Vec<(f64, f64)> = Vec::with_capacity(2 * (end - start + 1));
        for i in start..=end {
            if let Some(p) = f.point(band.x[i], band.upper[i]) {
                poly.push(p);
            }
        }
        for i in (start..=end).rev() {
            if let Some(p) = f.point(band.x[i], band.lower[i]) {
                poly.push(p);
            }
        }
        if end > start {
            let clipped = clip_polygon(&poly, f.rect);
            if clipped.len() >= 3 {
                c.polygon(&clipped, paint.alpha(0.2))?;
                any = true;
            }
        }
        start = end + 1;
    }
    if !band.middle.is_empty() {
        any |= draw_line(c, f, &band.x, &band.middle, paint, 2)?;
    }
    Ok(any)
}
