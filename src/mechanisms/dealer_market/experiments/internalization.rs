//! Internalization (SPEC §2.4.2): |z_t| / Σ_{t'≤t} v_t' of a market maker with no tiering
//! and no hedging, when it shares the flow with an identical competitor (≈50% share)
//! versus when it is strictly cheaper (100% share).

use serde::{Deserialize, Serialize};

use super::{check_focus_and_competitor, maker_index};
use crate::experiments::{
    ExperimentConfig, ExperimentDesign, ExperimentError, ExperimentOutput, Progress, Variant,
    mean_sd, quantile, replicate,
};
use crate::mechanisms::dealer_market::config::{
    FixedTiering, InvestorParams, InvestorSpec, TieringConfig,
};
use crate::mechanisms::dealer_market::{
    DealerMarketSimulation, config_of, config_of_mut, index_of, maker_accounts,
};
use crate::output::row::TableRow;
use crate::plot::{Figure, Panel, Point, Scale, Series};
use crate::scenario::{Problem, Scenario};

/// The design of an internalization experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalizationDesign {
    /// The market maker whose metric is measured.
    pub focus: String,
    /// The competitor. In both setups it gets the focus's α and δ (identical curves);
    /// in the "strictly cheaper" setup it quotes every investor `competitor_tiers_worse`
    /// tiers worse, so every quote of the focus is strictly lower.
    pub competitor: String,
    /// Tiers the competitor is worse in the "strictly cheaper" setup. Default: 1.
    #[serde(default = "one")]
    pub competitor_tiers_worse: u8,
    /// Readings of the paper's population to run, the first being the default: each
    /// replaces the scenario's investors. Default: none, i.e. the scenario's own
    /// investors, under the name `scenario`.
    #[serde(default)]
    pub readings: Vec<Reading>,
}

fn one() -> u8 {
    1
}

/// One reading of the paper's population ("mean trade sizes from 0.5 to 7, trade
/// frequency from once every 2 hours to once every 2 days"): sizes, frequencies
/// log-spaced between two bounds, how the two are paired, and the size dispersion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Name in the table, figure and summary. Unique, non-empty.
    pub name: String,
    /// The investors' mean trade sizes, in units.
    pub sizes: Sizes,
    /// Which investors trade most often.
    pub pairing: Pairing,
    /// σ_j of every investor's log-normal size. Default: 0.5.
    #[serde(default = "half")]
    pub dispersion: f64,
    /// The least frequent investor's p_trade. Default: 1/192 (once every two days).
    #[serde(default = "every_two_days")]
    pub p_trade_min: f64,
    /// The most frequent investor's p_trade. Default: 1/8 (once every two hours).
    #[serde(default = "every_two_hours")]
    pub p_trade_max: f64,
}

/// Mean trade sizes of a reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Sizes {
    /// `count` sizes evenly spaced from `min` to `max`.
    Even {
        /// Smallest mean size.
        min: f64,
        /// Largest mean size.
        max: f64,
        /// Number of investors (≥ 2).
        count: u32,
    },
    /// These sizes, smallest first.
    Listed(Vec<f64>),
}

/// How sizes pair with frequencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pairing {
    /// The largest investor trades most often (a dealer's big clients are its frequent ones).
    LargeFrequent,
    /// The smallest investor trades most often.
    SmallFrequent,
}

/// The most investors a reading may have: readings are paper-sized populations.
const MAX_READING_INVESTORS: u32 = 10_000;

fn half() -> f64 {
    0.5
}
fn every_two_days() -> f64 {
    1.0 / 192.0
}
fn every_two_hours() -> f64 {
    0.125
}

impl Reading {
    /// The mean sizes, smallest first.
    pub fn size_means(&self) -> Vec<f64> {
        match &self.sizes {
            Sizes::Even { min, max, count } => {
                let n = (*count).max(1);
                (0..n)
                    .map(|k| {
                        let step = if n > 1 {
                            f64::from(k) / f64::from(n - 1)
                        } else {
                            0.0
                        };
                        min + (max - min) * step
                    })
                    .collect()
            }
            Sizes::Listed(sizes) => sizes.clone(),
        }
    }

    /// The population: investor k has the k-th size and its paired frequency, the
    /// frequencies log-spaced from `p_trade_min` to `p_trade_max`.
    pub fn investors(&self) -> Vec<InvestorSpec> {
        let sizes = self.size_means();
        let n = sizes.len();
        let (lo, hi) = (self.p_trade_min.ln(), self.p_trade_max.ln());
        let p_of = |rank: usize| {
            let step = if n > 1 {
                rank as f64 / (n - 1) as f64
            } else {
                1.0
            };
            (lo + (hi - lo) * step).exp()
        };
        sizes
            .iter()
            .enumerate()
            .map(|(k, &size_mean)| {
                let rank = match self.pairing {
                    Pairing::LargeFrequent => k,
                    Pairing::SmallFrequent => n - 1 - k,
                };
                InvestorSpec::Investor(InvestorParams {
                    p_trade: p_of(rank),
                    size_mean,
                    size_dispersion: self.dispersion,
                    p_buy: 0.5,
                    sophistication: 0.5,
                })
            })
            .collect()
    }
}

crate::table_row! {
    /// One row of the internalization result table (`results`).
    pub struct InternalizationRow in "results" {
        variant: String => "the population reading (`default`, or a named variant)",
        setup: String => "`identical` (≈50% share) or `cheaper` (100% share)",
        tick: u32 => "tick t",
        runs: u64 => "replications in which the focus had traded by t",
        p25: f64 => "25th percentile of |z_t| / Σ v over replications",
        p50: f64 => "median of |z_t| / Σ v",
        p75: f64 => "75th percentile of |z_t| / Σ v",
        mean_share: f64 => "the focus's mean share of investor volume over the run",
    }
}

const SETUPS: [(&str, &str); 2] = [
    ("identical", "identical curves (≈50% share)"),
    ("cheaper", "strictly cheaper (100% share)"),
];

impl ExperimentDesign for InternalizationDesign {
    /// Problems with the design against its base scenario.
    fn check(&self, scenario: &Scenario) -> Vec<Problem> {
        let mut problems = check_focus_and_competitor(scenario, &self.focus, &self.competitor);
        if self.competitor_tiers_worse == 0 {
            problems.push(Problem {
                path: "design.competitor_tiers_worse".into(),
                message: "must be ≥ 1, or the competitor is not dearer".into(),
            });
        }
        if let (Some(f), Some(dm), Some(config)) = (
            maker_index(scenario, &self.focus),
            index_of(scenario),
            config_of(scenario),
        ) && config.market_makers[f].tier_penalty <= 0.0
        {
            problems.push(Problem {
                path: format!("scenario.mechanisms[{dm}].market_makers[{f}].tier_penalty"),
                message: "must be > 0: the cheaper setup makes the competitor dearer by tiers"
                    .into(),
            });
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, reading) in self.readings.iter().enumerate() {
            let mut fail = |field: &str, message: String| {
                problems.push(Problem {
                    path: format!("design.readings[{i}].{field}"),
                    message,
                })
            };
            if reading.name.trim().is_empty() {
                fail("name", "must not be empty".into());
            } else if !names.insert(reading.name.as_str()) {
                fail("name", format!("duplicate reading `{}`", reading.name));
            }
            // Bounded before the sizes are made: a reading is a paper-sized population.
            if let Sizes::Even { count, .. } = reading.sizes
                && !(2..=MAX_READING_INVESTORS).contains(&count)
            {
                fail(
                    "sizes.count",
                    format!("must be in 2..={MAX_READING_INVESTORS}, got {count}"),
                );
                continue;
            }
            let sizes = reading.size_means();
            if sizes.len() < 2 || sizes.len() > MAX_READING_INVESTORS as usize {
                fail(
                    "sizes",
                    format!(
                        "needs 2 to {MAX_READING_INVESTORS} investors, got {}",
                        sizes.len()
                    ),
                );
            }
            if sizes.windows(2).any(|w| w[0] > w[1]) {
                fail(
                    "sizes",
                    "list the sizes smallest first (pairing depends on it)".into(),
                );
            }
            if !(reading.dispersion.is_finite() && (0.0..=5.0).contains(&reading.dispersion)) {
                fail(
                    "dispersion",
                    format!("must be in [0, 5], got {}", reading.dispersion),
                );
            }
            if let Some(bad) = sizes.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                fail("sizes", format!("every size must be > 0, got {bad}"));
            }
            let (lo, hi) = (reading.p_trade_min, reading.p_trade_max);
            if !(lo.is_finite() && lo > 0.0 && lo <= hi && hi <= 1.0) {
                fail(
                    "p_trade_max",
                    format!("need 0 < p_trade_min ≤ p_trade_max ≤ 1, got {lo} and {hi}"),
                );
            }
        }
        problems
    }

    /// The two setups: only the focus and the competitor, fixed tiers, no hedging.
    fn variants(&self, base: &Scenario) -> Vec<Variant> {
        let (Some(focus), Some(competitor), Some(market)) = (
            maker_index(base, &self.focus),
            maker_index(base, &self.competitor),
            config_of(base),
        ) else {
            return Vec::new();
        };
        let tiers = self.competitor_tiers_worse.saturating_add(1);
        self.reading_names()
            .into_iter()
            .enumerate()
            .flat_map(|(r, name)| {
                SETUPS
                    .iter()
                    .map(move |&(setup, _)| (r, name.clone(), setup))
            })
            .map(|(r, reading, setup)| {
                let mut scenario = base.clone();
                if let (Some(reading), Some(population)) =
                    (self.readings.get(r), config_of_mut(&mut scenario))
                {
                    population.investors = reading.investors();
                }
                let mut focus_maker = market.market_makers[focus].clone();
                let mut competitor_maker = focus_maker.clone();
                competitor_maker.name = market.market_makers[competitor].name.clone();
                let fixed = |default_tier| {
                    TieringConfig::Fixed(FixedTiering {
                        tiers,
                        default_tier,
                        investors: Default::default(),
                        market_makers: Default::default(),
                    })
                };
                focus_maker.tiering = fixed(0);
                competitor_maker.tiering = fixed(if setup == "cheaper" {
                    self.competitor_tiers_worse
                } else {
                    0
                });
                focus_maker.hedging = None;
                competitor_maker.hedging = None;
                if let Some(variant) = config_of_mut(&mut scenario) {
                    variant.market_makers = vec![focus_maker, competitor_maker];
                }
                Variant {
                    label: format!("{reading} {setup}"),
                    scenario,
                }
            })
            .collect()
    }

    /// Runs both setups and reduces to the percentile table, figure and summary.
    ///
    /// # Errors
    /// [`ExperimentError::Run`] when a replication fails.
    fn run(
        &self,
        config: &ExperimentConfig,
        progress: &Progress<'_>,
    ) -> Result<ExperimentOutput, ExperimentError> {
        let variants = self.variants(&config.scenario);
        let results = replicate(
            &variants,
            config.runs,
            config.seed,
            |_, sim| {
                let steps = sim.scenario().steps as usize;
                let mut metric = Vec::with_capacity(steps);
                while sim.tick() < sim.scenario().steps {
                    sim.step()?;
                    // The focus is market maker 0 in both setups.
                    let accounts = maker_accounts(sim.world_mut());
                    let (holdings, ledger) = &accounts[0];
                    let volume = ledger.total_activity.volume;
                    metric.push(if volume > 0.0 {
                        holdings.position.abs() / volume
                    } else {
                        f64::NAN
                    });
                }
                let share = sim
                    .maker_summaries()
                    .first()
                    .map_or(f64::NAN, |s| s.market_share);
                Ok((metric, share))
            },
            progress,
        )?;

        let steps = config.scenario.steps as usize;
        let last = steps.saturating_sub(1);
        let names = self.reading_names();
        let mut rows = Vec::new();
        let mut panels = Vec::new();
        let mut summary = format!(
            "# Internalization\n\n{}\n\nMetric: |z_t| / Σ_{{t'≤t}} v_t' for `{}` (its net position over the investor volume it has \
             traded), no tiering, no hedging, {} replications per setup and reading. The readings are the paper's \
             population read different ways (docs/experiments.md); the first is the default.\n\n\
             | reading | setup | mean share | p25 at tick {last} | median at tick {last} | p75 at tick {last} | median 100% / 50% |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n",
            config.description, self.focus, config.runs,
        );
        let mut verdicts = Vec::new();
        let mut sensitivity = Panel {
            title: format!("at tick {last}, by reading"),
            x_label: names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{} {n}", i + 1))
                .collect::<Vec<_>>()
                .join(" · "),
            y_label: "|z_t| / Σ v (median, 25th–75th)".into(),
            x_scale: Scale::Linear,
            series: Vec::new(),
            y_range: None,
        };
        for (reading, pair) in names.iter().zip(results.chunks(SETUPS.len())) {
            let mut panel = Panel {
                title: reading.to_string(),
                x_label: "tick".into(),
                y_label: "|z_t| / Σ v (median, 25th–75th)".into(),
                x_scale: Scale::Linear,
                series: Vec::new(),
                y_range: None,
            };
            let mut at_end = Vec::new();
            for ((setup, label), replications) in SETUPS.iter().zip(pair) {
                let (share, ..) =
                    mean_sd(&replications.iter().map(|(_, s)| *s).collect::<Vec<_>>());
                let mut series = Series {
                    name: (*label).to_string(),
                    points: Vec::new(),
                };
                let mut end = (f64::NAN, f64::NAN, f64::NAN);
                for tick in 0..steps {
                    let values: Vec<f64> = replications
                        .iter()
                        .map(|(m, _)| m.get(tick).copied().unwrap_or(f64::NAN))
                        .collect();
                    let runs = values.iter().filter(|v| v.is_finite()).count();
                    let (p25, p50, p75) = (
                        quantile(&values, 0.25),
                        quantile(&values, 0.5),
                        quantile(&values, 0.75),
                    );
                    rows.push(
                        InternalizationRow {
                            variant: reading.clone(),
                            setup: (*setup).to_string(),
                            tick: tick as u32,
                            runs: runs as u64,
                            p25,
                            p50,
                            p75,
                            mean_share: share,
                        }
                        .to_owned_cells(),
                    );
                    if p50.is_finite() {
                        series.points.push(Point {
                            x: tick as f64,
                            y: p50,
                            error: None,
                            band: Some((p25, p75)),
                        });
                    }
                    end = (p25, p50, p75);
                }
                at_end.push((*label, share, end));
                panel.series.push(series);
            }
            // The default reading over the day; every reading's last tick goes in the
            // sensitivity panel below (their full curves are in the table).
            if panels.is_empty() {
                panel.title = format!("{} over the day ({reading} reading)", self.focus);
                panels.push(panel);
            }
            for (s, (label, _, (p25, p50, p75))) in at_end.iter().enumerate() {
                if sensitivity.series.len() <= s {
                    sensitivity.series.push(Series {
                        name: (*label).to_string(),
                        points: Vec::new(),
                    });
                }
                if p50.is_finite() {
                    let x = (verdicts.len() + 1) as f64;
                    sensitivity.series[s]
                        .points
                        .push(Point::with_band(x, *p50, *p25, *p75));
                }
            }
            if let [(_, _, half), (_, _, full)] = at_end.as_slice() {
                let ratio = full.1 / half.1;
                for (label, share, (p25, p50, p75)) in &at_end {
                    summary.push_str(&format!(
                        "| {reading} | {label} | {:.1}% | {p25:.4} | {p50:.4} | {p75:.4} | {ratio:.3} |\n",
                        100.0 * share
                    ));
                }
                verdicts.push((reading.clone(), half.1, full.1));
            }
        }
        let better: Vec<&str> = verdicts
            .iter()
            .filter(|(_, half, full)| full < half)
            .map(|(name, ..)| name.as_str())
            .collect();
        let verdict = if better.len() == verdicts.len() {
            format!(
                "As in the paper, the market maker with all the flow internalises better in every reading ({}): \
                 more trades net against each other, so the position grows like √n while the volume grows like n. \
                 The level of the metric depends on the reading; the ratio much less.",
                better.join(", ")
            )
        } else {
            format!(
                "Unlike the paper, the market maker with all the flow does not internalise better in every reading: \
                 only in {}.",
                if better.is_empty() {
                    "none".to_string()
                } else {
                    better.join(", ")
                }
            )
        };
        summary.push_str(&format!("\n{verdict}\n"));
        if names.len() > 1 {
            panels.push(sensitivity);
        }
        Ok(ExperimentOutput {
            columns: InternalizationRow::TABLE.columns,
            rows,
            figure: Figure {
                title: "Internalization: |z_t| / Σ v over a day, by reading of the population"
                    .into(),
                panels,
            },
            summary,
        })
    }
}

impl InternalizationDesign {
    /// The readings' names in table order (`scenario` when there are none).
    fn reading_names(&self) -> Vec<String> {
        if self.readings.is_empty() {
            vec!["scenario".to_string()]
        } else {
            self.readings.iter().map(|r| r.name.clone()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(pairing: Pairing) -> Reading {
        Reading {
            name: "r".into(),
            sizes: Sizes::Even {
                min: 0.5,
                max: 7.0,
                count: 10,
            },
            pairing,
            dispersion: 0.5,
            p_trade_min: 1.0 / 192.0,
            p_trade_max: 0.125,
        }
    }

    fn params(spec: &InvestorSpec) -> &InvestorParams {
        match spec {
            InvestorSpec::Investor(p) => p,
            InvestorSpec::Group(_) => panic!("explicit investors"),
        }
    }

    #[test]
    fn sizes_are_even_and_frequencies_log_spaced_and_paired() {
        let large = reading(Pairing::LargeFrequent).investors();
        let sizes: Vec<f64> = large.iter().map(|s| params(s).size_mean).collect();
        assert!((sizes[1] - sizes[0] - 6.5 / 9.0).abs() < 1e-12);
        assert_eq!((sizes[0], sizes[9]), (0.5, 7.0));
        let p: Vec<f64> = large.iter().map(|s| params(s).p_trade).collect();
        // Log-spaced: a constant ratio, 24^(1/9), from 1/192 to 1/8.
        for w in p.windows(2) {
            assert!((w[1] / w[0] - 24f64.powf(1.0 / 9.0)).abs() < 1e-12);
        }
        assert!((p[0] - 1.0 / 192.0).abs() < 1e-15 && (p[9] - 0.125).abs() < 1e-15);
        // Reversed pairing: the smallest investor is the most frequent.
        let small = reading(Pairing::SmallFrequent).investors();
        assert!((params(&small[0]).p_trade - 0.125).abs() < 1e-15);
        assert_eq!(params(&small[0]).size_mean, 0.5);
    }

    #[test]
    fn bad_readings_are_located() {
        let mut bad = reading(Pairing::LargeFrequent);
        bad.sizes = Sizes::Listed(vec![1.0, -2.0]);
        bad.p_trade_min = 0.5;
        bad.p_trade_max = 0.1;
        let design = InternalizationDesign {
            focus: "A".into(),
            competitor: "B".into(),
            competitor_tiers_worse: 1,
            readings: vec![bad.clone(), bad],
        };
        let (_, text) = crate::experiments::BUNDLED
            .iter()
            .find(|(n, _)| *n == "internalization")
            .expect("bundled");
        let config = crate::experiments::parse_experiment(text, std::path::Path::new("i.ron"))
            .expect("parses");
        let paths: Vec<String> = design
            .check(&config.scenario)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert!(
            paths.contains(&"design.readings[0].sizes".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"design.readings[0].p_trade_max".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"design.readings[1].name".to_string()),
            "{paths:?}"
        );
    }
}
