"""The "local only" layer seen from another host: picd runs in one namespace, a client in another joined by
a veth pair. A spoofed X-Forwarded-For is ignored unless it comes from the configured trusted proxy, and
then only its right-most entry counts. Behind a proxy on the cell's own host, an entry that is not a plain
IPv4 address (IPv6, address:port, garbage, empty) is still the client, never the proxy's local address."""
import json
import unittest

from pic import ApiAssertions, Netns, Picd, PicdTestCase, Response, main, run, veth_pair

SERVER_IP, CLIENT_IP = "192.168.250.1", "192.168.250.2"


class XffTest(unittest.TestCase, ApiAssertions):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.client = Netns(), Netns()
        veth_pair(cls.server.name, SERVER_IP + "/24", cls.client.name, CLIENT_IP + "/24")
        cls.picd = Picd(listen_host=SERVER_IP, run_in_netns=cls.server.name).start(wait=False)
        cls.token = None
        try:
            from pic import wait_for
            wait_for(lambda: cls.curl(cls.client, "GET", "/health").status == 200, 20, what="picd via veth")
            r = cls.curl(cls.client, "POST", "/api/auth/login",
                         body={"username": "admin", "password": cls.picd.admin_password()})
            cookie = r.headers["set-cookie"].split(";")[0]
            r = cls.curl(cls.client, "POST", "/api/auth/tokens", body={"name": "xff", "scope": "admin"},
                         headers={"Cookie": cookie, "X-CSRF-Token": r.json["csrf_token"]})
            cls.token = r.json["token"]
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.picd.cleanup()
        cls.client.delete()
        cls.server.delete()

    @classmethod
    def curl(cls, ns, method, path, body=None, headers=None, token=None):
        argv = ["curl", "-s", "-i", "--max-time", "20", "-X", method]
        for k, v in (headers or {}).items():
            argv += ["-H", f"{k}: {v}"]
        if token:
            argv += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        out = ns.exec(*argv, f"http://{SERVER_IP}:{cls.picd.port}{path}", check=False).stdout
        head, _, text = out.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return Response(status, hdrs, text)

    def apply(self, xff=None):
        headers = {"X-Forwarded-For": xff} if xff else {}
        return self.curl(self.client, "POST", "/api/config/apply", headers=headers, token=self.token)

    def set_proxy(self, ip):
        r = self.curl(self.client, "PUT", "/api/config", body={"api": {"trusted_proxy": ip}}, token=self.token)
        self.assertEqual(r.status, 200, r)

    def test_1_remote_client_is_not_local(self):
        self.assertError(self.apply(), 403)
        self.assertEqual(self.apply().json["error"]["code"], "local_only")

    def test_2_spoofed_xff_is_ignored_without_trusted_proxy(self):
        for xff in ("127.0.0.1", "10.0.0.2", "127.0.0.1, 127.0.0.1"):
            with self.subTest(xff=xff):
                self.assertError(self.apply(xff), 403)

    def test_3_trusted_proxy_rightmost_entry_only(self):
        self.set_proxy(CLIENT_IP)
        try:
            # the proxy appended 127.0.0.1 (right-most): believed
            self.assertEqual(self.apply("203.0.113.7, 127.0.0.1").status, 200)
            # a client-supplied 127.0.0.1 further left is not what the proxy saw
            self.assertError(self.apply("127.0.0.1, 203.0.113.7"), 403)
            self.assertError(self.apply("not-an-ip"), 403)
        finally:
            self.set_proxy("")
        self.assertError(self.apply("127.0.0.1"), 403)

    def login_cookie(self, proto):
        r = self.curl(self.client, "POST", "/api/auth/login", headers={"X-Forwarded-Proto": proto},
                      body={"username": "admin", "password": self.picd.admin_password()})
        self.assertEqual(r.status, 200, r)
        return r.headers["set-cookie"]

    def test_3b_secure_cookie_only_behind_a_trusted_https_proxy(self):
        self.assertNotIn("Secure", self.login_cookie("https"))  # anyone can send the header
        self.set_proxy(CLIENT_IP)
        try:
            self.assertIn("; Secure", self.login_cookie("https"))
            self.assertNotIn("Secure", self.login_cookie("http"))
        finally:
            self.set_proxy("")

    def test_4_audit_records_the_believed_address(self):
        entries = self.curl(self.client, "GET", "/api/audit?limit=50", token=self.token).json["entries"]
        remotes = {e["remote"] for e in entries if e["path"] == "/api/config/apply"}
        self.assertIn(CLIENT_IP, remotes)       # direct calls: the socket peer
        self.assertIn("127.0.0.1", remotes)     # through the trusted proxy: its right-most entry
        self.assertNotIn("10.0.0.2", remotes)   # spoofed while no proxy was trusted: never believed


class XffLocalProxyTest(PicdTestCase):
    """The trusted proxy runs on the cell's host (127.0.0.1), so its own address is local: only what it
    forwards decides whether the client is."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.picd.put("/api/config", {"api": {"trusted_proxy": "127.0.0.1"}})
        assert r.status == 200, r

    def apply(self, xff):
        return self.picd.post("/api/config/apply", headers={"X-Forwarded-For": xff})

    def login(self, xff, password):
        return self.picd.request("POST", "/api/auth/login", auth=False, headers={"X-Forwarded-For": xff},
                                 body={"username": "admin", "password": password})

    def test_1_unparsable_or_remote_forwarded_entries_are_not_local(self):
        for xff in ("2001:db8::1", "203.0.113.9:4444", "[2001:db8::1]:443", "garbage", "", "1.2.3.4, ",
                    "::ffff:203.0.113.9", "127.0.0.1:0", "[127.0.0.1]", "::1%lo"):
            with self.subTest(xff=xff):
                r = self.apply(xff)
                self.assertError(r, 403)
                self.assertEqual(r.json["error"]["code"], "local_only")

    def test_2_local_forwarded_entries_in_any_form_are_local(self):
        for xff in ("127.0.0.1", "::1", "[::1]:8080", "127.0.0.1:5555", "203.0.113.9, ::ffff:127.0.0.1"):
            with self.subTest(xff=xff):
                self.assertEqual(self.apply(xff).status, 200)

    def test_3_audit_names_the_forwarded_client(self):
        self.apply("2001:DB8:0::7")
        self.apply("203.0.113.9:4444")
        self.apply("garbage")
        entries = self.picd.get("/api/audit?limit=100").json["entries"]
        remotes = {e["remote"] for e in entries if e["path"] == "/api/config/apply"}
        self.assertIn("2001:db8::7", remotes)   # canonical form
        self.assertIn("203.0.113.9", remotes)   # the proxy's port is not part of the client
        self.assertIn("xff:garbage", remotes)   # unparsable: recorded as such, not as the proxy

    def test_4_unparsable_clients_do_not_share_the_proxys_rate_limit_bucket(self):
        for _ in range(5):
            self.assertEqual(self.login("garbage", "wrong-password").status, 401)
        # that client is limited ...
        self.assertEqual(self.login("garbage", self.picd.admin_password()).status, 429)
        # ... but not every other client whose entry is not a plain IPv4 address, nor the proxy itself
        for xff in ("2001:db8::1", "203.0.113.9:4444", "", "other-garbage", "127.0.0.1"):
            with self.subTest(xff=xff):
                self.assertEqual(self.login(xff, self.picd.admin_password()).status, 200)


if __name__ == "__main__":
    main()
