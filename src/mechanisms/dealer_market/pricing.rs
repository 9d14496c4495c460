//! The market makers' pricing curve and the choice of the best quote: pure maths.
//!
//! s_i(v, u) = S_ref(0)·(S_ref(v)/S_ref(0))^α_i + δ_i·u (SPEC §2.3).

/// One market maker's curve parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuoteCurve {
    /// α, the volume penalty exponent.
    pub alpha: f64,
    /// δ, spread added per tier.
    pub tier_penalty: f64,
}

impl QuoteCurve {
    /// The quoted relative spread given S_ref(0), the reference ratio S_ref(v)/S_ref(0)
    /// and its natural log (computed once per trade and shared by all quotes), and tier u.
    #[inline]
    pub fn spread(&self, half_spread: f64, log_ratio: f64, tier: u8) -> f64 {
        half_spread * (self.alpha * log_ratio).exp() + self.tier_penalty * f64::from(tier)
    }
}

/// The lowest of `quotes` (spreads in market-maker order), with exact ties split
/// uniformly using `tie_break` ∈ [0, 1): returns (index, spread). `None` when empty.
/// A slice, not an iterator: the choice reads the quotes twice (the best, then the
/// tied one picked), and each quote should be computed once.
pub fn best_quote(quotes: &[f64], tie_break: f64) -> Option<(usize, f64)> {
    let mut best = f64::INFINITY;
    let mut ties = 0usize;
    for &s in quotes {
        if s < best {
            best = s;
            ties = 1;
        } else if s == best {
            ties += 1;
        }
    }
    if ties == 0 {
        return None;
    }
    // Pick the ⌊tie_break·ties⌋-th tied quote.
    let pick = ((tie_break * ties as f64) as usize).min(ties - 1);
    quotes
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, s)| s == best)
        .nth(pick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::reference_curve::CurveShape;

    #[test]
    fn pricing_curve_matches_the_formula() {
        let shape = CurveShape::new(1.6, 10_000.0);
        let curve = QuoteCurve {
            alpha: 1.5,
            tier_penalty: 2e-5,
        };
        let half = 7.5e-5;
        for (v, tier) in [(0.0, 0u8), (1.0, 1), (500.0, 4), (9_000.0, 2)] {
            let ratio = shape.ratio(v).unwrap();
            let expected = half * ratio.powf(1.5) + 2e-5 * f64::from(tier);
            let got = curve.spread(half, ratio.ln(), tier);
            assert!(
                (got - expected).abs() <= 1e-15 * expected,
                "v={v}: {got} vs {expected}"
            );
        }
        // Better tiers are cheaper, larger sizes dearer.
        let at = |v: f64, u| curve.spread(half, shape.ratio(v).unwrap().ln(), u);
        assert!(at(10.0, 0) < at(10.0, 1));
        assert!(at(10.0, 0) < at(100.0, 0));
        // A larger α penalises size more.
        let steeper = QuoteCurve {
            alpha: 2.0,
            ..curve
        };
        let r = shape.ratio(5_000.0).unwrap().ln();
        assert!(steeper.spread(half, r, 0) > curve.spread(half, r, 0));
    }

    #[test]
    fn best_quote_takes_the_minimum() {
        let quotes = [3.0, 1.0, 2.0];
        assert_eq!(best_quote(&quotes, 0.99), Some((1, 1.0)));
        assert_eq!(best_quote(&[], 0.5), None);
    }

    #[test]
    fn exact_ties_are_split_uniformly() {
        let quotes = [1.0, 2.0, 1.0, 1.0];
        let mut counts = [0usize; 4];
        for i in 0..3000 {
            let u = (i as f64 + 0.5) / 3000.0;
            counts[best_quote(&quotes, u).unwrap().0] += 1;
        }
        assert_eq!(counts, [1000, 0, 1000, 1000]);
    }
}
