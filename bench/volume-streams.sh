#!/usr/bin/env bash
# Volume upload/download throughput and daemon memory over libvirt streams (issue 9), moatd only.
#
# Run as root on Debian 12 from the repository:  bench/volume-streams.sh [--reps N] [--no-build]
#                                                [--out DIR] [--note TEXT]
# It builds moatd and moat-jail (release) unless --no-build, starts moatd on temporary folders,
# and times real virsh against it. Cases, each repeated N times (default 3):
# - data_up / data_down: a 1 GiB file of random bytes, `virsh vol-upload` into a 1 GiB raw
#   volume, `virsh vol-download` into /dev/null (then, untimed, into `sha256sum`, checked
#   against the source);
# - sparse_up / sparse_down: a 2 GiB sparse file holding 1.5 MB of random data at five offsets,
#   `--sparse` both ways, downloaded into a file and compared with `cmp`;
# - zeros_up / zeros_down: the same 2 GiB sparse file without `--sparse` (2 GiB of mostly zero
#   data on the wire; the daemon punches the zeros as holes), downloaded like data_down.
# Figures: MB/s per case (size / wall time of the virsh command) and the daemon's VmRSS and
# VmHWM before and after. Results go to bench/runs/<date>-<host>-streams/{raw.csv,memory.csv,
# summary,README}. Nothing is asserted. Everything started is stopped on exit.
set -euo pipefail

REPS=3
BUILD=1
OUT=""
NOTE=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps) REPS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --note) NOTE="$2"; shift 2 ;;
        *) echo "usage: $0 [--reps N] [--no-build] [--out DIR] [--note TEXT]" >&2; exit 2 ;;
    esac
done

REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
if [[ $BUILD -eq 1 ]]; then
    cargo build --release -p moatd -p jail
fi
MOATD="$REPO/target/release/moatd"
JAIL="$REPO/target/release/moat-jail"
[[ -x $MOATD && -x $JAIL ]] || { echo "build moatd and moat-jail first (cargo build --release -p moatd -p jail)" >&2; exit 1; }
command -v virsh >/dev/null || { echo "virsh is missing: apt-get install libvirt-clients" >&2; exit 1; }

WORK="$(mktemp -d /tmp/moat-bench-streams.XXXXXX)"
PID=""
cleanup() {
    if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [[ -z $OUT ]]; then
    OUT="bench/runs/$(date -u +%Y-%m-%d)-$(hostname -s)-streams"
    n=2
    while [[ -e $OUT ]]; do OUT="bench/runs/$(date -u +%Y-%m-%d)-$(hostname -s)-streams-$n"; n=$((n + 1)); done
fi
mkdir -p "$OUT"

cat > "$WORK/moatd.toml" <<EOF
image_dirs = ["$WORK/images"]
jail_binary = "$JAIL"
cgroup_parent = "moat-bench-streams"
EOF
MOAT_LOG=warn "$MOATD" --run-dir "$WORK/run" --state-dir "$WORK/state" --config "$WORK/moatd.toml" \
    >"$WORK/moatd.log" 2>&1 &
PID=$!
for _ in $(seq 200); do [[ -S $WORK/run/moat-sock ]] && break; sleep 0.05; done
URI="qemu+unix:///system?socket=$WORK/run/moat-sock"
v() { virsh -q -c "$URI" "$@"; }
mem() { awk '/^(VmRSS|VmHWM):/ {printf "%s=%s ", $1, $2}' "/proc/$PID/status"; }

head -c $((1024 * 1024 * 1024)) /dev/urandom > "$WORK/data.img"
truncate -s 2G "$WORK/sparse.img"
for off in 0 1000003 $((700 * 1048576 + 17)) $((1536 * 1048576)) $((2147483648 - 300000)); do
    head -c 300000 /dev/urandom | dd of="$WORK/sparse.img" bs=1M seek="$off" iflag=fullblock oflag=seek_bytes conv=notrunc status=none
done
DATA_SUM="$(sha256sum < "$WORK/data.img" | cut -d' ' -f1)"
SPARSE_SUM="$(sha256sum < "$WORK/sparse.img" | cut -d' ' -f1)"
v vol-create-as default data.img 1G >/dev/null
v vol-create-as default sparse.img 2G >/dev/null
v vol-create-as default zeros.img 2G >/dev/null

echo "case,rep,bytes,seconds,mb_per_s" > "$OUT/raw.csv"
echo "when,vmrss_kib,vmhwm_kib" > "$OUT/memory.csv"
record_mem() {
    local line; line="$(awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r "," h}' "/proc/$PID/status")"
    echo "$1,$line" >> "$OUT/memory.csv"
}
timed() { # case rep bytes command...
    local name="$1" rep="$2" bytes="$3"; shift 3
    local start end
    start="$(date +%s.%N)"
    "$@"
    end="$(date +%s.%N)"
    awk -v n="$name" -v r="$rep" -v b="$bytes" -v s="$start" -v e="$end" \
        'BEGIN {t = e - s; printf "%s,%s,%s,%.3f,%.1f\n", n, r, b, t, b / 1e6 / t}' >> "$OUT/raw.csv"
}
check_sum() { [[ "$1" == "$2" ]] || { echo "checksum mismatch in $3" >&2; exit 1; }; }

record_mem before
for rep in $(seq "$REPS"); do
    timed data_up "$rep" 1073741824 v vol-upload data.img "$WORK/data.img" --pool default
    timed data_down "$rep" 1073741824 v vol-download data.img /dev/null --pool default
    virsh -q -c "$URI" vol-download data.img /dev/stdout --pool default | sha256sum > "$WORK/sum"
    check_sum "$(cut -d' ' -f1 < "$WORK/sum")" "$DATA_SUM" data_down
    timed sparse_up "$rep" 2147483648 v vol-upload sparse.img "$WORK/sparse.img" --pool default --sparse
    rm -f "$WORK/back.img"
    timed sparse_down "$rep" 2147483648 v vol-download sparse.img "$WORK/back.img" --pool default --sparse
    cmp -s "$WORK/sparse.img" "$WORK/back.img" || { echo "sparse round trip differs" >&2; exit 1; }
    timed zeros_up "$rep" 2147483648 v vol-upload zeros.img "$WORK/sparse.img" --pool default
    timed zeros_down "$rep" 2147483648 v vol-download zeros.img /dev/null --pool default
    virsh -q -c "$URI" vol-download zeros.img /dev/stdout --pool default | sha256sum > "$WORK/sum"
    check_sum "$(cut -d' ' -f1 < "$WORK/sum")" "$SPARSE_SUM" zeros_down
    record_mem "after-rep-$rep"
done

{
    echo "moatd volume streams, $(date -u +%Y-%m-%dT%H:%MZ), $(hostname -s), $(nproc) CPUs, reps=$REPS"
    awk -F, 'NR > 1 {sum[$1] += $5; n[$1]++; if (!($1 in min) || $5 < min[$1]) min[$1] = $5; if ($5 > max[$1]) max[$1] = $5}
        END {for (c in sum) printf "%-12s mean %7.1f MB/s  (min %.1f, max %.1f)\n", c, sum[c] / n[c], min[c], max[c]}' "$OUT/raw.csv" | sort
    echo "daemon memory (KiB):"
    column -s, -t < "$OUT/memory.csv"
} | tee "$OUT/summary"

cat > "$OUT/README" <<EOF
Volume upload/download over libvirt streams, moatd only (no libvirtd beside it).
Command: bench/volume-streams.sh --reps $REPS $( [[ $BUILD -eq 0 ]] && echo --no-build )
Commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo " (with local changes)")
Tools: $(virsh --version | sed 's/^/virsh /'), $(uname -sr), $(rustc --version)
Files: the volumes and sources live under /tmp ($(df -h --output=source,fstype /tmp | tail -1 | tr -s ' '));
a 1 GiB random file, and a 2 GiB sparse file with 1.5 MB of random data.
MB/s = bytes of the volume / wall time of the virsh command; downloads are timed into
/dev/null and checked with sha256sum afterwards, untimed.
$NOTE
EOF
echo "wrote $OUT"
