//! Dense convex QP with box bounds and one zero-sum constraint, by the primal active-set method.

use super::cholesky;

/// Where a variable of the QP sits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bound {
    Free,
    Lower,
    Upper,
}

/// Solver of `min g·d + ½ dᵀ H d` subject to `Σ d = 0` and `lo <= d <= hi`, with buffers
/// reused from one [`solve`](Self::solve) to the next.
///
/// This is the step problem of a Newton method on the capped simplex
/// `{x : 0 <= x_k <= cap, Σ x_k = 1}`: with `lo = -x` and `hi = cap - x`, `x + d` stays on it.
pub struct ZeroSumBoxQp {
    state: Vec<Bound>,
    free: Vec<usize>,
    /// Gradient of the model at the current `d`.
    grad: Vec<f64>,
    /// Cholesky factor of the free block of `H`.
    chol: Vec<f64>,
    /// Step towards the equality-constrained minimum, over the free variables.
    step: Vec<f64>,
    /// `A⁻¹1` for the free block `A`.
    inv_ones: Vec<f64>,
}

impl ZeroSumBoxQp {
    /// Buffers for problems of up to `n` variables.
    pub fn new(n: usize) -> Self {
        ZeroSumBoxQp {
            state: vec![Bound::Free; n],
            free: Vec::with_capacity(n),
            grad: vec![0.0; n],
            chol: vec![0.0; n * n],
            step: vec![0.0; n],
            inv_ones: vec![0.0; n],
        }
    }

    /// Minimises `g·d + ½ dᵀ H d` subject to `Σ d = 0` and `lo <= d <= hi`, writing the
    /// minimiser to `d`.
    ///
    /// Inputs: `n = g.len()`, at most the `n` given to [`new`](Self::new); `h` row-major
    /// `n × n` and symmetric (both triangles are read); `lo`, `hi` and `d` of length `n`,
    /// with `lo <= 0 <= hi` so that `d = 0` is feasible (a variable with `lo >= 0` or
    /// `hi <= 0` is held at 0).
    ///
    /// Method: the primal active-set method from `d = 0`. Solve the equality-constrained
    /// problem on the free variables (a Cholesky factorisation of their block of `H`), walk
    /// towards its solution until a bound blocks (which then joins the working set), and once
    /// at the solution release the bound whose multiplier has the wrong sign, if any; at most
    /// `4n + 8` such steps.
    ///
    /// Guarantees, for finite `g` and `H`: `d` satisfies `lo <= d <= hi` and `Σ d = 0` up to
    /// rounding (an ulp or so: when two variables block a step at once, the one that did not
    /// stop it can cross its bound by rounding; callers clip). For a positive semidefinite `H` it is the minimiser, up to a
    /// ridge of `1e-9 (max H_kk + max|g|)` added to the free block and a multiplier tolerance
    /// of `1e-9 max|g|`, unless the step limit is reached first. The ridge handles vanishing
    /// curvature: along a flat direction the step is long and cut by the bounds, which is
    /// the answer of the linear model. An indefinite `H` is not detected: its failing
    /// pivots are raised to the ridge (see [`cholesky::factor_in_place`]), and `d` is then
    /// feasible but neither a minimiser nor even an improvement on `d = 0` is promised. With
    /// NaN or infinite entries the solver still stops, on a non-finite or zero step, but `d`
    /// is unspecified.
    pub fn solve(&mut self, h: &[f64], g: &[f64], lo: &[f64], hi: &[f64], d: &mut [f64]) {
        let n = g.len();
        d.fill(0.0);
        for k in 0..n {
            self.state[k] = if lo[k] >= 0.0 {
                Bound::Lower
            } else if hi[k] <= 0.0 {
                Bound::Upper
            } else {
                Bound::Free
            };
        }
        let scale = g.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let max_diag = (0..n).fold(0.0_f64, |m, k| m.max(h[k * n + k]));
        // The curvature can vanish in some direction (H only semidefinite). A small ridge
        // keeps the factorisation stable there (a bare pivot floor would not: the factor's
        // entries blow up); the resulting long step is then cut by the bounds, which is the
        // right answer for a linear model.
        let ridge = 1e-9 * (max_diag + scale) + f64::MIN_POSITIVE;
        let multiplier_tol = 1e-9 * scale;

        for _ in 0..(4 * n + 8) {
            for i in 0..n {
                self.grad[i] = g[i] + (0..n).map(|j| h[i * n + j] * d[j]).sum::<f64>();
            }
            self.free.clear();
            self.free
                .extend((0..n).filter(|&k| self.state[k] == Bound::Free));
            if self.free.is_empty() {
                // Every variable is at a bound: λ may be anything consistent with the signs
                // of the multipliers. If no such λ exists, free the worst pair.
                let mut lower = (f64::NEG_INFINITY, None);
                let mut upper = (f64::INFINITY, None);
                for k in 0..n {
                    let v = -self.grad[k];
                    match self.state[k] {
                        Bound::Lower if v > lower.0 => lower = (v, Some(k)),
                        Bound::Upper if v < upper.0 => upper = (v, Some(k)),
                        _ => {}
                    }
                }
                match (lower, upper) {
                    ((l, Some(kl)), (u, Some(ku))) if l > u + multiplier_tol => {
                        self.state[kl] = Bound::Free;
                        self.state[ku] = Bound::Free;
                        continue;
                    }
                    _ => return,
                }
            }
            let m = self.free.len();
            for (r, &i) in self.free.iter().enumerate() {
                for (c, &j) in self.free.iter().enumerate() {
                    self.chol[r * m + c] = h[i * n + j] + if r == c { ridge } else { 0.0 };
                }
                self.inv_ones[r] = 1.0;
            }
            cholesky::factor_in_place(&mut self.chol[..m * m], m, ridge);
            cholesky::solve_in_place(&self.chol[..m * m], m, &mut self.inv_ones[..m]);
            // λ makes p = -A⁻¹(∇q + λ1) sum to zero: λ = -1ᵀA⁻¹∇q / 1ᵀA⁻¹1, a weighted mean
            // of the gradient with weights A⁻¹1 (A is symmetric). Forming ∇q + λ1 before the
            // solve keeps the cancellation at the scale of the gradient instead of the
            // (huge, when A is nearly singular) step.
            let sum_b: f64 = self.inv_ones[..m].iter().sum();
            let weighted: f64 = self
                .free
                .iter()
                .zip(&self.inv_ones)
                .map(|(&i, w)| w * self.grad[i])
                .sum();
            let lambda = -weighted / sum_b;
            for (r, &i) in self.free.iter().enumerate() {
                self.step[r] = -(self.grad[i] + lambda);
            }
            cholesky::solve_in_place(&self.chol[..m * m], m, &mut self.step[..m]);
            // What rounding still leaves in Σp goes along A⁻¹1, the cheapest correction.
            let excess = self.step[..m].iter().sum::<f64>() / sum_b;
            let mut largest = 0.0_f64;
            for r in 0..m {
                self.step[r] -= excess * self.inv_ones[r];
                largest = largest.max(self.step[r].abs());
            }
            if !largest.is_finite() {
                return;
            }
            if largest <= 1e-12 {
                let mut worst = (-multiplier_tol, None);
                for k in 0..n {
                    let nu = match self.state[k] {
                        Bound::Lower => self.grad[k] + lambda,
                        Bound::Upper => -(self.grad[k] + lambda),
                        Bound::Free => continue,
                    };
                    if nu < worst.0 {
                        worst = (nu, Some(k));
                    }
                }
                match worst.1 {
                    Some(k) => self.state[k] = Bound::Free,
                    None => return,
                }
                continue;
            }
            let mut alpha = 1.0;
            let mut blocking = None;
            for (r, &k) in self.free.iter().enumerate() {
                let p = self.step[r];
                if p < 0.0 && d[k] + alpha * p < lo[k] {
                    alpha = (lo[k] - d[k]) / p;
                    blocking = Some((k, Bound::Lower));
                } else if p > 0.0 && d[k] + alpha * p > hi[k] {
                    alpha = (hi[k] - d[k]) / p;
                    blocking = Some((k, Bound::Upper));
                }
            }
            let alpha = alpha.max(0.0);
            for (r, &k) in self.free.iter().enumerate() {
                d[k] += alpha * self.step[r];
            }
            if let Some((k, bound)) = blocking {
                d[k] = if bound == Bound::Lower { lo[k] } else { hi[k] };
                self.state[k] = bound;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{dense::quadratic_form, simplex::project_capped};
    use super::*;

    /// Fixed pseudo-random numbers in `[0, 1)`.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A symmetric positive semidefinite `Bᵀ B` with `B` of `rank × n`.
    fn psd(n: usize, rank: usize, rng: &mut Lcg) -> Vec<f64> {
        let b: Vec<f64> = (0..rank * n).map(|_| rng.next() - 0.5).collect();
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = (0..rank).map(|k| b[k * n + i] * b[k * n + j]).sum::<f64>();
            }
        }
        h
    }

    fn solve(h: &[f64], g: &[f64], lo: &[f64], hi: &[f64]) -> Vec<f64> {
        let mut d = vec![f64::NAN; g.len()];
        ZeroSumBoxQp::new(g.len()).solve(h, g, lo, hi, &mut d);
        d
    }

    /// Checks feasibility and the KKT conditions of `d`: with `r = g + H d`, one λ such that
    /// `r_k + λ` is 0 on free variables, `>= 0` at a lower bound and `<= 0` at an upper one.
    fn assert_kkt(h: &[f64], g: &[f64], lo: &[f64], hi: &[f64], d: &[f64]) {
        let n = g.len();
        assert!(
            d.iter().sum::<f64>().abs() < 1e-12,
            "Σd = {}",
            d.iter().sum::<f64>()
        );
        for k in 0..n {
            assert!(lo[k] - 1e-15 <= d[k] && d[k] <= hi[k] + 1e-15, "{k}: {d:?}");
        }
        let r: Vec<f64> = (0..n)
            .map(|i| g[i] + (0..n).map(|j| h[i * n + j] * d[j]).sum::<f64>())
            .collect();
        let tol = 1e-7 * (1.0 + r.iter().fold(0.0_f64, |m, v| m.max(v.abs())));
        // The admissible λ form an interval: free variables pin it, bounds limit it.
        let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
        for k in 0..n {
            let at_lo = d[k] <= lo[k];
            let at_hi = d[k] >= hi[k];
            if at_lo && at_hi {
                continue;
            }
            if !at_lo {
                // d_k may decrease: r_k + λ <= 0.
                high = high.min(-r[k]);
            }
            if !at_hi {
                // d_k may increase: r_k + λ >= 0.
                low = low.max(-r[k]);
            }
        }
        assert!(
            low <= high + tol,
            "no multiplier fits: [{low}, {high}], d = {d:?}"
        );
    }

    #[test]
    fn identity_hessian_gives_a_projection() {
        // min g·d + ½|d|² over the feasible set is the projection of -g onto it.
        let x = [0.5, 0.3, 0.2, 0.0];
        let cap = 0.6;
        let g = [-0.4, 0.1, 0.3, -0.05];
        let n = x.len();
        let mut h = vec![0.0; n * n];
        for k in 0..n {
            h[k * n + k] = 1.0;
        }
        let lo: Vec<f64> = x.iter().map(|v| -v).collect();
        let hi: Vec<f64> = x.iter().map(|v| cap - v).collect();
        let d = solve(&h, &g, &lo, &hi);
        let target: Vec<f64> = x.iter().zip(&g).map(|(a, b)| a - b).collect();
        let mut expected = vec![0.0; n];
        project_capped(&target, cap, &mut expected);
        for k in 0..n {
            assert!(
                (x[k] + d[k] - expected[k]).abs() < 1e-12,
                "{d:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn interior_solution_matches_the_closed_form() {
        // Diagonal H = diag(a) without active bounds: d_k = -(g_k + λ)/a_k with λ making
        // Σd = 0, i.e. λ = -Σ(g_k/a_k) / Σ(1/a_k).
        let a = [1.0, 2.0, 4.0];
        let g = [0.1, -0.2, 0.05];
        let mut h = vec![0.0; 9];
        for k in 0..3 {
            h[k * 3 + k] = a[k];
        }
        let d = solve(&h, &g, &[-1.0; 3], &[1.0; 3]);
        let lambda =
            -(0..3).map(|k| g[k] / a[k]).sum::<f64>() / a.iter().map(|v| 1.0 / v).sum::<f64>();
        for k in 0..3 {
            let want = -(g[k] + lambda) / a[k];
            assert!((d[k] - want).abs() < 1e-9 * want.abs().max(1e-3), "{d:?}");
        }
    }

    #[test]
    fn linear_objective_moves_mass_between_extreme_gradients() {
        // H = 0: the minimum of a linear function over the box ∩ {Σd = 0} puts the most
        // expensive variable at its lower bound and the cheapest at its upper one.
        let h = vec![0.0; 9];
        let d = solve(&h, &[1.0, -1.0, 0.0], &[-0.5; 3], &[0.5; 3]);
        for (got, want) in d.iter().zip([-0.5, 0.5, 0.0]) {
            assert!((got - want).abs() < 1e-12, "{d:?}");
        }
        // With unequal room the smaller one binds and the middle variable takes the rest.
        let d = solve(&h, &[1.0, -1.0, 0.0], &[-0.5, -0.5, -0.5], &[0.5, 0.2, 0.5]);
        for (got, want) in d.iter().zip([-0.5, 0.2, 0.3]) {
            assert!((got - want).abs() < 1e-12, "{d:?}");
        }
    }

    #[test]
    fn zero_gradient_or_no_room_stays_at_zero() {
        let mut h = vec![0.0; 4];
        h[0] = 1.0;
        h[3] = 1.0;
        assert_eq!(solve(&h, &[0.0, 0.0], &[-1.0; 2], &[1.0; 2]), [0.0, 0.0]);
        // Every variable held at a bound of zero width.
        assert_eq!(solve(&h, &[1.0, -1.0], &[0.0; 2], &[1.0; 2]), [0.0, 0.0]);
        assert_eq!(solve(&[], &[], &[], &[]), Vec::<f64>::new());
    }

    #[test]
    fn random_convex_problems_satisfy_kkt() {
        let mut rng = Lcg(3);
        for case in 0..300 {
            let n = 1 + case % 12;
            // Full rank, rank deficient (semidefinite) and zero Hessians, plus a diagonal.
            let rank = [n, n / 2, 0, n][case % 4];
            let mut h = psd(n, rank, &mut rng);
            if case % 4 == 3 {
                for k in 0..n {
                    h[k * n + k] += rng.next();
                }
            }
            let g: Vec<f64> = (0..n).map(|_| rng.next() - 0.5).collect();
            // Bounds of a point x on the capped simplex, as in a Newton step.
            let cap = (1.0 / n as f64).max([1.0, 0.4, 0.2][case % 3]);
            let raw: Vec<f64> = (0..n).map(|_| rng.next() * rng.next()).collect();
            let mut x = vec![0.0; n];
            project_capped(&raw, cap, &mut x);
            let lo: Vec<f64> = x.iter().map(|v| -v).collect();
            let hi: Vec<f64> = x.iter().map(|v| cap - v).collect();
            let d = solve(&h, &g, &lo, &hi);
            assert_kkt(&h, &g, &lo, &hi, &d);
            // Never worse than staying put.
            let model = |d: &[f64]| {
                g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>() + 0.5 * quadratic_form(&h, d)
            };
            assert!(model(&d) <= 1e-15, "case {case}: {}", model(&d));
        }
    }

    #[test]
    fn indefinite_hessian_still_gives_a_feasible_point() {
        // [[1, 2], [2, 1]] and a negative curvature: not detected, but d stays feasible.
        let h = [1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        let g = [0.3, -0.1, 0.2];
        let (lo, hi) = ([-0.4; 3], [0.6; 3]);
        let d = solve(&h, &g, &lo, &hi);
        assert!(d.iter().sum::<f64>().abs() < 1e-12);
        assert!(
            (0..3).all(|k| lo[k] - 1e-15 <= d[k] && d[k] <= hi[k] + 1e-15),
            "{d:?}"
        );
    }

    #[test]
    fn non_finite_input_terminates() {
        let h = [1.0, 0.0, 0.0, 1.0];
        let (lo, hi) = ([-0.5; 2], [0.5; 2]);
        for g in [
            [f64::NAN, 0.0],
            [f64::INFINITY, 0.0],
            [f64::NEG_INFINITY, 1.0],
        ] {
            solve(&h, &g, &lo, &hi);
        }
        solve(&[f64::NAN, 0.0, 0.0, 1.0], &[0.1, -0.1], &lo, &hi);
    }
}
