//! Every investor's tier at every market maker, investor-major: what a quote reads.
//!
//! A trade needs its investor's tier in all M books. Asked of the books, that is M
//! look-ups in M structures (a tie key, a set test, a cut search each); kept here, it is
//! one row of M bytes that shares a cache line. The books stay the truth: after each
//! re-tier the matrix copies only the tiers the book reports it may have changed
//! ([`CounterpartyBook::last_changes`]), so its upkeep follows the moves, not N·M.

use bevy_ecs::prelude::Resource;
use rayon::prelude::*;

use super::tiering::{CounterpartyBook, TierChanges};

/// Investors' tiers, one row of `stride` bytes per investor, column m for market maker m.
#[derive(Resource, Clone, Debug, Default)]
pub struct TierMatrix {
    /// Bytes per row: M rounded up to a power of two while that is at most 64, so that a
    /// row never straddles two cache lines; M itself above (the rows are then too long
    /// for one line whatever the padding).
    stride: usize,
    investors: usize,
    tiers: Vec<u8>,
    /// Whether the rows hold the books' tiers; cleared when books are replaced, and the
    /// next re-tier phase fills every row.
    filled: bool,
}

/// Rows filled per task when the matrix is filled in parallel.
const FILL_ROWS_PER_TASK: usize = 16_384;

impl TierMatrix {
    /// An unfilled matrix for `investors` × `makers`.
    pub fn new(investors: usize, makers: usize) -> Self {
        let stride = if makers <= 64 {
            makers.next_power_of_two()
        } else {
            makers
        };
        Self {
            stride,
            investors,
            tiers: Vec::new(),
            filled: false,
        }
    }

    /// A matrix of the same shape with no rows yet.
    pub fn clone_empty(&self) -> Self {
        Self {
            tiers: Vec::new(),
            filled: false,
            ..*self
        }
    }

    /// Marks the rows stale (the books were replaced): the next re-tier fills them all.
    pub fn invalidate(&mut self) {
        self.filled = false;
    }

    /// Whether the rows hold the books' tiers.
    pub fn is_filled(&self) -> bool {
        self.filled
    }

    /// Investor `slot`'s tiers, market maker m at index m.
    #[inline]
    pub fn row(&self, slot: usize) -> &[u8] {
        let start = slot * self.stride;
        &self.tiers[start..start + self.stride]
    }

    /// Copies every investor's tier from `books` (in market-maker id order), rows in
    /// parallel: each row is written by one task, so the result does not depend on the
    /// thread count.
    pub fn fill(&mut self, books: &[&CounterpartyBook]) {
        let stride = self.stride;
        self.tiers = vec![0; self.investors * stride];
        self.tiers
            .par_chunks_mut(FILL_ROWS_PER_TASK * stride.max(1))
            .enumerate()
            .for_each(|(chunk, rows)| {
                let first = chunk * FILL_ROWS_PER_TASK;
                for (i, row) in rows.chunks_exact_mut(stride.max(1)).enumerate() {
                    for (m, book) in books.iter().enumerate() {
                        row[m] = book.tier(first + i);
                    }
                }
            });
        self.filled = true;
    }

    /// Brings the columns of `books` (market maker id, book) up to date after their
    /// re-tiers. Reported slots are copied one by one; the books that may have changed
    /// any tier (revenue-rate and reference books) are copied together in one parallel
    /// pass over the rows, so the matrix is read and written once, not once per book.
    pub fn update(&mut self, books: &[(usize, &CounterpartyBook)]) {
        let stride = self.stride;
        let mut whole_columns = Vec::new();
        for &(maker, book) in books {
            match book.last_changes() {
                TierChanges::Slots(slots) => {
                    for &slot in slots {
                        let slot = slot as usize;
                        if slot < self.investors {
                            self.tiers[slot * stride + maker] = book.tier(slot);
                        }
                    }
                }
                TierChanges::All => whole_columns.push((maker, book)),
            }
        }
        if whole_columns.is_empty() {
            return;
        }
        self.tiers
            .par_chunks_mut(FILL_ROWS_PER_TASK * stride)
            .enumerate()
            .for_each(|(chunk, rows)| {
                let first = chunk * FILL_ROWS_PER_TASK;
                for (i, row) in rows.chunks_exact_mut(stride).enumerate() {
                    for &(maker, book) in &whole_columns {
                        row[maker] = book.tier(first + i);
                    }
                }
            });
    }
}
