//! The dealer market of Ganesh et al. 2019 (SPEC §2): investors trade with the market
//! maker quoting the lowest spread for their size and tier; market makers tier their
//! counterparties by yield and hedge with each other (Almgren–Chriss, VaR).
//!
//! Layout: `config` (the `DealerMarket(...)` schema) and `validate`; `build` (World from
//! config); the maths (`investors`, `population`, `pricing`, `tiering` with
//! `order_statistics` and `slot_set`, `hedging_schedule`); the systems (`systems`,
//! `hedging`, `reward`, `records`) and their resources; `experiments` (SPEC §2.4).

pub mod build;
pub mod components;
pub mod config;
pub mod experiments;
pub mod footprint;
pub mod hedging;
pub mod hedging_schedule;
pub mod investors;
pub mod order_statistics;
pub mod population;
pub mod pricing;
pub mod records;
pub mod resources;
pub mod reward;
pub mod slot_set;
pub mod systems;
pub mod tier_matrix;
pub mod tiering;
pub mod validate;

use bevy_ecs::prelude::*;

pub use components::{Ledger, MarketMakerId, RewardComponents};
pub use config::{DealerMarketConfig, TierSnapshots};
use investors::InvestorId;
pub use resources::{
    ArrivalMode, Arrivals, Exchange, ModelFault, Population, TradeKind, TradeLog, TradeRecord,
};

use crate::agents::Holdings;
use crate::market::MarketState;
use crate::mechanisms::MechanismConfig;
use crate::output::DeclaredTable;
use crate::output::row::{TableRow, TableSpec};
use crate::scenario::{Checker, Scenario};
use crate::schedule::TickPhase;
use crate::sim::mechanism::{Mechanism, Summary, Systems, TextTable};
use crate::sim::resources::ResourceEstimate;
use crate::sim::{SimError, Simulation};
use config::SnapshotScope;
use records::{MetricsRow, SummaryRow, TierCountRow, TierRow, TradeRow};
use tiering::TieringMethod;

/// Fields of an old-style scenario (before mechanisms were listed) that now live in
/// `DealerMarket(...)`, by their old path, with the advice the loader gives.
pub const MOVED_FIELDS: &[(&str, &str)] = &[
    ("investors", MOVED_ADVICE),
    ("market_makers", MOVED_ADVICE),
    ("market.max_trade_size", MOVED_ADVICE),
    ("market.position_horizon", MOVED_ADVICE),
    ("output.tier_snapshot_every", MOVED_ADVICE),
    ("mechanisms[].tier_snapshot_every", RENAMED_SNAPSHOT_ADVICE),
];

const RENAMED_SNAPSHOT_ADVICE: &str = "`tier_snapshot_every: k` is now `tier_snapshots: \
     Every(k)` (`0` is `Off`); `Final` and `Counts(k)` are the other choices, and the default \
     `Auto` writes full snapshots only while one has at most 1,000,000 rows";

const MOVED_ADVICE: &str = "scenarios now list their mechanisms: move `investors`, \
     `market_makers`, `market.max_trade_size`, `market.position_horizon` and \
     `output.tier_snapshot_every` into `mechanisms: [DealerMarket(investors: [...], \
     market_makers: [...], max_trade_size: ..., position_horizon: ..., \
     tier_snapshots: Every(...))]` (see scenarios/paper.ron)";

impl Mechanism for DealerMarketConfig {
    fn kind(&self) -> &'static str {
        "DealerMarket"
    }

    fn validate(&self, scenario: &Scenario, path: &str, checker: &mut Checker) {
        validate::check(self, scenario, path, checker);
    }

    fn build(&self, scenario: &Scenario, world: &mut World) {
        build::build(self, scenario.seed, scenario.output.trades, world);
    }

    fn install(&self, systems: &mut Systems<'_>) {
        systems
            .add(TickPhase::PriceProcess, systems::open_books)
            .add(TickPhase::Arrivals, systems::generate_orders)
            .add(TickPhase::Tiering, systems::retier_counterparties)
            .add(TickPhase::Pricing, systems::post_quotes)
            .add(TickPhase::Matching, systems::match_orders)
            .add(TickPhase::Hedging, hedging::hedge_positions)
            .add(
                TickPhase::Reward,
                (
                    reward::settle_position_revenue,
                    reward::charge_risk_and_close,
                )
                    .chain(),
            )
            .add(TickPhase::Record, records::record_tick);
    }

    fn tables(&self, scenario: &Scenario) -> Vec<DeclaredTable> {
        vec![
            DeclaredTable::of::<MetricsRow>(true),
            DeclaredTable::of::<TradeRow>(scenario.output.trades),
            DeclaredTable::of::<TierRow>(
                self.snapshot_plan()
                    .is_some_and(|p| p.scope == SnapshotScope::Full),
            ),
            DeclaredTable::of::<TierCountRow>(
                self.snapshot_plan()
                    .is_some_and(|p| p.scope == SnapshotScope::Counts),
            ),
        ]
    }

    fn summary_table(&self) -> TableSpec {
        SummaryRow::TABLE
    }

    fn summary(&self, world: &mut World) -> Summary {
        let makers = maker_summaries(world, self);
        let display = TextTable {
            headers: vec![
                "market maker",
                "trades",
                "clipped",
                "volume",
                "share",
                "position",
                "spread rev",
                "position rev",
                "hedging cost",
                "risk cost",
                "reward",
            ],
            rows: makers
                .iter()
                .map(|s| {
                    vec![
                        s.market_maker.clone(),
                        s.trades.to_string(),
                        s.clipped_trades.to_string(),
                        format!("{:.2}", s.volume),
                        format!("{:.1}%", 100.0 * s.market_share),
                        format!("{:.2}", s.final_position),
                        format!("{:.4}", s.spread_revenue),
                        format!("{:.4}", s.position_revenue),
                        format!("{:.4}", s.hedging_cost),
                        format!("{:.4}", s.risk_cost),
                        format!("{:.4}", s.total_reward),
                    ]
                })
                .collect(),
        };
        Summary {
            mechanism: self.kind(),
            rows: makers.iter().map(TableRow::to_owned_cells).collect(),
            display,
        }
    }

    fn resource_estimate(&self, scenario: &Scenario, path: &str) -> ResourceEstimate {
        footprint::estimate(self, scenario, path)
    }

    fn population(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("investors", self.investor_count()),
            ("market_makers", self.market_makers.len() as u64),
        ]
    }

    fn run_figures(&self, world: &mut World) -> Vec<(&'static str, serde_json::Value)> {
        let makers = accounts_by_id(world);
        let trades: u64 = makers.iter().map(|(_, _, l)| l.total_activity.trades).sum();
        let clipped: u64 = makers
            .iter()
            .map(|(_, _, l)| l.total_activity.clipped_trades)
            .sum();
        let share = if trades > 0 {
            clipped as f64 / trades as f64
        } else {
            0.0
        };
        vec![
            ("investor_trades", trades.into()),
            ("clipped_trades", clipped.into()),
            ("clipped_share", share.into()),
        ]
    }

    fn accounting_residual(&self, world: &mut World) -> f64 {
        let price = world.resource::<MarketState>().price;
        let exchange = world.get_resource::<Exchange>().map(|e| e.holdings);
        let mut total = 0.0;
        let mut scale = 1.0f64;
        // Only this mechanism's agents: another mechanism's are its own to account for.
        let mut holdings =
            world.query_filtered::<&Holdings, Or<(With<InvestorId>, With<MarketMakerId>)>>();
        for h in holdings.iter(world).chain(exchange.as_ref()) {
            total += h.cash + h.position * price;
            scale += h.cash.abs();
        }
        total / scale
    }
}

/// The index of `scenario`'s dealer market in its `mechanisms`, if it has one.
pub fn index_of(scenario: &Scenario) -> Option<usize> {
    scenario
        .mechanisms
        .iter()
        .position(|m| matches!(m, MechanismConfig::DealerMarket(_)))
}

/// The dealer market of `scenario` (its first `DealerMarket`), if it has one.
pub fn config_of(scenario: &Scenario) -> Option<&DealerMarketConfig> {
    scenario.mechanisms.iter().find_map(|m| match m {
        MechanismConfig::DealerMarket(config) => Some(config),
        _ => None,
    })
}

/// As [`config_of`], to edit it (experiment designs build their variants this way).
pub fn config_of_mut(scenario: &mut Scenario) -> Option<&mut DealerMarketConfig> {
    scenario.mechanisms.iter_mut().find_map(|m| match m {
        MechanismConfig::DealerMarket(config) => Some(config),
        _ => None,
    })
}

/// Each market maker's results so far, in id order, as `summary` rows.
pub fn maker_summaries(world: &mut World, config: &DealerMarketConfig) -> Vec<SummaryRow> {
    let makers = accounts_by_id(world);
    let total_volume: f64 = makers.iter().map(|(_, _, l)| l.total_activity.volume).sum();
    makers
        .into_iter()
        .map(|(id, holdings, ledger)| {
            let a = &ledger.total_activity;
            let r = &ledger.total;
            SummaryRow {
                market_maker: config.market_makers[id.0 as usize].name.clone(),
                trades: a.trades,
                volume: a.volume,
                clipped_trades: a.clipped_trades,
                market_share: if total_volume > 0.0 {
                    a.volume / total_volume
                } else {
                    0.0
                },
                hedged_out: a.hedged_out,
                hedged_in: a.hedged_in,
                final_position: holdings.position,
                final_cash: holdings.cash,
                spread_revenue: r.spread_revenue,
                position_revenue: r.position_revenue,
                hedging_cost: r.hedging_cost,
                risk_cost: r.risk_cost,
                total_reward: r.total(),
            }
        })
        .collect()
}

/// Every market maker's holdings and ledger, in id order.
pub fn maker_accounts(world: &mut World) -> Vec<(Holdings, Ledger)> {
    accounts_by_id(world)
        .into_iter()
        .map(|(_, h, l)| (h, l))
        .collect()
}

/// Every market maker's id, holdings and ledger, in id order (outside a system; systems
/// use [`components::MakersById`]).
fn accounts_by_id(world: &mut World) -> Vec<(MarketMakerId, Holdings, Ledger)> {
    let mut query = world.query::<(&MarketMakerId, &Holdings, &Ledger)>();
    let mut makers: Vec<_> = query
        .iter(world)
        .map(|(id, h, l)| (*id, *h, l.clone()))
        .collect();
    makers.sort_unstable_by_key(|(id, ..)| id.0);
    makers
}

/// Extra handles on a [`Simulation`] of a scenario with a dealer market.
pub trait DealerMarketSimulation {
    /// Each market maker's results so far, in id order (empty without a dealer market).
    fn maker_summaries(&mut self) -> Vec<SummaryRow>;
    /// Switches how arrivals are sampled. By default the cheaper exact method for the
    /// population is used ([`ArrivalMode::for_population`]).
    fn set_arrival_mode(&mut self, mode: ArrivalMode);
}

impl DealerMarketSimulation for Simulation {
    fn maker_summaries(&mut self) -> Vec<SummaryRow> {
        let Some(config) = config_of(self.scenario()).cloned() else {
            return Vec::new();
        };
        maker_summaries(self.world_mut(), &config)
    }

    fn set_arrival_mode(&mut self, mode: ArrivalMode) {
        if let Some(mut arrivals) = self.world_mut().get_resource_mut::<Arrivals>() {
            arrivals.mode = mode;
        }
    }
}

/// A simulation of `scenario` whose dynamic books keep their tiers by `method` (the
/// reference method exists for tests and comparisons; the tiers are the same).
///
/// # Errors
/// [`SimError::Invalid`] when the scenario fails validation.
pub fn simulation_with_tiering_method(
    scenario: &Scenario,
    method: TieringMethod,
) -> Result<Simulation, SimError> {
    let mut simulation = Simulation::new(scenario)?;
    if let Some(config) = config_of(scenario) {
        build::rebuild_books(config, scenario.seed, method, simulation.world_mut());
    }
    Ok(simulation)
}
