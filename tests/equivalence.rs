//! The activity-proportional implementation gives the same model as the direct one.
//!
//! - Arrivals: skip-sampling gives the same distributions as one uniform per investor per
//!   tick, at fixed seeds: trade counts per investor, sizes, market shares, score and
//!   tier distributions (statistical tests; the random draws differ).
//! - Tiering: the incremental cut points give exactly the tiers of the full re-ranking,
//!   so whole runs are identical.

use std::path::Path;

use dealersim::mechanisms::dealer_market::tiering::{CounterpartyBook, TieringMethod};
use dealersim::mechanisms::dealer_market::{
    ArrivalMode, DealerMarketSimulation, MarketMakerId, TradeKind, TradeLog, config_of,
    simulation_with_tiering_method,
};
use dealersim::scenario::parse_scenario;

const SCENARIO: &str = r#"Scenario(
    seed: 21,
    steps: 400,
    mechanisms: [
        DealerMarket(
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
        ),
    ],
)"#;

struct Outcome {
    counts: Vec<u64>,
    sizes: Vec<f64>,
    shares: Vec<f64>,
    scores: Vec<f64>,
}

fn run(mode: ArrivalMode, method: TieringMethod) -> Outcome {
    let scenario = parse_scenario(SCENARIO, Path::new("equivalence.ron")).expect("parses");
    let mut sim = simulation_with_tiering_method(&scenario, method).expect("valid");
    sim.set_arrival_mode(mode);
    sim.world_mut().resource_mut::<TradeLog>().enabled = true;
    let n = config_of(&scenario)
        .expect("a dealer market")
        .investor_count() as usize;
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
    let shares = sim
        .maker_summaries()
        .iter()
        .map(|s| s.market_share)
        .collect();
    let mut books = sim
        .world_mut()
        .query::<(&MarketMakerId, &CounterpartyBook)>();
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

/// The activity-proportional implementation (skip-sampled arrivals, incremental tiers)
/// against the direct one (one draw per investor per tick, full re-ranking each tick).
#[test]
fn activity_proportional_ticks_match_the_direct_implementation() {
    let skip = run(ArrivalMode::Skip, TieringMethod::Incremental);
    let direct = run(ArrivalMode::PerInvestor, TieringMethod::Reference);

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

/// Mean tier of each market maker's investor trades in one run of `SCENARIO` at `seed`,
/// shortened to 150 ticks.
fn mean_tiers(mode: ArrivalMode, method: TieringMethod, seed: u64) -> Vec<f64> {
    let mut scenario = parse_scenario(SCENARIO, Path::new("equivalence.ron")).expect("parses");
    scenario.seed = seed;
    scenario.steps = 150;
    let mut sim = simulation_with_tiering_method(&scenario, method).expect("valid");
    sim.set_arrival_mode(mode);
    sim.world_mut().resource_mut::<TradeLog>().enabled = true;
    let m = config_of(&scenario)
        .expect("a dealer market")
        .market_makers
        .len();
    let (mut sums, mut counts) = (vec![0.0; m], vec![0.0; m]);
    while sim.tick() < scenario.steps {
        sim.step().expect("step");
        for t in &sim.world().resource::<TradeLog>().trades {
            if t.kind == TradeKind::Investor {
                sums[t.maker as usize] += f64::from(t.tier);
                counts[t.maker as usize] += 1.0;
            }
        }
    }
    sums.iter().zip(&counts).map(|(s, c)| s / c).collect()
}

/// Welch's t statistic of two independent samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var / n)
    };
    let ((ma, va), (mb, vb)) = (moments(a), moments(b));
    (ma - mb) / (va + vb).sqrt()
}

/// The tiers trades are quoted at. Within one run they are far from independent (a
/// busy investor keeps its tier for many trades), so the unit is the run: independent
/// replications of each implementation, compared by the mean tier per market maker.
#[test]
fn tier_distributions_match_across_replications() {
    let replications = 10;
    let per_run = |mode, method| -> Vec<Vec<f64>> {
        (0..replications)
            .map(|r| mean_tiers(mode, method, 1000 + r))
            .collect()
    };
    let fast = per_run(ArrivalMode::Skip, TieringMethod::Incremental);
    let direct = per_run(ArrivalMode::PerInvestor, TieringMethod::Reference);
    for maker in 0..fast[0].len() {
        let a: Vec<f64> = fast.iter().map(|r| r[maker]).collect();
        let b: Vec<f64> = direct.iter().map(|r| r[maker]).collect();
        let t = welch_t(&a, &b);
        eprintln!("maker {maker}: mean tier {a:.3?} vs {b:.3?}, Welch t = {t:.2}");
        // |t| > 4.5 has probability below 1e-3 with about 18 degrees of freedom.
        assert!(
            t.abs() < 4.5,
            "maker {maker}: mean tiers differ (t = {t:.2})"
        );
    }
}

#[test]
fn the_welch_test_tells_shifted_samples_apart() {
    let a: Vec<f64> = (0..10).map(|i| 1.0 + 0.01 * f64::from(i)).collect();
    let b: Vec<f64> = a.iter().map(|x| x + 0.1).collect();
    assert!(welch_t(&a, &b).abs() > 4.5);
    assert!(welch_t(&a, &a).abs() < 1e-12);
}

/// Whole runs with incremental and reference tiering agree exactly: every book gives every
/// counterparty the same tier after every tick, and the market makers' results are
/// identical to the last bit. The scenario exercises
/// prior-yield ties, a non-zero prior, pinned investors, re-tiering every third tick,
/// and market makers tiering each other.
#[test]
fn incremental_tiering_gives_the_same_run_as_the_reference() {
    let text = r#"Scenario(
        seed: 5,
        steps: 120,
        mechanisms: [
            DealerMarket(
                investors: [
                    Group(count: 800, p_trade: LogUniform(min: 0.005, max: 0.3), size_mean: LogUniform(min: 0.5, max: 7.0)),
                ],
                market_makers: [
                    (name: "A", alpha: 1.2, tiering: AverageYield(tiers: 5, weight: 0.2, pinned_investors: {3: 4, 10: 0})),
                    (name: "B", alpha: 1.3, tiering: AverageYield(tiers: 3, prior_yield: 0.0005, retier_every: 3)),
                    (name: "C", alpha: 1.4, tiering: RevenueRate(tiers: 4)),
                ],
            ),
        ],
            )"#;
    let scenario = parse_scenario(text, Path::new("tiers.ron")).expect("parses");
    let run_with = |method| {
        let mut sim = simulation_with_tiering_method(&scenario, method).expect("valid");
        let mut tiers_each_tick = Vec::new();
        while sim.tick() < scenario.steps {
            sim.step().expect("step");
            let mut books = sim
                .world_mut()
                .query::<(&MarketMakerId, &CounterpartyBook)>();
            let mut by_maker: Vec<_> = books.iter(sim.world()).collect();
            by_maker.sort_by_key(|(id, _)| **id);
            for (id, book) in by_maker {
                // A market maker's own slot has no tier.
                let own = 800 + id.0 as usize;
                let tiers: Vec<u8> = (0..book.len())
                    .filter(|&c| c != own)
                    .map(|c| book.tier(c))
                    .collect();
                tiers_each_tick.push(tiers);
            }
        }
        let summary = format!("{:?}", sim.maker_summaries());
        (tiers_each_tick, summary)
    };
    let (fast_tiers, fast_summary) = run_with(TieringMethod::Incremental);
    let (reference_tiers, reference_summary) = run_with(TieringMethod::Reference);
    assert_eq!(fast_tiers.len(), reference_tiers.len());
    for (i, (a, b)) in fast_tiers.iter().zip(&reference_tiers).enumerate() {
        assert!(a == b, "tiers differ at tick {}, book {}", i / 3, i % 3);
    }
    assert_eq!(fast_summary, reference_summary);
    let moved = fast_tiers.windows(3).filter(|w| w[0] != w[2]).count();
    assert!(
        moved > 100,
        "the tiers must actually move during the run ({moved})"
    );
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
    use ArrivalMode::{PerInvestor, Skip};
    let floor = ArrivalMode::MIN_SKIP_POPULATION;
    // The population at which 10,000 candidates a tick cost as much as the scan.
    let break_even = (10_000.0 * ArrivalMode::RANDOM_ACCESS_COST) as usize;
    assert!(break_even > floor, "the cases below assume it");
    for (candidates, investors, expected) in [
        // Rare trades in a large population: skip-sampling; busy markets: the scan.
        (1.0, 1_000_000, Skip),
        (10_000.0, break_even + 1, Skip),
        (10_000.0, break_even - 1, PerInvestor),
        (1_000_000.0, 1_000_000, PerInvestor),
        // Small populations keep the direct scan however rare their trades.
        (1.0, 10, PerInvestor),
        (1.0, floor - 1, PerInvestor),
        (1.0, floor, Skip),
    ] {
        assert_eq!(
            ArrivalMode::for_population(candidates, investors),
            expected,
            "{candidates} candidates among {investors} investors"
        );
    }
}
