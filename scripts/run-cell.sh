#!/usr/bin/env bash
# `make run`: starts picd in the foreground for a local cell (state in ./var, managed network in its own
# namespace, API on 127.0.0.1:3000) and prints where to log in. Ctrl-C stops it cleanly.
set -euo pipefail
build=$1 state=$2 listen=$3 netns=$4

if [ "$(id -u)" -ne 0 ]; then
  echo "make run: picd manages network namespaces and daemons; run it as root" >&2
  exit 1
fi

# The predecessor's overrides: CELL_NAME=pic1 VPN_ADDRESS=10.1.0.1/24 make run
args=()
[ -n "${CELL_NAME:-}" ] && args+=(--set "cell_name=$CELL_NAME")
[ -n "${VPN_ADDRESS:-}" ] && args+=(--set "wireguard.address=$VPN_ADDRESS")
[ -n "${IP_RANGE:-}" ] && args+=(--set "ip_range=$IP_RANGE")
[ -n "${DOMAIN:-}" ] && args+=(--set "domain=$DOMAIN")
[ "$netns" = pic-mycell ] && [ -n "${CELL_NAME:-}" ] && netns="pic-$CELL_NAME"

mkdir -p "$state"
"$build/picd" --state-dir "$state" --listen "$listen" --netns "$netns" "${args[@]}" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM

for _ in $(seq 1 100); do
  if curl -fsS "http://$listen/health" >/dev/null 2>&1; then
    echo
    echo "pic is running: http://$listen  (cell network in namespace '$netns')"
    if [ -f "$state/initial-admin-password" ]; then
      echo "log in as 'admin' with the password in $state/initial-admin-password"
    else
      echo "log in as 'admin' with the password you set"
    fi
    echo "CLI: $build/pic --socket $state/run/picd.sock status      (Ctrl-C stops the cell)"
    break
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
wait $pid
