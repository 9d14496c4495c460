//! How a dealer sets its margin against its rivals: the utility best response to their
//! last quotes, bounded below by the margin at which trading stops raising its utility.

use super::utility::arrow_pratt_premium;

/// The margin at which a tick's expected margin income equals the certainty-equivalent
/// cost of the risk the dealer carries over a tick: the Arrow–Pratt premium g·v/(2w) of
/// its inventory's one-tick variance v at wealth w, per unit of `volume` (the value it
/// trades a tick, or holds if that is more).
///
/// Zero for a dealer without inventory risk; at most `cap`.
pub fn break_even_margin(
    wealth: f64,
    risk_aversion: f64,
    inventory_variance: f64,
    volume: f64,
    cap: f64,
) -> f64 {
    if inventory_variance <= 0.0 || volume <= 0.0 || wealth <= 0.0 {
        return 0.0;
    }
    (arrow_pratt_premium(wealth, risk_aversion, inventory_variance) / volume).min(cap)
}

/// The best response to the rivals' last margins on the dealer's side.
///
/// Users take the best quote, so a dealer quoting below every rival takes the whole flow,
/// and its certainty-equivalent gain, volume × (margin − break-even), grows with its
/// margin: the best response is the highest margin below the best rival's, which on a
/// continuum is approached by undercutting it by the fraction κ; never below break-even
/// (where trading more lowers its utility), never above `cap`. Without rivals, the
/// current margin stands (the dealer has no demand curve to optimise against).
pub fn best_response(
    current: f64,
    best_rival: Option<f64>,
    undercut: f64,
    break_even: f64,
    cap: f64,
) -> f64 {
    match best_rival {
        None => current,
        Some(rival) => (rival * (1.0 - undercut)).max(break_even).min(cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_dealers_undercut_each_other_to_break_even() {
        let (mut a, mut b) = (0.05, 0.05);
        for _ in 0..400 {
            let (na, nb) = (
                best_response(a, Some(b), 0.1, 0.001, 0.9),
                best_response(b, Some(a), 0.1, 0.001, 0.9),
            );
            (a, b) = (na, nb);
        }
        assert!((a - 0.001).abs() < 1e-12 && (b - 0.001).abs() < 1e-12);
    }

    #[test]
    fn the_dealer_with_the_lower_break_even_wins_just_below_the_other() {
        let (mut a, mut b) = (0.05, 0.05);
        for _ in 0..400 {
            let (na, nb) = (
                best_response(a, Some(b), 0.1, 0.0005, 0.9),
                best_response(b, Some(a), 0.1, 0.002, 0.9),
            );
            (a, b) = (na, nb);
        }
        assert!((b - 0.002).abs() < 1e-12);
        assert!((a - 0.0018).abs() < 1e-12, "{a}");
    }

    #[test]
    fn a_lone_dealer_keeps_its_margin() {
        assert_eq!(best_response(0.03, None, 0.1, 0.0, 0.9), 0.03);
    }

    #[test]
    fn break_even_is_the_premium_per_unit_traded() {
        // g = 2, w = 1e6, v = 1e6 → premium 1; over 1000 traded a tick → 0.001.
        let m = break_even_margin(1e6, 2.0, 1e6, 1000.0, 0.9);
        assert!((m - 0.001).abs() < 1e-15);
        assert_eq!(break_even_margin(1e6, 2.0, 0.0, 1000.0, 0.9), 0.0);
        assert_eq!(break_even_margin(1e6, 2.0, 1e6, 0.0, 0.9), 0.0);
        assert_eq!(break_even_margin(1.0, 2.0, 1e6, 1.0, 0.9), 0.9);
        // More capital or less risk aversion lowers it.
        assert!(break_even_margin(2e6, 2.0, 1e6, 1000.0, 0.9) < m);
        assert!(break_even_margin(1e6, 1.0, 1e6, 1000.0, 0.9) < m);
    }
}
