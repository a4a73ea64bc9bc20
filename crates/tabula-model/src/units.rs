//! Physical units: parsing, algebra and comparison.
//!
//! A [`Unit`] is a scale factor times a product of base dimensions (time, mass, length, amount and
//! the counting dimensions of immunology: cells, copies, international units...). It also keeps the
//! named units it was built from, so that messages read `mg/L/day` rather than `g^1 m^-3 s^-1`.
//!
//! Two units are *the same* when their dimensions agree and their scales agree to 1e-9 relative.
//! Tabula never converts silently inside an expression: `mg + ug` is an error, because a missing
//! factor of 1000 is the most common bug in PK code. Conversion factors between units of the same
//! dimension are available through [`Unit::factor_to`] for dose amounts.

use std::fmt;

/// Number of base dimensions.
pub const NDIM: usize = 11;

/// Names of the base dimensions, in the order of [`Unit::dims`].
pub const DIMENSION_NAMES: [&str; NDIM] = [
    "time", "mass", "length", "amount", "cells", "copies", "IU", "U", "AU", "score", "events",
];

const TIME: usize = 0;
const MASS: usize = 1;
const LENGTH: usize = 2;
const AMOUNT: usize = 3;

/// A known unit symbol: its scale relative to the base (s, g, m, mol, count) and dimension.
struct Atom {
    names: &'static [&'static str],
    scale: f64,
    dim: usize,
    power: i8,
    /// For concentration atoms (`M`, `nM`): an extra `L^-1` (length^-3).
    per_litre: bool,
}

const DAY: f64 = 86_400.0;

const ATOMS: &[Atom] = &[
    // time
    Atom {
        names: &["s", "sec"],
        scale: 1.0,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["min"],
        scale: 60.0,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["h", "hr", "hour"],
        scale: 3600.0,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["day", "d", "days"],
        scale: DAY,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["week", "wk", "weeks"],
        scale: 7.0 * DAY,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["month", "months"],
        scale: 30.4375 * DAY,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["year", "yr", "years"],
        scale: 365.25 * DAY,
        dim: TIME,
        power: 1,
        per_litre: false,
    },
    // mass
    Atom {
        names: &["kg"],
        scale: 1e3,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["g"],
        scale: 1.0,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["mg"],
        scale: 1e-3,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["ug", "µg", "mcg"],
        scale: 1e-6,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["ng"],
        scale: 1e-9,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["pg"],
        scale: 1e-12,
        dim: MASS,
        power: 1,
        per_litre: false,
    },
    // volume (length^3)
    Atom {
        names: &["L", "l"],
        scale: 1e-3,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    Atom {
        names: &["dL", "dl"],
        scale: 1e-4,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    Atom {
        names: &["mL", "ml"],
        scale: 1e-6,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    Atom {
        names: &["uL", "µL", "ul"],
        scale: 1e-9,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    Atom {
        names: &["nL", "nl"],
        scale: 1e-12,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    Atom {
        names: &["fL", "fl"],
        scale: 1e-18,
        dim: LENGTH,
        power: 3,
        per_litre: false,
    },
    // length
    Atom {
        names: &["m"],
        scale: 1.0,
        dim: LENGTH,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["cm"],
        scale: 1e-2,
        dim: LENGTH,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["mm"],
        scale: 1e-3,
        dim: LENGTH,
        power: 1,
        per_litre: false,
    },
    // amount and molar concentration
    Atom {
        names: &["mol"],
        scale: 1.0,
        dim: AMOUNT,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["mmol"],
        scale: 1e-3,
        dim: AMOUNT,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["umol", "µmol"],
        scale: 1e-6,
        dim: AMOUNT,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["nmol"],
        scale: 1e-9,
        dim: AMOUNT,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["pmol"],
        scale: 1e-12,
        dim: AMOUNT,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["M"],
        scale: 1.0,
        dim: AMOUNT,
        power: 1,
        per_litre: true,
    },
    Atom {
        names: &["mM"],
        scale: 1e-3,
        dim: AMOUNT,
        power: 1,
        per_litre: true,
    },
    Atom {
        names: &["uM", "µM"],
        scale: 1e-6,
        dim: AMOUNT,
        power: 1,
        per_litre: true,
    },
    Atom {
        names: &["nM"],
        scale: 1e-9,
        dim: AMOUNT,
        power: 1,
        per_litre: true,
    },
    Atom {
        names: &["pM"],
        scale: 1e-12,
        dim: AMOUNT,
        power: 1,
        per_litre: true,
    },
    // counting dimensions
    Atom {
        names: &["cells", "cell"],
        scale: 1.0,
        dim: 4,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["copies", "copy"],
        scale: 1.0,
        dim: 5,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["IU"],
        scale: 1.0,
        dim: 6,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["U"],
        scale: 1.0,
        dim: 7,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["AU"],
        scale: 1.0,
        dim: 8,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["score", "points"],
        scale: 1.0,
        dim: 9,
        power: 1,
        per_litre: false,
    },
    Atom {
        names: &["events", "event"],
        scale: 1.0,
        dim: 10,
        power: 1,
        per_litre: false,
    },
];

/// A physical unit: `scale * prod(base_i ^ dims_i)`, plus the named factors it was written with.
#[derive(Clone, Debug)]
pub struct Unit {
    /// Multiplier relative to the base units (s, g, m, mol, counts).
    pub scale: f64,
    /// Exponent of each base dimension ([`DIMENSION_NAMES`]).
    pub dims: [i8; NDIM],
    /// Named factors with their exponents, for display (`mg^1 L^-1`); a bare number prefix is
    /// kept as a factor named by its value.
    terms: Vec<(String, i32)>,
}

/// Why a unit string did not parse.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitParseError {
    /// What went wrong, for a human.
    pub message: String,
}

impl fmt::Display for UnitParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Unit {
    /// The dimensionless unit `1`.
    pub fn one() -> Unit {
        Unit {
            scale: 1.0,
            dims: [0; NDIM],
            terms: Vec::new(),
        }
    }

    /// Parses a unit string such as `mg/L`, `1/day`, `cells/(uL*day)`, `m^2` or `1e9 cells/L`.
    pub fn parse(text: &str) -> Result<Unit, UnitParseError> {
        let mut p = UnitParser {
            chars: text.chars().collect(),
            pos: 0,
            text,
        };
        p.skip_ws();
        if p.pos == p.chars.len() {
            return Err(UnitParseError {
                message: "empty unit; write \"1\" for dimensionless".into(),
            });
        }
        let u = p.product()?;
        p.skip_ws();
        if p.pos != p.chars.len() {
            return Err(p.error("unexpected character"));
        }
        Ok(u)
    }

    /// True when the unit has no dimension (it may still have a scale, e.g. `%`).
    pub fn is_dimensionless(&self) -> bool {
        self.dims.iter().all(|&d| d == 0)
    }

    /// True for exactly `1`: dimensionless with scale 1.
    pub fn is_one(&self) -> bool {
        self.is_dimensionless() && (self.scale - 1.0).abs() <= 1e-9
    }

    /// Same dimension, whatever the scale.
    pub fn same_dimension(&self, other: &Unit) -> bool {
        self.dims == other.dims
    }

    /// Same dimension and same scale (to 1e-9 relative): interchangeable in an expression.
    pub fn same_as(&self, other: &Unit) -> bool {
        self.same_dimension(other) && ((self.scale / other.scale) - 1.0).abs() <= 1e-9
    }

    /// The factor `f` such that a quantity `x` in `self` equals `f * x` in `target`, when the two
    /// have the same dimension.
    pub fn factor_to(&self, target: &Unit) -> Option<f64> {
        self.same_dimension(target)
            .then(|| self.scale / target.scale)
    }

    /// Product of two units.
    pub fn mul(&self, other: &Unit) -> Unit {
        let mut dims = self.dims;
        for (d, o) in dims.iter_mut().zip(other.dims) {
            *d += o;
        }
        let mut terms = self.terms.clone();
        for (name, e) in &other.terms {
            add_term(&mut terms, name, *e);
        }
        Unit {
            scale: self.scale * other.scale,
            dims,
            terms,
        }
    }

    /// Quotient of two units.
    pub fn div(&self, other: &Unit) -> Unit {
        self.mul(&other.powi(-1))
    }

    /// Integer power.
    pub fn powi(&self, n: i32) -> Unit {
        let mut dims = self.dims;
        for d in dims.iter_mut() {
            *d = (*d as i32 * n) as i8;
        }
        let terms = if n == 0 {
            Vec::new()
        } else {
            self.terms
                .iter()
                .map(|(name, e)| (name.clone(), e * n))
                .collect()
        };
        Unit {
            scale: self.scale.powi(n),
            dims,
            terms,
        }
    }

    /// Real power: only defined when every exponent stays an integer (e.g. `sqrt(m^2)`).
    pub fn powf(&self, x: f64) -> Option<Unit> {
        if self.is_dimensionless() && self.terms.is_empty() {
            return Some(Unit {
                scale: self.scale.powf(x),
                ..Unit::one()
            });
        }
        let mut dims = self.dims;
        for d in dims.iter_mut() {
            let v = *d as f64 * x;
            if (v - v.round()).abs() > 1e-9 {
                return None;
            }
            *d = v.round() as i8;
        }
        let mut terms = Vec::new();
        for (name, e) in &self.terms {
            let v = *e as f64 * x;
            if (v - v.round()).abs() > 1e-9 {
                // Fall back to a readable dimension-only rendering.
                terms = Vec::new();
                break;
            }
            terms.push((name.clone(), v.round() as i32));
        }
        Some(Unit {
            scale: self.scale.powf(x),
            dims,
            terms,
        })
    }
}

fn add_term(terms: &mut Vec<(String, i32)>, name: &str, e: i32) {
    if let Some(t) = terms.iter_mut().find(|(n, _)| n == name) {
        t.1 += e;
    } else {
        terms.push((name.to_string(), e));
    }
    terms.retain(|(_, e)| *e != 0);
}

impl PartialEq for Unit {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num: Vec<_> = self.terms.iter().filter(|(_, e)| *e > 0).collect();
        let den: Vec<_> = self.terms.iter().filter(|(_, e)| *e < 0).collect();
        let fmt_term = |(name, e): &(String, i32)| {
            let e = e.abs();
            if e == 1 {
                name.clone()
            } else {
                format!("{name}^{e}")
            }
        };
        if self.terms.is_empty() {
            if self.is_dimensionless() {
                if (self.scale - 1.0).abs() <= 1e-12 {
                    return f.write_str("1");
                }
                return write!(f, "{}", self.scale);
            }
            // No names survived (e.g. after a fractional power): show base dimensions.
            let parts: Vec<String> = self
                .dims
                .iter()
                .zip(DIMENSION_NAMES)
                .filter(|(d, _)| **d != 0)
                .map(|(d, n)| {
                    if *d == 1 {
                        n.to_string()
                    } else {
                        format!("{n}^{d}")
                    }
                })
                .collect();
            return write!(f, "[{}]", parts.join("*"));
        }
        let n = if num.is_empty() {
            "1".to_string()
        } else {
            num.iter()
                .map(|t| fmt_term(t))
                .collect::<Vec<_>>()
                .join("*")
        };
        if den.is_empty() {
            f.write_str(&n)
        } else {
            let d: Vec<String> = den.iter().map(|t| fmt_term(t)).collect();
            if d.len() == 1 {
                write!(f, "{n}/{}", d[0])
            } else {
                write!(f, "{n}/({})", d.join("*"))
            }
        }
    }
}

struct UnitParser<'a> {
    chars: Vec<char>,
    pos: usize,
    text: &'a str,
}

impl UnitParser<'_> {
    fn error(&self, what: &str) -> UnitParseError {
        UnitParseError {
            message: format!(
                "{what} at position {} of unit \"{}\"; expected products and quotients of known units such as \"mg/L\", \"1/day\", \"cells/uL\"",
                self.pos + 1,
                self.text
            ),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn product(&mut self) -> Result<Unit, UnitParseError> {
        let mut u = self.power()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some('*') | Some('.') | Some('·') => {
                    self.pos += 1;
                    u = u.mul(&self.power()?);
                }
                Some('/') => {
                    self.pos += 1;
                    u = u.div(&self.power()?);
                }
                // Juxtaposition after a leading number: "1e9 cells".
                Some(c) if c.is_alphabetic() || c == 'µ' || c == '%' || c == '(' => {
                    u = u.mul(&self.power()?);
                }
                _ => return Ok(u),
            }
        }
    }

    fn power(&mut self) -> Result<Unit, UnitParseError> {
        let base = self.atom()?;
        self.skip_ws();
        if self.peek() == Some('^') {
            self.pos += 1;
            self.skip_ws();
            let start = self.pos;
            if matches!(self.peek(), Some('-') | Some('+')) {
                self.pos += 1;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            let s: String = self.chars[start..self.pos].iter().collect();
            let n: i32 = s
                .parse()
                .map_err(|_| self.error("expected an integer exponent"))?;
            return Ok(base.powi(n));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Unit, UnitParseError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let u = self.product()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error("expected ')'"));
                }
                self.pos += 1;
                Ok(u)
            }
            Some('%') => {
                self.pos += 1;
                Ok(Unit {
                    scale: 0.01,
                    dims: [0; NDIM],
                    terms: vec![("%".into(), 1)],
                })
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.pos += 1;
                }
                if matches!(self.peek(), Some('e') | Some('E'))
                    && self
                        .chars
                        .get(self.pos + 1)
                        .is_some_and(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
                {
                    self.pos += 2;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                let v: f64 = s.parse().map_err(|_| self.error("bad number"))?;
                if !(v.is_finite() && v > 0.0) {
                    return Err(self.error("a unit factor must be a positive number"));
                }
                if v == 1.0 {
                    return Ok(Unit::one());
                }
                Ok(Unit {
                    scale: v,
                    dims: [0; NDIM],
                    terms: vec![(s, 1)],
                })
            }
            Some(c) if c.is_alphabetic() || c == 'µ' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == 'µ' || c == '_')
                {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                if name == "dimensionless" {
                    return Ok(Unit::one());
                }
                let Some(atom) = ATOMS.iter().find(|a| a.names.contains(&name.as_str())) else {
                    self.pos = start;
                    return Err(UnitParseError {
                        message: format!(
                            "unknown unit \"{name}\" in \"{}\"; known units are {}",
                            self.text,
                            known_units()
                        ),
                    });
                };
                let mut dims = [0i8; NDIM];
                dims[atom.dim] = atom.power;
                let mut scale = atom.scale;
                if atom.per_litre {
                    dims[LENGTH] -= 3;
                    scale /= 1e-3;
                }
                Ok(Unit {
                    scale,
                    dims,
                    terms: vec![(atom.names[0].to_string(), 1)],
                })
            }
            _ => Err(self.error("expected a unit")),
        }
    }
}

/// A comma-separated list of the unit symbols Tabula knows, for messages.
pub fn known_units() -> String {
    ATOMS
        .iter()
        .map(|a| a.names[0])
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Unit {
        Unit::parse(s).unwrap()
    }

    #[test]
    fn parses_common_units() {
        assert!(u("mg/L").same_as(&u("ug/mL")));
        assert!(!u("mg/L").same_as(&u("ng/mL")));
        assert!(u("mg/L").same_dimension(&u("ng/mL")));
        assert!(u("1/day").same_as(&u("day^-1")));
        assert!(u("L/(day*kg)").same_as(&u("L/day/kg")));
        assert!(u("nM").same_as(&u("nmol/L")));
        assert!(u("%").is_dimensionless());
        assert!(u("1").is_one());
        assert_eq!(u("1e9 cells/L").scale, 1e9 / 1e-3);
    }

    #[test]
    fn conversion_factors() {
        assert!((u("mg").factor_to(&u("ug")).unwrap() - 1000.0).abs() < 1e-9);
        assert!((u("week").factor_to(&u("day")).unwrap() - 7.0).abs() < 1e-12);
        assert!(u("mg").factor_to(&u("L")).is_none());
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(u("mg/L").to_string(), "mg/L");
        assert_eq!(
            u("mg").div(&u("L")).div(&u("day")).to_string(),
            "mg/(L*day)"
        );
        assert_eq!(u("cells").div(&u("cells")).to_string(), "1");
        assert_eq!(u("m^2").to_string(), "m^2");
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        assert!(Unit::parse("mgg")
            .unwrap_err()
            .message
            .contains("unknown unit \"mgg\""));
        assert!(Unit::parse("").is_err());
        assert!(Unit::parse("mg/").is_err());
        assert!(Unit::parse("(mg").is_err());
        assert!(Unit::parse("mg^x").is_err());
    }
}
