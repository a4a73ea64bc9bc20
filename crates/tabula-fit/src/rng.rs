//! Seeded random streams.
//!
//! Every random draw in the crate comes from a ChaCha8 generator built from the user's seed and
//! a stream number that names its purpose and, where work is split (bootstrap replicates,
//! optimiser restarts), the index of the piece. Draws never depend on which thread runs them, so
//! results do not depend on the size of the rayon pool.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for; keeps the streams of one seed independent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    Sampling = 1,
    Bootstrap = 2,
    Morris = 3,
    CmaEs = 4,
}

/// The generator for `(seed, purpose, index)`.
pub(crate) fn stream(seed: u64, purpose: Purpose, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 32) | u64::from(index));
    rng
}
