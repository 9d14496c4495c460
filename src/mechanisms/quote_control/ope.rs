//! Off-policy evaluation: the value of a target policy estimated from another policy's
//! logged decisions and their propensities (inverse propensity scoring).
//!
//! Each logged decision i has the action taken, the logging policy's probability p_i of
//! taking it (what [`EpsilonGreedy`](super::policies::EpsilonGreedy) reports) and the
//! reward r_i; the target policy gives the same action probability π_i. With importance
//! weights w_i = π_i / p_i:
//! - IPS: V̂ = (1/n)·Σ w_i·r_i, unbiased whenever p_i > 0 wherever π_i > 0;
//! - SNIPS: V̂ = Σ w_i·r_i / Σ w_i, self-normalised: biased by O(1/n), far lower variance
//!   when weights are large;
//! - effective sample size (Σ w_i)² / Σ w_i²: how many on-policy samples the weighted
//!   log is worth (n when the policies agree, small when a few weights dominate).

/// One logged decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Logged {
    /// The action's index.
    pub action: usize,
    /// The logging policy's probability of that action, > 0.
    pub propensity: f64,
    /// The reward that followed.
    pub reward: f64,
}

/// The estimates from one log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OffPolicyEstimate {
    /// The IPS estimate.
    pub ips: f64,
    /// Its standard error, sd(w·r)/√n.
    pub ips_se: f64,
    /// The SNIPS estimate.
    pub snips: f64,
    /// The effective sample size of the weights.
    pub effective_sample_size: f64,
    /// Decisions weighted: the log's, less the skipped ones.
    pub n: usize,
    /// Decisions skipped because their propensity was not a positive finite number.
    pub skipped: usize,
}

/// Estimates the value of the policy whose probability of taking decision i's action is
/// `target(i, &log[i])`, from `log`. Decisions with a propensity that is not positive
/// and finite cannot be weighted and are skipped (and counted).
pub fn evaluate(log: &[Logged], target: impl Fn(usize, &Logged) -> f64) -> OffPolicyEstimate {
    let mut sum_w = 0.0;
    let mut sum_w2 = 0.0;
    let mut sum_wr = 0.0;
    let mut sum_wr2 = 0.0;
    let mut n = 0usize;
    for (i, entry) in log.iter().enumerate() {
        if !(entry.propensity > 0.0 && entry.propensity.is_finite()) {
            continue;
        }
        let w = target(i, entry) / entry.propensity;
        let wr = w * entry.reward;
        sum_w += w;
        sum_w2 += w * w;
        sum_wr += wr;
        sum_wr2 += wr * wr;
        n += 1;
    }
    let skipped = log.len() - n;
    if n == 0 {
        return OffPolicyEstimate {
            ips: f64::NAN,
            ips_se: f64::NAN,
            snips: f64::NAN,
            effective_sample_size: 0.0,
            n,
            skipped,
        };
    }
    let nf = n as f64;
    let ips = sum_wr / nf;
    let var = if n > 1 {
        (sum_wr2 - nf * ips * ips).max(0.0) / (nf - 1.0)
    } else {
        f64::NAN
    };
    OffPolicyEstimate {
        ips,
        ips_se: (var / nf).sqrt(),
        snips: if sum_w > 0.0 {
            sum_wr / sum_w
        } else {
            f64::NAN
        },
        effective_sample_size: if sum_w2 > 0.0 {
            sum_w * sum_w / sum_w2
        } else {
            0.0
        },
        n,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::price_process::uniform;
    use crate::rng::{StreamDomain, stream};

    /// A three-armed bandit with Gaussian-free, bounded rewards: arm a pays 1 with
    /// probability `means[a]`. The log is drawn from `logging`; the target is `target`.
    const MEANS: [f64; 3] = [0.2, 0.5, 0.7];
    const LOGGING: [f64; 3] = [0.6, 0.3, 0.1];
    const TARGET: [f64; 3] = [0.1, 0.2, 0.7];

    fn draw_log(seed: u64, n: usize) -> Vec<Logged> {
        let mut rng = stream(seed, StreamDomain::QuoteControl, 0);
        (0..n)
            .map(|_| {
                let u = uniform(&mut rng);
                let action = if u < LOGGING[0] {
                    0
                } else if u < LOGGING[0] + LOGGING[1] {
                    1
                } else {
                    2
                };
                let reward = f64::from(u8::from(uniform(&mut rng) < MEANS[action]));
                Logged {
                    action,
                    propensity: LOGGING[action],
                    reward,
                }
            })
            .collect()
    }

    #[test]
    fn ips_and_snips_are_unbiased_on_a_synthetic_bandit() {
        let truth: f64 = TARGET.iter().zip(MEANS).map(|(p, m)| p * m).sum();
        let replications = 2000u64;
        let (mut ips, mut snips) = (Vec::new(), Vec::new());
        for r in 0..replications {
            let log = draw_log(r, 400);
            let estimate = evaluate(&log, |_, e| TARGET[e.action]);
            ips.push(estimate.ips);
            snips.push(estimate.snips);
        }
        for (name, xs) in [("IPS", &ips), ("SNIPS", &snips)] {
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let sd = (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt();
            let se = sd / n.sqrt();
            assert!(
                (mean - truth).abs() < 3.0 * se,
                "{name}: {mean} against {truth} (se {se})"
            );
        }
        // Under the logging policy itself the estimators are the plain mean, with ESS n.
        let log = draw_log(99, 1000);
        let on_policy = evaluate(&log, |_, e| LOGGING[e.action]);
        let plain = log.iter().map(|e| e.reward).sum::<f64>() / 1000.0;
        assert!((on_policy.ips - plain).abs() < 1e-12 && (on_policy.snips - plain).abs() < 1e-12);
        assert!((on_policy.effective_sample_size - 1000.0).abs() < 1e-9);
        // A target far from the log is worth far fewer samples.
        let off = evaluate(&log, |_, e| TARGET[e.action]);
        assert!(
            off.effective_sample_size < 500.0,
            "{}",
            off.effective_sample_size
        );
        // The IPS standard error matches the spread of IPS estimates across logs.
        let n = ips.len() as f64;
        let mean = ips.iter().sum::<f64>() / n;
        let sd = (ips.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        let one = evaluate(&draw_log(5, 400), |_, e| TARGET[e.action]);
        assert!(
            (one.ips_se / sd - 1.0).abs() < 0.25,
            "{} against {sd}",
            one.ips_se
        );
    }

    #[test]
    fn unusable_propensities_are_skipped_and_counted() {
        let log = [
            Logged {
                action: 0,
                propensity: 0.0,
                reward: 1.0,
            },
            Logged {
                action: 0,
                propensity: f64::NAN,
                reward: 1.0,
            },
            Logged {
                action: 0,
                propensity: 0.5,
                reward: 1.0,
            },
        ];
        let e = evaluate(&log, |_, _| 0.5);
        assert_eq!((e.n, e.skipped), (1, 2));
        assert_eq!(e.ips, 1.0);
        let none = evaluate(&log[..2], |_, _| 0.5);
        assert!(none.ips.is_nan() && none.n == 0);
    }
}
