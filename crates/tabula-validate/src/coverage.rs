//! What the validation covers: usable targets per therapy modality and outcome class, and the
//! validation status of a trial arm.
//!
//! A modality (`library/validation/modalities.toml`) is recognised by the routes an arm doses
//! (`cd19_infusion`, `tec_sc`, ...): what is given, whatever model carries it. Each usable
//! target belongs to the modalities of the arm that reproduces it. A modality with fewer than
//! [`MIN_TARGETS`] usable targets is "not validated", and every trial arm that gives it says
//! so, with the reason the file records.
//!
//! ```text
//! modalities.toml + targets + their arms --coverage--> Coverage (modality x class x evidence)
//! Coverage + an arm's scenario            --status-->  "validated against N targets" or
//!                                                       "not validated: ..."
//! ```

use std::collections::{BTreeMap, BTreeSet};

use tabula_library::Catalog;
use tabula_model::doc::{parse_document, Reader, TableView};
use tabula_model::{ModelError, SourceFile};
use tabula_output::{Column, Table};
use tabula_scenario::Scenario;

use crate::provenance::{Evidence, Provenance};
use crate::target::{OutcomeClass, Target};
use crate::validate::{Harness, TargetResult};

/// Where the built-in modality list lives in the library.
pub const BUILTIN: &str = "validation/modalities.toml";

/// Fewer usable targets than this and a modality is "not validated".
pub const MIN_TARGETS: usize = 3;

/// A therapy modality, recognised by the routes an arm doses.
#[derive(Clone, Debug, PartialEq)]
pub struct Modality {
    /// Name (`Autologous CD19 CAR-T`).
    pub name: String,
    /// The arm doses every one of these routes.
    pub all: Vec<String>,
    /// The arm doses at least one of these routes (ignored when empty).
    pub any: Vec<String>,
    /// The arm doses none of these routes.
    pub none: Vec<String>,
    /// Why the evidence is thin, when it is (shown with "not validated").
    pub gap: String,
}

impl Modality {
    /// Whether an arm dosing `routes` gives this modality.
    pub fn matches(&self, routes: &BTreeSet<String>) -> bool {
        self.all.iter().all(|r| routes.contains(r))
            && (self.any.is_empty() || self.any.iter().any(|r| routes.contains(r)))
            && !self.none.iter().any(|r| routes.contains(r))
            && !(self.all.is_empty() && self.any.is_empty())
    }
}

const ROOT: &[&str] = &["modality"];
const MODALITY: &[&str] = &["name", "all", "any", "none", "gap"];

/// Reads modalities from the text of a file called `name`.
pub fn load_modalities_str(name: &str, text: &str) -> Result<Vec<Modality>, ModelError> {
    let src = SourceFile::new(name, text);
    let doc = parse_document(&src)?;
    let root = TableView::root(&doc);
    let mut r = Reader::new(&src);
    root.check_keys(&mut r, ROOT);
    let mut out: Vec<Modality> = Vec::new();
    for t in r.table_array(&root, "modality") {
        t.check_keys(&mut r, MODALITY);
        let list = |r: &mut Reader<'_>, key: &str| -> Vec<String> {
            t.str_array(r, key)
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.text)
                .collect()
        };
        let name = t.str(&mut r, "name", true);
        let (all, any, none) = (
            list(&mut r, "all"),
            list(&mut r, "any"),
            list(&mut r, "none"),
        );
        if all.is_empty() && any.is_empty() {
            r.error(
                &t.span,
                &t.child("all"),
                "a modality needs the routes that give it (`all` or `any`)",
            );
        }
        let gap = t.str(&mut r, "gap", false).map(|s| s.text);
        if let Some(n) = name {
            if out.iter().any(|m| m.name == n.text) {
                r.error(
                    &n.span,
                    &t.child("name"),
                    format!("modality `{}` is defined twice", n.text),
                );
            }
            out.push(Modality {
                name: n.text,
                all,
                any,
                none,
                gap: gap.unwrap_or_default(),
            });
        }
    }
    r.diags.finish(out)
}

/// The built-in modalities (overlay-aware).
pub fn builtin_modalities(catalog: &Catalog) -> Result<Vec<Modality>, ModelError> {
    crate::read::library_file(catalog, BUILTIN, load_modalities_str)
}

/// The routes a scenario doses (a positive amount), by name.
pub fn dosed_routes(scenario: &Scenario) -> BTreeSet<String> {
    scenario
        .regimen
        .doses
        .iter()
        .filter(|d| d.amount > 0.0)
        .filter_map(|d| d.route)
        .filter_map(|i| scenario.model.routes.get(i).map(|r| r.name.clone()))
        .collect()
}

/// One usable target as the coverage counts it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Target id.
    pub id: String,
    /// Outcome class (`None` when its file does not say).
    pub class: Option<OutcomeClass>,
    /// Calibration, same study or independent.
    pub evidence: Evidence,
    /// Whether it passed (`None` when not run).
    pub passed: Option<bool>,
}

/// Usable targets per modality.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// The modalities, in file order, each with its targets.
    pub modalities: Vec<(Modality, Vec<Entry>)>,
    /// Usable targets whose arm gives no listed modality (untreated, placebo, lymphodepletion).
    pub other: Vec<String>,
}

impl Coverage {
    /// Counts the harness's usable targets per modality; `results` (the harness's evaluation,
    /// optional) adds pass/fail.
    pub fn new(
        modalities: &[Modality],
        harness: &Harness,
        provenance: &Provenance,
        all: &[Target],
        results: Option<&[TargetResult]>,
    ) -> Coverage {
        let passed: BTreeMap<&str, Option<bool>> = results
            .unwrap_or_default()
            .iter()
            .map(|r| (r.target.id.as_str(), r.passed()))
            .collect();
        let mut per: Vec<Vec<Entry>> = vec![Vec::new(); modalities.len()];
        let mut other = Vec::new();
        for (i, t) in harness.targets().iter().enumerate() {
            let routes = harness
                .arm_of(i)
                .map(|a| dosed_routes(&a.scenario))
                .unwrap_or_default();
            let entry = Entry {
                id: t.id.clone(),
                class: t.class,
                evidence: provenance.evidence(t, all),
                passed: passed.get(t.id.as_str()).copied().flatten(),
            };
            let mut any = false;
            for (m, list) in modalities.iter().zip(per.iter_mut()) {
                if m.matches(&routes) {
                    list.push(entry.clone());
                    any = true;
                }
            }
            if !any {
                other.push(t.id.clone());
            }
        }
        Coverage {
            modalities: modalities.iter().cloned().zip(per).collect(),
            other,
        }
    }

    /// What the validation says about an arm that doses `routes`: one line per modality it
    /// gives ("validated against ..." or "not validated: ..."); empty when it gives none.
    pub fn status(&self, routes: &BTreeSet<String>) -> Vec<(String, bool)> {
        self.modalities
            .iter()
            .filter(|(m, _)| m.matches(routes))
            .map(|(m, entries)| {
                let n = entries.len();
                let independent = entries
                    .iter()
                    .filter(|e| e.evidence == Evidence::Independent)
                    .count();
                if n < MIN_TARGETS {
                    let why = if m.gap.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", m.gap)
                    };
                    (
                        format!(
                            "{}: not validated ({n} usable published target{}, fewer than {MIN_TARGETS}).{why}",
                            m.name,
                            if n == 1 { "" } else { "s" }
                        ),
                        false,
                    )
                } else {
                    let passed = entries.iter().filter(|e| e.passed == Some(true)).count();
                    let judged = entries.iter().filter(|e| e.passed.is_some()).count();
                    let result = if judged > 0 {
                        format!("{passed} of {judged} pass")
                    } else {
                        "`tabula validate` shows which pass".to_string()
                    };
                    (
                        format!(
                            "{}: {n} usable published validation targets ({independent} independent of any fit; {result}).",
                            m.name
                        ),
                        true,
                    )
                }
            })
            .collect()
    }

    /// The coverage table's header and rows: one row per modality with the number of usable
    /// targets in each outcome class, by evidence, and (when run) how many pass.
    pub fn rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header: Vec<String> = std::iter::once("modality")
            .chain(OutcomeClass::ALL.iter().map(|c| c.name()))
            .chain([
                "usable",
                "calibration",
                "same study",
                "independent",
                "status",
            ])
            .map(String::from)
            .collect();
        let rows = self
            .modalities
            .iter()
            .map(|(m, entries)| {
                let mut row = vec![m.name.clone()];
                for c in OutcomeClass::ALL {
                    row.push(
                        entries
                            .iter()
                            .filter(|e| e.class == Some(c))
                            .count()
                            .to_string(),
                    );
                }
                let count = |e: Evidence| entries.iter().filter(|x| x.evidence == e).count();
                row.push(entries.len().to_string());
                row.push(count(Evidence::Calibration).to_string());
                row.push(count(Evidence::SameStudy).to_string());
                row.push(count(Evidence::Independent).to_string());
                let judged = entries.iter().filter(|e| e.passed.is_some()).count();
                let passed = entries.iter().filter(|e| e.passed == Some(true)).count();
                row.push(if entries.len() < MIN_TARGETS {
                    "not validated".to_string()
                } else if judged > 0 {
                    format!("{passed}/{judged} pass")
                } else {
                    "validated".to_string()
                });
                row
            })
            .collect();
        (header, rows)
    }

    /// The coverage table (see [`Coverage::rows`]).
    pub fn table(&self) -> crate::Result<Table> {
        let (header, rows) = self.rows();
        let columns: Vec<(String, Column)> = header
            .into_iter()
            .enumerate()
            .map(|(k, h)| (h, Column::Str(rows.iter().map(|r| r[k].clone()).collect())))
            .collect();
        Ok(Table::from_columns(columns)?)
    }
}

/// The coverage of the built-in validation (targets, modalities and provenance of the library
/// `catalog`, overlay included), without running it.
pub fn builtin_coverage(catalog: &Catalog) -> crate::Result<Coverage> {
    let targets = crate::validate::builtin_targets(catalog)?;
    let modalities = builtin_modalities(catalog)?;
    let harness = Harness::new(&targets, catalog, &crate::validate::Settings::default())?;
    let provenance = Provenance::new(harness.models(), &targets);
    Ok(Coverage::new(
        &modalities,
        &harness,
        &provenance,
        &targets,
        None,
    ))
}

/// What the validation says of each arm of `trial`: `(arm, [(line, validated)])`, for arms
/// that give some modality.
pub fn trial_status(
    trial: &tabula_trial::Trial,
    coverage: &Coverage,
) -> Vec<(String, Vec<(String, bool)>)> {
    trial
        .arms
        .iter()
        .map(|a| (a.name.clone(), coverage.status(&dosed_routes(&a.scenario))))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// Which outcome classes each knock-out breaks a target of: class -> knock-out titles.
pub fn classes_detected(
    knockouts: &[crate::knockout::KnockoutResult],
    targets: &[Target],
) -> BTreeMap<OutcomeClass, Vec<String>> {
    let mut out: BTreeMap<OutcomeClass, Vec<String>> = BTreeMap::new();
    for k in knockouts {
        for id in k.broke() {
            if let Some(c) = targets.iter().find(|t| t.id == id).and_then(|t| t.class) {
                let list = out.entry(c).or_default();
                if !list.contains(&k.knockout.title) {
                    list.push(k.knockout.title.clone());
                }
            }
        }
    }
    out
}

/// The coverage section of the report (Markdown): the table, the modalities not validated
/// with their reasons, and which knock-outs each outcome class detects.
pub fn markdown(
    coverage: &Coverage,
    detected: Option<&BTreeMap<OutcomeClass, Vec<String>>>,
) -> String {
    let mut s = String::from(
        "## Coverage\n\nUsable targets per therapy modality (recognised by the routes a trial arm doses) and outcome class, and how they relate to the fit: *calibration* targets informed some parameter, *same study* ones share a study or its patients with one that did, *independent* ones come from studies no parameter cites. A modality with fewer than 3 usable targets is labelled \"not validated\" in every trial that gives it.\n\n",
    );
    let (header, rows) = coverage.rows();
    s.push_str(&format!("| {} |\n", header.join(" | ")));
    s.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    let thin: Vec<&(Modality, Vec<Entry>)> = coverage
        .modalities
        .iter()
        .filter(|(_, e)| e.len() < MIN_TARGETS)
        .collect();
    if !thin.is_empty() {
        s.push_str("\nNot validated:\n\n");
        for (m, e) in thin {
            s.push_str(&format!(
                "- **{}** ({} usable): {}\n",
                m.name,
                e.len(),
                m.gap
            ));
        }
    }
    if let Some(d) = detected {
        s.push_str("\nKnock-outs that break at least one target of each outcome class:\n\n");
        for c in OutcomeClass::ALL {
            let list = d.get(&c).map(|v| v.join(", ")).unwrap_or_default();
            s.push_str(&format!(
                "- {}: {}\n",
                c.name(),
                if list.is_empty() { "none" } else { &list }
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[modality]]
name = "CD19 CAR-T"
all = ["cd19_infusion"]
none = ["bcma_infusion"]

[[modality]]
name = "CD19+BCMA CAR-T"
all = ["cd19_infusion", "bcma_infusion"]
gap = "One cohort."

[[modality]]
name = "Anti-CD20"
any = ["rtx_iv", "obi_iv"]
"#;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn modalities_are_recognised_by_dosed_routes() {
        let m = load_modalities_str("m.toml", FILE).unwrap();
        assert!(m[0].matches(&set(&["flu", "cy", "cd19_infusion"])));
        assert!(!m[0].matches(&set(&["cd19_infusion", "bcma_infusion"])));
        assert!(m[1].matches(&set(&["cd19_infusion", "bcma_infusion"])));
        assert!(m[2].matches(&set(&["obi_iv"])));
        assert!(!m[2].matches(&set(&["flu"])));
        let cov = Coverage {
            modalities: vec![
                (m[0].clone(), Vec::new()),
                (
                    m[1].clone(),
                    vec![Entry {
                        id: "T1".into(),
                        class: None,
                        evidence: Evidence::Independent,
                        passed: Some(true),
                    }],
                ),
            ],
            other: Vec::new(),
        };
        let s = cov.status(&set(&["cd19_infusion", "bcma_infusion"]));
        assert_eq!(s.len(), 1);
        assert!(!s[0].1);
        assert!(s[0]
            .0
            .contains("not validated (1 usable published target, fewer than 3). One cohort."));
        assert!(cov.status(&set(&["tec_sc"])).is_empty());
    }

    #[test]
    fn a_modality_needs_routes() {
        let e = load_modalities_str("m.toml", "[[modality]]\nname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs the routes"), "{e}");
    }
}
