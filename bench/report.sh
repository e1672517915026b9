#!/usr/bin/env bash
# Moat's performance report (issue 12): every figure of DESIGN.md's "Performance" table measured
# in one command, moatd side by side with libvirtd 9.0 from Debian, and written up readably.
#
# Run as root on Debian 12 from anywhere:  bench/report.sh [--quick] [options]
# It installs what it needs with apt-get, builds moatd (release) once, and then runs:
# 1. bench/side-by-side.sh, ACLs off: lookupByName + info() loops (root and nobody), define →
#    running and destroy latency of a real guest, 50 concurrent clients (throughput, per-call
#    latency, the daemons' memory while loaded), idle memory;
# 2. bench/side-by-side.sh --acl: the same loop with ACLs on (moatd's rules driver against
#    libvirtd's polkit driver with the same grants, private dbus-daemon and polkitd), and
#    listAllDomains over 1,000 guests filtered guest by guest; memory with the guests defined;
# 3. the criterion benchmarks of the moat-bench crate (ACL decision with 1,000 grants, MCS
#    allocation at 0/50/99 % full, security set-up per guest, domain XML parse + format);
# then bench/clients/report.py writes bench/results/REPORT.md (machine, versions, one table:
# figure, moatd, libvirtd, ratio, target, met?) with PNG plots of the latency distributions
# (gnuplot), and this prints the table. Each side-by-side run stops what it started (libvirtd,
# virtlogd, polkitd, dbus-daemon, moatd, guests) on every exit path.
#
# The numbers are never asserted: nothing here fails on a figure, and the test command only checks
# that this script parses and the benchmarks compile.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/report.sh [--quick] [--rev REV | --no-build] [--out DIR] [--note TEXT]
  --quick       fewer repetitions and calls (the same 1,000 guests): under 5 minutes after the build,
                for development (the report says it was a quick run)
  --rev REV     measure moatd built from commit REV (clean `git archive` export, target dir
                bench/target); use it for runs you record
  --no-build    use target/release/moatd and the benchmarks as they are built
  --out DIR     where the report and its data go (default bench/results; replaced)
  --note TEXT   a paragraph for the report (what else ran on the machine, say)
USAGE
}

QUICK=0
REV=""
BUILD=1
OUT=""
NOTE=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1; shift ;;
    --rev) REV=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --note) NOTE=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=scripts/common.sh
. scripts/common.sh

[ "$(id -u)" -eq 0 ] || { echo "report.sh: run as root (libvirtd runs privileged)" >&2; exit 1; }

log() { printf '\n=== %s\n' "$*" >&2; }

# Settings: the full run is what DESIGN.md's figures are read from; --quick keeps every case
# but with fewer repetitions and calls (the same 1,000 guests).
if [ "$QUICK" -eq 1 ]; then
    MODE=quick
    PLAIN_OPTS=(--reps 3 --seconds 2 --warmup 0.5 --lifecycle-reps 10 --clients 50 --calls 200)
    ACL_OPTS=(--reps 2 --seconds 2 --warmup 0.5 --acl-guests 1000)
    CRITERION_OPTS=(--warm-up-time 0.3 --measurement-time 1 --noplot)
else
    MODE=full
    PLAIN_OPTS=(--reps 5 --seconds 3 --warmup 1 --lifecycle-reps 30 --clients 50 --calls 1000)
    ACL_OPTS=(--reps 5 --seconds 4 --warmup 1 --acl-guests 1000)
    CRITERION_OPTS=(--noplot)
fi
OUT=${OUT:-bench/results}

ensure_packages gnuplot-nox
ensure_rust

# One build of moatd, used by both side-by-side runs, and of the benchmarks from the same source.
MOATD_BIN=$REPO/target/release/moatd
BENCH_DIR=$REPO          # where `cargo bench` runs
TARGET_DIR=$REPO/target  # where criterion writes its estimates
if [ -n "$REV" ]; then
    COMMIT=$(git rev-parse --verify "$REV^{commit}")
    MOATD_SOURCE="commit $(git rev-parse --short "$COMMIT") (clean \`git archive\` export)"
    EXPORT=$REPO/bench/target/src
    rm -rf "$EXPORT"
    mkdir -p "$EXPORT"
    git archive --format=tar "$COMMIT" | tar -x -C "$EXPORT"
    BENCH_DIR=$EXPORT
    TARGET_DIR=$REPO/bench/target
    MOATD_BIN=$TARGET_DIR/release/moatd
else
    MOATD_SOURCE="working tree at $(git describe --always --dirty 2>/dev/null || echo unknown)"
fi
if [ "$BUILD" -eq 1 ]; then
    log "building moatd, moat-jail and the benchmarks (release) from $MOATD_SOURCE"
    (cd "$BENCH_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked -p moatd -p jail)
    (cd "$BENCH_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo bench --locked -p moat-bench --no-run)
fi
[ -x "$MOATD_BIN" ] || { echo "report.sh: no $MOATD_BIN (drop --no-build)" >&2; exit 1; }

STARTED_AT=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$OUT/plain" "$OUT/acl" "$OUT/criterion.csv" "$OUT"/*.png "$OUT/REPORT.md" "$OUT/machine.env"
mkdir -p "$OUT"

log "1/3 moatd and libvirtd, ACLs off ($MODE)"
bash bench/side-by-side.sh --moatd-bin "$MOATD_BIN" --out "$OUT/plain" "${PLAIN_OPTS[@]}" \
    --note "Part of bench/report.sh ($MODE); moatd from $MOATD_SOURCE."

log "2/3 moatd and libvirtd, ACLs on ($MODE)"
bash bench/side-by-side.sh --moatd-bin "$MOATD_BIN" --out "$OUT/acl" --acl "${ACL_OPTS[@]}" \
    --note "Part of bench/report.sh ($MODE); moatd from $MOATD_SOURCE."

log "3/3 criterion benchmarks ($MODE)"
CRITERION_SINCE=$(date +%s)
CRITERION_LOG=$(mktemp /tmp/moat-report-criterion.XXXXXX)
trap 'rm -f "$CRITERION_LOG"' EXIT
(cd "$BENCH_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo bench --locked -p moat-bench -- \
    "${CRITERION_OPTS[@]}") >"$CRITERION_LOG" 2>&1 || { tail -n 30 "$CRITERION_LOG" >&2; exit 1; }
grep -E 'time:|^[a-z]' "$CRITERION_LOG" >&2 || true
/usr/bin/python3 bench/clients/criterion_csv.py "$TARGET_DIR/criterion" "$CRITERION_SINCE" \
    >"$OUT/criterion.csv"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - STARTED_AT))

# What the report says about the machine and the software, as KEY=VALUE lines (one line each).
{
    printf 'MODE=%s\n' "$MODE"
    printf 'DATE=%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'ELAPSED=%s\n' "$ELAPSED"
    printf 'CPU=%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    printf 'CORES=%s\n' "$(nproc)"
    printf 'MEMORY=%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    printf 'KERNEL=%s\n' "$(uname -r)"
    printf 'OS=%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf 'KVM_MODULE=%s\n' "$(if [ -e /sys/module/kvm_pvm ]; then echo kvm_pvm; elif [ -e /sys/module/kvm_intel ]; then echo kvm_intel; elif [ -e /sys/module/kvm_amd ]; then echo kvm_amd; else echo none; fi)"
    printf 'LOAD_BEFORE=%s\n' "$LOAD_BEFORE"
    printf 'LOAD_AFTER=%s\n' "$LOAD_AFTER"
    printf 'LIBVIRTD=%s\n' "$(libvirtd --version)"
    printf 'QEMU=%s\n' "$(/usr/bin/qemu-system-x86_64 --version | head -n 1)"
    printf 'PYLIBVIRT=%s\n' "$(dpkg-query -W -f='${Version}' python3-libvirt)"
    printf 'POLKITD=%s\n' "$(dpkg-query -W -f='${Version}' polkitd)"
    printf 'MOATD=%s\n' "$MOATD_SOURCE"
    printf 'RUSTC=%s\n' "$(rustc --version)"
    printf 'PLAIN_OPTS=%s\n' "${PLAIN_OPTS[*]}"
    printf 'ACL_OPTS=%s\n' "${ACL_OPTS[*]}"
    printf 'CRITERION_OPTS=%s\n' "${CRITERION_OPTS[*]}"
    printf 'NOTE=%s\n' "$(echo "$NOTE" | tr '\n' ' ')"
} >"$OUT/machine.env"

log "writing $OUT/REPORT.md"
/usr/bin/python3 bench/clients/report.py "$OUT"
echo
sed -n '/^| figure/,/^$/p' "$OUT/REPORT.md"
