//! Risk aversion against volatility (SPEC §2.4.3): one market maker's cumulative hedging
//! and risk cost over a grid of γ, at low and high volatility, hedging either with the
//! other market makers or on the reference exchange.

use serde::{Deserialize, Serialize};

use super::maker_index;
use crate::experiments::{
    ExperimentConfig, ExperimentDesign, ExperimentError, ExperimentOutput, Progress, Variant,
    mean_sd, replicate,
};
use crate::mechanisms::dealer_market::config::{HedgeVenue, HedgingConfig, VolatilityEstimate};
use crate::mechanisms::dealer_market::validate::MAX_HEDGING_HORIZON;
use crate::mechanisms::dealer_market::{config_of, config_of_mut, maker_accounts};
use crate::output::row::TableRow;
use crate::plot::{Figure, Panel, Point, Scale, Series};
use crate::scenario::{Problem, Scenario};

/// The design of a risk-aversion experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskAversionDesign {
    /// The market maker that hedges; every other market maker does not, so a hedge it
    /// receives stays with it instead of coming back.
    pub focus: String,
    /// The γ grid; all > 0 (the figure's x axis is logarithmic).
    pub risk_aversions: Vec<f64>,
    /// Annualised volatilities σ to compare, e.g. [0.10, 0.30].
    pub volatilities: Vec<f64>,
    /// Hedging venues to compare. Default: [MarketMakers, Exchange].
    #[serde(default = "both_venues")]
    pub venues: Vec<HedgeVenue>,
    /// N_max, the hedging horizon in ticks. Default: 20 (5 hours).
    #[serde(default = "twenty")]
    pub horizon: u32,
    /// The hedger's volatility estimate σ_t. Default: Known (the true σ of each variant).
    #[serde(default)]
    pub volatility_estimate: VolatilityEstimate,
}

fn both_venues() -> Vec<HedgeVenue> {
    vec![HedgeVenue::MarketMakers, HedgeVenue::Exchange]
}
fn twenty() -> u32 {
    20
}

crate::table_row! {
    /// One row of the risk-aversion result table (`results`).
    pub struct RiskAversionRow in "results" {
        venue: String => "`market_makers` or `exchange`",
        volatility: f64 => "σ, annualised",
        risk_aversion: f64 => "γ",
        runs: u64 => "replications",
        mean_cost: f64 => "mean of hedging cost + |risk cost| over the run (currency)",
        stderr_cost: f64 => "standard error of mean_cost",
        mean_hedging_cost: f64 => "mean hedging cost (currency)",
        mean_risk_cost: f64 => "mean |risk cost| (currency)",
        mean_first_slice: f64 => "mean x_0, the fraction of the position hedged per decision",
    }
}

fn venue_name(venue: HedgeVenue) -> &'static str {
    match venue {
        HedgeVenue::MarketMakers => "market_makers",
        HedgeVenue::Exchange => "exchange",
    }
}

/// (venue, volatility, γ) of each variant, in table order.
fn cells(design: &RiskAversionDesign) -> Vec<(HedgeVenue, f64, f64)> {
    let mut out = Vec::new();
    for &venue in &design.venues {
        for &sigma in &design.volatilities {
            for &gamma in &design.risk_aversions {
                out.push((venue, sigma, gamma));
            }
        }
    }
    out
}

/// The cost curve of one (venue, σ): (γ, mean cost, standard error, mean x_0) per γ.
type CostCurve = (HedgeVenue, f64, Vec<(f64, f64, f64, f64)>);

/// One replication's figures for the focus.
#[derive(Clone, Copy, Debug)]
struct Costs {
    hedging: f64,
    risk: f64,
    first_slice: f64,
}

impl ExperimentDesign for RiskAversionDesign {
    /// Problems with the design against its base scenario.
    fn check(&self, scenario: &Scenario) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut fail = |field: &str, message: String| {
            problems.push(Problem {
                path: format!("design.{field}"),
                message,
            })
        };
        if maker_index(scenario, &self.focus).is_none() {
            fail(
                "focus",
                format!("no market maker named `{}` in the scenario", self.focus),
            );
        }
        if self.risk_aversions.is_empty() {
            fail("risk_aversions", "give at least one γ".into());
        }
        for (i, &g) in self.risk_aversions.iter().enumerate() {
            if !(g.is_finite() && g > 0.0) {
                fail(
                    &format!("risk_aversions[{i}]"),
                    format!("must be > 0 (the x axis is logarithmic), got {g}"),
                );
            }
        }
        if self.volatilities.is_empty() {
            fail("volatilities", "give at least one σ".into());
        }
        for (i, &s) in self.volatilities.iter().enumerate() {
            if !(s.is_finite() && s >= 0.0 && s * scenario.market.tick_years.sqrt() <= 1.0) {
                fail(
                    &format!("volatilities[{i}]"),
                    format!("must be ≥ 0 with σ·sqrt(tick_years) ≤ 1, got {s}"),
                );
            }
        }
        if self.venues.is_empty() {
            fail("venues", "give at least one venue".into());
        }
        if self.venues.contains(&HedgeVenue::MarketMakers)
            && config_of(scenario).is_none_or(|c| c.market_makers.len() < 2)
        {
            fail(
                "venues",
                "hedging with market makers needs a second market maker in the scenario".into(),
            );
        }
        if self.horizon == 0 || u64::from(self.horizon) > MAX_HEDGING_HORIZON {
            fail(
                "horizon",
                format!(
                    "must be in 1..={}, got {}",
                    MAX_HEDGING_HORIZON, self.horizon
                ),
            );
        }
        problems
    }

    /// The variants: the focus hedges with γ at volatility σ on the venue; no one else hedges.
    fn variants(&self, base: &Scenario) -> Vec<Variant> {
        let Some(focus) = maker_index(base, &self.focus) else {
            return Vec::new();
        };
        cells(self)
            .into_iter()
            .map(|(venue, sigma, gamma)| {
                let mut scenario = base.clone();
                scenario.market.volatility = sigma;
                if let Some(market) = config_of_mut(&mut scenario) {
                    for maker in &mut market.market_makers {
                        maker.hedging = None;
                    }
                    market.market_makers[focus].hedging = Some(HedgingConfig {
                        risk_aversion: gamma,
                        horizon: self.horizon,
                        venue,
                        volatility_estimate: self.volatility_estimate,
                        max_slice: None,
                    });
                }
                Variant {
                    label: format!("{} σ={sigma} γ={gamma}", venue_name(venue)),
                    scenario,
                }
            })
            .collect()
    }

    /// Runs the grid and reduces to the cost table, figure and summary.
    ///
    /// # Errors
    /// [`ExperimentError::Run`] when a replication fails.
    fn run(
        &self,
        config: &ExperimentConfig,
        progress: &Progress<'_>,
    ) -> Result<ExperimentOutput, ExperimentError> {
        let focus = maker_index(&config.scenario, &self.focus).unwrap_or(0);
        let variants = self.variants(&config.scenario);
        let results = replicate(
            &variants,
            config.runs,
            config.seed,
            |_, sim| {
                sim.run(|_| {})?;
                let accounts = maker_accounts(sim.world_mut());
                let ledger = &accounts[focus].1;
                Ok(Costs {
                    hedging: ledger.total.hedging_cost,
                    risk: -ledger.total.risk_cost,
                    first_slice: if ledger.hedge_decisions > 0 {
                        ledger.first_slice_total / ledger.hedge_decisions as f64
                    } else {
                        f64::NAN
                    },
                })
            },
            progress,
        )?;

        let cells = cells(self);
        let mut rows = Vec::new();
        let mut curves: Vec<CostCurve> = Vec::new();
        for (&(venue, sigma, gamma), replications) in cells.iter().zip(&results) {
            let total: Vec<f64> = replications.iter().map(|c| c.hedging + c.risk).collect();
            let (mean, _, se, n) = mean_sd(&total);
            let (hedging, ..) =
                mean_sd(&replications.iter().map(|c| c.hedging).collect::<Vec<_>>());
            let (risk, ..) = mean_sd(&replications.iter().map(|c| c.risk).collect::<Vec<_>>());
            let (x0, ..) = mean_sd(
                &replications
                    .iter()
                    .map(|c| c.first_slice)
                    .collect::<Vec<_>>(),
            );
            rows.push(
                RiskAversionRow {
                    venue: venue_name(venue).to_string(),
                    volatility: sigma,
                    risk_aversion: gamma,
                    runs: n as u64,
                    mean_cost: mean,
                    stderr_cost: se,
                    mean_hedging_cost: hedging,
                    mean_risk_cost: risk,
                    mean_first_slice: x0,
                }
                .to_owned_cells(),
            );
            match curves.last_mut() {
                Some((v, s, points)) if *v == venue && *s == sigma => {
                    points.push((gamma, mean, se, x0))
                }
                _ => curves.push((venue, sigma, vec![(gamma, mean, se, x0)])),
            }
        }

        let mut panels: Vec<Panel> = Vec::new();
        let mut summary = format!(
            "# Risk aversion against volatility\n\n{}\n\n`{}` hedges with VaR risk aversion γ over N_max = {} ticks; no other \
             market maker hedges. Cost = hedging cost + |risk cost| over {} ticks, mean of {} replications (common random \
             numbers across γ). x_0 = mean fraction of the position hedged per decision.\n",
            config.description, self.focus, self.horizon, config.scenario.steps, config.runs
        );
        let mut best: Vec<(HedgeVenue, f64, f64)> = Vec::new();
        for &venue in &self.venues {
            let title = match venue {
                HedgeVenue::MarketMakers => "hedging with the other market maker",
                HedgeVenue::Exchange => "hedging on the exchange at S_ref(v)",
            };
            let mut panel = Panel {
                title: title.into(),
                x_label: "risk aversion γ".into(),
                y_label: "hedging + risk cost (currency)".into(),
                x_scale: Scale::Log,
                series: Vec::new(),
                y_range: None,
            };
            summary.push_str(&format!("\n## {title}\n\n| γ |"));
            let these: Vec<&CostCurve> = curves.iter().filter(|(v, ..)| *v == venue).collect();
            for (_, sigma, _) in &these {
                summary.push_str(&format!(
                    " cost at σ = {:.0}% | x_0 at σ = {:.0}% |",
                    100.0 * sigma,
                    100.0 * sigma
                ));
            }
            summary.push_str(&format!("\n| --- |{}", " --- | --- |".repeat(these.len())));
            for (i, &gamma) in self.risk_aversions.iter().enumerate() {
                summary.push_str(&format!("\n| {gamma} |"));
                for (_, _, points) in &these {
                    let (_, mean, se, x0) = points[i];
                    summary.push_str(&format!(" {mean:.3} ± {se:.3} | {x0:.3} |"));
                }
            }
            summary.push('\n');
            for (_, sigma, points) in &these {
                let argmin = points
                    .iter()
                    .filter(|p| p.1.is_finite())
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(f64::NAN, |p| p.0);
                best.push((venue, *sigma, argmin));
                summary.push_str(&format!(
                    "\nCheapest γ at σ = {:.0}%: **{argmin}**.",
                    100.0 * sigma
                ));
                panel.series.push(Series {
                    name: format!("σ = {:.0}%", 100.0 * sigma),
                    points: points
                        .iter()
                        .map(|&(gamma, mean, se, _)| Point {
                            x: gamma,
                            y: mean,
                            error: se.is_finite().then_some(se),
                            band: None,
                        })
                        .collect(),
                });
            }
            summary.push('\n');
            panels.push(panel);
        }
        summary.push_str("\n## Verdict\n\n");
        for &venue in &self.venues {
            let at: Vec<(f64, f64)> = best
                .iter()
                .filter(|(v, ..)| *v == venue)
                .map(|&(_, s, g)| (s, g))
                .collect();
            if let (Some(&(low_sigma, low_gamma)), Some(&(high_sigma, high_gamma))) = (
                at.iter().min_by(|a, b| a.0.total_cmp(&b.0)),
                at.iter().max_by(|a, b| a.0.total_cmp(&b.0)),
            ) && low_sigma < high_sigma
            {
                let pattern = high_gamma > low_gamma;
                summary.push_str(&format!(
                    "- {}: cheapest γ is {low_gamma} at σ = {:.0}% and {high_gamma} at σ = {:.0}%: the paper's pattern (a higher γ \
                     pays at higher volatility) {}.\n",
                    venue_name(venue),
                    100.0 * low_sigma,
                    100.0 * high_sigma,
                    if pattern { "appears" } else { "does not appear" }
                ));
            }
        }
        Ok(ExperimentOutput {
            columns: RiskAversionRow::TABLE.columns,
            rows,
            figure: Figure {
                title: format!("Risk aversion: hedging + risk cost of {}", self.focus),
                panels,
            },
            summary,
        })
    }
}
