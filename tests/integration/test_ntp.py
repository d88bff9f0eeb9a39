"""NTP with a real chronyd in the cell namespace and sntp clients in other namespaces: time for the VPN subnet,
nothing for other networks, /api/ntp/status, allowed networks following the VPN address live (no restart),
the host clock left alone, and kill -9 recovery."""
import os
import signal

import pic
from pic import Netns, PicdTestCase, run, unique, wait_for


class NtpTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.namespaces = []
        try:
            cls.ips = cls.picd.get("/api/config").json["service_ips"]
            # A stand-in for a VPN peer (10.0.0.0/24 is the default VPN subnet) and a host from elsewhere.
            cls.vpn = cls.client("10.0.0.200", "10.0.0.201")
            cls.outsider = cls.client("192.168.214.2", "192.168.214.1")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def client(cls, ip, cell_ip):
        """A namespace with ip, joined to the cell by a veth with host routes only (/32), so it cannot clash
        with whatever else the cell has in that subnet."""
        ns = Netns()
        cls.namespaces.append(ns)
        a, b = unique("na")[:15], unique("nb")[:15]
        run("ip", "link", "add", a, "netns", cls.picd.netns, "type", "veth", "peer", "name", b, "netns", ns.name)
        run("ip", "-n", cls.picd.netns, "addr", "add", cell_ip + "/32", "dev", a)
        run("ip", "-n", cls.picd.netns, "link", "set", a, "up")
        run("ip", "-n", cls.picd.netns, "route", "add", ip + "/32", "dev", a)
        run("ip", "-n", ns.name, "addr", "add", ip + "/32", "dev", b)
        run("ip", "-n", ns.name, "link", "set", b, "up")
        run("ip", "-n", ns.name, "route", "add", "172.20.0.0/24", "dev", b)
        return ns

    @classmethod
    def tearDownClass(cls):
        try:
            for ns in cls.namespaces:
                ns.delete()
        finally:
            super().tearDownClass()

    def sntp(self, ns, timeout=2):
        return ns.exec("sntp", "-t", str(timeout), self.ips["ntp"], check=False, timeout=30 * pic.SLOW)

    def ntp_service(self):
        return next(s for s in self.picd.get("/api/services").json["services"] if s["name"] == "ntp")

    def test_00_vpn_client_gets_time(self):
        wait_for(lambda: self.sntp(self.vpn).returncode == 0, what="sntp answer")
        r = self.sntp(self.vpn)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(self.ips["ntp"], r.stdout)
        self.assertIn(" s10 ", r.stdout)

    def test_01_other_networks_get_nothing(self):
        r = self.sntp(self.outsider, timeout=1)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_02_status(self):
        r = self.picd.get("/api/ntp/status")
        self.assertEqual(r.status, 200, r)
        s = r.json
        self.assertEqual(s["stratum"], 10)
        self.assertEqual(s["address"], self.ips["ntp"])
        self.assertEqual(s["port"], 123)
        self.assertIsInstance(s["offset"], float)
        self.assertGreaterEqual(s["clients_served"], 1)
        self.assertGreaterEqual(s["packets_received"], 1)
        self.assertEqual(sorted(s["allowed"]), ["10.0.0.0/24", "172.20.0.0/24"])
        self.assertIs(s["sets_host_clock"], False)
        self.assertEqual(self.picd.get("/api/ntp/status", auth=False).status, 401)
        # The same view through the generic path every module with a status op gets.
        g = self.picd.get("/api/services/ntp/status")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json["address"], self.ips["ntp"])
        self.assertEqual(sorted(g.json["allowed"]), ["10.0.0.0/24", "172.20.0.0/24"])

    def test_03_host_clock_untouched(self):
        pid = self.ntp_service()["pid"]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        self.assertIn(b"-x", argv)
        logs = self.picd.get("/api/services/ntp/logs?lines=50").json["lines"]
        self.assertTrue(any("Disabled control of system clock" in line for line in logs), logs)

    def test_04_network_test(self):
        r = self.picd.post("/api/network/test")
        self.assertEqual(r.status, 200, r)
        check = next(c for c in r.json["checks"] if c["name"] == "ntp")
        self.assertIs(check["ok"], True, check)
        self.assertIn("stratum 10", check["detail"])
        self.assertGreater(check["ms"], 0)

    def test_10_allowed_networks_follow_vpn_address_without_restart(self):
        before = self.ntp_service()
        new_vpn = self.client("10.9.0.200", "10.9.0.201")
        self.assertNotEqual(self.sntp(new_vpn, timeout=1).returncode, 0)
        try:
            self.assertEqual(self.picd.put("/api/config", {"wireguard": {"address": "10.9.0.1/24"}}).status, 200)
            r = self.picd.post("/api/config/apply")
            self.assertEqual(r.status, 200, r)
            wait_for(lambda: self.sntp(new_vpn, timeout=1).returncode == 0, what="new VPN subnet allowed")
            self.assertNotEqual(self.sntp(self.vpn, timeout=1).returncode, 0, "old VPN subnet still allowed")
            self.assertEqual(sorted(self.picd.get("/api/ntp/status").json["allowed"]),
                             ["10.9.0.0/24", "172.20.0.0/24"])
            after = self.ntp_service()
            self.assertEqual(after["pid"], before["pid"], "chronyd was restarted")
            self.assertEqual(after["restarts"], before["restarts"])
        finally:
            self.picd.put("/api/config", {"wireguard": {"address": "10.0.0.1/24"}})
            self.picd.post("/api/config/apply")
        wait_for(lambda: self.sntp(self.vpn, timeout=1).returncode == 0, what="VPN subnet allowed again")
        # Written to the file as well, so a restart keeps the same networks.
        with open(os.path.join(self.picd.state_dir, "etc", "ntp", "chrony.conf")) as f:
            conf = f.read()
        self.assertIn("allow 10.0.0.0/24\n", conf)
        self.assertNotIn("10.9.0.0", conf)

    def test_20_kill9_restarts(self):
        before = self.ntp_service()
        os.kill(before["pid"], signal.SIGKILL)
        after = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != before["pid"] else None)(
            self.ntp_service()), what="chronyd restarted")
        self.assertEqual(after["restarts"], before["restarts"] + 1)
        self.assertEqual(after["last_exit"]["signal"], 9)
        wait_for(lambda: self.sntp(self.vpn).returncode == 0, what="sntp after restart")
        wait_for(lambda: self.picd.get("/api/ntp/status").status == 200, what="chronyc after restart")
        self.assertEqual(self.picd.get("/health").json["status"], "ok")


if __name__ == "__main__":
    pic.main()
