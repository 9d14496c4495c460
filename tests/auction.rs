//! The expressive-bidding auction: SPEC vectors, the templates' books, bad books, and
//! the solver against brute force on random small books.

use std::path::Path;

use dealersim::mechanisms::auction::book::{Auction, load_book, parse_book};
use dealersim::mechanisms::auction::clearing::{Clearing, clear, verify};

fn cleared(path: &str) -> (Auction, Clearing) {
    let (_, auction) = load_book(Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
    let clearing = clear(&auction).unwrap_or_else(|e| panic!("{e}"));
    verify(&auction, &clearing).expect("valid clearing");
    (auction, clearing)
}

#[test]
fn spec_vector_one_fills_at_the_midpoint() {
    let (_, c) = cleared("scenarios/auction/spec_midpoint.ron");
    assert_eq!(c.fills, vec![100, 100]);
    assert!((c.prices[0].unwrap() - 10.005).abs() < 1e-12, "{:?}", c.prices);
    assert!((c.surplus - 1.0).abs() < 1e-9);
    assert!((c.bidder_surplus[0] - 0.5).abs() < 1e-9 && (c.bidder_surplus[1] - 0.5).abs() < 1e-9);
}

#[test]
fn spec_vector_two_fills_the_higher_buyer() {
    let (_, c) = cleared("scenarios/auction/spec_priority.ron");
    assert_eq!(c.fills, vec![100, 0, 100]);
    assert!((c.prices[0].unwrap() - 10.01).abs() < 1e-12, "{:?}", c.prices);
    assert!((c.surplus - 2.0).abs() < 1e-9);
}
