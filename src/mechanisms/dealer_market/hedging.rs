//! Hedging (SPEC §2.3): each hedger solves its Almgren–Chriss VaR schedule
//! (`hedging_schedule.rs`) and trades the first slice with the best-quoting other market
//! maker, or on the exchange.

use bevy_ecs::prelude::*;

use super::components::{HedgeVenue, Hedger, Ledger, MakersById, VolatilityEstimate};
use super::hedging_schedule::{self, HedgeProblem};
use super::pricing::{QuoteCurve, best_quote};
use super::resources::{
    EXCHANGE_CURVE, Exchange, ModelFault, PendingRevenue, Population, PositionRevenueQueue,
    QuoteBoard, TradeKind, TradeLog, TradeRecord,
};
use super::tiering::CounterpartyBook;
use crate::agents::{AgentRng, Holdings};
use crate::market::price_process::uniform;
use crate::market::reference_curve::SizeOutOfRange;
use crate::market::{Clock, MarketProcess, MarketState};
use crate::sim::mechanism::Faults;

/// Positions smaller than this (units) are not worth a hedge.
const HEDGE_EPSILON: f64 = 1e-9;

/// Hedging: each hedging market maker trades the first slice of its VaR schedule with the
/// other market maker quoting the best price for that size. Schedules are decided on the
/// positions at the start of the phase; trades execute in id order.
#[allow(clippy::too_many_arguments)]
pub(super) fn hedge_positions(
    clock: Res<Clock>,
    state: Res<MarketState>,
    board: Res<QuoteBoard>,
    population: Res<Population>,
    process: Res<MarketProcess>,
    mut queue: ResMut<PositionRevenueQueue>,
    mut log: ResMut<TradeLog>,
    mut faults: ResMut<Faults>,
    mut exchange: ResMut<Exchange>,
    mut makers: MakersById<(
        &mut CounterpartyBook,
        &mut Holdings,
        &mut Ledger,
        Option<&Hedger>,
        &mut AgentRng,
    )>,
) {
    // Flattened, so each field is one index away: (id, book, holdings, ledger, hedger, rng).
    let mut makers: Vec<_> = makers
        .in_id_order()
        .into_iter()
        .map(|(id, (book, holdings, ledger, hedger, rng))| {
            (id, book, holdings, ledger, hedger, rng)
        })
        .collect();
    let shape = state.curve.shape;
    let half_spread = board.half_spread;
    // SPEC §2.3 limits a slice only by what the curve can price (v < v_max, a quote below
    // the mid); a cap is an explicit hedging option (`max_slice`), off by default.
    let largest_priceable = shape.v_max().next_down();
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
            (makers[hedger_index].0.0, &hedger.policy, hedger.variance);
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
        let best_quote_for = |size: f64| -> f64 {
            shape.ratio(size).map_or(f64::INFINITY, |ratio| {
                let log_ratio = ratio.ln();
                others
                    .iter()
                    .map(|(_, curve, tier)| curve.spread(half_spread, log_ratio, *tier))
                    .fold(f64::INFINITY, f64::min)
            })
        };
        // c(v) for the solver, called hundreds of times per solve: no allocation. A quote
        // at or above the mid cannot be traded (a sell at P·(1 − s) ≤ 0): infinitely dear.
        let best_spread = |size: f64| -> f64 {
            let spread = best_quote_for(size);
            if spread < 1.0 { spread } else { f64::INFINITY }
        };
        // The largest slice that can trade: below v_max and quoted below the mid. Quotes
        // rise with size, so bisect; near v_max (λ < 2) S_ref explodes long before it.
        // A position that can be hedged whole in one slice needs no search: the solver
        // never prices a slice above |z|, so any cap ≥ |z| gives it the same problem.
        let tradable = if best_spread(largest_priceable).is_finite() {
            largest_priceable
        } else if best_spread(position.abs()).is_finite() {
            position.abs()
        } else {
            let (mut lo, mut hi) = (0.0f64, largest_priceable);
            for _ in 0..60 {
                let mid_size = 0.5 * (lo + hi);
                if best_spread(mid_size).is_finite() {
                    lo = mid_size;
                } else {
                    hi = mid_size;
                }
            }
            lo
        };
        let max_slice = config.max_slice.map_or(tradable, |cap| cap.min(tradable));
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
        // |z|·(cap/|z|) can round a hair above the cap.
        let size = (position.abs() * first_slice).min(max_slice);
        let tie_break = uniform(&mut makers[hedger_index].5.0);
        {
            let ledger = &mut makers[hedger_index].3;
            ledger.hedge_decisions += 1;
            ledger.first_slice_total += first_slice;
            if size > HEDGE_EPSILON {
                ledger.scheduled_hedge_volume += size;
            }
        }
        if size <= HEDGE_EPSILON {
            continue;
        }
        let quotes = match quote_for(size) {
            Ok(q) => q,
            Err(fault) => {
                faults.push(ModelFault::from(fault));
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
        if !(spread < 1.0 && price.is_finite() && cost.is_finite()) {
            faults.push(ModelFault::Quote {
                maker: dealer_index.map_or(hedger_id, |j| makers[j].0.0),
                kind: "hedge",
                size,
                spread,
            });
            continue;
        }
        {
            let (_, _, holdings, ledger, ..) = &mut makers[hedger_index];
            holdings.trade(-dealer_signed_size, price);
            ledger.tick.hedging_cost += cost;
            ledger.activity.hedged_out += size;
        }
        // Both sides' positions changed, so both sides' marks move: the hedger is credited
        // the position revenue of what it gave away (the opposite of the taker's), and no
        // score is updated for it (it did not quote). Across market makers a hedge's
        // position revenue then sums to zero, as an internal transfer should.
        queue.push(
            tick,
            PendingRevenue {
                maker: hedger_id,
                counterparty: own_slot as u32,
                maker_signed_size: -dealer_signed_size,
                mid_at_trade: mid,
                spread_revenue: 0.0,
                scores: false,
            },
        );
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
                scores: true,
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
