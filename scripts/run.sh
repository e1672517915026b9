#!/usr/bin/env bash
# Moat's main job on a Debian 12 machine as root: installs what is missing, builds, and runs
# moatd on its embedded default configuration with state under ./state in the checkout, and a
# demo guest defined in it. virsh reaches it with the URI printed below. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

ensure_packages "${BUILD_PACKAGES[@]}" libvirt-clients
ensure_rust

echo "==> building (release)"
cargo build --release --locked -p moatd

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

if ! virsh -q -c "$URI" dominfo demo >/dev/null 2>&1; then
    virsh -c "$URI" define scripts/demo-guest.xml
fi
virsh -c "$URI" list --all
virsh -c "$URI" dominfo demo

cat <<INFO

moatd is running (pid $MOATD). Try:
  virsh -c '$URI' list --all
  virsh -c '$URI' dumpxml demo
  virsh -r -c '$URI' list --all          # read-only
The demo guest is defined, not started: starting guests (QEMU under the sVirt/Landlock
confinement) is the next piece of work. Ctrl-C stops moatd.
INFO
wait "$MOATD"
