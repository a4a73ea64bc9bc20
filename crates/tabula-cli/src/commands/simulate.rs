//! `tabula simulate`: one patient, one regimen.

use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use serde_json::json;
use tabula_output::plot::{time_courses, Line, Panel, TimeCourseOptions};
use tabula_output::{
    render_text, write_atomic, Column, ImageFormat, ParquetOptions, Table, TableFormat,
    TextTableOptions, TimeCourseBatch, TimeCourseLayout, TimeCourseWriter,
};
use tabula_scenario::parse_time;
use tabula_solve::Method;

use crate::commands::resolve_scenario;
use crate::exit::{input, CmdResult, Failure};

/// Table format.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Comma-separated values (exact round-trip numbers).
    Csv,
    /// Apache Parquet (compressed, typed; for large outputs).
    Parquet,
}

/// Plot format.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlotFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
    /// No plot.
    None,
}

/// Arguments of `tabula simulate`.
#[derive(clap::Args)]
#[command(after_help = "\
The scenario names a model, parameter overrides, doses, a duration and output times; see
docs/model-format.md. Writes, in <OUT>/<scenario name>/:
  timecourse.csv (or .parquet)   long table: patient, time, observable, value
  timecourse.svg (or .png)       the outputs listed in the scenario's `plot`
  run.json                       inputs, solver settings and statistics, for provenance

Examples:
  tabula simulate reference/pk_bolus
  tabula simulate sle/cd19_car_t --param WT=55 --states
  tabula simulate my.toml --duration \"2 year\" --method esdirk34 --rtol 1e-8")]
pub struct Args {
    /// A scenario file, or the name of a built-in scenario (see `tabula scenarios`).
    pub scenario: String,
    /// Output directory.
    #[arg(long, short, default_value = "out")]
    pub out: PathBuf,
    /// Format of the time-course table.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Format of the plot.
    #[arg(long, value_enum, default_value = "svg")]
    pub plot: PlotFormat,
    /// Override a parameter (in its declared unit); repeatable.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Override the duration (model time unit, or with a unit: "2 year").
    #[arg(long)]
    pub duration: Option<String>,
    /// Integration method.
    #[arg(long, value_parser = ["bdf", "esdirk34", "tr_bdf2", "tsit45"])]
    pub method: Option<String>,
    /// Relative tolerance.
    #[arg(long)]
    pub rtol: Option<f64>,
    /// Absolute tolerance.
    #[arg(long)]
    pub atol: Option<f64>,
    /// Also write every state to the table.
    #[arg(long)]
    pub states: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(a: Args) -> CmdResult {
    crate::exit::check_out_dir(&a.out)?;
    let mut sc = resolve_scenario(&a.scenario)?;
    for p in &a.params {
        let Some((name, value)) = p.split_once('=') else {
            return input(format!("--param expects NAME=VALUE, found \"{p}\""));
        };
        let value: f64 = match value.trim().parse() {
            Ok(v) if f64::is_finite(v) => v,
            _ => {
                return input(format!(
                    "--param {name}: \"{value}\" is not a finite number"
                ))
            }
        };
        if let Err(e) = sc.set_parameter(name.trim(), value) {
            if sc.model.parameter_index(name.trim()).is_some() {
                return input(format!("--param: {e}"));
            }
            let hint = tabula_model::error::did_you_mean(
                name.trim(),
                sc.model.parameters.iter().map(|p| p.name.as_str()),
            );
            return input(format!("--param: {e}{hint}"));
        }
    }
    if let Some(d) = &a.duration {
        match parse_time(d, &sc.model.time_unit) {
            Ok(x) => sc
                .set_duration(x)
                .map_err(|e| Failure::Input(format!("--duration: {e}")))?,
            Err(e) => return input(format!("--duration: {e}")),
        }
    }
    if let Some(m) = &a.method {
        sc.options.method = m.parse::<Method>().map_err(Failure::Input)?;
    }
    if let Some(r) = a.rtol {
        sc.options.rtol = r;
    }
    if let Some(x) = a.atol {
        sc.options.atol = x;
    }
    sc.options.validate().map_err(Failure::Input)?;
    for w in sc.warnings() {
        eprintln!("warning: {w}");
    }

    let started = Instant::now();
    let compiled = sc.compile();
    let traj = sc
        .run_compiled(&compiled)
        .map_err(|e| Failure::Run(anyhow::anyhow!("simulation of `{}` failed: {e}", sc.name)))?;
    let elapsed = started.elapsed();

    let dir = a.out.join(sanitize(&sc.name));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Run(anyhow::anyhow!("cannot create {}: {e}", dir.display())))?;
    let model = &sc.model;

    // The long table.
    let mut names: Vec<String> = traj.output_names.clone();
    let mut columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| traj.series(n).unwrap_or_default())
        .collect();
    if a.states || names.is_empty() {
        for s in &traj.state_names {
            names.push(s.clone());
            columns.push(traj.series(s).unwrap_or_default());
        }
    }
    let (ext, fmt) = match a.format {
        Format::Csv => ("csv", TableFormat::Csv),
        Format::Parquet => ("parquet", TableFormat::Parquet(ParquetOptions::default())),
    };
    let table_path = dir.join(format!("timecourse.{ext}"));
    let layout = TimeCourseLayout::new(names.clone()).with_time_unit(model.time_unit_text.clone());
    let mut w = TimeCourseWriter::create_as(&table_path, &layout, fmt)?;
    let mut batch = TimeCourseBatch::with_capacity(traj.times.len() * names.len());
    for (i, &t) in traj.times.iter().enumerate() {
        for (j, col) in columns.iter().enumerate() {
            batch.push(0, t, j as u32, col[i]);
        }
    }
    w.write(&batch)?;
    w.finish()?;

    // The plot.
    let mut written = vec![table_path.display().to_string()];
    if a.plot != PlotFormat::None {
        let plot_names: Vec<String> = if sc.plot.is_empty() {
            traj.output_names.iter().take(12).cloned().collect()
        } else {
            sc.plot.clone()
        };
        let unit_of = |n: &str| -> String {
            model
                .outputs
                .iter()
                .find(|o| o.name == n)
                .map(|o| o.unit.to_string())
                .or_else(|| {
                    model
                        .states
                        .iter()
                        .find(|s| s.name == n)
                        .map(|s| s.unit_text.clone())
                })
                .unwrap_or_default()
        };
        let title_of = |n: &str| -> String {
            let d = model
                .outputs
                .iter()
                .find(|o| o.name == n)
                .map(|o| o.description.clone())
                .or_else(|| {
                    model
                        .states
                        .iter()
                        .find(|s| s.name == n)
                        .map(|s| s.description.clone())
                })
                .unwrap_or_default();
            if d.is_empty() || d.len() > 48 {
                n.to_string()
            } else {
                format!("{n}: {d}")
            }
        };
        let markers: Vec<f64> = {
            let mut m: Vec<f64> = sc
                .regimen
                .doses
                .iter()
                .flat_map(|d| (0..=d.additional).map(move |k| d.time + f64::from(k) * d.interval))
                .filter(|&t| t <= sc.end)
                .collect();
            m.sort_by(f64::total_cmp);
            m.dedup();
            m.truncate(60);
            m
        };
        let (img, ext) = match a.plot {
            PlotFormat::Png => (ImageFormat::Png { scale: 2.0 }, "png"),
            _ => (ImageFormat::Svg, "svg"),
        };
        let panel = |n: &String| {
            Panel::new(title_of(n))
                .with_unit(unit_of(n))
                .with_line(Line::new(
                    sc.name.clone(),
                    traj.times.clone(),
                    traj.series(n).unwrap_or_default(),
                ))
        };
        for (log, suffix) in [(false, ""), (true, "_log")] {
            // Outputs listed in `log_plot` get their own figure with logarithmic axes.
            let panels: Vec<Panel> = if log {
                sc.log_plot.iter().map(panel).collect()
            } else {
                plot_names
                    .iter()
                    .filter(|n| !sc.log_plot.contains(n))
                    .map(panel)
                    .collect()
            };
            if panels.is_empty() {
                continue;
            }
            let opts = TimeCourseOptions {
                title: Some(format!("{}: {}", sc.name, sc.description)),
                x_unit: Some(model.time_unit_text.clone()),
                log_y: log,
                markers: markers.clone(),
                ..TimeCourseOptions::default()
            };
            let fig = time_courses(&panels, &opts)?;
            let path = dir.join(format!("timecourse{suffix}.{ext}"));
            fig.save_as(&path, img)?;
            written.push(path.display().to_string());
        }
    }

    // Provenance.
    let run = json!({
        "tabula_version": env!("CARGO_PKG_VERSION"),
        "scenario": sc.name,
        "description": sc.description,
        "model": sc.model_ref,
        "model_files": model.files.iter().map(|f| f.name.to_string()).collect::<Vec<_>>(),
        "time_unit": model.time_unit_text,
        "duration": sc.end,
        "parameters": model.parameters.iter().zip(&sc.parameters).map(|(p, v)| json!({"name": p.name, "value": v, "unit": p.unit_text, "default": p.value})).collect::<Vec<_>>(),
        "overridden": sc.overrides.iter().cloned().chain(a.params.iter().filter_map(|p| p.split_once('=').map(|x| x.0.trim().to_string()))).collect::<Vec<String>>(),
        "doses": sc.doses.iter().map(|d| json!({"into": d.into, "amount": d.amount, "unit": d.unit, "time": d.time, "rate": d.rate, "duration": d.duration, "interval": d.interval, "additional": d.additional})).collect::<Vec<_>>(),
        "solver": {"method": sc.options.method.name(), "rtol": sc.options.rtol, "atol": sc.options.atol},
        "statistics": {"steps": traj.stats.steps, "rhs_evaluations": traj.stats.rhs_evals, "jacobian_evaluations": traj.stats.jacobian_evals, "restarts": traj.stats.restarts, "wall_seconds": elapsed.as_secs_f64()},
    });
    let run_path = dir.join("run.json");
    write_atomic(
        &run_path,
        serde_json::to_string_pretty(&run)
            .map_err(|e| Failure::Run(e.into()))?
            .as_bytes(),
    )?;
    written.push(run_path.display().to_string());

    if !a.quiet {
        println!("{}: {}", sc.name, sc.description);
        println!(
            "model {} ({} states), {} {} simulated in {:.1} ms ({} steps, {} RHS evaluations, {} restarts at doses)\n",
            model.name,
            model.states.len(),
            fmt_num(sc.end),
            model.time_unit_text,
            elapsed.as_secs_f64() * 1e3,
            traj.stats.steps,
            traj.stats.rhs_evals,
            traj.stats.restarts
        );
        let shown: Vec<String> = if sc.plot.is_empty() {
            traj.output_names.iter().take(12).cloned().collect()
        } else {
            sc.plot.clone()
        };
        let mut names = Vec::new();
        let mut units = Vec::new();
        let [mut start, mut min, mut max, mut end] = [(); 4].map(|_| Vec::new());
        for n in &shown {
            let s = traj.series(n).unwrap_or_default();
            names.push(n.clone());
            units.push(
                model
                    .outputs
                    .iter()
                    .find(|o| &o.name == n)
                    .map(|o| o.unit.to_string())
                    .or_else(|| {
                        model
                            .states
                            .iter()
                            .find(|x| &x.name == n)
                            .map(|x| x.unit_text.clone())
                    })
                    .unwrap_or_default(),
            );
            start.push(s.first().copied().unwrap_or(f64::NAN));
            min.push(s.iter().copied().fold(f64::INFINITY, f64::min));
            max.push(s.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            end.push(s.last().copied().unwrap_or(f64::NAN));
        }
        let t = Table::from_columns(vec![
            ("output", Column::Str(names)),
            ("unit", Column::Str(units)),
            ("start", Column::F64(start)),
            ("min", Column::F64(min)),
            ("max", Column::F64(max)),
            ("end", Column::F64(end)),
        ])?;
        print!("{}", render_text(&t, &TextTableOptions::default()));
        println!("\nwrote:");
        for w in written {
            println!("  {w}");
        }
    }
    Ok(())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn fmt_num(x: f64) -> String {
    tabula_output::format_sig(x, 6)
}
