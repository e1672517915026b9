//! What a read-only connection may call (guide §2.2.2: the read-only socket is for monitoring).
//!
//! The flag conditions are evaluated by [`acl::AclAnnotation`], the same code the access drivers
//! use.
//!
//! The rule is derived from each procedure's ACL annotation in the procedure table rather than
//! kept as a second list: a call is allowed read-only when every permission it needs, given its
//! flags, is one libvirt marks anonymous (`getattr`, `read`, and `connect:search_*`) or one whose
//! calls libvirt leaves open to read-only connections (`storage_pool:search_storage_vols`:
//! listing a pool's volumes; see [`acl::Permission::read_only_safe`]). So
//! `DOMAIN_GET_XML_DESC` is allowed, but not with `VIR_DOMAIN_XML_SECURE`, whose rule asks for
//! `read_secure`. A condition that cannot be evaluated counts as met, which can only deny more.

use rpc::procedures::RemoteProcedure;

use crate::access::procedure_acl;

/// Whether a read-only connection may make `procedure` with `flags`.
pub fn allowed(procedure: RemoteProcedure, flags: u32) -> bool {
    procedure_acl(procedure).check.read_only_allowed(flags)
}

/// The public API name libvirt reports for a procedure (`DOMAIN_GET_XML_DESC` →
/// `virDomainGetXMLDesc`), for "read only access prevents …" messages.
pub fn api_name(procedure_name: &str) -> String {
    let short = procedure_name
        .strip_prefix("REMOTE_PROC_")
        .unwrap_or(procedure_name);
    let mut out = String::from("vir");
    for word in short.split('_') {
        match word {
            "XML" | "UUID" | "ID" | "OS" | "CPU" => out.push_str(word),
            _ => {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.push(first);
                    out.extend(chars.map(|c| c.to_ascii_lowercase()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_turn_on_stricter_rules() {
        assert!(allowed(RemoteProcedure::DomainGetXmlDesc, 0));
        assert!(allowed(RemoteProcedure::DomainGetXmlDesc, 2));
        assert!(!allowed(RemoteProcedure::DomainGetXmlDesc, 1));
        assert!(!allowed(RemoteProcedure::DomainGetXmlDesc, 8));
        assert!(allowed(RemoteProcedure::DomainGetVcpusFlags, 0));
        assert!(!allowed(RemoteProcedure::DomainGetVcpusFlags, 8));
    }

    #[test]
    fn table_annotations_classify_as_expected() {
        use RemoteProcedure as P;
        for p in &[
            P::ConnectListAllDomains,
            P::DomainLookupByName,
            P::DomainGetInfo,
            P::DomainGetXmlDesc,
            P::NodeGetInfo,
            P::ConnectGetCapabilities,
            P::ConnectClose,
            P::StoragePoolListAllVolumes,
            P::StoragePoolNumOfVolumes,
            P::StoragePoolListVolumes,
        ] {
            assert!(allowed(*p, 0), "{p:?} should be read-only safe");
        }
        for p in &[
            P::DomainDefineXml,
            P::DomainDefineXmlFlags,
            P::DomainUndefine,
            P::DomainUndefineFlags,
            P::DomainSetAutostart,
            P::DomainCreate,
            P::DomainDestroy,
            P::DomainSuspend,
            P::StorageVolCreateXml,
            P::StorageVolDelete,
            P::StoragePoolBuild,
        ] {
            assert!(!allowed(*p, 0), "{p:?} must be refused read-only");
        }
    }

    #[test]
    fn api_names_look_like_libvirts() {
        assert_eq!(
            api_name("REMOTE_PROC_DOMAIN_DEFINE_XML"),
            "virDomainDefineXML"
        );
        assert_eq!(
            api_name("REMOTE_PROC_DOMAIN_GET_XML_DESC"),
            "virDomainGetXMLDesc"
        );
        assert_eq!(
            api_name("REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS"),
            "virDomainUndefineFlags"
        );
        assert_eq!(
            api_name("REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID"),
            "virDomainLookupByUUID"
        );
    }
}
