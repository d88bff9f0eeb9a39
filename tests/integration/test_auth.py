"""Authentication and authorisation as a user meets them: the first-start password file, login sessions
with CSRF, scoped and revocable tokens, the login rate limit, password change ending other sessions."""
import os
import stat
import unittest

from pic import ApiAssertions, Picd, PicdTestCase, main, unique


class AuthTest(PicdTestCase):
    def test_initial_password_file_is_private(self):
        path = os.path.join(self.picd.state_dir, "initial-admin-password")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertGreaterEqual(len(self.picd.admin_password()), 20)

    def test_login_sets_strict_httponly_cookie(self):
        r = self.picd.post("/api/auth/login", {"username": "admin", "password": self.picd.admin_password()}, auth=False)
        self.assertEqual(r.status, 200, r)
        cookie = r.headers["Set-Cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertTrue(r.json["csrf_token"])

    def test_wrong_password_is_401(self):
        r = self.picd.post("/api/auth/login", {"username": "admin", "password": "wrong"}, auth=False,
                           headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertError(r, 401)
        r = self.picd.post("/api/auth/login", {"username": "nobody", "password": "x"}, auth=False)
        self.assertError(r, 401)
        self.assertError(self.picd.post("/api/auth/login", {"username": "admin"}, auth=False), 400, "password")

    def test_session_reads_and_csrf_guards_writes(self):
        cookie, csrf = self.picd.login()
        r = self.picd.get("/api/config", auth=False, headers={"Cookie": cookie})
        self.assertEqual(r.status, 200, r)
        # a cookie alone cannot change anything: the CSRF token is required and must match
        r = self.picd.put("/api/config", {"cell_name": "csrf1"}, auth=False, headers={"Cookie": cookie})
        self.assertError(r, 403)
        r = self.picd.put("/api/config", {"cell_name": "csrf1"}, auth=False,
                          headers={"Cookie": cookie, "X-CSRF-Token": "x" * 40})
        self.assertError(r, 403)
        self.assertEqual(self.picd.get("/api/config").json["cell_name"], "mycell")
        r = self.picd.put("/api/config", {"cell_name": "csrf2"}, auth=False,
                          headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 200, r)
        self.picd.put("/api/config", {"cell_name": "mycell"})

    def test_logout_ends_the_session(self):
        cookie, csrf = self.picd.login()
        r = self.picd.post("/api/auth/logout", auth=False, headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 200, r)
        self.assertError(self.picd.get("/api/config", auth=False, headers={"Cookie": cookie}), 401)

    def test_read_token_cannot_write(self):
        read = self.picd.make_token("read")
        self.assertEqual(self.picd.get("/api/config", token=read).status, 200)
        self.assertError(self.picd.put("/api/config", {"cell_name": "nope"}, token=read), 403)
        self.assertError(self.picd.get("/api/auth/tokens", token=read), 403)
        self.assertEqual(self.picd.get("/api/config").json["cell_name"], "mycell")

    def test_write_token_cannot_administer(self):
        write = self.picd.make_token("write")
        r = self.picd.put("/api/config", {"cell_name": "w1"}, token=write)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.picd.post("/api/auth/tokens", {"name": "x", "scope": "admin"}, token=write), 403)
        self.assertError(self.picd.get("/api/audit", token=write), 403)
        self.picd.put("/api/config", {"cell_name": "mycell"})

    def test_token_is_shown_once_and_listed_without_secret(self):
        r = self.picd.post("/api/auth/tokens", {"name": "ci", "scope": "read", "expires_in_days": 1})
        self.assertEqual(r.status, 201, r)
        token = r.json["token"]
        listed = self.picd.get("/api/auth/tokens").json["tokens"]
        mine = [t for t in listed if t["id"] == r.json["id"]][0]
        self.assertNotIn("token", mine)
        self.assertNotIn(token, str(listed))
        self.assertTrue(token.startswith(mine["prefix"]))

    def test_token_validation(self):
        for body, field in (({"name": "Bad Name", "scope": "read"}, "name"), ({"name": "ok", "scope": "root"}, "scope"),
                            ({"name": "ok", "scope": "read", "expires_in_days": -1}, "expires_in_days"),
                            ({"name": "ok", "scope": "read", "expires_in_days": "7"}, "expires_in_days")):
            with self.subTest(body=body):
                self.assertError(self.picd.post("/api/auth/tokens", body), 400, field)

    def test_revoked_token_is_401(self):
        r = self.picd.post("/api/auth/tokens", {"name": "gone", "scope": "read"})
        token, tid = r.json["token"], r.json["id"]
        self.assertEqual(self.picd.get("/api/config", token=token).status, 200)
        self.assertEqual(self.picd.delete(f"/api/auth/tokens/{tid}").status, 200)
        self.assertError(self.picd.get("/api/config", token=token), 401)
        self.assertError(self.picd.delete(f"/api/auth/tokens/{tid}"), 404)
        self.assertError(self.picd.delete("/api/auth/tokens/abc"), 400, "id")

    def test_session_endpoint(self):
        r = self.picd.get("/api/auth/session")
        self.assertEqual(r.json["kind"], "token")
        self.assertEqual(r.json["scope"], "admin")


class PasswordAndRateLimitTest(unittest.TestCase, ApiAssertions):
    """Own picd: these tests change the password and trip the rate limit."""

    def setUp(self):
        self.picd = Picd().start()

    def tearDown(self):
        self.picd.cleanup()

    def test_password_change_ends_other_sessions(self):
        old = self.picd.admin_password()
        other_cookie, _ = self.picd.login()
        cookie, csrf = self.picd.login()
        h = {"Cookie": cookie, "X-CSRF-Token": csrf}
        r = self.picd.put("/api/auth/password", {"current_password": "wrong-password", "new_password": "n" * 12},
                          auth=False, headers=h)
        self.assertError(r, 403, "current_password")
        r = self.picd.put("/api/auth/password", {"current_password": old, "new_password": "short"}, auth=False, headers=h)
        self.assertError(r, 400, "new_password")
        new = "correct horse battery staple"
        r = self.picd.put("/api/auth/password", {"current_password": old, "new_password": new}, auth=False, headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["sessions_ended"], 1)
        self.assertError(self.picd.get("/api/config", auth=False, headers={"Cookie": other_cookie}), 401)
        self.assertEqual(self.picd.get("/api/config", auth=False, headers={"Cookie": cookie}).status, 200)
        self.assertFalse(os.path.exists(os.path.join(self.picd.state_dir, "initial-admin-password")))
        self.assertError(self.picd.post("/api/auth/login", {"username": "admin", "password": old}, auth=False), 401)
        self.picd.login(password=new)

    def test_failed_logins_are_rate_limited(self):
        for _ in range(5):
            r = self.picd.post("/api/auth/login", {"username": "admin", "password": "guess"}, auth=False)
            self.assertError(r, 401)
        r = self.picd.post("/api/auth/login", {"username": "admin", "password": self.picd.admin_password()}, auth=False)
        self.assertError(r, 429)
        self.assertGreater(int(r.headers["Retry-After"]), 0)
        # a spoofed X-Forwarded-For does not buy a fresh budget: no trusted proxy is configured
        r = self.picd.post("/api/auth/login", {"username": "admin", "password": "guess"}, auth=False,
                           headers={"X-Forwarded-For": "198.51.100." + unique("x")[-2:]})
        self.assertError(r, 429)


if __name__ == "__main__":
    main()
