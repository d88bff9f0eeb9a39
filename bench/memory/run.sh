#!/usr/bin/env bash
# bench/memory: picd's RSS at rest, after a backup, after a restore and after more rounds of both — for BUILD_DIR
# and, side by side, an optional REFERENCE_BUILD_DIR (e.g. a build of an older commit).
#
# Usage: bench/memory/run.sh BUILD_DIR [REFERENCE_BUILD_DIR]   (as root; ~30 s per build)
# Knobs (environment): BENCH_SETTLE=3 (seconds to let picd settle before each reading) BENCH_ROUNDS=3
# Output: a table on stdout and bench/results/memory-<UTC time>.json. Exit 0 when VmRSS stays under 10 MiB,
# 1 when not, 2 on a set-up failure.
set -euo pipefail

for b in "$@"; do
        [ -x "$b/picd" ] || { echo "usage: bench/memory/run.sh BUILD_DIR [REFERENCE_BUILD_DIR] ($b/picd missing)" >&2; exit 2; }
done
[ $# -ge 1 ] || { echo "usage: bench/memory/run.sh BUILD_DIR [REFERENCE_BUILD_DIR]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/memory: run as root (network namespaces)" >&2; exit 2; }
[[ ${BENCH_SETTLE:-3} =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench/memory: BENCH_SETTLE must be seconds" >&2; exit 2; }
[[ ${BENCH_ROUNDS:-3} =~ ^[0-9]{1,2}$ ]] || { echo "bench/memory: BENCH_ROUNDS must be 0..99" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
args=()
for b in "$@"; do args+=("$(cd "$b" && pwd)"); done
exec /usr/bin/python3 "$HERE/bench.py" "${args[@]}"
