//! The dealer market's systems for the first five phases: opening the books, arrivals,
//! re-tiering, quotes and matching. Thin glue between components and the pure maths
//! (`investors`, `tiering`, `pricing`); hedging and rewards are in `hedging.rs` and
//! `reward.rs`.

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use super::components::{Hedger, Ledger, MakersById, MarketMakerId, Pricing, VolatilityEstimate};
use super::investors::{
    ArrivalMember, InvestorId, Order, TradeDecision, TradeProfile, decide_trade, trade_details,
};
use super::pricing::{QuoteCurve, best_quote};
use super::records::TradeRow;
use super::resources::{
    ArrivalMode, Arrivals, DealerRules, ModelFault, PendingOrders, PendingRevenue,
    PositionRevenueQueue, QuoteBoard, TradeKind, TradeLog, TradeRecord,
};
use super::tier_matrix::TierMatrix;
use super::tiering::CounterpartyBook;
use crate::agents::{AgentRng, Holdings};
use crate::market::{Clock, MarketProcess, MarketState};
use crate::output::Recorder;
use crate::output::row::TableRow;
use crate::rng::trade_stream;
use crate::sim::mechanism::Faults;

/// PriceProcess: open every market maker's tick and update volatility estimates.
pub(super) fn open_books(
    clock: Res<Clock>,
    state: Res<MarketState>,
    mut log: ResMut<TradeLog>,
    recorder: Option<Res<Recorder>>,
    mut makers: Query<(&Holdings, &mut Ledger, Option<&mut Hedger>), With<MarketMakerId>>,
) {
    log.trades.clear();
    // Kept when the scenario asks for trades, or whoever installed the recorder opened
    // a trades table; experiments switch it on themselves.
    log.enabled |= recorder.is_some_and(|r| r.is_open(&TradeRow::TABLE));
    let log_return = (state.price / state.previous_price).ln();
    for (holdings, mut ledger, hedger) in &mut makers {
        ledger.open_tick(holdings.position);
        if let Some(mut hedger) = hedger
            && clock.tick > 0
            && let VolatilityEstimate::Ewma(weight) = hedger.policy.volatility_estimate
        {
            hedger.variance += weight * (log_return * log_return - hedger.variance);
        }
    }
}

/// Arrivals: each investor's decision, from its own stream.
pub(super) fn generate_orders(
    clock: Res<Clock>,
    state: Res<MarketState>,
    rules: Res<DealerRules>,
    mut process: ResMut<MarketProcess>,
    mut orders: ResMut<PendingOrders>,
    mut arrivals: ResMut<Arrivals>,
    mut investors: Query<(Entity, &InvestorId, &TradeProfile, &mut AgentRng)>,
) {
    let horizon = u64::from(rules.position_horizon);
    let future = process.path.price(u64::from(clock.tick) + horizon);
    let price_rises = (future != state.price).then_some(future > state.price);
    let max_size = rules.max_trade_size;
    let orders = &mut orders.0;
    orders.clear();
    let order = |entity, investor, d: TradeDecision| Order {
        investor,
        entity,
        size: d.size,
        investor_buys: d.buys,
        informed: d.informed,
        tie_break: d.tie_break,
        clipped: d.clipped,
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
            sampler.sample_into(traders);
            // Each trade's draws come from its own (investor, tick) stream, so they are
            // made in parallel and the result does not depend on the thread count.
            let seed = sampler.seed();
            let tick = clock.tick;
            let draw = |member: &ArrivalMember| {
                let mut rng = trade_stream(seed, member.id.0, tick);
                let d = trade_details(&member.profile, &mut rng, max_size, price_rises);
                order(member.entity, member.id, d)
            };
            if traders.len() >= PARALLEL_MIN_ORDERS {
                traders
                    .par_iter()
                    .with_min_len(PARALLEL_MIN_ORDERS)
                    .map(draw)
                    .collect_into_vec(orders);
            } else {
                orders.extend(traders.iter().map(draw));
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
    // Buckets (or table iteration) set the visiting order; the outcome must not depend on
    // it. Ids are distinct, so the sorted order is unique whoever sorts it.
    if orders.len() >= PARALLEL_MIN_ORDERS {
        orders.par_sort_unstable_by_key(|o| o.investor);
    } else {
        orders.sort_unstable_by_key(|o| o.investor);
    }
}

/// Tiering: re-rank counterparties of every dynamic book due this tick, books in
/// parallel, then copy the tiers that moved into the investors' tier matrix.
pub(super) fn retier_counterparties(
    clock: Res<Clock>,
    mut matrix: ResMut<TierMatrix>,
    mut books: MakersById<&mut CounterpartyBook>,
) {
    let tick = clock.tick;
    let mut books = books.in_id_order();
    let mut due: Vec<(usize, &mut CounterpartyBook)> = books
        .iter_mut()
        .filter(|(_, b)| b.retiers_at(tick))
        .map(|(id, b)| (id.0 as usize, &mut **b))
        .collect();
    due.par_iter_mut().for_each(|(_, book)| book.retier(tick));
    if matrix.is_filled() {
        let due: Vec<(usize, &CounterpartyBook)> =
            due.iter().map(|(maker, book)| (*maker, &**book)).collect();
        matrix.update(&due);
    } else {
        drop(due);
        let all: Vec<&CounterpartyBook> = books.iter().map(|(_, b)| &**b).collect();
        matrix.fill(&all);
    }
}

/// Pricing: this tick's curves on the board.
pub(super) fn post_quotes(
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
    board.index_exponents();
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
pub(super) fn match_orders(
    clock: Res<Clock>,
    state: Res<MarketState>,
    board: Res<QuoteBoard>,
    orders: Res<PendingOrders>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut log: ResMut<TradeLog>,
    mut faults: ResMut<Faults>,
    mut investors: Query<&mut Holdings, With<InvestorId>>,
    matrix: Res<TierMatrix>,
    mut makers: MakersById<(&mut CounterpartyBook, &mut Holdings, &mut Ledger)>,
) {
    let mut makers = makers.in_id_order();
    let fills: Vec<Result<Fill, ModelFault>> = {
        let shape = state.curve.shape;
        let mid = state.price;
        let board = &*board;
        let matrix = &*matrix;
        // One reference-curve evaluation per order, one exp per distinct α, then every
        // market maker's quote from its row of the tier matrix, into a buffer that lives
        // as long as the worker (no allocation per order).
        let choose = |(scales, spreads): &mut (Vec<f64>, Vec<f64>),
                      order: &Order|
         -> Result<Fill, ModelFault> {
            let log_ratio = shape.ratio(order.size)?.ln();
            let tiers = matrix.row(order.investor.0 as usize);
            board.quotes(log_ratio, tiers, scales, spreads);
            let (maker, spread) =
                best_quote(spreads, order.tie_break).unwrap_or((0, f64::INFINITY));
            // Prices must stay positive (a sell executes at P·(1 − s)) and the cash that
            // changes hands a number. Validation bounds the investor quotes; this is the
            // guard for what it cannot see.
            if !(spread < 1.0 && (mid * order.size * (1.0 + spread)).is_finite()) {
                return Err(ModelFault::Quote {
                    maker: maker as u32,
                    kind: "investor trade",
                    size: order.size,
                    spread,
                });
            }
            Ok(Fill {
                maker,
                spread,
                tier: tiers.get(maker).copied().unwrap_or(0),
            })
        };
        if orders.0.len() >= PARALLEL_MIN_ORDERS {
            // In chunks, each first touching its orders' tier rows in a loop of
            // independent loads (their cache misses overlap), then quoting them.
            let chunks: Vec<Vec<Result<Fill, ModelFault>>> = orders
                .0
                .par_chunks(PARALLEL_MIN_ORDERS)
                .map_init(Default::default, |buffers, chunk| {
                    let touched = chunk.iter().fold(0u8, |acc, o| {
                        acc ^ matrix
                            .row(o.investor.0 as usize)
                            .first()
                            .copied()
                            .unwrap_or(0)
                    });
                    std::hint::black_box(touched);
                    chunk.iter().map(|o| choose(buffers, o)).collect()
                })
                .collect();
            chunks.into_iter().flatten().collect()
        } else {
            let mut buffers = Default::default();
            orders.0.iter().map(|o| choose(&mut buffers, o)).collect()
        }
    };
    // The first fault in order, so the report does not depend on thread scheduling.
    if let Some(Err(fault)) = fills.iter().find(|f| f.is_err()) {
        faults.push(*fault);
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
        let (_, (book, holdings, ledger)) = &mut makers[fill.maker];
        let maker_signed_size = -direction * order.size;
        holdings.trade(maker_signed_size, price);
        let spread_revenue = fill.spread * order.size * mid;
        ledger.tick.spread_revenue += spread_revenue;
        ledger.activity.trades += 1;
        ledger.activity.volume += order.size;
        ledger.activity.clipped_trades += u64::from(order.clipped);
        book.record_volume(order.investor.0 as usize, order.size, tick);
        queue.push(
            tick,
            PendingRevenue {
                maker: fill.maker as u32,
                counterparty: order.investor.0,
                maker_signed_size,
                mid_at_trade: mid,
                spread_revenue,
                scores: true,
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
