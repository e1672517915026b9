"""Defines many guests over one python-libvirt connection, for the side-by-side ACL cases.

usage: define_many.py --uri URI --count N --prefix web- [--prefix db- ...]

Each prefix gets N/len(prefixes) guests named PREFIX0000, PREFIX0001, ... (`<domain type='qemu'>`,
128 MiB, 1 vCPU, no disks, never started), each with a UUID derived from its name. Prints how many
it defined and how long that took on stderr.
"""

import argparse
import sys
import time
import uuid

import libvirt

XML = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", action="append", required=True)
    args = parser.parse_args()
    conn = libvirt.open(args.uri)
    if conn is None:
        sys.exit(f"cannot connect to {args.uri}")
    per_prefix = args.count // len(args.prefix)
    start = time.monotonic()
    for prefix in args.prefix:
        for i in range(per_prefix):
            name = f"{prefix}{i:04d}"
            guest_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"moat-bench:{name}")
            conn.defineXML(XML.format(name=name, uuid=guest_uuid))
    print(f"defined {per_prefix * len(args.prefix)} guests in {time.monotonic() - start:.1f} s",
          file=sys.stderr)
    conn.close()


if __name__ == "__main__":
    main()
