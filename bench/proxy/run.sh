#!/usr/bin/env bash
# bench/proxy: requests/s, p99 and CPU per request through Caddy (the proxy module, real cell-CA TLS) to a static
# backend with picd's authorization in the path (checked by Caddy from the config picd pushed, see README "HTTPS
# front door"), the same through forward_auth to picd's STATE/run/auth.sock, and with no authorization, in one run;
# plus the RSS of Caddy and picd. The backend is nginx (return 200) in Radicale's place on the calendar's loopback
# port, and on a unix socket for the leg without authorization; the authorized requests carry
# a real app password of a user made through the API, from a peer address granted the calendar.
#
# Usage: bench/proxy/run.sh BUILD_DIR    (as root; namespaces it creates; ~55 s)
# Knobs: BENCH_DURATION=10 BENCH_CONNECTIONS=32
# Output: a table on stdout and bench/results/proxy-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

BUILD=${1:-}
[ -n "$BUILD" ] && [ -x "$BUILD/picd" ] || { echo "usage: bench/proxy/run.sh BUILD_DIR" >&2; exit 2; }
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}
[[ $DURATION =~ ^[0-9]{1,3}$ ]] && [[ $CONNS =~ ^[0-9]{1,4}$ ]] || { echo "bench/proxy: bad knobs" >&2; exit 2; }
# picd empties its fast set ten minutes after the first authorized request; three runs of 2 + DURATION s (at most
# 12) fit well before.
[ "$DURATION" -le 12 ] || { echo "bench/proxy: BENCH_DURATION at most 12" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/proxy: run as root (namespaces)" >&2; exit 2; }
for cmd in wrk nginx caddy curl ip /usr/bin/python3; do
        command -v "$cmd" >/dev/null || { echo "bench/proxy: $cmd not found; run scripts/install-deps.sh" >&2; exit 2; }
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PICD=$(cd "$BUILD" && pwd)/picd
TMP=$(mktemp -d /tmp/pic-bench-proxy.XXXXXX)
chmod 0711 "$TMP" # the cell's daemons that run as their own users pass through it to the state dir
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
api() { curl -sf --unix-socket "$RUN/picd.sock" -H "Content-Type: application/json" "$@"; }

# The calendar's backend is Radicale on the cell namespace's loopback (calendar.port): turned off here, nginx takes
# its place on that port (the authorized legs), and on a unix socket in STATE/run/proxied (the bare leg).
api -X PUT --data '{"calendar":{"enabled":false}}' http://localhost/api/config >/dev/null || die "cannot turn Radicale off"
CALPORT=$(api http://localhost/api/config | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["calendar"]["port"])')
cal_stopped() {
        api http://localhost/api/services | /usr/bin/python3 -c \
                'import json,sys; s=[x for x in json.load(sys.stdin)["services"] if x["name"]=="calendar"]; sys.exit(0 if not s or s[0]["state"] in ("stopped","disabled") else 1)'
}
for _ in $(seq 100); do cal_stopped && break; sleep 0.1; done
cal_stopped || die "Radicale did not stop"
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
    server {
        listen unix:$RUN/proxied/calendar-http.sock;
        listen 127.0.0.1:$CALPORT;
        location / { return 200 "hello from the backend\n"; }
    }
}
EOF
ip netns exec "$NETNS" nginx -p "$TMP/ngx/" -c "$TMP/ngx/nginx.conf" -e "$TMP/ngx/error.log" >"$TMP/ngx/stdout.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 50); do [ -S "$RUN/proxied/calendar-http.sock" ] && break; sleep 0.1; done
[ -S "$RUN/proxied/calendar-http.sock" ] || die "nginx did not start"
[ -S "$RUN/auth.sock" ] || die "picd's auth.sock is missing"

# A user with an app password, and the client's address a peer granted the calendar: what picd checks per request.
api --data '{"name":"bench","password":"bench-password-1","role":"user"}' http://localhost/api/users >/dev/null ||
        die "could not create the user"
SECRET=$(api --data '{"label":"wrk"}' http://localhost/api/users/bench/app-passwords |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])') || die "no app password"
api --data '{"name":"bench-client","ip":"10.0.0.200","service_access":["calendar"]}' http://localhost/api/peers \
        >/dev/null || die "could not create the peer"
AUTH="Authorization: Basic $(printf 'bench:%s' "$SECRET" | base64 -w0)"
# The same app password typed by hand (no dashes, capitals): picd accepts it, but it is not the form picd put into
# Caddy's in-process check, so every such request goes through forward_auth to picd (the path before the check).
TYPED=$(printf '%s' "$SECRET" | tr -d '-' | tr 'a-z' 'A-Z')
AUTH_FA="Authorization: Basic $(printf 'bench:%s' "$TYPED" | base64 -w0)"

# The same Caddy with the files site pointing at the same backend without any authorization: picd's rendered
# config, changed here only (POST /load on the admin socket). First one authorized request from inside the cell,
# so that picd has put the app password into Caddy's in-process check (its "fast set", pushed once the clients
# have been quiet for 2 s); picd pushes again only when it empties the set ten minutes later, after the run.
CAL0=$(curl -sf --unix-socket "$RUN/picd.sock" http://localhost/api/config |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["service_ips"]["calendar"])')
ip netns exec "$NETNS" curl -sfk -H "$AUTH" "https://$CAL0/" >/dev/null || die "no first authorized answer"
live() { curl -sf --unix-socket "$RUN/caddy/admin.sock" -H "Host;" http://localhost/config/; }
for _ in $(seq 100); do live | grep -q '"http_basic"' && break; sleep 0.1; done
live | grep -q '"http_basic"' || die "picd did not push the app password into caddy"
/usr/bin/python3 - "$TMP/state/etc/proxy/caddy.json" "$RUN" >"$TMP/bench.json" <<'EOF'
import json, sys
cfg, run = json.load(open(sys.argv[1])), sys.argv[2]
servers = cfg["apps"]["http"]["servers"]
# The last route is the plain one (HSTS, body limit, header clean-up, forward_auth, backend): kept alone,
# without forward_auth, on the calendar's backend.
route = servers["files-https"]["routes"][-1]
route["handle"] = [h for h in route["handle"] if not h.get("handle_response")]
route["handle"][-1]["upstreams"] = [{"dial": f"unix/{run}/proxied/calendar-http.sock"}]
servers["files-https"]["routes"] = [route]
print(json.dumps(cfg))
EOF
curl -sf --unix-socket "$RUN/caddy/admin.sock" -H "Host;" -H "Content-Type: application/json" \
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
# CPU time (user + system, clock ticks) of a process: per request it varies far less than req/s on a shared box.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
run_wrk() {
        local auth=${3:-$AUTH} c0 p0
        ip netns exec "$CLIENT" wrk -t1 -c"$CONNS" -d2s -H "$auth" "https://$2/" >/dev/null 2>&1 || true
        c0=$(ticks "$CADDY_PID") p0=$(ticks "$PICD_PID")
        ip netns exec "$CLIENT" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s --latency -H "$auth" "https://$2/" \
                >"$TMP/$1.wrk" 2>&1
        echo "$(($(ticks "$CADDY_PID") - c0)) $(($(ticks "$PICD_PID") - p0)) $(getconf CLK_TCK)" >"$TMP/$1.cpu"
}
run_wrk noauth "$FILES"
run_wrk auth "$CAL"
run_wrk fwdauth "$CAL" "$AUTH_FA"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).json"
/usr/bin/python3 "$HERE/report.py" "$TMP/noauth.wrk" "$TMP/auth.wrk" "$(rss "$CADDY_PID")" "$(rss "$PICD_PID")" \
        "$(uptime)" "$(cat "$TMP/noauth.cpu")" "$(cat "$TMP/auth.cpu")" "$TMP/fwdauth.wrk" "$(cat "$TMP/fwdauth.cpu")" \
        >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "bench/proxy: results in $OUT"
