#!/usr/bin/env bash
# bench/mesh: how long a link and a share change take to carry traffic, through picd's API and with the raw
# commands for the same change (`wg set` + `ip route` + `nft add element` + `unbound-control forward_add`).
#
# Usage: bench/mesh/run.sh BUILD_DIR     (as root; two cells and a client in namespaces it creates; ~1 minute)
# Knobs (environment): BENCH_ROUNDS=5
# Exit: 0 measured, 2 set-up failure.
set -euo pipefail

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/picd" ]; then
        echo "usage: bench/mesh/run.sh BUILD_DIR   (BUILD_DIR/picd must exist: make build)" >&2
        exit 2
fi
ROUNDS=${BENCH_ROUNDS:-5}
[[ $ROUNDS =~ ^[0-9]{1,3}$ ]] || { echo "bench/mesh: BENCH_ROUNDS must be a small integer" >&2; exit 2; }
for tool in wg nft ip dig unbound-control wireguard-go; do
        command -v "$tool" >/dev/null || { echo "bench/mesh: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench/mesh: run as root (network namespaces)" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
exec env PIC_BUILD_DIR="$BUILD" BENCH_ROUNDS="$ROUNDS" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$HERE/bench.py"
