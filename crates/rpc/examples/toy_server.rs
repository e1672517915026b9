//! A toy libvirt-protocol server with one fixed inactive domain, `demo`, built
//! only from this crate's pieces. It exists to check the wire format against
//! the real clients by hand:
//!
//! ```sh
//! cargo run -p rpc --example toy_server -- /tmp/toy-sock &
//! virsh -c 'qemu+unix:///system?socket=/tmp/toy-sock' list --all
//! virsh -c 'qemu+unix:///system?socket=/tmp/toy-sock' dominfo demo
//! ```
//!
//! Every procedure it does not know gets libvirtd's "unknown procedure" error,
//! so clients degrade as they do against libvirtd.

use std::path::PathBuf;

use rpc::header::KeepaliveProcedure;
use rpc::message::{Call, Disposition, Incoming, Message, MessageError};
use rpc::payloads::*;
use rpc::procedures::*;
use rpc::transport::{FrameReader, FrameWriter};
use rpc::types::{error_code, error_domain, AuthType, NonnullDomain, RemoteError, Uuid};
use tokio::net::{UnixListener, UnixStream};

const DEMO_XML: &str = "<domain type='qemu'>\n  <name>demo</name>\n  \
    <uuid>07070707-0707-0707-0707-070707070707</uuid>\n  <memory unit='KiB'>524288</memory>\n  \
    <vcpu>2</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n</domain>\n";

fn demo() -> NonnullDomain {
    NonnullDomain {
        name: "demo".into(),
        uuid: Uuid([7; 16]),
        id: -1,
    }
}

fn no_domain() -> RemoteError {
    RemoteError::new(
        error_code::NO_DOMAIN,
        error_domain::QEMU,
        "Domain not found",
    )
}

fn answer(call: &Call) -> Result<Message, MessageError> {
    use RemoteProcedure as P;
    match call.procedure {
        P::AuthList => call.reply::<AuthList>(&AuthListRet {
            types: vec![AuthType::None],
        }),
        P::ConnectSupportsFeature => {
            call.args::<ConnectSupportsFeature>()?;
            call.reply::<ConnectSupportsFeature>(&ConnectSupportsFeatureRet { supported: 0 })
        }
        P::ConnectOpen => {
            call.args::<ConnectOpen>()?;
            call.reply::<ConnectOpen>(&())
        }
        P::ConnectClose => call.reply::<ConnectClose>(&()),
        P::ConnectGetType => call.reply::<ConnectGetType>(&ConnectGetTypeRet {
            hv_type: "QEMU".into(),
        }),
        P::ConnectGetVersion => {
            call.reply::<ConnectGetVersion>(&ConnectGetVersionRet { hv_ver: 7_002_000 })
        }
        P::ConnectGetLibVersion => {
            call.reply::<ConnectGetLibVersion>(&ConnectGetLibVersionRet { lib_ver: 9_000_000 })
        }
        P::ConnectGetHostname => call.reply::<ConnectGetHostname>(&ConnectGetHostnameRet {
            hostname: "toy".into(),
        }),
        P::NodeGetInfo => call.reply::<NodeGetInfo>(&NodeGetInfoRet {
            model: NodeGetInfoRet::model_from("x86_64"),
            memory: 8 << 20,
            cpus: 2,
            mhz: 2000,
            nodes: 1,
            sockets: 1,
            cores: 2,
            threads: 1,
        }),
        P::NodeGetSecurityModel => {
            call.reply::<NodeGetSecurityModel>(&NodeGetSecurityModelRet::new("", ""))
        }
        P::ConnectListAllDomains => {
            let args = call.args::<ConnectListAllDomains>()?;
            // Flag 1 (ACTIVE) alone excludes our one inactive domain.
            let domains = if args.flags == 1 {
                vec![]
            } else {
                vec![demo()]
            };
            let ret = u32::try_from(domains.len()).unwrap_or(u32::MAX);
            let domains = if args.need_results != 0 {
                domains
            } else {
                vec![]
            };
            call.reply::<ConnectListAllDomains>(&ConnectListAllDomainsRet { domains, ret })
        }
        P::DomainLookupByName => {
            let args = call.args::<DomainLookupByName>()?;
            if args.name == "demo" {
                call.reply::<DomainLookupByName>(&DomainLookupByNameRet { dom: demo() })
            } else {
                call.error_reply(&no_domain())
            }
        }
        P::DomainLookupByUuid => {
            let args = call.args::<DomainLookupByUuid>()?;
            if args.uuid == demo().uuid {
                call.reply::<DomainLookupByUuid>(&DomainLookupByUuidRet { dom: demo() })
            } else {
                call.error_reply(&no_domain())
            }
        }
        P::DomainLookupById => {
            call.args::<DomainLookupById>()?;
            call.error_reply(&no_domain())
        }
        P::DomainGetState => {
            call.args::<DomainGetState>()?;
            call.reply::<DomainGetState>(&DomainGetStateRet {
                state: 5,
                reason: 0,
            })
        }
        P::DomainGetInfo => {
            call.args::<DomainGetInfo>()?;
            call.reply::<DomainGetInfo>(&DomainGetInfoRet {
                state: 5,
                max_mem: 524_288,
                memory: 524_288,
                nr_virt_cpu: 2,
                cpu_time: 0,
            })
        }
        P::DomainGetOsType => {
            call.args::<DomainGetOsType>()?;
            call.reply::<DomainGetOsType>(&DomainGetOsTypeRet {
                os_type: "hvm".into(),
            })
        }
        P::DomainIsPersistent => {
            call.args::<DomainIsPersistent>()?;
            call.reply::<DomainIsPersistent>(&DomainIsPersistentRet { persistent: 1 })
        }
        P::DomainIsActive => {
            call.args::<DomainIsActive>()?;
            call.reply::<DomainIsActive>(&DomainIsActiveRet { active: 0 })
        }
        P::DomainGetAutostart => {
            call.args::<DomainGetAutostart>()?;
            call.reply::<DomainGetAutostart>(&DomainGetAutostartRet { autostart: 0 })
        }
        P::DomainGetXmlDesc => {
            call.args::<DomainGetXmlDesc>()?;
            call.reply::<DomainGetXmlDesc>(&DomainGetXmlDescRet {
                xml: DEMO_XML.into(),
            })
        }
        _ => call.error_reply(&RemoteError::unknown_procedure(call.procedure.number())),
    }
}

async fn serve(stream: UnixStream) {
    let (read, write) = stream.into_split();
    let mut reader = FrameReader::new(read);
    let mut writer = FrameWriter::new(write);
    loop {
        let msg = match reader.read_message().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return,
            Err(err) => {
                eprintln!("closing connection: {err}");
                return;
            }
        };
        let (reply, close) = match Incoming::classify(msg) {
            Incoming::Call(call) => {
                let close = call.procedure == RemoteProcedure::ConnectClose;
                eprintln!("call {} serial {}", call.procedure, call.header.serial);
                match answer(&call) {
                    Ok(reply) => (Some(reply), close),
                    Err(err) if err.disposition() == Disposition::Close => {
                        eprintln!("closing connection: {err}");
                        return;
                    }
                    Err(err) => (call.error_reply(&err.to_remote_error()).ok(), close),
                }
            }
            Incoming::Keepalive(KeepaliveProcedure::Ping) => {
                (Some(Message::keepalive(KeepaliveProcedure::Pong)), false)
            }
            Incoming::Keepalive(KeepaliveProcedure::Pong) | Incoming::Stream(_) => (None, false),
            Incoming::Reject { header, error } => {
                (Message::error_reply(&header, &error).ok(), false)
            }
        };
        if let Some(reply) = reply {
            if let Err(err) = writer.write_message(&reply).await {
                eprintln!("closing connection: {err}");
                return;
            }
        }
        if close {
            return;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: toy_server SOCKET_PATH");
        return Ok(());
    };
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    eprintln!("listening on {}", path.display());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream));
    }
}
