#!/usr/bin/env bash
# Builds the web UI (web/ → OUT, the build dir's web/) for CMake: `npm ci` when the lock file changed, then
# the type check and `vite build`, which also writes a .gz beside each text asset. Same sources, same bytes.
set -euo pipefail
SRC=$1
OUT=$2
cd "$SRC"
# node_modules/.package-lock.json is npm's own record of what it installed: older than the lock, reinstall.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
PIC_WEB_OUT="$OUT" npm run --silent build
