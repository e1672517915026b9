#!/usr/bin/env bash
# Moat's main job on a Debian 12 machine as root: installs what is missing, builds, and runs.
# State goes under ./state in the checkout.
#
# Until the daemon (moatd) lands, this builds the workspace and runs what exists: the sVirt label
# demo, which derives the MCS span from this process's SELinux context and labels demo guests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

ensure_packages "${BUILD_PACKAGES[@]}"
ensure_rust

echo "==> building (release)"
cargo build --workspace --release --locked --examples

mkdir -p state
echo "==> running the sVirt label demo"
exec target/release/examples/svirt-demo "$@"
