//! Resolution and validation: names, units, evaluation order and value rules.

use std::collections::HashMap;
use std::ops::Range;

use crate::error::{did_you_mean, Diagnostics, Location, ModelError};
use crate::expr::{Ast, AstKind, BinOp};
use crate::load::{Origin, RawExpr, RawModule};
use crate::model::*;
use crate::units::Unit;

/// The unit of an expression: known, or "any" for the literal 0 (zero in any unit is zero).
#[derive(Clone, Debug)]
pub(crate) enum UType {
    Any,
    Known(Unit),
}

/// Which names an expression may use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    /// Parameters and derived quantities (derived, initial values, bioavailability).
    Params,
    /// Plus states, fluxes and `t` (rates and fluxes): no comparisons.
    Dynamic,
    /// Everything, including outputs declared earlier.
    Output,
}

#[derive(Clone, Copy, Debug)]
enum Decl {
    Param(usize),
    Derived(usize),
    State(usize),
    Flux(usize),
    Output(usize),
    Route,
}

impl Decl {
    fn kind(&self) -> &'static str {
        match self {
            Decl::Param(_) => "parameter",
            Decl::Derived(_) => "derived quantity",
            Decl::State(_) => "state",
            Decl::Flux(_) => "flux",
            Decl::Output(_) => "output",
            Decl::Route => "dosing route",
        }
    }
}

struct Ctx<'m> {
    diags: Diagnostics,
    decls: HashMap<String, (Decl, Origin)>,
    time_unit: Unit,
    param_units: Vec<Unit>,
    /// Final (evaluation-order) index and unit of each raw derived quantity, once resolved.
    derived_final: Vec<Option<(usize, Unit)>>,
    state_units: Vec<Option<Unit>>,
    flux_final: Vec<Option<(usize, Unit)>>,
    output_units: Vec<Option<Unit>>,
    /// Raw index of the output being resolved (later outputs are not visible).
    current_output: usize,
    all_names: Vec<String>,
    _m: std::marker::PhantomData<&'m ()>,
}

impl Ctx<'_> {
    fn err(&mut self, loc: Location, field: &str, msg: impl Into<String>) {
        self.diags.push(Some(loc), field, msg);
    }

    /// Resolves names and infers the unit of an expression.
    fn resolve(&mut self, e: &RawExpr, scope: Scope, field: &str) -> Option<(Expr, UType)> {
        self.node(&e.ast, e, scope, field)
    }

    fn node(&mut self, a: &Ast, e: &RawExpr, scope: Scope, field: &str) -> Option<(Expr, UType)> {
        let here = |span: &Range<usize>| e.loc(span);
        match &a.kind {
            AstKind::Num(v) => Some((
                Expr::Const(*v),
                if *v == 0.0 {
                    UType::Any
                } else {
                    UType::Known(Unit::one())
                },
            )),
            AstKind::Name(n) => {
                if n == "t" {
                    if scope == Scope::Params {
                        self.err(here(&a.span), field, "`t` (time) cannot be used here: this is evaluated once per parameter set");
                        return None;
                    }
                    return Some((Expr::Time, UType::Known(self.time_unit.clone())));
                }
                let Some((decl, _)) = self.decls.get(n).cloned() else {
                    let hint = did_you_mean(n, self.all_names.iter().map(String::as_str));
                    self.err(here(&a.span), field, format!("unknown name `{n}`{hint}"));
                    return None;
                };
                let bad_scope = |what: &str| {
                    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    };
                    format!("`{n}` is {article} {what} and cannot be used here")
                };
                match decl {
                    Decl::Param(i) => Some((
                        Expr::Sym(Sym::Param(i)),
                        UType::Known(self.param_units[i].clone()),
                    )),
                    // None: failed earlier, or a cycle (both reported separately).
                    Decl::Derived(i) => self.derived_final[i]
                        .as_ref()
                        .map(|(fi, u)| (Expr::Sym(Sym::Derived(*fi)), UType::Known(u.clone()))),
                    Decl::State(i) => {
                        if scope == Scope::Params {
                            self.err(here(&a.span), field, format!("{}: this is evaluated once per parameter set, before any state exists", bad_scope("state")));
                            return None;
                        }
                        Some((
                            Expr::Sym(Sym::State(i)),
                            UType::Known(self.state_units[i].clone()?),
                        ))
                    }
                    Decl::Flux(i) => {
                        if scope == Scope::Params {
                            self.err(here(&a.span), field, bad_scope("flux"));
                            return None;
                        }
                        self.flux_final[i]
                            .as_ref()
                            .map(|(fi, u)| (Expr::Sym(Sym::Flux(*fi)), UType::Known(u.clone())))
                    }
                    Decl::Output(i) => {
                        if scope != Scope::Output {
                            self.err(here(&a.span), field, format!("{}; outputs are read-outs and never feed back into the dynamics (use [intermediates] for a named quantity the rates need)", bad_scope("output")));
                            return None;
                        }
                        if i >= self.current_output {
                            self.err(here(&a.span), field, format!("output `{n}` is declared later; an output may only use outputs declared before it"));
                            return None;
                        }
                        Some((
                            Expr::Sym(Sym::Output(i)),
                            UType::Known(self.output_units[i].clone()?),
                        ))
                    }
                    Decl::Route => {
                        self.err(
                            here(&a.span),
                            field,
                            format!("`{n}` is a dosing route, not a value"),
                        );
                        None
                    }
                }
            }
            AstKind::Neg(x) => {
                let (ex, u) = self.node(x, e, scope, field)?;
                Some((Expr::Neg(Box::new(ex)), u))
            }
            AstKind::Binary(op, x, y) => {
                if op.is_logical() && scope == Scope::Dynamic {
                    self.err(here(&a.span), field, format!(
                        "operator `{}` is not allowed in rates and fluxes: doses and switches are events applied by the driver, not conditions in the equations (comparisons are allowed in [derived] and [outputs])",
                        op.symbol()
                    ));
                    return None;
                }
                if *op == BinOp::Div && always_zero(y) {
                    self.err(
                        here(&y.span),
                        field,
                        format!(
                            "division by `{}`, which is always zero; expected a divisor that can be non-zero",
                            e.snippet(&y.span)
                        ),
                    );
                    return None;
                }
                if let (Some(vx), Some(vy), Some(v)) =
                    (const_value(x), const_value(y), const_value(a))
                {
                    if vx.is_finite() && vy.is_finite() && !v.is_finite() {
                        self.err(
                            here(&a.span),
                            field,
                            format!(
                                "the constant `{}` evaluates to {v}; expected a finite number",
                                e.snippet(&a.span)
                            ),
                        );
                        return None;
                    }
                }
                let l = self.node(x, e, scope, field);
                let r = self.node(y, e, scope, field);
                let ((lx, lu), (rx, ru)) = (l?, r?);
                let u = self.binary_unit(*op, &lu, &ru, y, a, e, field)?;
                Some((Expr::Bin(*op, Box::new(lx), Box::new(rx)), u))
            }
            AstKind::Call(name, args) => {
                let Some(func) = Func::from_name(name) else {
                    let hint = did_you_mean(name, Func::NAMES.iter().copied());
                    self.err(
                        here(&a.span),
                        field,
                        format!(
                            "unknown function `{name}`{hint}; known functions: {}",
                            Func::NAMES.join(", ")
                        ),
                    );
                    return None;
                };
                if matches!(func, Func::If | Func::Not) && scope == Scope::Dynamic {
                    self.err(here(&a.span), field, format!("`{name}` is not allowed in rates and fluxes: doses and switches are events applied by the driver (conditions are allowed in [derived] and [outputs])"));
                    return None;
                }
                let arity_ok = match func {
                    Func::Exp | Func::Ln | Func::Log10 | Func::Sqrt | Func::Abs | Func::Not => {
                        args.len() == 1
                    }
                    Func::Pow => args.len() == 2,
                    Func::Min | Func::Max => args.len() >= 2,
                    Func::Clamp | Func::Hill | Func::If => args.len() == 3,
                };
                if !arity_ok {
                    let expected = match func {
                        Func::Pow => "2 arguments",
                        Func::Min | Func::Max => "at least 2 arguments",
                        Func::Clamp | Func::Hill | Func::If => "3 arguments",
                        _ => "1 argument",
                    };
                    self.err(
                        here(&a.span),
                        field,
                        format!("`{name}` takes {expected}, found {}", args.len()),
                    );
                    return None;
                }
                let mut rs = Vec::with_capacity(args.len());
                let mut ok = true;
                for arg in args {
                    match self.node(arg, e, scope, field) {
                        Some(r) => rs.push(r),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                let u = self.call_unit(func, &rs, args, a, e, field)?;
                Some((Expr::Call(func, rs.into_iter().map(|r| r.0).collect()), u))
            }
        }
    }

    fn same(
        &mut self,
        what: &str,
        l: &UType,
        r: &UType,
        loc: Location,
        field: &str,
    ) -> Option<UType> {
        match (l, r) {
            (UType::Any, x) | (x, UType::Any) => Some(x.clone()),
            (UType::Known(a), UType::Known(b)) => {
                if a.same_as(b) {
                    Some(UType::Known(a.clone()))
                } else {
                    let why = if a.same_dimension(b) {
                        "same dimension but different scale; convert explicitly (Tabula never converts silently)"
                    } else {
                        "different dimensions"
                    };
                    self.err(
                        loc,
                        field,
                        format!("unit mismatch in {what}: {a} vs {b} ({why})"),
                    );
                    None
                }
            }
        }
    }

    fn dimensionless(&mut self, what: &str, u: &UType, loc: Location, field: &str) -> bool {
        match u {
            UType::Any => true,
            UType::Known(x) if x.is_one() => true,
            UType::Known(x) => {
                self.err(loc, field, format!("{what} must be dimensionless, found unit {x}; divide by a reference value with the same unit"));
                false
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn binary_unit(
        &mut self,
        op: BinOp,
        l: &UType,
        r: &UType,
        rhs: &Ast,
        whole: &Ast,
        e: &RawExpr,
        field: &str,
    ) -> Option<UType> {
        let loc = e.loc(&whole.span);
        match op {
            BinOp::Add | BinOp::Sub => self.same(&format!("`{}`", op.symbol()), l, r, loc, field),
            BinOp::Mul | BinOp::Div => Some(match (l, r) {
                (UType::Any, _) => UType::Any,
                (UType::Known(_), UType::Any) if op == BinOp::Mul => UType::Any,
                (UType::Known(a), UType::Any) => UType::Known(a.clone()),
                (UType::Known(a), UType::Known(b)) => {
                    UType::Known(if op == BinOp::Mul { a.mul(b) } else { a.div(b) })
                }
            }),
            BinOp::Pow => self.pow_unit(l, r, rhs, loc, field),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                self.same(&format!("comparison `{}`", op.symbol()), l, r, loc, field)?;
                Some(UType::Known(Unit::one()))
            }
            BinOp::And | BinOp::Or => {
                let a = self.dimensionless(
                    &format!("operand of `{}`", op.symbol()),
                    l,
                    loc.clone(),
                    field,
                );
                let b = self.dimensionless(&format!("operand of `{}`", op.symbol()), r, loc, field);
                (a && b).then(|| UType::Known(Unit::one()))
            }
        }
    }

    fn pow_unit(
        &mut self,
        base: &UType,
        exp: &UType,
        exp_ast: &Ast,
        loc: Location,
        field: &str,
    ) -> Option<UType> {
        if !self.dimensionless("an exponent", exp, loc.clone(), field) {
            return None;
        }
        match base {
            UType::Any => Some(UType::Any),
            UType::Known(b) if b.is_one() => Some(UType::Known(Unit::one())),
            UType::Known(b) => match const_value(exp_ast) {
                Some(n) => match b.powf(n) {
                    Some(u) => Some(UType::Known(u)),
                    None => {
                        self.err(loc, field, format!("cannot raise unit {b} to the power {n}: the result is not a whole-number unit"));
                        None
                    }
                },
                None => {
                    self.err(loc, field, format!("a base with unit {b} needs a constant exponent (a number), so the result has a definite unit"));
                    None
                }
            },
        }
    }

    fn call_unit(
        &mut self,
        func: Func,
        rs: &[(Expr, UType)],
        args: &[Ast],
        whole: &Ast,
        e: &RawExpr,
        field: &str,
    ) -> Option<UType> {
        let loc = e.loc(&whole.span);
        let name = func.name();
        match func {
            Func::Exp | Func::Ln | Func::Log10 => self
                .dimensionless(&format!("the argument of `{name}`"), &rs[0].1, loc, field)
                .then(|| UType::Known(Unit::one())),
            Func::Not => self
                .dimensionless("the argument of `not`", &rs[0].1, loc, field)
                .then(|| UType::Known(Unit::one())),
            Func::Sqrt => match &rs[0].1 {
                UType::Any => Some(UType::Any),
                UType::Known(u) => match u.powf(0.5) {
                    Some(x) => Some(UType::Known(x)),
                    None => {
                        self.err(
                            loc,
                            field,
                            format!("cannot take the square root of unit {u}"),
                        );
                        None
                    }
                },
            },
            Func::Abs => Some(rs[0].1.clone()),
            Func::Pow => self.pow_unit(&rs[0].1, &rs[1].1, &args[1], loc, field),
            Func::Min | Func::Max | Func::Clamp => {
                let mut u = rs[0].1.clone();
                for r in &rs[1..] {
                    u = self.same(&format!("`{name}`"), &u, &r.1, loc.clone(), field)?;
                }
                Some(u)
            }
            Func::Hill => {
                self.same(
                    "`hill(x, K, n)` (x and K)",
                    &rs[0].1,
                    &rs[1].1,
                    loc.clone(),
                    field,
                )?;
                self.dimensionless("the Hill coefficient n", &rs[2].1, loc, field)
                    .then(|| UType::Known(Unit::one()))
            }
            Func::If => {
                if !self.dimensionless("the condition of `if`", &rs[0].1, loc.clone(), field) {
                    return None;
                }
                self.same("the branches of `if`", &rs[1].1, &rs[2].1, loc, field)
            }
        }
    }

    /// Checks an inferred unit against a declared or required one.
    fn expect_unit(
        &mut self,
        got: &UType,
        want: &Unit,
        loc: Location,
        field: &str,
        what: &str,
    ) -> bool {
        match got {
            UType::Any => true,
            UType::Known(u) if u.same_as(want) => true,
            UType::Known(u) => {
                let why = if u.same_dimension(want) {
                    " (same dimension, different scale: a conversion factor is missing)"
                } else {
                    ""
                };
                self.err(
                    loc,
                    field,
                    format!("{what} has unit {u} but {want} was expected{why}"),
                );
                false
            }
        }
    }

    fn parse_unit(
        &mut self,
        text: &str,
        span: &Range<usize>,
        src: &Origin,
        field: &str,
    ) -> Option<Unit> {
        match Unit::parse(text) {
            Ok(u) => Some(u),
            Err(e) => {
                self.err(src.src.location(span.start), field, e.message);
                None
            }
        }
    }
}

/// Whether an expression is zero whatever the values of its names: a constant that folds to
/// zero, `x - x`, a product with such a factor, `-z` or `z / y` with `z` always zero.
fn always_zero(a: &Ast) -> bool {
    if let Some(v) = const_value(a) {
        return v == 0.0;
    }
    match &a.kind {
        AstKind::Neg(x) => always_zero(x),
        AstKind::Binary(BinOp::Sub, x, y) => same_expression(x, y),
        AstKind::Binary(BinOp::Mul, x, y) => always_zero(x) || always_zero(y),
        AstKind::Binary(BinOp::Div, x, _) => always_zero(x),
        _ => false,
    }
}

/// Whether two expressions are written the same (ignoring spacing and parentheses).
fn same_expression(a: &Ast, b: &Ast) -> bool {
    match (&a.kind, &b.kind) {
        (AstKind::Num(x), AstKind::Num(y)) => x == y,
        (AstKind::Name(x), AstKind::Name(y)) => x == y,
        (AstKind::Neg(x), AstKind::Neg(y)) => same_expression(x, y),
        (AstKind::Binary(o1, x1, y1), AstKind::Binary(o2, x2, y2)) => {
            o1 == o2 && same_expression(x1, x2) && same_expression(y1, y2)
        }
        (AstKind::Call(f, xs), AstKind::Call(g, ys)) => {
            f == g && xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_expression(x, y))
        }
        _ => false,
    }
}

/// Value of a purely numeric sub-expression (for constant exponents).
fn const_value(a: &Ast) -> Option<f64> {
    match &a.kind {
        AstKind::Num(v) => Some(*v),
        AstKind::Neg(x) => const_value(x).map(|v| -v),
        AstKind::Binary(op, x, y) => {
            let (x, y) = (const_value(x)?, const_value(y)?);
            Some(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Pow => x.powf(y),
                _ => return None,
            })
        }
        _ => None,
    }
}

/// Names an expression uses.
fn names(e: &RawExpr) -> Vec<String> {
    let mut out = Vec::new();
    e.ast.for_each_name(&mut |n, _| out.push(n.to_string()));
    out
}

/// Orders items so each comes after the items (of the same kind) it uses. Returns the order,
/// or the members of a cycle.
fn topo_order(n: usize, deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    // 0 = unvisited, 1 = in progress, 2 = done
    let mut mark = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if mark[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next dep index)
        let mut stack = vec![(start, 0usize)];
        mark[start] = 1;
        while let Some(&mut (node, ref mut k)) = stack.last_mut() {
            if *k < deps[node].len() {
                let d = deps[node][*k];
                *k += 1;
                match mark[d] {
                    0 => {
                        mark[d] = 1;
                        stack.push((d, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(x, _)| *x == d).unwrap_or(0);
                        return Err(stack[pos..].iter().map(|(x, _)| *x).collect());
                    }
                    _ => {}
                }
            } else {
                mark[node] = 2;
                order.push(node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Validates assembled modules (top-level last) into a [`Model`].
pub(crate) fn check(modules: Vec<RawModule>) -> Result<Model, ModelError> {
    let top = modules
        .last()
        .expect("assemble returns at least the top module");
    let mut pre = Diagnostics::default();

    // The time unit: declared by the top-level model; modules may repeat it.
    let (time_unit, time_unit_text) = match &top.time_unit {
        Some(s) => match Unit::parse(&s.text) {
            Ok(u) if u.same_dimension(&Unit::parse("s").expect("known unit")) => {
                (u, s.text.clone())
            }
            Ok(u) => {
                pre.push(
                    Some(top.src.location(s.span.start)),
                    "model.time_unit",
                    format!("time_unit must be a unit of time, found {u}"),
                );
                (Unit::parse("day").expect("known unit"), "day".into())
            }
            Err(e) => {
                pre.push(
                    Some(top.src.location(s.span.start)),
                    "model.time_unit",
                    e.message,
                );
                (Unit::parse("day").expect("known unit"), "day".into())
            }
        },
        None => {
            pre.push(
                Some(top.src.location(0)),
                "model.time_unit",
                "the top-level model must declare `time_unit` (e.g. \"day\")",
            );
            (Unit::parse("day").expect("known unit"), "day".into())
        }
    };
    for m in &modules[..modules.len() - 1] {
        if let Some(s) = &m.time_unit {
            if let Ok(u) = Unit::parse(&s.text) {
                if !u.same_as(&time_unit) {
                    pre.push(Some(m.src.location(s.span.start)), "model.time_unit", format!(
                        "module time_unit {u} differs from the model's {time_unit}; all modules of a model share one time unit"
                    ));
                }
            }
        }
    }

    let name = top.name.clone();
    let description = top.description.clone();
    let references = top.references.clone();
    let tags = top.tags.clone();
    let files: Vec<_> = modules.iter().rev().map(|m| m.src.clone()).collect();

    // Flatten.
    let mut params = Vec::new();
    let mut derived = Vec::new();
    let mut states = Vec::new();
    let mut rates = Vec::new();
    let mut fluxes = Vec::new();
    let mut routes = Vec::new();
    let mut outputs = Vec::new();
    for m in modules {
        params.extend(m.params);
        derived.extend(m.derived);
        states.extend(m.states);
        rates.extend(m.rates);
        fluxes.extend(m.fluxes);
        routes.extend(m.routes);
        outputs.extend(m.outputs);
    }

    let mut cx = Ctx {
        diags: pre,
        decls: HashMap::new(),
        time_unit: time_unit.clone(),
        param_units: Vec::new(),
        derived_final: vec![None; derived.len()],
        state_units: vec![None; states.len()],
        flux_final: vec![None; fluxes.len()],
        output_units: vec![None; outputs.len()],
        current_output: 0,
        all_names: Vec::new(),
        _m: std::marker::PhantomData,
    };

    // Declarations and duplicates.
    {
        let declare = |name: &str, d: Decl, origin: &Origin, cx: &mut Ctx<'_>| {
            if let Some((prev, porigin)) = cx.decls.get(name) {
                let msg = format!(
                    "`{name}` is declared twice: as a {} here and as a {} at {}",
                    d.kind(),
                    prev.kind(),
                    porigin.loc()
                );
                cx.err(origin.loc(), name, msg);
            } else {
                cx.decls.insert(name.to_string(), (d, origin.clone()));
                cx.all_names.push(name.to_string());
            }
        };
        for (i, x) in params.iter().enumerate() {
            declare(&x.name, Decl::Param(i), &x.origin, &mut cx);
        }
        for (i, x) in derived.iter().enumerate() {
            declare(&x.name, Decl::Derived(i), &x.origin, &mut cx);
        }
        for (i, x) in states.iter().enumerate() {
            declare(&x.name, Decl::State(i), &x.origin, &mut cx);
        }
        for (i, x) in fluxes.iter().enumerate() {
            declare(&x.name, Decl::Flux(i), &x.origin, &mut cx);
        }
        for (i, x) in outputs.iter().enumerate() {
            declare(&x.name, Decl::Output(i), &x.origin, &mut cx);
        }
        for x in routes.iter() {
            declare(&x.name, Decl::Route, &x.origin, &mut cx);
        }
    }

    // Parameters.
    let mut parameters = Vec::with_capacity(params.len());
    for p in &params {
        let field = format!("parameters.{}", p.name);
        let unit = cx.parse_unit(
            &p.unit.text,
            &p.unit.span,
            &p.origin,
            &format!("{field}.unit"),
        );
        let vloc = p.origin.src.location(p.value_span.start);
        if p.value < 0.0 && !p.allow_negative {
            cx.err(vloc.clone(), &format!("{field}.value"), format!(
                "value {} is negative; parameters must be >= 0 unless declared with allow_negative = true", p.value
            ));
        }
        match p.status {
            ParamStatus::Sourced | ParamStatus::Derived => {
                if p.source.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    cx.err(p.origin.loc(), &field, "no `source`: give a DOI/PMID and where in it, or mark the value status = \"assumed\" or \"calibrated\" with a plausible `range`");
                }
            }
            ParamStatus::Assumed | ParamStatus::Calibrated => {
                if p.range.is_none() {
                    cx.err(
                        p.origin.loc(),
                        &field,
                        format!(
                            "status \"{}\" needs a plausible `range = [low, high]`",
                            p.status.as_str()
                        ),
                    );
                }
            }
        }
        if let Some((lo, hi)) = p.range {
            if p.value < lo || p.value > hi {
                cx.err(
                    vloc,
                    &format!("{field}.value"),
                    format!("value {} lies outside its range [{lo}, {hi}]", p.value),
                );
            }
        }
        let unit = unit.unwrap_or_else(Unit::one);
        cx.param_units.push(unit.clone());
        parameters.push(Parameter {
            name: p.name.clone(),
            value: p.value,
            unit,
            unit_text: p.unit.text.clone(),
            description: p.description.clone(),
            source: p.source.clone(),
            status: p.status,
            range: p.range,
            note: p.note.clone(),
            allow_negative: p.allow_negative,
            informed_by: p.informed_by.clone(),
            origin: p.origin.loc(),
        });
    }

    // Derived quantities, in dependency order.
    let derived_index: HashMap<&str, usize> = derived
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = derived
        .iter()
        .map(|d| {
            names(&d.expr)
                .iter()
                .filter_map(|n| derived_index.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    let mut derived_out = Vec::with_capacity(derived.len());
    match topo_order(derived.len(), &deps) {
        Err(cycle) => {
            let names: Vec<_> = cycle.iter().map(|&i| derived[i].name.as_str()).collect();
            let first = &derived[cycle[0]];
            cx.err(
                first.origin.loc(),
                &format!("derived.{}", first.name),
                format!(
                    "derived quantities depend on each other in a cycle: {}",
                    names.join(" -> ")
                ),
            );
        }
        Ok(order) => {
            for i in order {
                let d = &derived[i];
                let field = format!("derived.{}", d.name);
                let Some((expr, u)) = cx.resolve(&d.expr, Scope::Params, &field) else {
                    continue;
                };
                let declared = d.unit.as_ref().and_then(|s| {
                    cx.parse_unit(&s.text, &s.span, &d.origin, &format!("{field}.unit"))
                });
                let unit = match (declared, &u) {
                    (Some(want), got) => {
                        cx.expect_unit(got, &want, d.origin.loc(), &field, "the expression");
                        want
                    }
                    (None, UType::Known(x)) => x.clone(),
                    (None, UType::Any) => Unit::one(),
                };
                cx.derived_final[i] = Some((derived_out.len(), unit.clone()));
                derived_out.push(Derived {
                    name: d.name.clone(),
                    expr,
                    unit,
                    description: d.description.clone(),
                    allow_negative: d.allow_negative,
                    origin: d.origin.loc(),
                });
            }
        }
    }

    // State units.
    for (i, s) in states.iter().enumerate() {
        cx.state_units[i] = cx.parse_unit(
            &s.unit.text,
            &s.unit.span,
            &s.origin,
            &format!("states.{}.unit", s.name),
        );
    }

    // Fluxes, in dependency order.
    let state_of = |cx: &mut Ctx<'_>, r: &crate::load::NameRef, field: &str| -> Option<usize> {
        match cx.decls.get(&r.name).map(|x| x.0) {
            Some(Decl::State(i)) => Some(i),
            Some(other) => {
                let msg = format!("`{}` is a {}, not a state", r.name, other.kind());
                cx.err(r.origin.loc(), field, msg);
                None
            }
            None => {
                let hint = did_you_mean(&r.name, states.iter().map(|s| s.name.as_str()));
                cx.err(
                    r.origin.loc(),
                    field,
                    format!("unknown state `{}`{hint}", r.name),
                );
                None
            }
        }
    };
    let flux_index: HashMap<&str, usize> = fluxes
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let fdeps: Vec<Vec<usize>> = fluxes
        .iter()
        .map(|f| {
            names(&f.rate)
                .iter()
                .filter_map(|n| flux_index.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    let mut fluxes_out = Vec::with_capacity(fluxes.len());
    match topo_order(fluxes.len(), &fdeps) {
        Err(cycle) => {
            let names: Vec<_> = cycle.iter().map(|&i| fluxes[i].name.as_str()).collect();
            let first = &fluxes[cycle[0]];
            cx.err(
                first.origin.loc(),
                &format!("fluxes.{}", first.name),
                format!(
                    "fluxes depend on each other in a cycle: {}",
                    names.join(" -> ")
                ),
            );
        }
        Ok(order) => {
            for i in order {
                let f = &fluxes[i];
                let field = format!("fluxes.{}", f.name);
                let from = f
                    .from
                    .as_ref()
                    .and_then(|r| state_of(&mut cx, r, &format!("{field}.from")));
                let to =
                    f.to.as_ref()
                        .and_then(|r| state_of(&mut cx, r, &format!("{field}.to")));
                if (f.from.is_some() && from.is_none()) || (f.to.is_some() && to.is_none()) {
                    continue;
                }
                if f.intermediate {
                    let field = format!("intermediates.{}", f.name);
                    let Some((expr, u)) = cx.resolve(&f.rate, Scope::Dynamic, &field) else {
                        continue;
                    };
                    let declared = f.unit.as_ref().and_then(|s| {
                        cx.parse_unit(&s.text, &s.span, &f.origin, &format!("{field}.unit"))
                    });
                    let unit = match (declared, &u) {
                        (Some(want), got) => {
                            cx.expect_unit(
                                got,
                                &want,
                                f.rate.loc(&f.rate.ast.span),
                                &field,
                                "the expression",
                            );
                            want
                        }
                        (None, UType::Known(x)) => x.clone(),
                        (None, UType::Any) => Unit::one(),
                    };
                    cx.flux_final[i] = Some((fluxes_out.len(), unit.clone()));
                    fluxes_out.push(Flux {
                        name: f.name.clone(),
                        from: None,
                        to: None,
                        rate: expr,
                        unit,
                        description: f.description.clone(),
                        origin: f.origin.loc(),
                    });
                    continue;
                }
                let Some((expr, u)) = cx.resolve(&f.rate, Scope::Dynamic, &format!("{field}.rate"))
                else {
                    continue;
                };
                let end_unit = from.or(to).and_then(|s| cx.state_units[s].clone());
                if let (Some(a), Some(b)) = (from, to) {
                    if let (Some(ua), Some(ub)) =
                        (cx.state_units[a].clone(), cx.state_units[b].clone())
                    {
                        if !ua.same_as(&ub) {
                            cx.err(f.origin.loc(), &field, format!(
                                "`from` ({}, {ua}) and `to` ({}, {ub}) have different units; a flux moves one quantity, so split it into two fluxes with an explicit conversion",
                                states[a].name, states[b].name
                            ));
                        }
                    }
                }
                let Some(end_unit) = end_unit else { continue };
                let want = end_unit.div(&time_unit);
                cx.expect_unit(
                    &u,
                    &want,
                    f.origin.loc(),
                    &format!("{field}.rate"),
                    "the flux rate",
                );
                cx.flux_final[i] = Some((fluxes_out.len(), want.clone()));
                fluxes_out.push(Flux {
                    name: f.name.clone(),
                    from,
                    to,
                    rate: expr,
                    unit: want,
                    description: f.description.clone(),
                    origin: f.origin.loc(),
                });
            }
        }
    }

    // States: initial values and rates.
    let mut states_out: Vec<State> = Vec::with_capacity(states.len());
    for (i, s) in states.iter().enumerate() {
        let field = format!("states.{}.initial", s.name);
        let unit = cx.state_units[i].clone();
        let initial = cx.resolve(&s.initial, Scope::Params, &field);
        // A bare number is in the state's own unit.
        let literal = matches!(s.initial.ast.kind, AstKind::Num(_));
        if let (Some((_, u)), Some(want), false) = (&initial, &unit, literal) {
            cx.expect_unit(
                u,
                want,
                s.initial.loc(&s.initial.ast.span),
                &field,
                "the initial value",
            );
        }
        states_out.push(State {
            name: s.name.clone(),
            unit: unit.unwrap_or_else(Unit::one),
            unit_text: s.unit.text.clone(),
            initial: initial.map(|x| x.0).unwrap_or(Expr::Const(0.0)),
            description: s.description.clone(),
            rate: None,
            allow_negative: s.allow_negative,
            scale: s.scale,
            origin: s.origin.loc(),
        });
    }
    // States with a [rates] entry, even one that failed to check (reported already).
    let mut written = vec![false; states_out.len()];
    for r in &rates {
        let field = format!("rates.{}", r.state.name);
        let Some(si) = state_of(&mut cx, &r.state, &field) else {
            continue;
        };
        written[si] = true;
        if states_out[si].rate.is_some() {
            cx.err(r.state.origin.loc(), &field, format!("state `{}` has two [rates] entries; combine them, or use [fluxes] to add terms from another module", r.state.name));
            continue;
        }
        let Some((expr, u)) = cx.resolve(&r.expr, Scope::Dynamic, &field) else {
            continue;
        };
        if let Some(su) = cx.state_units[si].clone() {
            let want = su.div(&time_unit);
            cx.expect_unit(&u, &want, r.expr.loc(&r.expr.ast.span), &field, "the rate");
        }
        states_out[si].rate = Some(expr);
    }
    for (i, s) in states_out.iter().enumerate() {
        let has_flux = fluxes_out
            .iter()
            .any(|f| f.from == Some(i) || f.to == Some(i));
        if s.rate.is_none() && !written[i] && !has_flux && cx.state_units[i].is_some() {
            let loc = states[i].origin.loc();
            cx.err(loc, &format!("states.{}", s.name), "state has no rate and no flux; add a [rates] entry (write \"0\" for a constant state) or a flux");
        }
    }

    // Routes.
    let mut routes_out = Vec::with_capacity(routes.len());
    for r in &routes {
        let field = format!("routes.{}", r.name);
        let Some(state) = state_of(&mut cx, &r.state, &format!("{field}.state")) else {
            continue;
        };
        let bioavailability = match &r.bioavailability {
            None => Expr::Const(1.0),
            Some(b) => {
                let Some((expr, u)) =
                    cx.resolve(b, Scope::Params, &format!("{field}.bioavailability"))
                else {
                    continue;
                };
                cx.dimensionless(
                    "bioavailability",
                    &u,
                    b.loc(&b.ast.span),
                    &format!("{field}.bioavailability"),
                );
                expr
            }
        };
        routes_out.push(Route {
            name: r.name.clone(),
            state,
            bioavailability,
            description: r.description.clone(),
            origin: r.origin.loc(),
        });
    }

    // Outputs, in file order.
    let mut outputs_out = Vec::with_capacity(outputs.len());
    for (i, o) in outputs.iter().enumerate() {
        cx.current_output = i;
        let field = format!("outputs.{}", o.name);
        let declared = o
            .unit
            .as_ref()
            .and_then(|s| cx.parse_unit(&s.text, &s.span, &o.origin, &format!("{field}.unit")));
        let Some((expr, u)) = cx.resolve(&o.expr, Scope::Output, &format!("{field}.expr")) else {
            continue;
        };
        let unit = match declared {
            Some(want) => {
                cx.expect_unit(
                    &u,
                    &want,
                    o.expr.loc(&o.expr.ast.span),
                    &format!("{field}.expr"),
                    "the expression",
                );
                want
            }
            None => match u {
                UType::Known(x) => x,
                UType::Any => Unit::one(),
            },
        };
        cx.output_units[i] = Some(unit.clone());
        let defined_if = match &o.defined_if {
            Some((c, reason)) => {
                match cx.resolve(c, Scope::Output, &format!("{field}.defined_if")) {
                    Some((cond, _)) => Some((cond, reason.clone())),
                    None => continue,
                }
            }
            None => None,
        };
        outputs_out.push(Output {
            name: o.name.clone(),
            expr,
            unit,
            description: o.description.clone(),
            error: o.error.clone(),
            defined_if,
            origin: o.origin.loc(),
        });
    }

    cx.diags.finish(Model {
        name,
        description,
        time_unit,
        time_unit_text,
        references,
        tags,
        parameters,
        derived: derived_out,
        states: states_out,
        fluxes: fluxes_out,
        routes: routes_out,
        outputs: outputs_out,
        files,
    })
}
