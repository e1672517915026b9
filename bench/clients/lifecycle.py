"""python-libvirt client for the side-by-side benchmark: define → running, and destroy, latency.

Run with Debian's interpreter and bindings (/usr/bin/python3, python3-libvirt) against any daemon
that speaks libvirt's remote protocol; bench/side-by-side.sh runs this same file, with the same
domain XML, against moatd and against libvirtd. It connects once (not timed), then for each of
--reps repetitions:

1. define → running: `conn.defineXML(xml)` + `dom.create()`; the clock stops when create() has
   returned and `dom.state()` says running. Both daemons return from create() only once QEMU's
   QMP monitor has answered, so that wait is inside the figure;
2. destroy: `dom.destroy()` of that running guest until it returns (then `dom.state()` must say
   shut off, not timed);
3. `dom.undefine()`, not timed.

It prints two CSV rows per repetition (no header) on stdout, in raw.csv's columns:

    daemon,case,iterations,seconds,it_per_s,daemon_cpu_s,rep,client_cpu_s

with case `define_running` or `destroy`, iterations 1 and seconds the latency. daemon_cpu_s is
the daemon's utime+stime delta over the timed call(s) (/proc/PID/stat, 10 ms ticks; QEMU's own
CPU is not in it). A guest left running by a failure is destroyed and undefined before exiting.

Nothing here asserts a time: it measures and prints.
"""

import argparse
import sys
import time

import libvirt

from lookup_info import daemon_cpu


def row(args, case, seconds, cpu, rep, own):
    dcpu = "" if cpu is None else f"{cpu:.2f}"
    print(f"{args.label},{case},1,{seconds:.6f},{1 / seconds:.3f},{dcpu},{rep},{own:.4f}",
          flush=True)


def cpu_delta(before, after):
    return None if before is None else after - before


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--xml", required=True, help="file holding the domain XML")
    parser.add_argument("--label", required=True, help="daemon column of the CSV rows")
    parser.add_argument("--daemon-pid", help="read the daemon's CPU time from /proc (pid[,pid...])")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--first-rep", type=int, default=1, help="number of the first repetition")
    args = parser.parse_args()

    with open(args.xml) as f:
        xml = f.read()
    conn = libvirt.open(args.uri)
    if conn is None:
        sys.exit(f"cannot connect to {args.uri}")
    # Warm the connection up (not timed): the first calls may load things in the daemon.
    conn.getVersion()
    conn.listAllDomains()

    dom = None
    try:
        for rep in range(args.first_rep, args.first_rep + args.reps):
            cpu0 = daemon_cpu(args.daemon_pid)
            own0 = time.process_time()
            start = time.monotonic()
            dom = conn.defineXML(xml)
            dom.create()
            state, _reason = dom.state()
            end = time.monotonic()
            own = time.process_time() - own0
            cpu1 = daemon_cpu(args.daemon_pid)
            if state != libvirt.VIR_DOMAIN_RUNNING:
                sys.exit(f"{args.label}: guest not running after create(): state {state}")
            row(args, "define_running", end - start, cpu_delta(cpu0, cpu1), rep, own)

            cpu0 = daemon_cpu(args.daemon_pid)
            own0 = time.process_time()
            start = time.monotonic()
            dom.destroy()
            end = time.monotonic()
            own = time.process_time() - own0
            cpu1 = daemon_cpu(args.daemon_pid)
            state, _reason = dom.state()
            if state != libvirt.VIR_DOMAIN_SHUTOFF:
                sys.exit(f"{args.label}: guest not shut off after destroy(): state {state}")
            row(args, "destroy", end - start, cpu_delta(cpu0, cpu1), rep, own)

            dom.undefine()
            dom = None
    finally:
        if dom is not None:
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError as e:
                print(f"{args.label}: clean-up of the guest failed: {e}", file=sys.stderr)
        conn.close()


if __name__ == "__main__":
    main()
