//! Argument, return and event payloads of the procedures Moat implements,
//! field for field as in `remote_protocol.x` (libvirt 9.0). Each struct's doc
//! names its libvirt type; errors use that name too. Procedures whose args or
//! ret are void use `()`. Which payload belongs to which procedure is said
//! once, in the procedure table ([`crate::procedures`]).
//!
//! Wire notes: `unsigned char state` and `unsigned short nrVirtCpu` in
//! [`DomainGetInfoRet`] take 4 bytes each; `char model[32]` in
//! [`NodeGetInfoRet`] takes 128 bytes; the security model, DOI and label are
//! `char<>` arrays (4 bytes per byte) that libvirtd sends with their trailing
//! NUL.

use crate::types::{
    AuthType, NonnullDomain, TypedParam, Uuid, AUTH_SASL_DATA_MAX, AUTH_TYPE_LIST_MAX, CPUMAPS_MAX,
    DOMAIN_LIST_MAX, DOMAIN_MEMORY_PARAMETERS_MAX, DOMAIN_MESSAGES_MAX, SECURITY_DOI_MAX,
    SECURITY_LABEL_LIST_MAX, SECURITY_LABEL_MAX, SECURITY_MODEL_MAX, VCPUINFO_MAX,
};
use crate::xdr::{FixedChars, VarArray, VarChars, VarOpaque};
use crate::xdr_struct;

mod network;
mod storage;
pub use network::*;
pub use storage::*;

/// Declares payload structs that hold a single `remote_nonnull_domain dom`.
macro_rules! dom_args {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The domain.
                    pub dom: NonnullDomain,
                }
            }
        )*
    };
}

/// Declares payload structs `{ remote_nonnull_domain dom; unsigned int flags; }`.
macro_rules! dom_flags_args {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The domain.
                    pub dom: NonnullDomain,
                    /// Procedure-specific flags.
                    pub flags: u32,
                }
            }
        )*
    };
}

/// Declares payload structs with one `int` field.
macro_rules! int_payloads {
    ($($name:ident $wire:literal $field:ident),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $name($wire) {
                    #[doc = concat!("`int ", stringify!($field), "`.")]
                    pub $field: i32,
                }
            }
        )*
    };
}

/// Declares payload structs with one `remote_nonnull_string` field.
macro_rules! string_payloads {
    ($($name:ident $wire:literal $field:ident),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    #[doc = concat!("`remote_nonnull_string ", stringify!($field), "`.")]
                    pub $field: String,
                }
            }
        )*
    };
}

/// Declares payload structs with one `remote_nonnull_domain dom` as result.
macro_rules! dom_rets {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The domain.
                    pub dom: NonnullDomain,
                }
            }
        )*
    };
}

// ---- connection ----------------------------------------------------------

xdr_struct! {
    /// `remote_connect_open_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectOpenArgs("remote_connect_open_args") {
        /// The URI with the transport and remote-driver parameters stripped
        /// (`qemu:///system`); `""` when the client probes.
        pub name: Option<String>,
        /// Bit 0 `VIR_CONNECT_RO`; bits 1 and 2 (user, autostart) are sent by
        /// non-root clients and must be accepted and ignored.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_auth_list_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuthListRet("remote_auth_list_ret") {
        /// Offered auth types; libvirtd sends exactly one.
        pub types: Vec<AuthType> [VarArray(AUTH_TYPE_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_auth_sasl_start_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuthSaslStartArgs("remote_auth_sasl_start_args") {
        /// Chosen mechanism.
        pub mech: String,
        /// 1 when `data` is NULL.
        pub nil: i32,
        /// `char data<65536>`.
        pub data: Vec<u8> [VarChars(AUTH_SASL_DATA_MAX)],
    }
}

xdr_struct! {
    /// `remote_auth_sasl_start_ret` (and `remote_auth_sasl_step_ret`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuthSaslStepRet("remote_auth_sasl_step_ret") {
        /// 1 when negotiation is complete.
        pub complete: i32,
        /// 1 when `data` is NULL.
        pub nil: i32,
        /// `char data<65536>`.
        pub data: Vec<u8> [VarChars(AUTH_SASL_DATA_MAX)],
    }
}

xdr_struct! {
    /// `remote_auth_sasl_step_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuthSaslStepArgs("remote_auth_sasl_step_args") {
        /// 1 when `data` is NULL.
        pub nil: i32,
        /// `char data<65536>`.
        pub data: Vec<u8> [VarChars(AUTH_SASL_DATA_MAX)],
    }
}

int_payloads! {
    AuthPolkitRet "remote_auth_polkit_ret" complete,
    ConnectSupportsFeatureArgs "remote_connect_supports_feature_args" feature,
    ConnectSupportsFeatureRet "remote_connect_supports_feature_ret" supported,
    ConnectGetMaxVcpusRet "remote_connect_get_max_vcpus_ret" max_vcpus,
    ConnectIsSecureRet "remote_connect_is_secure_ret" secure,
    ConnectNumOfDomainsRet "remote_connect_num_of_domains_ret" num,
    ConnectNumOfDefinedDomainsRet "remote_connect_num_of_defined_domains_ret" num,
    ConnectListDomainsArgs "remote_connect_list_domains_args" maxids,
    ConnectListDefinedDomainsArgs "remote_connect_list_defined_domains_args" maxnames,
    DomainLookupByIdArgs "remote_domain_lookup_by_id_args" id,
    DomainGetAutostartRet "remote_domain_get_autostart_ret" autostart,
    DomainIsActiveRet "remote_domain_is_active_ret" active,
    DomainIsPersistentRet "remote_domain_is_persistent_ret" persistent,
    DomainIsUpdatedRet "remote_domain_is_updated_ret" updated,
    DomainHasManagedSaveImageRet "remote_domain_has_managed_save_image_ret" result,
    DomainSnapshotNumRet "remote_domain_snapshot_num_ret" num,
    DomainGetMaxVcpusRet "remote_domain_get_max_vcpus_ret" num,
    DomainGetVcpusFlagsRet "remote_domain_get_vcpus_flags_ret" num,
    ConnectDomainEventRegisterRet "remote_connect_domain_event_register_ret" cb_registered,
    ConnectDomainEventDeregisterRet "remote_connect_domain_event_deregister_ret" cb_registered,
    ConnectDomainEventRegisterAnyArgs "remote_connect_domain_event_register_any_args" event_id,
    ConnectDomainEventDeregisterAnyArgs "remote_connect_domain_event_deregister_any_args" event_id,
    ConnectDomainEventCallbackRegisterAnyRet "remote_connect_domain_event_callback_register_any_ret" callback_id,
    ConnectDomainEventCallbackDeregisterAnyArgs "remote_connect_domain_event_callback_deregister_any_args" callback_id,
}

string_payloads! {
    AuthSaslInitRet "remote_auth_sasl_init_ret" mechlist,
    ConnectGetTypeRet "remote_connect_get_type_ret" hv_type,
    ConnectGetHostnameRet "remote_connect_get_hostname_ret" hostname,
    ConnectGetUriRet "remote_connect_get_uri_ret" uri,
    ConnectGetDomainCapabilitiesRet "remote_connect_get_domain_capabilities_ret" capabilities,
    ConnectGetCapabilitiesRet "remote_connect_get_capabilities_ret" capabilities,
    ConnectGetSysinfoRet "remote_connect_get_sysinfo_ret" sysinfo,
    DomainLookupByNameArgs "remote_domain_lookup_by_name_args" name,
    DomainDefineXmlArgs "remote_domain_define_xml_args" xml,
    DomainGetXmlDescRet "remote_domain_get_xml_desc_ret" xml,
    DomainGetOsTypeRet "remote_domain_get_os_type_ret" os_type,
}

xdr_struct! {
    /// `remote_connect_get_version_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectGetVersionRet("remote_connect_get_version_ret") {
        /// Hypervisor version, major·10⁶ + minor·10³ + micro.
        pub hv_ver: u64,
    }
}

xdr_struct! {
    /// `remote_connect_get_lib_version_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectGetLibVersionRet("remote_connect_get_lib_version_ret") {
        /// Library version, major·10⁶ + minor·10³ + micro.
        pub lib_ver: u64,
    }
}

xdr_struct! {
    /// `remote_connect_get_sysinfo_args`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectGetSysinfoArgs("remote_connect_get_sysinfo_args") {
        /// Must be 0.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_connect_get_max_vcpus_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectGetMaxVcpusArgs("remote_connect_get_max_vcpus_args") {
        /// Hypervisor type, may be NULL.
        pub hv_type: Option<String>,
    }
}

xdr_struct! {
    /// `remote_connect_get_domain_capabilities_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectGetDomainCapabilitiesArgs("remote_connect_get_domain_capabilities_args") {
        /// Emulator path, may be NULL.
        pub emulatorbin: Option<String>,
        /// Architecture, may be NULL.
        pub arch: Option<String>,
        /// Machine type, may be NULL.
        pub machine: Option<String>,
        /// Virtualization type (`kvm`, `qemu`), may be NULL.
        pub virttype: Option<String>,
        /// Flags (none defined).
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_node_get_info_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct NodeGetInfoRet("remote_node_get_info_ret") {
        /// `char model[32]`: CPU model, NUL-padded; 128 bytes on the wire.
        pub model: [u8; 32] [FixedChars],
        /// Memory in KiB.
        pub memory: u64,
        /// Active CPUs.
        pub cpus: i32,
        /// Expected CPU frequency in MHz.
        pub mhz: i32,
        /// NUMA nodes.
        pub nodes: i32,
        /// Sockets per node.
        pub sockets: i32,
        /// Cores per socket.
        pub cores: i32,
        /// Threads per core.
        pub threads: i32,
    }
}

xdr_struct! {
    /// `remote_node_get_free_memory_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct NodeGetFreeMemoryRet("remote_node_get_free_memory_ret") {
        /// Free memory in bytes.
        pub free_mem: u64,
    }
}

xdr_struct! {
    /// `remote_node_get_security_model_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NodeGetSecurityModelRet("remote_node_get_security_model_ret") {
        /// `char model<257>`, with its trailing NUL; empty for none.
        pub model: Vec<u8> [VarChars(SECURITY_MODEL_MAX)],
        /// `char doi<257>`, with its trailing NUL; empty for none.
        pub doi: Vec<u8> [VarChars(SECURITY_DOI_MAX)],
    }
}

/// A C string as libvirtd sends security strings: the bytes plus a
/// trailing NUL, or nothing at all for an empty string (no model).
fn c_string(text: &str) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    bytes
}

/// The text of a `char<>` C string: up to the first NUL, lossily as UTF-8.
pub fn c_string_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl NodeGetInfoRet {
    /// `model` as the NUL-padded `char[32]`, cut to 31 bytes so a NUL
    /// always ends it (libvirt copies it with `virStrcpyStatic`).
    pub fn model_from(model: &str) -> [u8; 32] {
        let mut out = [0; 32];
        let n = model.len().min(31);
        out[..n].copy_from_slice(&model.as_bytes()[..n]);
        out
    }
}

impl NodeGetSecurityModelRet {
    /// The reply for security model `model` and DOI `doi`, with the trailing
    /// NULs libvirtd sends; both empty means "no security driver", which
    /// makes virsh skip the security label call.
    pub fn new(model: &str, doi: &str) -> Self {
        Self {
            model: c_string(model),
            doi: c_string(doi),
        }
    }
}

impl DomainGetSecurityLabelRet {
    /// The reply for `label` (empty for none), with the trailing NUL.
    pub fn new(label: &str, enforcing: bool) -> Self {
        Self {
            label: c_string(label),
            enforcing: i32::from(enforcing),
        }
    }
}

// ---- domain lists --------------------------------------------------------

xdr_struct! {
    /// `remote_connect_list_all_domains_args`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectListAllDomainsArgs("remote_connect_list_all_domains_args") {
        /// 0: only count; otherwise also return the domains.
        pub need_results: i32,
        /// `VIR_CONNECT_LIST_DOMAINS_*` filter bits.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_connect_list_all_domains_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListAllDomainsRet("remote_connect_list_all_domains_ret") {
        /// The domains (empty when `need_results` was 0).
        pub domains: Vec<NonnullDomain> [VarArray(DOMAIN_LIST_MAX)],
        /// The count.
        pub ret: u32,
    }
}

xdr_struct! {
    /// `remote_connect_list_domains_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListDomainsRet("remote_connect_list_domains_ret") {
        /// Ids of running domains.
        pub ids: Vec<i32> [VarArray(DOMAIN_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_connect_list_defined_domains_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListDefinedDomainsRet("remote_connect_list_defined_domains_ret") {
        /// Names of inactive persistent domains.
        pub names: Vec<String> [VarArray(DOMAIN_LIST_MAX)],
    }
}

// ---- domain lookup, define, lifecycle -------------------------------------

xdr_struct! {
    /// `remote_domain_lookup_by_uuid_args`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DomainLookupByUuidArgs("remote_domain_lookup_by_uuid_args") {
        /// The UUID.
        pub uuid: Uuid,
    }
}

dom_rets! {
    DomainLookupByIdRet "remote_domain_lookup_by_id_ret",
    DomainLookupByNameRet "remote_domain_lookup_by_name_ret",
    DomainLookupByUuidRet "remote_domain_lookup_by_uuid_ret",
    DomainDefineXmlRet "remote_domain_define_xml_ret",
    DomainDefineXmlFlagsRet "remote_domain_define_xml_flags_ret",
    DomainCreateXmlRet "remote_domain_create_xml_ret",
    DomainCreateWithFlagsRet "remote_domain_create_with_flags_ret",
}

xdr_struct! {
    /// `remote_domain_define_xml_flags_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainDefineXmlFlagsArgs("remote_domain_define_xml_flags_args") {
        /// Domain XML.
        pub xml: String,
        /// `VIR_DOMAIN_DEFINE_VALIDATE` = 1.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_domain_create_xml_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainCreateXmlArgs("remote_domain_create_xml_args") {
        /// Domain XML.
        pub xml_desc: String,
        /// `VIR_DOMAIN_START_*` flags.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_domain_open_console_args`: a duplex stream to the console follows the reply.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainOpenConsoleArgs("remote_domain_open_console_args") {
        /// The guest.
        pub dom: NonnullDomain,
        /// A chardev alias (`serial0`); NULL for the first console or serial port.
        pub dev_name: Option<String>,
        /// `VIR_DOMAIN_CONSOLE_FORCE` = 1, `VIR_DOMAIN_CONSOLE_SAFE` = 2.
        pub flags: u32,
    }
}

dom_args! {
    DomainCreateArgs "remote_domain_create_args",
    DomainDestroyArgs "remote_domain_destroy_args",
    DomainShutdownArgs "remote_domain_shutdown_args",
    DomainSuspendArgs "remote_domain_suspend_args",
    DomainResumeArgs "remote_domain_resume_args",
    DomainUndefineArgs "remote_domain_undefine_args",
    DomainGetInfoArgs "remote_domain_get_info_args",
    DomainGetAutostartArgs "remote_domain_get_autostart_args",
    DomainIsActiveArgs "remote_domain_is_active_args",
    DomainIsPersistentArgs "remote_domain_is_persistent_args",
    DomainIsUpdatedArgs "remote_domain_is_updated_args",
    DomainGetOsTypeArgs "remote_domain_get_os_type_args",
    DomainGetMaxMemoryArgs "remote_domain_get_max_memory_args",
    DomainGetMaxVcpusArgs "remote_domain_get_max_vcpus_args",
    DomainGetSecurityLabelArgs "remote_domain_get_security_label_args",
    DomainGetSecurityLabelListArgs "remote_domain_get_security_label_list_args",
}

dom_flags_args! {
    DomainCreateWithFlagsArgs "remote_domain_create_with_flags_args",
    DomainDestroyFlagsArgs "remote_domain_destroy_flags_args",
    DomainShutdownFlagsArgs "remote_domain_shutdown_flags_args",
    DomainRebootArgs "remote_domain_reboot_args",
    DomainResetArgs "remote_domain_reset_args",
    DomainUndefineFlagsArgs "remote_domain_undefine_flags_args",
    DomainGetStateArgs "remote_domain_get_state_args",
    DomainGetXmlDescArgs "remote_domain_get_xml_desc_args",
    DomainHasManagedSaveImageArgs "remote_domain_has_managed_save_image_args",
    DomainSnapshotNumArgs "remote_domain_snapshot_num_args",
    DomainGetVcpusFlagsArgs "remote_domain_get_vcpus_flags_args",
    DomainGetMessagesArgs "remote_domain_get_messages_args",
}

// ---- domain queries ------------------------------------------------------

xdr_struct! {
    /// `remote_domain_get_info_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DomainGetInfoRet("remote_domain_get_info_ret") {
        /// `unsigned char state` (`virDomainState`), 4 bytes on the wire.
        pub state: u8,
        /// Maximum memory in KiB.
        pub max_mem: u64,
        /// Current memory in KiB.
        pub memory: u64,
        /// `unsigned short nrVirtCpu`, 4 bytes on the wire.
        pub nr_virt_cpu: u16,
        /// CPU time used, in ns.
        pub cpu_time: u64,
    }
}

xdr_struct! {
    /// `remote_domain_get_state_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DomainGetStateRet("remote_domain_get_state_ret") {
        /// `virDomainState`.
        pub state: i32,
        /// State-specific reason.
        pub reason: i32,
    }
}

xdr_struct! {
    /// `remote_domain_set_autostart_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainSetAutostartArgs("remote_domain_set_autostart_args") {
        /// The domain.
        pub dom: NonnullDomain,
        /// 1 to enable, 0 to disable.
        pub autostart: i32,
    }
}

xdr_struct! {
    /// `remote_domain_get_max_memory_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DomainGetMaxMemoryRet("remote_domain_get_max_memory_ret") {
        /// Maximum memory in KiB.
        pub memory: u64,
    }
}

xdr_struct! {
    /// `remote_vcpu_info`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct VcpuInfo("remote_vcpu_info") {
        /// Virtual CPU number.
        pub number: u32,
        /// `virVcpuState`.
        pub state: i32,
        /// CPU time used, in ns.
        pub cpu_time: u64,
        /// Host CPU it runs on, or −1.
        pub cpu: i32,
    }
}

xdr_struct! {
    /// `remote_domain_get_vcpus_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetVcpusArgs("remote_domain_get_vcpus_args") {
        /// The domain.
        pub dom: NonnullDomain,
        /// Entries the caller can take.
        pub maxinfo: i32,
        /// Bytes per CPU map (0: no maps).
        pub maplen: i32,
    }
}

xdr_struct! {
    /// `remote_domain_get_vcpus_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetVcpusRet("remote_domain_get_vcpus_ret") {
        /// One entry per vCPU.
        pub info: Vec<VcpuInfo> [VarArray(VCPUINFO_MAX)],
        /// Concatenated CPU maps, `maplen` bytes each.
        pub cpumaps: Vec<u8> [VarOpaque(CPUMAPS_MAX)],
    }
}

xdr_struct! {
    /// `remote_domain_get_security_label_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetSecurityLabelRet("remote_domain_get_security_label_ret") {
        /// `char label<4097>`, with its trailing NUL.
        pub label: Vec<u8> [VarChars(SECURITY_LABEL_MAX)],
        /// 1 when enforcing.
        pub enforcing: i32,
    }
}

xdr_struct! {
    /// `remote_domain_get_security_label_list_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetSecurityLabelListRet("remote_domain_get_security_label_list_ret") {
        /// One label per security driver.
        pub labels: Vec<DomainGetSecurityLabelRet> [VarArray(SECURITY_LABEL_LIST_MAX)],
        /// The count.
        pub ret: i32,
    }
}

xdr_struct! {
    /// `remote_domain_get_messages_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetMessagesRet("remote_domain_get_messages_ret") {
        /// Messages (tainting, deprecations).
        pub msgs: Vec<String> [VarArray(DOMAIN_MESSAGES_MAX)],
    }
}

xdr_struct! {
    /// `remote_domain_get_memory_parameters_args`. Clients call twice: with
    /// `nparams` 0 to learn the count, then with that count.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainGetMemoryParametersArgs("remote_domain_get_memory_parameters_args") {
        /// The domain.
        pub dom: NonnullDomain,
        /// Parameters the caller can take (0: only count them).
        pub nparams: i32,
        /// `VIR_DOMAIN_AFFECT_*`, `VIR_TYPED_PARAM_STRING_OKAY` (4).
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_domain_get_memory_parameters_ret`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct DomainGetMemoryParametersRet("remote_domain_get_memory_parameters_ret") {
        /// The parameters (empty when the call's `nparams` was 0).
        pub params: Vec<TypedParam> [VarArray(DOMAIN_MEMORY_PARAMETERS_MAX)],
        /// How many parameters there are.
        pub nparams: i32,
    }
}

// ---- events --------------------------------------------------------------

xdr_struct! {
    /// `remote_connect_domain_event_callback_register_any_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectDomainEventCallbackRegisterAnyArgs(
        "remote_connect_domain_event_callback_register_any_args"
    ) {
        /// `virDomainEventID` (0 = LIFECYCLE).
        pub event_id: i32,
        /// Only this domain, or all when NULL.
        pub dom: Option<NonnullDomain>,
    }
}

xdr_struct! {
    /// `remote_domain_event_lifecycle_msg` (legacy event 107).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainEventLifecycleMsg("remote_domain_event_lifecycle_msg") {
        /// The domain, with its id at the time of the event.
        pub dom: NonnullDomain,
        /// `virDomainEventType`.
        pub event: i32,
        /// Event-specific detail.
        pub detail: i32,
    }
}

xdr_struct! {
    /// `remote_domain_event_callback_lifecycle_msg` (event 318).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DomainEventCallbackLifecycleMsg("remote_domain_event_callback_lifecycle_msg") {
        /// The id returned by CALLBACK_REGISTER_ANY.
        pub callback_id: i32,
        /// The event.
        pub msg: DomainEventLifecycleMsg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{from_bytes, to_bytes, XdrDecode, XdrEncode};
    use proptest::prelude::*;

    fn round_trip<T: XdrEncode + XdrDecode + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
        let bytes = to_bytes(v).unwrap();
        assert_eq!(&from_bytes::<T>(&bytes).unwrap(), v);
        bytes
    }

    fn domain() -> impl Strategy<Value = NonnullDomain> {
        ("[a-z0-9_-]{1,20}", any::<[u8; 16]>(), -1i32..100).prop_map(|(name, uuid, id)| {
            NonnullDomain {
                name,
                uuid: Uuid(uuid),
                id,
            }
        })
    }

    proptest! {
        #[test]
        fn connect_open_round_trips(name: Option<String>, flags: u32) {
            round_trip(&ConnectOpenArgs { name, flags });
        }

        #[test]
        fn list_all_domains_round_trips(domains in proptest::collection::vec(domain(), 0..8)) {
            let ret = u32::try_from(domains.len()).unwrap();
            round_trip(&ConnectListAllDomainsRet { domains, ret });
        }

        #[test]
        fn domain_get_info_round_trips(
            state: u8, max_mem: u64, memory: u64, nr_virt_cpu: u16, cpu_time: u64,
        ) {
            let bytes = round_trip(&DomainGetInfoRet { state, max_mem, memory, nr_virt_cpu, cpu_time });
            // Two 4-byte small ints and three hypers.
            prop_assert_eq!(bytes.len(), 4 + 8 + 8 + 4 + 8);
        }

        #[test]
        fn node_get_info_round_trips(model: [u8; 32], memory: u64, cpus: i32) {
            let info = NodeGetInfoRet { model, memory, cpus, mhz: 1, nodes: 1, sockets: 1, cores: 1, threads: 1 };
            prop_assert_eq!(round_trip(&info).len(), 128 + 8 + 6 * 4);
        }

        #[test]
        fn security_label_list_round_trips(labels in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40), 0i32..2), 0..4,
        )) {
            let labels: Vec<_> = labels
                .into_iter()
                .map(|(label, enforcing)| DomainGetSecurityLabelRet { label, enforcing })
                .collect();
            let ret = i32::try_from(labels.len()).unwrap();
            round_trip(&DomainGetSecurityLabelListRet { labels, ret });
        }

        #[test]
        fn event_round_trips(dom in domain(), callback_id: i32, event: i32, detail: i32) {
            round_trip(&DomainEventCallbackLifecycleMsg {
                callback_id,
                msg: DomainEventLifecycleMsg { dom, event, detail },
            });
        }

        #[test]
        fn vcpus_round_trip(n in 0u32..4, cpumaps in proptest::collection::vec(any::<u8>(), 0..9)) {
            let info = (0..n).map(|number| VcpuInfo { number, state: 1, cpu_time: 5, cpu: -1 }).collect();
            round_trip(&DomainGetVcpusRet { info, cpumaps });
        }
    }

    #[test]
    fn node_info_model_is_four_bytes_per_char() {
        // Observed: "i686" arrives as 00000069 00000036 00000038 00000036.
        let mut model = [0; 32];
        model[..4].copy_from_slice(b"i686");
        let info = NodeGetInfoRet {
            model,
            memory: 0,
            cpus: 0,
            mhz: 0,
            nodes: 0,
            sockets: 0,
            cores: 0,
            threads: 0,
        };
        let bytes = to_bytes(&info).unwrap();
        assert_eq!(
            &bytes[..16],
            &[0, 0, 0, 0x69, 0, 0, 0, 0x36, 0, 0, 0, 0x38, 0, 0, 0, 0x36]
        );
        assert!(bytes[16..128].iter().all(|&b| b == 0));
    }

    #[test]
    fn security_strings_carry_a_trailing_nul() {
        let model = NodeGetSecurityModelRet::new("selinux", "0");
        assert_eq!(model.model, b"selinux\0");
        assert_eq!(c_string_text(&model.doi), "0");
        assert!(NodeGetSecurityModelRet::new("", "").model.is_empty());
        let label = DomainGetSecurityLabelRet::new("system_u:system_r:svirt_t:s0:c1,c2", true);
        assert_eq!(label.label.last(), Some(&0));
        assert_eq!(label.enforcing, 1);
        // 8 chars + NUL, 4 bytes each, after the count.
        assert_eq!(to_bytes(&model).unwrap().len(), 4 + 8 * 4 + 4 + 2 * 4);
    }

    #[test]
    fn node_model_is_cut_to_leave_a_nul() {
        let model = NodeGetInfoRet::model_from(&"x".repeat(40));
        assert_eq!(model[30], b'x');
        assert_eq!(model[31], 0);
        assert_eq!(c_string_text(&model), "x".repeat(31));
    }

    #[test]
    fn lookup_by_name_args_match_the_reference() {
        let args = DomainLookupByNameArgs {
            name: "demo1".into(),
        };
        assert_eq!(
            to_bytes(&args).unwrap(),
            [0, 0, 0, 5, 0x64, 0x65, 0x6d, 0x6f, 0x31, 0, 0, 0]
        );
    }

    #[test]
    fn auth_list_over_its_max_is_rejected_with_a_path() {
        let mut bytes = 21u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 21 * 4]);
        let err = from_bytes::<AuthListRet>(&bytes).unwrap_err();
        assert_eq!(err.path(), "remote_auth_list_ret.types");
        assert_eq!(err.kind(), crate::xdr::XdrErrorKind::LimitExceeded);
    }
}
