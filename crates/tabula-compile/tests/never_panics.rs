//! Arbitrary input never panics: random text, and random mutations of valid model files (line
//! deletions, duplications and swaps; character insertions, deletions and substitutions) go
//! through parsing and validation, and every mutant that still validates is compiled, loaded
//! with its parameters and evaluated. Errors are fine; panics are not.

use std::sync::Arc;

use proptest::prelude::*;
use tabula_compile::{Backend, CompiledModel};
use tabula_model::{load_model_str, EmptyLibrary};

const SEEDS: [&str; 5] = [
    include_str!("../../../library/models/reference/one_compartment.toml"),
    include_str!("../../../library/models/reference/oral_absorption.toml"),
    include_str!("../../../library/models/reference/two_compartment.toml"),
    include_str!("../../../library/models/reference/robertson.toml"),
    include_str!("../../../library/models/reference/car_t_benchmark.toml"),
];

/// Characters that matter to the TOML and expression grammars.
const ALPHABET: &[char] = &[
    '"', '\'', '=', '[', ']', '{', '}', ',', '.', '(', ')', '+', '-', '*', '/', '^', '<', '>', '!',
    '#', '\n', ' ', '0', '1', '9', 'e', 'E', 'k', 'A', '_', 'x', 't', 'µ', '\\', '\t', 'n', 'a',
    'i', 'f',
];

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = proptest::sample::select(ALPHABET);
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), ch.clone()).prop_map(|(a, c)| Edit::Insert(a, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), ch).prop_map(|(a, c)| Edit::Replace(a, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match e {
            Edit::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
            Edit::Insert(i, c) | Edit::Replace(i, c) => {
                let line = &mut lines[i % n];
                let chars: Vec<char> = line.chars().collect();
                let at = if chars.is_empty() { 0 } else { i % chars.len() };
                let mut out: String = chars[..at].iter().collect();
                out.push(*c);
                let skip = usize::from(matches!(e, Edit::Replace(..)) && at < chars.len());
                out.extend(chars[at + skip..].iter());
                *line = out;
            }
            Edit::Delete(i) => {
                let line = &mut lines[i % n];
                let chars: Vec<char> = line.chars().collect();
                if !chars.is_empty() {
                    let at = i % chars.len();
                    *line = chars[..at].iter().chain(&chars[at + 1..]).collect();
                }
            }
        }
    }
    lines.join("\n")
}

/// Loads, and if valid compiles and evaluates, with both backends.
fn exercise(text: &str) {
    let Ok(model) = load_model_str("fuzz.toml", text, &EmptyLibrary) else {
        return;
    };
    let model = Arc::new(model);
    for backend in [Backend::Jit, Backend::Interpreter] {
        let cm = CompiledModel::with_backend(model.clone(), backend);
        let mut ws = cm.workspace();
        let p = cm.default_parameters();
        let _ = cm.setup(&mut ws, &p);
        let mut y = vec![0.0; cm.n_states()];
        cm.initial_state(&ws, &mut y);
        let mut dy = vec![0.0; cm.n_states()];
        cm.rhs(&mut ws, 0.5, &y, &mut dy);
        let mut jac = vec![0.0; cm.jacobian_pattern().0.len()];
        cm.jacobian(&mut ws, 0.5, &y, &mut jac);
        let mut out = vec![0.0; cm.n_outputs()];
        let eps = vec![1.0; cm.n_outputs()];
        cm.outputs(&mut ws, 0.5, &y, Some(&eps), &mut out);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_after_mutation(seed in 0usize..SEEDS.len(), edits in proptest::collection::vec(edit(), 4..12)) {
        exercise(&apply(SEEDS[seed], &edits));
    }

    #[test]
    fn mutated_models_never_panic(seed in 0usize..SEEDS.len(), edits in proptest::collection::vec(edit(), 1..3)) {
        exercise(&apply(SEEDS[seed], &edits));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_expressions_never_panic(expr in "[-+*/^()<>=!a-zA-Z0-9_., ]{0,60}") {
        let text = format!(
            "[model]\nname='f'\ndescription='d'\ntime_unit='day'\n[parameters]\nk = {{ value = 1, unit = '1/day', description = 'k', status = 'assumed', range = [0, 2] }}\n[states]\nA = {{ unit = 'mg', initial = 1, description = 'a' }}\n[rates]\nA = \"{}\"\n[outputs]\no = {{ expr = \"{}\", description = 'o' }}\n",
            expr.replace('"', ""),
            expr.replace('"', "")
        );
        exercise(&text);
    }
}
