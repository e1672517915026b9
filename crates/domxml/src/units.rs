//! Memory sizes with libvirt's units.
//!
//! A size is a decimal integer scaled by the `unit` attribute (default KiB). Units are matched
//! without regard to case: `b`/`bytes`; `k`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`, `P`/`PiB`,
//! `E`/`EiB` (powers of 1024); `KB`, `MB`, `GB`, `TB`, `PB`, `EB` (powers of 1000). The result is
//! held in KiB, rounded up, and may not exceed `i64::MAX` bytes.

use crate::model::MemorySize;

/// Why a memory size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The unit is not one libvirt knows.
    #[error("unknown memory unit '{0}'")]
    UnknownUnit(String),
    /// The value is not a non-negative decimal integer.
    #[error("invalid memory size '{0}'")]
    InvalidNumber(String),
    /// The scaled value is larger than `i64::MAX` bytes.
    #[error("memory size '{value}' {unit} is too large")]
    TooLarge {
        /// The value as written.
        value: String,
        /// The unit as written.
        unit: String,
    },
}

/// Bytes per unit, or `None` for an unknown unit.
pub fn unit_scale(unit: &str) -> Option<u64> {
    let lower = unit.to_ascii_lowercase();
    if lower == "b" || lower == "bytes" {
        return Some(1);
    }
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: u64 = match chars.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// Parses `value` in `unit` (KiB when absent) into a size in KiB.
pub fn parse_memory(value: &str, unit: Option<&str>) -> Result<MemorySize, UnitError> {
    let trimmed = value.trim();
    let scale = match unit {
        None => 1024,
        Some(unit) => unit_scale(unit).ok_or_else(|| UnitError::UnknownUnit(unit.to_owned()))?,
    };
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UnitError::InvalidNumber(value.to_owned()));
    }
    let too_large = || UnitError::TooLarge {
        value: value.to_owned(),
        unit: unit.unwrap_or("KiB").to_owned(),
    };
    let number: u64 = trimmed.parse().map_err(|_| too_large())?;
    let bytes = number.checked_mul(scale).ok_or_else(too_large)?;
    if bytes > i64::MAX.unsigned_abs() {
        return Err(too_large());
    }
    Ok(MemorySize::from_kib(bytes.div_ceil(1024)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_libvirt_unit_scales() {
        let cases = [
            ("b", 1u64),
            ("bytes", 1),
            ("k", 1024),
            ("KiB", 1024),
            ("KB", 1000),
            ("M", 1 << 20),
            ("MiB", 1 << 20),
            ("MB", 1_000_000),
            ("G", 1 << 30),
            ("GiB", 1 << 30),
            ("GB", 1_000_000_000),
            ("T", 1 << 40),
            ("TiB", 1 << 40),
            ("TB", 1_000_000_000_000),
            ("PiB", 1 << 50),
            ("EiB", 1 << 60),
        ];
        for (unit, scale) in cases {
            assert_eq!(unit_scale(unit), Some(scale), "{unit}");
        }
    }

    #[test]
    fn sizes_round_up_to_kib() {
        assert_eq!(parse_memory("1", Some("b")).unwrap().kib, 1);
        assert_eq!(parse_memory("2048", Some("bytes")).unwrap().kib, 2);
        assert_eq!(parse_memory("4", Some("GiB")).unwrap().kib, 4 << 20);
        assert_eq!(parse_memory("1", Some("MB")).unwrap().kib, 977);
        assert_eq!(parse_memory("524288", None).unwrap().kib, 524_288);
        assert_eq!(parse_memory(" 8 ", Some("g")).unwrap().kib, 8 << 20);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert_eq!(
            parse_memory("1", Some("QB")).unwrap_err().to_string(),
            "unknown memory unit 'QB'"
        );
        assert!(matches!(
            parse_memory("-1", None),
            Err(UnitError::InvalidNumber(_))
        ));
        assert!(matches!(
            parse_memory("1.5", None),
            Err(UnitError::InvalidNumber(_))
        ));
        assert!(matches!(
            parse_memory("", None),
            Err(UnitError::InvalidNumber(_))
        ));
        assert!(matches!(
            parse_memory("16", Some("EiB")),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_memory("99999999999999999999999", None),
            Err(UnitError::TooLarge { .. })
        ));
    }
}
