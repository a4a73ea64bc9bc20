//! Listings: `tabula models`, `tabula scenarios`, `tabula therapies`, `tabula model <name>`.

use std::path::Path;

use tabula_library::{description, Builtin, Kind};
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
    let rows = tabula_library::list(Kind::Model)
        .into_iter()
        .map(|(n, t)| (n.to_string(), description(t)))
        .collect();
    print_table(rows, "model", "description")
}

/// `tabula scenarios`.
pub fn scenarios() -> CmdResult {
    let rows = tabula_library::list(Kind::Scenario)
        .into_iter()
        .map(|(n, t)| (n.to_string(), description(t)))
        .collect();
    print_table(rows, "scenario", "description")
}

/// `tabula therapies`: the therapy modules, each with the scenarios that use it.
pub fn therapies() -> CmdResult {
    let scenarios = tabula_library::list(Kind::Scenario);
    let mut rows = Vec::new();
    for (name, text) in tabula_library::list(Kind::Model) {
        let is_therapy = name.starts_with("therapy/")
            || (name.starts_with("as/")
                && text.contains("[routes]")
                && !name.ends_with("untreated"));
        if !is_therapy {
            continue;
        }
        let module = name.to_string();
        let examples: Vec<&str> = scenarios
            .iter()
            .filter(|(_, t)| {
                t.contains(&format!("\"{module}\""))
                    || t.contains(&format!("'{module}'"))
                    || t.contains(&format!(
                        "tags = [\"therapy:{}",
                        name.rsplit('/').next().unwrap_or(name)
                    ))
            })
            .map(|(n, _)| *n)
            .collect();
        let desc = description(text);
        let ex = if examples.is_empty() {
            String::new()
        } else {
            format!("  [examples: {}]", examples.join(", "))
        };
        rows.push((module, format!("{desc}{ex}")));
    }
    print_table(rows, "therapy", "description")
}

/// Arguments of `tabula model`.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// A built-in model name or a model file.
    pub model: String,
}

/// `tabula model <name>`: the parameter table with units and sources.
pub fn model(a: ModelArgs) -> CmdResult {
    let m: Model = if Path::new(&a.model).is_file() {
        load_model_file(Path::new(&a.model), &Builtin)?
    } else {
        load_model_ref(&a.model, None, &Builtin).map_err(Failure::from)?
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
