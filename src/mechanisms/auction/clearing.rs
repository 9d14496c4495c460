//! Exact clearing: the fills and one price per symbol that maximise total surplus under
//! every bidder's logic, as a mixed-integer program solved by microlp (through good_lp).
//!
//! **Why surplus is linear.** A bidder's surplus is the most it would pay for its fills
//! (its *value*, [`rules::value`]) minus what it pays at clearing prices. Summed over
//! bidders, payments cancel, because every symbol's bought and sold shares balance; so
//! total surplus is Σ value, linear in the fills. The clearing prices only have to make
//! each bidder's payment acceptable.
//!
//! **How the uniform price is linearised.** Prices live on each symbol's grid inside the
//! NBBO (NBB + k·step). One binary `x[s][k]` per level picks symbol `s`'s price. A buy
//! limited at `L` may fill only if the chosen level is ≤ its highest admissible one:
//! `q ≤ Q·Σ_{k ≤ k(L)} x[s][k]`; a sell mirrors it. A basket's net-price condition is
//! linear in the level binaries. A bidder with logic is written in the convex hull of
//! its alternatives ([`conditional_bidder`]): a binary `y_a` and a copy of the bidder's
//! fills per alternative, conditions in perspective form, so only a basket's net price
//! needs a big-M term. Plain limit orders need no variable beyond their fill, which keeps
//! books of many simple orders small. Books are first split into independent symbol
//! components ([`super::decompose`]).
//!
//! **Stages.** (1) maximise surplus; (2) the tie rule ([`time_priority`]): plain limit
//! orders on the same side of a symbol at the same limit are interchangeable, so their
//! total fill goes to them in book order, earliest first; other ties (equal surplus from
//! different logic) are the solver's choice, deterministic for the same book since the
//! model is built in book order and microlp is single-threaded; (3) prices from the fills
//! alone ([`clearing_prices`]): the midpoint, on the grid, of each symbol's admissible
//! levels (rounded down), or, where baskets couple symbols, the admissible levels nearest
//! those midpoints. A second solve for a lexicographic tie rule over every bidder was
//! tried and dropped: optimising over the optimal face made microlp's branch-and-bound
//! hundreds of times slower on books of a few dozen orders.

use std::time::Instant;

use good_lp::solvers::microlp::microlp;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable,
    WithInitialSolution, WithTimeLimit, variable,
};

use super::book::{Auction, Placement};
use super::rules::{self, PriceRule};
use super::verify::verify;

/// Why a book could not be cleared.
#[derive(Debug, thiserror::Error)]
pub enum ClearingError {
    /// The time limit ran out before optimality was proven.
    #[error(
        "the solver's time limit ({limit_s} s, stage {stage}) ran out before the optimum was proven; \
         raise clearing.time_limit_s, or set clearing.accept_time_limit: true to take the best \
         allocation found (not reproducible across machines)"
    )]
    TimeLimit {
        /// The limit, seconds.
        limit_s: f64,
        /// Which stage (1: surplus, 3: prices).
        stage: u8,
    },
    /// The solver's answer breaks the book's rules (found by [`verify`], which every
    /// clearing passes before it is returned): a bug or the solver's numerical trouble.
    #[error("the clearing breaks the book's rules ({0}); nothing is reported")]
    Invalid(String),
    /// The solver failed (numerical trouble); the book is still valid.
    #[error("the solver failed in stage {stage}: {message}")]
    Solver {
        /// Which stage.
        stage: u8,
        /// Its message.
        message: String,
    },
}

/// The result of clearing one book.
#[derive(Clone, Debug, PartialEq)]
pub struct Clearing {
    /// Shares filled per order (auction order indices).
    pub fills: Vec<u32>,
    /// Clearing price per symbol; `None` where nothing traded.
    pub prices: Vec<Option<f64>>,
    /// Clearing price level per symbol (`None` where nothing traded).
    pub levels: Vec<Option<u32>>,
    /// The active alternative per bidder (`None`: nothing filled).
    pub active: Vec<Option<usize>>,
    /// Total surplus, Σ value (cash).
    pub surplus: f64,
    /// Each bidder's surplus at the clearing prices: value − payment.
    pub bidder_surplus: Vec<f64>,
    /// Whether optimality was proven (false only with `accept_time_limit`).
    pub optimal: bool,
    /// Variables and constraints of the stage-1 programs, summed over every program
    /// solved (one per component, and per price level of a one-symbol component).
    pub model_size: (usize, usize),
    /// Seconds spent in the solver, all stages.
    pub solve_seconds: f64,
}

/// The model: variables and the handles to read them back.
struct Model {
    vars: ProblemVariables,
    constraints: Vec<good_lp::Constraint>,
    fills: Vec<Variable>,
    /// Per symbol: level binaries (empty when the NBBO is one price).
    levels: Vec<Vec<Variable>>,
    /// Per bidder: alternative binaries (empty for plain bidders).
    choice: Vec<Vec<Variable>>,
    objective: Expression,
}

/// Σ x over the levels a rule admits, as an expression (1 when all levels are admitted).
fn admitted(model: &Model, rule: &PriceRule, levels: u32) -> Option<Expression> {
    let (symbol, low, high) = match *rule {
        PriceRule::AtMost { symbol, level } => (symbol, 0, level),
        PriceRule::AtLeast { symbol, level } => (symbol, level, i64::from(levels)),
        PriceRule::Linear { .. } => return None,
    };
    let mut e = Expression::with_capacity(levels as usize + 1);
    if low > high {
        return Some(e);
    }
    if model.levels[symbol].is_empty() {
        e += 1.0;
        return Some(e);
    }
    for k in low.max(0)..=high.min(i64::from(levels)) {
        e.add_mul(1.0, model.levels[symbol][k as usize]);
    }
    Some(e)
}

fn build(auction: &Auction) -> Model {
    let mut vars = ProblemVariables::new();
    let mut constraints = Vec::new();
    let fills: Vec<Variable> = auction
        .orders
        .iter()
        .map(|o| vars.add(variable().integer().min(0).max(o.quantity)))
        .collect();
    let levels: Vec<Vec<Variable>> = auction
        .symbols
        .iter()
        .map(|s| {
            if s.levels == 0 {
                return Vec::new();
            }
            let x: Vec<Variable> = (0..=s.levels)
                .map(|_| vars.add(variable().binary()))
                .collect();
            let mut one = Expression::with_capacity(x.len());
            for &v in &x {
                one.add_mul(1.0, v);
            }
            constraints.push(one.eq(1.0));
            x
        })
        .collect();
    let mut model = Model {
        vars,
        constraints,
        fills,
        levels,
        choice: Vec::with_capacity(auction.bidders.len()),
        objective: Expression::with_capacity(auction.orders.len()),
    };
    // Balance: bought = sold, per symbol.
    let mut balance: Vec<Expression> = auction
        .symbols
        .iter()
        .map(|_| Expression::default())
        .collect();
    for (o, order) in auction.orders.iter().enumerate() {
        balance[order.symbol].add_mul(order.side.sign(), model.fills[o]);
    }
    for e in balance {
        model.constraints.push(e.eq(0.0));
    }
    for bidder in &auction.bidders {
        if bidder.is_plain() {
            plain_bidder(auction, bidder, &mut model);
            model.choice.push(Vec::new());
        } else {
            let y = conditional_bidder(auction, bidder, &mut model);
            model.choice.push(y);
        }
    }
    model
}

/// Limit orders with no logic: value Σ side·L·q, and each fills only at admitted levels.
fn plain_bidder(auction: &Auction, bidder: &super::book::Bidder, model: &mut Model) {
    for o in bidder.orders.clone() {
        let order = &auction.orders[o];
        let limit = order.limit.unwrap_or(0.0);
        model
            .objective
            .add_mul(order.side.sign() * limit, model.fills[o]);
        let rule = rules::unit_rule(&auction.symbols, order.symbol, order.side, limit);
        let levels = auction.symbols[order.symbol].levels;
        price_gate(
            model,
            &rule,
            levels,
            model.fills[o],
            f64::from(order.quantity),
        );
    }
}

/// A bidder with logic, in the convex-hull (disaggregated) form of its disjunction: each
/// alternative `a` has a binary `y_a` (at most one on) and its own copy `q_a` of the
/// bidder's fills, with `q = Σ_a q_a`. Each condition `c·q + d ≤ 0` is written in
/// perspective, `c·q_a + d·y_a ≤ 0`, so `y_a = 0` forces `q_a = 0` and `y_a = 1` imposes
/// the condition; the value is Σ_a value_a(q_a), linear. No big-M is needed except for a
/// basket's net price, whose range is the NBBO's. This relaxation is the tightest
/// possible for a union of polytopes (Balas), which keeps branch-and-bound short even
/// for large share counts.
fn conditional_bidder(
    auction: &Auction,
    bidder: &super::book::Bidder,
    model: &mut Model,
) -> Vec<Variable> {
    let orders = rules::orders_of(auction, bidder);
    let cap: Vec<f64> = orders.iter().map(|o| f64::from(o.quantity)).collect();
    let y: Vec<Variable> = bidder
        .alternatives
        .iter()
        .map(|_| model.vars.add(variable().binary()))
        .collect();
    let mut any = Expression::default();
    for &v in &y {
        any.add_mul(1.0, v);
    }
    model.constraints.push(any.leq(1.0));
    // q_o = Σ_a q_{a,o}, collected as the copies are made.
    let mut total: Vec<Expression> = orders.iter().map(|_| Expression::default()).collect();
    for (a, alternative) in bidder.alternatives.iter().enumerate() {
        // The orders this alternative may fill, and how.
        let fills: Vec<Option<Variable>> = match &alternative.placement {
            Placement::Orders => orders
                .iter()
                .map(|o| Some(model.vars.add(variable().integer().min(0).max(o.quantity))))
                .collect(),
            Placement::UnitPrice { order, .. } => (0..orders.len())
                .map(|j| {
                    (j == *order).then(|| {
                        model
                            .vars
                            .add(variable().integer().min(0).max(orders[j].quantity))
                    })
                })
                .collect(),
            // A basket's legs are w·u: continuous copies pinned to the integer units.
            Placement::Basket { legs, .. } => (0..orders.len())
                .map(|j| {
                    legs.iter()
                        .any(|&(l, _)| l == j)
                        .then(|| model.vars.add(variable().min(0).max(orders[j].quantity)))
                })
                .collect(),
        };
        for (j, copy) in fills.iter().enumerate() {
            if let Some(v) = copy {
                total[j].add_mul(1.0, *v);
                // Off when the alternative is off.
                model
                    .constraints
                    .push(Expression::from(*v).leq(y[a] * cap[j]));
            }
        }
        for c in &alternative.conditions {
            let mut e = Expression::default();
            e.add_mul(c.expr.constant, y[a]);
            // Orders this alternative cannot fill are 0 in its copy.
            for (&o, &k) in &c.expr.terms {
                if let Some(v) = fills[o] {
                    e.add_mul(k, v);
                }
            }
            if c.equality {
                model.constraints.push(e.eq(0.0));
            } else {
                model.constraints.push(e.leq(0.0));
            }
        }
        match &alternative.placement {
            Placement::Orders => {
                for (j, order) in orders.iter().enumerate() {
                    let limit = order.limit.unwrap_or(0.0);
                    model
                        .objective
                        .add_mul(order.side.sign() * limit, fills[j].expect("copy"));
                    let rule = rules::unit_rule(&auction.symbols, order.symbol, order.side, limit);
                    price_gate(
                        model,
                        &rule,
                        auction.symbols[order.symbol].levels,
                        fills[j].expect("copy"),
                        cap[j],
                    );
                }
            }
            Placement::UnitPrice { order, price } => {
                let o = &orders[*order];
                let q = fills[*order].expect("copy");
                model.objective.add_mul(o.side.sign() * price, q);
                let rule = rules::unit_rule(&auction.symbols, o.symbol, o.side, *price);
                price_gate(
                    model,
                    &rule,
                    auction.symbols[o.symbol].levels,
                    q,
                    cap[*order],
                );
            }
            Placement::Basket {
                legs,
                net_price,
                max_units,
            } => {
                let most = legs
                    .iter()
                    .map(|&(o, w)| orders[o].quantity / w)
                    .min()
                    .unwrap_or(0)
                    .min(*max_units);
                let u = model.vars.add(variable().integer().min(0).max(most));
                model
                    .constraints
                    .push(Expression::from(u).leq(y[a] * f64::from(most)));
                for &(j, w) in legs {
                    let mut c = Expression::default();
                    c.add_mul(1.0, fills[j].expect("leg copy"));
                    c.add_mul(-f64::from(w), u);
                    model.constraints.push(c.eq(0.0));
                }
                basket_price_gate(auction, orders, legs, *net_price, y[a], model);
                model.objective.add_mul(*net_price, u);
            }
        }
    }
    for (j, e) in total.into_iter().enumerate() {
        let mut c = e;
        c.add_mul(-1.0, model.fills[bidder.orders.start + j]);
        model.constraints.push(c.eq(0.0));
    }
    y
}

/// `q ≤ Q·(admitted levels)`: the order fills only at prices its rule admits.
fn price_gate(model: &mut Model, rule: &PriceRule, levels: u32, q: Variable, cap: f64) {
    if let Some(admitted) = admitted(model, rule, levels) {
        let mut c = Expression::default();
        c.add_mul(1.0, q);
        model.constraints.push(c.leq(admitted * cap));
    }
}

/// Σ side·w·price(s) ≤ net + M(1 − y), with prices written in the level binaries.
fn basket_price_gate(
    auction: &Auction,
    orders: &[super::book::Order],
    legs: &[(usize, u32)],
    net_price: f64,
    on: Variable,
    model: &mut Model,
) {
    let mut lhs = Expression::default();
    let mut high = 0.0;
    for &(o, w) in legs {
        let order = &orders[o];
        let market = &auction.symbols[order.symbol];
        let c = order.side.sign() * f64::from(w);
        lhs += c * market.nbb;
        for (k, &x) in model.levels[order.symbol].iter().enumerate() {
            lhs.add_mul(c * (market.price(k as u32) - market.nbb), x);
        }
        high += c * if c > 0.0 { market.nbo } else { market.nbb };
    }
    let m = high - net_price;
    if m > 0.0 {
        model
            .constraints
            .push(lhs.leq(Expression::from(net_price) + (Expression::from(1.0) - on) * m));
    }
}

/// Clears `auction`.
///
/// # Errors
/// [`ClearingError`] when the time limit runs out (unless accepted) or the solver fails.
pub fn clear(auction: &Auction) -> Result<Clearing, ClearingError> {
    let started = Instant::now();
    let mut optimal = true;

    // Stage 1: the most surplus, component by component (in parallel; each result lands
    // in its own place, so the outcome does not depend on the threads).
    use rayon::prelude::*;
    let components = super::decompose::components(auction);
    let solved: Vec<Result<Stage1, ClearingError>> = components
        .par_iter()
        .map(|component| solve_component(auction, component))
        .collect();
    let mut fill_values = vec![0u32; auction.orders.len()];
    let mut chosen: Vec<Option<usize>> = vec![None; auction.bidders.len()];
    let mut size = (0, 0);
    for (component, result) in components.iter().zip(solved) {
        let stage = result?;
        optimal &= stage.optimal;
        size.0 += stage.size.0;
        size.1 += stage.size.1;
        for (local, &b) in component.bidders.iter().enumerate() {
            chosen[b] = stage.choice[local];
        }
        let mut next = 0;
        for &b in &component.bidders {
            for o in auction.bidders[b].orders.clone() {
                fill_values[o] = stage.fills[next];
                next += 1;
            }
        }
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        components = components.len(),
        "auction stage 1 (surplus) solved"
    );
    // Stage 2: time priority among interchangeable limit orders.
    time_priority(auction, &mut fill_values);
    let active = active_alternatives(auction, &fill_values, &chosen);
    let (levels, prices, prices_optimal) = clearing_prices(auction, &fill_values, &active)?;
    optimal &= prices_optimal;
    let mut bidder_surplus = Vec::with_capacity(auction.bidders.len());
    let mut surplus = 0.0;
    for (b, bidder) in auction.bidders.iter().enumerate() {
        let orders = rules::orders_of(auction, bidder);
        let local = &fill_values[bidder.orders.clone()];
        let value = active[b].map_or(0.0, |a| {
            rules::value(&bidder.alternatives[a], orders, local)
        });
        let paid: f64 = orders
            .iter()
            .zip(local)
            .map(|(o, &q)| o.side.sign() * prices[o.symbol].unwrap_or(0.0) * f64::from(q))
            .sum();
        surplus += value;
        bidder_surplus.push(value - paid);
    }
    let clearing = Clearing {
        fills: fill_values,
        prices,
        levels,
        active,
        surplus,
        bidder_surplus,
        optimal,
        model_size: size,
        solve_seconds: started.elapsed().as_secs_f64(),
    };
    // Cheap next to the solve (one pass over the orders), and the only guard against a
    // solver answer that rounds to a rule-breaking allocation: always on.
    verify(auction, &clearing).map_err(ClearingError::Invalid)?;
    Ok(clearing)
}

/// Stage 1's result for one component (orders and bidders in the component's order).
struct Stage1 {
    fills: Vec<u32>,
    choice: Vec<Option<usize>>,
    surplus: f64,
    optimal: bool,
    size: (usize, usize),
}

/// Stage 1 of one component: a one-symbol component once per price level (the best, and
/// the lowest level among equals), any other as one program.
fn solve_component(
    auction: &Auction,
    component: &super::decompose::Component,
) -> Result<Stage1, ClearingError> {
    use super::decompose::sub_auction;
    let levels = auction.symbols[component.symbols[0]].levels;
    if component.symbols.len() > 1 || levels == 0 {
        return solve_surplus(&sub_auction(auction, component, None));
    }
    // Each level is its own program: solved in parallel, compared in level order.
    use rayon::prelude::*;
    let solved: Vec<Result<Stage1, ClearingError>> = (0..=levels)
        .into_par_iter()
        .map(|k| solve_surplus(&sub_auction(auction, component, Some(k))))
        .collect();
    let mut best: Option<Stage1> = None;
    let mut size = (0, 0);
    let mut optimal = true;
    for stage in solved {
        let stage = stage?;
        size.0 += stage.size.0;
        size.1 += stage.size.1;
        optimal &= stage.optimal;
        // The values of the rounded fills, to verify's tolerance: the lowest level wins
        // among equals.
        let better = best
            .as_ref()
            .is_none_or(|b| stage.surplus > b.surplus + 1e-6 * b.surplus.abs().max(1.0));
        if better {
            best = Some(stage);
        }
    }
    let mut best = best.expect("at least one level");
    best.size = size;
    best.optimal = optimal;
    Ok(best)
}

/// The most-surplus allocation of `auction` as one mixed-integer program.
fn solve_surplus(auction: &Auction) -> Result<Stage1, ClearingError> {
    let limit = auction.options.time_limit_s;
    let accept = auction.options.accept_time_limit;
    let model = build(auction);
    let size = (model.vars.len(), model.constraints.len());
    let Model {
        vars,
        constraints,
        fills,
        levels,
        choice,
        objective,
    } = model;
    // Nothing filling, every price at its NBB, is always feasible: with it as the first
    // incumbent, a time limit always leaves an allocation to accept.
    let start: Vec<(Variable, f64)> = levels
        .iter()
        .filter_map(|x| x.first().map(|&v| (v, 1.0)))
        .collect();
    let mut problem = vars
        .maximise(objective)
        .using(microlp)
        .with_time_limit(limit)
        .with_initial_solution(start);
    for c in constraints {
        problem.add_constraint(c);
    }
    let solution = match problem.solve().map_err(|e| solver_error(e, 1, limit)) {
        Ok(solution) => solution,
        // No allocation found in time: nothing filling is the best one known.
        Err(ClearingError::TimeLimit { .. }) if accept => {
            tracing::warn!(
                orders = auction.orders.len(),
                "no allocation found within the time limit; nothing fills"
            );
            return Ok(Stage1 {
                fills: vec![0; auction.orders.len()],
                choice: vec![None; auction.bidders.len()],
                surplus: 0.0,
                optimal: false,
                size,
            });
        }
        Err(error) => return Err(error),
    };
    let optimal = check_status(solution.status(), 1, limit, accept)?;
    let (fills, choice) = read(&solution, &fills, &choice);
    // What the rounded fills are worth under the rules, not the solver's objective.
    let active = active_alternatives(auction, &fills, &choice);
    let surplus = auction
        .bidders
        .iter()
        .zip(&active)
        .filter_map(|(bidder, a)| {
            a.map(|a| {
                rules::value(
                    &bidder.alternatives[a],
                    rules::orders_of(auction, bidder),
                    &fills[bidder.orders.clone()],
                )
            })
        })
        .sum();
    Ok(Stage1 {
        fills,
        choice,
        surplus,
        optimal,
        size,
    })
}

/// The tie rule: plain limit orders on the same side of a symbol at the same limit are
/// interchangeable (same value per share, same price rule), so their total fill is
/// handed out again in book order, earliest first. Surplus, balance and prices are
/// unchanged; which of them filled no longer depends on the solver.
fn time_priority(auction: &Auction, fills: &mut [u32]) {
    use std::collections::BTreeMap;
    // (symbol, side, limit bits) -> orders in book order.
    let mut groups: BTreeMap<(usize, bool, u64), Vec<usize>> = BTreeMap::new();
    for bidder in auction.bidders.iter().filter(|b| b.is_plain()) {
        for o in bidder.orders.clone() {
            let order = &auction.orders[o];
            let limit = order.limit.unwrap_or(0.0);
            groups
                .entry((
                    order.symbol,
                    order.side == super::book::Side::Buy,
                    limit.to_bits(),
                ))
                .or_default()
                .push(o);
        }
    }
    for orders in groups.values().filter(|g| g.len() > 1) {
        let mut left: u64 = orders.iter().map(|&o| u64::from(fills[o])).sum();
        for &o in orders {
            let take = left.min(u64::from(auction.orders[o].quantity));
            fills[o] = take as u32;
            left -= take;
        }
    }
}

fn solver_error(e: ResolutionError, stage: u8, limit: f64) -> ClearingError {
    match e {
        ResolutionError::Other(m) if m.contains("Time limit") => ClearingError::TimeLimit {
            limit_s: limit,
            stage,
        },
        // Every book has a feasible allocation (nothing fills) and a bounded surplus.
        other => ClearingError::Solver {
            stage,
            message: other.to_string(),
        },
    }
}

fn check_status(
    status: SolutionStatus,
    stage: u8,
    limit: f64,
    accept: bool,
) -> Result<bool, ClearingError> {
    match status {
        SolutionStatus::Optimal => Ok(true),
        _ if accept => Ok(false),
        _ => Err(ClearingError::TimeLimit {
            limit_s: limit,
            stage,
        }),
    }
}

fn read(
    solution: &impl Solution,
    fills: &[Variable],
    choice: &[Vec<Variable>],
) -> (Vec<u32>, Vec<Option<usize>>) {
    let fills = fills
        .iter()
        .map(|&v| solution.value(v).round().max(0.0) as u32)
        .collect();
    let chosen = choice
        .iter()
        .map(|y| y.iter().position(|&v| solution.value(v) > 0.5))
        .collect();
    (fills, chosen)
}

/// The alternative each bidder's fills run under: the solver's choice, or for a plain
/// bidder its one alternative; `None` when the bidder fills nothing.
fn active_alternatives(
    auction: &Auction,
    fills: &[u32],
    chosen: &[Option<usize>],
) -> Vec<Option<usize>> {
    auction
        .bidders
        .iter()
        .zip(chosen)
        .map(|(bidder, &choice)| {
            if fills[bidder.orders.clone()].iter().all(|&q| q == 0) {
                None
            } else if bidder.is_plain() {
                Some(0)
            } else {
                choice
            }
        })
        .collect()
}

/// Stage 3: one price per traded symbol from the fills alone, so equal fills always get
/// equal prices. Each symbol's admissible levels are those every filled order's rule
/// admits; the price is the grid point at the middle of that range (rounded down to the
/// grid). Where an active basket couples symbols, the coupled symbols take the admissible
/// levels nearest those midpoints (least Σ |2k − lo − hi|, the lower level among equally
/// near ones: a small integer program). Also returns whether that program was solved to
/// optimality (always, unless `accept_time_limit` took a time-limited answer).
///
/// # Errors
/// [`ClearingError::Invalid`] when a traded symbol has no admissible level (the fills
/// break a price rule), or the small program's failure or time limit.
#[allow(clippy::type_complexity)]
pub fn clearing_prices(
    auction: &Auction,
    fills: &[u32],
    active: &[Option<usize>],
) -> Result<(Vec<Option<u32>>, Vec<Option<f64>>, bool), ClearingError> {
    let limit = auction.options.time_limit_s;
    let accept = auction.options.accept_time_limit;
    let mut optimal = true;
    let symbols = &auction.symbols;
    let mut low: Vec<i64> = vec![0; symbols.len()];
    let mut high: Vec<i64> = symbols.iter().map(|s| i64::from(s.levels)).collect();
    let mut traded = vec![false; symbols.len()];
    let mut coupled = Vec::new();
    for (o, order) in auction.orders.iter().enumerate() {
        if fills[o] > 0 {
            traded[order.symbol] = true;
        }
    }
    for (b, bidder) in auction.bidders.iter().enumerate() {
        let Some(a) = active[b] else { continue };
        let local = &fills[bidder.orders.clone()];
        for rule in rules::price_rules(
            &bidder.alternatives[a],
            rules::orders_of(auction, bidder),
            symbols,
            local,
        ) {
            match rule {
                PriceRule::AtMost { symbol, level } => high[symbol] = high[symbol].min(level),
                PriceRule::AtLeast { symbol, level } => low[symbol] = low[symbol].max(level),
                linear @ PriceRule::Linear { .. } => coupled.push(linear),
            }
        }
    }
    if let Some(s) = (0..symbols.len()).find(|&s| traded[s] && low[s] > high[s]) {
        return Err(ClearingError::Invalid(format!(
            "symbol {} trades but no price level satisfies every filled order (levels {}..{})",
            symbols[s].name, low[s], high[s]
        )));
    }
    let mut levels: Vec<Option<u32>> = (0..symbols.len())
        .map(|s| traded[s].then(|| ((low[s] + high[s]).max(0) / 2) as u32))
        .collect();
    if !coupled.is_empty() {
        let mut vars = ProblemVariables::new();
        let mut involved: Vec<usize> = coupled
            .iter()
            .flat_map(|r| match r {
                PriceRule::Linear { terms, .. } => {
                    terms.iter().map(|&(s, _)| s).collect::<Vec<_>>()
                }
                _ => Vec::new(),
            })
            .collect();
        involved.sort_unstable();
        involved.dedup();
        let k: Vec<Variable> = involved
            .iter()
            .map(|&s| {
                vars.add(
                    variable()
                        .integer()
                        .min(low[s].max(0) as f64)
                        .max(high[s] as f64),
                )
            })
            .collect();
        let d: Vec<Variable> = involved
            .iter()
            .map(|_| vars.add(variable().min(0.0)))
            .collect();
        let mut distance = Expression::default();
        for &di in &d {
            distance.add_mul(1.0, di);
        }
        // Distances are whole numbers; a tie-break of less than 1/2 in all prefers the
        // lower of two equally near levels without ever outweighing a nearer one.
        let spread: f64 = involved
            .iter()
            .map(|&s| f64::from(symbols[s].levels))
            .sum::<f64>()
            .max(1.0);
        for &ki in &k {
            distance.add_mul(0.5 / (spread + 1.0), ki);
        }
        let mut problem = vars
            .minimise(distance)
            .using(microlp)
            .with_time_limit(limit);
        for (i, &s) in involved.iter().enumerate() {
            let centre = (low[s] + high[s]) as f64;
            problem.add_constraint((Expression::from(k[i]) * 2.0 - centre).leq(d[i]));
            problem.add_constraint(
                (Expression::from(centre) - Expression::from(k[i]) * 2.0).leq(d[i]),
            );
        }
        for rule in &coupled {
            if let PriceRule::Linear { terms, bound } = rule {
                let mut lhs = Expression::default();
                for &(s, c) in terms {
                    let i = involved.binary_search(&s).expect("involved symbol");
                    let market = &symbols[s];
                    lhs += c * market.nbb;
                    lhs.add_mul(c * market.step, k[i]);
                }
                problem.add_constraint(lhs.leq(*bound + 1e-9 * bound.abs().max(1.0)));
            }
        }
        let solution = problem.solve().map_err(|e| solver_error(e, 3, limit))?;
        optimal &= check_status(solution.status(), 3, limit, accept)?;
        for (i, &s) in involved.iter().enumerate() {
            if traded[s] {
                levels[s] = Some(solution.value(k[i]).round().max(0.0) as u32);
            }
        }
    }
    let prices = levels
        .iter()
        .zip(symbols)
        .map(|(k, market)| k.map(|k| market.price(k)))
        .collect();
    Ok((levels, prices, optimal))
}
