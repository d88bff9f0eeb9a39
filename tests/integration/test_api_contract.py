"""The API contract: api/openapi.yaml describes exactly the routes in picd's route table, with the same
auth requirement; and every /api/ route except login answers 401 without credentials (generated from
the table, so a new route cannot escape it)."""
import os
import re
import subprocess
import unittest

from pic import PICD, SOURCE, PicdTestCase, main


def route_table():
    out = subprocess.run([PICD, "--list-routes"], check=True, capture_output=True, text=True).stdout
    routes = []
    for line in out.splitlines():
        parts = line.split()
        routes.append({"method": parts[0], "path": parts[1], "auth": parts[2], "local": "local-only" in parts[3:]})
    return routes


def openapi_operations():
    """(METHOD, path) -> {auth, local} read from the YAML by its indentation (no YAML library needed)."""
    ops, path, method = {}, None, None
    with open(os.path.join(SOURCE, "api", "openapi.yaml")) as f:
        in_paths = False
        for line in f:
            if line.startswith("paths:"):
                in_paths = True
                continue
            if not in_paths:
                continue
            m = re.match(r"^  (/\S*):\s*$", line)
            if m:
                path, method = m.group(1), None
                continue
            m = re.match(r"^    (get|put|post|delete|patch):\s*$", line)
            if m and path:
                method = m.group(1).upper()
                ops[(method, path)] = {"auth": None, "local": False}
                continue
            m = re.match(r"^      x-pic-auth:\s*(\w+)", line)
            if m and method:
                ops[(method, path)]["auth"] = m.group(1)
            if re.match(r"^      x-pic-local-only:\s*true", line) and method:
                ops[(method, path)]["local"] = True
    return ops


def concrete(path):
    """A path a client could send for a pattern: placeholders become plausible values."""
    return re.sub(r"\{[^}]+\}", "x1", path)


class ContractTest(unittest.TestCase):
    def test_openapi_matches_route_table(self):
        table = {(r["method"], r["path"]): r for r in route_table()}
        spec = openapi_operations()
        self.assertEqual(sorted(set(table) - set(spec)), [], "routes missing from api/openapi.yaml")
        self.assertEqual(sorted(set(spec) - set(table)), [], "api/openapi.yaml describes routes picd lacks")
        for key, r in table.items():
            self.assertEqual(spec[key]["auth"], r["auth"], f"x-pic-auth of {key}")
            self.assertEqual(spec[key]["local"], r["local"], f"x-pic-local-only of {key}")

    def test_settings_doc_is_generated_from_the_table(self):
        out = subprocess.run([PICD, "--settings-doc"], check=True, capture_output=True, text=True).stdout
        with open(os.path.join(SOURCE, "docs", "settings.md")) as f:
            self.assertEqual(f.read(), out, "docs/settings.md is stale: regenerate with picd --settings-doc")

    def test_every_route_declares_auth(self):
        for r in route_table():
            self.assertIn(r["auth"], ("public", "self", "read", "write", "admin"), r)
        public = sorted((r["method"], r["path"]) for r in route_table() if r["auth"] == "public")
        self.assertEqual(public, [("GET", "/health"), ("POST", "/api/auth/login")])


class UnauthenticatedTest(PicdTestCase):
    def test_every_protected_route_is_401_without_credentials(self):
        for r in route_table():
            if r["auth"] == "public":
                continue
            body = {} if r["method"] in ("POST", "PUT") else None
            resp = self.picd.request(r["method"], concrete(r["path"]), body=body, auth=False)
            with self.subTest(route=f"{r['method']} {r['path']}"):
                self.assertError(resp, 401)

    def test_garbage_credentials_are_401(self):
        for headers in ({"Authorization": "Bearer pic_not-a-real-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="},
                        {"Cookie": "pic_session=forged"}, {"Authorization": "Bearer " + "A" * 500}):
            with self.subTest(headers=headers):
                self.assertError(self.picd.get("/api/config", auth=False, headers=headers), 401)

    def test_unknown_path_404_and_wrong_method_405(self):
        r = self.picd.get("/api/nope")
        self.assertError(r, 404)
        r = self.picd.request("DELETE", "/api/config")
        self.assertError(r, 405)
        self.assertEqual(sorted(x.strip() for x in r.headers["Allow"].split(",")), ["GET", "PUT"])

    def test_health_is_public_json(self):
        r = self.picd.get("/health", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertIn(r.json["status"], ("ok", "degraded"))


if __name__ == "__main__":
    main()
