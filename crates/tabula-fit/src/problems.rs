//! Reference problems with known answers, for tests, benchmarks and documentation.
//!
//! * [`Ishigami`]: `f = sin x1 + a sin^2 x2 + b x3^4 sin x1` on `[-pi, pi]^3` (Ishigami and
//!   Homma 1990), with closed-form Sobol indices.
//! * [`SobolG`]: `f = prod_i (|4 x_i - 2| + a_i) / (1 + a_i)` on `[0, 1]^d` (Saltelli and Sobol
//!   1995), with closed-form indices.
//! * [`LinearModel`]: `f = sum_i c_i x_i` with independent uniform inputs, where
//!   `S_i = ST_i = c_i^2 w_i^2 / sum_k c_k^2 w_k^2` (`w_i` the range width) and every
//!   elementary effect in unit coordinates equals `c_i w_i`.
//! * [`rosenbrock`]: the Rosenbrock valley, minimum 0 at `(1, ..., 1)`.

use crate::error::Result;
use crate::space::{Parameter, ParameterSpace};
use std::f64::consts::PI;

/// The Ishigami function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ishigami {
    /// Coefficient of `sin^2 x2`.
    pub a: f64,
    /// Coefficient of `x3^4 sin x1`.
    pub b: f64,
}

impl Default for Ishigami {
    /// The usual `a = 7`, `b = 0.1`.
    fn default() -> Self {
        Ishigami { a: 7.0, b: 0.1 }
    }
}

impl Ishigami {
    /// The input space `[-pi, pi]^3`, parameters `x1`, `x2`, `x3`.
    pub fn space() -> Result<ParameterSpace> {
        ParameterSpace::new(
            (1..=3)
                .map(|i| Parameter::linear(format!("x{i}"), -PI, PI))
                .collect(),
        )
    }

    /// Value at `x` (length 3).
    pub fn eval(&self, x: &[f64]) -> f64 {
        x[0].sin() + self.a * x[1].sin().powi(2) + self.b * x[2].powi(4) * x[0].sin()
    }

    /// Output variance `a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2`.
    pub fn variance(&self) -> f64 {
        let (a, b) = (self.a, self.b);
        a * a / 8.0 + b * PI.powi(4) / 5.0 + b * b * PI.powi(8) / 18.0 + 0.5
    }

    fn partial_variances(&self) -> (f64, f64, f64) {
        let (a, b) = (self.a, self.b);
        let v1 = 0.5 * (1.0 + b * PI.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * PI.powi(8) * (1.0 / 18.0 - 1.0 / 50.0);
        (v1, v2, v13)
    }

    /// Exact first-order indices `(V1/V, V2/V, 0)`.
    pub fn first_order(&self) -> [f64; 3] {
        let (v1, v2, _) = self.partial_variances();
        let v = self.variance();
        [v1 / v, v2 / v, 0.0]
    }

    /// Exact total-order indices `((V1 + V13)/V, V2/V, V13/V)`.
    pub fn total_order(&self) -> [f64; 3] {
        let (v1, v2, v13) = self.partial_variances();
        let v = self.variance();
        [(v1 + v13) / v, v2 / v, v13 / v]
    }
}

/// The Sobol G-function.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolG {
    /// Non-negative coefficients; small `a_i` means an important input.
    pub a: Vec<f64>,
}

impl SobolG {
    /// The input space `[0, 1]^d`, parameters `x1..xd`.
    pub fn space(&self) -> Result<ParameterSpace> {
        ParameterSpace::new(
            (1..=self.a.len())
                .map(|i| Parameter::linear(format!("x{i}"), 0.0, 1.0))
                .collect(),
        )
    }

    /// Value at `x` (length `d`).
    pub fn eval(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(&self.a)
            .map(|(xi, ai)| ((4.0 * xi - 2.0).abs() + ai) / (1.0 + ai))
            .product()
    }

    fn partial(&self) -> Vec<f64> {
        self.a
            .iter()
            .map(|ai| 1.0 / (3.0 * (1.0 + ai).powi(2)))
            .collect()
    }

    /// Output variance `prod_i (1 + V_i) - 1`, `V_i = 1 / (3 (1 + a_i)^2)`.
    pub fn variance(&self) -> f64 {
        self.partial().iter().map(|v| 1.0 + v).product::<f64>() - 1.0
    }

    /// Exact first-order indices `V_i / V`.
    pub fn first_order(&self) -> Vec<f64> {
        let v = self.variance();
        self.partial().iter().map(|vi| vi / v).collect()
    }

    /// Exact total-order indices `V_i prod_(j != i) (1 + V_j) / V`.
    pub fn total_order(&self) -> Vec<f64> {
        let p = self.partial();
        let v = self.variance();
        let all: f64 = p.iter().map(|vj| 1.0 + vj).product();
        p.iter().map(|vi| vi * all / (1.0 + vi) / v).collect()
    }
}

/// A linear model `sum_i c_i x_i` over given ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// Coefficients `c_i`.
    pub coefficients: Vec<f64>,
    /// Ranges `(lower, upper)` of the inputs.
    pub ranges: Vec<(f64, f64)>,
}

impl LinearModel {
    /// The input space, parameters `x1..xd`, uniform on the ranges.
    pub fn space(&self) -> Result<ParameterSpace> {
        ParameterSpace::new(
            self.ranges
                .iter()
                .enumerate()
                .map(|(i, &(lo, hi))| Parameter::linear(format!("x{}", i + 1), lo, hi))
                .collect(),
        )
    }

    /// Value at `x`.
    pub fn eval(&self, x: &[f64]) -> f64 {
        x.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum()
    }

    /// Exact first- and total-order indices (equal for an additive model).
    pub fn indices(&self) -> Vec<f64> {
        let v: Vec<f64> = self
            .coefficients
            .iter()
            .zip(&self.ranges)
            .map(|(c, (lo, hi))| (c * (hi - lo)).powi(2) / 12.0)
            .collect();
        let total: f64 = v.iter().sum();
        v.iter().map(|vi| vi / total).collect()
    }

    /// Exact elementary effects per unit of normalised range, `c_i (upper_i - lower_i)`.
    pub fn elementary_effects(&self) -> Vec<f64> {
        self.coefficients
            .iter()
            .zip(&self.ranges)
            .map(|(c, (lo, hi))| c * (hi - lo))
            .collect()
    }
}

/// The Rosenbrock function `sum_i 100 (x_(i+1) - x_i^2)^2 + (1 - x_i)^2`.
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ishigami_reference_values() {
        let f = Ishigami::default();
        let s = f.first_order();
        let t = f.total_order();
        for (got, want) in s.iter().zip([0.3139, 0.4424, 0.0]) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        for (got, want) in t.iter().zip([0.5576, 0.4424, 0.2437]) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }
}
