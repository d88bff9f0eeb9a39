"""bench/webmail: php-fpm's RSS at rest and after load, and requests/s and latency of Roundcube's login page through
Caddy (TLS, picd's grant-only forward_auth, FastCGI to php-fpm, PHP) next to a static file of the same HTTPS site
(TLS, forward_auth, Caddy's file_server): the cost of PHP itself. Started by bench/webmail/run.sh; reuses the
integration tests' harness (tests/integration/pic.py) to run picd in its own namespace."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from pic import Netns, Picd, run, unique, wait_for  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
SETTLE = int(os.environ.get("BENCH_SETTLE", "12"))
CLIENT = "10.0.0.210"
NAME = "mail.mycell.cell"

# Inside the client namespace: REQUESTS GETs of one path on one keep-alive HTTPS connection verified against the
# root; prints {"rps", "p50_ms", "p99_ms", "bytes"}.
LOAD = r"""
import http.client, json, socket, ssl, sys, time
ip, name, cafile, path, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=cafile)
conn = http.client.HTTPSConnection(name, 443, timeout=30, context=ctx)
conn.sock = ctx.wrap_socket(socket.create_connection((ip, 443), timeout=30), server_hostname=name)
lat, size = [], 0
start = time.monotonic()
for _ in range(n):
    t = time.monotonic()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    size = len(body)
    lat.append(time.monotonic() - t)
total = time.monotonic() - start
lat.sort()
print(json.dumps({"rps": n / total, "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
                  "bytes": size}))
"""


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        d = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(d[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}


def fpm(picd):
    """php-fpm's processes in the cell: {"master": rss, "workers": [rss...]}."""
    out = {"master": None, "workers": []}
    for pid, argv in picd.netns_pids().items():
        if argv and argv[0].startswith("php-fpm: master"):
            out["master"] = rss(pid)
        elif argv and argv[0].startswith("php-fpm: pool"):
            out["workers"].append(rss(pid))
    return out


def main():
    picd = Picd()
    ns = None
    try:
        picd.start()
        picd.admin()
        wait_for(lambda: all(s["state"] == "running" for s in picd.get("/api/services").json["services"]
                             if s["name"] in ("webmail", "proxy")), 30, what="php-fpm and caddy")
        ips = picd.get("/api/config").json["service_ips"]
        assert picd.post("/api/peers", {"name": "bench-webmail", "ip": CLIENT, "service_access": ["mail"]}).status == 201
        ns = Netns()
        a, b = unique("bwa")[:15], unique("bwb")[:15]
        run("ip", "link", "add", a, "netns", picd.netns, "type", "veth", "peer", "name", b, "netns", ns.name)
        run("ip", "-n", picd.netns, "addr", "add", "10.0.0.211/32", "dev", a)
        run("ip", "-n", picd.netns, "link", "set", a, "up")
        run("ip", "-n", picd.netns, "route", "add", CLIENT + "/32", "dev", a)
        run("ip", "-n", ns.name, "addr", "add", CLIENT + "/32", "dev", b)
        run("ip", "-n", ns.name, "link", "set", b, "up")
        run("ip", "-n", ns.name, "route", "add", ips["mail"] + "/32", "dev", b)
        root = os.path.join(picd.state_dir, "bench-root.pem")
        with open(root, "w") as f:
            f.write(picd.get("/api/ca").json["pem"])
        time.sleep(SETTLE)
        at_rest = fpm(picd)
        results = {}
        for label, path in (("static file (Caddy alone)", "/skins/elastic/images/favicon.ico"),
                            ("login page (php-fpm + Roundcube)", "/")):
            r = ns.exec(sys.executable, "-c", LOAD, ips["mail"], NAME, root, path, str(REQUESTS), timeout=600)
            results[label] = json.loads(r.stdout)
        loaded = fpm(picd)
        report = {"requests": REQUESTS, "fpm_at_rest": at_rest, "fpm_after_load": loaded, "paths": results}
        print(f"php-fpm at rest: master VmRSS {at_rest['master']['VmRSS'] / 1024:.1f} MiB "
              f"(anon {at_rest['master']['RssAnon'] / 1024:.1f} MiB), {len(at_rest['workers'])} workers")
        print(f"php-fpm after load: master VmRSS {loaded['master']['VmRSS'] / 1024:.1f} MiB, workers "
              + ", ".join(f"{w['VmRSS'] / 1024:.1f} MiB (anon {w['RssAnon'] / 1024:.1f})" for w in loaded["workers"]))
        print(f"{'path':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>7}")
        for label, x in results.items():
            print(f"{label:36} {x['rps']:8.1f} {x['p50_ms']:8.2f} {x['p99_ms']:8.2f} {x['bytes']:7d}")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        out = os.path.join(ROOT, "bench", "results", time.strftime("webmail-%Y%m%dT%H%M%SZ.json", time.gmtime()))
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"written {out}")
    finally:
        if ns:
            ns.delete()
        picd.stop()
        picd.cleanup()


if __name__ == "__main__":
    main()
