//! Space-filling designs in the unit cube and their scaling to parameter ranges.
//!
//! Three samplers, all deterministic for a given seed:
//!
//! * [`Sampler::Sobol`]: the Sobol sequence with Joe-Kuo D(6) direction numbers
//!   ([`SobolSequence`], up to [`SobolSequence::MAX_DIMS`] dimensions), starting at point 0;
//!   the seed is not used. Prefer sample sizes that are powers of two.
//! * [`Sampler::SobolShifted`]: the same with a seeded random digital shift.
//! * [`Sampler::LatinHypercube`]: one point in each of `n` equal strata per dimension, strata
//!   paired by independent random permutations, jittered uniformly inside each stratum
//!   (McKay, Beckman and Conover 1979).
//! * [`Sampler::Uniform`]: independent uniform draws.
//!
//! Unit designs are mapped to physical values by [`ParameterSpace::scale_design`], which
//! honours linear and logarithmic parameters.

mod joe_kuo;
mod sobol;

pub use sobol::SobolSequence;

use crate::error::{FitError, Result};
use crate::matrix::Matrix;
use crate::rng::{self, Purpose};
use crate::space::ParameterSpace;
use rand::RngExt;

/// Choice of design generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampler {
    /// Unscrambled Sobol sequence (seed ignored).
    #[default]
    Sobol,
    /// Sobol sequence with a seeded random digital shift.
    SobolShifted,
    /// Latin hypercube with random pairing and jitter.
    LatinHypercube,
    /// Independent uniform draws.
    Uniform,
}

impl Sampler {
    /// An `n x dims` design in `[0, 1)^dims`.
    pub fn unit_design(self, n: usize, dims: usize, seed: u64) -> Result<Matrix> {
        if n == 0 {
            return Err(FitError::setting("number of samples", 0, "at least 1"));
        }
        if dims == 0 {
            return Err(FitError::EmptyParameterSpace);
        }
        match self {
            Sampler::Sobol => SobolSequence::new(dims)?.take(n),
            Sampler::SobolShifted => SobolSequence::with_digital_shift(dims, seed)?.take(n),
            Sampler::LatinHypercube => Ok(latin_hypercube(n, dims, seed)),
            Sampler::Uniform => {
                let mut rng = rng::stream(seed, Purpose::Sampling, 0);
                let data = (0..n * dims).map(|_| rng.random::<f64>()).collect();
                Matrix::from_row_major(n, dims, data)
            }
        }
    }

    /// An `n`-point design over `space`, in physical units.
    pub fn design(self, space: &ParameterSpace, n: usize, seed: u64) -> Result<Matrix> {
        let unit = self.unit_design(n, space.dim(), seed)?;
        space.scale_design(&unit)
    }
}

fn latin_hypercube(n: usize, dims: usize, seed: u64) -> Matrix {
    let mut rng = rng::stream(seed, Purpose::Sampling, 1);
    let mut m = Matrix::zeros(n, dims);
    let mut perm: Vec<usize> = Vec::with_capacity(n);
    for j in 0..dims {
        perm.clear();
        perm.extend(0..n);
        // Fisher-Yates shuffle.
        for i in (1..n).rev() {
            let k = rng.random_range(0..=i);
            perm.swap(i, k);
        }
        for (i, &stratum) in perm.iter().enumerate() {
            let u: f64 = rng.random();
            m.set(i, j, (stratum as f64 + u) / n as f64);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Parameter;

    #[test]
    fn latin_hypercube_has_one_point_per_stratum() {
        let n = 50;
        let m = Sampler::LatinHypercube.unit_design(n, 4, 3).unwrap();
        for j in 0..4 {
            let mut cells: Vec<usize> = (0..n).map(|i| (m.get(i, j) * n as f64) as usize).collect();
            cells.sort_unstable();
            assert_eq!(cells, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn designs_are_seeded_and_in_range() {
        for s in [
            Sampler::Sobol,
            Sampler::SobolShifted,
            Sampler::LatinHypercube,
            Sampler::Uniform,
        ] {
            let a = s.unit_design(64, 3, 11).unwrap();
            assert_eq!(a, s.unit_design(64, 3, 11).unwrap());
            assert!(a.as_slice().iter().all(|&x| (0.0..1.0).contains(&x)));
        }
        assert_ne!(
            Sampler::Uniform.unit_design(8, 2, 1).unwrap(),
            Sampler::Uniform.unit_design(8, 2, 2).unwrap()
        );
        assert!(Sampler::Uniform.unit_design(0, 2, 1).is_err());
        assert!(Sampler::Uniform.unit_design(3, 0, 1).is_err());
    }

    #[test]
    fn log_parameters_are_log_uniform() {
        let space = ParameterSpace::new(vec![Parameter::log("k", 1e-2, 1e2)]).unwrap();
        let d = Sampler::Sobol.design(&space, 1024, 0).unwrap();
        // Half the points should lie below the geometric midpoint 1.
        let below = d.as_slice().iter().filter(|&&x| x < 1.0).count();
        assert_eq!(below, 512);
        assert!(d.as_slice().iter().all(|&x| (1e-2..=1e2).contains(&x)));
    }
}
