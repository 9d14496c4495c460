//! Reading a book: RON parsing with positions, validation of every field, and
//! compilation of the bidder logic against the book's market data, every problem
//! reported at once at its file, line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::book::{
    Alternative, Auction, BasketSpec, Bidder, BidderSpec, Book, MAX_ORDERS, MAX_PRICE_LEVELS,
    MAX_QUANTITY, Order, Placement, PlacementSpec, SymbolMarket,
};
use super::expr::{self, ExprError};
use super::linear::{self, Affine, Value};
use crate::scenario::load::{
    LocatedProblem, locate_problems, parse_ron, read_input, render_invalid, render_parse,
};
use crate::scenario::locate::SourcePosition;
use crate::scenario::validate::{Checker, Problem};

// ---------------------------------------------------------------------------------------
// Loading

/// Why a book cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// The file could not be read.
    #[error("cannot read book `{}`: {source}", path.display())]
    Io {
        /// The book path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Malformed RON, a wrong type, an unknown or missing field.
    #[error("{}", render_parse("book", path, *position, field_path, message))]
    Parse {
        /// The book path.
        path: PathBuf,
        /// Where parsing stopped.
        position: SourcePosition,
        /// The field path there.
        field_path: String,
        /// The parser's message.
        message: String,
    },
    /// Values out of range, unknown names, bad bidder logic.
    #[error("{}", render_invalid("book", path, problems))]
    Invalid {
        /// The book path.
        path: PathBuf,
        /// Every problem, located.
        problems: Vec<LocatedProblem>,
    },
}

/// Reads, parses, validates and compiles the book at `path`.
///
/// # Errors
/// [`BookError`] naming the file, line and column and field path of every problem.
pub fn load_book(path: &Path) -> Result<(Book, Auction), BookError> {
    let source = read_input(path).map_err(|source| BookError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_book(&source, path)
}

/// Parses, validates and compiles book text `source` (named `path` in errors).
///
/// # Errors
/// As [`load_book`].
pub fn parse_book(source: &str, path: &Path) -> Result<(Book, Auction), BookError> {
    let book: Book = parse_ron(source).map_err(|f| BookError::Parse {
        path: path.to_path_buf(),
        position: f.position,
        message: crate::scenario::load::advice_for_long_form(source, &f).unwrap_or(f.message),
        field_path: f.field_path,
    })?;
    match compile_book(&book) {
        Ok(auction) => Ok((book, auction)),
        Err(problems) => Err(locate(path, source, problems)),
    }
}

/// A problem found while compiling a book: its field path and, for a bidder-logic
/// error, the char offset inside that field's string.
#[derive(Clone, Debug, PartialEq)]
pub struct BookProblem {
    /// Field path and message.
    pub problem: Problem,
    /// Char offset inside the expression string, for expression errors.
    pub offset: Option<usize>,
}

fn locate(path: &Path, source: &str, problems: Vec<BookProblem>) -> BookError {
    let lines: Vec<&str> = crate::scenario::load::without_bom(source).lines().collect();
    let (offsets, problems): (Vec<Option<usize>>, Vec<Problem>) =
        problems.into_iter().map(|p| (p.offset, p.problem)).unzip();
    let mut located = locate_problems(source, problems);
    // A bidder-logic error is refined to its character inside the expression string.
    for (problem, offset) in located.iter_mut().zip(offsets) {
        if let (Some(at), Some(offset), true) = (problem.position, offset, problem.exact) {
            problem.position = Some(inside_string(&lines, at, offset));
        }
    }
    BookError::Invalid {
        path: path.to_path_buf(),
        problems: located,
    }
}

/// The position of char `offset` of the string literal that starts (with its quote) at
/// `at`; the string's own position when an escape or line break comes first.
fn inside_string(lines: &[&str], at: SourcePosition, offset: usize) -> SourcePosition {
    let Some(line) = at.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return at;
    };
    let from: Vec<char> = line.chars().skip(at.column.saturating_sub(1)).collect();
    // The value may be the string itself or a variant wrapping it, `Notional("…")`:
    // skip the variant's name and its parenthesis to the quote.
    let name = from
        .iter()
        .take_while(|c| c.is_alphanumeric() || **c == '_')
        .count();
    let quote = match from.get(name) {
        Some('"') if name == 0 => 0,
        Some('(') if name > 0 && from.get(name + 1) == Some(&'"') => name + 1,
        _ => return at,
    };
    let before = from.get(quote + 1..quote + 1 + offset);
    match before {
        Some(before) if !before.contains(&'\\') && !before.contains(&'"') => SourcePosition {
            line: at.line,
            column: at.column + quote + 1 + offset,
        },
        _ => at,
    }
}

// ---------------------------------------------------------------------------------------
// Validation and compilation

struct Problems {
    checker: Checker,
    located: Vec<BookProblem>,
}

impl Problems {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.located.push(BookProblem {
            problem: Problem {
                path: path.into(),
                message: message.into(),
            },
            offset: None,
        });
    }

    fn expression(&mut self, path: String, e: ExprError) {
        self.located.push(BookProblem {
            problem: Problem {
                path,
                message: format!("bidder logic: {}", e.message),
            },
            offset: Some(e.span.start),
        });
    }

    fn finish(self) -> Vec<BookProblem> {
        let mut all: Vec<BookProblem> = self
            .checker
            .into_problems()
            .into_iter()
            .map(|problem| BookProblem {
                problem,
                offset: None,
            })
            .collect();
        all.extend(self.located);
        all
    }
}

/// Validates `book` and compiles it against its own market data.
///
/// # Errors
/// Every problem found, each with its field path.
pub fn compile_book(book: &Book) -> Result<Auction, Vec<BookProblem>> {
    let mut p = Problems {
        checker: Checker::default(),
        located: Vec::new(),
    };
    let options = &book.clearing;
    options.check("clearing", &mut p.checker);
    let symbols = check_symbols(book, &mut p);
    if book.bidders.is_empty() {
        p.fail("bidders", "a book needs at least one bidder");
    }
    let total: usize = book.bidders.iter().map(|b| b.orders.len()).sum();
    if total > MAX_ORDERS {
        p.fail(
            "bidders",
            format!("{total} orders; one book holds at most {MAX_ORDERS}"),
        );
        return Err(p.finish());
    }
    let mut names = HashSet::new();
    let mut orders = Vec::with_capacity(total);
    let mut bidders = Vec::with_capacity(book.bidders.len());
    for (b, spec) in book.bidders.iter().enumerate() {
        let at = format!("bidders[{b}]");
        if spec.name.is_empty() {
            p.fail(format!("{at}.name"), "a bidder needs a name");
        } else if !names.insert(spec.name.as_str()) {
            p.fail(
                format!("{at}.name"),
                format!("bidder `{}` is named twice", spec.name),
            );
        }
        let first = orders.len();
        check_orders(book, spec, b, &at, &symbols, &mut orders, &mut p);
        let range = first..orders.len();
        let alternatives = compile_logic(
            spec,
            &at,
            &orders[range.clone()],
            &symbols,
            options.limit_band,
            &mut p,
        );
        bidders.push(Bidder {
            name: spec.name.clone(),
            orders: range,
            alternatives,
        });
    }
    let problems = p.finish();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Auction {
        symbols,
        orders,
        bidders,
        options: options.clone(),
    })
}

fn check_symbols(book: &Book, p: &mut Problems) -> Vec<SymbolMarket> {
    use crate::scenario::validate::Range;
    if book.symbols.is_empty() {
        p.fail("symbols", "a book needs at least one symbol");
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(book.symbols.len());
    for (i, s) in book.symbols.iter().enumerate() {
        let at = format!("symbols[{i}]");
        if s.name.is_empty() {
            p.fail(format!("{at}.name"), "a symbol needs a name");
        } else if !seen.insert(s.name.as_str()) {
            p.fail(
                format!("{at}.name"),
                format!("symbol `{}` is listed twice", s.name),
            );
        }
        p.checker
            .number(format!("{at}.nbb"), s.nbb, Range::Positive);
        p.checker
            .number(format!("{at}.nbo"), s.nbo, Range::Positive);
        p.checker
            .number(format!("{at}.tick"), s.tick, Range::Positive);
        if let Some(step) = s.price_step {
            p.checker
                .number(format!("{at}.price_step"), step, Range::Positive);
        }
        let step = s.step();
        let mut levels = 0;
        if s.nbb > 0.0 && s.nbb.is_finite() && s.nbo.is_finite() && step.is_finite() && step > 0.0 {
            if s.nbo < s.nbb {
                p.fail(
                    format!("{at}.nbo"),
                    format!("NBO {} is below NBB {} (a crossed market)", s.nbo, s.nbb),
                );
            } else {
                let steps = (s.nbo - s.nbb) / step;
                if (steps - steps.round()).abs() > 1e-6 {
                    p.fail(
                        format!("{at}.nbo"),
                        format!(
                            "NBO − NBB = {} is not a whole number of price steps of {step}",
                            s.nbo - s.nbb
                        ),
                    );
                } else if steps.round() > f64::from(MAX_PRICE_LEVELS) {
                    p.fail(
                        format!("{at}.nbo"),
                        format!(
                            "the NBBO spans {} price steps; at most {MAX_PRICE_LEVELS} (raise price_step)",
                            steps.round()
                        ),
                    );
                } else {
                    levels = steps.round() as u32;
                }
            }
        }
        // The step in force is the NBBO's spread over its levels exactly, so that level
        // `levels` is the NBO in every formula (the grid check above allows 1e-6 of slack).
        let step = if levels > 0 {
            (s.nbo - s.nbb) / f64::from(levels)
        } else {
            step
        };
        out.push(SymbolMarket {
            name: s.name.clone(),
            nbb: s.nbb,
            nbo: s.nbo,
            step,
            levels,
        });
    }
    out
}

fn check_orders(
    book: &Book,
    spec: &BidderSpec,
    bidder: usize,
    at: &str,
    symbols: &[SymbolMarket],
    orders: &mut Vec<Order>,
    p: &mut Problems,
) {
    if spec.orders.is_empty() {
        p.fail(format!("{at}.orders"), "a bidder needs at least one order");
    }
    let band = book.clearing.limit_band;
    let mut ids = HashSet::new();
    for (j, order) in spec.orders.iter().enumerate() {
        let here = format!("{at}.orders[{j}]");
        if !ids.insert(order.id.as_str()) {
            p.fail(
                format!("{here}.id"),
                format!("order id `{}` is used twice", order.id),
            );
        }
        if order.id.is_empty() {
            p.fail(format!("{here}.id"), "an order needs an id");
        }
        let symbol = symbols.iter().position(|s| s.name == order.symbol);
        if symbol.is_none() {
            p.fail(
                format!("{here}.symbol"),
                format!(
                    "unknown symbol `{}`; the book lists {}",
                    order.symbol,
                    list(symbols.iter().map(|s| s.name.as_str()))
                ),
            );
        }
        if order.quantity == 0 || order.quantity > MAX_QUANTITY {
            p.fail(
                format!("{here}.quantity"),
                format!(
                    "must be in [1, {MAX_QUANTITY}] shares, got {}",
                    order.quantity
                ),
            );
        }
        if let (Some(limit), Some(s)) = (order.limit, symbol) {
            if !limit.is_finite() || limit <= 0.0 {
                p.fail(format!("{here}.limit"), format!("must be > 0, got {limit}"));
            } else if let Some(message) = outside_band(&symbols[s], band, limit, "limit") {
                p.fail(format!("{here}.limit"), message);
            }
        }
        orders.push(Order {
            bidder,
            id: order.id.clone(),
            symbol: symbol.unwrap_or(0),
            side: order.side,
            quantity: order.quantity,
            limit: order.limit,
        });
    }
}

/// Prices a bidder names (limits, `Notional` prices) must lie within
/// [NBB·(1 − band), NBO·(1 + band)]; the message when `price` does not.
fn outside_band(market: &SymbolMarket, band: f64, price: f64, what: &str) -> Option<String> {
    let (low, high) = (market.nbb * (1.0 - band), market.nbo * (1.0 + band));
    (market.nbb > 0.0 && !(low..=high).contains(&price)).then(|| {
        format!(
            "{what} {price} is outside the price bounds [{low}, {high}] \
             (NBBO {}–{} ± clearing.limit_band {band})",
            market.nbb, market.nbo
        )
    })
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Name resolution for one bidder's logic.
struct BidderContext<'a> {
    orders: &'a [Order],
    symbols: &'a [SymbolMarket],
    /// `clearing.limit_band`.
    band: f64,
}

impl linear::Context for BidderContext<'_> {
    fn order(&self, id: &str) -> Result<(usize, Option<f64>), String> {
        self.orders
            .iter()
            .position(|o| o.id == id)
            .map(|i| (i, self.orders[i].limit))
            .ok_or_else(|| {
                format!(
                    "the bidder has no order `{id}` (its orders: {})",
                    list(self.orders.iter().map(|o| o.id.as_str()))
                )
            })
    }

    fn quote(&self, symbol: &str) -> Result<(f64, f64), String> {
        self.symbols
            .iter()
            .find(|s| s.name == symbol)
            .map(|s| (s.nbb, s.nbo))
            .ok_or_else(|| {
                format!(
                    "unknown symbol `{symbol}`; the book lists {}",
                    list(self.symbols.iter().map(|s| s.name.as_str()))
                )
            })
    }
}

fn compile_logic(
    spec: &BidderSpec,
    at: &str,
    orders: &[Order],
    symbols: &[SymbolMarket],
    band: f64,
    p: &mut Problems,
) -> Vec<Alternative> {
    let context = BidderContext {
        orders,
        symbols,
        band,
    };
    if spec.logic.is_empty() {
        check_limits(spec, at, None, p);
        return vec![Alternative {
            conditions: Vec::new(),
            placement: Placement::Orders,
        }];
    }
    let mut out = Vec::with_capacity(spec.logic.len());
    for (a, alternative) in spec.logic.iter().enumerate() {
        let here = format!("{at}.logic[{a}]");
        let conditions = match &alternative.when {
            None => Vec::new(),
            Some(text) => {
                let path = format!("{here}.when");
                match expr::parse(text).and_then(|n| linear::compile(&n, &context)) {
                    Ok(Value::Bool(c)) => c,
                    Ok(_) => {
                        p.fail(
                            path,
                            "`when` must be a condition (a comparison), not a number",
                        );
                        Vec::new()
                    }
                    Err(e) => {
                        p.expression(path, e);
                        Vec::new()
                    }
                }
            }
        };
        let placement = match &alternative.place {
            PlacementSpec::Orders => {
                check_limits(spec, at, Some(a), p);
                Placement::Orders
            }
            PlacementSpec::Notional(text) => {
                notional(text, &format!("{here}.place"), &context, p).unwrap_or(Placement::Orders)
            }
            PlacementSpec::Basket(basket) => {
                compile_basket(basket, &format!("{here}.place"), &context, p)
                    .unwrap_or(Placement::Orders)
            }
        };
        out.push(Alternative {
            conditions,
            placement,
        });
    }
    out
}

/// `Orders` (explicit in `alternative`, or the default logic) needs every order's limit:
/// each missing one is reported at that order.
fn check_limits(spec: &BidderSpec, bidder_at: &str, alternative: Option<usize>, p: &mut Problems) {
    let place = alternative.map_or("the default `Orders`".to_string(), |a| {
        format!("logic[{a}]'s `Orders`")
    });
    for (j, order) in spec.orders.iter().enumerate() {
        if order.limit.is_none() {
            p.fail(
                format!("{bidder_at}.orders[{j}]"),
                format!(
                    "{place} fills each order at its own limit, but order `{}` has none",
                    order.id
                ),
            );
        }
    }
}

fn notional(
    text: &str,
    at: &str,
    context: &BidderContext<'_>,
    p: &mut Problems,
) -> Option<Placement> {
    let form = match expr::parse(text).and_then(|n| linear::compile(&n, context)) {
        Ok(Value::Linear(form)) => form,
        Ok(_) => {
            p.fail(
                at,
                "Notional(...) takes a price times a fill, like `10.01 * qty(o)`",
            );
            return None;
        }
        Err(e) => {
            p.expression(at.to_string(), e);
            return None;
        }
    };
    let single: Vec<(usize, f64)> = form.terms.iter().map(|(&o, &c)| (o, c)).collect();
    match (single.as_slice(), form.constant) {
        (&[(order, price)], c) if c.abs() <= 1e-12 && price > 0.0 => {
            let market = &context.symbols[context.orders[order].symbol];
            if let Some(message) = outside_band(market, context.band, price, "the per-share price")
            {
                p.fail(at, message);
                return None;
            }
            Some(Placement::UnitPrice { order, price })
        }
        _ => {
            p.fail(
                at,
                "Notional(...) must be a positive per-share price times one order's fill, \
                 like `MID(X) * qty(o)`; price a basket with Basket(...)",
            );
            None
        }
    }
}

fn compile_basket(
    basket: &BasketSpec,
    at: &str,
    context: &BidderContext<'_>,
    p: &mut Problems,
) -> Option<Placement> {
    let mut ok = true;
    if basket.legs.is_empty() {
        p.fail(format!("{at}.legs"), "a basket needs at least one leg");
        ok = false;
    }
    if basket.max_units == 0 {
        p.fail(format!("{at}.max_units"), "must be ≥ 1, got 0");
        ok = false;
    }
    let mut legs = Vec::with_capacity(basket.legs.len());
    let mut seen = BTreeMap::new();
    for (l, (id, weight)) in basket.legs.iter().enumerate() {
        let here = format!("{at}.legs[{l}]");
        match linear::Context::order(context, id) {
            Ok((order, _)) => {
                if seen.insert(order, l).is_some() {
                    p.fail(here.clone(), format!("order `{id}` is a leg twice"));
                    ok = false;
                }
                legs.push((order, *weight));
            }
            Err(message) => {
                p.fail(here.clone(), message);
                ok = false;
            }
        }
        if *weight == 0 {
            p.fail(
                here,
                format!("leg `{id}` has ratio 0; every leg needs ≥ 1 share per unit"),
            );
            ok = false;
        }
    }
    let net = match expr::parse(&basket.net_price).and_then(|n| linear::compile(&n, context)) {
        Ok(Value::Linear(Affine { terms, constant })) if terms.is_empty() => constant,
        Ok(_) => {
            p.fail(
                format!("{at}.net_price"),
                "the net price per unit must be a constant (market data allowed, fills not)",
            );
            return None;
        }
        Err(e) => {
            p.expression(format!("{at}.net_price"), e);
            return None;
        }
    };
    // The net price must be reachable with every leg's price inside its band: outside,
    // it is as surely a typo as a limit far from the market.
    if ok {
        let (mut low, mut high) = (0.0, 0.0);
        for &(o, w) in &legs {
            let order = &context.orders[o];
            let m = &context.symbols[order.symbol];
            let (lo, hi) = (m.nbb * (1.0 - context.band), m.nbo * (1.0 + context.band));
            let c = order.side.sign() * f64::from(w);
            low += if c > 0.0 { c * lo } else { c * hi };
            high += if c > 0.0 { c * hi } else { c * lo };
        }
        if !(low..=high).contains(&net) {
            p.fail(
                format!("{at}.net_price"),
                format!(
                    "net price {net} per unit is outside what the legs can cost within \
                     clearing.limit_band: [{low}, {high}]"
                ),
            );
            ok = false;
        }
    }
    ok.then_some(Placement::Basket {
        legs,
        net_price: net,
        max_units: basket.max_units,
    })
}
