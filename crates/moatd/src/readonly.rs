//! What a read-only connection may call (guide §2.2.2: the read-only socket is for monitoring).
//!
//! The rule is derived from each procedure's ACL annotation in the procedure table rather than
//! kept as a second list: a call is allowed read-only when every permission it needs, given its
//! flags, is one libvirt marks anonymous (`getattr`, `read`, and `connect:search_*`). So
//! `DOMAIN_GET_XML_DESC` is allowed, but not with `VIR_DOMAIN_XML_SECURE`, whose rule asks for
//! `read_secure`. A condition this module cannot evaluate counts as met, which can only deny more.

/// Whether a read-only connection may make a call whose ACL annotation is `acl` with `flags`.
pub fn allowed(acl: &str, flags: u32) -> bool {
    let acl = acl.trim();
    if acl.is_empty() || acl == "none" {
        return true;
    }
    acl.split(',').all(|rule| {
        let mut parts = rule.trim().splitn(3, ':');
        let object = parts.next().unwrap_or_default();
        let permission = parts.next().unwrap_or_default();
        let condition = parts.next();
        is_anonymous(object, permission) || !condition_holds(condition, flags)
    })
}

fn is_anonymous(object: &str, permission: &str) -> bool {
    matches!(permission, "getattr" | "read")
        || (object == "connect" && permission.starts_with("search_"))
}

/// Whether a rule's flag condition holds: `A|B` when all named bits are set, `!A|B` when none is.
fn condition_holds(condition: Option<&str>, flags: u32) -> bool {
    let Some(condition) = condition.filter(|c| !c.is_empty()) else {
        return true;
    };
    let (negated, names) = match condition.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, condition),
    };
    let mut mask = 0u32;
    for name in names.split('|') {
        match flag_value(name.trim()) {
            Some(bit) => mask |= bit,
            // `::param:value` conditions and unknown flags: assume the rule applies.
            None => return true,
        }
    }
    if negated {
        flags & mask == 0
    } else {
        flags & mask == mask
    }
}

/// Values of the flags named in the annotations of the procedures Moat implements.
fn flag_value(name: &str) -> Option<u32> {
    Some(match name {
        "VIR_DOMAIN_XML_SECURE" => 1,
        "VIR_DOMAIN_XML_INACTIVE" => 2,
        "VIR_DOMAIN_XML_UPDATE_CPU" => 4,
        "VIR_DOMAIN_XML_MIGRATABLE" => 8,
        "VIR_DOMAIN_AFFECT_LIVE" => 1,
        "VIR_DOMAIN_AFFECT_CONFIG" => 2,
        "VIR_DOMAIN_VCPU_GUEST" => 8,
        "VIR_DOMAIN_REBOOT_GUEST_AGENT" => 2,
        _ => return None,
    })
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
    use rpc::procedures::RemoteProcedure;

    use super::*;

    #[test]
    fn reads_are_allowed_and_writes_are_not() {
        assert!(allowed("connect:getattr", 0));
        assert!(allowed("connect:search_domains", 0));
        assert!(allowed("domain:read", 0));
        assert!(allowed("none", 0));
        assert!(!allowed("domain:write,domain:save", 0));
        assert!(!allowed("domain:delete", 0));
        assert!(!allowed("connect:write", 0));
    }

    #[test]
    fn flags_turn_on_stricter_rules() {
        let dumpxml = "domain:read,domain:read_secure:VIR_DOMAIN_XML_SECURE,\
                       domain:read_secure:VIR_DOMAIN_XML_MIGRATABLE";
        assert!(allowed(dumpxml, 0));
        assert!(allowed(dumpxml, 2));
        assert!(!allowed(dumpxml, 1));
        assert!(!allowed(dumpxml, 8));
        let vcpus = "domain:read,domain:write:VIR_DOMAIN_VCPU_GUEST";
        assert!(allowed(vcpus, 0));
        assert!(!allowed(vcpus, 8));
        // Unknown conditions count as met.
        assert!(!allowed("domain:read,domain:write:VIR_SOMETHING_NEW", 0));
        assert!(!allowed("domain:read,domain:write::param:1", 0));
    }

    #[test]
    fn table_annotations_classify_as_expected() {
        use RemoteProcedure as P;
        for p in [
            P::ConnectListAllDomains,
            P::DomainLookupByName,
            P::DomainGetInfo,
            P::DomainGetXmlDesc,
            P::NodeGetInfo,
            P::ConnectGetCapabilities,
            P::ConnectClose,
        ] {
            assert!(allowed(p.acl(), 0), "{p:?} should be read-only safe");
        }
        for p in [
            P::DomainDefineXml,
            P::DomainDefineXmlFlags,
            P::DomainUndefine,
            P::DomainUndefineFlags,
            P::DomainSetAutostart,
            P::DomainCreate,
            P::DomainDestroy,
            P::DomainSuspend,
        ] {
            assert!(!allowed(p.acl(), 0), "{p:?} must be refused read-only");
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
