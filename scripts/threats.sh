#!/usr/bin/env bash
# Runs the threat tests of DESIGN.md's table (T1-T13, the rows whose features exist) against
# real parts - a real moatd, virsh, python-libvirt, QEMU and kernel enforcement - and prints
# the table: attack, expected, observed, pass/fail. As root on Debian 12; installs what it needs.
# scripts/test.sh prints the same table from its full run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

ensure_packages "${BUILD_PACKAGES[@]}" "${NETWORK_PACKAGES[@]}" iputils-ping util-linux libvirt-clients python3-libvirt qemu-system-x86 dbus polkitd
ensure_rust

export MOAT_THREAT_REPORT="$PWD/target/threats.jsonl"
mkdir -p target
rm -f "$MOAT_THREAT_REPORT"
cargo build --locked -p jail -p moatd
status=0
cargo test --locked -p moatd --test isolation --test access --test virsh --test robustness --test network || status=$?
python3 scripts/threats.py "$MOAT_THREAT_REPORT" || status=1
exit "$status"
