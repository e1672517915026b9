//! DOMAIN_OPEN_CONSOLE (`virsh console`): the checks of any domain call, then a duplex stream
//! over the session [`Driver::open_console`](crate::driver::Driver::open_console) opens (the
//! broker is [`crate::driver::console`]).

use std::future::Future;
use std::pin::Pin;

use rpc::procedures as p;
use serde_json::json;

use super::{Failure, OwnedCall, StreamOpen};
use crate::stream::{ReaderSource, StreamEnds, WriterSink};

/// Opens the console stream.
pub(super) fn open_console(
    o: OwnedCall,
) -> Pin<Box<dyn Future<Output = Result<StreamOpen, Failure>> + Send>> {
    Box::pin(async move {
        let args = o.call.args::<p::DomainOpenConsole>()?;
        let uuid = o.domain(&args.dom, args.flags)?;
        let opened = o
            .driver
            .open_console(&uuid, args.dev_name.as_deref(), args.flags)
            .await;
        let detail = json!({
            "domain": args.dom.name,
            "device": args.dev_name,
            "force": args.flags & crate::driver::console::CONSOLE_FORCE != 0,
        });
        o.driver
            .audit()
            .record_result(&o.identity, o.call.procedure.name(), detail, &opened);
        let console = opened?;
        let what = format!(
            "the console {} of domain '{}'",
            console.device.alias, args.dom.name
        );
        let reply = o.call.reply::<p::DomainOpenConsole>(&())?;
        Ok(StreamOpen {
            reply,
            ends: StreamEnds::duplex(
                ReaderSource::new(console.reader, what.clone()),
                WriterSink::new(console.writer, what),
            ),
        })
    })
}
