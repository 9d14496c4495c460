//! The `dealer-pairs` experiment: (1) identical pairs competing drive each dealer's long-run
//! profit per tick to zero, with a confidence band that shrinks as the run lengthens, and
//! the same pairs with margins held fixed (no competition) do not; (2) one pair better
//! capitalised, or less risk-averse: who gains, and what the users' surplus does.

use serde::{Deserialize, Serialize};

use super::book::Side;
use super::config::Adaptation;
use super::records::{dealer_wealths, summary_rows};
use super::{config_of, config_of_mut};
use crate::experiments::{
    ExperimentConfig, ExperimentDesign, ExperimentError, ExperimentOutput, Progress, Variant,
    mean_sd, replicate,
};
use crate::output::row::TableRow;
use crate::plot::{Figure, Panel, Point, Scale, Series};
use crate::scenario::{Problem, Scenario};

/// z of a two-sided 95% normal interval.
const Z95: f64 = 1.959_963_985;

/// The design of the dealer-pairs experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerPairsDesign {
    /// Run lengths, in ticks, at which each dealer's mean profit per tick is measured;
    /// increasing, each above `burn_in`, the last at most the scenario's steps.
    pub horizons: Vec<u32>,
    /// Ticks left out of every mean: the opening margins are away from competition, and
    /// their first ticks would dominate a short run. Default: 50.
    #[serde(default = "fifty")]
    pub burn_in: u32,
    /// The pair given the advantage in the asymmetric variants.
    pub advantaged: String,
    /// Its dealers' capital × this in `better-capitalised`. Default: 10. Must be > 0.
    #[serde(default = "ten")]
    pub capital_factor: f64,
    /// Its dealers' risk aversion × this in `less-risk-averse`. Default: 0.25. Must be > 0.
    #[serde(default = "quarter")]
    pub risk_aversion_factor: f64,
}

fn fifty() -> u32 {
    50
}
fn ten() -> f64 {
    10.0
}
fn quarter() -> f64 {
    0.25
}

crate::table_row! {
    /// One row of the dealer-pairs result table (`results`).
    pub struct DealerPairsRow in "results" {
        variant: String => "`identical`, `fixed-margins`, `better-capitalised` or `less-risk-averse`",
        pair: String => "pair name, or `all` for every dealer together",
        side: String => "`asset`, `investor`, or `all`",
        horizon: u32 => "run length in ticks; profits are over the ticks after burn_in",
        runs: u64 => "replications",
        profit_per_tick: f64 => "mean over replications of (wealth at horizon − wealth at burn_in) / (horizon − burn_in)",
        ci95: f64 => "half-width of its 95% confidence interval (1.96 standard errors across replications)",
        contains_zero: bool => "whether the interval contains 0",
        users_surplus_per_tick: f64 => "mean surplus of the dealer's users per tick up to the horizon",
        margin: f64 => "mean margin at the horizon",
    }
}

/// The variants, in table order: (label, what they change).
const VARIANTS: [&str; 4] = [
    "identical",
    "fixed-margins",
    "better-capitalised",
    "less-risk-averse",
];

/// One dealer at one horizon in one replication.
#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    profit_per_tick: f64,
    surplus: f64,
    margin: f64,
}

fn pair_index(scenario: &Scenario, name: &str) -> Option<usize> {
    config_of(scenario)?
        .pairs
        .iter()
        .position(|p| p.name == name)
}

impl ExperimentDesign for DealerPairsDesign {
    fn check(&self, scenario: &Scenario) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut fail = |path: &str, message: String| {
            problems.push(Problem {
                path: path.into(),
                message,
            })
        };
        match config_of(scenario) {
            None => fail(
                "scenario.mechanisms",
                "the dealer-pairs experiment needs a DealerPairs mechanism".into(),
            ),
            Some(config) if config.pairs.len() < 2 => fail(
                "scenario.mechanisms",
                "give at least two pairs: competition needs a rival".into(),
            ),
            Some(_) => {}
        }
        if config_of(scenario).is_some() && pair_index(scenario, &self.advantaged).is_none() {
            fail(
                "design.advantaged",
                format!("no pair named `{}` in the scenario", self.advantaged),
            );
        }
        if self.horizons.is_empty() {
            fail("design.horizons", "give at least one horizon".into());
        }
        for (i, &h) in self.horizons.iter().enumerate() {
            if h <= self.burn_in || h > scenario.steps {
                fail(
                    &format!("design.horizons[{i}]"),
                    format!(
                        "must be above burn_in ({}) and at most the scenario's steps ({}), got {h}",
                        self.burn_in, scenario.steps
                    ),
                );
            }
            if i > 0 && h <= self.horizons[i - 1] {
                fail(
                    &format!("design.horizons[{i}]"),
                    format!("must increase, got {h} after {}", self.horizons[i - 1]),
                );
            }
        }
        for (field, x) in [
            ("capital_factor", self.capital_factor),
            ("risk_aversion_factor", self.risk_aversion_factor),
        ] {
            if !(x.is_finite() && x > 0.0) {
                fail(&format!("design.{field}"), format!("must be > 0, got {x}"));
            }
        }
        problems
    }

    /// Every pair made identical to the first, then the four variants.
    fn variants(&self, base: &Scenario) -> Vec<Variant> {
        let advantaged = pair_index(base, &self.advantaged).unwrap_or(0);
        VARIANTS
            .iter()
            .map(|&label| {
                let mut scenario = base.clone();
                if let Some(config) = config_of_mut(&mut scenario) {
                    let first = config.pairs[0].clone();
                    for pair in &mut config.pairs {
                        pair.asset_dealer = first.asset_dealer.clone();
                        pair.investor_dealer = first.investor_dealer.clone();
                    }
                    let lead = &mut config.pairs[advantaged];
                    match label {
                        "fixed-margins" => config.adaptation = Adaptation::Fixed,
                        "better-capitalised" => {
                            lead.asset_dealer.capital *= self.capital_factor;
                            lead.investor_dealer.capital *= self.capital_factor;
                        }
                        "less-risk-averse" => {
                            lead.asset_dealer.risk_aversion *= self.risk_aversion_factor;
                            lead.investor_dealer.risk_aversion *= self.risk_aversion_factor;
                        }
                        _ => {}
                    }
                }
                Variant {
                    label: label.to_string(),
                    scenario,
                }
            })
            .collect()
    }

    fn run(
        &self,
        config: &ExperimentConfig,
        progress: &Progress<'_>,
    ) -> Result<ExperimentOutput, ExperimentError> {
        let variants = self.variants(&config.scenario);
        let pairs: Vec<String> = config_of(&config.scenario)
            .map(|c| c.pairs.iter().map(|p| p.name.clone()).collect())
            .unwrap_or_default();
        let burn_in = self.burn_in;
        let horizons = self.horizons.clone();
        // Per replication: per horizon, per dealer (pairs in order, the AssetDealer first).
        let results = replicate(
            &variants,
            config.runs,
            config.seed,
            |_, sim| {
                let mut at_burn_in: Vec<f64> =
                    dealer_wealths(sim.world()).iter().map(|d| d.2).collect();
                let mut out: Vec<Vec<Checkpoint>> = Vec::with_capacity(horizons.len());
                let last = horizons.last().copied().unwrap_or(0);
                for tick in 1..=last {
                    sim.step()?;
                    if tick == burn_in {
                        at_burn_in = dealer_wealths(sim.world()).iter().map(|d| d.2).collect();
                    }
                    if horizons.contains(&tick) {
                        let span = f64::from(tick - burn_in);
                        let rows = summary_rows(sim.world_mut());
                        let wealth = dealer_wealths(sim.world());
                        out.push(
                            wealth
                                .iter()
                                .zip(&at_burn_in)
                                .zip(&rows)
                                .map(|((w, w0), row)| Checkpoint {
                                    profit_per_tick: (w.2 - w0) / span,
                                    surplus: row.users_surplus / f64::from(tick),
                                    margin: row.final_margin,
                                })
                                .collect(),
                        );
                    }
                }
                Ok(out)
            },
            progress,
        )?;

        let mut rows = Vec::new();
        // (variant, horizon, mean, ci) of every dealer together, and per pair at the last
        // horizon: for the figure and the summary.
        let mut all: Vec<(usize, u32, f64, f64, f64)> = Vec::new();
        let mut per_pair_last: Vec<(usize, usize, f64, f64, f64)> = Vec::new();
        for (v, replications) in results.iter().enumerate() {
            for (h, &horizon) in self.horizons.iter().enumerate() {
                let dealers = replications.first().map_or(0, |r| r[h].len());
                let mut push =
                    |pair: String, side: String, pick: &dyn Fn(&[Checkpoint]) -> Checkpoint| {
                        let picked: Vec<Checkpoint> =
                            replications.iter().map(|r| pick(&r[h])).collect();
                        let (mean, _, se, n) =
                            mean_sd(&picked.iter().map(|c| c.profit_per_tick).collect::<Vec<_>>());
                        let (surplus, ..) =
                            mean_sd(&picked.iter().map(|c| c.surplus).collect::<Vec<_>>());
                        let (margin, ..) =
                            mean_sd(&picked.iter().map(|c| c.margin).collect::<Vec<_>>());
                        let ci = Z95 * se;
                        rows.push(
                            DealerPairsRow {
                                variant: VARIANTS[v].to_string(),
                                pair,
                                side,
                                horizon,
                                runs: n as u64,
                                profit_per_tick: mean,
                                ci95: ci,
                                contains_zero: (mean - ci..=mean + ci).contains(&0.0),
                                users_surplus_per_tick: surplus,
                                margin,
                            }
                            .to_owned_cells(),
                        );
                        (mean, ci, surplus)
                    };
                for d in 0..dealers {
                    let side = if d % 2 == 0 {
                        Side::Asset
                    } else {
                        Side::Investor
                    };
                    push(
                        pairs.get(d / 2).cloned().unwrap_or_default(),
                        side.name().into(),
                        &|c: &[Checkpoint]| c[d],
                    );
                }
                if h + 1 == self.horizons.len() {
                    for p in 0..dealers / 2 {
                        let (mean, ci, surplus) = push(
                            pairs.get(p).cloned().unwrap_or_default(),
                            "all".into(),
                            &|c: &[Checkpoint]| sum(&c[2 * p..2 * p + 2]),
                        );
                        per_pair_last.push((v, p, mean, ci, surplus));
                    }
                }
                let (mean, ci, surplus) =
                    push("all".into(), "all".into(), &|c: &[Checkpoint]| sum(c));
                all.push((v, horizon, mean, ci, surplus));
            }
        }

        let figure = self.figure(&all, &per_pair_last, &pairs);
        let summary = self.summary(config, &all, &per_pair_last, &pairs);
        Ok(ExperimentOutput {
            columns: DealerPairsRow::TABLE.columns,
            rows,
            figure,
            summary,
        })
    }
}

/// Dealers' checkpoints summed: profit and surplus add; the margin is their mean.
fn sum(c: &[Checkpoint]) -> Checkpoint {
    let n = c.len().max(1) as f64;
    Checkpoint {
        profit_per_tick: c.iter().map(|x| x.profit_per_tick).sum(),
        surplus: c.iter().map(|x| x.surplus).sum(),
        margin: c.iter().map(|x| x.margin).sum::<f64>() / n,
    }
}

impl DealerPairsDesign {
    fn figure(
        &self,
        all: &[(usize, u32, f64, f64, f64)],
        per_pair_last: &[(usize, usize, f64, f64, f64)],
        pairs: &[String],
    ) -> Figure {
        let band = |v: usize| Series {
            name: VARIANTS[v].into(),
            points: all
                .iter()
                .filter(|a| a.0 == v)
                .map(|&(_, h, mean, ci, _)| {
                    Point::with_band(f64::from(h), mean, mean - ci, mean + ci)
                })
                .collect(),
        };
        let competition = Panel {
            title: "identical pairs: every dealer's profit per tick, 95% band".into(),
            x_label: "run length (ticks)".into(),
            y_label: "profit per tick (currency)".into(),
            x_scale: Scale::Log,
            series: vec![band(0)],
            y_range: None,
        };
        let control = Panel {
            title: "the same pairs with fixed margins (control)".into(),
            x_label: "run length (ticks)".into(),
            y_label: "profit per tick (currency)".into(),
            x_scale: Scale::Log,
            series: vec![band(1)],
            y_range: None,
        };
        let mut who_gains = Panel {
            title: format!(
                "profit per tick by pair at {} ticks",
                self.horizons.last().copied().unwrap_or(0)
            ),
            x_label: "variant (0 identical, 2 better capitalised, 3 less risk-averse)".into(),
            y_label: "profit per tick (currency)".into(),
            x_scale: Scale::Linear,
            series: Vec::new(),
            y_range: None,
        };
        for (p, name) in pairs.iter().enumerate() {
            who_gains.series.push(Series {
                name: name.clone(),
                points: per_pair_last
                    .iter()
                    .filter(|x| x.1 == p && x.0 != 1)
                    .map(|&(v, _, mean, ci, _)| Point::with_error(v as f64, mean, ci))
                    .collect(),
            });
        }
        let surplus = Panel {
            title: "users' surplus per tick".into(),
            x_label: "run length (ticks)".into(),
            y_label: "surplus per tick (currency)".into(),
            x_scale: Scale::Log,
            series: (0..VARIANTS.len())
                .map(|v| Series {
                    name: VARIANTS[v].into(),
                    points: all
                        .iter()
                        .filter(|a| a.0 == v)
                        .map(|&(_, h, _, _, s)| Point::new(f64::from(h), s))
                        .collect(),
                })
                .collect(),
            y_range: None,
        };
        Figure {
            title: "Dealer pairs: competition drives profit to zero".into(),
            panels: vec![competition, control, who_gains, surplus],
        }
    }

    fn summary(
        &self,
        config: &ExperimentConfig,
        all: &[(usize, u32, f64, f64, f64)],
        per_pair_last: &[(usize, usize, f64, f64, f64)],
        pairs: &[String],
    ) -> String {
        let mut s = format!(
            "# Dealer pairs\n\n{}\n\n{} replications of {} ticks per variant; profits are wealth changes over the ticks after \
             the first {} (the opening margins are away from competition), per tick; 95% intervals are 1.96 standard errors \
             across replications. Every pair starts identical to `{}`.\n\n## (1) Identical dealers\n\n| ticks | identical: profit per tick | contains 0 | fixed margins: profit per tick | contains 0 |\n| --- | --- | --- | --- | --- |\n",
            config.description,
            config.runs,
            self.horizons.last().copied().unwrap_or(0),
            self.burn_in,
            pairs.first().cloned().unwrap_or_default(),
        );
        let of = |v: usize| all.iter().filter(move |a| a.0 == v);
        for (a, b) in of(0).zip(of(1)) {
            let zero = |m: f64, c: f64| {
                if (m - c..=m + c).contains(&0.0) {
                    "yes"
                } else {
                    "no"
                }
            };
            s.push_str(&format!(
                "| {} | {:.3} ± {:.3} | {} | {:.3} ± {:.3} | {} |\n",
                a.1,
                a.2,
                a.3,
                zero(a.2, a.3),
                b.2,
                b.3,
                zero(b.2, b.3)
            ));
        }
        let widths: Vec<f64> = of(0).map(|a| a.3).collect();
        if let (Some(first), Some(last)) = (widths.first(), widths.last()) {
            s.push_str(&format!(
                "\nThe identical pairs' band narrows from ±{first:.3} to ±{last:.3} as the run lengthens \
                 ({:.2}× narrower); with margins held fixed the dealers keep their margin on every trade.\n",
                first / last
            ));
        }
        s.push_str(&format!(
            "\n## (2) One pair advantaged: `{}`\n\n| variant | pair | profit per tick | users' surplus per tick |\n| --- | --- | --- | --- |\n",
            self.advantaged
        ));
        for &(v, p, mean, ci, surplus) in per_pair_last.iter().filter(|x| x.0 != 1) {
            s.push_str(&format!(
                "| {} | {} | {mean:.3} ± {ci:.3} | {surplus:.1} |\n",
                VARIANTS[v],
                pairs.get(p).cloned().unwrap_or_default()
            ));
        }
        let total = |v: usize| of(v).next_back().map_or(f64::NAN, |a| a.4);
        s.push_str(&format!(
            "\nUsers' surplus per tick over every pair at the last horizon: identical {:.1}, better capitalised {:.1}, \
             less risk-averse {:.1}, fixed margins {:.1}.\n",
            total(0),
            total(2),
            total(3),
            total(1)
        ));
        s
    }
}
