"""The cell mesh between three cells of different owners: A, B and C each a real picd in its own namespace,
joined through an "internet" namespace (documentation addresses), each with VPN clients of its own running
wireguard-go. Invites, joins, sharing, remote grants, DNS across the link, leaving, invite attacks, overlap
refusals and a kill -9 in the middle of a join, all checked by what clients and the cells' rulesets show."""
import base64
import json
import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import Netns, Picd, SLOW, main, run, unique, veth_pair, wait_for  # noqa: E402
from test_vpn import PORT, Client, start_listeners, stop_process  # noqa: E402

# name: (vpn address, service range, public address, internet side)
CELLS = {
    "a": ("10.10.0.1/24", "172.30.0.0/24", "192.0.2.1", "192.0.2.254"),
    "b": ("10.11.0.1/24", "172.31.0.0/24", "198.51.100.1", "198.51.100.254"),
    "c": ("10.12.0.1/24", "172.29.0.0/24", "203.0.113.1", "203.0.113.254"),
    # d only ever tries to link: its VPN subnet is b's
    "d": ("10.11.0.1/24", "172.28.0.0/24", "203.0.113.2", "203.0.113.254"),
}


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class MeshTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cells, cls.clients, cls.procs = {}, [], []
        cls.inet = Netns(unique("meshnet"))
        try:
            cls.inet.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
            cls.c_links = {}
            for name, (vpn, rng, pub, gw) in CELLS.items():
                p = Picd(extra_args=["--set", f"cell_name={name}", "--set", f"wireguard.address={vpn}",
                                     "--set", f"ip_range={rng}", "--set", f"wireguard.endpoint={pub}:51820"])
                cls.cells[name] = p
                p.start()
                p.admin()
                if name == "d":  # one more host in c's documentation range, on a link of its own
                    dside, iside = veth_pair(p.netns, f"{pub}/32", cls.inet.name, "203.0.113.253/32")
                    run("ip", "-n", cls.inet.name, "route", "add", f"{pub}/32", "dev", iside)
                    run("ip", "-n", p.netns, "route", "add", "203.0.113.253/32", "dev", dside)
                    run("ip", "-n", p.netns, "route", "add", "default", "via", "203.0.113.253")
                else:
                    veth_pair(p.netns, f"{pub}/24", cls.inet.name, f"{gw}/24")
                    run("ip", "-n", p.netns, "route", "add", "default", "via", gw)
            cls.a, cls.b, cls.c, cls.d = (cls.cells[n] for n in "abcd")
            cls.vip = {n: cls.cells[n].get("/api/config").json["service_ips"] for n in "abc"}
            # What answers on a's service addresses (and b's): "<service> <client address as seen>".
            for n in "ab":
                cls.procs.append(start_listeners(cls.cells[n].netns, [f"{s}:{cls.vip[n][s]}:{PORT}"
                                                                      for s in ("calendar", "files")]))
            # Clients: a's phone, b's granted and other peer, c's phone.
            cls.phone_a = cls.client("a", 0, "phone-a")
            cls.granted_b = cls.client("b", 1, "granted")
            cls.other_b = cls.client("b", 2, "other")
            cls.phone_c = cls.client("c", 3, "phone-c")
            cls.before_a = cls.snapshot(cls.a)
        except Exception:
            for p in cls.cells.values():
                print(p.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def client(cls, cell, index, name):
        p = cls.cells[cell]
        c = Client(p.netns, index)
        cls.clients.append(c)
        r = p.post("/api/peers", {"name": name})
        assert r.status == 201, r
        vpn, rng = CELLS[cell][0], CELLS[cell][1]
        conf = p.get(f"/api/peers/{name}/config").body
        # The client routes its own cell's subnets and the linked cells' ranges through the tunnel.
        routes = [vpn.rsplit(".", 1)[0] + ".0/24", rng] + [CELLS[o][1] for o in "abc" if o != cell]
        conf = "\n".join(l if not l.startswith("AllowedIPs") else "AllowedIPs = 0.0.0.0/0" for l in conf.splitlines())
        c.configure(conf, r.json["ip"], routes, own_endpoint=True)
        c.cell = cell
        wait_for(lambda: c.ping(vpn.split("/")[0]), 15, interval=0.2, what=f"{name} reaching its cell")
        return c

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "procs", []):
            stop_process(p)
        for c in getattr(cls, "clients", []):
            c.close()
        failed = []
        for p in getattr(cls, "cells", {}).values():
            try:
                if p.stop() not in (0, None):
                    failed.append(p.logs())
            finally:
                p.cleanup()
        cls.inet.delete()
        if failed:
            raise AssertionError("picd exited non-zero on SIGTERM:\n" + "\n".join(failed))

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def unbound_ctl(p, *args):
        conf = os.path.join(p.state_dir, "etc", "dns", "unbound.conf")
        return run("ip", "netns", "exec", p.netns, "unbound-control", "-c", conf, *args).stdout

    @classmethod
    def snapshot(cls, p):
        """What a link may change on a cell: the whole ruleset, unbound's forwards, local zones and data."""
        return {
            "nft": run("ip", "netns", "exec", p.netns, "nft", "list", "ruleset").stdout,
            "forwards": cls.unbound_ctl(p, "list_forwards"),
            "zones": cls.unbound_ctl(p, "list_local_zones"),
            "data": cls.unbound_ctl(p, "list_local_data"),
            "routes": run("ip", "-n", p.netns, "route", "show").stdout,
            "cells": [(x["name"], x["state"], x["share"], x["grants"]) for x in p.get("/api/mesh/cells").json["cells"]],
            "peers": sorted(x["name"] for x in p.get("/api/peers").json["peers"]),
        }

    def invite(self, p, **body):
        r = p.post("/api/mesh/invites", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def links(self, p):
        return {x["name"]: x for x in p.get("/api/mesh/cells").json["cells"]}

    def dig(self, client, cell, name):
        dns = self.vip[cell]["dns"]
        r = client.ns.exec("dig", "+time=2", "+tries=2", "+noall", "+comments", "+answer", f"@{dns}", name, "A",
                           check=False, timeout=20 * SLOW)
        status = next((l.split("status: ")[1].split(",")[0] for l in r.stdout.splitlines() if "status: " in l), None)
        answers = [l.split()[-1] for l in r.stdout.splitlines() if l and not l.startswith(";") and "\tA\t" in l]
        return status, answers

    # -- tests --------------------------------------------------------------------------------------
    def test_1_identity(self):
        """Each cell has its own Ed25519 identity, created on first start, kept 0600 under keys/."""
        seen = set()
        for n in "abc":
            m = self.cells[n].get("/api/mesh").json
            self.assertEqual(len(m["public_key"]), 43, m)
            self.assertRegex(m["fingerprint"], r"^SHA256:([0-9a-f]{4}:){15}[0-9a-f]{4}$")
            self.assertEqual(m["endpoint"], f"{CELLS[n][2]}:51820")
            self.assertTrue(m["listening"])
            seen.add(m["public_key"])
            st = os.stat(os.path.join(self.cells[n].state_dir, "keys", "identity.key"))
            self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(len(seen), 3)

    def test_2_bad_input_and_invite_attacks(self):
        """Bad requests name their field; a changed, expired, foreign-signed, reused or misdirected invite
        links nothing, on either side."""
        a, b, c = self.a, self.b, self.c
        for body, field in (({"expires_in": 0}, "expires_in"), ({"share": ["nope"]}, "share"),
                            ({"share": "calendar"}, "share"), ({"bogus": 1}, "bogus")):
            r = a.post("/api/mesh/invites", body)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["error"]["field"], field, r)
        r = b.post("/api/mesh/join", {"invite": 5})
        self.assertEqual((r.status, r.json["error"]["field"]), (400, "invite"), r)
        r = b.post("/api/mesh/join", {"invite": "x", "extra": 1})
        self.assertEqual((r.status, r.json["error"]["field"]), (400, "extra"), r)
        r = b.put("/api/mesh/cells/a", {"share": []})
        self.assertEqual(r.status, 404, r)

        before_a, before_b = self.snapshot(a), self.snapshot(b)
        text = self.invite(a, share=["calendar"])["invite"]
        # Every single-byte change, at every position: refused, with the field named.
        for i in range(len(text)):
            ch = text[i]
            repl = "B" if ch != "B" else "C"
            if ch == ".":
                repl = "A"
            changed = text[:i] + repl + text[i + 1:]
            r = b.post("/api/mesh/join", {"invite": changed})
            self.assertEqual(r.status, 400, (i, r))
            self.assertEqual(r.json["error"]["field"], "invite")
        # Another signer: a's payload under c's signature.
        other = self.invite(c)["invite"]
        forged = text.split(".")[0] + "." + other.split(".")[1]
        r = b.post("/api/mesh/join", {"invite": forged})
        self.assertEqual(r.status, 400, r)
        self.assertIn("signature", r.json["error"]["message"])
        # Expired.
        short = self.invite(a, expires_in=1)["invite"]
        time.sleep(2.1)
        r = b.post("/api/mesh/join", {"invite": short})
        self.assertEqual(r.status, 400, r)
        self.assertIn("expired", r.json["error"]["message"])
        # A cell cannot join its own invite.
        r = a.post("/api/mesh/join", {"invite": text})
        self.assertEqual(r.status, 400, r)
        # Withdrawn: the inviter refuses it.
        inv = self.invite(a)
        self.assertEqual(a.delete(f"/api/mesh/invites/{inv['id']}").status, 200)
        r = b.post("/api/mesh/join", {"invite": inv["invite"]})
        self.assertEqual(r.status, 403, r)
        # A join meant for a, sent to c's mesh endpoint: c refuses it (not its invite).
        body = json.dumps({"type": "join", "invite": text, "from": {}, "site_ip": "10.12.0.9"}).encode()
        env = json.dumps({"body": base64.urlsafe_b64encode(body).decode().rstrip("="),
                          "sig": base64.urlsafe_b64encode(bytes(64)).decode().rstrip("=")})
        out = run("ip", "netns", "exec", self.inet.name, sys.executable, "-c",
                  "import socket,sys; s=socket.create_connection(('203.0.113.1',51820),timeout=5); "
                  "s.sendall(sys.argv[1].encode()+b'\\n'); print(s.makefile().readline())", env).stdout
        reply = json.loads(b64d(json.loads(out)["body"]))
        self.assertEqual((reply["type"], reply["status"]), ("error", 403), reply)
        self.assertIn("not issued by this cell", reply["message"])
        self.assertEqual(self.snapshot(a), before_a)
        self.assertEqual(self.snapshot(b), before_b)
        self.assertEqual(self.links(c), {})
        self.__class__.first_invite = text

    def test_3_join_share_grant(self):
        """A invites B (sharing calendar), B joins: B's granted peer reaches and resolves A's calendar and
        nothing else of A; B's other peer reaches nothing of A."""
        a, b = self.a, self.b
        r = b.post("/api/mesh/join", {"invite": self.first_invite})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["name"], r.json["state"]), ("a", "active"))
        la, lb = self.links(a), self.links(b)
        self.assertEqual(list(la), ["b"])
        self.assertEqual(list(lb), ["a"])
        self.assertEqual(la["b"]["share"], ["calendar"])
        self.assertEqual(lb["a"]["share"], [])
        self.assertEqual(la["b"]["identity"], b.get("/api/mesh").json["public_key"])
        self.assertEqual(lb["a"]["identity"], a.get("/api/mesh").json["public_key"])
        # The invite is used up: a second join (from any cell) is refused by a.
        r = self.c.post("/api/mesh/join", {"invite": self.first_invite})
        self.assertEqual(r.status, 403, r)
        self.assertIn("already used", r.json["error"]["message"])
        self.assertEqual(self.links(self.c), {})
        # b lets its "granted" peer use calendar and files at a (a shares only calendar).
        r = b.put("/api/mesh/cells/a", {"grants": {"granted": ["calendar", "files"]}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["grants"], {"granted": ["calendar@a", "files@a"]})
        for body, field in (({"grants": {"nobody": ["calendar"]}}, "grants"), ({"grants": {"granted": ["x"]}}, "grants"),
                            ({"share": ["x"]}, "share"), ({"colour": 1}, "colour")):
            r = b.put("/api/mesh/cells/a", body)
            self.assertEqual((r.status, r.json["error"]["field"]), (400, field), r)
        # A local peer deleted takes its remote grants (rows and forward rules) with it.
        self.assertEqual(b.post("/api/peers", {"name": "temp"}).status, 201)
        self.assertEqual(b.put("/api/mesh/cells/a", {"grants": {"temp": ["calendar"]}}).status, 200)
        self.assertEqual(b.delete("/api/peers/temp").status, 200)
        self.assertEqual(self.links(b)["a"]["grants"], {"granted": ["calendar@a", "files@a"]})
        fwd = run("ip", "netns", "exec", b.netns, "nft", "list", "map", "inet", "pic", "mesh_fwd").stdout
        self.assertEqual(fwd.count(": accept"), 2, fwd)
        # The site peer is the link's: the peers API leaves it alone.
        r = a.delete("/api/peers/mesh-b")
        self.assertEqual(r.status, 409, r)
        r = a.post("/api/peers", {"name": "mesh-x"})
        self.assertEqual((r.status, r.json["error"]["field"]), (400, "name"), r)
        cal = self.vip["a"]["calendar"]
        got = wait_for(lambda: self.granted_b.tcp(cal), 20, interval=0.3, what="b's granted peer reaching a's calendar")
        site_b = la["b"]["address"]
        self.assertEqual(got, f"calendar {site_b}")  # a sees b's site peer, nothing of b's inside
        self.assertIsNone(self.granted_b.tcp(self.vip["a"]["files"]))  # granted by b, not shared by a
        self.assertIsNone(self.other_b.tcp(cal))
        self.assertIsNone(self.phone_a.tcp(self.vip["b"]["calendar"]))  # b shares nothing with a
        # DNS across the link, answering only what a shares with b.
        st = wait_for(lambda: self.dig(self.granted_b, "b", "calendar.a.cell")[0] == "NOERROR"
                      and self.dig(self.granted_b, "b", "calendar.a.cell"), 15, what="calendar.a.cell via b")
        self.assertEqual(st[1], [cal])
        self.assertEqual(self.dig(self.granted_b, "b", "files.a.cell")[0], "NXDOMAIN")
        links = self.links(b)["a"]
        self.assertTrue(links["latest_handshake"])
        self.assertTrue(links["last_dns_forward"])
        self.assertTrue(links["up"])

    def test_4_c_joins_b_and_reaches_nothing_of_a(self):
        b, c = self.b, self.c
        # This time through the CLI: the invite text alone on stdout, its QR code on stderr.
        out = b.cli("mesh", "invite", "files", check=True)
        text = out.stdout.strip()
        self.assertTrue(text.startswith("pic-invite:"), out)
        self.assertIn("\u2588", out.stderr)  # the terminal QR code, drawn with block characters
        self.assertIn("single use", out.stderr)
        r = c.cli("mesh", "join", text)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Linked with cell b", r.stderr)
        self.assertEqual(sorted(self.links(b)), ["a", "c"])
        r = c.cli("mesh", "grant", "b", "phone-c", "files")
        self.assertEqual(r.returncode, 0, r)
        listing = c.cli("mesh", "list", check=True).stdout
        self.assertRegex(listing, r"(?m)^b\s+active\s+198\.51\.100\.1:51820")
        self.assertIn("files@b", listing)
        got = wait_for(lambda: self.phone_c.tcp(self.vip["b"]["files"]), 20, interval=0.3, what="c reaching b's files")
        self.assertTrue(got.startswith("files "))
        for s in ("calendar", "files"):
            self.assertIsNone(self.phone_c.tcp(self.vip["a"][s]))
        self.assertNotEqual(self.dig(self.phone_c, "c", "calendar.a.cell"), ("NOERROR", [self.vip["a"]["calendar"]]))

    def test_5_overlap_refused_on_both_sides(self):
        """d's VPN subnet is b's: joining b is refused by d before it asks; joining a is refused by a (b's
        subnet is linked there). 409 both times, nothing changed anywhere."""
        a, b, d = self.a, self.b, self.d
        before = {n: self.snapshot(p) for n, p in (("a", a), ("b", b), ("d", d))}
        inv_b = self.invite(b)
        r = d.post("/api/mesh/join", {"invite": inv_b["invite"]})
        self.assertEqual((r.status, r.json["error"]["field"]), (409, "invite"), r)
        self.assertIn("overlap", r.json["error"]["message"])
        r = d.post("/api/mesh/join", {"invite": self.invite(a)["invite"]})
        self.assertEqual((r.status, r.json["error"]["field"]), (409, "invite"), r)
        self.assertIn("overlap", r.json["error"]["message"])
        for n, p in (("a", a), ("b", b), ("d", d)):
            self.assertEqual(self.snapshot(p), before[n], n)
        # The invite d could not use is still open for someone else.
        self.assertEqual([i["state"] for i in b.get("/api/mesh/invites").json["invites"] if i["id"] == inv_b["id"]],
                         ["open"])

    def test_6_unshare_cuts_at_once(self):
        cal = self.vip["a"]["calendar"]
        self.assertIsNotNone(self.granted_b.tcp(cal))
        r = self.a.put("/api/mesh/cells/b", {"share": []})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(self.granted_b.tcp(cal))
        self.assertEqual(self.links(self.a)["b"]["share"], [])
        # and back, for the leave below to undo a live share
        self.assertEqual(self.a.put("/api/mesh/cells/b", {"share": ["calendar"]}).status, 200)
        wait_for(lambda: self.granted_b.tcp(cal), 10, interval=0.2, what="the share back")

    def test_7_leave_restores_a_byte_for_byte(self):
        a, b = self.a, self.b
        r = b.delete("/api/mesh/cells/a")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"left": "a", "notified": True})
        self.assertNotIn("a", self.links(b))
        self.assertIsNone(self.granted_b.tcp(self.vip["a"]["calendar"]))
        after = self.snapshot(a)
        for k in self.before_a:
            self.assertEqual(after[k], self.before_a[k], k)
        fwd = run("ip", "netns", "exec", b.netns, "nft", "list", "map", "inet", "pic", "mesh_fwd").stdout
        self.assertNotIn("elements", fwd)
        # b's grants at a went with the link; b's link with c is untouched.
        self.assertEqual(list(self.links(b)), ["c"])
        self.assertIsNotNone(self.phone_c.tcp(self.vip["b"]["files"]))

    def test_8_leave_with_other_side_down(self):
        """c leaves b while b is stopped: c cleans up its own side; b, back, still lists c until told."""
        b, c = self.b, self.c
        b.stop()
        try:
            r = c.delete("/api/mesh/cells/b")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json, {"left": "b", "notified": False})
            self.assertEqual(self.links(c), {})
            self.assertNotIn("mesh-b", [x["name"] for x in c.get("/api/peers").json["peers"]])
        finally:
            b.start()
            b.admin()
        # b's own leave cleans its side (c answers: not linked any more).
        r = b.delete("/api/mesh/cells/c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.links(b), {})

    def test_9_kill9_mid_join(self):
        """kill -9 of b's picd at a random point of a join: after its restart both sides have the whole
        link or neither has any of it."""
        a, b = self.a, self.b
        rnd = random.Random(os.getpid())
        for attempt in range(3):
            text = self.invite(a, share=["calendar"])["invite"]
            def join():
                try:
                    b.post("/api/mesh/join", {"invite": text}, timeout=10)
                except OSError:
                    pass  # killed under it
            t = threading.Thread(target=join, daemon=True)
            t.start()
            time.sleep(rnd.uniform(0.0, 0.25))
            b.kill9()
            t.join(15)
            b.start()
            b.admin()
            wait_for(lambda: all(x["state"] == "active" for x in self.links(b).values()), 30, interval=0.3,
                     what="no pending join left on b")
            la, lb = self.links(a), self.links(b)
            self.assertEqual("b" in la, "a" in lb, (attempt, la, lb))
            peers_a = [x["name"] for x in a.get("/api/peers").json["peers"]]
            peers_b = [x["name"] for x in b.get("/api/peers").json["peers"]]
            self.assertEqual("mesh-b" in peers_a, "b" in la)
            self.assertEqual("mesh-a" in peers_b, "a" in lb)
            if "a" in lb:
                # whole: traffic and DNS across it after the restart
                self.assertEqual(b.put("/api/mesh/cells/a", {"grants": {"granted": ["calendar"]}}).status, 200)
                wait_for(lambda: self.granted_b.tcp(self.vip["a"]["calendar"]), 20, interval=0.3,
                         what="the link working after the restart")
                self.assertEqual(b.delete("/api/mesh/cells/a").json["notified"], True)
            self.assertEqual(self.links(a), {})


if __name__ == "__main__":
    main()
