//! Bad input never panics and never leaves output behind: each case exits non-zero with
//! one clear message naming the file, the line and column, and the field path.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A valid small scenario; cases replace one marked piece of it.
const BASE: &str = r#"Scenario(
    steps: 8,
    market: (volatility: 0.1, v_max: 10000.0),
    mechanisms: [
        DealerMarket(
            max_trade_size: 1000.0,
            position_horizon: 4,
            investors: [
                Investor(p_trade: 0.5, size_mean: 2.0),
                Group(count: 20, p_trade: Uniform(min: 0.01, max: 0.2), size_mean: Const(1.0)),
            ],
            market_makers: [
                (name: "A", alpha: 1.3, tiering: AverageYield(tiers: 5), hedging: (horizon: 20)),
                (name: "B"),
            ],
        ),
    ],
)
"#;

struct Case {
    dir: tempfile::TempDir,
    scenario: PathBuf,
}

impl Case {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let scenario = dir.path().join("case.ron");
        std::fs::write(&scenario, text).expect("write scenario");
        Self { dir, scenario }
    }

    /// `BASE` with `from` replaced by `to` (which must occur exactly once).
    fn edit(from: &str, to: &str) -> Self {
        assert_eq!(
            BASE.matches(from).count(),
            1,
            "`{from}` must occur once in BASE"
        );
        Self::new(&BASE.replacen(from, to, 1))
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn run(&self) -> Output {
        dealersim(&[
            "run",
            path_str(&self.scenario),
            "--out",
            path_str(&self.out_dir()),
            "--quiet",
        ])
    }

    fn validate(&self) -> Output {
        dealersim(&["validate", path_str(&self.scenario)])
    }

    /// Both `validate` and `run` fail with exit code 2, a message containing every
    /// `needle`, and no output directory.
    fn rejects(&self, needles: &[&str]) {
        for output in [self.validate(), self.run()] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(
                stderr.contains(path_str(&self.scenario)),
                "no file name in:\n{stderr}"
            );
            for needle in needles {
                assert!(
                    stderr.contains(needle),
                    "`{needle}` missing from:\n{stderr}"
                );
            }
            assert!(stderr.lines().count() < 25, "more than a screen:\n{stderr}");
        }
        assert!(
            !self.out_dir().exists(),
            "a rejected scenario created its output directory"
        );
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn dealersim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .args(args)
        .output()
        .expect("run dealersim")
}

#[test]
fn the_base_scenario_is_valid() {
    let case = Case::new(BASE);
    let output = case.validate();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn malformed_ron() {
    Case::edit("(name: \"B\"),", "(name: \"B\",").rejects(&[
        "cannot parse",
        "case.ron:15:13",
        "`mechanisms[0].market_makers[1]`",
    ]);
}

#[test]
fn unknown_field() {
    Case::edit("volatility: 0.1", "volatilty: 0.1").rejects(&[
        "volatilty",
        "case.ron:3:14",
        "`market.volatilty`",
        "expected one of",
    ]);
}

#[test]
fn wrong_type() {
    Case::edit("steps: 8", "steps: \"eight\"").rejects(&[":2:", "`steps`"]);
}

#[test]
fn probability_outside_unit_interval() {
    Case::edit("p_trade: 0.5", "p_trade: 1.5").rejects(&[
        "case.ron:9:35",
        "investors[0].p_trade",
        "[0, 1]",
        "1.5",
    ]);
}

#[test]
fn probability_range_of_a_group() {
    Case::edit("max: 0.2", "max: 1.2")
        .rejects(&["case.ron:10:67", "mechanisms[0].investors[1].p_trade.max"]);
}

#[test]
fn negative_volatility() {
    Case::edit("volatility: 0.1", "volatility: -0.1").rejects(&[
        "case.ron:3:26",
        "market.volatility",
        "≥ 0",
    ]);
}

#[test]
fn zero_where_positive_is_required() {
    Case::edit("size_mean: 2.0", "size_mean: 0.0").rejects(&["investors[0].size_mean", "> 0"]);
}

#[test]
fn nan_and_infinity() {
    Case::edit("alpha: 1.3", "alpha: NaN").rejects(&["market_makers[0].alpha", "NaN"]);
    Case::edit("volatility: 0.1", "volatility: inf").rejects(&["market.volatility", "inf"]);
}

#[test]
fn v_max_not_above_the_largest_trade() {
    Case::edit("v_max: 10000.0", "v_max: 500.0").rejects(&[
        "case.ron:3:38",
        "market.v_max",
        "max_trade_size",
    ]);
}

#[test]
fn zero_tiers() {
    Case::edit("tiers: 5", "tiers: 0").rejects(&["market_makers[0].tiering.tiers", "≥ 1"]);
}

#[test]
fn no_market_makers() {
    let text = BASE
        .split("market_makers: [")
        .next()
        .map(|head| format!("{head}market_makers: [],\n),\n],\n)\n"))
        .expect("split");
    Case::new(&text).rejects(&["market_makers", "no market makers"]);
}

#[test]
fn empty_population() {
    let start = BASE.find("investors: [").expect("investors");
    let end = BASE.find("market_makers").expect("market makers");
    let text = format!("{}investors: [],\n    {}", &BASE[..start], &BASE[end..]);
    Case::new(&text).rejects(&["investors", "empty"]);
}

#[test]
fn empty_group() {
    Case::edit("count: 20", "count: 0").rejects(&["investors[1].count", "≥ 1"]);
}

#[test]
fn zero_position_horizon() {
    Case::edit("position_horizon: 4", "position_horizon: 0")
        .rejects(&["mechanisms[0].position_horizon", "≥ 1"]);
}

#[test]
fn zero_hedging_horizon() {
    Case::edit("horizon: 20", "horizon: 0").rejects(&["market_makers[0].hedging.horizon", "≥ 1"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = BASE
        .replacen("p_trade: 0.5", "p_trade: -1.0", 1)
        .replacen("alpha: 1.3", "alpha: 0.0", 1)
        .replacen("position_horizon: 4", "position_horizon: 0", 1);
    Case::new(&text).rejects(&[
        "3 problems",
        "investors[0].p_trade",
        "market_makers[0].alpha",
        "mechanisms[0].position_horizon",
    ]);
}

#[test]
fn a_defaulted_field_is_located_at_its_parent() {
    // B's hedging defaults to on; with B alone hedging has no counterparty.
    let start = BASE.find("                (name: \"A\"").expect("A");
    let end = BASE.find("                (name: \"B\")").expect("B");
    let text = format!("{}{}", &BASE[..start], &BASE[end..]);
    Case::new(&text).rejects(&["market_makers[0].hedging", "(default)", "case.ron:13:"]);
}

#[test]
fn values_beyond_sane_limits() {
    Case::edit("alpha: 1.3", "alpha: 25.0").rejects(&["market_makers[0].alpha", "(0, 10]"]);
    Case::edit("horizon: 20", "horizon: 5000")
        .rejects(&["market_makers[0].hedging.horizon", "≤ 500"]);
    Case::edit("position_horizon: 4", "position_horizon: 4000000")
        .rejects(&["mechanisms[0].position_horizon", "≤ 35040"]);
    Case::edit("size_mean: 2.0", "size_mean: 2.0, size_dispersion: 50.0")
        .rejects(&["investors[0].size_dispersion", "[0, 5]"]);
    Case::edit("volatility: 0.1", "volatility: 1000.0")
        .rejects(&["market.volatility", "per-tick volatility"]);
}

/// Quotes that would put a sell at or below zero are refused before the run, naming
/// the field that makes them so (issue 12: a tier penalty of 1.0 or a reference spread
/// above 100% ran with exit 0 and booked negative prices).
#[test]
fn quotes_that_reach_the_mid_are_refused() {
    Case::edit("(name: \"B\"),", "(name: \"B\", tier_penalty: 1.0),").rejects(&[
        "mechanisms[0].market_makers[1].tier_penalty",
        "must be below 1",
    ]);
    Case::edit("(name: \"B\"),", "(name: \"B\", tier_penalty: 1e308),")
        .rejects(&["market_makers[1].tier_penalty", "must be below 1"]);
    Case::edit(
        "market: (volatility: 0.1, v_max: 10000.0)",
        "market: (volatility: 0.1, v_max: 10000.0, reference_spread: (mean: 1.2, max: 2.5))",
    )
    .rejects(&[
        "market_makers[0].alpha",
        "s0 = market.reference_spread.max = 2.5",
    ]);
}

/// A book that tiers its own market maker is refused.
#[test]
fn a_fixed_table_cannot_tier_its_own_market_maker() {
    Case::edit(
        "(name: \"B\"),",
        "(name: \"B\", tiering: Fixed(market_makers: {\"B\": 1})),",
    )
    .rejects(&[
        "market_makers[1].tiering.market_makers[B]",
        "does not tier itself",
    ]);
}

/// A byte-order mark before the scenario is not an error.
#[test]
fn a_byte_order_mark_is_ignored() {
    let case = Case::new(&format!("\u{feff}{BASE}"));
    let output = case.validate();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A NaN bound of a log-uniform law is one problem, not two.
#[test]
fn a_nan_bound_is_reported_once() {
    let case = Case::edit(
        "max: 0.2",
        "max: 0.2), p_buy: LogUniform(min: NaN, max: 0.5",
    );
    let output = case.validate();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("p_buy.min").count(), 1, "{stderr}");
}

#[test]
fn an_old_style_scenario_gets_advice() {
    let old = r#"Scenario(
    steps: 8,
    investors: [Investor(p_trade: 0.5, size_mean: 2.0)],
    market_makers: [(name: "A"), (name: "B")],
)
"#;
    Case::new(old).rejects(&[
        "case.ron:3:",
        "investors",
        "mechanisms: [DealerMarket(investors: [...],",
    ]);
}

/// The old bundled `paper.ron` shape: the moved fields inside `market` stop parsing
/// first, and get the same advice.
#[test]
fn an_old_style_market_block_gets_advice() {
    let old = r#"Scenario(
    steps: 8,
    market: (volatility: 0.1, max_trade_size: 1000.0, position_horizon: 4),
    investors: [Investor(p_trade: 0.5, size_mean: 2.0)],
    market_makers: [(name: "A"), (name: "B")],
    output: (tier_snapshot_every: 96),
)
"#;
    Case::new(old).rejects(&[
        "case.ron:3:",
        "market.max_trade_size",
        "scenarios now list their mechanisms",
        "tier_snapshot_every",
    ]);
}

/// A mechanism kind written twice is one problem, located at the second entry.
#[test]
fn a_mechanism_written_twice() {
    let dealer_market = &BASE[BASE.find("        DealerMarket(").expect("a dealer market")
        ..BASE.find("    ],\n)").expect("end of mechanisms")];
    let text = BASE.replacen(dealer_market, &format!("{dealer_market}{dealer_market}"), 1);
    Case::new(&text).rejects(&["mechanisms[1]", "each kind of mechanism may appear once"]);
}

#[test]
fn no_mechanism() {
    let start = BASE.find("    mechanisms: [").expect("mechanisms");
    let end = BASE.find("    ],\n)").expect("end of mechanisms");
    let text = format!("{}    mechanisms: [\n{}", &BASE[..start], &BASE[end..]);
    Case::new(&text).rejects(&["mechanisms", "no mechanism: add one of `DealerMarket(...)`"]);
}

#[test]
fn missing_file() {
    let output = dealersim(&["validate", "/nonexistent/scenario.ron"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/scenario.ron"));
}

#[test]
fn unwritable_output_directory() {
    let case = Case::new(BASE);
    let blocker = case.dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let out = blocker.join("out");
    let output = dealersim(&[
        "run",
        path_str(&case.scenario),
        "--out",
        path_str(&out),
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(path_str(&out)) || stderr.contains(path_str(&blocker)),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn a_successful_run_leaves_no_temporaries() {
    let case = Case::new(BASE);
    let output = case.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(case.out_dir())
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "manifest.json",
            "metrics.parquet",
            "scenario.ron",
            "summary.parquet",
            "tiers.parquet"
        ]
    );
}

/// Output into a pipe whose reader is gone ends quietly with 141 (as `SIGPIPE` would),
/// never with a panic; every command that prints.
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let paper = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/paper.ron");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let commands: [&[&str]; 3] = [
        &["validate", paper],
        &["experiment", "--list"],
        &["run", paper, "--out", path_str(&out)],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_dealersim"))
            .args(args)
            .stdout(writer)
            .output()
            .expect("run dealersim");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A full disk on stdout is an error with a message and status 1, not a panic.
#[test]
fn a_full_stdout_is_a_clear_error() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        return; // not on this platform
    };
    let output = Command::new(env!("CARGO_BIN_EXE_dealersim"))
        .args(["experiment", "--list"])
        .stdout(full)
        .output()
        .expect("run dealersim");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A population the machine cannot hold is refused before anything is allocated, naming
/// the field and what it would need (issue 12: a count of 4e9 validated, then aborted).
#[test]
fn a_population_too_large_for_the_machine_is_refused() {
    Case::edit("count: 20", "count: 4000000000").rejects(&[
        "mechanisms[0].investors",
        "needs about",
        "of memory",
    ]);
}

/// `--max-memory` sets the limit below the machine's.
#[test]
fn max_memory_is_a_limit() {
    let case = Case::new(BASE);
    for command in ["validate", "run"] {
        let output = dealersim(&[command, path_str(&case.scenario), "--max-memory", "1K"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("more than the 1.00 KiB available"),
            "{stderr}"
        );
    }
    let output = dealersim(&["validate", path_str(&case.scenario), "--max-memory", "lots"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a size"));
}

/// RON's long forms get advice on the short one.
#[test]
fn long_ron_forms_get_advice() {
    Case::edit("hedging: (horizon: 20)", "hedging: Some((horizon: 20))")
        .rejects(&["for `field: Some((...))`"]);
    Case::edit("AverageYield(tiers: 5)", "AverageYield((tiers: 5))")
        .rejects(&["for `Variant((field: ...))`"]);
}

/// The renamed snapshot field gets advice on how to write it now.
#[test]
fn the_old_snapshot_interval_field_gets_advice() {
    let old = r#"Scenario(
    steps: 5,
    mechanisms: [DealerMarket(
        tier_snapshot_every: 0,
        investors: [Investor(p_trade: 0.5, size_mean: 2.0)],
        market_makers: [(name: "A"), (name: "B")],
    )],
)
"#;
    Case::new(old).rejects(&[
        "case.ron:4:9",
        "mechanisms[0].tier_snapshot_every",
        "tier_snapshots: Every(k)",
    ]);
}

/// A snapshot interval of 0 ticks is refused at its field, with the way to write "none".
#[test]
fn a_zero_snapshot_interval_is_refused() {
    for choice in ["Every(0)", "Counts(0)"] {
        let text = format!(
            r#"Scenario(
    steps: 5,
    mechanisms: [DealerMarket(
        tier_snapshots: {choice},
        investors: [Investor(p_trade: 0.5, size_mean: 2.0)],
        market_makers: [(name: "A"), (name: "B")],
    )],
)
"#
        );
        Case::new(&text).rejects(&["case.ron:4:", "mechanisms[0].tier_snapshots", "write `Off`"]);
    }
}

#[cfg(unix)]
#[test]
fn an_endless_input_file_is_refused_not_read_to_exhaustion() {
    // /dev/zero never ends: the input cap stops the read with a clear error.
    for command in ["validate", "run", "experiment", "sweep"] {
        let output = dealersim(&[command, "/dev/zero"]);
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("more than 16 MiB"), "{command}: {stderr}");
    }
    // A sweep whose base scenario is endless is refused the same way.
    let dir = tempfile::tempdir().expect("temp dir");
    let sweep = dir.path().join("sweep.ron");
    std::fs::write(&sweep, r#"Sweep(scenario: "/dev/zero")"#).expect("write");
    let output = dealersim(&[
        "sweep",
        path_str(&sweep),
        "--out",
        path_str(&dir.path().join("o")),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`/dev/zero`: more than 16 MiB"));
    assert!(!dir.path().join("o").exists());
}
