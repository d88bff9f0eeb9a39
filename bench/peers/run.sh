#!/usr/bin/env bash
# bench/peers: time of one peer create and one delete through the API with 100, 1,000 and 10,000 existing peers,
# side by side with the raw commands for the same live change (`wg set` + `nft add/delete element`: the floor).
#
# Usage: bench/peers/run.sh BUILD_DIR     (as root; everything inside a namespace it creates; ~2 minutes)
# Knobs (environment): BENCH_SIZES="100 1000 10000" BENCH_ROUNDS=40
# Targets: API time flat as peers grow (largest vs smallest size < 2x) and within 2x of the raw commands.
# Exit: 0 targets met, 1 a target missed, 2 set-up failure.
set -euo pipefail

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/picd" ]; then
        echo "usage: bench/peers/run.sh BUILD_DIR   (BUILD_DIR/picd must exist: make build)" >&2
        exit 2
fi
SIZES=${BENCH_SIZES:-100 1000 10000}
ROUNDS=${BENCH_ROUNDS:-40}
for s in $SIZES $ROUNDS; do
        [[ $s =~ ^[0-9]{1,5}$ ]] || { echo "bench/peers: sizes and rounds must be small integers" >&2; exit 2; }
done
for tool in wg nft nsenter wireguard-go; do
        command -v "$tool" >/dev/null || { echo "bench/peers: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench/peers: run as root (network namespaces)" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
exec env PIC_BUILD_DIR="$BUILD" BENCH_SIZES="$SIZES" BENCH_ROUNDS="$ROUNDS" PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 "$HERE/bench.py"
