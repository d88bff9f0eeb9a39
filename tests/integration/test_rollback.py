"""A change the live system cannot apply is taken back: the client gets the daemon's error and the stored
settings are exactly what they were (DESIGN.md "Atomic, all or nothing")."""
import unittest

from pic import ApiAssertions, Picd, main, run, unique


class RollbackTest(unittest.TestCase, ApiAssertions):
    @classmethod
    def setUpClass(cls):
        # dnsmasq that cannot start: enabling DHCP must fail as a whole
        cls.picd = Picd(env={"PIC_DNSMASQ_BIN": "/nonexistent/dnsmasq"})
        cls.picd.start()
        cls.picd.admin()
        cls.ifname = unique("rb")[:15]
        run("ip", "link", "add", cls.ifname, "netns", cls.picd.netns, "type", "veth", "peer", "name",
            cls.ifname + "p", "netns", cls.picd.netns)
        run("ip", "-n", cls.picd.netns, "addr", "add", "192.168.214.1/24", "dev", cls.ifname)
        run("ip", "-n", cls.picd.netns, "link", "set", cls.ifname, "up")

    @classmethod
    def tearDownClass(cls):
        cls.picd.cleanup()

    def test_failed_apply_changes_nothing(self):
        before = self.picd.get("/api/config").json
        r = self.picd.put("/api/config", {"dhcp": {"enabled": True, "interface": self.ifname,
                                                    "range_start": "192.168.214.100", "range_end": "192.168.214.150"}})
        self.assertError(r, 503)
        self.assertIn("No such file or directory", r.json["error"]["message"])
        self.assertEqual(self.picd.get("/api/config").json, before)
        self.assertFalse(self.picd.get("/api/config/pending").json["restart_required"])
        # and it stays that way across a restart: the store was reverted, not just memory
        self.picd.stop()
        self.picd.start()
        self.assertEqual(self.picd.get("/api/config").json, before)


if __name__ == "__main__":
    main()
