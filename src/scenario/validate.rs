//! Semantic checks of a parsed scenario: every problem is collected with its field path,
//! so a user fixes a file in one pass instead of one error per run.

use std::collections::BTreeSet;
use std::fmt;

use super::{MarketConfig, ParamDistribution, Scenario};

/// One violated rule: the field path (e.g. `market.v_max` or `mechanisms[0].groups[1].count`) and what is wrong.
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

/// Collects every problem of a scenario, each with its field path. The core checks the
/// shared fields with it and hands it to each mechanism for its own (under the path
/// `mechanisms[i]`), so every problem of a file is reported at once, located the same way.
#[derive(Debug, Default)]
pub struct Checker {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// The admissible range of a number.
#[derive(Clone, Copy, Debug)]
pub enum Range {
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
    /// In [lower, upper).
    RightOpen(f64, f64),
    /// > the bound.
    Above(f64),
    /// In (lower, upper].
    Within(f64, f64),
    /// In [lower, upper].
    Closed(f64, f64),
}

impl Range {
    /// Whether `x` is finite and in the range.
    pub fn admits(self, x: f64) -> bool {
        x.is_finite()
            && match self {
                Range::Finite => true,
                Range::Positive => x > 0.0,
                Range::NonNegative => x >= 0.0,
                Range::Probability => (0.0..=1.0).contains(&x),
                Range::Weight => x > 0.0 && x <= 1.0,
                Range::RightOpen(lower, upper) => (lower..upper).contains(&x),
                Range::Above(bound) => x > bound,
                Range::Within(lower, upper) => x > lower && x <= upper,
                Range::Closed(lower, upper) => (lower..=upper).contains(&x),
            }
    }

    /// The rule, as an error message states it ("must be > 0").
    pub fn describe(self) -> String {
        match self {
            Range::Finite => "must be a finite number".into(),
            Range::Positive => "must be > 0".into(),
            Range::NonNegative => "must be ≥ 0".into(),
            Range::Probability => "must be a probability in [0, 1]".into(),
            Range::Weight => "must be in (0, 1]".into(),
            Range::RightOpen(lower, upper) => format!("must be in [{lower}, {upper})"),
            Range::Above(bound) => format!("must be > {bound}"),
            Range::Within(lower, upper) => format!("must be in ({lower}, {upper}]"),
            Range::Closed(lower, upper) => format!("must be in [{lower}, {upper}]"),
        }
    }
}

impl Checker {
    /// The problems found so far, in the order they were found.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// The warnings found so far.
    pub fn into_warnings(self) -> Vec<Problem> {
        self.warnings
    }

    /// Records a warning at `path`: the scenario runs, but probably not as its author
    /// meant (e.g. a size law that often exceeds the largest trade).
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Whether no problem has been found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Records a problem at `path`.
    pub fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// `value` must be finite and in `range`.
    pub fn number(&mut self, path: impl Into<String>, value: f64, range: Range) {
        if !range.admits(value) {
            let what = if value.is_finite() {
                range.describe()
            } else {
                format!("{} (NaN and infinities are not allowed)", range.describe())
            };
            self.fail(path, format!("{what}, got {value}"));
        }
    }

    /// `name` must not be blank, nor repeat one of the `earlier` names of its list;
    /// `what` is the plural of what the list names ("pairs", "symbols").
    pub fn unique_name<'a>(
        &mut self,
        path: impl Into<String>,
        name: &str,
        mut earlier: impl Iterator<Item = &'a str>,
        what: &str,
    ) {
        if name.trim().is_empty() {
            self.fail(path, "must not be empty");
        } else if earlier.any(|e| e == name) {
            self.fail(path, format!("`{name}` names two {what}"));
        }
    }

    /// `value` must be ≥ 1; `what` says what it counts.
    pub fn at_least_one(&mut self, path: impl Into<String>, value: u64, what: &str) {
        if value == 0 {
            self.fail(path, format!("must be ≥ 1 ({what}), got 0"));
        }
    }

    /// `value` must be ≤ `limit`; `why` gives the reason for the limit.
    pub fn at_most(&mut self, path: impl Into<String>, value: u64, limit: u64, why: &str) {
        if value > limit {
            self.fail(path, format!("must be ≤ {limit} ({why}), got {value}"));
        }
    }

    /// Every value a distribution can produce must lie in `range`.
    pub fn distribution(&mut self, path: &str, law: &ParamDistribution, range: Range) {
        match *law {
            ParamDistribution::Const(x) => self.number(path, x, range),
            ParamDistribution::Uniform { min, max }
            | ParamDistribution::LogUniform { min, max } => {
                let min_ok = range.admits(min);
                self.number(format!("{path}.min"), min, range);
                self.number(format!("{path}.max"), max, range);
                // Once per field: a NaN minimum already failed the range check.
                if min_ok && matches!(law, ParamDistribution::LogUniform { .. }) {
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

/// Every problem in `scenario`, in field order; empty when it is valid.
pub fn validate(scenario: &Scenario) -> Vec<Problem> {
    check(scenario).problems
}

/// Every warning of a scenario (which may also have problems), in field order.
pub fn warnings(scenario: &Scenario) -> Vec<Problem> {
    check(scenario).warnings
}

/// The shared fields checked here, each mechanism's own by the mechanism.
fn check(scenario: &Scenario) -> Checker {
    let mut c = Checker::default();
    c.at_least_one("steps", u64::from(scenario.steps), "ticks to simulate");
    check_market(&mut c, &scenario.market);
    if scenario.mechanisms.is_empty() {
        c.fail(
            "mechanisms",
            format!(
                "no mechanism: add one of {}",
                crate::mechanisms::KINDS
                    .iter()
                    .map(|k| format!("`{k}(...)`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let mut seen = BTreeSet::new();
    let mut table_owners: Vec<(&str, usize)> = Vec::new();
    for (i, config) in scenario.mechanisms.iter().enumerate() {
        let path = format!("mechanisms[{i}]");
        let mechanism = config.as_mechanism();
        if !seen.insert(mechanism.kind()) {
            c.fail(
                &path,
                format!(
                    "a second `{}`: each kind of mechanism may appear once (its agents share \
                     one World; put all of them in the first)",
                    mechanism.kind()
                ),
            );
            continue;
        }
        mechanism.validate(scenario, &path, &mut c);
        let tables = mechanism.tables(scenario).into_iter().map(|t| t.spec.name);
        for name in tables.chain([mechanism.summary_table().name]) {
            if let Some(owner) = table_owners.iter().find(|(n, _)| *n == name) {
                c.fail(
                    &path,
                    format!("writes a table `{name}`, as mechanisms[{}] does", owner.1),
                );
            } else {
                table_owners.push((name, i));
            }
        }
    }
    c
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
    c.number("market.v_max", m.v_max, Range::Positive);
}
