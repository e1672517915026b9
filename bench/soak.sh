#!/usr/bin/env bash
# Soak run (issue 13): many python-libvirt clients define, start, list, destroy and undefine real
# guests on one moatd at once, with access control on (rules driver), for a bounded time, on
# loopback (UNIX sockets) only. Records throughput, latency percentiles, every unexpected error,
# and moatd's RSS and open fds before and after; writes bench/runs/<date>-soak[-N]/summary.json.
#
#   bash bench/soak.sh [--clients N] [--seconds S] [--guests-per-client G] [--debug] [--out DIR]
#
# Defaults: 8 clients, 120 s, 3 guests each, release build. `--debug` uses the debug build
# (what the test command has just built; its short form runs there). Exits 1 when a client saw
# an unexpected error, a guest was left running, or moatd holds more fds after than before.
# As root on Debian 12; installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

CLIENTS=8
SECONDS_RUN=120
GUESTS=3
PROFILE=release
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --debug) PROFILE=debug; shift ;;
    --out) OUT=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --guests-per-client) GUESTS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

ensure_packages "${BUILD_PACKAGES[@]}" libvirt-clients python3-libvirt qemu-system-x86
ensure_rust
if [ "$PROFILE" = release ]; then
    cargo build --release --locked -p moatd -p jail
else
    cargo build --locked -p moatd -p jail
fi

WORK=$(mktemp -d /tmp/moat-soak.XXXXXX)
IMAGES="$WORK/images"
mkdir -p "$IMAGES" "$WORK/run" "$WORK/state"
cat > "$WORK/rules.toml" <<RULES
[roles]
admin = ["connect:*", "domain:*"]

[[grant]]
uids = [0]
role = "admin"
all = true
RULES
cat > "$WORK/moatd.toml" <<CONF
access_drivers = ["rules"]
access_rules_file = "$WORK/rules.toml"
image_dirs = ["$IMAGES"]
cgroup_parent = "moat-soak"
CONF
for c in $(seq 0 $((CLIENTS - 1))); do
    for g in $(seq 0 $((GUESTS - 1))); do
        truncate -s 1M "$IMAGES/soak-$c-$g.img"
    done
done

target/$PROFILE/moatd --run-dir "$WORK/run" --state-dir "$WORK/state" --config "$WORK/moatd.toml" \
    2>"$WORK/moatd.log" &
MOATD=$!
cleanup() {
    kill "$MOATD" 2>/dev/null || true
    wait "$MOATD" 2>/dev/null || true
    for f in "$WORK"/run/qemu/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
}
trap cleanup EXIT
URI="qemu+unix:///system?socket=$WORK/run/moat-sock"
for _ in $(seq 100); do
    [ -S "$WORK/run/moat-sock" ] && break
    kill -0 "$MOATD" 2>/dev/null || { echo "moatd exited:" >&2; tail -3 "$WORK/moatd.log" >&2; exit 1; }
    sleep 0.1
done

sample() { # rss_kib fds
    echo "$(awk '/^VmRSS/ {print $2}' /proc/$MOATD/status) $(ls /proc/$MOATD/fd | wc -l)"
}
# Warm-up: one short round so that allocator pools and caches exist before the first sample.
/usr/bin/python3 bench/clients/soak.py "$URI" 99 3 "$IMAGES" 1 >/dev/null 2>&1 || true
truncate -s 1M "$IMAGES/soak-99-0.img"
read -r RSS0 FD0 < <(sample)
echo "==> $CLIENTS clients for ${SECONDS_RUN}s (moatd pid $MOATD, RSS ${RSS0} KiB, $FD0 fds)"
pids=()
for c in $(seq 0 $((CLIENTS - 1))); do
    /usr/bin/python3 bench/clients/soak.py "$URI" "$c" "$SECONDS_RUN" "$IMAGES" "$GUESTS" >"$WORK/client-$c.json" &
    pids+=($!)
done
PEAK=0
while kill -0 "${pids[0]}" 2>/dev/null; do
    read -r rss _ < <(sample)
    [ "$rss" -gt "$PEAK" ] && PEAK=$rss
    sleep 1
done
for p in "${pids[@]}"; do wait "$p"; done
sleep 2
read -r RSS1 FD1 < <(sample)
LEFT=$(ls "$WORK/run/qemu" | grep -c '\.pid$' || true)

if [ -z "$OUT" ]; then
    OUT=bench/runs/$(date +%F)-soak
    n=2; base=$OUT; while [ -e "$OUT" ]; do OUT=$base-$n; n=$((n + 1)); done
fi
mkdir -p "$OUT"
/usr/bin/python3 - "$OUT" "$CLIENTS" "$SECONDS_RUN" "$RSS0" "$FD0" "$RSS1" "$FD1" "$PEAK" "$LEFT" "$WORK"/client-*.json <<'PY'
import json, sys, statistics
out, clients, seconds, rss0, fd0, rss1, fd1, peak, left = sys.argv[1:10]
ops, errors = {}, {}
for path in sys.argv[10:]:
    with open(path) as f:
        data = json.load(f)
    for k, v in data["ops"].items():
        ops.setdefault(k, []).extend(v)
    for k, v in data["errors"].items():
        errors[k] = errors.get(k, 0) + v
def pct(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)
summary = {
    "clients": int(clients), "seconds": int(seconds),
    "calls": {k: {"count": len(v), "per_s": round(len(v) / int(seconds), 1),
                  "p50_ms": pct(v, 0.5), "p99_ms": pct(v, 0.99), "max_ms": round(max(v), 2)}
              for k, v in sorted(ops.items())},
    "unexpected_errors": errors,
    "moatd": {"rss_kib_before": int(rss0), "rss_kib_after": int(rss1), "rss_kib_peak": int(peak),
              "fds_before": int(fd0), "fds_after": int(fd1)},
    "guests_left_running": int(left),
}
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
print(json.dumps(summary, indent=2))
problems = []
if errors:
    problems.append(f"{sum(errors.values())} unexpected errors")
if int(left):
    problems.append(f"{left} guests left running")
if int(fd1) > int(fd0):
    problems.append(f"moatd holds {int(fd1) - int(fd0)} more fds than before")
if not ops.get("start"):
    problems.append("no guest was started")
if problems:
    print("soak: FAILED: " + "; ".join(problems))
    sys.exit(1)
PY
echo "==> written $OUT/summary.json"
