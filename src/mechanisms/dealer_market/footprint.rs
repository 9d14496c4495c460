//! How much memory and output a dealer-market run needs, estimated from its config
//! before anything is allocated. Per-item sizes are measured on the bench ladder: the
//! items alone put XL (10M investors × 50 makers) at 3.7 GiB against its measured 4.3
//! GiB peak RSS, so the estimate adds [`OVERHEAD`] for the allocator and the runtime
//! (issue 11 added the tier matrix, 64 B an investor at XL, and the books' key bitsets).

use super::config::{DealerMarketConfig, InvestorSpec, SnapshotScope, TieringConfig};
use crate::scenario::{OutputFormat, Scenario};
use crate::sim::resources::ResourceEstimate;

/// Bytes an investor takes: its entity (~100 B) and its copy in the arrival sampler (56 B).
const INVESTOR_BYTES: u64 = 156;
/// Bytes a counterparty scored by an average-yield book takes (sparse maps, order sets).
const SCORED_BYTES: u64 = 60;
/// Bytes per slot of a revenue-rate book (dense ψ, volume EWMA, tick, tier).
const REVENUE_RATE_SLOT_BYTES: u64 = 21;
/// Bytes of a trade waiting for its position revenue, or kept in the trade log.
const PENDING_TRADE_BYTES: u64 = 64;

/// Peak RSS over the modelled items (allocator slack, ECS tables, the runtime).
const OVERHEAD: f64 = 1.2;

/// Bytes per row of each table: (Parquet, CSV), measured on bundled runs (Parquet's
/// dictionary and Snappy encoding make its rows small).
const METRICS_ROW: (u64, u64) = (60, 200);
const TRADE_ROW: (u64, u64) = (25, 80);
const TIER_ROW: (u64, u64) = (8, 40);
/// The most tiers a book has, for the size of a `tier_counts` snapshot.
const K_MAX: u64 = u8::MAX as u64;

/// The expected number of investor trades a tick: Σ p_trade (a group counts its mean).
fn trades_per_tick(config: &DealerMarketConfig) -> f64 {
    config
        .investors
        .iter()
        .map(|spec| match spec {
            InvestorSpec::Investor(p) => p.p_trade,
            InvestorSpec::Group(g) => f64::from(g.count) * g.p_trade.mean(),
        })
        .sum::<f64>()
        .max(0.0)
}

/// The estimate for `config` in `scenario`, with fields under `path`.
pub fn estimate(config: &DealerMarketConfig, scenario: &Scenario, path: &str) -> ResourceEstimate {
    let investors = config.investor_count();
    let makers = config.market_makers.len() as u64;
    let slots = investors + makers;
    let steps = u64::from(scenario.steps);
    let per_tick = trades_per_tick(config);
    let trades = (per_tick * steps as f64).min(u64::MAX as f64 / 2.0) as u64;
    // Average-yield books score only the counterparties that traded with them: across
    // books, at most one per trade and at most every (investor, maker) pair.
    let scored = trades.min(investors.saturating_mul(makers));
    let mut books: u64 = 0;
    for maker in &config.market_makers {
        books = books.saturating_add(match &maker.tiering {
            // The off-prior slot set and the counted bitset of tie keys.
            TieringConfig::AverageYield(_) => slots / 4,
            TieringConfig::RevenueRate(_) => slots.saturating_mul(REVENUE_RATE_SLOT_BYTES),
            TieringConfig::Fixed(_) => slots,
        });
    }
    let average_yield_books = config
        .market_makers
        .iter()
        .filter(|m| matches!(m.tiering, TieringConfig::AverageYield(_)))
        .count() as u64;
    if average_yield_books > 0 {
        books = books.saturating_add(scored.saturating_mul(SCORED_BYTES));
    }
    let pending = ((per_tick * f64::from(config.position_horizon + 2)) as u64)
        .saturating_mul(PENDING_TRADE_BYTES);
    // The tier matrix: one row of M bytes (padded to a power of two up to 64) an investor.
    let tier_row = if makers <= 64 {
        makers.next_power_of_two()
    } else {
        makers
    };
    let population = investors.saturating_mul(INVESTOR_BYTES.saturating_add(tier_row));
    let items = population.saturating_add(books).saturating_add(pending);
    let memory = (items as f64 * OVERHEAD).min(u64::MAX as f64) as u64;
    let memory_field = if population >= books {
        format!("{path}.investors")
    } else {
        format!("{path}.market_makers")
    };

    let csv = scenario.output.format == OutputFormat::Csv;
    let row = |(parquet, text): (u64, u64)| if csv { text } else { parquet };
    let metrics = steps
        .saturating_mul(makers)
        .saturating_mul(row(METRICS_ROW));
    let trade_table = if scenario.output.trades {
        trades.saturating_mul(row(TRADE_ROW))
    } else {
        0
    };
    let tier_rows = match config.snapshot_plan() {
        None => 0,
        Some(plan) => {
            let snapshots = match plan.every {
                None => 1,
                Some(every) => steps.div_ceil(u64::from(every)) + 1,
            };
            let rows = match plan.scope {
                SnapshotScope::Full => makers.saturating_mul(slots),
                SnapshotScope::Counts => makers.saturating_mul(K_MAX),
            };
            snapshots.saturating_mul(rows)
        }
    };
    let tiers = tier_rows.saturating_mul(row(TIER_ROW));
    let output = metrics.saturating_add(trade_table).saturating_add(tiers);
    let output_field = if tiers >= metrics && tiers >= trade_table {
        format!("{path}.tier_snapshots")
    } else if trade_table >= metrics {
        "output.trades".to_string()
    } else {
        "steps".to_string()
    };
    ResourceEstimate {
        memory_bytes: memory,
        memory_detail: format!(
            "{investors} investors × ({INVESTOR_BYTES} B + a {tier_row} B tier row), {makers} books \
             over {slots} counterparties, {trades} expected trades"
        ),
        memory_field,
        output_bytes: output,
        output_detail: format!(
            "{steps} ticks × {makers} metrics rows, {} tier rows, {} trade rows",
            tier_rows,
            if scenario.output.trades { trades } else { 0 }
        ),
        output_field,
    }
}
