//! An independent check of a clearing: it reads the book's rules ([`super::rules`]) and
//! the result, never the model, so a flaw in the formulation cannot hide itself.

use super::book::Auction;
use super::clearing::Clearing;
use super::rules;

/// Checks a clearing against the book's rules, independently of the model: balance per
/// symbol, every filled bidder inside its active alternative, prices on the grid and
/// admitted by every rule, and the stated surplus.
///
/// # Errors
/// The first violation found, in words.
pub fn verify(auction: &Auction, clearing: &Clearing) -> Result<(), String> {
    let symbols = &auction.symbols;
    let mut net = vec![0i64; symbols.len()];
    for (o, order) in auction.orders.iter().enumerate() {
        let q = clearing.fills[o];
        if q > order.quantity {
            return Err(format!(
                "order {o} fills {q} > its {} shares",
                order.quantity
            ));
        }
        net[order.symbol] += order.side.sign() as i64 * i64::from(q);
    }
    if let Some(s) = net.iter().position(|&n| n != 0) {
        return Err(format!(
            "symbol {} is unbalanced by {} shares",
            symbols[s].name, net[s]
        ));
    }
    let levels: Vec<u32> = clearing.levels.iter().map(|l| l.unwrap_or(0)).collect();
    let mut total = 0.0;
    for (b, bidder) in auction.bidders.iter().enumerate() {
        let orders = rules::orders_of(auction, bidder);
        let local = &clearing.fills[bidder.orders.clone()];
        match clearing.active[b] {
            None if local.iter().any(|&q| q > 0) => {
                return Err(format!(
                    "bidder {} fills with no active alternative",
                    bidder.name
                ));
            }
            None => {}
            Some(a) => {
                let alternative = &bidder.alternatives[a];
                if !rules::admits(alternative, local) {
                    return Err(format!(
                        "bidder {}'s fills {local:?} break alternative {a}",
                        bidder.name
                    ));
                }
                for rule in rules::price_rules(alternative, orders, symbols, local) {
                    if !rule.holds(symbols, &levels) {
                        return Err(format!("bidder {}: prices break {rule:?}", bidder.name));
                    }
                }
                total += rules::value(alternative, orders, local);
            }
        }
    }
    let mut traded = vec![false; symbols.len()];
    for (o, order) in auction.orders.iter().enumerate() {
        traded[order.symbol] |= clearing.fills[o] > 0;
    }
    for (s, market) in symbols.iter().enumerate() {
        match (clearing.levels[s], clearing.prices[s]) {
            (Some(k), _) if k > market.levels => {
                return Err(format!("symbol {s}'s level {k} is outside the NBBO"));
            }
            (Some(k), Some(p)) if p == market.price(k) => {}
            (None, None) if !traded[s] => {}
            (level, price) => {
                return Err(format!(
                    "symbol {}: level {level:?} and price {price:?} disagree (traded: {})",
                    market.name, traded[s]
                ));
            }
        }
    }
    if (total - clearing.surplus).abs() > 1e-6 * total.abs().max(1.0) {
        return Err(format!(
            "stated surplus {} but the fills are worth {total}",
            clearing.surplus
        ));
    }
    Ok(())
}
