//! Building a World from a scenario and driving the tick schedule: the library's entry
//! point (`Simulation`) and the whole-run helper behind `dealersim run` (`run_to_directory`).

use std::path::Path;
use std::time::Instant;

use bevy_ecs::prelude::*;

use crate::agents::investor::{
    ArrivalMember, ArrivalSampler, InvestorId, TradeProfile, population_profiles,
};
use crate::agents::{AgentRng, Holdings};
use crate::dealers::tiering::{ScoreKind, TieringMethod};
use crate::dealers::{
    CounterpartyBook, Hedger, Ledger, MarketMakerId, Pricing, QuoteCurve, RewardComponents,
};
use crate::market::price_process::{GbmStep, PricePath, ReferenceSpreadLaw};
use crate::market::reference_curve::{CurveShape, ReferenceCurve};
use crate::market::{Clock, MarketProcess, MarketState};
use crate::mechanisms::dealer_market::{
    self, ArrivalMode, Arrivals, Exchange, Faults, ModelFault, PendingOrders, Population,
    PositionRevenueQueue, QuoteBoard, TradeLog,
};
use crate::output::manifest::{Manifest, ManifestFile, sha256_hex};
use crate::output::table::{Cell, OutputError, StagedOutput, TableFormat};
use crate::output::{
    self, METRICS_COLUMNS, Recorder, SUMMARY_COLUMNS, TIER_COLUMNS, TRADE_COLUMNS,
};
use crate::rng::{StreamDomain, stream};
use crate::scenario::{
    MarketMakerConfig, OutputFormat, Problem, Scenario, TieringConfig, validate,
};
use crate::schedule::{PhaseTimes, TickPhase, install_phase_timers, tick_schedule};
use rand::Rng;

/// Why a simulation could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario breaks a rule (validation problems with field paths).
    #[error("invalid scenario:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid(Vec<Problem>),
    /// The model was asked something it cannot answer (e.g. a size ≥ v_max).
    #[error("model error at tick {tick}: {source}")]
    Model {
        /// The tick at which it happened.
        tick: u32,
        /// What happened.
        source: ModelFault,
    },
    /// Writing the outputs failed; nothing partial was left behind.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The resolved scenario could not be serialised.
    #[error("cannot serialise the resolved scenario: {0}")]
    Serialise(#[from] ron::Error),
}

/// One market maker's results over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MakerSummary {
    /// Name from the scenario.
    pub name: String,
    /// Investor trades won.
    pub trades: u64,
    /// Investor volume won, units.
    pub volume: f64,
    /// Share of all investor volume, in [0, 1] (0 when nothing traded).
    pub market_share: f64,
    /// Volume hedged away, units.
    pub hedged_out: f64,
    /// Volume received from other market makers' hedges, units.
    pub hedged_in: f64,
    /// Position at the end, units.
    pub final_position: f64,
    /// Cash at the end, currency.
    pub final_cash: f64,
    /// Cumulated reward components.
    pub reward: RewardComponents,
}

/// A simulation: its World, the tick schedule and the scenario it was built from.
pub struct Simulation {
    world: World,
    schedule: Schedule,
    scenario: Scenario,
}

impl Simulation {
    /// Builds the World for `scenario`: entities for every investor and market maker,
    /// market resources, and the dealer market's systems in the tick schedule.
    ///
    /// # Errors
    /// [`SimError::Invalid`] when the scenario fails validation.
    pub fn new(scenario: &Scenario) -> Result<Self, SimError> {
        Self::with_tiering_method(scenario, TieringMethod::default())
    }

    /// As [`Simulation::new`], with dynamic books keeping their tiers by `method`
    /// (the reference method exists for tests and comparisons; the tiers are the same).
    ///
    /// # Errors
    /// [`SimError::Invalid`] when the scenario fails validation.
    pub fn with_tiering_method(
        scenario: &Scenario,
        method: TieringMethod,
    ) -> Result<Self, SimError> {
        let problems = validate(scenario);
        if !problems.is_empty() {
            return Err(SimError::Invalid(problems));
        }
        let mut world = World::new();
        let population = Population {
            investors: scenario.investor_count() as u32,
            market_makers: scenario.market_makers.len() as u32,
        };
        let seed = scenario.seed;
        let profiles = population_profiles(&scenario.investors, seed);
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
            .iter(&world)
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
        let market = &scenario.market;
        let tick_volatility = market.volatility * market.tick_years.sqrt();
        for (m, config) in scenario.market_makers.iter().enumerate() {
            let id = m as u32;
            let book = build_book(config, scenario, population, id, method);
            let mut maker = world.spawn((
                MarketMakerId(id),
                Pricing(QuoteCurve {
                    alpha: config.alpha,
                    tier_penalty: config.tier_penalty,
                }),
                book,
                Holdings::default(),
                Ledger::default(),
                AgentRng(stream(seed, StreamDomain::MarketMaker, u64::from(id))),
            ));
            if let Some(hedging) = &config.hedging {
                maker.insert(Hedger {
                    config: hedging.clone(),
                    variance: tick_volatility * tick_volatility,
                });
            }
        }

        let s = &market.reference_spread;
        let shape = CurveShape::new(market.lambda, market.v_max);
        world.insert_resource(Clock {
            tick: 0,
            steps: scenario.steps,
        });
        world.insert_resource(MarketState {
            price: market.initial_price,
            previous_price: market.initial_price,
            curve: ReferenceCurve {
                reference_spread: s.mean,
                shape,
            },
        });
        world.insert_resource(MarketProcess {
            path: PricePath::new(
                market.initial_price,
                GbmStep::new(market.drift, market.volatility, market.tick_years),
                stream(seed, StreamDomain::MidPrice, 0),
            ),
            spread_law: ReferenceSpreadLaw {
                mean: s.mean,
                std_dev: s.std_dev,
                min: s.min,
                max: s.max,
            },
            spread_rng: stream(seed, StreamDomain::ReferenceSpread, 0),
            position_horizon: market.position_horizon,
            tick_volatility,
            tick_years: market.tick_years,
            max_trade_size: market.max_trade_size,
        });
        world.insert_resource(population);
        world.init_resource::<PendingOrders>();
        world.init_resource::<QuoteBoard>();
        world.init_resource::<PositionRevenueQueue>();
        world.init_resource::<TradeLog>();
        world.init_resource::<Faults>();
        world.init_resource::<Exchange>();
        world.init_resource::<Recorder>();

        let mut schedule = tick_schedule();
        dealer_market::install(&mut schedule);
        output::install(&mut schedule);
        Ok(Self {
            world,
            schedule,
            scenario: scenario.clone(),
        })
    }

    /// The scenario this simulation runs.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The World, for inspection.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The World, e.g. to add systems' resources or inspect components.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The tick schedule, e.g. to add systems to a phase.
    pub fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    /// Switches how arrivals are sampled. By default the cheaper exact method for the
    /// population is used ([`ArrivalMode::for_population`]): skip-sampling when trades
    /// are rare in a population of 50,000 or more, the direct per-investor scan
    /// otherwise.
    pub fn set_arrival_mode(&mut self, mode: ArrivalMode) {
        self.world.resource_mut::<Arrivals>().mode = mode;
    }

    /// Times every phase of every following tick into the [`PhaseTimes`] resource.
    pub fn enable_phase_timers(&mut self) {
        if !self.world.contains_resource::<PhaseTimes>() {
            self.world.init_resource::<PhaseTimes>();
            install_phase_timers(&mut self.schedule);
        }
    }

    /// Seconds spent in each phase so far (`TickPhase::ALL` order), when timed.
    pub fn phase_seconds(&self) -> Option<[f64; TickPhase::COUNT]> {
        self.world
            .get_resource::<PhaseTimes>()
            .map(PhaseTimes::seconds)
    }

    /// Installs `recorder` to write tables during the run.
    pub fn set_recorder(&mut self, recorder: Recorder) {
        let enabled = recorder.trades.is_some();
        self.world.insert_resource(recorder);
        self.world.resource_mut::<TradeLog>().enabled = enabled;
    }

    /// Takes the recorder back (e.g. to finish its tables after the run).
    pub fn take_recorder(&mut self) -> Recorder {
        self.world.remove_resource::<Recorder>().unwrap_or_default()
    }

    /// The next tick to run.
    pub fn tick(&self) -> u32 {
        self.world.resource::<Clock>().tick
    }

    /// Runs one tick.
    ///
    /// # Errors
    /// [`SimError::Model`] on a model fault, [`SimError::Output`] when recording failed.
    pub fn step(&mut self) -> Result<(), SimError> {
        let tick = self.tick();
        self.schedule.run(&mut self.world);
        if let Some(fault) = self.world.resource_mut::<Faults>().0.drain(..).next() {
            return Err(SimError::Model {
                tick,
                source: fault,
            });
        }
        if let Some(error) = self.world.resource_mut::<Recorder>().error.take() {
            return Err(error.into());
        }
        #[cfg(debug_assertions)]
        {
            let residual = self.accounting_residual();
            debug_assert!(
                residual.abs() <= 1e-6,
                "accounting invariant broken at tick {tick}: residual {residual}"
            );
        }
        self.world.resource_mut::<Clock>().tick = tick + 1;
        Ok(())
    }

    /// Runs the remaining ticks, calling `on_tick` with the number of ticks done.
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn run(&mut self, mut on_tick: impl FnMut(u32)) -> Result<(), SimError> {
        while self.tick() < self.scenario.steps {
            self.step()?;
            on_tick(self.tick());
        }
        Ok(())
    }

    /// Σ cash + Σ position·P_t over every agent, relative to the gross cash flows; zero
    /// (up to rounding) when every trade moved cash and position between two agents.
    pub fn accounting_residual(&mut self) -> f64 {
        let price = self.world.resource::<MarketState>().price;
        let mut total = 0.0;
        let mut scale = 1.0f64;
        let exchange = self.world.get_resource::<Exchange>().map(|e| e.holdings);
        let mut holdings = self.world.query::<&Holdings>();
        for h in holdings.iter(&self.world).chain(exchange.as_ref()) {
            total += h.cash + h.position * price;
            scale += h.cash.abs();
        }
        total / scale
    }

    /// Every market maker's holdings and ledger, in id order.
    pub fn maker_accounts(&mut self) -> Vec<(Holdings, Ledger)> {
        let mut query = self.world.query::<(&MarketMakerId, &Holdings, &Ledger)>();
        let mut makers: Vec<_> = query.iter(&self.world).collect();
        makers.sort_unstable_by_key(|(id, ..)| id.0);
        makers
            .into_iter()
            .map(|(_, h, l)| (*h, l.clone()))
            .collect()
    }

    /// Per-market-maker results so far, in id order.
    pub fn summary(&mut self) -> Vec<MakerSummary> {
        let mut query = self.world.query::<(&MarketMakerId, &Holdings, &Ledger)>();
        let mut makers: Vec<_> = query.iter(&self.world).collect();
        makers.sort_unstable_by_key(|(id, ..)| id.0);
        let total_volume: f64 = makers.iter().map(|(_, _, l)| l.total_activity.volume).sum();
        makers
            .into_iter()
            .map(|(id, holdings, ledger)| {
                let a = &ledger.total_activity;
                MakerSummary {
                    name: self.scenario.market_makers[id.0 as usize].name.clone(),
                    trades: a.trades,
                    volume: a.volume,
                    market_share: if total_volume > 0.0 {
                        a.volume / total_volume
                    } else {
                        0.0
                    },
                    hedged_out: a.hedged_out,
                    hedged_in: a.hedged_in,
                    final_position: holdings.position,
                    final_cash: holdings.cash,
                    reward: ledger.total,
                }
            })
            .collect()
    }
}

/// The book a market maker starts with.
fn build_book(
    config: &MarketMakerConfig,
    scenario: &Scenario,
    population: Population,
    id: u32,
    method: TieringMethod,
) -> CounterpartyBook {
    let slots = population.slots();
    let tie_salt = stream(scenario.seed, StreamDomain::TieOrder, u64::from(id)).next_u32();
    let own = population.maker_slot(id);
    match &config.tiering {
        TieringConfig::AverageYield(d) => {
            CounterpartyBook::dynamic(ScoreKind::AverageYield, d, slots, own, tie_salt, method)
        }
        TieringConfig::RevenueRate(d) => {
            CounterpartyBook::dynamic(ScoreKind::RevenueRate, d, slots, own, tie_salt, method)
        }
        TieringConfig::Fixed(fixed) => {
            let investors = population.investors as usize;
            CounterpartyBook::fixed(fixed, slots, |slot| {
                let explicit = if slot < investors {
                    fixed.investors.get(&(slot as u32))
                } else {
                    scenario
                        .market_makers
                        .get(slot - investors)
                        .and_then(|m| fixed.market_makers.get(&m.name))
                };
                explicit.copied().unwrap_or(fixed.default_tier)
            })
        }
    }
}

/// What `run_to_directory` produced.
#[derive(Debug)]
pub struct RunReport {
    /// Per-market-maker results.
    pub summary: Vec<MakerSummary>,
    /// The manifest written.
    pub manifest: Manifest,
    /// Final paths of the files written.
    pub files: Vec<std::path::PathBuf>,
}

/// Runs `scenario` to completion and writes its outputs to `out_dir`: `metrics`,
/// optional `trades` and `tiers`, `summary`, `scenario.ron` and `manifest.json`. Files are
/// staged under temporary names and renamed only when the whole run succeeded.
/// `scenario_source` is recorded in the manifest; `on_tick` sees the ticks done.
///
/// # Errors
/// [`SimError`] from building, running or writing; on error nothing is left in `out_dir`
/// except what was there before.
pub fn run_to_directory(
    scenario: &Scenario,
    scenario_source: &str,
    out_dir: &Path,
    on_tick: impl FnMut(u32),
) -> Result<RunReport, SimError> {
    output::leave_nothing_on_error(out_dir, || {
        run_and_write(scenario, scenario_source, out_dir, on_tick)
    })
}

fn run_and_write(
    scenario: &Scenario,
    scenario_source: &str,
    out_dir: &Path,
    on_tick: impl FnMut(u32),
) -> Result<RunReport, SimError> {
    let mut simulation = Simulation::new(scenario)?;
    let resolved = scenario.to_ron()?;
    let mut staged = StagedOutput::create(out_dir)?;
    let format = match scenario.output.format {
        OutputFormat::Parquet => TableFormat::Parquet,
        OutputFormat::Csv => TableFormat::Csv,
    };
    let snapshot_every = scenario.output.tier_snapshot_every;
    simulation.set_recorder(Recorder {
        metrics: Some(staged.table("metrics", METRICS_COLUMNS, format)?),
        trades: if scenario.output.trades {
            Some(staged.table("trades", TRADE_COLUMNS, format)?)
        } else {
            None
        },
        tiers: if snapshot_every > 0 {
            Some(staged.table("tiers", TIER_COLUMNS, format)?)
        } else {
            None
        },
        tier_snapshot_every: snapshot_every,
        maker_names: scenario
            .market_makers
            .iter()
            .map(|m| m.name.clone())
            .collect(),
        error: None,
    });

    let started = Instant::now();
    simulation.run(on_tick)?;
    let wall_time_seconds = started.elapsed().as_secs_f64();

    let recorder = simulation.take_recorder();
    let mut files = Vec::new();
    for table in [recorder.metrics, recorder.trades, recorder.tiers]
        .into_iter()
        .flatten()
    {
        let finished = table.finish()?;
        files.push(manifest_entry(finished.final_path(), Some(finished.rows())));
        staged.add_table(finished);
    }
    let summary = simulation.summary();
    let mut summary_table = staged.table("summary", SUMMARY_COLUMNS, format)?;
    for s in &summary {
        summary_table.write_row(&[
            Cell::Str(&s.name),
            Cell::U64(s.trades),
            Cell::F64(s.volume),
            Cell::F64(s.market_share),
            Cell::F64(s.hedged_out),
            Cell::F64(s.hedged_in),
            Cell::F64(s.final_position),
            Cell::F64(s.final_cash),
            Cell::F64(s.reward.spread_revenue),
            Cell::F64(s.reward.position_revenue),
            Cell::F64(s.reward.hedging_cost),
            Cell::F64(s.reward.risk_cost),
            Cell::F64(s.reward.total()),
        ])?;
    }
    let finished = summary_table.finish()?;
    files.push(manifest_entry(finished.final_path(), Some(finished.rows())));
    staged.add_table(finished);

    staged.add_file("scenario.ron", resolved.as_bytes())?;
    files.push(ManifestFile {
        name: "scenario.ron".into(),
        rows: None,
    });
    files.push(ManifestFile {
        name: "manifest.json".into(),
        rows: None,
    });
    let manifest = Manifest {
        dealersim_version: env!("CARGO_PKG_VERSION"),
        scenario_name: scenario.name.clone(),
        scenario_source: scenario_source.to_string(),
        scenario_sha256: sha256_hex(resolved.as_bytes()),
        seed: scenario.seed,
        steps: scenario.steps,
        investors: scenario.investor_count(),
        market_makers: scenario.market_makers.len() as u64,
        rng: "Xoshiro256++ per entity, seeded by SplitMix64(seed, domain, id)",
        files,
        wall_time_seconds,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    staged.add_file("manifest.json", &manifest_json)?;
    let files = staged.commit()?;
    remove_stale_tables(out_dir, &files);
    Ok(RunReport {
        summary,
        manifest,
        files,
    })
}

/// Table files an earlier run may have left in `dir` that this run did not write (say
/// `trades.parquet` from a run with trades on, or the other format's files): removed so
/// that the directory describes one run only. Only dealersim's own table names are
/// touched, and failures to remove are logged, not fatal (the run itself succeeded).
fn remove_stale_tables(dir: &Path, written: &[std::path::PathBuf]) {
    for stem in ["metrics", "trades", "tiers", "summary"] {
        for format in [TableFormat::Parquet, TableFormat::Csv] {
            let path = dir.join(format!("{stem}.{}", format.extension()));
            if path.exists()
                && !written.contains(&path)
                && let Err(error) = std::fs::remove_file(&path)
            {
                tracing::warn!("cannot remove stale output {}: {error}", path.display());
            }
        }
    }
}

fn manifest_entry(path: &Path, rows: Option<u64>) -> ManifestFile {
    ManifestFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
    }
}
