//! Semantic checks of a parsed scenario: every problem is collected with its field path,
//! so a user fixes a file in one pass instead of one error per run.

use std::collections::BTreeSet;
use std::fmt;

use super::{
    HedgeVenue, InvestorGroup, InvestorParams, InvestorSpec, MarketConfig, MarketMakerConfig,
    ParamDistribution, Scenario, TieringConfig, VolatilityEstimate,
};

/// One violated rule: the field path (e.g. `market_makers[1].alpha`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path in the scenario, as the RON file nests it.
    pub path: String,
    /// What is wrong, with the offending value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects problems under a path prefix.
struct Checker {
    problems: Vec<Problem>,
}

/// The admissible range of a number.
#[derive(Clone, Copy)]
enum Range {
    /// Any finite number.
    Finite,
    /// > 0.
    Positive,
    /// ≥ 0.
    NonNegative,
    /// [0, 1].
    Probability,
    /// (0, 1].
    Weight,
    /// [0.5, 1).
    Sophistication,
    /// > the bound.
    Above(f64),
    /// In (lower, upper].
    Within(f64, f64),
    /// In [lower, upper].
    Closed(f64, f64),
}

impl Range {
    fn admits(self, x: f64) -> bool {
        x.is_finite()
            && match self {
                Range::Finite => true,
                Range::Positive => x > 0.0,
                Range::NonNegative => x >= 0.0,
                Range::Probability => (0.0..=1.0).contains(&x),
                Range::Weight => x > 0.0 && x <= 1.0,
                Range::Sophistication => (0.5..1.0).contains(&x),
                Range::Above(bound) => x > bound,
                Range::Within(lower, upper) => x > lower && x <= upper,
                Range::Closed(lower, upper) => (lower..=upper).contains(&x),
            }
    }

    fn describe(self) -> String {
        match self {
            Range::Finite => "must be a finite number".into(),
            Range::Positive => "must be > 0".into(),
            Range::NonNegative => "must be ≥ 0".into(),
            Range::Probability => "must be a probability in [0, 1]".into(),
            Range::Weight => "must be in (0, 1]".into(),
            Range::Sophistication => "must be in [0.5, 1) (0.5 = uninformed)".into(),
            Range::Above(bound) => format!("must be > {bound}"),
            Range::Within(lower, upper) => format!("must be in ({lower}, {upper}]"),
            Range::Closed(lower, upper) => format!("must be in [{lower}, {upper}]"),
        }
    }
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn number(&mut self, path: impl Into<String>, value: f64, range: Range) {
        if !range.admits(value) {
            let what = if value.is_finite() {
                range.describe()
            } else {
                format!("{} (NaN and infinities are not allowed)", range.describe())
            };
            self.fail(path, format!("{what}, got {value}"));
        }
    }

    fn at_least_one(&mut self, path: impl Into<String>, value: u64, what: &str) {
        if value == 0 {
            self.fail(path, format!("must be ≥ 1 ({what}), got 0"));
        }
    }

    fn at_most(&mut self, path: impl Into<String>, value: u64, limit: u64, why: &str) {
        if value > limit {
            self.fail(path, format!("must be ≤ {limit} ({why}), got {value}"));
        }
    }

    /// Every value a distribution can produce must lie in `range`.
    fn distribution(&mut self, path: &str, law: &ParamDistribution, range: Range) {
        match *law {
            ParamDistribution::Const(x) => self.number(path, x, range),
            ParamDistribution::Uniform { min, max }
            | ParamDistribution::LogUniform { min, max } => {
                self.number(format!("{path}.min"), min, range);
                self.number(format!("{path}.max"), max, range);
                if matches!(law, ParamDistribution::LogUniform { .. }) {
                    self.number(format!("{path}.min"), min, Range::Positive);
                }
                if min.is_finite() && max.is_finite() && min > max {
                    self.fail(
                        format!("{path}.max"),
                        format!("must be ≥ min ({min}), got {max}"),
                    );
                }
            }
        }
    }
}

/// Largest t_m, in ticks (one year of 15-minute ticks).
pub const MAX_POSITION_HORIZON: u64 = 365 * 96;
/// Largest hedging horizon N_max, in ticks: the solver's cost grows as N³.
pub const MAX_HEDGING_HORIZON: u64 = 500;
/// Largest size dispersion σ_j: beyond it the log-normal puts sizes at 0 or at the cap.
pub const MAX_SIZE_DISPERSION: f64 = 5.0;
/// Largest volume penalty α: beyond it quotes overflow long before v_max.
pub const MAX_ALPHA: f64 = 10.0;

/// Every problem in `scenario`, in field order; empty when it is valid.
pub fn validate(scenario: &Scenario) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    c.at_least_one("steps", u64::from(scenario.steps), "ticks to simulate");
    check_market(&mut c, &scenario.market);

    if scenario.investors.is_empty() {
        c.fail(
            "investors",
            "the population is empty: add an Investor(...) or a Group(...)",
        );
    }
    for (i, spec) in scenario.investors.iter().enumerate() {
        let path = format!("investors[{i}]");
        match spec {
            InvestorSpec::Investor(params) => {
                check_investor(&mut c, &path, params, &scenario.market)
            }
            InvestorSpec::Group(group) => check_group(&mut c, &path, group, &scenario.market),
        }
    }
    let investor_count = scenario.investor_count();
    let agent_count = investor_count + scenario.market_makers.len() as u64;
    if agent_count > u64::from(u32::MAX) {
        c.fail(
            "investors",
            format!("at most {} agents in all, got {agent_count}", u32::MAX),
        );
    }

    if scenario.market_makers.is_empty() {
        c.fail(
            "market_makers",
            "no market makers: at least one is needed to quote",
        );
    }
    let names: Vec<&str> = scenario
        .market_makers
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let mut seen = BTreeSet::new();
    for (i, maker) in scenario.market_makers.iter().enumerate() {
        let path = format!("market_makers[{i}]");
        if maker.name.trim().is_empty() {
            c.fail(format!("{path}.name"), "must not be empty");
        } else if !seen.insert(maker.name.as_str()) {
            c.fail(
                format!("{path}.name"),
                format!("duplicate market maker name `{}`", maker.name),
            );
        }
        check_market_maker(&mut c, &path, maker, &names, investor_count);
    }
    c.problems
}

fn check_market(c: &mut Checker, m: &MarketConfig) {
    c.number("market.initial_price", m.initial_price, Range::Positive);
    c.number("market.drift", m.drift, Range::Finite);
    c.number("market.volatility", m.volatility, Range::NonNegative);
    c.number("market.tick_years", m.tick_years, Range::Positive);
    // Beyond these the GBM leaves floating point within a few ticks; no market is that wild.
    if m.volatility.is_finite()
        && m.tick_years.is_finite()
        && m.volatility * m.tick_years.sqrt() > 1.0
    {
        c.fail(
            "market.volatility",
            format!(
                "the per-tick volatility σ·sqrt(tick_years) must be ≤ 1, got {}",
                m.volatility * m.tick_years.sqrt()
            ),
        );
    }
    if m.drift.is_finite() && m.tick_years.is_finite() && (m.drift * m.tick_years).abs() > 1.0 {
        c.fail(
            "market.drift",
            format!(
                "the per-tick drift |μ·tick_years| must be ≤ 1, got {}",
                m.drift * m.tick_years
            ),
        );
    }
    let s = &m.reference_spread;
    c.number("market.reference_spread.mean", s.mean, Range::Positive);
    c.number(
        "market.reference_spread.std_dev",
        s.std_dev,
        Range::NonNegative,
    );
    c.number("market.reference_spread.min", s.min, Range::Positive);
    c.number("market.reference_spread.max", s.max, Range::Positive);
    if s.min.is_finite() && s.max.is_finite() && s.min > s.max {
        c.fail(
            "market.reference_spread.max",
            format!("must be ≥ min ({}), got {}", s.min, s.max),
        );
    }
    c.number("market.lambda", m.lambda, Range::Above(1.0));
    c.number("market.max_trade_size", m.max_trade_size, Range::Positive);
    c.number("market.v_max", m.v_max, Range::Positive);
    if m.v_max.is_finite() && m.max_trade_size.is_finite() && m.v_max <= m.max_trade_size {
        c.fail(
            "market.v_max",
            format!(
                "must be above the largest possible trade (market.max_trade_size = {}), got {}: \
                 S_ref(v) diverges at v_max",
                m.max_trade_size, m.v_max
            ),
        );
    }
    c.at_least_one(
        "market.position_horizon",
        u64::from(m.position_horizon),
        "t_m in ticks",
    );
    c.at_most(
        "market.position_horizon",
        u64::from(m.position_horizon),
        MAX_POSITION_HORIZON,
        "one year of ticks; the price path is kept t_m ticks ahead",
    );
}

fn check_investor(c: &mut Checker, path: &str, p: &InvestorParams, market: &MarketConfig) {
    c.number(format!("{path}.p_trade"), p.p_trade, Range::Probability);
    c.number(format!("{path}.size_mean"), p.size_mean, Range::Positive);
    if p.size_mean.is_finite() && p.size_mean > market.max_trade_size {
        c.fail(
            format!("{path}.size_mean"),
            format!(
                "must not exceed market.max_trade_size ({}), got {}",
                market.max_trade_size, p.size_mean
            ),
        );
    }
    c.number(
        format!("{path}.size_dispersion"),
        p.size_dispersion,
        Range::Closed(0.0, MAX_SIZE_DISPERSION),
    );
    c.number(format!("{path}.p_buy"), p.p_buy, Range::Probability);
    c.number(
        format!("{path}.sophistication"),
        p.sophistication,
        Range::Sophistication,
    );
}

fn check_group(c: &mut Checker, path: &str, g: &InvestorGroup, market: &MarketConfig) {
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
    if largest_mean.is_finite() && largest_mean > market.max_trade_size {
        c.fail(
            size_path,
            format!(
                "can reach {largest_mean}, above market.max_trade_size ({})",
                market.max_trade_size
            ),
        );
    }
    c.distribution(
        &format!("{path}.size_dispersion"),
        &g.size_dispersion,
        Range::Closed(0.0, MAX_SIZE_DISPERSION),
    );
    c.distribution(&format!("{path}.p_buy"), &g.p_buy, Range::Probability);
    c.distribution(
        &format!("{path}.sophistication"),
        &g.sophistication,
        Range::Sophistication,
    );
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
        if names.len() < 2 && h.venue == HedgeVenue::MarketMakers {
            c.fail(
                hedging,
                "hedging trades with the other market makers, and there are none: add one, \
                 set `venue: Exchange`, or set `hedging: None`",
            );
        }
    }
}
