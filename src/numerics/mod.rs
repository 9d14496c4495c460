//! General numerical building blocks: dense Cholesky, a box-and-zero-sum QP, projection onto
//! the capped simplex. Pure maths on `f64` slices, nothing of the simulation.
//!
//! Matrices are row-major `n × n` `&[f64]` slices. The sizes met are small (`n` = the
//! hedging horizon, typically 20 and at most 500), so the code is plain loops, written for
//! reproducible floating point: every sum runs in a fixed order and nothing is fused, so
//! results are bit-for-bit the same on every IEEE-754 platform and in every build profile.

pub mod cholesky;
pub mod dense;
pub mod qp;
pub mod simplex;
