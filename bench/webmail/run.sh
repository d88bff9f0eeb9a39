#!/usr/bin/env bash
# bench/webmail: php-fpm's memory at rest and under load, and Roundcube's login page through the whole front door
# (TLS, picd's grant-only forward_auth, FastCGI, PHP) next to a static file of the same site served by Caddy alone.
#
# Usage: bench/webmail/run.sh BUILD_DIR   (as root; about 40 s)
# Knobs (environment): BENCH_REQUESTS=300 (per path, on one keep-alive connection) BENCH_SETTLE=12 (seconds for
# php-fpm's idle workers to go before the at-rest reading)
# Output: a table on stdout and bench/results/webmail-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

[ $# -eq 1 ] && [ -x "$1/picd" ] || { echo "usage: bench/webmail/run.sh BUILD_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/webmail: run as root (network namespaces)" >&2; exit 2; }
[[ ${BENCH_REQUESTS:-300} =~ ^[0-9]{1,5}$ ]] || { echo "bench/webmail: BENCH_REQUESTS must be 1..99999" >&2; exit 2; }
[[ ${BENCH_SETTLE:-12} =~ ^[0-9]{1,3}$ ]] || { echo "bench/webmail: BENCH_SETTLE must be seconds" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
PIC_BUILD_DIR=$(cd "$1" && pwd) exec /usr/bin/python3 "$HERE/bench.py"
