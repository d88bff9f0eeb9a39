"""DHCP through the API with a real dnsmasq in the cell namespace and real udhcpc clients in another namespace:
leases, reservations (fixed IP and name, no restart), every 400/409 path, injection strings that never reach a
file, kill -9 recovery, and disabling."""
import glob
import os
import signal

import pic
from pic import DhcpClient, PicdTestCase, run, wait_for

CELL_ADDR = "192.168.213.1"
SUBNET = "192.168.213.1/24"
POOL = ("192.168.213.100", "192.168.213.150")

class DhcpTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.client = DhcpClient(cls.picd.netns, SUBNET, "d")
        except Exception:
            super().tearDownClass()
            raise
        cls.cell_if, cls.client_if, cls.script = cls.client.cell_if, cls.client.client_if, cls.client.script

    @classmethod
    def tearDownClass(cls):
        try:
            cls.client.delete()
        finally:
            super().tearDownClass()

    # -- helpers ---------------------------------------------------------------------------------
    def enable(self):
        r = self.picd.put("/api/config", {"dhcp": {"enabled": True, "interface": self.cell_if,
                                                    "range_start": POOL[0], "range_end": POOL[1]}})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.service("dhcp")["state"] == "running", what="dnsmasq running")

    def service(self, name):
        r = self.picd.get("/api/services")
        self.assertEqual(r.status, 200, r)
        return next(s for s in r.json["services"] if s["name"] == name)

    def lease(self, mac, hostname=None):
        """Runs udhcpc with mac on the client interface; returns what the server handed out."""
        return self.client.udhcpc(mac, hostname)

    def leases(self):
        r = self.picd.get("/api/dhcp/leases")
        self.assertEqual(r.status, 200, r)
        return r.json["leases"]

    def etc_files_text(self):
        text = ""
        for p in glob.glob(os.path.join(self.picd.state_dir, "etc", "dhcp", "**"), recursive=True):
            if os.path.isfile(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def in_pool(self, ip):
        last = lambda a: int(a.rsplit(".", 1)[1])
        return ip.startswith("192.168.213.") and last(POOL[0]) <= last(ip) <= last(POOL[1])

    # -- tests (run in name order) ---------------------------------------------------------------
    def test_00_disabled_by_default(self):
        self.assertIs(self.picd.get("/api/config").json["dhcp"]["enabled"], False)
        svc = self.service("dhcp")
        self.assertEqual(svc["state"], "disabled")
        self.assertIsNone(svc["pid"])
        self.assertEqual(self.picd.get("/health").json["status"], "ok")
        check = next(c for c in self.picd.post("/api/network/test").json["checks"] if c["name"] == "dhcp")
        self.assertIsNone(check["ok"])
        self.assertIn("disabled", check["skipped"])

    def test_01_settings_validation(self):
        good = {"enabled": True, "interface": self.cell_if, "range_start": POOL[0], "range_end": POOL[1]}
        cases = [
            ({"enabled": True}, "dhcp.interface"),
            ({**good, "interface": "no/slash"}, "dhcp.interface"),
            ({**good, "interface": "eth0\ndhcp-range=1.1.1.1,1.1.1.9"}, "dhcp.interface"),
            ({**good, "interface": "x" * 16}, "dhcp.interface"),
            ({**good, "interface": "nope0"}, "dhcp.interface"),
            ({**good, "interface": "lo"}, "dhcp.interface"),  # no IPv4 subnet a LAN could use... lo has 127/8
            ({**good, "range_start": "300.1.1.1"}, "dhcp.range_start"),
            ({**good, "range_end": "192.168.213"}, "dhcp.range_end"),
            ({**good, "range_start": "192.168.99.10"}, "dhcp.range_start"),
            ({**good, "range_end": "192.168.214.20"}, "dhcp.range_end"),
            ({**good, "range_start": "192.168.213.200", "range_end": "192.168.213.100"}, "dhcp.range_end"),
            ({**good, "range_start": CELL_ADDR}, "dhcp.range_start"),
            ({**good, "range_start": "192.168.213.0"}, "dhcp.range_start"),
            ({**good, "range_end": "192.168.213.255"}, "dhcp.range_end"),
            ({**good, "lease_time": 60}, "dhcp.lease_time"),
            ({**good, "lease_time": "1h"}, "dhcp.lease_time"),
            ({**good, "enabled": "yes"}, "dhcp.enabled"),
            ({**good, "bogus": 1}, "dhcp.bogus"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                if body.get("interface") == "lo":
                    # lo has an address (127.0.0.1/8) but the pool is not inside it.
                    field = "dhcp.range_start"
                r = self.picd.put("/api/config", {"dhcp": body})
                self.assertError(r, 400, field)
        # Nothing changed: still disabled, no dnsmasq, no generated file with the injected text.
        self.assertIs(self.picd.get("/api/config").json["dhcp"]["enabled"], False)
        self.assertEqual(self.service("dhcp")["state"], "disabled")
        self.assertNotIn("1.1.1.9", self.etc_files_text())

    def test_02_pool_must_avoid_service_vips(self):
        # An interface in ip_range's subnet: the pool may not swallow a service address.
        r = self.picd.put("/api/config", {"dhcp": {"enabled": True, "interface": "pic0",
                                                   "range_start": "172.20.0.2", "range_end": "172.20.0.50"}})
        self.assertError(r, 400, "dhcp.range_start")
        self.assertIn("virtual IP", r.json["error"]["message"])

    def test_10_lease(self):
        self.enable()
        got = self.lease("02:10:00:00:00:01", hostname="laptop")
        self.assertTrue(self.in_pool(got["ip"]), got)
        self.assertEqual(got["router"], CELL_ADDR)
        self.assertEqual(got["domain"], "mycell.cell")
        self.assertEqual(got["ntpsrv"], self.picd.get("/api/config").json["service_ips"]["ntp"])
        lease = wait_for(lambda: next((l for l in self.leases() if l["mac"] == "02:10:00:00:00:01"), None),
                         what="lease in the API")
        self.assertEqual(lease["ip"], got["ip"])
        self.assertEqual(lease["hostname"], "laptop")
        self.assertIs(lease["reserved"], False)
        self.assertGreater(lease["expires"], 0)
        check = next(c for c in self.picd.post("/api/network/test").json["checks"] if c["name"] == "dhcp")
        self.assertIs(check["ok"], True, check)
        self.assertIn(":67", check["detail"])
        self.assertIsInstance(check["ms"], float)

    def test_10b_client_supplied_names_are_checked(self):
        # A client names itself; whatever it sends, the API shows a DNS label or nothing.
        for mac, name in (("02:10:00:00:00:02", "evil;name"), ("02:10:00:00:00:03", "a" * 70),
                          ("02:10:00:00:00:04", "UPPER")):
            with self.subTest(name=name):
                got = self.lease(mac, hostname=name)
                self.assertTrue(self.in_pool(got["ip"]), got)
                lease = wait_for(lambda: next((l for l in self.leases() if l["mac"] == mac), None),
                                 what="lease in the API")
                self.assertIn(lease["hostname"], (None, "upper"), lease)

    def test_11_reservation_gets_fixed_ip_and_name_without_restart(self):
        pid = self.service("dhcp")["pid"]
        r = self.picd.post("/api/dhcp/reservations",
                           {"mac": "02:11:00:00:00:AA", "ip": "192.168.213.20", "hostname": "printer"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {**r.json, "mac": "02:11:00:00:00:aa", "ip": "192.168.213.20", "hostname": "printer"})
        listed = self.picd.get("/api/dhcp/reservations").json["reservations"]
        self.assertIn("02:11:00:00:00:aa", [x["mac"] for x in listed])
        got = self.lease("02:11:00:00:00:aa")
        self.assertEqual(got["ip"], "192.168.213.20")
        self.assertEqual(got["hostname"], "printer")
        lease = wait_for(lambda: next((l for l in self.leases() if l["mac"] == "02:11:00:00:00:aa"), None),
                         what="reserved lease in the API")
        self.assertEqual(lease["ip"], "192.168.213.20")
        self.assertIs(lease["reserved"], True)
        svc = self.service("dhcp")
        self.assertEqual(svc["pid"], pid, "a reservation must not restart dnsmasq")
        self.assertEqual(svc["restarts"], 0)

    def test_12_reservation_validation(self):
        before = self.picd.get("/api/dhcp/reservations").json["reservations"]
        ok = {"mac": "02:12:00:00:00:01", "ip": "192.168.213.30", "hostname": "nas"}
        cases = [
            ({**ok, "mac": "02:12:00:00:00"}, 400, "mac"),
            ({**ok, "mac": "02:12:00:00:00:0g"}, 400, "mac"),
            ({**ok, "mac": "01:00:5e:00:00:01"}, 400, "mac"),
            ({**ok, "mac": "02:12:00:00:00:01\ndhcp-range=10.6.6.1,10.6.6.9"}, 400, "mac"),
            ({**ok, "mac": "02:12:00:00:00:01,10.6.6.6,evil"}, 400, "mac"),
            ({**ok, "ip": "192.168.213"}, 400, "ip"),
            ({**ok, "ip": "192.168.213.030"}, 400, "ip"),
            ({**ok, "ip": "10.6.6.6"}, 400, "ip"),
            ({**ok, "ip": "192.168.213.120"}, 400, "ip"),     # inside the dynamic pool
            ({**ok, "ip": CELL_ADDR}, 400, "ip"),            # the interface itself
            ({**ok, "ip": "192.168.213.255"}, 400, "ip"),     # broadcast
            ({**ok, "hostname": "Bad_Name"}, 400, "hostname"),
            ({**ok, "hostname": "nas\ndhcp-option=6,10.6.6.6"}, 400, "hostname"),
            ({**ok, "hostname": "nas,10.6.6.6"}, 400, "hostname"),
            ({**ok, "hostname": "-nas"}, 400, "hostname"),
            ({**ok, "hostname": "a" * 64}, 400, "hostname"),
            ({**ok, "hostname": ""}, 400, "hostname"),
            ({"ip": ok["ip"], "hostname": "nas"}, 400, "mac"),
            ({**ok, "ip": 3232290078}, 400, "ip"),
            ({**ok, "extra": "x"}, 400, "extra"),
            ({**ok, "mac": "02:11:00:00:00:aa"}, 409, "mac"),        # taken by printer
            ({**ok, "mac": "02:11:00:00:00:AA"}, 409, "mac"),        # same MAC, other case
            ({**ok, "ip": "192.168.213.20"}, 409, "ip"),
            ({**ok, "hostname": "printer"}, 409, "hostname"),
            ({**ok, "hostname": "mail"}, 409, "hostname"),           # a service's name
        ]
        for body, status, field in cases:
            with self.subTest(body=body):
                self.assertError(self.picd.post("/api/dhcp/reservations", body), status, field)
        self.assertError(self.picd.post("/api/dhcp/reservations", raw=b"[1]",
                                        headers={"Content-Type": "application/json"}), 400)
        self.assertEqual(self.picd.get("/api/dhcp/reservations").json["reservations"], before)
        text = self.etc_files_text()
        self.assertNotIn("10.6.6", text)
        self.assertNotIn("evil", text)
        # Read-only tokens may list but not change.
        ro = self.picd.make_token("read")
        self.assertEqual(self.picd.get("/api/dhcp/reservations", token=ro).status, 200)
        self.assertEqual(self.picd.post("/api/dhcp/reservations", ok, token=ro).status, 403)

    def test_13_pool_change_may_not_swallow_a_reservation(self):
        r = self.picd.put("/api/config", {"dhcp": {"range_start": "192.168.213.10"}})
        self.assertError(r, 409, "dhcp.range_start")
        self.assertEqual(self.picd.get("/api/config").json["dhcp"]["range_start"], POOL[0])

    def test_14_delete_reservation_without_restart(self):
        pid = self.service("dhcp")["pid"]
        self.assertError(self.picd.delete("/api/dhcp/reservations/zz:11"), 400, "mac")
        self.assertError(self.picd.delete("/api/dhcp/reservations/02:99:00:00:00:01"), 404, "mac")
        r = self.picd.delete("/api/dhcp/reservations/02:11:00:00:00:AA")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.picd.get("/api/dhcp/reservations").json["reservations"], [])
        self.assertEqual(glob.glob(os.path.join(self.picd.state_dir, "etc", "dhcp", "hosts.d", "*")), [])
        # dnsmasq forgot the host: the MAC now gets a pool address.
        got = self.lease("02:11:00:00:00:aa")
        self.assertTrue(self.in_pool(got["ip"]), got)
        self.assertEqual(self.service("dhcp")["pid"], pid)

    def test_20_kill9_restarts(self):
        svc = self.service("dhcp")
        os.kill(svc["pid"], signal.SIGKILL)
        after = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != svc["pid"] else None)(
            self.service("dhcp")), what="dnsmasq restarted")
        self.assertEqual(after["restarts"], svc["restarts"] + 1)
        self.assertEqual(after["last_exit"]["signal"], 9)
        got = self.lease("02:20:00:00:00:01")
        self.assertTrue(self.in_pool(got["ip"]), got)
        # The lease file survived the crash: earlier leases are still listed.
        self.assertIn("02:10:00:00:00:01", [l["mac"] for l in self.leases()])
        wait_for(lambda: self.picd.get("/health").json["status"] == "ok", what="health ok")

    def test_21_names_reach_dns(self):
        names = [s["name"] for s in self.picd.get("/api/services").json["services"]]
        self.assertIn("dns", names)
        ips = self.picd.get("/api/config").json["service_ips"]
        self.picd.post("/api/dhcp/reservations", {"mac": "02:21:00:00:00:01", "ip": "192.168.213.21",
                                                  "hostname": "scanner"})
        for name, want in (("scanner", "192.168.213.21"), ("laptop", None)):
            def answer():
                out = run("ip", "netns", "exec", self.picd.netns, "dig", "+short", "+time=1", "+tries=1",
                          f"@{ips['dns']}", f"{name}.mycell.cell", "A", check=False).stdout.strip()
                return out if out and (want is None or out == want) else None
            wait_for(answer, what=f"{name} in DNS")
        self.picd.delete("/api/dhcp/reservations/02:21:00:00:00:01")

    def test_30_disable_stops_dnsmasq(self):
        pid = self.service("dhcp")["pid"]
        r = self.picd.put("/api/config", {"dhcp": {"enabled": False}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.service("dhcp")["state"], "disabled")
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                 open(f"/proc/{pid}/stat").read().split()[2] == "Z", what="dnsmasq gone")
        self.assertEqual(self.picd.get("/health").json["status"], "ok")
        # udhcpc gets no answer now.
        r = self.client.udhcpc("02:30:00:00:00:01", tries=2, check=False)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    pic.main()
