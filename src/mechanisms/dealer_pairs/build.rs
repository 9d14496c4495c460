//! Turns a validated `DealerPairs` config into entities and resources: the dealers, every
//! user that arrives within the run (attributes from her own stream, arrival times from
//! her group's), and the pairs' empty books.

use bevy_ecs::prelude::*;
use rand_distr::{Distribution, Exp1};

use super::book::{
    ArrivalSchedule, AssetDealer, AssetUser, Cash, CashFlowStream, Dealer, DealerTick,
    DealerTotals, Holdings, Horizon, InvestorDealer, InvestorUser, PairBook, PairBooks,
    PairSettings, Patience, ReservationRate, RiskAversion, RunCounts, Side, StreamShare, Surplus,
    TailTolerance, TieBreak, UserStatus,
};
use super::cashflow::Stream;
use super::config::{Adaptation, Arrival, DealerConfig, DealerPairsConfig};
use super::opl::OplBounds;
use crate::market::price_process::uniform;
use crate::rng::{pair_arrival_stream, pair_user_stream};
use crate::scenario::Scenario;

/// The arrival ticks of a group of `count` users, in order, stopping at `steps`.
pub fn arrival_ticks(
    arrival: Arrival,
    count: u32,
    steps: u32,
    rng: &mut crate::rng::Stream,
) -> Vec<u32> {
    match arrival {
        Arrival::AtStart => vec![0; count as usize],
        Arrival::Poisson(rate) => {
            // Exponential gaps of mean 1/rate ticks; the user arriving in [t, t + 1)
            // arrives at tick t.
            let mut out = Vec::with_capacity(count as usize);
            let mut time = 0.0f64;
            for _ in 0..count {
                let gap: f64 = Exp1.sample(rng);
                time += gap / rate;
                if time >= f64::from(steps) {
                    break;
                }
                out.push(time as u32);
            }
            out
        }
    }
}

fn dealer(config: &DealerPairsConfig, d: &DealerConfig, pair: u32, side: Side) -> Dealer {
    Dealer {
        pair,
        side,
        risk_aversion: d.risk_aversion,
        valuation_rate: config.valuation_rate(d),
        margin: d.margin,
        // An AssetDealer paying nothing for a stream is no quote; 0.999 keeps its bid
        // positive. An InvestorDealer's margin is bounded by validation's 10.
        margin_cap: match side {
            Side::Asset => 0.999_f64.max(d.margin),
            Side::Investor => 10.0,
        },
        cash: d.capital,
        inventory_value: 0.0,
        wealth: d.capital,
        capital: d.capital,
        volume_ewma: 0.0,
        tick: DealerTick::default(),
        totals: DealerTotals::default(),
    }
}

impl DealerPairsConfig {
    /// Spawns the mechanism's entities and inserts its resources.
    pub fn build_world(&self, scenario: &Scenario, world: &mut World) {
        let mut books = Vec::with_capacity(self.pairs.len());
        let mut initial_cash = 0.0;
        for (p, pair) in self.pairs.iter().enumerate() {
            let p = p as u32;
            let asset = world
                .spawn((
                    dealer(self, &pair.asset_dealer, p, Side::Asset),
                    AssetDealer,
                ))
                .id();
            let investor = world
                .spawn((
                    dealer(self, &pair.investor_dealer, p, Side::Investor),
                    InvestorDealer,
                ))
                .id();
            initial_cash += pair.asset_dealer.capital + pair.investor_dealer.capital;
            books.push(PairBook {
                name: pair.name.clone(),
                asset_dealer: asset,
                investor_dealer: investor,
                asset_queue: Default::default(),
                investor_queue: Default::default(),
                inventory: Vec::new(),
                volume: 0.0,
                matches: 0,
                transfers: 0.0,
            });
        }

        let mut due: Vec<(u32, Entity, bool)> = Vec::new();
        let mut index = 0u32;
        for (g, group) in self.asset_users.iter().enumerate() {
            let mut rng = pair_arrival_stream(scenario.seed, false, g as u32);
            let ticks = arrival_ticks(group.arrival, group.count, scenario.steps, &mut rng);
            let first = index;
            let users: Vec<_> = ticks
                .iter()
                .map(|&tick| {
                    let i = index;
                    index += 1;
                    let mut rng = pair_user_stream(scenario.seed, false, i);
                    let stream = Stream {
                        amount: group.amount.draw(&mut rng),
                        growth: group.growth.draw(&mut rng),
                        periods: group.periods,
                        period_years: group.period_years,
                    };
                    (
                        AssetUser { index: i },
                        CashFlowStream {
                            stream,
                            volatility: group.volatility.draw(&mut rng),
                        },
                        ReservationRate(group.reservation_rate.draw(&mut rng)),
                        TieBreak(uniform(&mut rng)),
                        Patience {
                            arrival: tick,
                            ticks: group.patience,
                        },
                        Cash(0.0),
                        StreamShare(1.0),
                        Surplus::default(),
                        UserStatus::Pending,
                    )
                })
                .collect();
            debug_assert_eq!(index - first, ticks.len() as u32);
            let entities: Vec<Entity> = world.spawn_batch(users).collect();
            due.extend(ticks.iter().zip(entities).map(|(&t, e)| (t, e, true)));
        }
        let mut index = 0u32;
        for (g, group) in self.investor_users.iter().enumerate() {
            let mut rng = pair_arrival_stream(scenario.seed, true, g as u32);
            let ticks = arrival_ticks(group.arrival, group.count, scenario.steps, &mut rng);
            let users: Vec<_> = ticks
                .iter()
                .map(|&tick| {
                    let i = index;
                    index += 1;
                    let mut rng = pair_user_stream(scenario.seed, true, i);
                    let cash = group.cash.draw(&mut rng);
                    initial_cash += cash;
                    (
                        (
                            InvestorUser { index: i },
                            Cash(cash),
                            Horizon(group.horizon_years.draw(&mut rng)),
                            RiskAversion(group.risk_aversion.draw(&mut rng)),
                            TailTolerance {
                                tolerance: group.tail_tolerance.draw(&mut rng),
                                loss_threshold: group.loss_threshold,
                            },
                            ReservationRate(group.reservation_rate.draw(&mut rng)),
                            TieBreak(uniform(&mut rng)),
                        ),
                        Patience {
                            arrival: tick,
                            ticks: group.patience,
                        },
                        Holdings::default(),
                        Surplus::default(),
                        UserStatus::Pending,
                    )
                })
                .collect();
            let entities: Vec<Entity> = world.spawn_batch(users).collect();
            due.extend(ticks.iter().zip(entities).map(|(&t, e)| (t, e, false)));
        }
        // By tick, then asset-users before investor-users, then by spawn order (index):
        // the order users are admitted in a tick.
        due.sort_by_key(|&(tick, _, is_asset)| (tick, !is_asset));

        world.insert_resource(PairBooks(books));
        world.insert_resource(ArrivalSchedule { due, next: 0 });
        world.insert_resource(RunCounts {
            initial_cash,
            ..RunCounts::default()
        });
        world.insert_resource(PairSettings {
            seed: scenario.seed,
            tick_years: scenario.market.tick_years,
            market_rate: self.market_rate,
            compounding: self.compounding,
            window: self.opl.window as usize,
            bounds: OplBounds {
                min_strips: self.opl.min_strips as usize,
                max_strips: self.opl.max_strips as usize,
                chunk: self.opl.chunk as usize,
            },
            candidates_per_tick: self.opl.max_candidates_per_tick,
            undercut: match self.adaptation {
                Adaptation::Fixed => None,
                Adaptation::Undercut { fraction } => Some(fraction),
            },
        });
        world.insert_resource(super::systems::OppositionView::default());
        world.insert_resource(super::systems::Signals::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_arrivals_come_at_the_rate_and_stop_at_the_run_end() {
        let mut rng = pair_arrival_stream(7, false, 0);
        let ticks = arrival_ticks(Arrival::Poisson(50.0), 1_000_000, 200, &mut rng);
        // About 50 × 200 = 10,000 arrive before tick 200; the rest never do.
        let n = ticks.len() as f64;
        assert!((n - 10_000.0).abs() < 4.0 * 100.0, "{n}");
        assert!(ticks.windows(2).all(|w| w[0] <= w[1]));
        assert!(ticks.iter().all(|&t| t < 200));
        let few = arrival_ticks(Arrival::Poisson(50.0), 10, 200, &mut rng);
        assert_eq!(few.len(), 10);
        assert_eq!(
            arrival_ticks(Arrival::AtStart, 3, 200, &mut rng),
            vec![0, 0, 0]
        );
    }
}
