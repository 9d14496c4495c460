//! Run outputs: the tables a run streams (per-tick market-maker metrics, trades, tier
//! snapshots, summary), their columns, and the `Record`-phase system that writes them.

pub mod manifest;
pub mod table;

use bevy_ecs::prelude::*;

use crate::agents::Holdings;
use crate::dealers::{CounterpartyBook, Ledger, MarketMakerId};
use crate::market::{Clock, MarketState};
use crate::mechanisms::dealer_market::{Population, TradeKind, TradeLog};
use crate::schedule::TickPhase;
use table::{Cell, Column, ColumnType, OutputError, TableWriter};

/// Columns of `metrics.*`: one row per (tick, market maker).
pub const METRICS_COLUMNS: &[Column] = &[
    col(
        "tick",
        ColumnType::U32,
        "tick index, 0-based (15 minutes each)",
    ),
    col("market_maker", ColumnType::Utf8, "market maker name"),
    col(
        "mid_price",
        ColumnType::F64,
        "P_t, mid-price (currency per unit)",
    ),
    col(
        "reference_spread",
        ColumnType::F64,
        "s0_t, reference spread (relative to mid)",
    ),
    col("trades", ColumnType::U64, "investor trades won this tick"),
    col(
        "volume",
        ColumnType::F64,
        "investor volume won this tick (units)",
    ),
    col(
        "hedged_out",
        ColumnType::F64,
        "volume hedged away to other market makers (units)",
    ),
    col(
        "hedged_in",
        ColumnType::F64,
        "volume received from other market makers' hedges (units)",
    ),
    col(
        "spread_revenue",
        ColumnType::F64,
        "spread earned on trades quoted (currency)",
    ),
    col(
        "position_revenue",
        ColumnType::F64,
        "position revenue realised (currency)",
    ),
    col(
        "hedging_cost",
        ColumnType::F64,
        "spread paid on own hedges (currency, ≥ 0)",
    ),
    col(
        "risk_cost",
        ColumnType::F64,
        "min(z·(P_t − P_{t−1}), 0) (currency, ≤ 0)",
    ),
    col(
        "reward",
        ColumnType::F64,
        "spread + position revenue − hedging cost + risk cost",
    ),
    col(
        "position",
        ColumnType::F64,
        "position at the end of the tick (units)",
    ),
    col(
        "cash",
        ColumnType::F64,
        "cash at the end of the tick (currency)",
    ),
    col(
        "mark_to_market",
        ColumnType::F64,
        "cash + position·P_t (currency)",
    ),
];

/// Columns of `trades.*`: one row per executed trade (opt-in).
pub const TRADE_COLUMNS: &[Column] = &[
    col("tick", ColumnType::U32, "tick of execution"),
    col(
        "kind",
        ColumnType::Utf8,
        "`investor`, `hedge` (with a market maker) or `exchange_hedge` (on the exchange)",
    ),
    col(
        "market_maker",
        ColumnType::Utf8,
        "the market maker that quoted; for `exchange_hedge`, the hedger",
    ),
    col(
        "counterparty",
        ColumnType::U32,
        "investor id, or the hedging market maker's id for hedges",
    ),
    col(
        "maker_size",
        ColumnType::F64,
        "size from `market_maker`'s side, + when it bought (units)",
    ),
    col(
        "spread",
        ColumnType::F64,
        "relative spread paid by the counterparty",
    ),
    col("price", ColumnType::F64, "execution price P_t·(1 ± spread)"),
    col("tier", ColumnType::U32, "tier the market maker quoted at"),
    col(
        "informed",
        ColumnType::Bool,
        "whether the oracle set an investor's direction",
    ),
];

/// Columns of `tiers.*`: every market maker's score and tier of every counterparty.
pub const TIER_COLUMNS: &[Column] = &[
    col(
        "tick",
        ColumnType::U32,
        "tick of the snapshot (after that tick's trades)",
    ),
    col(
        "market_maker",
        ColumnType::Utf8,
        "the market maker whose book this is",
    ),
    col(
        "counterparty_kind",
        ColumnType::Utf8,
        "`investor` or `market_maker`",
    ),
    col(
        "counterparty",
        ColumnType::U32,
        "investor id or market maker id",
    ),
    col(
        "score",
        ColumnType::F64,
        "ψ at the end of the tick (NaN for fixed tiering)",
    ),
    col(
        "tier",
        ColumnType::U32,
        "tier, 0 the best, as set from the scores at the tick's start",
    ),
];

/// Columns of `summary.*`: one row per market maker over the whole run.
pub const SUMMARY_COLUMNS: &[Column] = &[
    col("market_maker", ColumnType::Utf8, "market maker name"),
    col("trades", ColumnType::U64, "investor trades won"),
    col("volume", ColumnType::F64, "investor volume won (units)"),
    col(
        "market_share",
        ColumnType::F64,
        "share of all investor volume, in [0, 1]",
    ),
    col("hedged_out", ColumnType::F64, "volume hedged away (units)"),
    col(
        "hedged_in",
        ColumnType::F64,
        "volume received from others' hedges (units)",
    ),
    col(
        "final_position",
        ColumnType::F64,
        "position at the end (units)",
    ),
    col("final_cash", ColumnType::F64, "cash at the end (currency)"),
    col(
        "spread_revenue",
        ColumnType::F64,
        "total spread revenue (currency)",
    ),
    col(
        "position_revenue",
        ColumnType::F64,
        "total realised position revenue (currency)",
    ),
    col(
        "hedging_cost",
        ColumnType::F64,
        "total hedging cost (currency)",
    ),
    col("risk_cost", ColumnType::F64, "total risk cost (currency)"),
    col(
        "total_reward",
        ColumnType::F64,
        "sum of the four components",
    ),
];

const fn col(name: &'static str, ty: ColumnType, doc: &'static str) -> Column {
    Column { name, ty, doc }
}

/// Runs `write`, which stages and commits files into `out_dir`; if it fails and
/// `out_dir` did not exist before, the (by then empty) directory is removed too, so a
/// failed run leaves no trace. `remove_dir` only removes an empty directory, so nothing
/// else can be lost.
///
/// # Errors
/// Whatever `write` returns.
pub fn leave_nothing_on_error<T, E>(
    out_dir: &std::path::Path,
    write: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let existed = out_dir.exists();
    let result = write();
    if result.is_err() && !existed {
        let _ = std::fs::remove_dir(out_dir);
    }
    result
}

/// The open tables of a run, written in the `Record` phase.
#[derive(Resource, Default)]
pub struct Recorder {
    /// `metrics`, always written when recording.
    pub metrics: Option<TableWriter>,
    /// `trades`, when requested.
    pub trades: Option<TableWriter>,
    /// `tiers`, when `tier_snapshot_every` > 0.
    pub tiers: Option<TableWriter>,
    /// Snapshot interval in ticks (0 = never).
    pub tier_snapshot_every: u32,
    /// Market maker names by id.
    pub maker_names: Vec<String>,
    /// The first write error; once set, nothing more is written and the run stops.
    pub error: Option<OutputError>,
}

/// Installs the recording system into the `Record` phase.
pub fn install(schedule: &mut Schedule) {
    schedule.add_systems(record_tick.in_set(TickPhase::Record));
}

/// Record: one metrics row per market maker, this tick's trades, and tier snapshots.
fn record_tick(
    clock: Res<Clock>,
    state: Res<MarketState>,
    population: Res<Population>,
    log: Res<TradeLog>,
    mut recorder: ResMut<Recorder>,
    makers: Query<(&MarketMakerId, &Holdings, &Ledger, &CounterpartyBook)>,
) {
    if recorder.error.is_some() {
        return;
    }
    let mut makers: Vec<_> = makers.iter().collect();
    makers.sort_unstable_by_key(|(id, ..)| id.0);
    let recorder = &mut *recorder;
    let result = write_tick(&clock, &state, &population, &log, recorder, &makers);
    if let Err(error) = result {
        recorder.error = Some(error);
    }
}

fn write_tick(
    clock: &Clock,
    state: &MarketState,
    population: &Population,
    log: &TradeLog,
    recorder: &mut Recorder,
    makers: &[(&MarketMakerId, &Holdings, &Ledger, &CounterpartyBook)],
) -> Result<(), OutputError> {
    let tick = clock.tick;
    let names = &recorder.maker_names;
    if let Some(metrics) = &mut recorder.metrics {
        for (id, holdings, ledger, _) in makers {
            let r = &ledger.tick;
            let a = &ledger.activity;
            metrics.write_row(&[
                Cell::U32(tick),
                Cell::Str(&names[id.0 as usize]),
                Cell::F64(state.price),
                Cell::F64(state.curve.reference_spread),
                Cell::U64(a.trades),
                Cell::F64(a.volume),
                Cell::F64(a.hedged_out),
                Cell::F64(a.hedged_in),
                Cell::F64(r.spread_revenue),
                Cell::F64(r.position_revenue),
                Cell::F64(r.hedging_cost),
                Cell::F64(r.risk_cost),
                Cell::F64(r.total()),
                Cell::F64(holdings.position),
                Cell::F64(holdings.cash),
                Cell::F64(holdings.cash + holdings.position * state.price),
            ])?;
        }
    }
    if let Some(trades) = &mut recorder.trades {
        for t in &log.trades {
            trades.write_row(&[
                Cell::U32(t.tick),
                Cell::Str(match t.kind {
                    TradeKind::Investor => "investor",
                    TradeKind::Hedge => "hedge",
                    TradeKind::ExchangeHedge => "exchange_hedge",
                }),
                Cell::Str(&names[t.maker as usize]),
                Cell::U32(t.counterparty),
                Cell::F64(t.maker_signed_size),
                Cell::F64(t.spread),
                Cell::F64(t.price),
                Cell::U32(u32::from(t.tier)),
                Cell::Bool(t.informed),
            ])?;
        }
    }
    let every = recorder.tier_snapshot_every;
    let snapshot_due = every > 0 && (tick.is_multiple_of(every) || tick + 1 == clock.steps);
    if let (true, Some(tiers)) = (snapshot_due, &mut recorder.tiers) {
        for (id, .., book) in makers {
            let own = population.maker_slot(id.0);
            for slot in 0..book.len() {
                if slot == own {
                    continue;
                }
                let (kind, counterparty) = if slot < population.investors as usize {
                    ("investor", slot as u32)
                } else {
                    (
                        "market_maker",
                        (slot - population.investors as usize) as u32,
                    )
                };
                tiers.write_row(&[
                    Cell::U32(tick),
                    Cell::Str(&names[id.0 as usize]),
                    Cell::Str(kind),
                    Cell::U32(counterparty),
                    Cell::F64(book.score(slot, tick)),
                    Cell::U32(u32::from(book.tier(slot))),
                ])?;
            }
        }
    }
    Ok(())
}
