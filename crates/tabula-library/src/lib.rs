//! # tabula-library: the built-in models, scenarios and trials
//!
//! Every file under the repository's `library/` directory is embedded in the binary at build
//! time, so `tabula simulate sle/cd19_car_t` works anywhere without the source tree:
//!
//! * `library/models/**.toml`: model modules (`immune/b_lineage`, `therapy/car_t`, ...) and
//!   complete models that include them;
//! * `library/scenarios/**.toml`: runnable single-patient scenarios;
//! * `library/trials/**.toml`: virtual trials.
//!
//! Names are paths relative to those directories, without `.toml`.

#![warn(missing_docs)]

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

use tabula_model::{Library, ModelError};

/// The kind of a built-in file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A model or model module.
    Model,
    /// A scenario.
    Scenario,
    /// A virtual trial.
    Trial,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Model => "models/",
            Kind::Scenario => "scenarios/",
            Kind::Trial => "trials/",
        }
    }
}

/// Every built-in file of a kind: (name, contents), sorted by name.
pub fn list(kind: Kind) -> Vec<(&'static str, &'static str)> {
    embedded::FILES
        .iter()
        .filter_map(|(path, text)| {
            let rest = path.strip_prefix(kind.dir())?;
            Some((rest.strip_suffix(".toml")?, *text))
        })
        .collect()
}

/// The text of a built-in file of a kind, by name (with or without `.toml`).
pub fn get(kind: Kind, name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches(".toml");
    list(kind)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
}

/// A data file (e.g. `validation/targets.csv`) by its path relative to `library/`.
pub fn data_file(path: &str) -> Option<&'static str> {
    embedded::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, t)| *t)
}

/// The built-in library, as a [`tabula_model::Library`] for resolving `include`s and model
/// references.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl Library for Builtin {
    fn model(&self, name: &str) -> Option<&str> {
        get(Kind::Model, name)
    }

    fn model_names(&self) -> Vec<String> {
        list(Kind::Model)
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect()
    }
}

/// The built-in library, optionally with a directory of the same layout (`models/`,
/// `scenarios/`, `trials/`) laid over it: files in the directory take precedence over built-ins
/// of the same name and add to them. This lets a modeller run edited or new files by name
/// without rebuilding (`tabula --library ./library ...`).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Overlay files by path relative to the directory: (path on disk, text).
    overlay: std::collections::BTreeMap<String, (std::path::PathBuf, String)>,
}

impl Catalog {
    /// Only the built-in files.
    pub fn builtin() -> Catalog {
        Catalog::default()
    }

    /// The built-in files with the `.toml` (and `.csv`) files under `dir` laid over them.
    /// Each file is read with [`tabula_model::read_text_file`] (regular UTF-8 files of at most
    /// 16 MiB); messages about a file name its path under `dir`.
    pub fn with_overlay(dir: &std::path::Path) -> Result<Catalog, ModelError> {
        type Files = std::collections::BTreeMap<String, (std::path::PathBuf, String)>;
        fn walk(
            dir: &std::path::Path,
            root: &std::path::Path,
            out: &mut Files,
        ) -> Result<(), ModelError> {
            let io = |source| ModelError::Io {
                path: dir.display().to_string(),
                source,
            };
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                if path.is_dir() {
                    walk(&path, root, out)?;
                } else if path.extension().is_some_and(|e| e == "toml" || e == "csv") {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    let text = tabula_model::read_text_file(&path)?;
                    out.insert(rel, (path, text));
                }
            }
            Ok(())
        }
        let mut overlay = std::collections::BTreeMap::new();
        walk(dir, dir, &mut overlay)?;
        Ok(Catalog { overlay })
    }

    /// Every file of a kind: (name, contents), sorted by name.
    pub fn list(&self, kind: Kind) -> Vec<(String, &str)> {
        let mut all: std::collections::BTreeMap<String, &str> = list(kind)
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        for (path, text) in &self.overlay {
            if let Some(name) = path
                .strip_prefix(kind.dir())
                .and_then(|r| r.strip_suffix(".toml"))
            {
                all.insert(name.to_string(), text.1.as_str());
            }
        }
        all.into_iter().collect()
    }

    /// A file of a kind by name (with or without `.toml`).
    pub fn get(&self, kind: Kind, name: &str) -> Option<&str> {
        let name = name.trim_end_matches(".toml");
        let key = format!("{}{name}.toml", kind.dir());
        self.overlay
            .get(&key)
            .map(|(_, text)| text.as_str())
            .or_else(|| get(kind, name))
    }

    /// A data file by its path relative to `library/`.
    pub fn data_file(&self, path: &str) -> Option<&str> {
        self.overlay
            .get(path)
            .map(|(_, text)| text.as_str())
            .or_else(|| data_file(path))
    }
}

impl Library for Catalog {
    fn model(&self, name: &str) -> Option<&str> {
        self.get(Kind::Model, name)
    }

    fn model_names(&self) -> Vec<String> {
        self.list(Kind::Model).into_iter().map(|(n, _)| n).collect()
    }

    fn overlay_path(&self, path: &str) -> Option<String> {
        self.overlay.get(path).map(|(p, _)| p.display().to_string())
    }
}

/// The first non-empty line of the `description` field of a built-in file, for listings.
pub fn description(text: &str) -> String {
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("description")?
                .trim_start()
                .strip_prefix('=')?
                .trim();
            Some(rest.trim_matches(|c| c == '"' || c == '\'').to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_models_are_embedded() {
        assert!(get(Kind::Model, "reference/one_compartment").is_some());
        assert!(Builtin
            .model_names()
            .iter()
            .any(|n| n == "reference/robertson"));
        assert!(
            description(get(Kind::Model, "reference/robertson").unwrap()).contains("Robertson")
        );
    }
}

/// What a user meant by the name, path or text they gave for a model, scenario or trial: one
/// precedence rule for every front end (the command line and Python).
#[derive(Clone, Debug, PartialEq)]
pub enum Given<'a> {
    /// TOML text: it contains a line break or starts with `[`.
    Text(&'a str),
    /// A file on disk: an existing path, even when a built-in file has the same name.
    File(std::path::PathBuf),
    /// A file of the catalog (an overlay file, else a built-in one): its name without `.toml`,
    /// and its text.
    Library(String, &'a str),
}

impl Kind {
    /// The word for one file of the kind (`scenario`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Scenario => "scenario",
            Kind::Trial => "trial",
        }
    }
}

/// Resolves `given` in this order: TOML text; an existing path (a file; anything else at that
/// path, such as a directory, is refused with the file reader's message); a name in `catalog`
/// (overlay first, with or without `.toml`). Anything else is an error naming the closest
/// library names.
pub fn resolve<'a>(
    catalog: &'a Catalog,
    kind: Kind,
    given: &'a str,
) -> Result<Given<'a>, ModelError> {
    if given.contains('\n') || given.trim_start().starts_with('[') {
        return Ok(Given::Text(given));
    }
    let path = std::path::Path::new(given);
    if path.exists() {
        if !path.is_file() {
            // The shared reader says what is wrong with it (a directory, a device).
            tabula_model::read_text_file(path)?;
        }
        return Ok(Given::File(path.to_path_buf()));
    }
    let name = given.trim_end_matches(".toml");
    if let Some(text) = catalog.get(kind, name) {
        return Ok(Given::Library(name.to_string(), text));
    }
    let names: Vec<String> = catalog.list(kind).into_iter().map(|(n, _)| n).collect();
    let hint = tabula_model::error::did_you_mean(given, names.iter().map(String::as_str));
    let word = kind.word();
    Err(ModelError::single(
        None,
        word,
        format!(
            "no {word} file or built-in {word} named \"{given}\"{hint}; the built-in ones are listed by `tabula {word}s` (Python: `tabula.{word}s()`)"
        ),
    ))
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn one_precedence_rule() {
        let c = Catalog::builtin();
        assert_eq!(
            resolve(&c, Kind::Scenario, "[scenario]\nname = \"x\"").unwrap(),
            Given::Text("[scenario]\nname = \"x\"")
        );
        match resolve(&c, Kind::Scenario, "reference/pk_bolus.toml").unwrap() {
            Given::Library(n, _) => assert_eq!(n, "reference/pk_bolus"),
            other => panic!("{other:?}"),
        }
        // An existing file wins over a built-in of the same spelling.
        let dir = std::env::temp_dir().join(format!("tabula-resolve-{}", std::process::id()));
        let file = dir.join("reference/pk_bolus.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "[scenario]\n").unwrap();
        let given = file.display().to_string();
        assert_eq!(
            resolve(&c, Kind::Scenario, &given).unwrap(),
            Given::File(file.clone())
        );
        // A directory is refused with the reader's message, not called an unknown name.
        let e = resolve(&c, Kind::Scenario, dir.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("no scenario file"), "{e}");
        // An overlay file is found by name.
        let over = dir.join("overlay");
        std::fs::create_dir_all(over.join("trials")).unwrap();
        std::fs::write(over.join("trials/mine.toml"), "[trial]\n").unwrap();
        let oc = Catalog::with_overlay(&over).unwrap();
        assert!(matches!(
            resolve(&oc, Kind::Trial, "mine"),
            Ok(Given::Library(..))
        ));
        assert!(resolve(&c, Kind::Trial, "mine").is_err());
        let e = resolve(&c, Kind::Trial, "sle_refractor")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sle_refractory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
