//! The dealer-pair market's systems, in tick order: the held streams' levels move
//! (PriceProcess); queues lose impatient users and admit arrivals (Arrivals); dealers see
//! their rivals' last quotes and set theirs (Pricing); the OPL and matching pick
//! portfolios, the InvestorDealers signal their orders and the AssetDealers fill them
//! (Matching); dealers mark to market (Reward). Recording is in `records.rs`.

use bevy_ecs::prelude::*;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::book::{
    ArrivalSchedule, AssetUser, Cash, CashFlowStream, Dealer, DealerTick, Holdings, Horizon,
    InvestorUser, PairBook, PairBooks, PairSettings, Patience, QueuedStream, Remainder,
    ReservationRate, RiskAversion, RunCounts, Side, StreamShare, Surplus, TailTolerance, TieBreak,
    UserStatus,
};
use super::cashflow::discount_factor;
use super::competition::{best_response, break_even_margin};
use super::opl::{InvestorNeeds, SupplyItem, match_investor};
use crate::market::Clock;
use crate::sim::mechanism::Faults;

/// A fraction below this is dust: it goes with the strip that nearly exhausted it.
const DUST: f64 = 1e-12;
/// Weight of the last tick in a dealer's volume EWMA (a ten-tick memory).
const VOLUME_WEIGHT: f64 = 0.1;

/// Every dealer's last posted margin, by pair: (AssetDealer, InvestorDealer). Each dealer
/// sets its next quote from this view of the others.
#[derive(Resource, Debug, Default, Clone)]
pub struct OppositionView(pub Vec<(f64, f64)>);

/// One strip an InvestorDealer orders from its AssetDealer.
#[derive(Clone, Copy, Debug)]
pub struct Strip {
    /// The asset-user whose stream it is.
    pub asset: u32,
    /// The fraction of her stream.
    pub fraction: f64,
}

/// A portfolio matched to an investor-user, as the InvestorDealer signals it.
#[derive(Clone, Debug)]
pub struct Order {
    /// The investor-user.
    pub investor: Entity,
    /// Her index.
    pub investor_index: u32,
    /// Cash she pays.
    pub cash: f64,
    /// The strips.
    pub strips: Vec<Strip>,
    /// Her certainty equivalent at T.
    pub certainty_equivalent: f64,
    /// P(value at T < loss level).
    pub tail_probability: f64,
    /// The portfolio's value now at the market rate.
    pub market_value: f64,
    /// Her surplus, today's currency.
    pub surplus: f64,
    /// Candidates within tolerance that met her reservation.
    pub ranked: u32,
}

/// This tick's orders, by pair, in the order they execute.
#[derive(Resource, Debug, Default)]
pub struct Signals(pub Vec<Vec<Order>>);

/// A dealer fault: the model cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PairFault {
    /// A dealer's wealth reached zero or below, where CRRA utility is undefined.
    #[error(
        "the {side} dealer of pair `{pair}` has wealth {wealth} ≤ 0 (CRRA utility needs positive wealth): give it more capital"
    )]
    Insolvent {
        /// The pair.
        pair: String,
        /// `asset` or `investor`.
        side: &'static str,
        /// Its wealth.
        wealth: f64,
    },
}

/// PriceProcess: every held stream's level takes its one-tick lognormal step, from the
/// (stream, tick) counter stream; the dealers' tick figures are cleared.
pub fn move_levels(
    clock: Res<Clock>,
    settings: Res<PairSettings>,
    mut books: ResMut<PairBooks>,
    mut dealers: Query<&mut Dealer>,
) {
    let dt = settings.tick_years;
    for book in &mut books.0 {
        for held in &mut book.inventory {
            let sigma = held.stream.volatility;
            if sigma == 0.0 {
                continue;
            }
            let mut rng =
                crate::rng::pair_level_stream(settings.seed, held.stream.index, clock.tick);
            let z: f64 = StandardNormal.sample(&mut rng);
            held.level *= (sigma * dt.sqrt() * z - 0.5 * sigma * sigma * dt).exp();
        }
    }
    for mut dealer in &mut dealers {
        dealer.tick = DealerTick::default();
    }
}

/// Arrivals, first: users whose patience ran out leave their queue.
pub fn update_queues(
    clock: Res<Clock>,
    mut books: ResMut<PairBooks>,
    mut dealers: Query<&mut Dealer>,
    mut users: Query<&mut UserStatus>,
) {
    let now = clock.tick;
    for book in &mut books.0 {
        let mut lost_assets = 0;
        book.asset_queue.retain(|q| {
            let stays = q.deadline > now;
            if !stays {
                lost_assets += 1;
                if let Ok(mut status) = users.get_mut(q.entity) {
                    *status = UserStatus::Lost;
                }
            }
            stays
        });
        let mut lost_investors = 0;
        book.investor_queue.retain(|&(entity, deadline)| {
            let stays = deadline > now;
            if !stays {
                lost_investors += 1;
                if let Ok(mut status) = users.get_mut(entity) {
                    *status = UserStatus::Lost;
                }
            }
            stays
        });
        if let Ok(mut d) = dealers.get_mut(book.asset_dealer) {
            d.tick.lost += lost_assets;
            d.totals.lost += u64::from(lost_assets);
        }
        if let Ok(mut d) = dealers.get_mut(book.investor_dealer) {
            d.tick.lost += lost_investors;
            d.totals.lost += u64::from(lost_investors);
        }
    }
}

/// The index among `scores` a user picks: the best (highest), ties split by her uniform
/// draw `u`.
fn pick_best(scores: &[f64], u: f64) -> Option<usize> {
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return None;
    }
    // The k-th of the tied pairs, counted twice rather than collected: no allocation per
    // arriving user.
    let ties = scores.iter().filter(|&&x| x == best).count();
    let k = ((u * ties as f64) as usize).min(ties - 1);
    scores
        .iter()
        .enumerate()
        .filter(|&(_, &x)| x == best)
        .nth(k)
        .map(|(i, _)| i)
}

/// Arrivals, second: this tick's users join the queue of the pair with the best quote
/// for them; an asset-user whose best bid is below her reservation value declines.
#[allow(clippy::too_many_arguments)]
pub fn admit_users(
    clock: Res<Clock>,
    settings: Res<PairSettings>,
    mut schedule: ResMut<ArrivalSchedule>,
    mut books: ResMut<PairBooks>,
    mut counts: ResMut<RunCounts>,
    dealers: Query<&Dealer>,
    assets: Query<(
        &AssetUser,
        &CashFlowStream,
        &ReservationRate,
        &TieBreak,
        &Patience,
    )>,
    investors: Query<(&TieBreak, &Patience), With<InvestorUser>>,
    mut status: Query<&mut UserStatus>,
) {
    let now = clock.tick;
    let quotes: Vec<(f64, f64, f64, f64)> = books
        .0
        .iter()
        .map(|b| {
            let a = dealers.get(b.asset_dealer).expect("asset dealer");
            let i = dealers.get(b.investor_dealer).expect("investor dealer");
            (a.margin, a.valuation_rate, i.margin, i.valuation_rate)
        })
        .collect();
    let (r, comp) = (settings.market_rate, settings.compounding);
    let mut scores = vec![0.0; quotes.len()];
    while let Some(&(tick, entity, is_asset)) = schedule.due.get(schedule.next) {
        if tick > now {
            break;
        }
        schedule.next += 1;
        if is_asset {
            let Ok((user, flows, reservation, tie, patience)) = assets.get(entity) else {
                continue;
            };
            let reservation_value = flows.stream.value(0.0, reservation.0, comp);
            for (s, &(margin, rate, ..)) in scores.iter_mut().zip(&quotes) {
                *s = (1.0 - margin) * flows.stream.value(0.0, rate, comp);
            }
            let chosen = pick_best(&scores, tie.0).filter(|&p| scores[p] >= reservation_value);
            let Some(p) = chosen else {
                counts.declined += 1;
                if let Ok(mut s) = status.get_mut(entity) {
                    *s = UserStatus::Declined;
                }
                continue;
            };
            let (_, asset_rate, _, investor_rate) = quotes[p];
            books.0[p].asset_queue.push_back(QueuedStream {
                entity,
                index: user.index,
                asset_value: flows.stream.value(0.0, asset_rate, comp),
                investor_value: flows.stream.value(0.0, investor_rate, comp),
                market_value: flows.stream.value(0.0, r, comp),
                reservation_value,
                volatility: flows.volatility,
                deadline: now.saturating_add(patience.ticks),
            });
            if let Ok(mut s) = status.get_mut(entity) {
                *s = UserStatus::Queued(p as u32);
            }
        } else {
            let Ok((tie, patience)) = investors.get(entity) else {
                continue;
            };
            // The lowest price per unit of value is the best offer.
            for (s, &(.., margin, _)) in scores.iter_mut().zip(&quotes) {
                *s = -margin;
            }
            let p = pick_best(&scores, tie.0).unwrap_or(0);
            books.0[p]
                .investor_queue
                .push_back((entity, now.saturating_add(patience.ticks)));
            if let Ok(mut s) = status.get_mut(entity) {
                *s = UserStatus::Queued(p as u32);
            }
        }
    }
}

/// Pricing, first: every dealer's last posted margin, as the others see it.
pub fn opposition_view(
    books: Res<PairBooks>,
    dealers: Query<&Dealer>,
    mut view: ResMut<OppositionView>,
) {
    view.0.clear();
    for book in &books.0 {
        let a = dealers
            .get(book.asset_dealer)
            .map_or(f64::NAN, |d| d.margin);
        let i = dealers
            .get(book.investor_dealer)
            .map_or(f64::NAN, |d| d.margin);
        view.0.push((a, i));
    }
}

/// The variance of an AssetDealer's held remainders' value over one tick (independent
/// levels): Σ (value·σ)²·Δt.
fn inventory_variance(book: &PairBook, tick_years: f64) -> f64 {
    book.inventory
        .iter()
        .map(|h| (h.asset_value() * h.stream.volatility).powi(2) * tick_years)
        .sum()
}

/// Pricing, second: each dealer's utility best response to the best rival margin on its
/// side, bounded below by its break-even margin.
pub fn adapt_margins(
    settings: Res<PairSettings>,
    books: Res<PairBooks>,
    view: Res<OppositionView>,
    mut dealers: Query<&mut Dealer>,
) {
    let Some(undercut) = settings.undercut else {
        return;
    };
    for (p, book) in books.0.iter().enumerate() {
        for side in [Side::Asset, Side::Investor] {
            let entity = match side {
                Side::Asset => book.asset_dealer,
                Side::Investor => book.investor_dealer,
            };
            let best_rival = view
                .0
                .iter()
                .enumerate()
                .filter(|&(q, _)| q != p)
                .map(|(_, &(a, i))| if side == Side::Asset { a } else { i })
                .reduce(f64::min);
            let Ok(mut dealer) = dealers.get_mut(entity) else {
                continue;
            };
            let variance = match side {
                Side::Asset => inventory_variance(book, settings.tick_years),
                // The InvestorDealer passes every strip on at once: no risk carried.
                Side::Investor => 0.0,
            };
            let floor = break_even_margin(
                dealer.wealth,
                dealer.risk_aversion,
                variance,
                // Spread over what it trades a tick, or holds if more: with no flow the
                // carrying cost is the held value's own.
                dealer.volume_ewma.max(dealer.inventory_value),
                dealer.margin_cap,
            );
            dealer.margin = best_response(
                dealer.margin,
                best_rival,
                undercut,
                floor,
                dealer.margin_cap,
            );
        }
    }
}

/// An investor-user's attributes as matching reads them.
type InvestorView<'a> = (
    &'a InvestorUser,
    &'a Cash,
    &'a Horizon,
    &'a RiskAversion,
    &'a TailTolerance,
    &'a ReservationRate,
);

/// One supply item of a pair's window: where it is in the book, and what matching sees.
#[derive(Clone, Copy, Debug)]
struct Local {
    asset: u32,
    item: SupplyItem,
}

/// The OPL and matching for one pair, on copies of its supply: the orders, candidates
/// evaluated, and investors the budget left unexamined.
fn match_pair(
    book: &PairBook,
    bid: f64,
    ask: f64,
    settings: &PairSettings,
    investors: &Query<InvestorView<'_>>,
    budget: u64,
) -> (Vec<Order>, u64, u64) {
    let (r, comp) = (settings.market_rate, settings.compounding);
    // No investor in the queue can place a strip smaller than this: smaller stubs are left
    // out of the tick's supply (they would be skipped by every window).
    let least_strip = book
        .investor_queue
        .iter()
        .filter_map(|&(e, _)| investors.get(e).ok())
        .map(|(_, cash, ..)| cash.0)
        .fold(f64::INFINITY, f64::min)
        / (1.0 + ask)
        / settings.bounds.max_strips as f64
        * (1.0 - 1e-12);
    // Held remainders first (oldest first), then queued streams whose owner still takes
    // the current bid, first come first.
    let mut supply: Vec<Local> = book
        .inventory
        .iter()
        .filter(|h| h.fraction * h.stream.investor_value * h.level >= least_strip)
        .map(|h| Local {
            asset: h.stream.index,
            item: SupplyItem {
                available: h.fraction,
                dealer_value: h.stream.investor_value * h.level,
                market_value: h.stream.market_value * h.level,
                volatility: h.stream.volatility,
            },
        })
        .chain(
            book.asset_queue
                .iter()
                .filter(|q| bid * q.asset_value >= q.reservation_value)
                .map(|q| Local {
                    asset: q.index,
                    item: SupplyItem {
                        available: 1.0,
                        dealer_value: q.investor_value,
                        market_value: q.market_value,
                        volatility: q.volatility,
                    },
                }),
        )
        .collect();
    let mut orders = Vec::new();
    let (mut evaluated, mut unexamined) = (0u64, 0u64);
    let mut window: Vec<SupplyItem> = Vec::with_capacity(settings.window);
    let mut positions: Vec<usize> = Vec::with_capacity(settings.window);
    for (n, &(entity, _)) in book.investor_queue.iter().enumerate() {
        if evaluated >= budget {
            unexamined = (book.investor_queue.len() - n) as u64;
            break;
        }
        let Ok((user, cash, horizon, g, tail, reservation)) = investors.get(entity) else {
            continue;
        };
        window.clear();
        positions.clear();
        let smallest_strip =
            cash.0 / (1.0 + ask) / settings.bounds.max_strips as f64 * (1.0 - 1e-12);
        for (k, local) in supply.iter().enumerate() {
            if window.len() == settings.window {
                break;
            }
            // Only items that can hold her smallest strip: a remainder too small for
            // any of her portfolios would only crowd the window.
            if local.item.available > DUST
                && local.item.available * local.item.dealer_value >= smallest_strip
            {
                window.push(local.item);
                positions.push(k);
            }
        }
        let t = horizon.0;
        let needs = InvestorNeeds {
            cash: cash.0,
            value_per_cash: 1.0 / (1.0 + ask),
            horizon: t,
            growth_to_horizon: 1.0 / discount_factor(r, t, comp),
            risk_aversion: g.0,
            tail_tolerance: tail.tolerance,
            loss_level: tail.loss_threshold * cash.0,
            reservation: cash.0 / discount_factor(reservation.0, t, comp),
        };
        let found = match_investor(&window, &needs, settings.bounds, budget - evaluated);
        evaluated += found.evaluated;
        let ranked = found.ranked.len() as u32;
        let Some(best) = found.best else {
            continue;
        };
        let mut strips = Vec::with_capacity(best.items.len());
        for (&w, &fraction) in best.items.iter().zip(&best.fractions) {
            let local = &mut supply[positions[w]];
            // What is left below dust goes with this strip.
            let fraction = if local.item.available - fraction <= DUST {
                local.item.available
            } else {
                fraction
            };
            local.item.available -= fraction;
            strips.push(Strip {
                asset: local.asset,
                fraction,
            });
        }
        orders.push(Order {
            investor: entity,
            investor_index: user.index,
            cash: cash.0,
            strips,
            certainty_equivalent: best.certainty_equivalent,
            tail_probability: best.tail_probability,
            market_value: best.market_value,
            surplus: best.certainty_equivalent * discount_factor(reservation.0, t, comp) - cash.0,
            ranked,
        });
        if found.cut {
            unexamined = (book.investor_queue.len() - n - 1) as u64;
            break;
        }
    }
    (orders, evaluated, unexamined)
}

/// Matching, first (the OPL, the MatchingAlgo and the order signaller): each pair's
/// investor-users, first come first, get their best portfolio over the supply window;
/// the InvestorDealer signals the strips to its AssetDealer. Pairs are matched in
/// parallel, each on its own book; the candidate budget is split evenly over them.
pub fn signal_orders(
    settings: Res<PairSettings>,
    books: Res<PairBooks>,
    dealers: Query<&Dealer>,
    investors: Query<InvestorView<'_>>,
    mut signals: ResMut<Signals>,
    mut counts: ResMut<RunCounts>,
) {
    let pairs = books.0.len().max(1) as u64;
    let budget = (settings.candidates_per_tick / pairs).max(1);
    let quotes: Vec<(f64, f64)> = books
        .0
        .iter()
        .map(|b| {
            let a = dealers.get(b.asset_dealer).map_or(0.0, |d| d.margin);
            let i = dealers.get(b.investor_dealer).map_or(0.0, |d| d.margin);
            (1.0 - a, i)
        })
        .collect();
    let results: Vec<(Vec<Order>, u64, u64)> = books
        .0
        .par_iter()
        .zip(&quotes)
        .map(|(book, &(bid, ask))| match_pair(book, bid, ask, &settings, &investors, budget))
        .collect();
    signals.0.clear();
    for (orders, evaluated, unexamined) in results {
        counts.candidates += evaluated;
        counts.opl_cut_investors += unexamined;
        signals.0.push(orders);
    }
}

/// Matching, second: each AssetDealer fills its InvestorDealer's orders, buying a queued
/// stream whole from its asset-user when a strip of it is first ordered, and selling the
/// strips on at the mean of the two dealers' valuations; the InvestorDealer sells them to
/// the investor-user for her cash.
#[allow(clippy::too_many_arguments)]
pub fn execute_orders(
    signals: Res<Signals>,
    mut books: ResMut<PairBooks>,
    mut dealers: Query<&mut Dealer>,
    mut cash: Query<&mut Cash>,
    mut shares: Query<(&mut StreamShare, &mut Surplus), With<AssetUser>>,
    mut holdings: Query<(&mut Holdings, &mut Surplus), Without<AssetUser>>,
    mut status: Query<&mut UserStatus>,
) {
    for (book, orders) in books.0.iter_mut().zip(&signals.0) {
        let (mut a_cash, mut i_cash, mut a_volume, mut i_volume) = (0.0, 0.0, 0.0, 0.0);
        let (mut a_fills, mut surplus_a, mut surplus_i) = (0u32, 0.0, 0.0);
        let bid = 1.0 - dealers.get(book.asset_dealer).map_or(0.0, |d| d.margin);
        book.volume = 0.0;
        book.matches = 0;
        book.transfers = 0.0;
        // Held streams by asset-user, so a strip finds its remainder in O(1) however many
        // stubs are held; exhausted remainders are dropped once, after the orders.
        let mut held_at: FxHashMap<u32, usize> = book
            .inventory
            .iter()
            .enumerate()
            .map(|(i, h)| (h.stream.index, i))
            .collect();
        for order in orders {
            for strip in &order.strips {
                let held = match held_at.get(&strip.asset) {
                    Some(&h) => h,
                    None => {
                        // First strip of a queued stream: the AssetDealer buys it whole.
                        let q = book
                            .asset_queue
                            .iter()
                            .position(|q| q.index == strip.asset)
                            .expect("an ordered stream is held or queued");
                        let queued = book.asset_queue.remove(q).expect("position found");
                        let lump = bid * queued.asset_value;
                        a_cash -= lump;
                        a_volume += queued.asset_value;
                        a_fills += 1;
                        if let Ok(mut c) = cash.get_mut(queued.entity) {
                            c.0 += lump;
                        }
                        if let Ok((mut share, mut surplus)) = shares.get_mut(queued.entity) {
                            share.0 = 0.0;
                            surplus.0 = lump - queued.reservation_value;
                            surplus_a += surplus.0;
                        }
                        if let Ok(mut s) = status.get_mut(queued.entity) {
                            *s = UserStatus::Sold;
                        }
                        book.inventory.push(Remainder {
                            stream: queued,
                            fraction: 1.0,
                            level: 1.0,
                        });
                        held_at.insert(strip.asset, book.inventory.len() - 1);
                        book.inventory.len() - 1
                    }
                };
                let remainder = &mut book.inventory[held];
                let price = strip.fraction
                    * remainder.level
                    * 0.5
                    * (remainder.stream.asset_value + remainder.stream.investor_value);
                a_cash += price;
                i_cash -= price;
                book.transfers += price;
                book.volume += strip.fraction * remainder.stream.market_value * remainder.level;
                i_volume += strip.fraction * remainder.stream.investor_value * remainder.level;
                remainder.fraction -= strip.fraction;
                if remainder.fraction <= DUST {
                    remainder.fraction = 0.0;
                }
            }
            i_cash += order.cash;
            book.matches += 1;
            surplus_i += order.surplus;
            if let Ok(mut c) = cash.get_mut(order.investor) {
                c.0 -= order.cash;
            }
            if let Ok((mut h, mut surplus)) = holdings.get_mut(order.investor) {
                h.0.extend(order.strips.iter().map(|s| (s.asset, s.fraction)));
                surplus.0 = order.surplus;
            }
            if let Ok(mut s) = status.get_mut(order.investor) {
                *s = UserStatus::Bought;
            }
        }
        book.inventory.retain(|h| h.fraction > 0.0);
        let matched: Vec<Entity> = orders.iter().map(|o| o.investor).collect();
        if !matched.is_empty() {
            book.investor_queue.retain(|(e, _)| !matched.contains(e));
        }
        if let Ok(mut d) = dealers.get_mut(book.asset_dealer) {
            d.cash += a_cash;
            d.tick.fills += a_fills;
            d.tick.volume += a_volume;
            d.totals.fills += u64::from(a_fills);
            d.totals.surplus += surplus_a;
        }
        if let Ok(mut d) = dealers.get_mut(book.investor_dealer) {
            d.cash += i_cash;
            d.tick.fills += book.matches;
            d.tick.volume += i_volume;
            d.totals.fills += u64::from(book.matches);
            d.totals.surplus += surplus_i;
        }
    }
}

/// Reward: each dealer marks its held remainders at its valuation, takes the tick's
/// profit (the change of cash + inventory) and updates its volume estimate. A dealer whose
/// wealth is no longer positive stops the run.
pub fn mark_to_market(
    books: Res<PairBooks>,
    mut dealers: Query<&mut Dealer>,
    mut faults: ResMut<Faults>,
) {
    for book in &books.0 {
        let held: f64 = book.inventory.iter().map(Remainder::asset_value).sum();
        for (entity, inventory) in [(book.asset_dealer, held), (book.investor_dealer, 0.0)] {
            let Ok(mut d) = dealers.get_mut(entity) else {
                continue;
            };
            d.inventory_value = inventory;
            let wealth = d.cash + inventory;
            let profit = wealth - d.wealth;
            d.wealth = wealth;
            d.tick.profit = profit;
            d.totals.profit.add(profit);
            d.totals.margin += d.margin;
            d.volume_ewma = (1.0 - VOLUME_WEIGHT) * d.volume_ewma + VOLUME_WEIGHT * d.tick.volume;
            if wealth.is_nan() || wealth <= 0.0 {
                faults.push(PairFault::Insolvent {
                    pair: book.name.clone(),
                    side: d.side.name(),
                    wealth,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_take_the_best_quote_and_ties_split_by_their_draw() {
        assert_eq!(pick_best(&[1.0, 3.0, 2.0], 0.9), Some(1));
        assert_eq!(pick_best(&[3.0, 3.0], 0.2), Some(0));
        assert_eq!(pick_best(&[3.0, 3.0], 0.7), Some(1));
        assert_eq!(pick_best(&[3.0, 3.0], 0.999_999), Some(1));
        assert_eq!(pick_best(&[], 0.5), None);
    }
}
