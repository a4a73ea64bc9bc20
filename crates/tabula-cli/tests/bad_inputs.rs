//! The bad-input catalogue (`tests/bad_inputs/cases.toml` at the repository root): every case
//! runs the `tabula` binary on hostile or malformed input in a temporary directory and must end
//! with the expected exit code and message, within its time limit, without a panic and without
//! leaving temporary files behind. `docs/testing.md` describes how to add a case.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toml::Value;

/// Most bytes of standard error unless a case sets `max_stderr`.
const MAX_STDERR_BYTES: usize = 20_000;

/// Time limit of a case unless it sets `timeout`.
const DEFAULT_TIMEOUT_S: u64 = 60;

fn catalogue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/bad_inputs")
}

struct Case {
    name: String,
    args: Vec<OsString>,
    exit: i32,
    message: String,
    timeout: Duration,
    /// Most bytes of standard error allowed (messages must not echo megabytes of input).
    max_stderr: usize,
    files: BTreeMap<String, Value>,
}

fn str_of<'a>(t: &'a toml::Table, key: &str, case: &str) -> &'a str {
    t.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("case {case}: missing string `{key}`"))
}

/// An argument: text, or `hex:...` for bytes that are not UTF-8.
fn argument(s: &str) -> OsString {
    match s.strip_prefix("hex:") {
        #[cfg(unix)]
        Some(h) => {
            use std::os::unix::ffi::OsStringExt;
            OsString::from_vec(hex(h))
        }
        _ => OsString::from(s),
    }
}

fn hex(h: &str) -> Vec<u8> {
    let h: String = h.split_whitespace().collect();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn read_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(catalogue_dir().join("cases.toml")).expect("cases.toml");
    let doc: toml::Table = text.parse().expect("cases.toml is valid TOML");
    let cases = doc["case"].as_array().expect("[[case]] tables");
    cases
        .iter()
        .map(|c| {
            let t = c.as_table().expect("a table");
            let name = str_of(t, "name", "?").to_string();
            str_of(t, "why", &name);
            let args = t["args"]
                .as_array()
                .unwrap_or_else(|| panic!("case {name}: `args` must be an array"))
                .iter()
                .map(|a| argument(a.as_str().expect("string arguments")))
                .collect();
            Case {
                exit: t["exit"].as_integer().expect("`exit`") as i32,
                message: str_of(t, "message", &name).to_string(),
                timeout: Duration::from_secs(
                    t.get("timeout")
                        .and_then(Value::as_integer)
                        .map_or(DEFAULT_TIMEOUT_S, |x| x as u64),
                ),
                max_stderr: t
                    .get("max_stderr")
                    .and_then(Value::as_integer)
                    .map_or(MAX_STDERR_BYTES, |x| x as usize),
                files: t
                    .get("files")
                    .and_then(Value::as_table)
                    .map(|f| f.clone().into_iter().collect())
                    .unwrap_or_default(),
                args,
                name,
            }
        })
        .collect()
}

/// Writes one input file of a case (see the header of `cases.toml` for the forms).
fn write_file(dir: &Path, name: &str, spec: &Value, case: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("directory");
    }
    let t = spec
        .as_table()
        .unwrap_or_else(|| panic!("case {case}: file {name} must be a table"));
    let bytes: Vec<u8> = if let Some(text) = t.get("text").and_then(Value::as_str) {
        text.as_bytes().to_vec()
    } else if let Some(base) = t.get("base").and_then(Value::as_str) {
        let mut text = std::fs::read_to_string(catalogue_dir().join("base").join(base))
            .unwrap_or_else(|e| panic!("case {case}: base {base}: {e}"));
        for pair in t
            .get("replace")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let pair = pair.as_array().expect("[from, to]");
            let (from, to) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            assert!(
                text.contains(from),
                "case {case}: base {base} has no `{from}` to replace"
            );
            text = text.replacen(from, to, 1);
        }
        if let Some(extra) = t.get("append").and_then(Value::as_str) {
            text.push_str(extra);
        }
        text.into_bytes()
    } else if let Some(parts) = t.get("parts").and_then(Value::as_array) {
        let mut out = Vec::new();
        for p in parts {
            let p = p.as_array().expect("[text, times]");
            let piece = p[0].as_str().expect("text").as_bytes();
            for _ in 0..p[1].as_integer().expect("times") {
                out.extend_from_slice(piece);
            }
        }
        out
    } else if let Some(h) = t.get("hex").and_then(Value::as_str) {
        hex(h)
    } else if let Some(target) = t.get("symlink").and_then(Value::as_str) {
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        return;
    } else if t.get("directory").is_some() {
        std::fs::create_dir_all(&path).expect("directory");
        return;
    } else {
        panic!("case {case}: file {name} needs text, base, parts, hex, symlink or directory");
    };
    std::fs::write(&path, bytes).expect("write input file");
}

/// Files under `dir` whose name ends in `.tmp` (left-over temporary output files).
fn temporaries(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            temporaries(&p, found);
        } else if p.extension().is_some_and(|x| x == "tmp") {
            found.push(p);
        }
    }
}

/// Runs one case; returns what went wrong, if anything.
fn run_case(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The valid base files (model, scenario, trial, targets, problem), then the case's own.
    for entry in std::fs::read_dir(catalogue_dir().join("base")).expect("base directory") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, dir.path().join(p.file_name().expect("a file"))).expect("copy");
    }
    for (name, spec) in &case.files {
        write_file(dir.path(), name, spec, &case.name);
    }
    let stdout_path = dir.path().join(".stdout.log");
    let stderr_path = dir.path().join(".stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(&case.args)
        .current_dir(dir.path())
        .env_remove("TABULA_LIBRARY")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("tabula starts");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > case.timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("no answer within {:?} (a hang)", case.timeout));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout =
        String::from_utf8_lossy(&std::fs::read(&stdout_path).unwrap_or_default()).into_owned();
    let stderr =
        String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap_or_default()).into_owned();
    let shown = |s: &str| s.chars().take(600).collect::<String>();
    let mut problems = Vec::new();
    match status.code() {
        Some(c) if c == case.exit => {}
        Some(c) => problems.push(format!("exit code {c}, expected {}", case.exit)),
        None => problems.push(format!(
            "killed by a signal ({status}): an abort or a crash"
        )),
    }
    if stderr.len() > case.max_stderr {
        problems.push(format!(
            "{} bytes on standard error, more than {}",
            stderr.len(),
            case.max_stderr
        ));
    }
    if stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    if !stderr.contains(&case.message) && !stdout.contains(&case.message) {
        problems.push(format!("the message lacks \"{}\"", case.message));
    }
    let mut tmp = Vec::new();
    temporaries(dir.path(), &mut tmp);
    if !tmp.is_empty() {
        problems.push(format!("left temporary files: {tmp:?}"));
    }
    if std::env::var_os("BAD_INPUT_SHOW").is_some() {
        eprintln!(
            "== {} (exit {:?})\n{}",
            case.name,
            status.code(),
            shown(&stderr)
        );
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "{}\n    stderr: {}\n    stdout: {}",
            problems.join("; "),
            shown(&stderr),
            shown(&stdout)
        ))
    }
}

#[test]
fn every_bad_input_gets_a_clear_error() {
    let cases = read_cases();
    let mut names = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(names.insert(&c.name), "two cases are named {}", c.name);
    }
    assert!(cases.len() >= 70, "the catalogue has {} cases", cases.len());
    // An optional filter: BAD_INPUT=name-fragment runs only the matching cases.
    let only = std::env::var("BAD_INPUT").ok();
    let failures: Vec<String> = cases
        .iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
        .filter_map(|c| run_case(c).map(|why| format!("{}: {why}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
