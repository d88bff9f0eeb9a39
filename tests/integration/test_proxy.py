"""Caddy in front of the cell, with real caddy, curl, dig and Python's ssl from a client namespace (a stand-in for
a VPN peer at 10.0.0.200, joined by a veth): the root over plain HTTP, a verified TLS handshake to
https://api.<cell>.<domain> (name from the cell's DNS) reaching picd with the client's address, forward_auth in
front of an application backend, kill -9 of caddy, a config caddy refuses never replacing a working one,
certificate renewal under load with no failed request, and all of it through a real WireGuard tunnel (the root
from the URL and fingerprint the peer config names; the calendar only with its grant).

Authorization is picd's own STATE/run/auth.sock with users and app passwords made through the API; the only
stand-in is the application (tests/integration/http_unix.py backend, echoing the X-Pic-User it was given), in
Radicale's place on the calendar's upstream port (calendar.enabled off; test_calendar.py has the real one)."""
import base64
import hashlib
import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pic  # noqa: E402
from pic import Netns, PicdTestCase, run, unique, wait_for  # noqa: E402
from test_vpn import Client  # noqa: E402  (a VPN client with its own wireguard-go)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = "10.0.0.200"

# Runs inside the client namespace: HTTPS requests on fresh connections for a while, verifying against the root;
# prints {"ok", "failures": [...], "serials": [...]} as JSON.
LOOP = r"""
import json, socket, ssl, sys, time
ip, name, cafile, seconds, want_serials = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context(cafile=cafile)
ok, failures, serials = 0, [], []
end = time.monotonic() + seconds
while time.monotonic() < end and len(serials) < want_serials:
    try:
        with socket.create_connection((ip, 443), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                serial = s.getpeercert()["serialNumber"]
                s.sendall(b"GET /health HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        if not data.startswith(b"HTTP/1.1 200"):
            failures.append(data[:200].decode(errors="replace"))
        else:
            ok += 1
            if not serials or serials[-1] != serial:
                serials.append(serial)
    except Exception as e:
        failures.append(repr(e))
    time.sleep(0.02)
print(json.dumps({"ok": ok, "failures": failures, "serials": serials}))
"""

# Runs inside a client namespace: one HTTPS connection kept open; each line on stdin is the Authorization header
# of the next request on it ("-": none); prints "<status> <X-Pic-User the backend saw or -> <connection number>",
# status 0 when no answer came (then the next line opens a new connection).
KEEP = r"""
import http.client, json, socket, ssl, sys
ip, name, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
conn, n = None, 0
for line in sys.stdin:
    auth = line.strip()
    try:
        if conn is None:
            n += 1
            conn = http.client.HTTPSConnection(name, 443, timeout=5, context=ctx)
            conn.sock = ctx.wrap_socket(socket.create_connection((ip, 443), timeout=5), server_hostname=name)
        conn.request("GET", "/dav/", headers={} if auth == "-" else {"Authorization": auth})
        r = conn.getresponse()
        body = r.read()
        who = json.loads(body)["user"] if r.status == 200 else "-"
        print(r.status, who, n, flush=True)
    except Exception:
        if conn is not None:
            conn.close()
        conn = None
        print(0, "-", n, flush=True)
"""


# HTTPS requests of the tests use HTTP/1.1. Each push of picd's decisions swaps Caddy's config (for app passwords in
# its in-process check: when one joins, and each minute while any is in it), and the old server says GOAWAY to its
# HTTP/2 connections: a request that arrives on one opened in that instant is refused, which curl reports as error
# 16 rather than retrying it on a new connection. A new HTTP/1.1 connection is kept through a swap.
H1 = "--http1.1"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ProxyTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.namespaces, cls.procs = [], []
        cls.tmp = tempfile.TemporaryDirectory(prefix="test-proxy-")
        try:
            cls.ips = cls.picd.get("/api/config").json["service_ips"]
            cls.client = cls.make_client(CLIENT, "10.0.0.201")
            # A peer at the client's address, so the cell's DNS answers it (from the view of its grants).
            r = cls.picd.post("/api/peers", {"name": "proxy-client", "ip": CLIENT, "service_access": ["calendar"]})
            assert r.status == 201, r
            cls.root = os.path.join(cls.tmp.name, "root.pem")
            # The test backend where Caddy sends the calendar (127.0.0.1:calendar.port in the cell namespace), once
            # Radicale is off; authorization is picd's own STATE/run/auth.sock.
            r = cls.picd.put("/api/config", {"calendar": {"enabled": False}})
            assert r.status == 200, r
            wait_for(lambda: cls.service("calendar")["state"] in ("stopped", "disabled"), what="radicale stopped")
            backend = subprocess.Popen(["ip", "netns", "exec", cls.picd.netns, sys.executable,
                                        os.path.join(HERE, "http_unix.py"), "backend-tcp",
                                        str(cls.picd.get("/api/config").json["calendar"]["port"])],
                                       stdout=subprocess.PIPE, text=True)
            cls.procs.append(backend)
            assert backend.stdout.readline().strip() == "ready"
            wait_for(lambda: cls.service("proxy")["state"] == "running", what="caddy running")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def make_client(cls, ip, cell_ip):
        ns = Netns()
        cls.namespaces.append(ns)
        a, b = unique("pa")[:15], unique("pb")[:15]
        run("ip", "link", "add", a, "netns", cls.picd.netns, "type", "veth", "peer", "name", b, "netns", ns.name)
        run("ip", "-n", cls.picd.netns, "addr", "add", cell_ip + "/32", "dev", a)
        run("ip", "-n", cls.picd.netns, "link", "set", a, "up")
        run("ip", "-n", cls.picd.netns, "route", "add", ip + "/32", "dev", a)
        run("ip", "-n", ns.name, "addr", "add", ip + "/32", "dev", b)
        run("ip", "-n", ns.name, "link", "set", b, "up")
        run("ip", "-n", ns.name, "route", "add", "172.20.0.0/24", "dev", b)
        return ns

    @classmethod
    def tearDownClass(cls):
        try:
            for p in cls.procs:
                p.kill()
                p.wait(10)
            for ns in cls.namespaces:
                ns.delete()
            cls.tmp.cleanup()
        finally:
            super().tearDownClass()

    @classmethod
    def service(cls, name):
        return next(s for s in cls.picd.get("/api/services").json["services"] if s["name"] == name)

    def account(self):
        """A user and an app password, both made through the API: (name, secret, app password id)."""
        user = unique("cal")
        r = self.picd.post("/api/users", {"name": user, "password": f"{user}-password-123", "role": "user"})
        self.assertEqual(r.status, 201, r)
        r = self.picd.post(f"/api/users/{user}/app-passwords", {"label": "phone"})
        self.assertEqual(r.status, 201, r)
        return user, r.json["password"], r.json["id"]

    def fetch_root(self):
        r = self.client.exec("curl", "-sS", "-m", "10", "-o", self.root, "-w", "%{http_code} %{content_type}",
                             f"http://{self.ips['api']}/ca.pem", check=False)
        self.assertEqual(r.stdout, "200 application/x-pem-file", r.stderr)
        return self.root

    def curl(self, name, path, *extra):
        """HTTPS from the client namespace, verified against the root, the name resolved to its virtual IP."""
        ip = self.ips[name.split(".")[0]]
        r = self.client.exec("curl", H1, "-sS", "-m", "15", "--cacert", self.root, "--resolve", f"{name}:443:{ip}",
                             "-D", "-", *extra, f"https://{name}{path}", check=False, timeout=60)
        head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
        status = int(head.split()[1]) if head.startswith("HTTP/") else 0
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in head.splitlines()[1:] if ":" in l}
        return status, headers, body, r

    def serial(self, name="api.mycell.cell"):
        ip = self.ips[name.split(".")[0]]
        r = self.client.exec("sh", "-c", f"openssl s_client -connect {ip}:443 -servername {name} -CAfile {self.root} "
                             f"-verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial",
                             check=False, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().split("=", 1)[1]

    def fast_accounts(self, user, site="calendar"):
        """The hashes Caddy checks in-process for user on site: picd's fast set as rendered in caddy.json."""
        with open(os.path.join(self.picd.state_dir, "etc", "proxy", "caddy.json")) as f:
            server = json.load(f)["apps"]["http"]["servers"][f"{site}-https"]
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("username") == user:
                    found.append(node["password"])
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(server)
        return found

    def wait_fast(self, user, n):
        wait_for(lambda: len(self.fast_accounts(user)) == n, timeout=10, what=f"{n} app password(s) of {user} in caddy")

    def conf_digest(self):
        with open(os.path.join(self.picd.state_dir, "etc", "proxy", "caddy.json"), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_00_root_over_plain_http(self):
        self.fetch_root()
        with open(self.root) as f:
            self.assertEqual(f.read(), self.picd.get("/api/ca").json["pem"])
        # Everything else on port 80 goes to HTTPS.
        r = self.client.exec("curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                             f"http://{self.ips['api']}/api/config?x=1", check=False)
        self.assertEqual(r.stdout, f"308 https://{self.ips['api']}/api/config?x=1", r.stderr)

    def test_01_verified_https_to_the_api(self):
        self.fetch_root()
        # The name comes from the cell's DNS.
        r = self.client.exec("dig", "+short", "+time=2", "+tries=2", f"@{self.ips['dns']}", "api.mycell.cell", check=False)
        self.assertEqual(r.stdout.strip(), self.ips["api"], r.stderr)
        status, headers, body, r = self.curl("api.mycell.cell", "/health")
        self.assertEqual(status, 200, r.stderr)
        self.assertEqual(json.loads(body)["status"], "ok")
        self.assertEqual(headers.get("strict-transport-security"), "max-age=31536000")
        # A client without the root refuses the handshake.
        r = self.client.exec("curl", "-sS", "-m", "10", "--resolve", f"api.mycell.cell:443:{self.ips['api']}",
                             "https://api.mycell.cell/health", check=False)
        self.assertEqual(r.returncode, 60, r.stderr)  # curl: peer certificate cannot be authenticated

    def test_02_api_sees_the_client_address(self):
        self.fetch_root()
        # A mutation over HTTPS, with a forged X-Forwarded-For: the audit log names the real client.
        status, _, body, r = self.curl("api.mycell.cell", "/api/dns/records", "-X", "POST", "-H",
                                       f"Authorization: Bearer {self.picd.token}", "-H",
                                       "Content-Type: application/json", "-H", "X-Forwarded-For: 127.0.0.1",
                                       "--data", '{"name":"via-proxy","type":"A","value":"172.20.0.99"}')
        self.assertEqual(status, 201, body + r.stderr)
        entry = self.picd.get("/api/audit?limit=1").json["entries"][0]
        self.assertEqual(entry["path"], "/api/dns/records")
        self.assertEqual(entry["remote"], CLIENT)
        self.assertEqual(self.picd.delete(f"/api/dns/records/{json.loads(body)['id']}").status, 200)
        # Without credentials it is refused like any other client.
        status, _, _, _ = self.curl("api.mycell.cell", "/api/config")
        self.assertEqual(status, 401)
        # picd's proxy socket: Caddy's group connects, no one else.
        st = os.stat(os.path.join(self.picd.state_dir, "run", "proxied", "api-proxy.sock"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, pwd.getpwnam("caddy").pw_gid, 0o660))

    def test_03_forward_auth_before_the_application(self):
        """picd's own auth.sock decides: the client's address (a peer granted the calendar) and a real app password
        reach it through Caddy, and only its answer names the user to the backend."""
        self.fetch_root()
        user, secret, _ = self.account()
        good = ["-u", f"{user}:{secret}"]
        status, headers, body, r = self.curl("calendar.mycell.cell", "/dav/x?y=1")
        self.assertEqual(status, 401, r.stderr)
        self.assertEqual(headers.get("www-authenticate"), 'Basic realm="calendar.mycell.cell", charset="UTF-8"')
        self.assertEqual(json.loads(body)["error"]["code"], "unauthorized")
        status, _, _, _ = self.curl("calendar.mycell.cell", "/", "-u", f"{user}:wrong-password")
        self.assertEqual(status, 401)
        # A client's own X-Pic-User never reaches the backend, admitted or not.
        status, _, _, _ = self.curl("calendar.mycell.cell", "/", "-H", f"X-Pic-User: {user}")
        self.assertEqual(status, 401)
        status, _, body, r = self.curl("calendar.mycell.cell", "/dav/x?y=1", *good, "-X", "POST", "--data", "abc",
                                       "-H", "X-Pic-User: mallory")
        self.assertEqual(status, 200, r.stderr)
        self.assertEqual(json.loads(body),
                         {"user": user, "xff": CLIENT, "method": "POST", "path": "/dav/x?y=1", "body_len": 3})
        self.wait_fast(user, 1)
        # The client's Cookie reaches picd too: a web session of the user is a credential there.
        login = self.picd.post("/api/auth/login", {"username": user, "password": f"{user}-password-123"}, auth=False,
                               headers={"X-Forwarded-For": "198.51.100.7"})
        self.assertEqual(login.status, 200, login)
        status, _, body, r = self.curl("calendar.mycell.cell", "/", "-H",
                                       "Cookie: " + login.headers["Set-Cookie"].split(";")[0])
        self.assertEqual((status, json.loads(body)["user"]), (200, user), r.stderr)
        # The client's address travels as the source picd checks: this peer has no files grant, so 403 whatever
        # the credentials (the firewall lets the veth client through; a tunnel peer would not even connect).
        status, _, body, _ = self.curl("files.mycell.cell", "/", *good)
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["error"]["code"], "forbidden")

    def picd_unix_sockets(self):
        """The inodes of picd's open unix-domain sockets in the cell's namespace: the connections it accepted from
        Caddy (an accepted socket belongs to the namespace of the one that connected)."""
        listing = run("ip", "netns", "exec", self.picd.netns, "cat", "/proc/net/unix").stdout
        unix = {l.split()[6] for l in listing.splitlines()[1:]}
        fds = os.path.join("/proc", str(self.picd.proc.pid), "fd")
        out = set()
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:[") and target[8:-1] in unix:
                out.add(target[8:-1])
        return out

    def test_03b_caddy_keeps_its_connection_to_picd(self):
        """What Caddy cannot decide itself it asks picd; a connection per question would cost picd an accept and a
        close each time (bench/proxy). One request that reaches picd, then four more: the connection it opened
        carries them all. (The app password typed by hand, without dashes and in capitals, is not the form picd
        put into Caddy's in-process check after the first request, so each of these goes to picd.)"""
        self.fetch_root()
        user, secret, _ = self.account()
        ip = self.ips["calendar"]

        def get(n, password):
            urls = ["-o", "/dev/null", "https://calendar.mycell.cell/"] * n
            r = self.client.exec("curl", H1, "-sS", "-m", "15", "--cacert", self.root, "--resolve",
                                 f"calendar.mycell.cell:443:{ip}", "-u", f"{user}:{password}", "-w", "%{http_code} ",
                                 *urls, check=False, timeout=60)
            self.assertEqual(r.stdout.split(), ["200"] * n, r.stderr)

        get(1, secret)
        self.wait_fast(user, 1)
        typed = secret.replace("-", "").upper()
        # Connections left by earlier tests first end on picd's idle cut (5 s), so what is open below is this test's.
        wait_for(lambda: not self.picd_unix_sockets(), timeout=20, what="earlier connections to picd closed")
        get(1, typed)
        time.sleep(0.5)  # a connection Caddy closed is gone from picd by then
        first = self.picd_unix_sockets()
        self.assertTrue(first, "no connection from Caddy stayed open after the first request")
        get(4, typed)
        time.sleep(0.5)
        self.assertTrue(first <= self.picd_unix_sockets(), "the first connection did not carry the next requests")

    def test_04_kill9_restarts_with_the_same_config_and_certificates(self):
        self.fetch_root()
        before = self.service("proxy")
        serial, digest = self.serial(), self.conf_digest()
        os.kill(before["pid"], signal.SIGKILL)
        wait_for(lambda: (s := self.service("proxy"))["state"] == "running" and s["pid"] != before["pid"],
                 timeout=30, what="caddy restarted")
        wait_for(lambda: self.curl("api.mycell.cell", "/health")[0] == 200, timeout=30, what="HTTPS back")
        self.assertEqual(self.serial(), serial)
        self.assertEqual(self.conf_digest(), digest)
        self.assertGreater(self.service("proxy")["restarts"], before["restarts"])

    def test_05_refused_config_never_replaces_a_working_one(self):
        self.fetch_root()
        # What picd can tell without caddy is a 400 naming the field.
        self.assertError(self.picd.put("/api/config", {"proxy": {"http_port": 443}}), 400, "proxy.http_port")
        before, serial, digest = self.service("proxy"), self.serial(), self.conf_digest()
        # Something else holds the port the change would move HTTPS to: caddy's /load fails to bind it.
        holder = subprocess.Popen(["ip", "netns", "exec", self.picd.netns, sys.executable, "-c",
                                   "import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
                                   "socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], 8443)); s.listen(); print('ready', "
                                   "flush=True); time.sleep(120)", self.ips["api"]], stdout=subprocess.PIPE, text=True)
        self.procs.append(holder)
        self.assertEqual(holder.stdout.readline().strip(), "ready")
        r = self.picd.put("/api/config", {"proxy": {"https_port": 8443}})
        self.assertGreaterEqual(r.status, 400, r)
        self.assertIn("caddy refused the new configuration", r.json["error"]["message"])
        # Taken back: the stored setting, the file, and caddy still serving as before (not even restarted).
        self.assertEqual(self.picd.get("/api/config").json["proxy"]["https_port"], 443)
        self.assertEqual(self.conf_digest(), digest)
        self.assertEqual(self.curl("api.mycell.cell", "/health")[0], 200)
        self.assertEqual(self.serial(), serial)
        after = self.service("proxy")
        self.assertEqual((after["pid"], after["restarts"]), (before["pid"], before["restarts"]))
        holder.kill()
        holder.wait(10)

    def test_06_renewal_under_load(self):
        self.fetch_root()
        first = self.serial()
        self.assertEqual(self.picd.put("/api/config", {"ca": {"leaf_seconds": 60}}).status, 200)
        try:
            # The lifetime change re-issued at once; two more renewals follow at two thirds of 60 s each.
            r = self.client.exec(sys.executable, "-c", LOOP, self.ips["api"], "api.mycell.cell", self.root, "110", "3",
                                 check=False, timeout=200)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(out["failures"], [])
            self.assertGreaterEqual(len(out["serials"]), 3, out["serials"])
            self.assertNotIn(first.upper(), [s.upper() for s in out["serials"]])
            self.assertGreater(out["ok"], 100)
        finally:
            self.assertEqual(self.picd.put("/api/config", {"ca": {"leaf_seconds": 0}}).status, 200)

    def test_07_through_a_real_tunnel(self):
        """A phone with its own wireguard-go and a user's app password: the root from the address and fingerprint
        its config reply names, the name from the cell's DNS, a verified handshake to the calendar reaching the
        backend as that user; then every revoke on the very next request."""
        user, secret, app_id = self.account()
        vpn_net, ip_range = "10.0.0.0/24", self.picd.get("/api/config").json["ip_range"]
        phones = {}
        for name, grants, index in ((unique("phone")[:20], ["calendar"], 0), (unique("tv")[:20], [], 1)):
            peer = self.picd.post("/api/peers", {"name": name, "service_access": grants})
            self.assertEqual(peer.status, 201, peer)
            conf = self.picd.get(f"/api/peers/{name}/config")
            self.assertEqual(conf.status, 200, conf)
            c = Client(self.picd.netns, index)
            self.addCleanup(c.close)
            c.configure(conf.body, peer.json["ip"], [vpn_net, ip_range], own_endpoint=True)
            phones["tv" if not grants else "phone"] = (c, conf.headers, name, peer.json["ip"])
        phone, headers, phone_name, phone_ip = phones["phone"]
        root = os.path.join(phone.tmp, "root.pem")
        self.assertTrue(headers["X-Pic-CA-URL"].startswith("http://"), headers["X-Pic-CA-URL"])
        wait_for(lambda: phone.ns.exec("curl", "-sS", "-m", "3", "-o", root, headers["X-Pic-CA-URL"],
                                       check=False).returncode == 0, 20, what="the root over the tunnel")
        fp = run("openssl", "x509", "-in", root, "-noout", "-fingerprint", "-sha256").stdout
        self.assertEqual(fp.strip().split("=", 1)[1], headers["X-Pic-CA-Fingerprint"])
        name = "calendar.mycell.cell"
        ip = phone.ns.exec("dig", "+short", "+time=2", "+tries=2", f"@{self.ips['dns']}", name).stdout.strip()
        self.assertEqual(ip, self.ips["calendar"])

        def curl(*extra, ns=phone.ns):
            r = ns.exec("curl", H1, "-sS", "-m", "5", "--cacert", root, "--resolve", f"{name}:443:{ip}", "-w",
                        "\n%{http_code}", *extra, f"https://{name}/dav/", check=False, timeout=30)
            body, _, code = r.stdout.rpartition("\n")
            return r.returncode, int(code or 0), body

        rc, status, body = curl("-u", f"{user}:{secret}", "-H", "X-Pic-User: mallory")
        self.assertEqual((rc, status), (0, 200), body)
        self.assertEqual(json.loads(body), {"user": user, "xff": phone_ip, "method": "GET", "path": "/dav/",
                                            "body_len": 0})
        self.wait_fast(user, 1)
        for extra in ((), ("-u", f"{user}:not-the-app-password"), ("-H", f"X-Pic-User: {user}")):
            with self.subTest(credentials=extra):
                self.assertEqual(curl(*extra)[:2], (0, 401))
        # A peer without the calendar grant cannot even connect (the firewall), while the root is still its.
        tv = phones["tv"][0]
        wait_for(lambda: tv.ns.exec("curl", "-sS", "-m", "3", "-o", "/dev/null", headers["X-Pic-CA-URL"],
                                    check=False).returncode == 0, 20, what="the root over the second tunnel")
        rc, status, _ = curl("-u", f"{user}:{secret}", ns=tv.ns)
        self.assertIn(rc, (7, 28))  # refused or timed out: never an HTTP answer
        self.assertEqual(status, 0)

        # One open HTTPS connection, so each answer below is the next request on it. A change of picd's decisions
        # that Caddy holds (its in-process check) swaps Caddy's config, which closes idle connections: then the
        # request is opened again on a new one, as HTTP clients do, and that answer is the next request's.
        keep = phone.ns.popen(sys.executable, "-c", KEEP, ip, name, root, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (keep.kill(), keep.wait(10), keep.stdin.close(), keep.stdout.close()))

        def ask(password, reopen=True):
            for _ in range(2 if reopen else 1):
                keep.stdin.write((basic(user, password) if password else "-") + "\n")
                keep.stdin.flush()
                status, who, _ = keep.stdout.readline().split()
                if int(status) != 0:
                    break
            return int(status), who

        self.assertEqual(ask(secret), (200, user))
        self.wait_fast(user, 1)  # from now on Caddy checks this app password itself
        self.assertEqual(ask(None), (401, "-"))
        self.assertEqual(ask(secret), (200, user))
        # The app password revoked: the next request is 401; another one still works.
        self.assertEqual(self.picd.delete(f"/api/users/{user}/app-passwords/{app_id}").status, 200)
        self.assertEqual(self.fast_accounts(user), [])
        self.assertEqual(ask(secret), (401, "-"))
        r = self.picd.post(f"/api/users/{user}/app-passwords", {"label": "laptop"})
        self.assertEqual(r.status, 201, r)
        secret2 = r.json["password"]
        self.assertEqual(ask(secret2), (200, user))
        self.wait_fast(user, 1)
        self.assertEqual(ask(secret2), (200, user))
        # The grant removed: no answer at all, neither on the open connection nor on a new one; back with it.
        self.assertEqual(self.picd.put(f"/api/peers/{phone_name}", {"service_access": []}).status, 200)
        self.assertEqual(ask(secret2, reopen=False)[0], 0)
        self.assertIn(curl("-u", f"{user}:{secret2}")[0], (7, 28))
        self.assertEqual(self.picd.put(f"/api/peers/{phone_name}", {"service_access": ["calendar"]}).status, 200)
        self.assertEqual(ask(secret2), (200, user))
        # The user deleted (purge: their app password goes with them): 401 on the next request.
        self.assertEqual(self.picd.delete(f"/api/users/{user}?purge=true").status, 200)
        self.assertEqual(ask(secret2), (401, "-"))
        # The peer disabled: no answer on the open connection nor on a new one, whoever asks.
        other, other_secret, _ = self.account()
        self.assertEqual(curl("-u", f"{other}:{other_secret}")[:2], (0, 200))
        self.wait_fast(other, 1)
        self.assertEqual(self.picd.put(f"/api/peers/{phone_name}", {"enabled": False}).status, 200)
        self.assertEqual(ask(other_secret, reopen=False)[0], 0)
        self.assertIn(curl("-u", f"{other}:{other_secret}")[0], (7, 28))

    def test_08_caddy_checks_app_passwords_picd_accepted(self):
        """The hot path without a second request: after picd accepted an app password once, Caddy checks it
        in-process (picd stopped meanwhile proves it), for each of a user's app passwords; a forged X-Pic-User
        is dropped there too; a wrong password still ends at picd (401, counted); a revoke takes effect on the
        next request while the user's other app password keeps working; Caddy holds only hashes and never
        saves its config."""
        self.fetch_root()
        user, s1, id1 = self.account()
        r = self.picd.post(f"/api/users/{user}/app-passwords", {"label": "laptop"})
        self.assertEqual(r.status, 201, r)
        s2 = r.json["password"]

        def get(password, *extra):
            status, headers, body, r = self.curl("calendar.mycell.cell", "/dav/", "-u", f"{user}:{password}", *extra)
            return status, (json.loads(body)["user"] if status == 200 else None), headers

        self.assertEqual(get(s1)[:2], (200, user))
        self.wait_fast(user, 1)
        self.assertEqual(get(s2)[:2], (200, user))
        self.wait_fast(user, 2)  # one http_basic level each: http_basic keys its accounts by user name
        with open(os.path.join(self.picd.state_dir, "etc", "proxy", "caddy.json")) as f:
            conf = f.read()
        for secret in (s1, s2, s1.replace("-", "")):
            self.assertNotIn(secret, conf)
        caddy_home = os.path.join(self.picd.state_dir, "run", "caddy")
        saved = [os.path.join(d, f) for d, _, fs in os.walk(caddy_home) for f in fs if f.startswith("autosave")]
        self.assertEqual(saved, [])
        before = {a["id"]: a["last_used_at"] for a in
                  self.picd.get(f"/api/users/{user}/app-passwords").json["app_passwords"]}
        self.assertTrue(all(t > 0 for t in before.values()), before)
        os.kill(self.picd.proc.pid, signal.SIGSTOP)
        try:
            for secret in (s1, s2, s1):
                status, who, headers = get(secret, "-H", "X-Pic-User: mallory")
                self.assertEqual((status, who), (200, user))
                self.assertNotIn("www-authenticate", headers)
        finally:
            os.kill(self.picd.proc.pid, signal.SIGCONT)
        # A wrong one goes on to picd: its 401 and its challenge, once.
        status, who, headers = get("wrong-wrong-wrong")
        self.assertEqual(status, 401)
        self.assertEqual(headers.get("www-authenticate"), 'Basic realm="calendar.mycell.cell", charset="UTF-8"')
        # Revoke the first: out of Caddy before the DELETE returned; the second keeps working.
        self.assertEqual(self.picd.delete(f"/api/users/{user}/app-passwords/{id1}").status, 200)
        self.assertEqual(len(self.fast_accounts(user)), 1)
        self.assertEqual(get(s1)[0], 401)
        self.assertEqual(get(s2)[:2], (200, user))
        # The user deleted: the rest goes too.
        self.assertEqual(self.picd.delete(f"/api/users/{user}?purge=true").status, 200)
        self.assertEqual(self.fast_accounts(user), [])
        self.assertEqual(get(s2)[0], 401)

    def test_09_a_held_source_goes_back_to_picd(self):
        """The failed-login limit still holds: once a source made too many wrong attempts, Caddy no longer accepts
        even a right app password from it in-process, so picd answers it 429; other sources keep working."""
        self.fetch_root()
        user, secret, _ = self.account()
        ip2 = "10.0.0.210"
        other = self.make_client(ip2, "10.0.0.211")
        r = self.picd.post("/api/peers", {"name": unique("held"), "ip": ip2, "service_access": ["calendar"]})
        self.assertEqual(r.status, 201, r)

        def get(password, client):
            r = client.exec("curl", H1, "-sS", "-m", "15", "--cacert", self.root, "--resolve",
                            f"calendar.mycell.cell:443:{self.ips['calendar']}", "-o", "/dev/null", "-w", "%{http_code}",
                            "-u", f"{user}:{password}", "https://calendar.mycell.cell/", check=False, timeout=60)
            return int(r.stdout or 0)

        def held():
            with open(os.path.join(self.picd.state_dir, "etc", "proxy", "caddy.json")) as f:
                routes = json.load(f)["apps"]["http"]["servers"]["calendar-https"]["routes"]
            return routes[0].get("match", [{}])[0].get("not", [{}])[0].get("remote_ip", {}).get("ranges", [])

        self.assertEqual(get(secret, other), 200)
        self.wait_fast(user, 1)
        self.assertEqual(get(secret, other), 200)
        for _ in range(5):
            self.assertEqual(get("wrong-wrong-wrong", other), 401)
        wait_for(lambda: held() == [f"{ip2}/32"], timeout=10, what="the held source in caddy's config")
        self.assertEqual(get(secret, other), 429)
        self.assertEqual(get(secret, self.client), 200)

    def test_10_caddy_runs_as_its_own_user(self):
        """Caddy is Debian's caddy user with CAP_NET_BIND_SERVICE alone (it binds :443 and :80 on the virtual IPs
        itself), reads its config and the leaf keys through its group, and cannot read the CA's own key, list the
        key dirs or reach anything but the sockets it proxies to; HTTPS works end to end all the same."""
        self.fetch_root()
        status, _, _, r = self.curl("api.mycell.cell", "/health")
        self.assertEqual(status, 200, r.stderr)
        caddy = pwd.getpwnam("caddy")
        pid = self.service("proxy")["pid"]
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        self.assertEqual([int(x) for x in st["Uid"].split()], [caddy.pw_uid] * 4)
        self.assertEqual([int(x) for x in st["Gid"].split()], [caddy.pw_gid] * 4)
        # Its own group alone: not www-data, which Debian's package adds it to (Roundcube's secrets are that group's).
        self.assertEqual([int(x) for x in st["Groups"].split()], [caddy.pw_gid])
        bind = 1 << 10  # CAP_NET_BIND_SERVICE
        for key in ("CapEff", "CapPrm", "CapAmb", "CapInh", "CapBnd"):
            self.assertEqual(int(st[key], 16), bind, key)
        self.assertEqual(st["NoNewPrivs"], "1")

        state = self.picd.state_dir

        def as_caddy(*argv):
            return subprocess.run(["runuser", "-u", "caddy", "--", *argv], capture_output=True, text=True)

        def owner(path):
            st = os.lstat(path)
            return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

        root_key = os.path.join(state, "keys", "ca", "root.key")
        self.assertEqual(owner(root_key), (0, 0, 0o600))
        r = as_caddy("cat", root_key)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        # It passes the key dirs without listing them, and reads exactly its leaves.
        for d in ("keys", "keys/ca"):
            self.assertEqual(owner(os.path.join(state, d)), (0, caddy.pw_gid, 0o710), d)
            self.assertNotEqual(as_caddy("ls", os.path.join(state, d)).returncode, 0, d)
        leaves = os.path.join(state, "keys", "ca", "leaves")
        self.assertEqual(owner(leaves), (0, caddy.pw_gid, 0o2750))
        keys = [k for k in os.listdir(leaves) if k.endswith(".key")]
        self.assertTrue(keys)
        for k in keys:
            self.assertEqual(owner(os.path.join(leaves, k)), (0, caddy.pw_gid, 0o640), k)
        api_key = os.path.join(leaves, sorted(k for k in keys if k.startswith("api-"))[-1])
        self.assertEqual(as_caddy("head", "-c", "27", api_key).stdout, "-----BEGIN PRIVATE KEY-----")
        # Its config: readable, not writable; its own dir: its own (autosave, the admin socket).
        conf_dir = os.path.join(state, "etc", "proxy")
        self.assertEqual(owner(conf_dir), (0, caddy.pw_gid, 0o2750))
        self.assertEqual(owner(os.path.join(conf_dir, "caddy.json")), (0, caddy.pw_gid, 0o640))
        self.assertEqual(as_caddy("test", "-w", os.path.join(conf_dir, "caddy.json")).returncode, 1)
        home = os.path.join(state, "run", "caddy")
        self.assertEqual(owner(home), (caddy.pw_uid, caddy.pw_gid, 0o700))
        self.assertTrue(stat.S_ISSOCK(os.lstat(os.path.join(home, "admin.sock")).st_mode))
        self.assertEqual(os.lstat(os.path.join(home, "admin.sock")).st_uid, caddy.pw_uid)
        # The sockets it connects to: picd's, and the backends' in run/proxied, which nobody else passes.
        self.assertEqual(owner(os.path.join(state, "run", "auth.sock")), (0, caddy.pw_gid, 0o660))
        self.assertEqual(owner(os.path.join(state, "run", "proxied")), (0, caddy.pw_gid, 0o750))
        self.assertEqual(owner(os.path.join(state, "run", "picd.sock")), (0, 0, 0o600))
        connect = ["/usr/bin/python3", "-c", "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"]
        for path in (os.path.join(state, "run", "auth.sock"), os.path.join(state, "run", "proxied", "api-proxy.sock")):
            self.assertEqual(as_caddy(*connect, path).returncode, 0, path)
            r = subprocess.run(["runuser", "-u", "nobody", "--", *connect, path], capture_output=True, text=True)
            self.assertIn("PermissionError", r.stderr, path)
        r = as_caddy(*connect, os.path.join(state, "run", "picd.sock"))
        self.assertIn("PermissionError", r.stderr)
        # A config change still reaches it without a restart (POST /load on its admin socket, whose peer picd
        # checks first): an app password picd accepted joins Caddy's in-process check.
        user, secret, _ = self.account()
        ip = self.ips["calendar"]
        r = self.client.exec("curl", H1, "-sS", "-m", "15", "--cacert", self.root, "--resolve",
                             f"calendar.mycell.cell:443:{ip}", "-u", f"{user}:{secret}", "-o", "/dev/null",
                             "-w", "%{http_code}", "https://calendar.mycell.cell/", check=False, timeout=60)
        self.assertEqual(r.stdout, "200", r.stderr)
        self.wait_fast(user, 1)
        wait_for(lambda: user in run("curl", "-sS", "--unix-socket", os.path.join(home, "admin.sock"), "-H", "Host;",
                                     "http://caddy/config/").stdout, timeout=10, what="the new config loaded")
        self.assertEqual(self.service("proxy")["pid"], pid)


if __name__ == "__main__":
    pic.main()
