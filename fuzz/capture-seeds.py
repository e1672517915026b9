#!/usr/bin/python3
"""Captures real client traffic as fuzz seeds.

Starts a relay on a UNIX socket in front of a running moatd, runs a fixed virsh and
python-libvirt session through it, and writes every frame the clients sent to
fuzz/seeds/frame/ and each call's procedure + payload to fuzz/seeds/xdr_decode/ (the targets'
input formats: a whole frame; two bytes of procedure number then the payload). File names are
content hashes, so re-running adds only new frames.

Usage (as root, moatd built): fuzz/capture-seeds.py [path/to/moatd]
"""
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOATD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/moatd")
SEEDS = os.path.join(ROOT, "fuzz/seeds")


def save(kind, data):
    d = os.path.join(SEEDS, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def frames(buffer):
    """Splits complete frames off the front of buffer; returns (frames, rest)."""
    out = []
    while len(buffer) >= 4:
        (length,) = struct.unpack(">I", buffer[:4])
        if length < 28 or len(buffer) < length:
            break
        out.append(buffer[:length])
        buffer = buffer[length:]
    return out, buffer


def pump(src, dst, capture):
    pending = b""
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        if capture:
            got, pending = frames(pending + data)
            for frame in got:
                save("frame", frame)
                procedure = struct.unpack(">i", frame[12:16])[0]
                if 0 <= procedure < 65536:
                    save("xdr_decode", struct.pack(">H", procedure) + frame[28:])
        dst.sendall(data)


def relay(listener, upstream):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        server = socket.socket(socket.AF_UNIX)
        server.connect(upstream)
        threading.Thread(target=pump, args=(client, server, True), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, False), daemon=True).start()


def main():
    work = tempfile.mkdtemp(prefix="moat-capture.")
    daemon = subprocess.Popen([MOATD, "--run-dir", f"{work}/run", "--state-dir", f"{work}/state"],
                              stderr=subprocess.DEVNULL)
    upstream = f"{work}/run/moat-sock"
    for _ in range(100):
        if os.path.exists(upstream):
            break
        time.sleep(0.1)
    relay_path = f"{work}/relay.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(relay_path)
    listener.listen()
    threading.Thread(target=relay, args=(listener, upstream), daemon=True).start()
    uri = f"qemu+unix:///system?socket={relay_path}"
    xml = f"{work}/g.xml"
    with open(xml, "w") as f:
        f.write("<domain type='kvm'><name>seed</name><uuid>5eed0000-0000-4000-8000-000000000001</uuid>"
                "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
                "<devices><disk type='file' device='disk'><source file='/var/lib/moat/images/s.img'/>"
                "<target dev='vda' bus='virtio'/></disk></devices></domain>")
    for args in (["version"], ["hostname"], ["nodeinfo"], ["capabilities"], ["define", xml],
                 ["list", "--all"], ["dominfo", "seed"], ["dumpxml", "seed"], ["domstate", "seed"],
                 ["autostart", "seed"], ["autostart", "--disable", "seed"], ["domuuid", "seed"],
                 ["undefine", "seed"], ["list", "--all", "--name"]):
        subprocess.run(["virsh", "-q", "-c", uri] + args, capture_output=True, env={**os.environ, "LC_ALL": "C"})
    script = ("import libvirt\nc = libvirt.open(%r)\nc.getInfo(); c.getHostname(); c.listAllDomains(0)\n"
              "d = c.defineXML(open(%r).read()); d.info(); d.XMLDesc(0); d.securityLabelList()\n"
              "c.getSecurityModel(); d.undefine(); c.close()\n") % (uri, xml)
    subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True)
    time.sleep(0.3)
    daemon.terminate()
    daemon.wait()
    for kind in ("frame", "xdr_decode"):
        print(kind, len(os.listdir(os.path.join(SEEDS, kind))), "seeds")


main()
