//! Whole-model checks: accounting invariant, reward components against a recomputation
//! from the trade log, tiering and tie splitting effects on market share, hedging.

use std::path::Path;

use dealersim::Simulation;
use dealersim::agents::Holdings;
use dealersim::market::MarketState;
use dealersim::mechanisms::dealer_market::{
    DealerMarketSimulation, Ledger, TradeKind, TradeLog, TradeRecord, maker_accounts,
};
use dealersim::scenario::{Scenario, parse_scenario};

fn scenario(text: &str) -> Scenario {
    match parse_scenario(text, Path::new("test.ron")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Steps `sim` to the end, returning every tick's trades and (P_{t−1}, P_t).
fn run_logged(sim: &mut Simulation) -> (Vec<TradeRecord>, Vec<(f64, f64)>) {
    sim.world_mut().resource_mut::<TradeLog>().enabled = true;
    let mut trades = Vec::new();
    let mut prices = Vec::new();
    while sim.tick() < sim.scenario().steps {
        sim.step().expect("step");
        trades.extend(sim.world().resource::<TradeLog>().trades.iter().copied());
        let state = sim.world().resource::<MarketState>();
        prices.push((state.previous_price, state.price));
    }
    (trades, prices)
}

fn ledgers(sim: &mut Simulation) -> Vec<(Ledger, Holdings)> {
    maker_accounts(sim.world_mut())
        .into_iter()
        .map(|(h, l)| (l, h))
        .collect()
}

const BUSY_MARKET: &str = r#"Scenario(
    seed: 5,
    steps: 600,
    market: (volatility: 0.3),
    mechanisms: [
        DealerMarket(
            investors: [
                Investor(p_trade: 0.5, size_mean: 40.0, sophistication: 0.9),
                Group(count: 300, p_trade: LogUniform(min: 0.005, max: 0.125), size_mean: Uniform(min: 0.5, max: 7.0),
                      sophistication: Uniform(min: 0.5, max: 0.7)),
            ],
            market_makers: [
                (name: "A", alpha: 1.3, hedging: (risk_aversion: 2.0)),
                (name: "B", alpha: 1.5, tiering: RevenueRate(retier_every: 4)),
                (name: "C", alpha: 1.1, tier_penalty: 1e-5, hedging: None),
            ],
        ),
    ],
)"#;

#[test]
fn accounting_is_conserved_every_tick_of_a_long_run() {
    let mut sim = Simulation::new(&scenario(BUSY_MARKET)).expect("valid");
    while sim.tick() < 600 {
        sim.step().expect("step");
        let residual = sim.accounting_residual();
        assert!(
            residual.abs() < 1e-12,
            "tick {}: residual {residual}",
            sim.tick()
        );
    }
}

/// Every reward component recomputed from the trade table alone, for hedges with the
/// other market makers (A) and on the exchange (C, in the second run): the quoting side
/// earns the spread and the position revenue of what it took; the hedger pays the
/// spread and is credited the position revenue of what it gave away.
#[test]
fn reward_components_match_a_recomputation_from_the_trades() {
    let on_the_exchange = BUSY_MARKET.replace(
        r#"(name: "C", alpha: 1.1, tier_penalty: 1e-5, hedging: None),"#,
        r#"(name: "C", alpha: 1.1, tier_penalty: 1e-5, hedging: (venue: Exchange)),"#,
    );
    assert_ne!(on_the_exchange, BUSY_MARKET);
    for (text, exchange) in [(BUSY_MARKET, false), (on_the_exchange.as_str(), true)] {
        reward_components_match_the_trades(text, exchange);
    }
}

fn reward_components_match_the_trades(text: &str, exchange: bool) {
    let mut sim = Simulation::new(&scenario(text)).expect("valid");
    let (trades, prices) = run_logged(&mut sim);
    assert_eq!(
        trades.iter().any(|t| t.kind == TradeKind::ExchangeHedge),
        exchange,
        "exchange hedges"
    );
    let t_m = 4usize;
    let makers = ledgers(&mut sim);
    assert!(
        trades.iter().any(|t| t.kind == TradeKind::Hedge),
        "no hedges happened"
    );
    for (m, (ledger, holdings)) in makers.iter().enumerate() {
        let m = m as u32;
        let mut spread_revenue = 0.0;
        let mut position_revenue = 0.0;
        let mut hedging_cost = 0.0;
        let mut position = 0.0;
        for t in &trades {
            let mid = prices[t.tick as usize].1;
            let paid = t.spread * t.maker_signed_size.abs() * mid;
            if t.kind == TradeKind::ExchangeHedge {
                // `maker` is the hedger and the size its own side: it pays the spread and
                // is credited the position revenue of that side.
                if t.maker == m {
                    hedging_cost += paid;
                    position += t.maker_signed_size;
                    if let Some(&(_, later)) = prices.get(t.tick as usize + t_m) {
                        position_revenue += (later - mid) * t.maker_signed_size;
                    }
                }
                continue;
            }
            if t.maker == m {
                spread_revenue += paid;
                position += t.maker_signed_size;
                if let Some(&(_, later)) = prices.get(t.tick as usize + t_m) {
                    position_revenue += (later - mid) * t.maker_signed_size;
                }
            }
            if t.kind == TradeKind::Hedge && t.counterparty == m {
                hedging_cost += paid;
                position -= t.maker_signed_size;
                // The hedger's side of its hedge earns the opposite position revenue.
                if let Some(&(_, later)) = prices.get(t.tick as usize + t_m) {
                    position_revenue -= (later - mid) * t.maker_signed_size;
                }
            }
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
        assert!(
            close(ledger.total.spread_revenue, spread_revenue),
            "maker {m} spread"
        );
        assert!(
            close(ledger.total.position_revenue, position_revenue),
            "maker {m} position revenue"
        );
        assert!(
            close(ledger.total.hedging_cost, hedging_cost),
            "maker {m} hedging cost"
        );
        assert!(close(holdings.position, position), "maker {m} position");
        assert!(ledger.total.risk_cost <= 0.0);
        let total = ledger.total.spread_revenue + ledger.total.position_revenue
            - ledger.total.hedging_cost
            + ledger.total.risk_cost;
        assert!(close(ledger.total.total(), total));
    }
    // The market maker that never hedges pays no hedging cost.
    if !exchange {
        assert_eq!(makers[2].0.total.hedging_cost, 0.0);
    }
}

#[test]
fn risk_cost_charges_the_opening_position_for_adverse_moves_only() {
    let mut sim = Simulation::new(&scenario(BUSY_MARKET)).expect("valid");
    let mut expected = [0.0f64; 3];
    for _ in 0..200 {
        let opening: Vec<f64> = ledgers(&mut sim).iter().map(|(_, h)| h.position).collect();
        sim.step().expect("step");
        let state = *sim.world().resource::<MarketState>();
        for (m, z) in opening.iter().enumerate() {
            expected[m] += (z * (state.price - state.previous_price)).min(0.0);
        }
    }
    for (m, (ledger, _)) in ledgers(&mut sim).iter().enumerate() {
        assert!((ledger.total.risk_cost - expected[m]).abs() <= 1e-9 * (1.0 + expected[m].abs()));
    }
}

fn two_makers_with_fixed_tiers(tier_a: u8, tier_b: u8) -> String {
    format!(
        r#"Scenario(
        seed: 3,
        steps: 400,
        mechanisms: [
            DealerMarket(
                investors: [Investor(p_trade: 0.5, size_mean: 2.0)],
                market_makers: [
                    (name: "A", tiering: Fixed(investors: {{0: {tier_a}}}), hedging: None),
                    (name: "B", tiering: Fixed(investors: {{0: {tier_b}}}), hedging: None),
                ],
            ),
        ],
    )"#
    )
}

fn shares(text: &str) -> Vec<f64> {
    let mut sim = Simulation::new(&scenario(text)).expect("valid");
    sim.run(|_| {}).expect("run");
    sim.maker_summaries()
        .iter()
        .map(|s| s.market_share)
        .collect()
}

#[test]
fn the_better_tier_wins_all_the_flow() {
    assert_eq!(shares(&two_makers_with_fixed_tiers(1, 3)), vec![1.0, 0.0]);
    assert_eq!(shares(&two_makers_with_fixed_tiers(4, 0)), vec![0.0, 1.0]);
}

#[test]
fn exact_ties_split_the_flow_evenly() {
    let s = shares(&two_makers_with_fixed_tiers(2, 2));
    // About 200 trades split by fair coin flips: 4 standard deviations is ±0.14.
    assert!((s[0] - 0.5).abs() < 0.14, "shares {s:?}");
}

#[test]
fn hedging_moves_both_positions_and_reduces_the_hedgers_exposure() {
    let text = r#"Scenario(
        steps: 200,
        mechanisms: [
            DealerMarket(
                investors: [Investor(p_trade: 1.0, size_mean: 20.0, p_buy: 1.0)],
                market_makers: [
                    (name: "A", tiering: Fixed(investors: {0: 0}), hedging: (risk_aversion: 5.0)),
                    (name: "B", tiering: Fixed(investors: {0: 4}), hedging: None),
                ],
            ),
        ],
    )"#;
    let mut sim = Simulation::new(&scenario(text)).expect("valid");
    let (trades, _) = run_logged(&mut sim);
    let makers = ledgers(&mut sim);
    let (a, b) = (&makers[0], &makers[1]);
    // Investor 0 always buys from A (better tier); A sells, goes short, and hedges by
    // buying from B, who ends up short too.
    let investor_volume: f64 = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Investor)
        .map(|t| t.maker_signed_size)
        .sum();
    assert!(investor_volume < 0.0);
    assert!(a.0.total_activity.hedged_out > 0.0);
    assert_eq!(a.0.total_activity.hedged_out, b.0.total_activity.hedged_in);
    assert!(a.1.position > investor_volume, "A hedged part of its short");
    assert!((a.1.position + b.1.position - investor_volume).abs() < 1e-9);
    assert!(b.1.position < 0.0);
    assert!(b.0.total.spread_revenue > 0.0 && a.0.total.hedging_cost > 0.0);
}

#[test]
fn exchange_hedging_pays_the_reference_curve_and_keeps_accounts_balanced() {
    let text = r#"Scenario(
        steps: 150,
        mechanisms: [
            DealerMarket(
                investors: [Investor(p_trade: 1.0, size_mean: 20.0, p_buy: 1.0)],
                market_makers: [(name: "Solo", hedging: (risk_aversion: 5.0, venue: Exchange))],
            ),
        ],
    )"#;
    let mut sim = Simulation::new(&scenario(text))
        .expect("valid: one market maker may hedge on the exchange");
    let (trades, prices) = run_logged(&mut sim);
    let hedges: Vec<&TradeRecord> = trades
        .iter()
        .filter(|t| t.kind == TradeKind::ExchangeHedge)
        .collect();
    assert!(!hedges.is_empty());
    let (ledger, holdings) = &ledgers(&mut sim)[0];
    // The solo maker sells to the investor and buys back on the exchange.
    assert!(
        hedges
            .iter()
            .all(|t| t.maker == 0 && t.maker_signed_size > 0.0)
    );
    let investor_volume: f64 = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Investor)
        .map(|t| t.maker_signed_size)
        .sum();
    let hedged: f64 = hedges.iter().map(|t| t.maker_signed_size).sum();
    assert!((holdings.position - (investor_volume + hedged)).abs() < 1e-9);
    assert!(
        holdings.position.abs() < 0.5 * investor_volume.abs(),
        "most of the flow is hedged"
    );
    // Each hedge pays the exchange's own curve, S_ref(v) ≥ S_ref(0) ≥ the clip minimum.
    let paid: f64 = hedges
        .iter()
        .map(|t| t.spread * t.maker_signed_size.abs() * prices[t.tick as usize].1)
        .sum();
    assert!((ledger.total.hedging_cost - paid).abs() < 1e-9 * (1.0 + paid));
    assert!(hedges.iter().all(|t| t.spread >= 1e-5 && t.tier == 0));
    assert!(sim.accounting_residual().abs() < 1e-12);
}

/// SPEC §2.3 has no cap on a hedge slice: with 10,000 investors the positions grow far
/// past `max_trade_size`, and each hedge trades the solver's x_0·|z| whole. (Before issue
/// 19 slices were capped at `max_trade_size`, and the largest hedge here was 50.)
const TEN_THOUSAND_HEDGERS: &str = r#"Scenario(
    seed: 19,
    steps: 24,
    mechanisms: [
        DealerMarket(
            max_trade_size: 50.0,
            investors: [
                Group(count: 10000, p_trade: LogUniform(min: 0.0052, max: 0.125),
                      size_mean: Uniform(min: 0.5, max: 7.0)),
            ],
            market_makers: [
                (name: "A", alpha: 1.2),
                (name: "B", alpha: 1.3),
                (name: "C", alpha: 1.4),
                (name: "D", alpha: 1.5),
            ],
        ),
    ],
)"#;

fn hedge_sizes(text: &str) -> (Vec<f64>, Vec<(Holdings, Ledger)>) {
    let mut sim = Simulation::new(&scenario(text)).expect("valid");
    let (trades, _) = run_logged(&mut sim);
    let sizes = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Hedge)
        .map(|t| t.maker_signed_size.abs())
        .collect();
    (sizes, maker_accounts(sim.world_mut()))
}

#[test]
fn hedge_volume_is_the_solvers_first_slice_uncapped() {
    let (sizes, accounts) = hedge_sizes(TEN_THOUSAND_HEDGERS);
    assert!(!sizes.is_empty(), "no hedges");
    let largest = sizes.iter().copied().fold(0.0, f64::max);
    assert!(
        largest > 50.0,
        "the largest hedge slice is {largest}: capped"
    );
    let hedged: f64 = accounts
        .iter()
        .map(|(_, l)| l.total_activity.hedged_out)
        .sum();
    let scheduled: f64 = accounts.iter().map(|(_, l)| l.scheduled_hedge_volume).sum();
    let traded: f64 = sizes.iter().sum();
    assert!(
        (hedged - scheduled).abs() <= 1e-9 * scheduled,
        "{hedged} vs {scheduled}"
    );
    assert!(
        (hedged - traded).abs() <= 1e-9 * traded,
        "{hedged} vs {traded}"
    );
}

#[test]
fn an_explicit_slice_cap_is_kept() {
    let capped = TEN_THOUSAND_HEDGERS.replace(
        r#"(name: "A", alpha: 1.2),"#,
        r#"(name: "A", alpha: 1.2, hedging: (max_slice: 50.0)),"#,
    );
    let mut sim = Simulation::new(&scenario(&capped)).expect("valid");
    let (trades, _) = run_logged(&mut sim);
    let a_hedges: Vec<f64> = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Hedge && t.counterparty == 0)
        .map(|t| t.maker_signed_size.abs())
        .collect();
    assert!(!a_hedges.is_empty());
    assert!(a_hedges.iter().all(|&v| v <= 50.0 + 1e-9), "{a_hedges:?}");
}

/// Sizes drawn above `max_trade_size` are truncated and counted, never silently.
#[test]
fn truncated_sizes_are_counted() {
    let clipping = TEN_THOUSAND_HEDGERS.replace("max_trade_size: 50.0", "max_trade_size: 8.0");
    let mut sim = Simulation::new(&scenario(&clipping)).expect("valid");
    let (trades, _) = run_logged(&mut sim);
    let at_cap = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Investor && t.maker_signed_size.abs() == 8.0)
        .count() as u64;
    let counted: u64 = sim.maker_summaries().iter().map(|s| s.clipped_trades).sum();
    assert!(counted > 0);
    assert_eq!(counted, at_cap);
}

/// A schedule that cannot finish (|z| > N·v_max, or slices near v_max quoted above the
/// mid) trades the largest slice that can trade instead of stopping the run: horizon 1
/// and v_max just above the positions.
#[test]
fn an_infeasible_hedge_trades_the_largest_tradable_slice() {
    let text = TEN_THOUSAND_HEDGERS
        .replace("max_trade_size: 50.0", "max_trade_size: 11.9")
        .replace("steps: 24,", "steps: 24,\n    market: (v_max: 12.0),")
        .replace(
            r#"(name: "A", alpha: 1.2),"#,
            r#"(name: "A", alpha: 1.2, hedging: (horizon: 1)),"#,
        );
    let mut sim = Simulation::new(&scenario(&text)).expect("valid");
    let (trades, _) = run_logged(&mut sim);
    let hedges: Vec<&TradeRecord> = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Hedge)
        .collect();
    assert!(!hedges.is_empty());
    assert!(
        hedges
            .iter()
            .all(|t| t.spread < 1.0 && t.maker_signed_size.abs() < 12.0)
    );
}

/// `tier_counts` (Counts(k)) holds exactly the per-tier totals of the full `tiers` table
/// (Every(k)) of the same run: snapshots do not change the simulation, and a count is
/// the number of rows at that tick, market maker, tier and counterparty kind.
#[test]
fn tier_counts_sum_the_full_snapshot() {
    use std::collections::BTreeMap;
    let text = |snapshots: &str| {
        format!(
            r#"Scenario(
    seed: 17, steps: 11,
    output: (format: Csv),
    mechanisms: [DealerMarket(
        tier_snapshots: {snapshots},
        investors: [Group(count: 400, p_trade: Uniform(min: 0.05, max: 0.4), size_mean: LogUniform(min: 0.5, max: 20.0))],
        market_makers: [
            (name: "A", tiering: AverageYield(tiers: 4)),
            (name: "B", tiering: RevenueRate(tiers: 3)),
            (name: "C", tiering: Fixed(tiers: 5)),
        ],
    )],
)"#
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |snapshots: &str, name: &str| {
        let out = dir.path().join(name);
        dealersim::run_to_directory(&scenario(&text(snapshots)), "t.ron", &out, |_| {})
            .expect("run");
        out
    };
    let full = run("Every(5)", "full");
    let counts = run("Counts(5)", "counts");
    assert!(!full.join("tier_counts.csv").exists());
    assert!(!counts.join("tiers.csv").exists());

    type Key = (u32, String, u32);
    let mut expected: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(full.join("tiers.csv")).expect("tiers.csv");
    for row in reader.records() {
        let row = row.expect("row");
        let key = (
            row[0].parse().unwrap(),
            row[1].to_string(),
            row[5].parse().unwrap(),
        );
        let entry = expected.entry(key).or_default();
        match &row[2] {
            "investor" => entry.0 += 1,
            _ => entry.1 += 1,
        }
    }
    let mut got: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
    let mut per_book: BTreeMap<(u32, String), u64> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(counts.join("tier_counts.csv")).expect("counts");
    for row in reader.records() {
        let row = row.expect("row");
        let (investors, makers): (u64, u64) = (row[3].parse().unwrap(), row[4].parse().unwrap());
        *per_book
            .entry((row[0].parse().unwrap(), row[1].to_string()))
            .or_default() += investors + makers;
        if investors + makers > 0 {
            let key = (
                row[0].parse().unwrap(),
                row[1].to_string(),
                row[2].parse().unwrap(),
            );
            got.insert(key, (investors, makers));
        }
    }
    assert!(
        per_book.values().all(|&n| n == 400 + 2),
        "every other slot once: {per_book:?}"
    );
    assert_eq!(got, expected);
    // Ticks 0, 5, 10 (the last), 3 market makers.
    let ticks: std::collections::BTreeSet<u32> = got.keys().map(|k| k.0).collect();
    assert_eq!(ticks.into_iter().collect::<Vec<_>>(), [0, 5, 10]);
}
