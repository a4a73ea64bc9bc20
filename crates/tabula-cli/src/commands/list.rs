//! Listings: `tabula models`, `tabula scenarios`, `tabula therapies`, `tabula model <name>`.

use std::path::Path;

use tabula_library::{description, Kind};

use crate::commands::catalog;
use tabula_model::{load_model_file, load_model_ref, Model};
use tabula_output::{render_text, Column, Table, TextTableOptions};

use crate::exit::{CmdResult, Failure};

fn print_table(rows: Vec<(String, String)>, left: &str, right: &str) -> CmdResult {
    let (a, b): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    let t = Table::from_columns(vec![(left, Column::Str(a)), (right, Column::Str(b))])?;
    let opts = TextTableOptions {
        max_cell_width: 100,
        ..TextTableOptions::default()
    };
    print!("{}", render_text(&t, &opts));
    Ok(())
}

/// `tabula models`.
pub fn models() -> CmdResult {
    let rows = catalog()
        .list(Kind::Model)
        .into_iter()
        .map(|(n, t)| (n, description(t)))
        .collect();
    print_table(rows, "model", "description")
}

/// `tabula scenarios`.
pub fn scenarios() -> CmdResult {
    let rows = catalog()
        .list(Kind::Scenario)
        .into_iter()
        .map(|(n, t)| (n, description(t)))
        .collect();
    print_table(rows, "scenario", "description")
}

/// The `tags` of a model file's `[model]` table.
fn model_tags(text: &str) -> Vec<String> {
    let src = tabula_model::SourceFile::new("tags", text.to_string());
    let Ok(doc) = tabula_model::doc::parse_document(&src) else {
        return Vec::new();
    };
    let mut r = tabula_model::doc::Reader::new(&src);
    let root = tabula_model::doc::TableView::root(&doc);
    let Some(m) = root.sub(&mut r, "model") else {
        return Vec::new();
    };
    m.str_array(&mut r, "tags")
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.text)
        .collect()
}

/// `tabula therapies`: modules tagged `therapy`, each with the scenarios whose model includes it.
pub fn therapies() -> CmdResult {
    let cat = catalog();
    // Which built-in modules each scenario's model is made of.
    let mut uses: Vec<(String, Vec<String>)> = Vec::new();
    for (name, _) in cat.list(Kind::Scenario) {
        if let Ok(sc) = tabula_scenario::from_catalog(cat, &name) {
            let files = sc
                .model
                .files
                .iter()
                .filter_map(|f| f.builtin.clone())
                .collect();
            uses.push((name, files));
        }
    }
    let mut rows = Vec::new();
    for (name, text) in cat.list(Kind::Model) {
        if !model_tags(text).iter().any(|t| t == "therapy") {
            continue;
        }
        let examples: Vec<&str> = uses
            .iter()
            .filter(|(_, f)| f.contains(&name))
            .map(|(s, _)| s.as_str())
            .collect();
        let ex = if examples.is_empty() {
            String::new()
        } else {
            format!("  [examples: {}]", examples.join(", "))
        };
        rows.push((name.clone(), format!("{}{ex}", description(text))));
    }
    print_table(rows, "therapy", "description")
}

/// A library model that includes the module `name` (the first by name), for modules that cannot
/// stand alone, with that model's name.
fn as_included(name: &str) -> Option<(Model, String)> {
    let name = name.trim_end_matches(".toml");
    let quoted = format!("\"{name}\"");
    catalog()
        .list(Kind::Model)
        .into_iter()
        .filter(|(host, text)| host != name && text.contains(&quoted))
        .find_map(|(host, _)| {
            load_model_ref(&host, None, catalog())
                .ok()
                .map(|m| (m, host))
        })
}

/// The parameters, states and outputs of `m` that come from `file`.
fn only_from(mut m: Model, file: &str) -> Model {
    let from = |o: &tabula_model::error::Location| &*o.file == file;
    m.parameters.retain(|p| from(&p.origin));
    m.states.retain(|s| from(&s.origin));
    m.outputs.retain(|o| from(&o.origin));
    m
}

/// Arguments of `tabula model`.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// A built-in model name or a model file.
    pub model: String,
}

/// `tabula model <name>`: the parameter table with units and sources.
pub fn model(a: ModelArgs) -> CmdResult {
    let (m, module) = if Path::new(&a.model).is_file() {
        (load_model_file(Path::new(&a.model), catalog())?, None)
    } else {
        match load_model_ref(&a.model, None, catalog()) {
            Ok(m) => (m, None),
            Err(e) => match as_included(&a.model) {
                Some((m, host)) => (m, Some(host)),
                None => return Err(Failure::from(e)),
            },
        }
    };
    let m = match &module {
        Some(host) => {
            let file = format!("<builtin>/{}.toml", a.model.trim_end_matches(".toml"));
            println!(
                "{} is a module that uses names of other modules; shown as included in `{host}` (its own parameters, states and outputs; an instance prefix is part of each name)\n",
                a.model
            );
            only_from(m, &file)
        }
        None => m,
    };
    println!("{}: {}", m.name, m.description);
    println!(
        "time unit: {}; {} states, {} parameters, {} outputs\n",
        m.time_unit_text,
        m.states.len(),
        m.parameters.len(),
        m.outputs.len()
    );
    let p = &m.parameters;
    let t = Table::from_columns(vec![
        (
            "parameter",
            Column::Str(p.iter().map(|x| x.name.clone()).collect()),
        ),
        ("value", Column::F64(p.iter().map(|x| x.value).collect())),
        (
            "unit",
            Column::Str(p.iter().map(|x| x.unit_text.clone()).collect()),
        ),
        (
            "status",
            Column::Str(p.iter().map(|x| x.status.as_str().to_string()).collect()),
        ),
        (
            "source / range",
            Column::Str(
                p.iter()
                    .map(|x| match (&x.source, x.range) {
                        (Some(s), _) => s.clone(),
                        (None, Some((lo, hi))) => format!("range [{lo}, {hi}]"),
                        (None, None) => String::new(),
                    })
                    .collect(),
            ),
        ),
        (
            "description",
            Column::Str(p.iter().map(|x| x.description.clone()).collect()),
        ),
    ])?;
    let opts = TextTableOptions {
        digits: 4,
        max_cell_width: 60,
        ..TextTableOptions::default()
    };
    print!("{}", render_text(&t, &opts));
    println!();
    let s = &m.states;
    let t = Table::from_columns(vec![
        (
            "state",
            Column::Str(s.iter().map(|x| x.name.clone()).collect()),
        ),
        (
            "unit",
            Column::Str(s.iter().map(|x| x.unit_text.clone()).collect()),
        ),
        (
            "description",
            Column::Str(s.iter().map(|x| x.description.clone()).collect()),
        ),
    ])?;
    print!("{}", render_text(&t, &opts));
    println!();
    let o = &m.outputs;
    let t = Table::from_columns(vec![
        (
            "output",
            Column::Str(o.iter().map(|x| x.name.clone()).collect()),
        ),
        (
            "unit",
            Column::Str(o.iter().map(|x| x.unit.to_string()).collect()),
        ),
        (
            "description",
            Column::Str(o.iter().map(|x| x.description.clone()).collect()),
        ),
    ])?;
    print!("{}", render_text(&t, &opts));
    Ok(())
}
