"""picd --netns with a namespace that already exists (made by `ip netns add`, loopback down): picd adopts
it, brings loopback up, and the cell answers from inside it."""
import unittest

from pic import Picd, main, run, unique, wait_for


class ExistingNamespaceTest(unittest.TestCase):
    def setUp(self):
        self.name = unique("picpre")
        run("ip", "netns", "add", self.name)  # loopback stays down, as ip leaves it
        self.picd = Picd(netns=self.name)

    def tearDown(self):
        self.picd.cleanup()  # deletes the namespace too

    def test_adopts_namespace_and_serves_dns_inside(self):
        self.picd.start()
        self.assertIn("UP", run("ip", "-n", self.name, "-br", "link", "show", "lo").stdout)
        self.picd.admin()
        vip = self.picd.get("/api/config").json["service_ips"]["dns"]

        def answer():
            r = run("ip", "netns", "exec", self.name, "dig", "+short", "+time=1", "+tries=1", f"@{vip}",
                    "api.mycell.cell", check=False)
            return r.stdout.strip()
        self.assertEqual(wait_for(answer, 15, what="DNS answering inside the adopted namespace"), "172.20.0.5")


class StartupSettingsTest(unittest.TestCase):
    """--set goes through the same validation as PUT /api/config, module checks included."""

    def test_bad_set_refuses_to_start(self):
        for args, field in ((["--set", "wireguard.address=10.0.0.1"], "wireguard.address"),
                            (["--set", "dhcp.enabled=true", "--set", "dhcp.interface=nope0",
                              "--set", "dhcp.range_start=192.168.9.10", "--set", "dhcp.range_end=192.168.9.20"],
                             "dhcp.interface")):
            picd = Picd(extra_args=args)
            try:
                picd.start(wait=False)
                rc = picd.proc.wait(30)
                self.assertNotEqual(rc, 0)
                self.assertIn(f"--set {field}:", picd.logs())
            finally:
                picd.proc = None
                picd.cleanup()


if __name__ == "__main__":
    main()
