"""Test harness shared by every integration test: starts a real picd (own state dir, own network
namespace, free port), talks to its API, and cleans up namespaces and processes it created."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

BUILD = os.environ.get("PIC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("PIC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PICD = os.path.join(BUILD, "picd")
PIC = os.path.join(BUILD, "pic")
# Sanitizer builds are several times slower; every wait scales with this.
SLOW = 4 if "asan" in os.path.basename(os.path.abspath(BUILD)) else 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run(*argv, check=True, timeout=30, **kw):
    """Runs a command (argv list, never a shell) and returns CompletedProcess with text output."""
    return subprocess.run(list(argv), check=check, timeout=timeout, capture_output=True, text=True, **kw)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until truthy; bounded by timeout (scaled for slow builds). Returns pred's value."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # the thing may not exist yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Netns:
    """A network namespace the test created itself; removed on cleanup."""

    def __init__(self, name=None):
        self.name = name or unique("pict")
        run("ip", "netns", "add", self.name)
        run("ip", "-n", self.name, "link", "set", "lo", "up")

    def exec(self, *argv, **kw):
        return run("ip", "netns", "exec", self.name, *argv, **kw)

    def popen(self, *argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def delete(self):
        run("ip", "netns", "del", self.name, check=False)


def veth_pair(ns_a, addr_a, ns_b, addr_b):
    """Joins two namespaces with a veth pair; addresses like '10.99.0.1/24'."""
    a, b = unique("va")[:15], unique("vb")[:15]
    run("ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b)
    run("ip", "-n", ns_a, "addr", "add", addr_a, "dev", a)
    run("ip", "-n", ns_b, "addr", "add", addr_b, "dev", b)
    run("ip", "-n", ns_a, "link", "set", a, "up")
    run("ip", "-n", ns_b, "link", "set", b, "up")
    return a, b


UDHCPC_HOOK = """#!/bin/sh
# udhcpc hook for tests: record what the server handed out; never touches /etc/resolv.conf or the interface.
case "$1" in
  bound|renew)
    printf 'ip=%s\\nhostname=%s\\nrouter=%s\\ndns=%s\\nntpsrv=%s\\ndomain=%s\\n' \\
      "$ip" "$hostname" "$router" "$dns" "$ntpsrv" "$domain" > "$(dirname "$0")/lease-$interface"
    ;;
esac
exit 0
"""


class DhcpClient:
    """A client namespace joined to the cell's namespace by a veth pair (cell side gets cell_addr, e.g.
    '192.168.213.1/24'), and real udhcpc runs on its side with a hook that only records the lease."""

    def __init__(self, cell_netns, cell_addr, prefix="dh"):
        self.tmp = tempfile.TemporaryDirectory(prefix="dhcp-client-")
        self.script = os.path.join(self.tmp.name, "hook.sh")
        with open(self.script, "w") as f:
            f.write(UDHCPC_HOOK)
        os.chmod(self.script, 0o755)
        self.ns = Netns()
        self.name = self.ns.name
        self.cell_if, self.client_if = unique(prefix + "c")[:15], unique(prefix + "l")[:15]
        try:
            run("ip", "link", "add", self.cell_if, "netns", cell_netns, "type", "veth", "peer", "name",
                self.client_if, "netns", self.ns.name)
            run("ip", "-n", cell_netns, "addr", "add", cell_addr, "dev", self.cell_if)
            run("ip", "-n", cell_netns, "link", "set", self.cell_if, "up")
            run("ip", "-n", self.ns.name, "link", "set", self.client_if, "up")
        except Exception:
            self.delete()
            raise

    def exec(self, *argv, **kw):
        return self.ns.exec(*argv, **kw)

    def udhcpc(self, mac, hostname=None, tries=5, check=True):
        """Runs udhcpc with mac; returns what the server handed out (a dict), or the completed process when
        check is False and no lease came."""
        run("ip", "-n", self.ns.name, "link", "set", self.client_if, "address", mac)
        out = os.path.join(self.tmp.name, "lease-" + self.client_if)
        if os.path.exists(out):
            os.unlink(out)
        argv = ["udhcpc", "-i", self.client_if, "-f", "-q", "-n", "-t", str(tries), "-T", "1", "-s", self.script]
        if hostname:
            argv += ["-x", "hostname:" + hostname]
        r = self.ns.exec(*argv, check=check, timeout=30 * SLOW)
        if not check and r.returncode != 0:
            return r
        with open(out) as f:
            return dict(line.split("=", 1) for line in f.read().splitlines())

    def delete(self):
        self.ns.delete()
        self.tmp.cleanup()


class Picd:
    """One real picd process with its own state dir and cell namespace."""

    def __init__(self, state_dir=None, netns=None, listen_host="127.0.0.1", port=None, extra_args=(),
                 run_in_netns=None, env=None):
        self.tmp = None
        if state_dir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="picd-")
            state_dir = self.tmp.name
        self.state_dir = state_dir
        self.netns = netns or unique("picc")
        self.host = listen_host
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.run_in_netns = run_in_netns  # run picd itself inside this namespace (for remote-client tests)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(state_dir, "picd-test.log")
        self.token = None

    # -- process ---------------------------------------------------------------------------------
    def start(self, wait=True, extra_args=()):
        argv = [PICD, "--state-dir", self.state_dir, "--listen", f"{self.host}:{self.port}",
                "--netns", self.netns, *self.extra_args, *extra_args]
        if self.run_in_netns:
            argv = ["ip", "netns", "exec", self.run_in_netns, *argv]
        env = dict(os.environ)
        env.update(self.env or {})
        if getattr(self, "log", None):
            self.log.close()  # the previous run's (after a kill9 or stop)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"picd exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                return self.request("GET", "/health", auth=False).status == 200
            except OSError:
                return False
        wait_for(ready, timeout, what="picd /health")

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("picd did not stop on SIGTERM")
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def kill9(self, guardian_too=False):
        """SIGKILL picd; guardian_too: its guardian first (as the OOM killer or a careless kill might), so only the
        next start can clean up."""
        if self.proc and self.proc.poll() is None:
            if guardian_too:
                for pid in self.guardian_pids():
                    os.kill(pid, signal.SIGKILL)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def guardian_pids(self):
        """picd's own children that run picd's binary (its guardian; the daemons run other programs)."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []
        exe = os.path.realpath(PICD)
        found = []
        for pid in kids:
            try:
                if os.readlink(f"/proc/{pid}/exe") == exe:
                    found.append(pid)
            except OSError:
                pass
        return found

    def daemon_pids(self):
        """Daemons this cell's picd started, from its pid records: {service: pid} (still alive only)."""
        found = {}
        run_dir = os.path.join(self.state_dir, "run")
        for name in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
            if not name.endswith(".pid"):
                continue
            try:
                with open(os.path.join(run_dir, name)) as f:
                    pid, start = (int(x) for x in f.read().split())
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[19]) == start and fields[0] not in "ZX":
                    found[name[:-4]] = pid
            except (OSError, ValueError):
                continue
        return found

    def netns_pids(self):
        """Live processes inside this cell's network namespace: {pid: argv}. picd itself stays outside, so these
        are exactly the daemons (and anything they started) of this cell, with or without pid records."""
        try:
            ino = os.stat(f"/run/netns/{self.netns}").st_ino
        except OSError:
            return {}
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.stat(f"/proc/{name}/ns/net").st_ino != ino:
                    continue
                with open(f"/proc/{name}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                        continue
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    found[int(name)] = f.read().decode(errors="replace").rstrip("\0").split("\0")
            except (OSError, IndexError):
                continue
        return found

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.stop()
        finally:
            # Whatever a killed picd left behind in the cell's namespace: stop it by PID (only processes in the
            # namespace this test created, so nothing of another test or of the host is touched).
            for pid in set(self.daemon_pids().values()) | set(self.netns_pids()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            run("ip", "netns", "del", self.netns, check=False)
            if self.tmp:
                self.tmp.cleanup()

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    # -- API -------------------------------------------------------------------------------------
    def admin_password(self):
        with open(os.path.join(self.state_dir, "initial-admin-password")) as f:
            return f.read().strip()

    def request(self, method, path, body=None, token=None, auth=True, headers=None, raw=None, timeout=30):
        """token: a bearer token (default: the admin token made by login()). raw: bytes body as-is."""
        h = dict(headers or {})
        if auth:
            t = token or self.token
            if t:
                h["Authorization"] = f"Bearer {t}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout * SLOW)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read().decode(errors="replace"))
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, username="admin", password=None):
        """Logs in and returns (cookie header value, csrf token)."""
        r = self.request("POST", "/api/auth/login",
                         body={"username": username, "password": password or self.admin_password()}, auth=False)
        assert r.status == 200, r
        cookie = r.headers["Set-Cookie"].split(";")[0]
        return cookie, r.json["csrf_token"]

    def make_token(self, scope="admin", name=None):
        """Creates an API token through a real login session and returns it."""
        cookie, csrf = self.login()
        r = self.request("POST", "/api/auth/tokens", body={"name": name or unique("t"), "scope": scope},
                         auth=False, headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        assert r.status == 201, r
        return r.json["token"]

    def admin(self):
        """Makes an admin token the default credential of request()."""
        self.token = self.make_token("admin", "test-admin")
        return self

    def cli(self, *args, check=False, timeout=30):
        return run(PIC, "--socket", os.path.join(self.state_dir, "run", "picd.sock"), *args, check=check,
                   timeout=timeout * SLOW)


class ApiAssertions:
    def assertError(self, r, status, field=None):
        """A request failed the way a user must see: status, the one envelope, the field named."""
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertIn("error", r.json, r)
        err = r.json["error"]
        self.assertTrue(err.get("code") and err.get("message"), r)
        if field is not None:
            self.assertEqual(err.get("field"), field, r)
        ctype = {k.lower(): v for k, v in r.headers.items()}.get("content-type")
        self.assertEqual(ctype, "application/json")


class PicdTestCase(unittest.TestCase, ApiAssertions):
    """Starts one picd per test class (cls.picd, with an admin token); dumps its log on failure."""

    picd_args = ()

    @classmethod
    def setUpClass(cls):
        cls.picd = Picd(extra_args=cls.picd_args)
        try:
            cls.picd.start()
            cls.picd.admin()
        except Exception:
            print(cls.picd.logs())
            cls.picd.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = None
        try:
            rc = cls.picd.stop()
        finally:
            cls.picd.cleanup()
        # picd must exit 0 on SIGTERM; under ASan a leak or error makes it non-zero.
        if rc not in (0, None):
            raise AssertionError(f"picd exited {rc} on SIGTERM:\n{cls.picd.logs()}")

def main():
    """unittest.main, except that a skipped test fails the run: a skip hides exactly the regression (a missing tool,
    a missing route) the test exists to catch."""
    result = unittest.main(verbosity=2, exit=False).result
    for test, why in result.skipped:
        print(f"FAIL: {test} was skipped ({why}); tests here must pass or fail", file=sys.stderr)
    sys.exit(0 if result.wasSuccessful() and not result.skipped else 1)
