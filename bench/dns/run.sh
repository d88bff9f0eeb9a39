#!/usr/bin/env bash
# bench/dns: how fast a DNS record added through the API answers, and what one peer's grant change costs with
# 10,000 peers stored — each next to a reference measured in the same run (raw unbound control-socket call;
# raw nftables element edit; the reload-per-change design with 10,000 access-control-view lines).
#
# Usage: bench/dns/run.sh BUILD_DIR        (as root; everything inside namespaces it creates; ~1 minute)
# Knobs (environment): BENCH_SAMPLES=200 (records) BENCH_PEERS=10000 BENCH_GRANT_SAMPLES=50
# Output: a table on stdout and bench/results/dns-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/picd" ]; then
        echo "usage: bench/dns/run.sh BUILD_DIR   (BUILD_DIR/picd must exist: make build)" >&2
        exit 2
fi
SAMPLES=${BENCH_SAMPLES:-200}
PEERS=${BENCH_PEERS:-10000}
GRANT_SAMPLES=${BENCH_GRANT_SAMPLES:-50}
for v in SAMPLES PEERS GRANT_SAMPLES; do
        [[ ${!v} =~ ^[0-9]{1,5}$ ]] && [ "${!v}" -ge 1 ] || { echo "bench/dns: $v must be 1..99999" >&2; exit 2; }
done
[ "$PEERS" -le 16000 ] || { echo "bench/dns: at most 16000 peers (a /18 VPN subnet)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/dns: run as root (namespaces)" >&2; exit 2; }
for cmd in ip curl unbound unbound-checkconf /usr/bin/python3; do
        command -v "$cmd" >/dev/null || { echo "bench/dns: $cmd not found; run scripts/install-deps.sh" >&2; exit 2; }
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PICD=$(cd "$BUILD" && pwd)/picd
TMP=$(mktemp -d /tmp/pic-bench-dns.XXXXXX)
chmod 0711 "$TMP" # the cell's daemons that run as their own users pass through it to the state dir
NETNS=pic-bench-dns-$$
CLIENT=pic-bench-dnsc-$$
PORT=$((20000 + $$ % 20000))
PICD_PID=
PY=/usr/bin/python3

stop_picd() {
        [ -n "$PICD_PID" ] || return 0
        kill -TERM "$PICD_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$PICD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PICD_PID" 2>/dev/null || true
        wait "$PICD_PID" 2>/dev/null || true
        PICD_PID=
}
cleanup() {
        stop_picd
        ip netns del "$CLIENT" 2>/dev/null || true
        ip netns del "$NETNS" 2>/dev/null || true
        rm -rf "$TMP"
}
trap cleanup EXIT

start_picd() {
        "$PICD" --state-dir "$TMP" --listen "127.0.0.1:$PORT" --netns "$NETNS" --set wireguard.address=10.0.0.1/18 \
                >>"$TMP/picd.log" 2>&1 &
        PICD_PID=$!
        for _ in $(seq 300); do
                curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
                kill -0 "$PICD_PID" 2>/dev/null || break
                sleep 0.1
        done
        echo "bench/dns: picd did not come up:" >&2
        tail -20 "$TMP/picd.log" >&2
        exit 2
}

# 1. Create the store, then fill it with peers directly (10,000 API calls would measure key generation).
start_picd
stop_picd
"$PY" - "$TMP/picd.db" "$PEERS" <<'EOF'
import base64, os, random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
now = int(time.time())
rows = []
for i in range(n):
    ip = (10 << 24) + 2 + i              # 10.0.0.2 upwards; 10.0.0.1 is the cell
    access = 0 if i == 0 else random.randrange(16)
    rows.append((f"bench-{i:05d}", ip, base64.b64encode(os.urandom(32)).decode(), access, now, now))
with con:
    con.executemany("INSERT INTO peers(name, ip, public_key, access, enabled, created_at, updated_at) "
                    "VALUES(?, ?, ?, ?, 1, ?, ?)", rows)
print(f"bench/dns: {n} peers stored")
EOF

# 2. Start for real: the DNS module installs the view map with every peer on unbound's start.
: >"$TMP/picd.log"
start_picd
for _ in $(seq 300); do grep -q "dns: runtime state applied" "$TMP/picd.log" && break; sleep 0.1; done
STARTUP_MS=$(sed -n 's/.*dns: runtime state applied .* in \([0-9.]*\) ms.*/\1/p' "$TMP/picd.log" | tail -1)
[ -n "$STARTUP_MS" ] || { echo "bench/dns: unbound never became ready" >&2; tail -20 "$TMP/picd.log" >&2; exit 2; }
VIP=$(curl -sf --unix-socket "$TMP/run/picd.sock" http://localhost/api/config |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["service_ips"]["dns"])')
UNBOUND_PID=$(pgrep -f -- "-c $TMP/etc/dns/unbound.conf" | head -1)

# 3. A client namespace holding the first peer's address (10.0.0.2), joined to the cell by a veth pair.
ip netns add "$CLIENT"
ip -n "$CLIENT" link set lo up
ip link add bdc0 netns "$NETNS" type veth peer name bdc1 netns "$CLIENT"
ip -n "$NETNS" addr add 10.97.0.1/30 dev bdc0
ip -n "$CLIENT" addr add 10.97.0.2/30 dev bdc1
ip -n "$CLIENT" addr add 10.0.0.2/32 dev bdc1
ip -n "$NETNS" link set bdc0 up
ip -n "$CLIENT" link set bdc1 up
ip -n "$NETNS" route add 10.0.0.2/32 via 10.97.0.2 dev bdc0
ip -n "$CLIENT" route add 172.20.0.0/16 via 10.97.0.1

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/dns-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "bench/dns: $SAMPLES record samples, $GRANT_SAMPLES grant changes, $PEERS peers, unbound $(unbound -V | head -1)"
ip netns exec "$NETNS" "$PY" "$HERE/bench.py" --api-sock "$TMP/run/picd.sock" --ctl "$TMP/run/dns-ctl.sock" \
        --vip "$VIP" --client-ns "$CLIENT" --peer-ip 10.0.0.2 --samples "$SAMPLES" --grant-samples "$GRANT_SAMPLES" \
        --tmp "$TMP" --unbound-pid "${UNBOUND_PID:-0}" --startup-ms "$STARTUP_MS" --out "$OUT"
echo "bench/dns: results in $OUT"
