//! Tabula units as SBML unit definitions.
//!
//! A Tabula [`Unit`] is a scale times a product of base dimensions. SBML builds units from a
//! fixed set of base kinds, so each dimension maps to one kind:
//!
//! | Tabula dimension | SBML kind |
//! |---|---|
//! | time (s) | `second` |
//! | mass (g) | `gram` |
//! | length (m) | `metre` |
//! | amount (mol) | `mole` |
//! | cells, copies | `item` |
//! | IU, U, AU, score, events | `dimensionless` |
//!
//! and the scale becomes the `multiplier` of a `dimensionless` factor, so `mg/L` is
//! `gram^1 metre^-3 x 1` (1e-3 g / 1e-3 m^3). SBML has a single counting kind and no
//! arbitrary or international units, which is why those dimensions collapse; the mapping is a
//! homomorphism, so an expression whose units Tabula accepts also has consistent SBML units.

use tabula_model::units::{Unit, NDIM};

use crate::mathml::attr_number;
use crate::xml::XmlWriter;

/// SBML base kinds, in the order of the exponent array of [`SbmlUnit`].
const KINDS: [&str; 5] = ["second", "gram", "metre", "mole", "item"];

/// The SBML kind index of each Tabula dimension, or `None` for dimensionless.
const KIND_OF_DIM: [Option<usize>; NDIM] = [
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(4),
    None,
    None,
    None,
    None,
    None,
];

/// A unit as SBML sees it: exponents of the base kinds and a multiplier.
#[derive(Clone, Debug, PartialEq)]
struct SbmlUnit {
    exponents: [i32; 5],
    multiplier: f64,
}

impl SbmlUnit {
    fn from_unit(u: &Unit) -> SbmlUnit {
        let mut exponents = [0i32; 5];
        for (d, &e) in u.dims.iter().enumerate() {
            if let Some(k) = KIND_OF_DIM[d] {
                exponents[k] += i32::from(e);
            }
        }
        SbmlUnit {
            exponents,
            multiplier: u.scale,
        }
    }

    fn is_dimensionless(&self) -> bool {
        self.exponents.iter().all(|&e| e == 0) && (self.multiplier - 1.0).abs() <= 1e-12
    }

    fn same(&self, other: &SbmlUnit) -> bool {
        self.exponents == other.exponents
            && ((self.multiplier / other.multiplier) - 1.0).abs() <= 1e-12
    }
}

/// Whether SBML accepts a unit as a species' substance unit: dimensionless, or one of mole,
/// item (cells, copies) or gram to the power 1, with any multiplier. Concentrations and
/// densities (`mg/L`, `cells/uL`) are not.
pub fn is_substance(u: &Unit) -> bool {
    let su = SbmlUnit::from_unit(u);
    let nonzero: Vec<(usize, i32)> = su
        .exponents
        .iter()
        .enumerate()
        .filter(|(_, &e)| e != 0)
        .map(|(k, &e)| (k, e))
        .collect();
    match nonzero.as_slice() {
        [] => true,
        [(k, 1)] => matches!(KINDS[*k], "mole" | "item" | "gram"),
        _ => false,
    }
}

/// The unit definitions a document needs, collected while it is written.
#[derive(Debug, Default)]
pub struct UnitTable {
    defs: Vec<(String, String, SbmlUnit)>,
}

/// A valid SBML id for a unit, from its readable form (`mg/(L*day)` -> `u_mg_per_L_day`).
fn id_from_text(text: &str) -> String {
    let mut id = String::from("u_");
    for c in text.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => id.push(c),
            '/' => id.push_str("_per_"),
            '*' | ' ' | '^' => id.push('_'),
            '.' => id.push('p'),
            '-' => id.push('m'),
            '+' => {}
            '%' => id.push_str("percent"),
            'µ' => id.push('u'),
            _ => {}
        }
    }
    let mut clean = String::with_capacity(id.len());
    for c in id.chars() {
        if !(c == '_' && clean.ends_with('_')) {
            clean.push(c);
        }
    }
    clean.trim_end_matches('_').to_string()
}

impl UnitTable {
    /// The SBML unit reference for a Tabula unit: `dimensionless`, or the id of a unit
    /// definition (added on first use).
    pub fn id(&mut self, u: &Unit) -> String {
        let su = SbmlUnit::from_unit(u);
        if su.is_dimensionless() {
            return "dimensionless".into();
        }
        if let Some((id, _, _)) = self.defs.iter().find(|(_, _, d)| d.same(&su)) {
            return id.clone();
        }
        let text = u.to_string();
        let base = id_from_text(&text);
        let mut id = base.clone();
        let mut k = 2;
        while self.defs.iter().any(|(i, _, _)| *i == id) {
            id = format!("{base}_{k}");
            k += 1;
        }
        self.defs.push((id.clone(), text, su));
        id
    }

    /// Writes `<listOfUnitDefinitions>` (nothing when no definition is needed).
    pub fn write(&self, w: &mut XmlWriter) {
        if self.defs.is_empty() {
            return;
        }
        w.open("listOfUnitDefinitions", &[]);
        for (id, text, u) in &self.defs {
            w.open("unitDefinition", &[("id", id), ("name", text)]);
            w.open("listOfUnits", &[]);
            for (k, &e) in u.exponents.iter().enumerate() {
                if e != 0 {
                    w.empty(
                        "unit",
                        &[
                            ("kind", KINDS[k]),
                            ("exponent", &e.to_string()),
                            ("scale", "0"),
                            ("multiplier", "1"),
                        ],
                    );
                }
            }
            if (u.multiplier - 1.0).abs() > 1e-12 || u.exponents.iter().all(|&e| e == 0) {
                w.empty(
                    "unit",
                    &[
                        ("kind", "dimensionless"),
                        ("exponent", "1"),
                        ("scale", "0"),
                        ("multiplier", &attr_number(u.multiplier)),
                    ],
                );
            }
            w.close();
            w.close();
        }
        w.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Unit {
        Unit::parse(s).unwrap()
    }

    #[test]
    fn ids_are_readable_and_valid() {
        assert_eq!(id_from_text("mg/(L*day)"), "u_mg_per_L_day");
        assert_eq!(id_from_text("1e9 cells/L"), "u_1e9_cells_per_L");
        assert_eq!(id_from_text("%"), "u_percent");
    }

    #[test]
    fn equal_units_share_a_definition() {
        let mut t = UnitTable::default();
        let a = t.id(&u("mg/L"));
        let b = t.id(&u("ug/mL"));
        assert_eq!(a, b);
        assert_ne!(t.id(&u("ng/mL")), a);
        assert_eq!(t.id(&u("1")), "dimensionless");
        assert_eq!(t.id(&u("cells/cells")), "dimensionless");
        assert_ne!(t.id(&u("%")), "dimensionless");
    }

    #[test]
    fn substance_units() {
        assert!(is_substance(&u("mg")));
        assert!(is_substance(&u("cells")));
        assert!(is_substance(&u("nmol")));
        assert!(is_substance(&u("score")));
        assert!(!is_substance(&u("mg/L")));
        assert!(!is_substance(&u("cells/uL")));
        assert!(!is_substance(&u("L")));
    }

    #[test]
    fn counting_dimensions_map_to_item_or_dimensionless() {
        assert_eq!(
            SbmlUnit::from_unit(&u("cells/uL")).exponents,
            [0, 0, -3, 0, 1]
        );
        assert_eq!(SbmlUnit::from_unit(&u("IU/mL")).exponents, [0, 0, -3, 0, 0]);
    }
}
