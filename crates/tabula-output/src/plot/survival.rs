//! Survival-type step curves (Kaplan–Meier) with censoring ticks.

use super::axes::{
    axis_title, clip_polygon, clip_polyline, draw_axes, draw_header, draw_no_data, header_height,
    x_tick_band, x_ticks, y_ticks, AxesStyle, Frame, LegendItem, Rect, Scale, Swatch, AXIS_FONT,
    MARGIN, TICK_FONT,
};
use super::canvas::{render, Anchor, Baseline, Paint};
use super::fonts::fit_text;
use super::{series_paint, Figure};
use crate::error::Result;

/// One survival-type curve: the probability after each event time, censoring times, and
/// optionally a pointwise confidence band.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SurvivalCurve {
    /// Legend label (typically the arm).
    pub label: String,
    /// Step times, including the start (e.g. time 0 with probability 1).
    pub time: Vec<f64>,
    /// Probability from each time until the next (between 0 and 1).
    pub survival: Vec<f64>,
    /// Censoring times, drawn as small vertical ticks on the curve.
    pub censored: Vec<f64>,
    /// Lower confidence limit at each time (empty for none).
    pub lower: Vec<f64>,
    /// Upper confidence limit at each time (empty for none).
    pub upper: Vec<f64>,
}

impl SurvivalCurve {
    /// A curve from its step times and probabilities.
    pub fn new(label: impl Into<String>, time: Vec<f64>, survival: Vec<f64>) -> Self {
        SurvivalCurve {
            label: label.into(),
            time,
            survival,
            ..SurvivalCurve::default()
        }
    }

    /// Sets the censoring times.
    pub fn with_censored(mut self, censored: Vec<f64>) -> Self {
        self.censored = censored;
        self
    }

    /// Sets a confidence band.
    pub fn with_interval(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Self {
        self.lower = lower;
        self.upper = upper;
        self
    }
}

/// Options of [`survival_curves`].
#[derive(Debug, Clone, PartialEq)]
pub struct SurvivalOptions {
    /// Figure title.
    pub title: Option<String>,
    /// x-axis label (default `Time`).
    pub x_label: String,
    /// x-axis unit.
    pub x_unit: Option<String>,
    /// y-axis label (default `Probability`), e.g. `Relapse-free`.
    pub y_label: String,
    /// End of the x axis; by default the last event or censoring time.
    pub x_max: Option<f64>,
    /// Legend text of censoring ticks (default `Censored`).
    pub censor_label: String,
    /// Figure width in pixels (default 640).
    pub width: u32,
    /// Figure height in pixels (default 420).
    pub height: u32,
}

impl Default for SurvivalOptions {
    fn default() -> Self {
        SurvivalOptions {
            title: None,
            x_label: "Time".to_string(),
            x_unit: None,
            y_label: "Probability".to_string(),
            x_max: None,
            censor_label: "Censored".to_string(),
            width: 640,
            height: 420,
        }
    }
}

/// Draws step curves on a 0–1 probability axis, one colour per curve, with censoring
/// ticks and shaded confidence bands where given.
///
/// ```
/// use tabula_output::plot::{survival_curves, SurvivalCurve, SurvivalOptions};
///
/// let curve = SurvivalCurve::new("CD19 CAR-T", vec![0.0, 90.0, 200.0], vec![1.0, 0.9, 0.75])
///     .with_censored(vec![150.0, 365.0]);
/// let fig = survival_curves(&[curve], &SurvivalOptions::default()).unwrap();
/// assert!(fig.svg().contains("CD19 CAR-T"));
/// ```
pub fn survival_curves(curves: &[SurvivalCurve], opts: &SurvivalOptions) -> Result<Figure> {
    let title = opts.title.as_deref().unwrap_or("survival curves");
    let width = f64::from(opts.width.clamp(200, 8000));
    let height = f64::from(opts.height.clamp(150, 8000));
    let prepared: Vec<Steps> = curves.iter().map(Steps::new).collect();

    let mut legend: Vec<LegendItem> = curves
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.label.is_empty())
        .map(|(i, c)| LegendItem {
            label: c.label.clone(),
            paint: series_paint(i),
            swatch: if c.lower.is_empty() {
                Swatch::Line
            } else {
                Swatch::Band
            },
        })
        .collect();
    if curves
        .iter()
        .any(|c| c.censored.iter().any(|t| t.is_finite()))
        && !opts.censor_label.is_empty()
    {
        legend.push(LegendItem {
            label: opts.censor_label.clone(),
            paint: Paint::rgb(0x60, 0x60, 0x60),
            swatch: Swatch::Tick,
        });
    }

    let t_max = prepared
        .iter()
        .flat_map(|s| s.t.iter().chain(s.censored.iter()))
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let t_min = prepared
        .iter()
        .flat_map(|s| s.t.iter())
        .copied()
        .fold(0.0_f64, f64::min);
    let hi = opts
        .x_max
        .filter(|x| x.is_finite() && *x > t_min)
        .unwrap_or(t_max);
    let x_scale = if hi.is_finite() && hi > t_min {
        Scale::fixed(t_min, hi, false)
    } else {
        Scale::fit([t_min], false, 0.0, true)
    };
    let y_scale = Scale::fixed(-0.03, 1.03, false);

    let header = header_height(opts.title.as_deref(), &legend, width);
    let x_title = axis_title(&opts.x_label, opts.x_unit.as_deref());
    let bottom_band = x_tick_band()
        + if x_title.is_empty() {
            0.0
        } else {
            AXIS_FONT.size * 1.8
        };
    let frame_h = (height - header - bottom_band - MARGIN).max(20.0);
    let yt = y_ticks(&y_scale, frame_h);
    let y_title_band = if opts.y_label.is_empty() {
        0.0
    } else {
        AXIS_FONT.size * 1.8
    };
    let left = MARGIN + y_title_band + yt.max_label_width(TICK_FONT) + 12.0;
    let frame_w = (width - left - MARGIN - 8.0).max(20.0);
    let xt = x_ticks(&x_scale, frame_w);

    render(width as u32, height as u32, title, |c| {
        let top = draw_header(c, opts.title.as_deref(), &legend, width)?;
        let rect = Rect {
            x0: left,
            y0: top,
            x1: left + frame_w,
            y1: top + frame_h,
        };
        let frame = Frame {
            rect,
            x: x_scale,
            y: y_scale,
        };
        let style = AxesStyle {
            x_labels: true,
            y_labels: true,
            x_grid: true,
            y_grid: true,
        };
        draw_axes(c, &frame, &xt, &yt, style)?;
        if !opts.y_label.is_empty() {
            let t = fit_text(&opts.y_label, AXIS_FONT.size, false, frame_h);
            c.text(
                &t,
                (MARGIN + AXIS_FONT.size * 0.6, (rect.y0 + rect.y1) / 2.0),
                AXIS_FONT,
                Anchor::Middle,
                Baseline::Middle,
                true,
            )?;
        }
        if !x_title.is_empty() {
            let t = fit_text(&x_title, AXIS_FONT.size, false, frame_w);
            c.text(
                &t,
                ((rect.x0 + rect.x1) / 2.0, rect.y1 + x_tick_band() + 2.0),
                AXIS_FONT,
                Anchor::Middle,
                Baseline::Top,
                false,
            )?;
        }
        let mut any = false;
        // Bands first, then curves, then ticks on top.
        for (i, s) in prepared.iter().enumerate() {
            if let Some((lo, up)) = s.band(hi) {
                let mut poly: Vec<(f64, f64)> =
                    up.iter().filter_map(|&(t, v)| frame.point(t, v)).collect();
                poly.extend(lo.iter().rev().filter_map(|&(t, v)| frame.point(t, v)));
                let clipped = clip_polygon(&poly, rect);
                if clipped.len() >= 3 {
                    c.polygon(&clipped, series_paint(i).alpha(0.15))?;
                }
            }
        }
        for (i, s) in prepared.iter().enumerate() {
            let pts: Vec<Option<(f64, f64)>> =
                s.path(hi).iter().map(|&(t, v)| frame.point(t, v)).collect();
            let runs = clip_polyline(&pts, rect);
            for run in &runs {
                c.polyline(run, series_paint(i), 2)?;
                any = true;
            }
        }
        for (i, s) in prepared.iter().enumerate() {
            for &t in &s.censored {
                if let Some(p) = frame.point(t, s.at(t)) {
                    if frame.contains(p) {
                        c.line((p.0, p.1 - 5.0), (p.0, p.1 + 5.0), series_paint(i), 2)?;
                    }
                }
            }
        }
        if !any {
            draw_no_data(c, rect)?;
        }
        Ok(())
    })
}

/// Vertices of a step path.
type StepPath = Vec<(f64, f64)>;

/// A curve's finite points sorted by time.
struct Steps {
    t: Vec<f64>,
    s: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    censored: Vec<f64>,
}

impl Steps {
    fn new(c: &SurvivalCurve) -> Steps {
        let n = c.time.len().min(c.survival.len());
        let has_band = c.lower.len() >= n && c.upper.len() >= n && !c.lower.is_empty();
        let mut idx: Vec<usize> = (0..n)
            .filter(|&i| c.time[i].is_finite() && c.survival[i].is_finite())
            .collect();
        idx.sort_by(|&a, &b| c.time[a].total_cmp(&c.time[b]));
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        Steps {
            t: pick(&c.time),
            s: pick(&c.survival),
            lower: if has_band { pick(&c.lower) } else { Vec::new() },
            upper: if has_band { pick(&c.upper) } else { Vec::new() },
            censored: c
                .censored
                .iter()
                .copied()
                .filter(|t| t.is_finite())
                .collect(),
        }
    }

    /// The probability at time `t` (the first value before the first step).
    fn at(&self, t: f64) -> f64 {
        match self.t.iter().rposition(|&x| x <= t) {
            Some(i) => self.s[i],
            None => self.s.first().copied().unwrap_or(f64::NAN),
        }
    }

    /// The step path of `values`, extended to `end`.
    fn step_path(&self, values: &[f64], end: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(2 * self.t.len() + 1);
        for (i, (&t, &v)) in self.t.iter().zip(values).enumerate() {
            if i > 0 {
                out.push((t, values[i - 1]));
            }
            out.push((t, v));
        }
        let last_t = self.t.last().copied().unwrap_or(f64::NAN);
        let last_censor = self
            .censored
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let stop = if end.is_finite() {
            end
        } else {
            last_t.max(last_censor)
        };
        if let (Some(&v), true) = (values.last(), stop > last_t) {
            out.push((stop, v));
        }
        out
    }

    fn path(&self, end: f64) -> Vec<(f64, f64)> {
        self.step_path(&self.s, end)
    }

    fn band(&self, end: f64) -> Option<(StepPath, StepPath)> {
        if self.lower.is_empty() || self.lower.iter().chain(&self.upper).any(|v| v.is_nan()) {
            return None;
        }
        Some((
            self.step_path(&self.lower, end),
            self.step_path(&self.upper, end),
        ))
    }
}
