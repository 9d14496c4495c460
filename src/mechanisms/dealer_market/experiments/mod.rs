//! The dealer market's experiments (SPEC §2.4): price sensitivity, internalization, and
//! risk aversion against volatility; each a design run by the shared experiment runner.

pub mod internalization;
pub mod price_sensitivity;
pub mod risk_aversion;

use super::config_of;
use crate::scenario::{Problem, Scenario};

/// Index of a market maker by name in `scenario`.
pub(crate) fn maker_index(scenario: &Scenario, name: &str) -> Option<usize> {
    config_of(scenario)?
        .market_makers
        .iter()
        .position(|m| m.name == name)
}

/// Problems with a design's `focus` and `competitor`: each must name a market maker of
/// the scenario, and they must differ.
pub(crate) fn check_focus_and_competitor(
    scenario: &Scenario,
    focus: &str,
    competitor: &str,
) -> Vec<Problem> {
    let mut problems: Vec<Problem> = [("focus", focus), ("competitor", competitor)]
        .into_iter()
        .filter(|(_, name)| maker_index(scenario, name).is_none())
        .map(|(field, name)| Problem {
            path: format!("design.{field}"),
            message: format!("no market maker named `{name}` in the scenario"),
        })
        .collect();
    if focus == competitor {
        problems.push(Problem {
            path: "design.competitor".into(),
            message: "must differ from focus".into(),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{BUNDLED, check, parse_experiment};
    use crate::mechanisms::Design;
    use crate::mechanisms::dealer_market::config_of_mut;
    use std::path::Path;

    /// A design's problems carry paths from the file's root: its own fields under
    /// `design.`, what it needs of the scenario under `scenario.`.
    #[test]
    fn design_problems_name_fields_from_the_file_root() {
        let (_, text) = BUNDLED
            .iter()
            .find(|(n, _)| *n == "internalization")
            .expect("bundled internalization");
        let mut config = parse_experiment(text, Path::new("internalization.ron")).expect("parses");
        let Design::Internalization(design) = &mut config.design else {
            panic!("internalization design");
        };
        design.competitor_tiers_worse = 0;
        let focus = maker_index(&config.scenario, &design.focus).expect("focus exists");
        config_of_mut(&mut config.scenario)
            .expect("a dealer market")
            .market_makers[focus]
            .tier_penalty = 0.0;
        let paths: Vec<String> = check(&config).into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "design.competitor_tiers_worse".to_string(),
                format!("scenario.mechanisms[0].market_makers[{focus}].tier_penalty"),
            ]
        );
    }
}
