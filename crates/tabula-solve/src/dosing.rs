//! Doses with pharmacometric semantics, expanded into exact events.
//!
//! A [`DoseRecord`] follows NONMEM / mrgsolve conventions: an amount given at `time` into a
//! state, either as a bolus or as a zero-order infusion (by rate or by duration), optionally
//! repeated every `interval` for `additional` more doses. Amounts may be scaled by a parameter
//! (body weight for per-kg doses, body-surface area for per-m² doses) and by the route's
//! bioavailability, both of which can differ between virtual patients, so the records are
//! expanded into [`Event`]s per patient with [`Regimen::events`].

use std::fmt;

/// How a dose is delivered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delivery {
    /// The whole amount at once.
    Bolus,
    /// Zero-order infusion at this rate (state unit per time unit), lasting amount / rate.
    Rate(f64),
    /// Zero-order infusion over this duration (time unit), at amount / duration.
    Duration(f64),
}

/// One dosing record.
#[derive(Clone, Debug, PartialEq)]
pub struct DoseRecord {
    /// Time of the (first) dose, in the model time unit.
    pub time: f64,
    /// Target state index.
    pub state: usize,
    /// Route index (for bioavailability), if the dose names a route.
    pub route: Option<usize>,
    /// Amount, already converted to the state's unit (before `scale_by` and bioavailability).
    pub amount: f64,
    /// A parameter that multiplies the amount (e.g. body weight for a per-kg dose).
    pub scale_by: Option<usize>,
    /// Bolus or infusion.
    pub delivery: Delivery,
    /// Interval between repeated doses (time unit); 0 when not repeated.
    pub interval: f64,
    /// Number of additional doses after the first.
    pub additional: u32,
    /// A label for messages and reports (e.g. "cd19_car_t 1e6 cells/kg").
    pub label: String,
}

/// A dosing regimen: a list of records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Regimen {
    /// The records.
    pub doses: Vec<DoseRecord>,
}

/// A discontinuity the driver applies at an exact time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Add `amount` to `state`.
    Bolus {
        /// When.
        time: f64,
        /// Which state.
        state: usize,
        /// How much (state unit, after scaling and bioavailability).
        amount: f64,
    },
    /// An infusion into `state` at `rate` over `[start, end)`.
    Infusion {
        /// Start.
        start: f64,
        /// End.
        end: f64,
        /// Which state.
        state: usize,
        /// Rate (state unit per time unit, after scaling and bioavailability).
        rate: f64,
    },
}

/// A regimen that cannot be expanded.
#[derive(Clone, Debug, PartialEq)]
pub struct RegimenError(pub String);

impl fmt::Display for RegimenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegimenError {}

impl Regimen {
    /// Expands the records into events for one patient. `param` gives a parameter's value
    /// (for per-kg scaling) and `bioavailability` a route's.
    pub fn events(
        &self,
        param: impl Fn(usize) -> f64,
        bioavailability: impl Fn(usize) -> f64,
    ) -> Result<Vec<Event>, RegimenError> {
        let mut out = Vec::new();
        for d in &self.doses {
            let scale = d.scale_by.map_or(1.0, &param);
            let f = d.route.map_or(1.0, &bioavailability);
            let amount = d.amount * scale * f;
            let check = |x: f64, what: &str| {
                if x.is_finite() && x >= 0.0 {
                    Ok(())
                } else {
                    Err(RegimenError(format!(
                        "dose `{}`: {what} is {x}; expected a finite value >= 0",
                        d.label
                    )))
                }
            };
            check(scale, "the scaling parameter")?;
            check(f, "the bioavailability")?;
            check(amount, "the amount")?;
            check(d.time, "the time")?;
            check(d.interval, "the interval")?;
            if d.additional > 0 && d.interval <= 0.0 {
                return Err(RegimenError(format!(
                    "dose `{}`: {} additional doses need an interval > 0",
                    d.label, d.additional
                )));
            }
            for k in 0..=d.additional {
                let time = d.time + f64::from(k) * d.interval;
                match d.delivery {
                    Delivery::Bolus => out.push(Event::Bolus {
                        time,
                        state: d.state,
                        amount,
                    }),
                    Delivery::Rate(rate) | Delivery::Duration(rate)
                        if !(rate.is_finite() && rate > 0.0) =>
                    {
                        return Err(RegimenError(format!(
                            "dose `{}`: infusion rate or duration must be > 0, found {rate}",
                            d.label
                        )));
                    }
                    Delivery::Rate(rate) => {
                        // NONMEM semantics: the rate is kept (scaled like the amount, e.g. per kg);
                        // bioavailability changes the duration.
                        let rate = rate * scale;
                        if amount > 0.0 {
                            out.push(Event::Infusion {
                                start: time,
                                end: time + amount / rate,
                                state: d.state,
                                rate,
                            });
                        }
                    }
                    Delivery::Duration(duration) => {
                        if amount > 0.0 {
                            out.push(Event::Infusion {
                                start: time,
                                end: time + duration,
                                state: d.state,
                                rate: amount / duration,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The times at which the solver must stop: every bolus, infusion start and infusion end,
/// sorted and without duplicates.
pub fn breakpoints(events: &[Event]) -> Vec<f64> {
    let mut t: Vec<f64> = Vec::with_capacity(events.len() * 2);
    for e in events {
        match *e {
            Event::Bolus { time, .. } => t.push(time),
            Event::Infusion { start, end, .. } => {
                t.push(start);
                t.push(end);
            }
        }
    }
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(delivery: Delivery) -> DoseRecord {
        DoseRecord {
            time: 1.0,
            state: 0,
            route: Some(0),
            amount: 100.0,
            scale_by: Some(0),
            delivery,
            interval: 7.0,
            additional: 2,
            label: "d".into(),
        }
    }

    #[test]
    fn repeated_bolus_scaled_by_weight_and_bioavailability() {
        let r = Regimen {
            doses: vec![rec(Delivery::Bolus)],
        };
        let ev = r.events(|_| 70.0, |_| 0.5).unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(
            ev[2],
            Event::Bolus {
                time: 15.0,
                state: 0,
                amount: 3500.0
            }
        );
    }

    #[test]
    fn infusion_by_rate_keeps_the_rate_and_lasts_amount_over_rate() {
        let mut d = rec(Delivery::Rate(50.0));
        d.scale_by = None;
        d.route = None;
        let ev = Regimen { doses: vec![d] }.events(|_| 1.0, |_| 1.0).unwrap();
        assert_eq!(
            ev[0],
            Event::Infusion {
                start: 1.0,
                end: 3.0,
                state: 0,
                rate: 50.0
            }
        );
    }

    #[test]
    fn infusion_by_duration_and_bioavailability_scales_the_rate() {
        let mut d = rec(Delivery::Duration(4.0));
        d.scale_by = None;
        let ev = Regimen { doses: vec![d] }.events(|_| 1.0, |_| 0.5).unwrap();
        assert_eq!(
            ev[1],
            Event::Infusion {
                start: 8.0,
                end: 12.0,
                state: 0,
                rate: 12.5
            }
        );
        assert_eq!(breakpoints(&ev), vec![1.0, 5.0, 8.0, 12.0, 15.0, 19.0]);
    }

    #[test]
    fn bad_records_are_errors() {
        let mut d = rec(Delivery::Bolus);
        d.interval = 0.0;
        assert!(Regimen { doses: vec![d] }.events(|_| 1.0, |_| 1.0).is_err());
        let d = rec(Delivery::Duration(0.0));
        assert!(Regimen { doses: vec![d] }.events(|_| 1.0, |_| 1.0).is_err());
        let d = rec(Delivery::Bolus);
        assert!(Regimen { doses: vec![d] }
            .events(|_| f64::NAN, |_| 1.0)
            .is_err());
    }
}
