//! Price sensitivity (SPEC §2.4.1): one market maker moves one investor through tiers
//! 0..K−1 while the competitor holds it at a fixed tier; market share per
//! (investor, tier). Then the same with revenue-rate tiering for both market makers.

use serde::{Deserialize, Serialize};

use super::{check_focus_and_competitor, maker_index};
use crate::experiments::{
    ExperimentConfig, ExperimentDesign, ExperimentError, ExperimentOutput, Progress, Variant,
    mean_sd, replicate,
};
use crate::mechanisms::dealer_market::config::{
    DynamicTiering, FixedTiering, InvestorSpec, TieringConfig,
};
use crate::mechanisms::dealer_market::{TradeKind, TradeLog, config_of, config_of_mut};
use crate::output::row::TableRow;
use crate::plot::{Figure, Panel, Point, Scale, Series};
use crate::scenario::{Problem, Scenario};

/// The design of a price-sensitivity experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSensitivityDesign {
    /// The market maker that moves the probed investor through the tiers.
    pub focus: String,
    /// The competitor, which holds the probed investor at its `competitor_tier`.
    pub competitor: String,
    /// The investors probed, one at a time.
    pub probes: Vec<Probe>,
    /// K, the number of tiers. Default: 5.
    #[serde(default = "default_tiers")]
    pub tiers: u8,
    /// Tier both market makers give every investor not probed, in the fixed variant.
    /// Default: 2.
    #[serde(default = "default_other_tier")]
    pub other_tier: u8,
    /// Also run the revenue-rate variant: both market makers tier dynamically by revenue
    /// rate, and the focus pins the probed investor at each tier. Default: true.
    #[serde(default = "yes")]
    pub revenue_rate: bool,
}

/// One probed investor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Investor id in the base scenario.
    pub investor: u32,
    /// The tier the competitor gives it in the fixed variant.
    pub competitor_tier: u8,
}

fn default_tiers() -> u8 {
    5
}
fn default_other_tier() -> u8 {
    2
}
fn yes() -> bool {
    true
}

crate::table_row! {
    /// One row of the price-sensitivity result table (`results`).
    pub struct PriceSensitivityRow in "results" {
        variant: String => "`fixed` or `revenue_rate` tiering",
        investor: u32 => "probed investor id",
        size_mean: f64 => "its mean trade size (NaN for a generated investor)",
        competitor_tier: f64 => "the competitor's tier for it (NaN when dynamic)",
        tier: u32 => "the focus market maker's tier for it",
        runs: u64 => "replications in which the investor traded",
        mean_share: f64 => "mean share of its volume won by the focus",
        sd_share: f64 => "standard deviation of the share across replications",
        stderr_share: f64 => "standard error of the mean share",
    }
}

/// The tiering variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TieringVariant {
    Fixed,
    RevenueRate,
}

impl TieringVariant {
    fn name(self) -> &'static str {
        match self {
            TieringVariant::Fixed => "fixed",
            TieringVariant::RevenueRate => "revenue_rate",
        }
    }
}

/// (variant, probe index, tier) of each scenario variant, in order.
/// The tiering variants the design runs, in table order.
fn kinds(design: &PriceSensitivityDesign) -> Vec<TieringVariant> {
    let mut kinds = vec![TieringVariant::Fixed];
    if design.revenue_rate {
        kinds.push(TieringVariant::RevenueRate);
    }
    kinds
}

/// (variant, probe index, tier) of each scenario variant, in table order: variant, then
/// probe, then tier.
fn cells(design: &PriceSensitivityDesign) -> Vec<(TieringVariant, usize, u8)> {
    let mut out = Vec::new();
    for kind in kinds(design) {
        for p in 0..design.probes.len() {
            for tier in 0..design.tiers {
                out.push((kind, p, tier));
            }
        }
    }
    out
}

fn mean_size(scenario: &Scenario, investor: u32) -> f64 {
    let mut id = 0u64;
    let specs = config_of(scenario).map_or(&[][..], |c| &c.investors[..]);
    for spec in specs {
        match spec {
            InvestorSpec::Investor(p) => {
                if id == u64::from(investor) {
                    return p.size_mean;
                }
                id += 1;
            }
            InvestorSpec::Group(g) => {
                if u64::from(investor) < id + u64::from(g.count) {
                    return f64::NAN;
                }
                id += u64::from(g.count);
            }
        }
    }
    f64::NAN
}

impl ExperimentDesign for PriceSensitivityDesign {
    /// Problems with the design against its base scenario.
    fn check(&self, scenario: &Scenario) -> Vec<Problem> {
        let mut problems = check_focus_and_competitor(scenario, &self.focus, &self.competitor);
        let mut fail = |field: &str, message: String| {
            problems.push(Problem {
                path: format!("design.{field}"),
                message,
            })
        };
        if self.tiers == 0 {
            fail("tiers", "must be ≥ 1, got 0".into());
        }
        if self.other_tier >= self.tiers {
            fail(
                "other_tier",
                format!("must be < tiers ({}), got {}", self.tiers, self.other_tier),
            );
        }
        if self.probes.is_empty() {
            fail("probes", "probe at least one investor".into());
        }
        let investors = config_of(scenario).map_or(0, |c| c.investor_count());
        for (i, probe) in self.probes.iter().enumerate() {
            if u64::from(probe.investor) >= investors {
                fail(
                    &format!("probes[{i}].investor"),
                    format!(
                        "no investor {}: the scenario has {investors}",
                        probe.investor
                    ),
                );
            }
            if probe.competitor_tier >= self.tiers {
                fail(
                    &format!("probes[{i}].competitor_tier"),
                    format!(
                        "must be < tiers ({}), got {}",
                        self.tiers, probe.competitor_tier
                    ),
                );
            }
        }
        problems
    }

    /// The scenario variants, in table order. Hedging is switched off: it does not change
    /// the quotes investors see, and would only cost time.
    fn variants(&self, base: &Scenario) -> Vec<Variant> {
        let (Some(focus), Some(competitor)) = (
            maker_index(base, &self.focus),
            maker_index(base, &self.competitor),
        ) else {
            return Vec::new();
        };
        cells(self)
            .into_iter()
            .map(|(kind, p, tier)| {
                let probe = &self.probes[p];
                let mut scenario = base.clone();
                let Some(market) = config_of_mut(&mut scenario) else {
                    return Variant {
                        label: String::new(),
                        scenario,
                    };
                };
                for maker in &mut market.market_makers {
                    maker.hedging = None;
                }
                let fixed = |tier_of_probe: u8| {
                    TieringConfig::Fixed(FixedTiering {
                        tiers: self.tiers,
                        default_tier: self.other_tier,
                        investors: [(probe.investor, tier_of_probe)].into_iter().collect(),
                        market_makers: Default::default(),
                    })
                };
                let dynamic = |pinned: Option<u8>| {
                    TieringConfig::RevenueRate(DynamicTiering {
                        tiers: self.tiers,
                        pinned_investors: pinned.map(|t| (probe.investor, t)).into_iter().collect(),
                        ..DynamicTiering::default()
                    })
                };
                let (focus_tiering, competitor_tiering) = match kind {
                    TieringVariant::Fixed => (fixed(tier), fixed(probe.competitor_tier)),
                    TieringVariant::RevenueRate => (dynamic(Some(tier)), dynamic(None)),
                };
                market.market_makers[focus].tiering = focus_tiering;
                market.market_makers[competitor].tiering = competitor_tiering;
                Variant {
                    label: format!("{} investor {} tier {tier}", kind.name(), probe.investor),
                    scenario,
                }
            })
            .collect()
    }

    /// Runs every variant and reduces to the result table, figure and summary.
    ///
    /// # Errors
    /// [`ExperimentError::Run`] when a replication fails.
    fn run(
        &self,
        config: &ExperimentConfig,
        progress: &Progress<'_>,
    ) -> Result<ExperimentOutput, ExperimentError> {
        let base = &config.scenario;
        let variants = self.variants(base);
        let focus = maker_index(base, &self.focus).unwrap_or(0) as u32;
        let cells = cells(self);
        let shares = replicate(
            &variants,
            config.runs,
            config.seed,
            |variant, sim| {
                let (_, p, _) = cells[variant];
                let investor = self.probes[p].investor;
                sim.world_mut().resource_mut::<TradeLog>().enabled = true;
                let (mut won, mut total) = (0.0, 0.0);
                while sim.tick() < sim.scenario().steps {
                    sim.step()?;
                    for t in &sim.world().resource::<TradeLog>().trades {
                        if t.kind == TradeKind::Investor && t.counterparty == investor {
                            total += t.maker_signed_size.abs();
                            if t.maker == focus {
                                won += t.maker_signed_size.abs();
                            }
                        }
                    }
                }
                Ok(if total > 0.0 { won / total } else { f64::NAN })
            },
            progress,
        )?;

        // (mean, sd, standard error, replications that traded) per cell.
        let stats: Vec<(f64, f64, f64, usize)> = shares.iter().map(|r| mean_sd(r)).collect();
        let rows = cells
            .iter()
            .zip(&stats)
            .map(|(&(kind, p, tier), &(mean, sd, se, n))| {
                let probe = &self.probes[p];
                let competitor_tier = match kind {
                    TieringVariant::Fixed => f64::from(probe.competitor_tier),
                    TieringVariant::RevenueRate => f64::NAN,
                };
                PriceSensitivityRow {
                    variant: kind.name().to_string(),
                    investor: probe.investor,
                    size_mean: mean_size(base, probe.investor),
                    competitor_tier,
                    tier: u32::from(tier),
                    runs: n as u64,
                    mean_share: mean,
                    sd_share: sd,
                    stderr_share: se,
                }
                .to_owned_cells()
            })
            .collect();

        // Cells come variant by variant, probe by probe, tier by tier: one panel per
        // variant, one series per probe, one point per tier.
        let tiers = usize::from(self.tiers.max(1));
        let per_kind = self.probes.len() * tiers;
        let mut panels = Vec::new();
        let mut summary = format!(
            "# Price sensitivity\n\n{}\n\nFocus market maker `{}` moves one investor through tiers 0..{} while `{}` holds it \
             at a fixed tier (fixed variant) or tiers it by revenue rate (revenue-rate variant). {} replications per \
             (investor, tier); share = the focus's share of that investor's volume, over replications in which it traded.\n\n\
             | variant | investor | mean size | competitor tier |{}\n| --- | --- | --- | --- |{}",
            config.description,
            self.focus,
            tiers - 1,
            self.competitor,
            config.runs,
            (0..tiers)
                .map(|t| format!(" tier {t} |"))
                .collect::<String>(),
            " --- |".repeat(tiers),
        );
        for (kind, kind_stats) in kinds(self).into_iter().zip(stats.chunks(per_kind)) {
            let mut series = Vec::new();
            for (probe, probe_stats) in self.probes.iter().zip(kind_stats.chunks(tiers)) {
                let size = mean_size(base, probe.investor);
                let (name, competitor) = match kind {
                    TieringVariant::Fixed => (
                        format!("size {size}, competitor tier {}", probe.competitor_tier),
                        probe.competitor_tier.to_string(),
                    ),
                    TieringVariant::RevenueRate => (format!("size {size}"), "dynamic".into()),
                };
                summary.push_str(&format!(
                    "\n| {} | {} | {size} | {competitor} |",
                    kind.name(),
                    probe.investor
                ));
                for &(mean, _, se, _) in probe_stats {
                    summary.push_str(&format!(" {:.1}% ± {:.1} |", 100.0 * mean, 100.0 * se));
                }
                series.push(Series {
                    name,
                    points: probe_stats
                        .iter()
                        .enumerate()
                        .map(|(tier, &(mean, _, se, _))| Point {
                            x: tier as f64,
                            y: mean,
                            error: se.is_finite().then_some(se),
                            band: None,
                        })
                        .collect(),
                });
            }
            panels.push(Panel {
                title: match kind {
                    TieringVariant::Fixed => "fixed tiers".into(),
                    TieringVariant::RevenueRate => "revenue-rate tiering".into(),
                },
                x_label: format!("tier given by {}", self.focus),
                y_label: format!("market share of {}", self.focus),
                x_scale: Scale::Linear,
                series,
                y_range: Some((-0.05, 1.05)),
            });
        }
        summary.push_str(
            "\n\nExpected (paper): ≈100% when the focus tiers the investor better than the competitor, ≈50% when \
             equal, ≈0% when worse; investors the competitor tiers better (the larger ones) are lost at lower tiers.\n",
        );
        Ok(ExperimentOutput {
            columns: PriceSensitivityRow::TABLE.columns,
            rows,
            figure: Figure {
                title: format!("Price sensitivity: market share of {} by tier", self.focus),
                panels,
            },
            summary,
        })
    }
}
