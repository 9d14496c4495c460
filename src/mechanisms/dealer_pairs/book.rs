//! The state of a dealer-pair market: users and dealers as entities with their
//! components, and each pair's book (its two demand queues and the AssetDealer's held
//! remainders) as a resource.

use std::collections::VecDeque;

use bevy_ecs::prelude::*;

use super::cashflow::{Compounding, Stream};
use super::opl::OplBounds;

/// An asset-user: she sells her stream whole for a lump sum.
#[derive(Component, Clone, Copy, Debug)]
pub struct AssetUser {
    /// Her number among the asset-users (stable: group order, then order in the group).
    pub index: u32,
}

/// An investor-user: she buys a portfolio of strips with all her cash.
#[derive(Component, Clone, Copy, Debug)]
pub struct InvestorUser {
    /// Her number among the investor-users.
    pub index: u32,
}

/// An asset-user's stream of expected cash flows and the volatility of its level.
#[derive(Component, Clone, Copy, Debug)]
pub struct CashFlowStream {
    /// The expected payments.
    pub stream: Stream,
    /// σ, annualised.
    pub volatility: f64,
}

/// The annual rate at which a user values her alternative: an asset-user her own stream,
/// an investor-user her riskless investment.
#[derive(Component, Clone, Copy, Debug)]
pub struct ReservationRate(pub f64);

/// A user's cash.
#[derive(Component, Clone, Copy, Debug)]
pub struct Cash(pub f64);

/// An investor-user's horizon, years.
#[derive(Component, Clone, Copy, Debug)]
pub struct Horizon(pub f64);

/// An investor-user's CRRA coefficient.
#[derive(Component, Clone, Copy, Debug)]
pub struct RiskAversion(pub f64);

/// An investor-user's tail constraint: P(value at T < loss_threshold × cash) ≤ tolerance.
#[derive(Component, Clone, Copy, Debug)]
pub struct TailTolerance {
    /// ε.
    pub tolerance: f64,
    /// The loss level as a multiple of her cash.
    pub loss_threshold: f64,
}

/// When a user arrives and how long she waits.
#[derive(Component, Clone, Copy, Debug)]
pub struct Patience {
    /// Her arrival tick.
    pub arrival: u32,
    /// Ticks she stays in a queue.
    pub ticks: u32,
}

/// A user's uniform draw for choosing among pairs whose quotes tie.
#[derive(Component, Clone, Copy, Debug)]
pub struct TieBreak(pub f64);

/// Where a user is.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Not arrived yet.
    Pending,
    /// Waiting in pair `0`'s queue.
    Queued(u32),
    /// An asset-user whose stream was bought.
    Sold,
    /// An investor-user who bought a portfolio.
    Bought,
    /// Left the queue when her patience ran out.
    Lost,
    /// Arrived but no pair's quote met her reservation.
    Declined,
}

/// The fraction of her own stream an asset-user still holds (1 until she sells).
#[derive(Component, Clone, Copy, Debug)]
pub struct StreamShare(pub f64);

/// The strips an investor-user holds: (asset-user index, fraction of that stream).
#[derive(Component, Clone, Debug, Default)]
pub struct Holdings(pub Vec<(u32, f64)>);

/// A user's surplus from her trade, currency today: an asset-user's lump sum less her
/// stream's value at her reservation rate; an investor-user's certainty equivalent
/// discounted at her reservation rate, less her cash.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Surplus(pub f64);

/// Which side of its pair a dealer is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Buys streams from asset-users.
    Asset,
    /// Sells claims to investor-users.
    Investor,
}

impl Side {
    /// As written in tables.
    pub fn name(self) -> &'static str {
        match self {
            Side::Asset => "asset",
            Side::Investor => "investor",
        }
    }
}

/// Marks the AssetDealer of a pair.
#[derive(Component, Clone, Copy, Debug)]
pub struct AssetDealer;

/// Marks the InvestorDealer of a pair.
#[derive(Component, Clone, Copy, Debug)]
pub struct InvestorDealer;

/// A dealer's preferences, quote and books.
#[derive(Component, Clone, Debug)]
pub struct Dealer {
    /// Its pair's index.
    pub pair: u32,
    /// Its side.
    pub side: Side,
    /// g.
    pub risk_aversion: f64,
    /// The rate it values claims at.
    pub valuation_rate: f64,
    /// Its current margin.
    pub margin: f64,
    /// The most its margin may be (below 1 for an AssetDealer).
    pub margin_cap: f64,
    /// Cash.
    pub cash: f64,
    /// Its held remainders at its own valuation (AssetDealer; 0 for the other).
    pub inventory_value: f64,
    /// Cash + inventory value at the end of the last tick.
    pub wealth: f64,
    /// Wealth at tick 0.
    pub capital: f64,
    /// EWMA of the value it trades a tick (the AssetDealer: streams bought at its
    /// valuation), for its break-even margin.
    pub volume_ewma: f64,
    /// This tick's figures.
    pub tick: DealerTick,
    /// The run's totals.
    pub totals: DealerTotals,
}

/// A dealer's figures for one tick.
#[derive(Clone, Copy, Debug, Default)]
pub struct DealerTick {
    /// Users served (streams bought, or portfolios sold).
    pub fills: u32,
    /// Users who left its queue unserved.
    pub lost: u32,
    /// Value traded with users at its valuation.
    pub volume: f64,
    /// Wealth change over the tick.
    pub profit: f64,
}

/// A dealer's figures over the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct DealerTotals {
    /// The per-tick profits' running mean and spread.
    pub profit: crate::experiments::RunningMoments,
    /// Σ margin over ticks (as many as `profit` has observations).
    pub margin: f64,
    /// Users served.
    pub fills: u64,
    /// Users lost.
    pub lost: u64,
    /// Its users' surplus.
    pub surplus: f64,
}

/// A stream waiting in an AssetDealer's queue, valued when it joined.
#[derive(Clone, Copy, Debug)]
pub struct QueuedStream {
    /// The asset-user.
    pub entity: Entity,
    /// Her index.
    pub index: u32,
    /// The whole stream at the AssetDealer's valuation.
    pub asset_value: f64,
    /// At the InvestorDealer's valuation.
    pub investor_value: f64,
    /// At the market rate.
    pub market_value: f64,
    /// At her reservation rate: she sells for no less.
    pub reservation_value: f64,
    /// σ.
    pub volatility: f64,
    /// The tick at which she leaves unsold.
    pub deadline: u32,
}

/// The part of a bought stream the AssetDealer still holds.
#[derive(Clone, Copy, Debug)]
pub struct Remainder {
    /// The stream, valued as when it was bought.
    pub stream: QueuedStream,
    /// The fraction held.
    pub fraction: f64,
    /// The stream's level since it was bought (1 at purchase; a driftless lognormal).
    pub level: f64,
}

impl Remainder {
    /// Its value to the AssetDealer now.
    pub fn asset_value(&self) -> f64 {
        self.fraction * self.stream.asset_value * self.level
    }
}

/// One pair's book.
#[derive(Clone, Debug)]
pub struct PairBook {
    /// Its name.
    pub name: String,
    /// Its AssetDealer.
    pub asset_dealer: Entity,
    /// Its InvestorDealer.
    pub investor_dealer: Entity,
    /// Asset-users waiting, first come first.
    pub asset_queue: VecDeque<QueuedStream>,
    /// Investor-users waiting, first come first, with the tick each leaves.
    pub investor_queue: VecDeque<(Entity, u32)>,
    /// The AssetDealer's held remainders, oldest first.
    pub inventory: Vec<Remainder>,
    /// This tick: value sold to investors at the market rate, and portfolios sold.
    pub volume: f64,
    /// Portfolios sold this tick.
    pub matches: u32,
    /// Cash the InvestorDealer paid the AssetDealer this tick.
    pub transfers: f64,
}

/// Every pair's book, by pair index.
#[derive(Resource, Debug, Default)]
pub struct PairBooks(pub Vec<PairBook>);

/// The mechanism's fixed settings.
#[derive(Resource, Clone, Debug)]
pub struct PairSettings {
    /// The scenario seed.
    pub seed: u64,
    /// Tick length, years.
    pub tick_years: f64,
    /// r.
    pub market_rate: f64,
    /// How rates compound.
    pub compounding: Compounding,
    /// The OPL's window.
    pub window: usize,
    /// The OPL's bounds.
    pub bounds: OplBounds,
    /// Candidates per tick over every pair.
    pub candidates_per_tick: u64,
    /// κ, or None when margins are fixed.
    pub undercut: Option<f64>,
}

/// Users due to arrive, by tick.
#[derive(Resource, Debug, Default)]
pub struct ArrivalSchedule {
    /// (tick, user, is an asset-user), sorted by tick then side then index.
    pub due: Vec<(u32, Entity, bool)>,
    /// The next entry to admit.
    pub next: usize,
}

/// The run's counts that are nobody's in particular.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct RunCounts {
    /// Investor-users the per-tick candidate budget left unexamined, summed over ticks.
    pub opl_cut_investors: u64,
    /// Candidates the OPL evaluated.
    pub candidates: u64,
    /// Users who arrived to no acceptable quote.
    pub declined: u64,
    /// Cash every party held at tick 0, for conservation.
    pub initial_cash: f64,
}
