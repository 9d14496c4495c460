//! The symmetric-pair result of SPEC §3, as a statistical test: two identical dealer pairs
//! competing on their margins make a mean profit per tick whose 95% confidence interval
//! contains zero and narrows as the run lengthens; the same pairs with margins held fixed
//! (a biased market: no competition) fail the same criterion.

use dealersim::mechanisms::dealer_pairs::records::dealer_wealths;
use dealersim::scenario::{Scenario, parse_scenario};
use dealersim::sim::Simulation;
use rayon::prelude::*;

/// A small market: two identical pairs, a couple of users a tick on each side, daily ticks.
fn scenario(adaptation: &str) -> Scenario {
    let text = format!(
        r#"Scenario(
    steps: 600,
    market: (tick_years: 0.0027397260273972603),
    mechanisms: [DealerPairs(
        pairs: [
            Pair(name: "north",
                 asset_dealer: (capital: 2e6, risk_aversion: 2.0, margin: 0.05),
                 investor_dealer: (capital: 2e6, risk_aversion: 2.0, margin: 0.05)),
            Pair(name: "south",
                 asset_dealer: (capital: 2e6, risk_aversion: 2.0, margin: 0.05),
                 investor_dealer: (capital: 2e6, risk_aversion: 2.0, margin: 0.05)),
        ],
        asset_users: [AssetUsers(count: 2000, arrival: Poisson(2.0),
            amount: LogUniform(min: 300.0, max: 3000.0), volatility: Uniform(min: 0.05, max: 0.3),
            periods: 10, period_years: 1.0, reservation_rate: Uniform(min: 0.06, max: 0.12),
            patience: 8)],
        investor_users: [InvestorUsers(count: 2000, arrival: Poisson(2.0),
            cash: LogUniform(min: 2000.0, max: 20000.0), horizon_years: Uniform(min: 2.0, max: 8.0),
            risk_aversion: Uniform(min: 1.0, max: 4.0), tail_tolerance: Uniform(min: 0.05, max: 0.3),
            reservation_rate: Uniform(min: 0.0, max: 0.03), patience: 8)],
        opl: (window: 6, max_strips: 3),
        adaptation: {adaptation},
    )],
)"#
    );
    parse_scenario(&text, std::path::Path::new("competition.ron")).expect("scenario parses")
}

/// Ticks left out at the start: the opening 5% margins are competed away within them.
const BURN_IN: u32 = 50;
/// The two run lengths compared.
const SHORT: u32 = 150;
const LONG: u32 = 600;
/// Replications.
const RUNS: u64 = 32;

/// Every dealer's profit per tick together, over (BURN_IN, SHORT] and (BURN_IN, LONG], for
/// each replication (seeds 1..=RUNS).
fn profits(adaptation: &str) -> Vec<(f64, f64)> {
    let base = scenario(adaptation);
    (1..=RUNS)
        .into_par_iter()
        .map(|seed| {
            let mut s = base.clone();
            s.seed = seed;
            let mut sim = Simulation::new(&s).expect("builds");
            let total =
                |sim: &Simulation| -> f64 { dealer_wealths(sim.world()).iter().map(|d| d.2).sum() };
            let (mut at_burn_in, mut at_short) = (0.0, 0.0);
            for tick in 1..=LONG {
                sim.step().expect("steps");
                if tick == BURN_IN {
                    at_burn_in = total(&sim);
                }
                if tick == SHORT {
                    at_short = total(&sim);
                }
            }
            let at_long = total(&sim);
            (
                (at_short - at_burn_in) / f64::from(SHORT - BURN_IN),
                (at_long - at_burn_in) / f64::from(LONG - BURN_IN),
            )
        })
        .collect()
}

/// Mean and 95% half-width (1.96 standard errors) of `xs`.
fn interval(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 1.959_963_985 * (var / n).sqrt())
}

fn contains_zero((mean, half): (f64, f64)) -> bool {
    (mean - half..=mean + half).contains(&0.0)
}

/// The criterion: the interval over the long run contains 0 and is narrower than over
/// the short one.
fn competitive(p: &[(f64, f64)]) -> bool {
    let short = interval(&p.iter().map(|x| x.0).collect::<Vec<_>>());
    let long = interval(&p.iter().map(|x| x.1).collect::<Vec<_>>());
    contains_zero(long) && long.1 < short.1
}

/// Identical competing pairs: mean profit per tick ≈ 0, the interval narrowing with the
/// run; with margins fixed at 5% the same test fails, its interval far above 0.
#[test]
fn identical_competing_pairs_make_zero_profit_and_fixed_margins_do_not() {
    let competing = profits("Undercut(fraction: 0.1)");
    let short = interval(&competing.iter().map(|x| x.0).collect::<Vec<_>>());
    let long = interval(&competing.iter().map(|x| x.1).collect::<Vec<_>>());
    assert!(competitive(&competing), "short {short:?}, long {long:?}");

    let fixed = profits("Fixed");
    let fixed_long = interval(&fixed.iter().map(|x| x.1).collect::<Vec<_>>());
    assert!(!competitive(&fixed), "fixed margins passed: {fixed_long:?}");
    // Not marginally: the fixed-margin profit is many half-widths above zero.
    assert!(fixed_long.0 > 10.0 * fixed_long.1, "{fixed_long:?}");
}
