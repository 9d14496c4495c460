//! What an alternative means, stated once and directly (no solver): the value it puts on
//! a bidder's fills, the fills it admits, and the prices it accepts. The clearing's
//! verification, its pricing stage and the brute-force reference all read these; the
//! mixed-integer model encodes the conditions, shapes and values in its own way, and the
//! tests check that the two agree. Price rules are shared: the model gates fills with
//! [`unit_rule`]'s levels too, so a mistake there would not show as a disagreement;
//! `tests/auction.rs` checks levels at high prices and on inexact steps directly.

use super::book::{Alternative, Auction, Bidder, Order, Placement, Side, SymbolMarket};

/// Fills are whole shares; linear conditions hold to within this (absolute, in the
/// units of the expression) to absorb floating-point rounding of the coefficients.
pub const CONDITION_TOLERANCE: f64 = 1e-6;

/// A requirement on clearing prices, given the fills.
#[derive(Clone, Debug, PartialEq)]
pub enum PriceRule {
    /// The symbol's price level is at most this (a buy's limit).
    AtMost {
        /// Symbol index.
        symbol: usize,
        /// Highest admissible level (−1: none).
        level: i64,
    },
    /// The symbol's price level is at least this (a sell's limit).
    AtLeast {
        /// Symbol index.
        symbol: usize,
        /// Lowest admissible level (`levels + 1`: none).
        level: i64,
    },
    /// Σ coefficient·price(symbol) ≤ bound (a basket's net price per unit).
    Linear {
        /// (symbol index, coefficient).
        terms: Vec<(usize, f64)>,
        /// Right-hand side.
        bound: f64,
    },
}

impl PriceRule {
    /// Whether price levels `levels` (one per symbol) satisfy the rule.
    pub fn holds(&self, symbols: &[SymbolMarket], levels: &[u32]) -> bool {
        match self {
            PriceRule::AtMost { symbol, level } => i64::from(levels[*symbol]) <= *level,
            PriceRule::AtLeast { symbol, level } => i64::from(levels[*symbol]) >= *level,
            PriceRule::Linear { terms, bound } => {
                let lhs: f64 = terms
                    .iter()
                    .map(|&(s, c)| c * symbols[s].price(levels[s]))
                    .sum();
                lhs <= bound + 1e-9 * bound.abs().max(1.0)
            }
        }
    }
}

/// The rule for an order of `side` priced at `limit` per share in `symbol`.
pub fn unit_rule(symbols: &[SymbolMarket], symbol: usize, side: Side, limit: f64) -> PriceRule {
    let market = &symbols[symbol];
    match side {
        Side::Buy => PriceRule::AtMost {
            symbol,
            level: market.highest_level_at_most(limit),
        },
        Side::Sell => PriceRule::AtLeast {
            symbol,
            level: market.lowest_level_at_least(limit),
        },
    }
}

/// A basket's units when `fills` (the bidder's, in shares) fit its legs, else `None`.
pub fn basket_units(legs: &[(usize, u32)], fills: &[u32]) -> Option<u32> {
    let (first, weight) = legs[0];
    if !fills[first].is_multiple_of(weight) {
        return None;
    }
    let units = fills[first] / weight;
    let fits = legs
        .iter()
        .all(|&(o, w)| u64::from(fills[o]) == u64::from(units) * u64::from(w))
        && (0..fills.len()).all(|o| legs.iter().any(|&(l, _)| l == o) || fills[o] == 0);
    fits.then_some(units)
}

/// Whether `alternative` admits the bidder's `fills`: its conditions hold and the fills
/// have its shape (only the priced order fills; a basket's legs in ratio, within its units).
pub fn admits(alternative: &Alternative, fills: &[u32]) -> bool {
    let as_f64: Vec<f64> = fills.iter().map(|&q| f64::from(q)).collect();
    if !alternative
        .conditions
        .iter()
        .all(|c| c.holds(&as_f64, CONDITION_TOLERANCE))
    {
        return false;
    }
    match &alternative.placement {
        Placement::Orders => true,
        Placement::UnitPrice { order, .. } => {
            (0..fills.len()).all(|o| o == *order || fills[o] == 0)
        }
        Placement::Basket {
            legs, max_units, ..
        } => basket_units(legs, fills).is_some_and(|u| u <= *max_units),
    }
}

/// The most cash the bidder would pay for `fills` under `alternative` (negative: the
/// least it must receive). Its surplus at clearing prices is this minus what it pays.
pub fn value(alternative: &Alternative, orders: &[Order], fills: &[u32]) -> f64 {
    match &alternative.placement {
        Placement::Orders => orders
            .iter()
            .zip(fills)
            .map(|(o, &q)| o.side.sign() * o.limit.unwrap_or(0.0) * f64::from(q))
            .sum(),
        Placement::UnitPrice { order, price } => {
            orders[*order].side.sign() * price * f64::from(fills[*order])
        }
        Placement::Basket {
            legs, net_price, ..
        } => net_price * f64::from(basket_units(legs, fills).unwrap_or(0)),
    }
}

/// What `alternative` requires of the clearing prices when the bidder fills `fills`.
pub fn price_rules(
    alternative: &Alternative,
    orders: &[Order],
    symbols: &[SymbolMarket],
    fills: &[u32],
) -> Vec<PriceRule> {
    match &alternative.placement {
        Placement::Orders => orders
            .iter()
            .zip(fills)
            .filter(|&(_, &q)| q > 0)
            .map(|(o, _)| unit_rule(symbols, o.symbol, o.side, o.limit.unwrap_or(0.0)))
            .collect(),
        Placement::UnitPrice { order, price } => {
            if fills[*order] == 0 {
                return Vec::new();
            }
            let o = &orders[*order];
            vec![unit_rule(symbols, o.symbol, o.side, *price)]
        }
        Placement::Basket {
            legs, net_price, ..
        } => {
            if basket_units(legs, fills).unwrap_or(0) == 0 {
                return Vec::new();
            }
            // Per unit the bidder pays Σ side·weight·price; that is at most net_price.
            let mut terms: Vec<(usize, f64)> = Vec::new();
            for &(o, w) in legs {
                let order = &orders[o];
                let c = order.side.sign() * f64::from(w);
                match terms.iter_mut().find(|(s, _)| *s == order.symbol) {
                    Some((_, existing)) => *existing += c,
                    None => terms.push((order.symbol, c)),
                }
            }
            vec![PriceRule::Linear {
                terms,
                bound: *net_price,
            }]
        }
    }
}

/// The bidder's orders in `auction`.
pub fn orders_of<'a>(auction: &'a Auction, bidder: &Bidder) -> &'a [Order] {
    &auction.orders[bidder.orders.clone()]
}
