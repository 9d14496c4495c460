//! Writes a random book of every template (`BIDDERS` bidders over `SYMBOLS` symbols) as
//! RON, for `dealersim auction` and the benchmark in BENCHMARKS.md:
//!
//! ```text
//! cargo run --release --example auction_book -- 10000 50 > /tmp/book.ron
//! dealersim auction /tmp/book.ron
//! ```

use dealersim::mechanisms::auction::generate::{Shape, TemplateMix, random_book, random_symbols};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u32| -> u32 {
        args.get(i)
            .map(|a| a.parse().unwrap_or_else(|_| panic!("`{a}` is not a count")))
            .unwrap_or(default)
    };
    let (bidders, symbols, seed) = (number(0, 10_000), number(1, 50), number(2, 1));
    // Mostly limit orders, as a real book is; every template present, or with
    // MIX=single only the one-symbol templates (no baskets).
    let mix = match std::env::var("MIX").as_deref() {
        Ok("single") => TemplateMix::from_weights([0.7, 0.1, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0]),
        _ => TemplateMix::from_weights([0.6, 0.08, 0.06, 0.06, 0.05, 0.05, 0.05, 0.05]),
    };
    let book = random_book(
        u64::from(seed),
        0,
        random_symbols(u64::from(seed), symbols as usize),
        bidders,
        &mix,
        Shape {
            lot: std::env::var("LOT")
                .map(|l| l.parse().unwrap())
                .unwrap_or(100),
            ..Shape::default()
        },
    );
    let text = book.to_ron().expect("a book serialises");
    println!("{text}");
}
