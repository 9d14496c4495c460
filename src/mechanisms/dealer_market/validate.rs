//! Checks of a `DealerMarket(...)` config: every problem with its field path, through
//! the scenario's shared [`Checker`].

use std::collections::BTreeSet;

use super::config::{
    DealerMarketConfig, HedgeVenue, InvestorGroup, InvestorParams, InvestorSpec, MarketMakerConfig,
    TierSnapshots, TieringConfig, VolatilityEstimate,
};
use crate::market::reference_curve::CurveShape;
use crate::scenario::{Checker, ParamDistribution, Range, Scenario};

/// q_j ∈ [0.5, 1): 0.5 is uninformed, 1 would always know the price's direction.
const SOPHISTICATION: Range = Range::RightOpen(0.5, 1.0);

/// Largest t_m, in ticks (one year of 15-minute ticks).
pub const MAX_POSITION_HORIZON: u64 = 365 * 96;
/// Largest hedging horizon N_max, in ticks: the solver's cost grows as N³.
pub const MAX_HEDGING_HORIZON: u64 = 500;
/// Largest size dispersion σ_j: beyond it the log-normal puts sizes at 0 or at the cap.
pub const MAX_SIZE_DISPERSION: f64 = 5.0;
/// Largest volume penalty α: beyond it quotes overflow long before v_max.
pub const MAX_ALPHA: f64 = 10.0;

/// Share of a size law's mass above the largest trade that is worth a warning.
pub const CLIPPED_MASS_WARNING: f64 = 1e-3;

/// P(v > cap) for v ~ LogNormal with mean `mean` and log-sd `dispersion` (μ = ln mean −
/// σ²/2): ½·erfc((ln cap − μ)/(σ√2)), computed with `erfc` so small tails keep their
/// digits. 0 or 1 for σ = 0.
pub fn mass_above(mean: f64, dispersion: f64, cap: f64) -> f64 {
    if dispersion <= 0.0 {
        return if mean > cap { 1.0 } else { 0.0 };
    }
    let mu = mean.ln() - 0.5 * dispersion * dispersion;
    0.5 * libm::erfc((cap.ln() - mu) / (dispersion * std::f64::consts::SQRT_2))
}

/// The value of `law` at quantile `u` in (0, 1).
fn quantile(law: &ParamDistribution, u: f64) -> f64 {
    match *law {
        ParamDistribution::Const(x) => x,
        ParamDistribution::Uniform { min, max } => min + (max - min) * u,
        ParamDistribution::LogUniform { min, max } => (min.ln() + (max.ln() - min.ln()) * u).exp(),
    }
}

/// The share of trades above `cap` of a population whose mean sizes and dispersions are
/// drawn from `means` and `dispersions` (independently, as a group draws them): the
/// tail P(v > cap) averaged over a 32 × 32 grid of their quantiles.
pub fn group_mass_above(
    means: &ParamDistribution,
    dispersions: &ParamDistribution,
    cap: f64,
) -> f64 {
    const GRID: usize = 32;
    let at = |k: usize| (k as f64 + 0.5) / GRID as f64;
    let mut total = 0.0;
    for i in 0..GRID {
        let mean = quantile(means, at(i));
        for j in 0..GRID {
            total += mass_above(mean, quantile(dispersions, at(j)), cap);
        }
    }
    total / (GRID * GRID) as f64
}

/// Warns when a size law puts more than [`CLIPPED_MASS_WARNING`] of its trades above
/// `cap`, where they are truncated.
fn warn_if_clipped(c: &mut Checker, path: &str, share: f64, what: &str, cap: f64) {
    if share.is_finite() && share > CLIPPED_MASS_WARNING {
        c.warn(
            path,
            format!(
                "{:.2}% of {what} trades would be drawn above max_trade_size ({cap}) and \
                 truncated to it; the run counts them (`clipped_trades`)",
                100.0 * share
            ),
        );
    }
}

/// The dealer market's problems, with paths under `path` (`mechanisms[i]`).
pub fn check(config: &DealerMarketConfig, scenario: &Scenario, path: &str, c: &mut Checker) {
    let market = &scenario.market;
    let max_size = config.max_trade_size;
    c.number(format!("{path}.max_trade_size"), max_size, Range::Positive);
    if market.v_max.is_finite() && max_size.is_finite() && market.v_max <= max_size {
        c.fail(
            "market.v_max",
            format!(
                "must be above the largest possible trade ({path}.max_trade_size = {max_size}), \
                 got {}: S_ref(v) diverges at v_max",
                market.v_max
            ),
        );
    }
    if let TierSnapshots::Every(0) | TierSnapshots::Counts(0) = config.tier_snapshots {
        c.fail(
            format!("{path}.tier_snapshots"),
            "the snapshot interval must be at least 1 tick (write `Off` for no snapshots)",
        );
    }
    let horizon = u64::from(config.position_horizon);
    c.at_least_one(format!("{path}.position_horizon"), horizon, "t_m in ticks");
    c.at_most(
        format!("{path}.position_horizon"),
        horizon,
        MAX_POSITION_HORIZON,
        "one year of ticks; the price path is kept t_m ticks ahead",
    );

    if config.investors.is_empty() {
        c.fail(
            format!("{path}.investors"),
            "the population is empty: add an Investor(...) or a Group(...)",
        );
    }
    for (i, spec) in config.investors.iter().enumerate() {
        let path = format!("{path}.investors[{i}]");
        match spec {
            InvestorSpec::Investor(params) => check_investor(c, &path, params, max_size),
            InvestorSpec::Group(group) => check_group(c, &path, group, max_size),
        }
    }
    let investor_count = config.investor_count();
    let agent_count = investor_count + config.market_makers.len() as u64;
    if agent_count > u64::from(u32::MAX) {
        c.fail(
            format!("{path}.investors"),
            format!("at most {} agents in all, got {agent_count}", u32::MAX),
        );
    }

    if config.market_makers.is_empty() {
        c.fail(
            format!("{path}.market_makers"),
            "no market makers: at least one is needed to quote",
        );
    }
    let names: Vec<&str> = config
        .market_makers
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let mut seen = BTreeSet::new();
    for (i, maker) in config.market_makers.iter().enumerate() {
        let path = format!("{path}.market_makers[{i}]");
        if maker.name.trim().is_empty() {
            c.fail(format!("{path}.name"), "must not be empty");
        } else if !seen.insert(maker.name.as_str()) {
            c.fail(
                format!("{path}.name"),
                format!("duplicate market maker name `{}`", maker.name),
            );
        }
        check_market_maker(c, &path, maker, &names, investor_count);
        check_quotes_stay_below_the_mid(c, &path, maker, scenario, max_size);
    }
}

fn check_investor(c: &mut Checker, path: &str, p: &InvestorParams, max_size: f64) {
    c.number(format!("{path}.p_trade"), p.p_trade, Range::Probability);
    c.number(format!("{path}.size_mean"), p.size_mean, Range::Positive);
    if p.size_mean.is_finite() && p.size_mean > max_size {
        c.fail(
            format!("{path}.size_mean"),
            format!(
                "must not exceed max_trade_size ({max_size}), got {}",
                p.size_mean
            ),
        );
    }
    c.number(
        format!("{path}.size_dispersion"),
        p.size_dispersion,
        Range::Closed(0.0, MAX_SIZE_DISPERSION),
    );
    if p.size_mean.is_finite() && p.size_dispersion.is_finite() {
        let share = mass_above(p.size_mean, p.size_dispersion, max_size);
        let what = format!("this investor's (mean size {})", p.size_mean);
        warn_if_clipped(c, &format!("{path}.size_mean"), share, &what, max_size);
    }
    c.number(format!("{path}.p_buy"), p.p_buy, Range::Probability);
    c.number(
        format!("{path}.sophistication"),
        p.sophistication,
        SOPHISTICATION,
    );
}

fn check_group(c: &mut Checker, path: &str, g: &InvestorGroup, max_size: f64) {
    c.at_least_one(
        format!("{path}.count"),
        u64::from(g.count),
        "investors in the group",
    );
    c.distribution(&format!("{path}.p_trade"), &g.p_trade, Range::Probability);
    let size_path = format!("{path}.size_mean");
    c.distribution(&size_path, &g.size_mean, Range::Positive);
    let largest_mean = match g.size_mean {
        ParamDistribution::Const(x) => x,
        ParamDistribution::Uniform { max, .. } | ParamDistribution::LogUniform { max, .. } => max,
    };
    if largest_mean.is_finite() && largest_mean > max_size {
        c.fail(
            &size_path,
            format!("can reach {largest_mean}, above max_trade_size ({max_size})"),
        );
    }
    c.distribution(
        &format!("{path}.size_dispersion"),
        &g.size_dispersion,
        Range::Closed(0.0, MAX_SIZE_DISPERSION),
    );
    let share = group_mass_above(&g.size_mean, &g.size_dispersion, max_size);
    warn_if_clipped(c, &size_path, share, "the group's", max_size);
    c.distribution(&format!("{path}.p_buy"), &g.p_buy, Range::Probability);
    c.distribution(
        &format!("{path}.sophistication"),
        &g.sophistication,
        SOPHISTICATION,
    );
}

/// The dearest quote a market maker can give an investor, at the largest trade, the
/// highest reference spread and the worst tier: s = (s0_max/2)·(S_ref(v)/S_ref(0))^α +
/// δ·(K − 1). It must stay below 1, or a sell would execute at P·(1 − s) ≤ 0. Only
/// checked when the curve's fields are valid (their own checks report them otherwise).
fn check_quotes_stay_below_the_mid(
    c: &mut Checker,
    path: &str,
    m: &MarketMakerConfig,
    scenario: &Scenario,
    max_size: f64,
) {
    let market = &scenario.market;
    let s0_max = market.reference_spread.max;
    let valid = market.lambda.is_finite()
        && market.lambda > 1.0
        && market.v_max.is_finite()
        && max_size.is_finite()
        && max_size > 0.0
        && max_size < market.v_max
        && s0_max.is_finite()
        && s0_max > 0.0
        && m.alpha.is_finite()
        && m.alpha > 0.0
        && m.tier_penalty.is_finite()
        && m.tier_penalty >= 0.0;
    if !valid {
        return;
    }
    let tiers = match &m.tiering {
        TieringConfig::AverageYield(d) | TieringConfig::RevenueRate(d) => d.tiers,
        TieringConfig::Fixed(f) => f.tiers,
    };
    let worst_tier = f64::from(tiers.saturating_sub(1));
    let shape = CurveShape::new(market.lambda, market.v_max);
    let Ok(ratio) = shape.ratio(max_size) else {
        return;
    };
    let size_part = 0.5 * s0_max * ratio.powf(m.alpha);
    let tier_part = m.tier_penalty * worst_tier;
    let dearest = size_part + tier_part;
    if dearest >= 1.0 || dearest.is_nan() {
        let field = if tier_part >= size_part {
            "tier_penalty"
        } else {
            "alpha"
        };
        c.fail(
            format!("{path}.{field}"),
            format!(
                "the dearest investor quote (s0 = market.reference_spread.max = {s0_max}, size \
                 max_trade_size = {max_size}, tier {worst_tier}) would be {dearest:.4} of the mid: \
                 (s0/2)·(S_ref(v)/S_ref(0))^α = {size_part:.4} plus tier_penalty·(K − 1) = \
                 {tier_part:.4}; it must be below 1, or a sell executes at P·(1 − s) ≤ 0"
            ),
        );
    }
}

/// An investor → tier entry: the investor exists and the tier is below K.
fn check_tier_entry(
    c: &mut Checker,
    entry: &str,
    id: u32,
    tier: u8,
    tiers: u8,
    investor_count: u64,
) {
    if u64::from(id) >= investor_count {
        c.fail(
            entry,
            format!(
                "no investor {id}: ids run from 0 to {}",
                investor_count.saturating_sub(1)
            ),
        );
    }
    if tiers > 0 && tier >= tiers {
        c.fail(entry, format!("tier must be < tiers ({tiers}), got {tier}"));
    }
}

fn check_market_maker(
    c: &mut Checker,
    path: &str,
    m: &MarketMakerConfig,
    names: &[&str],
    investor_count: u64,
) {
    c.number(
        format!("{path}.alpha"),
        m.alpha,
        Range::Within(0.0, MAX_ALPHA),
    );
    c.number(
        format!("{path}.tier_penalty"),
        m.tier_penalty,
        Range::NonNegative,
    );
    let tiering = format!("{path}.tiering");
    match &m.tiering {
        TieringConfig::AverageYield(d) | TieringConfig::RevenueRate(d) => {
            c.at_least_one(format!("{tiering}.tiers"), u64::from(d.tiers), "tiers");
            c.number(format!("{tiering}.weight"), d.weight, Range::Weight);
            c.at_least_one(
                format!("{tiering}.retier_every"),
                u64::from(d.retier_every),
                "ticks",
            );
            c.number(
                format!("{tiering}.prior_yield"),
                d.prior_yield,
                Range::Finite,
            );
            for (&id, &tier) in &d.pinned_investors {
                let entry = format!("{tiering}.pinned_investors[{id}]");
                check_tier_entry(c, &entry, id, tier, d.tiers, investor_count);
            }
        }
        TieringConfig::Fixed(f) => {
            c.at_least_one(format!("{tiering}.tiers"), u64::from(f.tiers), "tiers");
            let tier_ok = |t: u8| t < f.tiers;
            if f.tiers > 0 && !tier_ok(f.default_tier) {
                c.fail(
                    format!("{tiering}.default_tier"),
                    format!("must be < tiers ({}), got {}", f.tiers, f.default_tier),
                );
            }
            for (&id, &tier) in &f.investors {
                let entry = format!("{tiering}.investors[{id}]");
                check_tier_entry(c, &entry, id, tier, f.tiers, investor_count);
            }
            for (name, &tier) in &f.market_makers {
                let entry = format!("{tiering}.market_makers[{name}]");
                if !names.contains(&name.as_str()) {
                    c.fail(entry.clone(), format!("no market maker named `{name}`"));
                } else if *name == m.name {
                    c.fail(
                        entry.clone(),
                        "a market maker does not tier itself: it never quotes its own hedges",
                    );
                }
                if f.tiers > 0 && !tier_ok(tier) {
                    c.fail(
                        entry,
                        format!("tier must be < tiers ({}), got {tier}", f.tiers),
                    );
                }
            }
        }
    }
    if let Some(h) = &m.hedging {
        let hedging = format!("{path}.hedging");
        c.number(
            format!("{hedging}.risk_aversion"),
            h.risk_aversion,
            Range::NonNegative,
        );
        c.at_least_one(
            format!("{hedging}.horizon"),
            u64::from(h.horizon),
            "N_max in ticks",
        );
        c.at_most(
            format!("{hedging}.horizon"),
            u64::from(h.horizon),
            MAX_HEDGING_HORIZON,
            "the schedule solver's cost grows as N³",
        );
        match h.volatility_estimate {
            VolatilityEstimate::Known => {}
            VolatilityEstimate::Ewma(weight) => {
                c.number(
                    format!("{hedging}.volatility_estimate"),
                    weight,
                    Range::Weight,
                );
            }
            VolatilityEstimate::Fixed(sigma) => {
                c.number(
                    format!("{hedging}.volatility_estimate"),
                    sigma,
                    Range::NonNegative,
                );
            }
        }
        if let Some(cap) = h.max_slice {
            c.number(format!("{hedging}.max_slice"), cap, Range::Positive);
        }
        if names.len() < 2 && h.venue == HedgeVenue::MarketMakers {
            c.fail(
                hedging,
                "hedging trades with the other market makers, and there are none: add one, \
                 set `venue: Exchange`, or set `hedging: None`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values: P(Z > z) for the standard normal at z = 0, 1, 3.
    #[test]
    fn the_tail_above_the_cap_is_the_lognormal_closed_form() {
        // σ = 1, mean = e^{1/2} ⇒ μ = 0, so P(v > cap) = P(Z > ln cap).
        let mean = 0.5f64.exp();
        assert!((mass_above(mean, 1.0, 1.0) - 0.5).abs() < 1e-15);
        assert!((mass_above(mean, 1.0, 1f64.exp()) - 0.158_655_253_931_457_05).abs() < 1e-15);
        let far = mass_above(mean, 1.0, 3f64.exp());
        assert!(
            (far / 1.349_898_031_630_094_5e-3 - 1.0).abs() < 1e-13,
            "{far}"
        );
        assert_eq!(mass_above(2.0, 0.0, 3.0), 0.0);
        assert_eq!(mass_above(4.0, 0.0, 3.0), 1.0);
    }

    #[test]
    fn a_group_of_one_size_has_that_size_s_tail() {
        let one = group_mass_above(
            &ParamDistribution::Const(7.0),
            &ParamDistribution::Const(0.5),
            10.0,
        );
        assert!((one - mass_above(7.0, 0.5, 10.0)).abs() < 1e-12);
        // Spreading the means over [0.5, 7] puts less of the group above the cap.
        let spread = group_mass_above(
            &ParamDistribution::Uniform { min: 0.5, max: 7.0 },
            &ParamDistribution::Const(0.5),
            10.0,
        );
        assert!(spread > 0.0 && spread < one);
    }

    #[test]
    fn a_law_that_often_exceeds_the_cap_is_warned_about() {
        let mut c = Checker::default();
        warn_if_clipped(&mut c, "x", mass_above(7.0, 0.5, 10.0), "x", 10.0);
        assert!(c.into_problems().is_empty(), "a warning is not a problem");
        let mut c = Checker::default();
        warn_if_clipped(&mut c, "x", mass_above(7.0, 0.5, 10.0), "x", 10.0);
        warn_if_clipped(&mut c, "y", mass_above(0.5, 0.5, 10.0), "y", 10.0);
        let warnings = c.into_warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].path, "x");
        assert!(
            warnings[0].message.contains("truncated"),
            "{}",
            warnings[0].message
        );
    }
}
