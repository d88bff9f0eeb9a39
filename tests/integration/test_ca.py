"""The cell CA with a real picd, checked with the openssl CLI: the root's critical name constraints refuse a leaf
for any other name or address (made here with the root's own key), the services' leaves verify, GET /api/ca in
JSON/PEM/DER, `pic ca show`, the peer config naming the download URL and fingerprint, picd never mapping libcrypto
(pic-ca does the X.509 work), the same root after a
restart, re-issue after a cell_name change, short lifetimes renewed automatically, and a restore keeping the root."""
import grp
import http.client
import os
import subprocess
import tempfile
import time

import pic
from pic import PicdTestCase, run, wait_for


class CaTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory(prefix="test-ca-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def ca(self):
        r = self.picd.get("/api/ca")
        self.assertEqual(r.status, 200, r)
        return r.json

    def keyfile(self, *rel):
        return os.path.join(self.picd.state_dir, "keys", "ca", *rel)

    def tmpfile(self, name, text=None):
        p = os.path.join(self.tmp.name, name)
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
        return p

    def leaf_file(self, service):
        leaf = next(l for l in self.ca()["leaves"] if l["service"] == service)
        return self.keyfile("leaves", f"{service}-{leaf['serial']}.pem"), leaf

    def verify(self, cert, *extra):
        return run("openssl", "verify", "-CAfile", self.keyfile("root.pem"), *extra, cert, check=False)

    def forge(self, name, san):
        """A leaf signed with the cell root's own key, for names the test chooses (what a compromised cell could
        try): openssl CLI, independent of picd's code."""
        key, csr, crt = (self.tmpfile(f"{name}.{e}") for e in ("key", "csr", "pem"))
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        run("openssl", "req", "-new", "-key", key, "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
            "-out", csr)
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.keyfile("root.pem"), "-CAkey",
            self.keyfile("root.key"), "-set_serial", str(int(time.time() * 1000)), "-days", "1",
            "-copy_extensions", "copy", "-out", crt)
        return crt

    def test_00_root(self):
        ca = self.ca()
        nc = ca["name_constraints"]
        self.assertTrue(nc["critical"])
        self.assertEqual(nc["permitted_dns"], ["mycell.cell"])
        self.assertEqual(nc["permitted_ip"], ["172.20.0.0/24", "10.0.0.0/24"])
        ips = self.picd.get("/api/config").json["service_ips"]
        self.assertEqual(ca["url"], f"http://{ips['api']}/ca.pem")
        # Ten years.
        self.assertTrue(ca["not_after"].startswith(str(time.gmtime().tm_year + 10)), ca)
        st = os.stat(self.keyfile("root.key"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, 0, 0o600))
        text = run("openssl", "x509", "-in", self.keyfile("root.pem"), "-noout", "-text").stdout
        self.assertIn("X509v3 Name Constraints: critical", text)
        self.assertIn("CA:TRUE", text)
        self.assertIn("ASN1 OID: prime256v1", text)
        fp = run("openssl", "x509", "-in", self.keyfile("root.pem"), "-noout", "-fingerprint", "-sha256").stdout
        self.assertEqual(fp.strip().split("=", 1)[1], ca["fingerprint_sha256"])
        # PEM and DER forms are the same certificate.
        pem = self.picd.get("/api/ca?format=pem")
        self.assertEqual(pem.status, 200)
        self.assertEqual(pem.headers["Content-Type"], "application/x-pem-file")
        self.assertEqual(pem.body, ca["pem"])
        with open(self.keyfile("root.pem")) as f:
            self.assertEqual(f.read(), ca["pem"])
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=30)
        conn.request("GET", "/api/ca?format=der", headers={"Authorization": f"Bearer {self.picd.token}"})
        der = conn.getresponse().read()
        conn.close()
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-fingerprint", "-sha256"], input=der,
                             capture_output=True, check=True).stdout.decode()
        self.assertEqual(out.strip().split("=", 1)[1], ca["fingerprint_sha256"])
        self.assertError(self.picd.get("/api/ca?format=txt"), 400, "format")
        self.assertEqual(self.picd.get("/api/ca", auth=False).status, 401)

    def test_01_service_leaves_verify(self):
        ips = self.picd.get("/api/config").json["service_ips"]
        caddy_gid = grp.getgrnam("caddy").gr_gid
        services = {l["service"] for l in self.ca()["leaves"]}
        self.assertTrue({"api", "dns", "calendar", "files", "mail", "webdav"} <= services, services)
        for service in services:
            path, leaf = self.leaf_file(service)
            r = self.verify(path, "-purpose", "sslserver")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(leaf["ip"], [ips[service] + "/32"])
            # Caddy, its own user, reads a leaf's key through its group; the root's key is root's alone.
            st = os.stat(path[:-4] + ".key")
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, caddy_gid, 0o640))
        _, api = self.leaf_file("api")
        self.assertEqual(api["dns"], ["api.mycell.cell", "mycell.cell"])

    def test_02_name_constraints_refuse_other_names(self):
        # The method is sound: a forged leaf inside the cell's names verifies...
        ok = self.forge("inside", "DNS:x.mycell.cell,IP:172.20.0.77")
        r = self.verify(ok)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # ...and one for any other name or address does not.
        for name, san in (("example", "DNS:example.com"), ("suffix", "DNS:evilmycell.cell"),
                          ("outside-ip", "DNS:y.mycell.cell,IP:8.8.8.8"), ("vpn-neighbour", "IP:10.0.1.1")):
            r = self.verify(self.forge(name, san))
            self.assertNotEqual(r.returncode, 0, name)
            self.assertIn("permitted subtree violation", r.stdout + r.stderr, name)

    def test_03_cli_and_peer_config(self):
        ca = self.ca()
        r = self.picd.cli("ca", "show")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ca["fingerprint_sha256"], r.stdout)
        self.assertIn("mycell.cell", r.stdout)
        self.assertIn(ca["url"], r.stdout)
        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"endpoint": "cell.example.net"}}).status, 200)
        self.assertEqual(self.picd.post("/api/peers", {"name": "ca-phone"}).status, 201)
        conf = self.picd.get("/api/peers/ca-phone/config")
        self.assertEqual(conf.status, 200, conf)
        self.assertEqual(conf.headers["X-Pic-CA-URL"], ca["url"])
        self.assertEqual(conf.headers["X-Pic-CA-Fingerprint"], ca["fingerprint_sha256"])
        qr = self.picd.get("/api/peers/ca-phone/config?format=svg")
        self.assertEqual(qr.headers["X-Pic-CA-URL"], ca["url"])
        r = self.picd.cli("peer", "config", "ca-phone")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ca["url"], r.stderr)
        self.assertIn(ca["fingerprint_sha256"], r.stderr)
        self.assertNotIn(ca["url"], r.stdout)  # stdout stays a clean wg-quick file

    def test_03b_picd_never_maps_libcrypto(self):
        """Issue 7: the X.509 work runs in pic-ca; picd (and its guardian) must not map libcrypto even after
        serving everything the CA offers (its pages were 4 MiB of picd's memory at rest)."""
        for path in ("/api/ca", "/api/ca?format=pem", "/api/ca?format=der"):
            self.assertEqual(self.picd.get(path).status, 200, path)
        if self.picd.get("/api/peers/ca-maps").status != 200:
            self.assertEqual(self.picd.post("/api/peers", {"name": "ca-maps"}).status, 201)
        conf = self.picd.get("/api/peers/ca-maps/config")
        self.assertEqual(conf.status, 200)
        self.assertIn("X-Pic-CA-Fingerprint", conf.headers)
        pids = [self.picd.proc.pid, *self.picd.guardian_pids()]
        for pid in pids:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
            # The maps are readable and list picd's libraries: a check of an empty file could not fail.
            self.assertIn("libsodium", maps, pid)
            self.assertEqual([l for l in maps.splitlines() if "libcrypto" in l], [], pid)

    def test_04_restart_keeps_root_and_leaves(self):
        before = self.ca()
        self.assertEqual(self.picd.stop(), 0)
        self.picd.start()
        after = self.ca()
        self.assertEqual(after["fingerprint_sha256"], before["fingerprint_sha256"])
        self.assertEqual({l["service"]: l["serial"] for l in after["leaves"]},
                         {l["service"]: l["serial"] for l in before["leaves"]})

    def test_05_short_lifetime_renewed(self):
        self.assertError(self.picd.put("/api/config", {"ca": {"leaf_seconds": 30}}), 400, "ca.leaf_seconds")
        r = self.picd.put("/api/config", {"ca": {"leaf_seconds": 60}})
        self.assertEqual(r.status, 200, r)
        try:
            # Shortening the lifetime re-issues at once...
            _, first = self.leaf_file("calendar")
            life = time.mktime(time.strptime(first["not_after"], "%Y-%m-%dT%H:%M:%SZ")) - \
                time.mktime(time.strptime(first["not_before"], "%Y-%m-%dT%H:%M:%SZ"))
            self.assertEqual(life, 60)
            # ...and the timer renews at two thirds of it (40 s), without anyone asking.
            second = wait_for(lambda: (l := self.leaf_file("calendar")[1])["serial"] != first["serial"] and l,
                              timeout=75, interval=1, what="a renewed calendar certificate")
            self.assertEqual(self.verify(self.leaf_file("calendar")[0]).returncode, 0)
            self.assertGreater(second["not_after"], first["not_after"])
        finally:
            self.assertEqual(self.picd.put("/api/config", {"ca": {"leaf_seconds": 0}}).status, 200)
        _, back = self.leaf_file("calendar")
        self.assertTrue(back["not_after"] > time.strftime("%Y-%m-%dT", time.gmtime(time.time() + 80 * 86400)), back)

    def test_06_cell_name_change_reissues_root_and_leaves(self):
        old = self.ca()
        r = self.picd.put("/api/config", {"cell_name": "other"})
        self.assertEqual(r.status, 200, r)
        try:
            new = self.ca()
            self.assertNotEqual(new["fingerprint_sha256"], old["fingerprint_sha256"])
            self.assertEqual(new["name_constraints"]["permitted_dns"], ["other.cell"])
            path, api = self.leaf_file("api")
            self.assertEqual(api["dns"], ["api.other.cell", "other.cell"])
            self.assertEqual(self.verify(path).returncode, 0)
        finally:
            self.assertEqual(self.picd.put("/api/config", {"cell_name": "mycell"}).status, 200)

    def test_07_restore_keeps_device_trust(self):
        trusted = self.ca()["fingerprint_sha256"]
        r = self.picd.post("/api/config/backup")
        self.assertEqual(r.status, 201, r)
        bid = r.json["id"]
        # A change that forces a new root, then the restore: devices that installed the backed-up root trust
        # the cell again, because it is that very root (and key) again.
        self.assertEqual(self.picd.put("/api/config", {"domain": "elsewhere"}).status, 200)
        self.assertNotEqual(self.ca()["fingerprint_sha256"], trusted)
        r = self.picd.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        ca = self.ca()
        self.assertEqual(ca["fingerprint_sha256"], trusted)
        self.assertEqual(ca["name_constraints"]["permitted_dns"], ["mycell.cell"])
        path, _ = self.leaf_file("api")
        self.assertEqual(self.verify(path).returncode, 0)


if __name__ == "__main__":
    pic.main()
