//! A set of counterparty slots as a bitset with a summary level, so that a membership
//! test in a large, sparsely filled set is answered from a small, cache-resident array.

/// Slots `0..n` as one bit each, plus one summary bit per 64-slot word saying whether the
/// word has any bit set.
///
/// A book's off-prior set at ten million slots is 1.25 MB of bits, and a quote to a
/// random investor would miss cache (and the TLB) on it in every book. The summary is 64
/// times smaller (20 KB at ten million slots), so while few slots are members most tests
/// end there; the full word is read only when the summary bit is set.
#[derive(Clone, Debug)]
pub struct SlotSet {
    words: Vec<u64>,
    summary: Vec<u64>,
}

impl SlotSet {
    /// The empty set over slots `0..slots`, with all its memory written now.
    pub fn new(slots: usize) -> Self {
        let words = slots.div_ceil(64);
        Self {
            words: resident_zeros(words),
            summary: resident_zeros(words.div_ceil(64)),
        }
    }

    /// Whether `slot` is in the set.
    #[inline]
    pub fn contains(&self, slot: usize) -> bool {
        let word = slot / 64;
        debug_assert!(word < self.words.len(), "slot {slot} is outside the set");
        bit_is_set(&self.summary, word) && bit_is_set(&self.words, slot)
    }

    /// Reads the words holding `slots`, so that inserts and removes that follow find
    /// them in cache. These loads are independent of one another and overlap; the same
    /// misses taken inside a sequence of longer updates come one after another
    /// (measured: a third of a re-tier at ten million slots).
    pub fn warm(&self, slots: impl Iterator<Item = usize>) {
        let folded = slots.fold(0u64, |acc, slot| acc ^ self.words[slot / 64]);
        std::hint::black_box(folded);
    }

    /// Adds `slot`.
    pub fn insert(&mut self, slot: usize) {
        let word = slot / 64;
        self.words[word] |= bit(slot);
        self.summary[word / 64] |= bit(word);
    }

    /// Removes `slot`.
    pub fn remove(&mut self, slot: usize) {
        let word = slot / 64;
        self.words[word] &= !bit(slot);
        if self.words[word] == 0 {
            self.summary[word / 64] &= !bit(word);
        }
    }
}

#[inline]
fn bit(index: usize) -> u64 {
    1 << (index % 64)
}

#[inline]
fn bit_is_set(bits: &[u64], index: usize) -> bool {
    bits[index / 64] & bit(index) != 0
}

/// `len` zero words, written now rather than allocated zeroed. A zeroed allocation of
/// this size is mapped lazily: tests read the shared zero page, and the first write to
/// each page then takes a copy-on-write fault and a TLB shoot-down across the rayon
/// threads mid-tick (measured: ~15% of a tick at 10M investors). The opaque zero keeps
/// the compiler from turning the writes back into a zeroed allocation.
fn resident_zeros(len: usize) -> Vec<u64> {
    let mut words = Vec::with_capacity(len);
    words.resize(len, std::hint::black_box(0));
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeSet;

    #[test]
    fn agrees_with_a_reference_set_through_inserts_and_removes() {
        // Slot counts around word and summary-word boundaries.
        for slots in [1, 63, 64, 65, 4095, 4096, 4097, 20_000] {
            let mut set = SlotSet::new(slots);
            let mut reference = BTreeSet::new();
            let mut rng = Stream::seed_from_u64(slots as u64);
            for step in 0..4 * slots.min(5_000) {
                // Mostly a few clustered slots, so words empty out and fill again.
                let slot = if step % 3 == 0 {
                    rng.random_range(0..slots)
                } else {
                    rng.random_range(0..slots.min(130))
                };
                if rng.random::<bool>() {
                    set.insert(slot);
                    reference.insert(slot);
                } else {
                    set.remove(slot);
                    reference.remove(&slot);
                }
                if step % 97 == 0 {
                    check(&set, &reference, slots);
                }
            }
            check(&set, &reference, slots);
        }
    }

    /// Membership as the reference has it, and the summary invariant: a word's summary
    /// bit is set exactly when the word has a member (a stale bit would not change the
    /// answers, only the speed, so it is checked directly).
    fn check(set: &SlotSet, reference: &BTreeSet<usize>, slots: usize) {
        for s in 0..slots {
            assert_eq!(set.contains(s), reference.contains(&s), "slot {s}");
        }
        for (w, &word) in set.words.iter().enumerate() {
            assert_eq!(
                bit_is_set(&set.summary, w),
                word != 0,
                "summary of word {w}"
            );
        }
    }

    #[test]
    fn summary_bit_clears_only_when_its_word_empties() {
        let mut set = SlotSet::new(200);
        set.insert(70);
        set.insert(71);
        set.remove(70);
        assert!(set.contains(71));
        assert_eq!(set.summary[0], 1 << 1);
        set.remove(71);
        assert_eq!(set.summary[0], 0);
        assert!(!set.contains(71));
    }
}
