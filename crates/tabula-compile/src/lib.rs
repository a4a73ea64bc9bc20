//! # tabula-compile: from a validated model to fast evaluation
//!
//! The model's expressions are lowered into one hash-consed DAG (so every shared
//! sub-expression is computed once), simplified, and differentiated symbolically with respect
//! to each state to obtain the exact Jacobian `J_ij = d f_i / d y_j`, with its sparsity pattern
//! known at compile time. The DAG is then cut into four straight-line **tapes**:
//!
//! | tape | runs | computes |
//! |---|---|---|
//! | setup | once per parameter set | derived quantities, initial values, bioavailabilities, and every sub-expression of the other tapes that depends only on parameters (hoisted out of the inner loop) |
//! | rhs | every right-hand-side call | `f(t, y)` |
//! | jacobian | every Jacobian update | the non-zero entries of `J` |
//! | outputs | at output times | outputs, with optional residual error |
//!
//! Tapes run over a per-thread [`Workspace`] (a slot array allocated once), so evaluation
//! never allocates. By default each tape is compiled to native code with Cranelift (the `jit`
//! feature; pure Rust, no LLVM); the interpreter remains available ([`Backend`]) and the two
//! give bit-identical results. Set `TABULA_JIT=0` to force the interpreter.
//!
//! ```
//! use std::sync::Arc;
//! use tabula_model::{load_model_str, EmptyLibrary};
//! use tabula_compile::CompiledModel;
//!
//! let model = load_model_str("m.toml", r#"
//! [model]
//! name = "decay"
//! description = "First-order elimination"
//! time_unit = "day"
//! [parameters]
//! k = { value = 0.1, unit = "1/day", description = "Rate", status = "assumed", range = [0, 1] }
//! [states]
//! A = { unit = "mg", initial = 100, description = "Amount" }
//! [rates]
//! A = "-k * A"
//! "#, &EmptyLibrary).unwrap();
//! let compiled = CompiledModel::new(Arc::new(model));
//! let mut ws = compiled.workspace();
//! compiled.setup(&mut ws, &[0.1]).unwrap();
//! let mut dy = [0.0];
//! compiled.rhs(&mut ws, 0.0, &[100.0], &mut dy);
//! assert_eq!(dy[0], -10.0);
//! let mut jac = [0.0];
//! compiled.jacobian(&mut ws, 0.0, &[100.0], &mut jac);
//! assert_eq!(jac[0], -0.1);
//! ```

#![warn(missing_docs)]

mod compiled;
#[allow(missing_docs)]
pub mod graph;
#[cfg(feature = "jit")]
mod jit;
pub mod tape;

pub use compiled::{Backend, CompiledModel, SetupError, TapeStats, Workspace};
