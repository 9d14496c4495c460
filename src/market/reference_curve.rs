//! The exchange reference curve S_ref(v) (Ganesh et al. 2019, appendix eq. 13): pure maths.
//!
//! With ṽ = v / v_max and ω = (λ − 1)/(λ − 2):
//! - λ ≠ 2: S_ref(v) = (s0/2)·(ω/ṽ)·(1 − (1 − ṽ)^(1/ω)),
//! - λ = 2: S_ref(v) = −(s0/2)·ln(1 − ṽ)/ṽ,
//! - S_ref(0) = s0/2.
//!
//! Only the shape ratio S_ref(v)/S_ref(0) depends on the size, so it is computed once per
//! trade and shared by every quote made from the curve. Both branches are evaluated with
//! `ln_1p`/`exp_m1`, which keeps full precision as ṽ → 0 (no 0/0 cancellation).

use thiserror::Error;

/// A size the reference curve cannot price.
#[derive(Clone, Copy, Debug, Error, PartialEq)]
#[error("trade size {size} is outside the reference curve's range [0, v_max = {v_max})")]
pub struct SizeOutOfRange {
    /// The offending size, in units.
    pub size: f64,
    /// The curve's v_max, in units.
    pub v_max: f64,
}

/// The size-dependence of the reference curve: λ, ω and v_max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveShape {
    lambda: f64,
    omega: f64,
    v_max: f64,
}

impl CurveShape {
    /// The shape for order-book exponent `lambda` (> 1) and depth `v_max` (> 0, units).
    /// Callers validate the parameters; see `scenario::validate`.
    pub fn new(lambda: f64, v_max: f64) -> Self {
        debug_assert!(lambda > 1.0 && v_max > 0.0);
        let omega = (lambda - 1.0) / (lambda - 2.0);
        Self {
            lambda,
            omega,
            v_max,
        }
    }

    /// λ, the order-book shape exponent.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// v_max, the size at which the curve diverges, in units.
    pub fn v_max(&self) -> f64 {
        self.v_max
    }

    /// S_ref(v)/S_ref(0) for a size `v` in units: 1 at v = 0, increasing, infinite at v_max.
    ///
    /// # Errors
    /// [`SizeOutOfRange`] when `v` is negative, NaN, or not below v_max.
    pub fn ratio(&self, v: f64) -> Result<f64, SizeOutOfRange> {
        let scaled = v / self.v_max;
        if !(0.0..1.0).contains(&scaled) {
            return Err(SizeOutOfRange {
                size: v,
                v_max: self.v_max,
            });
        }
        Ok(self.ratio_scaled(scaled))
    }

    /// The ratio at ṽ ∈ [0, 1); exact at ṽ = 0 and without cancellation for tiny ṽ.
    fn ratio_scaled(&self, scaled: f64) -> f64 {
        if scaled == 0.0 {
            return 1.0;
        }
        let log_remaining = (-scaled).ln_1p(); // ln(1 − ṽ) < 0
        if self.lambda == 2.0 {
            -log_remaining / scaled
        } else {
            // 1 − (1 − ṽ)^(1/ω) = −expm1(ln(1 − ṽ)/ω); ω = ±∞ never happens since λ ≠ 2.
            self.omega / scaled * -(log_remaining / self.omega).exp_m1()
        }
    }
}

/// The reference curve at one tick: the shape plus this tick's reference spread s0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceCurve {
    /// s0, the reference (full) spread relative to the mid.
    pub reference_spread: f64,
    /// The size-dependence.
    pub shape: CurveShape,
}

impl ReferenceCurve {
    /// S_ref(0) = s0/2, the half-spread for an infinitesimal trade.
    pub fn at_zero(&self) -> f64 {
        0.5 * self.reference_spread
    }

    /// S_ref(v), the relative spread the exchange charges for size `v`.
    ///
    /// # Errors
    /// [`SizeOutOfRange`] when `v` is not in [0, v_max).
    pub fn spread(&self, v: f64) -> Result<f64, SizeOutOfRange> {
        Ok(self.at_zero() * self.shape.ratio(v)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    /// Reference values from the closed form evaluated in 50-digit arithmetic
    /// (mpmath, 50 digits: `(w/x)*(1-(1-x)**(1/w))` with w = (λ−1)/(λ−2), λ = 1.6).
    #[test]
    fn ratio_matches_known_values_for_lambda_1_6() {
        let shape = CurveShape::new(1.6, 1.0);
        for (v, expected) in [
            (0.1, 1.091_489_743_427_162_6),
            (0.5, 1.762_203_155_904_598_4),
            (0.9, 6.069_314_722_687_965),
        ] {
            let got = shape.ratio(v).unwrap();
            assert!(close(got, expected, 1e-13), "ṽ={v}: {got} vs {expected}");
        }
    }

    #[test]
    fn lambda_two_branch_is_minus_log_over_v() {
        let shape = CurveShape::new(2.0, 10.0);
        for v in [0.5, 5.0, 9.0] {
            let x: f64 = v / 10.0;
            let expected = -(1.0 - x).ln() / x;
            assert!(close(shape.ratio(v).unwrap(), expected, 1e-14));
        }
    }

    #[test]
    fn lambda_near_two_is_continuous_with_the_log_branch() {
        let log_branch = CurveShape::new(2.0, 1.0).ratio(0.5).unwrap();
        let near = CurveShape::new(2.0 + 1e-9, 1.0).ratio(0.5).unwrap();
        assert!(close(near, log_branch, 1e-6), "{near} vs {log_branch}");
    }

    #[test]
    fn small_sizes_tend_to_half_spread_without_cancellation() {
        let curve = ReferenceCurve {
            reference_spread: 1.5e-4,
            shape: CurveShape::new(1.6, 10_000.0),
        };
        assert_eq!(curve.spread(0.0).unwrap(), 0.75e-4);
        // First-order expansion: r(ṽ) ≈ 1 + (1 − 1/ω)ṽ/2, with 1/ω = −2/3 for λ = 1.6.
        for v in [1e-300, 1e-12, 1e-6] {
            let x = v / 10_000.0;
            let expected = 0.75e-4 * (1.0 + 5.0 / 6.0 * x);
            assert!(close(curve.spread(v).unwrap(), expected, 1e-12), "v={v}");
        }
    }

    #[test]
    fn ratio_is_increasing_and_diverges_toward_v_max() {
        let shape = CurveShape::new(1.6, 100.0);
        let mut last = 1.0;
        for i in 1..1000 {
            let r = shape.ratio(i as f64 * 0.0999).unwrap();
            assert!(r > last);
            last = r;
        }
        assert!(shape.ratio(99.999_999).unwrap() > 100.0);
    }

    #[test]
    fn sizes_outside_the_curve_are_errors_not_nan() {
        let shape = CurveShape::new(1.6, 100.0);
        for v in [100.0, 1e9, -1.0, f64::NAN, f64::INFINITY] {
            assert!(shape.ratio(v).is_err(), "v={v}");
        }
    }
}
