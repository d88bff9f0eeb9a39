#!/usr/bin/env bash
# bench/proxy: requests/s and p99 through Caddy (the proxy module, real cell-CA TLS) to a static backend, with
# forward_auth to picd's own STATE/run/auth.sock in the path and without it, in one run; plus the RSS of Caddy and
# picd. The backend is nginx on a unix socket (return 200); the authorized requests carry a real app password of a
# user made through the API, from a peer address granted the calendar.
#
# Usage: bench/proxy/run.sh BUILD_DIR    (as root; namespaces it creates; ~40 s)
# Knobs: BENCH_DURATION=10 BENCH_CONNECTIONS=32
# Output: a table on stdout and bench/results/proxy-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

BUILD=${1:-}
[ -n "$BUILD" ] && [ -x "$BUILD/picd" ] || { echo "usage: bench/proxy/run.sh BUILD_DIR" >&2; exit 2; }
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}
[[ $DURATION =~ ^[0-9]{1,3}$ ]] && [[ $CONNS =~ ^[0-9]{1,4}$ ]] || { echo "bench/proxy: bad knobs" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/proxy: run as root (namespaces)" >&2; exit 2; }
for cmd in wrk nginx caddy curl ip /usr/bin/python3; do
        command -v "$cmd" >/dev/null || { echo "bench/proxy: $cmd not found; run scripts/install-deps.sh" >&2; exit 2; }
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PICD=$(cd "$BUILD" && pwd)/picd
TMP=$(mktemp -d /tmp/pic-bench-proxy.XXXXXX)
NETNS=pic-bench-px-$$
CLIENT=pic-bench-pxc-$$
PORT=$((20000 + $$ % 20000))
PICD_PID= NGINX_PID=

cleanup() {
        for p in $NGINX_PID $PICD_PID; do kill -TERM "$p" 2>/dev/null || true; done
        for p in $NGINX_PID $PICD_PID; do
                for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$p" 2>/dev/null || true
        done
        ip netns del "$CLIENT" 2>/dev/null || true
        ip netns del "$NETNS" 2>/dev/null || true
        rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "bench/proxy: $*" >&2; tail -20 "$TMP/picd.log" >&2 || true; exit 2; }

mkdir -p "$TMP/state/run" "$TMP/ngx"
chmod 0700 "$TMP/state"
"$PICD" --state-dir "$TMP/state" --listen "127.0.0.1:$PORT" --netns "$NETNS" >"$TMP/picd.log" 2>&1 &
PICD_PID=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"proxy":"running"' || die "picd or caddy did not come up"
RUN=$TMP/state/run

# The static backend on the calendar's upstream socket.
cat >"$TMP/ngx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/ngx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/ngx/body;
    proxy_temp_path $TMP/ngx/proxy;
    fastcgi_temp_path $TMP/ngx/fastcgi;
    uwsgi_temp_path $TMP/ngx/uwsgi;
    scgi_temp_path $TMP/ngx/scgi;
    default_type text/plain;
    server { listen unix:$RUN/calendar-http.sock; location / { return 200 "hello from the backend\n"; } }
}
EOF
nginx -p "$TMP/ngx/" -c "$TMP/ngx/nginx.conf" -e "$TMP/ngx/error.log" >"$TMP/ngx/stdout.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 50); do [ -S "$RUN/calendar-http.sock" ] && break; sleep 0.1; done
[ -S "$RUN/calendar-http.sock" ] || die "nginx did not start"
[ -S "$RUN/auth.sock" ] || die "picd's auth.sock is missing"

# A user with an app password, and the client's address a peer granted the calendar: what picd checks per request.
api() { curl -sf --unix-socket "$RUN/picd.sock" -H "Content-Type: application/json" "$@"; }
api --data '{"name":"bench","password":"bench-password-1","role":"user"}' http://localhost/api/users >/dev/null ||
        die "could not create the user"
SECRET=$(api --data '{"label":"wrk"}' http://localhost/api/users/bench/app-passwords |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])') || die "no app password"
api --data '{"name":"bench-client","ip":"10.0.0.200","service_access":["calendar"]}' http://localhost/api/peers \
        >/dev/null || die "could not create the peer"
AUTH="Authorization: Basic $(printf 'bench:%s' "$SECRET" | base64 -w0)"

# The same Caddy with the files site pointing at the same backend without forward_auth: picd's rendered config,
# changed here only (POST /load on the admin socket; picd does not re-render during the run).
/usr/bin/python3 - "$TMP/state/etc/proxy/caddy.json" "$RUN" >"$TMP/bench.json" <<'EOF'
import json, sys
cfg, run = json.load(open(sys.argv[1])), sys.argv[2]
servers = cfg["apps"]["http"]["servers"]
files = servers["files-https"]["routes"][0]["handle"]
servers["files-https"]["routes"][0]["handle"] = [h for h in files if not h.get("handle_response")]
servers["files-https"]["routes"][0]["handle"][-1]["upstreams"] = [{"dial": f"unix/{run}/calendar-http.sock"}]
print(json.dumps(cfg))
EOF
curl -sf --unix-socket "$RUN/caddy-admin.sock" -H "Host;" -H "Content-Type: application/json" \
        --data-binary @"$TMP/bench.json" http://localhost/load >/dev/null || die "caddy refused the bench config"

IPS=$(curl -sf --unix-socket "$RUN/picd.sock" http://localhost/api/config)
CAL=$(echo "$IPS" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["service_ips"]["calendar"])')
FILES=$(echo "$IPS" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["service_ips"]["files"])')

ip netns add "$CLIENT"
ip -n "$CLIENT" link set lo up
ip link add bpx0 netns "$NETNS" type veth peer name bpx1 netns "$CLIENT"
ip -n "$NETNS" addr add 10.0.0.201/32 dev bpx0
ip -n "$NETNS" link set bpx0 up
ip -n "$NETNS" route add 10.0.0.200/32 dev bpx0
ip -n "$CLIENT" addr add 10.0.0.200/32 dev bpx1
ip -n "$CLIENT" link set bpx1 up
ip -n "$CLIENT" route add 172.20.0.0/24 dev bpx1

check() { ip netns exec "$CLIENT" curl -sfk -H "$AUTH" "https://$1/" | grep -q "hello from the backend" || die "no answer from $1"; }
check "$CAL"
check "$FILES"

CADDY_PID=$(awk '{print $1; exit}' "$RUN/proxy.pid") # the supervisor's record: "PID STARTTIME"
run_wrk() {
        ip netns exec "$CLIENT" wrk -t1 -c"$CONNS" -d2s -H "$AUTH" "https://$2/" >/dev/null 2>&1 || true
        ip netns exec "$CLIENT" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s --latency -H "$AUTH" "https://$2/" \
                >"$TMP/$1.wrk" 2>&1
}
run_wrk noauth "$FILES"
run_wrk auth "$CAL"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).json"
/usr/bin/python3 "$HERE/report.py" "$TMP/noauth.wrk" "$TMP/auth.wrk" "$(rss "$CADDY_PID")" "$(rss "$PICD_PID")" \
        "$(uptime)" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "bench/proxy: results in $OUT"
