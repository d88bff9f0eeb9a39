"""The outbound relay's login (PUT/GET/DELETE /api/mail/relay, `pic mail relay`): a real SMTP relay (Debian's
aiosmtpd, STARTTLS with a certificate the test makes, one accepted login) in a namespace of the test's own, joined
to the cell's. Mail a user submits to an outside address reaches the relay logged in as the stored user; a refused
login or a relay without STARTTLS keeps the mail queued and never gets the password; backups carry the login."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pic  # noqa: E402
from pic import Netns, PicdTestCase, SLOW, run, unique, veth_pair, wait_for  # noqa: E402

CONNECTS = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()"
ZONE = "mycell.cell"
RELAY_IP = "10.78.0.2"
TLS_PORT, PLAIN_PORT = 2525, 2526
RELAY_USER = "cell@relay.example"
RELAY_PASSWORD = "S3cret:relay!pass"

# Runs in the relay's namespace: an SMTP relay that requires AUTH (PLAIN/LOGIN) and accepts one login. argv: ip, port,
# mode (starttls: STARTTLS required before AUTH; plain: AUTH offered in the clear, no TLS), cert, key, user,
# password, log. Every AUTH attempt and every message is one JSON line in the log.
RELAY = r"""
import asyncio, json, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
ip, port, mode, cert, key, user, password, log = sys.argv[1:9]
def record(obj):
    with open(log, "a") as f:
        f.write(json.dumps(obj) + "\n")
def authenticator(server, session, envelope, mechanism, data):
    login = data.login.decode() if isinstance(data, LoginPassword) else None
    ok = login == user and data.password.decode() == password
    record({"event": "auth", "mechanism": mechanism, "login": login, "ok": ok, "tls": session.ssl is not None,
            "password_seen": data.password.decode() if isinstance(data, LoginPassword) else None})
    return AuthResult(success=ok, handled=False, auth_data=login)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        record({"event": "message", "auth": session.auth_data, "from": envelope.mail_from,
                "to": envelope.rcpt_tos, "data": envelope.content.decode(errors="replace")})
        return "250 2.0.0 relayed"
ctx = None
if mode == "starttls":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
def factory():
    return SMTP(Handler(), hostname="relay.example", tls_context=ctx, require_starttls=mode == "starttls",
                auth_required=True, auth_require_tls=mode == "starttls", authenticator=authenticator)
loop = asyncio.new_event_loop()
loop.run_until_complete(loop.create_server(factory, ip, int(port)))
loop.run_forever()
"""


def events(path, kind):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [e for e in (json.loads(l) for l in f if l.strip()) if e["event"] == kind]


class MailRelayTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.procs, cls.ns, cls.tmp = [], None, tempfile.mkdtemp(prefix="relay-")
        try:
            cfg = cls.picd.get("/api/config").json
            cls.mail_ip = cfg["service_ips"]["mail"]
            for name in ("mail", "mail-imap", "mail-dkim"):
                wait_for(lambda: cls.service(name)["state"] == "running", 30, what=f"{name} running")
            for port in (587,):
                wait_for(lambda: run("ip", "netns", "exec", cls.picd.netns, sys.executable, "-c", CONNECTS,
                                     cls.mail_ip, str(port), check=False).returncode == 0, 30,
                         interval=0.3, what=f"the mail address answering on port {port}")
            r = cls.picd.get("/api/ca?format=pem")
            assert r.status == 200, r
            cls.root = os.path.join(cls.tmp, "root.pem")
            with open(cls.root, "w") as f:
                f.write(r.body)
            r = cls.picd.post("/api/users", {"name": "alice", "password": "alice-password-123", "role": "user"})
            assert r.status == 201, r
            r = cls.picd.post("/api/users/alice/app-passwords", {"label": "laptop"})
            assert r.status == 201, r
            cls.alice = r.json["password"]
            # The relay: its own namespace on a link to the cell's, a self-made certificate, two listeners.
            cls.ns = Netns(unique("relay"))
            veth_pair(cls.picd.netns, "10.78.0.1/24", cls.ns.name, f"{RELAY_IP}/24")
            cls.cert, cls.key = os.path.join(cls.tmp, "relay.pem"), os.path.join(cls.tmp, "relay.key")
            run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", cls.key, "-out", cls.cert, "-days", "1", "-subj", "/CN=relay.example")
            cls.tls_log, cls.plain_log = os.path.join(cls.tmp, "tls.log"), os.path.join(cls.tmp, "plain.log")
            for port, mode, log in ((TLS_PORT, "starttls", cls.tls_log), (PLAIN_PORT, "plain", cls.plain_log)):
                cls.procs.append(cls.ns.popen(sys.executable, "-c", RELAY, RELAY_IP, str(port), mode, cls.cert, cls.key,
                                              RELAY_USER, RELAY_PASSWORD, log,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_for(lambda: run("ip", "netns", "exec", cls.picd.netns, sys.executable, "-c", CONNECTS, RELAY_IP,
                                     str(port), check=False).returncode == 0, 20, interval=0.2,
                         what=f"the relay listening on {port}")
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for p in cls.procs:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
            if cls.ns:
                cls.ns.delete()
            shutil.rmtree(cls.tmp, ignore_errors=True)
        finally:
            super().tearDownClass()

    @classmethod
    def service(cls, name):
        return next(s for s in cls.picd.get("/api/services").json["services"] if s["name"] == name)

    def state(self, *parts):
        return os.path.join(self.picd.state_dir, *parts)

    def send(self, subject, to="friend@outside.example"):
        """alice submits on 587 (STARTTLS, her app password) from inside the cell's namespace."""
        r = run("ip", "netns", "exec", self.picd.netns, "swaks", "--server", self.mail_ip, "--port", "587", "--timeout",
                "20", "--helo", "laptop.example", "-tls", "--tls-verify", "--tls-ca-path", self.root, "--auth", "PLAIN",
                "--auth-user", "alice", "--auth-password", self.alice, "--from", f"alice@{ZONE}", "--to", to,
                "--header", f"Subject: {subject}", check=False, timeout=90 * SLOW)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"250 2\.0\.0 Ok: queued")

    def relayed(self, log, subject):
        return [m for m in events(log, "message") if f"Subject: {subject}" in m["data"]]

    def queue(self):
        return self.picd.get("/api/services/mail/status").json

    def set_config(self, **kv):
        r = self.picd.put("/api/config", {f"mail.{k}": v for k, v in kv.items()})
        self.assertEqual(r.status, 200, r)

    def put_login(self, password=RELAY_PASSWORD, user=RELAY_USER):
        r = self.picd.put("/api/mail/relay", {"username": user, "password": password})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(password, r.body)
        return r.json

    def assertNoPasswordShown(self, password=RELAY_PASSWORD):
        for path in ("/api/mail/relay", "/api/config", "/api/config/settings", "/api/audit",
                     "/api/services/mail/logs?lines=500"):
            r = self.picd.get(path)
            self.assertEqual(r.status, 200, (path, r))
            self.assertNotIn(password, r.body, path)

    def mail_logs(self):
        return json.dumps(self.picd.get("/api/services/mail/logs?lines=60").json)

    # -- tests ---------------------------------------------------------------------------------------------
    def test_01_bad_input_is_400_naming_the_field_and_changes_nothing(self):
        before = self.picd.get("/api/mail/relay").json
        self.assertEqual((before["password_set"], before["username"], before["in_use"]), (False, None, False))
        for body, field in (({"username": "a b", "password": "x"}, "username"),
                            ({"username": "a:b", "password": "x"}, "username"),
                            ({"username": "", "password": "x"}, "username"),
                            ({"username": "u" * 256, "password": "x"}, "username"),
                            ({"username": 7, "password": "x"}, "username"),
                            ({"password": "x"}, "username"),
                            ({"username": "u", "password": ""}, "password"),
                            ({"username": "u", "password": "two words"}, "password"),
                            ({"username": "u", "password": "line\nbreak"}, "password"),
                            ({"username": "u", "password": "p\u00e4ss"}, "password"),
                            ({"username": "u", "password": "p" * 256}, "password"),
                            ({"username": "u", "password": "x", "host": "evil.example"}, "host")):
            self.assertError(self.picd.put("/api/mail/relay", body), 400, field)
        self.assertError(self.picd.put("/api/config", {"mail.relay_tls": "none"}), 400, "mail.relay_tls")
        self.assertEqual(self.picd.get("/api/mail/relay").json, before)
        self.assertFalse(os.path.exists(self.state("keys", "mail", "relay-login")))
        self.assertError(self.picd.delete("/api/mail/relay"), 404)
        # A user's session is not enough even to read it.
        r = self.picd.post("/api/auth/login", {"username": "alice", "password": "alice-password-123"}, auth=False)
        self.assertEqual(r.status, 200, r)
        cookie = r.headers["Set-Cookie"].split(";")[0]
        r = self.picd.request("GET", "/api/mail/relay", auth=False, headers={"Cookie": cookie})
        self.assertEqual(r.status, 403, r)

    def test_02_mail_is_relayed_logged_in_as_the_stored_user(self):
        self.set_config(relay_host=RELAY_IP, relay_port=TLS_PORT, relay_tls="encrypt")
        got = self.put_login()
        self.assertEqual(got, {"host": RELAY_IP, "port": TLS_PORT, "tls": "encrypt", "username": RELAY_USER,
                               "password_set": True, "in_use": True})
        for rel in (("keys", "mail", "relay-login"), ("etc", "mail", "relay-login")):
            st = os.stat(self.state(*rel))
            self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o600, 0), rel)
        with open(self.state("etc", "mail", "main.cf")) as f:
            main_cf = f.read()
        self.assertNotIn(RELAY_PASSWORD, main_cf)
        self.assertIn("smtp_tls_security_level = encrypt\n", main_cf)
        self.assertNoPasswordShown()
        subject = unique("relayed")
        self.send(subject)
        msgs = wait_for(lambda: self.relayed(self.tls_log, subject), 60, interval=0.3,
                        what="the message at the relay")
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(msgs[0]["auth"], RELAY_USER)
        self.assertEqual(msgs[0]["to"], ["friend@outside.example"])
        self.assertEqual(msgs[0]["from"], f"alice@{ZONE}")
        self.assertIn("DKIM-Signature:", msgs[0]["data"])
        # The password went only inside TLS.
        self.assertTrue(all(a["tls"] for a in events(self.tls_log, "auth")), events(self.tls_log, "auth"))
        wait_for(lambda: self.queue()["queued"] == 0, 30, what="an empty queue")

    def test_03_wrong_password_defers_and_the_right_one_delivers_once(self):
        self.set_config(relay_host=RELAY_IP, relay_port=TLS_PORT, relay_tls="encrypt")
        self.put_login(password="wrong-password")
        failed_before = len([a for a in events(self.tls_log, "auth") if not a["ok"]])
        subject = unique("deferred")
        self.send(subject)
        wait_for(lambda: len([a for a in events(self.tls_log, "auth") if not a["ok"]]) > failed_before, 60,
                 interval=0.3, what="the relay refusing the wrong login")
        # Deferred, not bounced: it waits in the queue and alice got no failure notice.
        wait_for(lambda: self.queue()["deferred"] >= 1, 30, interval=0.3, what="the message deferred")
        time.sleep(2)
        self.assertEqual(self.relayed(self.tls_log, subject), [])
        self.assertEqual(self.picd.get("/api/users/alice/mail").json["messages"], 0)
        # The right password: retried at once (no waiting for the queue's next run), delivered exactly once.
        self.put_login()
        wait_for(lambda: self.relayed(self.tls_log, subject), 30, interval=0.3, what="the message at the relay")
        wait_for(lambda: self.queue()["queued"] == 0, 30, what="an empty queue")
        time.sleep(2)
        msgs = self.relayed(self.tls_log, subject)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(msgs[0]["auth"], RELAY_USER)
        self.assertEqual(self.picd.get("/api/users/alice/mail").json["messages"], 0)

    def test_04_no_tls_no_password(self):
        """A relay that offers no STARTTLS (but would take AUTH in the clear), and one whose certificate is not from
        a CA the system trusts while mail.relay_tls is verify: neither is sent the password; the mail waits."""
        self.put_login()
        self.set_config(relay_host=RELAY_IP, relay_port=PLAIN_PORT, relay_tls="encrypt")
        subject = unique("notls")
        self.send(subject)
        wait_for(lambda: "TLS is required, but was not offered" in self.mail_logs(), 60, interval=0.5,
                 what="postfix refusing the relay without TLS")
        self.assertEqual(events(self.plain_log, "auth"), [])
        self.assertEqual(events(self.plain_log, "message"), [])
        self.assertGreaterEqual(self.queue()["deferred"], 1)

        tls_auths = len(events(self.tls_log, "auth"))
        self.set_config(relay_port=TLS_PORT, relay_tls="verify")
        with open(self.state("etc", "mail", "main.cf")) as f:
            self.assertIn("smtp_tls_security_level = secure\n", f.read())
        self.put_login()  # retries the queue now
        wait_for(lambda: re.search(r"certificate verification failed|Server certificate not trusted|"
                                   r"Server certificate not verified", self.mail_logs()), 60, interval=0.5,
                 what="postfix refusing the relay's untrusted certificate")
        self.assertEqual(len(events(self.tls_log, "auth")), tls_auths)
        self.assertEqual(self.relayed(self.tls_log, subject), [])

        # Back to encrypt: the waiting message goes, once.
        self.set_config(relay_tls="encrypt")
        self.put_login()
        wait_for(lambda: self.relayed(self.tls_log, subject), 60, interval=0.3, what="the message at the relay")
        wait_for(lambda: self.queue()["queued"] == 0, 30, what="an empty queue")
        self.assertEqual(len(self.relayed(self.tls_log, subject)), 1)
        self.assertEqual(events(self.plain_log, "auth"), [])

    def test_05_backup_carries_the_login(self):
        self.put_login()
        r = self.picd.post("/api/config/backup")
        self.assertEqual(r.status, 201, r)
        bid = r.json["id"]
        with tarfile.open(self.state("backups", bid + ".tar.gz"), "r:gz") as t:
            m = t.getmember("keys/mail/relay-login")
            self.assertEqual(stat.S_IMODE(m.mode), 0o600)
            self.assertEqual(t.extractfile(m).read().decode(), f"{RELAY_USER}:{RELAY_PASSWORD}\n")
        r = self.picd.delete("/api/mail/relay")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["password_set"], r.json["username"], r.json["in_use"]), (False, None, False))
        self.assertFalse(os.path.exists(self.state("keys", "mail", "relay-login")))
        with open(self.state("etc", "mail", "main.cf")) as f:
            self.assertNotIn("smtp_sasl", f.read())
        with open(self.state("etc", "mail", "relay-login")) as f:
            self.assertEqual(f.read(), "")
        self.assertError(self.picd.delete("/api/mail/relay"), 404)
        r = self.picd.post(f"/api/config/restore/{bid}", timeout=120 * SLOW)
        self.assertEqual(r.status, 200, r)
        got = self.picd.get("/api/mail/relay").json
        self.assertEqual((got["username"], got["password_set"]), (RELAY_USER, True))
        st = os.stat(self.state("keys", "mail", "relay-login"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.state("etc", "mail", "main.cf")) as f:
            self.assertIn("smtp_sasl_auth_enable = yes\n", f.read())

    def test_06_cli_reads_the_password_from_stdin_never_argv(self):
        sock = os.path.join(self.picd.state_dir, "run", "picd.sock")
        r = run(pic.PIC, "--socket", sock, "mail", "relay", "set", "cli-user", input="cli-pass:word\n", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("login     cli-user", r.stdout)
        self.assertIn("password  set", r.stdout)
        self.assertNotIn("cli-pass", r.stdout + r.stderr)
        with open(self.state("keys", "mail", "relay-login")) as f:
            self.assertEqual(f.read(), "cli-user:cli-pass:word\n")
        r = run(pic.PIC, "--socket", sock, "mail", "relay", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"relay     {RELAY_IP} port", r.stdout)
        r = run(pic.PIC, "--socket", sock, "mail", "relay", "set", "bad user", input="x\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("username", r.stderr + r.stdout)
        r = run(pic.PIC, "--socket", sock, "mail", "relay", "clear", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("login     none", r.stdout)
        self.assertIn("password  not set", r.stdout)


if __name__ == "__main__":
    pic.main()
