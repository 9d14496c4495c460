//! Whole-run benchmarks (`dealersim bench`): the S/M/L/XL ladder of
//! `scenarios/bench/`, with wall time, throughput, peak memory and the time split by
//! phase, plus a "floor" program doing only the irreducible work of a rung; and the
//! population-scaling study (`scenarios/bench/scaling.ron`).

use std::time::Instant;

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::Simulation;
use crate::experiments::{Variant, replicate};
use crate::market::reference_curve::CurveShape;
use crate::mechanisms::dealer_market::config::{DealerMarketConfig, InvestorGroup, InvestorSpec};
use crate::mechanisms::dealer_market::investors::ArrivalSampler;
use crate::mechanisms::dealer_market::population::population_profiles;
use crate::mechanisms::dealer_market::{DealerMarketSimulation, config_of, config_of_mut};
use crate::rng::{StreamDomain, stream};
use crate::scenario::load::parse_ron;
use crate::scenario::{Problem, Scenario, validate};
use crate::schedule::TickPhase;
use crate::sim::RunTiming;
use crate::sim::SimError;

/// A rung of the benchmark ladder (`BenchRung(...)` in RON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "BenchRung")]
pub struct BenchRung {
    /// Rung name (S, M, L, XL).
    pub name: String,
    /// What the rung is.
    #[serde(default)]
    pub description: String,
    /// Independent replications of the scenario (run in parallel). Must be ≥ 1.
    pub replications: u32,
    /// The scenario.
    pub scenario: Scenario,
}

/// The bundled ladder: (name, file contents).
pub const LADDER: &[(&str, &str)] = &[
    ("S", include_str!("../scenarios/bench/S.ron")),
    ("M", include_str!("../scenarios/bench/M.ron")),
    ("L", include_str!("../scenarios/bench/L.ron")),
    ("XL", include_str!("../scenarios/bench/XL.ron")),
];

/// Rungs run when none is named: XL (minutes, several GB) only on request.
pub const DEFAULT_RUNGS: &[&str] = &["S", "M", "L"];

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No such rung.
    #[error("no benchmark rung `{0}`: the ladder is S, M, L, XL")]
    Unknown(String),
    /// A bundled rung failed to parse (a bug).
    #[error("benchmark rung `{name}` does not parse: {message}")]
    Parse {
        /// The rung.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// A bundled rung is invalid (a bug).
    #[error("benchmark rung `{name}` is invalid:{}", problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid {
        /// The rung.
        name: String,
        /// The problems.
        problems: Vec<Problem>,
    },
    /// The simulation failed.
    #[error("benchmark rung `{name}` failed: {source}")]
    Run {
        /// The rung.
        name: String,
        /// What failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Loads a bundled rung by name.
///
/// # Errors
/// [`BenchError::Unknown`] for an unknown name; parse or validation errors are bugs.
pub fn load_rung(name: &str) -> Result<BenchRung, BenchError> {
    let (_, text) = LADDER
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| BenchError::Unknown(name.to_string()))?;
    let rung: BenchRung = parse_bundled(name, text)?;
    check_scenario(name, &rung.scenario)?;
    Ok(rung)
}

/// Parses a bundled RON file; a failure is a bug, reported with line, column and field.
fn parse_bundled<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T, BenchError> {
    parse_ron(text).map_err(|f| BenchError::Parse {
        name: name.to_string(),
        message: format!(
            "{}:{} at `{}`: {}",
            f.position.line, f.position.column, f.field_path, f.message
        ),
    })
}

/// Validates a benchmark's scenario, which must have a dealer market.
fn check_scenario(name: &str, scenario: &Scenario) -> Result<(), BenchError> {
    let mut problems = validate(scenario);
    if config_of(scenario).is_none() {
        problems.push(Problem {
            path: "mechanisms".into(),
            message: "the benchmarks measure the dealer market: add a DealerMarket(...)".into(),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Invalid {
            name: name.to_string(),
            problems,
        })
    }
}

/// Time spent in one phase.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PhaseTime {
    /// The phase's name.
    pub phase: String,
    /// Seconds.
    pub seconds: f64,
}

/// Figures of one rung.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RungReport {
    /// Rung name.
    pub rung: String,
    /// Investors per replication.
    pub investors: u64,
    /// Market makers per replication.
    pub market_makers: u64,
    /// Ticks per replication.
    pub ticks: u64,
    /// Replications.
    pub replications: u64,
    /// Wall time of the whole rung (building the worlds included), seconds.
    pub wall_seconds: f64,
    /// Ticks (all replications) per second of wall time.
    pub ticks_per_second: f64,
    /// Investor-ticks per second of wall time.
    pub investor_ticks_per_second: f64,
    /// Investor trades executed.
    pub trades: u64,
    /// Investor trades per second of wall time.
    pub trades_per_second: f64,
    /// Peak resident memory of the process that ran the rung, MiB (0 where unknown).
    pub peak_memory_mib: f64,
    /// Seconds per phase, summed over replications (CPU time across threads for S).
    pub phase_seconds: Vec<PhaseTime>,
    /// Seconds stepping the simulations (building the worlds excluded), summed over
    /// replications.
    pub run_seconds: f64,
    /// Seconds of the floor program's ticks on the same population, when measured.
    pub floor_seconds: Option<f64>,
    /// run_seconds / floor_seconds, when measured: both leave out building the
    /// population, so the ratio compares ticks with ticks.
    pub floor_ratio: Option<f64>,
    /// A second, whole run of the rung's scenario as `dealersim run` makes it (outputs
    /// written to a temporary directory), split into setup, ticks and output, for a rung
    /// of one replication.
    #[serde(default)]
    pub end_to_end: Option<EndToEnd>,
}

/// The whole run of a scenario, as `dealersim run` makes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EndToEnd {
    /// Setup, ticks and output, seconds.
    pub timing: RunTiming,
    /// Their sum, seconds.
    pub total_seconds: f64,
    /// Bytes of the files written.
    pub output_bytes: u64,
}

/// Runs `scenario` as `dealersim run` would, into a temporary directory removed after.
fn end_to_end(name: &str, scenario: &Scenario) -> Result<EndToEnd, BenchError> {
    let dir = tempfile::tempdir().map_err(|e| run_error(name, e))?;
    let out = dir.path().join("out");
    let report =
        crate::run_to_directory(scenario, name, &out, |_| {}).map_err(|e| run_error(name, e))?;
    let output_bytes = report
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let t = report.timing;
    Ok(EndToEnd {
        timing: t,
        total_seconds: t.setup_seconds + t.tick_seconds + t.output_seconds,
        output_bytes,
    })
}

/// Runs `rung` in this process (with phase timers) and reports it. For a rung of one
/// replication, the floor program then runs on the same population in the same process,
/// so that the ratio is measured under the same conditions.
///
/// # Errors
/// [`BenchError::Run`] when a replication fails.
pub fn run_rung(rung: &BenchRung) -> Result<RungReport, BenchError> {
    let started = Instant::now();
    let variants = [Variant {
        label: rung.name.clone(),
        scenario: rung.scenario.clone(),
    }];
    let results = replicate(
        &variants,
        rung.replications,
        rung.scenario.seed,
        |_, sim| timed_run(sim),
        &crate::experiments::Progress::silent(),
    )
    .map_err(|e| run_error(&rung.name, e))?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let mut phases = [0.0; TickPhase::COUNT];
    let (mut trades, mut run_seconds) = (0, 0.0);
    for run in results.iter().flatten() {
        trades += run.trades;
        run_seconds += run.seconds;
        for (total, x) in phases.iter_mut().zip(run.phase_seconds) {
            *total += x;
        }
    }
    let s = &rung.scenario;
    let replications = u64::from(rung.replications);
    let ticks = u64::from(s.steps);
    let market = dealer_market_of(s)?;
    let investors = market.investor_count();
    // Read before the floor program allocates its own tables.
    let peak_memory_mib = peak_memory_mib();
    let floor_seconds = match replications {
        1 => Some(floor_run(s)?.seconds),
        _ => None,
    };
    let end_to_end = match replications {
        1 => Some(end_to_end(&rung.name, s)?),
        _ => None,
    };
    Ok(RungReport {
        rung: rung.name.clone(),
        investors,
        market_makers: market.market_makers.len() as u64,
        ticks,
        replications,
        wall_seconds,
        ticks_per_second: (ticks * replications) as f64 / wall_seconds,
        investor_ticks_per_second: (investors * ticks * replications) as f64 / wall_seconds,
        trades,
        trades_per_second: trades as f64 / wall_seconds,
        peak_memory_mib,
        phase_seconds: phase_times(phases),
        run_seconds,
        floor_seconds,
        floor_ratio: floor_seconds.map(|f| run_seconds / f),
        end_to_end,
    })
}

/// The dealer market of a benchmark scenario.
fn dealer_market_of(scenario: &Scenario) -> Result<&DealerMarketConfig, BenchError> {
    config_of(scenario).ok_or_else(|| BenchError::Parse {
        name: scenario.name.clone(),
        message: "the benchmarks measure the dealer market: the scenario has no DealerMarket"
            .to_string(),
    })
}

/// One simulation stepped to its end with phase timers on.
struct TimedRun {
    /// Seconds stepping (building the world excluded).
    seconds: f64,
    /// Investor trades executed.
    trades: u64,
    /// Seconds per phase, in [`TickPhase::ALL`] order.
    phase_seconds: [f64; TickPhase::COUNT],
}

fn timed_run(sim: &mut Simulation) -> Result<TimedRun, SimError> {
    sim.enable_phase_timers();
    let started = Instant::now();
    sim.run(|_| {})?;
    Ok(TimedRun {
        seconds: started.elapsed().as_secs_f64(),
        trades: sim.maker_summaries().iter().map(|s| s.trades).sum(),
        phase_seconds: sim.phase_seconds().expect("phase timers were just enabled"),
    })
}

fn run_error(name: &str, source: impl std::error::Error + Send + Sync + 'static) -> BenchError {
    BenchError::Run {
        name: name.to_string(),
        source: Box::new(source),
    }
}

/// Peak resident set size of this process in MiB (`VmHWM` of /proc/self/status; 0 on
/// systems without it).
pub fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The population-scaling study (`ScalingStudy(...)` in RON): one market at several
/// population sizes with the same expected number of trades per tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "ScalingStudy")]
pub struct ScalingStudy {
    /// What the study is.
    #[serde(default)]
    pub description: String,
    /// Investor counts, each ≥ 1.
    pub populations: Vec<u32>,
    /// Expected investor trades per tick at every population (> 0).
    pub trades_per_tick: f64,
    /// Runs per population; the median time per tick is reported. ≥ 1.
    pub repeats: u32,
    /// The template: its first investor group is resized to each population and its
    /// p_trade law scaled to `trades_per_tick` (see [`ScalingStudy::scenario_for`]).
    pub scenario: Scenario,
}

/// The bundled scaling study.
pub const SCALING_STUDY: &str = include_str!("../scenarios/bench/scaling.ron");

/// Loads the bundled scaling study and checks every population's scenario.
///
/// # Errors
/// Parse or validation errors (bugs in the bundled file).
pub fn load_scaling_study() -> Result<ScalingStudy, BenchError> {
    let name = "scaling";
    let study: ScalingStudy = parse_bundled(name, SCALING_STUDY)?;
    if study.populations.is_empty() || study.repeats == 0 {
        return Err(BenchError::Parse {
            name: name.to_string(),
            message: "`populations` must not be empty and `repeats` must be ≥ 1".to_string(),
        });
    }
    for &n in &study.populations {
        check_scenario(&format!("{name} at N = {n}"), &study.scenario_for(n)?)?;
    }
    Ok(study)
}

impl ScalingStudy {
    /// The template with `investors` investors and p_trade scaled so that
    /// N·E[p_trade] = `trades_per_tick`: the first group's count is set and both ends
    /// of its p_trade law multiplied by one factor; any other investors are dropped.
    ///
    /// # Errors
    /// [`BenchError::Parse`] when the template has no investor group.
    pub fn scenario_for(&self, investors: u32) -> Result<Scenario, BenchError> {
        let mut scenario = self.scenario.clone();
        let no_group = || BenchError::Parse {
            name: "scaling".to_string(),
            message: "the template scenario needs a DealerMarket with an investor Group"
                .to_string(),
        };
        let market = config_of_mut(&mut scenario).ok_or_else(no_group)?;
        let group = market
            .investors
            .iter()
            .find_map(|spec| match spec {
                InvestorSpec::Group(g) => Some(g.clone()),
                InvestorSpec::Investor(_) => None,
            })
            .ok_or_else(no_group)?;
        let factor = self.trades_per_tick / (f64::from(investors) * group.p_trade.mean());
        market.investors = vec![InvestorSpec::Group(InvestorGroup {
            count: investors,
            p_trade: group.p_trade.scaled(factor),
            ..group
        })];
        scenario.name = format!("{}-{investors}", scenario.name);
        Ok(scenario)
    }
}

/// One run of the scaling study at one population.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScalingPoint {
    /// Investors.
    pub investors: u64,
    /// Ticks run.
    pub ticks: u64,
    /// Building the world (O(N): every investor is spawned), seconds.
    pub setup_seconds: f64,
    /// Running all ticks, seconds.
    pub run_seconds: f64,
    /// run_seconds / ticks.
    pub seconds_per_tick: f64,
    /// Investor trades executed.
    pub trades: u64,
    /// Peak resident memory, MiB.
    pub peak_memory_mib: f64,
    /// Seconds per phase.
    pub phase_seconds: Vec<PhaseTime>,
}

/// Runs the study's scenario at `investors` in this process.
///
/// # Errors
/// [`BenchError::Run`] when the simulation fails.
pub fn run_scaling_point(study: &ScalingStudy, investors: u32) -> Result<ScalingPoint, BenchError> {
    let scenario = study.scenario_for(investors)?;
    let name = format!("scaling at N = {investors}");
    let started = Instant::now();
    let mut sim = Simulation::new(&scenario).map_err(|e| run_error(&name, e))?;
    let setup_seconds = started.elapsed().as_secs_f64();
    let run = timed_run(&mut sim).map_err(|e| run_error(&name, e))?;
    let ticks = u64::from(scenario.steps);
    Ok(ScalingPoint {
        investors: u64::from(investors),
        ticks,
        setup_seconds,
        run_seconds: run.seconds,
        seconds_per_tick: run.seconds / ticks.max(1) as f64,
        trades: run.trades,
        peak_memory_mib: peak_memory_mib(),
        phase_seconds: phase_times(run.phase_seconds),
    })
}

/// The study's result: the median run at each population, and the fit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScalingReport {
    /// Median run (by time per tick) at each population, smallest N first.
    pub points: Vec<ScalingPoint>,
    /// Every run's time per tick at each population, seconds.
    pub all_seconds_per_tick: Vec<Vec<f64>>,
    /// Least-squares slope of ln(time per tick) against ln N: 0 is flat, 1 linear.
    pub log_log_slope: f64,
    /// Time per tick at the largest N over the smallest.
    pub largest_to_smallest: f64,
}

/// Builds the report from the runs at each population (`runs[i]` at `populations[i]`).
///
/// # Panics
/// If a population has no run.
pub fn scaling_report(runs: Vec<Vec<ScalingPoint>>) -> ScalingReport {
    let mut points = Vec::new();
    let mut all_seconds_per_tick = Vec::new();
    for mut at_n in runs {
        at_n.sort_by(|a, b| a.seconds_per_tick.total_cmp(&b.seconds_per_tick));
        all_seconds_per_tick.push(at_n.iter().map(|p| p.seconds_per_tick).collect());
        points.push(at_n.swap_remove(at_n.len() / 2));
    }
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| ((p.investors as f64).ln(), p.seconds_per_tick.ln()))
        .collect();
    let (first, last) = (&points[0], &points[points.len() - 1]);
    ScalingReport {
        log_log_slope: least_squares_slope(&xy),
        largest_to_smallest: last.seconds_per_tick / first.seconds_per_tick,
        points,
        all_seconds_per_tick,
    }
}

/// Slope of the least-squares line through `xy` (0 for fewer than two distinct x).
pub fn least_squares_slope(xy: &[(f64, f64)]) -> f64 {
    let n = xy.len() as f64;
    let (mx, my) = xy
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxx: f64 = xy.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// Phase times by name, in schedule order.
fn phase_times(seconds: [f64; TickPhase::COUNT]) -> Vec<PhaseTime> {
    TickPhase::ALL
        .iter()
        .zip(seconds)
        .map(|(p, seconds)| PhaseTime {
            phase: format!("{p:?}"),
            seconds,
        })
        .collect()
}

/// What the floor program did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloorResult {
    /// Trades sampled.
    pub trades: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Sum of the winning spreads (keeps the work from being optimised away).
    pub checksum: f64,
}

/// The irreducible work of a scenario: for every tick, sample which investors trade
/// (with the simulator's own skip sampler, the cheapest exact method known), draw each
/// trade's size, price every market maker's quote for it and pick the cheapest, and book
/// the trade (the investor's and the market maker's position and cash). Written as
/// tightly as we can: the tiers are one investor-major row of bytes (one cache line a
/// trade), the curve is evaluated once a trade with one exp per distinct α, the best
/// quote is found in the same pass, and nothing is allocated in the loop. No ECS, no
/// tiering, no hedging, no rewards beyond the spread, no output, one thread: any
/// correct implementation does at least this. Only the ticks are timed, not building
/// the population.
///
/// # Errors
/// [`BenchError::Parse`] when the scenario has no dealer market.
pub fn floor_run(scenario: &Scenario) -> Result<FloorResult, BenchError> {
    let market = dealer_market_of(scenario)?;
    let profiles = population_profiles(&market.investors, scenario.seed);
    let n = profiles.len();
    let m = market.market_makers.len();
    let shape = CurveShape::new(scenario.market.lambda, scenario.market.v_max);
    let mut alphas: Vec<f64> = Vec::new();
    let mut alpha_of = Vec::with_capacity(m);
    for maker in &market.market_makers {
        let i = match alphas.iter().position(|a| *a == maker.alpha) {
            Some(i) => i,
            None => {
                alphas.push(maker.alpha);
                alphas.len() - 1
            }
        };
        alpha_of.push(i);
    }
    let penalties: Vec<f64> = market
        .market_makers
        .iter()
        .map(|c| c.tier_penalty)
        .collect();
    let mut rng = stream(scenario.seed, StreamDomain::Investor, u64::MAX);
    // Tiers as any dynamic book would hold them, one row of M bytes per investor.
    let tiers: Vec<u8> = (0..n * m).map(|_| rng.random_range(0..5u8)).collect();
    let mut investors = vec![(0.0f64, 0.0f64); n];
    let mut makers = vec![(0.0f64, 0.0f64); m];
    let mut scales = vec![0.0; alphas.len()];
    let mut sampler = ArrivalSampler::without_entities(profiles, scenario.seed);
    let max_size = market.max_trade_size;
    let half_spread = 0.5 * scenario.market.reference_spread.mean;
    let mid = scenario.market.initial_price;
    let started = Instant::now();
    let mut trades = 0u64;
    let mut checksum = 0.0;
    // Three short loops a tick rather than one long one: the sampler's reads of its
    // members, the quotes (which read each trader's tier row) and the booking (which
    // writes each trader's holdings) each miss cache at a million investors, and in a
    // short loop those misses overlap.
    let mut traders: Vec<(u32, f64, bool)> = Vec::new();
    let mut fills: Vec<(usize, f64)> = Vec::new();
    for _ in 0..scenario.steps {
        traders.clear();
        sampler.sample(|member| {
            let profile = &member.profile;
            let z: f64 = StandardNormal.sample(&mut rng);
            let size = (profile.size_log_mean + profile.size_log_sd * z)
                .exp()
                .min(max_size);
            traders.push((member.id.0, size, rng.random::<bool>()));
        });
        fills.clear();
        fills.extend(traders.iter().map(|&(investor, size, _)| {
            let log_ratio = shape.ratio(size).map_or(0.0, f64::ln);
            for (scale, alpha) in scales.iter_mut().zip(&alphas) {
                *scale = half_spread * (alpha * log_ratio).exp();
            }
            let investor = investor as usize;
            let row = &tiers[investor * m..investor * m + m];
            let (mut best, mut winner) = (f64::INFINITY, 0);
            for (j, ((&a, &penalty), &tier)) in alpha_of.iter().zip(&penalties).zip(row).enumerate()
            {
                let spread = scales[a] + penalty * f64::from(tier);
                if spread < best {
                    (best, winner) = (spread, j);
                }
            }
            (winner, best)
        }));
        for (&(investor, size, buys), &(winner, best)) in traders.iter().zip(&fills) {
            let signed = if buys { size } else { -size };
            let price = mid * (1.0 + if buys { best } else { -best });
            let (position, cash) = &mut investors[investor as usize];
            *position += signed;
            *cash -= signed * price;
            let (position, cash) = &mut makers[winner];
            *position -= signed;
            *cash += signed * price;
            checksum += best;
            trades += 1;
        }
    }
    checksum += investors.iter().map(|h| h.1).sum::<f64>() * 1e-300;
    Ok(FloorResult {
        trades,
        seconds: started.elapsed().as_secs_f64(),
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rung_loads_and_is_valid() {
        for (name, _) in LADDER {
            let rung = load_rung(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(rung.replications >= 1);
        }
        assert!(matches!(load_rung("XXL"), Err(BenchError::Unknown(_))));
    }

    #[test]
    fn the_scaling_study_keeps_trades_per_tick_fixed() {
        let study = load_scaling_study().unwrap_or_else(|e| panic!("{e}"));
        for &n in &study.populations {
            let scenario = study.scenario_for(n).expect("template has a group");
            let market = config_of(&scenario).expect("a dealer market");
            assert_eq!(market.investor_count(), u64::from(n));
            let InvestorSpec::Group(group) = &market.investors[0] else {
                panic!("a group");
            };
            let expected = f64::from(n) * group.p_trade.mean();
            assert!((expected - study.trades_per_tick).abs() < 1e-6 * study.trades_per_tick);
        }
        // The realised draws agree: a short run at the smallest population.
        let mut small = study.clone();
        small.scenario.steps = 20;
        let point = run_scaling_point(&small, study.populations[0]).expect("runs");
        let per_tick = point.trades as f64 / 20.0;
        assert!(
            (per_tick - study.trades_per_tick).abs() < 0.1 * study.trades_per_tick,
            "{per_tick} trades a tick"
        );
    }

    #[test]
    fn the_log_log_slope_of_a_power_law_is_its_exponent() {
        let xy: Vec<(f64, f64)> = [1e4f64, 1e5, 1e6, 1e7]
            .iter()
            .map(|&n| (n.ln(), (3e-4 * n.powf(0.25)).ln()))
            .collect();
        assert!((least_squares_slope(&xy) - 0.25).abs() < 1e-12);
        assert_eq!(least_squares_slope(&[(1.0, 2.0)]), 0.0);
    }

    #[test]
    fn the_log_uniform_mean_is_the_closed_form() {
        let law = crate::scenario::ParamDistribution::LogUniform {
            min: 1.0,
            max: std::f64::consts::E,
        };
        assert!((law.mean() - (std::f64::consts::E - 1.0)).abs() < 1e-15);
        assert!((law.scaled(2.0).mean() - 2.0 * law.mean()).abs() < 1e-15);
    }

    #[test]
    fn floor_samples_the_expected_number_of_trades() {
        let mut rung = load_rung("M").expect("M");
        rung.scenario.steps = 50;
        let market = config_of(&rung.scenario).expect("a dealer market");
        let profiles = population_profiles(&market.investors, rung.scenario.seed);
        let expected: f64 = profiles.iter().map(|p| p.p_trade).sum::<f64>() * 50.0;
        let floor = floor_run(&rung.scenario).expect("a dealer market");
        // Poisson-binomial: the standard deviation is below sqrt(expected).
        assert!(
            (floor.trades as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{} vs {expected}",
            floor.trades
        );
        assert!(floor.checksum > 0.0);
    }

    #[test]
    fn the_small_rung_reports_consistent_figures() {
        let mut rung = load_rung("S").expect("S");
        rung.replications = 4;
        let report = run_rung(&rung).expect("runs");
        assert_eq!(
            (
                report.investors,
                report.market_makers,
                report.ticks,
                report.replications
            ),
            (10, 2, 96, 4)
        );
        assert!(report.trades > 0 && report.wall_seconds > 0.0);
        assert_eq!(report.phase_seconds.len(), 8);
        assert!(
            report.floor_ratio.is_none(),
            "no floor for a replicated rung"
        );
        rung.replications = 1;
        assert!(
            run_rung(&rung)
                .expect("runs")
                .floor_ratio
                .is_some_and(|r| r > 0.0)
        );
    }
}
