//! The `landlock` model's labels: a name per guest, like AppArmor's `libvirt-<uuid>` profiles.
//!
//! Landlock has no labels on files and no global namespace to collide in: the guest's QEMU is
//! confined by a path allow-list built from [`crate::resources::collect`], and enforcement is
//! the jail's. The label only names the ruleset in logs and in `virsh dominfo`.

use domxml::model::{Seclabel, SeclabelType};
use domxml::Domain;

use crate::stack::LabelError;

/// The model name.
pub const MODEL: &str = "landlock";

/// Prefix of generated labels.
pub const PREFIX: &str = "moat-";

/// The live label for `def` from its `landlock` seclabel.
pub(crate) fn generate(def: &Domain, given: &Seclabel) -> Result<Seclabel, LabelError> {
    let mut out = given.clone();
    out.model = Some(MODEL.to_owned());
    if given.baselabel.is_some() {
        return Err(LabelError::BaseLabel { model: MODEL });
    }
    if given.imagelabel.is_some() {
        return Err(LabelError::ImageLabelAlreadyDefined);
    }
    match given.kind {
        SeclabelType::Dynamic => {
            if given.label.is_some() {
                return Err(LabelError::LabelAlreadyDefined);
            }
            out.label = Some(format!("{PREFIX}{}", def.uuid));
        }
        SeclabelType::Static => {
            if given.label.is_none() {
                return Err(LabelError::LabelMissing {
                    model: MODEL,
                    domain: def.name.clone(),
                });
            }
        }
        SeclabelType::None => return Ok(out),
    }
    out.imagelabel.clone_from(&out.label);
    Ok(out)
}
