//! Reading model modules from TOML and assembling them through `include`.

use std::ops::Range;
use std::sync::Arc;

use toml::de::DeValue;

use crate::doc::{
    kind_name, num_or_expr, parse_document, to_f64, NumOrExpr, Reader, SpannedStr, TableView,
};
use crate::error::{Diagnostics, Location, ModelError};
use crate::expr::{self, Ast, AstKind};
use crate::model::{ErrorModel, Func, ParamStatus};
use crate::source::{load_reference, Library, SourceFile};

/// Where an item was declared: its file and the span of its key.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub src: Arc<SourceFile>,
    pub span: Range<usize>,
}

impl Origin {
    pub fn loc(&self) -> Location {
        self.src.location(self.span.start)
    }
}

/// A parsed expression with the information needed to locate its nodes.
#[derive(Clone, Debug)]
pub(crate) struct RawExpr {
    pub ast: Ast,
    pub src: Arc<SourceFile>,
    /// Byte offset in the file of the expression text's first character.
    pub base: usize,
}

impl RawExpr {
    pub fn loc(&self, span: &Range<usize>) -> Location {
        self.src.location(self.base + span.start)
    }
    /// The text of a sub-expression for messages (at most 200 characters).
    pub fn snippet(&self, span: &Range<usize>) -> String {
        let text = self
            .src
            .text
            .get(self.base + span.start..self.base + span.end)
            .unwrap_or("the expression");
        crate::error::excerpt(text, crate::error::MAX_ECHO_CHARS)
    }
    fn constant(v: f64, src: &Arc<SourceFile>, at: usize) -> Self {
        RawExpr {
            ast: Ast {
                kind: AstKind::Num(v),
                span: 0..0,
            },
            src: src.clone(),
            base: at,
        }
    }
}

/// A name that refers to a declared item, with its position.
#[derive(Clone, Debug)]
pub(crate) struct NameRef {
    pub name: String,
    pub origin: Origin,
}

pub(crate) struct RawParam {
    pub name: String,
    pub origin: Origin,
    pub value: f64,
    pub value_span: Range<usize>,
    pub unit: SpannedStr,
    pub description: String,
    pub source: Option<String>,
    pub status: ParamStatus,
    pub range: Option<(f64, f64)>,
    pub note: Option<String>,
    pub allow_negative: bool,
    pub informed_by: Vec<String>,
}

pub(crate) struct RawDerived {
    pub name: String,
    pub origin: Origin,
    pub expr: RawExpr,
    pub unit: Option<SpannedStr>,
    pub description: String,
    pub allow_negative: bool,
}

pub(crate) struct RawState {
    pub name: String,
    pub origin: Origin,
    pub unit: SpannedStr,
    pub initial: RawExpr,
    pub description: String,
    pub allow_negative: bool,
    pub scale: Option<f64>,
}

pub(crate) struct RawRate {
    pub state: NameRef,
    pub expr: RawExpr,
}

pub(crate) struct RawFlux {
    pub name: String,
    pub origin: Origin,
    pub from: Option<NameRef>,
    pub to: Option<NameRef>,
    pub rate: RawExpr,
    pub description: String,
    /// Declared unit (intermediates only; a flux's unit follows from its states).
    pub unit: Option<SpannedStr>,
    /// Declared in `[intermediates]`: a named dynamic quantity, not a flow.
    pub intermediate: bool,
}

pub(crate) struct RawRoute {
    pub name: String,
    pub origin: Origin,
    pub state: NameRef,
    pub bioavailability: Option<RawExpr>,
    pub description: String,
}

pub(crate) struct RawOutput {
    pub name: String,
    pub origin: Origin,
    pub expr: RawExpr,
    pub unit: Option<SpannedStr>,
    pub description: String,
    pub error: Option<ErrorModel>,
    /// A condition under which the output is defined, with the reason it is not otherwise.
    pub defined_if: Option<(RawExpr, String)>,
}

pub(crate) struct RawInclude {
    pub module: SpannedStr,
    pub prefix: Option<String>,
    pub set: Vec<(String, f64, Range<usize>)>,
}

/// One file's declarations, names not yet resolved.
pub(crate) struct RawModule {
    pub src: Arc<SourceFile>,
    pub name: String,
    pub description: String,
    pub time_unit: Option<SpannedStr>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub includes: Vec<RawInclude>,
    pub params: Vec<RawParam>,
    pub derived: Vec<RawDerived>,
    pub states: Vec<RawState>,
    pub rates: Vec<RawRate>,
    pub fluxes: Vec<RawFlux>,
    pub routes: Vec<RawRoute>,
    pub outputs: Vec<RawOutput>,
}

/// True for a valid identifier that is not reserved.
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "the name is empty; expected letters, digits and `_`, starting with a letter".into(),
        );
    }
    let mut chars = name.chars();
    let ok_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !ok_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{}` is not a valid name; expected letters, digits and `_`, starting with a letter",
            crate::error::excerpt(name, crate::error::MAX_ECHO_CHARS)
        ));
    }
    if name == "t" || name == "and" || name == "or" || Func::from_name(name).is_some() {
        return Err(format!(
            "`{name}` is reserved (time `t`, operators and functions); choose another name"
        ));
    }
    Ok(())
}

const TOP_KEYS: &[&str] = &[
    "model",
    "parameters",
    "derived",
    "states",
    "intermediates",
    "rates",
    "fluxes",
    "routes",
    "outputs",
];
const MODEL_KEYS: &[&str] = &[
    "name",
    "description",
    "time_unit",
    "include",
    "references",
    "tags",
];
const PARAM_KEYS: &[&str] = &[
    "value",
    "unit",
    "description",
    "source",
    "status",
    "range",
    "note",
    "allow_negative",
    "informed_by",
];
const DERIVED_KEYS: &[&str] = &["expr", "unit", "description", "note", "allow_negative"];
const STATE_KEYS: &[&str] = &[
    "unit",
    "initial",
    "description",
    "allow_negative",
    "scale",
    "note",
];
const INTERMEDIATE_KEYS: &[&str] = &["expr", "unit", "description", "note"];
const FLUX_KEYS: &[&str] = &["from", "to", "rate", "description", "note"];
const ROUTE_KEYS: &[&str] = &["state", "bioavailability", "description"];
const OUTPUT_KEYS: &[&str] = &[
    "expr",
    "unit",
    "description",
    "error",
    "note",
    "defined_if",
    "undefined_reason",
];
const ERROR_KEYS: &[&str] = &["additive", "proportional", "lower", "upper"];
const INCLUDE_KEYS: &[&str] = &["module", "prefix", "set"];

/// Offset of the first character inside a TOML string value starting at `span.start`.
fn string_body_start(src: &SourceFile, span: &Range<usize>) -> usize {
    let text = &src.text[span.start.min(src.text.len())..];
    if text.starts_with("\"\"\"") || text.starts_with("'''") {
        let mut off = span.start + 3;
        // A newline right after the opening delimiter is trimmed by TOML.
        if src.text[off.min(src.text.len())..].starts_with('\n') {
            off += 1;
        }
        off
    } else {
        span.start + 1
    }
}

struct ModuleReader<'s> {
    r: Reader<'s>,
    src: Arc<SourceFile>,
}

impl ModuleReader<'_> {
    fn origin(&self, span: &Range<usize>) -> Origin {
        Origin {
            src: self.src.clone(),
            span: span.clone(),
        }
    }

    fn name(&mut self, name: &str, span: &Range<usize>, field: &str) -> bool {
        match check_identifier(name) {
            Ok(()) => true,
            Err(msg) => {
                self.r.error(span, field, msg);
                false
            }
        }
    }

    /// Parses an expression from a string or number value.
    fn expr_value(&mut self, v: &crate::doc::Value<'_>, field: &str) -> Option<RawExpr> {
        match v.get_ref() {
            DeValue::String(s) => self.parse_expr(s, &v.span(), field),
            other => match to_f64(other) {
                Some(x) if x.is_finite() => Some(RawExpr::constant(x, &self.src, v.span().start)),
                _ => {
                    self.r.error(
                        &v.span(),
                        field,
                        format!(
                            "expected an expression string or a number, found {}",
                            kind_name(other)
                        ),
                    );
                    None
                }
            },
        }
    }

    fn parse_expr(&mut self, text: &str, span: &Range<usize>, field: &str) -> Option<RawExpr> {
        let base = string_body_start(&self.src, span);
        match expr::parse(text) {
            Ok(ast) => Some(RawExpr {
                ast,
                src: self.src.clone(),
                base,
            }),
            Err(e) => {
                let loc = self.src.location(base + e.span.start);
                self.r.diags.push(
                    Some(loc),
                    field,
                    format!(
                        "in expression \"{}\": {}",
                        crate::error::excerpt(text, crate::error::MAX_ECHO_CHARS),
                        e.message
                    ),
                );
                None
            }
        }
    }

    fn expr_field(&mut self, t: &TableView<'_, '_>, key: &str, required: bool) -> Option<RawExpr> {
        match t.get(key) {
            Some(v) => self.expr_value(v, &t.child(key)),
            None => {
                if required {
                    self.r.error(
                        &t.span,
                        &t.child(key),
                        format!("missing required field `{key}`"),
                    );
                }
                None
            }
        }
    }

    fn name_ref(&mut self, t: &TableView<'_, '_>, key: &str, required: bool) -> Option<NameRef> {
        let s = t.str(&mut self.r, key, required)?;
        Some(NameRef {
            name: s.text,
            origin: self.origin(&s.span),
        })
    }

    fn description(&mut self, t: &TableView<'_, '_>, required: bool) -> String {
        t.str(&mut self.r, "description", required)
            .map(|s| s.text)
            .unwrap_or_default()
    }
}

/// Reads one module file (without following includes).
pub(crate) fn read_module(src: Arc<SourceFile>) -> Result<RawModule, ModelError> {
    let doc = parse_document(&src)?;
    let mut mr = ModuleReader {
        r: Reader::new(&src),
        src: src.clone(),
    };
    let root = TableView::root(&doc);
    root.check_keys(&mut mr.r, TOP_KEYS);

    let mut m = RawModule {
        src: src.clone(),
        name: String::new(),
        description: String::new(),
        time_unit: None,
        references: Vec::new(),
        tags: Vec::new(),
        includes: Vec::new(),
        params: Vec::new(),
        derived: Vec::new(),
        states: Vec::new(),
        rates: Vec::new(),
        fluxes: Vec::new(),
        routes: Vec::new(),
        outputs: Vec::new(),
    };

    match root.sub(&mut mr.r, "model") {
        Some(t) => {
            t.check_keys(&mut mr.r, MODEL_KEYS);
            m.name = t
                .str(&mut mr.r, "name", true)
                .map(|s| s.text)
                .unwrap_or_default();
            m.description = mr.description(&t, true);
            m.time_unit = t.str(&mut mr.r, "time_unit", false);
            m.references = t
                .str_array(&mut mr.r, "references")
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.text)
                .collect();
            m.tags = t
                .str_array(&mut mr.r, "tags")
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.text)
                .collect();
            if let Some(v) = t.get("include") {
                read_includes(&mut mr, v, &t.child("include"), &mut m.includes);
            }
        }
        None => {
            if root.get("model").is_none() {
                mr.r.error(
                    &(0..0),
                    "model",
                    "missing the `[model]` table (name, description, time_unit)",
                );
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "parameters") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let Some(p) = mr.r.table(v, &path) else {
                continue;
            };
            p.check_keys(&mut mr.r, PARAM_KEYS);
            let value = p.num(&mut mr.r, "value", true);
            let unit = p.str(&mut mr.r, "unit", true);
            let description = mr.description(&p, true);
            let source = p.str(&mut mr.r, "source", false).map(|s| s.text);
            let status = match p.str(&mut mr.r, "status", false) {
                None => ParamStatus::Sourced,
                Some(s) => match s.text.as_str() {
                    "sourced" => ParamStatus::Sourced,
                    "derived" => ParamStatus::Derived,
                    "assumed" => ParamStatus::Assumed,
                    "calibrated" => ParamStatus::Calibrated,
                    other => {
                        mr.r.error(&s.span, &p.child("status"), format!("unknown status \"{other}\"; expected sourced, derived, assumed or calibrated"));
                        ParamStatus::Sourced
                    }
                },
            };
            let range = match p.num_array(&mut mr.r, "range") {
                Some((r, span)) if r.len() == 2 => {
                    if r[0] > r[1] {
                        mr.r.error(
                            &span,
                            &p.child("range"),
                            format!("range [{}, {}] has low > high", r[0], r[1]),
                        );
                    }
                    Some((r[0], r[1]))
                }
                Some((_, span)) => {
                    mr.r.error(&span, &p.child("range"), "expected [low, high]");
                    None
                }
                None => None,
            };
            let note = p.str(&mut mr.r, "note", false).map(|s| s.text);
            let allow_negative = p.bool(&mut mr.r, "allow_negative").unwrap_or(false);
            let informed_by = p
                .str_array(&mut mr.r, "informed_by")
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.text)
                .collect();
            let (Some((value, value_span)), Some(unit)) = (value, unit) else {
                continue;
            };
            m.params.push(RawParam {
                name: name.to_string(),
                origin: mr.origin(&kspan),
                value,
                value_span,
                unit,
                description,
                source,
                status,
                range,
                note,
                allow_negative,
                informed_by,
            });
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "derived") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let (expr, unit, description, allow_negative) = match v.get_ref() {
                DeValue::Table(_) => {
                    let Some(d) = mr.r.table(v, &path) else {
                        continue;
                    };
                    d.check_keys(&mut mr.r, DERIVED_KEYS);
                    (
                        mr.expr_field(&d, "expr", true),
                        d.str(&mut mr.r, "unit", false),
                        mr.description(&d, false),
                        d.bool(&mut mr.r, "allow_negative").unwrap_or(false),
                    )
                }
                _ => (mr.expr_value(v, &path), None, String::new(), false),
            };
            if let Some(expr) = expr {
                m.derived.push(RawDerived {
                    name: name.to_string(),
                    origin: mr.origin(&kspan),
                    expr,
                    unit,
                    description,
                    allow_negative,
                });
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "states") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let Some(s) = mr.r.table(v, &path) else {
                continue;
            };
            s.check_keys(&mut mr.r, STATE_KEYS);
            let unit = s.str(&mut mr.r, "unit", true);
            let allow_negative = s.bool(&mut mr.r, "allow_negative").unwrap_or(false);
            let initial = match num_or_expr(&s, &mut mr.r, "initial", true) {
                Some((NumOrExpr::Num(x), span)) => {
                    if x < 0.0 && !allow_negative {
                        mr.r.error(&span, &s.child("initial"), format!("initial value {x} is negative; a state's initial value must be >= 0 (set allow_negative = true if negative values are meaningful)"));
                    }
                    Some(RawExpr::constant(x, &mr.src, span.start))
                }
                Some((NumOrExpr::Expr(e), _)) => {
                    mr.parse_expr(&e.text, &e.span, &s.child("initial"))
                }
                None => None,
            };
            let description = mr.description(&s, true);
            let (Some(unit), Some(initial)) = (unit, initial) else {
                continue;
            };
            let scale = match s.num(&mut mr.r, "scale", false) {
                Some((x, _)) if x > 0.0 => Some(x),
                Some((x, span)) => {
                    mr.r.error(
                        &span,
                        &s.child("scale"),
                        format!("scale must be > 0, found {x}"),
                    );
                    None
                }
                None => None,
            };
            m.states.push(RawState {
                name: name.to_string(),
                origin: mr.origin(&kspan),
                unit,
                initial,
                description,
                allow_negative,
                scale,
            });
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "rates") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if let Some(expr) = mr.expr_value(v, &path) {
                m.rates.push(RawRate {
                    state: NameRef {
                        name: name.to_string(),
                        origin: mr.origin(&kspan),
                    },
                    expr,
                });
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "fluxes") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let Some(f) = mr.r.table(v, &path) else {
                continue;
            };
            f.check_keys(&mut mr.r, FLUX_KEYS);
            let from = mr.name_ref(&f, "from", false);
            let to = mr.name_ref(&f, "to", false);
            if from.is_none() && to.is_none() && f.get("from").is_none() && f.get("to").is_none() {
                mr.r.error(&kspan, &path, "a flux needs `from`, `to` or both");
            }
            let rate = mr.expr_field(&f, "rate", true);
            let description = mr.description(&f, false);
            if let Some(rate) = rate {
                m.fluxes.push(RawFlux {
                    name: name.to_string(),
                    origin: mr.origin(&kspan),
                    from,
                    to,
                    rate,
                    description,
                    unit: None,
                    intermediate: false,
                });
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "intermediates") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let (expr, unit, description) = match v.get_ref() {
                DeValue::Table(_) => {
                    let Some(d) = mr.r.table(v, &path) else {
                        continue;
                    };
                    d.check_keys(&mut mr.r, INTERMEDIATE_KEYS);
                    (
                        mr.expr_field(&d, "expr", true),
                        d.str(&mut mr.r, "unit", false),
                        mr.description(&d, false),
                    )
                }
                _ => (mr.expr_value(v, &path), None, String::new()),
            };
            if let Some(rate) = expr {
                m.fluxes.push(RawFlux {
                    name: name.to_string(),
                    origin: mr.origin(&kspan),
                    from: None,
                    to: None,
                    rate,
                    description,
                    unit,
                    intermediate: true,
                });
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "routes") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let Some(rt) = mr.r.table(v, &path) else {
                continue;
            };
            rt.check_keys(&mut mr.r, ROUTE_KEYS);
            let state = mr.name_ref(&rt, "state", true);
            let bioavailability = mr.expr_field(&rt, "bioavailability", false);
            let description = mr.description(&rt, false);
            if let Some(state) = state {
                m.routes.push(RawRoute {
                    name: name.to_string(),
                    origin: mr.origin(&kspan),
                    state,
                    bioavailability,
                    description,
                });
            }
        }
    }

    if let Some(t) = root.sub(&mut mr.r, "outputs") {
        for (name, kspan, v) in t.entries() {
            let path = t.child(name);
            if !mr.name(name, &kspan, &path) {
                continue;
            }
            let (expr, unit, description, error, defined_if) = match v.get_ref() {
                DeValue::Table(_) => {
                    let Some(o) = mr.r.table(v, &path) else {
                        continue;
                    };
                    o.check_keys(&mut mr.r, OUTPUT_KEYS);
                    let defined_if = mr.expr_field(&o, "defined_if", false).and_then(|c| {
                        match o.str(&mut mr.r, "undefined_reason", false) {
                            Some(r) => Some((c, r.text)),
                            None => {
                                mr.r.error(
                                    &o.span,
                                    &o.child("undefined_reason"),
                                    "an output with `defined_if` needs `undefined_reason`: why it is missing when the condition fails",
                                );
                                None
                            }
                        }
                    });
                    let error = o.sub(&mut mr.r, "error").map(|e| {
                        e.check_keys(&mut mr.r, ERROR_KEYS);
                        let additive = e.num(&mut mr.r, "additive", false).map_or(0.0, |x| x.0);
                        let proportional =
                            e.num(&mut mr.r, "proportional", false).map_or(0.0, |x| x.0);
                        if additive < 0.0 || proportional < 0.0 {
                            mr.r.error(&e.span, &e.path, "error magnitudes must be >= 0");
                        }
                        let lower = e.num(&mut mr.r, "lower", false).map(|x| x.0);
                        let upper = e.num(&mut mr.r, "upper", false).map(|x| x.0);
                        if let (Some(l), Some(u)) = (lower, upper) {
                            if l > u {
                                mr.r.error(
                                    &e.span,
                                    &e.path,
                                    format!("lower bound {l} is above upper bound {u}"),
                                );
                            }
                        }
                        ErrorModel {
                            additive,
                            proportional,
                            lower,
                            upper,
                        }
                    });
                    (
                        mr.expr_field(&o, "expr", true),
                        o.str(&mut mr.r, "unit", false),
                        mr.description(&o, true),
                        error,
                        defined_if,
                    )
                }
                _ => {
                    mr.r.error(&kspan, &path, "expected a table { expr = \"...\", unit = \"...\", description = \"...\" }");
                    continue;
                }
            };
            if let Some(expr) = expr {
                m.outputs.push(RawOutput {
                    name: name.to_string(),
                    origin: mr.origin(&kspan),
                    expr,
                    unit,
                    description,
                    error,
                    defined_if,
                });
            }
        }
    }

    mr.r.diags.finish(m)
}

fn read_includes(
    mr: &mut ModuleReader<'_>,
    v: &crate::doc::Value<'_>,
    path: &str,
    out: &mut Vec<RawInclude>,
) {
    let DeValue::Array(items) = v.get_ref() else {
        mr.r.error(
            &v.span(),
            path,
            format!(
                "expected an array of module names, found {}",
                kind_name(v.get_ref())
            ),
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        match item.get_ref() {
            DeValue::String(s) => out.push(RawInclude {
                module: SpannedStr {
                    text: s.to_string(),
                    span: item.span(),
                },
                prefix: None,
                set: Vec::new(),
            }),
            DeValue::Table(_) => {
                let Some(t) = mr.r.table(item, &ipath) else {
                    continue;
                };
                t.check_keys(&mut mr.r, INCLUDE_KEYS);
                let Some(module) = t.str(&mut mr.r, "module", true) else {
                    continue;
                };
                let prefix = t.str(&mut mr.r, "prefix", false);
                if let Some(p) = &prefix {
                    if check_identifier(&format!("{}x", p.text)).is_err() {
                        mr.r.error(&p.span, &t.child("prefix"), format!("prefix \"{}\" must be letters, digits and `_`, starting with a letter", p.text));
                    }
                }
                let mut set = Vec::new();
                if let Some(st) = t.sub(&mut mr.r, "set") {
                    for (k, kspan, val) in st.entries() {
                        match to_f64(val.get_ref()) {
                            Some(x) if x.is_finite() => set.push((k.to_string(), x, kspan)),
                            _ => {
                                mr.r.error(&val.span(), &st.child(k), "expected a finite number")
                            }
                        }
                    }
                }
                out.push(RawInclude {
                    module,
                    prefix: prefix.map(|p| p.text),
                    set,
                });
            }
            other => mr.r.error(
                &item.span(),
                &ipath,
                format!(
                    "expected a module name or {{ module = ..., prefix = ... }}, found {}",
                    kind_name(other)
                ),
            ),
        }
    }
}

impl RawModule {
    /// Every name this module declares.
    fn declared(&self) -> std::collections::HashSet<String> {
        let mut s = std::collections::HashSet::new();
        s.extend(self.params.iter().map(|x| x.name.clone()));
        s.extend(self.derived.iter().map(|x| x.name.clone()));
        s.extend(self.states.iter().map(|x| x.name.clone()));
        s.extend(self.fluxes.iter().map(|x| x.name.clone()));
        s.extend(self.routes.iter().map(|x| x.name.clone()));
        s.extend(self.outputs.iter().map(|x| x.name.clone()));
        s
    }

    /// Renames every declared name to `prefix + name`, with references following.
    fn apply_prefix(&mut self, prefix: &str) {
        let declared = self.declared();
        let f = |n: &str| declared.contains(n).then(|| format!("{prefix}{n}"));
        let rn = |n: &mut String| {
            if let Some(new) = f(n) {
                *n = new;
            }
        };
        let re = |e: &mut RawExpr| e.ast.rename(&f);
        for p in &mut self.params {
            rn(&mut p.name);
        }
        for d in &mut self.derived {
            rn(&mut d.name);
            re(&mut d.expr);
        }
        for s in &mut self.states {
            rn(&mut s.name);
            re(&mut s.initial);
        }
        for r in &mut self.rates {
            rn(&mut r.state.name);
            re(&mut r.expr);
        }
        for fl in &mut self.fluxes {
            rn(&mut fl.name);
            if let Some(x) = &mut fl.from {
                rn(&mut x.name);
            }
            if let Some(x) = &mut fl.to {
                rn(&mut x.name);
            }
            re(&mut fl.rate);
        }
        for r in &mut self.routes {
            rn(&mut r.name);
            rn(&mut r.state.name);
            if let Some(b) = &mut r.bioavailability {
                re(b);
            }
        }
        for o in &mut self.outputs {
            rn(&mut o.name);
            re(&mut o.expr);
            if let Some((c, _)) = &mut o.defined_if {
                re(c);
            }
        }
    }
}

/// Loads a module and everything it includes, depth first (included modules come before the
/// module that includes them). The top-level module is last.
pub(crate) fn assemble(
    top: SourceFile,
    library: &dyn Library,
) -> Result<Vec<RawModule>, ModelError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = Vec::new();
    let mut diags = Diagnostics::default();
    let top = Arc::new(top);
    visit(
        top, None, library, &mut out, &mut seen, &mut stack, &mut diags,
    );
    diags.finish(out)
}

fn module_key(src: &SourceFile) -> String {
    if let Some(b) = &src.builtin {
        return format!("builtin:{b}");
    }
    match src.path.as_ref().and_then(|p| p.canonicalize().ok()) {
        Some(p) => format!("file:{}", p.display()),
        None => format!("name:{}", src.name),
    }
}

fn visit(
    src: Arc<SourceFile>,
    instance: Option<(&RawInclude, Origin)>,
    library: &dyn Library,
    out: &mut Vec<RawModule>,
    seen: &mut std::collections::HashSet<String>,
    stack: &mut Vec<String>,
    diags: &mut Diagnostics,
) {
    let key = module_key(&src);
    let prefix = instance.as_ref().and_then(|(inc, _)| inc.prefix.clone());
    let instance_key = format!("{key}#{}", prefix.as_deref().unwrap_or(""));
    if stack.contains(&key) {
        let loc = instance.as_ref().map(|(_, o)| o.loc());
        diags.push(
            loc,
            "model.include",
            format!("include cycle: {} -> {}", stack.join(" -> "), key),
        );
        return;
    }
    if !seen.insert(instance_key) {
        return;
    }
    let mut module = match read_module(src.clone()) {
        Ok(m) => m,
        Err(e) => {
            diags.extend_from(e);
            return;
        }
    };
    if let Some((inc, origin)) = &instance {
        if inc.prefix.is_some() && !module.includes.is_empty() {
            diags.push(Some(origin.loc()), "model.include", format!(
                "module \"{}\" is included with a prefix but itself includes other modules; a prefixed module must be self-contained",
                inc.module.text
            ));
            return;
        }
        for (name, value, span) in &inc.set {
            match module.params.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.value = *value,
                None => {
                    let hint = crate::error::did_you_mean(
                        name,
                        module.params.iter().map(|p| p.name.as_str()),
                    );
                    diags.push(
                        Some(origin.src.location(span.start)),
                        format!("model.include.set.{name}"),
                        format!(
                            "module \"{}\" has no parameter `{name}`{hint}",
                            inc.module.text
                        ),
                    );
                }
            }
        }
        if let Some(p) = &inc.prefix {
            module.apply_prefix(p);
        }
    }
    stack.push(key);
    let includes = std::mem::take(&mut module.includes);
    for inc in &includes {
        let origin = Origin {
            src: src.clone(),
            span: inc.module.span.clone(),
        };
        match load_reference(&inc.module.text, Some(&src), library) {
            Ok(child) => visit(
                Arc::new(child),
                Some((inc, origin)),
                library,
                out,
                seen,
                stack,
                diags,
            ),
            Err(msg) => diags.push(Some(origin.loc()), "model.include", msg),
        }
    }
    stack.pop();
    out.push(module);
}
