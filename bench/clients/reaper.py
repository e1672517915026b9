"""Runs a command as a child subreaper and reaps every orphan handed to it, for bench/side-by-side.sh.

usage: reaper.py COMMAND [ARG...]

PID 1 on these machines reaps orphaned processes only about every 1.6 s. libvirtd starts QEMU
double-forked, so QEMU's parent is PID 1 (or the nearest subreaper), and libvirtd's destroy
waits until the QEMU pid is gone — a zombie still counts as there. DESIGN.md's libvirtd anchor
for destroy (~208 ms) was measured under a reaping wrapper like this one; without it the figure
would measure PID 1. moatd is a child subreaper itself (DESIGN.md "Conventions").

This process sets PR_SET_CHILD_SUBREAPER, starts COMMAND, forwards SIGTERM/SIGINT/SIGHUP to it,
reaps whatever dies under it, and exits with COMMAND's status once COMMAND has exited.
"""

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.splitlines()[2])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"reaper.py: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    child = os.fork()
    if child == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            sys.exit(1)
        except InterruptedError:
            continue
        if pid == child:
            sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
