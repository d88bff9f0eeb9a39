"""The web UI's files as picd serves them, and the two API facts the UI needs: the built index and assets at
/ (cache headers, gzip variant, CSP, no path escapes, /api and /health never shadowed), must_change_password
until the first-start password is replaced, and the grant list with GET /api/peers."""
import gzip
import http.client
import os
import re
import unittest

from pic import BUILD, Picd, PicdTestCase, main


def raw_get(picd, path, headers=None, method="GET"):
    conn = http.client.HTTPConnection(picd.host, picd.port, timeout=30)
    try:
        # skip_accept_encoding: http.client would otherwise send "Accept-Encoding: identity" on its own
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class WebStaticTest(PicdTestCase):
    def index(self):
        status, h, body = raw_get(self.picd, "/")
        self.assertEqual(status, 200)
        return h, body.decode()

    def test_index_is_revalidated_and_locked_down(self):
        h, body = self.index()
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        csp = h["content-security-policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("http", csp)  # no third-party origin
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["x-frame-options"], "DENY")
        # No inline script in the page itself: every <script> has a src on this origin.
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S)
        self.assertTrue(scripts)
        for attrs, inner in scripts:
            self.assertRegex(attrs, r'src="/assets/[^"]+\.js"')
            self.assertEqual(inner.strip(), "")

    def test_assets_are_hashed_long_cached_and_gzipped(self):
        _, body = self.index()
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', body)
        self.assertTrue(any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets)
        for a in assets:
            self.assertRegex(a, r"-[A-Za-z0-9_-]{8}\.(js|css)$")
            status, h, plain = raw_get(self.picd, a)
            self.assertEqual(status, 200)
            self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
            self.assertNotIn("content-encoding", h)
            self.assertEqual(h["vary"], "Accept-Encoding")
            status, h, packed = raw_get(self.picd, a, {"Accept-Encoding": "gzip, deflate, br"})
            self.assertEqual(status, 200)
            self.assertEqual(h["content-encoding"], "gzip")
            self.assertLess(len(packed), len(plain))
            self.assertEqual(gzip.decompress(packed), plain)
            # A reproducible build: no time stamp in the gzip header (bytes 4-7 are its mtime).
            self.assertEqual(packed[4:8], b"\0\0\0\0")
            ctype = "text/javascript" if a.endswith(".js") else "text/css"
            self.assertTrue(h["content-type"].startswith(ctype), h)

    def test_head_and_unknown_paths(self):
        status, h, body = raw_get(self.picd, "/", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        for path in ("/nope.js", "/../state.db", "/assets/../../picd", "/.git/config", "/%2e%2e/x", "/index.html/x"):
            status, h, _ = raw_get(self.picd, path)
            self.assertEqual(status, 404, path)
            self.assertIn("content-security-policy", h)

    def test_files_keep_the_connection(self):
        # A browser loads index, script and stylesheet over one kept-alive connection; a reply queued before
        # libmicrohttpd finished reading the request closed it after every file.
        _, body = self.index()
        paths = ["/", *re.findall(r'(?:src|href)="(/assets/[^"]+)"', body), "/missing.js", "/"]
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=30)
        try:
            for path in paths:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 404 if path == "/missing.js" else 200, path)
                self.assertNotEqual((r.getheader("Connection") or "").lower(), "close", path)
                self.assertIsNotNone(conn.sock, path)
        finally:
            conn.close()

    def test_api_and_health_are_never_shadowed(self):
        status, h, body = raw_get(self.picd, "/health")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/json")
        status, h, body = raw_get(self.picd, "/api/nope")
        self.assertEqual(status, 404)
        self.assertEqual(h["content-type"], "application/json")
        self.assertIn(b'"error"', body)
        self.assertError(self.picd.get("/api/peers", auth=False), 401)
        # a POST to the UI's path is no file request: the API's own 404/405 envelope answers it
        r = self.picd.post("/", {}, auth=False)
        self.assertEqual(r.status, 404, r)

    def test_grant_list_comes_with_the_peers(self):
        r = self.picd.get("/api/peers")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["grants"], ["calendar", "files", "mail", "webdav"])

    def test_must_change_password_until_replaced(self):
        p = self.picd
        r = p.post("/api/auth/login", {"username": "admin", "password": p.admin_password()}, auth=False)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json["must_change_password"], True)
        cookie = r.headers["Set-Cookie"].split(";")[0]
        csrf = r.json["csrf_token"]
        s = p.get("/api/auth/session", auth=False, headers={"Cookie": cookie})
        self.assertIs(s.json["must_change_password"], True)
        old = p.admin_password()
        r = p.put("/api/auth/password", {"current_password": old, "new_password": "a-new-password-1"}, auth=False,
                  headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 200, r)
        s = p.get("/api/auth/session", auth=False, headers={"Cookie": cookie})
        self.assertIs(s.json["must_change_password"], False)
        r = p.post("/api/auth/login", {"username": "admin", "password": "a-new-password-1"}, auth=False)
        self.assertIs(r.json["must_change_password"], False)


class WebMissingTest(unittest.TestCase):
    def test_without_the_ui_the_api_still_runs(self):
        picd = Picd(extra_args=["--web-root", "/nonexistent-pic-web"])
        try:
            picd.start()
            status, h, body = raw_get(picd, "/")
            self.assertEqual(status, 404)
            self.assertIn(b"not installed", body)
            self.assertEqual(raw_get(picd, "/health")[0], 200)
        finally:
            picd.stop()
            picd.cleanup()


if __name__ == "__main__":
    main()
