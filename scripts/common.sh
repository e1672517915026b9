# Shared by scripts/run.sh and scripts/test.sh: package installation and the Rust toolchain.
# Sourced, not run.

# Installs the Debian packages given that are not installed yet (apt-get update only if needed).
ensure_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# Makes cargo available: the machine's rustup toolchain, else Debian's.
ensure_rust() {
    export PATH="$HOME/.cargo/bin:$PATH"
    if ! command -v cargo >/dev/null 2>&1; then
        echo "==> no Rust toolchain found; installing Debian's cargo and rustc"
        ensure_packages cargo rustc
    fi
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            rustup component add rustfmt clippy
        fi
    fi
}

# Packages every build needs (C toolchain for -sys crates).
BUILD_PACKAGES=(build-essential pkg-config)

# What guest networks need at run time: bridges and taps (iproute2), DHCP and DNS (dnsmasq-base),
# the firewall (nftables).
NETWORK_PACKAGES=(iproute2 dnsmasq-base nftables)
