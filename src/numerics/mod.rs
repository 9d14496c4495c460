//! General numerical building blocks: dense Cholesky, a box-and-zero-sum QP, projection onto
//! the capped simplex. Pure maths on `f64` slices, nothing of the simulation.
//!
//! Matrices are row-major `n × n` `&[f64]` slices. The sizes met are small (`n` = the
//! hedging horizon, typically 20 and at most 500), so the code is plain loops, written for
//! reproducible floating point: every sum runs in a fixed order and nothing is fused, so
//! results are bit-for-bit the same on every IEEE-754 platform and in every build profile.
//!
//! Why not a linear-algebra crate: `nalgebra` 0.35 (`DMatrix`, `Cholesky`) was measured in
//! its place. Its factor and two solves are 1.3–1.5× slower than [`cholesky`]'s for `n <= 10`,
//! level at 20 and 2.5× faster from 100 on; put into [`qp::ZeroSumBoxQp`] it made the hedging
//! kernel bench (`N = 20`) 4–5% slower. And it changes results in the last bits: it divides
//! by the pivot where [`cholesky::factor_in_place`] multiplies by its reciprocal, its back
//! substitution subtracts one dot product summed with eight accumulators instead of term by
//! term, and it has no pivot floor (it substitutes only non-positive pivots).

pub mod cholesky;
pub mod dense;
pub mod qp;
pub mod simplex;
