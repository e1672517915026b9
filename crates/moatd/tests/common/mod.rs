//! A real moatd on temporary directories, and the real clients that talk to it.
#![allow(dead_code)]

pub mod threats;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A moatd process on its own run and state directories; killed on drop.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub config: Option<PathBuf>,
    /// The network namespace (`ip netns` name) the daemon runs in, if not the host's.
    pub netns: Option<String>,
}

impl TestDaemon {
    /// Starts moatd with the embedded defaults.
    pub fn start() -> Self {
        Self::start_with_config(None)
    }

    /// Starts moatd with a configuration file holding `config`, plus this daemon's own cgroup
    /// parent and guest uid range (so that daemons of tests running in parallel never hand
    /// out the same uid) unless `config` sets them.
    pub fn start_with_config(config: Option<&str>) -> Self {
        Self::start_in(config, None)
    }

    /// As [`Self::start_with_config`], with the daemon (and so its bridges, taps, dnsmasq and
    /// firewall) in the network namespace `netns`.
    pub fn start_in(config: Option<&str>, netns: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = config.unwrap_or_default().to_owned();
        let (parent, first) = test_isolation_ids();
        if !text.contains("cgroup_parent") {
            text.push_str(&format!("\ncgroup_parent = \"{parent}\"\n"));
        }
        if !text.contains("guest_uid_min") {
            text.push_str(&format!(
                "guest_uid_min = {first}\nguest_uid_max = {}\n",
                first + TEST_UIDS - 1
            ));
        }
        let path = dir.path().join("moatd.toml");
        std::fs::write(&path, text).expect("write config");
        let mut daemon = Self {
            dir,
            child: None,
            config: Some(path),
            netns: netns.map(str::to_owned),
        };
        daemon.spawn();
        daemon
    }

    /// The cgroup parent this daemon's guests go under.
    pub fn cgroup_parent(&self) -> String {
        let text =
            std::fs::read_to_string(self.config.as_ref().expect("config")).unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix("cgroup_parent = "))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The audit log so far (empty before the first line).
    pub fn audit(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("audit.log")).unwrap_or_default()
    }

    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("moat-sock")
    }

    pub fn socket_ro(&self) -> PathBuf {
        self.run_dir().join("moat-sock-ro")
    }

    pub fn uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket().display())
    }

    pub fn uri_ro_socket(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket_ro().display())
    }

    /// Starts (or restarts) the process and waits until it answers.
    pub fn spawn(&mut self) {
        let moatd = Path::new(env!("CARGO_BIN_EXE_moatd"));
        let jail = moatd.with_file_name("moat-jail");
        assert!(
            jail.exists(),
            "{} is missing: moatd starts every guest through it; build it with \
             `cargo build -p jail` (cargo test --workspace does)",
            jail.display()
        );
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new("nsenter");
                cmd.arg(format!("--net=/run/netns/{ns}")).arg(moatd);
                cmd
            }
            None => Command::new(moatd),
        };
        cmd.arg("--run-dir")
            .arg(self.run_dir())
            .arg("--state-dir")
            .arg(self.state_dir())
            .env("MOAT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        let child = cmd.spawn().expect("spawn moatd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("moatd exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "moatd did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Runs virsh against the read-write socket.
    pub fn virsh(&self, args: &[&str]) -> Output {
        virsh(&self.uri(), false, args)
    }

    /// Runs `virsh -r` (client-side read-only) against the read-write socket.
    pub fn virsh_ro(&self, args: &[&str]) -> Output {
        virsh(&self.uri(), true, args)
    }

    /// Runs /usr/bin/python3 with `script`; `URI` and `URI_RO` are set in its environment.
    pub fn python(&self, script: &str) -> Output {
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .env("URI", self.uri())
            .env("URI_RO", self.uri_ro_socket())
            .output()
            .expect("run /usr/bin/python3 (python3-libvirt is installed by scripts/test.sh)")
    }

    /// The definition files in the state directory.
    pub fn stored_definitions(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.state_dir().join("domains"))
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "xml"));
        files.sort();
        files
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill();
        // Guests outlive the daemon by design; a test's guests must not outlive the test.
        let qemu = self.run_dir().join("qemu");
        for entry in std::fs::read_dir(qemu).into_iter().flatten().flatten() {
            if entry.path().extension().map_or(true, |e| e != "pid") {
                continue;
            }
            let pid = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok());
            if let Some(pid) = pid {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // Nor their cgroups: once the processes are gone the directories can go.
        let parent = self.cgroup_parent();
        if !parent.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
            for controller in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                let dir = controller.path().join(&parent);
                for guest in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    if guest.path().is_dir() {
                        let _ = std::fs::remove_dir(guest.path());
                    }
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

/// Guest uids each test daemon may hand out.
pub const TEST_UIDS: u32 = 64;

/// A cgroup parent and the first guest uid for one test daemon, unique across the test
/// processes and daemons running at once.
fn test_isolation_ids() -> (String, u32) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 64;
    let slot = (std::process::id() % 512) * 64 + n;
    (
        format!("moat-test-{}-{n}", std::process::id()),
        1_200_000 + slot * TEST_UIDS,
    )
}

pub fn virsh(uri: &str, read_only: bool, args: &[&str]) -> Output {
    let mut cmd = Command::new("virsh");
    if read_only {
        cmd.arg("-r");
    }
    cmd.arg("-q")
        .arg("-c")
        .arg(uri)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run virsh (libvirt-clients is installed by scripts/test.sh)")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts failure and returns stderr.
#[track_caller]
pub fn fails(output: Output) -> String {
    assert!(
        !output.status.success(),
        "command unexpectedly succeeded\nstdout: {}",
        stdout(&output)
    );
    stderr(&output)
}

/// A small guest definition.
pub fn domain_xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>2</vcpu>\n  \
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\n  \
         <devices>\n    <disk type='file' device='disk'>\n      \
         <driver name='qemu' type='qcow2'/>\n      \
         <source file='/var/lib/moat/images/{name}.qcow2'/>\n      \
         <target dev='vda' bus='virtio'/>\n    </disk>\n    \
         <graphics type='vnc' port='-1' passwd='s3cret'/>\n  </devices>\n</domain>\n"
    )
}

/// Starts moatd on a configuration holding `config` in a temporary directory, expects it to
/// refuse to start, and returns what it printed on stderr with the directory (its `run/` and
/// `state/` are where moatd was told to work).
#[track_caller]
pub fn moatd_refuses_config(config: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_file(dir.path(), "moatd.toml", config);
    let out = Command::new(env!("CARGO_BIN_EXE_moatd"))
        .arg("--run-dir")
        .arg(dir.path().join("run"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run moatd");
    assert!(
        !out.status.success(),
        "moatd started on a configuration it should refuse:\n{config}"
    );
    (stderr(&out), dir)
}

/// The test guest's kernel and initrd (scripts/test-guest/build.sh), built once per test
/// process; the script caches them in target/test-guest.
pub fn test_guest_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = root.join("target/test-guest");
        let status = Command::new("bash")
            .arg(root.join("scripts/test-guest/build.sh"))
            .arg(&out)
            .status()
            .expect("cannot run scripts/test-guest/build.sh");
        assert!(
            status.success(),
            "scripts/test-guest/build.sh failed ({status}): no test guest"
        );
        out
    })
}

/// The fields of `/proc/PID/status` (`"Uid"` → `"1000 1000 1000 1000"`, …).
#[track_caller]
pub fn proc_status(pid: &str) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))
        .unwrap_or_else(|e| panic!("/proc/{}/status: {e}", pid.trim()))
        .lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            Some((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// The first word of a `/proc/PID/status` field (the real uid of `Uid`, say).
#[track_caller]
pub fn proc_field(status: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    status
        .get(name)
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {name} in {status:?}"))
        .to_owned()
}

/// Writes `text` to a file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// Serializes changes to the user database: parallel useradd/usermod race for /etc/passwd.
static USER_DB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn user_db_lock() -> std::sync::MutexGuard<'static, ()> {
    USER_DB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Creates a system group unless it exists.
pub fn ensure_group(name: &str) {
    let _db = user_db_lock();
    if Command::new("getent")
        .args(["group", name])
        .output()
        .expect("getent")
        .status
        .success()
    {
        return;
    }
    let out = Command::new("groupadd")
        .args(["-r", name])
        .output()
        .expect("groupadd");
    assert!(out.status.success(), "groupadd {name}: {}", stderr(&out));
}

/// Creates a system user without a home or login shell unless it exists, and adds it to `group`.
pub fn ensure_user(name: &str, group: Option<&str>) {
    let _db = user_db_lock();
    if !Command::new("id")
        .arg(name)
        .output()
        .expect("id")
        .status
        .success()
    {
        let out = Command::new("useradd")
            .args(["-r", "-M", "-s", "/usr/sbin/nologin", name])
            .output()
            .expect("useradd");
        assert!(out.status.success(), "useradd {name}: {}", stderr(&out));
    }
    if let Some(group) = group {
        let out = Command::new("usermod")
            .args(["-a", "-G", group, name])
            .output()
            .expect("usermod");
        assert!(out.status.success(), "usermod {name}: {}", stderr(&out));
    }
}

/// A home directory of `user`'s own for its clients' files (virsh keeps history there).
pub fn user_home(user: &str) -> PathBuf {
    let home = std::env::temp_dir().join(format!("home-{user}"));
    std::fs::create_dir_all(&home).expect("create a home");
    let chown = Command::new("chown")
        .arg(user)
        .arg(&home)
        .output()
        .expect("chown");
    assert!(chown.status.success());
    home
}

/// The command prefix that runs what follows as `user` with the user's groups.
pub fn as_user(user: &str) -> [&str; 6] {
    ["setpriv", "--reuid", user, "--regid", user, "--init-groups"]
}

/// virsh as `user` (with the user's groups) against `uri`.
pub fn virsh_as(uri: &str, user: &str, args: &[&str]) -> Output {
    let home = user_home(user);
    let [program, prefix @ ..] = as_user(user);
    Command::new(program)
        .args(prefix)
        .args(["virsh", "-q", "-c"])
        .arg(uri)
        .args(args)
        .env("HOME", &home)
        .env("LC_ALL", "C")
        .output()
        .expect("run setpriv virsh")
}

/// The value of `Key:` in a `virsh pool-info`/`vol-info`-style listing.
#[track_caller]
pub fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|rest| rest.trim_start_matches(':').trim())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// The words of a `virsh list --name` output, sorted.
pub fn sorted_names(out: &str) -> Vec<String> {
    let mut names: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    names.sort();
    names
}

/// A moatd whose central image directory (and so its default pool) is `images/store`, with
/// `extra` configuration lines.
pub fn daemon_with_store(extra: &str) -> (TestDaemon, tempfile::TempDir) {
    let images = tempfile::tempdir().unwrap();
    let config = format!(
        "image_dirs = [\"{}\"]\n{extra}\n",
        images.path().join("store").display()
    );
    (TestDaemon::start_with_config(Some(&config)), images)
}
