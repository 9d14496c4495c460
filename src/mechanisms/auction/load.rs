//! Reading a book: RON parsing with positions, validation of every field, and
//! compilation of the bidder logic against the book's market data, every problem
//! reported at once at its file, line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::book::{
    Alternative, Auction, BasketSpec, Bidder, BidderSpec, Book, MAX_ORDERS, MAX_PRICE_LEVELS,
    MAX_QUANTITY, Order, Placement, PlacementSpec, SymbolMarket,
};
use super::expr::{self, Affine, ExprError, Value};
use crate::scenario::load::{LocatedProblem, parse_ron, read_input};
use crate::scenario::locate::{FieldLocations, SourcePosition};
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
    #[error("cannot parse book `{}`\n  --> {}:{}:{}{}: {message}", path.display(), path.display(), position.line, position.column, if field_path.is_empty() { String::new() } else { format!(" at `{field_path}`") })]
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
    #[error("invalid book `{}`: {} problem{}{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" }, render(path, problems))]
    Invalid {
        /// The book path.
        path: PathBuf,
        /// Every problem, located.
        problems: Vec<LocatedProblem>,
    },
}

fn render(path: &Path, problems: &[LocatedProblem]) -> String {
    problems
        .iter()
        .map(|p| match p.position {
            Some(at) => format!(
                "\n  --> {}:{}:{}  {}",
                path.display(),
                at.line,
                at.column,
                p.problem
            ),
            None => format!("\n  --> {}  {}", path.display(), p.problem),
        })
        .collect()
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
        field_path: f.field_path,
        message: f.message,
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
    let locations = FieldLocations::scan(source);
    let lines: Vec<&str> = crate::scenario::load::without_bom(source).lines().collect();
    let problems = problems
        .into_iter()
        .map(|p| {
            let found = locations.nearest(&p.problem.path);
            let mut position = found.map(|(at, _)| at);
            if let (Some(at), Some(offset), Some(true)) =
                (position, p.offset, found.map(|(_, exact)| exact))
            {
                position = Some(inside_string(&lines, at, offset));
            }
            LocatedProblem {
                position,
                exact: found.is_some_and(|(_, exact)| exact),
                problem: p.problem,
            }
        })
        .collect();
    BookError::Invalid {
        path: path.to_path_buf(),
        problems,
    }
}

/// The position of char `offset` of the string literal that starts (with its quote) at
/// `at`; the string's own position when an escape or line break comes first.
fn inside_string(lines: &[&str], at: SourcePosition, offset: usize) -> SourcePosition {
    let Some(line) = at.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return at;
    };
    let mut chars = line.chars().skip(at.column.saturating_sub(1));
    if chars.next() != Some('"') {
        return at;
    }
    let before: Vec<char> = chars.take(offset).collect();
    if before.len() < offset || before.contains(&'\\') || before.contains(&'"') {
        return at;
    }
    SourcePosition {
        line: at.line,
        column: at.column + 1 + offset,
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
    p.checker.number(
        "clearing.time_limit_s",
        options.time_limit_s,
        crate::scenario::validate::Range::Within(0.0, 86_400.0),
    );
    p.checker.number(
        "clearing.limit_band",
        options.limit_band,
        crate::scenario::validate::Range::Within(0.0, 10.0),
    );
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
        let alternatives = compile_logic(spec, &at, &orders[range.clone()], &symbols, &mut p);
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
        if s.nbb.is_finite() && s.nbo.is_finite() && step.is_finite() && step > 0.0 {
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
            let s = &symbols[s];
            let (low, high) = (s.nbb * (1.0 - band), s.nbo * (1.0 + band));
            if !limit.is_finite() || limit <= 0.0 {
                p.fail(format!("{here}.limit"), format!("must be > 0, got {limit}"));
            } else if s.nbb > 0.0 && (limit < low || limit > high) {
                p.fail(
                    format!("{here}.limit"),
                    format!(
                        "limit {limit} is outside the price bounds [{low}, {high}] \
                         (NBBO {}–{} ± clearing.limit_band {band})",
                        s.nbb, s.nbo
                    ),
                );
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
}

impl expr::Context for BidderContext<'_> {
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
    p: &mut Problems,
) -> Vec<Alternative> {
    let context = BidderContext { orders, symbols };
    if spec.logic.is_empty() {
        check_limits(spec, &format!("{at}.orders"), p);
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
                match expr::parse(text).and_then(|n| expr::compile(&n, &context)) {
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
                check_limits(spec, &format!("{here}.place"), p);
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

fn check_limits(spec: &BidderSpec, at: &str, p: &mut Problems) {
    for order in &spec.orders {
        if order.limit.is_none() {
            p.fail(
                at.to_string(),
                format!(
                    "`Orders` fills each order at its own limit, but order `{}` has none",
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
    let form = match expr::parse(text).and_then(|n| expr::compile(&n, context)) {
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
        match expr::Context::order(context, id) {
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
    let net = match expr::parse(&basket.net_price).and_then(|n| expr::compile(&n, context)) {
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
    ok.then_some(Placement::Basket {
        legs,
        net_price: net,
        max_units: basket.max_units,
    })
}
