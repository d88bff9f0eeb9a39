"""Mail end to end: picd's Postfix, Dovecot and OpenDKIM in the cell namespace, reached from a phone through a real
WireGuard tunnel (its own wireguard-go, a peer with the mail grant) that trusts only the cell CA's root, fetched over
the tunnel. swaks (Debian's) submits, Python's imaplib reads, python3-dkim verifies against the key the cell's own
unbound publishes. Users and app passwords are made through the API; Dovecot asks picd for every login."""
import email
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pic  # noqa: E402
from pic import PicdTestCase, SLOW, run, unique, wait_for  # noqa: E402

# Exit 0 when a TCP connection to argv[1]:argv[2] is accepted within 2 s.
CONNECTS = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()"
from test_vpn import Client  # noqa: E402

ZONE = "mycell.cell"

# Runs inside the phone's namespace: one IMAP session, verified against the root. argv: mode (ssl|starttls), ip,
# port, cafile, user, password, then an optional IMAP search ("ALL" by default). Prints JSON
# {"login": ..., "messages": [raw, ...]} or {"login": "failed", "error"}.
IMAP = r"""
import imaplib, json, ssl, sys
mode, ip, port, cafile, user, password = sys.argv[1:7]
search = sys.argv[7] if len(sys.argv) > 7 else "ALL"
ctx = ssl.create_default_context(cafile=cafile)
if mode == "ssl":
    m = imaplib.IMAP4_SSL(ip, int(port), ssl_context=ctx, timeout=20)
else:
    m = imaplib.IMAP4(ip, int(port), timeout=20)
    m.starttls(ssl_context=ctx)
try:
    m.login(user, password)
except imaplib.IMAP4.error as e:
    print(json.dumps({"login": "failed", "error": str(e)}))
    sys.exit(0)
m.select("INBOX", readonly=True)
typ, data = m.search(None, search)
out = []
for num in data[0].split():
    typ, msg = m.fetch(num, "(RFC822)")
    out.append(msg[0][1].decode(errors="replace"))
print(json.dumps({"login": "ok", "messages": out}))
m.logout()
"""

# Runs inside the phone's namespace: messages over port 25 the way another server's Postfix sends them (MAIL FROM
# with SIZE=). argv: ip, from, to, subject prefix, count, body bytes. Prints [{subject, code, reply, stage}].
SMTP = r"""
import json, smtplib, sys
ip, frm, to, prefix, count, size = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
out = []
for i in range(count):
    subject = f"{prefix}-{i}"
    body = ("y" * 75 + "\r\n") * (size // 77)
    msg = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}"
    s = smtplib.SMTP(ip, 25, timeout=30)
    s.ehlo("other.example")
    code, reply = s.mail(frm, [f"SIZE={len(msg)}"])
    stage = "MAIL"
    if code == 250:
        code, reply = s.rcpt(to)
        stage = "RCPT"
    if code in (250, 251):
        code, reply = s.data(msg.encode())
        stage = "DATA"
    s.quit()
    out.append({"subject": subject, "code": code, "reply": reply.decode(), "stage": stage})
    if code != 250:
        break
print(json.dumps(out))
"""

# Runs with Debian's python3 (python3-dkim): verifies a message with dkim.verify, the public key looked up in the
# cell's DNS server with dig (the phone's view). argv: message file, DNS server.
DKIMVERIFY = r"""
import subprocess, sys, dkim
msg = open(sys.argv[1], "rb").read()
server = sys.argv[2]
asked = []
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    asked.append(name)
    out = subprocess.run(["dig", "+short", "+time=2", "+tries=2", "TXT", "@" + server, name.rstrip(".")],
                         capture_output=True, text=True, timeout=20).stdout
    parts = []
    for line in out.splitlines():
        parts.append("".join(p for i, p in enumerate(line.split('"')) if i % 2 == 1))
    return "".join(parts).encode()
ok = dkim.verify(msg, dnsfunc=dnsfunc)
print("verified" if ok else "FAILED", " ".join(asked))
"""


class MailTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clients = []
        try:
            cfg = cls.picd.get("/api/config").json
            cls.ips = cfg["service_ips"]
            cls.mail_ip = cls.ips["mail"]
            for name in ("mail", "mail-imap", "mail-dkim"):
                wait_for(lambda: cls.service(name)["state"] == "running", 30, what=f"{name} running")
            wait_for(lambda: all(cls.service(n).get("healthy", True) for n in ("mail", "mail-imap", "mail-dkim"))
                     and os.path.exists(os.path.join(cls.picd.state_dir, "run", "mail", "lmtp.sock")), 30,
                     what="mail sockets")
            # Postfix's master counts as starting (healthy) for a while before it listens: the tests start once
            # every port answers inside the cell's namespace.
            for port in (25, 465, 587, 143, 993):
                wait_for(lambda: run("ip", "netns", "exec", cls.picd.netns, sys.executable, "-c", CONNECTS,
                                     cls.mail_ip, str(port), check=False).returncode == 0, 30,
                         interval=0.3, what=f"the mail address answering on port {port}")
            # Where peer configs point (each test client dials the cell on its own link instead).
            r = cls.picd.put("/api/config", {"wireguard.endpoint": "cell.example.net:51820"})
            assert r.status == 200, r
            cls.phone, cls.phone_ip, cls.root = cls.make_phone(["mail"], 0)
            cls.users = {}
            for u in ("alice", "bob", "carol"):
                cls.users[u] = cls.make_user(u)
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for c in cls.clients:
                c.close()
        finally:
            super().tearDownClass()

    @classmethod
    def service(cls, name):
        return next(s for s in cls.picd.get("/api/services").json["services"] if s["name"] == name)

    @classmethod
    def make_user(cls, name):
        r = cls.picd.post("/api/users", {"name": name, "password": f"{name}-password-123", "role": "user"})
        assert r.status == 201, r
        r = cls.picd.post(f"/api/users/{name}/app-passwords", {"label": "phone"})
        assert r.status == 201, r
        return r.json["password"], r.json["id"]

    @classmethod
    def make_phone(cls, grants, index):
        name = unique("phone")[:20]
        peer = cls.picd.post("/api/peers", {"name": name, "service_access": grants})
        assert peer.status == 201, peer
        conf = cls.picd.get(f"/api/peers/{name}/config")
        assert conf.status == 200, conf
        c = Client(cls.picd.netns, index)
        cls.clients.append(c)
        ip_range = cls.picd.get("/api/config").json["ip_range"]
        c.configure(conf.body, peer.json["ip"], ["10.0.0.0/24", ip_range], own_endpoint=True)
        root = os.path.join(c.tmp, "root.pem")
        url = conf.headers["X-Pic-CA-URL"]
        wait_for(lambda: c.ns.exec("curl", "-sS", "-m", "3", "-o", root, url, check=False).returncode == 0, 20,
                 what="the root over the tunnel")
        return c, peer.json["ip"], root

    # -- clients -----------------------------------------------------------------------------------------
    def swaks(self, *args, port=587, tls="starttls", user=None, password=None, cafile=None, ns=None):
        """swaks from the phone: returns (exit code, transcript)."""
        argv = ["swaks", "--server", self.mail_ip, "--port", str(port), "--timeout", "20", "--helo", "phone.example"]
        if tls == "starttls":
            argv += ["-tls", "--tls-verify", "--tls-ca-path", cafile or self.root]
        elif tls == "implicit":
            argv += ["-tlsc", "--tls-verify", "--tls-ca-path", cafile or self.root]
        if user:
            argv += ["--auth", "PLAIN", "--auth-user", user, "--auth-password", password]
        r = (ns or self.phone.ns).exec(*argv, *args, check=False, timeout=90 * SLOW)
        return r.returncode, r.stdout + r.stderr

    def imap(self, user, password, mode="ssl", port=993, search="ALL"):
        r = self.phone.ns.exec(sys.executable, "-c", IMAP, mode, self.mail_ip, str(port), self.root, user, password,
                               search, check=False, timeout=60 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def inbox_with(self, user, marker, count=1, timeout=30):
        """Waits until the user's INBOX holds count messages carrying marker; returns them."""
        secret = self.users[user][0]

        def found():
            got = self.imap(user, secret, search=f'SUBJECT "{marker}"')
            self.assertEqual(got["login"], "ok", got)
            return got["messages"] if len(got["messages"]) >= count else None
        msgs = wait_for(found, timeout, interval=0.5, what=f"{count} message(s) '{marker}' in {user}'s INBOX")
        self.assertEqual(len(msgs), count, f"more than {count} '{marker}' in {user}'s INBOX")
        return msgs

    def daemon_logs(self):
        """The mail daemons' last lines, for a failure message."""
        return "\n".join(json.dumps(self.picd.get(f"/api/services/{n}/logs?lines=40").json)
                         for n in ("mail", "mail-imap"))

    def addr(self, user):
        return f"{user}@{ZONE}"

    # -- tests -------------------------------------------------------------------------------------------
    def test_01_submission_587_starttls_to_imaps(self):
        alice = self.users["alice"][0]
        subject = unique("s587")
        rc, out = self.swaks("--from", self.addr("alice"), "--to", self.addr("bob"), "--header", f"Subject: {subject}",
                             user="alice", password=alice)
        self.assertEqual(rc, 0, out)
        self.assertIn("235 2.7.0 Authentication successful", out)
        self.assertRegex(out, r"250 2\.0\.0 Ok: queued")
        msg = self.inbox_with("bob", subject)[0]
        self.assertIn(f"From: {self.addr('alice')}", msg)
        # STARTTLS on 143 reads the same mailbox; the login name with or without the domain.
        got = self.imap(f"bob@{ZONE}", self.users["bob"][0], mode="starttls", port=143, search=f'SUBJECT "{subject}"')
        self.assertEqual((got["login"], len(got["messages"])), ("ok", 1))

    def test_02_submissions_465_implicit_tls(self):
        subject = unique("s465")
        rc, out = self.swaks("--from", self.addr("bob"), "--to", self.addr("alice"), "--header", f"Subject: {subject}",
                             port=465, tls="implicit", user="bob", password=self.users["bob"][0])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"250 2\.0\.0 Ok: queued")
        self.inbox_with("alice", subject)

    def test_03_tls_trusts_only_the_cell_ca(self):
        """A client that trusts another CA refuses the handshake: the verification swaks does is real."""
        other = os.path.join(self.phone.tmp, "other.pem")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            os.path.join(self.phone.tmp, "other.key"), "-out", other, "-days", "1", "-subj", "/CN=other")
        rc, out = self.swaks("--from", self.addr("alice"), "--to", self.addr("bob"), user="alice",
                             password=self.users["alice"][0], cafile=other)
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("Authentication successful", out)

    def test_04_wrong_and_revoked_app_passwords_fail(self):
        r = self.picd.post("/api/users/carol/app-passwords", {"label": "tablet"})
        self.assertEqual(r.status, 201, r)
        secret, app_id = r.json["password"], r.json["id"]
        self.assertEqual(self.imap("carol", secret)["login"], "ok")
        # The account password is not for devices.
        got = self.imap("carol", "carol-password-123")
        self.assertEqual(got["login"], "failed", got)
        self.assertIn("AUTHENTICATIONFAILED", got["error"])
        self.assertEqual(self.picd.delete(f"/api/users/carol/app-passwords/{app_id}").status, 200)
        got = self.imap("carol", secret)
        self.assertEqual(got["login"], "failed", got)
        # SMTP from another phone: Dovecot's growing delay for failures from one address (2 s, 4 s, 8 s...) would
        # otherwise outlast Postfix's 10 s wait for its answer (454 "connection lost", a temporary failure).
        if not hasattr(type(self), "phone2"):
            type(self).phone2 = self.make_phone(["mail"], 2)[0]
        rc, out = self.swaks("--from", self.addr("carol"), "--to", self.addr("bob"), user="carol", password=secret,
                             ns=self.phone2.ns, cafile=self.root)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("535 5.7.8", out, self.daemon_logs())
        # Its other app password still works: revoking cuts one device.
        self.assertEqual(self.imap("carol", self.users["carol"][0])["login"], "ok")

    def test_05_no_open_relay(self):
        rc, out = self.swaks("--from", "someone@example.org", "--to", "victim@example.com", port=25, tls=None)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("554 5.7.1 <victim@example.com>: Relay access denied", out)
        # Submission without AUTH is no way round it.
        rc, out = self.swaks("--from", "someone@example.org", "--to", "victim@example.com")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("554 5.7.1 <victim@example.com>: Relay access denied", out)
        self.assertNotIn("queued", out)

    def test_06_no_spoofing(self):
        rc, out = self.swaks("--from", self.addr("bob"), "--to", self.addr("carol"), user="alice",
                             password=self.users["alice"][0])
        self.assertNotEqual(rc, 0, out)
        self.assertIn(f"553 5.7.1 <{self.addr('bob')}>: Sender address rejected: not owned by user alice", out)
        # Nor may anyone claim one of our addresses without logging in, on port 25 or on submission.
        rc, out = self.swaks("--from", self.addr("bob"), "--to", self.addr("carol"), port=25, tls=None)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(f"554 5.7.1 <{self.addr('bob')}>: Sender address rejected: Mail from {ZONE} must sign in", out)
        rc, out = self.swaks("--from", self.addr("bob"), "--to", self.addr("carol"))
        self.assertNotEqual(rc, 0, out)
        self.assertIn(f"553 5.7.1 <{self.addr('bob')}>: Sender address rejected: not logged in", out)

    def test_07_unknown_user_refused_at_rcpt(self):
        rc, out = self.swaks("--from", "someone@example.org", "--to", self.addr("nobody-here"), port=25, tls=None)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"<\*\* 550 5\.1\.1 <nobody-here@mycell\.cell>: Recipient address rejected")
        self.assertNotIn("DATA", out.split("550 5.1.1")[1].split("QUIT")[0])

    def test_08_alias_reaches_every_target(self):
        self.assertError(self.picd.post("/api/mail/aliases", {"alias": "Team!", "targets": ["alice"]}), 400, "alias")
        self.assertError(self.picd.post("/api/mail/aliases", {"alias": "team", "targets": ["nobody"]}), 400, "targets")
        self.assertError(self.picd.post("/api/mail/aliases", {"alias": "team", "targets": []}), 400, "targets")
        self.assertError(self.picd.post("/api/mail/aliases", {"alias": "alice", "targets": ["bob"]}), 409, "alias")
        self.assertEqual(self.picd.get("/api/mail/aliases").json, {"aliases": []})
        r = self.picd.post("/api/mail/aliases", {"alias": "team", "targets": ["alice", "bob"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {"alias": "team", "address": f"team@{ZONE}", "targets": ["alice", "bob"]})
        self.assertError(self.picd.post("/api/mail/aliases", {"alias": "team", "targets": ["carol"]}), 409, "alias")
        subject = unique("alias")
        rc, out = self.swaks("--from", "friend@example.org", "--to", f"team@{ZONE}", "--header", f"Subject: {subject}",
                             port=25, tls=None)
        self.assertEqual(rc, 0, out)
        self.inbox_with("alice", subject)
        self.inbox_with("bob", subject)
        self.assertEqual(self.imap("carol", self.users["carol"][0], search=f'SUBJECT "{subject}"')["messages"], [])
        # The alias's targets may send as it; anyone else may not.
        rc, out = self.swaks("--from", f"team@{ZONE}", "--to", self.addr("carol"), user="bob",
                             password=self.users["bob"][0])
        self.assertEqual(rc, 0, out)
        rc, out = self.swaks("--from", f"team@{ZONE}", "--to", self.addr("bob"), user="carol",
                             password=self.users["carol"][0])
        self.assertIn("553 5.7.1", out)
        mail = self.picd.get("/api/users/alice/mail")
        self.assertEqual(mail.status, 200, mail)
        self.assertEqual(mail.json["address"], f"alice@{ZONE}")
        self.assertEqual(mail.json["aliases"], [f"team@{ZONE}"])
        self.assertGreaterEqual(mail.json["messages"], 1)
        # Deleted: mail to it is refused at RCPT again.
        self.assertEqual(self.picd.delete("/api/mail/aliases/team").status, 200)
        self.assertEqual(self.picd.delete("/api/mail/aliases/team").status, 404)
        rc, out = self.swaks("--from", "friend@example.org", "--to", f"team@{ZONE}", port=25, tls=None)
        self.assertIn("550 5.1.1", out)

    def test_09_dkim_signature_verifies_against_the_cells_dns(self):
        records = self.picd.get("/api/mail/dns")
        self.assertEqual(records.status, 200, records)
        self.assertTrue(records.json["published_in_cell_dns"])
        by_type = {(r["name"], r["type"]): r["value"] for r in records.json["records"]}
        self.assertEqual(by_type[(f"{ZONE}.", "MX")], f"10 mail.{ZONE}.")
        self.assertEqual(by_type[(f"{ZONE}.", "TXT")], "v=spf1 mx -all")
        self.assertTrue(by_type[(f"_dmarc.{ZONE}.", "TXT")].startswith("v=DMARC1; p=quarantine"))
        dkim_txt = by_type[(f"pic._domainkey.{ZONE}.", "TXT")]
        self.assertIn("p=MII", dkim_txt)
        dns = self.ips["dns"]
        dig = lambda *q: self.phone.ns.exec("dig", "+short", "+time=2", "+tries=2", f"@{dns}", *q,
                                            check=False).stdout.strip()
        wait_for(lambda: dig("MX", ZONE) == f"10 mail.{ZONE}.", 20, what="the MX record in the cell's DNS")
        self.assertEqual(dig("A", f"mail.{ZONE}"), self.mail_ip)
        self.assertIn("v=DMARC1", dig("TXT", f"_dmarc.{ZONE}"))

        subject = unique("dkim")
        rc, out = self.swaks("--from", self.addr("alice"), "--to", self.addr("carol"), "--header",
                             f"Subject: {subject}", user="alice", password=self.users["alice"][0])
        self.assertEqual(rc, 0, out)
        msg = self.inbox_with("carol", subject)[0]
        self.assertIn("DKIM-Signature:", msg)
        self.assertRegex(msg, r"d=mycell\.cell; s=pic;")
        path = os.path.join(self.phone.tmp, "signed.eml")
        # Dovecot's Return-Path/Delivered-To/Received lines came after signing; the signed part follows them.
        raw = msg.replace("\r\n", "\n").replace("\n", "\r\n")
        with open(path, "w", newline="") as f:
            f.write(raw)
        r = self.phone.ns.exec("/usr/bin/python3", "-c", DKIMVERIFY, path, dns, check=False, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("verified"), r.stdout + r.stderr)
        self.assertIn(f"pic._domainkey.{ZONE}", r.stdout)
        # A changed body no longer verifies: the check is real.
        with open(path, "w", newline="") as f:
            f.write(raw.rstrip("\r\n") + "\r\ntampered\r\n")
        r = self.phone.ns.exec("/usr/bin/python3", "-c", DKIMVERIFY, path, dns, check=False, timeout=60)
        self.assertTrue(r.stdout.startswith("FAILED"), r.stdout + r.stderr)

    def test_10_quota_refuses_clearly_and_loses_nothing(self):
        """Mail from another server (which announces each message's SIZE, as Postfix does) to a mailbox filling up:
        accepted while it fits, then refused at RCPT with 552 5.2.2, before anything is accepted."""
        user = "dave"
        self.users[user] = self.make_user(user)
        r = self.picd.put("/api/config", {"mail.quota_mb": 1})
        self.assertEqual(r.status, 200, r)
        self.addCleanup(lambda: self.picd.put("/api/config", {"mail.quota_mb": 1024}))
        marker = unique("quota")
        results = []
        for i in range(8):
            r = self.phone.ns.exec(sys.executable, "-c", SMTP, self.mail_ip, "friend@example.org", self.addr(user),
                                   f"{marker}-{i}", "1", "300000", check=False, timeout=60 * SLOW)
            self.assertEqual(r.returncode, 0, r.stderr)
            results += json.loads(r.stdout)
            if results[-1]["code"] != 250:
                break
            # Delivered before the next one is offered, as when mail trickles in: each RCPT sees the new usage.
            self.inbox_with(user, results[-1]["subject"])
        accepted = [x["subject"] for x in results if x["code"] == 250]
        refused = [x for x in results if x["code"] != 250]
        self.assertGreaterEqual(len(accepted), 2, results)
        self.assertTrue(refused, results)
        self.assertEqual(refused[0]["code"], 552, refused[0])
        self.assertEqual(refused[0]["reply"], f"5.2.2 <{self.addr(user)}>: Recipient address rejected: Mailbox is full")
        self.assertEqual(refused[0]["stage"], "RCPT")
        # Everything accepted is there, once; nothing waits in the queue.
        msgs = self.inbox_with(user, marker, count=len(accepted))
        self.assertEqual(sorted(re.search(r"^Subject: (.*)$", m, re.M).group(1).strip() for m in msgs), sorted(accepted))
        wait_for(lambda: self.picd.get("/api/services/mail/status").json["queued"] == 0, 30, what="an empty queue")
        mail = self.picd.get(f"/api/users/{user}/mail").json
        self.assertEqual(mail["quota_bytes"], 1024 * 1024)
        self.assertEqual(mail["messages"], len(accepted))
        self.assertGreater(mail["usage_bytes"], 290_000 * len(accepted))
        # The user owns mail now: deleting them names it unless purged; purged, the mailbox is gone.
        r = self.picd.delete(f"/api/users/{user}")
        self.assertEqual(r.status, 409, r)
        self.assertIn(f"{len(accepted)} messages", r.json["error"]["message"])
        self.assertEqual(self.picd.delete(f"/api/users/{user}?purge=true").status, 200)
        self.assertFalse(os.path.exists(os.path.join(self.picd.state_dir, "data", "mail", "users", user)))

    def test_11_kill9_loses_and_duplicates_nothing(self):
        """Messages accepted while delivery cannot happen wait in Postfix's queue; kill -9 of Postfix and Dovecot then,
        and after their restart every accepted message is in the mailbox exactly once."""
        user = "erin"
        self.users[user] = self.make_user(user)
        maildir = os.path.join(self.picd.state_dir, "data", "mail", "users", user, "Maildir")
        # The first message creates the mailbox; then its tmp/ is made unwritable, so LMTP answers 4xx and Postfix
        # keeps each accepted message queued.
        first = unique("k9first")
        rc, out = self.swaks("--from", "friend@example.org", "--to", self.addr(user), "--header", f"Subject: {first}",
                             port=25, tls=None)
        self.assertEqual(rc, 0, out)
        self.inbox_with(user, first)
        tmpdir = os.path.join(maildir, "tmp")
        os.chmod(tmpdir, 0o500)
        restored = False

        def restore():
            if not restored:
                os.chmod(tmpdir, 0o700)
        self.addCleanup(restore)
        marker = unique("k9")
        n = 6
        for i in range(n):
            rc, out = self.swaks("--from", "friend@example.org", "--to", self.addr(user), "--header",
                                 f"Subject: {marker}-{i}", port=25, tls=None)
            self.assertEqual(rc, 0, out)

        def queued():
            st = self.picd.get("/api/services/mail/status")
            return st.json["queued"] >= n and st.json
        wait_for(queued, 30, interval=0.3, what="the messages waiting in Postfix's queue")
        pids = {s: self.service(s)["pid"] for s in ("mail", "mail-imap")}
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        os.chmod(tmpdir, 0o700)
        restored = True
        for s, old in pids.items():
            wait_for(lambda: self.service(s)["state"] == "running" and self.service(s)["pid"] != old, 30,
                     what=f"{s} restarted")
        msgs = self.inbox_with(user, marker, count=n, timeout=90)
        subjects = sorted(re.search(r"^Subject: (.*)$", m, re.M).group(1).strip() for m in msgs)
        self.assertEqual(subjects, sorted(f"{marker}-{i}" for i in range(n)))
        wait_for(lambda: self.picd.get("/api/services/mail/status").json["queued"] == 0, 30, what="an empty queue")

    def test_12_peer_without_the_mail_grant_cannot_connect(self):
        tv, _, _ = self.make_phone([], 1)
        r = tv.ns.exec("swaks", "--server", self.mail_ip, "--port", "587", "--timeout", "3", "--quit-after", "CONNECT",
                       check=False, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("220 ", r.stdout)

    def test_14_cli(self):
        cli = self.picd.cli("mail", "alias-add", "friends", "alice,carol")
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn(f"Mail to friends@{ZONE} now reaches alice, carol.", cli.stdout)
        cli = self.picd.cli("mail", "aliases")
        self.assertRegex(cli.stdout, rf"friends@{re.escape(ZONE)}\s+alice, carol")
        cli = self.picd.cli("mail", "user", "alice")
        self.assertIn(f"address   alice@{ZONE}", cli.stdout)
        self.assertIn(f"friends@{ZONE}", cli.stdout)
        cli = self.picd.cli("mail", "dns")
        self.assertIn(f"{ZONE}. 300 IN MX 10 mail.{ZONE}.", cli.stdout)
        self.assertIn(f"pic._domainkey.{ZONE}. 300 IN TXT v=DKIM1;", cli.stdout)
        cli = self.picd.cli("mail", "alias-rm", "friends")
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertEqual(self.picd.get("/api/mail/aliases").json, {"aliases": []})
        cli = self.picd.cli("mail", "alias-rm", "friends")
        self.assertNotEqual(cli.returncode, 0)

    def test_13_services_logs_and_settings(self):
        names = {s["name"]: s for s in self.picd.get("/api/services").json["services"]}
        for n in ("mail", "mail-imap", "mail-dkim"):
            self.assertEqual(names[n]["state"], "running", names[n])
        logs = self.picd.get("/api/services/mail/logs")
        self.assertEqual(logs.status, 200, logs)
        self.assertIn("postfix", json.dumps(logs.json))
        self.assertError(self.picd.put("/api/config", {"mail.domain": "Bad Domain"}), 400, "mail.domain")
        self.assertError(self.picd.put("/api/config", {"mail.relay_host": "a b"}), 400, "mail.relay_host")
        # No secret of the mail stack is readable by anyone but root.
        key = os.path.join(self.picd.state_dir, "keys", "mail", "dkim", "pic.private")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0)


if __name__ == "__main__":
    pic.main()
