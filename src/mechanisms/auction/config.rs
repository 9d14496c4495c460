//! The `Auction(...)` entry of a scenario: the symbols and how their NBBOs move, the
//! trader groups that bring orders from the templates, how often the auction runs and
//! how it is solved. Every choice is a field here with its default; `docs/auction.md`,
//! "The auction in the tick", has the model.

use serde::{Deserialize, Serialize};

use super::book::{ClearingOptions, MAX_ORDERS, MAX_PRICE_LEVELS, MAX_QUANTITY};
use super::generate::{Shape, TEMPLATES, TemplateMix};
use crate::scenario::{Checker, Range};

/// The most traders one `Auction` may hold, over all groups.
pub const MAX_TRADERS: u64 = 1_000_000;
/// The most symbols (each trader holds a position in every one).
pub const MAX_SYMBOLS: usize = 1_000;

/// A periodic expressive-bidding call auction in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuctionConfig {
    /// The symbols traded, at least one; their NBBOs move every tick.
    pub symbols: Vec<AuctionSymbol>,
    /// Ticks between auctions: one runs at ticks 0, interval, 2·interval, … Default: 1.
    #[serde(default = "defaults::interval")]
    pub interval: u32,
    /// The trader groups, at least one.
    pub traders: Vec<TraderGroup>,
    /// How each auction is solved (the book's `clearing` options).
    #[serde(default)]
    pub clearing: ClearingOptions,
}

/// One symbol: its opening fair price, spread and volatility.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Symbol")]
pub struct AuctionSymbol {
    /// Ticker; unique, not empty.
    pub name: String,
    /// Fair price at tick 0, > 0.
    pub price: f64,
    /// Quoting tick, > 0. Default: 0.01.
    #[serde(default = "defaults::tick")]
    pub tick: f64,
    /// NBO − NBB in ticks, ≥ 1. Default: 2. The clearing grid is half a tick, so a
    /// spread of n ticks has 2n price levels (at most `MAX_PRICE_LEVELS`).
    #[serde(default = "defaults::spread_ticks")]
    pub spread_ticks: u32,
    /// Standard deviation of the fair price's log change per tick, in [0, 0.5].
    /// Default: 0.001.
    #[serde(default = "defaults::volatility")]
    pub volatility: f64,
}

/// A group of identical traders: each auction, each of them takes part with probability
/// `participation` and then brings one bidder's orders from a template drawn from `mix`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Traders")]
pub struct TraderGroup {
    /// Group name in tables; unique, not empty. Trader `i` is `name-i`.
    pub name: String,
    /// Traders in the group, ≥ 1.
    pub count: u32,
    /// Probability that a trader brings orders to an auction, in (0, 1]. Default: 1.
    #[serde(default = "defaults::participation")]
    pub participation: f64,
    /// Relative weights of the templates (two-symbol templates need two symbols).
    /// Default: every template equally likely.
    #[serde(default = "TemplateMix::uniform")]
    pub mix: TemplateMix,
    /// Shares per lot, ≥ 1. Default: 100.
    #[serde(default = "defaults::lot")]
    pub lot: u32,
    /// Most lots per order, ≥ 2 (the tier templates need two sizes). Default: 10.
    #[serde(default = "defaults::max_lots")]
    pub max_lots: u32,
    /// How far outside the NBBO a limit may lie, in clearing-price steps (half ticks),
    /// in [0, 1000]. Default: 2.
    #[serde(default = "defaults::limit_spread_steps")]
    pub limit_spread_steps: u32,
}

impl TraderGroup {
    /// The generator's sizes for this group.
    pub fn shape(&self) -> Shape {
        Shape {
            lot: self.lot,
            max_lots: self.max_lots,
            limit_spread_steps: i64::from(self.limit_spread_steps),
        }
    }
}

mod defaults {
    pub fn interval() -> u32 {
        1
    }
    pub fn tick() -> f64 {
        0.01
    }
    pub fn spread_ticks() -> u32 {
        2
    }
    pub fn volatility() -> f64 {
        0.001
    }
    pub fn participation() -> f64 {
        1.0
    }
    pub fn lot() -> u32 {
        100
    }
    pub fn max_lots() -> u32 {
        10
    }
    pub fn limit_spread_steps() -> u32 {
        2
    }
}

impl AuctionConfig {
    /// Traders over every group.
    pub fn trader_count(&self) -> u64 {
        self.traders.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Auctions in a run of `steps` ticks (at ticks 0, interval, …).
    pub fn auctions(&self, steps: u32) -> u32 {
        steps.div_ceil(self.interval.max(1))
    }

    /// Checks every field, with paths under `path`.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        if self.symbols.is_empty() {
            checker.fail(format!("{path}.symbols"), "give at least one symbol");
        }
        checker.at_most(
            format!("{path}.symbols"),
            self.symbols.len() as u64,
            MAX_SYMBOLS as u64,
            "symbols in one Auction",
        );
        for (i, s) in self.symbols.iter().enumerate() {
            let at = format!("{path}.symbols[{i}]");
            checker.unique_name(
                format!("{at}.name"),
                &s.name,
                self.symbols[..i].iter().map(|o| o.name.as_str()),
                "symbols",
            );
            checker.number(format!("{at}.tick"), s.tick, Range::Within(0.0, 1e6));
            checker.number(format!("{at}.price"), s.price, Range::Within(0.0, 1e9));
            if s.tick.is_finite() && s.tick > 0.0 && s.price.is_finite() {
                // The NBB must stay above zero at the opening price: the spread fits
                // under the price with a tick to spare.
                let spread = f64::from(s.spread_ticks) * s.tick;
                if s.price <= spread {
                    checker.fail(
                        format!("{at}.price"),
                        format!(
                            "{} is not above the spread ({} ticks of {} = {spread}): the NBB \
                             would not be positive",
                            s.price, s.spread_ticks, s.tick
                        ),
                    );
                }
            }
            checker.at_least_one(
                format!("{at}.spread_ticks"),
                u64::from(s.spread_ticks),
                "tick",
            );
            checker.at_most(
                format!("{at}.spread_ticks"),
                u64::from(s.spread_ticks),
                u64::from(MAX_PRICE_LEVELS / 2),
                "ticks of spread (two clearing levels a tick)",
            );
            checker.number(
                format!("{at}.volatility"),
                s.volatility,
                Range::Closed(0.0, 0.5),
            );
        }
        checker.at_least_one(format!("{path}.interval"), u64::from(self.interval), "tick");
        if self.traders.is_empty() {
            checker.fail(format!("{path}.traders"), "give at least one trader group");
        }
        for (i, g) in self.traders.iter().enumerate() {
            let at = format!("{path}.traders[{i}]");
            checker.unique_name(
                format!("{at}.name"),
                &g.name,
                self.traders[..i].iter().map(|o| o.name.as_str()),
                "groups",
            );
            checker.at_least_one(format!("{at}.count"), u64::from(g.count), "trader");
            checker.number(
                format!("{at}.participation"),
                g.participation,
                Range::Weight,
            );
            self.check_mix(g, &at, checker);
            checker.at_least_one(format!("{at}.lot"), u64::from(g.lot), "share");
            if g.max_lots < 2 {
                checker.fail(
                    format!("{at}.max_lots"),
                    format!(
                        "must be at least 2 (tier templates need two sizes), got {}",
                        g.max_lots
                    ),
                );
            }
            let most = u64::from(g.lot).saturating_mul(u64::from(g.max_lots));
            if most > u64::from(MAX_QUANTITY) {
                checker.fail(
                    format!("{at}.max_lots"),
                    format!(
                        "lot × max_lots = {most} shares; an order holds at most {MAX_QUANTITY}"
                    ),
                );
            }
            checker.at_most(
                format!("{at}.limit_spread_steps"),
                u64::from(g.limit_spread_steps),
                1_000,
                "price steps outside the NBBO",
            );
        }
        let traders = self.trader_count();
        checker.at_most(
            format!("{path}.traders"),
            traders,
            MAX_TRADERS,
            "traders in one Auction",
        );
        // Two orders at most per trader and auction: the book must stay within a book's size.
        checker.at_most(
            format!("{path}.traders"),
            traders.saturating_mul(2),
            MAX_ORDERS as u64,
            "orders in one auction (two per trader at most)",
        );
        self.clearing.check(&format!("{path}.clearing"), checker);
    }

    fn check_mix(&self, group: &TraderGroup, at: &str, checker: &mut Checker) {
        let weights = group.mix.weights();
        for (template, w) in TEMPLATES.iter().zip(weights) {
            if !(w.is_finite() && w >= 0.0) {
                checker.fail(
                    format!("{at}.mix"),
                    format!("the weight of {template:?} must be finite and ≥ 0, got {w}"),
                );
                return;
            }
        }
        let usable: f64 = TEMPLATES
            .iter()
            .zip(weights)
            .filter(|(t, _)| t.orders() == 1 || self.symbols.len() >= 2)
            .map(|(_, w)| w)
            .sum();
        if usable <= 0.0 {
            let why = if weights.iter().any(|&w| w > 0.0) {
                "every weighted template is a two-symbol basket, and there is one symbol"
            } else {
                "every weight is 0"
            };
            checker.fail(
                format!("{at}.mix"),
                format!("no template can be drawn: {why}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> AuctionConfig {
        ron::Options::default()
            .with_default_extension(crate::scenario::load::extensions())
            .from_str(text)
            .expect("config parses")
    }

    fn problems(config: &AuctionConfig) -> Vec<String> {
        let mut checker = Checker::default();
        config.check("mechanisms[0]", &mut checker);
        checker
            .into_problems()
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    const GOOD: &str = r#"(
        symbols: [(name: "AAA", price: 50.0), (name: "BBB", price: 20.0, spread_ticks: 3)],
        interval: 4,
        traders: [(name: "funds", count: 40, participation: 0.5)],
    )"#;

    #[test]
    fn defaults_are_documented_values_and_a_good_config_passes() {
        let c = config(GOOD);
        assert_eq!(c.symbols[0].tick, 0.01);
        assert_eq!(c.symbols[0].spread_ticks, 2);
        assert_eq!(c.traders[0].mix, TemplateMix::uniform());
        assert_eq!((c.traders[0].lot, c.traders[0].max_lots), (100, 10));
        assert_eq!(c.auctions(10), 3, "ticks 0, 4 and 8");
        assert_eq!(c.trader_count(), 40);
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut c = config(GOOD);
        c.symbols[1].name = "AAA".into();
        c.symbols[0].price = 0.015;
        c.symbols[0].spread_ticks = 600;
        c.symbols[1].volatility = f64::NAN;
        c.interval = 0;
        c.traders[0].participation = 0.0;
        c.traders[0].max_lots = 1;
        c.traders[0].mix = TemplateMix::from_weights([0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0]);
        let found = problems(&c);
        for path in [
            "mechanisms[0].symbols[1].name",
            "mechanisms[0].symbols[0].price",
            "mechanisms[0].symbols[0].spread_ticks",
            "mechanisms[0].symbols[1].volatility",
            "mechanisms[0].interval",
            "mechanisms[0].traders[0].participation",
            "mechanisms[0].traders[0].max_lots",
            "mechanisms[0].traders[0].mix",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(&format!("{path}: "))),
                "{path} not named in {found:?}"
            );
        }
    }

    #[test]
    fn baskets_alone_need_two_symbols() {
        let mut c = config(GOOD);
        c.symbols.truncate(1);
        c.traders[0].mix = TemplateMix::from_weights([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let found = problems(&c);
        assert!(
            found.iter().any(|p| p.contains("two-symbol basket")),
            "{found:?}"
        );
        c.traders[0].mix = TemplateMix::uniform();
        assert!(problems(&c).is_empty(), "the one-symbol templates remain");
    }
}
