//! The expression language of rate equations, derived quantities and outputs.
//!
//! Grammar (lowest to highest precedence):
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := cmp ("and" cmp)*
//! cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | "+" unary | power
//! power   := atom ("^" unary)?            (right-associative; -x^2 = -(x^2))
//! atom    := number | name | name "(" args ")" | "(" expr ")"
//! ```
//!
//! Parsing yields an [`Ast`] of names; the model checker resolves names to states, parameters
//! and so on, producing an [`Expr`](crate::Expr).

use std::fmt;
use std::ops::Range;

/// Deepest nesting accepted, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;
/// Longest expression accepted, in tokens (bounds the depth of left-nested operator chains).
const MAX_TOKENS: usize = 4000;

/// A parsed expression node with its byte span inside the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct Ast {
    /// The node.
    pub kind: AstKind,
    /// Byte range in the expression string.
    pub span: Range<usize>,
}

/// Expression node kinds, with names not yet resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum AstKind {
    /// A numeric literal.
    Num(f64),
    /// A name: a state, parameter, derived quantity, flux, output or `t`.
    Name(String),
    /// Unary minus.
    Neg(Box<Ast>),
    /// A binary operation.
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// A function call.
    Call(String, Vec<Ast>),
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// Comparison or logical operator (allowed only in derived quantities and outputs).
    pub fn is_logical(self) -> bool {
        !matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow
        )
    }
}

/// A syntax error in an expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprError {
    /// What is wrong.
    pub message: String,
    /// Where, as a byte range in the expression text.
    pub span: Range<usize>,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

fn lex(text: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let s = &text[start..i];
            let v: f64 = s.parse().map_err(|_| ExprError {
                message: format!("malformed number `{s}`"),
                span: start..i,
            })?;
            if !v.is_finite() {
                return Err(ExprError {
                    message: format!(
                        "the number `{s}` is too large (the largest is about 1.8e308)"
                    ),
                    span: start..i,
                });
            }
            out.push((Tok::Num(v), start..i));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let s = &text[start..i];
            let tok = match s {
                "and" => Tok::Op("and"),
                "or" => Tok::Op("or"),
                _ => Tok::Name(s.to_string()),
            };
            out.push((tok, start..i));
            continue;
        }
        let two = text.get(i..i + 2).unwrap_or("");
        let (tok, len) = match two {
            "<=" => (Tok::Op("<="), 2),
            ">=" => (Tok::Op(">="), 2),
            "==" => (Tok::Op("=="), 2),
            "!=" => (Tok::Op("!="), 2),
            "**" => (Tok::Op("^"), 2),
            _ => match c {
                b'+' => (Tok::Op("+"), 1),
                b'-' => (Tok::Op("-"), 1),
                b'*' => (Tok::Op("*"), 1),
                b'/' => (Tok::Op("/"), 1),
                b'^' => (Tok::Op("^"), 1),
                b'<' => (Tok::Op("<"), 1),
                b'>' => (Tok::Op(">"), 1),
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b',' => (Tok::Comma, 1),
                _ => {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    let hint = match ch {
                        '=' => "; use `==` to compare",
                        '&' | '|' => "; use `and` / `or`",
                        '!' => "; use `not(x)`",
                        _ => "",
                    };
                    return Err(ExprError {
                        message: format!("unexpected character `{ch}`{hint}"),
                        span: i..i + ch.len_utf8(),
                    });
                }
            },
        };
        out.push((tok, i..i + len));
        i += len;
    }
    out.push((Tok::End, text.len()..text.len()));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Ast, ExprError> {
    let toks = lex(text)?;
    if toks.len() > MAX_TOKENS {
        return Err(ExprError { message: format!("expression longer than {MAX_TOKENS} tokens; split it into derived quantities or fluxes"), span: 0..text.len() });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::End {
        return Err(ExprError {
            message: "empty expression".into(),
            span: 0..text.len(),
        });
    }
    let e = p.or()?;
    if p.peek() != &Tok::End {
        let span = p.span();
        return Err(ExprError {
            message: format!(
                "unexpected {} after a complete expression",
                describe(p.peek())
            ),
            span,
        });
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number `{v}`"),
        Tok::Name(n) => format!("name `{n}`"),
        Tok::Op(o) => format!("operator `{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn span(&self) -> Range<usize> {
        self.toks[self.pos].1.clone()
    }
    fn bump(&mut self) -> (Tok, Range<usize>) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError {
                message: format!("expression nested deeper than {MAX_DEPTH} levels"),
                span: self.span(),
            });
        }
        Ok(())
    }

    fn binary(op: BinOp, a: Ast, b: Ast) -> Ast {
        let span = a.span.start..b.span.end;
        Ast {
            kind: AstKind::Binary(op, Box::new(a), Box::new(b)),
            span,
        }
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.and()?;
        while self.peek() == &Tok::Op("or") {
            self.bump();
            let b = self.and()?;
            a = Self::binary(BinOp::Or, a, b);
        }
        Ok(a)
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.cmp()?;
        while self.peek() == &Tok::Op("and") {
            self.bump();
            let b = self.cmp()?;
            a = Self::binary(BinOp::And, a, b);
        }
        Ok(a)
    }

    fn cmp(&mut self) -> Result<Ast, ExprError> {
        let a = self.sum()?;
        let op = match self.peek() {
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            _ => return Ok(a),
        };
        self.bump();
        let b = self.sum()?;
        if matches!(self.peek(), Tok::Op("<" | "<=" | ">" | ">=" | "==" | "!=")) {
            return Err(ExprError {
                message: "comparisons cannot be chained; write `a < b and b < c`".into(),
                span: self.span(),
            });
        }
        Ok(Self::binary(op, a, b))
    }

    fn sum(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(a),
            };
            self.bump();
            let b = self.product()?;
            a = Self::binary(op, a, b);
        }
    }

    fn product(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                _ => return Ok(a),
            };
            self.bump();
            let b = self.unary()?;
            a = Self::binary(op, a, b);
        }
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        self.enter()?;
        let r = match self.peek() {
            Tok::Op("-") => {
                let (_, s) = self.bump();
                let inner = self.unary()?;
                let span = s.start..inner.span.end;
                Ok(Ast {
                    kind: AstKind::Neg(Box::new(inner)),
                    span,
                })
            }
            Tok::Op("+") => {
                self.bump();
                self.unary()
            }
            _ => self.power(),
        };
        self.depth -= 1;
        r
    }

    fn power(&mut self) -> Result<Ast, ExprError> {
        let base = self.atom()?;
        if self.peek() == &Tok::Op("^") {
            self.bump();
            let exp = self.unary()?;
            return Ok(Self::binary(BinOp::Pow, base, exp));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Ast, ExprError> {
        let (tok, span) = self.bump();
        match tok {
            Tok::Num(v) => Ok(Ast {
                kind: AstKind::Num(v),
                span,
            }),
            Tok::Name(name) => {
                if self.peek() != &Tok::LParen {
                    return Ok(Ast {
                        kind: AstKind::Name(name),
                        span,
                    });
                }
                self.bump();
                self.enter()?;
                let mut args = Vec::new();
                if self.peek() != &Tok::RParen {
                    loop {
                        args.push(self.or()?);
                        match self.peek() {
                            Tok::Comma => {
                                self.bump();
                            }
                            Tok::RParen => break,
                            other => {
                                let d = describe(other);
                                return Err(ExprError { message: format!("expected `,` or `)` in the arguments of `{name}`, found {d}"), span: self.span() });
                            }
                        }
                    }
                }
                let (_, close) = self.bump();
                self.depth -= 1;
                Ok(Ast {
                    kind: AstKind::Call(name, args),
                    span: span.start..close.end,
                })
            }
            Tok::LParen => {
                self.enter()?;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != &Tok::RParen {
                    let d = describe(self.peek());
                    return Err(ExprError {
                        message: format!("expected `)`, found {d}"),
                        span: self.span(),
                    });
                }
                self.bump();
                Ok(e)
            }
            other => Err(ExprError {
                message: format!(
                    "expected a number, a name or `(`, found {}",
                    describe(&other)
                ),
                span,
            }),
        }
    }
}

impl Ast {
    /// Visits every name in the expression.
    pub fn for_each_name(&self, f: &mut impl FnMut(&str, &Range<usize>)) {
        match &self.kind {
            AstKind::Num(_) => {}
            AstKind::Name(n) => f(n, &self.span),
            AstKind::Neg(a) => a.for_each_name(f),
            AstKind::Binary(_, a, b) => {
                a.for_each_name(f);
                b.for_each_name(f);
            }
            AstKind::Call(_, args) => args.iter().for_each(|a| a.for_each_name(f)),
        }
    }

    /// Renames names through `f` (for module prefixes); names `f` returns `None` for are kept.
    pub fn rename(&mut self, f: &impl Fn(&str) -> Option<String>) {
        match &mut self.kind {
            AstKind::Num(_) => {}
            AstKind::Name(n) => {
                if let Some(new) = f(n) {
                    *n = new;
                }
            }
            AstKind::Neg(a) => a.rename(f),
            AstKind::Binary(_, a, b) => {
                a.rename(f);
                b.rename(f);
            }
            AstKind::Call(_, args) => args.iter_mut().for_each(|a| a.rename(f)),
        }
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AstKind::Num(v) => write!(f, "{v}"),
            AstKind::Name(n) => f.write_str(n),
            AstKind::Neg(a) => write!(f, "(-{a})"),
            AstKind::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            AstKind::Call(name, args) => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        parse(s).unwrap().to_string()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("a + b * c"), "(a + (b * c))");
        assert_eq!(p("a - b - c"), "((a - b) - c)");
        assert_eq!(p("-x^2"), "(-(x ^ 2))");
        assert_eq!(p("a^b^c"), "(a ^ (b ^ c))");
        assert_eq!(p("2^-1"), "(2 ^ (-1))");
        assert_eq!(p("a < b and c >= d or e"), "(((a < b) and (c >= d)) or e)");
        assert_eq!(p("max(0, 1 - B/B0)"), "max(0, (1 - (B / B0)))");
        assert_eq!(p("1e-3 * x"), "(0.001 * x)");
        assert_eq!(p("x ** 2"), "(x ^ 2)");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("a + * b").unwrap_err();
        assert_eq!(e.span, 4..5);
        let e = parse("a = b").unwrap_err();
        assert!(e.message.contains("=="));
        assert!(parse("").is_err());
        assert!(parse("f(a b)").is_err());
        assert!(parse("(a").is_err());
        assert!(parse("a < b < c").is_err());
        let deep = "(".repeat(300) + "1" + &")".repeat(300);
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
        let long = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(parse(&long).unwrap_err().message.contains("longer"));
        let deep = "-".repeat(10_000) + "1";
        assert!(parse(&deep).is_err());
    }
}
