"""Peers API: every 400/409 path (config injection in names included) changes nothing; 1,000 peers created and
deleted leave the firewall byte-identical to the empty cell's; peers come back as stored after kill -9 of
wireguard-go and of picd."""
import difflib
import http.client
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import pic  # noqa: E402
from pic import PicdTestCase, run, wait_for  # noqa: E402


class Api:
    """One keep-alive connection: a thousand requests without a thousand TCP handshakes."""

    def __init__(self, picd):
        self.picd = picd
        self.conn = http.client.HTTPConnection(picd.host, picd.port, timeout=60)

    def __call__(self, method, path, body=None):
        h = {"Authorization": f"Bearer {self.picd.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)

    def close(self):
        self.conn.close()


class CellView:
    """What the cell runs, as seen from inside its namespace."""

    def __init__(self, picd):
        self.picd = picd

    def ifname(self):
        return self.picd.get("/api/wireguard/status").json["interface"]

    def ruleset(self):
        return run("ip", "netns", "exec", self.picd.netns, "nft", "list", "table", "inet", "pic").stdout

    def wg_peers(self):
        """public key → (preshared key, allowed ips) of the live interface."""
        out = run("ip", "netns", "exec", self.picd.netns, "wg", "show", self.ifname(), "dump").stdout
        return {f[0]: (f[1], f[3]) for f in (l.split("\t") for l in out.splitlines()[1:])}

    def snapshot(self):
        return (sorted(json.dumps(p, sort_keys=True) for p in self.picd.get("/api/peers").json["peers"]),
                self.ruleset(), self.wg_peers())


class PeerValidationTest(PicdTestCase):
    # A /29: the cell is .1, peers get .2-.6, so "subnet full" is five peers away.
    picd_args = ("--set", "wireguard.address=10.1.0.1/29")

    def setUp(self):
        self.cell = CellView(self.picd)
        self.before = self.cell.snapshot()

    def tearDown(self):
        for p in self.picd.get("/api/peers").json["peers"]:
            self.picd.delete(f"/api/peers/{p['name']}")

    def assertUnchanged(self):
        self.assertEqual(self.cell.snapshot(), self.before)

    def test_endpoint_warnings(self):
        """Without wireguard.endpoint, configs point at a LAN address: the create reply and the status say so."""
        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"endpoint": ""}}).status, 200)
        r = self.picd.post("/api/peers", {"name": "roamer"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(r.json["warnings"]), 1, r)
        self.assertIn("set wireguard.endpoint", r.json["warnings"][0])
        self.assertEqual(self.picd.get("/api/wireguard/status").json["warnings"], r.json["warnings"])
        # The predecessor's path answers the same.
        r = self.picd.post("/api/wireguard/peers", {"name": "roamer2"})
        self.assertEqual(r.status, 201, r)
        self.assertIn("set wireguard.endpoint", r.json["warnings"][0])
        try:
            self.assertEqual(self.picd.put("/api/config", {"wireguard": {"endpoint": "vpn.example.org"}}).status,
                             200)
            r = self.picd.post("/api/peers", {"name": "settled"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["warnings"], [])
            self.assertEqual(self.picd.get("/api/wireguard/status").json["warnings"], [])
            self.assertNotIn("#", self.picd.get("/api/peers/settled/config").body)
        finally:
            self.picd.put("/api/config", {"wireguard": {"endpoint": ""}})

    def test_names_and_injection(self):
        bad = ["", "Phone", "-phone", "a b", "phone\n[Peer]", "phone\nPublicKey = x", 'ph"one', "ph'one", "[Peer]",
               "phone;rm", "phone#x", "phone{", "x" * 64, "x" * 5000, "téléphone", "телефон",
               "a/b", "..", "phone\r", "phone\t", 42, None, ["phone"]]
        for name in bad:
            with self.subTest(name=name):
                self.assertError(self.picd.post("/api/peers", {"name": name}), 400, "name")
        self.assertError(self.picd.post("/api/peers", {"service_access": ["mail"]}), 400, "name")
        self.assertError(self.picd.post("/api/peers", {"name": "phone\x00x"}), 400)  # NUL: not even JSON to us
        self.assertUnchanged()
        # The accepted extreme: 63 characters.
        r = self.picd.post("/api/peers", {"name": "a" * 63})
        self.assertEqual(r.status, 201, r)

    def test_duplicate_name(self):
        self.assertEqual(self.picd.post("/api/peers", {"name": "phone"}).status, 201)
        before = self.cell.snapshot()
        for path in ("/api/peers", "/api/wireguard/peers"):
            self.assertError(self.picd.post(path, {"name": "phone"}), 409, "name")
        self.assertEqual(self.cell.snapshot(), before)

    def test_addresses(self):
        cases = [("10.1.0.9", 400), ("10.2.0.2", 400), ("10.1.0.0", 400), ("10.1.0.7", 400), ("10.1.0.300", 400),
                 ("10.1.0.2/24", 400), ("phone", 400), ("", 400), (167837698, 400), ("10.1.0.1", 409)]
        for ip, status in cases:
            with self.subTest(ip=ip):
                self.assertError(self.picd.post("/api/peers", {"name": "p1", "ip": ip}), status, "ip")
        self.assertUnchanged()
        r = self.picd.post("/api/peers", {"name": "p1", "ip": "10.1.0.5/32"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["ip"], "10.1.0.5")
        before = self.cell.snapshot()
        self.assertError(self.picd.post("/api/peers", {"name": "p2", "ip": "10.1.0.5"}), 409, "ip")
        self.picd.post("/api/peers", {"name": "p2"})
        after_p2 = self.cell.snapshot()
        self.assertError(self.picd.put("/api/peers/p2", {"ip": "10.1.0.5"}), 409, "ip")
        self.assertEqual(self.cell.snapshot(), after_p2)
        self.assertNotEqual(after_p2, before)

    def test_vpn_subnet_change_keeps_every_peer_inside(self):
        self.assertEqual(self.picd.post("/api/peers", {"name": "far", "ip": "10.1.0.6"}).status, 201)
        config = self.picd.get("/api/config").json
        for address in ("10.9.0.1/24", "10.1.0.1/30", "10.1.0.6/24"):  # elsewhere; too small; the peer's own
            with self.subTest(address=address):
                self.assertError(self.picd.put("/api/config", {"wireguard": {"address": address}}), 400,
                                 "wireguard.address")
        self.assertEqual(self.picd.get("/api/config").json, config)
        # A subnet that still holds the peer is fine (it waits for apply); going back leaves nothing pending.
        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"address": "10.1.0.1/24"}}).status, 200)
        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"address": "10.1.0.1/29"}}).status, 200)
        self.assertFalse(self.picd.get("/api/config/pending").json["restart_required"])

    def test_subnet_full(self):
        ips = [self.picd.post("/api/peers", {"name": f"p{i}"}).json["ip"] for i in range(5)]
        self.assertEqual(ips, [f"10.1.0.{i}" for i in range(2, 7)])
        before = self.cell.snapshot()
        r = self.picd.post("/api/peers", {"name": "p5"})
        self.assertError(r, 409, "ip")
        self.assertEqual(r.json["error"]["code"], "exhausted")  # a full subnet, not a full disk (507)
        self.assertIn("full", r.json["error"]["message"])
        self.assertEqual(self.cell.snapshot(), before)
        # Freed addresses are reused.
        self.assertEqual(self.picd.delete("/api/peers/p1").status, 200)
        self.assertEqual(self.picd.post("/api/peers", {"name": "p5"}).json["ip"], "10.1.0.3")

    def test_other_fields(self):
        key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        cases = [({"service_access": ["ssh"]}, 400, "service_access"),
                 ({"service_access": ["calendar", "admin"]}, 400, "service_access"),
                 ({"service_access": "calendar"}, 400, "service_access"),
                 ({"service_access": [1]}, 400, "service_access"),
                 ({"enabled": "yes"}, 400, "enabled"),
                 ({"route_all": 1}, 400, "route_all"),
                 ({"public_key": "not-a-key"}, 400, "public_key"),
                 ({"public_key": key[:-2] + "h="}, 400, "public_key"),  # not canonical base64
                 ({"public_key": key + "\n[Peer]"}, 400, "public_key"),
                 ({"description": "x\n[Peer]\nAllowedIPs = 0.0.0.0/0"}, 400, "description"),
                 ({"allowed_ips": "0.0.0.0/0"}, 400, "allowed_ips")]
        for extra, status, field in cases:
            with self.subTest(extra=extra):
                self.assertError(self.picd.post("/api/peers", {"name": "p1", **extra}), status, field)
        self.assertError(self.picd.post("/api/peers", ["p1"]), 400)
        self.assertError(self.picd.request("POST", "/api/peers", raw=b"{name: p1}",
                                           headers={"Content-Type": "application/json"}), 400)
        server_key = self.picd.get("/api/wireguard/status").json["public_key"]
        self.assertError(self.picd.post("/api/peers", {"name": "p1", "public_key": server_key}), 409, "public_key")
        self.assertUnchanged()

        # A client-supplied key: no private key anywhere, and no preshared key the owner never heard of.
        r = self.picd.post("/api/peers", {"name": "own", "public_key": key})
        self.assertEqual(r.status, 201, r)
        self.assertFalse(r.json["keys_generated_by_cell"])
        conf = self.picd.get("/api/peers/own/config").body
        self.assertNotIn("PrivateKey =", conf.replace("# PrivateKey", ""))
        self.assertNotIn("PresharedKey", conf)
        self.assertEqual(self.cell.wg_peers()[key], ("(none)", "10.1.0.2/32"))
        self.assertError(self.picd.post("/api/peers", {"name": "own2", "public_key": key}), 409, "public_key")

    def test_put_delete_config_paths(self):
        self.assertEqual(self.picd.post("/api/peers", {"name": "p1"}).status, 201)
        before = self.cell.snapshot()
        self.assertError(self.picd.put("/api/peers/p1", {"name": "p2"}), 400, "name")
        self.assertError(self.picd.put("/api/peers/p1", {"service_access": ["ssh"]}), 400, "service_access")
        self.assertError(self.picd.put("/api/peers/p1", {"enabled": None}), 400, "enabled")
        self.assertError(self.picd.put("/api/peers/nobody", {"enabled": False}), 404)
        self.assertError(self.picd.delete("/api/peers/nobody"), 404)
        self.assertError(self.picd.get("/api/peers/nobody"), 404)
        self.assertError(self.picd.get("/api/peers/nobody/config"), 404)
        self.assertError(self.picd.get("/api/peers/p1/config?format=gif"), 400, "format")
        self.assertError(self.picd.get("/api/peers/BAD%0A/config"), 404)
        self.assertError(self.picd.put("/api/peers/BAD", {"enabled": False}), 404)
        self.assertError(self.picd.delete("/api/peers/x%22y"), 404)
        self.assertEqual(self.cell.snapshot(), before)
        # The private key is not for read-only tokens.
        ro = self.picd.make_token("read")
        self.assertEqual(self.picd.get("/api/peers/p1/config", token=ro).status, 403)
        self.assertEqual(self.picd.get("/api/peers/p1", token=ro).status, 200)
        self.assertNotIn("private", self.picd.get("/api/peers/p1").body.replace("keys_generated_by_cell", ""))


class PeerScaleTest(PicdTestCase):
    picd_args = ("--set", "wireguard.address=10.2.0.1/16")
    N = 1000

    def test_thousand_peers_leave_no_trace(self):
        cell = CellView(self.picd)
        empty_rules, empty_wg = cell.ruleset(), cell.wg_peers()
        self.assertEqual(empty_wg, {})
        api = Api(self.picd)
        grants = [[], ["calendar"], ["files", "mail"], ["calendar", "files", "mail", "webdav"]]
        try:
            for i in range(self.N):
                status, body = api("POST", "/api/peers", {"name": f"peer-{i}", "service_access": grants[i % 4],
                                                          "enabled": i % 10 != 9, "route_all": i % 7 == 0})
                self.assertEqual(status, 201, body)
            rules = cell.ruleset()
            # Disabled peers are on the interface too, routed nowhere (no allowed IPs).
            wg = cell.wg_peers()
            self.assertEqual(len(wg), self.N)
            self.assertEqual(sum(1 for _, ips in wg.values() if ips == "(none)"), self.N // 10)
            # peer-998 (10.2.3.232) has elements; peer-999 (10.2.3.233) is disabled and has none.
            self.assertTrue(re.search(r"10\.2\.3\.232(?![0-9])", rules), "peer-998 missing from the ruleset")
            self.assertFalse(re.search(r"10\.2\.3\.233(?![0-9])", rules), "disabled peer-999 in the ruleset")
            for i in range(self.N):
                status, body = api("DELETE", f"/api/peers/peer-{i}")
                self.assertEqual(status, 200, body)
        finally:
            api.close()
        after = cell.ruleset()
        diff = "".join(list(difflib.unified_diff(empty_rules.splitlines(True), after.splitlines(True)))[:40])
        self.assertTrue(after == empty_rules, "the ruleset differs from the empty cell's:\n" + diff)
        self.assertEqual(cell.wg_peers(), {})


class PeerRestartTest(PicdTestCase):
    def wg_pid(self):
        st = self.picd.get("/api/wireguard/status").json
        return st["pid"] if st["running"] else None

    def test_peers_survive_kill9(self):
        cell = CellView(self.picd)
        for body in ({"name": "a", "service_access": ["mail"]}, {"name": "b", "enabled": False},
                     {"name": "c", "route_all": True, "service_access": ["files"]}):
            self.assertEqual(self.picd.post("/api/peers", body).status, 201)
        want_wg, want_rules = cell.wg_peers(), cell.ruleset()
        # b is disabled: on the interface with no allowed IPs (its session survives, nothing is routed).
        b_key = self.picd.get("/api/peers/b").json["public_key"]
        self.assertEqual(len(want_wg), 3)
        self.assertEqual(want_wg[b_key][1], "(none)")

        # wireguard-go dies: the supervisor restarts it and the peers are put back from the store.
        old = self.wg_pid()
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: self.wg_pid() not in (None, old), 20, what="wireguard-go restarted")
        self.assertEqual(cell.wg_peers(), want_wg)

        # picd dies (its children go with it); the next picd brings everything back as stored.
        ifname = cell.ifname()
        self.picd.kill9()
        wait_for(lambda: run("ip", "netns", "exec", self.picd.netns, "ip", "link", "show", ifname,
                             check=False).returncode != 0, 10, what="the old interface gone")
        self.picd.start()
        wait_for(lambda: self.wg_pid(), 20, what="wireguard-go running after picd restart")
        self.assertEqual(cell.wg_peers(), want_wg)
        self.assertEqual(cell.ruleset(), want_rules)
        self.assertEqual(self.picd.put("/api/peers/b", {"enabled": True}).status, 200)
        self.assertEqual(cell.wg_peers()[b_key][1], self.picd.get("/api/peers/b").json["ip"] + "/32")


if __name__ == "__main__":
    pic.main()
