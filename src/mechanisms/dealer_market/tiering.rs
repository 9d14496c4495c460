//! Counterparty scores and tiers: each market maker's per-counterparty yield history
//! (average yield or revenue rate) and its quantile split into K tiers, kept either as
//! cut points updated incrementally or written out for every counterparty.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

use bevy_ecs::prelude::Component;

use super::order_statistics::{KeyBits, SortedBlocks, TieOrder};
use super::slot_set::SlotSet;

/// The parameters of a score-based book (converted from the scenario's tiering config).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreParams {
    /// K, the number of tiers (≥ 1).
    pub tiers: u8,
    /// β, the EWMA weight of the newest observation, in (0, 1].
    pub weight: f64,
    /// Re-tier every this many ticks (≥ 1).
    pub retier_every: u32,
    /// ψ before a counterparty's first realised trade; the EWMA's starting value.
    pub prior_yield: f64,
    /// (slot, tier) held fixed whatever the score, left out of the ranking.
    pub pinned: Vec<(usize, u8)>,
    /// How equal scores are ordered.
    pub tie_order: TieBreak,
}

/// How a book orders counterparties with equal scores (SPEC §2.3: "ties broken by a
/// fixed order"; both orders are fixed for the whole run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TieBreak {
    /// A permutation of the slots drawn from the book's own salt (seed, market maker id):
    /// each book orders ties differently, so no counterparty is first in every book.
    #[default]
    Salted,
    /// By counterparty index, lowest first: every book orders ties the same way.
    ByIndex,
}

impl Default for ScoreParams {
    /// The scenario defaults: 5 tiers, β = 0.1, every tick, prior 0, nothing pinned.
    fn default() -> Self {
        Self {
            tiers: 5,
            weight: 0.1,
            retier_every: 1,
            prior_yield: 0.0,
            pinned: Vec::new(),
            tie_order: TieBreak::Salted,
        }
    }
}

/// How a book turns trade history into scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreKind {
    /// ψ = EWMA of trade yields.
    AverageYield,
    /// ψ = EWMA of trade yields × EWMA of volume per tick.
    RevenueRate,
}

/// How a dynamic book keeps its quantile split. Both give identical tiers at every tick
/// (`tests/equivalence.rs`); they differ only in cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TieringMethod {
    /// Average-yield books keep the K − 1 cut points of the split, update them from only
    /// the counterparties whose score changed since the last re-tier, and compute a
    /// counterparty's tier when it is quoted. Cost per re-tier follows the number of
    /// scored counterparties, not the population. Revenue-rate books re-rank in full,
    /// since every score decays every tick.
    #[default]
    Incremental,
    /// Every re-tier ranks every counterparty and writes out every tier: the direct
    /// implementation of the model, kept as the reference.
    Reference,
}

/// A counterparty's place in a ranking. Orders best first: higher ψ, then lower tie key
/// (keys are distinct within a book, so the order is total).
#[derive(Clone, Copy, Debug)]
pub struct Ranked {
    /// ψ.
    pub score: f64,
    /// Position in the book's tie order.
    pub key: u32,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.key.cmp(&other.key))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// Dynamic scores of a book.
#[derive(Clone, Debug)]
struct Scores {
    kind: ScoreKind,
    weight: f64,
    retier_every: u32,
    /// ψ of a counterparty with no realised trade.
    prior_yield: f64,
    /// EWMA of realised yields per counterparty (starts at the prior). Empty with
    /// [`Tiers::Cut`], which keeps only the scores off the prior.
    average_yield: Vec<f64>,
    /// Revenue rate only: whether the counterparty has a realised trade yet (before it,
    /// ψ is the prior, whatever volume it has traded).
    realised: Vec<bool>,
    /// EWMA of volume per tick, as of `volume_tick[c]` (decayed lazily: only
    /// counterparties that trade are touched when they trade).
    volume_ewma: Vec<f64>,
    volume_tick: Vec<u32>,
    /// This book's tie order among equal scores.
    order: TieOrder,
    /// Counterparties held at a fixed tier, left out of the ranking: (slot, tier), sorted.
    pinned: Vec<(usize, u8)>,
    /// This market maker's own slot, left out of the ranking.
    own_index: usize,
}

impl Scores {
    /// ψ of counterparty `c` as of `tick`, from the stored average yield.
    fn psi(&self, c: usize, tick: u32) -> f64 {
        match self.kind {
            ScoreKind::AverageYield => self.average_yield[c],
            ScoreKind::RevenueRate if !self.realised[c] => self.prior_yield,
            ScoreKind::RevenueRate => self.average_yield[c] * decayed(self, c, tick),
        }
    }

    /// The pinned tier of `c`, if it has one.
    #[inline]
    fn pinned_tier(&self, c: usize) -> Option<u8> {
        if self.pinned.is_empty() {
            return None;
        }
        // `pinned` is sorted by slot (sorted when the book is built).
        self.pinned
            .binary_search_by_key(&c, |&(slot, _)| slot)
            .ok()
            .map(|i| self.pinned[i].1)
    }

    /// Whether `c` stays out of the ranking (this market maker, or pinned).
    fn unranked(&self, c: usize) -> bool {
        c == self.own_index || self.pinned_tier(c).is_some()
    }

    /// `c`'s place in the ranking by ψ `score`.
    #[inline]
    fn ranked(&self, c: usize, score: f64) -> Ranked {
        Ranked {
            score,
            key: self.order.key(c as u32),
        }
    }
}

/// How a dynamic book holds its tiers.
#[derive(Clone, Debug)]
enum Tiers {
    /// Every counterparty's tier, rewritten at each re-tier.
    Written(Vec<u8>),
    /// The cut points of the split; tiers are computed when asked for.
    Cut(Box<QuantileCuts>),
}

/// The quantile split of an average-yield book as cut points, kept exact under
/// incremental updates.
///
/// Most counterparties never trade with a given market maker, so most scores stay at
/// the prior ψ₀. The ranking is three runs: scores above ψ₀ (sorted), then everyone at
/// ψ₀ in tie-key order, then scores below ψ₀ (sorted). The first and last runs are held
/// in order-statistics sets; the middle run is "every tie key not held by someone else",
/// so the counterparty at any rank in it is found from the sorted set of keys held
/// elsewhere, without storing the run. A re-tier moves only the counterparties whose
/// score changed, then reads the entry at each cut rank.
#[derive(Clone, Debug)]
struct QuantileCuts {
    /// Ranked counterparties with ψ above the prior, best first.
    above: SortedBlocks<Ranked>,
    /// Ranked counterparties with ψ below the prior, best first.
    below: SortedBlocks<Ranked>,
    /// Tie keys outside the middle run: own slot, pinned, `above` and `below`.
    keys_elsewhere: KeyBits,
    /// Number of ranked counterparties (slots less own and pinned).
    ranked_count: usize,
    /// The entry at each cut rank ⌈t·n/K⌉, t = 1..K−1, that is below n.
    cuts: Vec<Ranked>,
    /// ψ as of the last re-tier of every slot whose ψ is off the prior; everyone else
    /// is at the prior. Sparse, so memory follows the counterparties that traded, and
    /// a first trade does not fault in a page of a population-sized array.
    scored: FxHashMap<u32, f64>,
    /// The slots in `above` or `below`, i.e. ranked with ψ off the prior. A quote to
    /// anyone else needs only the tie key, not a look-up of ψ.
    off_prior: SlotSet,
    /// ψ updated since the last re-tier, by slot: applied at the next re-tier, so
    /// tiers in between stay those set from the scores at the re-tier. A hash map
    /// because it is written once per trade; the order it is drained in does not
    /// matter, since the sets end up the same whatever the order of the moves.
    pending: FxHashMap<u32, f64>,
    /// Scratch for a re-tier's moves, kept for its capacity.
    moves: Vec<Move>,
}

/// A counterparty whose ψ changed since the last re-tier.
#[derive(Clone, Copy, Debug)]
struct Move {
    slot: u32,
    /// Its tie key, computed once (sorting by entry compares it often).
    key: u32,
    old: f64,
    new: f64,
}

impl QuantileCuts {
    /// The split of a book whose scores are all at the prior.
    fn at_prior(scores: &Scores) -> Self {
        let n = scores.order.len() as usize;
        let mut keys: Vec<u32> = std::iter::once(scores.own_index)
            .chain(scores.pinned.iter().map(|&(slot, _)| slot))
            .filter(|&c| c < n)
            .map(|c| scores.order.key(c as u32))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Self {
            above: SortedBlocks::new(),
            below: SortedBlocks::new(),
            ranked_count: n - keys.len(),
            keys_elsewhere: {
                let mut set = KeyBits::new(n);
                for &key in &keys {
                    set.insert(key);
                }
                set
            },
            cuts: Vec::new(),
            scored: FxHashMap::default(),
            off_prior: SlotSet::new(n),
            pending: FxHashMap::default(),
            moves: Vec::new(),
        }
    }

    /// Moves every counterparty in `moves` (slot, old ψ, new ψ; slots distinct and
    /// ranked) among the three runs. Removals are made in ranking order of the old
    /// entries, then insertions in that of the new: consecutive operations land in the
    /// same or the next block, which is in cache, instead of a random block each. The
    /// sets end up the same as with the moves made one by one in any order.
    fn rescore_all(&mut self, scores: &Scores, moves: &mut [Move]) {
        let prior = scores.prior_yield;
        let run = |psi: f64| psi.total_cmp(&prior);
        let at = |key: u32, score: f64| Ranked { score, key };
        moves.sort_unstable_by_key(|m| at(m.key, m.old));
        for m in moves.iter() {
            let was_held = match run(m.old) {
                Ordering::Greater => self.above.remove(&at(m.key, m.old)),
                Ordering::Less => self.below.remove(&at(m.key, m.old)),
                Ordering::Equal => true,
            };
            debug_assert!(was_held, "slot {} was not in its run", m.slot);
        }
        moves.sort_unstable_by_key(|m| at(m.key, m.new));
        for m in moves.iter() {
            match run(m.new) {
                Ordering::Greater => self.above.insert(at(m.key, m.new)),
                Ordering::Less => self.below.insert(at(m.key, m.new)),
                Ordering::Equal => {}
            }
            let c = m.slot as usize;
            match (run(m.old) == Ordering::Equal, run(m.new) == Ordering::Equal) {
                (true, false) => {
                    self.keys_elsewhere.insert(m.key);
                    self.off_prior.insert(c);
                }
                (false, true) => {
                    self.keys_elsewhere.remove(m.key);
                    self.off_prior.remove(c);
                }
                _ => {}
            }
        }
    }

    /// ψ of slot `c` as of the last re-tier.
    #[inline]
    fn settled(&self, c: usize, prior: f64) -> f64 {
        self.scored.get(&(c as u32)).copied().unwrap_or(prior)
    }

    /// ψ of slot `c` now, with the updates since the last re-tier.
    fn live(&self, c: usize, prior: f64) -> f64 {
        match self.pending.get(&(c as u32)) {
            Some(&psi) => psi,
            None => self.settled(c, prior),
        }
    }

    /// Whether slot `c`'s ψ, as of the last re-tier, is off the prior.
    #[inline]
    fn is_off_prior(&self, c: usize) -> bool {
        self.off_prior.contains(c)
    }

    /// The ranked counterparty at rank `r` (< ranked_count).
    fn at_rank(&self, r: usize, prior: f64) -> Ranked {
        let above = self.above.len();
        let middle = self.ranked_count - above - self.below.len();
        if r < above {
            self.above.nth(r).expect("rank within the above run")
        } else if r < above + middle {
            Ranked {
                score: prior,
                key: self.keys_elsewhere.nth_missing((r - above) as u32),
            }
        } else {
            self.below
                .nth(r - above - middle)
                .expect("rank within the below run")
        }
    }

    /// Recomputes the cut entries: tier t starts at rank ⌈t·n/K⌉.
    fn recut(&mut self, tiers: u8, prior: f64) {
        let n = self.ranked_count;
        let k = usize::from(tiers.max(1));
        self.cuts.clear();
        for t in 1..k {
            let rank = (t * n).div_ceil(k);
            if rank >= n {
                break;
            }
            let entry = self.at_rank(rank, prior);
            self.cuts.push(entry);
        }
    }

    /// The tier of a counterparty ranked at `entry`: the number of cut ranks at or
    /// before its rank, i.e. ⌊r·K/n⌋.
    #[inline]
    fn tier(&self, entry: &Ranked) -> u8 {
        self.cuts.partition_point(|cut| cut <= entry) as u8
    }

    /// Calls `slot(c)` for every ranked counterparty whose entry e has `lo ≤ e < hi`,
    /// walking only that stretch of the three runs.
    fn entries_between(&self, lo: Ranked, hi: Ranked, scores: &Scores, mut slot: impl FnMut(u32)) {
        let prior = scores.prior_yield;
        let order = &scores.order;
        for run in [&self.above, &self.below] {
            for entry in run.iter_from(&lo).take_while(|e| **e < hi) {
                slot(order.slot(entry.key));
            }
        }
        // The middle run: every key not held elsewhere, at the prior, in key order.
        let first_key = match lo.score.total_cmp(&prior) {
            Ordering::Greater => 0,
            Ordering::Equal => lo.key,
            Ordering::Less => return,
        };
        let end_key = match hi.score.total_cmp(&prior) {
            Ordering::Less => order.len(),
            Ordering::Equal => hi.key,
            Ordering::Greater => return,
        };
        for key in (first_key..end_key).filter(|&k| !self.keys_elsewhere.contains(k)) {
            slot(order.slot(key));
        }
    }
}

#[derive(Clone, Debug)]
enum Ranking {
    Fixed(Vec<u8>),
    Dynamic { scores: Box<Scores>, tiers: Tiers },
}

/// One market maker's view of all its counterparties: investors `0..N` then market makers
/// `N..N+M` (its own slot is never used), with their scores and tiers.
#[derive(Component, Clone, Debug)]
pub struct CounterpartyBook {
    tiers_count: u8,
    counterparties: usize,
    ranking: Ranking,
    /// The slots whose tier the last re-tier may have changed (cut-point books only:
    /// a book that writes every tier changes them all).
    changed: Vec<u32>,
}

/// Which tiers the last re-tier of a book may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierChanges<'a> {
    /// Only these slots (possibly repeated).
    Slots(&'a [u32]),
    /// Any slot.
    All,
}

impl CounterpartyBook {
    /// A score-based book over `counterparties` slots. Tiers start from the prior scores,
    /// i.e. by the book's tie order (all scores equal), which `tie_salt` picks.
    /// Average-yield books use `method`; revenue-rate books always re-rank in full.
    pub fn dynamic(
        kind: ScoreKind,
        config: &ScoreParams,
        counterparties: usize,
        own_index: usize,
        tie_salt: u32,
        method: TieringMethod,
    ) -> Self {
        let revenue_rate = kind == ScoreKind::RevenueRate;
        let cut = method == TieringMethod::Incremental && !revenue_rate;
        let per_slot = |on: bool| if on { counterparties } else { 0 };
        let scores = Scores {
            kind,
            weight: config.weight,
            retier_every: config.retier_every,
            prior_yield: config.prior_yield,
            average_yield: vec![config.prior_yield; per_slot(!cut)],
            realised: vec![false; per_slot(revenue_rate)],
            volume_ewma: vec![0.0; per_slot(revenue_rate)],
            volume_tick: vec![0; per_slot(revenue_rate)],
            order: {
                let n = u32::try_from(counterparties).expect("slot count fits u32 (validated)");
                match config.tie_order {
                    TieBreak::Salted => TieOrder::new(n, tie_salt),
                    TieBreak::ByIndex => TieOrder::by_index(n),
                }
            },
            pinned: {
                let mut pinned: Vec<(usize, u8)> = config
                    .pinned
                    .iter()
                    .copied()
                    .filter(|&(slot, _)| slot < counterparties)
                    .collect();
                pinned.sort_unstable_by_key(|&(slot, _)| slot);
                pinned.dedup_by_key(|(slot, _)| *slot);
                pinned
            },
            own_index,
        };
        let tiers = if cut {
            Tiers::Cut(Box::new(QuantileCuts::at_prior(&scores)))
        } else {
            Tiers::Written(vec![0; counterparties])
        };
        let mut book = Self {
            tiers_count: config.tiers,
            counterparties,
            ranking: Ranking::Dynamic {
                scores: Box::new(scores),
                tiers,
            },
            changed: Vec::new(),
        };
        book.retier(0);
        book
    }

    /// A fixed book: `tier_of(c)` for every counterparty slot.
    pub fn fixed(tiers: u8, counterparties: usize, tier_of: impl Fn(usize) -> u8) -> Self {
        Self {
            tiers_count: tiers,
            counterparties,
            ranking: Ranking::Fixed((0..counterparties).map(tier_of).collect()),
            changed: Vec::new(),
        }
    }

    /// K, the number of tiers.
    pub fn tiers_count(&self) -> u8 {
        self.tiers_count
    }

    /// The tier quoted to counterparty `c`, as set at the last re-tier.
    #[inline]
    pub fn tier(&self, c: usize) -> u8 {
        match &self.ranking {
            Ranking::Fixed(tiers)
            | Ranking::Dynamic {
                tiers: Tiers::Written(tiers),
                ..
            } => tiers[c],
            Ranking::Dynamic {
                scores,
                tiers: Tiers::Cut(cuts),
            } => match scores.pinned_tier(c) {
                Some(tier) => tier,
                None => {
                    let psi = if cuts.is_off_prior(c) {
                        cuts.settled(c, scores.prior_yield)
                    } else {
                        scores.prior_yield
                    };
                    cuts.tier(&scores.ranked(c, psi))
                }
            },
        }
    }

    /// How many counterparty slots (its own left out) sit in each tier 0..K as set at
    /// the last re-tier. An average-yield book kept by cut points answers from the cut
    /// ranks and its pinned slots, without visiting the population.
    pub fn tier_counts(&self, own_index: usize) -> Vec<u64> {
        let k = usize::from(self.tiers_count.max(1));
        let mut counts = vec![0u64; k];
        match &self.ranking {
            Ranking::Dynamic {
                scores,
                tiers: Tiers::Cut(cuts),
            } => {
                // Ranked tier t holds ranks ⌈t·n/K⌉ .. ⌈(t+1)·n/K⌉ (tier = ⌊r·K/n⌋).
                let n = cuts.ranked_count;
                for (t, count) in counts.iter_mut().enumerate() {
                    *count = ((t + 1) * n).div_ceil(k) as u64 - (t * n).div_ceil(k) as u64;
                }
                for &(slot, tier) in &scores.pinned {
                    if slot != own_index {
                        counts[usize::from(tier).min(k - 1)] += 1;
                    }
                }
            }
            _ => {
                for slot in (0..self.counterparties).filter(|&slot| slot != own_index) {
                    counts[usize::from(self.tier(slot)).min(k - 1)] += 1;
                }
            }
        }
        counts
    }

    /// The score ψ of counterparty `c` at `tick`, including updates since the last
    /// re-tier (NaN for fixed books, which keep none).
    pub fn score(&self, c: usize, tick: u32) -> f64 {
        match &self.ranking {
            Ranking::Fixed(_) => f64::NAN,
            Ranking::Dynamic {
                scores,
                tiers: Tiers::Cut(cuts),
            } => cuts.live(c, scores.prior_yield),
            Ranking::Dynamic { scores, .. } => scores.psi(c, tick),
        }
    }

    /// Number of counterparty slots.
    pub fn len(&self) -> usize {
        self.counterparties
    }

    /// Whether the book has no slots.
    pub fn is_empty(&self) -> bool {
        self.counterparties == 0
    }

    /// Records a realised trade's yield for counterparty `c`: ψ ← (1−β)ψ + β·yield.
    pub fn record_yield(&mut self, c: usize, trade_yield: f64) {
        let Ranking::Dynamic { scores, tiers } = &mut self.ranking else {
            return;
        };
        let ewma = |old: f64| old + scores.weight * (trade_yield - old);
        match tiers {
            Tiers::Cut(cuts) => {
                // ψ now: pending since the last re-tier, else as settled then.
                let QuantileCuts {
                    pending, scored, ..
                } = &mut **cuts;
                let prior = scores.prior_yield;
                let psi = pending
                    .entry(c as u32)
                    .or_insert_with(|| scored.get(&(c as u32)).copied().unwrap_or(prior));
                *psi = ewma(*psi);
            }
            Tiers::Written(_) => {
                scores.average_yield[c] = ewma(scores.average_yield[c]);
                if let Some(realised) = scores.realised.get_mut(c) {
                    *realised = true;
                }
            }
        }
    }

    /// Records traded volume with counterparty `c` at `tick` (revenue-rate books only).
    pub fn record_volume(&mut self, c: usize, volume: f64, tick: u32) {
        if let Ranking::Dynamic { scores, .. } = &mut self.ranking
            && scores.kind == ScoreKind::RevenueRate
        {
            let current = decayed(scores, c, tick);
            scores.volume_ewma[c] = current + scores.weight * volume;
            scores.volume_tick[c] = tick;
        }
    }

    /// The slots whose tier the last [`CounterpartyBook::retier`] may have changed.
    pub fn last_changes(&self) -> TierChanges<'_> {
        match &self.ranking {
            Ranking::Dynamic {
                tiers: Tiers::Cut(_),
                ..
            } => TierChanges::Slots(&self.changed),
            Ranking::Fixed(_) => TierChanges::Slots(&[]),
            Ranking::Dynamic { .. } => TierChanges::All,
        }
    }

    /// Whether the book re-tiers at `tick`.
    pub fn retiers_at(&self, tick: u32) -> bool {
        match &self.ranking {
            Ranking::Fixed(_) => false,
            Ranking::Dynamic { scores, .. } => tick.is_multiple_of(scores.retier_every),
        }
    }

    /// Splits counterparties into K quantiles of ψ as of `tick`: highest scores → tier 0,
    /// equal scores in the book's fixed tie order.
    pub fn retier(&mut self, tick: u32) {
        let Ranking::Dynamic { scores, tiers } = &mut self.ranking else {
            return;
        };
        self.changed.clear();
        match tiers {
            Tiers::Cut(cuts) => {
                // Taken out and put back so the map keeps its capacity across ticks.
                let mut pending = std::mem::take(&mut cuts.pending);
                self.changed.extend(pending.keys());
                let old_cuts = std::mem::take(&mut cuts.cuts);
                cuts.off_prior
                    .warm(pending.keys().map(|&slot| slot as usize));
                let prior = scores.prior_yield;
                // The settled scores first, in a short loop of independent look-ups
                // whose cache misses overlap.
                let mut moves = std::mem::take(&mut cuts.moves);
                moves.clear();
                moves.extend(pending.drain().map(|(slot, new)| Move {
                    slot,
                    key: 0,
                    old: cuts.settled(slot as usize, prior),
                    new,
                }));
                for m in &moves {
                    if m.new.total_cmp(&prior) == Ordering::Equal {
                        cuts.scored.remove(&m.slot);
                    } else {
                        cuts.scored.insert(m.slot, m.new);
                    }
                }
                moves.retain(|m| !scores.unranked(m.slot as usize));
                for m in &mut moves {
                    m.key = scores.order.key(m.slot);
                }
                cuts.rescore_all(scores, &mut moves);
                cuts.moves = moves;
                cuts.pending = pending;
                cuts.recut(self.tiers_count, scores.prior_yield);
                // A counterparty whose score did not move changes tier exactly when it
                // lies between a cut's old and new entries (tier = cuts at or before it).
                // Each move shifts a cut by at most one rank, so these stretches are as
                // long as the moves, not the population.
                let changed = &mut self.changed;
                for (old, new) in old_cuts.iter().zip(&cuts.cuts) {
                    let (lo, hi) = if old < new {
                        (*old, *new)
                    } else {
                        (*new, *old)
                    };
                    if lo != hi {
                        cuts.entries_between(lo, hi, scores, |slot| changed.push(slot));
                    }
                }
                debug_assert!(old_cuts.is_empty() || old_cuts.len() == cuts.cuts.len());
            }
            Tiers::Written(out) => {
                let mut ranked: Vec<RankEntry> = (0..out.len())
                    .filter(|&c| !scores.unranked(c))
                    .map(|c| (scores.ranked(c, scores.psi(c, tick)), c as u32))
                    .collect();
                assign_quantile_tiers(&mut ranked, self.tiers_count, out);
                for &(slot, tier) in &scores.pinned {
                    out[slot] = tier;
                }
            }
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

/// A counterparty in a full ranking: its place and its slot.
pub type RankEntry = (Ranked, u32);

/// Ranking order of entries: that of [`Ranked`], best first.
fn better_first(a: &RankEntry, b: &RankEntry) -> Ordering {
    a.0.cmp(&b.0)
}

/// Writes into `out[slot]` the quantile tier of every `(place, slot)` in `ranked`:
/// with n entries ranked r = 0..n by [`Ranked`]'s order, tier = ⌊r·K/n⌋. Uses K − 1
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
        for &(_, slot) in &ranked[start..end] {
            out[slot as usize] = tier as u8;
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;
    use rand::{Rng, RngExt, SeedableRng};

    /// Reference: full sort, then tier = ⌊r·K/n⌋.
    fn by_sorting(scores: &[f64], k: u8) -> Vec<u8> {
        let mut ranked = entries(scores);
        ranked.sort_by(better_first);
        let mut out = vec![0; scores.len()];
        for (r, &(_, c)) in ranked.iter().enumerate() {
            out[c as usize] = (r * usize::from(k) / scores.len()) as u8;
        }
        out
    }

    /// Entries whose tie key is the slot itself (index order).
    fn entries(scores: &[f64]) -> Vec<RankEntry> {
        scores
            .iter()
            .zip(0..)
            .map(|(&score, c)| (Ranked { score, key: c }, c))
            .collect()
    }

    #[test]
    fn selection_matches_a_full_sort() {
        let mut rng = Stream::seed_from_u64(12345);
        for n in [1usize, 2, 3, 5, 7, 11, 100, 1001] {
            for k in [1u8, 2, 3, 5, 7] {
                // Few distinct values so that ties are common.
                let scores: Vec<f64> = (0..n)
                    .map(|_| f64::from(rng.random_range(0..16u8)) / 4.0)
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
        let config = ScoreParams {
            tiers: 2,
            ..Default::default()
        };
        let mut book = CounterpartyBook::dynamic(
            ScoreKind::AverageYield,
            &config,
            3,
            2,
            0,
            TieringMethod::Incremental,
        );
        book.record_yield(0, 1.0);
        book.record_yield(0, 1.0);
        assert!((book.score(0, 0) - 0.19).abs() < 1e-15);
        book.record_yield(1, -1.0);
        book.retier(1);
        assert_eq!((book.tier(0), book.tier(1)), (0, 1));
    }

    #[test]
    fn revenue_rate_volume_decays_while_idle() {
        let config = ScoreParams {
            tiers: 2,
            weight: 0.5,
            prior_yield: 1.0,
            ..Default::default()
        };
        // Before any realised trade, ψ is the prior whatever the volume.
        let mut fresh = CounterpartyBook::dynamic(
            ScoreKind::RevenueRate,
            &config,
            2,
            1,
            0,
            TieringMethod::Incremental,
        );
        fresh.record_volume(0, 4.0, 10);
        assert_eq!(fresh.score(0, 10), 1.0);

        let mut book = CounterpartyBook::dynamic(
            ScoreKind::RevenueRate,
            &config,
            2,
            1,
            0,
            TieringMethod::Incremental,
        );
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
        let config = ScoreParams::default();
        let tiers = |salt: u32| {
            let book = CounterpartyBook::dynamic(
                ScoreKind::AverageYield,
                &config,
                1000,
                999,
                salt,
                TieringMethod::Incremental,
            );
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

    /// The incremental cut points give the same tier as the full re-ranking for every
    /// counterparty after every re-tier: random yields, some exactly at the prior (which
    /// rejoin the prior run), pinned investors, K from 1 to 7, tiny and odd populations.
    #[test]
    fn incremental_cuts_match_the_reference_ranking() {
        let mut rng = Stream::seed_from_u64(99);
        let mut next = || rng.next_u64() >> 33;
        for (n, tiers, prior, pinned) in [
            (1usize, 3u8, 0.0, vec![]),
            (2, 5, 0.0, vec![]),
            (7, 3, 0.25, vec![(2u32, 1u8)]),
            (60, 7, 0.0, vec![(0, 6), (59, 0)]),
            (3001, 5, -0.5, vec![(17, 4), (2000, 0)]),
            (2500, 1, 0.0, vec![]),
        ] {
            let config = ScoreParams {
                tiers,
                weight: 0.3,
                prior_yield: prior,
                pinned: pinned.into_iter().map(|(id, t)| (id as usize, t)).collect(),
                ..Default::default()
            };
            let own = n - 1;
            let build = |method| {
                CounterpartyBook::dynamic(ScoreKind::AverageYield, &config, n, own, 5, method)
            };
            let (mut fast, mut reference) = (
                build(TieringMethod::Incremental),
                build(TieringMethod::Reference),
            );
            // A copy of the tiers kept up to date only from the reported changes.
            let mut mirror: Vec<u8> = (0..n).map(|c| fast.tier(c)).collect();
            for tick in 0..40 {
                let mut moved = std::collections::BTreeSet::new();
                for _ in 0..(next() % (n as u64 / 3 + 2)) {
                    let c = (next() % n as u64) as usize;
                    if c == own {
                        continue;
                    }
                    moved.insert(c);
                    // A third of the yields repeat a few values, some equal to the prior.
                    let y = match next() % 6 {
                        0 => prior,
                        1 => prior + 0.5,
                        _ => (next() % 2001) as f64 / 1000.0 - 1.0,
                    };
                    fast.record_yield(c, y);
                    reference.record_yield(c, y);
                    assert_eq!(fast.score(c, tick), reference.score(c, tick));
                }
                fast.retier(tick);
                reference.retier(tick);
                let TierChanges::Slots(changed) = fast.last_changes() else {
                    panic!("a cut-point book reports the slots it changed");
                };
                // Each move shifts each of the K − 1 cuts by at most one rank, so the
                // report follows the moves, not the population.
                let bound = moved.len() * usize::from(tiers);
                assert!(
                    changed.len() <= bound,
                    "{} changes, {bound} allowed",
                    changed.len()
                );
                for &c in changed {
                    mirror[c as usize] = fast.tier(c as usize);
                }
                assert_eq!(reference.last_changes(), TierChanges::All);
                for c in (0..n).filter(|&c| c != own) {
                    assert_eq!(
                        fast.tier(c),
                        reference.tier(c),
                        "n {n} K {tiers} tick {tick} slot {c}"
                    );
                    assert_eq!(
                        mirror[c],
                        reference.tier(c),
                        "mirror: n {n} tick {tick} slot {c}"
                    );
                }
                // Counts from the cut ranks agree with counting every slot's tier.
                let mut counted = vec![0u64; usize::from(tiers)];
                for c in (0..n).filter(|&c| c != own) {
                    counted[usize::from(reference.tier(c))] += 1;
                }
                assert_eq!(
                    fast.tier_counts(own),
                    counted,
                    "n {n} K {tiers} tick {tick}"
                );
                assert_eq!(reference.tier_counts(own), counted);
            }
        }
    }

    /// Between re-tiers, tiers stay those set at the last one, whatever yields arrive.
    #[test]
    fn tiers_hold_between_retiers() {
        let config = ScoreParams {
            tiers: 2,
            weight: 1.0,
            retier_every: 4,
            ..Default::default()
        };
        for method in [TieringMethod::Incremental, TieringMethod::Reference] {
            let mut book =
                CounterpartyBook::dynamic(ScoreKind::AverageYield, &config, 5, 4, 1, method);
            book.record_yield(0, -1.0);
            book.retier(0);
            assert_eq!(book.tier(0), 1);
            book.record_yield(0, 1.0);
            assert_eq!(book.score(0, 1), 1.0);
            assert_eq!(book.tier(0), 1, "{method:?}: not re-tiered yet");
            book.retier(4);
            assert_eq!(book.tier(0), 0, "{method:?}");
        }
    }

    #[test]
    fn pinned_investors_keep_their_tier_and_leave_the_ranking() {
        let config = ScoreParams {
            tiers: 2,
            weight: 1.0,
            pinned: vec![(1, 1)],
            ..Default::default()
        };
        let mut book = CounterpartyBook::dynamic(
            ScoreKind::AverageYield,
            &config,
            5,
            4,
            0,
            TieringMethod::Incremental,
        );
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

    /// At the prior every score ties: a `ByIndex` book tiers by slot (the first fifth of
    /// the slots in tier 0), whatever its salt; a `Salted` book by its own permutation.
    #[test]
    fn by_index_ties_rank_the_lowest_slots_first() {
        let params = ScoreParams {
            tie_order: TieBreak::ByIndex,
            ..ScoreParams::default()
        };
        for method in [TieringMethod::Incremental, TieringMethod::Reference] {
            for salt in [0, 7, 12345] {
                let book = CounterpartyBook::dynamic(
                    ScoreKind::AverageYield,
                    &params,
                    11,
                    10,
                    salt,
                    method,
                );
                let tiers: Vec<u8> = (0..10).map(|c| book.tier(c)).collect();
                assert_eq!(
                    tiers,
                    [0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
                    "{method:?} salt {salt}"
                );
            }
        }
        let salted = |salt| {
            let book = CounterpartyBook::dynamic(
                ScoreKind::AverageYield,
                &ScoreParams::default(),
                11,
                10,
                salt,
                TieringMethod::Incremental,
            );
            (0..10).map(|c| book.tier(c)).collect::<Vec<u8>>()
        };
        assert_ne!(salted(1), salted(2), "two salts, two orders");
    }
}
