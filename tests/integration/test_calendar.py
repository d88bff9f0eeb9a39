"""Calendars and contacts through the front door: real picd, Radicale, Caddy and a phone with its own wireguard-go,
the cell CA its only trust and the cell's DNS its resolver. python3-caldav discovers and uses a calendar; curl does
CardDAV; one user never reaches another's collections whatever the headers; default collections, the 409 and
?purge=true, kill -9 and a hung Radicale (SIGSTOP) as the API reports them; Radicale runs as its own user, which
owns its storage (an old cell's root-owned tree is handed over without following the links in it); only root and
Caddy's user may connect to Radicale's port."""
import hashlib
import json
import os
import pwd
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pic  # noqa: E402
from pic import PicdTestCase, run, unique, wait_for  # noqa: E402
from test_vpn import Client  # noqa: E402  (a VPN client with its own wireguard-go)

NAME = "calendar.mycell.cell"
URL = f"https://{NAME}"

# A plain HTTP request straight to Radicale on the cell namespace's loopback, naming the user in the header the
# front door sets; prints the status code (or fails with the connection's error).
RAW_ASK = r"""
import socket, sys
port, path, user = sys.argv[1:4]
with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\nX-Remote-User: {user}\r\n\r\n".encode())
    print(s.recv(200).split()[1].decode())
"""

# Runs inside the phone's namespace with Debian's python3-caldav: discovery from /.well-known/caldav, a new
# calendar, an event saved, found by a time-range search (and not by another range), deleted.
CALDAV = r"""
import caldav, datetime, json, sys
url, user, password, cafile = sys.argv[1:5]
utc = datetime.timezone.utc
client = caldav.DAVClient(url=url + "/.well-known/caldav", username=user, password=password, ssl_verify_cert=cafile)
principal = client.principal()
out = {"principal": str(principal.url), "before": sorted(str(c.url) for c in principal.calendars())}
cal = principal.make_calendar(name="Work", cal_id="work")
cal.save_event("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pic test//EN\r\nBEGIN:VEVENT\r\nUID:pic-dentist\r\n"
               "DTSTAMP:20260101T000000Z\r\nDTSTART:20260315T100000Z\r\nDTEND:20260315T110000Z\r\n"
               "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
day = lambda d: (datetime.datetime(2026, 3, d, tzinfo=utc), datetime.datetime(2026, 3, d + 1, tzinfo=utc))
found = cal.date_search(*day(15), expand=False)
out["found"] = ["SUMMARY:Dentist" in e.data for e in found]
out["other_day"] = len(cal.date_search(*day(20), expand=False))
out["after_save"] = sorted(str(c.url) for c in principal.calendars())
found[0].delete()
out["after_delete"] = len(cal.date_search(*day(15), expand=False))
# One event stays, for the 409 and the restart below.
cal.save_event("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pic test//EN\r\nBEGIN:VEVENT\r\nUID:pic-kept\r\n"
               "DTSTAMP:20260101T000000Z\r\nDTSTART:20260401T100000Z\r\nDTEND:20260401T110000Z\r\n"
               "SUMMARY:Kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
print(json.dumps(out))
"""

VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\nN:{fn};;;;\r\nEMAIL:{uid}@example.org\r\n"
         "END:VCARD\r\n")

REPORT = ('<?xml version="1.0" encoding="utf-8"?><CR:addressbook-query xmlns:D="DAV:" '
          'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/></D:prop>'
          '</CR:addressbook-query>')


class CalendarTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clients, cls.resolv_dirs = [], []
        try:
            cfg = cls.picd.get("/api/config").json
            cls.ips = cfg["service_ips"]
            wait_for(lambda: cls.service("calendar")["healthy"], timeout=30, what="radicale answering")
            cls.phone = cls.tunnel(["calendar"], 0)
            cls.tv = cls.tunnel([], 1)
            cls.root = os.path.join(cls.phone.tmp, "root.pem")
            wait_for(lambda: cls.phone.ns.exec("curl", "-sS", "-m", "3", "-o", cls.root, cls.ca_url,
                                               check=False).returncode == 0, 20, what="the root over the tunnel")
            cls.users = {}
            for who in ("alice", "bob"):
                cls.users[who] = cls.account(unique(who))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tunnel(cls, grants, index):
        """A peer with these grants and a client namespace on the other end of its tunnel, resolving through the
        cell's DNS (ip netns exec mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf)."""
        # The client's link first: the cell's address on it is the endpoint its config names.
        c = Client(cls.picd.netns, index)
        cls.clients.append(c)
        name = unique("ph")[:20]
        peer = cls.picd.post("/api/peers", {"name": name, "service_access": grants})
        assert peer.status == 201, peer
        conf = cls.picd.get(f"/api/peers/{name}/config")
        assert conf.status == 200, conf
        cls.ca_url = conf.headers["X-Pic-CA-URL"]
        c.configure(conf.body, peer.json["ip"], ["10.0.0.0/24", cls.picd.get("/api/config").json["ip_range"]],
                    own_endpoint=True)
        etc = f"/etc/netns/{c.ns.name}"
        os.makedirs(etc, exist_ok=True)
        cls.resolv_dirs.append(etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(f"nameserver {cls.ips['dns']}\n")
        return c

    @classmethod
    def tearDownClass(cls):
        try:
            for c in getattr(cls, "clients", []):
                c.close()
            for d in getattr(cls, "resolv_dirs", []):
                shutil.rmtree(d, ignore_errors=True)
        finally:
            super().tearDownClass()

    @classmethod
    def service(cls, name):
        return next(s for s in cls.picd.get("/api/services").json["services"] if s["name"] == name)

    @classmethod
    def account(cls, user):
        r = cls.picd.post("/api/users", {"name": user, "password": f"{user}-password-123", "role": "user"})
        assert r.status == 201, r
        r = cls.picd.post(f"/api/users/{user}/app-passwords", {"label": "phone"})
        assert r.status == 201, r
        return user, r.json["password"], r.json["id"]

    def dav(self, method, path, creds=None, body=None, headers=(), client=None, resolve=False):
        """One request from a client namespace through the tunnel: (curl rc, status, headers, body). The name
        comes from the cell's DNS, or with resolve=True straight from the calendar's virtual IP."""
        client = client or self.phone
        argv = ["curl", "-sS", "-m", "10", "--cacert", self.root, "-D", "-", "-X", method]
        if resolve:
            argv += ["--resolve", f"{NAME}:443:{self.ips['calendar']}"]
        if creds:
            argv += ["-u", f"{creds[0]}:{creds[1]}"]
        for h in headers:
            argv += ["-H", h]
        if body is not None:
            argv += ["--data-binary", body]
        r = client.ns.exec(*argv, f"{URL}{path}", check=False, timeout=40)
        head, _, rest = r.stdout.replace("\r\n", "\n").partition("\n\n")
        status = int(head.split()[1]) if head.startswith("HTTP/") else 0
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in head.splitlines()[1:] if ":" in l}
        return r.returncode, status, hdrs, rest

    def user_dir(self, user):
        return os.path.join(self.picd.state_dir, "data", "calendar", "collection-root", user)

    def tree_digest(self, user):
        h = hashlib.sha256()
        for dirpath, dirnames, files in sorted(os.walk(self.user_dir(user))):
            dirnames[:] = sorted(d for d in dirnames if d != ".Radicale.cache")
            for f in sorted(files):
                if f == ".Radicale.cache":
                    continue
                p = os.path.join(dirpath, f)
                h.update(p.encode())
                with open(p, "rb") as fh:
                    h.update(fh.read())
        return h.hexdigest()

    def put_vcard(self, creds, uid, fn):
        return self.dav("PUT", f"/{creds[0]}/contacts/{uid}.vcf", creds, VCARD.format(uid=uid, fn=fn),
                        ["Content-Type: text/vcard; charset=utf-8"])

    def test_01_caldav_client_discovers_and_uses_a_calendar(self):
        alice = self.users["alice"]
        r = self.phone.ns.exec("/usr/bin/python3", "-c", CALDAV, URL, alice[0], alice[1], self.root, check=False,
                               timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["principal"], f"{URL}/{alice[0]}/")
        # The default calendar was there before the client made one.
        self.assertEqual(out["before"], [f"{URL}/{alice[0]}/calendar/"])
        self.assertEqual(out["after_save"], [f"{URL}/{alice[0]}/calendar/", f"{URL}/{alice[0]}/work/"])
        self.assertEqual(out["found"], [True])
        self.assertEqual(out["other_day"], 0)
        self.assertEqual(out["after_delete"], 0)
        # Stored where backups carry it.
        self.assertEqual([f for f in os.listdir(os.path.join(self.user_dir(alice[0]), "work")) if f[0] != "."],
                         ["pic-kept.ics"])

    def test_02_carddav_put_and_report(self):
        alice = self.users["alice"]
        rc, status, hdrs, _ = self.dav("PROPFIND", "/.well-known/carddav", alice, headers=["Depth: 0"])
        self.assertEqual((rc, status, hdrs.get("location")), (0, 301, "/"))
        rc, status, _, _ = self.put_vcard(alice, "ann", "Ann Example")
        self.assertEqual((rc, status), (0, 201))
        rc, status, _, body = self.dav("REPORT", f"/{alice[0]}/contacts/", alice, REPORT,
                                       ["Depth: 1", "Content-Type: application/xml; charset=utf-8"])
        self.assertEqual((rc, status), (0, 207), body)
        self.assertIn(f"/{alice[0]}/contacts/ann.vcf", body)
        self.assertIn("FN:Ann Example", body)
        rc, status, _, body = self.dav("GET", f"/{alice[0]}/contacts/ann.vcf", alice)
        self.assertEqual(status, 200)
        self.assertIn("UID:ann", body)

    def test_03_one_user_never_reaches_another(self):
        alice, bob = self.users["alice"], self.users["bob"]
        self.assertEqual(self.put_vcard(bob, "bobs-friend", "Bob's Friend")[1], 201)
        before = self.tree_digest(bob[0])
        b = bob[0]
        forged = ("X-Remote-User: " + b, "X_Remote_User: " + b, "X-Remote_User: " + b, "X-Pic-User: " + b,
                  "X-Script-Name: /" + b)
        attempts = [
            ("GET", f"/{b}/contacts/bobs-friend.vcf", None, []),
            ("PROPFIND", f"/{b}/", None, ["Depth: 1"]),
            ("PROPFIND", f"/{b}/contacts/", None, ["Depth: 1"]),
            ("REPORT", f"/{b}/contacts/", REPORT, ["Depth: 1"]),
            ("PUT", f"/{b}/contacts/evil.vcf", VCARD.format(uid="evil", fn="Evil"), ["Content-Type: text/vcard"]),
            ("DELETE", f"/{b}/contacts/bobs-friend.vcf", None, []),
            ("DELETE", f"/{b}/", None, []),
            ("MKCOL", f"/{b}/new/", None, []),
            ("PROPPATCH", f"/{b}/contacts/", '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
             '<D:displayname>pwned</D:displayname></D:prop></D:set></D:propertyupdate>', []),
            ("GET", f"/{b}/contacts/bobs-friend.vcf", None, [forged[0]]),
            ("GET", f"/{b}/contacts/bobs-friend.vcf", None, [forged[1]]),
            ("GET", f"/{b}/contacts/bobs-friend.vcf", None, [forged[2]]),
            ("PROPFIND", f"/{b}/", None, ["Depth: 1", *forged]),
            ("GET", f"/{alice[0]}/../{b}/contacts/bobs-friend.vcf", None, []),
            ("GET", f"/{alice[0]}/%2e%2e/{b}/contacts/bobs-friend.vcf", None, []),
        ]
        for method, path, body, headers in attempts:
            with self.subTest(method=method, path=path, headers=headers):
                rc, status, _, text = self.dav(method, path, alice, body, headers)
                self.assertEqual(rc, 0)
                self.assertIn(status, (401, 403, 404), text)
                self.assertNotIn("Bob's Friend", text)
        # alice's own item moved or copied into bob's book: refused too.
        self.assertEqual(self.put_vcard(alice, "mine", "Mine")[1], 201)
        for method in ("MOVE", "COPY"):
            with self.subTest(method=method):
                rc, status, _, _ = self.dav(method, f"/{alice[0]}/contacts/mine.vcf", alice,
                                            headers=[f"Destination: {URL}/{b}/contacts/mine.vcf"])
                # Radicale has no COPY at all (405), the same refusal for every target.
                self.assertIn(status, (401, 403, 405) if method == "COPY" else (401, 403))
        # The forged names never reach Radicale: with all of them alice is still exactly alice (a WSGI server
        # would join X_Remote_User to the real header as "alice,bob", a principal that is not hers).
        rc, status, _, text = self.dav("PROPFIND", f"/{alice[0]}/", alice, None, ["Depth: 0", *forged])
        self.assertEqual(status, 207, text)
        self.assertIn(f"<current-user-principal><href>/{alice[0]}/</href>", text)
        # Without credentials the forged headers get nobody in.
        rc, status, _, _ = self.dav("PROPFIND", f"/{b}/", None, None, ["Depth: 1", *forged])
        self.assertEqual(status, 401)
        self.assertEqual(self.tree_digest(b), before)
        self.assertFalse(os.path.exists(os.path.join(self.user_dir(b), "new")))
        # And bob himself still reads his contact.
        rc, status, _, text = self.dav("GET", f"/{b}/contacts/bobs-friend.vcf", bob)
        self.assertEqual(status, 200)
        self.assertIn("FN:Bob's Friend", text)

    def test_04_no_grant_no_connection_and_revoked_app_password(self):
        alice = self.users["alice"]
        # A peer without the grant: the cell's DNS does not even name the calendar for it (curl: 6), and its
        # virtual IP refuses or drops the connection (7, 28): never an HTTP answer.
        rc, status, _, _ = self.dav("PROPFIND", f"/{alice[0]}/", alice, headers=["Depth: 0"], client=self.tv)
        self.assertEqual((rc, status), (6, 0))
        rc, status, _, _ = self.dav("PROPFIND", f"/{alice[0]}/", alice, headers=["Depth: 0"], client=self.tv,
                                    resolve=True)
        self.assertIn(rc, (7, 28))
        self.assertEqual(status, 0)
        self.assertEqual(self.dav("PROPFIND", f"/{alice[0]}/", alice, headers=["Depth: 0"], resolve=True)[1], 207)
        user, secret, app_id = self.account(unique("carl"))
        self.assertEqual(self.dav("PROPFIND", f"/{user}/", (user, secret), headers=["Depth: 0"])[1], 207)
        self.assertEqual(self.picd.delete(f"/api/users/{user}/app-passwords/{app_id}").status, 200)
        self.assertEqual(self.dav("PROPFIND", f"/{user}/", (user, secret), headers=["Depth: 0"])[1], 401)

    def test_05_new_user_has_a_calendar_and_an_address_book(self):
        user, secret, app_id = self.account(unique("dana"))
        rc, status, _, body = self.dav("PROPFIND", f"/{user}/", (user, secret), headers=["Depth: 1"])
        self.assertEqual(status, 207, body)
        self.assertRegex(body, rf"<href>/{user}/calendar/</href>.*?<C:calendar\s*/>")
        self.assertRegex(body, rf"<href>/{user}/contacts/</href>.*?<CR:addressbook\s*/>")
        # Empty defaults are no data: the user is not held back by them, and none of it stays behind.
        self.assertEqual(self.picd.get(f"/api/users/{user}").json["data"], [])
        self.assertEqual(self.picd.delete(f"/api/users/{user}/app-passwords/{app_id}").status, 200)
        self.assertEqual(self.picd.delete(f"/api/users/{user}").status, 200)
        self.assertFalse(os.path.exists(self.user_dir(user)))

    def test_06_status_lists_usage(self):
        alice = self.users["alice"]
        self.assertEqual(self.put_vcard(alice, "status-probe", "Status Probe")[1], 201)
        st = self.picd.get("/api/services/calendar/status")
        self.assertEqual(st.status, 200, st)
        mine = next(u for u in st.json["users"] if u["user"] == alice[0])
        self.assertGreaterEqual(mine["address_books"], 1)
        self.assertGreaterEqual(mine["items"], 1)
        self.assertGreater(mine["bytes"], 0)
        self.assertEqual(st.json["collections"], st.json["calendars"] + st.json["address_books"])
        self.assertGreaterEqual(st.json["storage_bytes"], sum(u["bytes"] for u in st.json["users"]))
        self.assertEqual(st.json["listen"], "127.0.0.1:5232")

    def test_07_kill9_restarts_with_the_data(self):
        bob = self.users["bob"]
        self.assertEqual(self.put_vcard(bob, "survivor", "Survivor")[1], 201)
        before = self.service("calendar")
        os.kill(before["pid"], signal.SIGKILL)
        wait_for(lambda: (s := self.service("calendar"))["state"] == "running" and s["pid"] != before["pid"],
                 timeout=30, what="radicale restarted")
        self.assertGreater(self.service("calendar")["restarts"], before["restarts"])
        got = wait_for(lambda: (r := self.dav("GET", f"/{bob[0]}/contacts/survivor.vcf", bob))[1] == 200 and r,
                       timeout=30, what="the contact served again")
        self.assertIn("FN:Survivor", got[3])
        self.assertTrue(self.service("calendar")["healthy"])

    def test_08_a_hung_radicale_is_unhealthy(self):
        pid = self.service("calendar")["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            s = wait_for(lambda: (s := self.service("calendar")) and not s["healthy"] and s, timeout=30,
                         what="the probe noticing")
            self.assertIn("did not answer", s["problem"])
            self.assertEqual(s["state"], "running")  # the process is there: only a real request tells
            self.assertIn("calendar", self.picd.get("/health").json["failing"])
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: self.service("calendar")["healthy"], timeout=30, what="healthy again")

    def test_09_delete_needs_purge_then_removes_everything(self):
        alice = self.users["alice"]
        self.assertTrue(os.path.isdir(self.user_dir(alice[0])))
        r = self.picd.delete(f"/api/users/{alice[0]}")
        self.assertError(r, 409)
        self.assertIn("2 calendars, 1 address book with", r.json["error"]["message"])
        self.assertIn("calendars, 1 address book with", " ".join(self.picd.get(f"/api/users/{alice[0]}").json["data"]))
        self.assertTrue(os.path.isdir(self.user_dir(alice[0])))
        r = self.picd.delete(f"/api/users/{alice[0]}?purge=true")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(os.path.exists(self.user_dir(alice[0])))
        self.assertEqual([f for f in os.listdir(os.path.dirname(self.user_dir(alice[0]))) if f.startswith(".")], [])
        # bob's data is untouched.
        self.assertEqual(self.dav("GET", f"/{self.users['bob'][0]}/contacts/bobs-friend.vcf", self.users["bob"])[1],
                         200)

    def test_10_radicale_runs_as_its_own_user_and_owns_its_storage(self):
        rad = pwd.getpwnam("radicale")
        ids = (rad.pw_uid, rad.pw_gid)

        def creds(pid):
            with open(f"/proc/{pid}/status") as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            return ([int(x) for x in st["Uid"].split()], [int(x) for x in st["Gid"].split()],
                    [int(x) for x in st["Groups"].split()], st["NoNewPrivs"])

        def check_process():
            pid = self.service("calendar")["pid"]
            uid, gid, groups, nnp = creds(pid)
            self.assertEqual(uid, [rad.pw_uid] * 4)  # real, effective, saved, file system: no way back to root
            self.assertEqual(gid, [rad.pw_gid] * 4)
            self.assertEqual(groups, [rad.pw_gid])
            self.assertEqual(nnp, "1")

        storage = os.path.join(self.picd.state_dir, "data", "calendar")

        root_owned = {storage: 0o710, os.path.join(storage, "collection-root"): 0o750,
                      os.path.join(self.picd.state_dir, "etc", "calendar"): 0o750}

        def owners():
            """Owner of everything in the storage but the two dirs that stay root's (checked here: root, Radicale's
            group, their mode; and the config dir's), which Radicale may not rename in."""
            out = {}
            for dirpath, dirs, files in os.walk(storage):
                for n in [""] + dirs + files:
                    st = os.lstat(os.path.join(dirpath, n))
                    out[os.path.normpath(os.path.join(dirpath, n))] = (st.st_uid, st.st_gid)
            for path, mode in root_owned.items():
                st = os.lstat(path)
                self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, rad.pw_gid, mode), path)
                out.pop(path, None)
            return out

        check_process()
        bob = self.users["bob"]
        self.assertEqual(self.put_vcard(bob, "owned", "Owned By Radicale")[1], 201)
        self.assertEqual(set(owners().values()), {ids})

        # A cell whose tree an older picd left root's, with a link in it that a compromised Radicale could have
        # planted: the next start hands the tree over, the link itself but never what it names.
        outside = os.path.join(self.picd.state_dir, "outside-of-the-calendar")
        with open(outside, "w") as f:
            f.write("root's\n")
        os.chmod(outside, 0o600)
        link = os.path.join(self.user_dir(bob[0]), "contacts", "planted")
        os.symlink(outside, link)
        for path in list(owners()) + list(root_owned):
            os.lchown(path, 0, 0)
        self.assertEqual(self.picd.put("/api/config", {"calendar": {"enabled": False}}).status, 200)
        wait_for(lambda: self.service("calendar")["state"] == "disabled", timeout=30, what="radicale stopped")
        self.assertEqual(self.picd.put("/api/config", {"calendar": {"enabled": True}}).status, 200)
        wait_for(lambda: self.service("calendar")["healthy"] and self.service("calendar")["state"] == "running",
                 timeout=30, what="radicale back")
        check_process()
        self.assertEqual(set(owners().values()), {ids})
        st = os.stat(outside)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, 0, 0o600))
        os.unlink(link)
        os.unlink(outside)
        # It still reads and writes what it was handed (once Python has imported it: "healthy" allows for that).
        got = wait_for(lambda: (r := self.dav("GET", f"/{bob[0]}/contacts/owned.vcf", bob))[1] == 200 and r,
                       timeout=30, what="the contact served again")
        self.assertIn("FN:Owned By Radicale", got[3])
        self.assertEqual(self.put_vcard(bob, "after-handover", "After Handover")[1], 201)
        # A user made now gets default collections Radicale can write to at once.
        carol = self.account(unique("carol"))
        self.assertEqual(set(o for p, o in owners().items() if p.startswith(self.user_dir(carol[0]))), {ids})
        self.assertEqual(self.put_vcard(carol, "first", "First Contact")[1], 201)

    def test_11_only_caddy_and_root_reach_radicale(self):
        """Radicale believes the X-Remote-User header (the front door sets it): any other local user that could
        connect to its port could name any user, so the cell's firewall lets only root and Caddy's user connect,
        on whatever port calendar.port names."""
        bob = self.users["bob"]
        self.assertEqual(self.put_vcard(bob, "secret", "Secret Friend")[1], 201)

        def ask(user, port):
            """The status code Radicale gives `user` asking for bob's contact as bob, or the connection error."""
            argv = ["ip", "netns", "exec", self.picd.netns]
            if user != "root":
                argv += ["runuser", "-u", user, "--"]
            # Debian's python3: the test's own interpreter may sit where other users cannot run it.
            r = run(*argv, "/usr/bin/python3", "-c", RAW_ASK, str(port), f"/{bob[0]}/contacts/secret.vcf", bob[0],
                    check=False)
            return r.stdout.strip() or (r.stderr.strip().splitlines() or ["no output"])[-1]

        def served(port):
            a = ask("root", port)
            if a != "200":
                raise AssertionError(a)  # wait_for names the last one when it gives up
            return True

        port = self.picd.get("/api/config").json["calendar"]["port"]
        self.assertEqual(ask("root", port), "200")
        # lighttpd's user, Roundcube's workers' and anybody else's.
        for user in ("pic-files", "www-data", "nobody"):
            self.assertIn("ConnectionRefusedError", ask(user, port), user)
        self.assertEqual(self.dav("GET", f"/{bob[0]}/contacts/secret.vcf", bob)[1], 200)

        # A new port (applied with the next restart, as every port): Radicale, Caddy and the rule all move to it.
        moved = port + 1
        try:
            self.assertEqual(self.picd.put("/api/config", {"calendar": {"port": moved}}).status, 200)
            self.assertEqual(self.picd.post("/api/config/apply").status, 200)
            wait_for(lambda: served(moved), timeout=30, what="radicale on the new port")
            self.assertIn("ConnectionRefusedError", ask("nobody", moved))
            wait_for(lambda: self.dav("GET", f"/{bob[0]}/contacts/secret.vcf", bob)[1] == 200, timeout=30,
                     what="the front door on the new port")
        finally:
            self.assertEqual(self.picd.put("/api/config", {"calendar": {"port": port}}).status, 200)
            self.assertEqual(self.picd.post("/api/config/apply").status, 200)
        wait_for(lambda: served(port), timeout=30, what="radicale on its port again")
        self.assertIn("ConnectionRefusedError", ask("nobody", port))


if __name__ == "__main__":
    pic.main()
