//! The expressive-bidding auction: SPEC vectors, the templates' books, bad books, and
//! the solver against brute force on random small books.

use std::path::Path;

use dealersim::mechanisms::auction::book::Auction;
use dealersim::mechanisms::auction::clearing::{Clearing, clear};
use dealersim::mechanisms::auction::load::{load_book, parse_book};
use dealersim::mechanisms::auction::verify::verify;

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
    assert!(
        (c.prices[0].unwrap() - 10.005).abs() < 1e-12,
        "{:?}",
        c.prices
    );
    assert!((c.surplus - 1.0).abs() < 1e-9);
    assert!((c.bidder_surplus[0] - 0.5).abs() < 1e-9 && (c.bidder_surplus[1] - 0.5).abs() < 1e-9);
}

#[test]
fn spec_vector_two_fills_the_higher_buyer() {
    let (_, c) = cleared("scenarios/auction/spec_priority.ron");
    assert_eq!(c.fills, vec![100, 0, 100]);
    assert!(
        (c.prices[0].unwrap() - 10.01).abs() < 1e-12,
        "{:?}",
        c.prices
    );
    assert!((c.surplus - 2.0).abs() < 1e-9);
}

// ---------------------------------------------------------------------------------------
// Random small books, every template, against brute force.

/// A small random book from the library's template generator: 1–3 symbols with one- or
/// two-tick spreads, bidders of every template until 8 orders, fills of 1–3 lots of one
/// share, limits within a step of the NBBO.
fn small_book(seed: u64) -> dealersim::mechanisms::auction::book::Book {
    use dealersim::mechanisms::auction::book::{Book, ClearingOptions, SymbolQuote};
    use dealersim::mechanisms::auction::generate::{Shape, TemplateMix, random_bidder};
    let symbols: Vec<SymbolQuote> = (0..1 + (seed % 3) as usize)
        .map(|i| {
            let nbb = [10.0, 20.0, 5.0][i];
            SymbolQuote {
                name: ["AAA", "BBB", "CCC"][i].into(),
                nbb,
                nbo: nbb + 0.01 * (1 + (seed / 3 + i as u64) % 2) as f64,
                tick: 0.01,
                price_step: None,
            }
        })
        .collect();
    let shape = Shape {
        lot: 1,
        max_lots: 3,
        limit_spread_steps: 1,
    };
    let mut bidders = Vec::new();
    let mut orders = 0;
    for index in 0..16 {
        let bidder = random_bidder(seed, 0, index, &symbols, &TemplateMix::uniform(), shape);
        if orders + bidder.orders.len() > 8 {
            break;
        }
        orders += bidder.orders.len();
        bidders.push(bidder);
    }
    Book {
        symbols,
        bidders,
        clearing: ClearingOptions::default(),
    }
}

#[test]
fn the_solver_matches_brute_force_on_a_thousand_random_books() {
    use dealersim::mechanisms::auction::{load::compile_book, reference};
    let mut traded = 0;
    let mut baskets = 0;
    for seed in 0..1000u64 {
        let book = small_book(seed);
        let auction =
            compile_book(&book).unwrap_or_else(|p| panic!("seed {seed}: {p:?}\n{book:?}"));
        let clearing = clear(&auction).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        verify(&auction, &clearing)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{book:#?}\n{clearing:?}"));
        let best = reference::best_surplus(&auction).expect("small enough to enumerate");
        assert!(
            (best - clearing.surplus).abs() <= 1e-6 * best.abs().max(1.0),
            "seed {seed}: brute force {best}, solver {}\n{book:#?}\n{clearing:?}",
            clearing.surplus
        );
        traded += usize::from(clearing.fills.iter().any(|&q| q > 0));
        baskets += usize::from(book.bidders.iter().any(|b| b.orders.len() == 2));
    }
    // The generator must produce books that trade and books with baskets, or the test
    // proves little.
    assert!(
        traded > 300 && baskets > 300,
        "traded {traded}, with baskets {baskets}"
    );
}

/// Each template's bundled book clears to the result worked out by hand in its comments
/// (and in docs/auction.md): fills per order, prices per symbol, total surplus.
#[test]
fn every_template_book_clears_to_its_hand_computed_result() {
    type Expected = (&'static str, &'static [u32], &'static [f64], f64);
    let cases: &[Expected] = &[
        ("tier_curve", &[7000, 3000, 4000], &[2.025], 65.0),
        ("midpoint_discretion", &[200, 200, 0], &[10.005], 2.0),
        ("percent_of_spread", &[800, 300, 500], &[20.09], 17.0),
        (
            "weighted_basket",
            &[300, 150, 50, 300, 150, 50],
            &[10.01, 20.01, 5.01],
            10.0,
        ),
        (
            "net_price_basket",
            &[200, 100, 200, 100],
            &[10.01, 20.03],
            3.0,
        ),
        (
            "substitutes",
            &[2000, 497, 2000, 497],
            &[10.01, 20.015],
            44.97,
        ),
        (
            "dollar_neutral",
            &[609, 300, 609, 300],
            &[10.01, 20.01],
            18.18,
        ),
    ];
    for &(name, fills, prices, surplus) in cases {
        let (_, c) = cleared(&format!("scenarios/auction/{name}.ron"));
        assert_eq!(c.fills, fills, "{name}");
        for (s, &want) in prices.iter().enumerate() {
            let got = c.prices[s].unwrap_or(f64::NAN);
            assert!(
                (got - want).abs() < 1e-9,
                "{name}: symbol {s} at {got}, expected {want}"
            );
        }
        assert!(
            (c.surplus - surplus).abs() < 1e-6,
            "{name}: surplus {}",
            c.surplus
        );
        let shared: f64 = c.bidder_surplus.iter().sum();
        assert!(
            (shared - surplus).abs() < 1e-6,
            "{name}: bidders' surpluses sum to {shared}"
        );
    }
}

/// Bad books are refused with every problem at its file:line:column and field path.
#[test]
fn bad_books_are_refused_with_positions() {
    let text = r#"(
    symbols: [(name: "XYZ", nbb: 10.00, nbo: 10.01, tick: 0.01)],
    bidders: [
        (name: "a", orders: [(id: "o", symbol: "ABC", side: Buy, quantity: 100, limit: 10.01)]),
        (name: "b", orders: [(id: "o", symbol: "XYZ", side: Sell, quantity: 100, limit: 30.0)]),
        (name: "c", orders: [(id: "o", symbol: "XYZ", side: Buy, quantity: 10)],
         logic: [(when: "qty(o) <= 5 +", place: Notional("10 * qty(o)"))]),
        (name: "d", orders: [(id: "x", symbol: "XYZ", side: Buy, quantity: 10)],
         logic: [(place: Basket(legs: [], net_price: "1", max_units: 1)),
                 (place: Basket(legs: [("x", 0)], net_price: "1", max_units: 1))]),
    ],
)"#;
    let error = parse_book(text, Path::new("bad.ron"))
        .expect_err("bad book")
        .to_string();
    for expected in [
        "bad.ron:4:48  bidders[0].orders[0].symbol: unknown symbol `ABC`; the book lists `XYZ`",
        "bad.ron:5:89  bidders[1].orders[0].limit: limit 30 is outside the price bounds",
        // The quote is at column 25 and `+` at 38; the missing operand is reported where
        // the expression ends, just after it.
        "bad.ron:7:39  bidders[2].logic[0].when: bidder logic: expected a value, found end of expression",
        "bidders[3].logic[0].place.legs: a basket needs at least one leg",
        "bidders[3].logic[1].place.legs[0]: leg `x` has ratio 0",
    ] {
        assert!(error.contains(expected), "missing {expected:?} in\n{error}");
    }
    let malformed = parse_book("(symbols: [], bidders: [], extra: 1)", Path::new("m.ron"))
        .expect_err("unknown field")
        .to_string();
    assert!(
        malformed.contains("m.ron:1:") && malformed.contains("extra"),
        "{malformed}"
    );
    let empty = parse_book("(symbols: [], bidders: [])", Path::new("e.ron"))
        .expect_err("empty")
        .to_string();
    assert!(
        empty.contains("symbols: a book needs at least one symbol"),
        "{empty}"
    );
    assert!(
        empty.contains("bidders: a book needs at least one bidder"),
        "{empty}"
    );
}

/// `dealersim auction` on a bad book exits 2 and writes nothing; on a good one it writes
/// both tables.
#[test]
fn the_cli_writes_tables_or_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.ron");
    std::fs::write(
        &bad,
        "(symbols: [(name: \"X\", nbb: 1.0, nbo: 0.5, tick: 0.01)], bidders: [])",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = |book: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dealersim"))
            .arg("auction")
            .arg(book)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run dealersim")
    };
    let refused = run(&bad);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("crossed market"));
    assert!(!out.exists(), "a refused book must write nothing");
    let good = run(Path::new("scenarios/auction/spec_midpoint.ron"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(stdout.contains("10.0050"), "{stdout}");
    assert!(
        out.join("auction_symbols.parquet").exists() && out.join("auction_fills.parquet").exists()
    );
}

/// Regressions from review: limits on the grid at high prices land on their level (a
/// quotient of 1.99999998 steps is level 2, not 1), and a price step that divides the
/// spread only to 1e-6 still gives one consistent grid to the model and the pricing.
#[test]
fn levels_are_exact_at_high_prices_and_on_inexact_steps() {
    let high = r#"(
        symbols: [(name: "BRK", nbb: 700000.06, nbo: 700000.07, tick: 0.01)],
        bidders: [
            (name: "buyer", orders: [(id: "o", symbol: "BRK", side: Buy, quantity: 100, limit: 700000.07)]),
            (name: "seller", orders: [(id: "o", symbol: "BRK", side: Sell, quantity: 100, limit: 700000.068)]),
        ],
    )"#;
    let (_, auction) = parse_book(high, Path::new("high.ron")).unwrap_or_else(|e| panic!("{e}"));
    let c = clear(&auction).unwrap_or_else(|e| panic!("{e}"));
    verify(&auction, &c).expect("valid");
    assert_eq!(c.fills, vec![100, 100]);
    // The seller needs ≥ 700000.068, so level 2 (700000.07), the buyer's limit.
    assert_eq!(c.levels, vec![Some(2)]);
    assert!(
        c.bidder_surplus.iter().all(|&s| s >= -1e-9),
        "{:?}",
        c.bidder_surplus
    );
    let inexact = r#"(
        symbols: [(name: "A", nbb: 10.0, nbo: 11.0, tick: 1.0, price_step: 0.3333334)],
        bidders: [
            (name: "basket", orders: [(id: "a", symbol: "A", side: Buy, quantity: 3)],
             logic: [(place: Basket(legs: [("a", 3)], net_price: "31", max_units: 1))]),
            (name: "seller", orders: [(id: "o", symbol: "A", side: Sell, quantity: 3, limit: 10.0)]),
        ],
    )"#;
    let (_, auction) =
        parse_book(inexact, Path::new("inexact.ron")).unwrap_or_else(|e| panic!("{e}"));
    let c = clear(&auction).unwrap_or_else(|e| panic!("{e}"));
    verify(&auction, &c).expect("valid");
    assert_eq!(c.fills, vec![3, 3]);
    // Admissible levels 0..=1 (3·p ≤ 31); the middle of 0..3 is 1.5, and level 1 is the
    // nearest admissible one.
    assert_eq!(c.levels, vec![Some(1)]);
}

/// Prices named in the logic are bounded like limits, and an error inside a
/// `Notional("…")` points at its character, not at `Notional`.
#[test]
fn logic_prices_are_bounded_and_located_inside_their_string() {
    let text = r#"(
    symbols: [(name: "X", nbb: 10.00, nbo: 10.01, tick: 0.01)],
    bidders: [
        (name: "a", orders: [(id: "o", symbol: "X", side: Buy, quantity: 10)],
         logic: [(place: Notional("1001 * qty(o)"))]),
        (name: "b", orders: [(id: "o", symbol: "X", side: Buy, quantity: 10)],
         logic: [(place: Notional("10 * qty(o) +"))]),
    ],
)"#;
    let error = parse_book(text, Path::new("n.ron"))
        .expect_err("bad")
        .to_string();
    assert!(
        error.contains(
            "bidders[0].logic[0].place: the per-share price 1001 is outside the price bounds"
        ),
        "{error}"
    );
    // The missing operand is reported where the expression ends: its first char's
    // column (one after the quote) plus its 13 chars.
    let line = text.lines().nth(6).expect("line 7");
    let end = line.find("\"10").expect("quote") + 2 + "10 * qty(o) +".len();
    assert!(
        error.contains(&format!(
            "n.ron:7:{end}  bidders[1].logic[0].place: bidder logic"
        )),
        "{error}"
    );
}
