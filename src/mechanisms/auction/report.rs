//! What a clearing reports: one row per symbol (price, volume, surplus, orders filled and
//! rejected) and one per order (its fill), as tables, and written atomically.

use std::path::{Path, PathBuf};

use super::book::Auction;
use super::clearing::Clearing;
use crate::output::table::{OutputError, StagedOutput, TableFormat};

crate::table_row! {
    /// One row per (auction, symbol).
    pub struct SymbolRow in "auction_symbols" {
        auction: u32 => "auction number, 0-based",
        symbol: String => "ticker",
        nbb: f64 => "national best bid at auction time",
        nbo: f64 => "national best offer at auction time",
        price: f64 => "uniform clearing price (NaN when nothing traded)",
        volume: u64 => "shares traded (bought = sold)",
        surplus: f64 => "surplus of the fills in this symbol: each bidder's surplus split over its symbols by traded notional",
        orders: u32 => "orders in this symbol",
        orders_filled: u32 => "orders with a positive fill",
        orders_rejected: u32 => "orders that did not fill",
    }
}

crate::table_row! {
    /// One row per (auction, order).
    pub struct FillRow in "auction_fills" {
        auction: u32 => "auction number, 0-based",
        bidder: String => "bidder name",
        order: String => "order id within the bidder",
        symbol: String => "ticker",
        side: &'static str => "buy or sell",
        quantity: u32 => "most shares the order would fill",
        filled: u32 => "shares filled",
        price: f64 => "the symbol's clearing price (NaN when it did not trade)",
        alternative: i64 => "the bidder's active alternative (index into its logic; -1 when it filled nothing)",
        bidder_surplus: f64 => "the bidder's surplus at clearing prices (value − payment), on each of its rows",
    }
}

/// The per-symbol rows of auction number `auction`.
pub fn symbol_rows(auction_number: u32, auction: &Auction, clearing: &Clearing) -> Vec<SymbolRow> {
    let mut surplus = vec![0.0; auction.symbols.len()];
    for (b, bidder) in auction.bidders.iter().enumerate() {
        let orders = &auction.orders[bidder.orders.clone()];
        let fills = &clearing.fills[bidder.orders.clone()];
        let notional = |o: &super::book::Order, q: u32| {
            clearing.prices[o.symbol].unwrap_or(0.0) * f64::from(q)
        };
        let total: f64 = orders.iter().zip(fills).map(|(o, &q)| notional(o, q)).sum();
        if total > 0.0 {
            for (o, &q) in orders.iter().zip(fills) {
                surplus[o.symbol] += clearing.bidder_surplus[b] * notional(o, q) / total;
            }
        }
    }
    auction
        .symbols
        .iter()
        .enumerate()
        .map(|(s, market)| {
            let mut row = SymbolRow {
                auction: auction_number,
                symbol: market.name.clone(),
                nbb: market.nbb,
                nbo: market.nbo,
                price: clearing.prices[s].unwrap_or(f64::NAN),
                volume: 0,
                surplus: surplus[s],
                orders: 0,
                orders_filled: 0,
                orders_rejected: 0,
            };
            for (o, order) in auction.orders.iter().enumerate() {
                if order.symbol != s {
                    continue;
                }
                row.orders += 1;
                if clearing.fills[o] > 0 {
                    row.orders_filled += 1;
                    if order.side == super::book::Side::Buy {
                        row.volume += u64::from(clearing.fills[o]);
                    }
                } else {
                    row.orders_rejected += 1;
                }
            }
            row
        })
        .collect()
}

/// The per-order rows of auction number `auction`.
pub fn fill_rows(auction_number: u32, auction: &Auction, clearing: &Clearing) -> Vec<FillRow> {
    auction
        .orders
        .iter()
        .enumerate()
        .map(|(o, order)| {
            let bidder = order.bidder;
            FillRow {
                auction: auction_number,
                bidder: auction.bidders[bidder].name.clone(),
                order: order.id.clone(),
                symbol: auction.symbols[order.symbol].name.clone(),
                side: order.side.name(),
                quantity: order.quantity,
                filled: clearing.fills[o],
                price: clearing.prices[order.symbol].unwrap_or(f64::NAN),
                alternative: clearing.active[bidder].map_or(-1, |a| a as i64),
                bidder_surplus: clearing.bidder_surplus[bidder],
            }
        })
        .collect()
}

/// Writes one clearing's tables into `out` (created; all or nothing).
///
/// # Errors
/// [`OutputError`] when a file cannot be written; then nothing is left in `out`.
pub fn write_clearing(
    auction: &Auction,
    clearing: &Clearing,
    out: &Path,
    format: TableFormat,
) -> Result<Vec<PathBuf>, OutputError> {
    crate::output::leave_nothing_on_error(out, || {
        let mut staged = StagedOutput::create(out)?;
        staged.add_rows(&symbol_rows(0, auction, clearing), format)?;
        staged.add_rows(&fill_rows(0, auction, clearing), format)?;
        staged.commit()
    })
}
