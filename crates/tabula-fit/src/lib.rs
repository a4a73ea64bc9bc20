//! # tabula-fit
//!
//! The numerical engine behind `tabula sensitivity` and `tabula calibrate`: space-filling
//! designs, global sensitivity analysis, bounded optimisation and identifiability checks. It
//! knows nothing about the simulator. A model is any closure
//! `Fn(&[f64]) -> Result<f64, E> + Sync` (or `Result<Vec<f64>, E>` for least-squares residuals)
//! over the physical values of the parameters of a [`ParameterSpace`]; the simulator crates plug
//! in by wrapping "set these parameters, run the virtual patient, return the endpoint" in such a
//! closure.
//!
//! ```text
//! ParameterSpace (names, bounds, linear/log)
//!   -> designs: Sobol / Latin hypercube / uniform          (sampling)
//!   -> sensitivity: Morris screening, Sobol indices         (sensitivity)
//!   -> calibration: CMA-ES -> Nelder-Mead or Levenberg-Marquardt   (optimize)
//!   -> identifiability at the optimum                       (identifiability)
//! ```
//!
//! ## Parameter spaces
//!
//! Everything works in the unit cube `[0, 1]^d`. Parameter `i` maps `u` to
//! `lower + u (upper - lower)` ([`Scale::Linear`]) or to `exp(ln lower + u ln(upper / lower))`
//! ([`Scale::Log`]), so log-scaled rate constants are sampled log-uniformly, screened per decade
//! and searched in log space.
//!
//! ## Designs
//!
//! [`Sampler`] produces `n x d` designs: the Sobol sequence with Joe-Kuo D(6) direction numbers
//! (Joe and Kuo 2008; up to 1000 dimensions, optionally with a seeded digital shift), Latin
//! hypercube (McKay et al. 1979) and plain uniform sampling.
//!
//! ## Morris screening (Morris 1991; Campolongo, Cariboni and Saltelli 2007)
//!
//! `r` one-at-a-time trajectories on a `p`-level grid with step `Delta = p / (2 (p - 1))`;
//! each gives one elementary effect `EE_i = (f(x + Delta e_i) - f(x)) / Delta` per parameter.
//! Reported: `mu = mean EE_i`, `mu* = mean |EE_i|` (with a bootstrap interval) and
//! `sigma = sd EE_i`. Trajectories can be chosen among more candidates to maximise their spread
//! (Campolongo et al. 2007). See [`morris_screening`].
//!
//! ## Sobol indices (Saltelli 2002; Saltelli et al. 2010; Jansen 1999)
//!
//! From base matrices `A`, `B` and the hybrids `A_B^(i)` (`A` with column `i` from `B`), with
//! `V = Var[f]`:
//!
//! ```text
//! S_i  = E[ f(B) (f(A_B^(i)) - f(A)) ] / V              Saltelli et al. 2010
//! ST_i = E[ (f(A) - f(A_B^(i)))^2 ] / (2 V)             Jansen 1999
//! S_ij = E[ f(B_A^(i)) f(A_B^(j)) - f(A) f(B) ] / V - S_i - S_j    Saltelli 2002
//! ```
//!
//! at a cost of `N (d + 2)` runs (`N (2d + 2)` with second order), with percentile bootstrap
//! intervals over the base rows. See [`sobol_indices`]. The estimators are checked against the
//! closed-form indices of the Ishigami and G functions and of a linear model
//! ([`problems`]).
//!
//! ## Calibration
//!
//! * [`CmaEs`]: CMA-ES following Hansen's tutorial (Hansen 2016, arXiv:1604.00772), with
//!   reflection into the bounds and optional IPOP restarts (Auger and Hansen 2005).
//! * [`NelderMead`]: bounded simplex refinement with adaptive coefficients (Gao and Han 2012).
//! * [`LevenbergMarquardt`]: bounded least squares (Levenberg 1944; Marquardt 1963), damping
//!   updated by Nielsen's rule.
//! * [`least_squares_identifiability`], [`likelihood_identifiability`]: Fisher information from
//!   a finite-difference Jacobian or Hessian, its eigen-decomposition, standard errors, relative
//!   standard errors and correlations, with documented criteria for flagging parameters that
//!   the data do not pin down.
//!
//! Every optimiser accepts an [`Observer`] (iteration, evaluations, best value) for progress
//! bars and cancellation.
//!
//! ## Determinism and parallelism
//!
//! Model evaluations run in parallel on the current rayon pool, each written to the slot of its
//! design row or candidate, and every reduction runs afterwards in a fixed order. Random draws
//! come from ChaCha8 streams derived from the user's seed and the purpose of the draw (design,
//! bootstrap replicate, optimiser restart), never from the thread that happens to run. Results
//! are therefore bit-for-bit identical for any number of threads; the tests compare a 1-thread
//! and a 2-thread pool.
//!
//! ## Failures
//!
//! A model evaluation fails when the closure returns `Err`, a non-finite value or panics. The
//! failure is recorded, never propagated as a panic. Sensitivity analyses follow a
//! [`FailurePolicy`]: `Abort` (default) returns [`FitError::EvaluationFailed`] naming the first
//! failed row and its parameter values; `Drop` discards the base rows or trajectories that
//! contain failures and reports how many. Optimisers rank failed candidates last (`+inf`) and
//! count them. Invalid settings (no parameters, zero samples, odd Morris levels, bad bounds...)
//! are reported as typed [`FitError`]s.
//!
//! ## Example
//!
//! ```
//! use tabula_fit::{problems::Ishigami, sobol_indices, SobolConfig};
//!
//! let f = Ishigami::default();
//! let space = Ishigami::space().unwrap();
//! let config = SobolConfig { n_base: 1 << 12, bootstrap: 100, seed: 1, ..SobolConfig::default() };
//! let s = sobol_indices(&space, &config, |x: &[f64]| Ok::<_, String>(f.eval(x))).unwrap();
//! assert!((s.first_order[1].value - f.first_order()[1]).abs() < 0.02);
//! ```
//!
//! ## References
//!
//! * Auger A., Hansen N. (2005). A restart CMA evolution strategy with increasing population
//!   size. IEEE CEC 2005, 1769-1776.
//! * Campolongo F., Cariboni J., Saltelli A. (2007). An effective screening design for
//!   sensitivity analysis of large models. Environ. Model. Softw. 22, 1509-1518.
//! * Gao F., Han L. (2012). Implementing the Nelder-Mead simplex algorithm with adaptive
//!   parameters. Comput. Optim. Appl. 51, 259-277.
//! * Hansen N. (2016). The CMA evolution strategy: a tutorial. arXiv:1604.00772.
//! * Jansen M. J. W. (1999). Analysis of variance designs for model output. Comput. Phys.
//!   Commun. 117, 35-43.
//! * Joe S., Kuo F. Y. (2008). Constructing Sobol sequences with better two-dimensional
//!   projections. SIAM J. Sci. Comput. 30, 2635-2654.
//! * McKay M. D., Beckman R. J., Conover W. J. (1979). A comparison of three methods for
//!   selecting values of input variables in the analysis of output from a computer code.
//!   Technometrics 21, 239-245.
//! * Morris M. D. (1991). Factorial sampling plans for preliminary computational experiments.
//!   Technometrics 33, 161-174.
//! * Ruano M. V., Ribes J., Seco A., Ferrer J. (2012). An improved sampling strategy based on
//!   trajectory design for application of the Morris method to systems with many input factors.
//!   Environ. Model. Softw. 37, 103-109.
//! * Saltelli A. (2002). Making best use of model evaluations to compute sensitivity indices.
//!   Comput. Phys. Commun. 145, 280-297.
//! * Saltelli A., Annoni P., Azzini I., Campolongo F., Ratto M., Tarantola S. (2010). Variance
//!   based sensitivity analysis of model output. Design and estimator for the total sensitivity
//!   index. Comput. Phys. Commun. 181, 259-270.

#![warn(missing_docs)]

mod error;
pub mod eval;
pub mod finite_diff;
pub mod identifiability;
mod linalg;
mod matrix;
pub mod optimize;
pub mod problems;
mod rng;
pub mod sampling;
pub mod sensitivity;
mod space;

pub use error::{FitError, Result};
pub use eval::{evaluate, EvaluationFailure, Evaluations, FailurePolicy};
pub use identifiability::{
    least_squares_identifiability, likelihood_identifiability, IdentifiabilityOptions,
    IdentifiabilityReport, Issue, NoiseModel, ParameterReport,
};
pub use matrix::Matrix;
pub use optimize::{
    CmaEs, Control, LeastSquaresResult, LevenbergMarquardt, NelderMead, NoObserver, Observer,
    OptimResult, Progress, Termination,
};
pub use sampling::{Sampler, SobolSequence};
pub use sensitivity::{
    morris_screening, sobol_indices, Estimate, MorrisConfig, MorrisDesign, MorrisIndices,
    PairIndex, SaltelliDesign, SobolConfig, SobolIndices,
};
pub use space::{Parameter, ParameterSpace, Scale};
