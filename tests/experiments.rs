//! The paper's qualitative results, at reduced run counts, and experiment determinism.

use std::process::Command;

use dealersim::experiments::{
    Design, ExperimentConfig, OwnedCell, Progress, load_experiment, run_experiment,
};
use dealersim::mechanisms::dealer_market::config::{HedgeVenue, VolatilityEstimate};

fn bundled(name: &str, runs: u32) -> ExperimentConfig {
    let (mut config, _) = load_experiment(name).expect("bundled experiment loads");
    config.runs = runs;
    config
}

fn f64_at(row: &[OwnedCell], i: usize) -> f64 {
    match row[i] {
        OwnedCell::F64(x) => x,
        OwnedCell::U32(x) => f64::from(x),
        OwnedCell::U64(x) => x as f64,
        OwnedCell::I64(x) => x as f64,
        OwnedCell::Bool(_) | OwnedCell::Str(_) => panic!("column {i} is not a number"),
    }
}

fn str_at(row: &[OwnedCell], i: usize) -> &str {
    match &row[i] {
        OwnedCell::Str(s) => s,
        _ => panic!("column {i} is not text"),
    }
}

#[test]
fn price_sensitivity_shares_step_at_the_competitors_tier() {
    let config = bundled("price-sensitivity", 24);
    let output = run_experiment(&config, &Progress::silent()).expect("runs");
    // Columns: variant, investor, size_mean, competitor_tier, tier, runs, mean_share, ...
    let mut first_losing_tier = Vec::new();
    for row in output.rows.iter().filter(|r| str_at(r, 0) == "fixed") {
        let (competitor, tier, share) = (f64_at(row, 3), f64_at(row, 4), f64_at(row, 6));
        if tier < competitor {
            assert!(
                share > 0.99,
                "better tier should win all: {share} at tier {tier}"
            );
        } else if tier == competitor {
            assert!((0.3..0.7).contains(&share), "equal tiers split: {share}");
        } else {
            assert!(share < 0.01, "worse tier should win nothing: {share}");
        }
        // Lost = no longer winning (at most the 50% of an exact tie).
        if share < 0.75
            && first_losing_tier
                .last()
                .is_none_or(|&(inv, _)| inv != f64_at(row, 1))
        {
            first_losing_tier.push((f64_at(row, 1), tier));
        }
    }
    // Probes come in increasing mean size; larger investors are lost at lower tiers.
    let tiers: Vec<f64> = first_losing_tier.iter().map(|&(_, t)| t).collect();
    assert_eq!(tiers.len(), 4, "{first_losing_tier:?}");
    assert!(tiers.windows(2).all(|w| w[1] <= w[0]), "{tiers:?}");
    assert!(tiers[3] < tiers[0]);
    // With revenue-rate tiering, every investor's share still falls from tier 0 to tier 4.
    let dynamic: Vec<&Vec<OwnedCell>> = output
        .rows
        .iter()
        .filter(|r| str_at(r, 0) == "revenue_rate")
        .collect();
    for probe in dynamic.chunks(5) {
        assert!(
            f64_at(probe[0], 6) > f64_at(probe[4], 6) + 0.3,
            "share should fall with the tier"
        );
    }
}

/// A property of the mechanism, not of one reading of the paper's population: in every
/// reading the experiment file lists, the 100%-share market maker's median metric at
/// the last tick is below the 50%-share one's.
#[test]
fn the_market_maker_with_all_the_flow_internalises_better() {
    let config = bundled("internalization", 200);
    let Design::Internalization(design) = &config.design else {
        panic!("an internalization design");
    };
    let readings: Vec<String> = design.readings.iter().map(|r| r.name.clone()).collect();
    assert!(readings.len() >= 5, "{readings:?}");
    assert_eq!(readings[0], "default");
    let output = run_experiment(&config, &Progress::silent()).expect("runs");
    // Columns: variant, setup, tick, runs, p25, p50, p75, mean_share.
    for reading in &readings {
        let last = |setup: &str| {
            output
                .rows
                .iter()
                .rfind(|r| str_at(r, 0) == reading && str_at(r, 1) == setup)
                .map(|r| (f64_at(r, 5), f64_at(r, 7)))
                .expect("rows")
        };
        let (half_median, half_share) = last("identical");
        let (full_median, full_share) = last("cheaper");
        assert!(
            (half_share - 0.5).abs() < 0.05,
            "{reading}: identical curves share {half_share}"
        );
        assert_eq!(full_share, 1.0);
        assert!(
            full_median < half_median,
            "{reading}: {full_median} vs {half_median}"
        );
    }
}

#[test]
fn a_higher_risk_aversion_pays_at_higher_volatility() {
    let mut config = bundled("risk-aversion", 60);
    let Design::RiskAversion(design) = &mut config.design else {
        panic!("risk-aversion design")
    };
    design.risk_aversions = vec![0.03, 0.3, 3.0, 30.0];
    design.venues = vec![HedgeVenue::MarketMakers];
    assert_eq!(design.volatility_estimate, VolatilityEstimate::Fixed(0.10));
    let output = run_experiment(&config, &Progress::silent()).expect("runs");
    // Columns: venue, volatility, risk_aversion, runs, mean_cost, stderr, hedging, risk, x0.
    let cheapest = |sigma: f64| {
        output
            .rows
            .iter()
            .filter(|r| f64_at(r, 1) == sigma)
            .min_by(|a, b| f64_at(a, 4).total_cmp(&f64_at(b, 4)))
            .map(|r| f64_at(r, 2))
            .expect("rows")
    };
    assert!(
        cheapest(0.30) > cheapest(0.10),
        "γ* {} at 30% vs {} at 10%",
        cheapest(0.30),
        cheapest(0.10)
    );
    // The first slice grows with γ: the trade-off is not degenerate.
    let x0: Vec<f64> = output
        .rows
        .iter()
        .filter(|r| f64_at(r, 1) == 0.10)
        .map(|r| f64_at(r, 8))
        .collect();
    assert!(x0.windows(2).all(|w| w[1] >= w[0]), "{x0:?}");
    assert!(x0[0] < 0.95 && x0[3] > 0.99, "{x0:?}");
}

#[test]
fn experiment_outputs_do_not_depend_on_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(threads);
        let status = Command::new(env!("CARGO_BIN_EXE_dealersim"))
            .args([
                "experiment",
                "internalization",
                "--runs",
                "40",
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .env("RAYON_NUM_THREADS", threads)
            .status()
            .expect("run dealersim");
        assert!(status.success());
        let files: Vec<Vec<u8>> = [
            "results.parquet",
            "results.csv",
            "figure.svg",
            "figure.png",
            "summary.md",
        ]
        .iter()
        .map(|f| std::fs::read(out.join(f)).expect("output file"))
        .collect();
        outputs.push(files);
    }
    assert!(
        outputs[0] == outputs[1],
        "outputs differ between 1 and 2 threads"
    );
}

#[test]
fn experiment_list_and_bad_names() {
    let list = Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .args(["experiment", "--list"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&list.stdout);
    for name in ["price-sensitivity", "internalization", "risk-aversion"] {
        assert!(text.contains(name), "{text}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .args(["experiment", "no-such"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("price-sensitivity"));
}

#[test]
fn a_bad_experiment_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.ron");
    let text = include_str!("../scenarios/experiments/internalization.ron")
        .replace("focus: \"A\"", "focus: \"Z\"");
    std::fs::write(&path, text).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .args(["experiment", path.to_str().expect("utf-8"), "--out"])
        .arg(dir.path().join("out"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.ron:") && stderr.contains("design.focus") && stderr.contains("`Z`"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}

/// No bundled experiment truncates investor sizes: no warning about its size laws, and
/// a run of every variant of `risk-aversion` (the one with a small `max_trade_size`)
/// counts no clipped trade.
#[test]
fn no_bundled_experiment_clips_investor_sizes() {
    use dealersim::Simulation;
    use dealersim::mechanisms::dealer_market::DealerMarketSimulation;
    for name in ["price-sensitivity", "internalization", "risk-aversion"] {
        let config = bundled(name, 1);
        let warnings = dealersim::experiments::warnings(&config);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
    }
    let config = bundled("risk-aversion", 1);
    for variant in config.design.as_design().variants(&config.scenario) {
        let mut sim = Simulation::new(&variant.scenario).expect("valid variant");
        sim.run(|_| {}).expect("runs");
        let clipped: u64 = sim.maker_summaries().iter().map(|s| s.clipped_trades).sum();
        assert_eq!(clipped, 0, "variant {}", variant.label);
    }
}
