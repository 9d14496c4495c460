//! Splitting a book into what can be solved apart: symbols linked by a bidder's orders
//! (a basket) form one component, and components share nothing (no balance, no price,
//! no bidder), so their optima add up. A component of one symbol is solved once per
//! price level with the price fixed: each of those programs has no price variables,
//! only the bidders' own alternatives, and its relaxation is tight; the best level wins
//! (the lowest among equals). Exact, and it turns one hard program into many easy ones.

use super::book::{Auction, Bidder, SymbolMarket};

/// Symbols (indices into the book) and the bidders trading only among them.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Symbol indices, ascending.
    pub symbols: Vec<usize>,
    /// Bidder indices, ascending (book order).
    pub bidders: Vec<usize>,
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The book's components, ordered by their first symbol; symbols nobody trades are left
/// out.
pub fn components(auction: &Auction) -> Vec<Component> {
    let n = auction.symbols.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for bidder in &auction.bidders {
        let mut orders = auction.orders[bidder.orders.clone()].iter();
        if let Some(first) = orders.next() {
            for other in orders {
                let (a, b) = (
                    root(&mut parent, first.symbol),
                    root(&mut parent, other.symbol),
                );
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut by_root: Vec<Option<usize>> = vec![None; n];
    let mut out: Vec<Component> = Vec::new();
    for s in 0..n {
        let r = root(&mut parent, s);
        let index = *by_root[r].get_or_insert_with(|| {
            out.push(Component {
                symbols: Vec::new(),
                bidders: Vec::new(),
            });
            out.len() - 1
        });
        out[index].symbols.push(s);
    }
    let mut component_of = vec![0; n];
    for (c, component) in out.iter().enumerate() {
        for &s in &component.symbols {
            component_of[s] = c;
        }
    }
    for (b, bidder) in auction.bidders.iter().enumerate() {
        if let Some(first) = auction.orders.get(bidder.orders.start) {
            out[component_of[first.symbol]].bidders.push(b);
        }
    }
    out.retain(|c| !c.bidders.is_empty());
    out
}

/// The component as a book of its own (symbols renumbered), with the one symbol's price
/// fixed at level `fixed` when given.
pub fn sub_auction(auction: &Auction, component: &Component, fixed: Option<u32>) -> Auction {
    let mut local = vec![usize::MAX; auction.symbols.len()];
    let symbols: Vec<SymbolMarket> = component
        .symbols
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            local[s] = i;
            let market = &auction.symbols[s];
            match fixed {
                Some(k) => SymbolMarket {
                    nbb: market.price(k),
                    nbo: market.price(k),
                    levels: 0,
                    ..market.clone()
                },
                None => market.clone(),
            }
        })
        .collect();
    let mut orders = Vec::new();
    let mut bidders = Vec::with_capacity(component.bidders.len());
    for (b, &global) in component.bidders.iter().enumerate() {
        let bidder = &auction.bidders[global];
        let start = orders.len();
        for order in &auction.orders[bidder.orders.clone()] {
            let mut order = order.clone();
            order.symbol = local[order.symbol];
            order.bidder = b;
            orders.push(order);
        }
        bidders.push(Bidder {
            name: bidder.name.clone(),
            orders: start..orders.len(),
            alternatives: bidder.alternatives.clone(),
        });
    }
    Auction {
        symbols,
        orders,
        bidders,
        options: auction.options.clone(),
    }
}
