//! Cholesky factorisation `A = L Lᵀ` of a small dense symmetric matrix, and the solve with it.
//!
//! Matrices are row-major `m × m` slices. The factor overwrites the lower triangle of the
//! input; the strict upper triangle is left as it was and never read.

/// Lower Cholesky factor of the row-major `m × m` symmetric `a`, in place.
///
/// Reads the lower triangle and diagonal of `a` (`a[i * m + j]` for `j <= i`) and overwrites
/// them with `L`, the lower-triangular matrix with `L Lᵀ = A`; the strict upper triangle is
/// left untouched. `a.len()` must be at least `m * m`; `m = 0` does nothing.
///
/// Never fails. Each pivot (the diagonal entry before its square root is taken) that is not
/// above `floor` — including a negative or NaN one — is replaced by `floor`, so for a
/// positive `floor`:
///
/// - a positive definite `A` whose pivots all exceed `floor` gets its exact factor (up to
///   rounding);
/// - a semidefinite or indefinite `A` (or one that rounding makes so) gets the factor of
///   `A + D` for a non-negative diagonal `D`, the smallest that lifts each failing pivot to
///   `floor`. The factor then has a diagonal of at least `sqrt(floor)`, so
///   [`solve_in_place`] stays finite, but its entries grow like `1/sqrt(floor)` along the
///   near-null directions. Adding a small ridge to the diagonal first, and passing the ridge
///   as `floor`, keeps them at the ridge's scale.
///
/// With `floor <= 0` a non-positive pivot gives a zero or NaN diagonal entry and the solve
/// divides by it. NaN entries off the diagonal propagate.
pub fn factor_in_place(a: &mut [f64], m: usize, floor: f64) {
    for j in 0..m {
        let mut pivot = a[j * m + j];
        for k in 0..j {
            pivot -= a[j * m + k] * a[j * m + k];
        }
        let pivot = if pivot > floor { pivot } else { floor }.sqrt();
        a[j * m + j] = pivot;
        let inverse = 1.0 / pivot;
        for i in (j + 1)..m {
            let mut v = a[i * m + j];
            for k in 0..j {
                v -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = v * inverse;
        }
    }
}

/// Solves `L Lᵀ x = b` in place (`b` becomes `x`), for the factor `l` written by
/// [`factor_in_place`] (row-major `m × m`, only its lower triangle read).
///
/// Forward substitution with `L`, then back substitution with `Lᵀ`. Only `b[..m]` is read
/// and written; `b.len()` must be at least `m` and `l.len()` at least `m * m`. A zero
/// diagonal entry (from a `floor <= 0`) gives infinities or NaNs.
pub fn solve_in_place(l: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        let mut v = b[i];
        for k in 0..i {
            v -= l[i * m + k] * b[k];
        }
        b[i] = v / l[i * m + i];
    }
    for i in (0..m).rev() {
        let mut v = b[i];
        for k in (i + 1)..m {
            v -= l[k * m + i] * b[k];
        }
        b[i] = v / l[i * m + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A x` for the row-major square `a`.
    fn multiply(a: &[f64], x: &[f64]) -> Vec<f64> {
        let m = x.len();
        (0..m)
            .map(|i| (0..m).map(|j| a[i * m + j] * x[j]).sum())
            .collect()
    }

    /// A well-conditioned SPD matrix `Bᵀ B + m I` from a fixed pseudo-random `B`.
    fn spd(m: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let b: Vec<f64> = (0..m * m).map(|_| next()).collect();
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                a[i * m + j] = (0..m).map(|k| b[k * m + i] * b[k * m + j]).sum::<f64>();
            }
            a[i * m + i] += m as f64;
        }
        a
    }

    #[test]
    fn factor_of_a_known_matrix_is_exact() {
        // A textbook example whose factor has small integer entries, exact in floating point.
        let mut a = vec![4.0, 12.0, -16.0, 12.0, 37.0, -43.0, -16.0, -43.0, 98.0];
        factor_in_place(&mut a, 3, 0.0);
        let lower = [a[0], a[3], a[4], a[6], a[7], a[8]];
        assert_eq!(lower, [2.0, 6.0, 1.0, -8.0, 5.0, 3.0]);
        // The strict upper triangle is left as it was.
        assert_eq!([a[1], a[2], a[5]], [12.0, -16.0, -43.0]);
    }

    #[test]
    fn solve_inverts_the_known_matrix() {
        let a = vec![4.0, 12.0, -16.0, 12.0, 37.0, -43.0, -16.0, -43.0, 98.0];
        let x = [1.0, -2.0, 3.0];
        let mut b = multiply(&a, &x);
        let mut l = a.clone();
        factor_in_place(&mut l, 3, 0.0);
        solve_in_place(&l, 3, &mut b);
        for (got, want) in b.iter().zip(&x) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn factor_times_its_transpose_gives_back_the_matrix() {
        for m in [1, 2, 5, 20, 60] {
            let a = spd(m, m as u64);
            let mut l = a.clone();
            factor_in_place(&mut l, m, 0.0);
            for i in 0..m {
                for j in 0..=i {
                    let llt: f64 = (0..=j).map(|k| l[i * m + k] * l[j * m + k]).sum();
                    assert!(
                        (llt - a[i * m + j]).abs() <= 1e-12 * a[i * m + i],
                        "m = {m}"
                    );
                }
                assert!(l[i * m + i] > 0.0);
            }
        }
    }

    #[test]
    fn solve_gives_a_small_residual() {
        for m in [1, 3, 20, 100] {
            let a = spd(m, 7 + m as u64);
            let b: Vec<f64> = (0..m).map(|i| (i as f64).sin() + 0.5).collect();
            let mut l = a.clone();
            factor_in_place(&mut l, m, 0.0);
            let mut x = b.clone();
            solve_in_place(&l, m, &mut x);
            let r = multiply(&a, &x);
            for (ri, bi) in r.iter().zip(&b) {
                assert!((ri - bi).abs() < 1e-12 * m as f64, "m = {m}");
            }
        }
    }

    #[test]
    fn a_failing_pivot_is_raised_to_the_floor() {
        // [[1, 2], [2, 1]] is indefinite (eigenvalues 3 and -1): the second pivot 1 - 4 = -3
        // is replaced by the floor, giving the factor of [[1, 2], [2, 4 + floor]].
        let floor = 0.25;
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        factor_in_place(&mut a, 2, floor);
        assert_eq!([a[0], a[2], a[3]], [1.0, 2.0, 0.5]);
        // A pivot equal to the floor is kept, one just below it raised.
        let mut a = vec![floor];
        factor_in_place(&mut a, 1, floor);
        assert_eq!(a, [0.5]);
        let mut a = vec![0.2];
        factor_in_place(&mut a, 1, floor);
        assert_eq!(a, [0.5]);
        // A NaN pivot counts as failing.
        let mut a = vec![f64::NAN];
        factor_in_place(&mut a, 1, floor);
        assert_eq!(a, [0.5]);
    }

    #[test]
    fn singular_matrix_solves_as_the_lifted_one() {
        // [[1, 1], [1, 1]] is singular: its second pivot 0 is lifted to the floor e, so the
        // solve is that of [[1, 1], [1, 1 + e]], here exact with e a power of two.
        let e = 2f64.powi(-40);
        let mut a = vec![1.0, 1.0, 1.0, 1.0];
        factor_in_place(&mut a, 2, e);
        assert_eq!([a[0], a[2], a[3]], [1.0, 1.0, 2f64.powi(-20)]);
        let mut x = vec![1.0, -1.0];
        solve_in_place(&a, 2, &mut x);
        assert_eq!(x, [1.0 + 2f64.powi(41), -(2f64.powi(41))]);
    }

    #[test]
    fn empty_matrix_is_a_no_op() {
        let mut a: Vec<f64> = Vec::new();
        factor_in_place(&mut a, 0, 0.0);
        let mut b: Vec<f64> = Vec::new();
        solve_in_place(&a, 0, &mut b);
        assert!(b.is_empty());
    }
}
