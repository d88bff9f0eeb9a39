#!/usr/bin/env bash
# bench/calendar: Radicale's RSS under picd (at rest, after users are created, after a CalDAV/CardDAV workload),
# side by side with the same Radicale started by hand on the same config (the reference), and the other daemons'.
#
# Usage: bench/calendar/run.sh BUILD_DIR   (as root; ~90 s)
# Knobs (environment): BENCH_USERS=20 BENCH_EVENTS=10 (per user)
# Output: a table on stdout and bench/results/calendar-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail
[ $# -eq 1 ] && [ -x "$1/picd" ] || { echo "usage: bench/calendar/run.sh BUILD_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/calendar: run as root (network namespaces)" >&2; exit 2; }
[[ ${BENCH_USERS:-20} =~ ^[0-9]{1,4}$ ]] || { echo "bench/calendar: BENCH_USERS must be 0..9999" >&2; exit 2; }
[[ ${BENCH_EVENTS:-10} =~ ^[0-9]{1,4}$ ]] || { echo "bench/calendar: BENCH_EVENTS must be 0..9999" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/bench.py" "$(cd "$1" && pwd)"
