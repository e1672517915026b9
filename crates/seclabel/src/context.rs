//! SELinux security contexts: `user:role:type[:range]`.
//!
//! The first three fields are identifiers; everything after the third `:` is an MLS range (which
//! itself contains `:`). Hosts without MLS/MCS use three-field contexts.

use std::fmt;
use std::str::FromStr;

use crate::mls::{MlsError, Range};

/// Longest context accepted, in bytes: the kernel takes at most one page through
/// `/proc/*/attr/exec`.
pub const CONTEXT_MAX_LEN: usize = 4096;

/// Longest user, role or type name accepted, in bytes.
pub const IDENTIFIER_MAX_LEN: usize = 255;

/// Which field of a context an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextField {
    /// The SELinux user.
    User,
    /// The role.
    Role,
    /// The type (domain, for processes).
    Type,
}

impl fmt::Display for ContextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::Role => "role",
            Self::Type => "type",
        })
    }
}

/// Why a context could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// Longer than [`CONTEXT_MAX_LEN`].
    #[error("security context of {len} bytes is longer than {CONTEXT_MAX_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A field is missing (`system_u:system_r`).
    #[error("security context '{context}' has no {field}")]
    MissingField {
        /// The whole context text.
        context: String,
        /// The first missing field.
        field: ContextField,
    },
    /// A user, role or type that is not a valid identifier.
    #[error("{field} '{value}' is not a valid SELinux identifier")]
    Identifier {
        /// Which field.
        field: ContextField,
        /// The offending text.
        value: String,
    },
    /// The range part is malformed.
    #[error("invalid MLS range '{range}'")]
    Range {
        /// The range text.
        range: String,
        /// What is wrong with it.
        #[source]
        source: MlsError,
    },
}

/// A user, role or type name: ASCII letters, digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identifier(String);

impl Identifier {
    /// Checks `value` as a name for `field`.
    pub fn new(field: ContextField, value: &str) -> Result<Self, ContextError> {
        let valid = !value.is_empty()
            && value.len() <= IDENTIFIER_MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(ContextError::Identifier {
                field,
                value: value.to_owned(),
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A security context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Context {
    user: Identifier,
    role: Identifier,
    type_: Identifier,
    range: Option<Range>,
}

impl Context {
    /// A context from its parts.
    pub fn new(
        user: Identifier,
        role: Identifier,
        type_: Identifier,
        range: Option<Range>,
    ) -> Self {
        Self {
            user,
            role,
            type_,
            range,
        }
    }

    /// The SELinux user (`system_u`).
    pub fn user(&self) -> &Identifier {
        &self.user
    }

    /// The role (`system_r`, `object_r`).
    pub fn role(&self) -> &Identifier {
        &self.role
    }

    /// The type (`svirt_t`, `svirt_image_t`).
    pub fn type_(&self) -> &Identifier {
        &self.type_
    }

    /// The MLS range, absent on hosts without MLS/MCS.
    pub fn range(&self) -> Option<&Range> {
        self.range.as_ref()
    }

    /// The same context with another range.
    pub fn with_range(&self, range: Range) -> Self {
        Self {
            range: Some(range),
            ..self.clone()
        }
    }

    /// The same context with another user.
    pub fn with_user(&self, user: Identifier) -> Self {
        Self {
            user,
            ..self.clone()
        }
    }

    /// The same context with another role.
    pub fn with_role(&self, role: Identifier) -> Self {
        Self {
            role,
            ..self.clone()
        }
    }

    /// The type field of a context string, checking nothing after it. libvirt keeps only the type
    /// of a `<baselabel>`, so `system_u:system_r:svirt_t:garbage` is acceptable there.
    pub fn type_of(text: &str) -> Result<Identifier, ContextError> {
        if text.len() > CONTEXT_MAX_LEN {
            return Err(ContextError::TooLong { len: text.len() });
        }
        let mut fields = text.splitn(4, ':');
        let mut next = |field| {
            fields.next().ok_or_else(|| ContextError::MissingField {
                context: text.to_owned(),
                field,
            })
        };
        next(ContextField::User)?;
        next(ContextField::Role)?;
        Identifier::new(ContextField::Type, next(ContextField::Type)?)
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.user, self.role, self.type_)?;
        if let Some(range) = &self.range {
            write!(f, ":{range}")?;
        }
        Ok(())
    }
}

impl FromStr for Context {
    type Err = ContextError;

    fn from_str(text: &str) -> Result<Self, ContextError> {
        if text.len() > CONTEXT_MAX_LEN {
            return Err(ContextError::TooLong { len: text.len() });
        }
        let mut fields = text.splitn(4, ':');
        let mut next = |field| {
            let value = fields.next().ok_or_else(|| ContextError::MissingField {
                context: text.to_owned(),
                field,
            })?;
            Identifier::new(field, value)
        };
        let user = next(ContextField::User)?;
        let role = next(ContextField::Role)?;
        let type_ = next(ContextField::Type)?;
        let range = fields
            .next()
            .map(|range| {
                range.parse().map_err(|source| ContextError::Range {
                    range: range.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Ok(Self {
            user,
            role,
            type_,
            range,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn parses_and_formats_libvirt_contexts() {
        for text in [
            "system_u:system_r:svirt_t:s0:c87,c520",
            "system_u:system_r:virtd_t:s0-s0:c0.c1023",
            "unconfined_u:unconfined_r:unconfined_t:s0",
            "system_u:object_r:svirt_image_t:s0:c87,c520",
            "user_u:user_r:user_t",
        ] {
            let ctx: Context = text.parse().unwrap();
            assert_eq!(ctx.to_string(), text);
        }
        let ctx: Context = "system_u:system_r:virtd_t:s0-s0".parse().unwrap();
        assert_eq!(ctx.to_string(), "system_u:system_r:virtd_t:s0");
        assert_eq!(ctx.type_().as_str(), "virtd_t");
    }

    #[test]
    fn bad_contexts_name_the_offending_part() {
        let cases = [
            ("", "user '' is not a valid SELinux identifier"),
            ("system_u", "security context 'system_u' has no role"),
            (
                "system_u:system_r",
                "security context 'system_u:system_r' has no type",
            ),
            (
                "system_u:system_r:",
                "type '' is not a valid SELinux identifier",
            ),
            (
                "sys tem_u:r:t",
                "user 'sys tem_u' is not a valid SELinux identifier",
            ),
            ("u:r√:t", "role 'r√' is not a valid SELinux identifier"),
            ("u:r:t:", "invalid MLS range ''"),
            ("u:r:t:s0:c1.c0", "invalid MLS range 's0:c1.c0'"),
            ("xxxxxx", "security context 'xxxxxx' has no role"),
        ];
        for (text, message) in cases {
            let err = text.parse::<Context>().unwrap_err();
            assert_eq!(err.to_string(), message, "input {text:?}");
        }
        let err = "u:r:t:s0:c1.c0".parse::<Context>().unwrap_err();
        assert_eq!(
            err.source().unwrap().to_string(),
            "category span 'c1.c0' does not go upward"
        );
        let long = format!("u:r:t:s0:{}", vec!["c1"; 3000].join(","));
        assert!(matches!(
            long.parse::<Context>(),
            Err(ContextError::TooLong { .. })
        ));
    }

    #[test]
    fn type_of_ignores_a_bad_range() {
        let t = Context::type_of("system_u:system_r:svirt_t:xxxxxx").unwrap();
        assert_eq!(t.as_str(), "svirt_t");
        Context::type_of("xxxxxx").unwrap_err();
        Context::type_of("a:b:bad type").unwrap_err();
    }
}
