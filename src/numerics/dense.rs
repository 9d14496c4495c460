//! Small helpers on row-major dense matrices stored as `&[f64]`.

/// `dᵀ H d` for the row-major `n × n` matrix `h`, with `n = d.len()`.
///
/// `h.len()` must be at least `n * n`; `h` need not be symmetric. Summed row by row,
/// `Σ_i d_i (Σ_j H_ij d_j)`, left to right. An empty `d` gives 0.
pub fn quadratic_form(h: &[f64], d: &[f64]) -> f64 {
    let n = d.len();
    (0..n)
        .map(|i| d[i] * (0..n).map(|j| h[i * n + j] * d[j]).sum::<f64>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        // [[2, 1], [1, 3]] at (1, -2): 2 - 2 - 2 + 12 = 10.
        assert_eq!(quadratic_form(&[2.0, 1.0, 1.0, 3.0], &[1.0, -2.0]), 10.0);
        // Only the symmetric part counts: [[0, 4], [0, 0]] at (1, 1) is 4, like [[0, 2], [2, 0]].
        assert_eq!(quadratic_form(&[0.0, 4.0, 0.0, 0.0], &[1.0, 1.0]), 4.0);
        assert_eq!(quadratic_form(&[0.0, 2.0, 2.0, 0.0], &[1.0, 1.0]), 4.0);
        // The identity gives the squared norm.
        let identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(quadratic_form(&identity, &[1.0, 2.0, 2.0]), 9.0);
        assert_eq!(quadratic_form(&[], &[]), 0.0);
    }
}
