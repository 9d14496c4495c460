//! Random books from the templates: the traders of an auction scenario, the benchmark's
//! large books and the tests' small ones all come from here. Every bidder has its own
//! stream, so a book is the same whatever order or thread builds it.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::book::{
    AlternativeSpec, BasketSpec, BidderSpec, Book, ClearingOptions, OrderSpec, PlacementSpec, Side,
    SymbolQuote,
};
use crate::rng::{Stream, StreamDomain, stream};

/// The templates, as a trader group names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Template {
    /// A plain limit order.
    Limit,
    /// Two to three size tiers, the larger at a worse price (one order).
    TierCurve,
    /// Small size at the midpoint, more at the near touch.
    MidpointDiscretion,
    /// Size tiers at percentages of the spread from the far touch.
    PercentOfSpread,
    /// Two legs filled in a fixed ratio, each at its limit.
    WeightedBasket,
    /// Units of two legs at a net price per unit.
    NetPriceBasket,
    /// Two buys (or sells) under one notional cap.
    Substitutes,
    /// A buy and a sell whose notionals at the mids stay within a tolerance.
    DollarNeutral,
}

/// Every template, in the order of [`TemplateMix`]'s weights.
pub const TEMPLATES: [Template; 8] = [
    Template::Limit,
    Template::TierCurve,
    Template::MidpointDiscretion,
    Template::PercentOfSpread,
    Template::WeightedBasket,
    Template::NetPriceBasket,
    Template::Substitutes,
    Template::DollarNeutral,
];

impl Template {
    /// Orders the template places.
    pub fn orders(self) -> usize {
        match self {
            Template::Limit
            | Template::TierCurve
            | Template::MidpointDiscretion
            | Template::PercentOfSpread => 1,
            _ => 2,
        }
    }
}

/// Sizes of generated orders.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Shares per lot.
    pub lot: u32,
    /// Most lots per order (at least 1; tiers need at least 2 to have two sizes).
    pub max_lots: u32,
    /// How far outside the NBBO a limit may lie, in price steps.
    pub limit_spread_steps: i64,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            lot: 100,
            max_lots: 10,
            limit_spread_steps: 2,
        }
    }
}

struct Draw<'a> {
    rng: Stream,
    symbols: &'a [SymbolQuote],
    shape: Shape,
}

fn order(
    id: &str,
    symbol: &SymbolQuote,
    side: Side,
    quantity: u32,
    limit: Option<f64>,
) -> OrderSpec {
    OrderSpec {
        id: id.into(),
        symbol: symbol.name.clone(),
        side,
        quantity,
        limit,
    }
}

fn when(text: String, place: PlacementSpec) -> AlternativeSpec {
    AlternativeSpec {
        when: Some(text),
        place,
    }
}

/// Rounds to 1e-9 so that limits print and parse back exactly as drawn.
fn tidy(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

impl Draw<'_> {
    fn symbol(&mut self) -> &SymbolQuote {
        let i = self.rng.random_range(0..self.symbols.len());
        &self.symbols[i]
    }

    fn two_symbols(&mut self) -> (SymbolQuote, SymbolQuote) {
        let n = self.symbols.len();
        let i = self.rng.random_range(0..n);
        let j = (i + self.rng.random_range(1..n)) % n;
        (self.symbols[i].clone(), self.symbols[j].clone())
    }

    fn side(&mut self) -> Side {
        if self.rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// A limit on the symbol's price grid, from a few steps below the NBB to a few above
    /// the NBO.
    fn limit(&mut self, s: &SymbolQuote) -> f64 {
        let step = s.step();
        let levels = ((s.nbo - s.nbb) / step).round() as i64;
        let out = self.shape.limit_spread_steps;
        let k = self.rng.random_range(-out..=levels + out);
        tidy(s.nbb + step * k as f64)
    }

    fn lots(&mut self, least: u32) -> u32 {
        self.rng
            .random_range(least.min(self.shape.max_lots)..=self.shape.max_lots.max(least))
    }

    fn bidder(&mut self, template: Template, name: String) -> BidderSpec {
        let lot = self.shape.lot;
        let (orders, logic) = match template {
            Template::Limit => {
                let s = self.symbol().clone();
                let (side, q, l) = (self.side(), self.lots(1) * lot, self.limit(&s));
                (vec![order("o", &s, side, q, Some(l))], Vec::new())
            }
            Template::TierCurve => {
                let s = self.symbol().clone();
                let side = self.side();
                let lots = self.lots(2);
                let cut = self.rng.random_range(1..lots) * lot;
                let (mut near, mut far) = (self.limit(&s), self.limit(&s));
                // The larger tier pays more (buy) or takes less (sell): a worse price.
                if (side == Side::Buy) == (near > far) {
                    std::mem::swap(&mut near, &mut far);
                }
                (
                    vec![order("o", &s, side, lots * lot, None)],
                    vec![
                        when(
                            format!("0 <= qty(o) <= {cut}"),
                            PlacementSpec::Notional(format!("{near} * qty(o)")),
                        ),
                        when(
                            format!("{cut} < qty(o)"),
                            PlacementSpec::Notional(format!("{far} * qty(o)")),
                        ),
                    ],
                )
            }
            Template::MidpointDiscretion => {
                let s = self.symbol().clone();
                let side = self.side();
                let lots = self.lots(2);
                let cut = self.rng.random_range(1..lots) * lot;
                let touch = if side == Side::Buy { "NBB" } else { "NBO" };
                (
                    vec![order("o", &s, side, lots * lot, None)],
                    vec![
                        when(
                            format!("qty(o) <= {cut}"),
                            PlacementSpec::Notional(format!("MID({}) * qty(o)", s.name)),
                        ),
                        when(
                            format!("{cut} < qty(o)"),
                            PlacementSpec::Notional(format!("{touch}({}) * qty(o)", s.name)),
                        ),
                    ],
                )
            }
            Template::PercentOfSpread => {
                let s = self.symbol().clone();
                let side = self.side();
                let lots = self.lots(2);
                let cut = self.rng.random_range(1..lots) * lot;
                let small = [0.5, 0.4, 0.3][self.rng.random_range(0..3)];
                let price = |pct: f64| match side {
                    Side::Buy => format!("(NBO({0}) - {pct} * SPREAD({0})) * qty(o)", s.name),
                    Side::Sell => format!("(NBB({0}) + {pct} * SPREAD({0})) * qty(o)", s.name),
                };
                (
                    vec![order("o", &s, side, lots * lot, None)],
                    vec![
                        when(
                            format!("qty(o) <= {cut}"),
                            PlacementSpec::Notional(price(small)),
                        ),
                        when(
                            format!("{cut} < qty(o)"),
                            PlacementSpec::Notional(price(0.0)),
                        ),
                    ],
                )
            }
            Template::WeightedBasket => {
                let (s, t) = self.two_symbols();
                let side = self.side();
                let (wa, wb) = (
                    self.rng.random_range(1..=3u32),
                    self.rng.random_range(1..=3u32),
                );
                let units = self.lots(1);
                let (la, lb) = (self.limit(&s), self.limit(&t));
                (
                    vec![
                        order("a", &s, side, wa * units * lot, Some(la)),
                        order("b", &t, side, wb * units * lot, Some(lb)),
                    ],
                    vec![when(
                        format!("all_eq(qty(a) / {wa}, qty(b) / {wb})"),
                        PlacementSpec::Orders,
                    )],
                )
            }
            Template::NetPriceBasket => {
                let (s, t) = self.two_symbols();
                let (side_a, side_b) = (self.side(), self.side());
                let mid = |x: &SymbolQuote, side: Side| side.sign() * 0.5 * (x.nbb + x.nbo);
                let step = s.step().min(t.step());
                let net = tidy(
                    mid(&s, side_a) + mid(&t, side_b) + step * self.rng.random_range(-2..=2) as f64,
                );
                let units = self.lots(1) * lot;
                (
                    vec![
                        order("a", &s, side_a, units, None),
                        order("b", &t, side_b, units, None),
                    ],
                    vec![AlternativeSpec {
                        when: None,
                        place: PlacementSpec::Basket(BasketSpec {
                            legs: vec![("a".into(), 1), ("b".into(), 1)],
                            net_price: format!("{net}"),
                            max_units: units,
                        }),
                    }],
                )
            }
            Template::Substitutes => {
                let (s, t) = self.two_symbols();
                let side = self.side();
                let (qa, qb) = (self.lots(1) * lot, self.lots(1) * lot);
                let (la, lb) = (self.limit(&s), self.limit(&t));
                let cap = tidy(la * f64::from(qa.max(qb)));
                (
                    vec![
                        order("a", &s, side, qa, Some(la)),
                        order("b", &t, side, qb, Some(lb)),
                    ],
                    vec![when(
                        format!("px(a) * qty(a) + px(b) * qty(b) <= {cap}"),
                        PlacementSpec::Orders,
                    )],
                )
            }
            Template::DollarNeutral => {
                let (s, t) = self.two_symbols();
                let (qa, qb) = (self.lots(1) * lot, self.lots(1) * lot);
                let (la, lb) = (self.limit(&s), self.limit(&t));
                let tolerance = 5.0 * f64::from(lot) * f64::from(self.rng.random_range(1..=4u32));
                (
                    vec![
                        order("a", &s, Side::Buy, qa, Some(la)),
                        order("b", &t, Side::Sell, qb, Some(lb)),
                    ],
                    vec![when(
                        format!(
                            "abs(MID({}) * qty(a) - MID({}) * qty(b)) <= {tolerance}",
                            s.name, t.name
                        ),
                        PlacementSpec::Orders,
                    )],
                )
            }
        };
        BidderSpec {
            name,
            orders,
            logic,
        }
    }
}

/// Relative weights of the templates in a population (need not sum to 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateMix {
    /// Plain limit orders.
    #[serde(default)]
    pub limit: f64,
    /// Tier curves.
    #[serde(default)]
    pub tier_curve: f64,
    /// Midpoint discretion.
    #[serde(default)]
    pub midpoint_discretion: f64,
    /// Percent of spread.
    #[serde(default)]
    pub percent_of_spread: f64,
    /// Weighted baskets.
    #[serde(default)]
    pub weighted_basket: f64,
    /// Net-price baskets.
    #[serde(default)]
    pub net_price_basket: f64,
    /// Baskets of substitutes.
    #[serde(default)]
    pub substitutes: f64,
    /// Dollar-neutral baskets.
    #[serde(default)]
    pub dollar_neutral: f64,
}

impl TemplateMix {
    /// Every template equally likely.
    pub fn uniform() -> Self {
        Self::from_weights([1.0; 8])
    }

    /// The weights in [`TEMPLATES`] order.
    pub fn weights(&self) -> [f64; 8] {
        [
            self.limit,
            self.tier_curve,
            self.midpoint_discretion,
            self.percent_of_spread,
            self.weighted_basket,
            self.net_price_basket,
            self.substitutes,
            self.dollar_neutral,
        ]
    }

    /// From weights in [`TEMPLATES`] order.
    pub fn from_weights(w: [f64; 8]) -> Self {
        Self {
            limit: w[0],
            tier_curve: w[1],
            midpoint_discretion: w[2],
            percent_of_spread: w[3],
            weighted_basket: w[4],
            net_price_basket: w[5],
            substitutes: w[6],
            dollar_neutral: w[7],
        }
    }

    /// The template a uniform draw `u` in [0, 1) picks; two-order templates only when
    /// `two_symbols`.
    fn pick(&self, u: f64, two_symbols: bool) -> Template {
        let weights: Vec<f64> = TEMPLATES
            .iter()
            .zip(self.weights())
            .map(|(t, w)| {
                if t.orders() == 2 && !two_symbols {
                    0.0
                } else {
                    w.max(0.0)
                }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut target = u * total;
        for (template, w) in TEMPLATES.iter().zip(&weights) {
            if target < *w {
                return *template;
            }
            target -= w;
        }
        Template::Limit
    }
}

/// Bidder `index` of book (or auction) `book`: its template drawn from `mix`, its orders
/// around `symbols`' NBBOs.
pub fn random_bidder(
    seed: u64,
    book: u32,
    index: u32,
    symbols: &[SymbolQuote],
    mix: &TemplateMix,
    shape: Shape,
) -> BidderSpec {
    let mut draw = Draw {
        rng: crate::rng::auction_stream(seed, book, index),
        symbols,
        shape,
    };
    let u: f64 = draw.rng.random();
    let template = mix.pick(u, symbols.len() >= 2);
    draw.bidder(template, format!("b{index}"))
}

/// A random book of `bidders` bidders over `symbols`.
pub fn random_book(
    seed: u64,
    book: u32,
    symbols: Vec<SymbolQuote>,
    bidders: u32,
    mix: &TemplateMix,
    shape: Shape,
) -> Book {
    let bidders = (0..bidders)
        .map(|b| random_bidder(seed, book, b, &symbols, mix, shape))
        .collect();
    Book {
        symbols,
        bidders,
        clearing: ClearingOptions::default(),
    }
}

/// `n` symbols `S000`, `S001`, … with NBBOs of 1–4 ticks of 0.01 around prices from 5 to
/// 100, drawn from `seed`.
pub fn random_symbols(seed: u64, n: usize) -> Vec<SymbolQuote> {
    let mut rng = stream(seed, StreamDomain::AuctionMarket, 0);
    (0..n)
        .map(|i| {
            let nbb = tidy(f64::from(rng.random_range(500..10_000u32)) / 100.0);
            let ticks = f64::from(rng.random_range(1..=4u32));
            SymbolQuote {
                name: format!("S{i:03}"),
                nbb,
                nbo: tidy(nbb + 0.01 * ticks),
                tick: 0.01,
                price_step: None,
            }
        })
        .collect()
}
