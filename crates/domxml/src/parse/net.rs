//! `<interface>`.

use super::devices::{device_info, single_attr};
use super::domain::raw_child;
use super::{Elem, PResult};
use crate::model::{Interface, InterfaceSource, InterfaceType, MacAddr};

pub(super) fn interface_of(mut e: Elem<'_, '_>) -> PResult<Interface> {
    let kind = match e.req_attr("type")? {
        "network" => InterfaceType::Network,
        "bridge" => InterfaceType::Bridge,
        "user" => InterfaceType::User,
        "ethernet" => InterfaceType::Ethernet,
        "direct" => InterfaceType::Direct,
        other => return Err(e.invalid_attr("type", other)),
    };
    let mac = match e.child("mac")? {
        None => None,
        Some(mut child) => {
            let value = child.req_attr("address")?;
            let mac = value
                .parse::<MacAddr>()
                .map_err(|_| child.invalid_attr("address", value))?;
            child.finish()?;
            Some(mac)
        }
    };
    let source = match e.child("source")? {
        None => None,
        Some(mut child) => Some(InterfaceSource {
            network: child.attr_string("network")?,
            portgroup: child.attr_string("portgroup")?,
            bridge: child.attr_string("bridge")?,
            dev: child.attr_string("dev")?,
            mode: child.attr_string("mode")?,
            extra: child.finish()?,
        }),
    };
    let target_dev = single_attr(&mut e, "target", "dev")?;
    let model = single_attr(&mut e, "model", "type")?;
    let driver = raw_child(&mut e, "driver")?;
    let link_state = single_attr(&mut e, "link", "state")?;
    let mtu = match e.child("mtu")? {
        None => None,
        Some(mut child) => {
            let size = match child.attr_parse("size")? {
                Some(size) => size,
                None => child.req_attr("size").map(|_| 0)?,
            };
            child.finish()?;
            Some(size)
        }
    };
    let port_isolated = match single_attr(&mut e, "port", "isolated")? {
        None => None,
        Some(value) => Some(
            super::domain::yes_no(&value)
                .ok_or_else(|| e.invalid_attr("port/@isolated", &value))?,
        ),
    };
    let info = device_info(&mut e)?;
    Ok(Interface {
        kind,
        mac,
        source,
        target_dev,
        model,
        driver,
        link_state,
        mtu,
        port_isolated,
        boot_order: info.boot_order,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}
