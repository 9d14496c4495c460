//! The dealer-pair market end to end: its tables written by `dealersim run`, bad configs
//! refused at their field with nothing written, cash and claims conserved every tick,
//! outputs byte-identical at any thread count, an unambiguous schedule, an insolvent
//! dealer stopping the run cleanly, and users who are never served counted as lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dealersim::mechanisms::dealer_pairs::book::{
    AssetUser, Dealer, Holdings, InvestorUser, Patience, Side, StreamShare, UserStatus,
};
use dealersim::mechanisms::dealer_pairs::mechanism::conservation;
use dealersim::mechanisms::dealer_pairs::records::{
    PairDealerRow, PairSummaryRow, PairTradeRow, PairVolumeRow,
};
use dealersim::output::row::TableRow;
use dealersim::scenario::parse_scenario;
use dealersim::{Scenario, Simulation};

/// A small dealer-pair market, the bundled `scenarios/dealer_pairs.ron`'s shape: two
/// pairs, 600 asset-users and 640 investor-users, 60 daily ticks. Every value the cases
/// edit is written once (the dealers differ a little so that each is).
const BASE: &str = r#"Scenario(
    name: "dealer-pairs-small",
    seed: 3,
    steps: 60,
    market: (
        tick_years: 0.0027397260273972603,
    ),
    mechanisms: [
        DealerPairs(
            market_rate: 0.05,
            compounding: Annual,
            pairs: [
                Pair(
                    name: "north",
                    asset_dealer: (capital: 5e6, risk_aversion: 2.0, margin: 0.05),
                    investor_dealer: (capital: 4e6, risk_aversion: 2.5, margin: 0.05),
                ),
                Pair(
                    name: "south",
                    asset_dealer: (capital: 3e6, risk_aversion: 1.5, margin: 0.06),
                    investor_dealer: (capital: 2e6, risk_aversion: 3.0, margin: 0.04),
                ),
            ],
            asset_users: [
                AssetUsers(
                    count: 600,
                    arrival: Poisson(10.0),
                    amount: LogUniform(min: 300.0, max: 3000.0),
                    growth: Uniform(min: -0.02, max: 0.04),
                    volatility: Uniform(min: 0.05, max: 0.30),
                    periods: 10,
                    period_years: 1.0,
                    reservation_rate: Uniform(min: 0.06, max: 0.12),
                    patience: 20,
                ),
            ],
            investor_users: [
                InvestorUsers(
                    count: 640,
                    arrival: Poisson(11.0),
                    cash: LogUniform(min: 2000.0, max: 20000.0),
                    horizon_years: Uniform(min: 2.0, max: 8.0),
                    risk_aversion: Uniform(min: 1.0, max: 4.0),
                    tail_tolerance: Uniform(min: 0.05, max: 0.30),
                    reservation_rate: Uniform(min: 0.0, max: 0.03),
                    patience: 15,
                ),
            ],
            opl: (window: 8, min_strips: 2, max_strips: 4, chunk: 64, max_candidates_per_tick: 1000000),
            adaptation: Undercut(fraction: 0.1),
        ),
    ],
)
"#;

/// The end of `BASE`'s mechanisms list, where a scenario-level field can go after it.
const END_OF_MECHANISMS: &str = "    ],\n)\n";

/// `text` with `from` replaced by `to` (`from` must occur exactly once).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in the scenario"
    );
    text.replacen(from, to, 1)
}

/// `BASE` with the list that starts at `list` (e.g. `pairs: [`) emptied: everything up to
/// `next`, the line that follows the list, becomes `list],`.
fn with_empty_list(list: &str, next: &str) -> String {
    let start = BASE.find(list).expect("the list");
    let end = BASE.find(next).expect("the line after the list");
    format!("{}{list}],\n{}", &BASE[..start], &BASE[end..])
}

/// `BASE` with `output` (e.g. `(trades: true)`) as the scenario's `output` block.
fn with_output(output: &str) -> String {
    edit(
        BASE,
        END_OF_MECHANISMS,
        &format!("    ],\n    output: {output},\n)\n"),
    )
}

/// The 1-based line of `text` on which `needle` first starts.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() + 1
}

fn scenario(text: &str) -> Scenario {
    match parse_scenario(text, Path::new("case.ron")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
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

/// A scenario file in its own temporary directory, and an output directory beside it
/// that does not exist yet.
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

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `dealersim run` into `out_dir`, with `extra` arguments.
    fn run(&self, extra: &[&str]) -> Output {
        let out = self.out_dir();
        let mut args = vec![
            "run",
            path_str(&self.scenario),
            "--out",
            path_str(&out),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        dealersim(&args)
    }

    /// `run` that must succeed; the output directory's file names, sorted.
    fn run_ok(&self, extra: &[&str]) -> Vec<String> {
        let output = self.run(extra);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut names: Vec<String> = std::fs::read_dir(self.out_dir())
            .expect("out dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn validate(&self) -> Output {
        dealersim(&["validate", path_str(&self.scenario)])
    }

    /// Both `validate` and `run` fail with exit code 2, without a panic, with a message
    /// line that locates `field` at `file:line:col`, and every `needle` in the message;
    /// `run` leaves no output directory.
    fn rejects(&self, line: usize, field: &str, needles: &[&str]) {
        let at = format!("{}:{line}:", path_str(&self.scenario));
        for output in [self.validate(), self.run(&[])] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            // `file:line:col` (the column a number) and the field's path, on one line:
            // `  {field}: ...` for a rule, `at `{field}`: ...` for a parse error.
            let located = stderr.lines().any(|l| {
                l.find(&at).is_some_and(|i| {
                    l[i + at.len()..].starts_with(|c: char| c.is_ascii_digit())
                        && (l.contains(&format!(" {field}: ")) || l.contains(&format!("`{field}`")))
                })
            });
            assert!(located, "`{field}` not located at `{at}` in:\n{stderr}");
            for needle in needles {
                assert!(
                    stderr.contains(needle),
                    "`{needle}` missing from:\n{stderr}"
                );
            }
        }
        assert!(
            !self.out_dir().exists(),
            "a rejected scenario created its output directory"
        );
    }
}

/// The header line of a CSV file.
fn csv_header(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read csv");
    text.lines().next().expect("a header").to_owned()
}

/// The CSV file's rows (header dropped), each split at commas (no cell here holds one).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The cell of `column` in `row` of a table whose header is `header`.
fn cell<'a>(header: &str, row: &'a [String], column: &str) -> &'a str {
    let index = header
        .split(',')
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {column} in {header}"));
    &row[index]
}

/// Rows of a Parquet file.
fn parquet_rows(path: &Path) -> i64 {
    use parquet::file::reader::FileReader as _;
    let reader = parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(path).expect("open parquet"),
    )
    .expect("parquet");
    reader.metadata().file_metadata().num_rows()
}

/// The columns a table declares, joined as its CSV header.
fn declared_header<R: TableRow>() -> String {
    R::TABLE
        .columns
        .iter()
        .map(|c| c.name.as_ref())
        .collect::<Vec<_>>()
        .join(",")
}

/// `dealersim run` on the small market writes the dealer, volume and summary tables as
/// Parquet (a row per tick and dealer, per tick and pair, per dealer) and, with
/// `--format csv`, as CSV whose headers are the columns of `records.rs`; with
/// `output: (trades: true)` it also writes a trade row per portfolio sold, as many as
/// the investor dealers' fills and the pairs' matches.
#[test]
fn a_run_writes_every_pairs_table_in_both_formats() {
    let case = Case::new(BASE);
    assert_eq!(
        case.run_ok(&[]),
        [
            "manifest.json",
            "pairs_dealers.parquet",
            "pairs_summary.parquet",
            "pairs_volume.parquet",
            "scenario.ron"
        ]
    );
    let out = case.out_dir();
    assert_eq!(parquet_rows(&out.join("pairs_dealers.parquet")), 2 * 2 * 60);
    assert_eq!(parquet_rows(&out.join("pairs_volume.parquet")), 2 * 60);
    assert_eq!(parquet_rows(&out.join("pairs_summary.parquet")), 4);

    let headers = [
        (
            "pairs_dealers.csv",
            "tick,pair,side,margin,cash,inventory_value,wealth,utility,profit,queue_length,fills,lost_users,volume",
            declared_header::<PairDealerRow<'_>>(),
        ),
        (
            "pairs_volume.csv",
            "tick,pair,volume,matches,transfers,held_streams",
            declared_header::<PairVolumeRow<'_>>(),
        ),
        (
            "pairs_summary.csv",
            "pair,side,final_wealth,profit,profit_per_tick,profit_per_tick_sd,mean_margin,final_margin,fills,lost_users,users_surplus",
            declared_header::<PairSummaryRow>(),
        ),
        (
            "pairs_trades.csv",
            "tick,pair,investor,strips,cash,market_value,certainty_equivalent,tail_probability,candidates,surplus",
            declared_header::<PairTradeRow<'_>>(),
        ),
    ];
    for (_, written, declared) in &headers {
        assert_eq!(written, declared, "records.rs declares other columns");
    }

    let case = Case::new(BASE);
    assert_eq!(
        case.run_ok(&["--format", "csv"]),
        [
            "manifest.json",
            "pairs_dealers.csv",
            "pairs_summary.csv",
            "pairs_volume.csv",
            "scenario.ron"
        ]
    );
    for (file, header, _) in &headers[..3] {
        assert_eq!(&csv_header(&case.out_dir().join(file)), header, "{file}");
    }
    assert_eq!(
        csv_rows(&case.out_dir().join("pairs_dealers.csv")).len(),
        2 * 2 * 60
    );

    let case = Case::new(&with_output("(trades: true)"));
    assert_eq!(
        case.run_ok(&[]),
        [
            "manifest.json",
            "pairs_dealers.parquet",
            "pairs_summary.parquet",
            "pairs_trades.parquet",
            "pairs_volume.parquet",
            "scenario.ron"
        ]
    );
    let trades = parquet_rows(&case.out_dir().join("pairs_trades.parquet"));

    let case = Case::new(&with_output("(format: Csv, trades: true)"));
    assert_eq!(
        case.run_ok(&[]),
        [
            "manifest.json",
            "pairs_dealers.csv",
            "pairs_summary.csv",
            "pairs_trades.csv",
            "pairs_volume.csv",
            "scenario.ron"
        ]
    );
    let out = case.out_dir();
    for (file, header, _) in &headers {
        assert_eq!(&csv_header(&out.join(file)), header, "{file}");
    }
    let trade_rows = csv_rows(&out.join("pairs_trades.csv"));
    assert_eq!(
        trade_rows.len() as i64,
        trades,
        "Parquet and CSV trades differ"
    );
    assert!(trades > 0, "the small market should sell portfolios");
    let (summary_header, volume_header) = (headers[2].1, headers[1].1);
    let investor_fills: i64 = csv_rows(&out.join("pairs_summary.csv"))
        .iter()
        .filter(|r| cell(summary_header, r, "side") == "investor")
        .map(|r| {
            cell(summary_header, r, "fills")
                .parse::<i64>()
                .expect("fills")
        })
        .sum();
    let matches: i64 = csv_rows(&out.join("pairs_volume.csv"))
        .iter()
        .map(|r| cell(volume_header, r, "matches").parse::<i64>().expect("n"))
        .sum();
    assert_eq!(investor_fills, trades, "a trade row per portfolio sold");
    assert_eq!(matches, trades, "a match per portfolio sold");
}

/// The bundled `scenarios/dealer_pairs.ron` passes `dealersim validate`.
#[test]
fn the_bundled_scenario_is_valid() {
    let output = dealersim(&[
        "validate",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/dealer_pairs.ron"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each bad value is refused by `validate` and `run` alike, at its field path and its
/// line in the file, and `run` writes nothing: a market rate at or below −100%, a dealer
/// risk aversion not above 0, a tail tolerance outside (0, 1), empty lists of pairs or
/// users, an empty group, a horizon of 0 years, streams of no payments, users of no
/// patience, an AssetDealer margin of 100%, negative capital and OPL bounds that admit
/// no portfolio.
#[test]
fn bad_values_are_refused_at_their_field_and_line() {
    let risk = "asset_dealer: (capital: 5e6, risk_aversion: 2.0";
    let tail = "tail_tolerance: Uniform(min: 0.05, max: 0.30)";
    let dealer = "mechanisms[0].pairs[0].asset_dealer";
    let assets = "mechanisms[0].asset_users[0]";
    let investors = "mechanisms[0].investor_users[0]";
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "market_rate: 0.05",
            "market_rate: -1.5",
            "mechanisms[0].market_rate".into(),
            "-1.5",
        ),
        (
            risk,
            "asset_dealer: (capital: 5e6, risk_aversion: 0.0",
            format!("{dealer}.risk_aversion"),
            "> 0",
        ),
        (
            risk,
            "asset_dealer: (capital: 5e6, risk_aversion: -1.0",
            format!("{dealer}.risk_aversion"),
            "> 0",
        ),
        (
            tail,
            "tail_tolerance: Const(0.0)",
            format!("{investors}.tail_tolerance"),
            "must be > 0",
        ),
        (
            tail,
            "tail_tolerance: Const(1.0)",
            format!("{investors}.tail_tolerance"),
            "(0, 1)",
        ),
        (
            tail,
            "tail_tolerance: Uniform(min: 0.05, max: 1.2)",
            format!("{investors}.tail_tolerance.max"),
            "(0, 1)",
        ),
        ("count: 600", "count: 0", format!("{assets}.count"), "≥ 1"),
        (
            "count: 640",
            "count: 0",
            format!("{investors}.count"),
            "≥ 1",
        ),
        (
            "horizon_years: Uniform(min: 2.0, max: 8.0)",
            "horizon_years: Const(0.0)",
            format!("{investors}.horizon_years"),
            "(0, 200]",
        ),
        (
            "periods: 10",
            "periods: 0",
            format!("{assets}.periods"),
            "≥ 1",
        ),
        (
            "patience: 20",
            "patience: 0",
            format!("{assets}.patience"),
            "≥ 1",
        ),
        (
            "patience: 15",
            "patience: 0",
            format!("{investors}.patience"),
            "≥ 1",
        ),
        (
            "risk_aversion: 2.0, margin: 0.05",
            "risk_aversion: 2.0, margin: 1.0",
            format!("{dealer}.margin"),
            "[0, 1)",
        ),
        (
            "capital: 4e6",
            "capital: -4e6",
            "mechanisms[0].pairs[0].investor_dealer.capital".into(),
            "> 0",
        ),
        (
            "max_strips: 4",
            "max_strips: 1",
            "mechanisms[0].opl.max_strips".into(),
            "min_strips",
        ),
        (
            "window: 8",
            "window: 0",
            "mechanisms[0].opl.window".into(),
            "≥ 1",
        ),
    ];
    for (from, to, path, message) in &cases {
        let text = edit(BASE, from, to);
        let case = Case::new(&text);
        case.rejects(line_of(&text, to), path, &[message]);
    }

    for (list, next, path, message) in [
        (
            "pairs: [",
            "            asset_users: [",
            "mechanisms[0].pairs",
            "at least one dealer pair",
        ),
        (
            "asset_users: [",
            "            investor_users: [",
            "mechanisms[0].asset_users",
            "at least one group of asset-users",
        ),
        (
            "investor_users: [",
            "            opl: (",
            "mechanisms[0].investor_users",
            "at least one group of investor-users",
        ),
    ] {
        let text = with_empty_list(list, next);
        let case = Case::new(&text);
        case.rejects(line_of(&text, &format!("{list}]")), path, &[message]);
    }
}

/// A scenario that is not RON, and a misspelt field, are refused with their location
/// (the field's with the names it could have been) and nothing is written.
#[test]
fn malformed_ron_and_unknown_fields_are_refused_with_a_location() {
    let text = edit(
        BASE,
        "investor_dealer: (capital: 2e6, risk_aversion: 3.0, margin: 0.04),",
        "investor_dealer: (capital: 2e6, risk_aversion: 3.0, margin: 0.04,",
    );
    // The dealer's tuple is closed by the pair's `)`; the parser stops at the list's `]`
    // after it, where the pair's next field should be.
    Case::new(&text).rejects(
        line_of(&text, "investor_dealer: (capital: 2e6") + 2,
        "mechanisms[0].pairs[1]",
        &["cannot parse"],
    );

    let text = edit(BASE, "capital: 3e6", "capitall: 3e6");
    Case::new(&text).rejects(
        line_of(&text, "capitall"),
        "mechanisms[0].pairs[1].asset_dealer.capitall",
        &["expected one of"],
    );
}

/// Stepped tick by tick, the market conserves cash and claims after every tick (the
/// residual of `mechanism::conservation` stays below 1e-9) while it trades: users sell
/// streams and buy portfolios. An asset-user holds all of her stream or none of it (she
/// sells it whole), an investor holds fractions in (0, 1], and the users' statuses agree
/// with the dealers' fill counts.
#[test]
fn cash_and_claims_are_conserved_every_tick() {
    let s = scenario(&edit(BASE, "steps: 60", "steps: 80"));
    let mut sim = Simulation::new(&s).expect("valid");
    let start = conservation(sim.world_mut());
    assert_eq!(start.streams, 600);
    assert!(start.initial_cash > 1.4e7, "{start:?}");
    let mut worst: f64 = 0.0;
    while sim.tick() < s.steps {
        let tick = sim.tick();
        sim.step().unwrap_or_else(|e| panic!("tick {tick}: {e}"));
        let c = conservation(sim.world_mut());
        worst = worst.max(c.residual());
        assert!(
            c.residual() < 1e-9,
            "tick {tick}: residual {} ({c:?})",
            c.residual()
        );
        let world = sim.world_mut();
        for (user, share, status) in world
            .query::<(&AssetUser, &StreamShare, &UserStatus)>()
            .iter(world)
        {
            assert!(
                share.0 == 0.0 || share.0 == 1.0,
                "tick {tick}: asset-user {} holds {} of her stream",
                user.index,
                share.0
            );
            assert_eq!(
                share.0 == 0.0,
                *status == UserStatus::Sold,
                "tick {tick}: asset-user {} ({status:?}) holds {}",
                user.index,
                share.0
            );
        }
        for (user, holdings, status) in world
            .query::<(&InvestorUser, &Holdings, &UserStatus)>()
            .iter(world)
        {
            for &(asset, fraction) in &holdings.0 {
                assert!(
                    fraction > 0.0 && fraction <= 1.0,
                    "tick {tick}: investor {} holds {fraction} of stream {asset}",
                    user.index
                );
            }
            assert_eq!(
                !holdings.0.is_empty(),
                *status == UserStatus::Bought,
                "tick {tick}: investor {} ({status:?}) holds {:?}",
                user.index,
                holdings.0
            );
        }
    }
    let world = sim.world_mut();
    let (mut asset_fills, mut investor_fills) = (0, 0);
    for d in world.query::<&Dealer>().iter(world) {
        match d.side {
            Side::Asset => asset_fills += d.totals.fills,
            Side::Investor => investor_fills += d.totals.fills,
        }
    }
    let sold = world
        .query::<&UserStatus>()
        .iter(world)
        .filter(|s| **s == UserStatus::Sold)
        .count() as u64;
    let bought = world
        .query::<&UserStatus>()
        .iter(world)
        .filter(|s| **s == UserStatus::Bought)
        .count() as u64;
    assert!(
        asset_fills > 50 && investor_fills > 50,
        "the run should trade: {asset_fills} streams bought, {investor_fills} portfolios sold"
    );
    assert_eq!(sold, asset_fills);
    assert_eq!(bought, investor_fills);
    // The whole run's residual, as the manifest reports it, is the last tick's.
    assert!(sim.accounting_residual() < 1e-9, "worst {worst}");
}

/// Every output file but the manifest (which records wall time), by name; as in
/// `tests/determinism.rs`.
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "manifest.json"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("read output"))
        })
        .collect()
}

/// The manifest without its timing fields (any key with `seconds` in it).
fn manifest_without_timings(dir: &Path) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, _| !key.contains("seconds"));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("manifest is json");
    strip(&mut value);
    value
}

/// The pairs are matched in parallel; at 1 and 2 threads `dealersim run` writes the same
/// bytes in every file (the manifest compared without its wall time), in both formats
/// and with the trades table.
#[test]
fn thread_count_does_not_change_a_byte() {
    for format in ["Parquet", "Csv"] {
        let case = Case::new(&with_output(&format!("(format: {format}, trades: true)")));
        let mut results = Vec::new();
        for threads in ["1", "2"] {
            let out = case.dir.path().join(format!("threads-{threads}"));
            let status = Command::new(env!("CARGO_BIN_EXE_dealersim"))
                .args(["run", "--quiet", "--out"])
                .arg(&out)
                .arg(&case.scenario)
                .env("RAYON_NUM_THREADS", threads)
                .status()
                .expect("run dealersim");
            assert!(status.success());
            results.push((outputs(&out), manifest_without_timings(&out)));
        }
        let trades = format!("pairs_trades.{}", format.to_lowercase());
        assert!(
            results[0].0[&trades].len() > 2_000,
            "{format}: the run should trade"
        );
        assert_eq!(results[0].0.len(), 5, "{:?}", results[0].0.keys());
        assert!(
            results[0].0 == results[1].0,
            "{format}: 1 vs 2 threads differ"
        );
        assert_eq!(results[0].1, results[1].1, "{format}: manifests differ");
    }
}

/// A minimal dealer market, to run beside the pairs.
const DEALER_MARKET: &str = r#"        DealerMarket(
            investors: [Group(count: 50, p_trade: Uniform(min: 0.05, max: 0.3), size_mean: Const(1.0))],
            market_makers: [(name: "A"), (name: "B")],
        ),
"#;

/// The tick schedule of a dealer-pair market has no ordering ambiguity, alone or beside
/// a dealer market; and the dealer market beside it changes none of the pairs' results.
#[test]
fn the_schedule_has_no_ordering_ambiguity() {
    let alone = scenario(BASE);
    let both = scenario(&edit(
        BASE,
        "    mechanisms: [\n",
        &format!("    mechanisms: [\n{DEALER_MARKET}"),
    ));
    assert_eq!(both.mechanisms.len(), 2);
    let mut pairs = Vec::new();
    for s in [&alone, &both] {
        let mut sim = Simulation::new(s).expect("valid");
        if let Err(error) = sim.check_schedule() {
            panic!(
                "ambiguous tick schedule with {} mechanisms: {error}",
                s.mechanisms.len()
            );
        }
        sim.run(|_| {}).expect("runs");
        let summary = sim
            .summaries()
            .into_iter()
            .find(|m| m.mechanism == "DealerPairs")
            .expect("a pairs summary");
        pairs.push(format!("{:?}", summary.rows));
    }
    assert_eq!(pairs[0], pairs[1], "the dealer market changed the pairs");
}

/// An AssetDealer whose wealth falls to zero stops the run with a model error naming
/// its pair and its wealth, not a panic, and nothing is written. North's AssetDealer
/// has capital 1.0 and values streams at 0% while its InvestorDealer values them at 5%:
/// it sells every strip at the mean of the two valuations, below its own, and loses on
/// each. (With equal valuations a dealer of capital 1.0 never becomes insolvent, however
/// big the users: it gains its margin on every stream it buys.)
#[test]
fn an_insolvent_dealer_stops_the_run_with_a_clear_error() {
    let case = Case::new(&edit(
        BASE,
        "asset_dealer: (capital: 5e6, risk_aversion: 2.0, margin: 0.05)",
        "asset_dealer: (capital: 1.0, risk_aversion: 2.0, margin: 0.05, valuation_rate: 0.0)",
    ));
    let output = case.run(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in ["model error at tick", "wealth", "`north`", "asset dealer"] {
        assert!(
            stderr.contains(needle),
            "`{needle}` missing from:\n{stderr}"
        );
    }
    assert!(
        !case.out_dir().exists(),
        "a failed run left its output directory"
    );
}

/// Investor-users whose tail tolerance no portfolio meets (1e-4, with streams of σ ≥ 0.2
/// and a one-year horizon) are never served: the investor dealers fill nothing, and
/// their `lost_users` in `pairs_summary.csv` are exactly the investor-users whose
/// patience of 2 ticks ran out before the run ended (arrived at tick a, left at a + 2 ≤
/// the last tick).
#[test]
fn users_never_served_are_counted_as_lost() {
    let text = edit(
        &edit(
            &edit(
                &edit(
                    BASE,
                    "tail_tolerance: Uniform(min: 0.05, max: 0.30)",
                    "tail_tolerance: Const(0.0001)",
                ),
                "patience: 15",
                "patience: 2",
            ),
            "horizon_years: Uniform(min: 2.0, max: 8.0)",
            "horizon_years: Const(1.0)",
        ),
        "volatility: Uniform(min: 0.05, max: 0.30)",
        "volatility: Uniform(min: 0.2, max: 0.3)",
    );
    let case = Case::new(&text);
    case.run_ok(&["--format", "csv"]);
    let header = csv_header(&case.out_dir().join("pairs_summary.csv"));
    let rows = csv_rows(&case.out_dir().join("pairs_summary.csv"));
    let investor_rows: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| cell(&header, r, "side") == "investor")
        .collect();
    assert_eq!(investor_rows.len(), 2);
    let number = |r: &Vec<String>, column| -> u64 {
        cell(&header, r, column)
            .parse()
            .unwrap_or_else(|e| panic!("{column}: {e}"))
    };
    let fills: u64 = investor_rows.iter().map(|r| number(r, "fills")).sum();
    let lost: u64 = investor_rows.iter().map(|r| number(r, "lost_users")).sum();
    assert_eq!(fills, 0, "no portfolio meets a tolerance of 1e-4");

    // Who arrived, and when, from the same scenario stepped in the library.
    let s = scenario(&text);
    let mut sim = Simulation::new(&s).expect("valid");
    sim.run(|_| {}).expect("runs");
    let world = sim.world_mut();
    let mut arrived = 0u64;
    let mut expected = 0u64;
    for (patience, status) in world
        .query_filtered::<(&Patience, &UserStatus), bevy_ecs::query::With<InvestorUser>>()
        .iter(world)
    {
        if *status == UserStatus::Pending {
            continue;
        }
        arrived += 1;
        assert_eq!(patience.ticks, 2);
        if patience.arrival + patience.ticks < s.steps {
            expected += 1;
            assert_eq!(*status, UserStatus::Lost, "arrived at {}", patience.arrival);
        } else {
            assert!(
                matches!(status, UserStatus::Queued(_)),
                "arrived at {}: {status:?}",
                patience.arrival
            );
        }
    }
    assert!(arrived > 500 && expected > 500, "{arrived} arrived");
    assert_eq!(lost, expected, "{arrived} investor-users arrived");
}
