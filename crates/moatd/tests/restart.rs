//! Durability: every acknowledged definition survives a SIGKILL of the daemon.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rpc::client::Client;
use rpc::payloads::DomainDefineXmlArgs;
use rpc::procedures::DomainDefineXml;

fn uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_definitions_survive_sigkill() {
    let mut daemon = TestDaemon::start();
    let socket = daemon.socket();
    let mut client = Client::open(&socket, "qemu:///system", 0).await.unwrap();
    for i in 0..100 {
        client
            .call::<DomainDefineXml>(&DomainDefineXmlArgs {
                xml: domain_xml(&format!("g{i}"), &uuid(i)),
            })
            .await
            .unwrap();
    }
    // Four writers define more guests while the daemon is killed under them.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let socket = socket.clone();
        let acknowledged = Arc::clone(&acknowledged);
        writers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let Ok(mut client) = Client::open(&socket, "qemu:///system", 0).await else {
                return done;
            };
            for n in 0..10_000 {
                let i = 1000 + w * 10_000 + n;
                let args = DomainDefineXmlArgs {
                    xml: domain_xml(&format!("g{i}"), &uuid(i)),
                };
                if client.call::<DomainDefineXml>(&args).await.is_err() {
                    break;
                }
                acknowledged.fetch_add(1, Ordering::Relaxed);
                done.push(i);
            }
            done
        }));
    }
    while acknowledged.load(Ordering::Relaxed) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill();
    let mut expected: Vec<usize> = (0..100).collect();
    for writer in writers {
        expected.extend(writer.await.unwrap());
    }
    assert!(expected.len() >= 140);

    daemon.spawn();
    let list = ok(daemon.virsh(&["list", "--all", "--name"]));
    let names: std::collections::HashSet<&str> = list.split_whitespace().collect();
    for i in &expected {
        assert!(
            names.contains(format!("g{i}").as_str()),
            "g{i} was acknowledged but is gone"
        );
    }
    // Nothing half-written: every stored file parses (the daemon skipped none).
    assert_eq!(daemon.stored_definitions().len(), names.len());
    let xml = ok(daemon.virsh(&["dumpxml", "g7"]));
    assert!(xml.contains(&uuid(7)));
}

#[test]
fn corrupt_definitions_are_reported_and_kept() {
    let mut daemon = TestDaemon::start();
    let file = write_file(
        daemon.dir.path(),
        "a.xml",
        &domain_xml("a", "00000000-0000-4000-8000-00000000000a"),
    );
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    daemon.kill();
    let domains = daemon.state_dir().join("domains");
    let broken = domains.join("00000000-0000-4000-8000-00000000000b.xml");
    std::fs::write(&broken, "<domain type='kvm'><name>b</name>").unwrap();
    let mismatched = domains.join("00000000-0000-4000-8000-00000000000c.xml");
    std::fs::write(
        &mismatched,
        domain_xml("c", "00000000-0000-4000-8000-0000000000ff"),
    )
    .unwrap();
    daemon.spawn();
    assert_eq!(ok(daemon.virsh(&["list", "--all", "--name"])).trim(), "a");
    assert!(
        broken.exists() && mismatched.exists(),
        "bad files must be left in place"
    );
}
