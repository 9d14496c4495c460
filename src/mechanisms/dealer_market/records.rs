//! The dealer market's tables (`metrics`, `trades`, `tiers`, `summary`) as typed rows,
//! and the `Record`-phase system that writes them.

use bevy_ecs::prelude::*;

use super::components::{Ledger, MakersById};
use super::config::{SnapshotPlan, SnapshotScope};
use super::resources::{Population, TradeKind, TradeLog};
use super::tiering::CounterpartyBook;
use crate::agents::Holdings;
use crate::market::{Clock, MarketState};
use crate::output::Recorder;
use crate::output::row::TableRow;

crate::table_row! {
    /// One row of `metrics`: a market maker's figures for one tick.
    pub struct MetricsRow<'a> in "metrics" {
        tick: u32 => "tick index, 0-based (15 minutes each)",
        market_maker: &'a str => "market maker name",
        mid_price: f64 => "P_t, mid-price (currency per unit)",
        reference_spread: f64 => "s0_t, reference spread (relative to mid)",
        trades: u64 => "investor trades won this tick",
        volume: f64 => "investor volume won this tick (units)",
        hedged_out: f64 => "volume hedged away to other market makers (units)",
        hedged_in: f64 => "volume received from other market makers' hedges (units)",
        spread_revenue: f64 => "spread earned on trades quoted (currency)",
        position_revenue: f64 => "position revenue realised (currency)",
        hedging_cost: f64 => "spread paid on own hedges (currency, ≥ 0)",
        risk_cost: f64 => "min(z·(P_t − P_{t−1}), 0) (currency, ≤ 0)",
        reward: f64 => "spread + position revenue − hedging cost + risk cost",
        position: f64 => "position at the end of the tick (units)",
        cash: f64 => "cash at the end of the tick (currency)",
        mark_to_market: f64 => "cash + position·P_t (currency)",
    }
}

crate::table_row! {
    /// One row of `trades`: an executed trade (written with `output.trades`).
    pub struct TradeRow<'a> in "trades" {
        tick: u32 => "tick of execution",
        kind: &'a str => "`investor`, `hedge` (with a market maker) or `exchange_hedge` (on the exchange)",
        market_maker: &'a str => "the market maker that quoted; for `exchange_hedge`, the hedger",
        counterparty: u32 => "investor id, or the hedging market maker's id for hedges",
        maker_size: f64 => "size from `market_maker`'s side, + when it bought (units)",
        spread: f64 => "relative spread paid by the counterparty",
        price: f64 => "execution price P_t·(1 ± spread)",
        tier: u32 => "tier the market maker quoted at",
        informed: bool => "whether the oracle set an investor's direction",
    }
}

crate::table_row! {
    /// One row of `tiers`: a market maker's score and tier of one counterparty.
    pub struct TierRow<'a> in "tiers" {
        tick: u32 => "tick of the snapshot (after that tick's trades)",
        market_maker: &'a str => "the market maker whose book this is",
        counterparty_kind: &'a str => "`investor` or `market_maker`",
        counterparty: u32 => "investor id or market maker id",
        score: f64 => "ψ at the end of the tick (NaN for fixed tiering)",
        tier: u32 => "tier, 0 the best, as set from the scores at the tick's start",
    }
}

crate::table_row! {
    /// One row of `tier_counts`: how many counterparties one market maker's book holds
    /// in one tier (the scalable alternative to `tiers`).
    pub struct TierCountRow<'a> in "tier_counts" {
        tick: u32 => "tick of the snapshot (after that tick's trades)",
        market_maker: &'a str => "the market maker whose book this is",
        tier: u32 => "tier, 0 the best",
        investors: u64 => "investors quoted at this tier",
        market_makers: u64 => "other market makers quoted at this tier",
    }
}

crate::table_row! {
    /// One row of `summary`: a market maker's results over the run.
    pub struct SummaryRow in "summary" {
        market_maker: String => "market maker name",
        trades: u64 => "investor trades won",
        volume: f64 => "investor volume won (units)",
        clipped_trades: u64 => "of those, trades whose drawn size was truncated to max_trade_size",
        market_share: f64 => "share of all investor volume, in [0, 1]",
        hedged_out: f64 => "volume hedged away (units)",
        hedged_in: f64 => "volume received from others' hedges (units)",
        final_position: f64 => "position at the end (units)",
        final_cash: f64 => "cash at the end (currency)",
        spread_revenue: f64 => "total spread revenue (currency)",
        position_revenue: f64 => "total realised position revenue (currency)",
        hedging_cost: f64 => "total hedging cost (currency)",
        risk_cost: f64 => "total risk cost (currency)",
        total_reward: f64 => "sum of the four components",
    }
}

/// The market makers' names by id, for the tables.
#[derive(Resource, Clone, Debug, Default)]
pub struct MakerNames(pub Vec<String>);

/// When and what of the books' tiers is written (`None`: nothing).
#[derive(Resource, Clone, Copy, Debug)]
pub struct TierSnapshots(pub Option<SnapshotPlan>);

/// Record: one metrics row per market maker, this tick's trades, and tier snapshots.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_tick(
    clock: Res<Clock>,
    state: Res<MarketState>,
    population: Res<Population>,
    log: Res<TradeLog>,
    names: Res<MakerNames>,
    snapshots: Res<TierSnapshots>,
    recorder: Option<ResMut<Recorder>>,
    makers: MakersById<(&Holdings, &Ledger, &CounterpartyBook)>,
) {
    let Some(mut recorder) = recorder else {
        return;
    };
    let makers = makers.read_in_id_order();
    let tick = clock.tick;
    let names = &names.0;
    if let Some(mut metrics) = recorder.writer(&MetricsRow::TABLE) {
        for (id, (holdings, ledger, _)) in &makers {
            let r = &ledger.tick;
            let a = &ledger.activity;
            metrics.write(&MetricsRow {
                tick,
                market_maker: &names[id.0 as usize],
                mid_price: state.price,
                reference_spread: state.curve.reference_spread,
                trades: a.trades,
                volume: a.volume,
                hedged_out: a.hedged_out,
                hedged_in: a.hedged_in,
                spread_revenue: r.spread_revenue,
                position_revenue: r.position_revenue,
                hedging_cost: r.hedging_cost,
                risk_cost: r.risk_cost,
                reward: r.total(),
                position: holdings.position,
                cash: holdings.cash,
                mark_to_market: holdings.cash + holdings.position * state.price,
            });
        }
    }
    if let Some(mut trades) = recorder.writer(&TradeRow::TABLE) {
        for t in &log.trades {
            trades.write(&TradeRow {
                tick: t.tick,
                kind: match t.kind {
                    TradeKind::Investor => "investor",
                    TradeKind::Hedge => "hedge",
                    TradeKind::ExchangeHedge => "exchange_hedge",
                },
                market_maker: &names[t.maker as usize],
                counterparty: t.counterparty,
                maker_size: t.maker_signed_size,
                spread: t.spread,
                price: t.price,
                tier: u32::from(t.tier),
                informed: t.informed,
            });
        }
    }
    let Some(plan) = snapshots.0 else {
        return;
    };
    let last = tick + 1 == clock.steps;
    if !(last || plan.every.is_some_and(|every| tick.is_multiple_of(every))) {
        return;
    }
    let investors = population.investors as usize;
    match plan.scope {
        SnapshotScope::Full => {
            let Some(mut tiers) = recorder.writer(&TierRow::TABLE) else {
                return;
            };
            for (id, (.., book)) in &makers {
                let own = population.maker_slot(id.0);
                for slot in (0..book.len()).filter(|&slot| slot != own) {
                    let (counterparty_kind, counterparty) = if slot < investors {
                        ("investor", slot as u32)
                    } else {
                        ("market_maker", (slot - investors) as u32)
                    };
                    tiers.write(&TierRow {
                        tick,
                        market_maker: &names[id.0 as usize],
                        counterparty_kind,
                        counterparty,
                        score: book.score(slot, tick),
                        tier: u32::from(book.tier(slot)),
                    });
                }
            }
        }
        SnapshotScope::Counts => {
            let Some(mut counts) = recorder.writer(&TierCountRow::TABLE) else {
                return;
            };
            for (id, (.., book)) in &makers {
                let own = population.maker_slot(id.0);
                let k = usize::from(book.tiers_count().max(1));
                let mut makers_at = vec![0u64; k];
                for slot in (investors..book.len()).filter(|&slot| slot != own) {
                    makers_at[usize::from(book.tier(slot)).min(k - 1)] += 1;
                }
                for (tier, (&all, &market_makers)) in
                    book.tier_counts(own).iter().zip(&makers_at).enumerate()
                {
                    counts.write(&TierCountRow {
                        tick,
                        market_maker: &names[id.0 as usize],
                        tier: tier as u32,
                        investors: all - market_makers,
                        market_makers,
                    });
                }
            }
        }
    }
}
