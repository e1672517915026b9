//! Volume upload and download over libvirt streams (issue 9) through real virsh and
//! python-libvirt: a 2 GiB sparse image round trip in bounded daemon memory (RSS and
//! throughput printed), and every bad input: an upload longer than declared, ranges beyond
//! the volume, an inactive pool, read-only connections, a user without `data_write`, a stream
//! hole on a non-sparse upload, and a client killed mid-upload.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1024 * 1024;
/// [`MIB`] as a buffer length.
const MIB_LEN: usize = 1024 * 1024;
/// How much the daemon's peak RSS may grow while moving 2 GiB four times.
const RSS_GROWTH_MAX_KIB: u64 = 64 * 1024;

/// VmRSS and VmHWM of the daemon, in KiB.
fn memory(daemon: &TestDaemon) -> (u64, u64) {
    let pid = daemon.child.as_ref().unwrap().id().to_string();
    let status = proc_status(&pid);
    let kib = |name: &str| proc_field(&status, name).parse::<u64>().unwrap();
    (kib("VmRSS"), kib("VmHWM"))
}

/// Runs `virsh` and returns how long it took.
fn timed_virsh(daemon: &TestDaemon, args: &[&str]) -> Duration {
    let start = Instant::now();
    ok(daemon.virsh(args));
    start.elapsed()
}

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:.0} MB/s ({:.1} s)",
        bytes as f64 / 1e6 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

/// `sha256sum` of a file, or of what a shell command writes.
fn sha256(shell: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(shell).output().unwrap();
    assert!(out.status.success(), "{shell}: {}", stderr(&out));
    stdout(&out).split_whitespace().next().unwrap().to_owned()
}

/// A 2 GiB sparse file with random data at a few offsets (including the very end).
fn sparse_image(path: &Path) -> u64 {
    let size = 2048 * MIB;
    let file = std::fs::File::create(path).unwrap();
    file.set_len(size).unwrap();
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    for offset in [0, 1_000_003, 700 * MIB + 17, 1536 * MIB, size - 300_000] {
        let mut data = vec![0u8; 300_000];
        random.read_exact(&mut data).unwrap();
        file.write_all_at(&data, offset).unwrap();
    }
    size
}

#[test]
fn a_2gib_sparse_volume_round_trips_in_bounded_memory() {
    let (daemon, images) = daemon_with_store("");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source.img");
    let size = sparse_image(&source);
    let source_s = source.to_str().unwrap();
    let store = images.path().join("store");
    ok(daemon.virsh(&["vol-create-as", "default", "sparse.img", "2G"]));
    ok(daemon.virsh(&["vol-create-as", "default", "full.img", "2G"]));
    let before = memory(&daemon);

    // --sparse: holes travel as STREAM_HOLE both ways.
    let up_sparse = timed_virsh(
        &daemon,
        &[
            "vol-upload",
            "sparse.img",
            source_s,
            "--pool",
            "default",
            "--sparse",
        ],
    );
    let back = work.path().join("back-sparse.img");
    let down_sparse = timed_virsh(
        &daemon,
        &[
            "vol-download",
            "sparse.img",
            back.to_str().unwrap(),
            "--pool",
            "default",
            "--sparse",
        ],
    );
    let cmp = Command::new("cmp")
        .arg(&source)
        .arg(&back)
        .output()
        .unwrap();
    assert!(
        cmp.status.success(),
        "sparse round trip differs: {}",
        stdout(&cmp)
    );
    let cmp = Command::new("cmp")
        .arg(&source)
        .arg(store.join("sparse.img"))
        .output()
        .unwrap();
    assert!(
        cmp.status.success(),
        "uploaded volume differs: {}",
        stdout(&cmp)
    );
    assert!(
        std::fs::metadata(&back).unwrap().blocks() * 512 < 64 * MIB,
        "a sparse download stays sparse"
    );
    std::fs::remove_file(&back).unwrap();

    // Without --sparse: every byte travels as data (2 GiB each way).
    let up_full = timed_virsh(
        &daemon,
        &["vol-upload", "full.img", source_s, "--pool", "default"],
    );
    let full = store.join("full.img");
    // Zero packets become holes in the volume: it stays sparse.
    let allocated = std::fs::metadata(&full).unwrap().blocks() * 512;
    assert!(allocated < 64 * MIB, "full.img allocates {allocated} bytes");
    let start = Instant::now();
    let downloaded = sha256(&format!(
        "virsh -q -c '{}' vol-download full.img /dev/stdout --pool default | sha256sum",
        daemon.uri()
    ));
    let down_full = start.elapsed();
    assert_eq!(downloaded, sha256(&format!("sha256sum {source_s}")));

    let after = memory(&daemon);
    println!(
        "daemon memory: VmRSS {} KiB -> {} KiB, VmHWM {} KiB -> {} KiB",
        before.0, after.0, before.1, after.1
    );
    println!(
        "2 GiB sparse image (1.5 MB of data): upload --sparse {}, download --sparse {}",
        rate(size, up_sparse),
        rate(size, down_sparse)
    );
    println!(
        "2 GiB as data: upload {}, download (into sha256sum) {}",
        rate(size, up_full),
        rate(size, down_full)
    );
    assert!(
        after.1 <= before.1 + RSS_GROWTH_MAX_KIB,
        "peak RSS grew from {} KiB to {} KiB",
        before.1,
        after.1
    );
    let log = daemon.audit();
    assert_eq!(
        log.matches("REMOTE_PROC_STORAGE_VOL_UPLOAD").count(),
        2,
        "{log}"
    );
    assert!(log.contains("\"received\":2147483648"), "{log}");
}

/// The first `len` bytes of a file.
fn head(path: &Path, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    data
}

#[test]
fn bad_uploads_and_downloads_are_refused_and_the_volume_and_daemon_stay_intact() {
    let (daemon, images) = daemon_with_store("");
    let store = images.path().join("store");
    let work = tempfile::tempdir().unwrap();
    ok(daemon.virsh(&["vol-create-as", "default", "v.img", "1M"]));
    let vol = store.join("v.img");
    let five_k = work.path().join("five-k");
    std::fs::write(&five_k, vec![0x5a; 5000]).unwrap();
    let five_k = five_k.to_str().unwrap();

    // More data than declared: what fits is written, then ENOSPC as libvirt's fd streams.
    let err = fails(daemon.virsh(&[
        "vol-upload",
        "v.img",
        five_k,
        "--pool",
        "default",
        "--length",
        "1000",
    ]));
    assert!(err.contains("cannot write to stream"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    let data = head(&vol, 2000);
    assert!(data[..1000].iter().all(|&b| b == 0x5a));
    assert!(data[1000..].iter().all(|&b| b == 0));
    assert_eq!(std::fs::metadata(&vol).unwrap().len(), MIB);

    // An upload of 0 length (to the end) never grows the volume.
    let two_m = work.path().join("two-m");
    std::fs::write(&two_m, vec![1u8; 2 * MIB_LEN]).unwrap();
    let err = fails(daemon.virsh(&[
        "vol-upload",
        "v.img",
        two_m.to_str().unwrap(),
        "--pool",
        "default",
    ]));
    assert!(err.contains("cannot write to stream"), "{err}");
    assert_eq!(std::fs::metadata(&vol).unwrap().len(), MIB);

    // Ranges beyond the volume, both ways.
    let err = fails(daemon.virsh(&[
        "vol-upload",
        "v.img",
        five_k,
        "--pool",
        "default",
        "--offset",
        "2000000",
    ]));
    assert!(err.contains("beyond the end of volume 'v.img'"), "{err}");
    let err = fails(daemon.virsh(&[
        "vol-download",
        "v.img",
        work.path().join("out").to_str().unwrap(),
        "--pool",
        "default",
        "--offset",
        "1000000",
        "--length",
        "100000",
    ]));
    assert!(err.contains("beyond the end of volume 'v.img'"), "{err}");
    // An upload inside the range works.
    ok(daemon.virsh(&[
        "vol-upload",
        "v.img",
        five_k,
        "--pool",
        "default",
        "--offset",
        "4096",
    ]));
    let data = head(&vol, 9096);
    assert!(data[4096..9096].iter().all(|&b| b == 0x5a));

    // Read-only: the client-side flag and the read-only socket.
    let err = fails(daemon.virsh_ro(&["vol-upload", "v.img", five_k, "--pool", "default"]));
    assert!(
        err.contains("read only access prevents virStorageVolUpload"),
        "{err}"
    );
    let err = fails(virsh(
        &daemon.uri_ro_socket(),
        false,
        &["vol-upload", "v.img", five_k, "--pool", "default"],
    ));
    assert!(err.contains("read only"), "{err}");

    // Another call on the connection while a stream is open; a second transfer of a volume
    // being uploaded; a STREAM_HOLE on a stream that is not sparse; a volume whose pool was
    // stopped after it was looked up.
    let p2 = images.path().join("p2");
    ok(daemon.virsh(&[
        "pool-define-as",
        "p2",
        "dir",
        "--target",
        p2.to_str().unwrap(),
    ]));
    ok(daemon.virsh(&["pool-build", "p2"]));
    ok(daemon.virsh(&["pool-start", "p2"]));
    ok(daemon.virsh(&["vol-create-as", "p2", "w.img", "1M"]));
    let out = daemon.python(
        r#"
import libvirt, os
c = libvirt.open(os.environ['URI'])
pool = c.storagePoolLookupByName('default')
v = pool.storageVolLookupByName('v.img')
st = c.newStream(0)
v.upload(st, 0, 0, 0)
st.send(b'x' * 4096)
print('pools while streaming', len(c.listAllStoragePools()))
try:
    v.download(c.newStream(0), 0, 0, 0)
    print('download during upload accepted')
except libvirt.libvirtError as e:
    print('busy:', e)
try:
    v.delete(0)
    print('deleted during upload')
except libvirt.libvirtError as e:
    print('delete refused:', e)
try:
    st.sendHole(4096, 0)
    print('hole accepted')
except libvirt.libvirtError as e:
    print('hole refused:', e)
st.abort()
st = c.newStream(0)
v.download(st, 0, 8192, 0)
got = b''
while True:
    chunk = st.recv(65536)
    if not chunk:
        break
    got += chunk
st.finish()
print('downloaded', len(got), got[:4096] == b'x' * 4096)
p2 = c.storagePoolLookupByName('p2')
w = p2.storageVolLookupByName('w.img')
p2.destroy()
try:
    w.upload(c.newStream(0), 0, 0, 0)
    print('inactive upload accepted')
except libvirt.libvirtError as e:
    print('inactive:', e)
"#,
    );
    let text = ok(out);
    assert!(text.contains("pools while streaming 2"), "{text}");
    assert!(
        text.contains("busy: Requested operation is not valid: volume 'v.img' is still in use."),
        "{text}"
    );
    assert!(
        text.contains(
            "delete refused: Requested operation is not valid: volume 'v.img' is still in use."
        ),
        "{text}"
    );
    // libvirt's client refuses a hole on a non-sparse stream itself; the daemon's own check
    // (STREAM ERROR "unexpected stream hole") is covered by moatd::stream's unit tests.
    assert!(text.contains("hole refused:"), "{text}");
    assert!(text.contains("downloaded 8192 True"), "{text}");
    assert!(
        text.contains(
            "inactive: Requested operation is not valid: storage pool 'p2' is not active"
        ),
        "{text}"
    );

    // A STREAM_HOLE is accepted on a sparse upload.
    let out = daemon.python(
        r#"
import libvirt, os
c = libvirt.open(os.environ['URI'])
v = c.storagePoolLookupByName('default').storageVolLookupByName('v.img')
st = c.newStream(0)
v.upload(st, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
st.send(b'a' * 10)
st.sendHole(100000, 0)
st.send(b'b' * 10)
st.finish()
print('sparse ok')
"#,
    );
    assert!(ok(out).contains("sparse ok"));
    let data = head(&vol, 100_020);
    assert!(data[..10].iter().all(|&b| b == b'a'));
    assert!(data[10..100_010].iter().all(|&b| b == 0));
    assert!(data[100_010..].iter().all(|&b| b == b'b'));

    assert_eq!(std::fs::metadata(&vol).unwrap().len(), MIB);
    ok(daemon.virsh(&["vol-info", "v.img", "--pool", "default"]));
    let log = daemon.audit();
    assert!(
        log.contains("upload incomplete: the stream failed"),
        "{log}"
    );
    assert!(
        log.contains("upload incomplete: aborted by the client"),
        "{log}"
    );
}

const RULES: &str = r#"
[roles]
admin = ["connect:*", "storage_pool:*", "storage_vol:*"]
reader = ["connect:getattr", "connect:read", "connect:search_storage_pools",
          "storage_pool:getattr", "storage_pool:read", "storage_pool:search_storage_vols",
          "storage_vol:getattr", "storage_vol:read", "storage_vol:data_read"]

[[grant]]
uids = [0]
role = "admin"
all = true

[[grant]]
users = ["moat-t-strm-read"]
role = "reader"
all = true
"#;

#[test]
fn a_user_without_data_write_may_download_but_not_upload() {
    const READER: &str = "moat-t-strm-read";
    ensure_user(READER, None);
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = rules_dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    std::fs::set_permissions(rules_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (daemon, images) = daemon_with_store(&format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\nunix_sock_rw_perms = \"0777\"",
        rules.display()
    ));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(daemon.virsh(&["vol-create-as", "default", "v.img", "64K"]));
    let vol = images.path().join("store").join("v.img");
    std::fs::write(&vol, vec![7u8; 65536]).unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let input = work.path().join("in");
    std::fs::write(&input, vec![9u8; 1000]).unwrap();
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = fails(virsh_as(
        &daemon.uri(),
        READER,
        &[
            "vol-upload",
            "v.img",
            input.to_str().unwrap(),
            "--pool",
            "default",
        ],
    ));
    assert!(err.contains("access denied"), "{err}");
    assert!(std::fs::read(&vol).unwrap().iter().all(|&b| b == 7));
    let out = work.path().join("out");
    ok(virsh_as(
        &daemon.uri(),
        READER,
        &[
            "vol-download",
            "v.img",
            out.to_str().unwrap(),
            "--pool",
            "default",
        ],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), vec![7u8; 65536]);
    let log = daemon.audit();
    assert!(
        log.lines()
            .any(|l| l.contains("STORAGE_VOL_UPLOAD") && l.contains("denied")),
        "{log}"
    );
}

#[test]
fn a_client_killed_mid_upload_leaves_its_data_and_a_working_daemon() {
    let (mut daemon, images) = daemon_with_store("");
    ok(daemon.virsh(&["vol-create-as", "default", "k.img", "64M"]));
    let vol = images.path().join("store").join("k.img");
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(
            r#"
import libvirt, os, time
c = libvirt.open(os.environ['URI'])
v = c.storagePoolLookupByName('default').storageVolLookupByName('k.img')
st = c.newStream(0)
v.upload(st, 0, 0, 0)
st.send(b'A' * 1048576)
st.send(b'B' * 1048576)
print('sent', flush=True)
while True:
    st.send(b'C' * 65536)
    time.sleep(0.01)
"#,
        )
        .env("URI", daemon.uri())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "sent");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The daemon notices, aborts the stream (audited) and frees the volume.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon
        .audit()
        .contains("upload incomplete: the client went away")
    {
        assert!(Instant::now() < deadline, "{}", daemon.audit());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(daemon.alive());
    ok(daemon.virsh(&["vol-info", "k.img", "--pool", "default"]));
    // What was written stays, as with libvirt.
    let mut file = std::fs::File::open(&vol).unwrap();
    let mut first = vec![0u8; 2 * MIB_LEN];
    file.read_exact(&mut first).unwrap();
    assert!(first[..MIB_LEN].iter().all(|&b| b == b'A'));
    assert!(first[MIB_LEN..].iter().all(|&b| b == b'B'));
    assert_eq!(std::fs::metadata(&vol).unwrap().len(), 64 * MIB);

    // A later upload of the same volume works.
    let work = tempfile::tempdir().unwrap();
    let again = work.path().join("again");
    std::fs::File::create(&again)
        .unwrap()
        .write_all(&[b'Z'; 4096])
        .unwrap();
    ok(daemon.virsh(&[
        "vol-upload",
        "k.img",
        again.to_str().unwrap(),
        "--pool",
        "default",
    ]));
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut z = [0u8; 4096];
    file.read_exact(&mut z).unwrap();
    assert!(z.iter().all(|&b| b == b'Z'));
    daemon.kill();
}
