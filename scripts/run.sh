#!/usr/bin/env bash
# Moat's main job on a Debian 12 machine as root: installs what is missing, builds, and runs
# moatd on its embedded default configuration with state under ./state in the checkout, with a
# demo guest (a tiny Linux, scripts/test-guest) defined and booted in it. virsh reaches it with
# the URI printed below. Ctrl-C stops moatd; the guest keeps running until destroyed, and a
# restarted moatd finds it again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# qemu-utils (qemu-img) makes volumes; lvm2 and util-linux (blkid) serve logical (LVM) pools.
ensure_packages "${BUILD_PACKAGES[@]}" "${NETWORK_PACKAGES[@]}" libvirt-clients qemu-system-x86 \
    qemu-utils lvm2 util-linux
ensure_rust

echo "==> building (release)"
cargo build --release --locked -p moatd -p jail

echo "==> building the demo guest (kernel + busybox initramfs, cached in target/test-guest)"
bash scripts/test-guest/build.sh "$PWD/target/test-guest"

RUN_DIR="$PWD/state/run"
STATE_DIR="$PWD/state/lib"
URI="qemu+unix:///system?socket=$RUN_DIR/moat-sock"
mkdir -p "$RUN_DIR" "$STATE_DIR"

echo "==> starting moatd (run dir $RUN_DIR, state dir $STATE_DIR)"
target/release/moatd --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" &
MOATD=$!
trap 'kill "$MOATD" 2>/dev/null; wait "$MOATD" 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
    [ -S "$RUN_DIR/moat-sock" ] && virsh -q -c "$URI" version >/dev/null 2>&1 && break
    kill -0 "$MOATD" 2>/dev/null || { echo "moatd exited during start-up" >&2; exit 1; }
    sleep 0.1
done

if [ "$(virsh -q -c "$URI" domstate demo 2>/dev/null)" != running ]; then
    # (Re)define from the template, so the demo follows this checkout's paths.
    sed -e "s|@GUEST@|$PWD/target/test-guest|g" -e "s|@STATE@|$STATE_DIR|g" \
        scripts/demo-guest.xml > "$STATE_DIR/demo-guest.xml"
    virsh -c "$URI" define "$STATE_DIR/demo-guest.xml"
    virsh -c "$URI" start demo
fi
for _ in $(seq 120); do
    grep -q MOAT-GUEST-BOOTED "$STATE_DIR/demo-serial.log" 2>/dev/null && break
    sleep 0.5
done
grep -q MOAT-GUEST-BOOTED "$STATE_DIR/demo-serial.log" && echo "==> the demo guest booted"
virsh -c "$URI" list --all
virsh -c "$URI" dominfo demo

cat <<INFO

moatd is running (pid $MOATD). Try:
  virsh -c '$URI' list --all
  virsh -c '$URI' dumpxml demo
  virsh -r -c '$URI' list --all          # read-only
  virsh -c '$URI' console demo           # the guest's shell on ttyS0 (press Enter; Ctrl+] leaves)
  virsh -c '$URI' shutdown demo          # ACPI power button; the guest powers off
The demo guest runs confined: its own uid, a private mount namespace, its cgroup, Landlock and
seccomp (virsh dominfo shows the security model and label; docs/security.md says what each does).
Ctrl-C stops moatd (the guest keeps running).
INFO
wait "$MOATD"
