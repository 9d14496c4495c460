//! Every rule a `DealerPairs` config must meet, each problem at its field path.

use super::config::Arrival;
use super::config::{
    Adaptation, AssetUserGroup, DealerConfig, DealerPairsConfig, InvestorUserGroup, MAX_PAIRS,
    MAX_PERIODS, MAX_STRIPS, MAX_USERS, MAX_WINDOW,
};
use crate::scenario::{Checker, Range};

/// The rate range every annual rate of the mechanism must lie in: above −100%, and below
/// 1000% (a rate beyond that is a typo, and would overflow the discount factors).
const RATE: Range = Range::Within(-1.0, 10.0);

impl DealerPairsConfig {
    /// Checks every field, with paths under `path`.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        checker.number(format!("{path}.market_rate"), self.market_rate, RATE);
        if self.pairs.is_empty() {
            checker.fail(format!("{path}.pairs"), "give at least one dealer pair");
        }
        if self.pairs.len() > MAX_PAIRS {
            checker.fail(
                format!("{path}.pairs"),
                format!(
                    "must hold at most {MAX_PAIRS} pairs, got {}",
                    self.pairs.len()
                ),
            );
        }
        for (i, pair) in self.pairs.iter().enumerate() {
            let at = format!("{path}.pairs[{i}]");
            checker.unique_name(
                format!("{at}.name"),
                &pair.name,
                self.pairs[..i].iter().map(|p| p.name.as_str()),
                "pairs",
            );
            check_dealer(
                &pair.asset_dealer,
                &format!("{at}.asset_dealer"),
                1.0,
                checker,
            );
            check_dealer(
                &pair.investor_dealer,
                &format!("{at}.investor_dealer"),
                10.0,
                checker,
            );
        }
        if self.asset_users.is_empty() {
            checker.fail(
                format!("{path}.asset_users"),
                "give at least one group of asset-users",
            );
        }
        for (i, group) in self.asset_users.iter().enumerate() {
            check_asset_group(group, &format!("{path}.asset_users[{i}]"), checker);
        }
        if self.investor_users.is_empty() {
            checker.fail(
                format!("{path}.investor_users"),
                "give at least one group of investor-users",
            );
        }
        for (i, group) in self.investor_users.iter().enumerate() {
            check_investor_group(group, &format!("{path}.investor_users[{i}]"), checker);
        }
        let users = self
            .asset_user_count()
            .saturating_add(self.investor_user_count());
        checker.at_most(
            format!("{path}.asset_users"),
            users,
            MAX_USERS,
            "users in one DealerPairs",
        );

        let opl = &self.opl;
        let at = format!("{path}.opl");
        checker.at_least_one(format!("{at}.window"), u64::from(opl.window), "supply item");
        checker.at_most(
            format!("{at}.window"),
            u64::from(opl.window),
            u64::from(MAX_WINDOW),
            "the candidates grow as window choose strips",
        );
        checker.at_least_one(
            format!("{at}.min_strips"),
            u64::from(opl.min_strips),
            "strip",
        );
        checker.at_most(
            format!("{at}.max_strips"),
            u64::from(opl.max_strips),
            u64::from(MAX_STRIPS),
            "the candidates grow as window choose strips",
        );
        if opl.max_strips < opl.min_strips {
            checker.fail(
                format!("{at}.max_strips"),
                format!(
                    "must be ≥ min_strips ({}), got {}",
                    opl.min_strips, opl.max_strips
                ),
            );
        } else if opl.min_strips > opl.window {
            checker.fail(
                format!("{at}.min_strips"),
                format!(
                    "must be ≤ window ({}): a portfolio's strips come from distinct supply items, got {}",
                    opl.window, opl.min_strips
                ),
            );
        }
        checker.at_least_one(format!("{at}.chunk"), u64::from(opl.chunk), "candidate");
        checker.at_least_one(
            format!("{at}.max_candidates_per_tick"),
            opl.max_candidates_per_tick,
            "candidate",
        );
        if let Adaptation::Undercut { fraction } = self.adaptation {
            checker.number(
                format!("{path}.adaptation.fraction"),
                fraction,
                Range::Weight,
            );
        }
    }
}

fn check_dealer(dealer: &DealerConfig, at: &str, margin_cap: f64, checker: &mut Checker) {
    checker.number(format!("{at}.capital"), dealer.capital, Range::Positive);
    checker.number(
        format!("{at}.risk_aversion"),
        dealer.risk_aversion,
        Range::Positive,
    );
    let margin = if margin_cap < 10.0 {
        Range::RightOpen(0.0, margin_cap)
    } else {
        Range::Closed(0.0, margin_cap)
    };
    checker.number(format!("{at}.margin"), dealer.margin, margin);
    if let Some(rate) = dealer.valuation_rate {
        checker.number(format!("{at}.valuation_rate"), rate, RATE);
    }
}

fn check_arrival(arrival: Arrival, at: &str, checker: &mut Checker) {
    if let Arrival::Poisson(rate) = arrival {
        checker.number(format!("{at}.arrival"), rate, Range::Positive);
    }
}

fn check_asset_group(group: &AssetUserGroup, at: &str, checker: &mut Checker) {
    checker.at_least_one(format!("{at}.count"), u64::from(group.count), "user");
    check_arrival(group.arrival, at, checker);
    checker.distribution(&format!("{at}.amount"), &group.amount, Range::Positive);
    checker.distribution(
        &format!("{at}.growth"),
        &group.growth,
        Range::Within(-1.0, 10.0),
    );
    checker.distribution(
        &format!("{at}.volatility"),
        &group.volatility,
        Range::Closed(0.0, 5.0),
    );
    checker.at_least_one(format!("{at}.periods"), u64::from(group.periods), "payment");
    checker.at_most(
        format!("{at}.periods"),
        u64::from(group.periods),
        u64::from(MAX_PERIODS),
        "payments in one stream",
    );
    checker.number(
        format!("{at}.period_years"),
        group.period_years,
        Range::Within(0.0, 100.0),
    );
    checker.distribution(
        &format!("{at}.reservation_rate"),
        &group.reservation_rate,
        RATE,
    );
    checker.at_least_one(format!("{at}.patience"), u64::from(group.patience), "tick");
}

fn check_investor_group(group: &InvestorUserGroup, at: &str, checker: &mut Checker) {
    checker.at_least_one(format!("{at}.count"), u64::from(group.count), "user");
    check_arrival(group.arrival, at, checker);
    checker.distribution(&format!("{at}.cash"), &group.cash, Range::Positive);
    checker.distribution(
        &format!("{at}.horizon_years"),
        &group.horizon_years,
        Range::Within(0.0, 200.0),
    );
    checker.distribution(
        &format!("{at}.risk_aversion"),
        &group.risk_aversion,
        Range::Within(0.0, 100.0),
    );
    // Open at both ends: a tolerance of 0 admits no risky portfolio, 1 admits any.
    checker.distribution(
        &format!("{at}.tail_tolerance"),
        &group.tail_tolerance,
        Range::Above(0.0),
    );
    let upper = match group.tail_tolerance {
        crate::scenario::ParamDistribution::Const(x) => Some((format!("{at}.tail_tolerance"), x)),
        crate::scenario::ParamDistribution::Uniform { max, .. }
        | crate::scenario::ParamDistribution::LogUniform { max, .. } => {
            Some((format!("{at}.tail_tolerance.max"), max))
        }
    };
    if let Some((field, x)) = upper
        && x.is_finite()
        && x >= 1.0
    {
        checker.fail(field, format!("must be in (0, 1), got {x}"));
    }
    checker.number(
        format!("{at}.loss_threshold"),
        group.loss_threshold,
        Range::Within(0.0, 100.0),
    );
    checker.distribution(
        &format!("{at}.reservation_rate"),
        &group.reservation_rate,
        RATE,
    );
    checker.at_least_one(format!("{at}.patience"), u64::from(group.patience), "tick");
}
