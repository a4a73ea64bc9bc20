//! Malformed scenario files never panic: random character and line edits of valid scenarios
//! either load (and then run, with a bounded step budget) or fail with located errors.

use proptest::prelude::*;
use tabula_library::Catalog;
use tabula_scenario::load_scenario_str;

const SEEDS: [&str; 3] = [
    include_str!("../../../library/scenarios/reference/pk_repeated.toml"),
    include_str!("../../../library/scenarios/reference/pk_infusion.toml"),
    include_str!("../../../library/scenarios/reference/car_t_benchmark.toml"),
];

const ALPHABET: &[char] = &[
    '"', '=', '[', ']', '{', '}', ',', '.', '-', '0', '1', '9', 'e', ' ', '\n', 'h', 'k', 'g', '/',
    'x',
];

fn mutate(text: &str, edits: &[(usize, usize, char)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for &(kind, at, c) in edits {
        let n = lines.len();
        if n == 0 {
            break;
        }
        let line = at % n;
        match kind % 4 {
            0 => {
                lines.remove(line);
            }
            1 => lines.swap(line, (at / 7) % n),
            _ => {
                let chars: Vec<char> = lines[line].chars().collect();
                let pos = if chars.is_empty() {
                    0
                } else {
                    (at / 3) % chars.len()
                };
                let keep = usize::from(kind % 4 == 3 && pos < chars.len());
                lines[line] = chars[..pos]
                    .iter()
                    .chain(std::iter::once(&c))
                    .chain(&chars[pos + keep..])
                    .collect();
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(seed in 0usize..SEEDS.len(), edits in proptest::collection::vec((0usize..4, any::<usize>(), proptest::sample::select(ALPHABET)), 1..4)) {
        let text = mutate(SEEDS[seed], &edits);
        match load_scenario_str("fuzz.toml", &text, &Catalog::builtin()) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(mut sc) => {
                sc.options.max_steps = 20_000;
                if sc.end <= 2000.0 && sc.output_times.len() <= 5000 {
                    let _ = sc.run();
                }
            }
        }
    }
}
