#!/usr/bin/env bash
# bench/backup: time of a backup and a restore through picd's API for a cell with BENCH_DATA_MB of users' data
# below STATE/data/, side by side with GNU tar + gzip -1 (create) and tar -xzf (extract) of the same tree.
#
# Usage: bench/backup/run.sh BUILD_DIR   (as root; about a minute per GB on a quiet 2-core machine)
# Knobs (environment): BENCH_DATA_MB=1024 (total data) BENCH_SMALL=20000 (small files, 1-4 KiB each)
#   BENCH_DROP_CACHES=1 (drop the page cache before each run: only on a machine of its own)
# Output: a table on stdout and bench/results/backup-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

[ $# -eq 1 ] && [ -x "$1/picd" ] || { echo "usage: bench/backup/run.sh BUILD_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/backup: run as root (network namespaces)" >&2; exit 2; }
[[ ${BENCH_DATA_MB:-1024} =~ ^[0-9]{1,6}$ ]] || { echo "bench/backup: BENCH_DATA_MB must be a number of MiB" >&2; exit 2; }
[[ ${BENCH_SMALL:-20000} =~ ^[0-9]{1,7}$ ]] || { echo "bench/backup: BENCH_SMALL must be a count" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/bench.py" "$(cd "$1" && pwd)"
