//! Sobol low-discrepancy sequence with Joe-Kuo D(6) direction numbers.
//!
//! Point `i` in dimension `j` is `x_ij = (g_i . v_j) / 2^32` where `g_i = i XOR (i >> 1)` is
//! the Gray code of `i`, `.` is the XOR of the direction numbers `v_jk` selected by the set
//! bits of `g_i`, and the direction numbers come from a primitive polynomial over GF(2) and
//! initial values `m_k` (Bratley and Fox 1988; Joe and Kuo 2008). Consecutive points differ by
//! one XOR, so the sequence is generated in `O(d)` per point. Point 0 is the origin; the
//! first `2^m` points of every dimension fall one in each interval `[k/2^m, (k+1)/2^m)`, so
//! powers of two are the natural sample sizes.

use super::joe_kuo::JOE_KUO_D6;
use crate::error::{FitError, Result};
use crate::matrix::Matrix;
use crate::rng::{self, Purpose};
use rand::RngExt;

const BITS: usize = 32;
const SCALE: f64 = 1.0 / 4_294_967_296.0; // 2^-32

/// Generator of the (optionally digitally shifted) Sobol sequence.
#[derive(Debug, Clone)]
pub struct SobolSequence {
    directions: Vec<[u32; BITS]>,
    shift: Vec<u32>,
    state: Vec<u32>,
    next_index: u64,
}

impl SobolSequence {
    /// Highest dimension supported by the embedded direction numbers.
    pub const MAX_DIMS: usize = JOE_KUO_D6.len() + 1;

    /// Number of points the 32-bit sequence can produce.
    pub const MAX_POINTS: u64 = 1 << BITS;

    /// The unscrambled sequence in `dims` dimensions (deterministic; no seed needed).
    pub fn new(dims: usize) -> Result<Self> {
        if dims == 0 {
            return Err(FitError::setting("Sobol dimensions", 0, "at least 1"));
        }
        if dims > Self::MAX_DIMS {
            return Err(FitError::TooManyDimensions {
                sampler: "the Sobol sequence",
                max: Self::MAX_DIMS,
                requested: dims,
            });
        }
        let directions = (0..dims).map(direction_numbers).collect();
        Ok(SobolSequence {
            directions,
            shift: vec![0; dims],
            state: vec![0; dims],
            next_index: 0,
        })
    }

    /// The sequence with a random digital shift (each coordinate XOR-ed with a seeded 32-bit
    /// word). The shift keeps the net structure and makes the sequence an unbiased randomised
    /// QMC design; different seeds give independent replicates.
    pub fn with_digital_shift(dims: usize, seed: u64) -> Result<Self> {
        let mut s = Self::new(dims)?;
        let mut rng = rng::stream(seed, Purpose::Sampling, 0);
        for w in &mut s.shift {
            *w = rng.random::<u32>();
        }
        Ok(s)
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        self.directions.len()
    }

    /// Index of the point that the next call to [`next_into`](Self::next_into) returns.
    pub fn position(&self) -> u64 {
        self.next_index
    }

    /// Jumps so that the next point returned is point `index`.
    pub fn seek(&mut self, index: u64) -> Result<()> {
        if index >= Self::MAX_POINTS {
            return Err(FitError::SequenceExhausted {
                max: Self::MAX_POINTS,
            });
        }
        let gray = index ^ (index >> 1);
        for (s, v) in self.state.iter_mut().zip(&self.directions) {
            *s = (0..BITS)
                .filter(|&k| (gray >> k) & 1 == 1)
                .fold(0, |acc, k| acc ^ v[k]);
        }
        self.next_index = index;
        Ok(())
    }

    /// Writes the next point into `out` (length `dims()`), each coordinate in `[0, 1)`.
    pub fn next_into(&mut self, out: &mut [f64]) -> Result<()> {
        if out.len() != self.dims() {
            return Err(FitError::DimensionMismatch {
                what: "Sobol point buffer".into(),
                expected: self.dims(),
                found: out.len(),
            });
        }
        if self.next_index >= Self::MAX_POINTS {
            return Err(FitError::SequenceExhausted {
                max: Self::MAX_POINTS,
            });
        }
        for ((o, s), sh) in out.iter_mut().zip(&self.state).zip(&self.shift) {
            *o = f64::from(s ^ sh) * SCALE;
        }
        // Advance the state to the next index: flip the direction number of the lowest set
        // bit of the new index (Gray-code ordering).
        self.next_index += 1;
        if self.next_index < Self::MAX_POINTS {
            let c = self.next_index.trailing_zeros() as usize;
            for (s, v) in self.state.iter_mut().zip(&self.directions) {
                *s ^= v[c];
            }
        }
        Ok(())
    }

    /// The next `n` points as an `n x dims` matrix.
    pub fn take(&mut self, n: usize) -> Result<Matrix> {
        let mut m = Matrix::zeros(n, self.dims());
        for i in 0..n {
            self.next_into(m.row_mut(i))?;
        }
        Ok(m)
    }
}

/// Direction numbers `v_k = m_k 2^(32-k)` of dimension `j` (zero-based).
fn direction_numbers(j: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if j == 0 {
        for (k, vk) in v.iter_mut().enumerate() {
            *vk = 1 << (BITS - 1 - k);
        }
        return v;
    }
    let (a, m) = JOE_KUO_D6[j - 1];
    let s = m.len();
    for k in 0..s.min(BITS) {
        v[k] = m[k] << (BITS - 1 - k);
    }
    for k in s..BITS {
        let mut x = v[k - s] ^ (v[k - s] >> s);
        for i in 1..s {
            if (a >> (s - 1 - i)) & 1 == 1 {
                x ^= v[k - i];
            }
        }
        v[k] = x;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_points_match_the_published_sequence() {
        let mut s = SobolSequence::new(2).unwrap();
        let m = s.take(8).unwrap();
        let expected = [
            [0.0, 0.0],
            [0.5, 0.5],
            [0.75, 0.25],
            [0.25, 0.75],
            [0.375, 0.375],
            [0.875, 0.875],
            [0.625, 0.125],
            [0.125, 0.625],
        ];
        for (row, e) in m.rows().zip(expected) {
            assert_eq!(row, e);
        }
    }

    #[test]
    fn seek_agrees_with_iteration() {
        let mut a = SobolSequence::new(40).unwrap();
        let all = a.take(300).unwrap();
        let mut b = SobolSequence::new(40).unwrap();
        b.seek(217).unwrap();
        let mut p = vec![0.0; 40];
        b.next_into(&mut p).unwrap();
        assert_eq!(p.as_slice(), all.row(217));
    }

    /// Every dimension of the first 2^m points has one point per dyadic interval of length
    /// 2^-m: the defining (0, m, 1)-net property, which fails for a corrupted table row.
    #[test]
    fn every_dimension_is_stratified() {
        let n = 1024;
        let dims = SobolSequence::MAX_DIMS;
        let pts = SobolSequence::new(dims).unwrap().take(n).unwrap();
        for j in 0..dims {
            let mut seen = vec![false; n];
            for i in 0..n {
                let cell = (pts.get(i, j) * n as f64) as usize;
                assert!(!seen[cell], "dimension {j} hits cell {cell} twice");
                seen[cell] = true;
            }
        }
    }

    /// Multiplies two GF(2) polynomials modulo `p` (degree `deg`).
    fn mulmod(mut a: u64, mut b: u64, p: u64, deg: u32) -> u64 {
        let mut r = 0;
        while b != 0 {
            if b & 1 == 1 {
                r ^= a;
            }
            b >>= 1;
            a <<= 1;
            if (a >> deg) & 1 == 1 {
                a ^= p;
            }
        }
        r
    }

    fn powmod(mut e: u64, p: u64, deg: u32) -> u64 {
        let (mut base, mut r) = (0b10u64, 1u64);
        while e > 0 {
            if e & 1 == 1 {
                r = mulmod(r, base, p, deg);
            }
            base = mulmod(base, base, p, deg);
            e >>= 1;
        }
        r
    }

    #[test]
    fn direction_table_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (row, (a, m)) in JOE_KUO_D6.iter().enumerate() {
            let s = m.len() as u32;
            assert!((1..=31).contains(&s));
            for (k, &mk) in m.iter().enumerate() {
                assert!(
                    mk % 2 == 1 && mk < (1 << (k + 1)),
                    "row {row}: bad m_{}",
                    k + 1
                );
            }
            assert!(u64::from(*a) < (1 << (s - 1)).max(1));
            assert!(seen.insert((s, *a)), "row {row}: polynomial repeated");
            // x must have multiplicative order exactly 2^s - 1 modulo the polynomial.
            let p = (1u64 << s) | (u64::from(*a) << 1) | 1;
            let order = (1u64 << s) - 1;
            if s == 1 {
                continue; // x + 1 is the only primitive polynomial of degree 1.
            }
            assert_eq!(powmod(order, p, s), 1, "row {row}: not primitive");
            let mut n = order;
            let mut q = 2;
            while n > 1 {
                if n.is_multiple_of(q) {
                    assert_ne!(powmod(order / q, p, s), 1, "row {row}: not primitive");
                    while n.is_multiple_of(q) {
                        n /= q;
                    }
                }
                q += 1;
            }
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(SobolSequence::new(0).is_err());
        assert!(SobolSequence::new(SobolSequence::MAX_DIMS + 1).is_err());
        let mut s = SobolSequence::new(2).unwrap();
        assert!(s.next_into(&mut [0.0; 3]).is_err());
        assert!(s.seek(SobolSequence::MAX_POINTS).is_err());
        s.seek(SobolSequence::MAX_POINTS - 1).unwrap();
        s.next_into(&mut [0.0; 2]).unwrap();
        assert!(matches!(
            s.next_into(&mut [0.0; 2]),
            Err(FitError::SequenceExhausted { .. })
        ));
    }

    #[test]
    fn digital_shift_is_seeded() {
        let a = SobolSequence::with_digital_shift(5, 7).unwrap().take(16);
        let b = SobolSequence::with_digital_shift(5, 7).unwrap().take(16);
        let c = SobolSequence::with_digital_shift(5, 8).unwrap().take(16);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
