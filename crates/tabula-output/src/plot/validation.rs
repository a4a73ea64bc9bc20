//! Observed against simulated values, one row per validation target.

use super::axes::{
    axis_title, draw_axes, draw_header, header_height, x_tick_band, x_ticks, AxesStyle, Frame,
    LegendItem, Rect, Scale, Swatch, Ticks, AXIS_FONT, MARGIN, TICK_FONT,
};
use super::canvas::{render, Anchor, Baseline, Canvas, Font, Paint, GRID, MUTED, STRIPE, TEXT};
use super::fonts::{fit_text, text_width};
use super::{series_paint, Figure};
use crate::error::Result;

/// A value with an optional range; `NaN` marks a missing part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The central value (median, mean or point estimate).
    pub value: f64,
    /// Lower end of the range.
    pub lower: f64,
    /// Upper end of the range.
    pub upper: f64,
}

impl Interval {
    /// A value with its range.
    pub fn new(value: f64, lower: f64, upper: f64) -> Self {
        Interval {
            value,
            lower,
            upper,
        }
    }

    /// A value without range.
    pub fn point(value: f64) -> Self {
        Interval {
            value,
            lower: f64::NAN,
            upper: f64::NAN,
        }
    }

    /// Nothing known.
    pub fn missing() -> Self {
        Interval::point(f64::NAN)
    }

    fn values(&self) -> [f64; 3] {
        [self.value, self.lower, self.upper]
    }
}

/// One validation target.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRow {
    /// What is compared, e.g. `B cells at day 28`.
    pub label: String,
    /// Unit of the values.
    pub unit: Option<String>,
    /// Simulated median and interval.
    pub simulated: Interval,
    /// Observed value and range (e.g. the published median and IQR).
    pub observed: Interval,
}

impl ValidationRow {
    /// A row without unit.
    pub fn new(label: impl Into<String>, simulated: Interval, observed: Interval) -> Self {
        ValidationRow {
            label: label.into(),
            unit: None,
            simulated,
            observed,
        }
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }
}

/// Options of [`observed_vs_simulated`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationPlotOptions {
    /// Figure title.
    pub title: Option<String>,
    /// Legend text of the simulated intervals.
    pub simulated_label: String,
    /// Legend text of the observed values.
    pub observed_label: String,
    /// One x axis for all rows (when all targets share a unit); by default each row has
    /// its own axis.
    pub shared_axis: bool,
    /// Logarithmic x axes.
    pub log_x: bool,
    /// Label of the shared x axis.
    pub x_label: String,
    /// Figure width in pixels (default 760).
    pub width: u32,
}

impl Default for ValidationPlotOptions {
    fn default() -> Self {
        ValidationPlotOptions {
            title: None,
            simulated_label: "Simulated: median and 90% interval".to_string(),
            observed_label: "Observed: value and range".to_string(),
            shared_axis: false,
            log_x: false,
            x_label: String::new(),
            width: 760,
        }
    }
}

const LABEL_FONT: Font = Font::new(12.0, false, TEXT);
const UNIT_FONT: Font = Font::new(10.5, false, MUTED);

/// Draws a forest-style validation plot: per target a row with the simulated median
/// (vertical mark) and interval (bar), and the observed value (diamond) with its range
/// (whisker). Rows have their own x axes unless `shared_axis` is set.
///
/// ```
/// use tabula_output::plot::{observed_vs_simulated, Interval, ValidationPlotOptions, ValidationRow};
///
/// let rows = vec![
///     ValidationRow::new("B cells, day 28", Interval::new(0.4, 0.1, 2.0), Interval::new(0.0, 0.0, 1.0))
///         .with_unit("cells/µL"),
///     ValidationRow::new("SLEDAI-2K change, month 6", Interval::new(-9.5, -14.0, -5.0), Interval::point(-10.0)),
/// ];
/// let fig = observed_vs_simulated(&rows, &ValidationPlotOptions::default()).unwrap();
/// assert!(fig.svg().contains("SLEDAI-2K"));
/// ```
pub fn observed_vs_simulated(
    rows: &[ValidationRow],
    opts: &ValidationPlotOptions,
) -> Result<Figure> {
    let title = opts.title.as_deref().unwrap_or("observed vs simulated");
    let width = f64::from(opts.width.clamp(300, 8000));
    let sim_paint = series_paint(0);
    let obs_paint = series_paint(1);
    let legend = vec![
        LegendItem {
            label: opts.simulated_label.clone(),
            paint: sim_paint,
            swatch: Swatch::Interval,
        },
        LegendItem {
            label: opts.observed_label.clone(),
            paint: obs_paint,
            swatch: Swatch::PointRange,
        },
    ];
    let header = header_height(opts.title.as_deref(), &legend, width);
    let row_h = if opts.shared_axis { 34.0 } else { 54.0 };
    let label_w = rows
        .iter()
        .map(|r| match r.unit.as_deref().filter(|u| !u.is_empty()) {
            Some(u) if opts.shared_axis => {
                text_width(&format!("{} ({u})", r.label), LABEL_FONT.size, false)
            }
            Some(u) => text_width(&r.label, LABEL_FONT.size, false).max(text_width(
                u,
                UNIT_FONT.size,
                false,
            )),
            None => text_width(&r.label, LABEL_FONT.size, false),
        })
        .fold(60.0, f64::max)
        .min(width * 0.42);
    let x0 = MARGIN + label_w + 16.0;
    let x1 = width - MARGIN - 10.0;
    let x_title = axis_title(&opts.x_label, None);
    let footer = if opts.shared_axis {
        x_tick_band()
            + if x_title.is_empty() {
                0.0
            } else {
                AXIS_FONT.size * 1.8
            }
    } else {
        0.0
    };
    let n = rows.len().max(1);
    let height = header + n as f64 * row_h + footer + MARGIN;

    let all_values = |r: &ValidationRow| {
        let mut v = r.simulated.values().to_vec();
        v.extend(r.observed.values());
        v
    };
    let shared = Scale::fit(rows.iter().flat_map(all_values), opts.log_x, 0.06, false);
    let shared_ticks = x_ticks(&shared, x1 - x0);

    render(width as u32, height.round() as u32, title, |c| {
        let top = draw_header(c, opts.title.as_deref(), &legend, width)?;
        let body = Rect {
            x0,
            y0: top,
            x1,
            y1: top + n as f64 * row_h,
        };
        for i in (0..rows.len()).filter(|i| i % 2 == 0) {
            let y = top + i as f64 * row_h;
            c.fill_rect((MARGIN, y), (width - MARGIN, y + row_h), STRIPE)?;
        }
        if opts.shared_axis {
            let frame = Frame {
                rect: body,
                x: shared,
                y: Scale::fixed(0.0, 1.0, false),
            };
            let style = AxesStyle {
                x_labels: true,
                y_labels: false,
                x_grid: true,
                y_grid: false,
            };
            draw_axes(c, &frame, &shared_ticks, &Ticks::default(), style)?;
            if !x_title.is_empty() {
                let t = fit_text(&x_title, AXIS_FONT.size, false, x1 - x0);
                c.text(
                    &t,
                    ((x0 + x1) / 2.0, body.y1 + x_tick_band() + 2.0),
                    AXIS_FONT,
                    Anchor::Middle,
                    Baseline::Top,
                    false,
                )?;
            }
        }
        if rows.is_empty() {
            c.text(
                "No data",
                ((x0 + x1) / 2.0, top + row_h / 2.0),
                UNIT_FONT,
                Anchor::Middle,
                Baseline::Middle,
                false,
            )?;
        }
        for (i, row) in rows.iter().enumerate() {
            let row_top = top + i as f64 * row_h;
            let (scale, mid_y) = if opts.shared_axis {
                (shared, row_top + row_h / 2.0)
            } else {
                (
                    Scale::fit(all_values(row), opts.log_x, 0.08, false),
                    row_top + 19.0,
                )
            };
            // Label (and unit beneath it when rows have their own axes).
            let label = fit_text(&row.label, LABEL_FONT.size, false, label_w);
            match row.unit.as_deref().filter(|u| !u.is_empty()) {
                Some(u) if !opts.shared_axis => {
                    c.text(
                        &label,
                        (MARGIN + 4.0, mid_y),
                        LABEL_FONT,
                        Anchor::Start,
                        Baseline::Middle,
                        false,
                    )?;
                    let u = fit_text(u, UNIT_FONT.size, false, label_w);
                    c.text(
                        &u,
                        (MARGIN + 4.0, mid_y + 16.0),
                        UNIT_FONT,
                        Anchor::Start,
                        Baseline::Middle,
                        false,
                    )?;
                }
                Some(u) => {
                    let text = fit_text(
                        &format!("{} ({u})", row.label),
                        LABEL_FONT.size,
                        false,
                        label_w,
                    );
                    c.text(
                        &text,
                        (MARGIN + 4.0, mid_y),
                        LABEL_FONT,
                        Anchor::Start,
                        Baseline::Middle,
                        false,
                    )?;
                }
                None => {
                    c.text(
                        &label,
                        (MARGIN + 4.0, mid_y),
                        LABEL_FONT,
                        Anchor::Start,
                        Baseline::Middle,
                        false,
                    )?;
                }
            }
            let frame = Frame {
                rect: Rect {
                    x0,
                    y0: row_top + 4.0,
                    x1,
                    y1: mid_y + 11.0,
                },
                x: scale,
                y: Scale::fixed(0.0, 1.0, false),
            };
            if !opts.shared_axis {
                let ticks = x_ticks(&scale, x1 - x0);
                for (v, l) in ticks.major.iter().zip(&ticks.labels) {
                    if let Some(x) = frame.px(*v) {
                        c.line((x, row_top + 5.0), (x, mid_y + 12.0), GRID, 1)?;
                        c.text(
                            l,
                            (x, mid_y + 15.0),
                            TICK_FONT_SMALL,
                            Anchor::Middle,
                            Baseline::Top,
                            false,
                        )?;
                    }
                }
            }
            let drawn = draw_row(c, &frame, mid_y, row, sim_paint, obs_paint)?;
            if !drawn {
                c.text(
                    "no finite values",
                    ((x0 + x1) / 2.0, mid_y),
                    UNIT_FONT,
                    Anchor::Middle,
                    Baseline::Middle,
                    false,
                )?;
            }
        }
        Ok(())
    })
}

const TICK_FONT_SMALL: Font = Font::new(TICK_FONT.size - 1.0, false, MUTED);

/// Draws one row's simulated interval and observed point; returns whether anything showed.
fn draw_row(
    c: &mut Canvas<'_>,
    f: &Frame,
    y: f64,
    row: &ValidationRow,
    sim: Paint,
    obs: Paint,
) -> Result<bool> {
    let r = f.rect;
    let clamp = |x: f64| x.clamp(r.x0, r.x1);
    let px = |v: f64| if v.is_finite() { f.px(v) } else { None };
    let mut any = false;
    let s = row.simulated;
    if let (Some(a), Some(b)) = (px(s.lower), px(s.upper)) {
        let (a, b) = (clamp(a.min(b)), clamp(a.max(b)));
        c.fill_rect((a, y - 5.0), (b.max(a + 1.0), y + 5.0), sim.alpha(0.35))?;
        any = true;
    }
    if let Some(m) = px(s.value).filter(|m| *m >= r.x0 - 0.5 && *m <= r.x1 + 0.5) {
        c.line((m, y - 9.0), (m, y + 9.0), sim, 3)?;
        any = true;
    }
    let o = row.observed;
    if let (Some(a), Some(b)) = (px(o.lower), px(o.upper)) {
        let (a, b) = (clamp(a.min(b)), clamp(a.max(b)));
        c.line((a, y), (b, y), obs, 2)?;
        c.line((a, y - 4.0), (a, y + 4.0), obs, 2)?;
        c.line((b, y - 4.0), (b, y + 4.0), obs, 2)?;
        any = true;
    }
    if let Some(v) = px(o.value).filter(|v| *v >= r.x0 - 0.5 && *v <= r.x1 + 0.5) {
        c.diamond((v, y), 5.5, obs)?;
        any = true;
    }
    Ok(any)
}
