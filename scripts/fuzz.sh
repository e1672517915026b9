#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20; CI's short form), coverage-guided with
# libFuzzer on the stable toolchain (fuzz/README.md says how). A crash, a leak or an allocation
# over 64 MB fails the run, and libFuzzer leaves the input in fuzz/artifacts/<target>/: turn it
# into a regression test. The long form is e.g. `bash scripts/fuzz.sh 1800`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH="${1:-20}"
TARGETS=(frame xdr_decode domxml_parse other_xml)

RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --target-dir target/stable-cov \
    $(printf -- '--bin %s ' "${TARGETS[@]}")

# Seeds: real virsh and python-libvirt traffic in seeds/<target> (fuzz/capture-seeds.py), the
# domain XML test corpus for the XML target, and each target's local corpus/ (kept out of git)
# when a longer run has grown one.
seeds() {
    case "$1" in
        domxml_parse) echo ../crates/domxml/tests/corpus ;;
    esac
    [ -d "seeds/$1" ] && echo "seeds/$1"
    [ -d "corpus/$1" ] && echo "corpus/$1"
    return 0
}

for target in "${TARGETS[@]}"; do
    work="target/corpus-work/$target"
    mkdir -p "$work" "artifacts/$target"
    mapfile -t inputs < <(seeds "$target")
    echo "==> fuzz $target for ${SECONDS_EACH}s (seeds: ${inputs[*]:-none})"
    # New inputs go to a scratch directory; the seeds are only read.
    "target/stable-cov/x86_64-unknown-linux-gnu/release/$target" "$work" "${inputs[@]}" \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -malloc_limit_mb=64 -rss_limit_mb=512 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 2>&1 |
        grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
    status="${PIPESTATUS[0]}"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $target failed (exit $status); inputs in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
