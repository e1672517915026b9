//! `<seclabel>` at domain level and inside disk and chardev `<source>`.
//!
//! Label strings are kept verbatim: libvirt accepts a `<baselabel>` whose range is garbage
//! (only its type survives label generation) and DAC labels look like `+107:+107`, so parsing
//! them belongs to the security model that uses them.

/// `type` of a domain-level `<seclabel>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeclabelType {
    /// A label generated when the guest starts (the default).
    Dynamic,
    /// A label fixed by the administrator in `<label>`.
    Static,
    /// The guest is not confined by this model.
    None,
}

impl SeclabelType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            SeclabelType::Dynamic => "dynamic",
            SeclabelType::Static => "static",
            SeclabelType::None => "none",
        }
    }
}

/// A domain-level `<seclabel>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seclabel {
    /// `type`.
    pub kind: SeclabelType,
    /// `model` (`selinux`, `dac`, `landlock`, `none`); filled in from the host's primary model
    /// where libvirt allows leaving it out.
    pub model: Option<String>,
    /// `relabel`: whether the guest's resources are labelled (default yes for dynamic, no for
    /// static and none).
    pub relabel: bool,
    /// `<label>`: the process label (static; dynamic in live XML).
    pub label: Option<String>,
    /// `<imagelabel>`: the label of the guest's images (live XML).
    pub imagelabel: Option<String>,
    /// `<baselabel>`: the label a dynamic one is derived from.
    pub baselabel: Option<String>,
    /// Added by the daemon rather than by the user; omitted from migratable XML.
    pub implicit: bool,
}

impl Seclabel {
    /// A seclabel of the given type and model with libvirt's default `relabel`.
    pub fn new(kind: SeclabelType, model: Option<String>) -> Self {
        Seclabel {
            kind,
            model,
            relabel: kind == SeclabelType::Dynamic,
            label: None,
            imagelabel: None,
            baselabel: None,
            implicit: false,
        }
    }
}

/// A per-device `<seclabel>` inside a disk or chardev `<source>`: overrides the domain's label
/// for that one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeclabel {
    /// `model` the override applies to.
    pub model: Option<String>,
    /// `relabel` (default yes); no means the resource is left as it is.
    pub relabel: bool,
    /// `labelskip='yes'` (live XML only): labelling was skipped, e.g. on NFS.
    pub labelskip: bool,
    /// `<label>`: the label to use instead of the domain's image label.
    pub label: Option<String>,
}

impl DeviceSeclabel {
    /// An override for `model` with the default `relabel='yes'` and no label.
    pub fn new(model: Option<String>) -> Self {
        DeviceSeclabel {
            model,
            relabel: true,
            labelskip: false,
            label: None,
        }
    }
}
