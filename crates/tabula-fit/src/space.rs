//! Parameter ranges and the map between the unit hypercube and physical values.
//!
//! Every sampler and optimiser in this crate works in the unit cube `[0, 1]^d`. A
//! [`ParameterSpace`] maps a unit coordinate `u` to a physical value:
//!
//! * [`Scale::Linear`]: `x = lower + u (upper - lower)` (uniform prior);
//! * [`Scale::Log`]: `x = exp(ln lower + u (ln upper - ln lower))` (log-uniform prior), the
//!   natural choice for rate constants and doses that span orders of magnitude.
//!
//! Optimisers therefore search log-scaled parameters in log space, and sensitivity indices
//! describe the effect of each parameter over its whole (possibly logarithmic) range.

use crate::error::{FitError, Result};
use crate::matrix::Matrix;

/// How a parameter's range is spanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Uniform on `[lower, upper]`.
    #[default]
    Linear,
    /// Uniform in `ln x` on `[lower, upper]`; requires `lower > 0`.
    Log,
}

/// One parameter with its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Unique, non-empty name (used in reports and error messages).
    pub name: String,
    /// Lower bound (finite).
    pub lower: f64,
    /// Upper bound (finite, greater than `lower`).
    pub upper: f64,
    /// Linear or logarithmic spacing.
    pub scale: Scale,
}

impl Parameter {
    /// A parameter spanned uniformly on `[lower, upper]`.
    pub fn linear(name: impl Into<String>, lower: f64, upper: f64) -> Self {
        Parameter {
            name: name.into(),
            lower,
            upper,
            scale: Scale::Linear,
        }
    }

    /// A parameter spanned log-uniformly on `[lower, upper]` (`lower > 0`).
    pub fn log(name: impl Into<String>, lower: f64, upper: f64) -> Self {
        Parameter {
            name: name.into(),
            lower,
            upper,
            scale: Scale::Log,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| FitError::InvalidParameter {
            name: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if !self.lower.is_finite() || !self.upper.is_finite() {
            return Err(bad(format!(
                "bounds must be finite, got [{}, {}]",
                self.lower, self.upper
            )));
        }
        if self.lower >= self.upper {
            return Err(bad(format!(
                "lower bound {} must be below upper bound {}",
                self.lower, self.upper
            )));
        }
        if self.scale == Scale::Log && self.lower <= 0.0 {
            return Err(bad(format!(
                "a log-scaled parameter needs a positive lower bound, got {}",
                self.lower
            )));
        }
        Ok(())
    }

    /// Physical value of unit coordinate `u` (clamped to `[0, 1]`).
    pub fn from_unit(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let x = match self.scale {
            Scale::Linear => self.lower + u * (self.upper - self.lower),
            Scale::Log => {
                let (a, b) = (self.lower.ln(), self.upper.ln());
                (a + u * (b - a)).exp()
            }
        };
        // Rounding (exp, fused ranges) must never step outside the declared bounds.
        x.clamp(self.lower, self.upper)
    }

    /// Unit coordinate of physical value `x` (clamped to the range first).
    pub fn to_unit(&self, x: f64) -> f64 {
        let x = x.clamp(self.lower, self.upper);
        let u = match self.scale {
            Scale::Linear => (x - self.lower) / (self.upper - self.lower),
            Scale::Log => {
                let (a, b) = (self.lower.ln(), self.upper.ln());
                (x.ln() - a) / (b - a)
            }
        };
        u.clamp(0.0, 1.0)
    }
}

/// A validated, ordered set of parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpace {
    params: Vec<Parameter>,
}

impl ParameterSpace {
    /// Validates the parameters: at least one, unique non-empty names, finite bounds with
    /// `lower < upper`, and `lower > 0` for log-scaled ones.
    pub fn new(params: Vec<Parameter>) -> Result<Self> {
        if params.is_empty() {
            return Err(FitError::EmptyParameterSpace);
        }
        for (i, p) in params.iter().enumerate() {
            p.validate()?;
            if params[..i].iter().any(|q| q.name == p.name) {
                return Err(FitError::InvalidParameter {
                    name: p.name.clone(),
                    reason: "the name is used by another parameter".into(),
                });
            }
        }
        Ok(ParameterSpace { params })
    }

    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.params.len()
    }

    /// The parameters in order.
    pub fn parameters(&self) -> &[Parameter] {
        &self.params
    }

    /// The parameter names in order.
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// Maps unit coordinates to physical values. `unit` and `out` must have length `dim()`.
    pub fn to_physical(&self, unit: &[f64], out: &mut [f64]) -> Result<()> {
        self.check_len("unit point", unit.len())?;
        self.check_len("output buffer", out.len())?;
        for ((o, &u), p) in out.iter_mut().zip(unit).zip(&self.params) {
            *o = p.from_unit(u);
        }
        Ok(())
    }

    /// Maps physical values to unit coordinates (values outside the range are clamped).
    pub fn to_unit(&self, physical: &[f64], out: &mut [f64]) -> Result<()> {
        self.check_len("physical point", physical.len())?;
        self.check_len("output buffer", out.len())?;
        for ((o, &x), p) in out.iter_mut().zip(physical).zip(&self.params) {
            *o = p.to_unit(x);
        }
        Ok(())
    }

    /// Maps every row of a unit design to physical values.
    pub fn scale_design(&self, unit: &Matrix) -> Result<Matrix> {
        self.check_len("design columns", unit.n_cols())?;
        let mut out = Matrix::zeros(unit.n_rows(), self.dim());
        for i in 0..unit.n_rows() {
            self.to_physical(unit.row(i), out.row_mut(i))?;
        }
        Ok(out)
    }

    /// Checks that `x` has the right length, is finite and lies within the bounds.
    pub fn check_point(&self, what: &str, x: &[f64]) -> Result<()> {
        self.check_len(what, x.len())?;
        for (p, &v) in self.params.iter().zip(x) {
            if !v.is_finite() || v < p.lower || v > p.upper {
                return Err(FitError::InvalidParameter {
                    name: p.name.clone(),
                    reason: format!(
                        "{what}: value {v} is outside the range [{}, {}]",
                        p.lower, p.upper
                    ),
                });
            }
        }
        Ok(())
    }

    /// Formats a physical point as `name=value, ...` for messages.
    pub fn describe_point(&self, x: &[f64]) -> String {
        self.params
            .iter()
            .zip(x)
            .map(|(p, v)| format!("{}={v}", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn check_len(&self, what: &str, found: usize) -> Result<()> {
        if found != self.dim() {
            return Err(FitError::DimensionMismatch {
                what: what.to_string(),
                expected: self.dim(),
                found,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_rejected() {
        assert_eq!(
            ParameterSpace::new(vec![]),
            Err(FitError::EmptyParameterSpace)
        );
        assert!(ParameterSpace::new(vec![Parameter::linear("a", 1.0, 1.0)]).is_err());
        assert!(ParameterSpace::new(vec![Parameter::linear("a", f64::NAN, 1.0)]).is_err());
        assert!(ParameterSpace::new(vec![Parameter::log("k", 0.0, 1.0)]).is_err());
        assert!(ParameterSpace::new(vec![Parameter::linear("", 0.0, 1.0)]).is_err());
        let dup = ParameterSpace::new(vec![
            Parameter::linear("a", 0.0, 1.0),
            Parameter::linear("a", 0.0, 2.0),
        ]);
        assert!(matches!(dup, Err(FitError::InvalidParameter { .. })));
    }

    #[test]
    fn unit_round_trip_and_bounds() {
        let s = ParameterSpace::new(vec![
            Parameter::linear("a", -2.0, 6.0),
            Parameter::log("k", 1e-3, 10.0),
        ])
        .unwrap();
        let mut x = [0.0; 2];
        s.to_physical(&[0.25, 0.5], &mut x).unwrap();
        assert!((x[0] - 0.0).abs() < 1e-15);
        assert!((x[1] - 0.1).abs() < 1e-12);
        let mut u = [0.0; 2];
        s.to_unit(&x, &mut u).unwrap();
        assert!((u[0] - 0.25).abs() < 1e-15 && (u[1] - 0.5).abs() < 1e-12);
        s.to_physical(&[1.0, 1.0], &mut x).unwrap();
        assert!(x[0] <= 6.0 && x[1] <= 10.0);
        assert!(s.to_physical(&[0.5], &mut x).is_err());
        assert!(s.check_point("x0", &[7.0, 1.0]).is_err());
    }
}
