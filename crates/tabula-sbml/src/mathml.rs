//! Tabula expressions as MathML (the SBML Level 3 Version 1 subset).
//!
//! Tabula's expression language is numeric: comparisons and logical operators give 1 or 0 and
//! `if(c, a, b)` takes `a` when `c` is non-zero. MathML separates numbers from booleans, so each
//! expression is written in one of two contexts:
//!
//! * in a **numeric** context a comparison becomes `piecewise(1, comparison, 0)`;
//! * in a **boolean** context (conditions of `if`, operands of `and`/`or`/`not`) a numeric
//!   expression `x` becomes `x != 0`.
//!
//! `min`, `max`, `clamp` and `hill` become calls of function definitions (`tabula_min`,
//! `tabula_max`, `tabula_hill`) that mirror the compiled model's arithmetic exactly:
//! `min(a, b, c)` folds left as `min(min(a, b), c)`, `clamp(x, lo, hi) = min(max(x, lo), hi)` and
//! `hill(x, K, n) = x^n / (K^n + x^n)`. Every number carries `sbml:units="dimensionless"`,
//! which is what a bare number means in a Tabula model, except a literal 0, which takes the
//! unit of its context in Tabula and so is left without units.

use tabula_model::{BinOp, Expr, Func, Model, Sym, Unit};

use crate::units::UnitTable;
use crate::xml::XmlWriter;

/// The MathML namespace.
pub const MATHML_NS: &str = "http://www.w3.org/1998/Math/MathML";
/// The SBML Level 3 Version 1 core namespace.
pub const SBML_NS: &str = "http://www.sbml.org/sbml/level3/version1/core";
/// The definition URL of SBML's simulation time symbol.
const TIME_URL: &str = "http://www.sbml.org/sbml/symbols/time";

/// Helper functions an expression may need, written once as function definitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedFunctions {
    /// `tabula_min(a, b)`.
    pub min: bool,
    /// `tabula_max(a, b)`.
    pub max: bool,
    /// `tabula_hill(x, K, n)`.
    pub hill: bool,
}

/// Resolves a symbol to its SBML identifier.
pub trait Resolve {
    /// The SBML id of a symbol.
    fn id(&self, sym: Sym) -> &str;
}

/// What the writer needs besides the expression: names, the model (for units), the unit
/// definitions collected so far and the helper functions used so far.
pub struct MathContext<'a> {
    /// Symbol ids.
    pub names: &'a dyn Resolve,
    /// The model the expressions belong to.
    pub model: &'a Model,
    /// Unit definitions, extended when a literal 0 takes its context's unit.
    pub units: &'a mut UnitTable,
    /// Helper functions used.
    pub used: &'a mut UsedFunctions,
}

/// The unit of an expression as the model checker infers it; `None` for a literal 0 (which
/// takes any unit) or when it cannot be told.
pub fn unit_of(model: &Model, e: &Expr) -> Option<Unit> {
    match e {
        Expr::Const(v) if *v == 0.0 => None,
        Expr::Const(_) => Some(Unit::one()),
        Expr::Sym(s) => Some(match *s {
            Sym::Param(i) => model.parameters[i].unit.clone(),
            Sym::Derived(i) => model.derived[i].unit.clone(),
            Sym::State(i) => model.states[i].unit.clone(),
            Sym::Flux(i) => model.fluxes[i].unit.clone(),
            Sym::Output(i) => model.outputs[i].unit.clone(),
            Sym::Route(_) => Unit::one(),
        }),
        Expr::Time => Some(model.time_unit.clone()),
        Expr::Neg(a) => unit_of(model, a),
        Expr::Bin(op, a, b) => match op {
            BinOp::Add | BinOp::Sub => unit_of(model, a).or_else(|| unit_of(model, b)),
            BinOp::Mul => Some(unit_of(model, a)?.mul(&unit_of(model, b)?)),
            BinOp::Div => Some(unit_of(model, a)?.div(&unit_of(model, b)?)),
            BinOp::Pow => power_unit(model, a, b),
            _ => Some(Unit::one()),
        },
        Expr::Call(f, args) => match (f, args.as_slice()) {
            (Func::Sqrt, [a]) => unit_of(model, a)?.powf(0.5),
            (Func::Abs, [a]) => unit_of(model, a),
            (Func::Pow, [a, b]) => power_unit(model, a, b),
            (Func::Min | Func::Max | Func::Clamp, _) => args.iter().find_map(|a| unit_of(model, a)),
            (Func::If, [_, a, b]) => unit_of(model, a).or_else(|| unit_of(model, b)),
            _ => Some(Unit::one()),
        },
    }
}

fn power_unit(model: &Model, a: &Expr, b: &Expr) -> Option<Unit> {
    let base = unit_of(model, a)?;
    match b {
        Expr::Const(x) => base.powf(*x),
        _ if base.is_dimensionless() => Some(Unit::one()),
        _ => None,
    }
}

/// Formats a number for an XML attribute (`value`, `initialAmount`): the shortest text that reads
/// back to the same double.
pub fn attr_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == f64::INFINITY {
        "INF".into()
    } else if x == f64::NEG_INFINITY {
        "-INF".into()
    } else {
        format!("{x:?}")
    }
}

/// Writes `<cn>` for a dimensionless number (e-notation when the shortest form has an
/// exponent).
pub fn cn(w: &mut XmlWriter, x: f64) {
    cn_with_units(w, x, "dimensionless");
}

/// Writes `<cn>` for a number in the given units (an SBML unit id).
pub fn cn_with_units(w: &mut XmlWriter, x: f64, units: &str) {
    if x.is_nan() {
        w.empty("notanumber", &[]);
        return;
    }
    if x.is_infinite() {
        if x < 0.0 {
            w.open("apply", &[]);
            w.empty("minus", &[]);
            w.empty("infinity", &[]);
            w.close();
        } else {
            w.empty("infinity", &[]);
        }
        return;
    }
    let s = format!("{x:?}");
    match s.split_once('e') {
        Some((m, e)) => w.raw(&format!(
            "<cn sbml:units=\"{}\" type=\"e-notation\"> {m} <sep/> {e} </cn>",
            crate::xml::escape(units)
        )),
        None => w.text_element("cn", &[("sbml:units", units)], &s),
    }
}

/// Writes the SBML time symbol.
pub fn time(w: &mut XmlWriter) {
    w.text_element(
        "csymbol",
        &[("encoding", "text"), ("definitionURL", TIME_URL)],
        "time",
    );
}

/// Opens a `<math>` element with the MathML namespace and the `sbml` prefix (for units on
/// numbers).
pub fn open_math(w: &mut XmlWriter) {
    w.open("math", &[("xmlns", MATHML_NS), ("xmlns:sbml", SBML_NS)]);
}

/// Writes `<math>` holding a numeric expression whose value has unit `unit` (the unit of the
/// variable it defines).
pub fn math(w: &mut XmlWriter, e: &Expr, unit: Option<&Unit>, cx: &mut MathContext<'_>) {
    open_math(w);
    expr(w, e, unit, cx);
    w.close();
}

/// Writes a numeric expression (inside an already open `<math>` or `<apply>`) whose value has
/// unit `unit`.
pub fn expr(w: &mut XmlWriter, e: &Expr, unit: Option<&Unit>, cx: &mut MathContext<'_>) {
    Emitter { w, cx }.num(e, unit.cloned());
}

/// Writes `<math>` holding the condition `time >= at` (an event trigger); `time_units` is the
/// model's time unit id.
pub fn time_reached(w: &mut XmlWriter, at: f64, time_units: &str) {
    open_math(w);
    w.open("apply", &[]);
    w.empty("geq", &[]);
    time(w);
    cn_with_units(w, at, time_units);
    w.close();
    w.close();
}

/// Writes `<math>` holding `x + amount` for a symbol id `x` (a bolus), the amount in `units`.
pub fn increment(w: &mut XmlWriter, id: &str, amount: f64, units: &str) {
    open_math(w);
    w.open("apply", &[]);
    w.empty("plus", &[]);
    w.text_element("ci", &[], id);
    cn_with_units(w, amount, units);
    w.close();
    w.close();
}

/// Writes `<math>` holding a constant in `units`.
pub fn constant(w: &mut XmlWriter, x: f64, units: &str) {
    open_math(w);
    cn_with_units(w, x, units);
    w.close();
}

/// Writes the function definitions that the exported expressions use.
pub fn function_definitions(w: &mut XmlWriter, used: UsedFunctions) {
    let lambda =
        |w: &mut XmlWriter, id: &str, name: &str, args: &[&str], body: &dyn Fn(&mut XmlWriter)| {
            w.open("functionDefinition", &[("id", id), ("name", name)]);
            w.open("math", &[("xmlns", MATHML_NS)]);
            w.open("lambda", &[]);
            for a in args {
                w.open("bvar", &[]);
                w.text_element("ci", &[], a);
                w.close();
            }
            body(w);
            w.close();
            w.close();
            w.close();
        };
    let ci = |w: &mut XmlWriter, x: &str| w.text_element("ci", &[], x);
    // min(a, b) = a if a <= b else b; max(a, b) = a if a >= b else b.
    for (on, id, cmp, name) in [
        (used.min, "tabula_min", "leq", "min(a, b)"),
        (used.max, "tabula_max", "geq", "max(a, b)"),
    ] {
        if on {
            lambda(w, id, name, &["a", "b"], &|w| {
                w.open("piecewise", &[]);
                w.open("piece", &[]);
                ci(w, "a");
                w.open("apply", &[]);
                w.empty(cmp, &[]);
                ci(w, "a");
                ci(w, "b");
                w.close();
                w.close();
                w.open("otherwise", &[]);
                ci(w, "b");
                w.close();
                w.close();
            });
        }
    }
    if used.hill {
        // hill(x, K, n) = x^n / (K^n + x^n)
        lambda(w, "tabula_hill", "hill(x, K, n)", &["x", "K", "n"], &|w| {
            let pow = |w: &mut XmlWriter, b: &str| {
                w.open("apply", &[]);
                w.empty("power", &[]);
                ci(w, b);
                ci(w, "n");
                w.close();
            };
            w.open("apply", &[]);
            w.empty("divide", &[]);
            pow(w, "x");
            w.open("apply", &[]);
            w.empty("plus", &[]);
            pow(w, "K");
            pow(w, "x");
            w.close();
            w.close();
        });
    }
}

struct Emitter<'w, 'c, 'a> {
    w: &'w mut XmlWriter,
    cx: &'c mut MathContext<'a>,
}

impl Emitter<'_, '_, '_> {
    fn unit(&self, e: &Expr) -> Option<Unit> {
        unit_of(self.cx.model, e)
    }

    /// Operands that share one unit (sums, comparisons, min/max): each literal 0 takes the
    /// unit of the others, or the context's.
    fn shared(&mut self, op: &str, args: &[&Expr], ctx: Option<Unit>) {
        let u = args.iter().find_map(|a| self.unit(a)).or(ctx);
        self.w.open("apply", &[]);
        self.w.empty(op, &[]);
        for a in args {
            self.num(a, u.clone());
        }
        self.w.close();
    }

    /// Operands with unrelated units (products, quotients, functions).
    fn apply(&mut self, op: &str, args: &[&Expr]) {
        self.w.open("apply", &[]);
        self.w.empty(op, &[]);
        for a in args {
            let u = self.unit(a);
            self.num(a, u);
        }
        self.w.close();
    }

    /// `a * b` or `a / b`; a literal 0 factor takes the unit that gives the product the
    /// context's unit.
    fn product(&mut self, op: BinOp, a: &Expr, b: &Expr, ctx: Option<Unit>) {
        let (mut ua, mut ub) = (self.unit(a), self.unit(b));
        match (op, &ua, &ub, &ctx) {
            (BinOp::Mul, None, Some(y), Some(c)) => ua = Some(c.div(y)),
            (BinOp::Mul, Some(x), None, Some(c)) => ub = Some(c.div(x)),
            (BinOp::Div, None, Some(y), Some(c)) => ua = Some(c.mul(y)),
            _ => {}
        }
        self.w.open("apply", &[]);
        self.w
            .empty(if op == BinOp::Mul { "times" } else { "divide" }, &[]);
        self.num(a, ua);
        self.num(b, ub);
        self.w.close();
    }

    fn call(&mut self, id: &str, args: &[&Expr], ctx: Option<Unit>) {
        self.w.open("apply", &[]);
        self.w.text_element("ci", &[], id);
        for a in args {
            self.num(a, ctx.clone());
        }
        self.w.close();
    }

    /// `piecewise(1, boolean(e), 0)`.
    fn indicator(&mut self, e: &Expr) {
        self.w.open("piecewise", &[]);
        self.w.open("piece", &[]);
        cn(self.w, 1.0);
        self.boolean(e);
        self.w.close();
        self.w.open("otherwise", &[]);
        cn(self.w, 0.0);
        self.w.close();
        self.w.close();
    }

    /// Left fold of a binary helper over the arguments: f(f(a0, a1), a2) ...
    fn fold(&mut self, id: &str, args: &[Expr], u: Option<Unit>) {
        match args {
            [] => cn(self.w, f64::NAN),
            [a] => self.num(a, u),
            [init @ .., last] => {
                self.w.open("apply", &[]);
                self.w.text_element("ci", &[], id);
                self.fold(id, init, u.clone());
                self.num(last, u);
                self.w.close();
            }
        }
    }

    fn zero(&mut self, ctx: Option<Unit>) {
        match ctx {
            Some(u) => {
                let id = self.cx.units.id(&u);
                cn_with_units(self.w, 0.0, &id);
            }
            // No unit can be told: leave it undeclared (libSBML then skips the unit check).
            None => self.w.text_element("cn", &[], "0"),
        }
    }

    fn num(&mut self, e: &Expr, ctx: Option<Unit>) {
        match e {
            // A literal 0 has whatever unit its context needs (as in the model checker).
            Expr::Const(v) if *v == 0.0 => self.zero(ctx),
            Expr::Const(v) => cn(self.w, *v),
            Expr::Sym(s) => self.w.text_element("ci", &[], self.cx.names.id(*s)),
            Expr::Time => time(self.w),
            Expr::Neg(a) => {
                self.w.open("apply", &[]);
                self.w.empty("minus", &[]);
                self.num(a, ctx);
                self.w.close();
            }
            Expr::Bin(op, a, b) => match op {
                BinOp::Add => self.shared("plus", &[a, b], ctx),
                BinOp::Sub => self.shared("minus", &[a, b], ctx),
                BinOp::Mul | BinOp::Div => self.product(*op, a, b, ctx),
                BinOp::Pow => self.apply("power", &[a, b]),
                _ => self.indicator(e),
            },
            Expr::Call(f, args) => match (f, args.as_slice()) {
                (Func::Exp, [a]) => self.apply("exp", &[a]),
                (Func::Ln, [a]) => self.apply("ln", &[a]),
                (Func::Log10, [a]) => {
                    self.w.open("apply", &[]);
                    self.w.empty("log", &[]);
                    self.w.open("logbase", &[]);
                    cn(self.w, 10.0);
                    self.w.close();
                    self.num(a, Some(Unit::one()));
                    self.w.close();
                }
                (Func::Sqrt, [a]) => self.apply("root", &[a]),
                (Func::Abs, [a]) => {
                    self.w.open("apply", &[]);
                    self.w.empty("abs", &[]);
                    self.num(a, ctx);
                    self.w.close();
                }
                (Func::Pow, [a, b]) => self.apply("power", &[a, b]),
                (Func::Min, _) => {
                    self.cx.used.min |= args.len() > 1;
                    let u = args.iter().find_map(|a| self.unit(a)).or(ctx);
                    self.fold("tabula_min", args, u);
                }
                (Func::Max, _) => {
                    self.cx.used.max |= args.len() > 1;
                    let u = args.iter().find_map(|a| self.unit(a)).or(ctx);
                    self.fold("tabula_max", args, u);
                }
                (Func::Clamp, [x, lo, hi]) => {
                    self.cx.used.min = true;
                    self.cx.used.max = true;
                    let u = args.iter().find_map(|a| self.unit(a)).or(ctx);
                    self.w.open("apply", &[]);
                    self.w.text_element("ci", &[], "tabula_min");
                    self.call("tabula_max", &[x, lo], u.clone());
                    self.num(hi, u);
                    self.w.close();
                }
                (Func::Hill, [x, k, n]) => {
                    self.cx.used.hill = true;
                    let u = self.unit(x).or_else(|| self.unit(k));
                    self.w.open("apply", &[]);
                    self.w.text_element("ci", &[], "tabula_hill");
                    self.num(x, u.clone());
                    self.num(k, u);
                    self.num(n, Some(Unit::one()));
                    self.w.close();
                }
                (Func::If, [c, a, b]) => {
                    let u = self.unit(a).or_else(|| self.unit(b)).or(ctx);
                    self.w.open("piecewise", &[]);
                    self.w.open("piece", &[]);
                    self.num(a, u.clone());
                    self.boolean(c);
                    self.w.close();
                    self.w.open("otherwise", &[]);
                    self.num(b, u);
                    self.w.close();
                    self.w.close();
                }
                (Func::Not, [_]) => self.indicator(e),
                // The model checker guarantees arities; anything else cannot be represented.
                _ => cn(self.w, f64::NAN),
            },
        }
    }

    fn boolean(&mut self, e: &Expr) {
        match e {
            Expr::Bin(op, a, b) if op.is_logical() => {
                let name = match op {
                    BinOp::Lt => "lt",
                    BinOp::Le => "leq",
                    BinOp::Gt => "gt",
                    BinOp::Ge => "geq",
                    BinOp::Eq => "eq",
                    BinOp::Ne => "neq",
                    BinOp::And => "and",
                    _ => "or",
                };
                if matches!(op, BinOp::And | BinOp::Or) {
                    self.w.open("apply", &[]);
                    self.w.empty(name, &[]);
                    self.boolean(a);
                    self.boolean(b);
                    self.w.close();
                } else {
                    self.shared(name, &[a, b], None);
                }
            }
            Expr::Call(Func::Not, args) if args.len() == 1 => {
                self.w.open("apply", &[]);
                self.w.empty("not", &[]);
                self.boolean(&args[0]);
                self.w.close();
            }
            _ => {
                let u = self.unit(e);
                self.w.open("apply", &[]);
                self.w.empty("neq", &[]);
                self.num(e, u.clone());
                self.zero(u);
                self.w.close();
            }
        }
    }
}
