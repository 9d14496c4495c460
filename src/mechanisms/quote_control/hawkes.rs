//! A Hawkes process with an exponential kernel, simulated exactly and binned into ticks.
//!
//! Intensity λ(t) = μ + Σ_{t_i < t} α·e^{−β(t − t_i)}: every event raises the rate by α,
//! and the excess decays at rate β. The branching ratio n = α/β is the mean number of
//! events one event triggers; the process is stationary only for n < 1 (validation
//! refuses n ≥ 1).
//!
//! Simulation is exact, by Ogata's thinning with the exponential recursion: between
//! events the intensity only decays, so the intensity just after the current time bounds
//! it until the next event. Candidate times are drawn at that bound and accepted with
//! probability λ(t)/bound; the excess S(t) = λ(t) − μ is carried as one number,
//! S(t + Δ) = S(t)·e^{−βΔ}, so each candidate costs O(1) whatever the history.

use crate::market::price_process::uniform;
use crate::rng::Stream;

/// The largest μ, α or β accepted: far above any order or shopper rate, far below where
/// sums of jumps overflow.
pub const MAX_RATE: f64 = 1e12;

/// The parameters of an exponential-kernel Hawkes process, rates per unit of time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hawkes {
    /// μ > 0, the baseline rate.
    pub mu: f64,
    /// α ≥ 0, the jump of the intensity at each event.
    pub alpha: f64,
    /// β > 0, the decay rate of the excitation.
    pub beta: f64,
}

impl Hawkes {
    /// Checks the parameters, with paths under `path`: μ > 0, α ≥ 0, β > 0 and a
    /// branching ratio α/β below 1 (at 1 or above the process explodes: its mean count
    /// grows without bound, exponentially above 1).
    pub fn validate(&self, path: &str, checker: &mut crate::scenario::Checker) {
        use crate::scenario::Range;
        checker.number(format!("{path}.mu"), self.mu, Range::Positive);
        checker.number(format!("{path}.alpha"), self.alpha, Range::NonNegative);
        checker.number(format!("{path}.beta"), self.beta, Range::Positive);
        for (field, value) in [("mu", self.mu), ("alpha", self.alpha), ("beta", self.beta)] {
            if value > MAX_RATE {
                checker.fail(
                    format!("{path}.{field}"),
                    format!("must be at most {MAX_RATE:e} (a rate per unit time; above it the intensity's arithmetic overflows), got {value:e}"),
                );
            }
        }
        let n = self.branching_ratio();
        if self.alpha.is_finite() && self.beta > 0.0 && n >= 1.0 {
            checker.fail(
                format!("{path}.alpha"),
                format!(
                    "the branching ratio alpha/beta = {n} must be below 1 (at 1 or above the process explodes)"
                ),
            );
        }
    }

    /// The branching ratio α/β.
    pub fn branching_ratio(&self) -> f64 {
        self.alpha / self.beta
    }

    /// E[N(T)] from an empty history: with κ = β − α,
    /// E[λ(t)] = βμ/κ − (αμ/κ)·e^{−κt}, so E[N(T)] = βμT/κ − (αμ/κ²)·(1 − e^{−κT}).
    /// (From m′ = βμ − κ·m, m(0) = μ, the mean of the intensity's defining equation.)
    pub fn mean_count(&self, horizon: f64) -> f64 {
        let kappa = self.beta - self.alpha;
        if kappa.abs() < 1e-12 {
            // α = β: m(t) = μ(1 + βt), so E[N(T)] = μ(T + βT²/2).
            return self.mu * (horizon + 0.5 * self.beta * horizon * horizon);
        }
        // −expm1(−κT) = 1 − e^{−κT} without cancellation when κT is small.
        self.beta * self.mu * horizon / kappa
            - self.alpha * self.mu / (kappa * kappa) * -(-kappa * horizon).exp_m1()
    }

    /// Event times in [0, horizon), in order, from an empty history.
    pub fn sample_times(&self, horizon: f64, rng: &mut Stream) -> Vec<f64> {
        let mut times = Vec::new();
        self.sample_with(horizon, rng, |t| times.push(t));
        times
    }

    /// Event counts in `ticks` equal bins of [0, horizon), from an empty history.
    pub fn sample_counts(&self, horizon: f64, ticks: usize, rng: &mut Stream) -> Vec<u32> {
        let mut counts = vec![0u32; ticks];
        if ticks == 0 {
            return counts;
        }
        let per_tick = ticks as f64 / horizon;
        self.sample_with(horizon, rng, |t| {
            // t < horizon, so the bin is below `ticks` but for rounding at the very end.
            let bin = ((t * per_tick) as usize).min(ticks - 1);
            counts[bin] = counts[bin].saturating_add(1);
        });
        counts
    }

    /// Ogata's thinning with the exponential recursion; `on_event` sees each time.
    fn sample_with(&self, horizon: f64, rng: &mut Stream, mut on_event: impl FnMut(f64)) {
        let mut t = 0.0;
        // The excess intensity λ(t) − μ just after t.
        let mut excess = 0.0;
        loop {
            let bound = self.mu + excess;
            // An intensity that overflowed would accept every candidate at zero wait
            // forever; validation caps the mean count, this guards the arithmetic.
            if !bound.is_finite() {
                return;
            }
            // An exponential waiting time at the bound; 1 − U lies in (0, 1].
            let wait = -(1.0 - uniform(rng)).ln() / bound;
            let candidate = t + wait;
            if candidate >= horizon || !candidate.is_finite() {
                return;
            }
            excess *= (-self.beta * wait).exp();
            t = candidate;
            // Accept with probability λ(t)/bound (the intensity decayed meanwhile).
            if uniform(rng) * bound <= self.mu + excess {
                on_event(t);
                excess += self.alpha;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{StreamDomain, stream};

    #[test]
    fn without_excitation_it_is_poisson() {
        let h = Hawkes {
            mu: 3.0,
            alpha: 0.0,
            beta: 1.0,
        };
        assert!((h.mean_count(2.0) - 6.0).abs() < 1e-12);
    }

    #[test]
    fn the_closed_form_is_continuous_at_alpha_equal_beta() {
        let near = Hawkes {
            mu: 1.0,
            alpha: 2.0 - 1e-9,
            beta: 2.0,
        };
        let at = Hawkes {
            mu: 1.0,
            alpha: 2.0,
            beta: 2.0,
        };
        assert!((near.mean_count(3.0) - at.mean_count(3.0)).abs() < 1e-6);
    }

    #[test]
    fn counts_bin_the_event_times() {
        let h = Hawkes {
            mu: 5.0,
            alpha: 2.0,
            beta: 4.0,
        };
        let times = h.sample_times(10.0, &mut stream(3, StreamDomain::QuoteControl, 0));
        let counts = h.sample_counts(10.0, 40, &mut stream(3, StreamDomain::QuoteControl, 0));
        assert_eq!(
            counts.iter().map(|&c| c as usize).sum::<usize>(),
            times.len()
        );
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        for (bin, &count) in counts.iter().enumerate() {
            let lo = bin as f64 * 0.25;
            let inside = times.iter().filter(|&&t| t >= lo && t < lo + 0.25).count();
            assert_eq!(inside, count as usize, "bin {bin}");
        }
    }
}
