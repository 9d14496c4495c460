//! The dealer market of Ganesh et al. 2019 as ECS systems: thin glue between components
//! and the pure maths in `market`, `agents` and `dealers`.
//!
//! Counterparty indices: investors are `0..N` (their ids), market maker m is `N + m`.

use std::collections::VecDeque;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use crate::agents::investor::{
    ArrivalMember, ArrivalSampler, InvestorId, Order, TradeDecision, TradeProfile, decide_trade,
    trade_details,
};
use crate::agents::{AgentRng, Holdings};
use crate::dealers::hedging_schedule::{self, HedgeProblem};
use crate::dealers::pricing::best_quote;
use crate::dealers::{CounterpartyBook, Hedger, Ledger, MarketMakerId, Pricing, QuoteCurve};
use crate::market::price_process::uniform;
use crate::market::reference_curve::SizeOutOfRange;
use crate::market::{Clock, MarketProcess, MarketState};
use crate::rng::trade_stream;
use crate::scenario::{HedgeVenue, VolatilityEstimate};
use crate::schedule::TickPhase;

/// Population sizes, for counterparty indexing.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Population {
    /// N, number of investors.
    pub investors: u32,
    /// M, number of market makers.
    pub market_makers: u32,
}

impl Population {
    /// Counterparty index of market maker `m`.
    pub fn maker_slot(&self, m: u32) -> usize {
        (self.investors + m) as usize
    }

    /// Number of counterparty slots in every book.
    pub fn slots(&self) -> usize {
        (self.investors + self.market_makers) as usize
    }
}

/// How the Arrivals phase decides who trades; a run picks one with
/// [`ArrivalMode::for_population`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalMode {
    /// Activity-proportional skip-sampling ([`ArrivalSampler`]): O(trades) per tick.
    Skip,
    /// One uniform per investor per tick: O(N); the direct reference implementation the
    /// tests compare the default against.
    PerInvestor,
}

impl ArrivalMode {
    /// A candidate of the skip sampler costs about this many times a step of the direct
    /// scan: the scan reads investors in storage order, while the sampler reads each
    /// candidate at random. Measured with `bench --child --scaling --population N`, both
    /// modes forced, N = 10k to 10M: 50–80 ns a candidate (more at larger N, as misses
    /// go further out) against about 4 ns an investor scanned, beside ~30 ns a trade
    /// for the trade's own draws in either mode.
    pub const RANDOM_ACCESS_COST: f64 = 20.0;

    /// Smaller populations always use the direct scan. It takes under 0.2 ms a tick
    /// there, so the choice cannot matter for speed, and the paper-sized runs (and the
    /// published figures made from them) keep the draws they were made with.
    pub const MIN_SKIP_POPULATION: usize = 50_000;

    /// The cheaper exact method for `investors` of which `expected_candidates` are
    /// candidates per tick. Both give the same distribution, but not the same draws, so
    /// the choice depends only on the scenario, keeping runs reproducible.
    pub fn for_population(expected_candidates: f64, investors: usize) -> Self {
        if investors >= Self::MIN_SKIP_POPULATION
            && expected_candidates * Self::RANDOM_ACCESS_COST < investors as f64
        {
            ArrivalMode::Skip
        } else {
            ArrivalMode::PerInvestor
        }
    }
}

/// The arrival sampler and the mode in use.
#[derive(Resource, Debug)]
pub struct Arrivals {
    /// Which method decides who trades.
    pub mode: ArrivalMode,
    /// The buckets of the skip-sampling method.
    pub sampler: ArrivalSampler,
    /// Scratch: this tick's sampled traders, kept to reuse the allocation.
    pub traders: Vec<ArrivalMember>,
}

/// This tick's orders, sorted by investor id.
#[derive(Resource, Debug, Default)]
pub struct PendingOrders(pub Vec<Order>);

/// This tick's pricing curves, indexed by market maker id, and S_ref(0).
#[derive(Resource, Debug, Default)]
pub struct QuoteBoard {
    /// S_ref(0) = s0/2 this tick.
    pub half_spread: f64,
    /// Each market maker's curve.
    pub curves: Vec<QuoteCurve>,
}

/// A trade whose position revenue is due t_m ticks after it.
#[derive(Clone, Copy, Debug)]
pub struct PendingRevenue {
    /// The market maker that quoted.
    pub maker: u32,
    /// The counterparty's slot in the maker's book.
    pub counterparty: u32,
    /// Size from the maker's side (+ when it bought), units.
    pub maker_signed_size: f64,
    /// P_t at the trade.
    pub mid_at_trade: f64,
    /// Spread revenue the maker earned on it, currency.
    pub spread_revenue: f64,
}

/// Trades waiting for their position revenue: one bucket per tick, at most t_m + 1 kept.
#[derive(Resource, Debug, Default)]
pub struct PositionRevenueQueue {
    buckets: VecDeque<(u32, Vec<PendingRevenue>)>,
}

impl PositionRevenueQueue {
    fn push(&mut self, tick: u32, entry: PendingRevenue) {
        match self.buckets.back_mut() {
            Some((t, bucket)) if *t == tick => bucket.push(entry),
            _ => self.buckets.push_back((tick, vec![entry])),
        }
    }

    /// Removes and returns the trades made at or before `tick`.
    fn take_due(&mut self, tick: u32) -> Vec<PendingRevenue> {
        let mut due = Vec::new();
        while self.buckets.front().is_some_and(|(t, _)| *t <= tick) {
            if let Some((_, bucket)) = self.buckets.pop_front() {
                due.extend(bucket);
            }
        }
        due
    }

    /// Number of trades waiting.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|(_, b)| b.len()).sum()
    }

    /// Whether no trade is waiting.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|(_, b)| b.is_empty())
    }
}

/// Whether a trade came from an investor order or a market maker's hedge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeKind {
    /// An investor traded with the cheapest market maker.
    Investor,
    /// A market maker hedged with another.
    Hedge,
    /// A market maker hedged on the reference exchange (`maker` is the hedger).
    ExchangeHedge,
}

/// The reference exchange as a hedging venue: an outside party whose holdings count in
/// the accounting invariant.
#[derive(Resource, Debug, Default)]
pub struct Exchange {
    /// What the exchange has bought and paid.
    pub holdings: Holdings,
}

/// The exchange's quote: S_ref(v) = S_ref(0)·(S_ref(v)/S_ref(0))¹, no tier penalty.
const EXCHANGE_CURVE: QuoteCurve = QuoteCurve {
    alpha: 1.0,
    tier_penalty: 0.0,
};

/// One executed trade, as the trades table records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeRecord {
    /// Tick of execution.
    pub tick: u32,
    /// Investor order or hedge.
    pub kind: TradeKind,
    /// The market maker that quoted (provided liquidity); the hedger for exchange hedges.
    pub maker: u32,
    /// Investor id, or market maker id for hedges.
    pub counterparty: u32,
    /// Size from the quoting maker's side (+ when it bought), units.
    pub maker_signed_size: f64,
    /// Relative spread paid by the counterparty.
    pub spread: f64,
    /// Execution price, P_t·(1 ± spread).
    pub price: f64,
    /// Tier the maker quoted at.
    pub tier: u8,
    /// Whether an investor's direction came from the oracle.
    pub informed: bool,
}

/// This tick's trades, kept only when the run records trades.
#[derive(Resource, Debug, Default)]
pub struct TradeLog {
    /// Whether to keep trades at all.
    pub enabled: bool,
    /// The trades of the current tick.
    pub trades: Vec<TradeRecord>,
}

impl TradeLog {
    fn push(&mut self, record: TradeRecord) {
        if self.enabled {
            self.trades.push(record);
        }
    }
}

/// A state the model cannot continue from.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum ModelFault {
    /// A trade size the reference curve cannot price.
    #[error(transparent)]
    Size(#[from] SizeOutOfRange),
    /// The mid-price left (0, ∞).
    #[error(
        "the mid-price left (0, ∞) (P = {0}): drift, volatility or tick length drive it out of range"
    )]
    Price(f64),
    /// A quote that is not a finite number.
    #[error(
        "a quoted spread is not finite ({0}): alpha or tier_penalty is too large for this curve"
    )]
    Quote(f64),
}

/// Model faults raised inside systems; the driver stops the run at the end of the tick.
#[derive(Resource, Debug, Default)]
pub struct Faults(pub Vec<ModelFault>);

/// Installs the dealer market's systems into the tick's phases.
pub fn install(schedule: &mut Schedule) {
    schedule.add_systems(
        (advance_market, open_books)
            .chain()
            .in_set(TickPhase::PriceProcess),
    );
    schedule.add_systems(generate_orders.in_set(TickPhase::Arrivals));
    schedule.add_systems(retier_counterparties.in_set(TickPhase::Tiering));
    schedule.add_systems(post_quotes.in_set(TickPhase::Pricing));
    schedule.add_systems(match_orders.in_set(TickPhase::Matching));
    schedule.add_systems(hedge_positions.in_set(TickPhase::Hedging));
    schedule.add_systems(
        (settle_position_revenue, charge_risk_and_close)
            .chain()
            .in_set(TickPhase::Reward),
    );
}

/// PriceProcess: P_t from the path, a fresh s0.
fn advance_market(
    clock: Res<Clock>,
    mut process: ResMut<MarketProcess>,
    mut state: ResMut<MarketState>,
    mut faults: ResMut<Faults>,
) {
    let tick = u64::from(clock.tick);
    let price = process.path.price(tick);
    if !(price.is_finite() && price > 0.0) {
        faults.0.push(ModelFault::Price(price));
    }
    state.previous_price = if clock.tick == 0 { price } else { state.price };
    state.price = price;
    let law = process.spread_law;
    state.curve.reference_spread = law.sample(&mut process.spread_rng);
    process.path.forget_before(tick);
}

/// PriceProcess: open every market maker's tick and update volatility estimates.
fn open_books(
    clock: Res<Clock>,
    state: Res<MarketState>,
    mut log: ResMut<TradeLog>,
    mut makers: Query<(&Holdings, &mut Ledger, Option<&mut Hedger>), Without<InvestorId>>,
) {
    log.trades.clear();
    let log_return = (state.price / state.previous_price).ln();
    for (holdings, mut ledger, hedger) in &mut makers {
        ledger.open_tick(holdings.position);
        if let Some(mut hedger) = hedger
            && clock.tick > 0
            && let VolatilityEstimate::Ewma(weight) = hedger.config.volatility_estimate
        {
            hedger.variance += weight * (log_return * log_return - hedger.variance);
        }
    }
}

/// Arrivals: each investor's decision, from its own stream.
fn generate_orders(
    clock: Res<Clock>,
    state: Res<MarketState>,
    mut process: ResMut<MarketProcess>,
    mut orders: ResMut<PendingOrders>,
    mut arrivals: ResMut<Arrivals>,
    mut investors: Query<(Entity, &InvestorId, &TradeProfile, &mut AgentRng)>,
) {
    let horizon = u64::from(process.position_horizon);
    let future = process.path.price(u64::from(clock.tick) + horizon);
    let price_rises = (future != state.price).then_some(future > state.price);
    let max_size = process.max_trade_size;
    let orders = &mut orders.0;
    orders.clear();
    let order = |entity, investor, d: TradeDecision| Order {
        investor,
        entity,
        size: d.size,
        investor_buys: d.buys,
        informed: d.informed,
        tie_break: d.tie_break,
    };
    match arrivals.mode {
        ArrivalMode::Skip => {
            // The sampler holds each investor's profile, and a trade's draws come from
            // its own (investor, tick) stream: no look-up in a population-sized table,
            // which at millions of investors would cost several cache misses a trade.
            // Sampling first, then the draws on the copied members: the sampler's reads
            // of its entries stay in a short loop, where their cache misses overlap (it
            // splits each bucket the same way). Fusing the draws into the sampling pass
            // was measured slower: 1.05 against 0.6 ms a tick at 10M investors, before
            // the sampler's own split took the two-pass time to ~0.3 ms.
            let Arrivals {
                sampler, traders, ..
            } = &mut *arrivals;
            traders.clear();
            sampler.sample(|member| traders.push(*member));
            let seed = sampler.seed();
            for member in traders.iter() {
                let mut rng = trade_stream(seed, member.id.0, clock.tick);
                let d = trade_details(&member.profile, &mut rng, max_size, price_rises);
                orders.push(order(member.entity, member.id, d));
            }
        }
        ArrivalMode::PerInvestor => {
            for (entity, &investor, profile, mut rng) in &mut investors {
                if let Some(d) = decide_trade(profile, &mut rng.0, max_size, price_rises) {
                    orders.push(order(entity, investor, d));
                }
            }
        }
    }
    // Buckets (or table iteration) set the visiting order; the outcome must not depend on it.
    orders.sort_unstable_by_key(|o| o.investor);
}

/// Tiering: re-rank counterparties of every dynamic book due this tick, books in parallel.
fn retier_counterparties(clock: Res<Clock>, mut books: Query<&mut CounterpartyBook>) {
    let tick = clock.tick;
    let mut due: Vec<&mut CounterpartyBook> = books
        .iter_mut()
        .filter(|b| b.retiers_at(tick))
        .map(Mut::into_inner)
        .collect();
    due.par_iter_mut().for_each(|book| book.retier(tick));
}

/// Pricing: this tick's curves on the board.
fn post_quotes(
    state: Res<MarketState>,
    mut board: ResMut<QuoteBoard>,
    makers: Query<(&MarketMakerId, &Pricing)>,
) {
    board.half_spread = state.curve.at_zero();
    board.curves.resize(
        makers.iter().len(),
        QuoteCurve {
            alpha: 1.0,
            tier_penalty: 0.0,
        },
    );
    for (id, pricing) in &makers {
        board.curves[id.0 as usize] = pricing.0;
    }
}

/// The quoting market maker chosen for an order.
#[derive(Clone, Copy)]
struct Fill {
    maker: usize,
    spread: f64,
    tier: u8,
}

/// Below this many orders, evaluating quotes on one thread is cheaper than splitting.
const PARALLEL_MIN_ORDERS: usize = 256;

/// Matching: every order executes with the cheapest quote (ties split at random).
#[allow(clippy::too_many_arguments)]
fn match_orders(
    clock: Res<Clock>,
    state: Res<MarketState>,
    board: Res<QuoteBoard>,
    orders: Res<PendingOrders>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut log: ResMut<TradeLog>,
    mut faults: ResMut<Faults>,
    mut investors: Query<&mut Holdings, With<InvestorId>>,
    mut makers: Query<
        (
            &MarketMakerId,
            &mut CounterpartyBook,
            &mut Holdings,
            &mut Ledger,
        ),
        Without<InvestorId>,
    >,
) {
    let mut makers: Vec<_> = makers.iter_mut().collect();
    makers.sort_unstable_by_key(|(id, ..)| id.0);
    let fills: Vec<Result<Fill, ModelFault>> = {
        let books: Vec<&CounterpartyBook> = makers.iter().map(|(_, book, ..)| &**book).collect();
        let shape = state.curve.shape;
        let mid = state.price;
        // Each market maker's quote and tier for the order, computed once into buffers
        // that live as long as the worker (no allocation per order).
        let choose = |(spreads, tiers): &mut (Vec<f64>, Vec<u8>),
                      order: &Order|
         -> Result<Fill, ModelFault> {
            let log_ratio = shape.ratio(order.size)?.ln();
            let slot = order.investor.0 as usize;
            tiers.clear();
            tiers.extend(books.iter().map(|book| book.tier(slot)));
            spreads.clear();
            spreads.extend(
                board
                    .curves
                    .iter()
                    .zip(tiers.iter())
                    .map(|(curve, &tier)| curve.spread(board.half_spread, log_ratio, tier)),
            );
            let (maker, spread) =
                best_quote(spreads, order.tie_break).unwrap_or((0, f64::INFINITY));
            // The cash that changes hands must be a number, not just the spread.
            if !(mid * order.size * (1.0 + spread)).is_finite() {
                return Err(ModelFault::Quote(spread));
            }
            Ok(Fill {
                maker,
                spread,
                tier: tiers.get(maker).copied().unwrap_or(0),
            })
        };
        if orders.0.len() >= PARALLEL_MIN_ORDERS {
            orders
                .0
                .par_iter()
                .with_min_len(PARALLEL_MIN_ORDERS / 2)
                .map_init(Default::default, choose)
                .collect()
        } else {
            let mut buffers = Default::default();
            orders.0.iter().map(|o| choose(&mut buffers, o)).collect()
        }
    };
    // The first fault in order, so the report does not depend on thread scheduling.
    if let Some(Err(fault)) = fills.iter().find(|f| f.is_err()) {
        faults.0.push(*fault);
        return;
    }
    let fills: Vec<Fill> = fills.into_iter().flatten().collect();
    let tick = clock.tick;
    let mid = state.price;
    let sign = |order: &Order| if order.investor_buys { 1.0 } else { -1.0 };
    let price = |order: &Order, fill: &Fill| mid * (1.0 + sign(order) * fill.spread);

    // The investors' side first, in a loop of its own: each look-up misses cache in a
    // large population, and a short loop body lets those misses overlap. Nothing reads
    // change ticks of `Holdings`, so they are not written.
    for (order, fill) in orders.0.iter().zip(&fills) {
        if let Ok(mut holdings) = investors.get_mut(order.entity) {
            holdings
                .bypass_change_detection()
                .trade(sign(order) * order.size, price(order, fill));
        }
    }

    for (order, fill) in orders.0.iter().zip(fills) {
        let direction = sign(order);
        let price = price(order, &fill);
        let (_, book, holdings, ledger) = &mut makers[fill.maker];
        let maker_signed_size = -direction * order.size;
        holdings.trade(maker_signed_size, price);
        let spread_revenue = fill.spread * order.size * mid;
        ledger.tick.spread_revenue += spread_revenue;
        ledger.activity.trades += 1;
        ledger.activity.volume += order.size;
        book.record_volume(order.investor.0 as usize, order.size, tick);
        queue.push(
            tick,
            PendingRevenue {
                maker: fill.maker as u32,
                counterparty: order.investor.0,
                maker_signed_size,
                mid_at_trade: mid,
                spread_revenue,
            },
        );
        log.push(TradeRecord {
            tick,
            kind: TradeKind::Investor,
            maker: fill.maker as u32,
            counterparty: order.investor.0,
            maker_signed_size,
            spread: fill.spread,
            price,
            tier: fill.tier,
            informed: order.informed,
        });
    }
}

/// Positions smaller than this (units) are not worth a hedge.
const HEDGE_EPSILON: f64 = 1e-9;

/// Hedging: each hedging market maker trades the first slice of its VaR schedule with the
/// other market maker quoting the best price for that size. Schedules are decided on the
/// positions at the start of the phase; trades execute in id order.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn hedge_positions(
    clock: Res<Clock>,
    state: Res<MarketState>,
    board: Res<QuoteBoard>,
    population: Res<Population>,
    process: Res<MarketProcess>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut log: ResMut<TradeLog>,
    mut faults: ResMut<Faults>,
    mut exchange: ResMut<Exchange>,
    mut makers: Query<
        (
            &MarketMakerId,
            &mut CounterpartyBook,
            &mut Holdings,
            &mut Ledger,
            Option<&Hedger>,
            &mut AgentRng,
        ),
        Without<InvestorId>,
    >,
) {
    let mut makers: Vec<_> = makers.iter_mut().collect();
    makers.sort_unstable_by_key(|(id, ..)| id.0);
    let shape = state.curve.shape;
    let half_spread = board.half_spread;
    let max_slice = process.max_trade_size;
    let tick = clock.tick;
    let mid = state.price;
    // Decisions are simultaneous: each hedger schedules the position it holds after this
    // tick's investor trades. Hedges received this tick are hedged from the next tick on,
    // so a position cannot bounce between market makers within one tick.
    let decision_positions: Vec<f64> = makers.iter().map(|(_, _, h, ..)| h.position).collect();
    for hedger_index in 0..makers.len() {
        let position = decision_positions[hedger_index];
        // A copy of the `Option<&Hedger>`: it borrows the component, not `makers`.
        let Some(hedger) = makers[hedger_index].4 else {
            continue;
        };
        let (hedger_id, config, variance) =
            (makers[hedger_index].0.0, &hedger.config, hedger.variance);
        if position.abs() <= HEDGE_EPSILON {
            continue;
        }
        let own_slot = population.maker_slot(hedger_id);
        // Who can take the hedge and at what curve: (dealer index, curve, tier), where no
        // index is the exchange, quoting S_ref(v) itself (α = 1, no tier penalty).
        let others: Vec<(Option<usize>, QuoteCurve, u8)> = match config.venue {
            HedgeVenue::MarketMakers => makers
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != hedger_index)
                .map(|(j, (id, book, ..))| {
                    (Some(j), board.curves[id.0 as usize], book.tier(own_slot))
                })
                .collect(),
            HedgeVenue::Exchange => vec![(None, EXCHANGE_CURVE, 0)],
        };
        let quote_for = |size: f64| -> Result<Vec<f64>, SizeOutOfRange> {
            let log_ratio = shape.ratio(size)?.ln();
            Ok(others
                .iter()
                .map(|(_, curve, tier)| curve.spread(half_spread, log_ratio, *tier))
                .collect())
        };
        // c(v) for the solver, called hundreds of times per solve: no allocation.
        let best_spread = |size: f64| -> f64 {
            shape.ratio(size).map_or(f64::INFINITY, |ratio| {
                let log_ratio = ratio.ln();
                others
                    .iter()
                    .map(|(_, curve, tier)| curve.spread(half_spread, log_ratio, *tier))
                    .fold(f64::INFINITY, f64::min)
            })
        };
        let volatility = match config.volatility_estimate {
            VolatilityEstimate::Known => process.tick_volatility,
            VolatilityEstimate::Ewma(_) => variance.sqrt(),
            VolatilityEstimate::Fixed(sigma) => sigma * process.tick_years.sqrt(),
        };
        let schedule = hedging_schedule::solve(&HedgeProblem {
            position: position.abs(),
            horizon: config.horizon as usize,
            risk_aversion: config.risk_aversion,
            volatility,
            max_slice,
            spread: &best_spread,
        });
        let first_slice = schedule.slices.first().copied().unwrap_or(0.0);
        let size = position.abs() * first_slice;
        let tie_break = uniform(&mut makers[hedger_index].5.0);
        {
            let ledger = &mut makers[hedger_index].3;
            ledger.hedge_decisions += 1;
            ledger.first_slice_total += first_slice;
        }
        if size <= HEDGE_EPSILON {
            continue;
        }
        let quotes = match quote_for(size) {
            Ok(q) => q,
            Err(fault) => {
                faults.0.push(fault.into());
                continue;
            }
        };
        let Some((pick, spread)) = best_quote(&quotes, tie_break) else {
            continue;
        };
        let (dealer_index, _, tier) = others[pick];
        // The hedger sells when long; the dealer takes the other side.
        let dealer_signed_size = position.signum() * size;
        let price = mid * (1.0 - position.signum() * spread);
        let cost = spread * size * mid;
        if !(price.is_finite() && cost.is_finite()) {
            faults.0.push(ModelFault::Quote(spread));
            continue;
        }
        {
            let (_, _, holdings, ledger, ..) = &mut makers[hedger_index];
            holdings.trade(-dealer_signed_size, price);
            ledger.tick.hedging_cost += cost;
            ledger.activity.hedged_out += size;
        }
        let Some(dealer_index) = dealer_index else {
            exchange.holdings.trade(dealer_signed_size, price);
            log.push(TradeRecord {
                tick,
                kind: TradeKind::ExchangeHedge,
                maker: hedger_id,
                counterparty: hedger_id,
                maker_signed_size: -dealer_signed_size,
                spread,
                price,
                tier,
                informed: false,
            });
            continue;
        };
        let dealer_id = {
            let (id, book, holdings, ledger, ..) = &mut makers[dealer_index];
            holdings.trade(dealer_signed_size, price);
            ledger.tick.spread_revenue += cost;
            ledger.activity.hedged_in += size;
            book.record_volume(own_slot, size, tick);
            id.0
        };
        queue.push(
            tick,
            PendingRevenue {
                maker: dealer_id,
                counterparty: own_slot as u32,
                maker_signed_size: dealer_signed_size,
                mid_at_trade: mid,
                spread_revenue: cost,
            },
        );
        log.push(TradeRecord {
            tick,
            kind: TradeKind::Hedge,
            maker: dealer_id,
            counterparty: hedger_id,
            maker_signed_size: dealer_signed_size,
            spread,
            price,
            tier,
            informed: false,
        });
    }
}

/// Reward: trades made t_m ticks ago earn (P_t − P_trade)·ṽ, and their yield feeds the
/// quoting market maker's score of the counterparty.
fn settle_position_revenue(
    clock: Res<Clock>,
    state: Res<MarketState>,
    process: Res<MarketProcess>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut makers: Query<(&MarketMakerId, &mut CounterpartyBook, &mut Ledger)>,
) {
    let Some(trade_tick) = clock.tick.checked_sub(process.position_horizon) else {
        return;
    };
    let due = queue.take_due(trade_tick);
    if due.is_empty() {
        return;
    }
    let mut makers: Vec<_> = makers.iter_mut().collect();
    makers.sort_unstable_by_key(|(id, ..)| id.0);
    for trade in due {
        let position_revenue = (state.price - trade.mid_at_trade) * trade.maker_signed_size;
        let notional = trade.maker_signed_size.abs() * trade.mid_at_trade;
        let (_, book, ledger) = &mut makers[trade.maker as usize];
        ledger.tick.position_revenue += position_revenue;
        let trade_yield = (trade.spread_revenue + position_revenue) / notional;
        // A size that underflowed to 0 has no yield; a NaN would poison the score for good.
        if trade_yield.is_finite() {
            book.record_yield(trade.counterparty as usize, trade_yield);
        }
    }
}

/// Reward: risk cost on the position carried into the tick, then the tick's totals.
fn charge_risk_and_close(state: Res<MarketState>, mut ledgers: Query<&mut Ledger>) {
    let price_change = state.price - state.previous_price;
    for mut ledger in &mut ledgers {
        ledger.tick.risk_cost = risk_cost(ledger.position_at_open, price_change);
        ledger.close_tick();
    }
}

/// The risk cost min(z_t·(P_t − P_{t−1}), 0) of the position z_t carried into the tick.
/// Not `.min(0.0)`: which zero `min` returns for −0.0 (a flat position times a fall)
/// is unspecified, and differed between debug and release builds, so the same run
/// wrote "-0.0" in one and "0.0" in the other. A loss is negative; anything else is
/// +0.0.
fn risk_cost(position_at_open: f64, price_change: f64) -> f64 {
    let change_in_value = position_at_open * price_change;
    if change_in_value < 0.0 {
        change_in_value
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_cost_is_the_loss_or_positive_zero() {
        assert_eq!(risk_cost(2.0, -0.5), -1.0);
        assert_eq!(risk_cost(-2.0, 0.5), -1.0);
        // Gains and flat positions cost nothing, and "nothing" is +0.0 in every build.
        for (position, change) in [(2.0, 0.5), (0.0, -0.5), (-0.0, 0.5), (3.0, 0.0)] {
            assert_eq!(risk_cost(position, change).to_bits(), 0.0f64.to_bits());
        }
    }
}
