//! The tapes agree with a direct tree-walking evaluation of the model's expressions, and the
//! symbolic Jacobian agrees with central finite differences.

use std::sync::Arc;

use proptest::prelude::*;
use tabula_compile::CompiledModel;
use tabula_model::{load_model_str, BinOp, EmptyLibrary, Expr, Func, Model, Sym};

const MODEL: &str = r#"
[model]
name = "kitchen_sink"
description = "Exercises every operator and function"
time_unit = "day"

[parameters]
k1 = { value = 0.3, unit = "1/day", description = "a", status = "assumed", range = [0, 10] }
k2 = { value = 1.7, unit = "1/day", description = "b", status = "assumed", range = [0, 10] }
K = { value = 2.0, unit = "mg", description = "c", status = "assumed", range = [0, 10] }
n = { value = 2.5, unit = "1", description = "d", status = "assumed", range = [0, 10] }
S = { value = 4.0, unit = "mg/day", description = "e", status = "assumed", range = [0, 10] }

[derived]
kk = "k1 * k2 / (k1 + k2)"
K2 = "K^2"

[states]
A = { unit = "mg", initial = "S / k1", description = "x" }
B = { unit = "mg", initial = 1, description = "y" }
C = { unit = "mg", initial = 0.5, description = "z" }

[fluxes]
ab = { from = "A", to = "B", rate = "kk * A * hill(B, K, n)" }
bc = { from = "B", to = "C", rate = "k2 * sqrt(B * C + K2) * exp(-C / K) / (1 + abs(A - B) / K)" }

[rates]
A = "S * (1 + 0.1 * exp(-k1 * t)) - k1 * A * ln(1 + C / K)"
C = "-k1 * C * max(0, 1 - A / (10 * K)) - k2 * min(C, B) / (1 + (C / K)^3) + k1 * pow(B / K, n) * K - k1 * C * log10(1 + B / K)"

[outputs]
total = { expr = "A + B + C", unit = "mg", description = "sum" }
high = { expr = "if(A > B, 1, 0) + (B >= C and C < A) + not(A == B)", description = "logic" }
noisy = { expr = "total / K", description = "with error", error = { additive = 0.5, proportional = 0.1, lower = 0, upper = 1000 } }
"#;

fn model() -> Arc<Model> {
    Arc::new(load_model_str("sink.toml", MODEL, &EmptyLibrary).unwrap())
}

/// Direct evaluation of an expression (the oracle).
fn eval(m: &Model, e: &Expr, p: &[f64], y: &[f64], t: f64, outs: &[f64]) -> f64 {
    let ev = |x: &Expr| eval(m, x, p, y, t, outs);
    match e {
        Expr::Const(v) => *v,
        Expr::Time => t,
        Expr::Sym(s) => match *s {
            Sym::Param(i) => p[i],
            Sym::State(i) => y[i],
            Sym::Derived(i) => ev(&m.derived[i].expr),
            Sym::Flux(i) => ev(&m.fluxes[i].rate),
            Sym::Output(i) => outs[i],
            Sym::Route(_) => unreachable!(),
        },
        Expr::Neg(a) => -ev(a),
        Expr::Bin(op, a, b) => {
            let (x, z) = (ev(a), ev(b));
            let f = |c: bool| if c { 1.0 } else { 0.0 };
            match op {
                BinOp::Add => x + z,
                BinOp::Sub => x - z,
                BinOp::Mul => x * z,
                BinOp::Div => x / z,
                BinOp::Pow => x.powf(z),
                BinOp::Lt => f(x < z),
                BinOp::Le => f(x <= z),
                BinOp::Gt => f(x > z),
                BinOp::Ge => f(x >= z),
                BinOp::Eq => f(x == z),
                BinOp::Ne => f(x != z),
                BinOp::And => f(x != 0.0 && z != 0.0),
                BinOp::Or => f(x != 0.0 || z != 0.0),
            }
        }
        Expr::Call(func, args) => {
            let a: Vec<f64> = args.iter().map(ev).collect();
            match func {
                Func::Exp => a[0].exp(),
                Func::Ln => a[0].ln(),
                Func::Log10 => a[0].log10(),
                Func::Sqrt => a[0].sqrt(),
                Func::Abs => a[0].abs(),
                Func::Pow => a[0].powf(a[1]),
                Func::Min => a.iter().copied().fold(f64::INFINITY, f64::min),
                Func::Max => a.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Func::Clamp => a[0].max(a[1]).min(a[2]),
                Func::Hill => a[0].powf(a[2]) / (a[1].powf(a[2]) + a[0].powf(a[2])),
                Func::If => {
                    if a[0] != 0.0 {
                        a[1]
                    } else {
                        a[2]
                    }
                }
                Func::Not => f64::from(u8::from(a[0] == 0.0)),
            }
        }
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #[test]
    fn rhs_matches_direct_evaluation(
        k1 in 0.05f64..3.0, k2 in 0.05f64..3.0, kk in 0.5f64..5.0, n in 0.5f64..4.0, s in 0.1f64..10.0,
        a in 0.01f64..50.0, b in 0.01f64..50.0, c in 0.01f64..50.0, t in 0.0f64..100.0,
    ) {
        let m = model();
        let cm = CompiledModel::new(m.clone());
        let p = [k1, k2, kk, n, s];
        let y = [a, b, c];
        let mut ws = cm.workspace();
        cm.setup(&mut ws, &p).unwrap();
        let mut dy = [0.0; 3];
        cm.rhs(&mut ws, t, &y, &mut dy);
        for (i, d) in dy.iter().enumerate() {
            let want = eval(&m, &m.derivative(i), &p, &y, t, &[]);
            prop_assert!(close(*d, want, 1e-12), "state {i}: tape {d} vs direct {want}");
        }
        let mut outs = [0.0; 3];
        cm.outputs(&mut ws, t, &y, None, &mut outs);
        let mut direct = [0.0; 3];
        for i in 0..3 {
            let v = eval(&m, &m.outputs[i].expr, &p, &y, t, &direct);
            let v = match &m.outputs[i].error { Some(e) => v.clamp(e.lower.unwrap(), e.upper.unwrap()), None => v };
            direct[i] = v;
            prop_assert!(close(outs[i], v, 1e-12), "output {i}: {} vs {v}", outs[i]);
        }
    }

    #[test]
    fn jacobian_matches_finite_differences(
        k1 in 0.05f64..3.0, k2 in 0.05f64..3.0, kk in 0.5f64..5.0, n in 0.5f64..4.0, s in 0.1f64..10.0,
        a in 0.5f64..50.0, b in 0.5f64..50.0, c in 0.5f64..50.0, t in 0.0f64..100.0,
    ) {
        let cm = CompiledModel::new(model());
        let p = [k1, k2, kk, n, s];
        let y = [a, b, c];
        let mut ws = cm.workspace();
        cm.setup(&mut ws, &p).unwrap();
        let (rows, cols) = cm.jacobian_pattern();
        let (rows, cols) = (rows.to_vec(), cols.to_vec());
        let mut vals = vec![0.0; rows.len()];
        cm.jacobian(&mut ws, t, &y, &mut vals);
        let mut dense = [[0.0f64; 3]; 3];
        for ((r, c), v) in rows.iter().zip(&cols).zip(&vals) {
            dense[*r as usize][*c as usize] = *v;
        }
        for j in 0..3 {
            let h = 1e-6 * y[j].abs().max(1.0);
            let (mut yp, mut ym) = (y, y);
            yp[j] += h;
            ym[j] -= h;
            let (mut fp, mut fm) = ([0.0; 3], [0.0; 3]);
            cm.rhs(&mut ws, t, &yp, &mut fp);
            cm.rhs(&mut ws, t, &ym, &mut fm);
            for i in 0..3 {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                // min/max/abs kinks: skip points within h of a kink.
                let kink = (y[0] - 10.0 * kk).abs() < 2.0 * h || (y[2] - y[1]).abs() < 2.0 * h || (y[0] - y[1]).abs() < 2.0 * h;
                // Round-off in the difference quotient grows with |f| / h.
                let roundoff = 10.0 * f64::EPSILON * fp[i].abs().max(fm[i].abs()) / h;
                if !kink {
                    prop_assert!((dense[i][j] - fd).abs() <= 1e-5 * (1.0 + fd.abs()) + roundoff, "J[{i}][{j}] = {} vs finite difference {fd}", dense[i][j]);
                }
            }
        }
    }
}

#[test]
fn noise_is_applied_and_clipped() {
    let cm = CompiledModel::new(model());
    let mut ws = cm.workspace();
    cm.setup(&mut ws, &cm.default_parameters()).unwrap();
    let y = [10.0, 2.0, 1.0];
    let (mut clean, mut noisy) = ([0.0; 3], [0.0; 3]);
    cm.outputs(&mut ws, 0.0, &y, None, &mut clean);
    cm.outputs(&mut ws, 0.0, &y, Some(&[0.0, 0.0, 1.0]), &mut noisy);
    let f = clean[2];
    let sd = (0.25 + (0.1 * f).powi(2)).sqrt();
    assert!((noisy[2] - (f + sd)).abs() < 1e-12);
    cm.outputs(&mut ws, 0.0, &y, Some(&[0.0, 0.0, -1e6]), &mut noisy);
    assert_eq!(noisy[2], 0.0, "clipped at the lower bound");
}

#[test]
fn invariants_are_hoisted_into_setup() {
    let cm = CompiledModel::new(model());
    let s = cm.stats();
    // Derived quantities (2), the initial value `S / k1` (1) and the parameter-only pieces of the
    // rates (`k1 * k2`, `k1 + k2`, `10 * K`, `-k1`, ...) run once per parameter set, not per call.
    assert!(s.setup >= 10, "{s:?}");
    // Snapshot of the tape sizes: a change in simplification or hoisting shows up here.
    assert_eq!(
        (s.setup, s.rhs, s.jacobian, s.jacobian_nonzeros, s.outputs),
        (13, 53, 105, 9, 38),
        "{s:?}"
    );
}

#[test]
fn bad_parameters_are_reported_not_panicked() {
    let cm = CompiledModel::new(model());
    let mut ws = cm.workspace();
    let mut p = cm.default_parameters();
    p[0] = 0.0; // k1 = 0 makes the initial value S / k1 infinite
    let e = cm.setup(&mut ws, &p).unwrap_err();
    assert!(e.to_string().contains("initial value of state `A`"), "{e}");
    assert!(cm.setup(&mut ws, &[1.0]).is_err());
}

proptest! {
    /// Native code and the interpreter give bit-identical results on every tape.
    #[test]
    fn jit_and_interpreter_agree_bit_for_bit(
        k1 in 0.0f64..3.0, k2 in 0.05f64..3.0, kk in 0.5f64..5.0, n in 0.5f64..4.0, s in 0.1f64..10.0,
        a in -5.0f64..50.0, b in 0.0f64..50.0, c in -1.0f64..50.0, t in 0.0f64..100.0,
        e0 in -3.0f64..3.0, e2 in -3.0f64..3.0,
    ) {
        use tabula_compile::Backend;
        let m = model();
        let jit = CompiledModel::with_backend(m.clone(), Backend::Jit);
        let int = CompiledModel::with_backend(m, Backend::Interpreter);
        prop_assert_eq!(jit.backend(), if cfg!(feature = "jit") { Backend::Jit } else { Backend::Interpreter });
        let p = [k1, k2, kk, n, s];
        let y = [a, b, c];
        let (mut wj, mut wi) = (jit.workspace(), int.workspace());
        let (rj, ri) = (jit.setup(&mut wj, &p), int.setup(&mut wi, &p));
        prop_assert_eq!(rj.is_ok(), ri.is_ok());
        let (mut dj, mut di) = ([0.0; 3], [0.0; 3]);
        jit.rhs(&mut wj, t, &y, &mut dj);
        int.rhs(&mut wi, t, &y, &mut di);
        for i in 0..3 {
            prop_assert!(dj[i].to_bits() == di[i].to_bits() || (dj[i].is_nan() && di[i].is_nan()), "rhs {i}: {} vs {}", dj[i], di[i]);
        }
        let nnz = jit.jacobian_pattern().0.len();
        let (mut jj, mut ji) = (vec![0.0; nnz], vec![0.0; nnz]);
        jit.jacobian(&mut wj, t, &y, &mut jj);
        int.jacobian(&mut wi, t, &y, &mut ji);
        for i in 0..nnz {
            prop_assert!(jj[i].to_bits() == ji[i].to_bits() || (jj[i].is_nan() && ji[i].is_nan()), "jac {i}: {} vs {}", jj[i], ji[i]);
        }
        let eps = [e0, 0.0, e2];
        let (mut oj, mut oi) = ([0.0; 3], [0.0; 3]);
        jit.outputs(&mut wj, t, &y, Some(&eps), &mut oj);
        int.outputs(&mut wi, t, &y, Some(&eps), &mut oi);
        for i in 0..3 {
            prop_assert!(oj[i].to_bits() == oi[i].to_bits() || (oj[i].is_nan() && oi[i].is_nan()), "output {i}: {} vs {}", oj[i], oi[i]);
        }
    }
}

/// An output's condition of definition that needs a parameter-only node nothing else uses
/// (`X >= 10 * c`) was compared against an uncomputed slot: the CAR-T effector:target ratio of a
/// prefixed module was reported where it should be undefined. Every backend computes it now.
#[test]
fn conditions_of_definition_with_parameter_products() {
    const M: &str = r#"
[model]
name = "conditions"
description = "Outputs defined only above a threshold"
time_unit = "day"
[parameters]
c = { value = 1, unit = "cells", description = "One cell", source = "Unit constant" }
k = { value = 1, unit = "1/day", description = "Loss", source = "Test value" }
[states]
X = { unit = "cells", initial = 0, description = "Cells" }
[intermediates]
ag = { expr = "2 * X", unit = "cells", description = "Twice the cells" }
[rates]
X = "-k * X"
[outputs]
o1 = { expr = "X", unit = "cells", description = "Product on the right", defined_if = "X >= 10 * c", undefined_reason = "few cells" }
o2 = { expr = "X", unit = "cells", description = "Intermediate and product", defined_if = "ag >= 10 * c", undefined_reason = "few cells" }
o3 = { expr = "X", unit = "cells", description = "Plain parameter", defined_if = "X >= c", undefined_reason = "few cells" }
"#;
    let m = Arc::new(load_model_str("conditions.toml", M, &EmptyLibrary).unwrap());
    for backend in [
        tabula_compile::Backend::Interpreter,
        tabula_compile::Backend::Jit,
    ] {
        let cm = CompiledModel::with_backend(m.clone(), backend);
        let mut ws = cm.workspace();
        cm.setup(&mut ws, &[1.0, 1.0]).unwrap();
        let mut out = vec![0.0; 3];
        cm.outputs(&mut ws, 0.0, &[3.0], None, &mut out);
        assert!(out[0].is_nan() && out[1].is_nan(), "{backend:?}: {out:?}");
        assert_eq!(out[2], 3.0, "{backend:?}");
        cm.outputs(&mut ws, 0.0, &[20.0], None, &mut out);
        assert_eq!(out, [20.0, 20.0, 20.0], "{backend:?}");
    }
}
