//! Semantic checks on a [`Domain`], parsed or built in code.
//!
//! Parsing already refuses what cannot be represented (bad units, UUIDs, enum values) and
//! applies libvirt's parse-time `<seclabel>` rules. Validation checks what spans elements: names,
//! sizes that must agree, unique targets and boot orders, sources that a disk or chardev type
//! requires, the seclabel rules again (for models built in code), per-device label overrides
//! against the domain's labels, and static labels against the syntax of their model. It reports
//! every problem, not only the first. It never looks at the host: paths are just values here.

use std::collections::HashSet;
use std::fmt;

use crate::model::{
    ChardevType, DeviceSeclabel, DiskDevice, DiskSource, DiskType, Domain, HostdevSource,
    InterfaceType,
};
use crate::seclabel_rules::{self, SeclabelError};

/// The most vCPUs a definition may ask for.
pub const MAX_VCPUS: u32 = 4096;

/// How to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateOptions {
    /// The domain is a running one (live XML): dynamic labels must be filled in.
    pub live: bool,
    /// The most bytes a domain name may have.
    pub max_name_bytes: Option<usize>,
}

/// One problem found by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// `<name>` is empty.
    #[error("domain name in <name> is empty")]
    EmptyName,
    /// `<name>` contains a `/`.
    #[error("domain name '{0}' in <name> contains '/'")]
    NameWithSlash(String),
    /// `<name>` is too long.
    #[error("domain name in <name> is {len} bytes, more than {limit}")]
    NameTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `<name>` contains a control character.
    #[error("domain name in <name> contains a control character")]
    NameWithControl,
    /// `<memory>` is zero.
    #[error("memory size in <memory> must be greater than zero")]
    ZeroMemory,
    /// `<currentMemory>` above `<memory>`.
    #[error("<currentMemory> of {current} KiB exceeds <memory> of {memory} KiB")]
    CurrentAboveMemory {
        /// currentMemory in KiB.
        current: u64,
        /// memory in KiB.
        memory: u64,
    },
    /// `<maxMemory>` below `<memory>`.
    #[error("<maxMemory> of {max} KiB is less than <memory> of {memory} KiB")]
    MaxBelowMemory {
        /// maxMemory in KiB.
        max: u64,
        /// memory in KiB.
        memory: u64,
    },
    /// `<vcpu>` count out of range.
    #[error("vcpu count {0} in <vcpu> must be between 1 and {MAX_VCPUS}")]
    VcpuCount(u32),
    /// `current` above the vCPU count.
    #[error("current vcpu count {current} in <vcpu> exceeds the maximum of {count}")]
    VcpuCurrent {
        /// current.
        current: u32,
        /// count.
        count: u32,
    },
    /// Per-device `<boot order>` together with `<os><boot dev>`.
    #[error("per-device boot elements cannot be used together with os/boot elements")]
    BootMixed,
    /// Two devices with one boot order.
    #[error("boot order {0} is used by more than one device")]
    BootOrderDuplicate(u32),
    /// Two disks with one target.
    #[error("target '{0}' is used by more than one <disk>")]
    DiskTargetDuplicate(String),
    /// An empty target name.
    #[error("<disk> has an empty target dev")]
    DiskTargetEmpty,
    /// A disk without the source its type requires.
    #[error("<disk> '{dev}' of type '{kind}' has no {what}")]
    DiskSourceMissing {
        /// Target dev.
        dev: String,
        /// Disk type.
        kind: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// `device='lun'` on a file or dir disk.
    #[error("<disk> '{0}' with device='lun' must be of type block or network")]
    LunType(String),
    /// Two controllers of one type and index.
    #[error("<controller> type '{kind}' index {index} is defined more than once")]
    ControllerDuplicate {
        /// Controller type.
        kind: String,
        /// Index.
        index: u32,
    },
    /// An interface without the source its type requires.
    #[error("<interface> of type '{kind}' has no source {what}")]
    InterfaceSourceMissing {
        /// Interface type.
        kind: &'static str,
        /// The missing attribute.
        what: &'static str,
    },
    /// A multicast MAC address.
    #[error("MAC address '{0}' in <interface> is a multicast address")]
    MulticastMac(String),
    /// A chardev without the source its type requires.
    #[error("<{element}> of type '{kind}' has no source {what}")]
    ChardevSourceMissing {
        /// serial, console or channel.
        element: &'static str,
        /// Chardev type.
        kind: &'static str,
        /// The missing attribute.
        what: &'static str,
    },
    /// A USB hostdev that names no device.
    #[error("USB <hostdev> needs a vendor and product id or a bus address")]
    UsbHostdevUnspecified,
    /// A `<seclabel>` against libvirt's rules; `element` says which.
    #[error("{element}: {source}")]
    Seclabel {
        /// `<seclabel>` or the device holding it (`<disk> 'vda'`).
        element: String,
        /// The broken rule.
        #[source]
        source: SeclabelError,
    },
}

/// Every problem [`validate`] found, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateErrors(pub Vec<ValidateError>);

impl fmt::Display for ValidateErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidateErrors {}

/// Checks a domain definition, reporting every problem.
pub fn validate(domain: &Domain, options: &ValidateOptions) -> Result<(), ValidateErrors> {
    let mut errors = Vec::new();
    check_name(domain, options, &mut errors);
    check_sizes(domain, &mut errors);
    check_boot(domain, &mut errors);
    check_disks(domain, &mut errors);
    check_other_devices(domain, &mut errors);
    check_seclabels(domain, options, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidateErrors(errors))
    }
}

fn check_name(domain: &Domain, options: &ValidateOptions, errors: &mut Vec<ValidateError>) {
    let limit = options
        .max_name_bytes
        .unwrap_or(crate::Limits::DEFAULT.max_name_bytes);
    let name = &domain.name;
    if name.is_empty() {
        errors.push(ValidateError::EmptyName);
    }
    if name.contains('/') {
        errors.push(ValidateError::NameWithSlash(name.clone()));
    }
    if name.len() > limit {
        errors.push(ValidateError::NameTooLong {
            len: name.len(),
            limit,
        });
    }
    if name.chars().any(char::is_control) {
        errors.push(ValidateError::NameWithControl);
    }
}

fn check_sizes(domain: &Domain, errors: &mut Vec<ValidateError>) {
    let memory = domain.memory.kib;
    if memory == 0 {
        errors.push(ValidateError::ZeroMemory);
    }
    if domain.current_memory.kib > memory {
        errors.push(ValidateError::CurrentAboveMemory {
            current: domain.current_memory.kib,
            memory,
        });
    }
    if let Some(max) = &domain.max_memory {
        if max.size.kib < memory {
            errors.push(ValidateError::MaxBelowMemory {
                max: max.size.kib,
                memory,
            });
        }
    }
    let vcpu = &domain.vcpu;
    if vcpu.count == 0 || vcpu.count > MAX_VCPUS {
        errors.push(ValidateError::VcpuCount(vcpu.count));
    }
    if let Some(current) = vcpu.current {
        if current > vcpu.count {
            errors.push(ValidateError::VcpuCurrent {
                current,
                count: vcpu.count,
            });
        }
    }
}

fn check_boot(domain: &Domain, errors: &mut Vec<ValidateError>) {
    let devices = &domain.devices;
    let orders: Vec<u32> = devices
        .disks
        .iter()
        .filter_map(|d| d.boot_order)
        .chain(devices.interfaces.iter().filter_map(|i| i.boot_order))
        .chain(devices.hostdevs.iter().filter_map(|h| h.boot_order))
        .collect();
    if !orders.is_empty() && !domain.os.boot.is_empty() {
        errors.push(ValidateError::BootMixed);
    }
    let mut seen = HashSet::new();
    for order in orders {
        if !seen.insert(order) {
            errors.push(ValidateError::BootOrderDuplicate(order));
        }
    }
}

fn check_disk_source(
    dev: &str,
    kind: DiskType,
    source: Option<&DiskSource>,
    empty_allowed: bool,
    errors: &mut Vec<ValidateError>,
) {
    let missing = |what| ValidateError::DiskSourceMissing {
        dev: dev.to_owned(),
        kind: kind.as_str(),
        what,
    };
    let Some(source) = source else {
        if !empty_allowed {
            errors.push(missing("<source>"));
        }
        return;
    };
    match kind {
        DiskType::File | DiskType::Block | DiskType::Dir => {
            if source.path.as_deref().map_or(true, str::is_empty) && !empty_allowed {
                errors.push(missing("source path"));
            }
        }
        DiskType::Network => {
            if source.protocol.is_none() {
                errors.push(missing("source protocol"));
            }
        }
        DiskType::Volume => {
            if source.pool.is_none() || source.volume.is_none() {
                errors.push(missing("source pool and volume"));
            }
        }
    }
}

fn check_disks(domain: &Domain, errors: &mut Vec<ValidateError>) {
    let mut targets = HashSet::new();
    for disk in &domain.devices.disks {
        let dev = disk.target.dev.as_str();
        if dev.is_empty() {
            errors.push(ValidateError::DiskTargetEmpty);
        } else if !targets.insert(dev) {
            errors.push(ValidateError::DiskTargetDuplicate(dev.to_owned()));
        }
        let removable = matches!(disk.device, DiskDevice::Cdrom | DiskDevice::Floppy);
        check_disk_source(dev, disk.kind, disk.source.as_ref(), removable, errors);
        let mut layer = disk.backing_store.as_ref();
        while let Some(current) = layer {
            check_disk_source(dev, current.kind, Some(&current.source), false, errors);
            layer = current.backing_store.as_deref();
        }
        if disk.device == DiskDevice::Lun
            && !matches!(disk.kind, DiskType::Block | DiskType::Network)
        {
            errors.push(ValidateError::LunType(dev.to_owned()));
        }
    }
}

fn check_other_devices(domain: &Domain, errors: &mut Vec<ValidateError>) {
    let devices = &domain.devices;
    let mut controllers = HashSet::new();
    for controller in &devices.controllers {
        if !controllers.insert((controller.kind.as_str(), controller.index)) {
            errors.push(ValidateError::ControllerDuplicate {
                kind: controller.kind.clone(),
                index: controller.index,
            });
        }
    }
    for iface in &devices.interfaces {
        let source = iface.source.as_ref();
        let required = match iface.kind {
            InterfaceType::Network => Some(("network", source.and_then(|s| s.network.as_ref()))),
            InterfaceType::Bridge => Some(("bridge", source.and_then(|s| s.bridge.as_ref()))),
            InterfaceType::Direct => Some(("dev", source.and_then(|s| s.dev.as_ref()))),
            InterfaceType::User | InterfaceType::Ethernet => None,
        };
        if let Some((what, None)) = required {
            errors.push(ValidateError::InterfaceSourceMissing {
                kind: iface.kind.as_str(),
                what,
            });
        }
        if let Some(mac) = &iface.mac {
            if mac.is_multicast() {
                errors.push(ValidateError::MulticastMac(mac.to_string()));
            }
        }
    }
    for (role, chardev) in devices.chardevs() {
        let element = role.as_str();
        let first = chardev.sources.first();
        let missing = |what| ValidateError::ChardevSourceMissing {
            element,
            kind: chardev.kind.as_str(),
            what,
        };
        // A unix socket without a path gets one from the daemon (guest agent channels).
        let path_type = matches!(
            chardev.kind,
            ChardevType::File | ChardevType::Dev | ChardevType::Pipe
        );
        let socket_type = matches!(chardev.kind, ChardevType::Tcp | ChardevType::Udp);
        if path_type && first.and_then(|s| s.path.as_ref()).is_none() {
            errors.push(missing("path"));
        }
        if socket_type && !chardev.sources.iter().any(|s| s.service.is_some()) {
            errors.push(missing("service"));
        }
    }
    for hostdev in &devices.hostdevs {
        if let HostdevSource::Usb {
            vendor,
            product,
            address,
        } = &hostdev.source
        {
            if address.is_none() && (vendor.is_none() || product.is_none()) {
                errors.push(ValidateError::UsbHostdevUnspecified);
            }
        }
    }
}

fn check_seclabels(domain: &Domain, options: &ValidateOptions, errors: &mut Vec<ValidateError>) {
    let domain_level = |source| ValidateError::Seclabel {
        element: "<seclabel>".to_owned(),
        source,
    };
    if let Err(err) = seclabel_rules::check_seclabel_set(&domain.seclabels) {
        errors.push(domain_level(err));
    }
    for label in &domain.seclabels {
        if let Err(err) = seclabel_rules::check_seclabel(label, options.live) {
            errors.push(domain_level(err));
        } else if let Err(err) = seclabel_rules::check_static_label(label) {
            errors.push(domain_level(err));
        }
    }
    let mut check_device = |element: String, labels: &[DeviceSeclabel]| {
        if labels.is_empty() {
            return;
        }
        let result = seclabel_rules::check_device_seclabels(labels)
            .and_then(|()| seclabel_rules::check_device_against_domain(labels, &domain.seclabels));
        if let Err(source) = result {
            errors.push(ValidateError::Seclabel { element, source });
        }
    };
    for disk in &domain.devices.disks {
        for (_, source) in disk.chain() {
            check_device(
                format!("<disk> '{}' <source>", disk.target.dev),
                &source.seclabels,
            );
        }
    }
    for (role, chardev) in domain.devices.chardevs() {
        for source in &chardev.sources {
            check_device(format!("<{}> <source>", role.as_str()), &source.seclabels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DomainType, Seclabel, SeclabelType, Uuid};

    fn domain() -> Domain {
        Domain::new(DomainType::Kvm, "guest", Uuid::nil(), 1024)
    }

    fn seclabel(kind: SeclabelType, model: &str, label: Option<&str>) -> Seclabel {
        let mut seclabel = Seclabel::new(kind, Some(model.to_owned()));
        seclabel.label = label.map(str::to_owned);
        seclabel
    }

    #[test]
    fn garbage_baselabel_ranges_and_dac_labels_are_accepted() {
        let mut domain = domain();
        let mut dynamic = seclabel(SeclabelType::Dynamic, "selinux", None);
        dynamic.baselabel = Some("system_u:system_r:svirt_t:xxxxxx".to_owned());
        domain.seclabels = vec![
            dynamic,
            seclabel(SeclabelType::Static, "dac", Some("+107:+107")),
        ];
        validate(&domain, &ValidateOptions::default()).unwrap();
    }

    #[test]
    fn static_labels_must_fit_their_model() {
        let mut domain = domain();
        domain.seclabels = vec![
            seclabel(SeclabelType::Static, "selinux", Some("svirt_t")),
            seclabel(SeclabelType::Static, "dac", Some("qemu")),
        ];
        let errors = validate(&domain, &ValidateOptions::default()).unwrap_err();
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert!(matches!(
            &errors.0[0],
            ValidateError::Seclabel {
                source: SeclabelError::InvalidContext { .. },
                ..
            }
        ));
        assert_eq!(
            errors.0[1].to_string(),
            "<seclabel>: invalid security label 'qemu' for model dac: expected 'user:group'"
        );
    }

    #[test]
    fn models_built_in_code_get_the_parse_time_rules_too() {
        let mut domain = domain();
        let mut dynamic = seclabel(SeclabelType::Dynamic, "selinux", None);
        dynamic.relabel = false;
        let mut none = seclabel(SeclabelType::None, "dac", None);
        none.relabel = true;
        domain.seclabels = vec![dynamic, none, seclabel(SeclabelType::None, "dac", None)];
        let message = validate(&domain, &ValidateOptions::default())
            .unwrap_err()
            .to_string();
        for expected in [
            "seclabel for model dac is already provided",
            "dynamic label type must use resource relabeling",
            "resource relabeling is not compatible with 'none' label type",
        ] {
            assert!(message.contains(expected), "{message}");
        }
        let live = ValidateOptions {
            live: true,
            ..ValidateOptions::default()
        };
        let mut domain = self::domain();
        domain.seclabels = vec![seclabel(SeclabelType::Dynamic, "selinux", Some("a:b:c:s0"))];
        assert_eq!(
            validate(&domain, &live).unwrap_err().to_string(),
            "<seclabel>: security imagelabel is missing"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let mut domain = domain();
        domain.name = String::new();
        domain.memory = crate::model::MemorySize::from_kib(0);
        domain.vcpu.count = 0;
        let errors = validate(&domain, &ValidateOptions::default()).unwrap_err();
        assert_eq!(
            errors.0,
            [
                ValidateError::EmptyName,
                ValidateError::ZeroMemory,
                ValidateError::CurrentAboveMemory {
                    current: 1024,
                    memory: 0
                },
                ValidateError::VcpuCount(0),
            ]
        );
    }
}
