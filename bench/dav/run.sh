#!/usr/bin/env bash
# bench/dav: WebDAV PUT and GET of 1,000 small files and one large file through the front door (a peer address,
# TLS with the cell CA, Caddy, picd's forward_auth, lighttpd + mod_webdav) next to the same requests straight to
# lighttpd's unix socket on the same machine (the floor), in one run; plus every daemon's RSS, sampled throughout.
# Two more legs say where the gap comes from: the same Caddy site with its authorization taken out (TLS and the
# proxy hop only), and the front door again over HTTP/1.1 (what most WebDAV clients speak).
#
# Usage: bench/dav/run.sh BUILD_DIR    (as root; namespaces it creates; ~1-2 min)
# Knobs: BENCH_SMALL=1000 BENCH_SMALL_BYTES=4096 BENCH_LARGE_MB=256
# Output: a table on stdout and bench/results/dav-<UTC time>.json. Exit 0, or 2 on a set-up failure.
set -euo pipefail

BUILD=${1:-}
[ -n "$BUILD" ] && [ -x "$BUILD/picd" ] || { echo "usage: bench/dav/run.sh BUILD_DIR" >&2; exit 2; }
SMALL=${BENCH_SMALL:-1000}
SMALL_BYTES=${BENCH_SMALL_BYTES:-4096}
LARGE_MB=${BENCH_LARGE_MB:-256}
[[ $SMALL =~ ^[0-9]{1,5}$ ]] && [[ $SMALL_BYTES =~ ^[0-9]{1,7}$ ]] && [[ $LARGE_MB =~ ^[0-9]{1,5}$ ]] ||
        { echo "bench/dav: bad knobs" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/dav: run as root (namespaces)" >&2; exit 2; }
for cmd in curl ip lighttpd caddy /usr/bin/python3; do
        command -v "$cmd" >/dev/null || { echo "bench/dav: $cmd not found; run scripts/install-deps.sh" >&2; exit 2; }
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PICD=$(cd "$BUILD" && pwd)/picd
TMP=$(mktemp -d /tmp/pic-bench-dav.XXXXXX)
chmod 0711 "$TMP" # the cell's daemons that run as their own users pass through it to the state dir
NETNS=pic-bench-dav-$$
CLIENT=pic-bench-davc-$$
PORT=$((20000 + $$ % 20000))
PICD_PID= SAMPLER_PID= BARE_PID=

cleanup() {
        [ -n "$SAMPLER_PID" ] && kill -TERM "$SAMPLER_PID" 2>/dev/null || true
        [ -n "$BARE_PID" ] && kill -TERM "$BARE_PID" 2>/dev/null || true
        if [ -n "$PICD_PID" ]; then
                kill -TERM "$PICD_PID" 2>/dev/null || true
                for _ in $(seq 100); do kill -0 "$PICD_PID" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$PICD_PID" 2>/dev/null || true
        fi
        ip netns del "$CLIENT" 2>/dev/null || true
        ip netns del "$NETNS" 2>/dev/null || true
        rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "bench/dav: $*" >&2; tail -20 "$TMP/picd.log" >&2 || true; exit 2; }

mkdir -p "$TMP/state" "$TMP/small"
chmod 0700 "$TMP/state"
"$PICD" --state-dir "$TMP/state" --listen "127.0.0.1:$PORT" --netns "$NETNS" >"$TMP/picd.log" 2>&1 &
PICD_PID=$!
up() { curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"files":"running".*"proxy":"running"'; }
for _ in $(seq 300); do up && break; sleep 0.1; done
up || die "picd, lighttpd or caddy did not come up"
RUN=$TMP/state/run

api() { curl -sf --unix-socket "$RUN/picd.sock" -H "Content-Type: application/json" "$@"; }
api --data '{"name":"bench","password":"bench-password-1","role":"user"}' http://localhost/api/users >/dev/null ||
        die "could not create the user"
SECRET=$(api --data '{"label":"bench"}' http://localhost/api/users/bench/app-passwords |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])') || die "no app password"
api --data '{"name":"bench-client","ip":"10.0.0.200","service_access":["files"]}' http://localhost/api/peers \
        >/dev/null || die "could not create the peer"
FILES=$(api http://localhost/api/config | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["service_ips"]["files"])')
NAME=files.mycell.cell
api http://localhost/api/ca | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pem"], end="")' \
        >"$TMP/root.pem" || die "no CA root"

ip netns add "$CLIENT"
ip -n "$CLIENT" link set lo up
ip link add bdv0 netns "$NETNS" type veth peer name bdv1 netns "$CLIENT"
ip -n "$NETNS" addr add 10.0.0.201/32 dev bdv0
ip -n "$NETNS" link set bdv0 up
ip -n "$NETNS" route add 10.0.0.200/32 dev bdv0
ip -n "$CLIENT" addr add 10.0.0.200/32 dev bdv1
ip -n "$CLIENT" link set bdv1 up
ip -n "$CLIENT" route add 172.20.0.0/24 dev bdv1

# The payloads: SMALL files of SMALL_BYTES, one of LARGE_MB.
head -c "$SMALL_BYTES" /dev/urandom >"$TMP/small.bin"
head -c $((LARGE_MB << 20)) /dev/urandom >"$TMP/large.bin"

# The bare leg: a second Caddy in the cell's namespace serving the files site from picd's own config, on port
# 8443 with the same certificate, but with picd's forward_auth replaced by the user header set by hand (TLS and the
# proxy hop, no authorization). Admin endpoint off; it holds nothing picd's Caddy does not.
/usr/bin/python3 - "$TMP/state/etc/proxy/caddy.json" "$TMP/bare.json" <<'PY' || die "cannot derive the bare Caddy config"
import json, sys
c = json.load(open(sys.argv[1]))
site = c["apps"]["http"]["servers"]["files-https"]
site["listen"] = [a.replace(":443", ":8443") for a in site["listen"]]
for route in site["routes"]:
    h = route["handle"]
    auth = [i for i, x in enumerate(h) if any("auth.sock" in u.get("dial", "") for u in x.get("upstreams", []))]
    assert len(auth) == 1, "the files site has no forward_auth to replace"
    h[auth[0]] = {"handler": "headers", "request": {"set": {"X-Pic-User": ["bench"]}}}
c["admin"] = {"disabled": True}
c["apps"]["http"]["servers"] = {"files-bare": site}
json.dump(c, open(sys.argv[2], "w"))
PY
ip netns exec "$NETNS" caddy run --config "$TMP/bare.json" >"$TMP/bare.log" 2>&1 &
BARE_PID=$!

# Four ways in, same lighttpd, same user's tree (a folder per leg, so the legs never overwrite each other).
front() { ip netns exec "$CLIENT" curl -sS --cacert "$TMP/root.pem" --resolve "$NAME:443:$FILES" -u "bench:$SECRET" "$@"; }
front1() { front --http1.1 "$@"; }
bare() { ip netns exec "$CLIENT" curl -sS --cacert "$TMP/root.pem" --resolve "$NAME:8443:$FILES" "$@"; }
floor() { curl -sS --unix-socket "$RUN/proxied/files-http.sock" -H "X-Pic-User: bench" "$@"; }
base_front="https://$NAME"
base_front1="https://$NAME"
base_bare="https://$NAME:8443"
base_floor="http://localhost"
LEGS="floor bare front front1"
for _ in $(seq 50); do [ "$(bare -o /dev/null -w '%{http_code}' -X OPTIONS "$base_bare/" 2>/dev/null)" = 200 ] && break; sleep 0.1; done
for leg in $LEGS; do
        base=base_$leg
        [ "$("$leg" -o /dev/null -w '%{http_code}' -X MKCOL "${!base}/$leg/")" = 201 ] || die "no MKCOL on the $leg leg"
done

# One curl process per leg and phase, all requests on one kept-alive connection (curl -K config).
for leg in $LEGS; do
        base=base_$leg
        : >"$TMP/$leg-put.cfg"
        : >"$TMP/$leg-get.cfg"
        for i in $(seq "$SMALL"); do
                printf 'url = "%s/%s/s%05d.bin"\nupload-file = "%s"\noutput = "/dev/null"\n' "${!base}" "$leg" "$i" \
                        "$TMP/small.bin" >>"$TMP/$leg-put.cfg"
                printf 'url = "%s/%s/s%05d.bin"\noutput = "/dev/null"\n' "${!base}" "$leg" "$i" >>"$TMP/$leg-get.cfg"
        done
done

CADDY_PID=$(awk '{print $1; exit}' "$RUN/proxy.pid")
LIGHTTPD_PID=$(awk '{print $1; exit}' "$RUN/files.pid")
/usr/bin/python3 "$HERE/sample.py" "$TMP/rss.json" "picd=$PICD_PID" "caddy=$CADDY_PID" "lighttpd=$LIGHTTPD_PID" &
SAMPLER_PID=$!

timed() { # name, then the command: appends "name start end http_code:count..." to times.txt
        local name=$1 t0 t1 codes
        shift
        t0=$EPOCHREALTIME
        codes=$("$@" -w '%{http_code}\n' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
        t1=$EPOCHREALTIME
        echo "$name $t0 $t1 $codes" >>"$TMP/times.txt"
}
: >"$TMP/times.txt"
for leg in $LEGS; do
        timed "$leg-small-put" "$leg" -K "$TMP/$leg-put.cfg"
        timed "$leg-small-get" "$leg" -K "$TMP/$leg-get.cfg"
        base=base_$leg
        timed "$leg-large-put" "$leg" -o /dev/null -T "$TMP/large.bin" "${!base}/$leg/large.bin"
        timed "$leg-large-get" "$leg" -o /dev/null "${!base}/$leg/large.bin"
done
kill -TERM "$SAMPLER_PID"
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
kill -TERM "$BARE_PID"
wait "$BARE_PID" 2>/dev/null || true
BARE_PID=
cmp -s "$TMP/large.bin" "$TMP/state/data/files/bench/front/large.bin" || die "the large file arrived changed"

DAEMONS=$(for svc in network dns ntp wireguard proxy files; do
        [ -f "$RUN/$svc.pid" ] && printf '%s=%s ' "$svc" "$(awk '{print $1; exit}' "$RUN/$svc.pid")"
done)
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/dav-$(date -u +%Y%m%dT%H%M%SZ).json"
/usr/bin/python3 "$HERE/report.py" "$TMP/times.txt" "$TMP/rss.json" "$SMALL" "$SMALL_BYTES" "$LARGE_MB" \
        "picd=$PICD_PID $DAEMONS" "$(uptime)" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "bench/dav: results in $OUT"
