//! Horizontal bar charts (sensitivity indices) and forest plots (arm estimates).

use super::axes::{
    axis_title, draw_axes, draw_header, header_height, x_tick_band, x_ticks, AxesStyle, Frame,
    LegendItem, Rect, Scale, Swatch, Ticks, AXIS_FONT, MARGIN,
};
use super::canvas::{render, Anchor, Baseline, Font, Paint, AXIS, MARKER, STRIPE, TEXT};
use super::fonts::{fit_text, text_width};
use super::{series_paint, Figure};
use crate::error::Result;

const LABEL_FONT: Font = Font::new(12.0, false, TEXT);
const VALUE_FONT: Font = Font::new(11.5, false, TEXT);
const ERROR_BAR: Paint = Paint::rgb(0x33, 0x33, 0x33);

/// One series of bars: one value per category, with optional error bars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarSeries {
    /// Legend label (e.g. `μ*` or `S1`).
    pub label: String,
    /// One value per category (`NaN`: no bar).
    pub values: Vec<f64>,
    /// Lower ends of error bars (empty: none; `NaN`: none for that bar).
    pub lower: Vec<f64>,
    /// Upper ends of error bars.
    pub upper: Vec<f64>,
}

impl BarSeries {
    /// A series without error bars.
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Self {
        BarSeries {
            label: label.into(),
            values,
            ..BarSeries::default()
        }
    }

    /// Adds error bars from `lower` to `upper` (absolute values, not offsets).
    pub fn with_errors(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Self {
        self.lower = lower;
        self.upper = upper;
        self
    }
}

/// Options of [`bar_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct BarOptions {
    /// Figure title.
    pub title: Option<String>,
    /// x-axis label.
    pub x_label: String,
    /// x-axis unit.
    pub x_unit: Option<String>,
    /// Fixed x range; by default from the data, always including zero.
    pub x_range: Option<(f64, f64)>,
    /// Figure width in pixels (default 640).
    pub width: u32,
}

impl Default for BarOptions {
    fn default() -> Self {
        BarOptions {
            title: None,
            x_label: String::new(),
            x_unit: None,
            x_range: None,
            width: 640,
        }
    }
}

/// Draws horizontal bars, one group per category (top to bottom in the given order) and
/// one bar per series within a group, with error bars where given.
///
/// ```
/// use tabula_output::plot::{bar_chart, BarOptions, BarSeries};
///
/// let params = ["k_kill", "CAR expansion", "PC half-life"];
/// let mu = BarSeries::new("μ*", vec![0.8, 0.5, 0.1]).with_errors(vec![0.7, 0.4, 0.05], vec![0.9, 0.6, 0.2]);
/// let sigma = BarSeries::new("σ", vec![0.3, 0.4, 0.02]);
/// let fig = bar_chart(&params, &[mu, sigma], &BarOptions::default()).unwrap();
/// assert!(fig.svg().contains("PC half-life"));
/// ```
pub fn bar_chart<S: AsRef<str>>(
    categories: &[S],
    series: &[BarSeries],
    opts: &BarOptions,
) -> Result<Figure> {
    let title = opts.title.as_deref().unwrap_or("bar chart");
    let width = f64::from(opts.width.clamp(250, 8000));
    let ns = series.len().max(1);
    let bar_h = if ns == 1 {
        16.0
    } else {
        (24.0 / ns as f64).max(9.0) + 2.0
    };
    let group_h = ns as f64 * bar_h + 12.0;
    let n = categories.len().max(1);

    let legend: Vec<LegendItem> = if series.len() > 1 || series.iter().any(|s| !s.label.is_empty())
    {
        series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendItem {
                label: s.label.clone(),
                paint: series_paint(i),
                swatch: Swatch::Square,
            })
            .collect()
    } else {
        Vec::new()
    };
    let header = header_height(opts.title.as_deref(), &legend, width);
    let label_w = categories
        .iter()
        .map(|c| text_width(c.as_ref(), LABEL_FONT.size, false))
        .fold(40.0, f64::max)
        .min(width * 0.4);
    let x0 = MARGIN + label_w + 12.0;
    let x1 = width - MARGIN - 10.0;
    let x_title = axis_title(&opts.x_label, opts.x_unit.as_deref());
    let footer = x_tick_band()
        + if x_title.is_empty() {
            0.0
        } else {
            AXIS_FONT.size * 1.8
        };
    let height = header + n as f64 * group_h + footer + MARGIN;

    let scale = match opts.x_range {
        Some((a, b)) => Scale::fixed(a, b, false),
        None => {
            let values = series
                .iter()
                .flat_map(|s| s.values.iter().chain(&s.lower).chain(&s.upper))
                .copied()
                .chain(std::iter::once(0.0));
            Scale::fit(values, false, 0.04, true)
        }
    };
    let xt = x_ticks(&scale, x1 - x0);

    render(width as u32, height.round() as u32, title, |c| {
        let top = draw_header(c, opts.title.as_deref(), &legend, width)?;
        let rect = Rect {
            x0,
            y0: top,
            x1,
            y1: top + n as f64 * group_h,
        };
        let frame = Frame {
            rect,
            x: scale,
            y: Scale::fixed(0.0, 1.0, false),
        };
        let style = AxesStyle {
            x_labels: true,
            y_labels: false,
            x_grid: true,
            y_grid: false,
        };
        draw_axes(c, &frame, &xt, &Ticks::default(), style)?;
        if !x_title.is_empty() {
            let t = fit_text(&x_title, AXIS_FONT.size, false, x1 - x0);
            c.text(
                &t,
                ((x0 + x1) / 2.0, rect.y1 + x_tick_band() + 2.0),
                AXIS_FONT,
                Anchor::Middle,
                Baseline::Top,
                false,
            )?;
        }
        let clamp = |x: f64| x.clamp(x0, x1);
        let zero = frame.px(0.0).map(clamp).unwrap_or(x0);
        for (ci, cat) in categories.iter().enumerate() {
            let g_top = top + ci as f64 * group_h + 6.0;
            let label = fit_text(cat.as_ref(), LABEL_FONT.size, false, label_w);
            c.text(
                &label,
                (x0 - 10.0, g_top + ns as f64 * bar_h / 2.0),
                LABEL_FONT,
                Anchor::End,
                Baseline::Middle,
                false,
            )?;
            for (si, s) in series.iter().enumerate() {
                let y0 = g_top + si as f64 * bar_h;
                let y1 = y0 + bar_h - 2.0;
                let ym = (y0 + y1) / 2.0;
                if let Some(v) = s
                    .values
                    .get(ci)
                    .copied()
                    .filter(|v| v.is_finite())
                    .and_then(|v| frame.px(v))
                {
                    let v = clamp(v);
                    c.fill_rect((zero.min(v), y0), (zero.max(v), y1), series_paint(si))?;
                }
                let lo = s
                    .lower
                    .get(ci)
                    .copied()
                    .filter(|v| v.is_finite())
                    .and_then(|v| frame.px(v));
                let hi = s
                    .upper
                    .get(ci)
                    .copied()
                    .filter(|v| v.is_finite())
                    .and_then(|v| frame.px(v));
                if let (Some(a), Some(b)) = (lo, hi) {
                    let (a, b) = (clamp(a.min(b)), clamp(a.max(b)));
                    let cap = ((y1 - y0) / 2.0 - 1.0).clamp(2.0, 5.0);
                    c.line((a, ym), (b, ym), ERROR_BAR, 1)?;
                    c.line((a, ym - cap), (a, ym + cap), ERROR_BAR, 1)?;
                    c.line((b, ym - cap), (b, ym + cap), ERROR_BAR, 1)?;
                }
            }
        }
        if scale.lo < 0.0 && scale.hi > 0.0 {
            c.line((zero, rect.y0), (zero, rect.y1), AXIS, 1)?;
        }
        if categories.is_empty() {
            super::axes::draw_no_data(c, rect)?;
        }
        Ok(())
    })
}

/// One row of a forest plot: an estimate with its confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// Row label (e.g. the arm or the subgroup).
    pub label: String,
    /// Point estimate.
    pub estimate: f64,
    /// Lower confidence limit (`NaN`: none).
    pub lower: f64,
    /// Upper confidence limit (`NaN`: none).
    pub upper: f64,
}

impl ForestRow {
    /// A row from its label, estimate and interval.
    pub fn new(label: impl Into<String>, estimate: f64, lower: f64, upper: f64) -> Self {
        ForestRow {
            label: label.into(),
            estimate,
            lower,
            upper,
        }
    }
}

/// Options of [`forest_plot`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForestOptions {
    /// Figure title.
    pub title: Option<String>,
    /// x-axis label, e.g. `Drug-free remission at 12 months`.
    pub x_label: String,
    /// x-axis unit.
    pub x_unit: Option<String>,
    /// Position of a dashed reference line (0 for differences, 1 for ratios).
    pub reference: Option<f64>,
    /// Logarithmic x axis (for ratios).
    pub log_x: bool,
    /// Print `estimate (lower to upper)` to the right of each row (default true).
    pub show_values: bool,
    /// Heading of the printed values (default `Estimate (95% CI)`).
    pub value_header: String,
    /// Significant digits of the largest printed value of a row; the estimate and its
    /// limits share one number of decimals (default 2: `0.82 (0.71 to 0.90)`).
    pub digits: usize,
    /// Figure width in pixels (default 720).
    pub width: u32,
}

impl Default for ForestOptions {
    fn default() -> Self {
        ForestOptions {
            title: None,
            x_label: String::new(),
            x_unit: None,
            reference: None,
            log_x: false,
            show_values: true,
            value_header: "Estimate (95% CI)".to_string(),
            digits: 2,
            width: 720,
        }
    }
}

/// Draws a forest plot: per row a square at the estimate and a line over the confidence
/// interval, a shared x axis, an optional reference line, and the numbers on the right.
///
/// ```
/// use tabula_output::plot::{forest_plot, ForestOptions, ForestRow};
///
/// let rows = vec![
///     ForestRow::new("CD19 CAR-T", 0.82, 0.71, 0.90),
///     ForestRow::new("Rituximab", 0.35, 0.24, 0.47),
/// ];
/// let opts = ForestOptions { x_label: "Remission at month 12".into(), ..ForestOptions::default() };
/// let fig = forest_plot(&rows, &opts).unwrap();
/// assert!(fig.svg().contains("0.82 (0.71 to 0.90)"));
/// ```
pub fn forest_plot(rows: &[ForestRow], opts: &ForestOptions) -> Result<Figure> {
    let title = opts.title.as_deref().unwrap_or("forest plot");
    let width = f64::from(opts.width.clamp(300, 8000));
    let row_h = 28.0;
    let n = rows.len().max(1);
    let header = header_height(opts.title.as_deref(), &[], width);
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.label, LABEL_FONT.size, false))
        .fold(40.0, f64::max)
        .min(width * 0.35);
    let value_text = |r: &ForestRow| -> String {
        let largest = [r.estimate, r.lower, r.upper]
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        let decimals = if largest > 0.0 {
            (opts.digits.max(1) as i32 - 1 - largest.log10().floor() as i32).clamp(0, 8) as usize
        } else {
            opts.digits.saturating_sub(1)
        };
        let fmt = |x: f64| {
            if x.is_nan() {
                "NA".to_string()
            } else if x.is_infinite() {
                if x > 0.0 { "∞" } else { "−∞" }.to_string()
            } else {
                let s = format!("{x:.decimals$}");
                match s.strip_prefix('-') {
                    Some(rest) if rest.chars().any(|c| c.is_ascii_digit() && c != '0') => {
                        format!("\u{2212}{rest}")
                    }
                    Some(rest) => rest.to_string(),
                    None => s,
                }
            }
        };
        if r.lower.is_nan() && r.upper.is_nan() {
            fmt(r.estimate)
        } else {
            format!("{} ({} to {})", fmt(r.estimate), fmt(r.lower), fmt(r.upper))
        }
    };
    let values: Vec<String> = rows.iter().map(value_text).collect();
    let head_h = if opts.show_values && !opts.value_header.is_empty() {
        22.0
    } else {
        0.0
    };
    let value_w = if opts.show_values {
        values
            .iter()
            .map(|v| text_width(v, VALUE_FONT.size, false))
            .chain(std::iter::once(text_width(
                &opts.value_header,
                VALUE_FONT.size,
                true,
            )))
            .fold(0.0, f64::max)
            .min(width * 0.3)
            + 16.0
    } else {
        0.0
    };
    let x0 = MARGIN + label_w + 14.0;
    let x1 = (width - MARGIN - value_w - 6.0).max(x0 + 40.0);
    let x_title = axis_title(&opts.x_label, opts.x_unit.as_deref());
    let footer = x_tick_band()
        + if x_title.is_empty() {
            0.0
        } else {
            AXIS_FONT.size * 1.8
        };
    let height = header + head_h + n as f64 * row_h + 6.0 + footer + MARGIN;

    let data = rows
        .iter()
        .flat_map(|r| [r.estimate, r.lower, r.upper])
        .chain(opts.reference);
    let scale = Scale::fit(data, opts.log_x, 0.06, false);
    let xt = x_ticks(&scale, x1 - x0);

    render(width as u32, height.round() as u32, title, |c| {
        let top = draw_header(c, opts.title.as_deref(), &[], width)? + head_h;
        if head_h > 0.0 {
            let font = Font::new(VALUE_FONT.size, true, TEXT);
            c.text(
                &opts.value_header,
                (width - MARGIN - 4.0, top - head_h / 2.0),
                font,
                Anchor::End,
                Baseline::Middle,
                false,
            )?;
        }
        let rect = Rect {
            x0,
            y0: top,
            x1,
            y1: top + n as f64 * row_h + 6.0,
        };
        for i in (0..rows.len()).filter(|i| i % 2 == 0) {
            let y = top + 3.0 + i as f64 * row_h;
            c.fill_rect((MARGIN, y), (width - MARGIN, y + row_h), STRIPE)?;
        }
        let frame = Frame {
            rect,
            x: scale,
            y: Scale::fixed(0.0, 1.0, false),
        };
        let style = AxesStyle {
            x_labels: true,
            y_labels: false,
            x_grid: true,
            y_grid: false,
        };
        draw_axes(c, &frame, &xt, &Ticks::default(), style)?;
        if !x_title.is_empty() {
            let t = fit_text(&x_title, AXIS_FONT.size, false, x1 - x0);
            c.text(
                &t,
                ((x0 + x1) / 2.0, rect.y1 + x_tick_band() + 2.0),
                AXIS_FONT,
                Anchor::Middle,
                Baseline::Top,
                false,
            )?;
        }
        if let Some(x) = opts
            .reference
            .and_then(|r| frame.px(r))
            .filter(|x| *x >= x0 && *x <= x1)
        {
            c.dashed((x, rect.y0), (x, rect.y1), MARKER, 1, 4.0)?;
        }
        let paint = series_paint(0);
        let clamp = |x: f64| x.clamp(x0, x1);
        for (i, row) in rows.iter().enumerate() {
            let y = top + 3.0 + (i as f64 + 0.5) * row_h;
            let label = fit_text(&row.label, LABEL_FONT.size, false, label_w);
            c.text(
                &label,
                (MARGIN + 4.0, y),
                LABEL_FONT,
                Anchor::Start,
                Baseline::Middle,
                false,
            )?;
            let px = |v: f64| if v.is_finite() { frame.px(v) } else { None };
            if let (Some(a), Some(b)) = (px(row.lower), px(row.upper)) {
                let (a, b) = (clamp(a.min(b)), clamp(a.max(b)));
                c.line((a, y), (b, y), paint, 2)?;
                c.line((a, y - 4.0), (a, y + 4.0), paint, 2)?;
                c.line((b, y - 4.0), (b, y + 4.0), paint, 2)?;
            }
            if let Some(e) = px(row.estimate).filter(|e| *e >= x0 - 0.5 && *e <= x1 + 0.5) {
                c.fill_rect((e - 5.0, y - 5.0), (e + 5.0, y + 5.0), paint)?;
            }
            if opts.show_values {
                let v = fit_text(&values[i], VALUE_FONT.size, false, value_w - 10.0);
                c.text(
                    &v,
                    (width - MARGIN - 4.0, y),
                    VALUE_FONT,
                    Anchor::End,
                    Baseline::Middle,
                    false,
                )?;
            }
        }
        if rows.is_empty() {
            super::axes::draw_no_data(c, rect)?;
        }
        Ok(())
    })
}
