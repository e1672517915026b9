#!/usr/bin/env bash
# Moat's system benchmark: moatd side by side with libvirtd 9.0 from Debian, same machine, same
# python-libvirt client, in one run (DESIGN.md "Performance"; STYLE.md "Bench"; issues 4 and 12).
#
# Run as root on Debian 12 from anywhere:  bench/side-by-side.sh [options]
# It installs what it needs with apt-get, builds moatd (release), starts libvirtd privately (its own
# mount and network namespace, private copies of every libvirt directory, its own socket folder;
# the host's libvirt state is never touched) and moatd on temporary folders, defines the same guest
# in both, runs the cases below, and writes bench/runs/<date>-<host>/{raw.csv,memory.csv,summary,
# README}. Everything it started is stopped on exit, failure or Ctrl-C included.
#
# Cases (each is a function `case_<name>` below; add one and list it in CASES to grow the run):
# - lookup_info_root: bench/clients/lookup_info.py, a loop of lookupByName + info(), client as root;
# - lookup_info_nobody: the same client as nobody:nogroup (sockets opened to everyone for that case);
# - lifecycle: bench/clients/lifecycle.py, define → running (defineXML + create) and destroy latency
#   of a real QEMU guest (TCG, SeaBIOS only, same XML and QEMU binary on both), undefined between;
# - concurrent: bench/clients/concurrent.py, 50 client processes at once, each 1,000 timed
#   `info()` calls: throughput, per-call latency (p50/p90/p99/max, and its distribution), and the
#   daemon's peak memory while it serves them (the "loaded" figure).
# Figures also taken: idle VmRSS, Pss and private memory of each daemon (/proc/PID/smaps_rollup).
#
# With --acl the run measures access control instead (issue 7), and only that: 1,000 guests are
# defined in both (web-0000..web-0499, db-0000..db-0499); moatd runs its rules driver with
# bench/acl/moat-rules.toml, libvirtd its polkit driver with the equivalent JavaScript rules
# bench/acl/libvirt-acl.rules, asked through a private dbus-daemon and polkitd started here (the
# host's polkit configuration and system bus are not used or touched). The client runs as nobody,
# which may see the web-* guests only:
# - acl_lookup_info: the lookupByName + info() loop on web-0000;
# - acl_list_all: a listAllDomains(0) loop, each call filtered guest by guest (500 of 1,000 seen).
#
# The numbers are never asserted; bench/clients/summarize.py compares them with DESIGN.md's targets.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/side-by-side.sh [--reps N] [--seconds S] [--warmup S] [--root-only] [--out DIR]
                             [--lifecycle-reps N] [--no-lifecycle]
                             [--rev REV | --no-build | --moatd-bin PATH]
                             [--note TEXT] [--acl [--acl-guests N]]
                             [--clients N] [--calls N] [--no-concurrent]
  --reps N      repetitions per daemon and case (default 5)
  --seconds S   length of one repetition (default 3)
  --warmup S    loop time before each measured repetition (default 1)
  --root-only   skip the unprivileged-client case
  --lifecycle-reps N  define → running → destroy cycles per daemon (default 10)
  --no-lifecycle      skip the lifecycle case (no guest is started)
  --out DIR     run folder (default bench/runs/<YYYY-MM-DD>-<hostname>, -2, -3... if taken)
  --rev REV     build moatd from commit REV (a clean `git archive` export, target dir
                bench/target) instead of the working tree; use it for runs you record
  --no-build    use target/release/moatd as it is
  --moatd-bin PATH  use this moatd binary (moat-jail beside it) as it is, no build
  --note TEXT   a paragraph for the run README (what else ran on the machine, say)
  --acl         measure access control only: moatd's rules driver against libvirtd's polkit
                driver (private dbus-daemon and polkitd), client as nobody, over many guests
  --acl-guests N  guests defined in each daemon for --acl (default 1000; half are visible)
  --clients N   concurrent case: client processes at once (default 50)
  --calls N     concurrent case: timed info() calls per client (default 1000)
  --no-concurrent  skip the concurrent case
USAGE
}

REPS=5
SECONDS_PER_REP=3
WARMUP=1
ROOT_ONLY=0
LIFECYCLE_REPS=10
LIFECYCLE=1
OUT=""
BUILD=1
REV=""
MOATD_BIN_GIVEN=""
NOTE=""
ACL=0
ACL_GUESTS=1000
CLIENTS=50
CALLS=1000
CONCURRENT=1
COMMAND_LINE=bench/side-by-side.sh
for arg in "$@"; do
    case "$arg" in
    *[!A-Za-z0-9_./=:-]*) COMMAND_LINE+=" '${arg//\'/\'\\\'\'}'" ;; # quoted as the shell reads it
    *) COMMAND_LINE+=" $arg" ;;
    esac
done
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECONDS_PER_REP=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --root-only) ROOT_ONLY=1; shift ;;
    --lifecycle-reps) LIFECYCLE_REPS=$2; shift 2 ;;
    --no-lifecycle) LIFECYCLE=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --rev) REV=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --moatd-bin) MOATD_BIN_GIVEN=$2; BUILD=0; shift 2 ;;
    --note) NOTE=$2; shift 2 ;;
    --acl) ACL=1; shift ;;
    --acl-guests) ACL_GUESTS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --calls) CALLS=$2; shift 2 ;;
    --no-concurrent) CONCURRENT=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=scripts/common.sh
. scripts/common.sh

[ "$(id -u)" -eq 0 ] || { echo "side-by-side.sh: run as root (libvirtd runs privileged)" >&2; exit 1; }
[ -r /etc/debian_version ] || echo "side-by-side.sh: warning: not Debian; package names may differ" >&2

PYTHON=/usr/bin/python3 # Debian's interpreter, so that Debian's python3-libvirt is the binding
GUEST=bench1
LC_GUEST=benchlc # the lifecycle case's guest, defined and undefined by its client
QEMU_BIN=/usr/bin/qemu-system-x86_64 # named in the guest XML, so both daemons run the same binary
CASES=(lookup_info_root)
[ "$ROOT_ONLY" -eq 1 ] || CASES+=(lookup_info_nobody)
[ "$LIFECYCLE" -eq 0 ] || CASES+=(lifecycle)
[ "$CONCURRENT" -eq 0 ] || CASES+=(concurrent)
if [ "$ACL" -eq 1 ]; then
    CASES=(acl_lookup_info acl_list_all)
    LIFECYCLE=0
    CONCURRENT=0
    ACL_VISIBLE=$((ACL_GUESTS / 2)) # the web-* half
    GUEST=web-0000
fi

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Clean-up: everything started here is stopped by pid, also on failure and on Ctrl-C.

WORK=""
MOATD_PID=""
LIBVIRTD_PID=""
REAPER_PID=""
VIRTLOGD_PID=""
DBUS_PID=""
POLKITD_PID=""
CREATED_RUN_LIBVIRT=0

# Sends SIGTERM to pid $1 if it still runs the program named $2, then waits up to 10 s for it
# to exit (a zombie counts as gone: PID 1 here reaps orphans only every ~1.6 s), then SIGKILL.
stop_pid() {
    local pid=$1 comm=$2 state
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 0
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        case "$state" in gone | Z) break ;; esac
        sleep 0.1
    done
    if [ "$state" != gone ] && [ "$state" != Z ]; then
        echo "side-by-side.sh: $comm (pid $pid) ignored SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true # reaps it when it is our child
}

# A guest the lifecycle case left running (a failure, Ctrl-C) is destroyed through its daemon;
# moatd's QEMU survives moatd by design, so this comes before stopping the daemons. Whatever QEMU
# is still there afterwards is killed by the pid in its daemon's pidfile.
stop_guests() {
    local uri pidfile pid
    for uri in "${MOAT_URI:-}" "${LV_URI:-}"; do
        [ -n "$uri" ] || continue
        timeout 20 virsh -q -c "$uri" destroy "$LC_GUEST" >/dev/null 2>&1
        timeout 20 virsh -q -c "$uri" undefine "$LC_GUEST" >/dev/null 2>&1
    done
    for pidfile in "$WORK"/moatd-run/qemu/*/qemu.pid "$WORK"/run-libvirt/qemu/*.pid; do
        [ -s "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
        qemu-system-*)
            echo "side-by-side.sh: killing QEMU pid $pid left by $pidfile" >&2
            kill -KILL "$pid" 2>/dev/null ;;
        esac
    done
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    [ -z "$WORK" ] || stop_guests
    stop_pid "$MOATD_PID" moatd
    stop_pid "$LIBVIRTD_PID" libvirtd
    stop_pid "$REAPER_PID" python3 # exits by itself once libvirtd has
    stop_pid "$VIRTLOGD_PID" virtlogd
    stop_pid "$POLKITD_PID" polkitd
    stop_pid "$DBUS_PID" dbus-daemon
    if [ "$CREATED_RUN_LIBVIRT" -eq 1 ]; then
        rmdir /run/libvirt 2>/dev/null
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$status" -ne 0 ]; then
            for f in "$WORK"/log/*; do
                [ -s "$f" ] || continue
                echo "--- last lines of $(basename "$f")" >&2
                tail -n 15 "$f" >&2
            done
        fi
        if [ "${KEEP_WORK:-0}" = 1 ]; then
            echo "side-by-side.sh: kept $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Packages and build.

log "checking packages"
ensure_packages "${BUILD_PACKAGES[@]}" libvirt-daemon-system libvirt-clients python3-libvirt \
    qemu-system-x86 util-linux procps
[ "$ACL" -eq 0 ] || ensure_packages dbus-daemon dbus-bin polkitd
ensure_rust

# ---------------------------------------------------------------------------------------------
# Temporary folders. WORK is 0755 so that the unprivileged client can reach the sockets in it.

WORK=$(mktemp -d /tmp/moat-side-by-side.XXXXXX)
chmod 0755 "$WORK"
mkdir -p "$WORK/log" "$WORK/clients" "$WORK/moatd-run" "$WORK/moatd-state" "$WORK/libvirtd-sock"
chmod 0755 "$WORK/moatd-run" "$WORK/libvirtd-sock" "$WORK/clients"
install -m 0644 bench/clients/*.py "$WORK/clients/"

# ---------------------------------------------------------------------------------------------
# moatd: the working tree as it is (development), or a clean export of one commit (recorded runs;
# the working tree may hold other people's unfinished changes).
MOATD_BIN=$REPO/target/release/moatd
MOATD_SOURCE="working tree at $(git describe --always --dirty 2>/dev/null || echo unknown)"
if [ -n "$MOATD_BIN_GIVEN" ]; then
    MOATD_BIN=$(realpath "$MOATD_BIN_GIVEN")
    MOATD_SOURCE="the binary $MOATD_BIN as given (--moatd-bin)"
elif [ -n "$REV" ]; then
    COMMIT=$(git rev-parse --verify "$REV^{commit}")
    MOATD_SOURCE="commit $(git rev-parse --short "$COMMIT") (clean \`git archive\` export)"
    log "building moatd (release) from $MOATD_SOURCE"
    EXPORT=$REPO/bench/target/src # fixed path, so that the next build is incremental
    rm -rf "$EXPORT"
    mkdir -p "$EXPORT"
    git archive --format=tar "$COMMIT" | tar -x -C "$EXPORT"
    (cd "$EXPORT" && CARGO_TARGET_DIR=$REPO/bench/target cargo build --release --locked -p moatd -p jail)
    MOATD_BIN=$REPO/bench/target/release/moatd
elif [ "$BUILD" -eq 1 ]; then
    log "building moatd (release) from the working tree"
    cargo build --release --locked -p moatd -p jail
fi
[ -x "$MOATD_BIN" ] || { echo "side-by-side.sh: no $MOATD_BIN (drop --no-build)" >&2; exit 1; }

cat >"$WORK/guest.xml" <<XML
<domain type='qemu'>
  <name>$GUEST</name>
  <uuid>5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
XML

# The lifecycle case's guest: TCG (DESIGN.md: /dev/kvm here is kvm_pvm, which kills Linux guests;
# moatd probes that), no disk and no boot device, so QEMU runs SeaBIOS, which finds nothing to boot
# and waits; that is enough for start and destroy latency. Same file for both daemons.
cat >"$WORK/lifecycle.xml" <<XML
<domain type='qemu'>
  <name>$LC_GUEST</name>
  <uuid>5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5c</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>$QEMU_BIN</emulator>
  </devices>
</domain>
XML
chmod 0644 "$WORK/guest.xml" "$WORK/lifecycle.xml"

# ---------------------------------------------------------------------------------------------
# libvirtd 9.0, privately. Inside `unshare --mount --net` (propagation private, so no mount made
# there is seen by the host, and no network change either), private copies are bind-mounted over
# every folder libvirt keeps state in; the sockets live in $WORK/libvirtd-sock; auth none, no
# --listen so no TCP; virtlogd runs beside it (stock stdio_handler = "logd"). Same socket modes
# and keepalive defaults as moatd.

LV_URI="qemu+unix:///system?socket=$WORK/libvirtd-sock/libvirt-sock"
LV_SOCK=$WORK/libvirtd-sock/libvirt-sock
MOAT_URI="qemu+unix:///system?socket=$WORK/moatd-run/moat-sock"
MOAT_SOCK=$WORK/moatd-run/moat-sock
# The ACL client is nobody: with --acl both rw sockets are open to all and access control decides.
RW_PERMS=0700
[ "$ACL" -eq 0 ] || RW_PERMS=0777
BUS_ADDRESS=unix:path=$WORK/dbus/system_bus_socket

prepare_libvirtd() {
    cp -a /etc/libvirt "$WORK/etc-libvirt"
    # No network (or anything else) autostarts in the private copy.
    find "$WORK/etc-libvirt" -path '*/autostart/*' -delete
    cp -a /var/lib/libvirt "$WORK/var-lib-libvirt"
    cp -a /var/cache/libvirt "$WORK/var-cache-libvirt"
    mkdir -p "$WORK/var-log-libvirt" "$WORK/run-libvirt"
    if [ ! -e /run/libvirt ]; then
        mkdir /run/libvirt # an empty mount point on the host, removed at the end
        CREATED_RUN_LIBVIRT=1
    fi
    # /dev/kvm here is 0600 root:root; libvirt expects Debian's 0660 root:kvm (QEMU runs as
    # libvirt-qemu). The namespace gets its own node; the host's is left as it is.
    if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
        mknod -m 0660 "$WORK/dev-kvm" c 10 232
        chgrp kvm "$WORK/dev-kvm"
    fi
    cat >"$WORK/libvirtd.conf" <<CONF
# Written by bench/side-by-side.sh: a private libvirtd for side-by-side measurements.
unix_sock_dir = "$WORK/libvirtd-sock"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "$RW_PERMS"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$WORK/log/libvirtd.log"
CONF
    if [ "$ACL" -eq 1 ]; then
        echo 'access_drivers = [ "polkit" ]' >>"$WORK/libvirtd.conf"
    fi
    cp "$WORK/libvirtd.conf" "$WORK/etc-libvirt/libvirtd.conf"
    # The QEMU driver as shipped (QEMU runs as libvirt-qemu, DAC labelling on), except that no
    # MAC security driver is used: moatd at this stage confines nothing either, and AppArmor
    # profiles for a private /etc/libvirt copy would be the host's business. Stated in the README.
    cat >>"$WORK/etc-libvirt/qemu.conf" <<CONF

# Added by bench/side-by-side.sh for the private reference daemon.
security_driver = "none"
CONF
}

# Run inside the namespace by bash; $1 is WORK. exec keeps the pid, so $! is libvirtd's pid.
# shellcheck disable=SC2016 # expanded by the inner shell
NS_SCRIPT='
set -eu
W=$1
mount --bind "$W/etc-libvirt" /etc/libvirt
mount --bind "$W/var-lib-libvirt" /var/lib/libvirt
mount --bind "$W/var-cache-libvirt" /var/cache/libvirt
mount --bind "$W/var-log-libvirt" /var/log/libvirt
mount --bind "$W/run-libvirt" /run/libvirt
if [ -e "$W/dev-kvm" ]; then mount --bind "$W/dev-kvm" /dev/kvm; fi
virtlogd -p "$W/virtlogd.pid" >"$W/log/virtlogd.out" 2>&1 &
exec /usr/bin/python3 "$W/clients/reaper.py" \
    libvirtd -f "$W/libvirtd.conf" -p "$W/libvirtd.pid" >"$W/log/libvirtd.out" 2>&1
'

# Waits until `virsh -c $1 version` answers while pid $2 lives; $3 names it for errors.
wait_ready() {
    local uri=$1 pid=$2 name=$3
    for _ in $(seq 300); do
        virsh -q -c "$uri" version >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { echo "side-by-side.sh: $name exited during start-up" >&2; return 1; }
        sleep 0.1
    done
    echo "side-by-side.sh: $name did not answer within 30 s" >&2
    return 1
}

start_libvirtd() {
    log "starting libvirtd $(libvirtd --version | awk '{print $NF}') privately (unshare --mount --net)"
    prepare_libvirtd
    # libvirtd runs under clients/reaper.py, a child subreaper: its QEMU (double-forked) is
    # reaped at once instead of by this machine's slow PID 1, as for DESIGN.md's anchor.
    local bus=()
    # --acl: libvirtd's polkit driver reaches the private polkitd (GLib honours this variable).
    [ "$ACL" -eq 0 ] || bus=(env "DBUS_SYSTEM_BUS_ADDRESS=$BUS_ADDRESS")
    "${bus[@]}" unshare --mount --net --propagation private -- bash -c "$NS_SCRIPT" libvirtd-ns "$WORK" &
    REAPER_PID=$!
    wait_ready "$LV_URI" "$REAPER_PID" libvirtd
    LIBVIRTD_PID=$(cat "$WORK/libvirtd.pid")
    [ "$(cat "/proc/$LIBVIRTD_PID/comm")" = libvirtd ] || {
        echo "side-by-side.sh: pid $LIBVIRTD_PID is not libvirtd" >&2; return 1; }
    [ "$(awk '{print $4}' "/proc/$LIBVIRTD_PID/stat")" = "$REAPER_PID" ] || {
        echo "side-by-side.sh: libvirtd (pid $LIBVIRTD_PID) is not under the reaper" >&2; return 1; }
    VIRTLOGD_PID=$(cat "$WORK/virtlogd.pid")
    # The isolation held: the host's /run/libvirt got nothing.
    if [ "$CREATED_RUN_LIBVIRT" -eq 1 ] && [ -n "$(ls -A /run/libvirt)" ]; then
        echo "side-by-side.sh: libvirt wrote into the host's /run/libvirt; isolation failed" >&2
        return 1
    fi
}

# --acl: a dbus-daemon on the stock system policy listening in $WORK/dbus (no service activation,
# no pidfile, no fork), and polkitd on it, in its own mount namespace where the policy files
# (examples/polkit, identical in action ids to libvirt's) and bench/acl/libvirt-acl.rules are
# bind-mounted over /usr/share/polkit-1/actions and /etc/polkit-1/rules.d. The host's system bus,
# polkitd and polkit configuration are neither used nor touched. Same recipe as
# crates/moatd/tests/polkit.rs.
start_polkit() {
    log "starting a private system bus (dbus-daemon) and polkitd for libvirtd's polkit driver"
    mkdir -p "$WORK/dbus" "$WORK/polkit/actions" "$WORK/polkit/rules.d"
    chmod 0755 "$WORK/dbus" "$WORK/polkit" "$WORK/polkit/actions" "$WORK/polkit/rules.d"
    sed -e "s|<listen>unix:path=/run/dbus/system_bus_socket</listen>|<listen>$BUS_ADDRESS</listen>|" \
        -e 's|<fork/>||' -e 's|<standard_system_servicedirs/>||' \
        -e '/<servicehelper>/d' -e '/<pidfile>/d' \
        -e 's|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|' \
        /usr/share/dbus-1/system.conf >"$WORK/dbus/system.conf"
    grep -q "$BUS_ADDRESS" "$WORK/dbus/system.conf" || {
        echo "side-by-side.sh: /usr/share/dbus-1/system.conf changed; cannot make a private bus" >&2
        return 1; }
    dbus-daemon --config-file="$WORK/dbus/system.conf" --nofork --nopidfile \
        >"$WORK/log/dbus-daemon.out" 2>&1 &
    DBUS_PID=$!
    for _ in $(seq 100); do [ -S "$WORK/dbus/system_bus_socket" ] && break; sleep 0.1; done
    install -m 0644 examples/polkit/org.libvirt.api.policy examples/polkit/org.libvirt.unix.policy \
        "$WORK/polkit/actions/"
    install -m 0644 bench/acl/libvirt-acl.rules "$WORK/polkit/rules.d/50-moat-bench.rules"
    # shellcheck disable=SC2016 # expanded by the inner shell
    DBUS_SYSTEM_BUS_ADDRESS=$BUS_ADDRESS unshare --mount --propagation private -- sh -ec '
        mount --bind "$1" /usr/share/polkit-1/actions
        mount --bind "$2" /etc/polkit-1/rules.d
        exec /usr/lib/polkit-1/polkitd --no-debug' polkitd-ns \
        "$WORK/polkit/actions" "$WORK/polkit/rules.d" >"$WORK/log/polkitd.out" 2>&1 &
    POLKITD_PID=$!
    for _ in $(seq 200); do
        DBUS_SYSTEM_BUS_ADDRESS=$BUS_ADDRESS dbus-send --system --print-reply \
            --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
            string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q 'boolean true' && return 0
        kill -0 "$POLKITD_PID" 2>/dev/null || { echo "side-by-side.sh: polkitd exited" >&2; return 1; }
        sleep 0.1
    done
    echo "side-by-side.sh: polkitd did not appear on the private bus within 20 s" >&2
    return 1
}

start_moatd() {
    log "starting moatd"
    cat >"$WORK/moatd.toml" <<CONF
# Written by bench/side-by-side.sh: the same socket modes and auth as the private libvirtd.
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "$RW_PERMS"
auth_unix_ro = "none"
auth_unix_rw = "none"
CONF
    if [ "$ACL" -eq 1 ]; then
        install -m 0644 bench/acl/moat-rules.toml "$WORK/moat-rules.toml"
        printf 'access_drivers = ["rules"]\naccess_rules_file = "%s"\n' "$WORK/moat-rules.toml" \
            >>"$WORK/moatd.toml"
    fi
    MOAT_LOG=warn "$MOATD_BIN" --run-dir "$WORK/moatd-run" --state-dir "$WORK/moatd-state" \
        --config "$WORK/moatd.toml" >"$WORK/log/moatd.out" 2>&1 &
    MOATD_PID=$!
    wait_ready "$MOAT_URI" "$MOATD_PID" moatd
}

# ---------------------------------------------------------------------------------------------
# Measurements.

DAEMONS=(moatd libvirtd)
uri_of() { case "$1" in moatd) echo "$MOAT_URI" ;; libvirtd) echo "$LV_URI" ;; esac; }
pid_of() { case "$1" in moatd) echo "$MOATD_PID" ;; libvirtd) echo "$LIBVIRTD_PID" ;; esac; }
# The processes whose CPU time counts for daemon $1: with --acl, libvirtd's includes the polkitd
# and dbus-daemon that answer its checks (moatd decides in-process).
cpu_pids_of() {
    if [ "$ACL" -eq 1 ] && [ "$1" = libvirtd ]; then
        echo "$LIBVIRTD_PID,$POLKITD_PID,$DBUS_PID"
    else
        pid_of "$1"
    fi
}
sock_of() { case "$1" in moatd) echo "$MOAT_SOCK" ;; libvirtd) echo "$LV_SOCK" ;; esac; }

RAW=$WORK/raw.csv
MEMORY=$WORK/memory.csv
LATENCY=$WORK/latency.csv
CDF=$WORK/cdf.csv
echo "daemon,rep,p50_ms,p90_ms,p99_ms,max_ms" >"$LATENCY"
echo "daemon,rep,quantile,ms" >"$CDF"
echo "daemon,case,iterations,seconds,it_per_s,daemon_cpu_s,rep,client_cpu_s" >"$RAW"
echo "daemon,when,pid,vmrss_kib,pss_kib,private_kib" >"$MEMORY"

# Appends one memory.csv row for process $2 (named $1) at moment $3.
memory_row() {
    local name=$1 pid=$2 when=$3
    awk -v d="$name" -v w="$when" -v p="$pid" '
        FILENAME ~ /status$/ && $1 == "VmRSS:" { rss = $2 }
        FILENAME ~ /smaps_rollup$/ && $1 == "Pss:" { pss = $2 }
        FILENAME ~ /smaps_rollup$/ && ($1 == "Private_Clean:" || $1 == "Private_Dirty:") { priv += $2 }
        END { printf "%s,%s,%s,%d,%d,%d\n", d, w, p, rss, pss, priv }
    ' "/proc/$pid/status" "/proc/$pid/smaps_rollup" >>"$MEMORY"
}

measure_memory() {
    local when=$1
    memory_row moatd "$MOATD_PID" "$when"
    memory_row libvirtd "$LIBVIRTD_PID" "$when"
    memory_row virtlogd "$VIRTLOGD_PID" "$when"
    if [ "$ACL" -eq 1 ]; then
        memory_row polkitd "$POLKITD_PID" "$when"
        memory_row dbus-daemon "$DBUS_PID" "$when"
    fi
}

# Options the ACL cases add to the client's command line.
CLIENT_OPTS=()

# Runs the client once against daemon $1 for case $2, repetition $3; extra arguments go in front
# of the interpreter (e.g. setpriv). Appends its CSV row to raw.csv.
run_client() {
    local daemon=$1 case=$2 rep=$3
    shift 3
    "$@" "$PYTHON" "$WORK/clients/lookup_info.py" --uri "$(uri_of "$daemon")" --name "$GUEST" \
        --label "$daemon" --case "$case" --daemon-pid "$(cpu_pids_of "$daemon")" \
        --warmup "$WARMUP" --seconds "$SECONDS_PER_REP" --reps 1 --first-rep "$rep" \
        "${CLIENT_OPTS[@]}" >>"$RAW"
    tail -n 1 "$RAW" | awk -F, '{printf "    %-8s rep %s: %8.1f it/s, daemon CPU %s s\n", $1, $7, $5, $6}' >&2
}

# Repetitions alternate between the daemons, and the order flips every repetition, so that load
# drifting on this shared machine falls on both alike.
interleaved() {
    local case=$1 rep daemon order
    shift
    for rep in $(seq "$REPS"); do
        if [ $((rep % 2)) -eq 1 ]; then order=("${DAEMONS[@]}"); else order=(libvirtd moatd); fi
        for daemon in "${order[@]}"; do
            run_client "$daemon" "$case" "$rep" "$@"
        done
    done
}

case_lookup_info_root() {
    interleaved lookup_info_root
}

case_lookup_info_nobody() {
    local daemon
    for daemon in "${DAEMONS[@]}"; do chmod 0777 "$(sock_of "$daemon")"; done
    interleaved lookup_info_nobody \
        setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/nonexistent
    for daemon in "${DAEMONS[@]}"; do chmod 0700 "$(sock_of "$daemon")"; done
}

AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/nonexistent)

case_acl_lookup_info() {
    CLIENT_OPTS=(--op lookup_info)
    interleaved acl_lookup_info "${AS_NOBODY[@]}"
}

case_acl_list_all() {
    # One call takes libvirtd a polkit round trip per guest: read the clock after every call.
    CLIENT_OPTS=(--op list_all --expect "$ACL_VISIBLE" --batch 1)
    interleaved acl_list_all "${AS_NOBODY[@]}"
    CLIENT_OPTS=()
}

# define → running and destroy of a real guest: one client process per daemon and repetition
# (one define/create/destroy/undefine cycle each), alternating between the daemons with the order
# flipped every repetition, like the loops.
case_lifecycle() {
    local rep daemon order
    for rep in $(seq "$LIFECYCLE_REPS"); do
        if [ $((rep % 2)) -eq 1 ]; then order=("${DAEMONS[@]}"); else order=(libvirtd moatd); fi
        for daemon in "${order[@]}"; do
            "$PYTHON" "$WORK/clients/lifecycle.py" --uri "$(uri_of "$daemon")" \
                --xml "$WORK/lifecycle.xml" --label "$daemon" --daemon-pid "$(pid_of "$daemon")" \
                --reps 1 --first-rep "$rep" >>"$RAW"
            tail -n 2 "$RAW" | awk -F, '{printf "    %-8s rep %s: %-14s %7.1f ms, daemon CPU %s s\n",
                $1, $7, $2, $4 * 1000, $6}' >&2
        done
    done
}

# Many clients at once: one concurrent.py per daemon and repetition (it forks the clients),
# alternating between the daemons like the loops. It appends the daemon's peak memory while
# serving them to memory.csv as `loaded` (one row per repetition).
case_concurrent() {
    local rep daemon order
    for rep in $(seq "$REPS"); do
        if [ $((rep % 2)) -eq 1 ]; then order=("${DAEMONS[@]}"); else order=(libvirtd moatd); fi
        for daemon in "${order[@]}"; do
            "$PYTHON" "$WORK/clients/concurrent.py" --uri "$(uri_of "$daemon")" --name "$GUEST" \
                --label "$daemon" --daemon-pid "$(cpu_pids_of "$daemon")" --clients "$CLIENTS" \
                --calls "$CALLS" --rep "$rep" --latency "$LATENCY" --cdf "$CDF" \
                --memory "$MEMORY" >>"$RAW"
            tail -n 1 "$LATENCY" | awk -F, '{printf "    %-8s rep %s: p50 %.3f ms, p99 %.3f ms, ", $1, $2, $3, $5}' >&2
            tail -n 1 "$RAW" | awk -F, '{printf "%.0f calls/s, daemon CPU %s s\n", $5, $6}' >&2
        done
    done
}

# ---------------------------------------------------------------------------------------------
# The run.

STARTED_AT=$(date +%s) # the build is not counted
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
start_moatd
[ "$ACL" -eq 0 ] || start_polkit
start_libvirtd

if [ "$ACL" -eq 1 ]; then
    for daemon in "${DAEMONS[@]}"; do
        log "defining $ACL_GUESTS guests in $daemon (as root)"
        "$PYTHON" "$WORK/clients/define_many.py" --uri "$(uri_of "$daemon")" \
            --count "$ACL_GUESTS" --prefix web- --prefix db- 2>&1 | sed 's/^/    /' >&2
    done
else
    log "defining guest $GUEST in both"
    for daemon in "${DAEMONS[@]}"; do
        virsh -q -c "$(uri_of "$daemon")" define "$WORK/guest.xml" >/dev/null
    done
fi

sleep 1 # let start-up work (libvirtd's capability probing threads) settle before the idle sample
# With --acl the daemons hold 1,000 guests: not the idle figure DESIGN.md's memory target is for.
if [ "$ACL" -eq 1 ]; then measure_memory with_guests; else measure_memory idle; fi

for case in "${CASES[@]}"; do
    if [ "$case" = lifecycle ]; then
        log "case $case: $LIFECYCLE_REPS x define → running → destroy per daemon"
    elif [ "$case" = concurrent ]; then
        log "case $case: $REPS x $CLIENTS clients x $CALLS info() calls per daemon"
    else
        log "case $case: $REPS x ${SECONDS_PER_REP} s per daemon (+${WARMUP} s warm-up each)"
    fi
    "case_$case"
done
measure_memory after_cases
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$ACL" -eq 0 ]; then
    for daemon in "${DAEMONS[@]}"; do
        virsh -q -c "$(uri_of "$daemon")" undefine "$GUEST" >/dev/null
    done
fi # the --acl guests go with the daemons' temporary state

# ---------------------------------------------------------------------------------------------
# The run folder.

if [ -z "$OUT" ]; then
    OUT=bench/runs/$(date -u +%F)-$(hostname -s)
    if [ -e "$OUT" ]; then
        n=2
        while [ -e "$OUT-$n" ]; do n=$((n + 1)); done
        OUT=$OUT-$n
    fi
fi
mkdir -p "$OUT"
cp "$RAW" "$MEMORY" "$OUT/"
[ "$CONCURRENT" -eq 0 ] || cp "$LATENCY" "$CDF" "$OUT/"
"$PYTHON" bench/clients/summarize.py "$OUT" >"$OUT/summary"

ELAPSED=$(($(date +%s) - STARTED_AT))
{
    echo "# Side-by-side run: moatd and libvirtd 9.0, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Command (as root, from the repository root): \`$COMMAND_LINE\`"
    echo "  ($REPS repetitions x $SECONDS_PER_REP s per daemon and case, $WARMUP s warm-up before each;"
    echo "  repetitions alternate between the daemons; $ELAPSED s from starting the daemons to"
    echo "  this report, the build not counted)."
    echo "- moatd: $MOATD_SOURCE, built with \`cargo build --release --locked -p moatd -p jail\` (moatd starts guests through moat-jail)."
    echo "- Tools: $(libvirtd --version); virtlogd $(virtlogd --version | awk '{print $NF}');" \
        "python3-libvirt $(dpkg-query -W -f='${Version}' python3-libvirt);" \
        "$("$PYTHON" --version); qemu-system-x86 $(dpkg-query -W -f='${Version}' qemu-system-x86);" \
        "$(rustc --version); $(unshare --version)."
    echo "- Machine: $(hostname -s), $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))," \
        "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory," \
        "kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")."
    echo "- Load average (1, 5, 15 min): $LOAD_BEFORE before, $LOAD_AFTER after."
    echo
    echo "## How the daemons ran"
    echo
    echo "- libvirtd: \`libvirtd -f libvirtd.conf -p PIDFILE\` (QEMU driver, privileged \`qemu:///system\`"
    echo "  mode) inside \`unshare --mount --net --propagation private\`, with private copies bind-mounted"
    echo "  over /etc/libvirt (autostart links removed), /var/lib/libvirt, /var/cache/libvirt,"
    echo "  /var/log/libvirt, /run/libvirt and a private /dev/kvm node (root:kvm 0660); virtlogd beside it."
    echo "  libvirtd.conf: own \`unix_sock_dir\` in a temporary folder, \`auth_unix_ro\`/\`auth_unix_rw\` ="
    echo "  \"none\", no \`--listen\` (no TCP), rw socket 0700. The host's /run/libvirt stayed empty."
    echo "- moatd: \`moatd --run-dir R --state-dir S --config C\`, the same socket modes and auth."
    echo "- Both served one guest \`$GUEST\` (\`<domain type='qemu'>\`, 128 MiB, 1 vCPU, no disks),"
    echo "  defined with \`virsh define\` and never started, for the loops. The unprivileged case ran the client with"
    echo "  \`setpriv --reuid=nobody --regid=nogroup --clear-groups\`, both rw sockets chmod 0777 for it."
    echo "- Client: bench/clients/lookup_info.py under $PYTHON, one process per repetition: connect,"
    echo "  warm up, then count \`lookupByName\` + \`info()\` iterations for the repetition's length."
    echo "  Daemon CPU is utime+stime from /proc/PID/stat over the repetition (10 ms ticks)."
    if [ "$ACL" -eq 1 ]; then
        echo
        echo "## Access control (--acl)"
        echo
        echo "This run replaces the paragraphs above where they differ:"
        echo
        echo "- Both daemons held $ACL_GUESTS guests (web-0000..web-$(printf %04d $((ACL_VISIBLE - 1))),"
        echo "  db-0000..db-$(printf %04d $((ACL_GUESTS - ACL_VISIBLE - 1))); same XML as above, never"
        echo "  started), defined by root with bench/clients/define_many.py; no \`$GUEST\` other than these."
        echo "  Both rw sockets were 0777 (auth \"none\"): access control alone decided."
        echo "- moatd: \`access_drivers = [\"rules\"]\` with bench/acl/moat-rules.toml (root: admin on all;"
        echo "  nobody: connect:getattr/read/search_domains and domain:getattr/read on \`web-*\`)."
        echo "- libvirtd: \`access_drivers = [ \"polkit\" ]\` with the JavaScript rules"
        echo "  bench/acl/libvirt-acl.rules (the same grants; root needs no rule: polkitd authorizes uid 0)."
        echo "  Its checks went to a private dbus-daemon (the stock system.conf, listening in the temporary"
        echo "  folder, no service activation) and polkitd $(dpkg-query -W -f='${Version}' polkitd) on it,"
        echo "  in a mount namespace with examples/polkit/*.policy and those rules bind-mounted over"
        echo "  /usr/share/polkit-1/actions and /etc/polkit-1/rules.d; libvirtd found the bus through"
        echo "  \`DBUS_SYSTEM_BUS_ADDRESS\`. The host's system bus and polkit configuration were not used."
        echo "  dbus-daemon $(dpkg-query -W -f='${Version}' dbus-daemon)."
        echo "- Client: as nobody (\`setpriv --reuid=nobody --regid=nogroup --clear-groups\`)."
        echo "  acl_lookup_info: the \`lookupByName\` + \`info()\` loop on \`$GUEST\` (libvirtd: two polkit"
        echo "  checks per iteration, domain.getattr and domain.read). acl_list_all: a loop of"
        echo "  \`listAllDomains(0)\`, checked to return $ACL_VISIBLE guests (libvirtd: connect.search-domains"
        echo "  plus one domain.getattr check per guest, $ACL_GUESTS per call), the clock read after each call."
        echo "- libvirtd's daemon CPU in raw.csv and the summary is libvirtd + polkitd + dbus-daemon, the"
        echo "  processes that answer its checks; moatd decides in-process. Memory rows for polkitd and"
        echo "  dbus-daemon are in memory.csv (\`with_guests\`: after defining, before the cases)."
    fi
    if [ "$LIFECYCLE" -eq 1 ]; then
        echo
        echo "## Lifecycle case (define → running, destroy)"
        echo
        echo "- Client: bench/clients/lifecycle.py, one process per daemon and repetition ($LIFECYCLE_REPS"
        echo "  repetitions per daemon, alternating, order flipped every repetition). Timed: \`defineXML\` +"
        echo "  \`create()\` until it returns and \`state()\` says running (both daemons return from create()"
        echo "  only after QEMU's QMP monitor has answered, so that wait is inside); then \`destroy()\` until"
        echo "  it returns (state then checked shut off). \`undefine()\` between repetitions, not timed."
        echo "- Guest, the same file for both daemons:"
        echo
        sed 's/^/      /' "$WORK/lifecycle.xml"
        echo
        echo "  TCG (\`type='qemu'\`), because /dev/kvm on these machines is the nested kvm_pvm, under which"
        echo "  Linux guests die (moatd probes for it); DESIGN.md's libvirtd anchor (~428 ms) was taken with"
        echo "  a KVM SeaBIOS-only guest, so compare within this run only. No disk, no kernel, no boot device:"
        echo "  QEMU runs SeaBIOS, which finds nothing to boot and waits. That is enough for start and destroy"
        echo "  latency: neither daemon waits for the guest OS, so the test guest kernel"
        echo "  (scripts/test-guest) would only add boot work after create() has returned. Same QEMU binary"
        echo "  ($QEMU_BIN, named in \`<emulator>\`), machine \`pc\` (libvirt resolves it to pc-i440fx-7.2)."
        echo "- What each daemon does with that XML differs, and the figures include it: libvirtd adds its"
        echo "  default devices (piix3 USB controller, virtio balloon), starts QEMU paused (\`-S\`) and sends"
        echo "  \`cont\`, runs QEMU as libvirt-qemu with DAC labelling (\`dynamic_ownership\`), puts it in a"
        echo "  machine cgroup, and logs through virtlogd; moatd at this commit starts QEMU running, as root,"
        echo "  with no cgroup and no device it was not asked for (guest confinement is a later issue), both"
        echo "  with the same \`-sandbox\` option. The QEMU command lines are in each daemon's per-guest log."
        echo "- libvirtd's QEMU driver started guests with the private directories above as they are"
        echo "  (copies keep libvirt-qemu's ownership; the temporary folder is 0755 and the XML 0644). Its"
        echo "  private qemu.conf copy adds \`security_driver = \"none\"\` (no MAC driver; DAC stays on)."
        echo "  This host has neither AppArmor nor SELinux, so libvirtd also starts guests without that line"
        echo "  (tried once); it is set so that on a host with AppArmor the reference does not add per-guest"
        echo "  profile generation. The private /dev/kvm node is there, but a TCG guest does not open it."
        echo "  libvirtd runs under bench/clients/reaper.py, a child subreaper that reaps its double-forked"
        echo "  QEMU at once: PID 1 here reaps orphans only every ~1.6 s and libvirtd's destroy waits for the"
        echo "  pid to vanish (DESIGN.md's destroy anchor was measured the same way). moatd is a subreaper"
        echo "  itself. libvirtd created /sys/fs/cgroup/*/machine on the host on its first guest start and"
        echo "  does not remove it."
    fi
    if [ "$CONCURRENT" -eq 1 ]; then
        echo
        echo "## Concurrent case"
        echo
        echo "- Client: bench/clients/concurrent.py, one launcher per daemon and repetition ($REPS per"
        echo "  daemon, alternating): it forks $CLIENTS client processes, each with its own connection;"
        echo "  each looks \`$GUEST\` up and makes 5 \`info()\` calls (not timed), then all start together"
        echo "  at a barrier and each times $CALLS \`info()\` calls (one DOMAIN_GET_INFO round trip each)."
        echo "  Throughput: all calls ÷ time from the barrier to the last reply. Latency: every call's"
        echo "  wall time; latency.csv holds p50/p90/p99/max per repetition, cdf.csv 201 quantiles."
        echo "- \`loaded\` rows in memory.csv: the daemon's sample with the highest VmRSS, taken every"
        echo "  50 ms while the clients ran (libvirtd alone; virtlogd has its own idle rows)."
        echo "- $CLIENTS python processes on $(nproc) CPUs: the clients' own CPU (client_cpu_s, all"
        echo "  clients) competes with the daemon; both daemons get the same clients."
    fi
    echo
    echo "## Reading the numbers"
    echo
    echo "Absolute figures are noisy (the same median moves by ±20 % between runs even on a quiet"
    echo "machine; the load average above shows how busy this one was). Ratios taken in one run, with"
    echo "the repetitions interleaved, are the meaningful figures, and CPU time per iteration is"
    echo "steadier than wall time. Files: raw.csv (one row per repetition), memory.csv (VmRSS, Pss,"
    echo "private memory per daemon, idle and after the cases), summary (the table)."
    if [ -n "$NOTE" ]; then
        echo
        echo "## Note"
        echo
        echo "$NOTE" | fold -s -w 100 | sed 's/ *$//'
    fi
} >"$OUT/README"

log "run folder: $OUT"
cat "$OUT/summary"
