#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo fuzz, libFuzzer, coverage-guided) for a bounded time,
# starting from the corpus kept in fuzz/corpus, and fails on any finding.
#
#   scripts/fuzz.sh                 # every target, $AVIARY_FUZZ_SECONDS (default 120) each
#   scripts/fuzz.sh plugin_answer   # one target
#
# Built on stable Rust without a sanitizer (`-s none`): safe Rust needs none to find panics,
# overflows and failed assertions, which is what the targets look for. New inputs libFuzzer
# finds go to a scratch directory, not into the repository; `cargo fuzz cmin` and a commit keep
# the interesting ones. A crash leaves its input in fuzz/artifacts/<target>/ and the command to
# reproduce it in the output.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${AVIARY_FUZZ_SECONDS:-120}"
target_dir="${AVIARY_FUZZ_TARGET_DIR:-$HOME/.cache/aviary/fuzz-target}"
version=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$version"; then
    cargo install cargo-fuzz --version "$version" --locked
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -s none --target-dir "$target_dir"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    printf '\n--- fuzz %s for %ss (corpus: %s inputs)\n' "$t" "$seconds" "$(ls "fuzz/corpus/$t" | wc -l)"
    status=0
    cargo fuzz run -s none --target-dir "$target_dir" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$scratch/$t.log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|cov: .*DONE)' "$scratch/$t.log" || true
    if ((status != 0)); then
        printf 'fuzz target %s failed (exit %s):\n' "$t" "$status"
        grep -E -A12 'panicked|SUMMARY|ERROR' "$scratch/$t.log" | head -60
        ls -1 "fuzz/artifacts/$t" 2>/dev/null || true
        exit 1
    fi
done
printf '\nfuzz: %s target(s), %ss each, no finding\n' "${#targets[@]}" "$seconds"
