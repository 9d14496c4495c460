//! CRRA utility: the utility, its inverse, certainty equivalents and the Arrow–Pratt premium.
//!
//! g is the coefficient of relative risk aversion; g = 1 is log utility. Everything near
//! g = 1 is computed in a form that does not cancel, so results are continuous there.

/// CRRA utility w^(1−g)/(1−g), and ln w at g = 1 (the textbook form).
///
/// Undefined for w ≤ 0, except at w = 0 exactly: −∞ for g ≥ 1 (0 for g < 1). For w < 0
/// the number returned means nothing. Near g = 1 the values grow like 1/(1−g); use
/// [`crra_shifted`] there.
pub fn crra(w: f64, g: f64) -> f64 {
    if g == 1.0 {
        w.ln()
    } else {
        let a = 1.0 - g;
        w.powf(a) / a
    }
}

/// expm1(x)/x, with its limit 1 at x = 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() < 1e-5 {
        // Taylor series; the next term, x³/24, is below 1e-16.
        1.0 + x * (0.5 + x / 6.0)
    } else {
        x.exp_m1() / x
    }
}

/// CRRA utility shifted to (w^(1−g) − 1)/(1−g): the same preferences as [`crra`] (it
/// differs by the constant 1/(1−g)), but continuous in g, tending to ln w as g → 1.
///
/// Computed as ln w · expm1_over_x((1−g)·ln w), which does not cancel near g = 1 or
/// w = 1. At w = 0: −∞ for g ≥ 1, −1/(1−g) for g < 1; undefined for w < 0.
pub fn crra_shifted(w: f64, g: f64) -> f64 {
    let a = 1.0 - g;
    if w == 0.0 {
        return if a <= 0.0 {
            f64::NEG_INFINITY
        } else {
            -1.0 / a
        };
    }
    let log_w = w.ln();
    log_w * expm1_over_x(a * log_w)
}

/// The wealth whose [`crra`] utility is `u`: ((1−g)·u)^(1/(1−g)), and e^u at g = 1.
///
/// `u` must be in the range of [`crra`]: u ≥ 0 for g < 1, u < 0 for g > 1, any u at
/// g = 1. Like [`crra`] it is ill-conditioned as g → 1 (relative error ~ ε/|1−g|).
pub fn crra_inverse(u: f64, g: f64) -> f64 {
    if g == 1.0 {
        u.exp()
    } else {
        let a = 1.0 - g;
        (a * u).powf(1.0 / a)
    }
}

/// The certainty equivalent under CRRA g of equally likely outcomes `wealth`:
/// (mean w^(1−g))^(1/(1−g)), the geometric mean at g = 1.
///
/// Computed in log space: with a = 1−g and ℓ_i = ln w_i, CE = exp(L(a)/a) where
/// L(a) = ln mean exp(a ℓ_i). L is ln_1p(mean expm1(a ℓ_i)) when every |a ℓ_i| < 0.5,
/// so that L(a)/a does not cancel as a → 0, and a max-shifted log-sum-exp otherwise.
///
/// Edge cases: an empty slice gives NaN. For g ≥ 1 any w_i ≤ 0 gives 0 (its utility is
/// −∞). For g < 1 outcomes of exactly 0 are allowed (w^(1−g) = 0), and any w_i < 0 gives
/// NaN.
pub fn certainty_equivalent(wealth: &[f64], g: f64) -> f64 {
    if wealth.is_empty() {
        return f64::NAN;
    }
    let a = 1.0 - g;
    if wealth.iter().any(|&w| w <= 0.0) {
        if a <= 0.0 {
            return 0.0;
        }
        if wealth.iter().any(|&w| w < 0.0) {
            return f64::NAN;
        }
    }
    let n = wealth.len() as f64;
    if a == 0.0 {
        return (wealth.iter().map(|w| w.ln()).sum::<f64>() / n).exp();
    }
    let largest_exponent = wealth
        .iter()
        .map(|w| (a * w.ln()).abs())
        .fold(0.0, f64::max);
    let log_mean_power = if largest_exponent < 0.5 {
        let mean_expm1 = wealth.iter().map(|w| (a * w.ln()).exp_m1()).sum::<f64>() / n;
        mean_expm1.ln_1p()
    } else {
        let shift = wealth
            .iter()
            .map(|w| a * w.ln())
            .fold(f64::NEG_INFINITY, f64::max);
        if shift == f64::NEG_INFINITY {
            return 0.0; // every outcome is 0 (g < 1)
        }
        let sum: f64 = wealth.iter().map(|w| (a * w.ln() - shift).exp()).sum();
        shift + (sum / n).ln()
    };
    (log_mean_power / a).exp()
}

/// The certainty equivalent under CRRA g of W = exp(X), X ~ N(m, s2): exp(m + (1−g)·s2/2)
/// (exact).
pub fn lognormal_certainty_equivalent(m: f64, s2: f64, g: f64) -> f64 {
    (m + (1.0 - g) * s2 / 2.0).exp()
}

/// The Arrow–Pratt risk premium g·variance/(2·wealth): to second order, how much
/// certainty equivalent is lost by adding a zero-mean risk of that variance to `wealth`
/// (relative risk aversion g is absolute risk aversion g/wealth).
pub fn arrow_pratt_premium(wealth: f64, g: f64, variance: f64) -> f64 {
    g * variance / (2.0 * wealth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn relative_gap(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn crra_has_the_textbook_values() {
        assert_eq!(crra(2.0, 2.0), -0.5);
        assert_eq!(crra(2.0, 0.0), 2.0);
        assert_eq!(crra(2.0, 1.0), std::f64::consts::LN_2);
        assert_eq!(crra(0.0, 1.0), f64::NEG_INFINITY);
        assert_eq!(crra(0.0, 3.0), f64::NEG_INFINITY);
        assert_eq!(crra(0.0, 0.5), 0.0);
        assert_eq!(crra_shifted(2.0, 2.0), 0.5);
        assert_eq!(crra_shifted(0.0, 3.0), f64::NEG_INFINITY);
        assert_eq!(crra_shifted(0.0, 0.5), -2.0);
        assert_eq!(crra_shifted(1.0, 0.3), 0.0);
    }

    #[test]
    fn crra_shifted_is_continuous_and_accurate_at_log_utility() {
        // Near g = 1 the shifted utility is ℓ·(1 + x/2 + …) with x = (1−g)ℓ: it moves from
        // ln w by about ε·ℓ²/2, and the naive (w^a − 1)/a would be off by ~1e-16/ε.
        let epsilon = 1e-9;
        for w in [
            1e-6f64, 0.01, 0.5, 0.999_999, 1.0, 1.000_001, 2.0, 10.0, 1e6,
        ] {
            let log_w = w.ln();
            let scale = log_w.abs().max(1.0);
            assert_eq!(crra_shifted(w, 1.0), log_w);
            for a in [epsilon, -epsilon] {
                let shifted = crra_shifted(w, 1.0 - a);
                let expected = log_w * (1.0 + a * log_w / 2.0);
                assert!((shifted - expected).abs() < 1e-15 * scale, "w {w}, a {a}");
                assert!(
                    (shifted - log_w).abs()
                        <= epsilon * log_w * log_w / 2.0 * 1.001 + 1e-15 * scale
                );
            }
            for g in [0.0, 0.5, 2.0, 5.0] {
                let gap = crra(w, g) - crra_shifted(w, g);
                assert!((gap - 1.0 / (1.0 - g)).abs() < 1e-12 * crra(w, g).abs().max(1.0));
            }
        }
    }

    #[test]
    fn certainty_equivalent_is_the_arithmetic_geometric_and_harmonic_mean() {
        let arithmetic = certainty_equivalent(&[1.0, 2.0, 3.0, 6.0], 0.0);
        assert!(relative_gap(arithmetic, 3.0) < 1e-14);
        let geometric = certainty_equivalent(&[1.0, 2.0, 4.0, 8.0], 1.0);
        assert!(relative_gap(geometric, 2.0 * std::f64::consts::SQRT_2) < 1e-14);
        let harmonic = certainty_equivalent(&[1.0, 2.0, 4.0, 4.0], 2.0);
        assert!(relative_gap(harmonic, 2.0) < 1e-14);
    }

    #[test]
    fn certainty_equivalent_edge_cases() {
        assert!(certainty_equivalent(&[], 2.0).is_nan());
        assert_eq!(certainty_equivalent(&[1.0, 0.0], 1.0), 0.0);
        assert_eq!(certainty_equivalent(&[1.0, -1.0], 3.0), 0.0);
        assert!(certainty_equivalent(&[1.0, -1.0], 0.5).is_nan());
        assert_eq!(certainty_equivalent(&[0.0, 0.0], 0.5), 0.0);
        // g = 1/2: (mean √w)² = ((0 + 2)/2)² = 1.
        assert!(relative_gap(certainty_equivalent(&[0.0, 4.0], 0.5), 1.0) < 1e-14);
        assert!(relative_gap(certainty_equivalent(&[3.0], 7.0), 3.0) < 1e-14);
    }

    #[test]
    fn certainty_equivalent_is_continuous_at_log_utility() {
        let near_one = [0.9, 1.0, 1.1, 1.2];
        let at_one = certainty_equivalent(&near_one, 1.0);
        for g in [1.0 - 1e-10, 1.0 + 1e-10] {
            assert!(relative_gap(certainty_equivalent(&near_one, g), at_one) < 1e-12);
        }
        // Wider outcomes: CE(1 − a)/CE(1) = exp(a·Var(ℓ)/2 + O(a²)), with the population
        // variance of ℓ = ln w.
        let spread = [0.5, 1.0, 2.0, 4.0];
        let logs: Vec<f64> = spread.iter().map(|w: &f64| w.ln()).collect();
        let mean = logs.iter().sum::<f64>() / 4.0;
        let variance = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / 4.0;
        let at_one = certainty_equivalent(&spread, 1.0);
        for a in [1e-10, -1e-10, 1e-7, -1e-7] {
            let ratio = certainty_equivalent(&spread, 1.0 - a) / at_one;
            assert!((ratio - 1.0 - a * variance / 2.0).abs() < 1e-14, "a {a}");
        }
    }

    #[test]
    fn lognormal_certainty_equivalent_matches_monte_carlo() {
        let (m, s2, g): (f64, f64, f64) = (0.1, 0.04, 3.0);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
        let draws: Vec<f64> = (0..200_000)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (m + s2.sqrt() * z).exp()
            })
            .collect();
        // The standard error of the Monte Carlo CE here is about 5e-4 relative; 3e-3 is
        // six of them.
        let monte_carlo = certainty_equivalent(&draws, g);
        let exact = lognormal_certainty_equivalent(m, s2, g);
        assert!(
            relative_gap(monte_carlo, exact) < 3e-3,
            "{monte_carlo} vs {exact}"
        );
        assert!(relative_gap(lognormal_certainty_equivalent(m, s2, 1.0), m.exp()) < 1e-15);
    }

    #[test]
    fn arrow_pratt_approximates_the_loss_from_a_small_two_point_risk() {
        let (wealth, g, h) = (2.0, 3.0, 0.02);
        let exact_loss = wealth - certainty_equivalent(&[wealth - h, wealth + h], g);
        let premium = arrow_pratt_premium(wealth, g, h * h);
        // The error is of relative order (h/w)² (the risk is symmetric).
        assert!(
            relative_gap(premium, exact_loss) < 1e-3,
            "{premium} vs {exact_loss}"
        );
    }

    fn risk_aversion_away_from_one() -> impl Strategy<Value = f64> {
        prop_oneof![0.0f64..0.99, Just(1.0), 1.01f64..5.0]
    }

    proptest! {
        #[test]
        fn crra_inverse_undoes_crra(w in 1e-3f64..1e3, g in risk_aversion_away_from_one()) {
            let back = crra_inverse(crra(w, g), g);
            prop_assert!(relative_gap(back, w) < 1e-10, "{back} vs {w}");
        }

        #[test]
        fn certainty_equivalent_lies_between_the_outcomes_and_falls_with_risk_aversion(
            wealth in proptest::collection::vec(0.01f64..100.0, 1..20),
            g in 0.0f64..10.0,
            step in 0.0f64..2.0,
        ) {
            let lowest = wealth.iter().copied().fold(f64::INFINITY, f64::min);
            let highest = wealth.iter().copied().fold(0.0, f64::max);
            let ce = certainty_equivalent(&wealth, g);
            prop_assert!(ce >= lowest * (1.0 - 1e-12) && ce <= highest * (1.0 + 1e-12));
            let more_averse = certainty_equivalent(&wealth, g + step);
            prop_assert!(more_averse <= ce * (1.0 + 1e-12), "{more_averse} > {ce}");
        }
    }
}
