#!/usr/bin/env bash
# Runs Moat's whole test suite on a Debian 12 machine as root: installs what the tests need,
# builds once, then runs the checks and every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# Real clients for the end-to-end tests: virsh and python-libvirt (run with /usr/bin/python3);
# openssl (s_client) shows which certificate the TLS port serves; the network tests use ping and
# nsenter besides the network packages; qemu-img (qemu-utils) makes storage volumes; the logical
# pool tests use LVM (lvm2), loop devices (losetup from mount), blkid (util-linux) and mkfs.ext4
# (e2fsprogs).
ensure_packages "${BUILD_PACKAGES[@]}" "${NETWORK_PACKAGES[@]}" libvirt-clients python3-libvirt \
    qemu-system-x86 qemu-utils dbus polkitd openssl iputils-ping util-linux lvm2 mount e2fsprogs
ensure_rust
# A fresh clone gains nothing from incremental builds; they only cost time and disk.
export CARGO_INCREMENTAL=0

step() { echo; echo "==> $*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo test"
# The threat tests record each attempt here; the table is printed after the run.
export MOAT_THREAT_REPORT="$PWD/target/threats.jsonl"
mkdir -p target
rm -f "$MOAT_THREAT_REPORT"
cargo test --workspace --locked

step "threat table (DESIGN.md T1-T13)"
python3 scripts/threats.py "$MOAT_THREAT_REPORT"

step "soak, short form: 2 clients cycling real guests for 15 s (long form: bash bench/soak.sh)"
bash bench/soak.sh --debug --clients 2 --seconds 15 --out target/soak

step "cargo bench --no-run (benchmarks keep compiling), bench scripts parse"
cargo bench -p moat-bench --locked --no-run
for script in bench/*.sh; do bash -n "$script"; done
/usr/bin/python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' \
    bench/clients/*.py

step "fuzz: every target for 20 s, coverage-guided (long form: bash scripts/fuzz.sh 1800)"
bash scripts/fuzz.sh 20

step "cargo deny"
if command -v cargo-deny >/dev/null 2>&1; then
    cargo deny check
else
    echo "cargo deny: NOT RUN - cargo-deny is not installed and its advisory database cannot be"
    echo "fetched from this network (only package registries are reachable)"
fi
