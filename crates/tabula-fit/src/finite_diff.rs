//! Finite-difference Jacobians and Hessians in physical coordinates, evaluated in parallel.
//!
//! The step for parameter `i` is `h_i = rel_step * s_i` with `s_i = |x_i|` for log-scaled
//! parameters and `s_i = max(|x_i|, range / 1000)` for linear ones. Central differences are used where `x_i +- h_i`
//! stays within the bounds; otherwise the stencil becomes one-sided, pointing into the box,
//! with first-order accuracy. No evaluation ever falls outside the bounds.

use crate::error::{FitError, Result};
use crate::eval::{evaluate_one, evaluate_vec};
use crate::matrix::Matrix;
use crate::space::{ParameterSpace, Scale};
use rayon::prelude::*;
use std::fmt::Display;

/// Per-parameter step and stencil.
#[derive(Debug, Clone, Copy)]
struct Stencil {
    h: f64,
    /// `true`: central; `false`: one-sided in direction `sign`.
    central: bool,
    sign: f64,
}

fn stencils(space: &ParameterSpace, x: &[f64], rel_step: f64, reach: f64) -> Vec<Stencil> {
    space
        .parameters()
        .iter()
        .zip(x)
        .map(|(p, &xi)| {
            let range = p.upper - p.lower;
            let scale = match p.scale {
                Scale::Log => xi.abs(),
                Scale::Linear => xi.abs().max(1e-3 * range),
            };
            let h = (rel_step * scale).min(0.25 * range);
            let up = xi + reach * h <= p.upper;
            let down = xi - reach * h >= p.lower;
            Stencil {
                h,
                central: up && down,
                sign: if up { 1.0 } else { -1.0 },
            }
        })
        .collect()
}

fn check_inputs(space: &ParameterSpace, x: &[f64], rel_step: f64) -> Result<()> {
    space.check_point("differentiation point", x)?;
    if !(rel_step.is_finite() && rel_step > 0.0 && rel_step < 0.1) {
        return Err(FitError::setting(
            "rel_step",
            rel_step,
            "a relative step in (0, 0.1)",
        ));
    }
    Ok(())
}

fn failure(
    space: &ParameterSpace,
    index: usize,
    x: &[f64],
    message: String,
    total: usize,
) -> FitError {
    FitError::EvaluationFailed {
        index,
        point: space.describe_point(x),
        message,
        failed: 1,
        total,
    }
}

/// Jacobian `dr/dx` (`m x n`) of the residual function at `x`. A `rel_step` of about `1e-6`
/// suits central differences in double precision.
pub fn jacobian<F, E>(
    space: &ParameterSpace,
    residuals: &F,
    x: &[f64],
    rel_step: f64,
) -> Result<Matrix>
where
    F: Fn(&[f64]) -> std::result::Result<Vec<f64>, E> + Sync,
    E: Display,
{
    check_inputs(space, x, rel_step)?;
    let n = x.len();
    let st = stencils(space, x, rel_step, 1.0);
    // Points: index 0 = x, then (plus, minus) per parameter; one-sided stencils use x itself.
    let mut points = vec![x.to_vec()];
    for (i, s) in st.iter().enumerate() {
        let mut p = x.to_vec();
        p[i] += s.sign * s.h;
        points.push(p);
        let mut q = x.to_vec();
        if s.central {
            q[i] -= s.h;
        }
        points.push(q);
    }
    let results: Vec<std::result::Result<Vec<f64>, String>> = points
        .par_iter()
        .map(|p| evaluate_vec(residuals, p))
        .collect();
    let mut values = Vec::with_capacity(points.len());
    for (k, r) in results.into_iter().enumerate() {
        values.push(r.map_err(|m| failure(space, k, &points[k], m, points.len()))?);
    }
    let m = values[0].len();
    for (k, v) in values.iter().enumerate() {
        if v.len() != m {
            return Err(FitError::DimensionMismatch {
                what: format!("residual vector at [{}]", space.describe_point(&points[k])),
                expected: m,
                found: v.len(),
            });
        }
    }
    let mut jac = Matrix::zeros(m, n);
    for (i, s) in st.iter().enumerate() {
        let (plus, minus) = (&values[1 + 2 * i], &values[2 + 2 * i]);
        for k in 0..m {
            let d = if s.central {
                (plus[k] - minus[k]) / (2.0 * s.h)
            } else {
                (plus[k] - minus[k]) / (s.sign * s.h)
            };
            jac.set(k, i, d);
        }
    }
    Ok(jac)
}

/// Hessian (`n x n`, symmetric) of the scalar function at `x`. A `rel_step` of about `1e-4`
/// suits central second differences in double precision.
pub fn hessian<F, E>(space: &ParameterSpace, f: &F, x: &[f64], rel_step: f64) -> Result<Matrix>
where
    F: Fn(&[f64]) -> std::result::Result<f64, E> + Sync,
    E: Display,
{
    check_inputs(space, x, rel_step)?;
    let n = x.len();
    let st = stencils(space, x, rel_step, 2.0);
    // Offsets (in units of h, along the stencil direction) of every point needed; a point is a
    // sparse list of (parameter, multiple of h).
    let mut offsets: Vec<Vec<(usize, f64)>> = vec![vec![]];
    let mut index_of = std::collections::HashMap::new();
    let mut key = |pts: &mut Vec<Vec<(usize, f64)>>, o: Vec<(usize, f64)>| -> usize {
        let k: Vec<(usize, i64)> = o.iter().map(|&(i, m)| (i, (m * 4.0) as i64)).collect();
        *index_of.entry(k).or_insert_with(|| {
            pts.push(o);
            pts.len() - 1
        })
    };
    // Stencil for each entry: a list of (point index, weight); the divisor is h_i h_j.
    let mut entries: Vec<Vec<(usize, f64)>> = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            if j < i {
                entries.push(vec![]);
                continue;
            }
            let (si, sj) = (st[i], st[j]);
            let mut e = Vec::new();
            if i == j {
                if si.central {
                    e.push((key(&mut offsets, vec![(i, 1.0)]), 1.0));
                    e.push((0, -2.0));
                    e.push((key(&mut offsets, vec![(i, -1.0)]), 1.0));
                } else {
                    let s = si.sign;
                    e.push((key(&mut offsets, vec![(i, 2.0 * s)]), 1.0));
                    e.push((key(&mut offsets, vec![(i, s)]), -2.0));
                    e.push((0, 1.0));
                }
            } else if si.central && sj.central {
                for (a, b, w) in [
                    (1.0, 1.0, 0.25),
                    (1.0, -1.0, -0.25),
                    (-1.0, 1.0, -0.25),
                    (-1.0, -1.0, 0.25),
                ] {
                    e.push((key(&mut offsets, vec![(i, a), (j, b)]), w));
                }
            } else {
                let (a, b) = (si.sign, sj.sign);
                let w = a * b;
                e.push((key(&mut offsets, vec![(i, a), (j, b)]), w));
                e.push((key(&mut offsets, vec![(i, a)]), -w));
                e.push((key(&mut offsets, vec![(j, b)]), -w));
                e.push((0, w));
            }
            entries.push(e);
        }
    }
    let points: Vec<Vec<f64>> = offsets
        .iter()
        .map(|o| {
            let mut p = x.to_vec();
            for &(i, m) in o {
                p[i] = (p[i] + m * st[i].h)
                    .clamp(space.parameters()[i].lower, space.parameters()[i].upper);
            }
            p
        })
        .collect();
    let results: Vec<std::result::Result<f64, String>> =
        points.par_iter().map(|p| evaluate_one(f, p)).collect();
    let mut values = Vec::with_capacity(points.len());
    for (k, r) in results.into_iter().enumerate() {
        values.push(r.map_err(|m| failure(space, k, &points[k], m, points.len()))?);
    }
    let mut h = Matrix::zeros(n, n);
    for i in 0..n {
        for j in i..n {
            let s: f64 = entries[i * n + j].iter().map(|&(k, w)| w * values[k]).sum();
            let v = s / (st[i].h * st[j].h);
            h.set(i, j, v);
            h.set(j, i, v);
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Parameter;

    fn space() -> ParameterSpace {
        ParameterSpace::new(vec![
            Parameter::linear("a", 0.0, 4.0),
            Parameter::log("b", 0.1, 10.0),
        ])
        .unwrap()
    }

    #[test]
    fn hessian_of_a_quadratic_form() {
        let f = |x: &[f64]| -> std::result::Result<f64, String> {
            Ok(3.0 * x[0] * x[0] + 2.0 * x[0] * x[1] + 0.5 * x[1] * x[1] * x[1])
        };
        // Interior point and a point on the upper bound of `a` (one-sided stencil).
        for x in [[1.0, 2.0], [4.0, 2.0]] {
            let h = hessian(&space(), &f, &x, 1e-4).unwrap();
            assert!((h.get(0, 0) - 6.0).abs() < 1e-4, "{h:?}");
            assert!((h.get(0, 1) - 2.0).abs() < 1e-3, "{h:?}");
            assert!((h.get(1, 1) - 3.0 * x[1]).abs() < 1e-3, "{h:?}");
        }
    }

    #[test]
    fn jacobian_of_a_linear_map() {
        let r = |x: &[f64]| -> std::result::Result<Vec<f64>, String> {
            Ok(vec![x[0] + 2.0 * x[1], x[0] * x[1]])
        };
        let j = jacobian(&space(), &r, &[0.0, 10.0], 1e-6).unwrap();
        assert!((j.get(0, 0) - 1.0).abs() < 1e-5 && (j.get(0, 1) - 2.0).abs() < 1e-5);
        assert!((j.get(1, 0) - 10.0).abs() < 1e-5 && j.get(1, 1).abs() < 1e-5);
        assert!(jacobian(&space(), &r, &[5.0, 1.0], 1e-6).is_err());
    }
}
