//! Internalization (SPEC §2.4.2): |z_t| / Σ_{t'≤t} v_t' of a market maker with no tiering
//! and no hedging, when it shares the flow with an identical competitor (≈50% share)
//! versus when it is strictly cheaper (100% share).

use serde::{Deserialize, Serialize};

use super::{check_focus_and_competitor, maker_index};
use crate::experiments::{
    ExperimentConfig, ExperimentDesign, ExperimentError, ExperimentOutput, Variant, mean_sd,
    quantile, replicate,
};
use crate::mechanisms::dealer_market::config::{FixedTiering, TieringConfig};
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
}

fn one() -> u8 {
    1
}

crate::table_row! {
    /// One row of the internalization result table (`results`).
    pub struct InternalizationRow in "results" {
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
        SETUPS
            .iter()
            .map(|&(setup, _)| {
                let mut scenario = base.clone();
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
                    label: setup.to_string(),
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
        on_done: &(dyn Fn(u64) + Sync),
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
            on_done,
        )?;

        let steps = config.scenario.steps as usize;
        let mut rows = Vec::new();
        let mut panel = Panel {
            title: format!("{} with no tiering and no hedging", self.focus),
            x_label: "tick".into(),
            y_label: "|z_t| / Σ v (median, 25th–75th percentile)".into(),
            x_scale: Scale::Linear,
            series: Vec::new(),
            y_range: None,
        };
        let mut summary = format!(
            "# Internalization\n\n{}\n\nMetric: |z_t| / Σ_{{t'≤t}} v_t' for `{}` (its net position over the investor volume it has \
             traded), no tiering, no hedging, {} replications per setup.\n\n| setup | mean share | p25 at tick {last} | median at tick {last} | p75 at tick {last} |\n| --- | --- | --- | --- | --- |\n",
            config.description,
            self.focus,
            config.runs,
            last = steps.saturating_sub(1)
        );
        let mut medians_at_end = Vec::new();
        for ((setup, label), replications) in SETUPS.iter().zip(&results) {
            let (share, ..) = mean_sd(&replications.iter().map(|(_, s)| *s).collect::<Vec<_>>());
            let mut series = Series {
                name: (*label).to_string(),
                points: Vec::new(),
            };
            let mut at_end = (f64::NAN, f64::NAN, f64::NAN);
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
                at_end = (p25, p50, p75);
            }
            medians_at_end.push(at_end.1);
            summary.push_str(&format!(
                "| {label} | {:.1}% | {:.4} | {:.4} | {:.4} |\n",
                100.0 * share,
                at_end.0,
                at_end.1,
                at_end.2
            ));
            panel.series.push(series);
        }
        let verdict = match medians_at_end.as_slice() {
            [half, full] if full < half => format!(
                "As in the paper, the market maker with all the flow internalises better: its median metric at the \
                 last tick is {full:.4}, against {half:.4} with half the flow. More trades net against each other, so \
                 the position grows like √n while the volume grows like n."
            ),
            [half, full] => format!(
                "Unlike the paper, the market maker with all the flow does not internalise better here: median {full:.4} \
                 against {half:.4}."
            ),
            _ => String::new(),
        };
        summary.push_str(&format!("\n{verdict}\n"));
        Ok(ExperimentOutput {
            columns: InternalizationRow::TABLE.columns,
            rows,
            figure: Figure {
                title: "Internalization: |z_t| / Σ v over a day".into(),
                panels: vec![panel],
            },
            summary,
        })
    }
}
