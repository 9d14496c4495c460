//! An auction book as authored in RON (symbols with their NBBO, bidders with orders and
//! bidder logic) and its compiled form, the [`Auction`] the clearing solves; reading,
//! validating and compiling a book is [`super::load`]'s.

use serde::{Deserialize, Serialize};

use super::linear::Constraint;

/// Most price levels a symbol's NBBO may span (NBO − NBB in price steps): the clearing
/// has one binary variable per level.
pub const MAX_PRICE_LEVELS: u32 = 1_000;

/// Largest order quantity, in shares (the solver's integers are 32-bit).
pub const MAX_QUANTITY: u32 = 1_000_000_000;

/// Most orders in one book.
pub const MAX_ORDERS: usize = 1_000_000;

/// One auction book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Book {
    /// The symbols traded and their market data at auction time.
    pub symbols: Vec<SymbolQuote>,
    /// The bidders, in time priority (earlier first).
    pub bidders: Vec<BidderSpec>,
    /// How the clearing is solved.
    #[serde(default)]
    pub clearing: ClearingOptions,
}

impl Book {
    /// The book as RON text that [`parse_book`](super::load::parse_book) reads back unchanged.
    ///
    /// # Errors
    /// Only if serialisation fails, which plain data does not.
    pub fn to_ron(&self) -> Result<String, ron::Error> {
        let config = ron::ser::PrettyConfig::new()
            .struct_names(false)
            .extensions(crate::scenario::load::extensions());
        ron::ser::to_string_pretty(self, config)
    }
}

/// A symbol and its national best bid and offer at auction time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolQuote {
    /// Ticker.
    pub name: String,
    /// National best bid.
    pub nbb: f64,
    /// National best offer (≥ `nbb`).
    pub nbo: f64,
    /// Quoting tick (e.g. 0.01).
    pub tick: f64,
    /// Grid of clearing prices inside the NBBO: NBB + k·step. Defaults to half the tick,
    /// so the midpoint of a one-tick spread is a price; NBO − NBB must be a whole
    /// number of steps.
    #[serde(default)]
    pub price_step: Option<f64>,
}

impl SymbolQuote {
    /// The price step in force.
    pub fn step(&self) -> f64 {
        self.price_step.unwrap_or(self.tick / 2.0)
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Pays cash, receives shares.
    Buy,
    /// Delivers shares, receives cash.
    Sell,
}

impl Side {
    /// +1 for a buy, −1 for a sell: the sign of the cash a fill pays.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// As written in tables.
    pub fn name(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// A bidder: its orders and the logic over their fills.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidderSpec {
    /// Unique name.
    pub name: String,
    /// The orders whose fills the logic speaks about.
    pub orders: Vec<OrderSpec>,
    /// Alternatives (`subject_to(when, place)`); the auction activates at most one. Empty
    /// means one unconditional `Orders`.
    #[serde(default)]
    pub logic: Vec<AlternativeSpec>,
}

/// One order: a symbol, a side and the most shares to fill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    /// Name within the bidder, used by `qty(id)` and `px(id)`.
    pub id: String,
    /// Symbol traded.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Most shares to fill.
    pub quantity: u32,
    /// Limit price; required by `Orders`, optional where the logic prices the fill.
    #[serde(default)]
    pub limit: Option<f64>,
}

/// `subject_to(when, place)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternativeSpec {
    /// The condition on fills (default `true`).
    #[serde(default)]
    pub when: Option<String>,
    /// What the bidder pays or receives when this alternative is active.
    pub place: PlacementSpec,
}

/// The price side of an alternative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PlacementSpec {
    /// Every filled order at its own limit price (`place_orders`).
    Orders,
    /// The bidder's one filled order at a per-share price given as `c * qty(o)` — the
    /// most paid for a buy, the least received for a sell (`place_notional`).
    Notional(String),
    /// Units of a basket: leg `o` fills `weight·units` shares; per unit the bidder pays
    /// at most `net_price` (received, at least its magnitude, when negative).
    Basket(BasketSpec),
}

/// A net-price basket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasketSpec {
    /// (order id, shares per unit).
    pub legs: Vec<(String, u32)>,
    /// Net cash per unit: paid at most when > 0, received at least |x| when < 0 (an
    /// expression; market data allowed, fills not).
    pub net_price: String,
    /// Most units.
    pub max_units: u32,
}

/// How the clearing is solved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearingOptions {
    /// Wall-clock limit for each solver call, seconds (a book may need several: one per
    /// component, and per price level of a one-symbol component).
    #[serde(default = "ClearingOptions::default_time_limit")]
    pub time_limit_s: f64,
    /// When the limit is hit: `false` (default) refuses the result with an error; `true`
    /// accepts the best feasible allocation found, marked not proven optimal (and not
    /// reproducible across machines).
    #[serde(default)]
    pub accept_time_limit: bool,
    /// Limits and `Notional` prices must lie within [NBB·(1 − band), NBO·(1 + band)], and
    /// a basket's net price within what its legs can cost there: a price far outside the
    /// market is almost always a typo (a price in cents). In [0, 10].
    #[serde(default = "ClearingOptions::default_limit_band")]
    pub limit_band: f64,
}

impl ClearingOptions {
    /// Checks the options, with paths under `path` (`clearing` in a book).
    pub fn check(&self, path: &str, checker: &mut crate::scenario::Checker) {
        use crate::scenario::Range;
        checker.number(
            format!("{path}.time_limit_s"),
            self.time_limit_s,
            Range::Within(0.0, 86_400.0),
        );
        checker.number(
            format!("{path}.limit_band"),
            self.limit_band,
            Range::Closed(0.0, 10.0),
        );
    }

    fn default_time_limit() -> f64 {
        30.0
    }
    fn default_limit_band() -> f64 {
        0.5
    }
}

impl Default for ClearingOptions {
    fn default() -> Self {
        Self {
            time_limit_s: Self::default_time_limit(),
            accept_time_limit: false,
            limit_band: Self::default_limit_band(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The compiled form

/// A symbol's market at auction time and its grid of clearing prices.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolMarket {
    /// Ticker.
    pub name: String,
    /// National best bid: price level 0.
    pub nbb: f64,
    /// National best offer: price level `levels`.
    pub nbo: f64,
    /// Price step between levels.
    pub step: f64,
    /// Highest level (NBO − NBB in steps).
    pub levels: u32,
}

impl SymbolMarket {
    /// The price of level `k`.
    pub fn price(&self, k: u32) -> f64 {
        if k == self.levels {
            self.nbo
        } else {
            self.nbb + self.step * f64::from(k)
        }
    }

    /// `limit` in steps above the NBB, snapped to a whole level when within
    /// [`LEVEL_SNAP`] of one: a limit written on the grid (700000.07 at a step of 0.005)
    /// must land on its level even where the floating-point quotient does not.
    fn steps_above_nbb(&self, limit: f64) -> f64 {
        let x = (limit - self.nbb) / self.step;
        if (x - x.round()).abs() <= LEVEL_SNAP {
            x.round()
        } else {
            x
        }
    }

    /// Highest level whose price is ≤ `limit` (−1: none).
    pub fn highest_level_at_most(&self, limit: f64) -> i64 {
        let k = self.steps_above_nbb(limit).floor();
        k.clamp(-1.0, f64::from(self.levels)) as i64
    }

    /// Lowest level whose price is ≥ `limit` (`levels + 1`: none).
    pub fn lowest_level_at_least(&self, limit: f64) -> i64 {
        let k = self.steps_above_nbb(limit).ceil();
        k.clamp(0.0, f64::from(self.levels) + 1.0) as i64
    }
}

/// How close (in price steps) a limit's position must be to a level to count as on it:
/// far above floating-point error at any price (~1e-8 steps at 10⁶ with a 0.005 step),
/// far below any real difference between two prices.
pub const LEVEL_SNAP: f64 = 1e-6;

/// An order of the compiled book.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// The bidder's index.
    pub bidder: usize,
    /// Its id within the bidder.
    pub id: String,
    /// Symbol index.
    pub symbol: usize,
    /// Buy or sell.
    pub side: Side,
    /// Most shares.
    pub quantity: u32,
    /// Limit price, if any.
    pub limit: Option<f64>,
}

/// A compiled alternative: linear conditions over the bidder's fills (orders numbered
/// within the bidder) and how it is priced.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    /// Conditions that must hold when it is active.
    pub conditions: Vec<Constraint>,
    /// Its price side.
    pub placement: Placement,
}

/// The compiled price side of an alternative.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// Each filled order at its own limit.
    Orders,
    /// One order (index within the bidder) at a per-share price; the bidder's other
    /// orders do not fill.
    UnitPrice {
        /// The order.
        order: usize,
        /// Most paid per share (buy) or least received (sell).
        price: f64,
    },
    /// `weight·units` of each leg; the bidder's other orders do not fill.
    Basket {
        /// (order within the bidder, shares per unit).
        legs: Vec<(usize, u32)>,
        /// Net cash per unit: paid at most when > 0, received at least |x| when < 0.
        net_price: f64,
        /// Most units.
        max_units: u32,
    },
}

/// A bidder of the compiled book.
#[derive(Clone, Debug, PartialEq)]
pub struct Bidder {
    /// Its name.
    pub name: String,
    /// Its orders: a range of the auction's order indices.
    pub orders: std::ops::Range<usize>,
    /// At most one is active.
    pub alternatives: Vec<Alternative>,
}

impl Bidder {
    /// Whether the bidder is a plain set of limit orders (one unconditional `Orders`):
    /// the clearing models these without any variable of their own.
    pub fn is_plain(&self) -> bool {
        self.alternatives.len() == 1
            && self.alternatives[0].conditions.is_empty()
            && self.alternatives[0].placement == Placement::Orders
    }
}

/// A book ready to clear.
#[derive(Clone, Debug, PartialEq)]
pub struct Auction {
    /// Symbols, in book order.
    pub symbols: Vec<SymbolMarket>,
    /// Every order, bidder by bidder.
    pub orders: Vec<Order>,
    /// Bidders in time priority.
    pub bidders: Vec<Bidder>,
    /// Solver options.
    pub options: ClearingOptions,
}
