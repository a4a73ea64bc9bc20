//! The validated, flattened model: what the compiler consumes.

use std::sync::Arc;

use crate::error::Location;
use crate::expr::BinOp;
use crate::units::Unit;

/// A reference to a named quantity of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sym {
    /// A parameter, by index into [`Model::parameters`].
    Param(usize),
    /// A derived quantity, by index into [`Model::derived`].
    Derived(usize),
    /// A state, by index into [`Model::states`].
    State(usize),
    /// A flux, by index into [`Model::fluxes`].
    Flux(usize),
    /// An output, by index into [`Model::outputs`].
    Output(usize),
    /// A dosing route, by index into [`Model::routes`].
    Route(usize),
}

/// Built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// `exp(x)`
    Exp,
    /// `ln(x)` (also `log`)
    Ln,
    /// `log10(x)`
    Log10,
    /// `sqrt(x)`
    Sqrt,
    /// `abs(x)`
    Abs,
    /// `pow(a, b)`
    Pow,
    /// `min(a, b, ...)`
    Min,
    /// `max(a, b, ...)`
    Max,
    /// `clamp(x, lo, hi)`
    Clamp,
    /// `hill(x, K, n)` = x^n / (K^n + x^n)
    Hill,
    /// `if(c, a, b)`
    If,
    /// `not(x)`
    Not,
}

impl Func {
    /// Looks a function up by name.
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "exp" => Func::Exp,
            "ln" | "log" => Func::Ln,
            "log10" => Func::Log10,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "pow" => Func::Pow,
            "min" => Func::Min,
            "max" => Func::Max,
            "clamp" => Func::Clamp,
            "hill" => Func::Hill,
            "if" => Func::If,
            "not" => Func::Not,
            _ => return None,
        })
    }

    /// Every function name, for messages.
    pub const NAMES: [&'static str; 13] = [
        "exp", "ln", "log", "log10", "sqrt", "abs", "pow", "min", "max", "clamp", "hill", "if",
        "not",
    ];

    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Log10 => "log10",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Pow => "pow",
            Func::Min => "min",
            Func::Max => "max",
            Func::Clamp => "clamp",
            Func::Hill => "hill",
            Func::If => "if",
            Func::Not => "not",
        }
    }
}

/// A resolved expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Const(f64),
    /// A named quantity.
    Sym(Sym),
    /// Time since the start of the simulation.
    Time,
    /// Negation.
    Neg(Box<Expr>),
    /// A binary operation.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// A function call.
    Call(Func, Vec<Expr>),
}

impl Expr {
    /// Visits every symbol referenced.
    pub fn for_each_sym(&self, f: &mut impl FnMut(Sym)) {
        match self {
            Expr::Const(_) | Expr::Time => {}
            Expr::Sym(s) => f(*s),
            Expr::Neg(a) => a.for_each_sym(f),
            Expr::Bin(_, a, b) => {
                a.for_each_sym(f);
                b.for_each_sym(f);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.for_each_sym(f)),
        }
    }

    /// True when the expression is the literal zero.
    pub fn is_zero(&self) -> bool {
        matches!(self, Expr::Const(v) if *v == 0.0)
    }
}

/// How a parameter's value is justified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamStatus {
    /// Read in the cited source.
    Sourced,
    /// Computed from sourced numbers (see the note).
    Derived,
    /// No source; a modelling assumption with a plausible range.
    Assumed,
    /// To be (or already) fitted to data, with a prior range.
    Calibrated,
}

impl ParamStatus {
    /// As written in model files.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamStatus::Sourced => "sourced",
            ParamStatus::Derived => "derived",
            ParamStatus::Assumed => "assumed",
            ParamStatus::Calibrated => "calibrated",
        }
    }
}

/// A model parameter.
#[derive(Clone, Debug)]
pub struct Parameter {
    /// Name (with any module prefix).
    pub name: String,
    /// Default value, in `unit`.
    pub value: f64,
    /// Unit.
    pub unit: Unit,
    /// Unit as written.
    pub unit_text: String,
    /// What it is.
    pub description: String,
    /// Citation, when sourced or derived.
    pub source: Option<String>,
    /// Justification status.
    pub status: ParamStatus,
    /// Plausible range `[low, high]`.
    pub range: Option<(f64, f64)>,
    /// Free-text note.
    pub note: Option<String>,
    /// Whether a negative value is allowed.
    pub allow_negative: bool,
    /// The validation targets (ids such as `T27`) whose studies informed this value, by a
    /// formal fit or by hand. `tabula validate` counts a target that informed any parameter as
    /// a calibration target, not as independent evidence.
    pub informed_by: Vec<String>,
    /// Where it was declared.
    pub origin: Location,
}

impl Parameter {
    /// Checks a value given for this parameter (in its declared unit): finite, and >= 0 unless
    /// the parameter allows negative values. The one check for every way of setting a value
    /// (scenario and trial files, `--param` on the command line, the Python API).
    pub fn check_value(&self, x: f64) -> Result<(), String> {
        if !x.is_finite() {
            return Err(format!(
                "{x} is not a finite number; expected a value in {}",
                self.unit_text
            ));
        }
        if x < 0.0 && !self.allow_negative {
            return Err(format!("{x} is negative; `{}` must be >= 0", self.name));
        }
        Ok(())
    }
}

/// A quantity computed once per parameter set.
#[derive(Clone, Debug)]
pub struct Derived {
    /// Name.
    pub name: String,
    /// Definition.
    pub expr: Expr,
    /// Unit (declared or inferred).
    pub unit: Unit,
    /// What it is.
    pub description: String,
    /// Whether negative values are meaningful. Like a parameter, a derived quantity must be
    /// non-negative for a parameter set to be usable unless this is set (a rate constant
    /// computed from a steady-state balance is negative when the balance cannot hold).
    pub allow_negative: bool,
    /// Where it was declared.
    pub origin: Location,
}

/// A state variable.
#[derive(Clone, Debug)]
pub struct State {
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: Unit,
    /// Unit as written.
    pub unit_text: String,
    /// Initial value (an expression of parameters and derived quantities).
    pub initial: Expr,
    /// What it is.
    pub description: String,
    /// The `[rates]` term, if any.
    pub rate: Option<Expr>,
    /// Whether negative values are meaningful.
    pub allow_negative: bool,
    /// Typical magnitude, for error control (optional; see `docs/model-format.md`).
    pub scale: Option<f64>,
    /// Where it was declared.
    pub origin: Location,
}

/// A named flow between states (either end optional). A flux with neither end is an
/// *intermediate*: a named dynamic quantity declared in `[intermediates]` (an SBML assignment
/// rule), usable in rates, fluxes and outputs.
#[derive(Clone, Debug)]
pub struct Flux {
    /// Name.
    pub name: String,
    /// Source state (loses `rate`).
    pub from: Option<usize>,
    /// Target state (gains `rate`).
    pub to: Option<usize>,
    /// Rate expression.
    pub rate: Expr,
    /// Unit of the rate.
    pub unit: Unit,
    /// What it is.
    pub description: String,
    /// Where it was declared.
    pub origin: Location,
}

impl Flux {
    /// True for an `[intermediates]` entry (a named quantity, not a flow).
    pub fn is_intermediate(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// Where doses go.
#[derive(Clone, Debug)]
pub struct Route {
    /// Name.
    pub name: String,
    /// Target state.
    pub state: usize,
    /// Fraction of each dose that reaches the state (expression of parameters).
    pub bioavailability: Expr,
    /// What it is.
    pub description: String,
    /// Where it was declared.
    pub origin: Location,
}

/// Residual error on an output, applied when observation noise is requested.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorModel {
    /// Additive standard deviation, in the output's unit.
    pub additive: f64,
    /// Proportional coefficient of variation.
    pub proportional: f64,
    /// Lower clip.
    pub lower: Option<f64>,
    /// Upper clip.
    pub upper: Option<f64>,
}

/// A named read-out.
#[derive(Clone, Debug)]
pub struct Output {
    /// Name.
    pub name: String,
    /// Definition.
    pub expr: Expr,
    /// Unit (declared or inferred).
    pub unit: Unit,
    /// What it is.
    pub description: String,
    /// Residual error, if any.
    pub error: Option<ErrorModel>,
    /// A condition (non-zero: true) under which the output is defined, and the reason it is
    /// missing (`NaN`) otherwise, e.g. a share of a population that has fallen below one cell.
    pub defined_if: Option<(Expr, String)>,
    /// Where it was declared.
    pub origin: Location,
}

/// A validated, flattened model.
#[derive(Clone, Debug)]
pub struct Model {
    /// Name of the top-level model.
    pub name: String,
    /// Description of the top-level model.
    pub description: String,
    /// Unit of `t` and of every rate.
    pub time_unit: Unit,
    /// The time unit as written.
    pub time_unit_text: String,
    /// References for the model as a whole.
    pub references: Vec<String>,
    /// Tags of the top-level file (`therapy`, `disease`, ...), for listings.
    pub tags: Vec<String>,
    /// Parameters, in declaration order.
    pub parameters: Vec<Parameter>,
    /// Derived quantities, in evaluation order.
    pub derived: Vec<Derived>,
    /// States, in declaration order.
    pub states: Vec<State>,
    /// Fluxes, in evaluation order (a flux may use fluxes before it).
    pub fluxes: Vec<Flux>,
    /// Dosing routes.
    pub routes: Vec<Route>,
    /// Outputs, in declaration order.
    pub outputs: Vec<Output>,
    /// Every file the model was assembled from, top-level first.
    pub files: Vec<Arc<crate::SourceFile>>,
}

impl Model {
    /// Looks a name up among every kind of symbol.
    pub fn symbol(&self, name: &str) -> Option<Sym> {
        if let Some(i) = self.parameters.iter().position(|p| p.name == name) {
            return Some(Sym::Param(i));
        }
        if let Some(i) = self.derived.iter().position(|p| p.name == name) {
            return Some(Sym::Derived(i));
        }
        if let Some(i) = self.states.iter().position(|p| p.name == name) {
            return Some(Sym::State(i));
        }
        if let Some(i) = self.fluxes.iter().position(|p| p.name == name) {
            return Some(Sym::Flux(i));
        }
        if let Some(i) = self.outputs.iter().position(|p| p.name == name) {
            return Some(Sym::Output(i));
        }
        if let Some(i) = self.routes.iter().position(|p| p.name == name) {
            return Some(Sym::Route(i));
        }
        None
    }

    /// Index of a parameter by name.
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parameters.iter().position(|p| p.name == name)
    }

    /// The name of a symbol.
    pub fn name_of(&self, sym: Sym) -> &str {
        match sym {
            Sym::Param(i) => &self.parameters[i].name,
            Sym::Derived(i) => &self.derived[i].name,
            Sym::State(i) => &self.states[i].name,
            Sym::Flux(i) => &self.fluxes[i].name,
            Sym::Output(i) => &self.outputs[i].name,
            Sym::Route(i) => &self.routes[i].name,
        }
    }

    /// The full right-hand side of a state: its rate plus inflows minus outflows.
    pub fn derivative(&self, state: usize) -> Expr {
        let mut acc: Option<Expr> = self.states[state].rate.clone();
        for (i, f) in self.fluxes.iter().enumerate() {
            let flux = Expr::Sym(Sym::Flux(i));
            if f.to == Some(state) {
                acc = Some(match acc {
                    None => flux.clone(),
                    Some(a) => Expr::Bin(BinOp::Add, Box::new(a), Box::new(flux.clone())),
                });
            }
            if f.from == Some(state) {
                acc = Some(match acc {
                    None => Expr::Neg(Box::new(flux)),
                    Some(a) => Expr::Bin(BinOp::Sub, Box::new(a), Box::new(flux)),
                });
            }
        }
        acc.unwrap_or(Expr::Const(0.0))
    }
}
