//! Dealer pairs as a mechanism of the tick: what the core asks of it, answered from the
//! config, the books and the dealers.

use bevy_ecs::prelude::*;

use super::book::{Cash, Dealer, Holdings, PairBooks, RunCounts, StreamShare};
use super::config::DealerPairsConfig;
use super::records::{
    PairDealerRow, PairSummaryRow, PairTradeRow, PairVolumeRow, record_pairs, summary_rows,
};
use super::systems::{
    adapt_margins, admit_users, execute_orders, mark_to_market, move_levels, opposition_view,
    signal_orders, update_queues,
};
use crate::output::DeclaredTable;
use crate::output::row::{TableRow, TableSpec};
use crate::scenario::{Checker, Scenario};
use crate::schedule::TickPhase;
use crate::sim::mechanism::{Mechanism, Summary, Systems, TextTable};
use crate::sim::resources::ResourceEstimate;

/// Bytes a user takes (entity, components, her queue entry and arrival entry), for the
/// estimate.
const USER_BYTES: u64 = 240;
/// Compressed bytes of a `pairs_dealers` row (and about as much per `pairs_volume` row).
const ROW_BYTES: u64 = 70;

impl Mechanism for DealerPairsConfig {
    fn kind(&self) -> &'static str {
        "DealerPairs"
    }

    fn validate(&self, _scenario: &Scenario, path: &str, checker: &mut Checker) {
        self.check(path, checker);
    }

    fn build(&self, scenario: &Scenario, world: &mut World) {
        self.build_world(scenario, world);
    }

    fn install(&self, systems: &mut Systems<'_>) {
        systems
            .add(TickPhase::PriceProcess, move_levels)
            .add(TickPhase::Arrivals, (update_queues, admit_users).chain())
            .add(TickPhase::Pricing, (opposition_view, adapt_margins).chain())
            .add(TickPhase::Matching, (signal_orders, execute_orders).chain())
            .add(TickPhase::Reward, mark_to_market)
            .add(TickPhase::Record, record_pairs);
    }

    fn tables(&self, scenario: &Scenario) -> Vec<DeclaredTable> {
        vec![
            DeclaredTable::of::<PairDealerRow<'_>>(true),
            DeclaredTable::of::<PairVolumeRow<'_>>(true),
            DeclaredTable::of::<PairTradeRow<'_>>(scenario.output.trades),
        ]
    }

    fn summary_table(&self) -> TableSpec {
        PairSummaryRow::TABLE
    }

    fn summary(&self, world: &mut World) -> Summary {
        let rows = summary_rows(world);
        let display = TextTable {
            headers: vec![
                "pair",
                "side",
                "wealth",
                "profit/tick",
                "sd",
                "margin",
                "fills",
                "lost",
                "surplus",
            ],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.pair.clone(),
                        r.side.clone(),
                        format!("{:.2}", r.final_wealth),
                        format!("{:.4}", r.profit_per_tick),
                        format!("{:.4}", r.profit_per_tick_sd),
                        format!("{:.5}", r.final_margin),
                        r.fills.to_string(),
                        r.lost_users.to_string(),
                        format!("{:.2}", r.users_surplus),
                    ]
                })
                .collect(),
        };
        Summary {
            mechanism: self.kind(),
            rows: rows.iter().map(TableRow::to_owned_cells).collect(),
            display,
        }
    }

    fn resource_estimate(&self, scenario: &Scenario, path: &str) -> ResourceEstimate {
        let users = self
            .asset_user_count()
            .saturating_add(self.investor_user_count());
        let pairs = self.pairs.len() as u64;
        // Two dealer rows and a pair row per pair and tick; trade rows are bounded by the
        // investor-users.
        let mut output_bytes = pairs
            .saturating_mul(3)
            .saturating_mul(u64::from(scenario.steps))
            .saturating_mul(ROW_BYTES);
        if scenario.output.trades {
            output_bytes =
                output_bytes.saturating_add(self.investor_user_count().saturating_mul(60));
        }
        ResourceEstimate {
            memory_bytes: users.saturating_mul(USER_BYTES),
            memory_detail: format!("{users} users × about {USER_BYTES} bytes"),
            memory_field: format!("{path}.asset_users"),
            output_bytes,
            output_detail: format!(
                "{pairs} pairs × {} ticks of pairs_dealers and pairs_volume rows",
                scenario.steps
            ),
            output_field: "steps".into(),
        }
    }

    fn population(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("dealer_pairs", self.pairs.len() as u64),
            ("asset_users", self.asset_user_count()),
            ("investor_users", self.investor_user_count()),
        ]
    }

    fn run_figures(&self, world: &mut World) -> Vec<(&'static str, serde_json::Value)> {
        let Some(counts) = world.get_resource::<RunCounts>().copied() else {
            return Vec::new();
        };
        let lost: u64 = summary_rows(world).iter().map(|r| r.lost_users).sum();
        vec![
            ("opl_cut_investors", counts.opl_cut_investors.into()),
            ("opl_candidates", counts.candidates.into()),
            ("declined_users", counts.declined.into()),
            ("lost_users", lost.into()),
        ]
    }

    fn accounting_residual(&self, world: &mut World) -> f64 {
        conservation(world).residual()
    }
}

/// Cash and claims, summed over every user and dealer of the mechanism.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conservation {
    /// Σ cash now.
    pub cash: f64,
    /// Σ cash at tick 0.
    pub initial_cash: f64,
    /// Σ over streams of |fraction with its owner + with the AssetDealer + with investors − 1|.
    pub claim_gap: f64,
    /// Streams.
    pub streams: u64,
}

impl Conservation {
    /// The relative cash gap plus the claims gap per stream: zero up to rounding when
    /// every trade moved cash and claims between two parties.
    pub fn residual(&self) -> f64 {
        let cash = (self.cash - self.initial_cash).abs() / self.initial_cash.abs().max(1.0);
        let claims = self.claim_gap / (self.streams.max(1) as f64);
        cash + claims
    }
}

/// Sums cash and each stream's fractions over every party.
pub fn conservation(world: &mut World) -> Conservation {
    let Some(initial_cash) = world.get_resource::<RunCounts>().map(|c| c.initial_cash) else {
        return Conservation::default();
    };
    let mut cash = 0.0;
    for c in world.query::<&Cash>().iter(world) {
        cash += c.0;
    }
    for d in world.query::<&Dealer>().iter(world) {
        cash += d.cash;
    }
    // Each stream's fractions, indexed by its asset-user.
    let mut owned: Vec<f64> = Vec::new();
    for (user, share) in world
        .query::<(&super::book::AssetUser, &StreamShare)>()
        .iter(world)
    {
        let i = user.index as usize;
        if owned.len() <= i {
            owned.resize(i + 1, 0.0);
        }
        owned[i] += share.0;
    }
    if let Some(books) = world.get_resource::<PairBooks>() {
        for held in books.0.iter().flat_map(|b| &b.inventory) {
            if let Some(slot) = owned.get_mut(held.stream.index as usize) {
                *slot += held.fraction;
            }
        }
    }
    for h in world.query::<&Holdings>().iter(world) {
        for &(asset, fraction) in &h.0 {
            if let Some(slot) = owned.get_mut(asset as usize) {
                *slot += fraction;
            }
        }
    }
    let streams = world.query::<&super::book::AssetUser>().iter(world).count() as u64;
    Conservation {
        cash,
        initial_cash,
        // Indices of users who never arrived are absent from `owned` only past its end;
        // every spawned user's slot starts at her own share of 1.
        claim_gap: owned.iter().map(|f| (f - 1.0).abs()).sum(),
        streams,
    }
}
