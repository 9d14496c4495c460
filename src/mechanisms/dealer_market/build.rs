//! Building the dealer market into a World: investors, market makers with their books
//! and hedging policies, and the mechanism's resources, from a validated config.

use bevy_ecs::prelude::*;
use rand::Rng;

use super::components::{HedgePolicy, Hedger, Ledger, MarketMakerId, Pricing};
use super::config::{DealerMarketConfig, HedgingConfig, TieringConfig};
use super::investors::{ArrivalMember, ArrivalSampler, InvestorId, TradeProfile};
use super::population::population_profiles;
use super::pricing::QuoteCurve;
use super::records::{MakerNames, TierSnapshots};
use super::resources::{
    ArrivalMode, Arrivals, DealerRules, Exchange, PendingOrders, Population, PositionRevenueQueue,
    QuoteBoard, TradeLog,
};
use super::tier_matrix::TierMatrix;
use super::tiering::{CounterpartyBook, ScoreKind, ScoreParams, TieringMethod};
use crate::agents::{AgentRng, Holdings};
use crate::market::MarketProcess;
use crate::rng::{StreamDomain, stream};

/// Spawns every investor and market maker of `config` and inserts the mechanism's
/// resources. `trades` says whether the run records trades (the trade log is kept only
/// then); `seed` is the scenario's.
pub fn build(config: &DealerMarketConfig, seed: u64, trades: bool, world: &mut World) {
    let population = Population {
        investors: config.investor_count() as u32,
        market_makers: config.market_makers.len() as u32,
    };
    let profiles = population_profiles(&config.investors, seed);
    world.spawn_batch(profiles.into_iter().enumerate().map(|(i, profile)| {
        let id = i as u32;
        (
            InvestorId(id),
            profile,
            Holdings::default(),
            AgentRng(stream(seed, StreamDomain::Investor, u64::from(id))),
        )
    }));
    let mut investors = world.query::<(Entity, &InvestorId, &TradeProfile)>();
    let mut by_id: Vec<ArrivalMember> = investors
        .iter(world)
        .map(|(entity, &id, &profile)| ArrivalMember {
            profile,
            entity,
            id,
        })
        .collect();
    by_id.sort_unstable_by_key(|m| m.id);
    let investor_count = by_id.len();
    let sampler = ArrivalSampler::new(by_id, seed);
    world.insert_resource(Arrivals {
        mode: ArrivalMode::for_population(sampler.expected_candidates(), investor_count),
        sampler,
        traders: Vec::new(),
    });

    let tick_volatility = world.resource::<MarketProcess>().tick_volatility;
    for (m, maker) in config.market_makers.iter().enumerate() {
        let id = m as u32;
        let book = build_book(config, seed, population, id, TieringMethod::default());
        let mut entity = world.spawn((
            MarketMakerId(id),
            Pricing(QuoteCurve {
                alpha: maker.alpha,
                tier_penalty: maker.tier_penalty,
            }),
            book,
            Holdings::default(),
            Ledger::default(),
            AgentRng(stream(seed, StreamDomain::MarketMaker, u64::from(id))),
        ));
        if let Some(hedging) = &maker.hedging {
            entity.insert(Hedger {
                policy: hedge_policy(hedging),
                variance: tick_volatility * tick_volatility,
            });
        }
    }

    world.insert_resource(population);
    world.insert_resource(DealerRules {
        position_horizon: config.position_horizon,
        max_trade_size: config.max_trade_size,
    });
    world.insert_resource(MakerNames(
        config
            .market_makers
            .iter()
            .map(|m| m.name.clone())
            .collect(),
    ));
    world.insert_resource(TierSnapshots(config.snapshot_plan()));
    world.insert_resource(TradeLog {
        enabled: trades,
        trades: Vec::new(),
    });
    world.init_resource::<PendingOrders>();
    world.init_resource::<QuoteBoard>();
    world.insert_resource(TierMatrix::new(
        population.investors as usize,
        population.market_makers as usize,
    ));
    fill_tier_matrix(world);
    world.init_resource::<PositionRevenueQueue>();
    world.init_resource::<Exchange>();
}

/// Rebuilds every market maker's book with dynamic books kept by `method` (the
/// reference method exists for tests and comparisons; the tiers are the same). Call it
/// before the first tick.
pub fn rebuild_books(
    config: &DealerMarketConfig,
    seed: u64,
    method: TieringMethod,
    world: &mut World,
) {
    let population = *world.resource::<Population>();
    let mut books = world.query::<(&MarketMakerId, &mut CounterpartyBook)>();
    for (id, mut book) in books.iter_mut(world) {
        *book = build_book(config, seed, population, id.0, method);
    }
    fill_tier_matrix(world);
}

/// Copies every book's investor tiers into the tier matrix: part of building the World,
/// so that the first tick pays only for what it changes.
fn fill_tier_matrix(world: &mut World) {
    let mut books = world.query::<(&MarketMakerId, &CounterpartyBook)>();
    let mut by_id: Vec<(u32, &CounterpartyBook)> =
        books.iter(world).map(|(id, book)| (id.0, book)).collect();
    by_id.sort_unstable_by_key(|(id, _)| *id);
    let books: Vec<&CounterpartyBook> = by_id.into_iter().map(|(_, book)| book).collect();
    let mut matrix = TierMatrix::new(0, 0);
    if let Some(existing) = world.get_resource::<TierMatrix>() {
        matrix = existing.clone_empty();
    }
    matrix.fill(&books);
    world.insert_resource(matrix);
}

/// The model's hedging policy for a config.
fn hedge_policy(config: &HedgingConfig) -> HedgePolicy {
    HedgePolicy {
        risk_aversion: config.risk_aversion,
        horizon: config.horizon,
        volatility_estimate: config.volatility_estimate,
        venue: config.venue,
        max_slice: config.max_slice,
    }
}

/// The book market maker `id` starts with.
fn build_book(
    config: &DealerMarketConfig,
    seed: u64,
    population: Population,
    id: u32,
    method: TieringMethod,
) -> CounterpartyBook {
    let slots = population.slots();
    let tie_salt = stream(seed, StreamDomain::TieOrder, u64::from(id)).next_u32();
    let own = population.maker_slot(id);
    let maker = &config.market_makers[id as usize];
    let score_params = |d: &super::config::DynamicTiering| ScoreParams {
        tiers: d.tiers,
        weight: d.weight,
        retier_every: d.retier_every,
        prior_yield: d.prior_yield,
        pinned: d
            .pinned_investors
            .iter()
            .map(|(&investor, &tier)| (investor as usize, tier))
            .collect(),
        tie_order: d.tie_order,
    };
    match &maker.tiering {
        TieringConfig::AverageYield(d) => CounterpartyBook::dynamic(
            ScoreKind::AverageYield,
            &score_params(d),
            slots,
            own,
            tie_salt,
            method,
        ),
        TieringConfig::RevenueRate(d) => CounterpartyBook::dynamic(
            ScoreKind::RevenueRate,
            &score_params(d),
            slots,
            own,
            tie_salt,
            method,
        ),
        TieringConfig::Fixed(fixed) => {
            let investors = population.investors as usize;
            CounterpartyBook::fixed(fixed.tiers, slots, |slot| {
                let explicit = if slot < investors {
                    fixed.investors.get(&(slot as u32))
                } else {
                    config
                        .market_makers
                        .get(slot - investors)
                        .and_then(|m| fixed.market_makers.get(&m.name))
                };
                explicit.copied().unwrap_or(fixed.default_tier)
            })
        }
    }
}
