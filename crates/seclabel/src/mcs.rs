//! The MCS pair allocator behind sVirt's dynamic labels.
//!
//! # The span
//! A daemon may only hand out categories within its own clearance. [`McsSpan::from_process_context`]
//! derives them from the daemon's context as libvirt does: the low sensitivity of its range (`s0`
//! when the context has no range), and the categories of the range's high level, which must be one
//! span of at least 8 categories; none at all means `c0.c1023`. (libvirt reads the text after the
//! first `:` of the range, which is the same set for every context a daemon runs under.)
//!
//! # Allocation
//! Each dynamic label gets a pair `cA,cB` with `A < B`: 523,776 pairs in `c0.c1023`. The pairs are
//! numbered row by row and tracked in a bitmap (64 KiB for the full span); a count of free pairs per
//! block of 4,096 pairs lets [`McsAllocator::allocate`] draw a uniform random number `k` below the
//! number of free pairs and walk straight to the `k`-th free one. That is exactly uniform over the
//! free pairs and costs the same bounded walk (at most 128 block counts, 64 words, 63 bits) however
//! full the space is; when nothing is free it returns [`McsError::Exhausted`] at once. libvirt instead
//! draws random pairs until it finds an unused one, which never ends when all are used.
//!
//! # Reservations
//! Labels the allocator did not choose — static labels, and the labels of guests found running when
//! the daemon starts — are reserved with [`McsAllocator::reserve`]. A reservation must not be
//! comparable (by MLS dominance) with any live label: a guest at `s0:c5` and one at `s0:c5,c9` are not
//! isolated, because the second may read everything labelled for the first. For the same reason the
//! allocator never hands out a pair that is comparable with a reservation: all pairs inside a
//! reserved category set, and all pairs that contain a reserved set of one or two categories, are
//! blocked while it lasts. A reservation with no categories at or below the span's sensitivity is
//! dominated by every pair and is refused ([`McsError::NotIsolated`]).

use std::fmt;

use rand::Rng;

use crate::category::{Category, CategorySet};
use crate::context::{Context, ContextError};
use crate::mls::{Level, Sensitivity};

/// Fewest categories a span may have (libvirt's limit).
pub const SPAN_MIN_CATEGORIES: u16 = 8;

/// Bitmap words per block of the free-count index.
const BLOCK_WORDS: usize = 64;

/// Why a span could not be derived, or a label not allocated, reserved or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McsError {
    /// The daemon's context could not be parsed.
    #[error("cannot derive the MCS span from the daemon context")]
    Context(#[source] ContextError),
    /// The daemon's range holds a single category.
    #[error("no category range available in '{range}'")]
    NoCategoryRange {
        /// The daemon's range.
        range: String,
    },
    /// The daemon's categories are not one span (`c0.c3,c9`).
    #[error("cannot parse category in '{range}': categories must form one span cA.cB")]
    NotASpan {
        /// The daemon's range.
        range: String,
    },
    /// Fewer than [`SPAN_MIN_CATEGORIES`] categories.
    #[error("category range c{first}-c{last} too small: at least {SPAN_MIN_CATEGORIES} categories are needed")]
    SpanTooSmall {
        /// First category number.
        first: u16,
        /// Last category number.
        last: u16,
    },
    /// Every pair is in use or blocked by a reservation.
    #[error("MCS label space exhausted: all {total} category pairs of {span} are in use ({allocated} allocated, {blocked} blocked by reserved labels)")]
    Exhausted {
        /// The span.
        span: McsSpan,
        /// Number of pairs in the span.
        total: usize,
        /// Pairs held by guests.
        allocated: usize,
        /// Pairs comparable with a reservation.
        blocked: usize,
    },
    /// The label is already in use.
    #[error("MCS level {label} is already reserved")]
    Duplicate {
        /// The label asked for.
        label: String,
    },
    /// The label is comparable with a live label, so the two guests would not be isolated.
    #[error("MCS level {label} conflicts with {other} in use: one dominates the other, so the guests would not be isolated")]
    Conflict {
        /// The label asked for.
        label: String,
        /// The live label it is comparable with.
        other: String,
    },
    /// The label has no categories and is dominated by every pair of the span.
    #[error("MCS level {label} has no categories: every guest label dominates it, so it cannot be isolated")]
    NotIsolated {
        /// The label asked for.
        label: String,
    },
    /// Release of a label that is not live.
    #[error("MCS level {label} is not reserved")]
    NotReserved {
        /// The label.
        label: String,
    },
}

/// The categories a daemon may hand out, at one sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct McsSpan {
    sensitivity: Sensitivity,
    first: Category,
    last: Category,
}

impl McsSpan {
    /// `c0.c1023` at `s0`: the span of a daemon running at `s0-s0:c0.c1023`.
    pub fn full() -> Self {
        Self {
            sensitivity: Sensitivity::S0,
            first: Category::new(0).expect("c0 exists"),
            last: Category::new(crate::category::CATEGORY_COUNT - 1).expect("c1023 exists"),
        }
    }

    /// The span `first..=last` at `sensitivity`, if it holds at least 8 categories.
    pub fn new(
        sensitivity: Sensitivity,
        first: Category,
        last: Category,
    ) -> Result<Self, McsError> {
        if last.number() < first.number()
            || last.number() - first.number() + 1 < SPAN_MIN_CATEGORIES
        {
            return Err(McsError::SpanTooSmall {
                first: first.number(),
                last: last.number(),
            });
        }
        Ok(Self {
            sensitivity,
            first,
            last,
        })
    }

    /// The span of a daemon running under `context` (see the module docs).
    pub fn from_process_context(context: &Context) -> Result<Self, McsError> {
        let range = context.range().copied().unwrap_or_default();
        let sensitivity = range.low().sensitivity;
        let cats = range.high().categories;
        if cats.is_empty() {
            let full = Self::full();
            return Ok(Self {
                sensitivity,
                ..full
            });
        }
        match cats.as_span() {
            Some((first, last)) if first == last => Err(McsError::NoCategoryRange {
                range: range.to_string(),
            }),
            Some((first, last)) => Self::new(sensitivity, first, last),
            None => Err(McsError::NotASpan {
                range: range.to_string(),
            }),
        }
    }

    /// [`Self::from_process_context`] on the text of a context.
    pub fn from_context_str(text: &str) -> Result<Self, McsError> {
        Self::from_process_context(&text.parse().map_err(McsError::Context)?)
    }

    /// The sensitivity of every allocated level.
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }

    /// Number of categories.
    pub fn categories(&self) -> usize {
        usize::from(self.last.number() - self.first.number()) + 1
    }

    /// Number of pairs `cA,cB` with `A < B`.
    pub fn pair_count(&self) -> usize {
        let n = self.categories();
        n * (n - 1) / 2
    }

    /// The span as a level holding all its categories.
    pub fn as_level(&self) -> Level {
        Level::new(self.sensitivity, CategorySet::span(self.first, self.last))
    }

    /// Offset of a category within the span.
    fn offset(&self, cat: Category) -> Option<usize> {
        (self.first..=self.last)
            .contains(&cat)
            .then(|| usize::from(cat.number() - self.first.number()))
    }

    fn category(&self, offset: usize) -> Category {
        let number = self.first.number() + u16::try_from(offset).expect("offsets stay below 1024");
        Category::new(number).expect("offsets stay within the span")
    }
}

impl fmt::Display for McsSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}.{}", self.sensitivity, self.first, self.last)
    }
}

/// A fixed-size bitmap of pairs with free counts per block.
#[derive(Clone)]
struct PairMap {
    /// Bit set = unavailable (allocated, blocked or past the end).
    words: Vec<u64>,
    /// Free bits per block of [`BLOCK_WORDS`] words.
    block_free: Vec<u32>,
    free: usize,
}

impl PairMap {
    fn new(pairs: usize) -> Self {
        let word_count = pairs.div_ceil(64);
        let mut words = vec![0u64; word_count];
        if pairs % 64 != 0 {
            // Bits past the last pair are permanently unavailable.
            if let Some(last) = words.last_mut() {
                *last = !0u64 << (pairs % 64);
            }
        }
        let mut map = Self {
            words,
            block_free: vec![0; word_count.div_ceil(BLOCK_WORDS)],
            free: 0,
        };
        map.recount();
        map
    }

    fn recount(&mut self) {
        self.free = 0;
        for (block, words) in self
            .block_free
            .iter_mut()
            .zip(self.words.chunks(BLOCK_WORDS))
        {
            *block = words.iter().map(|w| w.count_zeros()).sum();
            self.free += *block as usize;
        }
    }

    fn is_set(&self, index: usize) -> bool {
        self.words[index / 64] & (1 << (index % 64)) != 0
    }

    /// Marks a pair unavailable; returns whether it was free.
    fn set(&mut self, index: usize) -> bool {
        let was_free = !self.is_set(index);
        if was_free {
            self.words[index / 64] |= 1 << (index % 64);
            self.block_free[index / 64 / BLOCK_WORDS] -= 1;
            self.free -= 1;
        }
        was_free
    }

    /// Marks a pair free; returns whether it was unavailable.
    fn clear(&mut self, index: usize) -> bool {
        let was_set = self.is_set(index);
        if was_set {
            self.words[index / 64] &= !(1 << (index % 64));
            self.block_free[index / 64 / BLOCK_WORDS] += 1;
            self.free += 1;
        }
        was_set
    }

    /// Index of the `k`-th free pair (from 0), `k < self.free`.
    fn nth_free(&self, mut k: usize) -> Option<usize> {
        let block = self.block_free.iter().position(|&free| {
            let free = free as usize;
            if k < free {
                true
            } else {
                k -= free;
                false
            }
        })?;
        let first_word = block * BLOCK_WORDS;
        for (i, word) in self.words[first_word..]
            .iter()
            .take(BLOCK_WORDS)
            .enumerate()
        {
            let free = word.count_zeros() as usize;
            if k < free {
                let mut zeros = !word;
                for _ in 0..k {
                    zeros &= zeros - 1;
                }
                return Some((first_word + i) * 64 + zeros.trailing_zeros() as usize);
            }
            k -= free;
        }
        None
    }

    /// Indexes of the unavailable bits that are real pairs.
    fn set_bits(&self, pairs: usize) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(move |(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + bit
                })
            })
            .filter(move |&i| i < pairs)
        })
    }
}

/// Hands out unique MCS category pairs and keeps reserved labels isolated from them.
#[derive(Clone)]
pub struct McsAllocator {
    span: McsSpan,
    /// First pair index of each row `A` (pairs `A,B` for `B > A`).
    row_start: Vec<usize>,
    /// Pairs held by guests (allocated, or reserved as an exact pair of the span).
    held: PairMap,
    /// Pairs that cannot be handed out: held, or comparable with a reservation.
    unavailable: PairMap,
    /// Reserved levels that are not a pair of the span.
    reservations: Vec<Level>,
}

impl fmt::Debug for McsAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McsAllocator")
            .field("span", &self.span)
            .field("allocated", &self.allocated())
            .field("free", &self.free())
            .field("reservations", &self.reservations)
            .finish()
    }
}

impl McsAllocator {
    /// An allocator with every pair of `span` free.
    pub fn new(span: McsSpan) -> Self {
        let n = span.categories();
        let row_start = (0..n).map(|a| a * n - a * (a + 1) / 2).collect();
        let pairs = span.pair_count();
        Self {
            span,
            row_start,
            held: PairMap::new(pairs),
            unavailable: PairMap::new(pairs),
            reservations: Vec::new(),
        }
    }

    /// The span pairs come from.
    pub fn span(&self) -> &McsSpan {
        &self.span
    }

    /// Pairs that can still be handed out.
    pub fn free(&self) -> usize {
        self.unavailable.free
    }

    /// Pairs held by guests.
    pub fn allocated(&self) -> usize {
        self.span.pair_count() - self.held.free
    }

    /// Picks a free pair uniformly at random and holds it until [`Self::release`].
    pub fn allocate<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Result<Level, McsError> {
        if self.unavailable.free == 0 {
            return Err(self.exhausted());
        }
        let k = rng.gen_range(0..self.unavailable.free);
        let index = self
            .unavailable
            .nth_free(k)
            .expect("k is below the number of free pairs");
        self.unavailable.set(index);
        self.held.set(index);
        Ok(self.level_of(index))
    }

    fn exhausted(&self) -> McsError {
        let total = self.span.pair_count();
        let allocated = self.allocated();
        McsError::Exhausted {
            span: self.span,
            total,
            allocated,
            blocked: total - allocated,
        }
    }

    /// Reserves a label chosen elsewhere: a static label, or a running guest's at start-up.
    pub fn reserve(&mut self, label: &Level) -> Result<(), McsError> {
        if label.categories.is_empty() && label.sensitivity <= self.span.sensitivity {
            return Err(McsError::NotIsolated {
                label: label.to_string(),
            });
        }
        if let Some(other) = self.reservations.iter().find(|r| r.comparable(label)) {
            return Err(self.clash(label, other));
        }
        if let Some(index) = self.pair_index(label) {
            if !self.held.set(index) {
                return Err(McsError::Duplicate {
                    label: label.to_string(),
                });
            }
            self.unavailable.set(index);
            return Ok(());
        }
        let comparable = self.comparable_pairs(label);
        if let Some(&held) = comparable.iter().find(|&&i| self.held.is_set(i)) {
            return Err(self.clash(label, &self.level_of(held)));
        }
        for index in comparable {
            self.unavailable.set(index);
        }
        self.reservations.push(*label);
        Ok(())
    }

    fn clash(&self, label: &Level, other: &Level) -> McsError {
        if label == other {
            McsError::Duplicate {
                label: label.to_string(),
            }
        } else {
            McsError::Conflict {
                label: label.to_string(),
                other: other.to_string(),
            }
        }
    }

    /// Releases an allocated or reserved label.
    pub fn release(&mut self, label: &Level) -> Result<(), McsError> {
        if let Some(index) = self.pair_index(label) {
            if self.held.clear(index) {
                // A held pair is never comparable with a reservation, so nothing else blocks it.
                self.unavailable.clear(index);
                return Ok(());
            }
        }
        let position = self
            .reservations
            .iter()
            .position(|r| r == label)
            .ok_or_else(|| McsError::NotReserved {
                label: label.to_string(),
            })?;
        self.reservations.swap_remove(position);
        self.unavailable = self.held.clone();
        for reservation in self.reservations.clone() {
            self.block(&reservation);
        }
        Ok(())
    }

    /// Whether `label` is allocated or reserved.
    pub fn is_live(&self, label: &Level) -> bool {
        match self.pair_index(label) {
            Some(index) => self.held.is_set(index),
            None => self.reservations.contains(label),
        }
    }

    /// Every live label: held pairs, then other reservations.
    pub fn live(&self) -> impl Iterator<Item = Level> + '_ {
        self.held_levels().chain(self.reservations.iter().copied())
    }

    fn held_levels(&self) -> impl Iterator<Item = Level> + '_ {
        self.held
            .set_bits(self.span.pair_count())
            .map(|index| self.level_of(index))
    }

    /// Marks every pair comparable with `label` unavailable.
    fn block(&mut self, label: &Level) {
        for index in self.comparable_pairs(label) {
            self.unavailable.set(index);
        }
    }

    /// Indexes of the pairs that dominate or are dominated by `label`.
    fn comparable_pairs(&self, label: &Level) -> Vec<usize> {
        let pair_sens = self.span.sensitivity;
        let inside: Vec<usize> = label
            .categories
            .iter()
            .filter_map(|c| self.span.offset(c))
            .collect();
        let mut pairs = Vec::new();
        // Pairs within the label's set are dominated by it.
        if label.sensitivity >= pair_sens {
            for (i, &a) in inside.iter().enumerate() {
                pairs.extend(inside[i + 1..].iter().map(|&b| self.index(a, b)));
            }
        }
        // Pairs holding all the label's categories dominate it.
        if label.sensitivity <= pair_sens && inside.len() == label.categories.len() {
            match *inside.as_slice() {
                [x] => pairs.extend(
                    (0..self.span.categories())
                        .filter(|&o| o != x)
                        .map(|o| self.index(x.min(o), x.max(o))),
                ),
                [a, b] if label.sensitivity < pair_sens => pairs.push(self.index(a, b)),
                _ => {}
            }
        }
        pairs
    }

    /// Pair index of offsets `a < b`.
    fn index(&self, a: usize, b: usize) -> usize {
        self.row_start[a] + (b - a - 1)
    }

    /// Pair index of a level that is exactly a pair of the span.
    fn pair_index(&self, label: &Level) -> Option<usize> {
        if label.sensitivity != self.span.sensitivity || label.categories.len() != 2 {
            return None;
        }
        let a = self.span.offset(label.categories.first()?)?;
        let b = self.span.offset(label.categories.last()?)?;
        Some(self.index(a, b))
    }

    fn level_of(&self, index: usize) -> Level {
        let a = self.row_start.partition_point(|&start| start <= index) - 1;
        let b = a + 1 + (index - self.row_start[a]);
        let cats = [self.span.category(a), self.span.category(b)];
        Level::new(self.span.sensitivity, cats.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn level(text: &str) -> Level {
        text.parse().unwrap()
    }

    fn span(text: &str) -> Result<McsSpan, McsError> {
        McsSpan::from_context_str(text)
    }

    #[test]
    fn span_from_daemon_context() {
        let s = span("system_u:system_r:virtd_t:s0-s0:c0.c1023").unwrap();
        assert_eq!(s, McsSpan::full());
        assert_eq!(s.pair_count(), 523_776);
        assert_eq!(
            span("system_u:system_r:virtd_t:s0").unwrap(),
            McsSpan::full()
        );
        assert_eq!(span("system_u:system_r:virtd_t").unwrap(), McsSpan::full());
        let s = span("u:r:t:s2-s3:c10.c20").unwrap();
        assert_eq!(s.to_string(), "s2:c10.c20");
        assert_eq!(s.pair_count(), 55);
        assert_eq!(span("u:r:t:s0:c0.c7").unwrap().pair_count(), 28);
    }

    #[test]
    fn span_errors_are_clear() {
        let cases = [
            ("u:r:t:s0:c5", "no category range available in 's0:c5'"),
            (
                "u:r:t:s0:c0.c3,c9",
                "cannot parse category in 's0:c0.c3,c9': categories must form one span cA.cB",
            ),
            (
                "u:r:t:s0:c0,c5",
                "cannot parse category in 's0:c0,c5': categories must form one span cA.cB",
            ),
            (
                "u:r:t:s0:c0.c6",
                "category range c0-c6 too small: at least 8 categories are needed",
            ),
            (
                "garbage",
                "cannot derive the MCS span from the daemon context",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(span(text).unwrap_err().to_string(), message, "{text}");
        }
    }

    #[test]
    fn allocates_distinct_ordered_pairs_until_exhausted() {
        let mut alloc = McsAllocator::new(span("u:r:t:s0:c100.c107").unwrap());
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..28 {
            let l = alloc.allocate(&mut rng).unwrap();
            let cats: Vec<u16> = l.categories.iter().map(|c| c.number()).collect();
            assert_eq!(cats.len(), 2);
            assert!(cats[0] < cats[1] && cats[0] >= 100 && cats[1] <= 107);
            assert!(seen.insert(l));
        }
        let err = alloc.allocate(&mut rng).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MCS label space exhausted: all 28 category pairs of s0:c100.c107 are in use \
             (28 allocated, 0 blocked by reserved labels)"
        );
        alloc.release(&level("s0:c100,c107")).unwrap();
        assert_eq!(alloc.allocate(&mut rng).unwrap(), level("s0:c100,c107"));
    }

    #[test]
    fn reservations_block_comparable_pairs() {
        let mut alloc = McsAllocator::new(span("u:r:t:s0:c0.c7").unwrap());
        // {c5} is dominated by the 7 pairs holding c5.
        alloc.reserve(&level("s0:c5")).unwrap();
        assert_eq!(alloc.free(), 21);
        // {c0,c1,c2} dominates 3 pairs.
        alloc.reserve(&level("s0:c0.c2")).unwrap();
        assert_eq!(alloc.free(), 18);
        let mut rng = StdRng::seed_from_u64(1);
        while let Ok(l) = alloc.allocate(&mut rng) {
            assert!(!l.comparable(&level("s0:c5")));
            assert!(!l.comparable(&level("s0:c0.c2")));
        }
        assert_eq!(alloc.allocated(), 18);
        alloc.release(&level("s0:c5")).unwrap();
        assert_eq!(alloc.free(), 7);
        // Nothing held contains c5 yet, so c5 alone could be reserved again; once a pair with c5
        // is held, it cannot.
        let with_c5 = alloc.allocate(&mut rng).unwrap();
        assert!(with_c5.categories.contains(Category::new(5).unwrap()));
        assert!(matches!(
            alloc.reserve(&level("s0:c5")),
            Err(McsError::Conflict { .. })
        ));
    }

    #[test]
    fn reservation_errors_name_the_labels() {
        let mut alloc = McsAllocator::new(McsSpan::full());
        alloc.reserve(&level("s0:c5,c9")).unwrap();
        let dup = alloc.reserve(&level("s0:c5,c9")).unwrap_err();
        assert_eq!(dup.to_string(), "MCS level s0:c5,c9 is already reserved");
        let sub = alloc.reserve(&level("s0:c5")).unwrap_err();
        assert_eq!(
            sub.to_string(),
            "MCS level s0:c5 conflicts with s0:c5,c9 in use: one dominates the other, so the \
             guests would not be isolated"
        );
        alloc.reserve(&level("s0:c1.c3")).unwrap();
        let dup = alloc.reserve(&level("s0:c1,c2,c3")).unwrap_err();
        assert_eq!(dup.to_string(), "MCS level s0:c1.c3 is already reserved");
        assert!(matches!(
            alloc.reserve(&level("s0:c2,c3")),
            Err(McsError::Conflict { .. })
        ));
        assert!(matches!(
            alloc.reserve(&level("s0")),
            Err(McsError::NotIsolated { .. })
        ));
        // A higher sensitivity with no categories is incomparable with every s0 pair.
        alloc.reserve(&level("s1")).unwrap();
        assert!(matches!(
            alloc.release(&level("s0:c7,c8")),
            Err(McsError::NotReserved { .. })
        ));
        assert!(alloc.is_live(&level("s0:c5,c9")));
        alloc.release(&level("s0:c5,c9")).unwrap();
        assert!(!alloc.is_live(&level("s0:c5,c9")));
        alloc.reserve(&level("s0:c5")).unwrap();
    }

    #[test]
    fn uniform_over_free_pairs() {
        // 28 pairs, one held: each of the 27 others should come up about equally often.
        let mut alloc = McsAllocator::new(span("u:r:t:s0:c0.c7").unwrap());
        alloc.reserve(&level("s0:c0,c1")).unwrap();
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..27_000 {
            let l = alloc.allocate(&mut rng).unwrap();
            *counts.entry(l).or_insert(0u32) += 1;
            alloc.release(&l).unwrap();
        }
        assert_eq!(counts.len(), 27);
        assert!(!counts.contains_key(&level("s0:c0,c1")));
        // Expected 1,000 each; 5 standard deviations is about ±160.
        assert!(
            counts.values().all(|&c| (840..=1160).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn full_span_fills_completely() {
        let mut alloc = McsAllocator::new(McsSpan::full());
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..523_776 {
            alloc.allocate(&mut rng).unwrap();
        }
        assert!(matches!(
            alloc.allocate(&mut rng),
            Err(McsError::Exhausted { .. })
        ));
        assert!(alloc.is_live(&level("s0:c0,c1")));
        assert!(alloc.is_live(&level("s0:c1022,c1023")));
    }
}
