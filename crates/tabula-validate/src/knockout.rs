//! Mechanism knock-outs: does the validation notice when a mechanism is broken?
//!
//! A knock-out is a named set of parameter changes that disables or weakens one mechanism
//! (CAR-T killing / 80, no lymphodepletion, no BCMA on any cell, ...) together with the targets
//! that biology says it must break, written before the model is run
//! (`library/validation/knockouts.toml`, format in `docs/validation.md`). Running it compares
//! each target with and without the knock-out:
//!
//! ```text
//! baseline results + knock-out results --compare--> per target: broke / held / already failing
//!   expected targets that held = misses; a miss the file declares as a known gap is reported,
//!   not counted; a known gap that broke is stale (the model learned the mechanism)
//! ```
//!
//! A knock-out that breaks nothing it should is evidence that the validation cannot see that
//! mechanism, and [`KnockoutResult::unmet`] lists it.

use std::collections::BTreeMap;

use tabula_library::Catalog;
use tabula_model::doc::{parse_document, Reader, TableView};
use tabula_model::error::Location;
use tabula_model::{ModelError, SourceFile};

use crate::validate::{Harness, Overrides, TargetResult};

/// Where the built-in knock-outs live in the library.
pub const BUILTIN: &str = "validation/knockouts.toml";

/// How a knock-out changes one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// Multiply the typical value (in every model that has the parameter).
    Scale(f64),
    /// Set the typical value.
    Set(f64),
}

/// One named mechanism knock-out.
#[derive(Clone, Debug, PartialEq)]
pub struct Knockout {
    /// Identifier (`car_t_killing_div80`).
    pub name: String,
    /// A short title for tables (`CAR-T killing / 80`).
    pub title: String,
    /// The mechanism removed or weakened, in a sentence.
    pub mechanism: String,
    /// The parameter changes, `(parameter, change)`.
    pub changes: Vec<(String, Change)>,
    /// Targets that must break (pass without the knock-out, fail with it), from biology.
    pub expect_break: Vec<String>,
    /// Why those targets must break.
    pub why: String,
    /// Expected breaks the current model is known to miss, with the reason.
    pub known_gaps: Vec<(String, String)>,
    /// Where it is written.
    pub location: Location,
}

/// What a knock-out did to one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Passed without the knock-out, failed (or errored) with it.
    Broke,
    /// Passed with and without the knock-out.
    Held,
    /// Failed without the knock-out: the knock-out cannot show anything on it.
    AlreadyFailing,
    /// Failed without the knock-out and passed with it.
    Recovered,
    /// Not usable, or not evaluated in this run.
    NotRun,
}

impl Effect {
    /// A word for tables.
    pub fn word(self) -> &'static str {
        match self {
            Effect::Broke => "broke",
            Effect::Held => "held",
            Effect::AlreadyFailing => "already failing",
            Effect::Recovered => "recovered",
            Effect::NotRun => "not run",
        }
    }
}

/// The outcome of one knock-out.
#[derive(Clone, Debug, PartialEq)]
pub struct KnockoutResult {
    /// The knock-out.
    pub knockout: Knockout,
    /// The effect on every evaluated target, in target order.
    pub effects: Vec<(String, Effect)>,
    /// Parameters of the knock-out that no model of this run has.
    pub absent: Vec<String>,
    /// A trial that failed to run with the knock-out (its targets count as broken).
    pub errors: Vec<String>,
}

impl KnockoutResult {
    /// The effect on target `id`.
    pub fn effect(&self, id: &str) -> Effect {
        self.effects
            .iter()
            .find(|(t, _)| t == id)
            .map_or(Effect::NotRun, |(_, e)| *e)
    }

    /// Every target that broke (expected or not).
    pub fn broke(&self) -> Vec<&str> {
        self.with(Effect::Broke)
    }

    /// Every target with effect `e`.
    pub fn with(&self, e: Effect) -> Vec<&str> {
        self.effects
            .iter()
            .filter(|(_, x)| *x == e)
            .map(|(t, _)| t.as_str())
            .collect()
    }

    fn gap(&self, id: &str) -> bool {
        self.knockout.known_gaps.iter().any(|(t, _)| t == id)
    }

    /// Expected targets that passed at baseline and held: misses the file does not declare.
    pub fn unmet(&self) -> Vec<&str> {
        self.knockout
            .expect_break
            .iter()
            .filter(|t| self.effect(t) == Effect::Held && !self.gap(t))
            .map(String::as_str)
            .collect()
    }

    /// Declared known gaps that held (the model still misses them).
    pub fn gaps_held(&self) -> Vec<&str> {
        self.knockout
            .known_gaps
            .iter()
            .filter(|(t, _)| self.effect(t) == Effect::Held)
            .map(|(t, _)| t.as_str())
            .collect()
    }

    /// Declared known gaps that now break: the file should drop them.
    pub fn stale_gaps(&self) -> Vec<&str> {
        self.knockout
            .known_gaps
            .iter()
            .filter(|(t, _)| self.effect(t) == Effect::Broke)
            .map(|(t, _)| t.as_str())
            .collect()
    }

    /// Expected targets that broke.
    pub fn expected_broke(&self) -> Vec<&str> {
        self.knockout
            .expect_break
            .iter()
            .filter(|t| self.effect(t) == Effect::Broke)
            .map(String::as_str)
            .collect()
    }

    /// Expected targets that could be judged (passed at baseline).
    pub fn expected_judged(&self) -> usize {
        self.knockout
            .expect_break
            .iter()
            .filter(|t| matches!(self.effect(t), Effect::Broke | Effect::Held))
            .count()
    }

    /// Whether the knock-out did what its file says: every expected target that could be
    /// judged broke or is a declared gap, and no declared gap is stale.
    pub fn as_expected(&self) -> bool {
        self.unmet().is_empty() && self.stale_gaps().is_empty()
    }
}

const ROOT: &[&str] = &["knockout"];
const KNOCKOUT: &[&str] = &[
    "name",
    "title",
    "mechanism",
    "changes",
    "expect_break",
    "why",
    "known_gaps",
];
const CHANGE: &[&str] = &["parameter", "scale", "set"];
const GAP: &[&str] = &["target", "reason"];

/// Reads knock-outs from the text of a file called `name`.
pub fn load_knockouts_str(name: &str, text: &str) -> Result<Vec<Knockout>, ModelError> {
    let src = SourceFile::new(name, text);
    let doc = parse_document(&src)?;
    let root = TableView::root(&doc);
    let mut r = Reader::new(&src);
    root.check_keys(&mut r, ROOT);
    let tables = r.table_array(&root, "knockout");
    if tables.is_empty() {
        r.error(&(0..0), "knockout", "no [[knockout]] tables");
    }
    let mut out: Vec<Knockout> = Vec::new();
    for t in &tables {
        t.check_keys(&mut r, KNOCKOUT);
        let name = t.str(&mut r, "name", true);
        if let Some(n) = &name {
            if out.iter().any(|k| k.name == n.text) {
                r.error(
                    &n.span,
                    &t.child("name"),
                    format!("knock-out `{}` is defined twice", n.text),
                );
            }
        }
        let text =
            |r: &mut Reader<'_>, key: &str| t.str(r, key, true).map(|s| s.text).unwrap_or_default();
        let title = text(&mut r, "title");
        let mechanism = text(&mut r, "mechanism");
        let why = text(&mut r, "why");
        let mut changes = Vec::new();
        for c in r.table_array(t, "changes") {
            c.check_keys(&mut r, CHANGE);
            let parameter = c.str(&mut r, "parameter", true);
            let scale = c.num(&mut r, "scale", false);
            let set = c.num(&mut r, "set", false);
            let change = match (scale, set) {
                (Some((f, span)), None) => {
                    if f < 0.0 {
                        r.error(&span, &c.child("scale"), "a scale factor must be >= 0");
                    }
                    Some(Change::Scale(f))
                }
                (None, Some((v, _))) => Some(Change::Set(v)),
                _ => {
                    r.error(&c.span, &c.path, "give exactly one of `scale` or `set`");
                    None
                }
            };
            if let (Some(p), Some(ch)) = (parameter, change) {
                changes.push((p.text, ch));
            }
        }
        if changes.is_empty() && t.get("changes").is_none() {
            r.error(
                &t.span,
                &t.child("changes"),
                "missing required field `changes` ([{ parameter, scale or set }])",
            );
        }
        let expect_break: Vec<String> = t
            .str_array(&mut r, "expect_break")
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.text)
            .collect();
        if expect_break.is_empty() {
            r.error(
                &t.span,
                &t.child("expect_break"),
                "a knock-out needs the targets it must break (`expect_break = [\"T27\", ...]`)",
            );
        }
        let mut known_gaps = Vec::new();
        for g in r.table_array(t, "known_gaps") {
            g.check_keys(&mut r, GAP);
            let target = g.str(&mut r, "target", true);
            let reason = g.str(&mut r, "reason", true);
            if let (Some(target), Some(reason)) = (target, reason) {
                if !expect_break.contains(&target.text) {
                    r.error(
                        &target.span,
                        &g.child("target"),
                        format!(
                            "known gap `{}` is not among this knock-out's expect_break",
                            target.text
                        ),
                    );
                }
                known_gaps.push((target.text, reason.text));
            }
        }
        out.push(Knockout {
            name: name.map(|n| n.text).unwrap_or_default(),
            title,
            mechanism,
            changes,
            expect_break,
            why,
            known_gaps,
            location: src.location(t.span.start),
        });
    }
    r.diags.finish(out)
}

/// Reads a knock-out file from disk.
pub fn load_knockouts_file(path: &std::path::Path) -> Result<Vec<Knockout>, ModelError> {
    let src = SourceFile::read(path)?;
    load_knockouts_str(&src.name, &src.text)
}

/// The built-in knock-outs (`library/validation/knockouts.toml`, overlay-aware).
pub fn builtin_knockouts(catalog: &Catalog) -> Result<Vec<Knockout>, ModelError> {
    crate::read::library_file(catalog, BUILTIN, load_knockouts_str)
}

/// Checks that every target a knock-out names exists among `ids`.
pub fn check_targets(knockouts: &[Knockout], ids: &[&str]) -> Result<(), ModelError> {
    let mut diags = tabula_model::error::Diagnostics::default();
    for k in knockouts {
        for t in &k.expect_break {
            if !ids.contains(&t.as_str()) {
                diags.push(
                    Some(k.location.clone()),
                    format!("knockout.{}.expect_break", k.name),
                    format!("names target \"{t}\", which no target file defines"),
                );
            }
        }
    }
    diags.finish(())
}

/// The overrides that apply a knock-out, and the parameters no model of the harness has.
pub fn overrides(k: &Knockout, harness: &Harness) -> (Overrides, Vec<String>) {
    let mut o = Overrides::default();
    let mut absent = Vec::new();
    for (p, c) in &k.changes {
        if harness.typical_value(p).is_none() {
            absent.push(p.clone());
            continue;
        }
        match c {
            Change::Scale(f) => o.scale.push((p.clone(), *f)),
            Change::Set(v) => o.typical.push((p.clone(), *v)),
        }
    }
    (o, absent)
}

/// Compares the knock-out's results with the baseline's, target by target.
pub fn compare(
    k: &Knockout,
    baseline: &[TargetResult],
    knocked: &[TargetResult],
    absent: Vec<String>,
) -> KnockoutResult {
    let after: BTreeMap<&str, &TargetResult> =
        knocked.iter().map(|r| (r.target.id.as_str(), r)).collect();
    let mut errors = Vec::new();
    let effects = baseline
        .iter()
        .map(|b| {
            let a = after.get(b.target.id.as_str());
            let effect = match (b.passed(), a.map(|a| a.passed())) {
                (Some(true), Some(Some(true))) => Effect::Held,
                (Some(true), Some(Some(false))) => Effect::Broke,
                (Some(true), Some(None)) => {
                    if let Some(crate::validate::Outcome::Error(e)) = a.map(|a| &a.outcome) {
                        if !errors.contains(e) {
                            errors.push(e.clone());
                        }
                    }
                    Effect::Broke
                }
                (Some(false), Some(Some(true))) => Effect::Recovered,
                (Some(false), _) => Effect::AlreadyFailing,
                _ => Effect::NotRun,
            };
            (b.target.id.clone(), effect)
        })
        .collect();
    KnockoutResult {
        knockout: k.clone(),
        effects,
        absent,
        errors,
    }
}

/// Called before each knock-out with its index, the number of knock-outs and the knock-out.
pub type Progress<'a> = dyn Fn(usize, usize, &Knockout) + Sync + 'a;

/// Runs every knock-out on the harness against `baseline` (the harness's results without
/// overrides). `progress(i, n)` is called before knock-out `i` of `n`.
pub fn run(
    harness: &Harness,
    baseline: &[TargetResult],
    knockouts: &[Knockout],
    progress: Option<&Progress<'_>>,
) -> Vec<KnockoutResult> {
    knockouts
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if let Some(f) = progress {
                f(i, knockouts.len(), k);
            }
            let (o, absent) = overrides(k, harness);
            let knocked = if o.typical.is_empty() && o.scale.is_empty() {
                baseline.to_vec()
            } else {
                harness.evaluate(&o, None)
            };
            compare(k, baseline, &knocked, absent)
        })
        .collect()
}

/// One line per knock-out: expected breaks seen, misses, gaps, other breaks.
pub fn summary_lines(results: &[KnockoutResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            let expected = r.expected_broke();
            let others: Vec<&str> = r
                .broke()
                .into_iter()
                .filter(|t| !r.knockout.expect_break.iter().any(|e| e == t))
                .collect();
            let mut s = format!(
                "{}: broke {} of {} expected targets that pass without it",
                r.knockout.title,
                expected.len(),
                r.expected_judged()
            );
            if !expected.is_empty() {
                s.push_str(&format!(" ({})", expected.join(", ")));
            }
            let gaps = r.gaps_held();
            if !gaps.is_empty() {
                s.push_str(&format!("; known gaps held: {}", gaps.join(", ")));
            }
            let unmet = r.unmet();
            if !unmet.is_empty() {
                s.push_str(&format!("; MISSED: {}", unmet.join(", ")));
            }
            let stale = r.stale_gaps();
            if !stale.is_empty() {
                s.push_str(&format!(
                    "; known gaps that now break (drop them from the file): {}",
                    stale.join(", ")
                ));
            }
            if !others.is_empty() {
                s.push_str(&format!("; also broke: {}", others.join(", ")));
            }
            if !r.absent.is_empty() {
                s.push_str(&format!(
                    "; parameters not in this run: {}",
                    r.absent.join(", ")
                ));
            }
            s
        })
        .collect()
}

/// One row per knock-out and target it names or breaks: `knockout`, `target`, `expected`
/// (must break), `known_gap`, `effect`.
pub fn table(results: &[KnockoutResult]) -> crate::Result<tabula_output::Table> {
    use tabula_output::Column;
    let mut cols: [Vec<String>; 5] = Default::default();
    for r in results {
        for (id, effect) in &r.effects {
            let expected = r.knockout.expect_break.contains(id);
            if !expected && *effect != Effect::Broke {
                continue;
            }
            let gap = r.gap(id);
            for (c, v) in cols.iter_mut().zip([
                r.knockout.name.clone(),
                id.clone(),
                if expected { "yes" } else { "no" }.to_string(),
                if gap { "yes" } else { "no" }.to_string(),
                effect.word().to_string(),
            ]) {
                c.push(v);
            }
        }
    }
    let names = ["knockout", "target", "expected", "known_gap", "effect"];
    Ok(tabula_output::Table::from_columns(
        names
            .iter()
            .zip(cols)
            .map(|(n, c)| (*n, Column::Str(c)))
            .collect(),
    )?)
}

/// The knock-out report (Markdown): one section per knock-out with its changes, the expected
/// breaks and what happened to each, and the other targets it broke.
pub fn markdown(results: &[KnockoutResult]) -> String {
    let mut s = String::from(
        "# Mechanism knock-outs\n\nEach knock-out disables one mechanism; the targets it must break \
         were written from biology before it was run (library/validation/knockouts.toml). \
         *broke*: passes without the knock-out, fails with it; *held*: passes with and \
         without; *already failing*: fails without the knock-out, so it cannot show anything.\n\n\
         | knock-out | expected breaks seen | missed (known gap) | missed (not declared) | other targets broken |\n\
         |---|---|---|---|---|\n",
    );
    for r in results {
        let others: Vec<&str> = r
            .broke()
            .into_iter()
            .filter(|t| !r.knockout.expect_break.iter().any(|e| e == t))
            .collect();
        s.push_str(&format!(
            "| {} | {} of {} | {} | {} | {} |\n",
            r.knockout.title,
            r.expected_broke().len(),
            r.expected_judged(),
            r.gaps_held().join(", "),
            r.unmet().join(", "),
            others.join(", ")
        ));
    }
    for r in results {
        let k = &r.knockout;
        s.push_str(&format!("\n## {}\n\n{}.\n\n", k.title, k.mechanism));
        let changes: Vec<String> = k
            .changes
            .iter()
            .map(|(p, c)| match c {
                Change::Scale(f) => format!("`{p}` x {f}"),
                Change::Set(v) => format!("`{p}` = {v}"),
            })
            .collect();
        s.push_str(&format!("Changes: {}.\n\n", changes.join(", ")));
        s.push_str(&format!(
            "Why these targets must break: {}\n\n",
            k.why.trim()
        ));
        s.push_str("| target | effect | known gap |\n|---|---|---|\n");
        for t in &k.expect_break {
            let gap = k
                .known_gaps
                .iter()
                .find(|(g, _)| g == t)
                .map_or(String::new(), |(_, why)| why.clone());
            s.push_str(&format!("| {t} | {} | {gap} |\n", r.effect(t).word()));
        }
        if !r.absent.is_empty() {
            s.push_str(&format!(
                "\nParameters no model of this run has: {}.\n",
                r.absent.join(", ")
            ));
        }
        for e in &r.errors {
            s.push_str(&format!("\nError with the knock-out: {e}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[knockout]]
name = "weak_kill"
title = "Killing / 80"
mechanism = "CAR-T killing 80 times weaker"
changes = [{ parameter = "cd19_k_kill", scale = 0.0125 }, { parameter = "emax_flu", set = 0 }]
expect_break = ["T1", "T2", "T3"]
why = "no depletion, no remission"
known_gaps = [{ target = "T3", reason = "the disease is bistable" }]
"#;

    fn result(id: &str, pass: Option<bool>) -> TargetResult {
        use crate::target::{Observed, Target};
        let target = Target {
            id: id.into(),
            study: std::sync::Arc::new(crate::target::Study {
                name: "s".into(),
                reference: String::new(),
                source: String::new(),
                read: String::new(),
                population: String::new(),
                regimen: String::new(),
                overlaps: Vec::new(),
                file: String::new(),
            }),
            quantity: String::new(),
            quote: String::new(),
            usable: true,
            reason: String::new(),
            design: None,
            observed: Observed::default(),
            rule: None,
            note: String::new(),
            class: None,
            location: Location {
                file: "t.toml".into(),
                line: 1,
                column: 1,
            },
        };
        let outcome = match pass {
            Some(p) => crate::validate::Outcome::Evaluated {
                summary: crate::stats::Summary::of(&[1.0], 0, 0.9),
                verdict: crate::rules::Verdict {
                    passed: p,
                    simulated: 1.0,
                    sim_lower: f64::NAN,
                    sim_upper: f64::NAN,
                    obs_lower: f64::NAN,
                    obs_upper: f64::NAN,
                    detail: String::new(),
                },
                failed: 0,
            },
            None => crate::validate::Outcome::NotUsable,
        };
        TargetResult { target, outcome }
    }

    #[test]
    fn reads_the_file_format() {
        let k = load_knockouts_str("k.toml", FILE).expect("valid");
        assert_eq!(k.len(), 1);
        assert_eq!(
            k[0].changes[0],
            ("cd19_k_kill".into(), Change::Scale(0.0125))
        );
        assert_eq!(k[0].changes[1], ("emax_flu".into(), Change::Set(0.0)));
        assert_eq!(k[0].known_gaps[0].0, "T3");
    }

    #[test]
    fn located_errors() {
        let bad = FILE.replace("scale = 0.0125", "scale = 0.0125, set = 1");
        let e = load_knockouts_str("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("exactly one of `scale` or `set`"), "{e}");
        let bad = FILE.replace("target = \"T3\"", "target = \"T9\"");
        let e = load_knockouts_str("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("not among this knock-out's expect_break"), "{e}");
        let bad = FILE.replace("why =", "because =");
        let e = load_knockouts_str("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("because"), "{e}");
    }

    #[test]
    fn compares_target_by_target() {
        let k = &load_knockouts_str("k.toml", FILE).expect("valid")[0];
        let base = vec![
            result("T1", Some(true)),
            result("T2", Some(true)),
            result("T3", Some(true)),
            result("T4", Some(false)),
        ];
        let knocked = vec![
            result("T1", Some(false)),
            result("T2", Some(true)),
            result("T3", Some(true)),
            result("T4", Some(true)),
        ];
        let r = compare(k, &base, &knocked, vec![]);
        assert_eq!(r.effect("T1"), Effect::Broke);
        assert_eq!(r.effect("T4"), Effect::Recovered);
        assert_eq!(r.unmet(), vec!["T2"]);
        assert_eq!(r.gaps_held(), vec!["T3"]);
        assert!(!r.as_expected());
        // The model learns the mechanism: the declared gap is stale.
        let knocked = vec![
            result("T1", Some(false)),
            result("T2", Some(false)),
            result("T3", Some(false)),
            result("T4", Some(false)),
        ];
        let r = compare(k, &base, &knocked, vec![]);
        assert_eq!(r.stale_gaps(), vec!["T3"]);
        assert!(!r.as_expected());
        let line = &summary_lines(&[r])[0];
        assert!(line.contains("broke 3 of 3"), "{line}");
    }
}
