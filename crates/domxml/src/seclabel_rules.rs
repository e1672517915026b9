//! libvirt's rules for `<seclabel>`, shared by the parser (which reports them with a position) and
//! [`validate()`](crate::validate()) (which checks models built in code).
//!
//! The messages are libvirt's own (reference/svirt-selinux.md §2), word for word, because clients
//! and tests match on them; that is why one of them starts with a capital letter.

use crate::model::{DeviceSeclabel, Seclabel, SeclabelType};

/// A `<seclabel>` that breaks libvirt's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeclabelError {
    /// `type` is not dynamic, static or none.
    #[error("invalid security type '{0}'")]
    InvalidType(String),
    /// `relabel` is not yes or no.
    #[error("invalid security relabel value {0}")]
    InvalidRelabel(String),
    /// `type='dynamic' relabel='no'`.
    #[error("dynamic label type must use resource relabeling")]
    DynamicWithoutRelabel,
    /// `type='none' relabel='yes'`.
    #[error("resource relabeling is not compatible with 'none' label type")]
    NoneWithRelabel,
    /// `model='none'` with another type in live XML.
    #[error("unsupported type='{0}' to model 'none'")]
    ModelNoneType(String),
    /// A static label (or a dynamic one in live XML) without `<label>`.
    #[error("security label is missing")]
    LabelMissing,
    /// Live XML with relabeling but without `<imagelabel>`.
    #[error("security imagelabel is missing")]
    ImagelabelMissing,
    /// Two seclabels for one model.
    #[error("seclabel for model {0} is already provided")]
    DuplicateModel(String),
    /// Several seclabels, one without `model`.
    #[error("missing security model when using multiple labels")]
    MissingModelMultiple,
    /// A single model-less seclabel that cannot take the host's model.
    #[error("missing security model in domain seclabel")]
    MissingModel,
    /// A per-device override where the domain's label of that model has relabel=no.
    #[error("label overrides require relabeling to be enabled at the domain level")]
    OverrideWithoutDomainRelabel,
    /// A per-device `<label>` with `relabel='no'`.
    #[error("Cannot specify a label if relabelling is turned off. model={0}")]
    LabelWithoutRelabel(String),
    /// A static SELinux label that is not a valid context.
    #[error("invalid security label '{label}' for model selinux")]
    InvalidContext {
        /// The label as written.
        label: String,
        /// Why it is not a context.
        #[source]
        source: seclabel::ContextError,
    },
    /// A static DAC label that is not `user:group`.
    #[error("invalid security label '{0}' for model dac: expected 'user:group'")]
    InvalidDacLabel(String),
}

/// How a model name reads in libvirt's messages (`(null)` when absent).
pub(crate) fn model_name(model: Option<&str>) -> String {
    model.unwrap_or("(null)").to_owned()
}

/// Checks one domain-level seclabel on its own: type/relabel combinations, required labels.
pub(crate) fn check_seclabel(label: &Seclabel, live: bool) -> Result<(), SeclabelError> {
    match (label.kind, label.relabel) {
        (SeclabelType::Dynamic, false) => return Err(SeclabelError::DynamicWithoutRelabel),
        (SeclabelType::None, true) => return Err(SeclabelError::NoneWithRelabel),
        _ => {}
    }
    if label.model.as_deref() == Some("none") {
        if label.kind != SeclabelType::None {
            return Err(SeclabelError::ModelNoneType(label.kind.as_str().to_owned()));
        }
        return Ok(());
    }
    let label_required =
        label.kind == SeclabelType::Static || (live && label.kind != SeclabelType::None);
    if label_required && label.label.as_deref().map_or(true, str::is_empty) {
        return Err(SeclabelError::LabelMissing);
    }
    let imagelabel_required = live && label.relabel && label.kind != SeclabelType::None;
    if imagelabel_required && label.imagelabel.as_deref().map_or(true, str::is_empty) {
        return Err(SeclabelError::ImagelabelMissing);
    }
    Ok(())
}

/// Checks the set of domain-level seclabels: one per model, a model on each when several.
pub(crate) fn check_seclabel_set(labels: &[Seclabel]) -> Result<(), SeclabelError> {
    for (i, label) in labels.iter().enumerate() {
        if label.model.is_none() && labels.len() > 1 {
            return Err(SeclabelError::MissingModelMultiple);
        }
        if labels[..i]
            .iter()
            .any(|earlier| earlier.model == label.model)
        {
            return Err(SeclabelError::DuplicateModel(model_name(
                label.model.as_deref(),
            )));
        }
    }
    Ok(())
}

/// Checks the per-device overrides of one `<source>`: one per model, no label without relabel.
pub(crate) fn check_device_seclabels(labels: &[DeviceSeclabel]) -> Result<(), SeclabelError> {
    for (i, label) in labels.iter().enumerate() {
        if labels[..i]
            .iter()
            .any(|earlier| earlier.model == label.model)
        {
            return Err(SeclabelError::DuplicateModel(model_name(
                label.model.as_deref(),
            )));
        }
        if label.label.is_some() && !label.relabel {
            return Err(SeclabelError::LabelWithoutRelabel(model_name(
                label.model.as_deref(),
            )));
        }
    }
    Ok(())
}

/// Checks per-device overrides against the domain's labels: no override of a model whose
/// domain-level label has relabeling turned off.
pub(crate) fn check_device_against_domain(
    device: &[DeviceSeclabel],
    domain: &[Seclabel],
) -> Result<(), SeclabelError> {
    for label in device {
        let Some(vm) = domain.iter().find(|vm| vm.model == label.model) else {
            continue;
        };
        if !vm.relabel && (label.relabel || label.label.is_some()) {
            return Err(SeclabelError::OverrideWithoutDomainRelabel);
        }
    }
    Ok(())
}

/// Checks that a static label has the syntax its model requires.
pub(crate) fn check_static_label(label: &Seclabel) -> Result<(), SeclabelError> {
    if label.kind != SeclabelType::Static {
        return Ok(());
    }
    let Some(text) = label.label.as_deref() else {
        return Ok(());
    };
    match label.model.as_deref() {
        Some("selinux") => text
            .parse::<seclabel::Context>()
            .map(|_| ())
            .map_err(|source| SeclabelError::InvalidContext {
                label: text.to_owned(),
                source,
            }),
        Some("dac") => match text.split_once(':') {
            Some((user, group)) if !user.is_empty() && !group.is_empty() => Ok(()),
            _ => Err(SeclabelError::InvalidDacLabel(text.to_owned())),
        },
        _ => Ok(()),
    }
}
