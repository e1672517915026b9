//! The [`JailSpec`]: everything `moat-jail` needs to confine one QEMU, as the
//! daemon hands it over (JSON on the jail's stdin), and its validation.
//!
//! Validation is pure except for one check: the program must exist on the host
//! (a missing program is reported apart, so that `moat-jail` can exit 127).
//! Every problem is collected and reported at once.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The most fds the daemon may pass through (taps, vhost fds); more means a bug.
pub const MAX_PASSED_FDS: u32 = 1024;

/// What to confine, and what to run once confined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JailSpec {
    /// The guest id used in messages, e.g. the domain uuid.
    pub id: String,
    /// The program exec'd at the end (QEMU, or a test program); a path inside the new root.
    pub program: PathBuf,
    /// `argv[1..]`; `argv[0]` is `program`.
    pub args: Vec<String>,
    /// The whole environment the program gets.
    pub env: Vec<(String, String)>,
    /// The per-guest uid (no passwd entry needed).
    pub uid: u32,
    /// The per-guest gid; supplementary groups are cleared.
    pub gid: u32,
    /// fds `3..3 + passed_fds` stay open for the program; every other fd >= 3 is closed.
    pub passed_fds: u32,
    /// An existing empty root-owned directory; a tmpfs mounted here (in the new
    /// mount namespace) becomes `/`.
    pub new_root: PathBuf,
    /// Host files and directories exposed at the same path inside.
    pub binds: Vec<Bind>,
    /// Device nodes made in the private `/dev`.
    pub devices: Vec<DeviceNode>,
    /// `cgroup.procs` (or v1 `tasks`) files the jail writes its own pid into, first.
    pub cgroup_procs: Vec<PathBuf>,
    /// Resource limits set before dropping privileges.
    pub rlimits: Vec<Rlimit>,
    /// The Landlock ruleset, paths as seen inside the new root; `None` = no Landlock.
    pub landlock: Option<LandlockRules>,
    /// Install the moat seccomp denylist ([`crate::seccomp`]).
    pub seccomp: bool,
    /// Written to `/proc/thread-self/attr/exec` just before exec.
    pub selinux_exec_label: Option<String>,
    /// Mount `/proc` with `hidepid=invisible` (other uids' processes invisible).
    pub hide_pids: bool,
}

/// A host file or directory exposed at the same path inside the jail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Absolute path, the same outside and inside. A symlink is recreated as a symlink.
    pub path: PathBuf,
    /// Read-write; otherwise the bind is read-only. Both are nosuid and nodev.
    pub writable: bool,
}

impl Bind {
    /// A read-only bind.
    pub fn read_only(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writable: false,
        }
    }

    /// A read-write bind.
    pub fn writable(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writable: true,
        }
    }
}

/// A device node copied (type and major:minor) from the host into the private `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    /// The node's path, for example `/dev/kvm`; the same on the host and inside.
    pub path: PathBuf,
    /// Informational for the daemon's Landlock/cgroup rules; the node itself is
    /// always `0600` owned by the guest uid.
    pub writable: bool,
}

/// One `setrlimit` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// Which limit.
    pub resource: RlimitResource,
    /// Soft limit (`u64::MAX` = unlimited).
    pub soft: u64,
    /// Hard limit (`u64::MAX` = unlimited).
    pub hard: u64,
}

/// The resources a jail may limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RlimitResource {
    /// `RLIMIT_NOFILE`.
    Nofile,
    /// `RLIMIT_FSIZE` (keep it >= guest RAM when RAM is a memfd).
    Fsize,
    /// `RLIMIT_CORE`.
    Core,
    /// `RLIMIT_MEMLOCK`.
    Memlock,
    /// `RLIMIT_NPROC` (per uid, so per guest here).
    Nproc,
    /// `RLIMIT_AS`.
    As,
}

/// Landlock rules, paths as seen inside the new root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockRules {
    /// Read files and list directories.
    pub read_only: Vec<PathBuf>,
    /// Read and execute.
    pub read_exec: Vec<PathBuf>,
    /// Every filesystem right (create, remove, write, truncate, device ioctl, ...).
    pub read_write: Vec<PathBuf>,
    /// Directories where the program may create and remove UNIX sockets (and list and read),
    /// but may not create or write regular files, directories, FIFOs, links or device nodes:
    /// a guest's run directory holds its QMP and console sockets, and nothing the guest could
    /// grow to fill the host file system it lives on.
    #[serde(default)]
    pub sockets: Vec<PathBuf>,
    /// TCP ports the program may bind (ABI >= 4; no rule = every bind denied).
    pub tcp_bind: Vec<u16>,
    /// TCP ports the program may connect to (ABI >= 4; no rule = every connect denied).
    pub tcp_connect: Vec<u16>,
}

/// Errors from decoding, validating or handing over a spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The JSON did not decode.
    #[error("decode jail spec")]
    Decode(#[source] serde_json::Error),
    /// The spec decoded but is unusable; every problem is listed.
    #[error("invalid jail spec {id:?}: {}", problems.join("; "))]
    Invalid {
        /// The spec's id, for the message.
        id: String,
        /// One line per problem.
        problems: Vec<String>,
        /// The program does not exist (moat-jail exits 127 for this).
        program_missing: bool,
    },
    /// The sealed memfd that carries the spec could not be made.
    #[error("put jail spec in a sealed memfd")]
    Memfd(#[source] std::io::Error),
}

impl SpecError {
    /// True when the program to exec does not exist.
    pub fn is_program_missing(&self) -> bool {
        matches!(
            self,
            Self::Invalid {
                program_missing: true,
                ..
            }
        )
    }
}

impl JailSpec {
    /// Encodes the spec as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a JailSpec always serializes: plain data, string keys")
    }

    /// Decodes a spec (does not validate it).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SpecError> {
        serde_json::from_slice(bytes).map_err(SpecError::Decode)
    }

    /// Checks the spec, reporting every problem.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut problems = Vec::new();
        let mut program_missing = false;
        let p = &mut problems;

        if self.id.is_empty() || self.id.len() > 128 || self.id.chars().any(char::is_control) {
            p.push("id must be 1-128 printable characters".to_owned());
        }
        if check_abs("program", &self.program, p) && !self.program.exists() {
            program_missing = true;
            p.push(format!("program {} does not exist", self.program.display()));
        }
        for (i, a) in self.args.iter().enumerate() {
            if a.contains('\0') {
                p.push(format!("args[{i}] contains NUL"));
            }
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
                p.push(format!("env {k:?}: bad name or value"));
            }
        }
        // 0 is root; u32::MAX is -1, which setresuid reads as "leave unchanged".
        if self.uid == 0 || self.uid == u32::MAX {
            p.push(format!("uid {} is not a guest uid", self.uid));
        }
        if self.gid == 0 || self.gid == u32::MAX {
            p.push(format!("gid {} is not a guest gid", self.gid));
        }
        if self.passed_fds > MAX_PASSED_FDS {
            p.push(format!(
                "passed_fds {} is over {MAX_PASSED_FDS}",
                self.passed_fds
            ));
        }
        if check_abs("new_root", &self.new_root, p) && self.new_root == Path::new("/") {
            p.push("new_root must not be /".to_owned());
        }

        let mut seen = BTreeSet::new();
        for b in &self.binds {
            let what = format!("bind {}", b.path.display());
            if !check_abs(&what, &b.path, p) {
                continue;
            }
            if b.path == Path::new("/") {
                p.push("bind of / is refused".to_owned());
            }
            if !seen.insert(&b.path) {
                p.push(format!("{what}: listed twice"));
            }
            if b.path.starts_with("/proc") || b.path.starts_with("/dev") {
                p.push(format!("{what}: /proc and /dev are made by the jail"));
            }
            if self.new_root.starts_with(&b.path) || b.path.starts_with(&self.new_root) {
                p.push(format!(
                    "{what}: overlaps new_root {}",
                    self.new_root.display()
                ));
            }
        }
        for d in &self.devices {
            let what = format!("device {}", d.path.display());
            if check_abs(&what, &d.path, p)
                && (!d.path.starts_with("/dev") || d.path == Path::new("/dev"))
            {
                p.push(format!("{what}: not under /dev"));
            }
        }
        for c in &self.cgroup_procs {
            check_abs("cgroup_procs", c, p);
        }
        for r in &self.rlimits {
            if r.soft > r.hard {
                p.push(format!(
                    "rlimit {:?}: soft {} over hard {}",
                    r.resource, r.soft, r.hard
                ));
            }
        }
        if let Some(rules) = &self.landlock {
            let all = rules
                .read_only
                .iter()
                .chain(&rules.read_exec)
                .chain(&rules.read_write)
                .chain(&rules.sockets);
            for path in all {
                check_abs("landlock rule", path, p);
            }
        }
        if let Some(label) = &self.selinux_exec_label {
            if label.is_empty() || label.contains('\0') {
                p.push("selinux_exec_label is empty or contains NUL".to_owned());
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid {
                id: self.id.clone(),
                problems,
                program_missing,
            })
        }
    }
}

/// Pushes a problem unless `path` is absolute and normal (no `.`, `..`, NUL);
/// returns whether it was.
fn check_abs(what: &str, path: &Path, problems: &mut Vec<String>) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    let ok = path.is_absolute()
        && !text.contains(&0)
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !ok {
        problems.push(format!(
            "{what}: {} is not an absolute normal path",
            path.display()
        ));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JailSpec {
        JailSpec {
            id: "0b3f-guest".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "true".into()],
            env: vec![("PATH".into(), "/usr/bin".into())],
            uid: 1_100_000,
            gid: 1_100_000,
            passed_fds: 2,
            new_root: "/run/moat/jail/x/root".into(),
            binds: vec![
                Bind::read_only("/usr"),
                Bind::writable("/run/moat/jail/x/run"),
            ],
            devices: vec![DeviceNode {
                path: "/dev/kvm".into(),
                writable: true,
            }],
            cgroup_procs: vec!["/sys/fs/cgroup/pids/moat/x/cgroup.procs".into()],
            rlimits: vec![Rlimit {
                resource: RlimitResource::Nofile,
                soft: 1024,
                hard: 1024,
            }],
            landlock: Some(LandlockRules {
                read_exec: vec!["/usr".into()],
                tcp_connect: vec![5900],
                ..LandlockRules::default()
            }),
            seccomp: true,
            selinux_exec_label: None,
            hide_pids: true,
        }
    }

    fn problems(s: &JailSpec) -> Vec<String> {
        match s.validate() {
            Err(SpecError::Invalid { problems, .. }) => problems,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn json_round_trip() {
        let s = spec();
        let back = JailSpec::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert!(matches!(
            JailSpec::from_json(b"{\"id\":1}"),
            Err(SpecError::Decode(_))
        ));
    }

    #[test]
    fn good_spec_validates() {
        spec().validate().unwrap();
    }

    #[test]
    fn root_ids_refused() {
        let mut s = spec();
        s.uid = 0;
        s.gid = u32::MAX;
        let p = problems(&s);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("uid 0"));
    }

    #[test]
    fn relative_and_dotted_paths_refused() {
        let mut s = spec();
        s.new_root = "run/x".into();
        s.binds.push(Bind::read_only("/usr/../etc"));
        s.devices.push(DeviceNode {
            path: "/tmp/kvm".into(),
            writable: false,
        });
        let p = problems(&s);
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn dangerous_binds_refused() {
        let mut s = spec();
        s.binds.push(Bind::writable("/"));
        s.binds.push(Bind::writable("/run/moat"));
        s.binds.push(Bind::writable("/proc/1"));
        s.binds.push(Bind::read_only("/usr"));
        let p = problems(&s).join("\n");
        assert!(p.contains("bind of / is refused"), "{p}");
        assert!(p.contains("/run/moat: overlaps new_root"), "{p}");
        assert!(p.contains("/proc/1"), "{p}");
        assert!(p.contains("listed twice"), "{p}");
    }

    #[test]
    fn missing_program_is_flagged() {
        let mut s = spec();
        s.program = "/nonexistent/qemu".into();
        let err = s.validate().unwrap_err();
        assert!(err.is_program_missing());
        assert!(
            err.to_string()
                .contains("program /nonexistent/qemu does not exist"),
            "{err}"
        );
    }

    #[test]
    fn rlimit_and_env_checked() {
        let mut s = spec();
        s.rlimits.push(Rlimit {
            resource: RlimitResource::Core,
            soft: 2,
            hard: 1,
        });
        s.env.push(("A=B".into(), "x".into()));
        assert_eq!(problems(&s).len(), 2);
    }
}
