#!/usr/bin/env python3
"""Prints DESIGN.md's threat table (T1-T13) with what the threat tests observed.

Usage: scripts/threats.py REPORT.jsonl

REPORT.jsonl holds one JSON object per attempt, appended by the tests when MOAT_THREAT_REPORT
names the file (crates/moatd/tests/common/threats.rs). A threat passes when it has records and
every one passed; a threat whose feature is built but has no record fails (its test failed
before it could record, or was not run); a threat whose feature is not built yet is listed as
such. Exits 1 if any threat failed.
"""
import json
import sys

# DESIGN.md's rows: (id, attack, expected). Kept here because CI checks out the repository
# alone; keep in step with DESIGN.md.
THREATS = [
    ("T1", "a guest's process reads or writes another guest's disk image", "kernel refuses (EACCES/EPERM)"),
    ("T2", "a guest's process writes host files (/etc, other disks, the daemon's state)", "kernel refuses"),
    ("T3", "a guest's process connects to the management sockets", "impossible (not in its mount namespace)"),
    ("T4", "a guest's process signals, ptraces or reads /proc of another guest or the daemon", "refused"),
    ("T5", "a guest's process gains privileges (setuid binaries, capabilities)", "no_new_privs, empty capability sets"),
    ("T6", "a guest exhausts host memory or pids", "cgroup limits hold"),
    ("T7", "two running guests share an MCS pair or a dynamic uid, also after a daemon restart", "never"),
    ("T8", "an unauthenticated client calls anything but auth", "refused, connection kept sane"),
    ("T9", "a read-only client mutates anything", "refused"),
    ("T10", "a user calls an API its ACL does not grant; lists objects it may not see", "refused; filtered out"),
    ("T11", "malformed frames, XDR, XML, oversize messages, slow or vanishing clients", "clear error, daemon unaffected, nothing lost"),
    ("T12", "a guest is given a whole host disk writable, or a host path outside the image store", "refused or warned per policy, and logged"),
    ("T13", "a guest spoofs MAC/IP, or reaches host services it was not given", "dropped by the host firewall"),
]

# Threats whose feature does not exist yet, with the issue that builds it.
NOT_BUILT = {}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    records = {}
    try:
        with open(sys.argv[1]) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as err:
                    sys.exit(f"{sys.argv[1]}:{number}: not JSON: {err}")
                records.setdefault(r["threat"], []).append(r)
    except FileNotFoundError:
        pass
    failed = []
    print(f"{'threat':<6} {'result':<8} attack / expected / observed")
    print("-" * 100)
    for tid, attack, expected in THREATS:
        rows = records.get(tid, [])
        if not rows:
            if tid in NOT_BUILT and tid not in records:
                result = "not yet"
                detail = f"feature not built: {NOT_BUILT[tid]}"
            else:
                result = "FAIL"
                detail = "no test recorded an attempt (its test failed or did not run)"
                failed.append(tid)
            print(f"{tid:<6} {result:<8} {attack}\n{'':15}expected: {expected}\n{'':15}{detail}")
            continue
        ok = all(r["passed"] for r in rows)
        if not ok:
            failed.append(tid)
        print(f"{tid:<6} {'pass' if ok else 'FAIL':<8} {attack}\n{'':15}expected: {expected}")
        for r in rows:
            mark = "ok  " if r["passed"] else "FAIL"
            observed = " ".join(str(r["observed"]).split())
            if len(observed) > 110:
                observed = observed[:107] + "..."
            print(f"{'':15}{mark} {r['attack']}: {observed}")
    print("-" * 100)
    total = sum(len(v) for v in records.values())
    print(f"{total} attempts recorded; threats failed: {', '.join(failed) if failed else 'none'}")
    sys.exit(1 if failed else 0)


main()
