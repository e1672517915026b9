#!/usr/bin/python3
"""One soak worker: for DURATION seconds, defines, starts, lists, destroys and undefines its own
guests against URI as fast as it can, timing every call. Prints one JSON object at the end:
{"ops": {name: [latencies in ms]}, "errors": {message: count}}.

Usage: soak.py URI WORKER DURATION IMAGE_DIR GUESTS
Each worker owns guests named soak-<worker>-<n>, so no error is expected: any error is counted
and reported as unexpected.
"""
import json
import random
import sys
import time

import libvirt

URI, WORKER, DURATION, IMAGES, GUESTS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
QEMU = "/usr/bin/qemu-system-x86_64"


def xml(n):
    uuid = f"5{WORKER:07x}-0000-4000-8000-{n:012x}"
    return (f"<domain type='qemu'><name>soak-{WORKER}-{n}</name><uuid>{uuid}</uuid>"
            "<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
            f"<devices><emulator>{QEMU}</emulator>"
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{IMAGES}/soak-{WORKER}-{n}.img'/><target dev='vda' bus='virtio'/></disk>"
            "</devices></domain>")


def main():
    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open(URI)
    rng = random.Random(WORKER)
    ops, errors = {}, {}

    def timed(name, call):
        start = time.perf_counter()
        try:
            result = call()
        except libvirt.libvirtError as err:
            errors[f"{name}: {err}"] = errors.get(f"{name}: {err}", 0) + 1
            return None
        ops.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    end = time.monotonic() + DURATION
    while time.monotonic() < end:
        n = rng.randrange(GUESTS)
        dom = timed("define", lambda: conn.defineXML(xml(n)))
        if dom is None:
            continue
        timed("list", lambda: conn.listAllDomains(0))
        timed("start", dom.create)
        timed("info", dom.info)
        timed("list", lambda: conn.listAllDomains(0))
        timed("destroy", dom.destroy)
        if rng.random() < 0.5:
            timed("undefine", dom.undefine)
    print(json.dumps({"ops": ops, "errors": errors}))


main()
