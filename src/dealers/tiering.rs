//! Counterparty scores and tiers: each market maker's per-counterparty yield history
//! (average yield or revenue rate) and the O(N) quantile split into K tiers.

use std::cmp::Ordering;

use bevy_ecs::prelude::Component;

use crate::scenario::{DynamicTiering, FixedTiering};

/// How a book turns trade history into scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreKind {
    /// ψ = EWMA of trade yields.
    AverageYield,
    /// ψ = EWMA of trade yields × EWMA of volume per tick.
    RevenueRate,
}

/// Dynamic scores of a book.
#[derive(Clone, Debug)]
struct Scores {
    kind: ScoreKind,
    weight: f64,
    retier_every: u32,
    /// ψ of a counterparty with no realised trade.
    prior_yield: f64,
    /// EWMA of realised yields per counterparty (starts at the prior).
    average_yield: Vec<f64>,
    /// Revenue rate only: whether the counterparty has a realised trade yet (before it,
    /// ψ is the prior, whatever volume it has traded).
    realised: Vec<bool>,
    /// EWMA of volume per tick, as of `volume_tick[c]` (decayed lazily: only
    /// counterparties that trade are touched when they trade).
    volume_ewma: Vec<f64>,
    volume_tick: Vec<u32>,
    /// Salt of this book's tie order (see [`tie_key`]).
    tie_salt: u32,
    /// Counterparties held at a fixed tier, left out of the ranking: (slot, tier), sorted.
    pinned: Vec<(usize, u8)>,
}

impl Scores {
    /// ψ of counterparty `c` as of `tick`.
    fn psi(&self, c: usize, tick: u32) -> f64 {
        match self.kind {
            ScoreKind::AverageYield => self.average_yield[c],
            ScoreKind::RevenueRate if !self.realised[c] => self.prior_yield,
            ScoreKind::RevenueRate => self.average_yield[c] * decayed(self, c, tick),
        }
    }
}

/// One market maker's view of all its counterparties: investors `0..N` then market makers
/// `N..N+M` (its own slot is never used), with their scores and tiers.
#[derive(Component, Clone, Debug)]
pub struct CounterpartyBook {
    tiers_count: u8,
    /// Tier of each counterparty, 0 the best.
    tiers: Vec<u8>,
    /// `None` for fixed tiering.
    scores: Option<Scores>,
    /// This market maker's own counterparty index, excluded from the ranking.
    own_index: usize,
}

impl CounterpartyBook {
    /// A score-based book over `counterparties` slots. Tiers start from the prior scores,
    /// i.e. by the book's tie order (all scores equal), which `tie_salt` picks.
    pub fn dynamic(
        kind: ScoreKind,
        config: &DynamicTiering,
        counterparties: usize,
        own_index: usize,
        tie_salt: u32,
    ) -> Self {
        let revenue_rate = kind == ScoreKind::RevenueRate;
        let per_slot = |on: bool| if on { counterparties } else { 0 };
        let mut book = Self {
            tiers_count: config.tiers,
            tiers: vec![0; counterparties],
            scores: Some(Scores {
                kind,
                weight: config.weight,
                retier_every: config.retier_every,
                prior_yield: config.prior_yield,
                average_yield: vec![config.prior_yield; counterparties],
                realised: vec![false; per_slot(revenue_rate)],
                volume_ewma: vec![0.0; per_slot(revenue_rate)],
                volume_tick: vec![0; per_slot(revenue_rate)],
                tie_salt,
                pinned: config
                    .pinned_investors
                    .iter()
                    .map(|(&id, &tier)| (id as usize, tier))
                    .filter(|&(slot, _)| slot < counterparties)
                    .collect(),
            }),
            own_index,
        };
        book.retier(0);
        book
    }

    /// A fixed book: `tier_of(c)` for every counterparty slot.
    pub fn fixed(
        config: &FixedTiering,
        counterparties: usize,
        own_index: usize,
        tier_of: impl Fn(usize) -> u8,
    ) -> Self {
        Self {
            tiers_count: config.tiers,
            tiers: (0..counterparties).map(tier_of).collect(),
            scores: None,
            own_index,
        }
    }

    /// K, the number of tiers.
    pub fn tiers_count(&self) -> u8 {
        self.tiers_count
    }

    /// The tier quoted to counterparty `c`.
    #[inline]
    pub fn tier(&self, c: usize) -> u8 {
        self.tiers[c]
    }

    /// The score ψ of counterparty `c` at `tick` (NaN for fixed books, which keep none).
    pub fn score(&self, c: usize, tick: u32) -> f64 {
        match &self.scores {
            None => f64::NAN,
            Some(s) => s.psi(c, tick),
        }
    }

    /// Number of counterparty slots.
    pub fn len(&self) -> usize {
        self.tiers.len()
    }

    /// Whether the book has no slots.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// Records a realised trade's yield for counterparty `c`: ψ ← (1−β)ψ + β·yield.
    pub fn record_yield(&mut self, c: usize, trade_yield: f64) {
        if let Some(s) = &mut self.scores {
            let old = s.average_yield[c];
            s.average_yield[c] = old + s.weight * (trade_yield - old);
            if let Some(realised) = s.realised.get_mut(c) {
                *realised = true;
            }
        }
    }

    /// Records traded volume with counterparty `c` at `tick` (revenue-rate books only).
    pub fn record_volume(&mut self, c: usize, volume: f64, tick: u32) {
        if let Some(s) = &mut self.scores
            && s.kind == ScoreKind::RevenueRate
        {
            let current = decayed(s, c, tick);
            s.volume_ewma[c] = current + s.weight * volume;
            s.volume_tick[c] = tick;
        }
    }

    /// Whether the book re-tiers at `tick`.
    pub fn retiers_at(&self, tick: u32) -> bool {
        self.scores
            .as_ref()
            .is_some_and(|s| tick.is_multiple_of(s.retier_every))
    }

    /// Splits counterparties into K quantiles of ψ as of `tick`: highest scores → tier 0,
    /// equal scores in the book's fixed tie order.
    pub fn retier(&mut self, tick: u32) {
        let Some(scores) = &self.scores else { return };
        // `pinned` is sorted by slot (it comes from a BTreeMap).
        let is_pinned = |c: usize| {
            scores
                .pinned
                .binary_search_by_key(&c, |&(slot, _)| slot)
                .is_ok()
        };
        let mut ranked: Vec<RankEntry> = (0..self.tiers.len())
            .filter(|&c| c != self.own_index && (scores.pinned.is_empty() || !is_pinned(c)))
            .map(|c| {
                let slot = c as u32;
                (scores.psi(c, tick), tie_key(slot, scores.tie_salt), slot)
            })
            .collect();
        assign_quantile_tiers(&mut ranked, self.tiers_count, &mut self.tiers);
        for &(slot, tier) in &scores.pinned {
            self.tiers[slot] = tier;
        }
    }
}

/// The volume EWMA of `c` carried forward to `tick` with no volume in between:
/// each idle tick multiplies it by (1 − β).
fn decayed(s: &Scores, c: usize, tick: u32) -> f64 {
    let idle = tick.saturating_sub(s.volume_tick[c]);
    let idle = i32::try_from(idle).unwrap_or(i32::MAX);
    s.volume_ewma[c] * (1.0 - s.weight).powi(idle)
}

/// A counterparty in a ranking: (score ψ, tie key, counterparty slot).
pub type RankEntry = (f64, u32, u32);

/// The position of counterparty `slot` in a book's tie order: a bijective 32-bit mix
/// (lowbias32) of the slot and the book's salt. Equal scores are a fixed order, as the
/// spec asks, but a different one in each book, so that no investor is favoured by its
/// id everywhere and market makers do not all start in each other's worst tier.
pub fn tie_key(slot: u32, salt: u32) -> u32 {
    let mut x = slot ^ salt;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Ranking order: higher score first, then lower tie key (keys are distinct).
fn better_first(a: &RankEntry, b: &RankEntry) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Writes into `out[slot]` the quantile tier of every `(score, key, slot)` in `ranked`:
/// with n entries ranked r = 0..n by [`better_first`], tier = ⌊r·K/n⌋. Uses K − 1
/// successive selections (`select_nth_unstable`), so O(n·K) rather than a full
/// O(n log n) sort. `ranked` is reordered.
pub fn assign_quantile_tiers(ranked: &mut [RankEntry], tiers: u8, out: &mut [u8]) {
    let n = ranked.len();
    let k = usize::from(tiers.max(1));
    let mut start = 0;
    for tier in 0..k {
        // First rank whose tier exceeds `tier`: ceil((tier+1)·n/K).
        let end = ((tier + 1) * n).div_ceil(k).min(n);
        if end > start && end < n {
            ranked[start..].select_nth_unstable_by(end - start, better_first);
        }
        for &(_, _, slot) in &ranked[start..end] {
            out[slot as usize] = tier as u8;
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: full sort, then tier = ⌊r·K/n⌋.
    fn by_sorting(scores: &[f64], k: u8) -> Vec<u8> {
        let mut ranked = entries(scores);
        ranked.sort_by(better_first);
        let mut out = vec![0; scores.len()];
        for (r, &(_, _, c)) in ranked.iter().enumerate() {
            out[c as usize] = (r * usize::from(k) / scores.len()) as u8;
        }
        out
    }

    /// Entries whose tie key is the slot itself (index order).
    fn entries(scores: &[f64]) -> Vec<RankEntry> {
        scores.iter().zip(0..).map(|(&s, c)| (s, c, c)).collect()
    }

    #[test]
    fn selection_matches_a_full_sort() {
        let mut state = 12345u64;
        for n in [1usize, 2, 3, 5, 7, 11, 100, 1001] {
            for k in [1u8, 2, 3, 5, 7] {
                let scores: Vec<f64> = (0..n)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        // Few distinct values so that ties are common.
                        ((state >> 60) as f64) / 4.0
                    })
                    .collect();
                let mut ranked = entries(&scores);
                let mut got = vec![u8::MAX; n];
                assign_quantile_tiers(&mut ranked, k, &mut got);
                assert_eq!(got, by_sorting(&scores, k), "n={n} k={k}");
            }
        }
    }

    #[test]
    fn highest_score_gets_tier_zero_and_ties_follow_index_order() {
        let scores = [0.1, 0.5, 0.3, 0.3, -0.2];
        let mut ranked = entries(&scores);
        let mut tiers = [9u8; 5];
        assign_quantile_tiers(&mut ranked, 5, &mut tiers);
        assert_eq!(tiers, [3, 0, 1, 2, 4]);
    }

    #[test]
    fn average_yield_is_an_ewma_from_the_prior() {
        let config = DynamicTiering {
            tiers: 2,
            weight: 0.1,
            retier_every: 1,
            prior_yield: 0.0,
            pinned_investors: Default::default(),
        };
        let mut book = CounterpartyBook::dynamic(ScoreKind::AverageYield, &config, 3, 2, 0);
        book.record_yield(0, 1.0);
        book.record_yield(0, 1.0);
        assert!((book.score(0, 0) - 0.19).abs() < 1e-15);
        book.record_yield(1, -1.0);
        book.retier(1);
        assert_eq!((book.tier(0), book.tier(1)), (0, 1));
    }

    #[test]
    fn revenue_rate_volume_decays_while_idle() {
        let config = DynamicTiering {
            tiers: 2,
            weight: 0.5,
            retier_every: 1,
            prior_yield: 1.0,
            pinned_investors: Default::default(),
        };
        // Before any realised trade, ψ is the prior whatever the volume.
        let mut fresh = CounterpartyBook::dynamic(ScoreKind::RevenueRate, &config, 2, 1, 0);
        fresh.record_volume(0, 4.0, 10);
        assert_eq!(fresh.score(0, 10), 1.0);

        let mut book = CounterpartyBook::dynamic(ScoreKind::RevenueRate, &config, 2, 1, 0);
        // A realised yield equal to the prior leaves the average yield at 1.
        book.record_yield(0, 1.0);
        book.record_volume(0, 4.0, 10);
        book.record_volume(0, 2.0, 10); // same tick: volumes add up
        assert!((book.score(0, 10) - 3.0).abs() < 1e-15);
        // Two idle ticks: × (1 − β)².
        assert!((book.score(0, 12) - 0.75).abs() < 1e-15);
        book.record_volume(0, 1.0, 13);
        assert!((book.score(0, 13) - (0.375 + 0.5)).abs() < 1e-15);
    }

    #[test]
    fn each_book_has_its_own_fixed_tie_order() {
        let config = DynamicTiering {
            tiers: 5,
            weight: 0.1,
            retier_every: 1,
            prior_yield: 0.0,
            pinned_investors: Default::default(),
        };
        let tiers = |salt: u32| {
            let book = CounterpartyBook::dynamic(ScoreKind::AverageYield, &config, 1000, 999, salt);
            (0..999).map(|c| book.tier(c)).collect::<Vec<u8>>()
        };
        // Same salt, same order; another salt, another order; always balanced quantiles.
        assert_eq!(tiers(7), tiers(7));
        assert_ne!(tiers(7), tiers(8));
        for salt in [7, 8] {
            let t = tiers(salt);
            for k in 0..5u8 {
                let count = t.iter().filter(|&&x| x == k).count();
                assert!((199..=200).contains(&count), "tier {k}: {count}");
            }
        }
    }

    #[test]
    fn tie_keys_are_a_permutation() {
        let mut keys: Vec<u32> = (0..100_000)
            .map(|slot| tie_key(slot, 0xDEAD_BEEF))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 100_000);
    }

    #[test]
    fn pinned_investors_keep_their_tier_and_leave_the_ranking() {
        let config = DynamicTiering {
            tiers: 2,
            weight: 1.0,
            retier_every: 1,
            prior_yield: 0.0,
            pinned_investors: [(1, 1)].into_iter().collect(),
        };
        let mut book = CounterpartyBook::dynamic(ScoreKind::AverageYield, &config, 5, 4, 0);
        // Investor 1 has the best score but stays pinned at tier 1; the other three are
        // split between tiers 0 and 1 on their own.
        for (slot, y) in [(0, 0.3), (1, 9.0), (2, 0.2), (3, 0.1)] {
            book.record_yield(slot, y);
        }
        book.retier(1);
        assert_eq!(
            (0..4).map(|c| book.tier(c)).collect::<Vec<_>>(),
            [0, 1, 0, 1]
        );
    }
}
