//! UUIDs as libvirt reads them: 32 hex digits, with or without the usual dashes.

use crate::model::Uuid;

/// Why a UUID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UUID '{0}'")]
pub struct UuidError(pub String);

/// Parses a UUID in the dashed (`8-4-4-4-12`) or the undashed 32-digit form; surrounding
/// whitespace is ignored.
pub fn parse_uuid(text: &str) -> Result<Uuid, UuidError> {
    let trimmed = text.trim();
    let dashed = trimmed.len() == 36
        && trimmed
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    let undashed = trimmed.len() == 32;
    if !(dashed || undashed) {
        return Err(UuidError(text.to_owned()));
    }
    let mut bytes = [0u8; 16];
    let mut digits = trimmed.chars().filter(|c| *c != '-');
    for byte in &mut bytes {
        let (Some(high), Some(low)) = (digits.next(), digits.next()) else {
            return Err(UuidError(text.to_owned()));
        };
        let (Some(high), Some(low)) = (high.to_digit(16), low.to_digit(16)) else {
            return Err(UuidError(text.to_owned()));
        };
        *byte = u8::try_from(high * 16 + low).map_err(|_| UuidError(text.to_owned()))?;
    }
    Ok(Uuid::from_bytes(bytes))
}

/// A new random (version 4) UUID, for definitions that come without one.
pub fn generate_uuid() -> Uuid {
    Uuid::new_v4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_and_undashed_forms_are_the_same_uuid() {
        let dashed = parse_uuid("c7a5fdbd-edaf-9455-926a-d65c16db1809").unwrap();
        let undashed = parse_uuid("c7a5fdbdedaf9455926ad65c16db1809").unwrap();
        let upper = parse_uuid(" C7A5FDBD-EDAF-9455-926A-D65C16DB1809\n").unwrap();
        assert_eq!(dashed, undashed);
        assert_eq!(dashed, upper);
        assert_eq!(dashed.to_string(), "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    }

    #[test]
    fn malformed_uuids_are_refused() {
        for bad in [
            "xyz",
            "",
            "c7a5fdbd-edaf-9455-926a-d65c16db180",
            "c7a5fdbdedaf9455926ad65c16db180g",
            "c7a5fdbd-edaf-9455-926ad-65c16db1809",
            "+7a5fdbdedaf9455926ad65c16db1809",
            "c7a5fdbdédaf9455926ad65c16db180",
        ] {
            assert_eq!(parse_uuid(bad), Err(UuidError(bad.to_owned())), "{bad}");
        }
        assert_eq!(
            parse_uuid("xyz").unwrap_err().to_string(),
            "invalid UUID 'xyz'"
        );
    }
}
