"""python-libvirt client for the side-by-side benchmark: a `lookupByName` + `info()` loop.

Run with Debian's interpreter and bindings (/usr/bin/python3, python3-libvirt) against any daemon
that speaks libvirt's remote protocol; bench/side-by-side.sh runs this same file against moatd and
against libvirtd. It connects once, loops for --warmup seconds, then measures --reps repetitions of
--seconds each and prints one CSV row per repetition (no header) on stdout:

    daemon,case,iterations,seconds,it_per_s,daemon_cpu_s,rep,client_cpu_s

daemon_cpu_s is the daemon's utime+stime delta over the repetition, read from /proc/PID/stat
(all of its threads; clock-tick resolution, 10 ms at USER_HZ=100), when --daemon-pid is given.
client_cpu_s is this process's own CPU time over the repetition, i.e. python-libvirt's share.

Nothing here asserts a time: it measures and prints.
"""

import argparse
import os
import sys
import time

import libvirt

TICKS = os.sysconf("SC_CLK_TCK")


def daemon_cpu(pid):
    """utime+stime of process `pid` in seconds, or None if there is no pid."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat", "rb") as stat:
        text = stat.read().decode()
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / TICKS


def one_iteration(conn, name):
    dom = conn.lookupByName(name)
    dom.info()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--name", required=True, help="the defined guest to look up")
    parser.add_argument("--label", required=True, help="daemon column of the CSV rows")
    parser.add_argument("--case", required=True, help="case column of the CSV rows")
    parser.add_argument("--daemon-pid", type=int, help="read the daemon's CPU time from /proc")
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

    end = time.monotonic() + args.warmup
    while time.monotonic() < end:
        one_iteration(conn, args.name)

    for rep in range(args.first_rep, args.first_rep + args.reps):
        # Check the clock every 64 iterations so that reading it costs next to nothing.
        iterations = 0
        cpu0 = daemon_cpu(args.daemon_pid)
        own0 = time.process_time()
        start = time.monotonic()
        deadline = start + args.seconds
        now = start
        while now < deadline:
            for _ in range(64):
                one_iteration(conn, args.name)
            iterations += 64
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
