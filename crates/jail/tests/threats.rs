//! One test per threat (DESIGN.md T1–T6), each running the real `moat-jail`
//! with `/usr/bin/python3` attempting the attack, plus Landlock and `/dev`.
//! Each attempt prints its outcome; the test asserts the kernel's refusal and
//! a control attempt that must succeed (so a refusal is not just a broken setup).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use jail::cgroup::CgroupLimits;
use jail::{Bind, DeviceNode, Rlimit, RlimitResource};

#[test]
fn t1_other_guests_images_are_refused() {
    let me = uid(1);
    let other = uid(101);
    let s = Scratch::new("t1");
    // Another guest's image, outside every bind.
    let outside = s.path("other-guest.img");
    std::fs::write(&outside, b"secret").unwrap();
    chown(&outside, other);
    // Inside my writable run dir, a file owned by another uid, mode 0600.
    let run = s.owned_dir("run", me);
    let foreign = run.join("foreign.img");
    std::fs::write(&foreign, b"secret").unwrap();
    chown(&foreign, other);
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o600)).unwrap();

    let script = format!(
        r#"
attempt("outside_read", lambda: read({outside:?}))
attempt("outside_write", lambda: write({outside:?}))
attempt("foreign_read", lambda: read({foreign:?}))
attempt("foreign_write", lambda: write({foreign:?}))
attempt("own_write", lambda: write({own:?}))
"#,
        outside = outside.to_str().unwrap(),
        foreign = foreign.to_str().unwrap(),
        own = run.join("own.img").to_str().unwrap(),
    );
    let mut spec = python_spec(&s, "t1", me, &script);
    spec.binds.push(Bind::writable(&run));
    spec.landlock.as_mut().unwrap().read_write.push(run.clone());
    let o = outcomes(&run_jail(&spec));
    o.assert_success();
    o.refused("outside_read", &["ENOENT"]);
    o.refused("outside_write", &["ENOENT", "EROFS"]);
    o.refused("foreign_read", &["EACCES"]);
    o.refused("foreign_write", &["EACCES"]);
    o.allowed("own_write");
    assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
}

fn run_jail(spec: &jail::JailSpec) -> std::process::Output {
    run(spec)
}

#[test]
fn t2_host_files_are_refused() {
    let me = uid(2);
    let s = Scratch::new("t2");
    let state = s.path("state");
    std::fs::create_dir(&state).unwrap();
    let script = format!(
        r#"
attempt("passwd_write", lambda: write("/etc/passwd"))
attempt("passwd_read", lambda: read("/etc/passwd"))
attempt("etc_create", lambda: write("/etc/moat-evil"))
attempt("usr_create", lambda: write("/usr/moat-evil"))
attempt("usr_bin_create", lambda: write("/usr/bin/moat-evil"))
attempt("root_create", lambda: write("/moat-evil"))
attempt("state_write", lambda: write({state:?}))
attempt("state_list", lambda: os.listdir({state_dir:?}))
"#,
        state = state.join("domains.json").to_str().unwrap(),
        state_dir = state.to_str().unwrap(),
    );
    let mut spec = python_spec(&s, "t2", me, &script);
    // /etc/passwd is bound read-only and readable, so the write is a real attempt.
    spec.binds.push(Bind::read_only("/etc/passwd"));
    spec.landlock
        .as_mut()
        .unwrap()
        .read_only
        .push("/etc/passwd".into());
    let o = outcomes(&run(&spec));
    o.assert_success();
    o.allowed("passwd_read");
    o.refused("passwd_write", &["EACCES", "EROFS"]);
    o.refused("etc_create", &["EACCES", "EROFS"]);
    o.refused("usr_create", &["EACCES", "EROFS"]);
    o.refused("usr_bin_create", &["EACCES", "EROFS"]);
    o.refused("root_create", &["EACCES", "EROFS"]);
    o.refused("state_write", &["ENOENT"]);
    o.refused("state_list", &["ENOENT"]);
    assert!(!Path::new("/etc/moat-evil").exists() && !Path::new("/usr/moat-evil").exists());
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn t3_management_sockets_are_unreachable() {
    let me = uid(3);
    let s = Scratch::new("t3");
    let sock = s.path("moatd/moatd.sock");
    std::fs::create_dir(s.path("moatd")).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    // An abstract socket: no path, so only Landlock's scope (ABI 6) stops it.
    let abstract_name = format!("moat-t3-{}", std::process::id());
    let abs = {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name).unwrap();
        std::os::unix::net::UnixListener::bind_addr(&addr).unwrap()
    };
    abs.set_nonblocking(true).unwrap();
    let script = format!(
        r#"
def connect(addr):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(addr)
    return "connected"
attempt("daemon_socket", lambda: connect({sock:?}))
attempt("abstract_socket", lambda: connect("\0{abstract_name}"))
"#,
        sock = sock.to_str().unwrap(),
    );
    let spec = python_spec(&s, "t3", me, &script);
    let o = outcomes(&run(&spec));
    o.assert_success();
    o.refused("daemon_socket", &["ENOENT"]);
    o.refused("abstract_socket", &["EPERM"]);
    assert!(
        listener.accept().is_err(),
        "the daemon socket got a connection"
    );
    assert!(
        abs.accept().is_err(),
        "the abstract socket got a connection"
    );
}

#[test]
fn t4_other_processes_are_out_of_reach() {
    let me = uid(4);
    let victim_uid = uid(104);
    let s = Scratch::new("t4");
    let vs = Scratch::new("t4-victim");
    let victim_spec = python_spec(
        &vs,
        "t4-victim",
        victim_uid,
        "print('ready', flush=True)\nimport time\ntime.sleep(60)",
    );
    let mut victim = spawn(&victim_spec);
    let mut line = String::new();
    BufReader::new(victim.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "victim did not start");
    let vpid = victim.id();
    let host_pid = std::process::id();

    let script = format!(
        r#"
import ctypes, signal
libc = ctypes.CDLL(None, use_errno=True)
def ptrace(req, pid):
    if libc.ptrace(req, pid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return 0
attempt("signal0_victim", lambda: os.kill({vpid}, 0))
attempt("sigkill_victim", lambda: os.kill({vpid}, signal.SIGKILL))
attempt("sigkill_host", lambda: os.kill({host_pid}, signal.SIGKILL))
attempt("ptrace_attach_victim", lambda: ptrace(16, {vpid}))
attempt("ptrace_traceme", lambda: ptrace(0, 0))
attempt("victim_mem", lambda: read("/proc/{vpid}/mem"))
attempt("victim_environ", lambda: read("/proc/{vpid}/environ"))
attempt("host_environ", lambda: read("/proc/{host_pid}/environ"))
attempt("host_status", lambda: read("/proc/{host_pid}/status"))
attempt("pid1_cmdline", lambda: read("/proc/1/cmdline"))
attempt("proc_pids", lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [os.getpid()])
"#
    );
    let spec = python_spec(&s, "t4", me, &script);
    let o = outcomes(&run(&spec));
    let alive = victim.try_wait().unwrap().is_none();
    kill(vpid);
    let _ = victim.wait();
    o.assert_success();
    o.refused("signal0_victim", &["EPERM"]);
    o.refused("sigkill_victim", &["EPERM"]);
    o.refused("sigkill_host", &["EPERM"]);
    // EPERM from seccomp: PTRACE_TRACEME on oneself is otherwise always allowed.
    o.refused("ptrace_attach_victim", &["EPERM"]);
    o.refused("ptrace_traceme", &["EPERM"]);
    o.refused("victim_mem", &["ENOENT"]);
    o.refused("victim_environ", &["ENOENT"]);
    o.refused("host_environ", &["ENOENT"]);
    o.refused("host_status", &["ENOENT"]);
    o.refused("pid1_cmdline", &["ENOENT"]);
    assert_eq!(
        o.allowed("proc_pids"),
        "True",
        "other processes are visible in /proc"
    );
    assert!(alive, "the victim was killed by the attacker");
}

#[test]
fn t5_no_privileges_can_be_gained() {
    let me = uid(5);
    let s = Scratch::new("t5");
    let bin = s.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let id = bin.join("id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    chown(&id, 0);
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    assert_eq!(
        std::fs::metadata(&id).unwrap().permissions().mode() & 0o4000,
        0o4000
    );
    let script = format!(
        r#"
import subprocess, resource
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Groups", "Uid", "Gid"]:
    print(f"{{k}}=OK:{{status[k].split()}}")
print("nofile=OK:" + str(resource.getrlimit(resource.RLIMIT_NOFILE)))
attempt("setuid_id", lambda: subprocess.run([{id:?}], capture_output=True, text=True).stdout.strip())
attempt("setuid0", lambda: os.setuid(0))
attempt("setgid0", lambda: os.setgid(0))
"#,
        id = id.to_str().unwrap(),
    );
    let mut spec = python_spec(&s, "t5", me, &script);
    spec.binds.push(Bind::read_only(&bin));
    spec.landlock.as_mut().unwrap().read_exec.push(bin.clone());
    spec.rlimits.push(Rlimit {
        resource: RlimitResource::Nofile,
        soft: 64,
        hard: 128,
    });
    let o = outcomes(&run(&spec));
    o.assert_success();
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(o.allowed(cap), "['0000000000000000']", "{cap}");
    }
    assert_eq!(o.allowed("NoNewPrivs"), "['1']");
    assert_eq!(o.allowed("Seccomp"), "['2']");
    assert_eq!(o.allowed("Groups"), "[]");
    let u = me.to_string();
    assert_eq!(o.allowed("Uid"), format!("['{u}', '{u}', '{u}', '{u}']"));
    assert_eq!(o.allowed("Gid"), format!("['{u}', '{u}', '{u}', '{u}']"));
    assert_eq!(o.allowed("nofile"), "(64, 128)");
    let id_out = o.allowed("setuid_id");
    assert!(id_out.starts_with(&format!("uid={u} gid={u}")), "{id_out}");
    assert!(
        !id_out.contains("euid=0"),
        "setuid root took effect: {id_out}"
    );
    o.refused("setuid0", &["EPERM"]);
    o.refused("setgid0", &["EPERM"]);
    assert!(o.stderr.contains("landlock abi"), "{}", o.stderr);
}

#[test]
fn t6_cgroup_limits_hold() {
    let me = uid(6);
    let s = Scratch::new("t6");
    let limits = CgroupLimits {
        memory_bytes: Some(64 << 20),
        pids: Some(16),
        ..CgroupLimits::default()
    };
    let id = format!("t6-{}", std::process::id());
    let t = Instant::now();
    let cg = CgroupGuard::new(&id, &limits);
    eprintln!(
        "cgroup create: {:?} ({} dirs)",
        t.elapsed(),
        cg.0.dirs().len()
    );

    let threads = r#"
import threading, time
ev = threading.Event()
n = 0
try:
    for _ in range(40):
        t = threading.Thread(target=ev.wait, daemon=True)
        t.start()
        n += 1
    print("threads=OK:" + str(n), flush=True)
except RuntimeError as e:
    print(f"threads=EXC:{n}:{e}", flush=True)
ev.set()
"#;
    let mut spec = python_spec(&s, "t6-threads", me, threads);
    spec.cgroup_procs = cg.0.procs_files();
    let o = outcomes(&run(&spec));
    o.assert_success();
    let got = o.get("threads");
    let started: u32 = got
        .strip_prefix("EXC:")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("thread creation was not refused: {got}"));
    assert!(started < 16, "{started} threads started under pids.max=16");

    let memory = r#"
print("start=OK:", flush=True)
try:
    b = bytearray(256 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    print("alloc=OK:256MiB", flush=True)
except MemoryError:
    print("alloc=EXC:MemoryError", flush=True)
"#;
    let mut spec = python_spec(&s, "t6-memory", me, memory);
    spec.cgroup_procs = cg.0.procs_files();
    let o = outcomes(&run(&spec));
    o.allowed("start");
    eprintln!(
        "256 MiB under 64 MiB: status {:?}, outcomes {:?}",
        o.status, o.map
    );
    let killed = o.status.signal() == Some(libc::SIGKILL);
    let refused = o.map.get("alloc").is_some_and(|v| v == "EXC:MemoryError");
    assert!(killed || refused, "256 MiB under a 64 MiB limit: {o:?}");
    let mem_dir =
        cg.0.dirs()
            .iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/memory"))
            .unwrap();
    let max = std::fs::read_to_string(mem_dir.join("memory.max_usage_in_bytes")).unwrap();
    assert!(
        max.trim().parse::<u64>().unwrap() <= 64 << 20,
        "max usage {max}"
    );

    let t = Instant::now();
    drop(cg);
    eprintln!("cgroup remove: {:?}", t.elapsed());
    assert!(!Path::new("/sys/fs/cgroup/pids")
        .join(format!("moat-test-{id}"))
        .exists());
}

#[test]
fn landlock_refuses_ungranted_paths_and_tcp() {
    let me = uid(7);
    let s = Scratch::new("landlock");
    let data = s.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("file"), b"hello").unwrap();
    std::fs::set_permissions(data.join("file"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let granted = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gport = granted.local_addr().unwrap().port();
    let dport = denied.local_addr().unwrap().port();
    let script = format!(
        r#"
def tcp(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.close()
    return "connected"
def tcp_bind():
    c = socket.socket()
    c.bind(("127.0.0.1", 0))
    c.listen()
    return "bound"
attempt("bound_ungranted_read", lambda: read({file:?}))
attempt("bound_ungranted_list", lambda: os.listdir({data:?}))
attempt("tcp_granted", lambda: tcp({gport}))
attempt("tcp_denied", lambda: tcp({dport}))
attempt("tcp_bind", tcp_bind)
"#,
        file = data.join("file").to_str().unwrap(),
        data = data.to_str().unwrap(),
    );
    let mut spec = python_spec(&s, "landlock", me, &script);
    spec.binds.push(Bind::read_only(&data));
    spec.landlock.as_mut().unwrap().tcp_connect.push(gport);
    let o = outcomes(&run(&spec));
    o.assert_success();
    o.refused("bound_ungranted_read", &["EACCES"]);
    o.refused("bound_ungranted_list", &["EACCES"]);
    o.allowed("tcp_granted");
    o.refused("tcp_denied", &["EACCES"]);
    o.refused("tcp_bind", &["EACCES"]);
    drop(denied);
}

#[test]
fn only_listed_devices_exist_and_belong_to_the_guest() {
    let me = uid(8);
    let s = Scratch::new("dev");
    let script = r#"
import stat
attempt("dev_list", lambda: sorted(os.listdir("/dev")))
for n in ["null", "zero"]:
    st = os.stat("/dev/" + n)
    print(f"{n}=OK:{st.st_uid}:{st.st_gid}:{oct(stat.S_IMODE(st.st_mode))}:{stat.S_ISCHR(st.st_mode)}:{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")
attempt("null_write", lambda: write("/dev/null"))
attempt("zero_read", lambda: read("/dev/zero"))
attempt("kvm", lambda: read("/dev/kvm"))
attempt("mknod", lambda: os.mknod("/dev/mem2", 0o600 | stat.S_IFCHR, os.makedev(1, 1)))
"#;
    let mut spec = python_spec(&s, "dev", me, script);
    spec.devices = vec![
        DeviceNode {
            path: "/dev/null".into(),
            writable: true,
        },
        DeviceNode {
            path: "/dev/zero".into(),
            writable: false,
        },
    ];
    let ll = spec.landlock.as_mut().unwrap();
    ll.read_only.push("/dev".into());
    ll.read_write.push("/dev/null".into());
    ll.read_only.push("/dev/zero".into());
    let o = outcomes(&run(&spec));
    o.assert_success();
    assert_eq!(o.allowed("dev_list"), "['null', 'zero']");
    assert_eq!(o.allowed("null"), format!("{me}:{me}:0o600:True:1:3"));
    assert_eq!(o.allowed("zero"), format!("{me}:{me}:0o600:True:1:5"));
    o.allowed("null_write");
    o.allowed("zero_read");
    o.refused("kvm", &["ENOENT"]);
    o.refused("mknod", &["EPERM", "EACCES", "EROFS"]);
}

/// Keeps the helpers used (some tests use only a subset).
#[test]
fn wait_times_out_is_not_hit_by_fast_programs() {
    let s = Scratch::new("fast");
    let spec = python_spec(&s, "fast", uid(9), "print('x=OK:1')");
    let out = wait(spawn(&spec), Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!mounted_on_host(&s.path("root")));
}

#[test]
fn passed_fds_stay_open_and_every_other_fd_is_closed() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let me = uid(10);
    let s = Scratch::new("fds");
    // Files outside every bind: reachable only through a passed fd (as taps are).
    let passed = s.path("passed.img");
    std::fs::write(&passed, b"by-fd").unwrap();
    let leaked = s.path("leaked.img");
    std::fs::write(&leaked, b"leak").unwrap();
    let passed_file = std::fs::File::open(&passed).unwrap();
    let leaked_file = std::fs::File::open(&leaked).unwrap();
    // Above 100 in the parent, so dup2 onto 3 and 4 is never a no-op that
    // would keep FD_CLOEXEC set.
    let high = |f: &std::fs::File| {
        nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100)).unwrap()
    };
    let (p, l) = (high(&passed_file), high(&leaked_file));
    let script = r#"
attempt("fd3", lambda: os.read(3, 16).decode())
attempt("fd4", lambda: os.read(4, 16).decode())
attempt("open_fds", lambda: sorted(int(f) for f in os.listdir("/proc/self/fd")))
"#;
    let mut spec = python_spec(&s, "fds", me, script);
    spec.passed_fds = 1;
    let mut cmd = jail::command(std::path::Path::new(JAIL), &spec).unwrap();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: dup2 is async-signal-safe and touches only fd numbers; `p` and
    // `l` stay open in the parent until after spawn, and 3 and 4 are free in
    // the child (std opens nothing there but 0-2 and a CLOEXEC error pipe,
    // which dup2 over 3/4 cannot break: std allocates it before fork with
    // O_CLOEXEC and reports through it only if exec fails).
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::dup2(p, 3)?;
            nix::unistd::dup2(l, 4)?;
            Ok(())
        });
    }
    let out = wait(cmd.spawn().unwrap(), Duration::from_secs(30));
    drop((passed_file, leaked_file));
    nix::unistd::close(p).unwrap();
    nix::unistd::close(l).unwrap();
    let o = outcomes(&out);
    o.assert_success();
    assert_eq!(o.allowed("fd3"), "by-fd");
    o.refused("fd4", &["EBADF"]);
    // 0-2, the passed fd 3, and the one listdir itself opens.
    let fds = o.allowed("open_fds");
    assert!(fds == "[0, 1, 2, 3, 4]" || fds == "[0, 1, 2, 3]", "{fds}");
}

#[test]
fn seccomp_denylist_is_enforced() {
    let s = Scratch::new("seccomp");
    let script = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
buf = ctypes.create_string_buffer(256)
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r == 0 and nr == 56:  # a clone that went through: never let the child run on
        os._exit(0)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17
attempt("unshare_user", lambda: sc(272, CLONE_NEWUSER))
attempt("clone_newuser", lambda: sc(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
attempt("clone_newnet", lambda: sc(56, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0))
attempt("clone3", lambda: sc(435, buf, 88))
attempt("bpf", lambda: sc(321, 0, buf, 16))
attempt("keyctl", lambda: sc(250, 0, 0))
attempt("io_uring_setup", lambda: sc(425, 1, buf))
attempt("perf_event_open", lambda: sc(298, buf, 0, -1, -1, 0))
attempt("userfaultfd", lambda: sc(323, 0))
attempt("personality", lambda: sc(135, 0xffffffff))
attempt("mount", lambda: sc(165, 0, buf, 0, 0, 0))
attempt("process_vm_readv", lambda: sc(310, 1, 0, 0, 0, 0, 0))
attempt("getpid", lambda: sc(39) == os.getpid())
import threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("thread=OK:started", flush=True)
"#;
    let spec = python_spec(&s, "seccomp", uid(11), script);
    let o = outcomes(&run(&spec));
    o.assert_success();
    for name in [
        "unshare_user",
        "clone_newuser",
        "clone_newnet",
        "bpf",
        "keyctl",
        "io_uring_setup",
        "perf_event_open",
        "userfaultfd",
        "personality",
        "mount",
        "process_vm_readv",
    ] {
        o.refused(name, &["EPERM"]);
    }
    // clone3 gets ENOSYS so that glibc falls back to the inspectable clone.
    o.refused("clone3", &["ENOSYS"]);
    assert_eq!(o.allowed("getpid"), "True");
    o.allowed("thread");
}

#[test]
fn t6_a_socket_directory_takes_sockets_only() {
    // A guest's run directory lives on the host's /run: its QEMU may make its QMP and console
    // sockets there, but no file it could grow to fill that file system.
    let me = uid(12);
    let s = Scratch::new("t6-sockets");
    let run = s.owned_dir("run", me);
    let script = format!(
        r#"
def make_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    return "bound"
attempt("socket", lambda: make_socket({sock:?}))
attempt("socket_remove", lambda: os.unlink({sock:?}))
attempt("file_create", lambda: write({file:?}, b"x" * 4096))
attempt("dir_create", lambda: os.mkdir({dir:?}))
attempt("fifo_create", lambda: os.mkfifo({fifo:?}))
attempt("symlink_create", lambda: os.symlink("/etc/passwd", {link:?}))
"#,
        sock = run.join("qmp.sock").to_str().unwrap(),
        file = run.join("fill").to_str().unwrap(),
        dir = run.join("d").to_str().unwrap(),
        fifo = run.join("fifo").to_str().unwrap(),
        link = run.join("link").to_str().unwrap(),
    );
    let mut spec = python_spec(&s, "t6-sockets", me, &script);
    spec.binds.push(Bind::writable(&run));
    spec.landlock.as_mut().unwrap().sockets.push(run.clone());
    let o = outcomes(&run_jail(&spec));
    o.assert_success();
    o.allowed("socket");
    o.allowed("socket_remove");
    for name in ["file_create", "dir_create", "fifo_create", "symlink_create"] {
        o.refused(name, &["EACCES"]);
    }
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 0);
}
