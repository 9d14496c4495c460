//! The quote-control environment: Hawkes counts against their closed form, the
//! Avellaneda–Stoikov comparison's pattern, batches deterministic at any thread count,
//! and bad presets located.

use dealersim::experiments::Progress;
use dealersim::mechanisms::quote_control::experiments::{compare, load_preset, parse_preset};
use dealersim::mechanisms::quote_control::hawkes::Hawkes;
use dealersim::mechanisms::quote_control::market_making::{
    MarketMakingConfig, MarketMakingEnv, Quotes, VecEnv, fill_probability,
};
use dealersim::rng::{StreamDomain, stream};
use dealersim::scenario::Checker;

#[test]
fn hawkes_mean_count_matches_the_closed_form_within_three_standard_errors() {
    for h in [
        Hawkes {
            mu: 2.0,
            alpha: 1.0,
            beta: 2.0,
        },
        Hawkes {
            mu: 0.5,
            alpha: 3.0,
            beta: 4.0,
        },
    ] {
        let horizon = 5.0;
        let paths = 20_000u64;
        let counts: Vec<f64> = (0..paths)
            .map(|p| {
                let mut rng = stream(17, StreamDomain::QuoteControl, p);
                h.sample_counts(horizon, 50, &mut rng)
                    .iter()
                    .map(|&c| f64::from(c))
                    .sum()
            })
            .collect();
        let mean = counts.iter().sum::<f64>() / paths as f64;
        let var = counts.iter().map(|c| (c - mean) * (c - mean)).sum::<f64>() / (paths - 1) as f64;
        let se = (var / paths as f64).sqrt();
        let expected = h.mean_count(horizon);
        assert!(
            (mean - expected).abs() < 3.0 * se,
            "{h:?}: mean {mean} against {expected} (se {se})"
        );
        // The excitation matters: a Poisson process of rate μ would be far off.
        assert!(expected > h.mu * horizon * 1.4);
    }
}

#[test]
fn a_branching_ratio_of_one_or_more_is_refused() {
    for (alpha, ok) in [(0.5, true), (1.0, false), (2.0, false)] {
        let mut checker = Checker::default();
        Hawkes {
            mu: 1.0,
            alpha,
            beta: 1.0,
        }
        .validate("arrivals", &mut checker);
        let problems = checker.into_problems();
        assert_eq!(problems.is_empty(), ok, "{problems:?}");
        if !ok {
            assert_eq!(problems[0].path, "arrivals.alpha");
            assert!(problems[0].message.contains("branching ratio"));
        }
    }
}

#[test]
fn the_avellaneda_stoikov_comparison_shows_the_papers_pattern() {
    let preset = load_preset("avellaneda-stoikov").expect("bundled preset");
    let names = vec!["inventory".to_owned(), "symmetric".to_owned()];
    let rows = compare(&preset, &names, 1000, &Progress::silent()).expect("runs");
    assert_eq!(rows.len(), 6);
    // The paper's symmetric strategy (Tables 1-3): profit mean, profit sd, q sd.
    let paper_symmetric = [
        (0.1, 67.21, 13.43, 8.66),
        (0.01, 67.36, 13.40, 8.65),
        (0.5, 66.20, 14.53, 9.06),
    ];
    for (gamma, profit, sd, q_sd) in paper_symmetric {
        let row = |name: &str| {
            rows.iter()
                .find(|r| r.gamma == gamma && r.strategy == name)
                .expect("row")
        };
        let (inventory, symmetric) = (row("inventory"), row("symmetric"));
        // The inventory strategy trades a little profit for much less risk.
        assert!(
            inventory.profit_sd < 0.75 * symmetric.profit_sd,
            "γ = {gamma}"
        );
        assert!(inventory.q_sd < 0.6 * symmetric.q_sd, "γ = {gamma}");
        assert!(inventory.profit_mean < symmetric.profit_mean, "γ = {gamma}");
        // Within a few standard errors of the paper (sd/√1000 ≈ 0.45 for the mean).
        assert!(
            (symmetric.profit_mean - profit).abs() < 2.0,
            "γ = {gamma}: {}",
            symmetric.profit_mean
        );
        assert!(
            (symmetric.profit_sd / sd - 1.0).abs() < 0.1,
            "γ = {gamma}: {}",
            symmetric.profit_sd
        );
        assert!(
            (symmetric.q_sd / q_sd - 1.0).abs() < 0.1,
            "γ = {gamma}: {}",
            symmetric.q_sd
        );
        // By construction (both rows report the paper's constant spread at γ), as the
        // paper's tables print one spread for both strategies.
        assert_eq!(inventory.spread, symmetric.spread);
    }
}

#[test]
fn a_batch_is_the_same_at_one_and_two_threads_and_equals_single_environments() {
    let config = MarketMakingConfig::default();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut batch = VecEnv::new(&config, 64);
            let mut observations = batch.reset(5);
            let mut trace = Vec::new();
            for _ in 0..config.steps() {
                let actions: Vec<Quotes> = observations
                    .iter()
                    .map(|o| Quotes {
                        bid: o.mid - 0.6,
                        ask: o.mid + 0.7,
                    })
                    .collect();
                let steps = batch.step(&actions);
                observations = steps.iter().map(|s| s.observation).collect();
                trace.extend(
                    steps
                        .iter()
                        .map(|s| (s.reward.to_bits(), s.observation.inventory)),
                );
            }
            (trace, observations)
        })
    };
    let (one, last_one) = run(1);
    let (two, last_two) = run(2);
    assert_eq!(one, two);
    assert_eq!(last_one, last_two);
    // Environment 7 of the batch is path 7 of the seed, stepped alone.
    let mut env = MarketMakingEnv::new(config.clone());
    let mut o = env.reset_path(5, 7);
    for _ in 0..config.steps() {
        o = env
            .step(Quotes {
                bid: o.mid - 0.6,
                ask: o.mid + 0.7,
            })
            .observation;
    }
    assert_eq!(o, last_one[7]);
    // A step past the horizon changes nothing.
    let after = env.step(Quotes { bid: 0.0, ask: 1e9 });
    assert!(after.terminated && after.reward == 0.0 && after.observation == o);
}

#[test]
fn fill_probabilities_are_capped_at_one_and_reported() {
    // At the mid the probability is A·dt = 0.7.
    assert_eq!(
        fill_probability(140.0, 1.5, 0.0, 0.005),
        (0.7000000000000001, false)
    );
    let (p, capped) = fill_probability(140.0, 1.5, 0.645, 0.005);
    assert!(!capped && (p - 140.0 * (-1.5f64 * 0.645).exp() * 0.005).abs() < 1e-15);
    // A quote far through the mid: A·e^{kδ}·dt = 140·e^{3}·0.005 ≈ 14 > 1.
    let (p, capped) = fill_probability(140.0, 1.5, -2.0, 0.005);
    assert!(capped && p == 1.0);
}

#[test]
fn bad_presets_are_refused_with_positions() {
    let text = r#"QuoteControlPreset(
    name: "bad",
    env: MarketMaking(sigma: -1.0, dt: 2.0, k: 0.0),
    gammas: [],
    baselines: (epsilon: 1.5),
)"#;
    let error = parse_preset(text, "bad.ron")
        .expect_err("invalid")
        .to_string();
    for expected in [
        "bad.ron:3:",
        "env.sigma: must be ≥ 0",
        "env.dt: must be at most the horizon",
        "env.k: must be > 0",
        "gammas: give at least one γ",
        "bad.ron:5:",
        "baselines.epsilon",
    ] {
        assert!(error.contains(expected), "{expected}\n{error}");
    }
    let error = parse_preset("QuoteControlPreset(name: \"x\", env: Auction())", "x.ron")
        .expect_err("unknown variant")
        .to_string();
    assert!(error.contains("x.ron:1:"), "{error}");
}

const AGENTS: &str = r#"Scenario(
    seed: 1,
    steps: 200,
    mechanisms: [QuoteControl(
        agents: [
            (name: "inv", count: 50, policy: Inventory(0.1)),
            (name: "sym", count: 20, policy: Symmetric(0.1)),
            (name: "learn", count: 10, policy: EpsilonGreedy(arms: [0.3, 0.6, 0.9], epsilon: 0.2)),
        ],
    )],
)"#;

/// The `quote_summary` cell of `column` in `row`, looked up by the column's name.
fn summary_cell<'a>(
    rows: &'a [Vec<dealersim::experiments::OwnedCell>],
    row: usize,
    column: &str,
) -> &'a dealersim::experiments::OwnedCell {
    use dealersim::mechanisms::quote_control::mechanism::QuoteSummaryRow;
    use dealersim::output::row::TableRow;
    let index = QuoteSummaryRow::TABLE
        .columns
        .iter()
        .position(|c| c.name == column)
        .unwrap_or_else(|| panic!("quote_summary has no column {column}"));
    &rows[row][index]
}

fn scenario(text: &str) -> dealersim::Scenario {
    dealersim::scenario::parse_scenario(text, std::path::Path::new("agents.ron")).expect("parses")
}

#[test]
fn agents_in_the_tick_run_the_same_paths_as_compare() {
    use dealersim::mechanisms::quote_control::experiments::rollouts;
    let mut sim = dealersim::Simulation::new(&scenario(AGENTS)).expect("valid");
    sim.run(|_| {}).expect("runs");
    assert!(
        sim.accounting_residual() < 1e-12,
        "{}",
        sim.accounting_residual()
    );
    let summaries = sim.summaries();
    let rows = &summaries[0].rows;
    // One episode of 200 steps each: agent a ran path a, as compare's path a.
    let preset = load_preset("avellaneda-stoikov").expect("bundled");
    let episodes = rollouts(&preset, "inventory", 0.1, 50).expect("rollouts");
    let mean = episodes.iter().map(|e| e.profit).sum::<f64>() / 50.0;
    let dealersim::experiments::OwnedCell::F64(profit_mean) = *summary_cell(rows, 0, "profit_mean")
    else {
        panic!("profit_mean is a float: {:?}", rows[0]);
    };
    assert!(
        (profit_mean - mean).abs() < 1e-9,
        "{profit_mean} against {mean}"
    );
    assert_eq!(
        *summary_cell(rows, 0, "episodes"),
        dealersim::experiments::OwnedCell::U64(50)
    );
}

#[test]
fn a_quote_control_run_is_byte_identical_at_one_and_two_threads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("agents.ron");
    std::fs::write(&file, AGENTS.replace("steps: 200", "steps: 450")).expect("write");
    let run = |threads: &str| {
        let out = dir.path().join(format!("out{threads}"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_dealersim"))
            .args([
                "run",
                file.to_str().expect("utf-8"),
                "--quiet",
                "--out",
                out.to_str().expect("utf-8"),
            ])
            .env("RAYON_NUM_THREADS", threads)
            .status()
            .expect("run");
        assert!(status.success());
        [
            "quote_groups.parquet",
            "quote_summary.parquet",
            "scenario.ron",
        ]
        .map(|f| std::fs::read(out.join(f)).expect("output"))
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn bad_quote_control_scenarios_are_refused_with_field_paths() {
    let bad = r#"Scenario(
    mechanisms: [QuoteControl(
        env: (dt: 2.0, k: -1.0),
        agents: [
            (name: "", count: 0, policy: Inventory(-0.1)),
            (name: "a", count: 1, policy: EpsilonGreedy(arms: [], epsilon: 2.0)),
            (name: "a", count: 1, policy: RandomWalk(start: 0.5, step: -1.0, min: 1.0, max: 0.5)),
        ],
    )],
)"#;
    let problems = dealersim::scenario::validate(&scenario(bad));
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "mechanisms[0].env.dt",
        "mechanisms[0].env.k",
        "mechanisms[0].agents[0].name",
        "mechanisms[0].agents[0].count",
        "mechanisms[0].agents[0].policy",
        "mechanisms[0].agents[1].policy.arms",
        "mechanisms[0].agents[1].policy.epsilon",
        "mechanisms[0].agents[2].name",
        "mechanisms[0].agents[2].policy.step",
        "mechanisms[0].agents[2].policy.max",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    let empty = dealersim::scenario::validate(&scenario(
        "Scenario(mechanisms: [QuoteControl(agents: [])])",
    ));
    assert_eq!(empty[0].path, "mechanisms[0].agents");
}

#[test]
fn retail_policies_meet_the_same_shoppers() {
    use dealersim::mechanisms::quote_control::retail_compare::compare_retail;
    let mut preset = load_preset("retail-pricing").expect("bundled");
    // Cost-plus at 50% prices at 15, the fixed price: on common random numbers the two
    // must agree exactly.
    preset.baselines.markup = 0.5;
    let names: Vec<String> = ["fixed", "cost-plus", "random", "epsilon-greedy"]
        .map(String::from)
        .to_vec();
    let rows = compare_retail(&preset, &names, 200, &Progress::silent()).expect("runs");
    assert_eq!(rows[0].profit_mean.to_bits(), rows[1].profit_mean.to_bits());
    assert_eq!(rows[0].sales_mean, rows[1].sales_mean);
    // Scrapers come at their own 2 sessions a day.
    assert!(
        (rows[0].scrapers_mean / 365.0 - 2.0).abs() < 0.1,
        "{}",
        rows[0].scrapers_mean
    );
    // A steady 15 never undercuts the rival (at 15) into a war; a walk down does.
    assert_eq!(rows[0].war_share, 0.0);
    assert!(rows[2].war_share > 0.0);
    // A market-making policy is refused by name for a retail preset.
    assert!(compare_retail(&preset, &["inventory".to_owned()], 1, &Progress::silent()).is_err());
}

#[test]
fn retail_hawkes_arrivals_average_the_closed_form() {
    use dealersim::mechanisms::quote_control::retail::{Arrivals, RetailConfig, RetailEnv};
    let config = RetailConfig {
        steps: 50,
        arrivals: Arrivals::Hawkes {
            mu: 2.0,
            alpha: 0.5,
            beta: 1.0,
        },
        ..RetailConfig::default()
    };
    let expected = Hawkes {
        mu: 2.0,
        alpha: 0.5,
        beta: 1.0,
    }
    .mean_count(50.0);
    let mut env = RetailEnv::new(config);
    let paths = 4000u64;
    let mut totals = Vec::new();
    for p in 0..paths {
        env.reset_path(3, p);
        let mut total = 0.0;
        loop {
            let step = env.step(15.0);
            total += f64::from(step.arrivals);
            if step.terminated {
                break;
            }
        }
        totals.push(total);
    }
    let mean = totals.iter().sum::<f64>() / paths as f64;
    let var = totals.iter().map(|t| (t - mean) * (t - mean)).sum::<f64>() / (paths - 1) as f64;
    let se = (var / paths as f64).sqrt();
    assert!(
        (mean - expected).abs() < 3.0 * se,
        "{mean} against {expected} (se {se})"
    );
}

#[test]
fn comparisons_are_the_same_at_one_and_two_threads() {
    use dealersim::mechanisms::quote_control::retail_compare::compare_retail;
    let market = load_preset("avellaneda-stoikov").expect("bundled");
    let retail = load_preset("retail-pricing").expect("bundled");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let names: Vec<String> = ["inventory", "symmetric", "random", "epsilon-greedy"]
                .map(String::from)
                .to_vec();
            let a = compare(&market, &names, 300, &Progress::silent()).expect("market");
            let names: Vec<String> = ["random", "epsilon-greedy"].map(String::from).to_vec();
            let b = compare_retail(&retail, &names, 300, &Progress::silent()).expect("retail");
            (format!("{a:?}"), format!("{b:?}"))
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn hawkes_order_flow_fills_when_any_order_reaches_the_quote() {
    use dealersim::mechanisms::quote_control::market_making::OrderFlow;
    // Without excitation the orders are Poisson(μ·dt) a step, so a quote δ away fills
    // with probability 1 − exp(−μ·e^{−kδ}·dt).
    let config = MarketMakingConfig {
        order_flow: OrderFlow::Hawkes {
            mu: 140.0,
            alpha: 0.0,
            beta: 1.0,
        },
        ..MarketMakingConfig::default()
    };
    let delta = 0.6;
    let p = 1.0 - (-140.0 * (-1.5f64 * delta).exp() * 0.005).exp();
    let mut env = MarketMakingEnv::new(config.clone());
    let (mut fills, mut trials) = (0u64, 0u64);
    for path in 0..400 {
        let mut o = env.reset_path(9, path);
        for _ in 0..config.steps() {
            let step = env.step(Quotes {
                bid: o.mid - delta,
                ask: o.mid + delta,
            });
            fills += u64::from(step.info.ask_filled) + u64::from(step.info.bid_filled);
            trials += 2;
            o = step.observation;
        }
    }
    let freq = fills as f64 / trials as f64;
    let se = (p * (1.0 - p) / trials as f64).sqrt();
    assert!((freq - p).abs() < 3.0 * se, "{freq} against {p} (se {se})");
    // Excitation clusters the orders: at the same baseline more fills come.
    let excited = MarketMakingConfig {
        order_flow: OrderFlow::Hawkes {
            mu: 140.0,
            alpha: 50.0,
            beta: 100.0,
        },
        ..MarketMakingConfig::default()
    };
    let mut env = MarketMakingEnv::new(excited);
    let mut more = 0u64;
    for path in 0..400 {
        let mut o = env.reset_path(9, path);
        for _ in 0..config.steps() {
            let step = env.step(Quotes {
                bid: o.mid - delta,
                ask: o.mid + delta,
            });
            more += u64::from(step.info.ask_filled) + u64::from(step.info.bid_filled);
            o = step.observation;
        }
    }
    assert!(more > fills, "{more} against {fills}");
    // An explosive flow is refused.
    let mut checker = Checker::default();
    MarketMakingConfig {
        order_flow: OrderFlow::Hawkes {
            mu: 1.0,
            alpha: 2.0,
            beta: 1.0,
        },
        ..MarketMakingConfig::default()
    }
    .validate("env", &mut checker);
    assert_eq!(checker.into_problems()[0].path, "env.order_flow.alpha");
}

#[test]
fn a_retail_rollout_runs_the_comparisons_paths() {
    use dealersim::mechanisms::quote_control::retail_compare::{compare_retail, retail_rollouts};
    let preset = load_preset("retail-pricing").expect("bundled");
    let episodes = retail_rollouts(&preset, "cost-plus", 50).expect("rollouts");
    let rows = compare_retail(&preset, &["cost-plus".to_owned()], 50, &Progress::silent())
        .expect("compare");
    let mean = episodes.iter().map(|e| e.profit).sum::<f64>() / 50.0;
    assert!((mean - rows[0].profit_mean).abs() < 1e-9);
    // A market-making preset has no retail rollout, and the reverse.
    let market = load_preset("avellaneda-stoikov").expect("bundled");
    assert!(retail_rollouts(&market, "fixed", 1).is_err());
    assert!(
        dealersim::mechanisms::quote_control::experiments::rollouts(&preset, "inventory", 0.1, 1)
            .is_err()
    );
    // ... refused for the environment, not for the name.
    use dealersim::mechanisms::quote_control::experiments::QuoteControlError;
    assert!(matches!(
        retail_rollouts(&market, "fixed", 1),
        Err(QuoteControlError::Unsupported(_))
    ));
    assert!(matches!(
        dealersim::mechanisms::quote_control::experiments::rollouts(&preset, "inventory", 0.1, 1),
        Err(QuoteControlError::Unsupported(_))
    ));
}

#[test]
fn every_episode_in_the_tick_is_a_compare_path() {
    use dealersim::mechanisms::quote_control::experiments::rollouts;
    // Two episodes each: agent a of the 80 runs paths a and a + 80, each with a fresh
    // policy.
    let text = AGENTS.replace("steps: 200", "steps: 400");
    let mut sim = dealersim::Simulation::new(&scenario(&text)).expect("valid");
    sim.run(|_| {}).expect("runs");
    assert!(
        sim.accounting_residual() < 1e-12,
        "{}",
        sim.accounting_residual()
    );
    let rows = &sim.summaries()[0].rows;
    let preset = load_preset("avellaneda-stoikov").expect("bundled");
    let episodes = rollouts(&preset, "inventory", 0.1, 130).expect("rollouts");
    let mine = episodes.iter().filter(|e| e.path < 50 || e.path >= 80);
    let mean = mine.map(|e| e.profit).sum::<f64>() / 100.0;
    let dealersim::experiments::OwnedCell::F64(profit_mean) = *summary_cell(rows, 0, "profit_mean")
    else {
        panic!("profit_mean is a float: {:?}", rows[0]);
    };
    assert!(
        (profit_mean - mean).abs() < 1e-9,
        "{profit_mean} against {mean}"
    );
    // The learner's episodes restart its learning too: its summary is the mean of its
    // compare paths (agents 70..79 run paths 70..79 and 150..159).
    let dealersim::experiments::OwnedCell::U64(episodes) = *summary_cell(rows, 2, "episodes")
    else {
        panic!("episodes is a count");
    };
    assert_eq!(episodes, 20);
    let mut learner = preset.clone();
    learner.baselines.arms = vec![0.3, 0.6, 0.9];
    learner.baselines.epsilon = 0.2;
    let paths = rollouts(&learner, "epsilon-greedy", 0.1, 160).expect("rollouts");
    let theirs = paths
        .iter()
        .filter(|e| (70..80).contains(&e.path) || (150..160).contains(&e.path));
    let mean = theirs.map(|e| e.profit).sum::<f64>() / 20.0;
    let dealersim::experiments::OwnedCell::F64(learned) = *summary_cell(rows, 2, "profit_mean")
    else {
        panic!("profit_mean is a float");
    };
    assert!((learned - mean).abs() < 1e-9, "{learned} against {mean}");
}

#[test]
fn limits_that_keep_runs_finite_are_validated() {
    use dealersim::mechanisms::quote_control::market_making::OrderFlow;
    use dealersim::mechanisms::quote_control::retail::{Arrivals, RetailConfig};
    let paths = |config: &RetailConfig| {
        let mut checker = Checker::default();
        config.validate("env", &mut checker);
        checker
            .into_problems()
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>()
    };
    // A price grid with no point between the floor and the top, or absurdly fine.
    let coarse = RetailConfig {
        rounding: 60.0,
        ..RetailConfig::default()
    };
    assert_eq!(paths(&coarse), ["env.rounding"]);
    let fine = RetailConfig {
        rounding: 1e-310,
        ..RetailConfig::default()
    };
    assert_eq!(paths(&fine), ["env.rounding"]);
    // Episodes whose draws would not end.
    let long = RetailConfig {
        steps: u32::MAX,
        ..RetailConfig::default()
    };
    assert!(paths(&long).contains(&"env.steps".to_owned()));
    let busy = RetailConfig {
        arrivals: Arrivals::Poisson(1e5),
        steps: 1_000_000,
        ..RetailConfig::default()
    };
    assert_eq!(paths(&busy), ["env.arrivals"]);
    // A Hawkes flow whose intensity would overflow, or too many orders an episode.
    for flow in [
        OrderFlow::Hawkes {
            mu: 1.0,
            alpha: 8e307,
            beta: 1.7e308,
        },
        OrderFlow::Hawkes {
            mu: 1e12,
            alpha: 0.0,
            beta: 1.0,
        },
    ] {
        let mut checker = Checker::default();
        MarketMakingConfig {
            order_flow: flow,
            ..MarketMakingConfig::default()
        }
        .validate("env", &mut checker);
        let problems = checker.into_problems();
        assert!(
            problems
                .iter()
                .any(|p| p.path.starts_with("env.order_flow")),
            "{problems:?}"
        );
    }
    // And the sampler itself stops on an overflowing intensity.
    let h = Hawkes {
        mu: 1.0,
        alpha: 8e307,
        beta: 1.7e308,
    };
    let mut rng = stream(1, StreamDomain::QuoteControl, 0);
    assert!(h.sample_times(1.0, &mut rng).len() < 1_000_000);
}

/// The flat stepping behind the Python vector environment: the same steps as single
/// environments quoting at those depths, Gymnasium's "next step" autoreset with a fresh
/// path per episode, and the same numbers at 1 and 2 threads and at any batch size.
#[test]
fn flat_steps_match_single_environments_and_autoreset_on_the_next_step() {
    use dealersim::mechanisms::quote_control::market_making::FlatSteps;
    let config = MarketMakingConfig {
        dt: 0.05, // 20 steps an episode
        ..MarketMakingConfig::default()
    };
    let steps = config.steps() as usize;
    let depths = |i: usize| [0.4 + 0.01 * i as f64, 0.5 - 0.01 * (i % 7) as f64];
    let run = |threads: usize, count: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut batch = VecEnv::new(&config, count);
            batch.reset(9);
            let actions: Vec<[f64; 2]> = (0..count).map(depths).collect();
            let mut observations = vec![[0.0; 4]; count];
            let mut rewards = vec![0.0; count];
            let mut terminated = vec![false; count];
            let mut truncated = vec![false; count];
            let mut trace = Vec::new();
            for _ in 0..2 * steps + 2 {
                batch.step_depths(
                    &actions,
                    FlatSteps {
                        observations: &mut observations,
                        rewards: &mut rewards,
                        terminated: &mut terminated,
                        truncated: &mut truncated,
                    },
                );
                trace.push((observations.clone(), rewards.clone(), terminated.clone()));
            }
            trace
        })
    };
    let trace = run(2, 300);
    assert_eq!(trace, run(1, 300), "thread count changed the steps");
    // A smaller batch is a prefix of a larger one, environment by environment.
    let small = run(2, 3);
    for (big, small) in trace.iter().zip(&small) {
        assert_eq!(&big.0[..3], &small.0[..]);
        assert_eq!(&big.1[..3], &small.1[..]);
    }
    for i in [0, 1, 257] {
        let mut env = MarketMakingEnv::new(config.clone());
        let mut episode = 0u64;
        let mut observation = env.reset_path(9, i as u64);
        for (t, (observations, rewards, terminated)) in trace.iter().enumerate() {
            if t == steps || t == 2 * steps + 1 {
                // The step after the last one resets: the next path, reward 0, no flags.
                episode += 1;
                observation = env.reset_path(9, (episode << 32) | i as u64);
                assert_eq!(observations[i], observation.to_array());
                assert_eq!((rewards[i], terminated[i]), (0.0, false));
                continue;
            }
            let [bid_depth, ask_depth] = depths(i);
            let step = env.step(Quotes {
                bid: observation.mid - bid_depth,
                ask: observation.mid + ask_depth,
            });
            observation = step.observation;
            assert_eq!(observations[i], observation.to_array(), "env {i} step {t}");
            assert_eq!(rewards[i].to_bits(), step.reward.to_bits());
            assert_eq!(terminated[i], step.terminated);
        }
    }
    assert!(trace[steps - 1].2.iter().all(|&t| t), "all end together");
}
