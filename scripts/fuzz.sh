#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo fuzz, libFuzzer, coverage-guided) for a bounded time,
# starting from the corpus kept in fuzz/corpus, and fails on any finding.
#
#   scripts/fuzz.sh                 # every target, $AVIARY_FUZZ_SECONDS (default 120) each
#   scripts/fuzz.sh plugin_answer   # one target
#   scripts/fuzz.sh --build-only    # install cargo-fuzz and build the targets, run nothing
#
# Built on stable Rust without a sanitizer (`-s none`): safe Rust needs none to find panics,
# overflows and failed assertions, which is what the targets look for. libFuzzer runs one target
# on one core, so the targets run side by side, as many at once as there are cores
# ($AVIARY_FUZZ_JOBS): each still gets its full time. New inputs libFuzzer finds go to a scratch
# directory, not into the repository; `cargo fuzz cmin` and a commit keep the interesting ones. A
# crash leaves its input in fuzz/artifacts/<target>/ and the command to reproduce it in the output.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${AVIARY_FUZZ_SECONDS:-120}"
jobs="${AVIARY_FUZZ_JOBS:-$(nproc)}"
target_dir="${AVIARY_FUZZ_TARGET_DIR:-$HOME/.cache/aviary/fuzz-target}"
version=0.13.2

build_only=false
targets=()
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=true ;;
        *) targets+=("$arg") ;;
    esac
done

if ! cargo fuzz --version 2>/dev/null | grep -q "$version"; then
    # Its own build directory: the workspace's may be locked by a build running alongside.
    CARGO_TARGET_DIR="$target_dir/cargo-fuzz-install" cargo install cargo-fuzz --version "$version" --locked
fi

if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -s none --target-dir "$target_dir"
if $build_only; then
    exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One target: its run, its summary lines, its status in $scratch/<target>.status.
run_one() {
    local t="$1" status=0
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    cargo fuzz run -s none --target-dir "$target_dir" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$scratch/$t.log" 2>&1 || status=$?
    echo "$status" >"$scratch/$t.status"
}

running=0
for t in "${targets[@]}"; do
    printf -- '--- fuzz %s for %ss (corpus: %s inputs)\n' "$t" "$seconds" "$(ls "fuzz/corpus/$t" 2>/dev/null | wc -l)"
    run_one "$t" &
    running=$((running + 1))
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

failed=0
for t in "${targets[@]}"; do
    status="$(cat "$scratch/$t.status" 2>/dev/null || echo 1)"
    printf '\n--- %s\n' "$t"
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|cov: .*DONE)' "$scratch/$t.log" || true
    if ((status != 0)); then
        printf 'fuzz target %s failed (exit %s):\n' "$t" "$status"
        grep -E -A12 'panicked|SUMMARY|ERROR' "$scratch/$t.log" | head -60
        ls -1 "fuzz/artifacts/$t" 2>/dev/null || true
        failed=1
    fi
done
if ((failed)); then
    exit 1
fi
printf '\nfuzz: %s target(s), %ss each, %s at a time, no finding\n' "${#targets[@]}" "$seconds" "$jobs"
