//! `<serial>`, `<console>` and `<channel>`.

use super::devices::{device_info, single_attr};
use super::domain::on_off;
use super::seclabel::parse_device_seclabels;
use super::{Elem, PResult};
use crate::model::{Chardev, ChardevSource, ChardevTarget, ChardevType};

pub(super) fn chardev_of(mut e: Elem<'_, '_>) -> PResult<Chardev> {
    let kind = match e.attr("type")?.unwrap_or("pty") {
        "pty" => ChardevType::Pty,
        "file" => ChardevType::File,
        "unix" => ChardevType::Unix,
        "pipe" => ChardevType::Pipe,
        "dev" => ChardevType::Dev,
        "tcp" => ChardevType::Tcp,
        "udp" => ChardevType::Udp,
        "null" => ChardevType::Null,
        "vc" => ChardevType::Vc,
        "stdio" => ChardevType::Stdio,
        "spicevmc" => ChardevType::Spicevmc,
        "spiceport" => ChardevType::Spiceport,
        "qemu-vdagent" => ChardevType::QemuVdagent,
        other => return Err(e.invalid_attr("type", other)),
    };
    let tty = e.attr_string("tty")?;
    let mut sources = Vec::new();
    for mut child in e.children("source")? {
        let mode = child.attr_string("mode")?;
        let path = child.attr_string("path")?;
        let host = child.attr_string("host")?;
        let service = child.attr_string("service")?;
        let append = child.attr_with("append", on_off)?;
        let channel = child.attr_string("channel")?;
        let seclabels = parse_device_seclabels(&mut child)?;
        sources.push(ChardevSource {
            mode,
            path,
            host,
            service,
            append,
            channel,
            seclabels,
            extra: child.finish()?,
        });
    }
    let protocol = single_attr(&mut e, "protocol", "type")?;
    let log = match e.child("log")? {
        None => None,
        Some(mut child) => {
            let file = child.req_attr("file")?.to_owned();
            let append = child.attr_with("append", on_off)?;
            child.finish()?;
            Some((file, append))
        }
    };
    let target = match e.child("target")? {
        None => None,
        Some(mut child) => Some(ChardevTarget {
            kind: child.attr_string("type")?,
            port: child.attr_parse("port")?,
            name: child.attr_string("name")?,
            state: child.attr_string("state")?,
            address: child.attr_string("address")?,
            model: single_attr(&mut child, "model", "name")?,
            extra: child.finish()?,
        }),
    };
    let info = device_info(&mut e)?;
    Ok(Chardev {
        kind,
        tty,
        sources,
        protocol,
        log,
        target,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}
