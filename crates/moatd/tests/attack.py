#!/usr/bin/python3
# A stand-in "emulator" for the isolation tests: moatd starts it exactly as it starts QEMU
# (through moat-jail, under the guest's uid, cgroup, mount namespace, Landlock and seccomp).
# It tries the attacks of DESIGN.md's threat table T1-T6, prints one line per attempt, and then
# executes the real QEMU with the arguments it was given, so the guest really runs.
#
# Lines: "ATTACK <name> REFUSED|ALLOWED <detail>" and "CHECK <name> OK|FAILED <detail>".
# The test fills in TARGETS (a JSON object) before writing this file.
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading

TARGETS = json.loads(r'''@TARGETS@''')


def report(kind, name, good, detail):
    word = {"ATTACK": ("REFUSED", "ALLOWED"), "CHECK": ("OK", "FAILED")}[kind]
    print(f"{kind} {name} {word[0] if good else word[1]} {detail}", flush=True)


def attempt(name, action):
    """An attack: refused when it raises OSError (or returns False)."""
    try:
        result = action()
    except OSError as err:
        report("ATTACK", name, True, f"errno {err.errno} ({os.strerror(err.errno)})")
        return
    except Exception as err:  # noqa: BLE001 - any other failure also means "not done"
        report("ATTACK", name, True, f"{type(err).__name__}: {err}")
        return
    if result is False:
        report("ATTACK", name, True, "no effect")
    else:
        report("ATTACK", name, False, f"succeeded: {result!r}")


def read_file(path):
    with open(path, "rb") as f:
        return len(f.read(16))


def write_file(path, mode="r+b"):
    with open(path, mode) as f:
        f.write(b"pwned")
    return "written"


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return "connected"


def ptrace_attach(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    if libc.ptrace(16, pid, None, None) == -1:  # PTRACE_ATTACH
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return "attached"


def status_fields():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def setuid_binary():
    out = subprocess.run([TARGETS["setuid_id"], "-u"], capture_output=True, timeout=10)
    euid = out.stdout.decode().strip()
    if out.returncode != 0 or euid != "0":
        raise PermissionError(1, f"exit {out.returncode}, euid {euid or '-'}: {out.stderr.decode().strip()}")
    return "euid 0"


def thread_bomb():
    stop = threading.Event()
    threads = []
    try:
        for _ in range(100000):
            t = threading.Thread(target=stop.wait)
            t.start()
            threads.append(t)
    except RuntimeError as err:
        count = len(threads)
        stop.set()
        for t in threads:
            t.join()
        raise PermissionError(1, f"stopped after {count} threads: {err}")
    stop.set()
    return f"{len(threads)} threads"


def memory_hog():
    code = "b = bytearray(1 << 30); print(len(b))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    if out.returncode != 0:
        raise MemoryError(f"the allocating process ended with {out.returncode}")
    return "1 GiB allocated"


def main():
    other_image = TARGETS["other_image"]
    other_pid = TARGETS["other_pid"]
    own_image = TARGETS["own_image"]

    # The guest's own resources work: the test would prove nothing otherwise.
    try:
        write_file(own_image)
        report("CHECK", "own_image_writable", True, own_image)
    except OSError as err:
        report("CHECK", "own_image_writable", False, str(err))

    # T1: another guest's image.
    attempt("t1_read_other_image", lambda: read_file(other_image))
    attempt("t1_write_other_image", lambda: write_file(other_image))
    # T2: host files and the daemon's state.
    attempt("t2_write_etc_passwd", lambda: write_file("/etc/passwd", "ab"))
    attempt("t2_create_in_etc", lambda: write_file("/etc/moat-pwned", "wb"))
    attempt("t2_create_in_usr", lambda: write_file("/usr/moat-pwned", "wb"))
    attempt("t2_write_daemon_state", lambda: write_file(TARGETS["state_dir"] + "/pwned", "wb"))
    attempt("t2_read_daemon_state", lambda: os.listdir(TARGETS["state_dir"]))
    # T3: the management sockets.
    attempt("t3_connect_moat_sock", lambda: connect(TARGETS["socket"]))
    attempt("t3_connect_moat_sock_ro", lambda: connect(TARGETS["socket_ro"]))
    attempt("t3_connect_via_proc_root", lambda: connect("/proc/1/root" + TARGETS["socket"]))
    # T4: other processes.
    attempt("t4_signal_other_qemu", lambda: os.kill(other_pid, signal.SIGKILL))
    attempt("t4_signal_daemon", lambda: os.kill(TARGETS["daemon_pid"], signal.SIGTERM))
    attempt("t4_ptrace_other_qemu", lambda: ptrace_attach(other_pid))
    attempt("t4_read_other_mem", lambda: read_file(f"/proc/{other_pid}/mem"))
    attempt("t4_read_other_environ", lambda: read_file(f"/proc/{other_pid}/environ"))
    attempt("t4_see_other_process", lambda: os.path.exists(f"/proc/{other_pid}") or False)
    # T5: privileges.
    fields = status_fields()
    caps = {k: fields.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    no_caps = all(v == "0000000000000000" for v in caps.values())
    report("CHECK", "t5_no_capabilities", no_caps, json.dumps(caps))
    report("CHECK", "t5_no_new_privs", fields.get("NoNewPrivs") == "1", fields.get("NoNewPrivs"))
    report("CHECK", "t5_seccomp_filter", fields.get("Seccomp") == "2", fields.get("Seccomp"))
    report("CHECK", "guest_ids", True, f"+{os.getuid()}:+{os.getgid()}")
    attempt("t5_setuid_root", lambda: os.setuid(0))
    attempt("t5_setuid_binary", setuid_binary)
    attempt("t5_mount", lambda: subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "x", "/tmp"], check=True, capture_output=True))
    # T6: resources.
    attempt("t6_memory", memory_hog)
    attempt("t6_pids", thread_bomb)
    # Its run directory is on the host's /run: sockets only, nothing to fill it with.
    run_dir = TARGETS["own_run_dir"]
    attempt("t6_fill_run_dir", lambda: write_file(run_dir + "/fill", "wb"))
    attempt("t6_mkdir_in_run_dir", lambda: os.mkdir(run_dir + "/d"))
    # Only what the guest was given exists in /dev.
    # (Landlock does not let it list /dev, so look for nodes by name.)
    names = ["null", "zero", "full", "random", "urandom", "kvm", "sda", "vda", "mem", "kmem",
             "kmsg", "port", "tty", "console", "ptmx", "fuse", "loop0", "mapper", "shm"]
    present = [n for n in names if os.path.exists("/dev/" + n)]
    report("CHECK", "dev_nodes", True, " ".join(present))

    print("ATTACKS DONE", flush=True)
    os.execv(TARGETS["qemu"], [TARGETS["qemu"]] + sys.argv[1:])


main()
