//! `STORAGE_VOL_UPLOAD` and `STORAGE_VOL_DOWNLOAD`: check the call, open the volume, and hand
//! the connection a stream end over it (see [`crate::stream`]).
//!
//! The volume data itself is read and written by [`crate::driver::storage::transfer`], on the
//! blocking pool, one packet at a time. An upload is audited when it ends: finished (with the
//! bytes received), or incomplete (aborted, failed, client gone: the data written so far stays,
//! as with libvirt). A download is audited when it opens. Refusals are audited like those of
//! every storage call.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use rpc::payloads::StorageVolUploadArgs;
use rpc::procedures::{self as p, Procedure, RemoteProcedure};
use serde_json::Value;

use super::{storage, vol_object};
use crate::audit::Outcome;
use crate::dispatch::{Failure, OwnedCall, StreamHandler, StreamOpen};
use crate::driver::storage::transfer::{Chunk, VolumeReader, VolumeWriter, SPARSE_STREAM};
use crate::driver::storage::volume::VolumeRef;
use crate::driver::storage::{StorageError, StoragePools};
use crate::driver::Driver;
use crate::errors;
use crate::identity::PeerIdentity;
use crate::stream::{
    Holes, Piece, StreamEnds, StreamError, StreamFuture, StreamSink, StreamSource,
};

/// The handler of a stream-opening storage procedure.
pub fn route_stream(procedure: RemoteProcedure) -> Option<StreamHandler> {
    use RemoteProcedure as R;
    let handler: StreamHandler = match procedure {
        R::StorageVolUpload => |o| Box::pin(upload(o)),
        R::StorageVolDownload => |o| Box::pin(download(o)),
        _ => return None,
    };
    Some(handler)
}

/// How a transfer opens its volume: [`StoragePools::open_upload`] or
/// [`StoragePools::open_download`].
type Opener<T> = fn(&StoragePools, &VolumeRef, u64, u64, u32) -> Result<T, StorageError>;

/// What both transfers do first: decode the args, check the call on the volume, open it on the
/// blocking pool. Returns the opened volume (or why not), the flags and the audit object.
async fn open<P, T>(
    o: &OwnedCall,
    opener: Opener<T>,
) -> Result<(Result<T, StorageError>, u32, Value), Failure>
where
    P: Procedure<Args = StorageVolUploadArgs>,
    T: Send + 'static,
{
    let args = o.call.args::<P>()?;
    let vol = o
        .ctx()
        .vol(&o.driver, o.call.procedure, &args.vol, args.flags)?;
    let mut object = vol_object(&vol);
    object["offset"] = args.offset.into();
    object["length"] = args.length.into();
    object["flags"] = args.flags.into();
    let driver = Arc::clone(&o.driver);
    let opened = tokio::task::spawn_blocking(move || {
        opener(driver.storage(), &vol, args.offset, args.length, args.flags)
    })
    .await
    .map_err(|_| internal("opening the volume"))?;
    Ok((opened, args.flags, object))
}

async fn upload(o: OwnedCall) -> Result<StreamOpen, Failure> {
    let (opened, flags, object) =
        open::<p::StorageVolUpload, _>(&o, StoragePools::open_upload).await?;
    let writer = match opened {
        Ok(writer) => writer,
        Err(err) => {
            record(&o.driver, &o.identity, o.call.procedure, object, Err(&err));
            return Err(storage(err));
        }
    };
    let holes = if flags & SPARSE_STREAM != 0 {
        Holes::Accept
    } else {
        Holes::Refuse
    };
    let sink = UploadSink {
        writer: Some(writer),
        audit: Audit {
            driver: Arc::clone(&o.driver),
            identity: o.identity.clone(),
            procedure: o.call.procedure,
            object,
        },
        received: 0,
    };
    Ok(StreamOpen {
        reply: o.call.reply::<p::StorageVolUpload>(&())?,
        ends: StreamEnds::upload(sink, holes),
    })
}

async fn download(o: OwnedCall) -> Result<StreamOpen, Failure> {
    let (opened, _, object) =
        open::<p::StorageVolDownload, _>(&o, StoragePools::open_download).await?;
    record(
        &o.driver,
        &o.identity,
        o.call.procedure,
        object,
        opened.as_ref().map(|_| ()),
    );
    let reader = opened.map_err(storage)?;
    Ok(StreamOpen {
        reply: o.call.reply::<p::StorageVolDownload>(&())?,
        ends: StreamEnds::download(DownloadSource {
            reader: Some(reader),
        }),
    })
}

fn internal(what: &str) -> Failure {
    Failure::remote(rpc::types::RemoteError::new(
        rpc::types::error_code::INTERNAL_ERROR,
        rpc::types::error_domain::STORAGE,
        format!("internal error: {what} failed unexpectedly"),
    ))
}

fn record<E: std::error::Error>(
    driver: &Driver,
    identity: &PeerIdentity,
    procedure: RemoteProcedure,
    object: Value,
    result: Result<(), &E>,
) {
    let outcome = match &result {
        Ok(()) => Outcome::Ok,
        Err(err) => Outcome::Error(&errors::chain(*err)),
    };
    driver
        .audit()
        .record(identity, procedure.name(), object, outcome);
}

/// What an upload's audit line needs.
struct Audit {
    driver: Arc<Driver>,
    identity: PeerIdentity,
    procedure: RemoteProcedure,
    object: Value,
}

impl Audit {
    fn record(&self, received: u64, outcome: Outcome<'_>) {
        let mut object = self.object.clone();
        object["received"] = received.into();
        self.driver
            .audit()
            .record(&self.identity, self.procedure.name(), object, outcome);
    }
}

/// Runs one step of a volume transfer on the blocking pool.
async fn blocking<T, R>(
    slot: &mut Option<T>,
    step: impl FnOnce(&mut T) -> Result<R, StorageError> + Send + 'static,
) -> Result<R, StreamError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let mut inner = slot
        .take()
        .ok_or_else(|| StreamError::io("volume transfer", io::Error::other("already ended")))?;
    let (inner, result) = tokio::task::spawn_blocking(move || {
        let result = step(&mut inner);
        (inner, result)
    })
    .await
    .map_err(|err| StreamError::io("volume transfer", io::Error::other(err.to_string())))?;
    *slot = Some(inner);
    result.map_err(|err| match err {
        // libvirt's fd streams report I/O as system errors ("cannot write to stream: …").
        StorageError::Io { step, path, source } => {
            StreamError::io(format!("cannot {step} {}", path.display()), source)
        }
        other => StreamError::Driver(other.into()),
    })
}

/// The daemon's end of an upload.
struct UploadSink {
    writer: Option<VolumeWriter>,
    audit: Audit,
    received: u64,
}

impl StreamSink for UploadSink {
    fn write(&mut self, data: Bytes) -> StreamFuture<'_, ()> {
        Box::pin(async move {
            self.received = blocking(&mut self.writer, move |w| {
                w.write(&data)?;
                Ok(w.received)
            })
            .await?;
            Ok(())
        })
    }

    fn hole(&mut self, length: u64) -> StreamFuture<'_, ()> {
        Box::pin(async move {
            self.received = blocking(&mut self.writer, move |w| {
                w.hole(length)?;
                Ok(w.received)
            })
            .await?;
            Ok(())
        })
    }

    fn finish(&mut self) -> StreamFuture<'_, ()> {
        Box::pin(async move {
            let result = blocking(&mut self.writer, |w| w.finish()).await;
            match &result {
                Ok(()) => self.audit.record(self.received, Outcome::Ok),
                Err(err) => self
                    .audit
                    .record(self.received, Outcome::Error(&errors::chain(err))),
            }
            // The file is closed now, so the volume is free for the next transfer before the
            // client hears that this one is done.
            self.writer = None;
            result
        })
    }

    fn abort(&mut self, reason: &str) {
        self.writer = None;
        self.audit.record(
            self.received,
            Outcome::Error(&format!("upload incomplete: {reason}")),
        );
    }
}

/// The daemon's end of a download.
struct DownloadSource {
    reader: Option<VolumeReader>,
}

impl StreamSource for DownloadSource {
    fn next(&mut self, max: usize) -> StreamFuture<'_, Piece> {
        Box::pin(async move {
            let chunk = blocking(&mut self.reader, move |r| r.next(max)).await?;
            Ok(match chunk {
                Chunk::Data(data) => Piece::Data(Bytes::from(data)),
                Chunk::Hole(length) => Piece::Hole(length),
                Chunk::End => {
                    // Close the volume as soon as everything has been read.
                    self.reader = None;
                    Piece::End
                }
            })
        })
    }
}
