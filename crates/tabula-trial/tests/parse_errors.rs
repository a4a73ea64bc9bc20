//! Malformed trial files give errors that name the file, the line and the field.

mod common;

use common::*;
use tabula_library::Builtin;
use tabula_trial::{load_trial_file, TrialError};

fn errors(trial: &str) -> Vec<String> {
    let d = toy(trial);
    match load_trial_file(&trial_path(d.path()), &Builtin) {
        Ok(_) => panic!("the trial should not load"),
        Err(e) => {
            let e = TrialError::from(e);
            assert!(e.is_input());
            e.to_string()
                .lines()
                .map(|l| l.replace(&d.path().display().to_string(), "DIR"))
                .collect()
        }
    }
}

const HEAD: &str = r#"
[trial]
name = "bad"
description = "Broken on purpose"
patients = 10
seed = 1

[[arm]]
name = "a"
scenario = "scenario.toml"
"#;

#[test]
fn unknown_endpoint_output_is_located_with_a_hint() {
    let e = errors(&format!(
        "{HEAD}\n[[endpoint]]\nname = \"x\"\nkind = \"nadir\"\noutput = \"respnse\"\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("DIR/trial.toml:15:10: `endpoint[0].output`"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("did you mean `response`?"), "{}", e[0]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = errors(&format!(
        "{HEAD}\n[population.parameters]\nkk = {{ omega = 0.3 }}\nk = {{ dist = \"gamma\", omega = 1 }}\nV = {{ omega = -1 }}\n\n[[endpoint]]\nname = \"y\"\nkind = \"peek\"\n"
    ));
    let joined = e.join("\n");
    assert!(joined.contains(":13:1: `population.parameters.kk`: no arm's model has a parameter `kk` (did you mean `k`?)"), "{joined}");
    assert!(
        joined.contains(":14:14: `population.parameters.k.dist`: unknown value \"gamma\""),
        "{joined}"
    );
    assert!(
        joined.contains(":15:15: `population.parameters.V.omega`: omega must be >= 0"),
        "{joined}"
    );
    assert!(
        joined.contains(":19:8: `endpoint[0].kind`: unknown value \"peek\" (did you mean `peak`?)"),
        "{joined}"
    );
    assert_eq!(
        e.len(),
        5,
        "one message per problem, plus the count: {joined}"
    );
}

#[test]
fn missing_fields_and_bad_arms_are_reported() {
    let e = errors("[trial]\nname = \"bad\"\ndescription = \"x\"\n\n[[arm]]\nname = \"a\"\nscenario = \"nowhere.toml\"\n");
    let joined = e.join("\n");
    assert!(
        joined.contains("`trial.patients`: missing required field"),
        "{joined}"
    );
    assert!(
        joined.contains("`trial.seed`: missing required field"),
        "{joined}"
    );
    assert!(
        joined.contains(":7:12: `arm[0].scenario`: no scenario file"),
        "{joined}"
    );
}

#[test]
fn a_non_positive_definite_correlation_is_an_error() {
    let e = errors(&format!(
        "{HEAD}\n[population.parameters]\nk = {{ omega = 0.3 }}\nV = {{ omega = 0.3 }}\nEC50 = {{ omega = 0.3 }}\n\n[[population.correlation]]\nparameters = [\"k\", \"V\", \"EC50\"]\nmatrix = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]\n"
    ));
    assert!(e.join("\n").contains("not positive definite"), "{e:?}");
}

#[test]
fn a_syntax_error_is_located() {
    let e = errors("[trial\nname = 1\n");
    assert!(e[0].starts_with("DIR/trial.toml:1:"), "{e:?}");
    assert!(e[0].contains("not valid TOML"), "{e:?}");
}
