//! MCS/MLS category sets.
//!
//! A category set is written as a comma list whose items are single categories (`c9`) or spans
//! (`c0.c3`, low below high). Parsing accepts any order and overlaps; formatting is canonical, the
//! way the kernel prints a context: ascending, runs of three or more collapsed to `cA.cB`, runs of
//! two written `cA,cB`.
//!
//! The set is a fixed 1024-bit map (categories `c0` to `c1023`, the range every MCS and MLS policy
//! shipped by Red Hat and Debian defines), so it is `Copy`, hashes cheaply and every set operation
//! is a handful of word operations.

use std::fmt;
use std::str::FromStr;

/// Number of categories a set can hold (`c0` to `c1023`).
pub const CATEGORY_COUNT: u16 = 1024;

const WORDS: usize = CATEGORY_COUNT as usize / 64;

/// Why a category set could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CategoryError {
    /// The set text was empty, or one of its comma items was.
    #[error("empty category in '{set}'")]
    Empty {
        /// The whole set text.
        set: String,
    },
    /// An item does not have the form `cN`.
    #[error("category '{item}' is not of the form cN")]
    Malformed {
        /// The offending item.
        item: String,
    },
    /// The number is above `c1023`.
    #[error("category '{item}' is above c{max}", max = CATEGORY_COUNT - 1)]
    OutOfRange {
        /// The offending item.
        item: String,
    },
    /// A span whose high end is not above its low end (`c5.c5`, `c5.c3`).
    #[error("category span '{item}' does not go upward")]
    SpanNotAscending {
        /// The offending span.
        item: String,
    },
}

/// One category, `c0` to `c1023`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category(u16);

impl Category {
    /// The category with this number, if it is at most 1023.
    pub fn new(number: u16) -> Option<Self> {
        (number < CATEGORY_COUNT).then_some(Self(number))
    }

    /// The category's number.
    pub fn number(self) -> u16 {
        self.0
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl FromStr for Category {
    type Err = CategoryError;

    fn from_str(item: &str) -> Result<Self, CategoryError> {
        let malformed = || CategoryError::Malformed {
            item: item.to_owned(),
        };
        let digits = item.strip_prefix('c').ok_or_else(malformed)?;
        // `u16::from_str` would accept a leading '+'; SELinux names are plain digits.
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        // Leading zeros would name a category the policy does not define (`c05`).
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(malformed());
        }
        let number: u32 = digits.parse().map_err(|_| malformed())?;
        u16::try_from(number)
            .ok()
            .and_then(Category::new)
            .ok_or_else(|| CategoryError::OutOfRange {
                item: item.to_owned(),
            })
    }
}

/// A set of categories.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet {
    bits: [u64; WORDS],
}

impl CategorySet {
    /// The empty set.
    pub const fn new() -> Self {
        Self { bits: [0; WORDS] }
    }

    /// The set holding `low` to `high` inclusive (empty when `high < low`).
    pub fn span(low: Category, high: Category) -> Self {
        let mut set = Self::new();
        for n in low.0..=high.0 {
            set.insert(Category(n));
        }
        set
    }

    /// Adds a category; returns whether it was absent.
    pub fn insert(&mut self, cat: Category) -> bool {
        let (word, bit) = (cat.index() / 64, cat.index() % 64);
        let absent = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        absent
    }

    /// Removes a category; returns whether it was present.
    pub fn remove(&mut self, cat: Category) -> bool {
        let present = self.contains(cat);
        self.bits[cat.index() / 64] &= !(1 << (cat.index() % 64));
        present
    }

    /// Whether the category is in the set.
    pub fn contains(&self, cat: Category) -> bool {
        self.bits[cat.index() / 64] & (1 << (cat.index() % 64)) != 0
    }

    /// Number of categories in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set has no category.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// Whether every category of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.bits.iter().zip(&other.bits).all(|(a, b)| a & !b == 0)
    }

    /// Whether every category of `other` is in `self`.
    pub fn is_superset(&self, other: &Self) -> bool {
        other.is_subset(self)
    }

    /// Whether the two sets share a category.
    pub fn intersects(&self, other: &Self) -> bool {
        self.bits.iter().zip(&other.bits).any(|(a, b)| a & b != 0)
    }

    /// The categories in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.bits.iter_mut().zip(&other.bits) {
            *a &= b;
        }
        out
    }

    /// The categories in either set.
    pub fn union(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
        out
    }

    /// The categories in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = Category> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let base = w * 64;
            BitIter(word).map(move |bit| Category(to_u16(base + bit)))
        })
    }

    /// The lowest category, if any.
    pub fn first(&self) -> Option<Category> {
        self.iter().next()
    }

    /// The highest category, if any.
    pub fn last(&self) -> Option<Category> {
        let (w, word) = self
            .bits
            .iter()
            .enumerate()
            .rev()
            .find(|(_, &word)| word != 0)?;
        Some(Category(to_u16(
            w * 64 + 63 - word.leading_zeros() as usize,
        )))
    }

    /// The set as its maximal runs of consecutive categories, ascending.
    pub fn runs(&self) -> Vec<(Category, Category)> {
        let mut runs: Vec<(Category, Category)> = Vec::new();
        for cat in self.iter() {
            match runs.last_mut() {
                Some((_, high)) if high.0 + 1 == cat.0 => *high = cat,
                _ => runs.push((cat, cat)),
            }
        }
        runs
    }

    /// When the set is one run of consecutive categories, its ends.
    pub fn as_span(&self) -> Option<(Category, Category)> {
        match self.runs().as_slice() {
            [run] => Some(*run),
            _ => None,
        }
    }
}

/// Bits of a word, lowest first.
struct BitIter(u64);

impl Iterator for BitIter {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

fn to_u16(index: usize) -> u16 {
    u16::try_from(index).expect("category indexes stay below 1024")
}

impl FromIterator<Category> for CategorySet {
    fn from_iter<I: IntoIterator<Item = Category>>(iter: I) -> Self {
        let mut set = Self::new();
        for cat in iter {
            set.insert(cat);
        }
        set
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CategorySet({self})")
    }
}

/// Canonical form, as the kernel prints it; the empty set prints nothing.
impl fmt::Display for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (low, high)) in self.runs().into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match high.0 - low.0 {
                0 => write!(f, "{low}")?,
                1 => write!(f, "{low},{high}")?,
                _ => write!(f, "{low}.{high}")?,
            }
        }
        Ok(())
    }
}

impl FromStr for CategorySet {
    type Err = CategoryError;

    fn from_str(text: &str) -> Result<Self, CategoryError> {
        let mut set = Self::new();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(CategoryError::Empty {
                    set: text.to_owned(),
                });
            }
            match item.split_once('.') {
                None => {
                    set.insert(item.parse()?);
                }
                Some((low, high)) => {
                    let low: Category = low.parse()?;
                    let high: Category = high.parse()?;
                    if high <= low {
                        return Err(CategoryError::SpanNotAscending {
                            item: item.to_owned(),
                        });
                    }
                    set = set.union(&Self::span(low, high));
                }
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> CategorySet {
        text.parse().unwrap()
    }

    #[test]
    fn canonical_format_sorts_and_collapses_runs_of_three_or_more() {
        assert_eq!(set("c9,c0.c3").to_string(), "c0.c3,c9");
        assert_eq!(set("c1,c0").to_string(), "c0,c1");
        assert_eq!(set("c0,c1,c2").to_string(), "c0.c2");
        assert_eq!(set("c0.c5,c3,c6").to_string(), "c0.c6");
        assert_eq!(set("c5,c5").to_string(), "c5");
        assert_eq!(set("c0.c1023").to_string(), "c0.c1023");
        assert_eq!(set("c1,c3,c4,c6.c8").to_string(), "c1,c3,c4,c6.c8");
    }

    #[test]
    fn malformed_items_are_named() {
        let cases = [
            ("", "empty category in ''"),
            ("c1,,c2", "empty category in 'c1,,c2'"),
            ("c1,", "empty category in 'c1,'"),
            ("x1", "category 'x1' is not of the form cN"),
            ("c", "category 'c' is not of the form cN"),
            ("c+1", "category 'c+1' is not of the form cN"),
            ("c01", "category 'c01' is not of the form cN"),
            ("c1.c2.c3", "category 'c2.c3' is not of the form cN"),
            ("c1024", "category 'c1024' is above c1023"),
            ("c99999", "category 'c99999' is above c1023"),
            ("c5.c5", "category span 'c5.c5' does not go upward"),
            ("c5.c3", "category span 'c5.c3' does not go upward"),
        ];
        for (text, message) in cases {
            let err = text.parse::<CategorySet>().unwrap_err();
            assert_eq!(err.to_string(), message, "input {text:?}");
        }
    }

    #[test]
    fn set_relations() {
        let pair = set("c5,c9");
        assert!(set("c5").is_subset(&pair));
        assert!(pair.is_superset(&set("c9")));
        assert!(!pair.is_subset(&set("c5")));
        assert!(CategorySet::new().is_subset(&pair));
        assert!(pair.intersects(&set("c9.c20")));
        assert!(!pair.intersects(&set("c6.c8")));
        assert_eq!(set("c0.c1023").len(), 1024);
        assert_eq!(set("c3.c7").first().unwrap().number(), 3);
        assert_eq!(set("c3.c7,c1000").last().unwrap().number(), 1000);
        assert_eq!(set("c63,c64,c65").as_span().unwrap().1.number(), 65);
        assert!(set("c1,c3").as_span().is_none());
        assert!(CategorySet::new().last().is_none());
    }
}
