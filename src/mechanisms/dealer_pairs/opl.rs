//! The optimisation possibilities loop and the matching algorithm: an investor-user's
//! fully-allocated, diversified portfolios over the supply window, enumerated in bounded
//! chunks, filtered by her tail tolerance and ranked by her certainty equivalent.
//!
//! Pure functions of plain numbers: the systems hand in the window and the investor, and
//! book what comes back.

use super::tail::Lognormal;
use super::utility::lognormal_certainty_equivalent;

/// One supply item the investor can take a strip of: a stream the AssetDealer holds (a
/// remainder) or one a queued asset-user offers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupplyItem {
    /// The fraction of the stream still to sell (1 for a queued stream).
    pub available: f64,
    /// The whole stream's value to the InvestorDealer now, which prices the strips.
    pub dealer_value: f64,
    /// The whole stream's value at the market rate now, which the investor's value uses.
    pub market_value: f64,
    /// σ of the stream's level, annualised.
    pub volatility: f64,
}

/// What an investor-user asks of a portfolio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InvestorNeeds {
    /// Her cash, all invested.
    pub cash: f64,
    /// Claims of this much value (at the dealer's valuation) per unit of cash: 1/(1 + m).
    pub value_per_cash: f64,
    /// T, years.
    pub horizon: f64,
    /// 1/DF(r, T): the growth of a claim's value to T at the market rate.
    pub growth_to_horizon: f64,
    /// g.
    pub risk_aversion: f64,
    /// ε.
    pub tail_tolerance: f64,
    /// The loss level at T, currency (threshold × cash).
    pub loss_level: f64,
    /// The certainty equivalent at T she needs (cash grown at her reservation rate).
    pub reservation: f64,
}

/// The OPL's bounds for one investor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OplBounds {
    /// The fewest strips.
    pub min_strips: usize,
    /// The most strips.
    pub max_strips: usize,
    /// Candidates per chunk.
    pub chunk: usize,
}

/// One candidate within tolerance, as matching ranks it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Window positions of its strips, increasing (the first `len`).
    pub items: [u8; MAX_ITEMS],
    /// How many strips.
    pub len: u8,
    /// Her certainty equivalent of the portfolio's value at T.
    pub certainty_equivalent: f64,
    /// P(value at T < loss level), under the Fenton–Wilkinson lognormal.
    pub tail_probability: f64,
}

impl Candidate {
    /// Its window positions.
    pub fn positions(&self) -> &[u8] {
        &self.items[..self.len as usize]
    }
}

/// The most strips a candidate can hold (validation bounds `max_strips` by it).
pub const MAX_ITEMS: usize = 6;

/// The best candidate, with what executing it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct RankedMatch {
    /// Window positions of its strips, increasing.
    pub items: Vec<usize>,
    /// The fraction of each item's stream it takes, in `items` order.
    pub fractions: Vec<f64>,
    /// Her certainty equivalent of the portfolio's value at T.
    pub certainty_equivalent: f64,
    /// P(value at T < loss level), under the Fenton–Wilkinson lognormal.
    pub tail_probability: f64,
    /// The portfolio's value now, at the market rate.
    pub market_value: f64,
}

/// The outcome of one investor's loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matches {
    /// Every candidate within tolerance whose certainty equivalent meets her reservation,
    /// best first (ties in enumeration order).
    pub ranked: Vec<Candidate>,
    /// The best of them, ready to execute.
    pub best: Option<RankedMatch>,
    /// Candidates evaluated (feasible or not).
    pub evaluated: u64,
    /// Whether the candidate budget ran out before the enumeration did.
    pub cut: bool,
}

/// The number of portfolios an investor's loop can enumerate from `window` items:
/// Σ_{k=min}^{max} C(window, k).
pub fn candidate_count(window: usize, bounds: OplBounds) -> u64 {
    (bounds.min_strips..=bounds.max_strips.min(window))
        .map(|k| binomial(window as u64, k as u64))
        .sum()
}

fn binomial(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k).fold(1u64, |acc, i| acc * (n - i) / (i + 1))
}

/// Every k-subset of 0..n in lexicographic order, k from `min` to `max`, without
/// allocating per subset.
struct Combinations {
    n: usize,
    max: usize,
    indices: Vec<usize>,
    started: bool,
}

impl Combinations {
    fn new(n: usize, min: usize, max: usize) -> Self {
        Self {
            n,
            max: max.min(n),
            indices: (0..min).collect(),
            started: false,
        }
    }

    /// The next subset, or None when every size is done.
    fn next_subset(&mut self) -> Option<&[usize]> {
        let k = self.indices.len();
        if k == 0 || k > self.max {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(&self.indices);
        }
        // The rightmost index that can still move right.
        let mut i = k;
        while i > 0 && self.indices[i - 1] == self.n - k + (i - 1) {
            i -= 1;
        }
        if i == 0 {
            // Size k is done: the first subset of size k + 1.
            if k + 1 > self.max {
                self.indices.clear();
                return None;
            }
            self.indices = (0..=k).collect();
            return Some(&self.indices);
        }
        self.indices[i - 1] += 1;
        for j in i..k {
            self.indices[j] = self.indices[j - 1] + 1;
        }
        Some(&self.indices)
    }
}

/// What one window item contributes to her portfolio, per unit of strip value (at the
/// dealer's valuation): computed once per investor, not once per candidate.
#[derive(Clone, Copy, Debug)]
struct PerItem {
    /// The strip value it can hold: available × dealer value.
    capacity: f64,
    /// E[value at T] per unit of strip value: (market value / dealer value) × growth.
    mean: f64,
    /// Var[value at T] per unit of strip value squared: mean² · (e^{σ²T} − 1).
    variance: f64,
}

/// Values one candidate: None when a strip is larger than what its item has left, or the
/// portfolio fails her tolerance or reservation.
///
/// Fully allocated and equally split: each of the k strips is worth
/// cash·value_per_cash/k at the dealer's valuation. The value at T of each is a
/// lognormal of that mean and variance (independent levels); their sum is matched to one
/// lognormal (Fenton–Wilkinson), which gives the tail and the certainty equivalent.
fn evaluate(items: &[usize], per_item: &[PerItem], needs: &InvestorNeeds) -> Option<Candidate> {
    let strip = needs.cash * needs.value_per_cash / items.len() as f64;
    let (mut mean, mut variance) = (0.0, 0.0);
    for &i in items {
        let item = &per_item[i];
        if strip > item.capacity * (1.0 + 1e-12) {
            return None;
        }
        mean += item.mean;
        variance += item.variance;
    }
    if mean.is_nan() || mean <= 0.0 {
        return None;
    }
    let value = Lognormal::from_mean_variance(strip * mean, strip * strip * variance);
    let tail_probability = value.cdf(needs.loss_level);
    if tail_probability > needs.tail_tolerance {
        return None;
    }
    let certainty_equivalent =
        lognormal_certainty_equivalent(value.m, value.s2, needs.risk_aversion);
    if certainty_equivalent < needs.reservation {
        return None;
    }
    let mut positions = [0u8; MAX_ITEMS];
    for (slot, &i) in positions.iter_mut().zip(items) {
        *slot = i as u8;
    }
    Some(Candidate {
        items: positions,
        len: items.len() as u8,
        certainty_equivalent,
        tail_probability,
    })
}

/// Whether any candidate over these items could pass matching: bounds that hold for
/// every candidate at once. From the largest mean any portfolio can have, M ≤ W·v·max_j
/// mean_j (every strip in the item of the highest mean per unit), and the smallest
/// relative variance, V/M² ≥ min_j e_j / k with e_j = e^{σ_j²T} − 1 (Cauchy–Schwarz), at
/// the most strips allowed, so s² ≥ s²_min = ln(1 + min_j e_j / k):
/// - the certainty equivalent M·exp(−g·s²/2) is at most W·v·max mean·exp(−g·s²_min/2);
/// - the tail Φ((ln L − ln M + s²/2)/s) falls as M rises, and with a = ln(L/M) < 0 it
///   rises with s, so it is at least Φ(a/s_min + s_min/2); with a ≥ 0 it is at least
///   Φ(√(2a)) ≥ ½ for any s.
///
/// When either bound fails her, enumerating would reject every candidate: the loop is
/// skipped, its result the same.
fn may_match(per_item: &[PerItem], needs: &InvestorNeeds, max_strips: usize) -> bool {
    let value = needs.cash * needs.value_per_cash;
    let (mut best_mean, mut least_e) = (0.0f64, f64::INFINITY);
    for item in per_item {
        best_mean = best_mean.max(item.mean);
        if item.mean > 0.0 {
            least_e = least_e.min(item.variance / (item.mean * item.mean));
        }
    }
    if best_mean <= 0.0 || max_strips == 0 {
        return false;
    }
    let s2 = (least_e / max_strips as f64).ln_1p();
    let most_mean = value * best_mean;
    // A hair of slack: a bound must never reject what the exact evaluation admits.
    const SLACK: f64 = 1e-9;
    let best_ce = most_mean * (-needs.risk_aversion * s2 / 2.0).exp();
    if best_ce * (1.0 + SLACK) < needs.reservation {
        return false;
    }
    if needs.loss_level <= 0.0 {
        return true;
    }
    let a = (needs.loss_level / most_mean).ln();
    let z = if a >= 0.0 {
        (2.0 * a).sqrt()
    } else if s2 > 0.0 {
        a / s2.sqrt() + s2.sqrt() / 2.0
    } else {
        // No risk at all: the value is M for sure, below the loss level only if a > 0.
        return true;
    };
    let least_tail = 0.5 * libm::erfc(-(z - SLACK) / std::f64::consts::SQRT_2);
    least_tail <= needs.tail_tolerance * (1.0 + SLACK)
}

/// Merges two lists ranked best first, keeping `a`'s entries first among equals.
fn merge_ranked(a: Vec<Candidate>, b: &[Candidate]) -> Vec<Candidate> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a =
            j == b.len() || (i < a.len() && a[i].certainty_equivalent >= b[j].certainty_equivalent);
        if take_a {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out
}

/// The OPL for one investor over `window`: candidates are enumerated in lexicographic
/// order by size and handed to the MatchingAlgo `bounds.chunk` at a time, which keeps
/// those within tolerance and meeting her reservation, ranked by certainty equivalent.
/// At most `budget` candidates are evaluated; `cut` says whether that stopped it.
pub fn match_investor(
    window: &[SupplyItem],
    needs: &InvestorNeeds,
    bounds: OplBounds,
    budget: u64,
) -> Matches {
    let mut out = Matches::default();
    if window.len() < bounds.min_strips {
        return out;
    }
    debug_assert!(bounds.max_strips <= MAX_ITEMS && window.len() <= u8::MAX as usize);
    let per_item: Vec<PerItem> = window
        .iter()
        .map(|item| {
            let mean = item.market_value / item.dealer_value * needs.growth_to_horizon;
            let s2 = item.volatility * item.volatility * needs.horizon;
            PerItem {
                capacity: item.available * item.dealer_value,
                mean,
                variance: mean * mean * s2.exp_m1(),
            }
        })
        .collect();
    if !may_match(&per_item, needs, bounds.max_strips.min(window.len())) {
        return out;
    }
    let mut subsets = Combinations::new(window.len(), bounds.min_strips, bounds.max_strips);
    let mut chunk: Vec<Candidate> = Vec::with_capacity(bounds.chunk);
    let mut exhausted = false;
    while !exhausted && !out.cut {
        chunk.clear();
        let mut drawn = 0;
        while drawn < bounds.chunk {
            if out.evaluated >= budget {
                out.cut = true;
                break;
            }
            let Some(subset) = subsets.next_subset() else {
                exhausted = true;
                break;
            };
            drawn += 1;
            out.evaluated += 1;
            chunk.extend(evaluate(subset, &per_item, needs));
        }
        // Stable: equal certainty equivalents keep enumeration order.
        chunk.sort_by(|a, b| b.certainty_equivalent.total_cmp(&a.certainty_equivalent));
        out.ranked = merge_ranked(std::mem::take(&mut out.ranked), &chunk);
    }
    out.best = out.ranked.first().map(|c| {
        let items: Vec<usize> = c.positions().iter().map(|&i| i as usize).collect();
        let strip = needs.cash * needs.value_per_cash / items.len() as f64;
        let fractions: Vec<f64> = items
            .iter()
            .map(|&i| (strip / window[i].dealer_value).min(window[i].available))
            .collect();
        let market_value = items
            .iter()
            .zip(&fractions)
            .map(|(&i, f)| f * window[i].market_value)
            .sum();
        RankedMatch {
            items,
            fractions,
            certainty_equivalent: c.certainty_equivalent,
            tail_probability: c.tail_probability,
            market_value,
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(value: f64, volatility: f64) -> SupplyItem {
        SupplyItem {
            available: 1.0,
            dealer_value: value,
            market_value: value,
            volatility,
        }
    }

    fn needs(cash: f64, tolerance: f64) -> InvestorNeeds {
        InvestorNeeds {
            cash,
            value_per_cash: 1.0,
            horizon: 5.0,
            growth_to_horizon: 1.05f64.powi(5),
            risk_aversion: 2.0,
            tail_tolerance: tolerance,
            loss_level: cash,
            reservation: 0.0,
        }
    }

    const BOUNDS: OplBounds = OplBounds {
        min_strips: 1,
        max_strips: 3,
        chunk: 4,
    };

    #[test]
    fn combinations_enumerate_every_subset_once_in_order() {
        let mut c = Combinations::new(5, 2, 3);
        let mut seen = Vec::new();
        while let Some(s) = c.next_subset() {
            seen.push(s.to_vec());
        }
        assert_eq!(seen.len() as u64, binomial(5, 2) + binomial(5, 3));
        assert_eq!(seen[0], vec![0, 1]);
        assert_eq!(seen[9], vec![3, 4]);
        assert_eq!(seen[10], vec![0, 1, 2]);
        assert_eq!(seen.last().unwrap(), &vec![2, 3, 4]);
        let mut sorted = seen.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len());
        assert_eq!(
            candidate_count(
                5,
                OplBounds {
                    min_strips: 2,
                    max_strips: 3,
                    chunk: 1
                }
            ),
            20
        );
        // More strips than items: only the sizes that fit.
        assert_eq!(candidate_count(2, BOUNDS), 3);
    }

    #[test]
    fn the_best_portfolio_diversifies_and_every_match_is_fully_allocated() {
        let window = [item(1000.0, 0.3), item(1000.0, 0.3), item(1000.0, 0.3)];
        let m = match_investor(&window, &needs(300.0, 0.5), BOUNDS, u64::MAX);
        assert_eq!(m.evaluated, 7);
        assert!(!m.cut);
        assert!(!m.ranked.is_empty());
        // Independent equal streams: three strips carry the least risk, so the highest CE.
        let best = m.best.expect("a match");
        assert_eq!(best.items, vec![0, 1, 2]);
        let paid: f64 = best.fractions.iter().map(|f| f * 1000.0).sum();
        assert!((paid - 300.0).abs() < 1e-9, "{paid}");
        assert_eq!(best.certainty_equivalent, m.ranked[0].certainty_equivalent);
        for w in m.ranked.windows(2) {
            assert!(w[0].certainty_equivalent >= w[1].certainty_equivalent);
        }
    }

    #[test]
    fn tolerance_excludes_concentrated_portfolios() {
        let window = [item(1000.0, 0.4), item(1000.0, 0.4), item(1000.0, 0.4)];
        let loose = match_investor(&window, &needs(300.0, 0.99), BOUNDS, u64::MAX);
        assert_eq!(loose.ranked.len(), 7);
        let single_tail = loose
            .ranked
            .iter()
            .find(|r| r.len == 1)
            .unwrap()
            .tail_probability;
        let triple_tail = loose.ranked[0].tail_probability;
        assert!(triple_tail < single_tail);
        let tight = (single_tail + triple_tail) / 2.0;
        let strict = match_investor(&window, &needs(300.0, tight), BOUNDS, u64::MAX);
        assert!(strict.ranked.iter().all(|r| r.tail_probability <= tight));
        assert!(strict.ranked.iter().all(|r| r.len > 1));
    }

    /// The per-item sums are Fenton–Wilkinson over the strips' lognormals, exactly.
    #[test]
    fn the_candidate_value_is_fenton_wilkinson_over_its_strips() {
        use crate::mechanisms::dealer_pairs::tail::fenton_wilkinson;
        let window = [item(1000.0, 0.2), item(2000.0, 0.35), item(1500.0, 0.1)];
        let n = needs(300.0, 0.99);
        let m = match_investor(&window, &n, BOUNDS, u64::MAX);
        let c = m.ranked.iter().find(|c| c.len == 3).expect("the triple");
        let strip = 100.0;
        let fw = fenton_wilkinson(window.iter().map(|w| {
            let s2 = w.volatility * w.volatility * n.horizon;
            let mean = strip * n.growth_to_horizon;
            (
                1.0,
                Lognormal {
                    m: mean.ln() - 0.5 * s2,
                    s2,
                },
            )
        }))
        .expect("positive mean");
        assert!((fw.cdf(n.loss_level) - c.tail_probability).abs() < 1e-12);
        let ce = lognormal_certainty_equivalent(fw.m, fw.s2, n.risk_aversion);
        assert!((ce - c.certainty_equivalent).abs() < 1e-9 * ce);
    }

    #[test]
    fn a_strip_larger_than_what_is_left_is_infeasible() {
        let mut small = item(100.0, 0.2);
        small.available = 0.5;
        let window = [small, item(1000.0, 0.2)];
        // 300 over two strips: 150 each, but the small item has only 50 left.
        let m = match_investor(&window, &needs(300.0, 0.99), BOUNDS, u64::MAX);
        assert!(m.ranked.iter().all(|r| r.positions() == [1]));
    }

    #[test]
    fn the_budget_cuts_the_enumeration_and_says_so() {
        let window = [item(1000.0, 0.3); 8];
        let m = match_investor(&window, &needs(300.0, 0.99), BOUNDS, 10);
        assert_eq!(m.evaluated, 10);
        assert!(m.cut);
        let full = match_investor(&window, &needs(300.0, 0.99), BOUNDS, u64::MAX);
        assert_eq!(full.evaluated, candidate_count(8, BOUNDS));
        assert!(!full.cut);
    }

    /// The bounds never skip an investor the full loop would match, and they do skip some,
    /// on the reservation and on the tail.
    #[test]
    fn the_bounds_skip_only_hopeless_investors() {
        let window = [
            item(1000.0, 0.1),
            item(1500.0, 0.3),
            item(800.0, 0.2),
            item(900.0, 0.05),
        ];
        let (mut skipped, mut hopeless) = (0, 0);
        for step in 0..400 {
            // Tolerances, horizons and reservations around what is achievable.
            let mut n = needs(300.0, 0.01 + 0.05 * (step % 11) as f64);
            n.horizon = 0.5 + (step % 5) as f64;
            n.growth_to_horizon = 1.05f64.powf(n.horizon);
            n.reservation = 300.0 * (1.0 + (step / 11) as f64 * 0.01);
            n.risk_aversion = 0.5 + (step % 7) as f64;
            let per_item: Vec<PerItem> = window
                .iter()
                .map(|w| {
                    let mean = n.growth_to_horizon;
                    PerItem {
                        capacity: w.available * w.dealer_value,
                        mean,
                        variance: mean * mean * (w.volatility * w.volatility * n.horizon).exp_m1(),
                    }
                })
                .collect();
            let full = {
                let mut out = Vec::new();
                let mut c = Combinations::new(window.len(), BOUNDS.min_strips, BOUNDS.max_strips);
                while let Some(s) = c.next_subset() {
                    out.extend(evaluate(s, &per_item, &n));
                }
                out
            };
            let may = may_match(&per_item, &n, BOUNDS.max_strips);
            assert!(
                may || full.is_empty(),
                "skipped a matchable investor at step {step}"
            );
            if !may {
                skipped += 1;
            }
            if full.is_empty() {
                hopeless += 1;
            }
        }
        // Most hopeless investors are caught without enumerating.
        assert!(
            skipped > 0 && 2 * skipped > hopeless,
            "{skipped} of {hopeless}"
        );
    }

    #[test]
    fn the_reservation_rejects_what_tolerance_admits() {
        let window = [item(1000.0, 0.3), item(1000.0, 0.3)];
        let mut n = needs(300.0, 0.99);
        n.reservation = 1e9;
        assert!(
            match_investor(&window, &n, BOUNDS, u64::MAX)
                .ranked
                .is_empty()
        );
    }

    #[test]
    fn merging_ranked_lists_keeps_order_and_earlier_ties_first() {
        let r = |ce: f64, tag: u8| Candidate {
            items: [tag, 0, 0, 0, 0, 0],
            len: 1,
            certainty_equivalent: ce,
            tail_probability: 0.0,
        };
        let merged = merge_ranked(vec![r(3.0, 0), r(1.0, 1)], &[r(3.0, 2), r(2.0, 3)]);
        let tags: Vec<u8> = merged.iter().map(|m| m.items[0]).collect();
        assert_eq!(tags, vec![0, 2, 3, 1]);
    }
}
