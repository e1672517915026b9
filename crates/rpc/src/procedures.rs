//! The REMOTE program's procedure table, declared once.
//!
//! `generated/gen_procedures.py` writes `generated/procedures.rs` from two
//! inputs kept beside it: libvirt 9.0's full list (`remote-procedures-9.0.tsv`:
//! number, name, ACL annotation) and the payload types of the procedures Moat
//! implements (`procedure-types.tsv`). That one table expands, through
//! `procedure_table!` below, into:
//!
//! - [`RemoteProcedure`]: all 443 procedures (numbers 1..=443, no gaps), with
//!   [`number`](RemoteProcedure::number), [`name`](RemoteProcedure::name) and
//!   the ACL annotation text [`acl`](RemoteProcedure::acl) as libvirt writes
//!   it (`domain:read,domain:read_secure:VIR_DOMAIN_XML_SECURE`; `none` for
//!   procedures without a check);
//! - one marker type per implemented procedure (e.g. [`DomainLookupByName`])
//!   implementing [`Procedure`], which ties the number to its args and ret
//!   payloads for typed calls and replies.

use std::fmt;

use crate::payloads::*;
use crate::xdr::{XdrDecode, XdrEncode};

/// A REMOTE procedure with known payload types.
pub trait Procedure {
    /// The procedure.
    const PROCEDURE: RemoteProcedure;
    /// The `*_args` payload of its CALL (or the payload of its event MESSAGE).
    type Args: XdrEncode + XdrDecode;
    /// The `*_ret` payload of its REPLY.
    type Ret: XdrEncode + XdrDecode;
}

macro_rules! procedure_table {
    (
        all { $( $num:literal $variant:ident $wire:literal $acl:literal $other:literal; )* }
        typed { $( $typed:ident ( $args:ty => $ret:ty ); )* }
    ) => {
        /// A procedure of the REMOTE program (`remote_procedure` in
        /// `remote_protocol.x`, libvirt 9.0).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum RemoteProcedure {
            $(
                #[doc = concat!("`", $wire, "` = ", stringify!($num), " (ACL `", $acl, "`).")]
                $variant = $num,
            )*
        }

        impl RemoteProcedure {
            /// Every procedure, in number order.
            pub const ALL: &'static [RemoteProcedure] = &[$(Self::$variant),*];

            /// The procedures with payload types (a [`Procedure`] marker).
            pub const TYPED: &'static [RemoteProcedure] = &[$(Self::$typed),*];

            /// The procedure with wire number `number`.
            pub fn from_number(number: i32) -> Option<Self> {
                match number {
                    $( $num => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// The wire number.
            pub fn number(self) -> i32 {
                self as i32
            }

            /// libvirt's name, e.g. `REMOTE_PROC_CONNECT_OPEN`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $wire, )*
                }
            }

            /// The ACL annotation from `remote_protocol.x`, verbatim:
            /// comma-separated `object:permission[:FLAG]` checks, or `none`.
            pub fn acl(self) -> &'static str {
                match self {
                    $( Self::$variant => $acl, )*
                }
            }

            /// The other `remote_protocol.x` annotations, verbatim and
            /// comma-separated; notably `aclfilter=object:permission` on
            /// procedures whose results are filtered per object. Often empty.
            pub fn annotations(self) -> &'static str {
                match self {
                    $( Self::$variant => $other, )*
                }
            }
        }

        $(
            #[doc = concat!("Marker for [`RemoteProcedure::", stringify!($typed), "`].")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            pub struct $typed;

            impl Procedure for $typed {
                const PROCEDURE: RemoteProcedure = RemoteProcedure::$typed;
                type Args = $args;
                type Ret = $ret;
            }
        )*
    };
}

include!("../generated/procedures.rs");

impl RemoteProcedure {
    /// Whether libvirtd answers this procedure before the client has
    /// authenticated (`needAuth` false): AUTH_LIST, the SASL steps and
    /// AUTH_POLKIT. Everything else then gets "authentication required".
    pub fn allowed_before_auth(self) -> bool {
        matches!(
            self,
            Self::AuthList
                | Self::AuthSaslInit
                | Self::AuthSaslStart
                | Self::AuthSaslStep
                | Self::AuthPolkit
        )
    }

    /// The name without the `REMOTE_PROC_` prefix, e.g. `CONNECT_OPEN`.
    pub fn short_name(self) -> &'static str {
        let name = self.name();
        name.strip_prefix("REMOTE_PROC_").unwrap_or(name)
    }
}

impl fmt::Display for RemoteProcedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_contiguous_1_to_443() {
        assert_eq!(RemoteProcedure::ALL.len(), 443);
        for (i, p) in RemoteProcedure::ALL.iter().enumerate() {
            assert_eq!(usize::try_from(p.number()).unwrap(), i + 1);
            assert_eq!(RemoteProcedure::from_number(p.number()), Some(*p));
        }
        assert_eq!(RemoteProcedure::from_number(0), None);
        assert_eq!(RemoteProcedure::from_number(444), None);
        assert_eq!(RemoteProcedure::from_number(-1), None);
    }

    #[test]
    fn numbers_names_and_acls_match_the_reference() {
        let cases = [
            (1, "REMOTE_PROC_CONNECT_OPEN", "connect:getattr"),
            (23, "REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME", "domain:getattr"),
            (66, "REMOTE_PROC_AUTH_LIST", "none"),
            (
                273,
                "REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS",
                "connect:search_domains",
            ),
            (443, "REMOTE_PROC_DOMAIN_FD_ASSOCIATE", "domain:write"),
        ];
        for (number, name, acl) in cases {
            let p = RemoteProcedure::from_number(number).unwrap();
            assert_eq!((p.name(), p.acl()), (name, acl));
        }
        assert_eq!(
            RemoteProcedure::ConnectListAllDomains.annotations(),
            "aclfilter=domain:getattr"
        );
        assert_eq!(DomainGetState::PROCEDURE.number(), 212);
        assert_eq!(DomainEventCallbackLifecycle::PROCEDURE.number(), 318);
        assert_eq!(ConnectRegisterCloseCallback::PROCEDURE.number(), 360);
        assert_eq!(DomainGetMessages::PROCEDURE.number(), 426);
    }

    /// The generated table must match the tsv it was generated from.
    #[test]
    fn generated_table_matches_the_tsv() {
        let tsv = include_str!("../generated/remote-procedures-9.0.tsv");
        let mut rows = 0;
        for line in tsv.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let number: i32 = cols[0].parse().unwrap();
            let p = RemoteProcedure::from_number(number).unwrap();
            assert_eq!(p.name(), cols[1]);
            assert_eq!(p.acl(), cols[4]);
            assert_eq!(p.annotations(), cols.get(5).copied().unwrap_or(""));
            rows += 1;
        }
        assert_eq!(rows, RemoteProcedure::ALL.len());
    }

    /// The typed section must match procedure-types.tsv (regenerate after
    /// editing it).
    #[test]
    fn typed_procedures_match_the_types_tsv() {
        let tsv = include_str!("../generated/procedure-types.tsv");
        let mut names: Vec<&str> = tsv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .skip(1)
            .filter_map(|l| l.split('\t').next())
            .collect();
        names.sort_unstable();
        let mut typed: Vec<&str> = RemoteProcedure::TYPED
            .iter()
            .map(|p| p.short_name())
            .collect();
        typed.sort_unstable();
        assert_eq!(names, typed);
    }

    #[test]
    fn only_auth_procedures_are_allowed_before_auth() {
        let allowed: Vec<i32> = RemoteProcedure::ALL
            .iter()
            .filter(|p| p.allowed_before_auth())
            .map(|p| p.number())
            .collect();
        assert_eq!(allowed, [66, 67, 68, 69, 70]);
    }

    #[test]
    fn typed_procedures_cover_the_virsh_connect_sequence() {
        for number in [66, 60, 1, 2, 3, 4, 157, 59, 110, 7, 6, 273, 212, 360, 361] {
            let p = RemoteProcedure::from_number(number).unwrap();
            assert!(RemoteProcedure::TYPED.contains(&p), "{p} has no types");
        }
    }
}
