"""bench/authz driver (see run.sh): a real picd, a user with BENCH_APP_PASSWORDS app passwords and a peer holding
the calendar grant; then BENCH_REQUESTS GET /auth per case over one keep-alive unix-socket connection."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from pic import Picd  # noqa: E402
from test_users import UnixHTTPConnection  # noqa: E402

N = int(os.environ.get("BENCH_REQUESTS", "20000"))
APPS = int(os.environ.get("BENCH_APP_PASSWORDS", "1000"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def run_case(sock, headers, want):
    conn = UnixHTTPConnection(sock, timeout=30)
    lat = []
    t0 = time.perf_counter()
    for _ in range(N):
        t = time.perf_counter()
        conn.request("GET", "/auth", headers=headers)
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t)
        if r.status != want:
            raise SystemExit(f"bench/authz: got {r.status}, wanted {want}")
    total = time.perf_counter() - t0
    conn.close()
    lat.sort()
    return {"rps": round(N / total), "p50_us": round(lat[N // 2] * 1e6), "p99_us": round(lat[int(N * 0.99)] * 1e6)}


def main():
    picd = Picd(extra_args=("--log-level", "warn"))
    picd.start()
    picd.admin()
    try:
        sock = os.path.join(picd.state_dir, "run", "auth.sock")
        rss0 = rss_kib(picd.proc.pid)
        assert picd.post("/api/users", {"name": "bench", "password": "bench-password-1"}).status == 201
        secret = None
        for i in range(APPS):
            r = picd.post("/api/users/bench/app-passwords", {"label": f"device-{i}"})
            assert r.status == 201, r
            secret = r.json["password"]
        ip = picd.post("/api/peers", {"name": "bench-phone", "owner": "bench", "service_access": ["calendar"]}).json["ip"]
        login = picd.post("/api/auth/login", {"username": "bench", "password": "bench-password-1"}, auth=False)
        cookie = login.headers["Set-Cookie"].split(";")[0]
        rss1 = rss_kib(picd.proc.pid)
        base = {"X-Pic-Service": "calendar", "X-Forwarded-For": ip}
        ok = "Basic " + base64.b64encode(f"bench:{secret}".encode()).decode()
        bad = "Basic " + base64.b64encode(b"bench:" + b"a" * 40).decode()
        out = {
            "requests": N, "app_passwords": APPS,
            "app_password_200": run_case(sock, dict(base, Authorization=ok), 200),
            "session_cookie_200": run_case(sock, dict(base, Cookie=cookie), 200),
            # a refused password from a source of its own each time would hit the rate limit: 403 (no grant) instead
            "no_grant_403": run_case(sock, dict(base, **{"X-Pic-Service": "mail", "Authorization": ok}), 403),
            "picd_rss_kib": {"start": rss0, "with_index": rss1, "end": rss_kib(picd.proc.pid)},
        }
        print(json.dumps(out, indent=2))
        os.makedirs(os.path.join(os.path.dirname(__file__), "..", "results"), exist_ok=True)
        with open(os.path.join(os.path.dirname(__file__), "..", "results", "authz.json"), "w") as f:
            json.dump(out, f, indent=2)
    finally:
        picd.stop()
        picd.cleanup()


if __name__ == "__main__":
    main()
