"""User accounts and app passwords as a person meets them: admins manage users, a user-role session sees and
changes only its own account, peers belong to users, deleting an owner is 409 unless purged (which takes the
peers off WireGuard too), the last admin stays; and picd's forward_auth answer on STATE/run/auth.sock,
asked over the unix socket with a real HTTP client: grant + app password → 200 and X-Pic-User, every revoke
effective on the very next request. Secrets never reach the audit log, the log or a world-readable file."""
import base64
import grp
import http.client
import json
import os
import socket
import sqlite3
import stat
import unittest

from pic import PIC, Picd, PicdTestCase, main, run, unique


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Cell:
    """Helpers over one picd: users, sessions, the forward_auth socket."""

    def __init__(self, picd):
        self.picd = picd
        self.sock = os.path.join(picd.state_dir, "run", "auth.sock")

    def user(self, name, role="user", password=None):
        password = password or f"{name}-password-123"
        r = self.picd.post("/api/users", {"name": name, "password": password, "role": role})
        assert r.status == 201, r
        return password

    def session(self, name, password):
        r = self.picd.post("/api/auth/login", {"username": name, "password": password}, auth=False,
                           headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status == 200, r
        return {"Cookie": r.headers["Set-Cookie"].split(";")[0], "X-CSRF-Token": r.json["csrf_token"]}

    def app_password(self, name, label="phone", headers=None):
        r = self.picd.post(f"/api/users/{name}/app-passwords", {"label": label},
                           auth=headers is None, headers=headers)
        assert r.status == 201, r
        return r.json["id"], r.json["password"]

    def authz(self, service, source, authorization=None, cookie=None, path="/auth", method="GET"):
        conn = UnixHTTPConnection(self.sock)
        h = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/", "X-Forwarded-Host": f"{service}.mycell.cell"}
        if service is not None:
            h["X-Pic-Service"] = service
        if source is not None:
            h["X-Forwarded-For"] = source
        if authorization:
            h["Authorization"] = authorization
        if cookie:
            h["Cookie"] = cookie
        try:
            conn.request(method, path, headers=h)
            r = conn.getresponse()
            r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()

    def peer(self, name, owner=None, access=()):
        body = {"name": name, "service_access": list(access)}
        if owner:
            body["owner"] = owner
        r = self.picd.post("/api/peers", body)
        assert r.status == 201, r
        return r.json["ip"]

    def wg_keys(self):
        ifname = self.picd.get("/api/wireguard/status").json["interface"]
        out = run("ip", "netns", "exec", self.picd.netns, "wg", "show", ifname, "peers").stdout
        return set(out.split())


class UsersTest(PicdTestCase):
    def setUp(self):
        self.cell = Cell(self.picd)

    def test_admin_is_a_user_and_validation_changes_nothing(self):
        users = self.picd.get("/api/users").json["users"]
        self.assertEqual([(u["name"], u["role"]) for u in users if u["name"] == "admin"], [("admin", "admin")])
        self.assertNotIn("pwhash", json.dumps(users))
        before = self.picd.get("/api/users").json
        for body, field in (({"name": "Bad Name", "password": "long-enough-1"}, "name"),
                            ({"name": "x" * 64, "password": "long-enough-1"}, "name"),
                            ({"name": "ok\n[x]", "password": "long-enough-1"}, "name"),
                            ({"name": "okname", "password": "short"}, "password"),
                            ({"name": "okname"}, "password"),
                            ({"name": "okname", "password": "long-enough-1", "role": "root"}, "role"),
                            ({"name": "okname", "password": "long-enough-1", "colour": "red"}, "colour")):
            with self.subTest(body=body):
                self.assertError(self.picd.post("/api/users", body), 400, field)
        self.assertError(self.picd.post("/api/users", {"name": "admin", "password": "long-enough-1"}), 409, "name")
        self.assertEqual(self.picd.get("/api/users").json, before)
        self.assertError(self.picd.get("/api/users/nobody"), 404)

    def test_user_session_sees_and_changes_only_itself(self):
        name = unique("bob")
        pw = self.cell.user(name)
        s = self.cell.session(name, pw)
        other = self.cell.session(name, pw)
        self.assertEqual(self.picd.get(f"/api/users/{name}", auth=False, headers=s).status, 200)
        self.assertEqual(self.picd.get("/api/auth/session", auth=False, headers=s).json["role"], "user")
        for method, path in (("GET", "/api/users"), ("GET", "/api/users/admin"), ("GET", "/api/peers"),
                             ("GET", "/api/config"), ("GET", "/api/users/admin/app-passwords")):
            with self.subTest(path=path):
                self.assertError(self.picd.request(method, path, auth=False, headers=s), 403)
        self.assertError(self.picd.post("/api/users/admin/app-passwords", {"label": "x"}, auth=False, headers=s), 403)
        self.assertError(self.picd.put("/api/users/admin", {"password": "stolen-password"}, auth=False, headers=s), 403)
        self.assertError(self.picd.delete(f"/api/users/{name}", auth=False, headers=s), 403)
        # own password: the current one is required, a role change is not theirs to make
        self.assertError(self.picd.put(f"/api/users/{name}", {"password": "new-password-99"}, auth=False, headers=s),
                         400, "current_password")
        self.assertError(self.picd.put(f"/api/users/{name}", {"password": "new-password-99", "current_password": "nope"},
                                       auth=False, headers=s), 403, "current_password")
        self.assertError(self.picd.put(f"/api/users/{name}", {"role": "admin"}, auth=False, headers=s), 403, "role")
        r = self.picd.put(f"/api/users/{name}", {"password": "new-password-99", "current_password": pw}, auth=False,
                          headers=s)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["sessions_ended"], 1)
        self.assertEqual(r.json["role"], "user")
        self.assertError(self.picd.get(f"/api/users/{name}", auth=False, headers=other), 401)
        self.assertEqual(self.picd.get(f"/api/users/{name}", auth=False, headers=s).status, 200)
        self.assertError(self.picd.post("/api/auth/login", {"username": name, "password": pw}, auth=False,
                                        headers={"X-Forwarded-For": "198.51.100.8"}), 401)
        self.cell.session(name, "new-password-99")
        # their own app passwords
        app_id, _ = self.cell.app_password(name, headers=s)
        listed = self.picd.get(f"/api/users/{name}/app-passwords", auth=False, headers=s).json["app_passwords"]
        self.assertEqual([a["id"] for a in listed], [app_id])
        self.assertEqual(self.picd.delete(f"/api/users/{name}/app-passwords/{app_id}", auth=False, headers=s).status, 200)
        self.assertEqual(self.picd.delete(f"/api/users/{name}?purge=true").status, 200)

    def test_last_admin_stays(self):
        self.assertError(self.picd.delete("/api/users/admin"), 409, "name")
        self.assertError(self.picd.put("/api/users/admin", {"role": "user"}), 409, "role")
        second = unique("carol")
        self.cell.user(second, role="admin")
        self.assertEqual(self.picd.put(f"/api/users/{second}", {"role": "user"}).status, 200)
        self.assertError(self.picd.delete("/api/users/admin"), 409)
        self.assertEqual(self.picd.put(f"/api/users/{second}", {"role": "admin"}).status, 200)
        # with two admins one may go
        self.assertEqual(self.picd.delete(f"/api/users/{second}").status, 200)
        self.assertError(self.picd.delete("/api/users/admin"), 409)
        self.assertEqual(self.picd.get("/api/users/admin").json["role"], "admin")

    def test_owner_filter_and_purge(self):
        alice = unique("alice")
        self.cell.user(alice)
        self.assertError(self.picd.post("/api/peers", {"name": unique("p"), "owner": "nobody-here"}), 400, "owner")
        self.assertError(self.picd.post("/api/peers", {"name": unique("p"), "owner": "Bad Name"}), 400, "owner")
        phone, laptop, other = unique("phone"), unique("laptop"), unique("other")
        keys_before = self.cell.wg_keys()
        self.cell.peer(phone, owner=alice)
        self.cell.peer(other)
        self.cell.peer(laptop)
        r = self.picd.put(f"/api/peers/{laptop}", {"owner": alice})
        self.assertEqual((r.status, r.json["owner"]), (200, alice), r)
        self.assertIsNone(self.picd.get(f"/api/peers/{other}").json["owner"])
        listed = self.picd.get(f"/api/peers?owner={alice}").json["peers"]
        self.assertEqual(sorted(p["name"] for p in listed), sorted([phone, laptop]))
        self.assertEqual(sorted(self.picd.get(f"/api/users/{alice}").json["peers"]), sorted([phone, laptop]))
        _, secret = self.cell.app_password(alice)
        r = self.picd.delete(f"/api/users/{alice}")
        self.assertError(r, 409)
        msg = r.json["error"]["message"]
        self.assertIn(phone, msg)
        self.assertIn(laptop, msg)
        self.assertIn("1 app password", msg)
        self.assertEqual(self.picd.get(f"/api/users/{alice}").status, 200)
        self.assertEqual(len(self.cell.wg_keys()), len(keys_before) + 3)
        self.assertError(self.picd.delete(f"/api/users/{alice}?purge=maybe"), 400, "purge")
        r = self.picd.delete(f"/api/users/{alice}?purge=true")
        self.assertEqual((r.status, r.json["peers_deleted"]), (200, 2), r)
        self.assertError(self.picd.get(f"/api/peers/{phone}"), 404)
        self.assertError(self.picd.get(f"/api/users/{alice}"), 404)
        self.assertEqual(self.picd.get(f"/api/peers/{other}").status, 200)
        self.assertEqual(len(self.cell.wg_keys()), len(keys_before) + 1)  # off WireGuard too
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", basic(alice, secret))[0], 401)
        self.picd.delete(f"/api/peers/{other}")

    def test_secrets_stay_out_of_audit_log_and_readable_files(self):
        name = unique("dora")
        pw = self.cell.user(name)
        _, secret = self.cell.app_password(name)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", basic(name, secret))[0], 200)
        audit = self.picd.get("/api/audit?limit=200").body
        self.assertIn(f"app password", audit)
        for s in (pw, secret, secret.replace("-", "")):
            self.assertNotIn(s, audit)
            self.assertNotIn(s, self.picd.logs())
        for root, _, files in os.walk(self.picd.state_dir):
            for f in files:
                path = os.path.join(root, f)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o004:
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
                self.assertNotIn(secret.encode(), data, path)
                self.assertNotIn(pw.encode(), data, path)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.picd.state_dir, "picd.db")).st_mode), 0o600)
        # auth.sock: root and Caddy's group (Caddy runs as its own user), no one else.
        st = os.stat(self.cell.sock)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (0, grp.getgrnam("caddy").gr_gid, 0o660))
        self.picd.delete(f"/api/users/{name}?purge=true")


class ForwardAuthTest(PicdTestCase):
    """auth.sock answers Caddy's forward_auth from memory; each revoke counts on the very next request."""

    def setUp(self):
        self.cell = Cell(self.picd)

    def test_only_get_auth_is_served(self):
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", path="/api/peers")[0], 404)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", path="/health")[0], 404)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", path="/api/users")[0], 404)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", method="POST")[0], 405)
        # no admin rights either: a bearer token is not a credential here
        status, _ = self.cell.authz("calendar", "127.0.0.1", authorization=f"Bearer {self.picd.token}")
        self.assertEqual(status, 401)

    def test_grant_password_and_every_revoke(self):
        erin = unique("erin")
        self.cell.user(erin)
        ip = self.cell.peer(unique("erin-phone"), owner=erin, access=["calendar"])
        no_grant_ip = self.cell.peer(unique("erin-tab"), owner=erin, access=["files"])
        app_id, secret = self.cell.app_password(erin)
        status, h = self.cell.authz("calendar", ip, basic(erin, secret))
        self.assertEqual((status, h.get("x-pic-user")), (200, erin))
        # typed by hand: without dashes, in capitals
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret.replace("-", "").upper()))[0], 200)
        # the source must hold the grant; an unknown source or service is refused before credentials count
        self.assertEqual(self.cell.authz("calendar", no_grant_ip, basic(erin, secret))[0], 403)
        self.assertEqual(self.cell.authz("files", no_grant_ip, basic(erin, secret))[0], 200)
        self.assertEqual(self.cell.authz("calendar", "10.0.0.250", basic(erin, secret))[0], 403)
        self.assertEqual(self.cell.authz("calendar", "192.0.2.1", basic(erin, secret))[0], 403)
        self.assertEqual(self.cell.authz("no-such-service", ip, basic(erin, secret))[0], 403)
        self.assertEqual(self.cell.authz(None, ip, basic(erin, secret))[0], 403)
        self.assertEqual(self.cell.authz("calendar", None, basic(erin, secret))[0], 403)
        # credentials
        status, h = self.cell.authz("calendar", ip)
        self.assertEqual(status, 401)
        self.assertEqual(h.get("www-authenticate"), 'Basic realm="calendar.mycell.cell", charset="UTF-8"')
        self.assertNotIn("x-pic-user", h)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret[:-1] + "a"))[0], 401)
        self.assertEqual(self.cell.authz("calendar", ip, basic("admin", secret))[0], 401)  # someone else's name
        self.assertEqual(self.cell.authz("calendar", ip, "Basic !!!notbase64")[0], 401)
        # last used is shown, never the secret
        listed = self.picd.get(f"/api/users/{erin}/app-passwords").json["app_passwords"]
        self.assertGreater(listed[0]["last_used_at"], 0)
        self.assertNotIn(secret, json.dumps(listed))
        # a web session of the user counts as well
        sess = self.cell.session(erin, f"{erin}-password-123")
        status, h = self.cell.authz("calendar", ip, cookie=sess["Cookie"])
        self.assertEqual((status, h.get("x-pic-user")), (200, erin))

        # each revoke, on the very next request
        name = self.picd.get(f"/api/users/{erin}").json["peers"]
        phone = [n for n in name if "phone" in n][0]
        self.assertEqual(self.picd.put(f"/api/peers/{phone}", {"service_access": []}).status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret))[0], 403)
        self.assertEqual(self.picd.put(f"/api/peers/{phone}", {"service_access": ["calendar"]}).status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret))[0], 200)
        self.assertEqual(self.picd.put(f"/api/peers/{phone}", {"enabled": False}).status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret))[0], 403)
        self.assertEqual(self.picd.put(f"/api/peers/{phone}", {"enabled": True}).status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret))[0], 200)
        self.assertEqual(self.picd.delete(f"/api/users/{erin}/app-passwords/{app_id}").status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret))[0], 401)
        _, secret2 = self.cell.app_password(erin, "laptop")
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret2))[0], 200)
        self.assertEqual(self.picd.post("/api/auth/logout", auth=False, headers=sess).status, 200)
        self.assertEqual(self.cell.authz("calendar", ip, cookie=sess["Cookie"])[0], 401)
        self.assertEqual(self.picd.delete(f"/api/users/{erin}?purge=true").status, 200)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", basic(erin, secret2))[0], 401)
        self.assertEqual(self.cell.authz("calendar", ip, basic(erin, secret2))[0], 403)  # its peer went too

    def test_local_sources(self):
        fay = unique("fay")
        self.cell.user(fay)
        _, secret = self.cell.app_password(fay)
        service_ip = self.picd.get("/api/config").json["service_ips"]["calendar"]
        for source in ("127.0.0.1", "::1", service_ip):
            with self.subTest(source=source):
                self.assertEqual(self.cell.authz("calendar", source, basic(fay, secret))[0], 200)
                self.assertEqual(self.cell.authz("calendar", source)[0], 401)
        self.picd.delete(f"/api/users/{fay}?purge=true")

    def test_failed_basic_attempts_are_rate_limited_per_source(self):
        gus = unique("gus")
        self.cell.user(gus)
        # a local source of its own: the buckets outlive the test, and peer addresses are reused
        ip = "127.0.0.9"
        _, secret = self.cell.app_password(gus)
        for _ in range(5):
            self.assertEqual(self.cell.authz("calendar", ip, basic(gus, "wrong-wrong"))[0], 401)
        status, h = self.cell.authz("calendar", ip, basic(gus, secret))
        self.assertEqual(status, 429)
        self.assertIn("retry-after", h)
        self.assertEqual(self.cell.authz("calendar", "127.0.0.1", basic(gus, secret))[0], 200)  # others are not held
        self.picd.delete(f"/api/users/{gus}?purge=true")


class UserCliTest(PicdTestCase):
    """pic user ...: passwords come from stdin (or a terminal), never from argv."""

    def pic(self, *args, stdin=None):
        return run(PIC, "--socket", os.path.join(self.picd.state_dir, "run", "picd.sock"), *args, input=stdin,
                   check=False)

    def test_user_lifecycle_through_the_cli(self):
        name = unique("hal")
        r = self.pic("user", "add", name, "--role", "user", stdin="hal-password-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Created user {name} with role user", r.stdout)
        self.assertEqual(self.picd.post("/api/auth/login", {"username": name, "password": "hal-password-1"},
                                        auth=False, headers={"X-Forwarded-For": "198.51.100.20"}).status, 200)
        r = self.pic("user", "add", unique("x"), stdin="")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("stdin", r.stderr)
        r = self.pic("user", "add", unique("x"), stdin="short\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("password", r.stderr)
        self.assertIn(name, self.pic("user", "list").stdout)
        r = self.pic("user", "passwd", name, stdin="hal-password-2\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.picd.post("/api/auth/login", {"username": name, "password": "hal-password-2"},
                                        auth=False, headers={"X-Forwarded-For": "198.51.100.21"}).status, 200)
        r = self.pic("user", "app-password", "add", name, "phone")
        self.assertEqual(r.returncode, 0, r.stderr)
        secret = r.stdout.strip()
        self.assertRegex(secret, r"^[a-z2-7]{5}(-[a-z2-7]{5}){7}$")
        self.assertIn("not shown again", r.stderr)
        self.assertEqual(Cell(self.picd).authz("calendar", "127.0.0.1", basic(name, secret))[0], 200)
        listed = self.pic("user", "app-password", "list", name).stdout
        self.assertIn("phone", listed)
        self.assertNotIn(secret, listed)
        self.pic("peer", "add", unique("hal-phone"))
        peer = unique("hal-tab")
        r = self.pic("peer", "add", peer, "--owner", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"owner:        {name}", self.pic("peer", "show", peer).stdout)
        show = self.pic("user", "show", name).stdout
        self.assertIn(peer, show)
        self.assertEqual(self.pic("peer", "set", peer, "--owner", "").returncode, 0)
        self.assertIsNone(self.picd.get(f"/api/peers/{peer}").json["owner"])
        self.assertEqual(self.pic("peer", "set", peer, "--owner", "nobody-at-all").returncode, 1)
        self.assertEqual(self.pic("peer", "set", peer, "--owner", name).returncode, 0)
        app_id = self.picd.get(f"/api/users/{name}/app-passwords").json["app_passwords"][0]["id"]
        r = self.pic("user", "rm", name)
        self.assertEqual(r.returncode, 1)
        self.assertIn(peer, r.stderr)
        self.assertEqual(self.pic("user", "app-password", "rm", name, str(app_id)).returncode, 0)
        self.assertEqual(Cell(self.picd).authz("calendar", "127.0.0.1", basic(name, secret))[0], 401)
        self.assertEqual(self.pic("user", "app-password", "rm", name, "x").returncode, 2)
        r = self.pic("user", "rm", name, "--purge")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 peer", r.stdout)
        self.assertError(self.picd.get(f"/api/peers/{peer}"), 404)
        self.assertNotIn("hal-password", json.dumps(self.picd.get("/api/audit").json))


# The peers table as schema 2 made it (before owners): what an install from before user accounts has.
PEERS_V2 = ("CREATE TABLE peers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, ip INTEGER NOT NULL UNIQUE,"
            " public_key TEXT NOT NULL UNIQUE, private_key TEXT, preshared_key TEXT, access INTEGER NOT NULL DEFAULT 0,"
            " enabled INTEGER NOT NULL DEFAULT 1, route_all INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL"
            " DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)")


class MigrationTest(unittest.TestCase):
    def test_existing_admin_keeps_password_and_sessions(self):
        p = Picd()
        try:
            p.start()
            password = p.admin_password()
            cookie, csrf = p.login()
            token = p.make_token("admin")
            self.assertEqual(p.stop(), 0)
            # Back to schema 2 as an older picd left it: no roles, no owners, no app passwords (nor what later
            # schemas added: storage quotas and shares).
            db = sqlite3.connect(os.path.join(p.state_dir, "picd.db"))
            db.executescript("DROP TABLE mail_aliases; DROP TABLE mesh_grants; DROP TABLE mesh_cells; DROP TABLE mesh_invites;"
                             "DROP TABLE file_shares; DROP TABLE storage_quotas;"
                             "DROP TABLE app_passwords; DROP TABLE cell_keys; DROP TABLE peers;" + PEERS_V2 + ";"
                             "ALTER TABLE users DROP COLUMN role; PRAGMA user_version = 2;")
            db.close()
            p.start()
            r = p.get("/api/auth/session", auth=False, headers={"Cookie": cookie})
            self.assertEqual((r.status, r.json.get("role")), (200, "admin"), r)
            self.assertEqual(p.get("/api/users", auth=False, headers={"Cookie": cookie}).status, 200)
            self.assertEqual(p.get("/api/users", token=token).json["users"][0]["role"], "admin")
            r = p.post("/api/users", {"name": "after", "password": "after-password"}, auth=False,
                       headers={"Cookie": cookie, "X-CSRF-Token": csrf})
            self.assertEqual(r.status, 201, r)
            p.login("admin", password)
            # app passwords work on the migrated store, and their last use is written by the time picd stops
            cell = Cell(p)
            p.token = token
            _, secret = cell.app_password("after")
            self.assertEqual(cell.authz("calendar", "127.0.0.1", basic("after", secret))[0], 200)
            self.assertEqual(p.stop(), 0)
            db = sqlite3.connect(os.path.join(p.state_dir, "picd.db"))
            used = db.execute("SELECT last_used_at FROM app_passwords").fetchall()
            version = db.execute("PRAGMA user_version").fetchone()[0]
            db.close()
            self.assertEqual(version, 6)  # every migration since ran: 3 (accounts), 4 (storage quotas, shares), 5 (mesh), 6 (mail aliases)
            self.assertEqual(len(used), 1)
            self.assertGreater(used[0][0], 0)
        except Exception:
            print(p.logs())
            raise
        finally:
            p.cleanup()


if __name__ == "__main__":
    main()
