//! Criterion benches of each tick phase's kernel (PriceProcess, Arrivals, Tiering,
//! Pricing, Matching, Hedging, Reward, Record), plus one whole tick. Inputs are built
//! in setup, never in the timed routine. Run: `cargo bench --bench kernels`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dealersim::Simulation;
use dealersim::bench::load_scaling_study;
use dealersim::market::price_process::{GbmStep, PricePath, ReferenceSpreadLaw};
use dealersim::market::reference_curve::CurveShape;
use dealersim::mechanisms::dealer_market::config_of;
use dealersim::mechanisms::dealer_market::hedging_schedule::{HedgeProblem, solve};
use dealersim::mechanisms::dealer_market::investors::{ArrivalSampler, TradeProfile, decide_trade};
use dealersim::mechanisms::dealer_market::order_statistics::TieOrder;
use dealersim::mechanisms::dealer_market::population::population_profiles;
use dealersim::mechanisms::dealer_market::pricing::QuoteCurve;
use dealersim::mechanisms::dealer_market::pricing::best_quote;
use dealersim::mechanisms::dealer_market::records::TradeRow;
use dealersim::mechanisms::dealer_market::tiering::{
    CounterpartyBook, RankEntry, Ranked, ScoreKind, ScoreParams, TieringMethod,
    assign_quantile_tiers,
};
use dealersim::output::row::TableRow;
use dealersim::output::table::{StagedOutput, TableFormat};
use dealersim::rng::{Stream, StreamDomain, stream};
use dealersim::scenario::parse_scenario;
use rand::{RngExt, SeedableRng};

/// An average-yield book over `slots` counterparties with the default tiering, kept by
/// the incremental method (the last slot is the market maker's own).
fn incremental_book(slots: usize) -> CounterpartyBook {
    CounterpartyBook::dynamic(
        ScoreKind::AverageYield,
        &ScoreParams::default(),
        slots,
        slots - 1,
        9,
        TieringMethod::Incremental,
    )
}

fn pricing(c: &mut Criterion) {
    let shape = CurveShape::new(1.6, 10_000.0);
    let sizes: Vec<f64> = (0..1000).map(|i| 0.5 + i as f64 * 0.9).collect();
    let mut group = c.benchmark_group("pricing");
    group.throughput(Throughput::Elements(sizes.len() as u64));
    group.bench_function("reference_curve_ratio_x1000", |b| {
        b.iter(|| {
            sizes
                .iter()
                .map(|&v| shape.ratio(black_box(v)).unwrap_or(1.0))
                .sum::<f64>()
        })
    });
    group.finish();
}

fn price_process(c: &mut Criterion) {
    // One tick of the PriceProcess phase: the next price of the look-ahead GBM path
    // and a draw of the reference spread s0.
    let step = GbmStep::new(0.0, 0.3, 1.0 / 35_040.0);
    let law = ReferenceSpreadLaw {
        mean: 7.5e-5,
        std_dev: 2e-5,
        min: 1e-5,
        max: 2e-4,
    };
    let mut group = c.benchmark_group("price_process");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("gbm_price_and_spread_x1000", |b| {
        b.iter_batched(
            || {
                (
                    PricePath::new(100.0, step, stream(1, StreamDomain::MidPrice, 0)),
                    stream(1, StreamDomain::ReferenceSpread, 0),
                )
            },
            |(mut path, mut rng)| {
                (0..1_000u64)
                    .map(|t| {
                        let price = path.price(t);
                        path.forget_before(t);
                        price * law.sample(&mut rng)
                    })
                    .sum::<f64>()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn reward(c: &mut Criterion) {
    // The Reward phase's per-trade work: position revenue, the trade's yield, and the
    // yield into the quoting book's score of the counterparty (a 1M-slot incremental
    // book; trades from 150k counterparties so the pending set stays bounded).
    let n = 1_000_000usize;
    let mut book = incremental_book(n);
    let trades: Vec<(usize, f64, f64, f64)> = (0..2_000u64)
        .map(|i| {
            let slot = (i.wrapping_mul(2_654_435_761) % 150_000 * 5) as usize;
            let size = if i % 2 == 0 { 3.0 } else { -1.5 };
            (slot, size, 100.0 + (i % 7) as f64 * 0.01, 2e-4)
        })
        .collect();
    let mut group = c.benchmark_group("reward");
    group.throughput(Throughput::Elements(trades.len() as u64));
    group.bench_function("settle_2k_trades_1m_slot_book", |b| {
        b.iter(|| {
            let price = black_box(100.02);
            let mut revenue = 0.0;
            for &(slot, size, mid, spread_revenue) in &trades {
                let position_revenue = (price - mid) * size;
                let trade_yield = (spread_revenue + position_revenue) / (size.abs() * mid);
                book.record_yield(slot, trade_yield);
                revenue += position_revenue;
            }
            revenue
        })
    });
    group.finish();
}

fn record(c: &mut Criterion) {
    // The Record phase's kernel: one tick's 2,000 trade rows into a streamed table.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(2_000));
    for format in [TableFormat::Csv, TableFormat::Parquet] {
        let staged =
            StagedOutput::create(&dir.path().join(format.extension())).expect("staging directory");
        let mut table = staged
            .table(TradeRow::TABLE.name, TradeRow::TABLE.columns, format)
            .expect("trades table");
        group.bench_function(format!("trades_2k_rows_{}", format.extension()), |b| {
            b.iter(|| {
                for i in 0..2_000u32 {
                    TradeRow {
                        tick: i / 20,
                        kind: "investor",
                        market_maker: "MM07",
                        counterparty: i.wrapping_mul(2_654_435_761) % 1_000_000,
                        maker_size: f64::from(i % 97) * -0.37,
                        spread: 7.5e-5 + f64::from(i % 13) * 1e-6,
                        price: 100.0 + f64::from(i % 31) * 0.01,
                        tier: i % 5,
                        informed: i % 10 == 0,
                    }
                    .write_to(&mut table)
                    .expect("row");
                }
            })
        });
    }
    group.finish();
}

fn arrivals(c: &mut Criterion) {
    let profile = TradeProfile {
        p_trade: 0.04,
        size_log_mean: 0.5,
        size_log_sd: 0.5,
        p_buy: 0.5,
        informed_probability: 0.1,
    };
    let n = 100_000u64;
    let mut group = c.benchmark_group("arrivals");
    group.throughput(Throughput::Elements(n));
    group.bench_function("decide_trade_100k_investors", |b| {
        let mut rngs: Vec<_> = (0..n)
            .map(|i| stream(1, StreamDomain::Investor, i))
            .collect();
        b.iter(|| {
            rngs.iter_mut()
                .filter_map(|rng| decide_trade(&profile, rng, 1000.0, Some(true)))
                .count()
        })
    });
    group.finish();

    // Skip-sampling the scaling study's own populations (`scenarios/bench/scaling.ron`,
    // 2,000 expected trades a tick) at 10k and 10M investors.
    let study = load_scaling_study().expect("bundled scaling study");
    let mut group = c.benchmark_group("arrivals");
    for investors in [10_000u32, 10_000_000] {
        let scenario = study.scenario_for(investors).expect("study scenario");
        let mut sampler = ArrivalSampler::without_entities(
            population_profiles(
                &config_of(&scenario).expect("a dealer market").investors,
                scenario.seed,
            ),
            scenario.seed,
        );
        group.throughput(Throughput::Elements(study.trades_per_tick as u64));
        group.bench_function(
            format!("skip_sample_{investors}_investors_2k_trades"),
            |b| {
                b.iter(|| {
                    let mut traded = 0u32;
                    sampler.sample(|m| traded += m.id.0 & 1);
                    traded
                })
            },
        );
    }
    group.finish();
}

fn tiering(c: &mut Criterion) {
    let n = 1_000_000usize;
    let mut rng = Stream::seed_from_u64(7);
    let order = TieOrder::new(n as u32, 0x5EED);
    let scores: Vec<RankEntry> = (0..n as u32)
        .map(|i| {
            let place = Ranked {
                score: rng.random::<f64>(),
                key: order.key(i),
            };
            (place, i)
        })
        .collect();
    let mut tiers = vec![0u8; n];
    let mut group = c.benchmark_group("tiering");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("quantile_tiers_1m_k5", |b| {
        b.iter_batched_ref(
            || scores.clone(),
            |ranked| assign_quantile_tiers(ranked, 5, &mut tiers),
            BatchSize::LargeInput,
        )
    });

    // The incremental method: a 1M-slot book whose trades come from 150k counterparties
    // spread over the slots (every fifth slot below 750k), so the scored set stays about
    // that size however many iterations criterion runs; per iteration 2,000 new yields,
    // a re-tier, and 10,000 tier look-ups.
    let mut book = incremental_book(n);
    let mut trade = move |book: &mut CounterpartyBook| {
        let slot = rng.random_range(0..150_000) * 5;
        book.record_yield(slot, rng.random::<f64>() - 0.5);
    };
    for _ in 0..1_000_000 {
        trade(&mut book);
    }
    book.retier(0);
    let mut tick = 0;
    group.throughput(Throughput::Elements(2_000));
    group.bench_function("incremental_retier_1m_slots_2k_updates_k5", |b| {
        b.iter(|| {
            tick += 1;
            for _ in 0..2_000 {
                trade(&mut book);
            }
            book.retier(tick);
            (0..10_000usize)
                .map(|i| u32::from(book.tier(i * 97 % (n - 1))))
                .sum::<u32>()
        })
    });
    group.finish();
}

fn matching(c: &mut Criterion) {
    let shape = CurveShape::new(1.6, 10_000.0);
    let curves: Vec<QuoteCurve> = (0..20)
        .map(|i| QuoteCurve {
            alpha: 1.1 + 0.03 * f64::from(i),
            tier_penalty: 2e-5,
        })
        .collect();
    let orders: Vec<(f64, u8)> = (0..10_000)
        .map(|i| (0.5 + (i % 97) as f64, (i % 5) as u8))
        .collect();
    let mut group = c.benchmark_group("matching");
    group.throughput(Throughput::Elements(orders.len() as u64));
    group.bench_function("best_of_20_quotes_10k_orders", |b| {
        let mut quotes = Vec::with_capacity(curves.len());
        b.iter(|| {
            orders
                .iter()
                .map(|&(size, tier)| {
                    let log_ratio = shape.ratio(size).unwrap_or(1.0).ln();
                    quotes.clear();
                    quotes.extend(curves.iter().map(|c| c.spread(7.5e-5, log_ratio, tier)));
                    best_quote(&quotes, 0.5).map_or(0, |(i, _)| i)
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

fn hedging(c: &mut Criterion) {
    let shape = CurveShape::new(1.6, 1_000.0);
    let spread = |v: f64| 7.5e-5 * shape.ratio(v).map_or(f64::INFINITY, |r| r.powf(1.3)) + 2e-5;
    let mut group = c.benchmark_group("hedging");
    for (name, position) in [
        ("solve_n20_small_position", 5.0),
        ("solve_n20_large_position", 800.0),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                solve(&HedgeProblem {
                    position: black_box(position),
                    horizon: 20,
                    risk_aversion: 0.5,
                    volatility: 0.30 * (1.0f64 / 35_040.0).sqrt(),
                    max_slice: 999.0,
                    spread: &spread,
                })
                .slices[0]
            })
        });
    }
    group.finish();
}

fn whole_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(10);
    // Same market at three population sizes: the per-tick cost should scale linearly.
    for investors in [10_000u32, 100_000, 1_000_000] {
        let text = format!(
            r#"Scenario(
            steps: 1000000,
            mechanisms: [
                DealerMarket(
                    investors: [Group(count: {investors}, p_trade: LogUniform(min: 0.0052083, max: 0.125), size_mean: LogUniform(min: 0.5, max: 7.0))],
                    market_makers: [(name: "A", alpha: 1.2), (name: "B", alpha: 1.4), (name: "C", alpha: 1.3, tiering: RevenueRate())],
                ),
            ],
        )"#
        );
        let scenario =
            parse_scenario(&text, Path::new("bench.ron")).expect("bench scenario parses");
        let mut sim = Simulation::new(&scenario).expect("bench scenario is valid");
        group.throughput(Throughput::Elements(u64::from(investors)));
        group.bench_function(format!("tick_{investors}_investors_3_makers"), |b| {
            b.iter(|| sim.step().expect("step"))
        });
    }
    group.finish();
}

/// 4,096 Avellaneda–Stoikov environments stepped 200 times with the inventory strategy
/// (γ = 0.1): through the batch API (quotes computed by the caller, steps in parallel),
/// and as whole episodes in parallel (`rollouts`).
fn quote_control(c: &mut Criterion) {
    use dealersim::mechanisms::quote_control::experiments::{load_preset, rollouts};
    use dealersim::mechanisms::quote_control::market_making::{MarketMakingConfig, VecEnv};
    use dealersim::mechanisms::quote_control::policies::{AvellanedaStoikov, Centre, QuotePolicy};
    let mut group = c.benchmark_group("quote_control");
    group.sample_size(20);
    let config = MarketMakingConfig::default();
    group.throughput(Throughput::Elements(4096 * 200));
    group.bench_function("vec_env_4096_envs_200_steps", |b| {
        let mut batch = VecEnv::new(&config, 4096);
        let mut policy = AvellanedaStoikov::new(0.1, config.sigma, config.k, Centre::Reservation);
        let mut rng = dealersim::rng::stream(1, dealersim::rng::StreamDomain::QuoteControl, 0);
        b.iter(|| {
            let mut observations = batch.reset(1);
            for _ in 0..200 {
                let actions: Vec<_> = observations
                    .iter()
                    .map(|o| policy.quote(o, &mut rng))
                    .collect();
                observations = batch.step(&actions).iter().map(|s| s.observation).collect();
            }
            observations
        })
    });
    let preset = load_preset("avellaneda-stoikov").expect("bundled preset");
    group.bench_function("rollouts_4096_episodes_200_steps", |b| {
        b.iter(|| rollouts(&preset, "inventory", 0.1, 4096).expect("rollouts"))
    });
    group.finish();
}

fn dealer_pairs(c: &mut Criterion) {
    use dealersim::mechanisms::dealer_pairs::opl::{
        InvestorNeeds, OplBounds, SupplyItem, candidate_count, match_investor,
    };
    let mut group = c.benchmark_group("dealer_pairs");
    // The bundled scenario's OPL: a window of 8, portfolios of 2 to 4 strips (154
    // candidates), σ from 5% to 30%, a five-year investor who finds a match.
    let window: Vec<SupplyItem> = (0..8)
        .map(|i| SupplyItem {
            available: 1.0,
            dealer_value: 5_000.0 + 700.0 * i as f64,
            market_value: 5_000.0 + 700.0 * i as f64,
            volatility: 0.05 + 0.03 * i as f64,
        })
        .collect();
    let needs = InvestorNeeds {
        cash: 8_000.0,
        value_per_cash: 1.0 / 1.01,
        horizon: 5.0,
        growth_to_horizon: 1.05f64.powi(5),
        risk_aversion: 2.5,
        tail_tolerance: 0.2,
        loss_level: 8_000.0,
        reservation: 8_000.0 * 1.01f64.powi(5),
    };
    let bounds = OplBounds {
        min_strips: 2,
        max_strips: 4,
        chunk: 64,
    };
    group.throughput(Throughput::Elements(candidate_count(8, bounds)));
    group.bench_function("opl_one_investor_154_candidates", |b| {
        b.iter(|| match_investor(&window, &needs, bounds, u64::MAX))
    });
    group.finish();
}

criterion_group!(
    benches,
    dealer_pairs,
    quote_control,
    price_process,
    arrivals,
    tiering,
    pricing,
    matching,
    hedging,
    reward,
    record,
    whole_tick
);
criterion_main!(benches);
