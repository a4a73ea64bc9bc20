//! Validation targets: published outcomes, each with the design that reproduces it, the
//! observed value and spread, and a tolerance rule stated before the model is run.
//!
//! A target file describes one study (`[study]`) and its targets (`[[target]]`); the format is
//! documented in `docs/validation.md`. Every problem is reported with file, line, column and
//! field, and every problem found is reported at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tabula_model::doc::{parse_document, Reader, TableView};
use tabula_model::error::Location;
use tabula_model::{ModelError, SourceFile};
use tabula_trial::spec::Op;

use crate::read::{number, span_of};

/// The study a group of targets comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    /// Identifier (`mackensen_2022`).
    pub name: String,
    /// Citation (authors, journal, year).
    pub reference: String,
    /// DOI / PMID.
    pub source: String,
    /// What was actually read (abstract, letter, label...), with addresses.
    pub read: String,
    /// Who was studied.
    pub population: String,
    /// What they received.
    pub regimen: String,
    /// Studies whose patients this one contains (a pooled analysis, a follow-up of an earlier
    /// cohort): evidence from it is not independent of theirs.
    pub overlaps: Vec<String>,
    /// The file the study was read from.
    pub file: String,
}

/// Which summary the observed central value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CentralKind {
    /// A mean.
    Mean,
    /// A median.
    Median,
    /// A single value (one patient, or a summary of unstated kind).
    Value,
}

impl CentralKind {
    /// Word used in tables.
    pub fn name(self) -> &'static str {
        match self {
            CentralKind::Mean => "mean",
            CentralKind::Median => "median",
            CentralKind::Value => "value",
        }
    }
}

/// The published outcome.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// The central value and what kind of summary it is.
    pub central: Option<(CentralKind, f64)>,
    /// Standard deviation between patients.
    pub sd: Option<f64>,
    /// Lower end of the reported range (or the qualitative statement translated to numbers).
    pub lower: Option<f64>,
    /// Upper end of the reported range.
    pub upper: Option<f64>,
    /// What `lower`–`upper` is (`range`, `IQR`, `95% CI`, `stated`...).
    pub spread: Option<String>,
    /// Responders (for rates).
    pub events: Option<u64>,
    /// Patients.
    pub n: Option<u64>,
    /// Unit of the values.
    pub unit: String,
    /// Where `unit` is written, for messages.
    pub unit_location: Option<Location>,
    /// The statement in words (qualitative targets).
    pub text: Option<String>,
}

impl Observed {
    /// Multiplies every value (central, SD, range) by `factor`: a change of unit.
    pub fn scale(&mut self, factor: f64) {
        if let Some((_, v)) = &mut self.central {
            *v *= factor;
        }
        for x in [&mut self.sd, &mut self.lower, &mut self.upper]
            .into_iter()
            .flatten()
        {
            *x *= factor;
        }
    }

    /// The observed rate `events / n`, if given.
    pub fn rate(&self) -> Option<f64> {
        match (self.events, self.n) {
            (Some(x), Some(n)) if n > 0 => Some(x as f64 / n as f64),
            _ => None,
        }
    }

    /// The central value (or the rate, or the middle of the range) as one number for plots.
    pub fn point(&self) -> f64 {
        if let Some((_, v)) = self.central {
            return v;
        }
        if let Some(r) = self.rate() {
            return r;
        }
        match (self.lower, self.upper) {
            (Some(a), Some(b)) => 0.5 * (a + b),
            _ => f64::NAN,
        }
    }

    /// A short description: `110 ± 32 (mean ± SD, n = 5)`, `13/15 (87%)`, `0 (0–2, range)`.
    pub fn describe(&self) -> String {
        let fmt = |x: f64| tabula_output::format_sig(x, 4);
        let mut s = String::new();
        if let (Some(x), Some(n)) = (self.events, self.n) {
            s = format!("{x}/{n} ({}%)", fmt(100.0 * x as f64 / n.max(1) as f64));
        } else if let Some((kind, v)) = self.central {
            s = fmt(v);
            if let Some(sd) = self.sd {
                s.push_str(&format!(" ± {} ({} ± SD)", fmt(sd), kind.name()));
            } else if kind != CentralKind::Value {
                s.push_str(&format!(" ({})", kind.name()));
            }
            if let (Some(a), Some(b)) = (self.lower, self.upper) {
                let what = self.spread.as_deref().unwrap_or("range");
                s.push_str(&format!(" [{}–{}, {what}]", fmt(a), fmt(b)));
            }
        } else if let (Some(a), Some(b)) = (self.lower, self.upper) {
            let what = self.spread.as_deref().unwrap_or("range");
            s = format!("{}–{} ({what})", fmt(a), fmt(b));
        }
        if !self.unit.is_empty() && !s.is_empty() && self.events.is_none() {
            s.push(' ');
            s.push_str(&self.unit);
        }
        if self.events.is_none() {
            if let Some(n) = self.n {
                s.push_str(&format!(", n = {n}"));
            }
        }
        if let Some(t) = &self.text {
            if s.is_empty() {
                s = t.clone();
            } else {
                s = format!("{s}; \"{t}\"");
            }
        }
        s
    }
}

/// Which simulated summary a rule compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    /// The median of the per-patient values (the value itself for one patient).
    Median,
    /// The mean of the per-patient values.
    Mean,
    /// The share of patients with value >= 0.5 (binary endpoints).
    Proportion,
}

impl Statistic {
    /// Name as written in target files.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Median => "median",
            Statistic::Mean => "mean",
            Statistic::Proportion => "proportion",
        }
    }
}

/// A tolerance rule, stated up front (see `docs/validation.md` for why each exists).
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// The observed central value lies inside the central `level` prediction interval of the
    /// simulated per-patient values (e.g. the 5th–95th percentiles for `level = 0.9`).
    ObservedInInterval {
        /// Coverage of the simulated interval.
        level: f64,
    },
    /// The simulated proportion lies inside the exact (Clopper–Pearson) `level` confidence
    /// interval of the observed `events / n`.
    RateInBinomialCi {
        /// Confidence level.
        level: f64,
    },
    /// The simulated mean lies inside the `level` t-interval of the observed mean
    /// (`mean ± t sd / sqrt(n)`).
    MeanInObservedCi {
        /// Confidence level.
        level: f64,
    },
    /// The simulated statistic lies inside the observed `[lower, upper]`.
    SimulatedInRange {
        /// Which simulated summary.
        statistic: Statistic,
    },
    /// `|sim - obs| / |obs| <= max`.
    RelativeError {
        /// Largest relative error.
        max: f64,
        /// Which simulated summary.
        statistic: Statistic,
    },
    /// `max(sim / obs, obs / sim) <= max`.
    FoldError {
        /// Largest fold difference.
        max: f64,
        /// Which simulated summary.
        statistic: Statistic,
    },
    /// `|sim - obs| <= max`.
    AbsoluteError {
        /// Largest absolute difference (in the observed unit).
        max: f64,
        /// Which simulated summary.
        statistic: Statistic,
    },
    /// A qualitative statement as a threshold: `sim op threshold`.
    Threshold {
        /// Comparison.
        op: Op,
        /// Threshold.
        threshold: f64,
        /// Which simulated summary.
        statistic: Statistic,
    },
}

/// Every rule name, as written in target files.
pub const RULES: &[&str] = &[
    "observed_in_interval",
    "rate_in_binomial_ci",
    "mean_in_observed_ci",
    "simulated_in_range",
    "relative_error",
    "fold_error",
    "absolute_error",
    "threshold",
];

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::ObservedInInterval { .. } => "observed_in_interval",
            Rule::RateInBinomialCi { .. } => "rate_in_binomial_ci",
            Rule::MeanInObservedCi { .. } => "mean_in_observed_ci",
            Rule::SimulatedInRange { .. } => "simulated_in_range",
            Rule::RelativeError { .. } => "relative_error",
            Rule::FoldError { .. } => "fold_error",
            Rule::AbsoluteError { .. } => "absolute_error",
            Rule::Threshold { .. } => "threshold",
        }
    }

    /// The statistic a rule compares.
    pub fn statistic(&self) -> Statistic {
        match self {
            Rule::ObservedInInterval { .. } => Statistic::Median,
            Rule::RateInBinomialCi { .. } => Statistic::Proportion,
            Rule::MeanInObservedCi { .. } => Statistic::Mean,
            Rule::SimulatedInRange { statistic }
            | Rule::RelativeError { statistic, .. }
            | Rule::FoldError { statistic, .. }
            | Rule::AbsoluteError { statistic, .. }
            | Rule::Threshold { statistic, .. } => *statistic,
        }
    }

    /// The rule in words, e.g. `observed inside simulated 90% interval`.
    pub fn describe(&self) -> String {
        let pct = |x: f64| tabula_output::format_sig(100.0 * x, 3);
        match self {
            Rule::ObservedInInterval { level } => {
                format!("observed inside simulated {}% interval", pct(*level))
            }
            Rule::RateInBinomialCi { level } => {
                format!("simulated rate inside observed {}% CI (exact)", pct(*level))
            }
            Rule::MeanInObservedCi { level } => {
                format!(
                    "simulated mean inside observed {}% CI of the mean",
                    pct(*level)
                )
            }
            Rule::SimulatedInRange { statistic } => {
                format!("simulated {} inside observed range", statistic.name())
            }
            Rule::RelativeError { max, statistic } => {
                format!("{} within {}% of observed", statistic.name(), pct(*max))
            }
            Rule::FoldError { max, statistic } => format!(
                "{} within {}-fold of observed",
                statistic.name(),
                tabula_output::format_sig(*max, 3)
            ),
            Rule::AbsoluteError { max, statistic } => format!(
                "{} within ± {} of observed",
                statistic.name(),
                tabula_output::format_sig(*max, 3)
            ),
            Rule::Threshold {
                op,
                threshold,
                statistic,
            } => format!(
                "simulated {} {} {}",
                statistic.name(),
                op.symbol(),
                tabula_output::format_sig(*threshold, 4)
            ),
        }
    }
}

/// How a target is reproduced: an endpoint of one arm of a virtual trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    /// The trial: a validation trial name (`library/validation/trials/<name>.toml`), a built-in
    /// trial name, or a path ending in `.toml` relative to the target file.
    pub trial: String,
    /// Directory of the target file (for relative trial paths), when it is on disk.
    pub base_dir: Option<PathBuf>,
    /// The arm's name.
    pub arm: String,
    /// The endpoint's name.
    pub endpoint: String,
    /// Another endpoint to divide by, patient by patient (ratios such as accumulation).
    pub divide_by: Option<String>,
    /// Turns the per-patient value into 1/0 with `value op threshold` (e.g. SRI-4 from a
    /// SLEDAI change: `at_most = -4`).
    pub responder: Option<(Op, f64)>,
    /// Where `trial`, `arm`, `endpoint` and `divide_by` are written (for errors found later).
    pub locations: [Location; 4],
}

/// One validation target.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Identifier (`T27`, `T14b`).
    pub id: String,
    /// The study.
    pub study: Arc<Study>,
    /// What is compared, in a few words.
    pub quantity: String,
    /// The sentence or table cell the number comes from.
    pub quote: String,
    /// Whether the target counts in the pass rate.
    pub usable: bool,
    /// Why not, when it does not.
    pub reason: String,
    /// How it is reproduced (usable targets).
    pub design: Option<Design>,
    /// The published outcome.
    pub observed: Observed,
    /// The tolerance rule (usable targets).
    pub rule: Option<Rule>,
    /// Caveats, translation of a qualitative statement, design approximations.
    pub note: String,
    /// What kind of outcome it is (`None` when the file does not say).
    pub class: Option<OutcomeClass>,
    /// Where the target is written.
    pub location: Location,
}

/// The kind of outcome a target compares, for the coverage table: which evidence the model
/// has for depletion, reconstitution, efficacy, durability, safety and exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutcomeClass {
    /// Exposure: drug concentrations, CAR-T expansion and persistence in blood.
    Kinetics,
    /// How deep, how fast and where target cells are removed.
    Depletion,
    /// How and when B cells, immunoglobulins and other cells come back.
    Reconstitution,
    /// Disease activity, response and remission at a landmark.
    Efficacy,
    /// Remission kept or lost over a year and more; relapse.
    Durability,
    /// Cytokine release, neurotoxicity, infections, cytopenias, anti-drug antibodies.
    Safety,
}

impl OutcomeClass {
    /// Every class, in the order of the coverage table.
    pub const ALL: [OutcomeClass; 6] = [
        OutcomeClass::Kinetics,
        OutcomeClass::Depletion,
        OutcomeClass::Reconstitution,
        OutcomeClass::Efficacy,
        OutcomeClass::Durability,
        OutcomeClass::Safety,
    ];

    /// The name used in target files (`class = "depletion"`).
    pub fn name(self) -> &'static str {
        match self {
            OutcomeClass::Kinetics => "kinetics",
            OutcomeClass::Depletion => "depletion",
            OutcomeClass::Reconstitution => "reconstitution",
            OutcomeClass::Efficacy => "efficacy",
            OutcomeClass::Durability => "durability",
            OutcomeClass::Safety => "safety",
        }
    }

    /// Reads a class name.
    pub fn parse(name: &str) -> Option<OutcomeClass> {
        OutcomeClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

const ROOT: &[&str] = &["study", "target"];
const STUDY: &[&str] = &[
    "name",
    "reference",
    "source",
    "read",
    "population",
    "regimen",
    "overlaps",
];
const TARGET: &[&str] = &[
    "id",
    "quantity",
    "quote",
    "usable",
    "reason",
    "trial",
    "arm",
    "endpoint",
    "divide_by",
    "responder",
    "observed",
    "rule",
    "note",
    "class",
];
const OBSERVED: &[&str] = &[
    "value", "mean", "median", "sd", "lower", "upper", "spread", "events", "n", "unit", "text",
];
const RULE: &[&str] = &[
    "name",
    "level",
    "max",
    "statistic",
    "below",
    "at_most",
    "above",
    "at_least",
];
const CONDITION: &[&str] = &["below", "at_most", "above", "at_least"];
const STATISTICS: &[&str] = &["median", "mean", "proportion"];

/// Reads one target file from disk.
pub fn load_target_file(path: &Path) -> Result<Vec<Target>, ModelError> {
    let src = SourceFile::read(path)?;
    parse_targets(&src, path.parent().map(Path::to_path_buf))
}

/// Reads a target file's text under a display name (`<builtin>/validation/targets/x.toml`).
pub fn load_target_str(name: &str, text: &str) -> Result<Vec<Target>, ModelError> {
    parse_targets(&SourceFile::new(name, text), None)
}

/// `below = x` and friends: exactly one comparison.
fn condition(r: &mut Reader<'_>, t: &TableView<'_, '_>) -> Option<(Op, f64)> {
    let mut found = Vec::new();
    for (key, op) in [
        ("below", Op::Below),
        ("at_most", Op::AtMost),
        ("above", Op::Above),
        ("at_least", Op::AtLeast),
    ] {
        if let Some((x, span)) = t.num(r, key, false) {
            found.push((op, x, span));
        }
    }
    match found.len() {
        1 => Some((found[0].0, found[0].1)),
        0 => None,
        _ => {
            r.error(
                &found[1].2,
                &t.path,
                "give exactly one of below, at_most, above, at_least",
            );
            None
        }
    }
}

fn parse_targets(src: &SourceFile, base_dir: Option<PathBuf>) -> Result<Vec<Target>, ModelError> {
    let doc = parse_document(src)?;
    let root = TableView::root(&doc);
    let mut r = Reader::new(src);
    root.check_keys(&mut r, ROOT);
    let Some(st) = root.sub(&mut r, "study") else {
        if root.get("study").is_none() {
            r.error(
                &(0..0),
                "study",
                "missing the `[study]` table (name, reference, source, read)",
            );
        }
        return r.diags.finish(Vec::new());
    };
    st.check_keys(&mut r, STUDY);
    let text = |r: &mut Reader<'_>, key: &str, required: bool| {
        st.str(r, key, required).map(|s| s.text).unwrap_or_default()
    };
    let study = Arc::new(Study {
        name: text(&mut r, "name", true),
        reference: text(&mut r, "reference", true),
        source: text(&mut r, "source", true),
        read: text(&mut r, "read", true),
        population: text(&mut r, "population", false),
        regimen: text(&mut r, "regimen", false),
        overlaps: st
            .str_array(&mut r, "overlaps")
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.text)
            .collect(),
        file: src.name.to_string(),
    });
    let tables = r.table_array(&root, "target");
    if tables.is_empty() && root.get("target").is_none() {
        r.error(&(0..0), "target", "no [[target]] tables");
    }
    let mut targets: Vec<Target> = Vec::new();
    for t in &tables {
        t.check_keys(&mut r, TARGET);
        let id = t.str(&mut r, "id", true);
        if let Some(id) = &id {
            if let Some(prev) = targets.iter().find(|p| p.id == id.text) {
                r.error(
                    &id.span,
                    &t.child("id"),
                    format!(
                        "target `{}` is defined twice (first at line {})",
                        id.text, prev.location.line
                    ),
                );
            }
        }
        let quantity = t.str(&mut r, "quantity", true).map(|s| s.text);
        let quote = t.str(&mut r, "quote", false).map(|s| s.text);
        let usable = t.bool(&mut r, "usable");
        if usable.is_none() && t.get("usable").is_none() {
            r.error(
                &t.span,
                &t.child("usable"),
                "missing required field `usable` (true, or false with a `reason`)",
            );
        }
        let usable = usable.unwrap_or(false);
        let reason = t.str(&mut r, "reason", false).map(|s| s.text);
        if !usable && reason.is_none() && t.get("usable").is_some() {
            r.error(
                &span_of(t, "usable"),
                &t.child("reason"),
                "a target with `usable = false` needs a `reason`",
            );
        }
        let observed = match t.sub(&mut r, "observed") {
            Some(o) => observed(&mut r, &o),
            None => {
                if usable && t.get("observed").is_none() {
                    r.error(
                        &t.span,
                        &t.child("observed"),
                        "missing required field `observed` (value, spread, n)",
                    );
                }
                Observed::default()
            }
        };
        let rule = match t.get("rule") {
            Some(_) => rule(&mut r, t, &observed),
            None => {
                if usable {
                    r.error(
                        &t.span,
                        &t.child("rule"),
                        format!(
                            "missing required field `rule` (one of: {})",
                            RULES.join(", ")
                        ),
                    );
                }
                None
            }
        };
        let class = t.str(&mut r, "class", false).and_then(|c| {
            let parsed = OutcomeClass::parse(&c.text);
            if parsed.is_none() {
                let names: Vec<&str> = OutcomeClass::ALL.iter().map(|c| c.name()).collect();
                r.error(
                    &c.span,
                    &t.child("class"),
                    format!(
                        "unknown outcome class \"{}\"; expected one of: {}",
                        c.text,
                        names.join(", ")
                    ),
                );
            }
            parsed
        });
        let design = design(&mut r, t, usable, base_dir.clone());
        let responder = t.sub(&mut r, "responder").and_then(|c| {
            c.check_keys(&mut r, CONDITION);
            let cond = condition(&mut r, &c);
            if cond.is_none() {
                r.error(
                    &c.span,
                    &c.path,
                    "give one of below, at_most, above, at_least",
                );
            }
            cond
        });
        let design = design.map(|mut d| {
            d.responder = responder;
            d
        });
        targets.push(Target {
            id: id.map(|s| s.text).unwrap_or_default(),
            study: study.clone(),
            quantity: quantity.unwrap_or_default(),
            quote: quote.unwrap_or_default(),
            usable,
            reason: reason.unwrap_or_default(),
            design,
            observed,
            rule,
            note: t
                .str(&mut r, "note", false)
                .map(|s| s.text)
                .unwrap_or_default(),
            class,
            location: src.location(t.span.start),
        });
    }
    r.diags.finish(targets)
}

fn design(
    r: &mut Reader<'_>,
    t: &TableView<'_, '_>,
    usable: bool,
    base_dir: Option<PathBuf>,
) -> Option<Design> {
    let trial = t.str(r, "trial", usable);
    let arm = t.str(r, "arm", usable);
    let endpoint = t.str(r, "endpoint", usable);
    let divide_by = t.str(r, "divide_by", false);
    let (trial, arm, endpoint) = (trial?, arm?, endpoint?);
    let loc = |span: &std::ops::Range<usize>| r.src.location(span.start);
    let divide_loc = divide_by
        .as_ref()
        .map_or_else(|| loc(&endpoint.span), |d| loc(&d.span));
    Some(Design {
        locations: [
            loc(&trial.span),
            loc(&arm.span),
            loc(&endpoint.span),
            divide_loc,
        ],
        trial: trial.text,
        base_dir,
        arm: arm.text,
        endpoint: endpoint.text,
        divide_by: divide_by.map(|d| d.text),
        responder: None,
    })
}

fn observed(r: &mut Reader<'_>, o: &TableView<'_, '_>) -> Observed {
    o.check_keys(r, OBSERVED);
    let mut central = None;
    let mut count = 0;
    for (key, kind) in [
        ("value", CentralKind::Value),
        ("mean", CentralKind::Mean),
        ("median", CentralKind::Median),
    ] {
        if let Some((x, _)) = o.num(r, key, false) {
            count += 1;
            central = Some((kind, x));
        }
    }
    if count > 1 {
        r.error(
            &o.span,
            &o.path,
            "give at most one of `value`, `mean`, `median`",
        );
    }
    let sd = number(r, o, "sd", false, |x| x >= 0.0, "a standard deviation >= 0").map(|x| x.0);
    let lower = o.num(r, "lower", false);
    let upper = o.num(r, "upper", false);
    if let (Some((a, _)), Some((b, span))) = (&lower, &upper) {
        if a > b {
            r.error(
                span,
                &o.child("upper"),
                format!("`upper` ({b}) must not be below `lower` ({a})"),
            );
        }
    }
    if lower.is_some() != upper.is_some() {
        r.error(
            &o.span,
            &o.path,
            "give both `lower` and `upper` (a range), or neither",
        );
    }
    let n = o.whole(r, "n", 1.0, 1e9);
    let events = o.whole(r, "events", 0.0, 1e9);
    if let Some(x) = events {
        match n {
            None => r.error(
                &span_of(o, "events"),
                &o.child("n"),
                "`events` needs `n` (the number of patients)",
            ),
            Some(n) if x > n => r.error(
                &span_of(o, "events"),
                &o.child("events"),
                format!("`events` ({x}) cannot exceed `n` ({n})"),
            ),
            _ => {}
        }
        if central.is_some() {
            r.error(
                &span_of(o, "events"),
                &o.path,
                "a rate (`events`, `n`) cannot also have a `value`, `mean` or `median`",
            );
        }
    }
    let unit = o.str(r, "unit", false);
    Observed {
        central,
        sd,
        lower: lower.map(|x| x.0),
        upper: upper.map(|x| x.0),
        spread: o.str(r, "spread", false).map(|s| s.text),
        events,
        n,
        unit: unit.as_ref().map(|s| s.text.clone()).unwrap_or_default(),
        unit_location: unit.map(|s| r.src.location(s.span.start)),
        text: o.str(r, "text", false).map(|s| s.text),
    }
}

fn rule(r: &mut Reader<'_>, t: &TableView<'_, '_>, obs: &Observed) -> Option<Rule> {
    // `rule = "name"` or `rule = { name = "...", ... }`.
    let v = t.get("rule")?;
    let (name, table) = match v.get_ref() {
        toml::de::DeValue::String(s) => {
            let name = s.to_string();
            if !RULES.contains(&name.as_str()) {
                let hint = tabula_model::error::did_you_mean(&name, RULES.iter().copied());
                r.error(
                    &v.span(),
                    &t.child("rule"),
                    format!(
                        "unknown rule \"{name}\"{hint}; expected one of: {}",
                        RULES.join(", ")
                    ),
                );
                return None;
            }
            (name, None)
        }
        _ => {
            let rt = r.table(v, &t.child("rule"))?;
            rt.check_keys(r, RULE);
            let name = rt.choice(r, "name", RULES, true)?.text;
            (name, Some(rt))
        }
    };
    let span = v.span();
    let field = t.child("rule");
    let level = |r: &mut Reader<'_>, default: f64| -> f64 {
        table
            .as_ref()
            .and_then(|rt| {
                number(
                    r,
                    rt,
                    "level",
                    false,
                    |x| x > 0.0 && x < 1.0,
                    "a level strictly between 0 and 1",
                )
            })
            .map_or(default, |x| x.0)
    };
    let statistic = |r: &mut Reader<'_>| -> Statistic {
        match table
            .as_ref()
            .and_then(|rt| rt.choice(r, "statistic", STATISTICS, false))
            .map(|s| s.text)
            .as_deref()
        {
            Some("mean") => Statistic::Mean,
            Some("proportion") => Statistic::Proportion,
            _ => Statistic::Median,
        }
    };
    let max = |r: &mut Reader<'_>| -> Option<f64> {
        let rt = table.as_ref();
        match rt.and_then(|rt| number(r, rt, "max", true, |x| x > 0.0, "a number > 0")) {
            Some((x, _)) => Some(x),
            None => {
                if rt.is_none() {
                    r.error(
                        &span,
                        &field,
                        "this rule needs `max`: write rule = { name = \"...\", max = ... }",
                    );
                }
                None
            }
        }
    };
    let need = |r: &mut Reader<'_>, ok: bool, what: &str| {
        if !ok {
            r.error(
                &span,
                &field,
                format!("rule `{name}` needs the observed {what}"),
            );
        }
    };
    let rule = match name.as_str() {
        "observed_in_interval" => {
            need(r, obs.central.is_some(), "`value`, `mean` or `median`");
            Rule::ObservedInInterval {
                level: level(r, 0.9),
            }
        }
        "rate_in_binomial_ci" => {
            need(r, obs.events.is_some(), "`events` and `n`");
            Rule::RateInBinomialCi {
                level: level(r, 0.95),
            }
        }
        "mean_in_observed_ci" => {
            let ok = matches!(obs.central, Some((CentralKind::Mean, _)))
                && obs.sd.is_some()
                && obs.n.is_some_and(|n| n >= 2);
            need(r, ok, "`mean`, `sd` and `n` (at least 2)");
            Rule::MeanInObservedCi {
                level: level(r, 0.95),
            }
        }
        "simulated_in_range" => {
            need(r, obs.lower.is_some(), "`lower` and `upper`");
            Rule::SimulatedInRange {
                statistic: statistic(r),
            }
        }
        "relative_error" | "fold_error" | "absolute_error" => {
            need(
                r,
                obs.central.is_some() || obs.rate().is_some(),
                "`value`, `mean`, `median` or a rate",
            );
            let statistic = statistic(r);
            let m = max(r)?;
            match name.as_str() {
                "relative_error" => Rule::RelativeError { max: m, statistic },
                "fold_error" => {
                    if m < 1.0 {
                        r.error(&span, &field, "a fold error `max` must be at least 1");
                    }
                    Rule::FoldError { max: m, statistic }
                }
                _ => Rule::AbsoluteError { max: m, statistic },
            }
        }
        _ => {
            let Some(rt) = table.as_ref() else {
                r.error(
                    &span,
                    &field,
                    "a threshold rule needs a comparison: rule = { name = \"threshold\", below = ... }",
                );
                return None;
            };
            let statistic = statistic(r);
            let Some((op, threshold)) = condition(r, rt) else {
                r.error(
                    &rt.span,
                    &field,
                    "a threshold rule needs one of below, at_most, above, at_least",
                );
                return None;
            };
            Rule::Threshold {
                op,
                threshold,
                statistic,
            }
        }
    };
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[study]
name = "demo"
reference = "Someone 2024"
source = "doi:10/x"
read = "abstract"

[[target]]
id = "T1"
quantity = "time to return"
usable = true
trial = "demo_trial"
arm = "A"
endpoint = "ret"
observed = { mean = 110, sd = 32, n = 5, unit = "day" }
rule = "mean_in_observed_ci"

[[target]]
id = "T2"
quantity = "rate"
usable = true
trial = "demo_trial"
arm = "A"
endpoint = "resp"
observed = { events = 13, n = 15 }
rule = { name = "rate_in_binomial_ci" }

[[target]]
id = "T3"
quantity = "qualitative"
usable = true
trial = "demo_trial"
arm = "A"
endpoint = "x"
responder = { at_most = -4 }
observed = { text = "depleted" }
rule = { name = "threshold", below = 0.01 }

[[target]]
id = "T4"
quantity = "not modelled"
usable = false
reason = "no model output"
"#;

    #[test]
    fn a_good_file_reads() {
        let t = load_target_str("demo.toml", GOOD).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].rule, Some(Rule::MeanInObservedCi { level: 0.95 }));
        assert_eq!(t[1].observed.rate(), Some(13.0 / 15.0));
        assert_eq!(
            t[2].design.as_ref().unwrap().responder,
            Some((Op::AtMost, -4.0))
        );
        assert!(!t[3].usable && t[3].design.is_none());
        assert_eq!(t[0].observed.describe(), "110 ± 32 (mean ± SD) day, n = 5");
    }

    #[test]
    fn problems_are_located() {
        let bad = GOOD
            .replace(
                "rule = \"mean_in_observed_ci\"",
                "rule = \"mean_in_observd_ci\"",
            )
            .replace("events = 13", "events = 16");
        let e = load_target_str("demo.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("demo.toml:16:"), "{e}");
        assert!(e.contains("did you mean `mean_in_observed_ci`"), "{e}");
        assert!(e.contains("cannot exceed `n`"), "{e}");
        let e = load_target_str("demo.toml", "[study]\nname = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a string"), "{e}");
    }
}
