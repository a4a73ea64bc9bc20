//! Which targets informed the model, and so which pass rate is evidence.
//!
//! A parameter lists in `informed_by` the targets whose studies its value was set against,
//! by a formal fit or by hand. A target is then
//!
//! * a **calibration** target when some parameter lists it: reproducing it shows that the
//!   calibration worked, not that the model predicts;
//! * a **same-study** target when no parameter lists it but one lists another target of the
//!   same study, or of a study whose patients its study contains (`overlaps` in the target
//!   file: a pooled analysis or a longer follow-up of a cohort that informed the model);
//! * an **independent** target when no parameter lists any target of its study.
//!
//! `tabula validate` reports the pass rate of each class apart (`docs/validation.md`).

use std::collections::{BTreeMap, BTreeSet};

use tabula_model::Model;

use crate::target::Target;
use crate::validate::{Tally, TargetResult};

/// How a target relates to the parameters of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// A parameter was set against this target.
    Calibration,
    /// A parameter was set against another target of the same study, or of a study whose
    /// patients this study contains.
    SameStudy,
    /// No parameter was set against any target of this study.
    Independent,
}

impl Evidence {
    /// The word used in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Evidence::Calibration => "calibration",
            Evidence::SameStudy => "same study",
            Evidence::Independent => "independent",
        }
    }
}

/// The targets each parameter was informed by, gathered from models.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// Target id -> the parameters (`model: parameter`) it informed.
    informed: BTreeMap<String, BTreeSet<String>>,
    /// Ids listed by some parameter that name no known target, with the parameter.
    unknown: Vec<(String, String)>,
}

impl Provenance {
    /// Reads `informed_by` from every parameter of `models`; `known` are the target ids that
    /// exist (an id outside it is recorded in [`Provenance::unknown`]).
    pub fn new<'a>(models: impl IntoIterator<Item = &'a Model>, known: &[Target]) -> Provenance {
        let ids: BTreeSet<&str> = known.iter().map(|t| t.id.as_str()).collect();
        let mut p = Provenance::default();
        for m in models {
            for par in &m.parameters {
                for id in &par.informed_by {
                    let who = format!("{} ({})", par.name, par.origin);
                    if ids.contains(id.as_str()) {
                        p.informed.entry(id.clone()).or_default().insert(who);
                    } else if !p.unknown.iter().any(|(i, w)| i == id && *w == who) {
                        p.unknown.push((id.clone(), who));
                    }
                }
            }
        }
        p
    }

    /// `(id, parameter)` pairs whose id names no known target.
    pub fn unknown(&self) -> &[(String, String)] {
        &self.unknown
    }

    /// The parameters target `id` informed.
    pub fn parameters(&self, id: &str) -> Vec<String> {
        self.informed
            .get(id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The class of `target`, given every target (for its study's other targets).
    pub fn evidence(&self, target: &Target, all: &[Target]) -> Evidence {
        if self.informed.contains_key(&target.id) {
            return Evidence::Calibration;
        }
        let related = |name: &str| {
            name == target.study.name || target.study.overlaps.iter().any(|o| o == name)
        };
        let same_study = all
            .iter()
            .any(|t| related(&t.study.name) && self.informed.contains_key(&t.id));
        if same_study {
            Evidence::SameStudy
        } else {
            Evidence::Independent
        }
    }

    /// The results counted per class.
    pub fn tallies(&self, results: &[TargetResult], all: &[Target]) -> BTreeMap<Evidence, Tally> {
        let mut out = BTreeMap::new();
        for r in results {
            let e = self.evidence(&r.target, all);
            let t: &mut Tally = out.entry(e).or_insert_with(|| Tally::of(&[]));
            match r.passed() {
                Some(true) => t.passed += 1,
                Some(false) => t.failed += 1,
                None => t.not_usable += 1,
            }
        }
        out
    }
}
