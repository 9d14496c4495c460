//! Euclidean projection onto the capped simplex `{x : 0 <= x_k <= cap, Σ x_k = 1}`.

/// Writes to `out` the point of `{x : 0 <= x_k <= cap, Σ x_k = 1}` closest to `z`.
///
/// Preconditions: `cap > 0`, `out.len() == z.len()`, finite `z`, and `z.len() * cap >= 1`
/// (otherwise the set is empty). When `z.len() * cap < 1` the output is `x_k = cap` for every
/// `k`, the box's point closest to the (unreachable) hyperplane. An empty `z` leaves `out`
/// alone.
///
/// The projection is `clip(z_k - μ, 0, cap)` for the shift μ making the sum 1. The sum is
/// piecewise linear and non-increasing in μ with kinks at `z_k` and `z_k - cap`, so μ is found
/// exactly (up to rounding) by a binary search over the sorted kinks and one linear
/// interpolation: `O(n log n)`, one allocation of `2n` kinks.
pub fn project_capped(z: &[f64], cap: f64, out: &mut [f64]) {
    if z.is_empty() {
        return;
    }
    let shifted_sum = |mu: f64| -> f64 { z.iter().map(|&v| (v - mu).clamp(0.0, cap)).sum() };
    let mut kinks: Vec<f64> = z.iter().flat_map(|&v| [v - cap, v]).collect();
    kinks.sort_by(f64::total_cmp);
    // Invariant: shifted_sum(kinks[lo]) >= 1 > shifted_sum(kinks[hi]) (or hi is the end).
    let (mut lo, mut hi) = (0, kinks.len() - 1);
    if shifted_sum(kinks[hi]) >= 1.0 {
        lo = hi;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if shifted_sum(kinks[mid]) >= 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (a, b) = (kinks[lo], kinks[hi]);
    let (sa, sb) = (shifted_sum(a), shifted_sum(b));
    let mu = if sa > sb && b > a {
        a + (sa - 1.0) / (sa - sb) * (b - a)
    } else {
        a
    };
    for (o, &v) in out.iter_mut().zip(z) {
        *o = (v - mu).clamp(0.0, cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(z: &[f64], cap: f64) -> Vec<f64> {
        let mut x = vec![f64::NAN; z.len()];
        project_capped(z, cap, &mut x);
        x
    }

    fn assert_on_simplex(x: &[f64], cap: f64) {
        assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{x:?}");
        assert!(x.iter().all(|&v| (0.0..=cap).contains(&v)), "{x:?}");
    }

    fn distance_sq(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
    }

    /// Vertices of the capped simplex: every coordinate at 0 or `cap` except at most one,
    /// which takes what is left of the unit sum.
    fn vertices(n: usize, cap: f64) -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        for mask in 0..(1usize << n) {
            for free in 0..=n {
                let mut v: Vec<f64> = (0..n)
                    .map(|k| if mask >> k & 1 == 1 { cap } else { 0.0 })
                    .collect();
                if free < n {
                    v[free] = 0.0;
                    v[free] = 1.0 - v.iter().sum::<f64>();
                }
                if (v.iter().sum::<f64>() - 1.0).abs() < 1e-12
                    && v.iter().all(|&x| (-1e-12..=cap + 1e-12).contains(&x))
                {
                    out.push(v);
                }
            }
        }
        out
    }

    /// Fixed pseudo-random points in `[-1, 2)^n`.
    fn points(n: usize, count: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            3.0 * ((state >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        };
        (0..count)
            .map(|_| (0..n).map(|_| next()).collect())
            .collect()
    }

    const CASES: [(&[f64], f64); 6] = [
        (&[0.2, 0.9, -0.4, 0.3], 1.0),
        (&[5.0, 5.0, 5.0], 0.5),
        (&[0.0, 0.0, 0.0, 0.0], 0.25),
        (&[1.0, -1.0, 0.3, 0.7, 0.2], 0.4),
        (&[3.0], 1.0),
        (&[1e6, -1e6, 0.0], 2.0),
    ];

    #[test]
    fn known_projections() {
        // Only the cap binds on the first coordinate; the rest share what is left equally.
        let x = project(&[1.0, 0.0, 0.0, 0.0], 0.4);
        for (got, want) in x.iter().zip([0.4, 0.2, 0.2, 0.2]) {
            assert!((got - want).abs() < 1e-15, "{x:?}");
        }
        // Nothing binds: a uniform shift by (Σz - 1)/n.
        let x = project(&[0.5, 0.3, 0.5], 1.0);
        for (got, want) in x.iter().zip([0.4, 0.2, 0.4]) {
            assert!((got - want).abs() < 1e-15, "{x:?}");
        }
        // A point already on the simplex stays (exactly, for these).
        assert_eq!(project(&[0.25, 0.75], 1.0), [0.25, 0.75]);
        assert_eq!(project(&[1.0, 0.0, 0.0], 1.0), [1.0, 0.0, 0.0]);
        assert_eq!(project(&[3.0], 1.0), [1.0]);
    }

    #[test]
    fn result_is_on_the_simplex_with_a_common_shift() {
        let random: Vec<(Vec<f64>, f64)> = (1..=6)
            .flat_map(|n| points(n, 40, n as u64))
            .enumerate()
            .map(|(i, z)| {
                let cap = [1.0_f64, 0.5, 0.35][i % 3].max(1.0 / z.len() as f64);
                (z, cap)
            })
            .collect();
        let cases = CASES
            .iter()
            .map(|&(z, cap)| (z.to_vec(), cap))
            .chain(random);
        for (z, cap) in cases {
            let x = project(&z, cap);
            assert_on_simplex(&x, cap);
            // KKT: one shift mu with x_k = clip(z_k - mu, 0, cap).
            let shifts: Vec<f64> = (0..z.len())
                .filter(|&k| x[k] > 0.0 && x[k] < cap)
                .map(|k| z[k] - x[k])
                .collect();
            for w in shifts.windows(2) {
                assert!((w[0] - w[1]).abs() < 1e-12 * (1.0 + w[0].abs()), "{z:?}");
            }
            if let Some(&mu) = shifts.first() {
                for k in 0..z.len() {
                    if x[k] == 0.0 {
                        assert!(z[k] - mu <= 1e-12, "{z:?}");
                    } else if x[k] == cap {
                        assert!(z[k] - mu >= cap - 1e-12, "{z:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn projection_is_idempotent_and_shift_invariant() {
        for (i, z) in points(5, 50, 11).into_iter().enumerate() {
            let cap = [1.0, 0.3, 0.2][i % 3];
            let x = project(&z, cap);
            let again = project(&x, cap);
            for (a, b) in x.iter().zip(&again) {
                assert!((a - b).abs() < 1e-12, "{x:?} vs {again:?}");
            }
            let shifted: Vec<f64> = z.iter().map(|v| v + 0.75).collect();
            let y = project(&shifted, cap);
            for (a, b) in x.iter().zip(&y) {
                assert!((a - b).abs() < 1e-12, "{x:?} vs {y:?}");
            }
        }
    }

    #[test]
    fn projection_is_the_closest_point() {
        // Optimality over a convex polytope: (z - x)·(v - x) <= 0 at each vertex v.
        for n in 1..=5 {
            for (i, z) in points(n, 60, 100 + n as u64).into_iter().enumerate() {
                let cap = [1.0_f64, 0.6, 0.4, 1.0 / n as f64][i % 4].max(1.0 / n as f64);
                let x = project(&z, cap);
                for v in vertices(n, cap) {
                    let inner: f64 = (0..n).map(|k| (z[k] - x[k]) * (v[k] - x[k])).sum();
                    assert!(inner <= 1e-12, "z = {z:?}, x = {x:?}, v = {v:?}: {inner}");
                }
            }
        }
    }

    #[test]
    fn projection_beats_a_brute_force_grid() {
        // Against every point g of a grid of the set: |g - z|² >= |x - z|² + |g - x|² (the
        // projection's Pythagorean inequality, which also makes it the closest point).
        let steps = 200;
        for (i, z) in points(3, 30, 7).into_iter().enumerate() {
            let cap = [1.0, 0.5, 0.4][i % 3];
            let x = project(&z, cap);
            let to_x = distance_sq(&x, &z);
            let mut closest = f64::INFINITY;
            for a in 0..=steps {
                for b in 0..=(steps - a) {
                    let g = [a, b, steps - a - b].map(|m| m as f64 / steps as f64);
                    if g.iter().all(|&v| v <= cap) {
                        let to_g = distance_sq(&g, &z);
                        assert!(to_g + 1e-12 >= to_x + distance_sq(&g, &x), "{z:?}: {g:?}");
                        closest = closest.min(to_g);
                    }
                }
            }
            // And the grid's best is no further than a grid cell's worth.
            assert!(closest - to_x <= 6.0 / steps as f64, "{z:?}");
        }
    }

    #[test]
    fn empty_set_gives_the_cap_everywhere() {
        assert_eq!(project(&[0.3, 0.9, -2.0], 0.2), [0.2, 0.2, 0.2]);
        let mut out: [f64; 0] = [];
        project_capped(&[], 0.5, &mut out);
    }
}
