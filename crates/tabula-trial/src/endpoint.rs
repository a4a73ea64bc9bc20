//! Endpoint evaluation, streaming: each endpoint keeps a few numbers per patient and is updated
//! at every assessment time inside the solver's output callback, so no trajectory is stored.
//!
//! Definitions (times relative to the arm's origin; "assessment" = a point of the trial's
//! assessment grid; the baseline is the pre-treatment visit at simulation time 0):
//!
//! | kind | per-patient value |
//! |---|---|
//! | `value` | the output at `time` (optionally a change from baseline) |
//! | `nadir`, `peak` | minimum, maximum over the window (optionally a change from baseline) |
//! | `time_to_nadir`, `time_to_peak` | the first assessment at which the minimum / maximum is reached |
//! | `auc` | trapezoidal area over the window's assessments |
//! | `mean` | `auc` divided by the time between the window's first and last assessments |
//! | `time_to` | first assessment at which the condition holds (event), else censored at the window's last assessment |
//! | `duration` | trapezoidal time during which the condition holds: sum of `(c_k + c_k+1)/2 (t_k+1 - t_k)` with `c` = 1 or 0 |
//! | `recovery` | first assessment at which `output >= recovered` after one at which the depletion condition held; not at risk (missing) if never depleted |
//! | `responder` | 1 if the condition holds at `time` (or at any / every assessment of the window), else 0 |
//! | `relapse` | time from the first assessment meeting the response condition to the first later one meeting the relapse condition; not at risk if no response |
//! | `at_event` | the output at the event time of an earlier time-to-event endpoint (missing if no event) |
//! | `asas` | ASAS20 / ASAS40 at `time` against the baseline visit (Anderson 2001; Brandt 2004) |

use crate::spec::{Arm, Change, Condition, EndpointKind, Op, Trial, When, Window};

/// A condition resolved to an output index.
#[derive(Clone, Copy, Debug)]
struct Cond {
    output: usize,
    op: Op,
    threshold: f64,
    relative: bool,
}

impl Cond {
    fn new(c: &Condition, arm: &Arm) -> Option<Cond> {
        Some(Cond {
            output: arm.resolve_output(&c.output)?,
            op: c.op,
            threshold: c.threshold,
            relative: c.relative,
        })
    }

    #[inline]
    fn holds(&self, y: &[f64], base: &[f64]) -> bool {
        let thr = if self.relative {
            self.threshold * base[self.output]
        } else {
            self.threshold
        };
        self.op.holds(y[self.output], thr)
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    At(f64),
    Any(f64, f64),
    All(f64, f64),
}

/// One endpoint resolved for one arm: output indices and absolute times.
#[derive(Clone, Debug)]
enum Planned {
    NotApplicable,
    Value {
        o: usize,
        t: f64,
        change: Change,
    },
    Extreme {
        o: usize,
        from: f64,
        to: f64,
        min: bool,
        time: bool,
        change: Change,
    },
    Auc {
        o: usize,
        from: f64,
        to: f64,
        mean: bool,
    },
    TimeTo {
        c: Cond,
        from: f64,
        to: f64,
    },
    Duration {
        c: Cond,
        from: f64,
        to: f64,
    },
    Recovery {
        dep: Cond,
        rec: Cond,
        from: f64,
        to: f64,
    },
    Responder {
        c: Cond,
        mode: Mode,
    },
    Relapse {
        resp: Cond,
        rel: Cond,
        from: f64,
        to: f64,
    },
    AtEvent {
        o: usize,
        event: usize,
        change: Change,
    },
    Asas {
        level: u32,
        t: f64,
        d: [usize; 4],
    },
}

/// Per-patient running state of one endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct State {
    v: f64,
    t: f64,
    last_t: f64,
    last_y: f64,
    acc: f64,
    first_t: f64,
    seen: bool,
    fired: bool,
    done: bool,
}

impl State {
    fn reset() -> State {
        State {
            v: f64::NAN,
            t: f64::NAN,
            last_t: f64::NAN,
            last_y: f64::NAN,
            acc: 0.0,
            first_t: f64::NAN,
            seen: false,
            fired: false,
            done: false,
        }
    }
}

/// The value of one endpoint for one patient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The value (`NaN` when missing or not applicable); for time-to-event endpoints the event
    /// or censoring time.
    pub value: f64,
    /// For time-to-event endpoints: whether the event was observed (false: censored).
    pub event: bool,
    /// The level was below the endpoint's detection limit and is reported at the limit.
    pub at_limit: bool,
}

/// The trial's endpoints resolved for one arm.
#[derive(Clone, Debug)]
pub struct ArmEndpoints {
    items: Vec<Planned>,
    /// Per endpoint: the assessment interval (0: every grid point).
    every: Vec<f64>,
    /// Per endpoint: the detection limit of a level endpoint.
    limit: Vec<Option<f64>>,
    end: f64,
    origin: f64,
    tol: f64,
}

impl ArmEndpoints {
    /// Resolves every endpoint of `trial` for arm `arm`; endpoints whose outputs the arm's model
    /// lacks are not applicable (always missing).
    pub fn new(trial: &Trial, arm: usize) -> ArmEndpoints {
        let a = &trial.arms[arm];
        let origin = a.origin;
        let end = a.end;
        let tol = 1e-9 * end.abs().max(1.0);
        let abs = |t: f64| origin + t;
        let win = |w: &Window| (abs(w.from), w.to.map_or(end, |t| abs(t).min(end)));
        let out = |name: &str| a.resolve_output(name);
        let items = trial
            .endpoints
            .iter()
            .map(|e| {
                let planned = match &e.kind {
                    EndpointKind::Value {
                        output,
                        time,
                        change,
                    } => out(output).map(|o| Planned::Value {
                        o,
                        t: abs(*time),
                        change: *change,
                    }),
                    EndpointKind::Nadir {
                        output,
                        window,
                        change,
                    }
                    | EndpointKind::Peak {
                        output,
                        window,
                        change,
                    } => out(output).map(|o| {
                        let (from, to) = win(window);
                        Planned::Extreme {
                            o,
                            from,
                            to,
                            min: matches!(e.kind, EndpointKind::Nadir { .. }),
                            time: false,
                            change: *change,
                        }
                    }),
                    EndpointKind::TimeToNadir { output, window }
                    | EndpointKind::TimeToPeak { output, window } => out(output).map(|o| {
                        let (from, to) = win(window);
                        Planned::Extreme {
                            o,
                            from,
                            to,
                            min: matches!(e.kind, EndpointKind::TimeToNadir { .. }),
                            time: true,
                            change: Change::None,
                        }
                    }),
                    EndpointKind::Auc { output, window }
                    | EndpointKind::Mean { output, window } => out(output).map(|o| {
                        let (from, to) = win(window);
                        Planned::Auc {
                            o,
                            from,
                            to,
                            mean: matches!(e.kind, EndpointKind::Mean { .. }),
                        }
                    }),
                    EndpointKind::TimeTo { condition, window } => {
                        Cond::new(condition, a).map(|c| {
                            let (from, to) = win(window);
                            Planned::TimeTo { c, from, to }
                        })
                    }
                    EndpointKind::Duration { condition, window } => {
                        Cond::new(condition, a).map(|c| {
                            let (from, to) = win(window);
                            Planned::Duration { c, from, to }
                        })
                    }
                    EndpointKind::Recovery {
                        depleted,
                        recovered,
                        window,
                    } => Cond::new(depleted, a)
                        .zip(Cond::new(recovered, a))
                        .map(|(dep, rec)| {
                            let (from, to) = win(window);
                            Planned::Recovery { dep, rec, from, to }
                        }),
                    EndpointKind::Responder { condition, when } => {
                        Cond::new(condition, a).map(|c| Planned::Responder {
                            c,
                            mode: match when {
                                When::At(t) => Mode::At(abs(*t)),
                                When::Any(w) => {
                                    let (f, t) = win(w);
                                    Mode::Any(f, t)
                                }
                                When::All(w) => {
                                    let (f, t) = win(w);
                                    Mode::All(f, t)
                                }
                            },
                        })
                    }
                    EndpointKind::Relapse {
                        response,
                        relapse,
                        window,
                    } => Cond::new(response, a)
                        .zip(Cond::new(relapse, a))
                        .map(|(resp, rel)| {
                            let (from, to) = win(window);
                            Planned::Relapse {
                                resp,
                                rel,
                                from,
                                to,
                            }
                        }),
                    EndpointKind::AtEvent {
                        output,
                        event,
                        change,
                    } => out(output).map(|o| Planned::AtEvent {
                        o,
                        event: *event,
                        change: *change,
                    }),
                    EndpointKind::Asas {
                        level,
                        time,
                        domains,
                    } => {
                        let d: Option<Vec<usize>> = domains.iter().map(|x| out(x)).collect();
                        d.map(|d| Planned::Asas {
                            level: *level,
                            t: abs(*time),
                            d: [d[0], d[1], d[2], d[3]],
                        })
                    }
                };
                planned.unwrap_or(Planned::NotApplicable)
            })
            .collect();
        let every = trial
            .endpoints
            .iter()
            .map(|e| e.every.unwrap_or(0.0))
            .collect();
        let limit = trial
            .endpoints
            .iter()
            .map(|e| e.lower_limit.as_ref().map(|l| l.value))
            .collect();
        ArmEndpoints {
            items,
            every,
            limit,
            end,
            origin,
            tol,
        }
    }

    /// Whether `t` is a visit of endpoint `k`.
    #[inline]
    fn visit(&self, k: usize, t: f64) -> bool {
        let every = self.every[k];
        if every <= 0.0 {
            return true;
        }
        let n = ((t - self.origin) / every).round();
        n >= 0.0 && (t - (self.origin + n * every)).abs() <= self.tol
    }

    /// Number of endpoints.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no endpoints.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether endpoint `k` can be evaluated in this arm.
    pub fn applicable(&self, k: usize) -> bool {
        !matches!(self.items[k], Planned::NotApplicable)
    }

    /// Absolute times the endpoints need on the assessment grid.
    pub fn grid_times(&self) -> Vec<f64> {
        let mut v = Vec::new();
        for p in &self.items {
            match *p {
                Planned::Value { t, .. } | Planned::Asas { t, .. } => v.push(t),
                Planned::Extreme { from, to, .. }
                | Planned::Auc { from, to, .. }
                | Planned::TimeTo { from, to, .. }
                | Planned::Duration { from, to, .. }
                | Planned::Recovery { from, to, .. }
                | Planned::Relapse { from, to, .. } => v.extend([from, to]),
                Planned::Responder { mode, .. } => match mode {
                    Mode::At(t) => v.push(t),
                    Mode::Any(f, t) | Mode::All(f, t) => v.extend([f, t]),
                },
                Planned::AtEvent { .. } | Planned::NotApplicable => {}
            }
        }
        for &every in &self.every {
            if every > 0.0 {
                let n = ((self.end - self.origin) / every + 1e-9).floor() as u64;
                v.extend((0..=n).map(|k| self.origin + k as f64 * every));
            }
        }
        v
    }

    /// Fresh per-patient state.
    pub fn start(&self, states: &mut Vec<State>) {
        states.clear();
        states.resize(self.items.len(), State::reset());
    }

    /// Updates every endpoint with the outputs `y` at absolute time `t`; `base` holds the
    /// baseline visit.
    pub fn update(&self, states: &mut [State], t: f64, y: &[f64], base: &[f64]) {
        let tol = self.tol;
        let inside = |from: f64, to: f64| t >= from - tol && t <= to + tol;
        for k in 0..self.items.len() {
            let (before, rest) = states.split_at_mut(k);
            let s = &mut rest[0];
            s.fired = false;
            if !self.visit(k, t) {
                continue;
            }
            match self.items[k] {
                Planned::NotApplicable => {}
                Planned::Value { o, t: at, .. } => {
                    if !s.seen && (t - at).abs() <= tol {
                        s.v = y[o];
                        s.seen = true;
                    }
                }
                Planned::Extreme {
                    o, from, to, min, ..
                } => {
                    if inside(from, to) {
                        let x = y[o];
                        let better = if min { x < s.v } else { x > s.v };
                        if !s.seen || better || (s.v.is_nan() && !x.is_nan()) {
                            s.v = x;
                            s.t = t;
                            s.seen = true;
                        }
                    }
                }
                Planned::Auc { o, from, to, .. } => {
                    if inside(from, to) {
                        let x = y[o];
                        if s.seen {
                            s.acc += 0.5 * (x + s.last_y) * (t - s.last_t);
                        } else {
                            s.first_t = t;
                            s.seen = true;
                        }
                        s.last_t = t;
                        s.last_y = x;
                    }
                }
                Planned::TimeTo { c, from, to } => {
                    if inside(from, to) {
                        s.last_t = t;
                        if !s.done && c.holds(y, base) {
                            s.t = t;
                            s.done = true;
                            s.fired = true;
                        }
                    }
                }
                Planned::Duration { c, from, to } => {
                    if inside(from, to) {
                        let x = if c.holds(y, base) { 1.0 } else { 0.0 };
                        if s.seen {
                            s.acc += 0.5 * (x + s.last_y) * (t - s.last_t);
                        }
                        s.seen = true;
                        s.last_t = t;
                        s.last_y = x;
                    }
                }
                Planned::Recovery { dep, rec, from, to } => {
                    if inside(from, to) {
                        s.last_t = t;
                        if !s.seen {
                            if dep.holds(y, base) {
                                s.seen = true;
                            }
                        } else if !s.done && rec.holds(y, base) {
                            s.t = t;
                            s.done = true;
                            s.fired = true;
                        }
                    }
                }
                Planned::Responder { c, mode } => match mode {
                    Mode::At(at) => {
                        if !s.seen && (t - at).abs() <= tol {
                            s.v = if c.holds(y, base) { 1.0 } else { 0.0 };
                            s.seen = true;
                        }
                    }
                    Mode::Any(from, to) => {
                        if inside(from, to) {
                            if !s.seen {
                                s.v = 0.0;
                                s.seen = true;
                            }
                            if c.holds(y, base) {
                                s.v = 1.0;
                            }
                        }
                    }
                    Mode::All(from, to) => {
                        if inside(from, to) {
                            if !s.seen {
                                s.v = 1.0;
                                s.seen = true;
                            }
                            if !c.holds(y, base) {
                                s.v = 0.0;
                            }
                        }
                    }
                },
                Planned::Relapse {
                    resp,
                    rel,
                    from,
                    to,
                } => {
                    if inside(from, to) {
                        s.last_t = t;
                        if !s.seen {
                            if resp.holds(y, base) {
                                s.seen = true;
                                s.first_t = t;
                            }
                        } else if !s.done && rel.holds(y, base) {
                            s.t = t;
                            s.done = true;
                            s.fired = true;
                        }
                    }
                }
                Planned::AtEvent { o, event, .. } => {
                    if !s.seen && before[event].fired {
                        s.v = y[o];
                        s.seen = true;
                    }
                }
                Planned::Asas { level, t: at, d } => {
                    if !s.seen && (t - at).abs() <= tol {
                        s.v = asas(level, d, y, base);
                        s.seen = true;
                    }
                }
            }
        }
    }

    /// The final values, given the baseline visit.
    pub fn finish(&self, states: &[State], base: &[f64], out: &mut Vec<Outcome>) {
        out.clear();
        let origin = self.origin;
        for ((p, s), &limit) in self.items.iter().zip(states).zip(&self.limit) {
            // A level below the detection limit is reported at the limit.
            let level = |change: Change, v: f64, b: f64| match limit {
                Some(l) if v < l => Outcome {
                    value: change.apply(l, b),
                    event: false,
                    at_limit: true,
                },
                _ => Outcome {
                    value: change.apply(v, b),
                    event: false,
                    at_limit: false,
                },
            };
            let missing = Outcome {
                value: f64::NAN,
                event: false,
                at_limit: false,
            };
            let o = match *p {
                Planned::NotApplicable => missing,
                Planned::Value { o, change, .. } => level(change, s.v, base[o]),
                Planned::Extreme {
                    o, time, change, ..
                } => {
                    if !s.seen {
                        missing
                    } else if time {
                        Outcome {
                            value: s.t - origin,
                            event: false,
                            at_limit: false,
                        }
                    } else {
                        level(change, s.v, base[o])
                    }
                }
                Planned::Auc { mean, .. } => {
                    if !s.seen {
                        missing
                    } else if mean {
                        let len = s.last_t - s.first_t;
                        Outcome {
                            value: if len > 0.0 { s.acc / len } else { s.last_y },
                            event: false,
                            at_limit: false,
                        }
                    } else {
                        Outcome {
                            value: s.acc,
                            event: false,
                            at_limit: false,
                        }
                    }
                }
                Planned::TimeTo { .. } => tte(s.done, s.t, s.last_t, origin),
                Planned::Duration { .. } => {
                    if s.seen {
                        Outcome {
                            value: s.acc,
                            event: false,
                            at_limit: false,
                        }
                    } else {
                        missing
                    }
                }
                Planned::Recovery { .. } => {
                    if s.seen {
                        tte(s.done, s.t, s.last_t, origin)
                    } else {
                        missing
                    }
                }
                Planned::Responder { .. } | Planned::Asas { .. } => {
                    if s.seen {
                        Outcome {
                            value: s.v,
                            event: false,
                            at_limit: false,
                        }
                    } else {
                        missing
                    }
                }
                Planned::Relapse { .. } => {
                    if s.seen {
                        tte(s.done, s.t, s.last_t, s.first_t)
                    } else {
                        missing
                    }
                }
                Planned::AtEvent { o, change, .. } => {
                    if s.seen {
                        level(change, s.v, base[o])
                    } else {
                        missing
                    }
                }
            };
            out.push(o);
        }
    }
}

fn tte(done: bool, t: f64, last: f64, from: f64) -> Outcome {
    if done {
        Outcome {
            value: t - from,
            event: true,
            at_limit: false,
        }
    } else if last.is_finite() {
        Outcome {
            value: last - from,
            event: false,
            at_limit: false,
        }
    } else {
        Outcome {
            value: f64::NAN,
            event: false,
            at_limit: false,
        }
    }
}

/// ASAS20 (Anderson 2001) or ASAS40 (Brandt 2004) against the baseline visit, over the domains
/// patient global, pain, function and inflammation (0-10 scales):
/// ASAS20: an improvement of at least 20% and 1 unit in at least 3 domains and no worsening of
/// at least 20% and 1 unit in the remaining one; ASAS40: at least 40% and 2 units in at least 3
/// domains and no worsening at all in the remaining one.
fn asas(level: u32, d: [usize; 4], y: &[f64], base: &[f64]) -> f64 {
    let mut improved = 0;
    let mut worse = 0;
    for &i in &d {
        let (b, c) = (base[i], y[i]);
        if !(b.is_finite() && c.is_finite()) {
            return f64::NAN;
        }
        if level == 40 {
            if b - c >= 0.4 * b && b - c >= 2.0 {
                improved += 1;
            }
            if c > b {
                worse += 1;
            }
        } else {
            if b - c >= 0.2 * b && b - c >= 1.0 {
                improved += 1;
            }
            if c - b >= 0.2 * b && c - b >= 1.0 {
                worse += 1;
            }
        }
    }
    if improved >= 3 && worse == 0 {
        1.0
    } else {
        0.0
    }
}
