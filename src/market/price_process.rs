//! The exogenous market: geometric Brownian motion mid-price and the clipped normal
//! reference spread. Pure maths plus the look-ahead price path; the ECS glue is in
//! `market::systems`.

use std::collections::VecDeque;

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

use crate::rng::Stream;

/// GBM parameters per tick: P_{t+1} = P_t · exp((μ − σ²/2)Δ + σ√Δ·Z).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GbmStep {
    /// (μ − σ²/2)Δ, the log drift per tick.
    pub log_drift: f64,
    /// σ√Δ, the standard deviation of the log return per tick.
    pub log_volatility: f64,
}

impl GbmStep {
    /// From annualised drift μ, annualised volatility σ and the tick length Δ in years.
    pub fn new(drift: f64, volatility: f64, tick_years: f64) -> Self {
        Self {
            log_drift: (drift - 0.5 * volatility * volatility) * tick_years,
            log_volatility: volatility * tick_years.sqrt(),
        }
    }

    /// The next price given the current one and a standard normal shock `z`.
    pub fn advance(&self, price: f64, z: f64) -> f64 {
        price * (self.log_drift + self.log_volatility * z).exp()
    }
}

/// The reference spread law: N(mean, std_dev) clipped to [min, max], drawn each tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceSpreadLaw {
    /// Mean of the normal before clipping (relative to mid).
    pub mean: f64,
    /// Standard deviation of the normal before clipping.
    pub std_dev: f64,
    /// Lower clip.
    pub min: f64,
    /// Upper clip.
    pub max: f64,
}

impl ReferenceSpreadLaw {
    /// One draw of s0.
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        let z: f64 = StandardNormal.sample(rng);
        (self.mean + self.std_dev * z).clamp(self.min, self.max)
    }
}

/// The mid-price path, generated ahead of the clock so that a mechanism can look ahead
/// (an oracle that sees P_{t+k}, revenue settled k ticks later), while only a bounded
/// window is kept.
#[derive(Debug)]
pub struct PricePath {
    step: GbmStep,
    rng: Stream,
    /// Prices for ticks `first_tick .. first_tick + window.len()`.
    window: VecDeque<f64>,
    first_tick: u64,
}

impl PricePath {
    /// A path starting at `initial_price` on tick 0.
    pub fn new(initial_price: f64, step: GbmStep, rng: Stream) -> Self {
        Self {
            step,
            rng,
            window: VecDeque::from([initial_price]),
            first_tick: 0,
        }
    }

    /// P at `tick`, extending the path as needed. Ticks before the kept window are a
    /// programming error (see [`PricePath::forget_before`]); they return the oldest price
    /// kept, with a debug assertion.
    pub fn price(&mut self, tick: u64) -> f64 {
        debug_assert!(tick >= self.first_tick, "price of a forgotten tick {tick}");
        let offset = tick.saturating_sub(self.first_tick) as usize;
        while self.window.len() <= offset {
            let last = *self.window.back().unwrap_or(&1.0);
            let z: f64 = StandardNormal.sample(&mut self.rng);
            self.window.push_back(self.step.advance(last, z));
        }
        self.window[offset]
    }

    /// Number of prices kept (the look-ahead window): bounded on any run length.
    pub fn kept(&self) -> usize {
        self.window.len()
    }

    /// Drops prices before `tick`, bounding memory on long runs.
    pub fn forget_before(&mut self, tick: u64) {
        while self.first_tick < tick && self.window.len() > 1 {
            self.window.pop_front();
            self.first_tick += 1;
        }
    }
}

/// A uniform draw in [0, 1) from a stream: the one primitive every decision uses.
pub fn uniform(rng: &mut Stream) -> f64 {
    rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{StreamDomain, stream};

    /// Log returns of the simulated path have the GBM mean (μ − σ²/2)Δ and variance σ²Δ.
    #[test]
    fn gbm_log_returns_have_closed_form_moments() {
        let (mu, sigma, dt) = (0.05, 0.3, 1.0 / (365.0 * 96.0));
        let step = GbmStep::new(mu, sigma, dt);
        let mut path = PricePath::new(100.0, step, stream(3, StreamDomain::MidPrice, 0));
        let n = 200_000u64;
        let mut sum = 0.0;
        let mut sum_sq = 0.0;
        let mut last = path.price(0);
        for t in 1..=n {
            let p = path.price(t);
            let r = (p / last).ln();
            sum += r;
            sum_sq += r * r;
            last = p;
            path.forget_before(t);
        }
        let mean = sum / n as f64;
        let var = sum_sq / n as f64 - mean * mean;
        let expected_mean = (mu - 0.5 * sigma * sigma) * dt;
        let expected_var = sigma * sigma * dt;
        // Standard error of the mean is sqrt(var/n); allow 4 of them.
        assert!((mean - expected_mean).abs() < 4.0 * (expected_var / n as f64).sqrt());
        // The sample variance of normals has relative standard error sqrt(2/n) ≈ 0.32%.
        assert!(
            (var / expected_var - 1.0).abs() < 0.015,
            "var ratio {}",
            var / expected_var
        );
    }

    #[test]
    fn path_is_the_same_whatever_the_access_pattern() {
        let step = GbmStep::new(0.0, 0.1, 1.0 / 35_040.0);
        let mut ahead = PricePath::new(100.0, step, stream(9, StreamDomain::MidPrice, 0));
        let mut stepwise = PricePath::new(100.0, step, stream(9, StreamDomain::MidPrice, 0));
        let far = ahead.price(50);
        for t in 0..50 {
            stepwise.price(t);
            stepwise.forget_before(t);
        }
        assert_eq!(stepwise.price(50), far);
        assert_eq!(ahead.price(0), 100.0);
    }

    #[test]
    fn reference_spread_stays_in_its_clip_range() {
        let law = ReferenceSpreadLaw {
            mean: 1.5e-4,
            std_dev: 5e-5,
            min: 2e-5,
            max: 5e-4,
        };
        let mut rng = stream(1, StreamDomain::ReferenceSpread, 0);
        let draws: Vec<f64> = (0..100_000).map(|_| law.sample(&mut rng)).collect();
        assert!(draws.iter().all(|s| (2e-5..=5e-4).contains(s)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 1.5e-4).abs() < 1e-6, "mean {mean}");
    }
}
