//! End to end: the crate's client against a toy server built from the
//! crate's server-side pieces, over a real unix socket in a tempdir.

#[cfg(test)]
mod e2e {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use rpc::client::{Client, ClientError};
    use rpc::header::{Header, KeepaliveProcedure};
    use rpc::message::{Call, Disposition, Incoming, Message, MessageError};
    use rpc::payloads::*;
    use rpc::procedures::*;
    use rpc::transport::{FrameReader, FrameWriter, TransportError};
    use rpc::types::{error_code, AuthType, NonnullDomain, RemoteError, Uuid};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{UnixListener, UnixStream};

    fn demo() -> NonnullDomain {
        NonnullDomain {
            name: "demo".into(),
            uuid: Uuid([7; 16]),
            id: -1,
        }
    }

    /// Counts PONGs received, to check the client answers PINGs.
    #[derive(Default)]
    struct Stats {
        pongs: AtomicUsize,
        closed_for_violation: AtomicUsize,
    }

    fn answer(call: &Call) -> Result<Message, MessageError> {
        use RemoteProcedure as P;
        let msg = match call.procedure {
            P::AuthList => call.reply::<AuthList>(&AuthListRet {
                types: vec![AuthType::None],
            })?,
            P::ConnectSupportsFeature => {
                let args = call.args::<ConnectSupportsFeature>()?;
                call.reply::<ConnectSupportsFeature>(&ConnectSupportsFeatureRet {
                    supported: i32::from(args.feature == 14),
                })?
            }
            P::ConnectOpen => {
                call.args::<ConnectOpen>()?;
                call.reply::<ConnectOpen>(&())?
            }
            P::ConnectClose => call.reply::<ConnectClose>(&())?,
            P::ConnectGetType => call.reply::<ConnectGetType>(&ConnectGetTypeRet {
                hv_type: "QEMU".into(),
            })?,
            P::DomainLookupByName => {
                let args = call.args::<DomainLookupByName>()?;
                if args.name == "demo" {
                    call.reply::<DomainLookupByName>(&DomainLookupByNameRet { dom: demo() })?
                } else {
                    call.error_reply(&RemoteError::new(
                        error_code::NO_DOMAIN,
                        10,
                        format!(
                            "Domain not found: no domain with matching name '{}'",
                            args.name
                        ),
                    ))?
                }
            }
            P::ConnectListAllDomains => {
                let args = call.args::<ConnectListAllDomains>()?;
                let domains = if args.need_results != 0 {
                    vec![demo()]
                } else {
                    Vec::new()
                };
                call.reply::<ConnectListAllDomains>(&ConnectListAllDomainsRet { domains, ret: 1 })?
            }
            P::DomainGetInfo => {
                call.args::<DomainGetInfo>()?;
                call.reply::<DomainGetInfo>(&DomainGetInfoRet {
                    state: 5,
                    max_mem: 1 << 20,
                    memory: 1 << 19,
                    nr_virt_cpu: 2,
                    cpu_time: 0,
                })?
            }
            P::ConnectDomainEventCallbackRegisterAny => {
                call.args::<ConnectDomainEventCallbackRegisterAny>()?;
                call.reply::<ConnectDomainEventCallbackRegisterAny>(
                    &ConnectDomainEventCallbackRegisterAnyRet { callback_id: 0 },
                )?
            }
            P::AuthSaslStep => {
                // Decoded only to exercise the array limit.
                call.args::<AuthSaslStep>()?;
                call.error_reply(&RemoteError::unknown_procedure(call.procedure.number()))?
            }
            _ => call.error_reply(&RemoteError::unknown_procedure(call.procedure.number()))?,
        };
        Ok(msg)
    }

    async fn serve_one(stream: UnixStream, stats: Arc<Stats>) {
        let (read, write) = stream.into_split();
        let mut reader = FrameReader::new(read);
        let mut writer = FrameWriter::new(write);
        loop {
            let msg = match reader.read_message().await {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(TransportError::Frame { .. }) => {
                    stats.closed_for_violation.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Err(_) => return,
            };
            let call = match Incoming::classify(msg) {
                Incoming::Call(call) => call,
                Incoming::Keepalive(KeepaliveProcedure::Ping) => {
                    let pong = Message::keepalive(KeepaliveProcedure::Pong);
                    if writer.write_message(&pong).await.is_err() {
                        return;
                    }
                    continue;
                }
                Incoming::Keepalive(KeepaliveProcedure::Pong) => {
                    stats.pongs.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Incoming::Reject { header, error } => {
                    let reply = Message::error_reply(&header, &error).unwrap();
                    if writer.write_message(&reply).await.is_err() {
                        return;
                    }
                    continue;
                }
                Incoming::Stream(_) => continue,
            };
            // Ping the client before answering GET_INFO, to check it PONGs
            // while it waits.
            if call.procedure == RemoteProcedure::DomainGetInfo {
                let ping = Message::keepalive(KeepaliveProcedure::Ping);
                if writer.write_message(&ping).await.is_err() {
                    return;
                }
            }
            let reply = match answer(&call) {
                Ok(reply) => reply,
                Err(err) => match err.disposition() {
                    Disposition::Close => {
                        stats.closed_for_violation.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    Disposition::ErrorReply => call.error_reply(&err.to_remote_error()).unwrap(),
                },
            };
            if writer.write_message(&reply).await.is_err() {
                return;
            }
            if call.procedure == RemoteProcedure::ConnectDomainEventCallbackRegisterAny {
                let event = Message::event::<DomainEventCallbackLifecycle>(
                    &DomainEventCallbackLifecycleMsg {
                        callback_id: 0,
                        msg: DomainEventLifecycleMsg {
                            dom: demo(),
                            event: 0,
                            detail: 0,
                        },
                    },
                )
                .unwrap();
                if writer.write_message(&event).await.is_err() {
                    return;
                }
            }
            if call.procedure == RemoteProcedure::ConnectClose {
                return;
            }
        }
    }

    struct Server {
        _dir: tempfile::TempDir,
        path: PathBuf,
        stats: Arc<Stats>,
    }

    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("moat-sock");
        let listener = UnixListener::bind(&path).unwrap();
        let stats = Arc::new(Stats::default());
        let server_stats = Arc::clone(&stats);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, Arc::clone(&server_stats)));
            }
        });
        Server {
            _dir: dir,
            path,
            stats,
        }
    }

    async fn open(path: &Path) -> Client {
        Client::open(path, "qemu:///system", 0).await.unwrap()
    }

    #[tokio::test]
    async fn session_like_virsh() {
        let server = start().await;
        let mut client = open(&server.path).await;

        let feature = client
            .call::<ConnectSupportsFeature>(&ConnectSupportsFeatureArgs { feature: 14 })
            .await
            .unwrap();
        assert_eq!(feature.supported, 1);

        let ty = client.call::<ConnectGetType>(&()).await.unwrap();
        assert_eq!(ty.hv_type, "QEMU");

        let found = client
            .call::<DomainLookupByName>(&DomainLookupByNameArgs {
                name: "demo".into(),
            })
            .await
            .unwrap();
        assert_eq!(found.dom, demo());

        let err = client
            .call::<DomainLookupByName>(&DomainLookupByNameArgs {
                name: "nope".into(),
            })
            .await
            .unwrap_err();
        let remote = err.remote_error().unwrap();
        assert_eq!(remote.code, error_code::NO_DOMAIN);
        assert!(remote.message.as_deref().unwrap().contains("'nope'"));

        let list = client
            .call::<ConnectListAllDomains>(&ConnectListAllDomainsArgs {
                need_results: 1,
                flags: 3,
            })
            .await
            .unwrap();
        assert_eq!(list.domains, vec![demo()]);

        let info = client
            .call::<DomainGetInfo>(&DomainGetInfoArgs { dom: demo() })
            .await
            .unwrap();
        assert_eq!((info.state, info.nr_virt_cpu), (5, 2));

        client
            .call::<ConnectDomainEventCallbackRegisterAny>(
                &ConnectDomainEventCallbackRegisterAnyArgs {
                    event_id: 0,
                    dom: None,
                },
            )
            .await
            .unwrap();
        let event = client.next_event().await.unwrap().unwrap();
        assert_eq!(event.header.procedure, 318);
        let body: DomainEventCallbackLifecycleMsg = event.decode_payload().unwrap();
        assert_eq!(body.msg.dom.name, "demo");

        client.close().await.unwrap();
        assert_eq!(server.stats.pongs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unimplemented_procedure_degrades_as_no_support() {
        let server = start().await;
        let mut client = open(&server.path).await;
        let err = client.call::<NodeGetInfo>(&()).await.unwrap_err();
        assert!(matches!(err, ClientError::Remote { .. }));
        let remote = err.remote_error().unwrap();
        assert!(remote.is_no_support());
        assert_eq!(remote.message.as_deref(), Some("unknown procedure: 6"));
        // The connection is still usable.
        client.call::<ConnectGetType>(&()).await.unwrap();
    }

    async fn raw_connect(path: &Path) -> UnixStream {
        UnixStream::connect(path).await.unwrap()
    }

    async fn read_reply(stream: &mut UnixStream) -> Message {
        let mut reader = FrameReader::new(stream);
        reader.read_message().await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn malformed_args_get_an_error_reply_and_the_connection_survives() {
        let server = start().await;
        let mut raw = raw_connect(&server.path).await;
        // LOOKUP_BY_NAME whose name claims 5 bytes but carries 1.
        let bad = Message::new(
            Header::remote_call(23, 1),
            bytes::Bytes::from_static(&[0, 0, 0, 5, b'd', 0, 0, 0]),
        );
        raw.write_all(&bad.encode().unwrap()).await.unwrap();
        let reply = read_reply(&mut raw).await;
        assert_eq!(reply.header.serial, 1);
        let err: RemoteError = reply.decode_payload().unwrap();
        assert_eq!(err.code, error_code::RPC);
        // Same connection, a good call.
        let good = Message::call::<ConnectGetType>(2, &()).unwrap();
        raw.write_all(&good.encode().unwrap()).await.unwrap();
        let reply = read_reply(&mut raw).await;
        let ret: ConnectGetTypeRet = reply.decode_payload().unwrap();
        assert_eq!(ret.hv_type, "QEMU");
    }

    #[tokio::test]
    async fn unknown_program_gets_libvirts_error() {
        let server = start().await;
        let mut raw = raw_connect(&server.path).await;
        let msg = Message::new(
            Header {
                program: 0x1234,
                ..Header::remote_call(1, 5)
            },
            bytes::Bytes::new(),
        );
        raw.write_all(&msg.encode().unwrap()).await.unwrap();
        let reply = read_reply(&mut raw).await;
        let err: RemoteError = reply.decode_payload().unwrap();
        assert_eq!(
            err.message.as_deref(),
            Some("Cannot find program 4660 version 1")
        );
        assert_eq!(reply.header.serial, 5);
    }

    #[tokio::test]
    async fn protocol_violations_close_only_that_connection() {
        let server = start().await;
        let mut bystander = open(&server.path).await;

        // A 1 GiB length word.
        let mut huge = raw_connect(&server.path).await;
        huge.write_all(&0x4000_0000u32.to_be_bytes()).await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(huge.read_to_end(&mut rest).await.unwrap(), 0);

        // A string over REMOTE_STRING_MAX inside an otherwise fine frame.
        let mut oversize = raw_connect(&server.path).await;
        let msg = Message::new(
            Header::remote_call(23, 1),
            bytes::Bytes::copy_from_slice(&0x0040_0001u32.to_be_bytes()),
        );
        oversize.write_all(&msg.encode().unwrap()).await.unwrap();
        assert_eq!(oversize.read_to_end(&mut rest).await.unwrap(), 0);

        // An array over its MAX (AUTH_SASL_STEP data, char<65536>).
        let mut array = raw_connect(&server.path).await;
        let mut payload = 0u32.to_be_bytes().to_vec();
        payload.extend_from_slice(&70_000u32.to_be_bytes());
        let msg = Message::new(Header::remote_call(69, 1), payload.into());
        array.write_all(&msg.encode().unwrap()).await.unwrap();
        assert_eq!(array.read_to_end(&mut rest).await.unwrap(), 0);

        assert_eq!(server.stats.closed_for_violation.load(Ordering::SeqCst), 3);
        let ty = bystander.call::<ConnectGetType>(&()).await.unwrap();
        assert_eq!(ty.hv_type, "QEMU");
    }
}
