//! The dealer-pair market's tables: per (tick, dealer), per (tick, pair), per portfolio
//! sold (with `output.trades`), and the summary per dealer.

use bevy_ecs::prelude::*;

use super::book::{Dealer, PairBooks, Side};
use super::systems::Signals;
use super::utility::crra;
use crate::market::Clock;
use crate::output::Recorder;
use crate::output::row::TableRow;

crate::table_row! {
    /// One row per (tick, dealer), after the tick.
    pub struct PairDealerRow<'a> in "pairs_dealers" {
        tick: u32 => "tick",
        pair: &'a str => "pair name",
        side: &'static str => "`asset` (AssetDealer) or `investor` (InvestorDealer)",
        margin: f64 => "margin m quoted this tick: the AssetDealer pays (1 − m) × its value, the InvestorDealer charges (1 + m)",
        cash: f64 => "dealer cash (currency)",
        inventory_value: f64 => "held remainders at the dealer's valuation × their level (AssetDealer; 0 for the InvestorDealer)",
        wealth: f64 => "cash + inventory_value",
        utility: f64 => "CRRA utility of wealth, w^(1−g)/(1−g) (ln w at g = 1)",
        profit: f64 => "wealth change over the tick",
        queue_length: u32 => "users waiting in the dealer's demand queue after matching",
        fills: u32 => "users served this tick: streams bought, or portfolios sold",
        lost_users: u32 => "users who left the queue this tick when their patience ran out",
        volume: f64 => "value traded with users this tick, at the dealer's valuation",
    }
}

crate::table_row! {
    /// One row per (tick, pair), after the tick.
    pub struct PairVolumeRow<'a> in "pairs_volume" {
        tick: u32 => "tick",
        pair: &'a str => "pair name",
        volume: f64 => "value of the strips sold to investor-users, at the market rate",
        matches: u32 => "portfolios sold",
        transfers: f64 => "cash the InvestorDealer paid the AssetDealer for strips",
        held_streams: u32 => "streams the AssetDealer holds part of",
    }
}

crate::table_row! {
    /// One row per portfolio sold (written with `output.trades: true`).
    pub struct PairTradeRow<'a> in "pairs_trades" {
        tick: u32 => "tick",
        pair: &'a str => "pair name",
        investor: u32 => "investor-user index (group order, then order in the group)",
        strips: u32 => "distinct streams in the portfolio",
        cash: f64 => "cash paid",
        market_value: f64 => "the portfolio's value now at the market rate",
        certainty_equivalent: f64 => "her certainty equivalent of the portfolio's value at her horizon",
        tail_probability: f64 => "P(value at horizon < loss level), Fenton–Wilkinson lognormal",
        candidates: u32 => "candidates within tolerance that met her reservation",
        surplus: f64 => "certainty equivalent discounted at her reservation rate, less cash",
    }
}

crate::table_row! {
    /// One row per dealer: the run's results.
    pub struct PairSummaryRow in "pairs_summary" {
        pair: String => "pair name",
        side: String => "`asset` or `investor`",
        final_wealth: f64 => "wealth after the last tick",
        profit: f64 => "final wealth less capital",
        profit_per_tick: f64 => "mean profit per tick",
        profit_per_tick_sd: f64 => "sample standard deviation of the per-tick profit",
        mean_margin: f64 => "mean margin over ticks",
        final_margin: f64 => "margin in the last tick",
        fills: u64 => "users served",
        lost_users: u64 => "users who left its queue unserved",
        users_surplus: f64 => "its users' surplus, summed (asset-users: lump sum less reservation value; investor-users: discounted certainty equivalent less cash)",
    }
}

/// Record: the dealer, pair and (when asked) trade rows of the tick.
pub fn record_pairs(
    clock: Res<Clock>,
    books: Res<PairBooks>,
    signals: Res<Signals>,
    recorder: Option<ResMut<Recorder>>,
    dealers: Query<&Dealer>,
) {
    let Some(mut recorder) = recorder else {
        return;
    };
    let tick = clock.tick;
    for book in &books.0 {
        for (entity, queue) in [
            (book.asset_dealer, book.asset_queue.len()),
            (book.investor_dealer, book.investor_queue.len()),
        ] {
            let Ok(d) = dealers.get(entity) else {
                continue;
            };
            recorder.write(&PairDealerRow {
                tick,
                pair: &book.name,
                side: d.side.name(),
                margin: d.margin,
                cash: d.cash,
                inventory_value: d.inventory_value,
                wealth: d.wealth,
                utility: crra(d.wealth, d.risk_aversion),
                profit: d.tick.profit,
                queue_length: u32::try_from(queue).unwrap_or(u32::MAX),
                fills: d.tick.fills,
                lost_users: d.tick.lost,
                volume: d.tick.volume,
            });
        }
        recorder.write(&PairVolumeRow {
            tick,
            pair: &book.name,
            volume: book.volume,
            matches: book.matches,
            transfers: book.transfers,
            held_streams: u32::try_from(book.inventory.len()).unwrap_or(u32::MAX),
        });
    }
    if let Some(mut sink) = recorder.writer(&PairTradeRow::TABLE) {
        for (book, orders) in books.0.iter().zip(&signals.0) {
            for o in orders {
                sink.write(&PairTradeRow {
                    tick,
                    pair: &book.name,
                    investor: o.investor_index,
                    strips: o.strips.len() as u32,
                    cash: o.cash,
                    market_value: o.market_value,
                    certainty_equivalent: o.certainty_equivalent,
                    tail_probability: o.tail_probability,
                    candidates: o.ranked,
                    surplus: o.surplus,
                });
            }
        }
    }
}

/// Each dealer's summary row, pairs in order, the AssetDealer first.
pub fn summary_rows(world: &mut World) -> Vec<PairSummaryRow> {
    let Some(books) = world.get_resource::<PairBooks>() else {
        return Vec::new();
    };
    let entities: Vec<(String, Entity, Entity)> = books
        .0
        .iter()
        .map(|b| (b.name.clone(), b.asset_dealer, b.investor_dealer))
        .collect();
    let mut rows = Vec::new();
    for (name, a, i) in entities {
        for entity in [a, i] {
            let Some(d) = world.get::<Dealer>(entity) else {
                continue;
            };
            let t = &d.totals;
            rows.push(PairSummaryRow {
                pair: name.clone(),
                side: d.side.name().to_string(),
                final_wealth: d.wealth,
                profit: d.wealth - d.capital,
                profit_per_tick: t.profit.mean(),
                profit_per_tick_sd: t.profit.sd(),
                mean_margin: if t.profit.count() > 0 {
                    t.margin / t.profit.count() as f64
                } else {
                    f64::NAN
                },
                final_margin: d.margin,
                fills: t.fills,
                lost_users: t.lost,
                users_surplus: t.surplus,
            });
        }
    }
    rows
}

/// Each dealer's (pair, side, wealth), pairs in order, the AssetDealer first: what
/// experiments read tick by tick.
pub fn dealer_wealths(world: &World) -> Vec<(u32, Side, f64)> {
    let Some(books) = world.get_resource::<PairBooks>() else {
        return Vec::new();
    };
    books
        .0
        .iter()
        .flat_map(|b| [b.asset_dealer, b.investor_dealer])
        .filter_map(|e| world.get::<Dealer>(e))
        .map(|d| (d.pair, d.side, d.wealth))
        .collect()
}
