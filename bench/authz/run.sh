#!/usr/bin/env bash
# bench/authz: picd's forward_auth answer on STATE/run/auth.sock (what Caddy asks on every proxied request):
# round trips per second and latency over one keep-alive connection, for an allowed app password, a session
# cookie and a refused password, with N app passwords and peers in the index; picd's RSS before and after.
#
# Usage: bench/authz/run.sh BUILD_DIR     (as root: picd runs its cell in a namespace; about 30 s)
# Knobs (environment): BENCH_REQUESTS=20000 BENCH_APP_PASSWORDS=1000
# The client is one Python process, so the rate is a floor of what picd does (bench/proxy measures through Caddy).
set -euo pipefail

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/picd" ]; then
        echo "usage: bench/authz/run.sh BUILD_DIR   (BUILD_DIR/picd must exist: make build)" >&2
        exit 2
fi
for s in "${BENCH_REQUESTS:-20000}" "${BENCH_APP_PASSWORDS:-1000}"; do
        [[ $s =~ ^[0-9]{1,6}$ ]] || { echo "bench/authz: counts must be small integers" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench/authz: run as root (network namespaces)" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
exec env PIC_BUILD_DIR="$BUILD" BENCH_REQUESTS="${BENCH_REQUESTS:-20000}" \
        BENCH_APP_PASSWORDS="${BENCH_APP_PASSWORDS:-1000}" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$HERE/bench.py"
