//! `<seclabel>`: domain level and per device, with libvirt's parse-time rules.

use super::{Elem, PResult, ParseErrorKind};
use crate::model::{DeviceSeclabel, Seclabel, SeclabelType};
use crate::seclabel_rules::{self, SeclabelError};

fn seclabel_error(e: &Elem<'_, '_>, err: SeclabelError) -> super::ParseError {
    e.error(ParseErrorKind::Seclabel(err))
}

fn relabel_of(e: &mut Elem<'_, '_>) -> PResult<Option<bool>> {
    match e.attr("relabel")? {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => Err(e.attr_error(
            "relabel",
            ParseErrorKind::Seclabel(SeclabelError::InvalidRelabel(other.to_owned())),
        )),
    }
}

/// Reads the domain's `<seclabel>` children, applying defaults and libvirt's rules.
pub(super) fn parse_domain_seclabels(parent: &mut Elem<'_, '_>) -> PResult<Vec<Seclabel>> {
    let live = parent.options().live;
    let elements = parent.children("seclabel")?;
    let count = elements.len();
    let mut labels: Vec<Seclabel> = Vec::with_capacity(count);
    let mut last = None;
    for mut e in elements {
        let label = parse_one(&mut e, live)?;
        if label.model.is_none() && count > 1 {
            return Err(seclabel_error(&e, SeclabelError::MissingModelMultiple));
        }
        if labels.iter().any(|earlier| earlier.model == label.model) {
            let model = seclabel_rules::model_name(label.model.as_deref());
            return Err(seclabel_error(&e, SeclabelError::DuplicateModel(model)));
        }
        last = Some((e.node.range().start, e.path()));
        e.finish()?;
        labels.push(label);
    }
    if let ([label], Some(host_model), Some((offset, path))) = (
        labels.as_mut_slice(),
        parent.options().host_security_model.as_deref(),
        last,
    ) {
        if label.model.is_none() {
            let may_default = label.kind == SeclabelType::None
                || (label.kind == SeclabelType::Dynamic && label.baselabel.is_none() && !live);
            if !may_default {
                return Err(parent.ctx.error_at(
                    offset,
                    path,
                    ParseErrorKind::Seclabel(SeclabelError::MissingModel),
                ));
            }
            label.model = Some(host_model.to_owned());
            if host_model == "none" && !live {
                label.kind = SeclabelType::None;
                label.relabel = false;
            }
        }
    }
    Ok(labels)
}

fn parse_one(e: &mut Elem<'_, '_>, live: bool) -> PResult<Seclabel> {
    let kind = match e.attr("type")? {
        None | Some("dynamic") => SeclabelType::Dynamic,
        Some("static") => SeclabelType::Static,
        Some("none") => SeclabelType::None,
        Some(other) => {
            return Err(e.attr_error(
                "type",
                ParseErrorKind::Seclabel(SeclabelError::InvalidType(other.to_owned())),
            ))
        }
    };
    let model = e.attr_string("model")?;
    let relabel = match relabel_of(e)? {
        Some(false) if kind == SeclabelType::Dynamic => {
            return Err(e.attr_error(
                "relabel",
                ParseErrorKind::Seclabel(SeclabelError::DynamicWithoutRelabel),
            ))
        }
        Some(true) if kind == SeclabelType::None => {
            return Err(e.attr_error(
                "relabel",
                ParseErrorKind::Seclabel(SeclabelError::NoneWithRelabel),
            ))
        }
        Some(relabel) => relabel,
        None => kind == SeclabelType::Dynamic,
    };
    let mut label = Seclabel::new(kind, model);
    label.relabel = relabel;

    if label.model.as_deref() == Some("none") {
        if live && kind != SeclabelType::None {
            return Err(seclabel_error(
                e,
                SeclabelError::ModelNoneType(kind.as_str().to_owned()),
            ));
        }
        label.kind = SeclabelType::None;
        label.relabel = false;
        // Nothing else applies to model none; libvirt ignores the children.
        let _ = e.children("label")?;
        let _ = e.children("imagelabel")?;
        let _ = e.children("baselabel")?;
        return Ok(label);
    }

    let text = |e: &mut Elem<'_, '_>, name: &str| -> PResult<Option<String>> {
        Ok(e.child_text(name)?.filter(|text| !text.is_empty()))
    };
    let label_text = text(e, "label")?;
    let imagelabel_text = text(e, "imagelabel")?;
    let baselabel_text = text(e, "baselabel")?;

    if kind == SeclabelType::Static || (live && kind != SeclabelType::None) {
        label.label = label_text;
        if label.label.is_none() {
            return Err(seclabel_error(e, SeclabelError::LabelMissing));
        }
    }
    if relabel && live && kind != SeclabelType::None {
        label.imagelabel = imagelabel_text;
        if label.imagelabel.is_none() {
            return Err(seclabel_error(e, SeclabelError::ImagelabelMissing));
        }
    }
    if kind == SeclabelType::Dynamic {
        label.baselabel = baselabel_text;
    }
    Ok(label)
}

/// Reads the per-device `<seclabel>` children of a disk or chardev `<source>`.
pub(super) fn parse_device_seclabels(source: &mut Elem<'_, '_>) -> PResult<Vec<DeviceSeclabel>> {
    let live = source.options().live;
    let mut labels: Vec<DeviceSeclabel> = Vec::new();
    for mut e in source.children("seclabel")? {
        let model = e.attr_string("model")?;
        if labels.iter().any(|earlier| earlier.model == model) {
            let name = seclabel_rules::model_name(model.as_deref());
            return Err(seclabel_error(&e, SeclabelError::DuplicateModel(name)));
        }
        let relabel = relabel_of(&mut e)?.unwrap_or(true);
        let labelskip = match e.attr("labelskip")? {
            Some(value) if live => match value {
                "yes" => true,
                "no" => false,
                other => return Err(e.invalid_attr("labelskip", other)),
            },
            _ => false,
        };
        let label = e.child_text("label")?.filter(|text| !text.is_empty());
        if label.is_some() && !relabel {
            let name = seclabel_rules::model_name(model.as_deref());
            return Err(seclabel_error(&e, SeclabelError::LabelWithoutRelabel(name)));
        }
        e.finish()?;
        labels.push(DeviceSeclabel {
            model,
            relabel,
            labelskip,
            label,
        });
    }
    Ok(labels)
}
