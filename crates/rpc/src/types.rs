//! The shared types of `remote_protocol.x`: limits, object references
//! (`remote_nonnull_domain`, ...), the `remote_error` payload, and the error
//! codes a server puts in it.

use std::fmt;

use crate::xdr::{Decoder, Encoder, XdrDecode, XdrEncode, XdrError};
use crate::{xdr_enum, xdr_struct};

/// `REMOTE_STRING_MAX` (= `VIR_NET_MESSAGE_STRING_MAX`): 4 MiB.
pub const STRING_MAX: u32 = 4_194_304;
/// `REMOTE_DOMAIN_LIST_MAX`.
pub const DOMAIN_LIST_MAX: u32 = 16_384;
/// `REMOTE_NETWORK_LIST_MAX`.
pub const NETWORK_LIST_MAX: u32 = 16_384;
/// `REMOTE_NETWORK_DHCP_LEASES_MAX`.
pub const NETWORK_DHCP_LEASES_MAX: u32 = 65_536;
/// `REMOTE_STORAGE_POOL_LIST_MAX`.
pub const STORAGE_POOL_LIST_MAX: u32 = 4096;
/// `REMOTE_STORAGE_VOL_LIST_MAX`.
pub const STORAGE_VOL_LIST_MAX: u32 = 16_384;
/// `REMOTE_AUTH_TYPE_LIST_MAX`.
pub const AUTH_TYPE_LIST_MAX: u32 = 20;
/// `REMOTE_AUTH_SASL_DATA_MAX`.
pub const AUTH_SASL_DATA_MAX: u32 = 65_536;
/// `REMOTE_VCPUINFO_MAX`.
pub const VCPUINFO_MAX: u32 = 16_384;
/// `REMOTE_CPUMAPS_MAX`.
pub const CPUMAPS_MAX: u32 = 8_388_608;
/// `REMOTE_SECURITY_LABEL_LIST_MAX`.
pub const SECURITY_LABEL_LIST_MAX: u32 = 64;
/// `REMOTE_SECURITY_MODEL_MAX` (`VIR_SECURITY_MODEL_BUFLEN` = 256 + 1).
pub const SECURITY_MODEL_MAX: u32 = 257;
/// `REMOTE_SECURITY_LABEL_MAX` (`VIR_SECURITY_LABEL_BUFLEN` = 4096 + 1).
pub const SECURITY_LABEL_MAX: u32 = 4097;
/// `REMOTE_SECURITY_DOI_MAX` (`VIR_SECURITY_DOI_BUFLEN` = 256 + 1).
pub const SECURITY_DOI_MAX: u32 = 257;
/// `REMOTE_DOMAIN_MESSAGES_MAX`.
pub const DOMAIN_MESSAGES_MAX: u32 = 2048;
/// `REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX`.
pub const DOMAIN_MEMORY_PARAMETERS_MAX: u32 = 16;
/// `VIR_UUID_BUFLEN`.
pub const UUID_BUFLEN: usize = 16;

/// `remote_uuid`: `opaque[VIR_UUID_BUFLEN]`, 16 raw bytes with no length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; UUID_BUFLEN]);

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// The canonical `8-4-4-4-12` lowercase hex form virsh prints.
impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl XdrEncode for Uuid {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_opaque_fixed(&self.0);
        Ok(())
    }
}

impl XdrDecode for Uuid {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        dec.opaque_fixed().map(Uuid)
    }
}

xdr_struct! {
    /// `remote_nonnull_domain`. `id` is −1 for an inactive domain; virsh
    /// relies on that.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct NonnullDomain("remote_nonnull_domain") {
        /// Domain name.
        pub name: String,
        /// Domain UUID.
        pub uuid: Uuid,
        /// Running domain id, or −1.
        pub id: i32,
    }
}

xdr_struct! {
    /// `remote_nonnull_network`.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct NonnullNetwork("remote_nonnull_network") {
        /// Network name.
        pub name: String,
        /// Network UUID.
        pub uuid: Uuid,
    }
}

xdr_struct! {
    /// `remote_nonnull_storage_pool`.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct NonnullStoragePool("remote_nonnull_storage_pool") {
        /// Pool name.
        pub name: String,
        /// Pool UUID.
        pub uuid: Uuid,
    }
}

xdr_struct! {
    /// `remote_nonnull_storage_vol`. `pool` is the pool's name.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct NonnullStorageVol("remote_nonnull_storage_vol") {
        /// Name of the pool holding the volume.
        pub pool: String,
        /// Volume name.
        pub name: String,
        /// Volume key (usually its path).
        pub key: String,
    }
}

xdr_enum! {
    /// `remote_auth_type`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AuthType("remote_auth_type") {
        /// `REMOTE_AUTH_NONE`.
        None = 0,
        /// `REMOTE_AUTH_SASL`.
        Sasl = 1,
        /// `REMOTE_AUTH_POLKIT`.
        Polkit = 2,
    }
}

/// `remote_typed_param_value`: a union switched on `int type`
/// (`VIR_TYPED_PARAM_*`); on the wire the type word, then the arm.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedParamValue {
    /// 1 `VIR_TYPED_PARAM_INT`: `int i`.
    Int(i32),
    /// 2 `VIR_TYPED_PARAM_UINT`: `unsigned int ui`.
    UInt(u32),
    /// 3 `VIR_TYPED_PARAM_LLONG`: `hyper l`.
    LLong(i64),
    /// 4 `VIR_TYPED_PARAM_ULLONG`: `unsigned hyper ul`.
    ULLong(u64),
    /// 5 `VIR_TYPED_PARAM_DOUBLE`: `double d`.
    Double(f64),
    /// 6 `VIR_TYPED_PARAM_BOOLEAN`: `int b` (any non-zero is true).
    Boolean(bool),
    /// 7 `VIR_TYPED_PARAM_STRING`: `remote_nonnull_string s`. Only sent to
    /// clients that set `VIR_TYPED_PARAM_STRING_OKAY` in the call's flags.
    String(String),
}

impl XdrEncode for TypedParamValue {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        match self {
            Self::Int(v) => {
                enc.put_i32(1);
                enc.put_i32(*v);
            }
            Self::UInt(v) => {
                enc.put_i32(2);
                enc.put_u32(*v);
            }
            Self::LLong(v) => {
                enc.put_i32(3);
                enc.put_i64(*v);
            }
            Self::ULLong(v) => {
                enc.put_i32(4);
                enc.put_u64(*v);
            }
            Self::Double(v) => {
                enc.put_i32(5);
                enc.put_f64(*v);
            }
            Self::Boolean(v) => {
                enc.put_i32(6);
                enc.put_i32(i32::from(*v));
            }
            Self::String(v) => {
                enc.put_i32(7);
                v.encode(enc)?;
            }
        }
        Ok(())
    }
}

impl XdrDecode for TypedParamValue {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(match dec.i32()? {
            1 => Self::Int(dec.i32()?),
            2 => Self::UInt(dec.u32()?),
            3 => Self::LLong(dec.i64()?),
            4 => Self::ULLong(dec.u64()?),
            5 => Self::Double(dec.f64()?),
            6 => Self::Boolean(dec.i32()? != 0),
            7 => Self::String(String::decode(dec)?),
            value => {
                return Err(XdrError::InvalidEnum {
                    name: "remote_typed_param_value",
                    value,
                })
            }
        })
    }
}

xdr_struct! {
    /// `remote_typed_param`: a named value (`VIR_TYPED_PARAM_FIELD_LENGTH`
    /// is 80: libvirt refuses field names of 80 bytes or more).
    #[derive(Debug, Clone, PartialEq)]
    pub struct TypedParam("remote_typed_param") {
        /// Parameter name, e.g. `hard_limit`.
        pub field: String,
        /// Its value.
        pub value: TypedParamValue,
    }
}

/// `virErrorNumber` values a server sends (`include/libvirt/virterror.h`).
pub mod error_code {
    /// `VIR_ERR_INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: i32 = 1;
    /// `VIR_ERR_NO_SUPPORT`.
    pub const NO_SUPPORT: i32 = 3;
    /// `VIR_ERR_INVALID_ARG`.
    pub const INVALID_ARG: i32 = 8;
    /// `VIR_ERR_OPERATION_FAILED`.
    pub const OPERATION_FAILED: i32 = 9;
    /// `VIR_ERR_XML_ERROR`.
    pub const XML_ERROR: i32 = 27;
    /// `VIR_ERR_DOM_EXIST`.
    pub const DOM_EXIST: i32 = 28;
    /// `VIR_ERR_OPERATION_DENIED`.
    pub const OPERATION_DENIED: i32 = 29;
    /// `VIR_ERR_RPC`.
    pub const RPC: i32 = 39;
    /// `VIR_ERR_NO_DOMAIN`.
    pub const NO_DOMAIN: i32 = 42;
    /// `VIR_ERR_NO_NETWORK`.
    pub const NO_NETWORK: i32 = 43;
    /// `VIR_ERR_AUTH_FAILED`.
    pub const AUTH_FAILED: i32 = 45;
    /// `VIR_ERR_OPERATION_INVALID`.
    pub const OPERATION_INVALID: i32 = 55;
    /// `VIR_ERR_CONFIG_UNSUPPORTED`.
    pub const CONFIG_UNSUPPORTED: i32 = 67;
    /// `VIR_ERR_AUTH_CANCELLED`.
    pub const AUTH_CANCELLED: i32 = 79;
    /// `VIR_ERR_OPERATION_UNSUPPORTED`.
    pub const OPERATION_UNSUPPORTED: i32 = 84;
    /// `VIR_ERR_AUTH_UNAVAILABLE`.
    pub const AUTH_UNAVAILABLE: i32 = 94;
}

/// `virErrorDomain` values a server sends.
pub mod error_domain {
    /// `VIR_FROM_NONE`.
    pub const NONE: i32 = 0;
    /// `VIR_FROM_DOM`.
    pub const DOM: i32 = 6;
    /// `VIR_FROM_RPC`.
    pub const RPC: i32 = 7;
    /// `VIR_FROM_QEMU`.
    pub const QEMU: i32 = 10;
    /// `VIR_FROM_REMOTE`.
    pub const REMOTE: i32 = 13;
    /// `VIR_FROM_STORAGE`.
    pub const STORAGE: i32 = 18;
    /// `VIR_FROM_NETWORK`.
    pub const NETWORK: i32 = 19;
    /// `VIR_FROM_DOMAIN`.
    pub const DOMAIN: i32 = 20;
    /// `VIR_FROM_ACCESS`.
    pub const ACCESS: i32 = 55;
    /// `VIR_FROM_POLKIT`.
    pub const POLKIT: i32 = 60;
}

/// `virErrorLevel` values.
pub mod error_level {
    /// `VIR_ERR_NONE`.
    pub const NONE: i32 = 0;
    /// `VIR_ERR_WARNING`.
    pub const WARNING: i32 = 1;
    /// `VIR_ERR_ERROR`.
    pub const ERROR: i32 = 2;
}

xdr_struct! {
    /// `remote_error` (= `virNetMessageError`), the payload of every reply
    /// with status ERROR. The field order is fixed by the wire format.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct RemoteError("remote_error") {
        /// `virErrorNumber`.
        pub code: i32,
        /// `virErrorDomain`.
        pub domain: i32,
        /// The human-readable message.
        pub message: Option<String>,
        /// `virErrorLevel`.
        pub level: i32,
        /// Unused; libvirtd sends NULL.
        pub dom: Option<NonnullDomain>,
        /// Extra string 1.
        pub str1: Option<String>,
        /// Extra string 2.
        pub str2: Option<String>,
        /// Extra string 3.
        pub str3: Option<String>,
        /// Extra integer 1.
        pub int1: i32,
        /// Extra integer 2.
        pub int2: i32,
        /// Unused; libvirtd sends NULL.
        pub net: Option<NonnullNetwork>,
    }
}

impl RemoteError {
    /// An error at level ERROR with `message` also in `str1`, as libvirtd's
    /// `virReportError` fills it (int1 = int2 = −1).
    pub fn new(code: i32, domain: i32, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code,
            domain,
            message: Some(message.clone()),
            level: error_level::ERROR,
            dom: None,
            str1: Some(message),
            str2: None,
            str3: None,
            int1: -1,
            int2: -1,
            net: None,
        }
    }

    /// libvirtd's answer to an unimplemented procedure of a known program:
    /// `VIR_ERR_RPC`, `VIR_FROM_RPC`, "unknown procedure: N". Clients turn
    /// exactly this into `VIR_ERR_NO_SUPPORT` and degrade gracefully.
    pub fn unknown_procedure(procedure: i32) -> Self {
        let text = format!("unknown procedure: {procedure}");
        Self {
            str1: Some("%s".to_owned()),
            str2: Some(text.clone()),
            ..Self::new(error_code::RPC, error_domain::RPC, text)
        }
    }

    /// libvirtd's answer to an unknown program, or a known one at another
    /// version.
    pub fn unknown_program(program: u32, version: u32) -> Self {
        Self::new(
            error_code::RPC,
            error_domain::RPC,
            format!("Cannot find program {program} version {version}"),
        )
    }

    /// libvirtd's answer to any procedure but the auth ones before the client
    /// has authenticated.
    pub fn authentication_required() -> Self {
        Self::new(
            error_code::RPC,
            error_domain::RPC,
            "authentication required",
        )
    }

    /// libvirtd's answer to a hypervisor call before CONNECT_OPEN.
    pub fn connection_not_open() -> Self {
        Self::new(
            error_code::INTERNAL_ERROR,
            error_domain::RPC,
            "internal error: hypervisor connection not open",
        )
    }

    /// Whether a client treats this as "not supported" (`VIR_ERR_NO_SUPPORT`),
    /// by the same test as libvirt's `virNetClientProgramDispatchError`.
    pub fn is_no_support(&self) -> bool {
        self.code == error_code::NO_SUPPORT
            || (self.code == error_code::RPC
                && matches!(self.domain, error_domain::RPC | error_domain::REMOTE)
                && self.level == error_level::ERROR
                && self
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("unknown procedure")))
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (code {}, domain {})",
            self.message.as_deref().unwrap_or("unknown error"),
            self.code,
            self.domain
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{from_bytes, to_bytes};

    #[test]
    fn nonnull_domain_layout() {
        let dom = NonnullDomain {
            name: "demo1".into(),
            uuid: Uuid([0xab; 16]),
            id: -1,
        };
        let bytes = to_bytes(&dom).unwrap();
        let mut want = vec![0, 0, 0, 5, b'd', b'e', b'm', b'o', b'1', 0, 0, 0];
        want.extend_from_slice(&[0xab; 16]);
        want.extend_from_slice(&[0xff; 4]);
        assert_eq!(bytes, want);
        assert_eq!(from_bytes::<NonnullDomain>(&bytes).unwrap(), dom);
    }

    #[test]
    fn remote_error_for_a_missing_domain_is_84_bytes() {
        // Observed from libvirtd: {42, 12, "Domain not found", 2, NULL,
        // "Domain not found", NULL, NULL, -1, -1, NULL} is 84 bytes.
        let err = RemoteError::new(error_code::NO_DOMAIN, 12, "Domain not found");
        let bytes = to_bytes(&err).unwrap();
        assert_eq!(bytes.len(), 84);
        assert_eq!(&bytes[..8], &[0, 0, 0, 42, 0, 0, 0, 12]);
        assert_eq!(from_bytes::<RemoteError>(&bytes).unwrap(), err);
    }

    #[test]
    fn unknown_procedure_error_is_recognised_as_no_support() {
        let err = RemoteError::unknown_procedure(9999);
        assert_eq!(err.message.as_deref(), Some("unknown procedure: 9999"));
        assert_eq!((err.code, err.domain, err.level), (39, 7, 2));
        assert_eq!((err.int1, err.int2), (-1, -1));
        assert!(err.is_no_support());
        assert!(!RemoteError::new(error_code::RPC, 7, "authentication required").is_no_support());
    }

    #[test]
    fn typed_param_layout_matches_the_memtune_observation() {
        // `0000000a "hard_limit"+pad 00000004 001fffffffffffff`
        let param = TypedParam {
            field: "hard_limit".into(),
            value: TypedParamValue::ULLong(0x001f_ffff_ffff_ffff),
        };
        let bytes = to_bytes(&param).unwrap();
        let mut want = vec![0, 0, 0, 10];
        want.extend_from_slice(b"hard_limit\0\0");
        want.extend_from_slice(&[0, 0, 0, 4, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(bytes, want);
        assert_eq!(from_bytes::<TypedParam>(&bytes).unwrap(), param);
    }

    fn typed_value() -> impl proptest::strategy::Strategy<Value = TypedParamValue> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i32>().prop_map(TypedParamValue::Int),
            any::<u32>().prop_map(TypedParamValue::UInt),
            any::<i64>().prop_map(TypedParamValue::LLong),
            any::<u64>().prop_map(TypedParamValue::ULLong),
            proptest::num::f64::NORMAL.prop_map(TypedParamValue::Double),
            any::<bool>().prop_map(TypedParamValue::Boolean),
            ".{0,20}".prop_map(TypedParamValue::String),
        ]
    }

    proptest::proptest! {
        #[test]
        fn typed_params_round_trip(field in "[a-z_]{1,79}", value in typed_value()) {
            let param = TypedParam { field, value };
            let bytes = to_bytes(&param).unwrap();
            proptest::prop_assert_eq!(from_bytes::<TypedParam>(&bytes).unwrap(), param);
        }

        #[test]
        fn nonnull_domains_round_trip(name in ".{0,40}", uuid: [u8; 16], id: i32) {
            let dom = NonnullDomain { name, uuid: Uuid(uuid), id };
            let bytes = to_bytes(&dom).unwrap();
            proptest::prop_assert_eq!(bytes.len() % 4, 0);
            proptest::prop_assert_eq!(from_bytes::<NonnullDomain>(&bytes).unwrap(), dom);
        }
    }

    #[test]
    fn typed_param_unknown_type_is_rejected() {
        let mut bytes = to_bytes(&TypedParam {
            field: "x".into(),
            value: TypedParamValue::Int(1),
        })
        .unwrap();
        bytes[11] = 9;
        let err = from_bytes::<TypedParam>(&bytes).unwrap_err();
        assert_eq!(err.path(), "remote_typed_param.value");
    }

    #[test]
    fn uuid_displays_canonically() {
        let uuid = Uuid([
            0x4d, 0xea, 0x22, 0xb3, 0x1d, 0x52, 0xd8, 0xf3, 0x2b, 0x61, 0x2c, 0xc3, 0xd4, 0x4d,
            0x23, 0x34,
        ]);
        assert_eq!(uuid.to_string(), "4dea22b3-1d52-d8f3-2b61-2cc3d44d2334");
    }
}
