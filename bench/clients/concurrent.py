"""python-libvirt client for the side-by-side benchmark: many concurrent clients, per-call latency.

Run with Debian's interpreter and bindings (/usr/bin/python3, python3-libvirt) against any daemon
that speaks libvirt's remote protocol; bench/side-by-side.sh runs this same file against moatd and
against libvirtd. It forks --clients processes; each opens its own connection, looks the guest up
once and makes a few warm-up calls (not timed), then all wait at a barrier and each makes --calls
calls of `dom.info()` (one remote procedure, DOMAIN_GET_INFO), timing every call. Meanwhile the
parent samples the daemon's memory every 50 ms (VmRSS, Pss, private) and keeps the sample with the
highest VmRSS: the "loaded" figure.

It prints one CSV row on stdout, in raw.csv's columns (no header):

    daemon,case,iterations,seconds,it_per_s,daemon_cpu_s,rep,client_cpu_s

with iterations = clients x calls, seconds = from the barrier to the last client's last reply and
it_per_s the throughput over all clients; client_cpu_s is the clients' CPU time in all.
--latency FILE gets one line `daemon,rep,p50_ms,p90_ms,p99_ms,max_ms` appended; --cdf FILE gets
the latency distribution of this repetition as 201 quantiles (`daemon,rep,quantile,ms`);
--memory FILE gets the peak sample as a memory.csv row (`daemon,loaded,pid,vmrss,pss,private`).

Nothing here asserts a time: it measures and prints.
"""

import argparse
import multiprocessing
import sys
import threading
import time

import libvirt

from lookup_info import daemon_cpu

QUANTILES = 200  # CDF resolution: 201 points per daemon and repetition


def memory_sample(pid):
    """(VmRSS, Pss, private clean+dirty) of `pid` in KiB."""
    rss = pss = private = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key == "Pss":
                pss = int(rest.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                private += int(rest.split()[0])
    return rss, pss, private


def client(uri, name, calls, barrier, out):
    """One client process: connect, warm up, wait for all, time `calls` info() calls."""
    try:
        conn = libvirt.open(uri)
        dom = conn.lookupByName(name)
        for _ in range(5):
            dom.info()
        own0 = time.process_time()
        barrier.wait()
        latencies = []
        for _ in range(calls):
            t0 = time.monotonic()
            dom.info()
            latencies.append(time.monotonic() - t0)
        end = time.monotonic()
        own = time.process_time() - own0
        conn.close()
        out.send((end, own, latencies))
    except (libvirt.libvirtError, threading.BrokenBarrierError) as e:
        barrier.abort()  # the others and the parent stop waiting at once
        out.send(str(e))
    finally:
        out.close()


def receive_or_none(pipe):
    """What a client sent within 5 s, or None (nothing, or it died without a word)."""
    try:
        return pipe.recv() if pipe.poll(5) else None
    except EOFError:
        return None


def quantile(sorted_values, q):
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--name", required=True, help="the defined guest to query")
    parser.add_argument("--label", required=True, help="daemon column of the CSV rows")
    parser.add_argument("--case", default="concurrent", help="case column of the CSV row")
    parser.add_argument("--daemon-pid", help="CPU time from /proc (pid[,pid...]); the first is sampled for memory")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per client")
    parser.add_argument("--rep", type=int, default=1)
    parser.add_argument("--latency", help="append p50/p90/p99/max to this file")
    parser.add_argument("--cdf", help="append the latency quantiles to this file")
    parser.add_argument("--memory", help="append the peak memory sample to this file")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(args.clients + 1, timeout=120)
    pipes, procs = [], []
    for _ in range(args.clients):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=client, args=(args.uri, args.name, args.calls, barrier, send))
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)

    mem_pid = args.daemon_pid.split(",")[0] if args.daemon_pid else None
    peak = None
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        first = next((r for r in map(receive_or_none, pipes) if isinstance(r, str)),
                     "no reason given")
        sys.exit(f"{args.label}: a client failed before the start: {first}")
    cpu0 = daemon_cpu(args.daemon_pid)
    start = time.monotonic()
    results = {}
    while len(results) < len(pipes):
        for i, pipe in enumerate(pipes):
            if i in results:
                continue
            if pipe.poll():
                try:
                    results[i] = pipe.recv()
                except EOFError:  # the client died without a word
                    results[i] = f"client process exited ({procs[i].exitcode}) without a result"
            elif not procs[i].is_alive() and not pipe.poll():
                results[i] = f"client process exited ({procs[i].exitcode}) without a result"
        if mem_pid is not None:
            sample = memory_sample(mem_pid)
            if peak is None or sample[0] > peak[0]:
                peak = sample
        time.sleep(0.05)
    cpu1 = daemon_cpu(args.daemon_pid)
    for proc in procs:
        proc.join()
    failures = [r for r in results.values() if isinstance(r, str)]
    if failures:
        sys.exit(f"{args.label}: {len(failures)} clients failed, first: {failures[0]}")

    end = max(r[0] for r in results.values())
    client_cpu = sum(r[1] for r in results.values())
    latencies = sorted(x for r in results.values() for x in r[2])
    calls = len(latencies)
    seconds = end - start
    dcpu = "" if cpu0 is None else f"{cpu1 - cpu0:.2f}"
    print(f"{args.label},{args.case},{calls},{seconds:.4f},{calls / seconds:.1f},{dcpu},"
          f"{args.rep},{client_cpu:.3f}", flush=True)
    if args.latency:
        with open(args.latency, "a") as f:
            qs = (quantile(latencies, q) * 1e3 for q in (0.5, 0.9, 0.99, 1.0))
            f.write(f"{args.label},{args.rep}," + ",".join(f"{v:.4f}" for v in qs) + "\n")
    if args.cdf:
        with open(args.cdf, "a") as f:
            for i in range(QUANTILES + 1):
                q = i / QUANTILES
                f.write(f"{args.label},{args.rep},{q:.3f},{quantile(latencies, q) * 1e3:.4f}\n")
    if args.memory and peak is not None:
        with open(args.memory, "a") as f:
            f.write(f"{args.label},loaded,{mem_pid},{peak[0]},{peak[1]},{peak[2]}\n")


if __name__ == "__main__":
    main()
