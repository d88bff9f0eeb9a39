#!/usr/bin/env bash
# bench/api: throughput and latency of picd's GET /health and GET /api/config under wrk, next to nginx serving
# the very same bytes as static files (1 worker = like for like, auto = machine ceiling), plus picd's RSS, and
# picd once more while a slowloris client holds 2,000 unfinished requests open from another loopback address.
#
# Usage: bench/api/run.sh BUILD_DIR      (as root; loopback only; about 110 s with the defaults)
# Knobs (environment): BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_THREADS=1 BENCH_CONNECTIONS=32
#                      BENCH_SLOWLORIS=2000
# Exit: 0 targets met, 1 a target missed (or a run had errors), 2 set-up failure.
set -euo pipefail

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/picd" ]; then
        echo "usage: bench/api/run.sh BUILD_DIR   (BUILD_DIR/picd must exist: make build)" >&2
        exit 2
fi
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
SLOWLORIS=${BENCH_SLOWLORIS:-2000}
for v in DURATION WARMUP THREADS CONNS SLOWLORIS; do
        [[ ${!v} =~ ^[0-9]{1,4}$ ]] || { echo "bench/api: $v must be a small integer" >&2; exit 2; }
done
# Eight measured runs (2 paths x 3 servers, and picd under slowloris): keep the whole thing about two minutes.
if [ "$SLOWLORIS" -lt 1 ] || [ "$DURATION" -lt 1 ] || [ $((DURATION + WARMUP)) -gt 16 ] || [ "$THREADS" -lt 1 ] || [ "$CONNS" -lt "$THREADS" ]; then
        echo "bench/api: need DURATION >= 1, DURATION + WARMUP <= 16, 1 <= THREADS <= CONNECTIONS, SLOWLORIS >= 1" >&2
        exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PICD=$(cd "$BUILD" && pwd)/picd

if [ "$(id -u)" -ne 0 ]; then
        echo "bench/api: run as root (picd creates a network namespace)" >&2
        exit 2
fi
for cmd in wrk nginx curl python3 ip taskset pgrep; do
        command -v "$cmd" >/dev/null || { echo "bench/api: $cmd not found; run scripts/install-deps.sh" >&2; exit 2; }
done

# One core for the server, another for wrk, so the two never steal each other's time; on a one-core machine
# everything shares CPU 0 and the figures say so.
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
SERVER_CPU=0
CLIENT_CPU=$((NCPU > 1 ? 1 : 0))

TMP=$(mktemp -d /tmp/pic-bench-api.XXXXXX)
chmod 0711 "$TMP" # the cell's daemons that run as their own users pass through it to the state dir
NETNS=pic-bench-$$
PICD_PID=
NGINX_PID_1=
NGINX_PID_auto=
WRK_PID=
SLOW_PID=
NETNS_OURS=0

# Stops one child by PID: the polite signal, up to 5 s, then SIGKILL; always reaped.
stop_pid() {
        local pid=$1 sig=$2
        [ -n "$pid" ] || return 0
        kill -"$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
}

cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        stop_pid "$WRK_PID" TERM
        stop_pid "$SLOW_PID" TERM
        stop_pid "$NGINX_PID_1" QUIT
        stop_pid "$NGINX_PID_auto" QUIT
        stop_pid "$PICD_PID" TERM
        if [ "$NETNS_OURS" = 1 ]; then
                ip netns del "$NETNS" 2>/dev/null || true
        fi
        rm -rf "$TMP"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
        echo "bench/api: $*" >&2
        exit 2
}

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls URL until it answers 200, while PID lives; bounded to 20 s.
wait_http() {
        local url=$1 what=$2 pid=$3
        for _ in $(seq 200); do
                kill -0 "$pid" 2>/dev/null || return 1
                curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$url" 2>/dev/null | grep -q '^200$' && return 0
                sleep 0.1
        done
        echo "bench/api: $what did not answer $url within 20 s" >&2
        return 1
}

# kB value of FIELD (VmRSS, VmHWM) in /proc/PID/status.
proc_kb() {
        awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

json_field() {
        python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# CPU time (clock ticks, user + system) used so far by PID and, with "tree", its children (nginx workers).
cpu_ticks() {
        local total=0 pid t
        for pid in "$1" $([ "${2:-}" = tree ] && pgrep -P "$1" || true); do
                t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}' || true)
                total=$((total + ${t:-0}))
        done
        echo "$total"
}

# VmRSS (kB) of PID and, with "tree", its children (nginx workers).
rss_kb() {
        local kb=0 pid v
        for pid in "$1" $([ "${2:-}" = tree ] && pgrep -P "$1" || true); do
                v=$(proc_kb "$pid" VmRSS 2>/dev/null || true)
                kb=$((kb + ${v:-0}))
        done
        echo "$kb"
}

# run_wrk TARGET PATH URL HEADER SERVER_PID [tree]: a warm-up, then the measured run, during which the
# server's CPU time is taken too: when other work shares the machine, requests/s can swing by half between
# two runs of the same binary while CPU per request moves far less. Appends one JSON line to RESULTS. wrk runs in the background and is waited
# for, so Ctrl-C or SIGTERM reaches the trap at once.
run_wrk() {
        local target=$1 path=$2 url=$3 header=$4 spid=$5 tree=${6:-}
        local -a hdr=()
        [ -n "$header" ] && hdr=(-H "$header")
        local out=$TMP/wrk-$target-${path//\//_}.txt
        if [ "$WARMUP" -gt 0 ]; then
                taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 2s "${hdr[@]}" "$url" \
                        >/dev/null 2>&1 &
                WRK_PID=$!
                wait "$WRK_PID" || true
                WRK_PID=
        fi
        local t0 t1
        t0=$(cpu_ticks "$spid" "$tree")
        taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 2s --latency \
                -s "$HERE/wrk-report.lua" "${hdr[@]}" "$url" >"$out" 2>&1 &
        WRK_PID=$!
        # Memory while all connections are open (each holds a libmicrohttpd pool in picd), mid-run.
        sleep "$((DURATION / 2)).5"
        local rss
        rss=$(rss_kb "$spid" "$tree")
        wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed against $url"; }
        WRK_PID=
        t1=$(cpu_ticks "$spid" "$tree")
        local line
        line=$(sed -n 's/^WRKJSON //p' "$out")
        [ -n "$line" ] || { cat "$out" >&2; die "wrk printed no report for $url"; }
        python3 -c 'import json, sys
r = json.loads(sys.argv[3]); r["target"] = sys.argv[1]; r["path"] = sys.argv[2]
r["server_cpu_s"] = int(sys.argv[4]) / int(sys.argv[5])
r["server_rss_kb_under_load"] = int(sys.argv[6])
print(json.dumps(r))' "$target" "$path" "$line" "$((t1 - t0))" "$CLK_TCK" "$rss" >>"$RESULTS"
        printf '  %-11s %-12s %s\n' "$target" "$path" "$(sed -n 's/^Requests\/sec: *//p' "$out") req/s"
}

# nginx with its own config in TMP: nothing under /etc, /var/log or /var/lib is read or written. The bodies
# are a few hundred bytes: read + one writev beats sendfile's separate header and body sends, so it is off.
# start_nginx NAME WORKERS CPU_LIST PORT (sets NGINX_PID_<NAME>).
start_nginx() {
        local name=$1 workers=$2 cpu_list=$3 port=$4
        local ngx=$TMP/nginx-$name
        mkdir -p "$ngx"
        cat >"$ngx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $workers;
user nobody nogroup;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    sendfile off;
    tcp_nodelay on;
    server_tokens off;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    types { }
    default_type application/json;
    server {
        listen 127.0.0.1:$port;
        add_header Cache-Control no-store;
        add_header X-Content-Type-Options nosniff;
        location = /health { alias $WWW/health.json; }
        location = /api/config { alias $WWW/config.json; }
    }
}
EOF
        taskset -c "$cpu_list" nginx -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" >"$ngx/stdout.log" 2>&1 &
        local pid=$!
        printf -v "NGINX_PID_$name" '%s' "$pid"
        wait_http "http://127.0.0.1:$port/health" "nginx" "$pid" || { cat "$ngx/error.log" >&2; die "nginx did not start"; }
        # The ceiling is only a ceiling if it serves the same bytes with the same type.
        local p
        for p in health:/health config:/api/config; do
                curl -sS --max-time 2 -o "$TMP/check.body" -D "$TMP/check.hdr" "http://127.0.0.1:$port${p#*:}"
                cmp -s "$TMP/check.body" "$WWW/${p%%:*}.json" || die "nginx does not serve the captured ${p#*:} body"
                grep -qi '^content-type: application/json' "$TMP/check.hdr" || die "nginx content type is wrong"
        done
}

# The slowloris client: another loopback address (the whole 127/8 is local, nothing is added to any interface),
# so its connections count against their own per-address share, not wrk's. start_slowloris waits until all
# of them had their handshake; stop_slowloris appends what it saw to SLOW_RESULTS.
SLOW_SOURCE=127.0.0.2
start_slowloris() {
        local out=$TMP/slowloris.out
        : >"$out"
        taskset -c "$CLIENT_CPU" python3 "$HERE/slowloris.py" "$SLOW_SOURCE" 127.0.0.1 "$PICD_PORT" "$SLOWLORIS" \
                >"$out" 2>"$TMP/slowloris.err" &
        SLOW_PID=$!
        for _ in $(seq 400); do
                grep -q '^ready ' "$out" && break
                kill -0 "$SLOW_PID" 2>/dev/null || { cat "$TMP/slowloris.err" >&2; die "the slowloris client died"; }
                sleep 0.1
        done
        grep -q '^ready ' "$out" || die "the slowloris client did not get its connections open within 40 s"
        echo "  slowloris   $(sed -n 's/^ready //p' "$out") of $SLOWLORIS connections from $SLOW_SOURCE had their handshake"
}
stop_slowloris() {
        local path=$1
        stop_pid "$SLOW_PID" TERM
        SLOW_PID=
        local line
        line=$(grep '^{' "$TMP/slowloris.out" || true)
        [ -n "$line" ] || die "the slowloris client printed no summary"
        python3 -c 'import json, sys; r = json.loads(sys.argv[2]); r["path"] = sys.argv[1]; print(json.dumps(r))' \
                "$path" "$line" >>"$SLOW_RESULTS"
}

RESULTS=$TMP/results.jsonl
SLOW_RESULTS=$TMP/slowloris.jsonl
: >"$SLOW_RESULTS"
: >"$RESULTS"
WWW=$TMP/www
PRIV=$TMP/priv
# nginx's workers run as nobody and must reach WWW; picd's state and the credentials stay in PRIV (0700).
chmod 0755 "$TMP"
mkdir -m 0755 "$WWW"
mkdir -m 0700 "$PRIV"
read -r LOAD1 _ </proc/loadavg

# --- picd ---------------------------------------------------------------------------------------------------
ip netns list | awk '{print $1}' | grep -qx "$NETNS" && die "network namespace $NETNS already exists"
PICD_PORT=$(free_port)
echo "bench/api: picd $("$PICD" --version | awk '{print $2}'), wrk -t$THREADS -c$CONNS," \
        "${DURATION} s after ${WARMUP} s warm-up, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU, load $LOAD1"
NETNS_OURS=1
taskset -c "$SERVER_CPU" "$PICD" --state-dir "$PRIV/state" --listen "127.0.0.1:$PICD_PORT" --netns "$NETNS" \
        --log-level warn >"$TMP/picd.log" 2>&1 &
PICD_PID=$!
BASE=http://127.0.0.1:$PICD_PORT
wait_http "$BASE/health" "picd" "$PICD_PID" || { cat "$TMP/picd.log" >&2; die "picd did not start"; }

# A read-scope token made the way a user makes one: log in, then POST /api/auth/tokens with cookie + CSRF.
python3 -c 'import json, sys; print(json.dumps({"username": "admin", "password": open(sys.argv[1]).read().strip()}))' \
        "$PRIV/state/initial-admin-password" >"$PRIV/login.json"
CSRF=$(curl -sS --fail --max-time 10 -c "$PRIV/cookies" -H 'Content-Type: application/json' --data @"$PRIV/login.json" \
        "$BASE/api/auth/login" | json_field csrf_token) || die "login failed"
TOKEN=$(curl -sS --fail --max-time 10 -b "$PRIV/cookies" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
        --data '{"name":"bench","scope":"read"}' "$BASE/api/auth/tokens" | json_field token) || die "token creation failed"
AUTH="Authorization: Bearer $TOKEN"

curl -sS --fail --max-time 5 -o "$WWW/health.json" "$BASE/health" || die "GET /health failed"
curl -sS --fail --max-time 5 -o "$WWW/config.json" -H "$AUTH" "$BASE/api/config" || die "GET /api/config failed"
chmod 0644 "$WWW"/*.json
RSS_START_KB=$(proc_kb "$PICD_PID" VmRSS)

# --- nginx: one worker on the server's core (like for like), and auto on every core (the machine's ceiling) --
NGINX_PORT_1=$(free_port)
NGINX_PORT_auto=$(free_port)
start_nginx 1 1 "$SERVER_CPU" "$NGINX_PORT_1"
start_nginx auto auto "0-$((NCPU - 1))" "$NGINX_PORT_auto"

# --- the runs: per path the three servers back to back, so a change in the machine's load skews the pair
# being compared as little as possible; the idle servers cost nothing meanwhile. -----------------------------
for path in /health /api/config; do
        hdr=
        [ "$path" = /api/config ] && hdr=$AUTH
        run_wrk picd "$path" "$BASE$path" "$hdr" "$PICD_PID"
        start_slowloris
        run_wrk picd-slowloris "$path" "$BASE$path" "$hdr" "$PICD_PID"
        stop_slowloris "$path"
        run_wrk nginx-1 "$path" "http://127.0.0.1:$NGINX_PORT_1$path" "$hdr" "$NGINX_PID_1" tree
        run_wrk nginx-auto "$path" "http://127.0.0.1:$NGINX_PORT_auto$path" "$hdr" "$NGINX_PID_auto" tree
done
RSS_KB=$(proc_kb "$PICD_PID" VmRSS)
HWM_KB=$(proc_kb "$PICD_PID" VmHWM)
NGINX_RSS_1=$(rss_kb "$NGINX_PID_1" tree)
NGINX_RSS_AUTO=$(rss_kb "$NGINX_PID_auto" tree)
read -r LOAD1_END _ </proc/loadavg

# --- report -------------------------------------------------------------------------------------------------
mkdir -p "$ROOT/bench/results"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cat >"$TMP/meta.json" <<EOF
{"timestamp": "$STAMP", "bench_commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "picd": "$PICD",
 "picd_version": "$("$PICD" --version | awk '{print $2}')", "cpus": $NCPU,
 "loadavg_1min": {"start": $LOAD1, "end": $LOAD1_END},
 "slowloris": {"connections": $SLOWLORIS, "source": "$SLOW_SOURCE"},
 "wrk": {"threads": $THREADS, "connections": $CONNS, "duration_s": $DURATION, "warmup_s": $WARMUP,
         "server_cpu": $SERVER_CPU, "client_cpu": $CLIENT_CPU},
 "body_bytes": {"/health": $(stat -c %s "$WWW/health.json"), "/api/config": $(stat -c %s "$WWW/config.json")},
 "picd_rss_kb": {"before": $RSS_START_KB, "after": $RSS_KB, "hwm": $HWM_KB},
 "nginx_rss_kb_after": {"1": $NGINX_RSS_1, "auto": $NGINX_RSS_AUTO}}
EOF
rc=0
python3 "$HERE/report.py" "$TMP/meta.json" "$RESULTS" "$SLOW_RESULTS" "$ROOT/bench/results/api-$STAMP.json" || rc=$?
exit "$rc"
