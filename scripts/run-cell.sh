#!/usr/bin/env bash
# `make run`: starts picd in the foreground for a local cell (state in /var/lib/pic, managed network in its own
# namespace, API on 127.0.0.1:3000) and prints where to log in. Ctrl-C stops it cleanly.
set -euo pipefail
build=$1 state=$2 listen=$3 netns=${4:-}

if [ "$(id -u)" -ne 0 ]; then
  echo "make run: picd manages network namespaces and daemons; run it as root" >&2
  exit 1
fi

# The calendar, files and mail daemons run as their own users and must pass through every folder above the
# state dir (a checkout below /root, which is 0700, cannot hold it): say so now rather than leave them failing.
abs_state=$(realpath -m -- "$state")
dir=$(dirname -- "$abs_state")
while :; do
  if [ -d "$dir" ] && [ $(( 0$(stat -c %a -- "$dir") & 01 )) -eq 0 ]; then
    echo "make run: $dir (mode $(stat -c %a -- "$dir")) cannot be passed through by other users, so the cell's" \
         "calendar, files and mail daemons could not reach $abs_state; use a state dir elsewhere, e.g." \
         "STATE_DIR=/var/lib/pic make run (the default)" >&2
    exit 1
  fi
  [ "$dir" = / ] && break
  dir=$(dirname -- "$dir")
done

# The predecessor's overrides: CELL_NAME=pic1 VPN_ADDRESS=10.1.0.1/24 make run. A variable given is applied
# on this start; the defaults only on the first one (no database yet), so what the user set since through
# the API or `pic config set` survives every restart.
first=false
[ -f "$state/picd.db" ] || first=true
args=()
if [ -n "${CELL_NAME:-}" ]; then
  args+=(--set "cell_name=$CELL_NAME")
elif $first; then
  args+=(--set cell_name=mycell)
fi
[ -n "${VPN_ADDRESS:-}" ] && args+=(--set "wireguard.address=$VPN_ADDRESS")
[ -n "${IP_RANGE:-}" ] && args+=(--set "ip_range=$IP_RANGE")
[ -n "${DOMAIN:-}" ] && args+=(--set "domain=$DOMAIN")

# The namespace belongs to the state dir: NETNS if given, else the one of the previous start, else
# pic-<cell name> (a cell renamed later keeps its namespace).
netns_file="$state/make-run.netns"
if [ -z "$netns" ] && [ -s "$netns_file" ]; then
  netns=$(cat "$netns_file")
fi
[ -n "$netns" ] || netns="pic-${CELL_NAME:-mycell}"

# A demo LAN for DHCP: the cell's namespace has no real LAN interface, so give it one — a veth whose
# other end sits in namespace "$netns-lan", where a client can ask for a lease:
#   ip netns exec $netns-lan udhcpc -i lan0 -f -q -s /bin/true
# On a dedicated box, set dhcp.interface to the real LAN interface instead.
lan_ns="$netns-lan"
[ -e "/run/netns/$netns" ] || ip netns add "$netns"
[ -e "/run/netns/$lan_ns" ] || ip netns add "$lan_ns"
if ! ip -n "$netns" link show lan0 >/dev/null 2>&1; then
  ip link add lan0 netns "$netns" type veth peer name lan0 netns "$lan_ns"
  ip -n "$netns" addr add 192.168.77.1/24 dev lan0
  ip -n "$netns" link set lan0 up
  ip -n "$lan_ns" link set lo up
  ip -n "$lan_ns" link set lan0 up
fi
if $first; then
  # First start only: later starts keep whatever the user configured since.
  args+=(--set dhcp.interface=lan0 --set dhcp.range_start=192.168.77.100 --set dhcp.range_end=192.168.77.200
         --set dhcp.enabled=true)
fi

mkdir -p "$state"
printf '%s\n' "$netns" >"$netns_file"
"$build/picd" --state-dir "$state" --listen "$listen" --netns "$netns" "${args[@]}" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM

for _ in $(seq 1 100); do
  if curl -fsS "http://$listen/health" >/dev/null 2>&1; then
    echo
    echo "pic is running: open http://$listen/ in a browser (web UI and API; cell network in namespace '$netns')"
    if [ -f "$state/initial-admin-password" ]; then
      echo "log in as 'admin' with the password in $state/initial-admin-password"
    else
      echo "log in as 'admin' with the password you set"
    fi
    echo "CLI: $build/pic --state-dir $state status   (or export PIC_STATE_DIR=$state; Ctrl-C stops the cell)"
    echo "demo LAN for DHCP: ip netns exec $lan_ns udhcpc -i lan0 -f -q -n -s /bin/true"
    break
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
wait $pid
