//! MLS/MCS sensitivities, levels and ranges, and the dominance relations between them.
//!
//! Forms:
//! - sensitivity `sN`;
//! - level `sN[:cats]`, the categories as in [`crate::category`];
//! - range `low[-high]`, where `high` must dominate `low`. A range whose two levels are equal is
//!   printed as one level, as the kernel does (`s0-s0` prints `s0`).
//!
//! Level `a` dominates `b` (`a dom b`) when `a`'s sensitivity is at least `b`'s and `a`'s
//! categories include all of `b`'s. Two levels are incomparable when neither dominates the other.
//! A range contains a level lying between its low and high, and another range when it spans at
//! least as far on both ends; comparisons between ranges use containment in the same four terms.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::category::{CategoryError, CategorySet};

/// Highest sensitivity number accepted (`s1023`); policies use far fewer (MCS: only `s0`).
pub const SENSITIVITY_MAX: u16 = 1023;

/// Why a sensitivity, level or range could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MlsError {
    /// The sensitivity part is not `sN` with N at most [`SENSITIVITY_MAX`].
    #[error("sensitivity '{item}' is not of the form sN (s0 to s{SENSITIVITY_MAX})")]
    Sensitivity {
        /// The offending text.
        item: String,
    },
    /// The category part of a level is malformed.
    #[error(transparent)]
    Categories(#[from] CategoryError),
    /// A range's high level does not dominate its low level.
    #[error("range '{range}': high level does not dominate low level")]
    HighBelowLow {
        /// The whole range text.
        range: String,
    },
    /// A range with more than one `-`.
    #[error("range '{range}' has more than two levels")]
    TooManyLevels {
        /// The whole range text.
        range: String,
    },
}

/// How two levels (or two ranges) relate under dominance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Equal (`eq`).
    Equal,
    /// The first strictly dominates the second (`dom` and not `eq`).
    Dominates,
    /// The first is strictly dominated by the second (`domby` and not `eq`).
    DominatedBy,
    /// Neither dominates the other (`incomp`).
    Incomparable,
}

/// A sensitivity, `s0` to `s1023`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sensitivity(u16);

impl Sensitivity {
    /// `s0`, the only sensitivity of the MCS policy.
    pub const S0: Self = Self(0);

    /// The sensitivity with this number, if at most [`SENSITIVITY_MAX`].
    pub fn new(number: u16) -> Option<Self> {
        (number <= SENSITIVITY_MAX).then_some(Self(number))
    }

    /// The sensitivity's number.
    pub fn number(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl FromStr for Sensitivity {
    type Err = MlsError;

    fn from_str(item: &str) -> Result<Self, MlsError> {
        let bad = || MlsError::Sensitivity {
            item: item.to_owned(),
        };
        let digits = item.strip_prefix('s').ok_or_else(bad)?;
        if digits.is_empty()
            || digits.len() > 4
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return Err(bad());
        }
        digits
            .parse::<u16>()
            .ok()
            .and_then(Sensitivity::new)
            .ok_or_else(bad)
    }
}

/// A security level: a sensitivity and a category set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Level {
    /// The sensitivity.
    pub sensitivity: Sensitivity,
    /// The categories; empty for a bare `sN`.
    pub categories: CategorySet,
}

impl Level {
    /// A level from its parts.
    pub fn new(sensitivity: Sensitivity, categories: CategorySet) -> Self {
        Self {
            sensitivity,
            categories,
        }
    }

    /// `self dom other`: at least as sensitive and holding every category of `other`.
    pub fn dom(&self, other: &Level) -> bool {
        self.sensitivity >= other.sensitivity && self.categories.is_superset(&other.categories)
    }

    /// `self domby other`: `other` dominates `self`.
    pub fn domby(&self, other: &Level) -> bool {
        other.dom(self)
    }

    /// `self incomp other`: neither dominates the other.
    pub fn incomp(&self, other: &Level) -> bool {
        !self.dom(other) && !other.dom(self)
    }

    /// Whether either level dominates the other (they are not isolated from each other).
    pub fn comparable(&self, other: &Level) -> bool {
        !self.incomp(other)
    }

    /// The relation of `self` to `other`.
    pub fn compare(&self, other: &Level) -> Relation {
        relation(self.dom(other), other.dom(self))
    }
}

fn relation(dom: bool, domby: bool) -> Relation {
    match (dom, domby) {
        (true, true) => Relation::Equal,
        (true, false) => Relation::Dominates,
        (false, true) => Relation::DominatedBy,
        (false, false) => Relation::Incomparable,
    }
}

/// Levels ordered by dominance; `None` when incomparable.
impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.compare(other) {
            Relation::Equal => Some(Ordering::Equal),
            Relation::Dominates => Some(Ordering::Greater),
            Relation::DominatedBy => Some(Ordering::Less),
            Relation::Incomparable => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sensitivity)?;
        if !self.categories.is_empty() {
            write!(f, ":{}", self.categories)?;
        }
        Ok(())
    }
}

impl FromStr for Level {
    type Err = MlsError;

    fn from_str(text: &str) -> Result<Self, MlsError> {
        let (sens, cats) = match text.split_once(':') {
            Some((sens, cats)) => (sens, Some(cats)),
            None => (text, None),
        };
        Ok(Self {
            sensitivity: sens.parse()?,
            categories: match cats {
                Some(cats) => cats.parse()?,
                None => CategorySet::new(),
            },
        })
    }
}

/// An MLS range `low-high`; `high` dominates `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Range {
    low: Level,
    high: Level,
}

impl Range {
    /// The range from `low` to `high`, if `high` dominates `low`.
    pub fn new(low: Level, high: Level) -> Option<Self> {
        high.dom(&low).then_some(Self { low, high })
    }

    /// The range holding exactly one level.
    pub fn single(level: Level) -> Self {
        Self {
            low: level,
            high: level,
        }
    }

    /// The low (current) level.
    pub fn low(&self) -> &Level {
        &self.low
    }

    /// The high level (clearance).
    pub fn high(&self) -> &Level {
        &self.high
    }

    /// Whether `low domby level domby high`.
    pub fn contains_level(&self, level: &Level) -> bool {
        level.dom(&self.low) && self.high.dom(level)
    }

    /// Whether `other` lies within `self` (SELinux `mls_range_contains`).
    pub fn contains(&self, other: &Range) -> bool {
        other.low.dom(&self.low) && self.high.dom(&other.high)
    }

    /// `self dom other`, for ranges: `self` contains `other`.
    pub fn dom(&self, other: &Range) -> bool {
        self.contains(other)
    }

    /// `self domby other`, for ranges: `other` contains `self`.
    pub fn domby(&self, other: &Range) -> bool {
        other.contains(self)
    }

    /// `self incomp other`, for ranges: neither contains the other.
    pub fn incomp(&self, other: &Range) -> bool {
        !self.contains(other) && !other.contains(self)
    }

    /// The relation of `self` to `other` by containment.
    pub fn compare(&self, other: &Range) -> Relation {
        relation(self.contains(other), other.contains(self))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

impl FromStr for Range {
    type Err = MlsError;

    fn from_str(text: &str) -> Result<Self, MlsError> {
        let mut parts = text.split('-');
        let low: Level = parts.next().unwrap_or_default().parse()?;
        let high: Level = match parts.next() {
            Some(high) => high.parse()?,
            None => low,
        };
        if parts.next().is_some() {
            return Err(MlsError::TooManyLevels {
                range: text.to_owned(),
            });
        }
        Range::new(low, high).ok_or_else(|| MlsError::HighBelowLow {
            range: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(text: &str) -> Level {
        text.parse().unwrap()
    }

    fn range(text: &str) -> Range {
        text.parse().unwrap()
    }

    #[test]
    fn level_dominance() {
        assert!(level("s0:c1,c2").dom(&level("s0:c1")));
        assert!(level("s0:c1").domby(&level("s0:c1,c2")));
        assert!(level("s1").dom(&level("s0")));
        assert!(level("s0:c5,c9").incomp(&level("s0:c5,c10")));
        assert!(level("s1:c1").incomp(&level("s0:c1,c2")));
        assert_eq!(
            level("s0:c0.c2").compare(&level("s0:c0,c1,c2")),
            Relation::Equal
        );
        assert_eq!(level("s2:c3").compare(&level("s1")), Relation::Dominates);
        assert_eq!(level("s0").compare(&level("s0:c3")), Relation::DominatedBy);
        assert_eq!(level("s0:c3").partial_cmp(&level("s0:c4")), None);
        assert!(level("s0:c3") < level("s0:c3,c4"));
    }

    #[test]
    fn range_format_collapses_equal_levels() {
        assert_eq!(range("s0-s0").to_string(), "s0");
        assert_eq!(range("s0-s0:c0.c1023").to_string(), "s0-s0:c0.c1023");
        assert_eq!(range("s0:c2,c1").to_string(), "s0:c1,c2");
        assert_eq!(range("s1:c3-s3:c0.c7").high().sensitivity.number(), 3);
    }

    #[test]
    fn range_containment() {
        let daemon = range("s0-s0:c0.c1023");
        assert!(daemon.contains_level(&level("s0:c87,c520")));
        assert!(daemon.contains_level(&level("s0")));
        assert!(!daemon.contains_level(&level("s1")));
        assert!(daemon.contains(&range("s0:c1,c2")));
        assert!(range("s0:c1,c2").domby(&daemon));
        assert!(range("s0:c1").incomp(&range("s0:c2")));
        assert_eq!(
            range("s0:c1-s0:c0.c5").compare(&range("s0:c2")),
            Relation::Incomparable
        );
        assert_eq!(
            range("s0-s0:c0.c5").compare(&range("s0:c1")),
            Relation::Dominates
        );
        assert_eq!(daemon.compare(&range("s0-s0:c0.c5")), Relation::Dominates);
    }

    #[test]
    fn bad_levels_and_ranges_are_named() {
        let cases = [
            ("", "sensitivity '' is not of the form sN (s0 to s1023)"),
            ("t0", "sensitivity 't0' is not of the form sN (s0 to s1023)"),
            (
                "s01",
                "sensitivity 's01' is not of the form sN (s0 to s1023)",
            ),
            (
                "s1024",
                "sensitivity 's1024' is not of the form sN (s0 to s1023)",
            ),
            ("s0:", "empty category in ''"),
            ("s0:c1:c2", "category 'c1:c2' is not of the form cN"),
            ("s0-", "sensitivity '' is not of the form sN (s0 to s1023)"),
            ("s0-s1-s2", "range 's0-s1-s2' has more than two levels"),
            (
                "s1-s0",
                "range 's1-s0': high level does not dominate low level",
            ),
            (
                "s0:c1-s0:c2",
                "range 's0:c1-s0:c2': high level does not dominate low level",
            ),
        ];
        for (text, message) in cases {
            let err = text.parse::<Range>().unwrap_err();
            assert_eq!(err.to_string(), message, "input {text:?}");
        }
    }
}
