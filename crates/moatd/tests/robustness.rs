//! Bad input from clients (threat T11): every case gets a clear error or a closed connection,
//! and the daemon goes on serving everyone else with its definitions intact.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;
use rpc::client::Client;
use rpc::header::{Header, MessageType, Status};
use rpc::message::Message;
use rpc::payloads::{DomainLookupByNameArgs, DomainLookupByNameRet};
use rpc::procedures::{ConnectGetType, ConnectListAllDomains, DomainLookupByName};
use rpc::types::RemoteError;

const UUID: &str = "0b6c3a8e-4f1d-4e2a-9c3b-5d6e7f8a9b0c";

fn daemon_with_guest() -> TestDaemon {
    let daemon = TestDaemon::start();
    let file = write_file(daemon.dir.path(), "keep.xml", &domain_xml("keep", UUID));
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    daemon
}

/// The daemon still answers and still holds the guest.
#[track_caller]
fn assert_intact(daemon: &mut TestDaemon) {
    assert!(daemon.alive(), "moatd died");
    let names = ok(daemon.virsh(&["list", "--all", "--name"]));
    assert_eq!(names.trim(), "keep");
    assert_eq!(daemon.stored_definitions().len(), 1);
}

fn raw(daemon: &TestDaemon) -> UnixStream {
    let stream = UnixStream::connect(daemon.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads one reply frame and decodes it.
fn read_reply(stream: &mut UnixStream) -> Option<Message> {
    let mut frame = vec![0u8; 4];
    stream.read_exact(&mut frame).ok()?;
    let len = u32::from_be_bytes(frame[..4].try_into().ok()?) as usize;
    frame.resize(len.max(4), 0);
    stream.read_exact(&mut frame[4..]).ok()?;
    Message::decode_frame(&frame).ok()
}

fn error_of(message: &Message) -> RemoteError {
    assert_eq!(message.header.status, Status::Error);
    message.decode_payload::<RemoteError>().unwrap()
}

/// Whether the server closed the stream (read gives EOF or a reset).
fn closed(stream: &mut UnixStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn random_bytes_close_only_that_connection() {
    let mut daemon = daemon_with_guest();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let mut stream = raw(&daemon);
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_be_bytes()[4]
            })
            .collect();
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Whatever it answered, the server ends this connection.
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    assert_intact(&mut daemon);
    threats::record(
        "T11",
        "20 connections sending 4 KiB of random bytes",
        "each closed, daemon and data intact",
        "closed; the stored guest still listed and readable",
        true,
    );
}

#[test]
fn huge_length_word_closes_the_connection_without_allocating() {
    let mut daemon = daemon_with_guest();
    let mut stream = raw(&daemon);
    stream.write_all(&(1u32 << 30).to_be_bytes()).unwrap();
    // The server may already have closed the connection: a failed write is fine.
    let _ = stream.write_all(&[0u8; 64]);
    assert!(
        closed(&mut stream),
        "a 1 GiB frame must close the connection"
    );
    let mut tiny = raw(&daemon);
    tiny.write_all(&3u32.to_be_bytes()).unwrap();
    assert!(
        closed(&mut tiny),
        "a frame shorter than its header must close the connection"
    );
    assert_intact(&mut daemon);
    threats::record(
        "T11",
        "a frame announcing 1 GiB, and one shorter than its header",
        "connection closed without allocating, daemon intact",
        "both connections closed; daemon answers",
        true,
    );
}

#[test]
fn truncated_and_stalled_frames_do_not_block_others() {
    let mut daemon = daemon_with_guest();
    // Half a frame, then silence, kept open while others are served.
    let mut stalled = raw(&daemon);
    stalled.write_all(&100u32.to_be_bytes()).unwrap();
    stalled.write_all(&[0u8; 20]).unwrap();
    // Half a frame, then gone.
    let mut gone = raw(&daemon);
    gone.write_all(&100u32.to_be_bytes()).unwrap();
    gone.write_all(&[0u8; 30]).unwrap();
    drop(gone);
    for _ in 0..5 {
        assert_intact(&mut daemon);
    }
    drop(stalled);
    assert_intact(&mut daemon);
    threats::record(
        "T11",
        "a stalled half frame and a vanished client",
        "other clients served meanwhile",
        "5 other clients served while the half frame stalled",
        true,
    );
}

fn call_frame(header: Header, payload: &[u8]) -> Vec<u8> {
    Message::new(header, payload.to_vec().into())
        .encode()
        .unwrap()
        .to_vec()
}

#[test]
fn wrong_program_version_and_procedure_get_libvirts_errors() {
    let mut daemon = daemon_with_guest();
    let mut stream = raw(&daemon);
    let bad_program = Header {
        program: 0x1234_5678,
        ..Header::remote_call(3, 1)
    };
    stream.write_all(&call_frame(bad_program, &[])).unwrap();
    let reply = read_reply(&mut stream).unwrap();
    let err = error_of(&reply);
    assert_eq!(reply.header.serial, 1);
    assert_eq!(
        err.message.as_deref(),
        Some("Cannot find program 305419896 version 1")
    );
    let bad_version = Header {
        version: 2,
        ..Header::remote_call(3, 2)
    };
    stream.write_all(&call_frame(bad_version, &[])).unwrap();
    let err = error_of(&read_reply(&mut stream).unwrap());
    assert_eq!(
        err.message.as_deref(),
        Some("Cannot find program 536903814 version 2")
    );
    for (number, serial) in [(9999, 3), (-1, 4), (500, 5)] {
        stream
            .write_all(&call_frame(Header::remote_call(number, serial), &[]))
            .unwrap();
        let reply = read_reply(&mut stream).unwrap();
        assert_eq!(reply.header.serial, serial);
        let err = error_of(&reply);
        assert_eq!(err.message, Some(format!("unknown procedure: {number}")));
        assert!(err.is_no_support());
    }
    // A hypervisor call before CONNECT_OPEN.
    stream
        .write_all(&call_frame(Header::remote_call(3, 6), &[]))
        .unwrap();
    let err = error_of(&read_reply(&mut stream).unwrap());
    threats::record(
        "T8",
        "a hypervisor call before the connection is opened",
        "refused, connection kept sane",
        err.message.as_deref().unwrap_or(""),
        err.message.as_deref() == Some("internal error: hypervisor connection not open"),
    );
    assert_eq!(
        err.message.as_deref(),
        Some("internal error: hypervisor connection not open")
    );
    // A reply-typed message from a client is refused, the connection kept.
    let stray = Header {
        message_type: MessageType::Reply,
        ..Header::remote_call(3, 7)
    };
    stream.write_all(&call_frame(stray, &[])).unwrap();
    error_of(&read_reply(&mut stream).unwrap());
    assert_intact(&mut daemon);
}

#[tokio::test]
async fn malformed_payloads_get_an_error_and_the_connection_stays() {
    let daemon = daemon_with_guest();
    let mut client = Client::open(daemon.socket(), "qemu:///system", 0)
        .await
        .unwrap();
    // A lookup whose string length runs past the payload.
    let mut stream = raw(&daemon);
    let mut open = Vec::new();
    open.extend_from_slice(&0u32.to_be_bytes()); // name: NULL
    open.extend_from_slice(&0u32.to_be_bytes()); // flags
    stream
        .write_all(&call_frame(Header::remote_call(1, 0), &open))
        .unwrap();
    assert_eq!(read_reply(&mut stream).unwrap().header.status, Status::Ok);
    let mut payload = 50u32.to_be_bytes().to_vec();
    payload.extend_from_slice(b"keep");
    stream
        .write_all(&call_frame(Header::remote_call(23, 1), &payload))
        .unwrap();
    let err = error_of(&read_reply(&mut stream).unwrap());
    assert!(
        err.message
            .as_deref()
            .unwrap()
            .contains("Unable to decode message payload"),
        "{err:?}"
    );
    // Trailing garbage after a valid payload.
    let mut payload = 4u32.to_be_bytes().to_vec();
    payload.extend_from_slice(b"keep");
    payload.extend_from_slice(&[1, 2, 3, 4]);
    stream
        .write_all(&call_frame(Header::remote_call(23, 2), &payload))
        .unwrap();
    error_of(&read_reply(&mut stream).unwrap());
    // The same connection still works.
    let mut payload = 4u32.to_be_bytes().to_vec();
    payload.extend_from_slice(b"keep");
    stream
        .write_all(&call_frame(Header::remote_call(23, 3), &payload))
        .unwrap();
    let reply = read_reply(&mut stream).unwrap();
    let ret: DomainLookupByNameRet = reply.decode_payload().unwrap();
    assert_eq!(ret.dom.name, "keep");
    // A string over 4 MiB is a protocol violation: that connection closes.
    let mut payload = (5u32 << 20).to_be_bytes().to_vec();
    payload.extend_from_slice(&vec![b'a'; 5 << 20]);
    // The server may close before it has read it all: a failed write is fine.
    let _ = stream.write_all(&call_frame(Header::remote_call(23, 4), &payload));
    assert!(closed(&mut stream));
    threats::record(
        "T11",
        "payloads overrunning their length, trailing garbage, a 5 MiB string",
        "clear error or closed connection, others unaffected",
        "decode errors answered on a working connection; the oversize one closed",
        true,
    );
    // The other client never noticed.
    let ret = client
        .call::<DomainLookupByName>(&DomainLookupByNameArgs {
            name: "keep".into(),
        })
        .await
        .unwrap();
    assert_eq!(ret.dom.name, "keep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients() {
    let mut daemon = daemon_with_guest();
    let socket = daemon.socket();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let socket = socket.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::open(&socket, "qemu:///system", 0).await?;
            for _ in 0..5 {
                let t = client.call::<ConnectGetType>(&()).await?;
                assert_eq!(t.hv_type, "QEMU");
                let ret = client
                    .call::<DomainLookupByName>(&DomainLookupByNameArgs {
                        name: "keep".into(),
                    })
                    .await?;
                assert_eq!(ret.dom.name, "keep");
            }
            let all = client
                .call::<ConnectListAllDomains>(&rpc::payloads::ConnectListAllDomainsArgs {
                    need_results: 1,
                    flags: 0,
                })
                .await?;
            assert_eq!(all.domains.len(), 1, "client {i}");
            client.close().await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_intact(&mut daemon);
}
