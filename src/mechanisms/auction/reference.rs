//! The brute-force reference for small books: every price vector on the grid, every fill
//! of every bidder under every alternative, combined by dynamic programming over the
//! symbols' net positions. It uses the rules of [`super::rules`] directly and no solver,
//! so it checks the mixed-integer model; it is exponential and refuses large books.

use std::collections::HashMap;

use super::book::Auction;
use super::rules;

/// Most price vectors, per-bidder fill combinations or DP states the reference enumerates.
pub const MAX_ENUMERATION: u64 = 200_000;

/// The most surplus any feasible allocation reaches, or `None` if the book is too large
/// to enumerate (more than [`MAX_ENUMERATION`] price vectors or fills of one bidder).
pub fn best_surplus(auction: &Auction) -> Option<f64> {
    let mut price_vectors: u64 = 1;
    for s in &auction.symbols {
        price_vectors = price_vectors.checked_mul(u64::from(s.levels) + 1)?;
    }
    if price_vectors > MAX_ENUMERATION {
        return None;
    }
    for bidder in &auction.bidders {
        let mut combos: u64 = 1;
        for order in rules::orders_of(auction, bidder) {
            combos = combos.checked_mul(u64::from(order.quantity) + 1)?;
        }
        if combos > MAX_ENUMERATION {
            return None;
        }
    }
    let mut best = f64::NEG_INFINITY;
    let mut levels = vec![0u32; auction.symbols.len()];
    for index in 0..price_vectors {
        let mut rest = index;
        for (s, market) in auction.symbols.iter().enumerate() {
            let n = u64::from(market.levels) + 1;
            levels[s] = (rest % n) as u32;
            rest /= n;
        }
        best = best.max(best_at(auction, &levels)?);
    }
    Some(best)
}

/// The most surplus with prices fixed at `levels`.
fn best_at(auction: &Auction, levels: &[u32]) -> Option<f64> {
    // DP state: net shares bought per symbol so far -> best value.
    let mut states: HashMap<Vec<i64>, f64> = HashMap::from([(vec![0; auction.symbols.len()], 0.0)]);
    for bidder in &auction.bidders {
        let orders = rules::orders_of(auction, bidder);
        // This bidder's best value per net position it creates.
        let mut options: HashMap<Vec<i64>, f64> = HashMap::new();
        let mut fills = vec![0u32; orders.len()];
        loop {
            let mut value = if fills.iter().all(|&q| q == 0) {
                Some(0.0)
            } else {
                None
            };
            for alternative in &bidder.alternatives {
                if rules::admits(alternative, &fills)
                    && rules::price_rules(alternative, orders, &auction.symbols, &fills)
                        .iter()
                        .all(|r| r.holds(&auction.symbols, levels))
                {
                    let v = rules::value(alternative, orders, &fills);
                    value = Some(value.map_or(v, |best: f64| best.max(v)));
                }
            }
            if let Some(v) = value {
                let mut net = vec![0i64; auction.symbols.len()];
                for (o, &q) in orders.iter().zip(&fills) {
                    net[o.symbol] += o.side.sign() as i64 * i64::from(q);
                }
                let entry = options.entry(net).or_insert(f64::NEG_INFINITY);
                *entry = entry.max(v);
            }
            // Next fill combination (odometer).
            let mut j = 0;
            while j < fills.len() {
                if fills[j] < orders[j].quantity {
                    fills[j] += 1;
                    break;
                }
                fills[j] = 0;
                j += 1;
            }
            if j == fills.len() {
                break;
            }
        }
        let mut next: HashMap<Vec<i64>, f64> = HashMap::new();
        for (state, &base) in &states {
            for (delta, &v) in &options {
                let key: Vec<i64> = state.iter().zip(delta).map(|(a, b)| a + b).collect();
                let entry = next.entry(key).or_insert(f64::NEG_INFINITY);
                *entry = entry.max(base + v);
            }
        }
        if next.len() as u64 > MAX_ENUMERATION {
            return None;
        }
        states = next;
    }
    Some(
        states
            .get(&vec![0; auction.symbols.len()])
            .copied()
            .unwrap_or(0.0),
    )
}
