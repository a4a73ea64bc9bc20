//! The built-in validation targets, trials and calibration problems: complete, readable,
//! runnable; the calibration objective and optimiser on problems with known answers.

use std::path::PathBuf;

use tabula_library::Catalog;
use tabula_validate::calibrate::{
    load_problem_str, target_residual, Calibration, FitKind, ProgressObserver,
};
use tabula_validate::target::Target;
use tabula_validate::validate::{
    builtin_targets, select, validate, Harness, Outcome, Overrides, Settings, Tally,
};

fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

fn listed(index: &str, key: &str) -> Vec<String> {
    let t: toml::Table = index.parse().unwrap();
    t[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn files_in(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(library_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn the_indexes_list_every_file() {
    let catalog = Catalog::builtin();
    let index = catalog.data_file("validation/index.toml").unwrap();
    for (key, dir) in [("targets", "targets"), ("trials", "trials")] {
        let mut l: Vec<String> = listed(index, key)
            .into_iter()
            .map(|p| p.trim_start_matches(&format!("{dir}/")).to_string())
            .collect();
        l.sort();
        assert_eq!(
            l,
            files_in(&format!("validation/{dir}")),
            "validation/index.toml {key}"
        );
    }
    let index = catalog.data_file("calibration/index.toml").unwrap();
    let mut l = listed(index, "problems");
    l.sort();
    let mut on_disk = files_in("calibration");
    on_disk.retain(|f| f != "index.toml");
    assert_eq!(l, on_disk, "calibration/index.toml");
}

#[test]
fn every_builtin_target_reads_and_its_trial_resolves() {
    let catalog = Catalog::builtin();
    let targets = builtin_targets(&catalog).unwrap();
    assert!(targets.len() >= 60, "{} targets", targets.len());
    let studies: std::collections::BTreeSet<&str> =
        targets.iter().map(|t| t.study.name.as_str()).collect();
    for t in &targets {
        assert!(!t.study.source.is_empty(), "{} has no source", t.id);
        assert!(t.class.is_some(), "{} has no outcome class", t.id);
        for o in &t.study.overlaps {
            assert!(
                studies.contains(o.as_str()),
                "{}: overlaps unknown study {o}",
                t.id
            );
        }
        if t.usable {
            assert!(t.rule.is_some() && t.design.is_some(), "{}", t.id);
        } else {
            assert!(
                !t.reason.is_empty(),
                "{} is not usable without a reason",
                t.id
            );
        }
    }
    // Every usable target's trial, arm and endpoint exist.
    let h = Harness::new(&targets, &catalog, &Settings::default()).unwrap();
    assert_eq!(
        h.targets().len(),
        targets.iter().filter(|t| t.usable).count()
    );

    // Every `informed_by` id of the models the validation runs names a target, and the
    // provenance recorded in docs/evidence/provenance.md is there: most targets informed some
    // parameter, and the studies no parameter cites stay independent.
    let prov = tabula_validate::provenance::Provenance::new(h.models(), &targets);
    assert!(
        prov.unknown().is_empty(),
        "unknown ids: {:?}",
        prov.unknown()
    );
    use tabula_validate::provenance::Evidence;
    let usable: Vec<_> = targets.iter().filter(|t| t.usable).collect();
    let count = |e: Evidence| {
        usable
            .iter()
            .filter(|t| prov.evidence(t, &targets) == e)
            .count()
    };
    assert!(
        count(Evidence::Calibration) >= 40,
        "{}",
        count(Evidence::Calibration)
    );
    assert!(count(Evidence::Independent) >= 1);
    let t27 = targets.iter().find(|t| t.id == "T27").unwrap();
    assert_eq!(prov.evidence(t27, &targets), Evidence::Calibration);
    assert!(prov.parameters("T27").iter().any(|p| p.contains("beta_M")));
}

#[test]
fn every_builtin_problem_prepares() {
    let catalog = Catalog::builtin();
    let targets = builtin_targets(&catalog).unwrap();
    let index = catalog.data_file("calibration/index.toml").unwrap();
    for file in listed(index, "problems") {
        let path = format!("calibration/{file}");
        let p = load_problem_str(&path, catalog.data_file(&path).unwrap()).unwrap();
        let settings = Settings {
            patients: Some(2),
            seed: None,
        };
        let cal = Calibration::new(p, &targets, &catalog, &settings).unwrap();
        // The library's current values are inside the prior ranges (checked by `new`) and the
        // objective at them is finite.
        let ev = cal.evaluate(&cal.start);
        assert!(ev.objective.is_finite(), "{file}");
    }
}

fn few(ids: &[&str]) -> Vec<Target> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    select(builtin_targets(&Catalog::builtin()).unwrap(), &ids).unwrap()
}

#[test]
fn teclistamab_accumulation_matches_the_label() {
    // T50a/T50b: Cmax and AUC accumulation of weekly 1.5 mg/kg teclistamab (label: 2.71, 3.05),
    // within the rule's 25%; deterministic, so one patient suffices.
    let targets = few(&["T50a", "T50b"]);
    let settings = Settings {
        patients: Some(1),
        seed: None,
    };
    let results = validate(&targets, &Catalog::builtin(), &settings, None).unwrap();
    let tally = Tally::of(&results);
    assert_eq!(tally.passed, 2, "{results:#?}");
}

#[test]
fn residuals_are_within_one_exactly_when_a_rule_passes() {
    let targets = few(&[
        "T27", "T30a", "T30b", "T37", "T58a", "T60a", "T61c", "T65a", "T71a",
    ]);
    let settings = Settings {
        patients: Some(40),
        seed: None,
    };
    let h = Harness::new(&targets, &Catalog::builtin(), &settings).unwrap();
    let results = h.evaluate(&Overrides::default(), None);
    let mut seen = (0, 0);
    for r in &results {
        let Outcome::Evaluated { verdict, .. } = &r.outcome else {
            panic!("{} not evaluated", r.target.id);
        };
        let z = target_residual(r);
        if verdict.passed {
            seen.0 += 1;
            assert!(z.abs() <= 1.0 + 1e-6, "{} passes with z = {z}", r.target.id);
        } else {
            seen.1 += 1;
            assert!(z.abs() >= 1.0 - 1e-6, "{} fails with z = {z}", r.target.id);
        }
    }
    assert!(seen.0 > 0, "no passing target exercised");
}

#[test]
fn same_seed_same_numbers_for_any_thread_count() {
    let targets = few(&["T27", "T30a", "T60a"]);
    let settings = Settings {
        patients: Some(30),
        seed: Some(7),
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| validate(&targets, &Catalog::builtin(), &settings, None).unwrap())
    };
    assert_eq!(run(1), run(3));
}

const PK_PROBLEM: &str = r#"
[problem]
name = "pk_recovery"
description = "Recover CL and V of the one-compartment reference model from noiseless concentrations"

[[parameter]]
name = "CL"
lower = 1
upper = 30
scale = "log"

[[parameter]]
name = "V"
lower = 10
upper = 200
scale = "log"

[[timecourse]]
scenario = "reference/pk_bolus"
output = "C"
times = [1, 2, 4, 8, 12, 24, 36]
values = [VALUES]
sd = 0.05
source = "closed form C(t) = D / V exp(-CL t / V), D = 100 mg, CL = 8 L/h, V = 40 L"

[optimizer]
max_evaluations = 400
refine_evaluations = 200
seed = 3
"#;

#[test]
fn calibration_recovers_known_parameters_from_a_time_course() {
    // Data from the closed form (an oracle independent of the ODE solver) at CL = 8, V = 40;
    // the model file's values (5, 50) are the start.
    let values: Vec<String> = [1.0f64, 2.0, 4.0, 8.0, 12.0, 24.0, 36.0]
        .iter()
        .map(|t| format!("{}", 100.0 / 40.0 * (-8.0 / 40.0 * t).exp()))
        .collect();
    let text = PK_PROBLEM.replace("VALUES", &values.join(", "));
    let p = load_problem_str("pk.toml", &text).unwrap();
    assert_eq!(p.parameters[0].kind, FitKind::Typical);
    let cal = Calibration::new(p, &[], &Catalog::builtin(), &Settings::default()).unwrap();
    assert_eq!(cal.start, vec![5.0, 50.0]);
    let mut generations = 0;
    let fit = cal
        .fit(&mut ProgressObserver(|_: &tabula_fit::Progress<'_>| {
            generations += 1
        }))
        .unwrap();
    assert!(generations > 0);
    assert!(fit.before.objective > 100.0, "{}", fit.before.objective);
    assert!(fit.after.objective < 1e-3, "{}", fit.after.objective);
    assert!((fit.values[0] - 8.0).abs() < 0.02 * 8.0, "{:?}", fit.values);
    assert!(
        (fit.values[1] - 40.0).abs() < 0.02 * 40.0,
        "{:?}",
        fit.values
    );
    let report = fit.identifiability.unwrap();
    assert!(report.unidentifiable().is_empty());
}

#[test]
fn a_parameter_the_data_do_not_see_is_flagged() {
    // WT does not enter the concentration after a mg dose: the data cannot pin it down.
    let values: Vec<String> = [1.0f64, 4.0, 12.0]
        .iter()
        .map(|t| format!("{}", 2.0 * (-0.1 * t).exp()))
        .collect();
    let text = PK_PROBLEM
        .replace("times = [1, 2, 4, 8, 12, 24, 36]", "times = [1, 4, 12]")
        .replace("VALUES", &values.join(", "))
        .replace(
            "name = \"V\"\nlower = 10\nupper = 200",
            "name = \"WT\"\nlower = 30\nupper = 200",
        )
        .replace("max_evaluations = 400", "max_evaluations = 60")
        .replace("refine_evaluations = 200", "refine_evaluations = 0");
    let p = load_problem_str("pk.toml", &text).unwrap();
    let cal = Calibration::new(p, &[], &Catalog::builtin(), &Settings::default()).unwrap();
    let fit = cal.fit(&mut tabula_fit::NoObserver).unwrap();
    let report = fit.identifiability.unwrap();
    assert_eq!(report.unidentifiable(), vec!["WT"]);
}

#[test]
fn a_calibration_is_the_same_for_any_thread_count() {
    let values: Vec<String> = [1.0f64, 4.0, 12.0]
        .iter()
        .map(|t| format!("{}", 100.0 / 60.0 * (-6.0 / 60.0 * t).exp()))
        .collect();
    let text = PK_PROBLEM
        .replace("times = [1, 2, 4, 8, 12, 24, 36]", "times = [1, 4, 12]")
        .replace("VALUES", &values.join(", "))
        .replace("max_evaluations = 400", "max_evaluations = 80")
        .replace("refine_evaluations = 200", "refine_evaluations = 20");
    let fit = |threads: usize| {
        let p = load_problem_str("pk.toml", &text).unwrap();
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let cal =
                    Calibration::new(p, &[], &Catalog::builtin(), &Settings::default()).unwrap();
                cal.fit(&mut tabula_fit::NoObserver).unwrap().values
            })
    };
    assert_eq!(fit(1), fit(3));
}

/// The mechanism knock-outs break what biology says they must: every expected target that
/// passes with the intact model fails with the knock-out, except the gaps the file declares
/// (known deficiencies of the model), and no declared gap has started to break (the file must
/// then drop it). Every parameter a knock-out changes exists in some built-in model.
#[test]
fn knockouts_break_what_biology_says_they_must() {
    use tabula_validate::knockout;
    let catalog = Catalog::builtin();
    let targets = builtin_targets(&catalog).unwrap();
    let ks = knockout::builtin_knockouts(&catalog).unwrap();
    let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
    knockout::check_targets(&ks, &ids).unwrap();
    let names = [
        "car_t_killing_div80",
        "car_t_expansion_div10",
        "no_lymphodepletion",
        "tce_killing_div10",
        "tce_activation_removed",
        "no_autoantibody_activity",
        "no_bcma_coverage",
    ];
    for n in names {
        assert!(ks.iter().any(|k| k.name == n), "knock-out {n} is missing");
    }
    // Parameters of every built-in model (prefixed instances included).
    let mut parameters = std::collections::BTreeSet::new();
    for (name, text) in tabula_library::list(tabula_library::Kind::Model) {
        if let Ok(m) = tabula_model::load_model_str(name, text, &catalog) {
            parameters.extend(m.parameters.iter().map(|p| p.name.clone()));
        }
    }
    for k in &ks {
        for (p, _) in &k.changes {
            assert!(
                parameters.contains(p),
                "{}: no built-in model has `{p}`",
                k.name
            );
        }
    }
    let usable: Vec<Target> = targets.iter().filter(|t| t.usable).cloned().collect();
    let h = Harness::new(&usable, &catalog, &Settings::default()).unwrap();
    let baseline = h.evaluate(&Overrides::default(), None);
    let results = knockout::run(&h, &baseline, &ks, None);
    let lines = knockout::summary_lines(&results);
    for r in &results {
        assert!(
            r.as_expected(),
            "{}: missed {:?}, stale gaps {:?}\n{}",
            r.knockout.name,
            r.unmet(),
            r.stale_gaps(),
            lines.join("\n")
        );
        assert!(
            !r.broke().is_empty(),
            "{} breaks nothing: the validation cannot see it",
            r.knockout.name
        );
    }
}
