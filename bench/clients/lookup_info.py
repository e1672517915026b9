"""python-libvirt client for the side-by-side benchmark: a `lookupByName` + `info()` loop.

Run with Debian's interpreter and bindings (/usr/bin/python3, python3-libvirt) against any daemon
that speaks libvirt's remote protocol; bench/side-by-side.sh runs this same file against moatd and
against libvirtd. It connects once, loops for --warmup seconds, then measures --reps repetitions of
--seconds each and prints one CSV row per repetition (no header) on stdout:

    daemon,case,iterations,seconds,it_per_s,daemon_cpu_s,rep,client_cpu_s

daemon_cpu_s is the daemon's utime+stime delta over the repetition, read from /proc/PID/stat
(all of its threads; clock-tick resolution, 10 ms at USER_HZ=100), when --daemon-pid is given;
several comma-separated pids are summed (libvirtd with the polkitd and dbus-daemon it asks).

With --op list_all, one iteration is `listAllDomains(0)` instead, and --expect N checks that the
caller sees exactly N guests (per-guest ACL filtering).
client_cpu_s is this process's own CPU time over the repetition, i.e. python-libvirt's share.

Nothing here asserts a time: it measures and prints.
"""

import argparse
import os
import sys
import time

import libvirt

TICKS = os.sysconf("SC_CLK_TCK")


def daemon_cpu(pids):
    """utime+stime of the processes `pids` (comma-separated) in seconds, or None without pids."""
    if not pids:
        return None
    total = 0
    for pid in pids.split(","):
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode()
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def lookup_info(conn, name):
    dom = conn.lookupByName(name)
    dom.info()


def list_all(conn, _name):
    return len(conn.listAllDomains(0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--name", required=True, help="the defined guest to look up")
    parser.add_argument("--label", required=True, help="daemon column of the CSV rows")
    parser.add_argument("--case", required=True, help="case column of the CSV rows")
    parser.add_argument("--daemon-pid", help="read the daemon's CPU time from /proc (pid[,pid...])")
    parser.add_argument("--op", choices=("lookup_info", "list_all"), default="lookup_info")
    parser.add_argument("--expect", type=int, help="list_all: the number of guests to be seen")
    parser.add_argument("--batch", type=int, default=64,
                        help="iterations between clock reads (1 for slow operations)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one repetition")
    parser.add_argument("--first-rep", type=int, default=1, help="number of the first repetition")
    args = parser.parse_args()

    conn = libvirt.open(args.uri)
    if conn is None:
        sys.exit(f"cannot connect to {args.uri}")
    # The guest must be there and answer sensibly before anything is timed.
    state, maxmem, _mem, vcpus, _cputime = conn.lookupByName(args.name).info()
    if state != libvirt.VIR_DOMAIN_SHUTOFF or maxmem <= 0 or vcpus <= 0:
        sys.exit(f"{args.label}: unexpected info() for {args.name}: {state} {maxmem} {vcpus}")
    one_iteration = lookup_info if args.op == "lookup_info" else list_all
    if args.op == "list_all" and args.expect is not None:
        seen = list_all(conn, args.name)
        if seen != args.expect:
            sys.exit(f"{args.label}: listAllDomains returned {seen} guests, expected {args.expect}")

    end = time.monotonic() + args.warmup
    while time.monotonic() < end:
        one_iteration(conn, args.name)

    for rep in range(args.first_rep, args.first_rep + args.reps):
        # Check the clock every --batch iterations so that reading it costs next to nothing.
        iterations = 0
        cpu0 = daemon_cpu(args.daemon_pid)
        own0 = time.process_time()
        start = time.monotonic()
        deadline = start + args.seconds
        now = start
        while now < deadline:
            for _ in range(args.batch):
                one_iteration(conn, args.name)
            iterations += args.batch
            now = time.monotonic()
        seconds = now - start
        own = time.process_time() - own0
        cpu1 = daemon_cpu(args.daemon_pid)
        dcpu = "" if cpu0 is None else f"{cpu1 - cpu0:.2f}"
        print(
            f"{args.label},{args.case},{iterations},{seconds:.4f},{iterations / seconds:.1f},"
            f"{dcpu},{rep},{own:.3f}",
            flush=True,
        )
    conn.close()


if __name__ == "__main__":
    main()
