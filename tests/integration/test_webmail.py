"""The webmail: Roundcube on picd's private php-fpm, behind Caddy at https://mail.<cell>.<domain>/, reached from
VPN peers through real WireGuard tunnels (each client its own wireguard-go) with the cell CA as the only trust,
driven with plain HTTP requests as a browser would send them (Python's http.client: the login form, its CSRF
token and session cookie). A peer with the mail grant gets the login page without being asked for credentials
(Roundcube signs users in itself); a peer without it cannot connect. Also what picd's php-fpm is: its own config
under the state dir, workers as www-data, a socket only root may open, the key kept out of every other file,
its status and health over FastCGI."""
import base64
import json
import os
import pwd
import re
import socket
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pic import PicdTestCase, main, run, unique, wait_for  # noqa: E402
from test_vpn import Client  # noqa: E402  (a VPN client with its own wireguard-go)

NAME = "mail.mycell.cell"
VPN_NET = "10.0.0.0/24"

# Runs inside a client namespace, as a browser would: GET the login page (its _token and session cookie), then with
# a user and password POST the form, and when signed in fetch the mail page (its request token) and the INBOX
# list as Roundcube's own script does. Prints one JSON object of what it saw.
BROWSER = r"""
import http.client, json, re, socket, ssl, sys, urllib.parse
ip, name, cafile, user, password = sys.argv[1:6]
send_to, send_subject = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else (None, None)
ctx = ssl.create_default_context(cafile=cafile)
cookies = {}
def request(method, path, body=None, headers=None):
    conn = http.client.HTTPSConnection(name, 443, timeout=20, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection((ip, 443), timeout=20), server_hostname=name)
    h = dict(headers or {})
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read().decode(errors="replace")
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            c = v.split(";", 1)[0]
            n, _, val = c.partition("=")
            if val in ("", "-del-"):
                cookies.pop(n, None)
            else:
                cookies[n] = val
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data, r.headers.get_all("Set-Cookie") or []
out = {}
status, headers, page, set_cookies = request("GET", "/")
token = re.search(r'name="_token" value="([^"]+)"', page)
out["page"] = {"status": status, "hsts": headers.get("strict-transport-security"),
               "www_authenticate": headers.get("www-authenticate"), "token": bool(token),
               "form": all(f'name="{f}"' in page for f in ("_user", "_pass")), "title": re.search(r"<title>(.*?)</title>", page, re.S).group(1) if "<title>" in page else None,
               "cookies": set_cookies}
status, _, _, _ = request("GET", "/skins/elastic/ui.min.js")
out["static"] = status
out["scripts"] = {p: request("GET", p)[0] for p in ("/program/include/iniset.php", "/plugins/jqueryui/jqueryui.php", "/.htaccess", "/index.php?_task=login")}
if user != "-":
    form = urllib.parse.urlencode({"_token": token.group(1), "_task": "login", "_action": "login", "_timezone": "UTC",
                                   "_url": "", "_user": user, "_pass": password})
    status, headers, page, _ = request("POST", "/?_task=login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    out["login"] = {"status": status, "location": headers.get("location")}
    if status in (301, 302, 303):
        status, _, page, _ = request("GET", "/?_task=mail&_mbox=INBOX")
        rt = re.search(r'"request_token":"([^"]+)"', page)
        out["mail_page"] = {"status": status, "request_token": bool(rt)}
        if rt:
            status, _, listing, _ = request("GET", "/?_task=mail&_action=list&_mbox=INBOX&_remote=1&_page=1",
                                            headers={"X-Roundcube-Request": rt.group(1)})
            out["list"] = {"status": status, "body": listing[:20000]}
        if rt and send_to:
            # Compose as the page's script would: the compose page (its id, token and the user's identity), then the
            # form posted to the send action.
            status, headers, page, _ = request("GET", "/?_task=mail&_action=compose")
            if status in (301, 302, 303):
                loc = headers["location"]
                status, headers, page, _ = request("GET", "/" + loc.split("/", 3)[-1].lstrip("./") if "://" in loc else
                                                   "/" + loc.lstrip("./"))
            cid = re.search(r'"compose_id":"([^"]+)"', page)
            tok = re.search(r'name="_token" value="([^"]+)"', page)
            ident = re.search(r'<select name="_from"[^>]*>\s*<option value="(\d+)"', page)
            out["compose"] = {"status": status, "id": bool(cid), "token": bool(tok), "identity": bool(ident)}
            if cid and tok and ident:
                form = urllib.parse.urlencode({"_token": tok.group(1), "_task": "mail", "_action": "send",
                                               "_id": cid.group(1), "_attachments": "", "_from": ident.group(1),
                                               "_to": send_to, "_cc": "", "_bcc": "", "_replyto": "", "_followupto": "",
                                               "_subject": send_subject, "_priority": "0", "_store_target": "",
                                               "_draft_saveid": "", "_draft": "", "_is_html": "0", "_framed": "1",
                                               "editorSelector": "plain", "_message": "Sent from the webmail test.\n"})
                status, _, reply, _ = request("POST", "/?_task=mail&_framed=1", form,
                                              {"Content-Type": "application/x-www-form-urlencoded"})
                out["send"] = {"status": status, "sent": "sent_successfully" in reply, "reply": reply[-3000:]}
print(json.dumps(out))
"""


# Runs inside a client namespace: the INBOX over IMAPS (verified against the root) with an app password.
# argv: ip, cafile, user, password. Prints {"subjects": [...], "raw": [...]}.
IMAP = r"""
import email, imaplib, json, ssl, sys
ip, cafile, user, password = sys.argv[1:5]
m = imaplib.IMAP4_SSL(ip, 993, ssl_context=ssl.create_default_context(cafile=cafile), timeout=20)
m.login(user, password)
m.select("INBOX", readonly=True)
subjects, raw = [], []
for num in m.search(None, "ALL")[1][0].split():
    data = m.fetch(num, "(RFC822)")[1][0][1].decode(errors="replace")
    raw.append(data)
    subjects.append(email.message_from_string(data)["Subject"] or "")
m.logout()
print(json.dumps({"subjects": subjects, "raw": raw}))
"""


class WebmailTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clients = {}
        try:
            cls.ips = cls.picd.get("/api/config").json["service_ips"]
            wait_for(lambda: all(cls.service(n)["state"] == "running" for n in ("webmail", "proxy")), 30,
                     what="php-fpm and caddy running")
            for key, grants, index in (("mailer", ["mail"], 0), ("calendar-only", ["calendar"], 1)):
                name = unique(key)[:20]
                # The client's link first: a peer's config names the cell's first own address as its endpoint.
                c = Client(cls.picd.netns, index)
                cls.clients[key] = c
                peer = cls.picd.post("/api/peers", {"name": name, "service_access": grants})
                assert peer.status == 201, peer
                conf = cls.picd.get(f"/api/peers/{name}/config")
                assert conf.status == 200, conf
                c.configure(conf.body, peer.json["ip"], [VPN_NET, cls.picd.get("/api/config").json["ip_range"]],
                            own_endpoint=True)
                c.root = os.path.join(c.tmp, "root.pem")
                c.root_url = conf.headers["X-Pic-CA-URL"]
                # The root over the tunnel from the address its config names (a plain-HTTP page every peer reaches).
                wait_for(lambda c=c: c.ns.exec("curl", "-sS", "-m", "3", "-o", c.root, c.root_url,
                                               check=False).returncode == 0, 20, what="the root over the tunnel")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for c in cls.clients.values():
                c.close()
        finally:
            super().tearDownClass()

    @classmethod
    def service(cls, name):
        return next(s for s in cls.picd.get("/api/services").json["services"] if s["name"] == name)

    def browse(self, client, user="-", password="-", send_to=None, subject=None):
        ip = client.ns.exec("dig", "+short", "+time=2", "+tries=2", f"@{self.ips['dns']}", NAME).stdout.strip()
        self.assertEqual(ip, self.ips["mail"])
        extra = (send_to, subject) if send_to else ()
        r = client.ns.exec(sys.executable, "-c", BROWSER, ip, NAME, client.root, user, password, *extra, check=False,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + self.picd.logs()[-4000:])
        return json.loads(r.stdout)

    def fpm_processes(self):
        """php-fpm's processes in the cell's namespace: {pid: (uid, argv)}."""
        out = {}
        for pid, argv in self.picd.netns_pids().items():
            if argv and argv[0].startswith("php-fpm"):
                with open(f"/proc/{pid}/status") as f:
                    uid = next(int(l.split()[1]) for l in f if l.startswith("Uid:"))
                out[pid] = (uid, argv)
        return out

    def test_01_login_page_through_the_tunnel(self):
        """A peer with the mail grant: the name from the cell's DNS, a verified TLS handshake, Roundcube's login form
        with its CSRF token and session cookie, without picd asking for credentials first."""
        seen = self.browse(self.clients["mailer"])
        page = seen["page"]
        self.assertEqual(page["status"], 200, seen)
        self.assertIsNone(page["www_authenticate"])
        self.assertEqual(page["hsts"], "max-age=31536000")
        self.assertTrue(page["token"] and page["form"], seen)
        self.assertIn("Webmail", page["title"])
        sess = [c for c in page["cookies"] if c.startswith("roundcube_sessid=")]
        self.assertTrue(sess, page["cookies"])
        # Roundcube saw HTTPS (Caddy's FastCGI says so): the session cookie is Secure and HttpOnly.
        self.assertIn("secure", sess[0].lower())
        self.assertIn("httponly", sess[0].lower())
        # Static files from Debian's document root; no script but index.php runs, no dot file is served.
        self.assertEqual(seen["static"], 200)
        self.assertEqual(seen["scripts"], {"/program/include/iniset.php": 404, "/plugins/jqueryui/jqueryui.php": 404,
                                           "/.htaccess": 404, "/index.php?_task=login": 200})

    def test_02_no_mail_grant_no_connection(self):
        """A peer without the mail grant: the name does not resolve for it and the address does not answer."""
        tv = self.clients["calendar-only"]
        r = tv.ns.exec("dig", "+short", "+time=2", "+tries=2", f"@{self.ips['dns']}", NAME, check=False)
        self.assertEqual(r.stdout.strip(), "")
        r = tv.ns.exec("curl", "-sS", "-m", "5", "--cacert", tv.root, "--resolve", f"{NAME}:443:{self.ips['mail']}",
                       f"https://{NAME}/", check=False, timeout=30)
        self.assertIn(r.returncode, (7, 28), r)  # refused or timed out: never an HTTP answer
        # The grant given: the same peer reaches the login page; taken back: gone again.
        peer = next(p for p in self.picd.get("/api/peers").json["peers"] if p["name"].startswith("calendar-only"))
        self.assertEqual(self.picd.put(f"/api/peers/{peer['name']}", {"service_access": ["calendar", "mail"]}).status,
                         200)
        self.assertEqual(self.browse(tv)["page"]["status"], 200)
        self.assertEqual(self.picd.put(f"/api/peers/{peer['name']}", {"service_access": ["calendar"]}).status, 200)
        r = tv.ns.exec("curl", "-sS", "-m", "5", "--cacert", tv.root, "--resolve", f"{NAME}:443:{self.ips['mail']}",
                       f"https://{NAME}/", check=False, timeout=30)
        self.assertIn(r.returncode, (7, 28), r)

    def auth_sock(self, headers):
        """picd's answer on auth.sock (as Caddy or the mail server's login check ask it): the HTTP status."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(os.path.join(self.picd.state_dir, "run", "auth.sock"))
            s.sendall(("GET /auth HTTP/1.1\r\nHost: picd\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) +
                       "Connection: close\r\n\r\n").encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return int(data.split()[1])

    def test_02b_grant_only_is_the_sites_question_alone(self):
        """Only the webmail site's own question to picd is about the address alone: the mail service asked the ordinary
        way (as IMAP and submission logins are) still needs a credential, and a client's own X-Pic-Auth header does
        not turn another site's question into one about its address."""
        peer = next(p for p in self.picd.get("/api/peers").json["peers"] if p["name"].startswith("mailer"))
        wrong = "Basic " + base64.b64encode(b"nobody:wrong-password").decode()
        self.assertEqual(self.auth_sock({"X-Pic-Service": "mail", "X-Forwarded-For": peer["ip"],
                                         "X-Pic-Auth": "grant-only"}), 200)
        self.assertEqual(self.auth_sock({"X-Pic-Service": "mail", "X-Forwarded-For": peer["ip"],
                                         "Authorization": wrong}), 401)
        self.assertEqual(self.auth_sock({"X-Pic-Service": "calendar", "X-Forwarded-For": peer["ip"],
                                         "X-Pic-Auth": "grant-only"}), 403)
        tv = self.clients["calendar-only"]
        cal = "calendar.mycell.cell"
        r = tv.ns.exec("curl", "-sS", "-m", "10", "--cacert", tv.root, "--resolve", f"{cal}:443:{self.ips['calendar']}",
                       "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Pic-Auth: grant-only", f"https://{cal}/",
                       check=False, timeout=30)
        self.assertEqual(r.stdout, "401", r.stderr)

    def test_03_a_private_php_fpm(self):
        """php-fpm runs from picd's own config (no system pool), its workers as www-data, its socket only for root;
        Roundcube's key is made once, 0600, and in no file the workers can read."""
        state = self.picd.state_dir
        self.browse(self.clients["mailer"])  # at least one worker and the database exist
        procs = self.fpm_processes()
        masters = [p for p, (uid, argv) in procs.items() if "master" in " ".join(argv)]
        self.assertEqual(len(masters), 1, procs)
        self.assertEqual(masters[0], self.service("webmail")["pid"])
        self.assertIn(os.path.join(os.path.realpath(state), "etc", "webmail", "php-fpm.conf"),
                      " ".join(procs[masters[0]][1]))
        www = pwd.getpwnam("www-data").pw_uid
        workers = [uid for p, (uid, argv) in procs.items() if p not in masters]
        self.assertTrue(workers and all(uid == www for uid in workers), procs)
        with open(os.path.join(state, "etc", "webmail", "php-fpm.conf")) as f:
            conf = f.read()
        self.assertNotIn("include", conf)
        # Caddy (its own user) connects through the socket's group; the workers (www-data) cannot.
        sock = os.stat(os.path.join(state, "run", "proxied", "webmail-fpm.sock"))
        self.assertEqual((sock.st_uid, sock.st_gid, sock.st_mode & 0o777), (0, pwd.getpwnam("caddy").pw_gid, 0o660))
        key_path = os.path.join(state, "keys", "webmail.des_key")
        st = os.stat(key_path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        with open(key_path) as f:
            key = f.read()
        self.assertRegex(key, r"^[A-Za-z0-9_-]{24}$")
        self.assertEqual(os.stat(os.path.join(state, "etc", "webmail", "php-fpm.conf")).st_mode & 0o777, 0o600)
        for name in os.listdir(os.path.join(state, "etc", "webmail")):
            if name != "php-fpm.conf":
                with open(os.path.join(state, "etc", "webmail", name)) as f:
                    self.assertNotIn(key, f.read(), name)
        self.assertNotIn(key, self.picd.logs())
        # Roundcube's database is the workers' own, under the state dir.
        db = os.stat(os.path.join(state, "data", "webmail", "roundcube.db"))
        self.assertEqual((db.st_uid, db.st_mode & 0o777), (www, 0o600))
        # Its status and health come from php-fpm itself over FastCGI.
        s = self.picd.get("/api/services/webmail/status")
        self.assertEqual(s.status, 200, s)
        self.assertEqual(s.json["url"], f"https://{NAME}/")
        self.assertGreaterEqual(s.json["accepted_connections"], 1)
        self.assertEqual(self.picd.get("/health", auth=False).json["services"]["webmail"], "running")

    def test_04_the_key_survives_a_restart(self):
        """The key is made once: a restart of php-fpm (and picd's reading it back) keeps it."""
        key_path = os.path.join(self.picd.state_dir, "keys", "webmail.des_key")
        with open(key_path) as f:
            key = f.read()
        old = self.service("webmail")["pid"]
        self.assertEqual(self.picd.post("/api/services/webmail/restart").status, 200)
        wait_for(lambda: self.service("webmail")["pid"] not in (None, old) and
                 self.service("webmail")["state"] == "running", 20, what="php-fpm restarted")
        with open(key_path) as f:
            self.assertEqual(f.read(), key)
        wait_for(lambda: self.picd.get("/health", auth=False).json["services"]["webmail"] == "running", 20,
                 what="webmail healthy")
        self.assertEqual(self.browse(self.clients["mailer"])["page"]["status"], 200)


    def imap_subjects(self, client, user, secret):
        """The subjects in user's INBOX over IMAPS from the client, signed in with an app password."""
        r = client.ns.exec(sys.executable, "-c", IMAP, self.ips["mail"], client.root, user, secret, check=False,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_05_sign_in_read_and_send(self):
        """A user's own account password signs in to Roundcube, whose INBOX shows the message a device of theirs
        sent them (swaks, an app password, submission); a message sent from the webmail arrives from their address;
        a wrong password is refused, and a new password holds at once."""
        mailer = self.clients["mailer"]
        user, password = unique("wm")[:20], None
        password = f"{user}-password-123"
        r = self.picd.post("/api/users", {"name": user, "password": password, "role": "user"})
        self.assertEqual(r.status, 201, r)
        r = self.picd.post(f"/api/users/{user}/app-passwords", {"label": "phone"})
        self.assertEqual(r.status, 201, r)
        secret = r.json["password"]
        addr = f"{user}@mycell.cell"  # the mail domain: the cell's zone by default
        marker = unique("hello")
        r = mailer.ns.exec("swaks", "--server", self.ips["mail"], "--port", "587", "--timeout", "20", "-tls",
                           "--tls-verify", "--tls-ca-path", mailer.root, "--auth", "PLAIN", "--auth-user", user,
                           "--auth-password", secret, "--from", addr, "--to", addr, "--header", f"Subject: {marker}",
                           "--body", "to read in the webmail", check=False, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for(lambda: any(marker in m for m in self.imap_subjects(mailer, user, secret)["subjects"]), 30,
                 what="the message delivered")

        # A wrong password: Roundcube's form again, nothing listed.
        seen = self.browse(mailer, user, "not-the-password")
        self.assertNotIn(seen["login"]["status"], (301, 302, 303), seen)
        self.assertNotIn("list", seen)
        # The app password is a device's: not for the webmail either.
        seen = self.browse(mailer, user, secret)
        self.assertNotIn(seen["login"]["status"], (301, 302, 303), seen)

        sent = unique("from-webmail")
        seen = self.browse(mailer, user, password, send_to=addr, subject=sent)
        self.assertIn(seen["login"]["status"], (301, 302, 303), json.dumps(seen)[:3000] + self.logs())
        self.assertEqual(seen["mail_page"], {"status": 200, "request_token": True}, seen)
        self.assertEqual(seen["list"]["status"], 200)
        self.assertIn(marker, seen["list"]["body"])
        self.assertTrue(seen["send"]["sent"], json.dumps(seen.get("send"))[:3000] + self.logs())
        got = wait_for(lambda: (lambda x: x if any(sent in m for m in x["subjects"]) else None)(
            self.imap_subjects(mailer, user, secret)), 30, what="the webmail's message delivered")
        msg = next(m for m in got["raw"] if sent in m)
        self.assertRegex(msg, rf"(?im)^From: .*{re.escape(addr)}")
        self.assertRegex(msg, r"(?im)^DKIM-Signature: ")

        # A new password: the old one stops at the next sign-in, the new one works.
        self.assertEqual(self.picd.put(f"/api/users/{user}", {"password": f"{user}-password-456"}).status, 200)
        self.assertNotIn(self.browse(mailer, user, password)["login"]["status"], (301, 302, 303))
        self.assertIn(self.browse(mailer, user, f"{user}-password-456")["login"]["status"], (301, 302, 303))

    def rows(self, user):
        """The user's rows in Roundcube's database: {table: count} over users and what references them."""
        db = sqlite3.connect(os.path.join(self.picd.state_dir, "data", "webmail", "roundcube.db"), timeout=10)
        try:
            ids = [r[0] for r in db.execute("SELECT user_id FROM users WHERE username = ? OR username LIKE ?",
                                            (user, f"{user}@%"))]
            out = {"users": len(ids)}
            for table in ("identities", "contacts", "contactgroups", "collected_addresses"):
                out[table] = db.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id IN ({','.join('?' * len(ids))})",
                                        ids).fetchone()[0] if ids else 0
            return out, ids
        finally:
            db.close()

    def test_06_deleting_a_user_takes_their_webmail_rows(self):
        """Roundcube keeps a row per user (settings) with identities, contacts and caches hanging off it: deleting
        the user names it (409) unless purged; purged, every row is gone and a new user of that name starts clean."""
        mailer = self.clients["mailer"]
        user = unique("wmdel")[:20]
        password = f"{user}-password-123"
        self.assertEqual(self.picd.post("/api/users", {"name": user, "password": password, "role": "user"}).status, 201)
        seen = self.browse(mailer, user, password)
        self.assertIn(seen["login"]["status"], (301, 302, 303), json.dumps(seen)[:2000] + self.logs())
        rows, ids = self.rows(user)
        self.assertEqual((rows["users"], rows["identities"]), (1, 1), rows)
        # Their address book, as Roundcube's contacts page writes it: a contact in a group.
        db = sqlite3.connect(os.path.join(self.picd.state_dir, "data", "webmail", "roundcube.db"), timeout=10)
        with db:
            cur = db.execute("INSERT INTO contacts (user_id, changed, name, email, words, vcard) VALUES "
                             "(?, datetime('now'), 'Friend', 'friend@example.org', 'friend', '')", (ids[0],))
            grp = db.execute("INSERT INTO contactgroups (user_id, changed, name) VALUES (?, datetime('now'), 'Pals')",
                             (ids[0],))
            db.execute("INSERT INTO contactgroupmembers (contactgroup_id, contact_id, created) VALUES "
                       "(?, ?, datetime('now'))", (grp.lastrowid, cur.lastrowid))
        db.close()
        self.assertEqual(self.rows(user)[0], {"users": 1, "identities": 1, "contacts": 1, "contactgroups": 1,
                                              "collected_addresses": 0})

        r = self.picd.delete(f"/api/users/{user}")
        self.assertEqual(r.status, 409, r)
        self.assertIn("webmail settings with 1 identity and 1 contact", r.json["error"]["message"])
        self.assertEqual(self.rows(user)[0]["users"], 1)
        self.assertEqual(self.picd.delete(f"/api/users/{user}?purge=true").status, 200)
        self.assertEqual(self.rows(user)[0], {"users": 0, "identities": 0, "contacts": 0, "contactgroups": 0,
                                              "collected_addresses": 0})
        db = sqlite3.connect(os.path.join(self.picd.state_dir, "data", "webmail", "roundcube.db"), timeout=10)
        self.assertEqual(db.execute("SELECT COUNT(*) FROM contactgroupmembers WHERE contactgroup_id NOT IN "
                                    "(SELECT contactgroup_id FROM contactgroups)").fetchone()[0], 0)
        db.close()
        st = os.stat(os.path.join(self.picd.state_dir, "data", "webmail", "roundcube.db"))
        self.assertEqual(st.st_uid, pwd.getpwnam("www-data").pw_uid)

        # The same name again: Roundcube (still able to write its database) makes a fresh row with nothing old.
        self.assertEqual(self.picd.post("/api/users", {"name": user, "password": password, "role": "user"}).status, 201)
        seen = self.browse(mailer, user, password)
        self.assertIn(seen["login"]["status"], (301, 302, 303), json.dumps(seen)[:2000] + self.logs())
        self.assertEqual(self.rows(user)[0], {"users": 1, "identities": 1, "contacts": 0, "contactgroups": 0,
                                              "collected_addresses": 0})
        self.assertEqual(self.picd.delete(f"/api/users/{user}?purge=true").status, 200)
        self.assertEqual(self.rows(user)[0]["users"], 0)

    def logs(self):
        return "\n" + "\n".join(json.dumps(self.picd.get(f"/api/services/{n}/logs?lines=30").json)
                                 for n in ("webmail", "mail", "mail-imap"))


if __name__ == "__main__":
    main()
