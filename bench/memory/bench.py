"""bench/memory: picd's memory at rest, after a backup, after a restore and after more rounds of both, for one
build and optionally a reference build side by side (same machine, same run). Started by bench/memory/run.sh."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SETTLE = float(os.environ.get("BENCH_SETTLE", "3"))  # > the 2 s nftables idle timeout
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGET_KIB = 10 * 1024


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        d = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(d[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


class Cell:
    def __init__(self, picd, tag):
        self.tmp = tempfile.mkdtemp(prefix=f"pic-bench-mem-{tag}-")
        self.netns = f"pic-bm-{tag}-{os.getpid()}"[:15]
        with socket_port() as port:
            self.port = port
        self.log = open(os.path.join(self.tmp, "picd.log"), "ab")
        self.proc = subprocess.Popen([picd, "--state-dir", self.tmp, "--listen", f"127.0.0.1:{self.port}",
                                      "--netns", self.netns], stdout=self.log, stderr=subprocess.STDOUT)
        self.token = None
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.call("GET", "/health", auth=False)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"picd exited {self.proc.returncode}")
            time.sleep(0.1)
        else:
            raise RuntimeError("picd did not answer /health within 30 s")
        with open(os.path.join(self.tmp, "initial-admin-password")) as f:
            pw = f.read().strip()
        st, hdr, body = self.call("POST", "/api/auth/login", {"username": "admin", "password": pw}, auth=False)
        assert st == 200, body
        cookie = hdr["Set-Cookie"].split(";")[0]
        st, _, body = self.call("POST", "/api/auth/tokens", {"name": "bench", "scope": "admin"}, auth=False,
                                headers={"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]})
        assert st == 201, body
        self.token = body["token"]

    def call(self, method, path, body=None, auth=True, headers=None):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
        finally:
            c.close()

    def settle(self):
        time.sleep(SETTLE)
        return status(self.proc.pid)

    def backup(self):
        st, _, body = self.call("POST", "/api/config/backup")
        assert st == 201, body
        return body["id"]

    def restore(self, bid):
        st, _, body = self.call("POST", f"/api/config/restore/{bid}")
        assert st == 200, body

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        subprocess.run(["ip", "netns", "del", self.netns], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)


class socket_port:
    def __enter__(self):
        import socket
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        return self.s.getsockname()[1]

    def __exit__(self, *a):
        self.s.close()


def measure(picd, tag):
    cell = Cell(picd, tag)
    try:
        out = {"rest": cell.settle()}
        bid = cell.backup()
        out["after backup"] = cell.settle()
        cell.restore(bid)
        out["after restore"] = cell.settle()
        for _ in range(ROUNDS):
            cell.restore(cell.backup())
        out[f"after {ROUNDS} more"] = cell.settle()
        return out
    finally:
        cell.close()


def main():
    builds = [("this", sys.argv[1])] + ([("reference", sys.argv[2])] if len(sys.argv) > 2 else [])
    results = {tag: measure(os.path.join(path, "picd"), tag) for tag, path in builds}
    stages = list(results["this"].keys())
    print(f"{'picd':10} {'stage':18} {'VmRSS':>9} {'RssAnon':>9} {'RssFile':>9}")
    for tag, res in results.items():
        for st in stages:
            m = res[st]
            print(f"{tag:10} {st:18} {m['VmRSS']:>6} KiB {m['RssAnon']:>5} KiB {m['RssFile']:>5} KiB")
    worst = max(results["this"][s]["VmRSS"] for s in stages)
    ok = worst < TARGET_KIB
    print(f"target: VmRSS at rest after backup and restore < {TARGET_KIB} KiB: {'PASS' if ok else 'FAIL'} "
          f"(worst {worst} KiB)")
    os.makedirs(os.path.join(os.path.dirname(__file__), "..", "results"), exist_ok=True)
    name = time.strftime("memory-%Y%m%dT%H%M%SZ.json", time.gmtime())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(__file__)).stdout.strip()
    with open(os.path.join(os.path.dirname(__file__), "..", "results", name), "w") as f:
        json.dump({"commit": commit, "builds": dict(builds), "settle_s": SETTLE, "rounds": ROUNDS,
                   "results": results, "pass": ok}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
