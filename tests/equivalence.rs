//! The activity-proportional arrival sampler gives the same distributions as the direct
//! per-investor method (one uniform per investor per tick), at fixed seeds: trade counts
//! per investor, sizes, market shares and score distributions.

use std::path::Path;

use dealersim::Simulation;
use dealersim::mechanisms::dealer_market::{ArrivalMode, TradeKind, TradeLog};
use dealersim::scenario::parse_scenario;

const SCENARIO: &str = r#"Scenario(
    seed: 21,
    steps: 400,
    investors: [
        Group(count: 3000, p_trade: LogUniform(min: 0.002, max: 0.5), size_mean: LogUniform(min: 0.5, max: 7.0)),
        Investor(p_trade: 1.0, size_mean: 3.0),
        Investor(p_trade: 0.0, size_mean: 3.0),
    ],
    market_makers: [
        (name: "A", alpha: 1.2),
        (name: "B", alpha: 1.4, tiering: RevenueRate()),
        (name: "C", alpha: 1.3, tier_penalty: 1e-5, hedging: None),
    ],
)"#;

struct Outcome {
    counts: Vec<u64>,
    sizes: Vec<f64>,
    shares: Vec<f64>,
    scores: Vec<f64>,
}

fn run(mode: ArrivalMode) -> Outcome {
    let scenario = parse_scenario(SCENARIO, Path::new("equivalence.ron")).expect("parses");
    let mut sim = Simulation::new(&scenario).expect("valid");
    sim.set_arrival_mode(mode);
    sim.world_mut().resource_mut::<TradeLog>().enabled = true;
    let n = scenario.investor_count() as usize;
    let mut counts = vec![0u64; n];
    let mut sizes = Vec::new();
    while sim.tick() < scenario.steps {
        sim.step().expect("step");
        for t in &sim.world().resource::<TradeLog>().trades {
            if t.kind == TradeKind::Investor {
                counts[t.counterparty as usize] += 1;
                sizes.push(t.maker_signed_size.abs());
            }
        }
    }
    let shares = sim.summary().iter().map(|s| s.market_share).collect();
    let mut books = sim.world_mut().query::<(
        &dealersim::dealers::MarketMakerId,
        &dealersim::dealers::CounterpartyBook,
    )>();
    let scores = books
        .iter(sim.world())
        .find(|(id, _)| id.0 == 0)
        .map(|(_, book)| (0..n).map(|c| book.score(c, scenario.steps)).collect())
        .expect("book of A");
    Outcome {
        counts,
        sizes,
        shares,
        scores,
    }
}

/// Two-sample Kolmogorov–Smirnov statistic scaled by sqrt(nm/(n+m)); under the null it
/// exceeds 1.95 with probability about 0.001.
fn ks_scaled(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    d * (n * m / (n + m)).sqrt()
}

#[test]
fn skip_sampling_matches_the_direct_method() {
    let skip = run(ArrivalMode::Skip);
    let direct = run(ArrivalMode::PerInvestor);

    // Per-investor counts are Binomial(T, p_j) under both methods, so a − b has variance
    // 2·T·p(1 − p); with p estimated from the pooled count, Σ (a − b)² / (2·T·p̂(1 − p̂))
    // is close to χ² with one degree of freedom per investor with 0 < p̂ < 1.
    let ticks = 400.0;
    let (mut statistic, mut df) = (0.0, 0.0);
    for (&a, &b) in skip.counts.iter().zip(&direct.counts) {
        let pooled = (a + b) as f64 / (2.0 * ticks);
        if pooled > 0.0 && pooled < 1.0 {
            statistic += (a as f64 - b as f64).powi(2) / (2.0 * ticks * pooled * (1.0 - pooled));
            df += 1.0;
        }
    }
    let z = (statistic - df) / (2.0 * df).sqrt();
    eprintln!("per-investor counts: χ² = {statistic:.1} on {df} df, z = {z:.2}");
    assert!(
        z.abs() < 4.0,
        "per-investor counts differ: χ² = {statistic:.1} on {df} df (z = {z:.2})"
    );
    // The investor with p = 1 trades every tick, the one with p = 0 never.
    assert_eq!(skip.counts[3000], 400);
    assert_eq!(skip.counts[3001], 0);

    let ks = ks_scaled(&skip.sizes, &direct.sizes);
    eprintln!(
        "sizes: {} vs {} trades, scaled KS = {ks:.3}",
        skip.sizes.len(),
        direct.sizes.len()
    );
    assert!(ks < 1.95, "size distributions differ: scaled KS {ks:.3}");

    for (s, d) in skip.shares.iter().zip(&direct.shares) {
        assert!(
            (s - d).abs() < 0.03,
            "shares differ: {:?} vs {:?}",
            skip.shares,
            direct.shares
        );
    }

    let ks = ks_scaled(&skip.scores, &direct.scores);
    eprintln!(
        "scores of A's book: scaled KS = {ks:.3}; shares {:?} vs {:?}",
        skip.shares, direct.shares
    );
    assert!(ks < 1.95, "score distributions differ: scaled KS {ks:.3}");
}

#[test]
fn the_test_can_tell_different_populations_apart() {
    // Sanity check of the statistic: a sample against a shifted copy is flagged.
    let a: Vec<f64> = (0..2000).map(|i| f64::from(i) / 2000.0).collect();
    let b: Vec<f64> = a.iter().map(|x| x + 0.1).collect();
    assert!(ks_scaled(&a, &b) > 1.95);
    assert!(ks_scaled(&a, &a) < 0.01);
}

#[test]
fn the_cheaper_exact_method_is_chosen_from_the_population() {
    // Rare trades in a large population: skip-sampling; busy markets: the direct scan.
    assert_eq!(
        ArrivalMode::for_population(100.0, 1_000_000),
        ArrivalMode::Skip
    );
    assert_eq!(
        ArrivalMode::for_population(40_000.0, 1_000_000),
        ArrivalMode::PerInvestor
    );
    assert_eq!(
        ArrivalMode::for_population(1.0, 10),
        ArrivalMode::PerInvestor
    );
}
