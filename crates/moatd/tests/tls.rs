//! Remote management over TLS with client certificates (issue 11, guide §2.2.1): a test CA,
//! server and client certificates made here with rcgen, a real moatd listening on a free port,
//! and the real clients (virsh, python-libvirt) on `qemu+tls://127.0.0.1:PORT/system?pkipath=DIR`.
//! Every refusal is checked from the client's side and in the daemon's audit log.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use serde_json::Value;

/// The organisation every test certificate names.
const ORG: &str = "Moat Test";

/// A certificate authority: its certificate and key.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "GB");
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORG);
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2060, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// A server certificate for 127.0.0.1 and localhost, as libvirt clients check it.
    fn server(&self, serial: u64) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "GB");
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORG);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::ExplicitNoCa;
        // libvirt 9.0 wants keyEncipherment too, even for an ECDSA key (fixed in later releases).
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2060, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate `C=GB,O=Moat Test,CN=<cn>`; `expired` makes one that ended in 2021.
    fn client(&self, cn: &str, serial: u64, expired: bool) -> (String, String) {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "GB");
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORG);
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = if expired {
            rcgen::date_time_ymd(2021, 1, 1)
        } else {
            rcgen::date_time_ymd(2060, 1, 1)
        };
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A CRL revoking `serials`.
    fn crl(&self, serials: &[u64]) -> String {
        CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2020, 1, 1),
            next_update: rcgen::date_time_ymd(2060, 1, 1),
            crl_number: SerialNumber::from(1),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|&serial| RevokedCertParams {
                    serial_number: SerialNumber::from(serial),
                    revocation_time: rcgen::date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.cert, &self.key)
        .unwrap()
        .pem()
        .unwrap()
    }
}

/// The server side's files and the clients' pkipath directories, in one temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

/// The serial of the revoked client certificate.
const REVOKED_SERIAL: u64 = 666;

impl Pki {
    /// A CA, the server's certificate (serial 1) and key, and a CRL revoking [`REVOKED_SERIAL`].
    fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca: Ca::new("Moat Test CA"),
        };
        let server = pki.dir.path().join("server");
        std::fs::create_dir(&server).unwrap();
        let (cert, key) = pki.ca.server(1);
        std::fs::write(server.join("servercert.pem"), cert).unwrap();
        std::fs::write(server.join("serverkey.pem"), key).unwrap();
        std::fs::write(server.join("cacert.pem"), pki.ca.cert.pem()).unwrap();
        std::fs::write(server.join("cacrl.pem"), pki.ca.crl(&[REVOKED_SERIAL])).unwrap();
        pki
    }

    fn server_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("server").join(name)
    }

    /// The daemon's TLS options: this PKI, on `port` of 127.0.0.1, with `allowed_dns`.
    fn config(&self, port: u16, allowed_dns: &[&str]) -> String {
        let list = allowed_dns
            .iter()
            .map(|dn| format!("\"{dn}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "listen_tls = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{port}\"\n\
             key_file = \"{}\"\ncert_file = \"{}\"\nca_file = \"{}\"\ncrl_file = \"{}\"\n\
             tls_allowed_dn_list = [{list}]\n",
            self.server_file("serverkey.pem").display(),
            self.server_file("servercert.pem").display(),
            self.server_file("cacert.pem").display(),
            self.server_file("cacrl.pem").display(),
        )
    }

    /// A pkipath directory with this CA and a client certificate from `issuer` (`None`: no
    /// client certificate at all).
    fn client_dir(&self, name: &str, client: Option<(String, String)>) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("cacert.pem"), self.ca.cert.pem()).unwrap();
        if let Some((cert, key)) = client {
            std::fs::write(dir.join("clientcert.pem"), cert).unwrap();
            std::fs::write(dir.join("clientkey.pem"), key).unwrap();
        }
        dir
    }

    /// An allowed client, `C=GB,O=Moat Test,CN=<cn>`, signed by this CA.
    fn allowed(&self, cn: &str, serial: u64) -> PathBuf {
        self.client_dir(cn, Some(self.ca.client(cn, serial, false)))
    }
}

/// A port nobody uses now, below the kernel's ephemeral range (32768 and up) so that the
/// clients' own connections of parallel tests never take it between this check and the bind.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let seed = std::process::id()
            .wrapping_mul(7919)
            .wrapping_add(n.wrapping_mul(104_729))
            .wrapping_add(nanos);
        let port = u16::try_from(20_000 + seed % 12_000).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A moatd on its own free TLS port with `config` added. Another test process may still take
/// the port first; then the daemon cannot bind it and the next port is tried.
fn tls_daemon(pki: &Pki, allowed_dns: &[&str], config: &str) -> (TestDaemon, u16) {
    for _ in 0..4 {
        let port = free_port();
        let text = format!("{}{config}", pki.config(port, allowed_dns));
        if let Ok(daemon) = std::panic::catch_unwind(|| TestDaemon::start_with_config(Some(&text)))
        {
            return (daemon, port);
        }
        eprintln!("moatd could not start on TLS port {port}; trying another");
    }
    panic!("moatd did not start on four TLS ports");
}

/// The URI for a pkipath directory; `no_sanity` stops the client from refusing to send a
/// certificate it knows is bad, so that the server's refusal is what is tested.
fn tls_uri(port: u16, pkipath: &Path, no_sanity: bool) -> String {
    let mut uri = format!(
        "qemu+tls://127.0.0.1:{port}/system?pkipath={}",
        pkipath.display()
    );
    if no_sanity {
        uri.push_str("&no_sanity=1");
    }
    uri
}

/// The daemon's audit records of TLS handshakes.
fn handshakes(daemon: &TestDaemon) -> Vec<Value> {
    let text = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["procedure"] == "TLS_HANDSHAKE")
        .collect()
}

/// Waits for a refused handshake's audit record whose error contains `reason` (or one of its
/// `|`-separated alternatives).
#[track_caller]
fn refusal(daemon: &TestDaemon, reason: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = handshakes(daemon).into_iter().find(|r| {
            r["result"] == "error"
                && r["error"]
                    .as_str()
                    .is_some_and(|e| reason.split('|').any(|alt| e.contains(alt)))
        });
        if let Some(record) = found {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "no audited refusal with '{reason}'; handshakes: {:#?}",
            handshakes(daemon)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The test guest's kernel and initrd (scripts/test-guest/build.sh caches them).
fn guest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = root.join("target/test-guest");
        let status = Command::new("bash")
            .arg(root.join("scripts/test-guest/build.sh"))
            .arg(&out)
            .status()
            .expect("cannot run scripts/test-guest/build.sh");
        assert!(status.success(), "scripts/test-guest/build.sh failed");
        out
    })
}

/// A guest that boots the test kernel (no disk).
fn bootable_xml(name: &str, uuid: &str, dir: &Path) -> String {
    let guest = guest_dir();
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>256</memory><vcpu>1</vcpu><os>\
         <type arch='x86_64' machine='pc'>hvm</type><kernel>{g}/vmlinuz</kernel>\
         <initrd>{g}/initrd.cpio.gz</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline>\
         </os><devices><serial type='file'><source path='{}/{name}.serial'/>\
         <target port='0'/></serial></devices></domain>",
        dir.display(),
        g = guest.display(),
    )
}

#[track_caller]
fn virsh_tls(uri: &str, args: &[&str]) -> Output {
    virsh(uri, false, args)
}

#[test]
fn virsh_over_tls_lists_defines_starts_and_destroys_a_guest() {
    let pki = Pki::new();
    let (daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,CN=admin-*"], "");
    let uri = tls_uri(port, &pki.allowed("admin-1", 10), false);

    assert_eq!(ok(virsh_tls(&uri, &["uri"])).trim(), uri);
    assert_eq!(
        ok(virsh_tls(&uri, &["hostname"])).trim(),
        ok(Command::new("hostname").output().unwrap()).trim()
    );
    let xml = write_file(
        daemon.dir.path(),
        "remote.xml",
        &bootable_xml(
            "remote-1",
            "20000000-0000-4000-8000-000000000001",
            daemon.dir.path(),
        ),
    );
    ok(virsh_tls(&uri, &["define", xml.to_str().unwrap()]));
    assert!(ok(virsh_tls(&uri, &["list", "--all", "--name"])).contains("remote-1"));
    assert!(ok(virsh_tls(&uri, &["dominfo", "remote-1"])).contains("shut off"));
    ok(virsh_tls(&uri, &["start", "remote-1"]));
    assert_eq!(
        ok(virsh_tls(&uri, &["domstate", "remote-1"])).trim(),
        "running"
    );
    // virsh -r over TLS opens the connection read-only: it may look, not act.
    let err = fails(virsh(&uri, true, &["destroy", "remote-1"]));
    assert!(err.contains("read only access"), "{err}");
    ok(virsh_tls(&uri, &["destroy", "remote-1"]));
    assert_eq!(
        ok(virsh_tls(&uri, &["domstate", "remote-1"])).trim(),
        "shut off"
    );

    // The audit log names the certificate, for the handshake and for the calls.
    let accepted = handshakes(&daemon);
    assert!(
        accepted.iter().all(|r| r["result"] == "ok"),
        "{accepted:#?}"
    );
    assert_eq!(
        accepted[0]["client"]["x509_dn"],
        "C=GB,O=Moat Test,CN=admin-1"
    );
    let audit = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap();
    let define = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["procedure"] == "DOMAIN_DEFINE_XML")
        .expect("the define is audited");
    assert_eq!(define["client"]["x509_dn"], "C=GB,O=Moat Test,CN=admin-1");
    assert!(define["client"]["address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
}

#[test]
fn bad_certificates_are_refused_in_the_handshake_and_audited() {
    let pki = Pki::new();
    let (mut daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,CN=ops-*"], "");
    // An impostor CA with our CA's name: libvirt clients only send a certificate whose issuer
    // the server names in its request, so a CA with another name never gets as far.
    let other_ca = Ca::new("Moat Test CA");
    let cases: [(&str, PathBuf, &str, Option<&str>); 5] = [
        (
            "no certificate",
            pki.client_dir("none", None),
            "peer sent no certificates",
            None,
        ),
        (
            "another CA",
            pki.client_dir("other-ca", Some(other_ca.client("ops-1", 20, false))),
            "UnknownIssuer|BadSignature",
            Some("C=GB,O=Moat Test,CN=ops-1"),
        ),
        (
            "expired",
            pki.client_dir("expired", Some(pki.ca.client("ops-2", 21, true))),
            "certificate expired",
            Some("C=GB,O=Moat Test,CN=ops-2"),
        ),
        (
            "revoked",
            pki.client_dir(
                "revoked",
                Some(pki.ca.client("ops-3", REVOKED_SERIAL, false)),
            ),
            "Revoked",
            Some("C=GB,O=Moat Test,CN=ops-3"),
        ),
        (
            "DN outside the allow list",
            pki.allowed("intruder", 22),
            "distinguished name is not on tls_allowed_dn_list",
            Some("C=GB,O=Moat Test,CN=intruder"),
        ),
    ];
    for (case, dir, reason, dn) in cases {
        let out = virsh_tls(&tls_uri(port, &dir, true), &["list", "--all"]);
        // The client learns it in its first read after the handshake ("Unable to read TLS
        // confirmation") or, when it happens to write first to the closed connection, dies of
        // SIGPIPE before it can say anything.
        let killed_by_sigpipe = out.status.signal() == Some(libc::SIGPIPE);
        let err = fails(out);
        assert!(
            err.contains("Unable to read TLS confirmation") || killed_by_sigpipe,
            "{case}: unexpected client error: {err}"
        );
        let record = refusal(&daemon, reason);
        assert_eq!(record["client"]["x509_dn"].as_str(), dn, "{case}: {record}");
        assert!(
            record["error"].as_str().unwrap().starts_with("refused: "),
            "{case}: {record}"
        );
        eprintln!(
            "{case}: client says {:?}; audit says {}",
            err.trim(),
            record["error"]
        );
    }
    // No refused client got in, and the daemon serves good clients still.
    assert!(handshakes(&daemon).iter().all(|r| r["result"] == "error"));
    assert!(daemon.alive());
    ok(virsh_tls(
        &tls_uri(port, &pki.allowed("ops-ok", 23), false),
        &["list", "--all"],
    ));
}

const RULES: &str = r#"
[roles]
viewer = ["connect:getattr", "connect:read", "connect:search_domains",
          "domain:getattr", "domain:read"]
admin = ["connect:*", "domain:*"]

[[grant]]
x509_dns = ["C=GB,O=Moat Test,CN=admin"]
role = "admin"
all = true

[[grant]]
x509_dns = ["C=GB,O=Moat Test,CN=web-viewer-*"]
role = "viewer"
domains = ["web-*"]

[[grant]]
uids = [0]
role = "admin"
all = true
"#;

#[test]
fn certificates_with_different_grants_see_different_guests() {
    let pki = Pki::new();
    let rules = write_file(pki.dir.path(), "rules.toml", RULES);
    let config = format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\n",
        rules.display()
    );
    let (daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,*"], &config);
    for (name, uuid) in [
        ("web-1", "30000000-0000-4000-8000-000000000001"),
        ("db-1", "30000000-0000-4000-8000-000000000002"),
    ] {
        let file = write_file(
            daemon.dir.path(),
            &format!("{name}.xml"),
            &domain_xml(name, uuid),
        );
        ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    }
    let admin = tls_uri(port, &pki.allowed("admin", 40), false);
    let viewer = tls_uri(port, &pki.allowed("web-viewer-1", 41), false);
    let nobody = tls_uri(port, &pki.allowed("nobody", 42), false);

    let names = |uri: &str| sorted_names(&ok(virsh_tls(uri, &["list", "--all", "--name"])));
    assert_eq!(names(&admin), ["db-1", "web-1"]);
    assert_eq!(names(&viewer), ["web-1"]);
    // The viewer may look but not act; the certificate with no grant cannot even connect.
    let err = fails(virsh_tls(&viewer, &["undefine", "web-1"]));
    assert!(err.contains("access denied"), "{err}");
    let err = fails(virsh_tls(&nobody, &["list", "--all"]));
    assert!(err.contains("access denied"), "{err}");
    ok(virsh_tls(&admin, &["undefine", "db-1"]));
    assert_eq!(names(&admin), ["web-1"]);
}

#[test]
fn polkit_denies_tls_clients() {
    let pki = Pki::new();
    let (_daemon, port) = tls_daemon(&pki, &["*"], "access_drivers = [\"polkit\"]\n");
    let uri = tls_uri(port, &pki.allowed("admin", 50), false);
    let err = fails(virsh_tls(&uri, &["list", "--all"]));
    assert!(err.contains("access denied"), "{err}");
}

/// Runs /usr/bin/python3 with `script`; `env` is added to its environment.
fn python(script: &str, env: &[(&str, String)]) -> Output {
    Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/bin/python3 (python3-libvirt is installed by scripts/test.sh)")
}

#[test]
fn python_libvirt_over_tls_one_allowed_one_refused() {
    let pki = Pki::new();
    let (daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,CN=py-*"], "");
    let file = write_file(
        daemon.dir.path(),
        "web-1.xml",
        &domain_xml("web-1", "40000000-0000-4000-8000-000000000001"),
    );
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let script = r#"
import os, libvirt
conn = libvirt.open(os.environ["GOOD"])
print(conn.getType(), sorted(d.name() for d in conn.listAllDomains()))
conn.close()
try:
    libvirt.open(os.environ["BAD"])
    print("BAD CONNECTED")
except libvirt.libvirtError as e:
    print("refused:", e.get_error_message())
"#;
    let out = ok(python(
        script,
        &[
            ("GOOD", tls_uri(port, &pki.allowed("py-1", 60), false)),
            ("BAD", tls_uri(port, &pki.allowed("snake", 61), true)),
        ],
    ));
    assert!(out.contains("QEMU ['web-1']"), "{out}");
    assert!(out.contains("refused:"), "{out}");
    assert!(!out.contains("BAD CONNECTED"), "{out}");
    let record = refusal(&daemon, "tls_allowed_dn_list");
    assert_eq!(record["client"]["x509_dn"], "C=GB,O=Moat Test,CN=snake");
}

#[test]
fn one_python_script_manages_a_fleet_of_three_hosts() {
    let pki = Pki::new();
    let mut hosts = Vec::new();
    for host in 0..3 {
        let (daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,CN=fleet"], "");
        for (i, kind) in ["web", "db"].iter().enumerate() {
            let name = format!("h{host}-{kind}");
            let uuid = format!("5000000{host}-0000-4000-8000-00000000000{i}");
            let file = write_file(
                daemon.dir.path(),
                &format!("{name}.xml"),
                &bootable_xml(&name, &uuid, daemon.dir.path()),
            );
            ok(daemon.virsh(&["define", file.to_str().unwrap()]));
        }
        hosts.push((daemon, port));
    }
    let pkipath = pki.allowed("fleet", 70);
    let uris = hosts
        .iter()
        .map(|(_, port)| tls_uri(*port, &pkipath, false))
        .collect::<Vec<_>>()
        .join(" ");
    let script = r#"
import os, libvirt
for n, uri in enumerate(os.environ["HOSTS"].split()):
    conn = libvirt.open(uri)
    names = sorted(d.name() for d in conn.listAllDomains())
    web = conn.lookupByName("h%d-web" % n)
    web.create()
    print(n, names, web.isActive(), web.info()[0] == libvirt.VIR_DOMAIN_RUNNING)
    web.destroy()
    print(n, "after destroy", web.isActive())
    conn.close()
"#;
    let out = ok(python(script, &[("HOSTS", uris)]));
    for host in 0..3 {
        assert!(
            out.contains(&format!("{host} ['h{host}-db', 'h{host}-web'] 1 True")),
            "{out}"
        );
        assert!(out.contains(&format!("{host} after destroy 0")), "{out}");
    }
    for (daemon, _) in &hosts {
        assert_eq!(handshakes(daemon).len(), 1);
    }
}

#[test]
fn listen_tcp_without_authentication_refuses_to_start() {
    let (err, dir) = moatd_refuses_config("listen_tcp = 1\n");
    assert!(
        err.contains("option 'listen_tcp': plain TCP needs an authentication mechanism"),
        "{err}"
    );
    assert!(!dir.path().join("run/moat-sock").exists());
}

#[test]
fn missing_certificates_refuse_start_and_name_the_file() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("nowhere/cacert.pem");
    let text = format!(
        "{}ca_file = \"{}\"\n",
        pki.config(free_port(), &["*"]),
        missing.display()
    )
    .replace(
        &format!(
            "ca_file = \"{}\"\n",
            pki.server_file("cacert.pem").display()
        ),
        "",
    );
    let config = write_file(pki.dir.path(), "moatd.toml", &text);
    let out = Command::new(env!("CARGO_BIN_EXE_moatd"))
        .arg("--run-dir")
        .arg(pki.dir.path().join("run"))
        .arg("--state-dir")
        .arg(pki.dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot set up TLS (listen_tls): cannot read ca_file {}",
            missing.display()
        )),
        "{err}"
    );
}

/// The serial number of the certificate the server on `port` presents, as openssl prints it.
fn served_serial(port: u16) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} </dev/null 2>/dev/null \
             | openssl x509 -noout -serial"
        ))
        .output()
        .unwrap();
    stdout(&out).trim().to_owned()
}

#[test]
fn sighup_rereads_certificates_and_a_bad_file_keeps_the_old_one() {
    let pki = Pki::new();
    let (daemon, port) = tls_daemon(&pki, &["C=GB,O=Moat Test,CN=ops"], "");
    let uri = tls_uri(port, &pki.allowed("ops", 80), false);
    ok(virsh_tls(&uri, &["list", "--all"]));
    assert_eq!(served_serial(port), "serial=01");
    let pid =
        nix::unistd::Pid::from_raw(i32::try_from(daemon.child.as_ref().unwrap().id()).unwrap());
    let hup = || nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();

    // A broken certificate file: reported, and the old certificate stays in use.
    std::fs::write(pki.server_file("servercert.pem"), "-----BEGIN CERT").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(served_serial(port), "serial=01");
    ok(virsh_tls(&uri, &["list", "--all"]));

    // A valid new certificate whose key is not the key file's: refused the same way.
    let (cert, key) = pki.ca.server(2);
    std::fs::write(pki.server_file("servercert.pem"), &cert).unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(served_serial(port), "serial=01");
    ok(virsh_tls(&uri, &["list", "--all"]));

    // With its key: used from the next handshake on.
    std::fs::write(pki.server_file("serverkey.pem"), key).unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_serial(port) != "serial=02" {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(virsh_tls(&uri, &["list", "--all"]));

    // Revoking the client's certificate takes a new CRL and a SIGHUP, no restart.
    std::fs::write(
        pki.server_file("cacrl.pem"),
        pki.ca.crl(&[REVOKED_SERIAL, 80]),
    )
    .unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while virsh_tls(&uri, &["list", "--all"]).status.success() {
        assert!(Instant::now() < deadline, "the revocation is not applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    let record = refusal(&daemon, "Revoked");
    assert_eq!(record["client"]["x509_dn"], "C=GB,O=Moat Test,CN=ops");
}
