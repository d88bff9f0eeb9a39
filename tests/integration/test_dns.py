"""DNS (unbound) as a user sees it: built-in service names, custom records through the API answering at
once, validation and conflicts, per-peer views seen from two VPN addresses, upstream forwarding to a second
unbound, and a kill -9 of unbound after which the answers are the same."""
import os
import re
import signal
import subprocess
import tempfile

from pic import PicdTestCase, Netns, main, run, unique, wait_for

ZONE = "mycell.cell"
PEER_A, PEER_B, STRANGER = "10.0.0.2", "10.0.0.3", "10.0.0.4"


def dig(ns, server, name, rtype="A", source=None, tcp=False):
    """(status, [answer rdata...]) of one query made from namespace ns."""
    argv = ["ip", "netns", "exec", ns, "dig", "+time=1", "+tries=2", "+noall", "+comments", "+answer",
            f"@{server}", name, rtype]
    if source:
        argv.insert(5, f"-b{source}")
    if tcp:
        argv.insert(5, "+tcp")
    out = run(*argv, check=False, timeout=20).stdout
    m = re.search(r"status: (\w+)", out)
    answers = [line.split(None, 4)[4] for line in out.splitlines()
               if line and not line.startswith(";") and len(line.split(None, 4)) == 5]
    return (m.group(1) if m else "TIMEOUT"), answers


def dig_rrs(ns, server, name, rtype="A", source=None):
    """(status, [(owner, type, rdata)...]) of one query from namespace ns: the answer section as a stub
    resolver sees it (CNAME chain included)."""
    argv = ["ip", "netns", "exec", ns, "dig", "+time=1", "+tries=2", "+noall", "+comments", "+answer",
            f"@{server}", name, rtype]
    if source:
        argv.insert(5, f"-b{source}")
    out = run(*argv, check=False, timeout=20).stdout
    m = re.search(r"status: (\w+)", out)
    rrs = []
    for line in out.splitlines():
        f = line.split(None, 4)
        if line and not line.startswith(";") and len(f) == 5:
            rrs.append((f[0], f[3], f[4]))
    return (m.group(1) if m else "TIMEOUT"), rrs


def unbound_pid(state_dir):
    conf = os.path.join(state_dir, "etc", "dns", "unbound.conf").encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"unbound") and conf in argv:
            return int(pid)
    return None


UPSTREAM_CONF = """server:
    username: ""
    chroot: ""
    pidfile: ""
    use-syslog: no
    logfile: ""
    directory: "{dir}"
    module-config: "iterator"
    do-ip6: no
    interface: 10.98.0.2
    access-control: 10.98.0.0/30 allow
    local-zone: "example.org." static
    local-data: "ext.example.org. 60 IN A 192.0.2.7"
"""


class DnsTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.extra = []
        try:
            cls.cell = cls.picd.netns
            cfg = cls.picd.get("/api/config").json
            cls.vip = cfg["service_ips"]["dns"]
            cls.ips = cfg["service_ips"]
            wait_for(lambda: dig(cls.cell, cls.vip, f"api.{ZONE}")[0] == "NOERROR", 15, what="unbound answering")

            # A "VPN client" namespace: two peer addresses inside the VPN subnet behind one veth. Host routes
            # on the cell side (more specific than any VPN interface's /24), and a route to ip_range.
            cls.client = Netns()
            cls.extra.append(cls.client)
            a, b = unique("vd")[:15], unique("vc")[:15]
            run("ip", "link", "add", a, "netns", cls.cell, "type", "veth", "peer", "name", b, "netns", cls.client.name)
            run("ip", "-n", cls.cell, "addr", "add", "10.97.0.1/30", "dev", a)
            run("ip", "-n", cls.client.name, "addr", "add", "10.97.0.2/30", "dev", b)
            for ip in (PEER_A, PEER_B, STRANGER):
                run("ip", "-n", cls.client.name, "addr", "add", f"{ip}/32", "dev", b)
            run("ip", "-n", cls.cell, "link", "set", a, "up")
            run("ip", "-n", cls.client.name, "link", "set", b, "up")
            for ip in (PEER_A, PEER_B, STRANGER):
                run("ip", "-n", cls.cell, "route", "add", f"{ip}/32", "via", "10.97.0.2", "dev", a)
            run("ip", "-n", cls.client.name, "route", "add", "172.20.0.0/24", "via", "10.97.0.1")
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for ns in getattr(cls, "extra", []):
            ns.delete()
        super().tearDownClass()

    def setUp(self):
        self.created = []

    def tearDown(self):
        for rid in self.created:
            self.picd.delete(f"/api/dns/records/{rid}")
        for p in self.picd.get("/api/peers").json.get("peers", []):
            self.picd.delete(f"/api/peers/{p['name']}")

    def add(self, name, rtype, value, **kw):
        r = self.picd.post("/api/dns/records", {"name": name, "type": rtype, "value": value, **kw})
        self.assertEqual(r.status, 201, r)
        self.created.append(r.json["id"])
        return r.json

    def wait_dns_ready(self):
        """After a change that restarts unbound: a record added now must answer, i.e. the re-apply ran."""
        def ready():
            r = self.picd.post("/api/dns/records", {"name": "ready-probe", "type": "TXT", "value": "x"})
            if r.status != 201:
                return False
            ok = self.q(f"ready-probe.{ZONE}", "TXT")[0] == "NOERROR"
            self.picd.delete(f"/api/dns/records/{r.json['id']}")
            return ok
        wait_for(ready, 15, what="unbound restarted and re-applied")

    def q(self, name, rtype="A", **kw):
        return dig(self.cell, self.vip, name, rtype, **kw)

    def qc(self, source, name, rtype="A", **kw):
        return dig(self.client.name, self.vip, name, rtype, source=source, **kw)

    # -- built-in names -------------------------------------------------------------------------------
    def test_builtin_service_names_and_reverse(self):
        self.assertEqual(self.q(ZONE), ("NOERROR", [self.ips["api"]]))
        for svc in ("api", "calendar", "files", "mail", "webdav", "dns", "dhcp", "ntp"):
            self.assertEqual(self.q(f"{svc}.{ZONE}"), ("NOERROR", [self.ips[svc]]), svc)
        mail = self.ips["mail"].split(".")
        self.assertEqual(self.q(".".join(reversed(mail)) + ".in-addr.arpa", "PTR"), ("NOERROR", [f"mail.{ZONE}."]))
        self.assertEqual(self.q(f"nothing.{ZONE}")[0], "NXDOMAIN")
        # Reverse zone of the VPN subnet exists (no leak upstream, no AS112 answer from a default zone).
        self.assertEqual(self.q("77.0.0.10.in-addr.arpa", "PTR")[0], "NXDOMAIN")

    # -- records --------------------------------------------------------------------------------------
    def test_record_answers_at_once_and_goes_at_once(self):
        rec = self.add("www", "A", "172.20.0.50", ttl=60)
        self.assertEqual(rec["fqdn"], f"www.{ZONE}.")
        # No waiting: a 201 means unbound answers already.
        self.assertEqual(self.q(f"www.{ZONE}"), ("NOERROR", ["172.20.0.50"]))
        second = self.add(f"www.{ZONE}.", "A", "172.20.0.51")
        self.assertEqual(sorted(self.q(f"www.{ZONE}")[1]), ["172.20.0.50", "172.20.0.51"])
        listed = self.picd.get("/api/dns/records").json
        self.assertEqual(listed["zone"], ZONE)
        self.assertEqual({r["id"] for r in listed["records"]}, {rec["id"], second["id"]})

        r = self.picd.delete(f"/api/dns/records/{rec['id']}")
        self.assertEqual(r.status, 200, r)
        self.created.remove(rec["id"])
        self.assertEqual(self.q(f"www.{ZONE}"), ("NOERROR", ["172.20.0.51"]))
        self.assertEqual(self.picd.delete(f"/api/dns/records/{second['id']}").status, 200)
        self.created.remove(second["id"])
        self.assertEqual(self.q(f"www.{ZONE}")[0], "NXDOMAIN")
        self.assertEqual(self.picd.delete(f"/api/dns/records/{second['id']}").status, 404)

    def test_every_record_type(self):
        self.add("v6", "AAAA", "FD00:0:0::10")
        self.add("alias", "cname", "api")
        self.add("@", "MX", "20 mx.example.net.")
        self.add("_sip._tcp", "SRV", "10 5 5060 sip.example.net.")
        dmarc = "v=DMARC1; p=none; rua=mailto:postmaster@mycell.cell"
        self.add("_dmarc", "TXT", dmarc)
        long_txt = "k=" + "A" * 600
        self.add("s1._domainkey", "TXT", long_txt)
        self.assertEqual(self.q(f"v6.{ZONE}", "AAAA"), ("NOERROR", ["fd00::10"]))
        # Local CNAMEs are answered as such; the client's resolver follows them.
        self.assertEqual(self.q(f"alias.{ZONE}", "CNAME"), ("NOERROR", [f"api.{ZONE}."]))
        # A custom MX replaces the one the mail service publishes for the zone (never both).
        self.assertEqual(self.q(ZONE, "MX"), ("NOERROR", ["20 mx.example.net."]))
        self.assertEqual(self.q(ZONE), ("NOERROR", [self.ips["api"]]), "apex A survives records at the apex")
        self.assertEqual(self.q(f"_sip._tcp.{ZONE}", "SRV"), ("NOERROR", ["10 5 5060 sip.example.net."]))
        self.assertEqual(self.q(f"_dmarc.{ZONE}", "TXT"), ("NOERROR", [f'"{dmarc}"']))
        st, ans = self.q(f"s1._domainkey.{ZONE}", "TXT")
        self.assertEqual(st, "NOERROR")
        self.assertEqual("".join(re.findall(r'"([^"]*)"', ans[0])), long_txt)
        # Deleting one record of the apex leaves the built-in apex address.
        mx = [r for r in self.picd.get("/api/dns/records").json["records"] if r["type"] == "MX"][0]
        self.assertEqual(self.picd.delete(f"/api/dns/records/{mx['id']}").status, 200)
        self.created.remove(mx["id"])
        self.assertEqual(self.q(ZONE, "MX"), ("NOERROR", [f"10 mail.{ZONE}."]), "the mail service's MX is back")
        self.assertEqual(self.q(ZONE), ("NOERROR", [self.ips["api"]]))

    def test_validation_rejects_with_400_and_changes_nothing(self):
        conf = os.path.join(self.picd.state_dir, "etc", "dns", "unbound.conf")
        with open(conf) as f:
            conf_before = f.read()
        ok = {"name": "ok", "type": "A", "value": "172.20.0.60"}
        bad = [
            ({"name": "a\nb"}, "name"), ({"name": "a b"}, "name"), ({"name": 'a"b'}, "name"),
            ({"name": "a}b"}, "name"), ({"name": "a;b"}, "name"), ({"name": "caf\u00e9"}, "name"),
            ({"name": "x" * 64}, "name"), ({"name": ("abc." * 70) + "x"}, "name"), ({"name": ""}, "name"),
            ({"name": "*.wild"}, "name"), ({"name": "a..b"}, "name"), ({"name": "-a"}, "name"),
            ({"name": "www.example.com."}, "name"), ({"name": 5}, "name"),
            ({"type": "PTR"}, "type"), ({"type": "A\n"}, "type"), ({"type": None}, "type"),
            ({"value": "172.20.0.60\nlocal-zone: evil. static"}, "value"), ({"value": "172.20.0.60 ; x"}, "value"),
            ({"value": "1.2.3"}, "value"), ({"value": "01.2.3.4"}, "value"), ({"value": ""}, "value"),
            ({"value": 3}, "value"),
            ({"type": "AAAA", "value": "fd00::1::2"}, "value"),
            ({"type": "CNAME", "value": "a b"}, "value"), ({"type": "CNAME", "value": 'x"y'}, "value"),
            ({"type": "CNAME", "value": "x}"}, "value"),
            ({"type": "TXT", "value": 'say "hi"'}, "value"), ({"type": "TXT", "value": "a\nlocal-data: x"}, "value"),
            ({"type": "TXT", "value": "a}b"}, "value"), ({"type": "TXT", "value": "back\\slash"}, "value"),
            ({"type": "TXT", "value": "h\u00e9"}, "value"), ({"type": "TXT", "value": "x" * 1025}, "value"),
            ({"type": "TXT", "value": "tab\there"}, "value"),
            ({"type": "MX", "value": "10"}, "value"), ({"type": "MX", "value": "x mail"}, "value"),
            ({"type": "MX", "value": "10  mail"}, "value"), ({"type": "MX", "value": "70000 mail"}, "value"),
            ({"type": "SRV", "value": "1 2 mail"}, "value"), ({"type": "SRV", "value": "1 2 3 4 mail"}, "value"),
            ({"ttl": -1}, "ttl"), ({"ttl": "300"}, "ttl"), ({"ttl": 604801}, "ttl"), ({"ttl": 1.5}, "ttl"),
            ({"extra": 1}, "extra"),
        ]
        for change, field in bad:
            body = dict(ok, **change)
            with self.subTest(body=body):
                self.assertError(self.picd.post("/api/dns/records", body), 400, field)
        self.assertError(self.picd.post("/api/dns/records", ["not", "an", "object"]), 400)
        self.assertError(self.picd.request("POST", "/api/dns/records", raw=b"{not json",
                                           headers={"Content-Type": "application/json"}), 400)
        for rid in ("abc", "0", "-1", "1x", "99999999999999999999"):
            with self.subTest(id=rid):
                self.assertError(self.picd.delete(f"/api/dns/records/{rid}"), 400, "id")
        self.assertError(self.picd.delete("/api/dns/records/424242"), 404)
        self.assertEqual(self.picd.get("/api/dns/records").json["count"], 0)
        with open(conf) as f:
            self.assertEqual(f.read(), conf_before)
        self.assertEqual(self.q("evil", "A")[1], [])
        self.assertEqual(self.q(f"ok.{ZONE}")[0], "NXDOMAIN")

    def test_conflicts_are_409(self):
        self.add("dup", "A", "172.20.0.61")
        self.assertError(self.picd.post("/api/dns/records", {"name": "DUP", "type": "a", "value": "172.20.0.61"}),
                         409, "value")
        for name in ("calendar", "files", "api", "mail", "webdav", "dns", "dhcp", "ntp"):
            with self.subTest(name=name):
                self.assertError(self.picd.post("/api/dns/records", {"name": name, "type": "TXT", "value": "x"}),
                                 409, "name")
        self.assertError(self.picd.post("/api/dns/records", {"name": "dup", "type": "CNAME", "value": "api"}),
                         409, "name")
        self.add("c", "CNAME", "api")
        self.assertError(self.picd.post("/api/dns/records", {"name": "c", "type": "TXT", "value": "x"}), 409, "name")
        self.assertError(self.picd.post("/api/dns/records", {"name": "c", "type": "CNAME", "value": "files"}),
                         409, "name")
        self.assertError(self.picd.post("/api/dns/records", {"name": "@", "type": "A", "value": "172.20.0.9"}),
                         409, "name")
        self.assertError(self.picd.post("/api/dns/records", {"name": ZONE, "type": "CNAME", "value": "x."}),
                         409, "name")
        self.assertEqual(self.q(f"dup.{ZONE}"), ("NOERROR", ["172.20.0.61"]))

    # -- per-peer views -------------------------------------------------------------------------------
    def peer(self, name, ip, access):
        r = self.picd.post("/api/peers", {"name": name, "ip": ip, "service_access": access})
        self.assertEqual(r.status, 201, r)

    def test_views_follow_each_peers_grant(self):
        self.add("www", "A", "172.20.0.70")
        self.peer("alice", PEER_A, ["calendar"])
        self.peer("bob", PEER_B, [])
        cal = f"calendar.{ZONE}"
        self.assertEqual(self.qc(PEER_A, cal), ("NOERROR", [self.ips["calendar"]]))
        self.assertEqual(self.qc(PEER_B, cal), ("NXDOMAIN", []))
        self.assertEqual(self.qc(PEER_B, cal, tcp=True), ("NXDOMAIN", []))
        self.assertEqual(self.qc(PEER_A, f"files.{ZONE}")[0], "NXDOMAIN")
        self.assertEqual(self.qc(PEER_A, f"x.files.{ZONE}")[0], "NXDOMAIN")
        cal_rev = ".".join(reversed(self.ips["calendar"].split("."))) + ".in-addr.arpa"
        self.assertEqual(self.qc(PEER_B, cal_rev, "PTR")[0], "NXDOMAIN")
        self.assertEqual(self.qc(PEER_A, cal_rev, "PTR"), ("NOERROR", [f"calendar.{ZONE}."]))
        for src in (PEER_A, PEER_B):
            self.assertEqual(self.qc(src, f"api.{ZONE}"), ("NOERROR", [self.ips["api"]]))
            self.assertEqual(self.qc(src, f"www.{ZONE}"), ("NOERROR", ["172.20.0.70"]), "custom records in views")
        # An address of the VPN subnet that is no peer gets nothing.
        self.assertEqual(self.qc(STRANGER, cal)[0], "REFUSED")

        # Grants flip the answers for the very next query.
        self.assertEqual(self.picd.put("/api/peers/bob", {"service_access": ["calendar", "files"]}).status, 200)
        self.assertEqual(self.qc(PEER_B, cal), ("NOERROR", [self.ips["calendar"]]))
        self.assertEqual(self.qc(PEER_B, f"files.{ZONE}"), ("NOERROR", [self.ips["files"]]))
        self.assertEqual(self.picd.put("/api/peers/alice", {"service_access": []}).status, 200)
        self.assertEqual(self.qc(PEER_A, cal)[0], "NXDOMAIN")
        # Disabled and deleted peers are strangers again.
        self.assertEqual(self.picd.put("/api/peers/bob", {"enabled": False}).status, 200)
        self.assertEqual(self.qc(PEER_B, cal)[0], "REFUSED")
        self.assertEqual(self.picd.put("/api/peers/bob", {"enabled": True}).status, 200)
        self.assertEqual(self.qc(PEER_B, cal)[0], "NOERROR")
        self.assertEqual(self.picd.delete("/api/peers/alice").status, 200)
        self.assertEqual(self.qc(PEER_A, cal)[0], "REFUSED")
        self.assertEqual(self.qc(PEER_A, f"api.{ZONE}")[0], "REFUSED")
        # The view ports cannot be reached directly from outside to skip the rewrite.
        out = run("ip", "netns", "exec", self.client.name, "dig", "+time=1", "+tries=1", "-p", "5315",
                  f"-b{STRANGER}", f"@{self.vip}", cal, check=False).stdout
        self.assertNotIn("status: NOERROR", out)

    # -- CNAMEs ---------------------------------------------------------------------------------------
    def rrs(self, name, rtype="A", source=None):
        if source:
            return dig_rrs(self.client.name, self.vip, name, rtype, source=source)
        return dig_rrs(self.cell, self.vip, name, rtype)

    def getent(self, name):
        """What glibc (getaddrinfo, as browsers use it) resolves inside the cell namespace: its resolv.conf is
        /etc/netns/<ns>/resolv.conf, which `ip netns exec` binds over /etc/resolv.conf."""
        d = f"/etc/netns/{self.cell}"
        if not os.path.exists(f"{d}/resolv.conf"):
            os.makedirs(d, exist_ok=True)
            with open(f"{d}/resolv.conf", "w") as f:
                f.write(f"nameserver {self.vip}\noptions timeout:1 attempts:2\n")
            self.addCleanup(lambda: (os.unlink(f"{d}/resolv.conf"), os.rmdir(d)))
        out = run("ip", "netns", "exec", self.cell, "getent", "ahostsv4", name, check=False).stdout
        return sorted({line.split()[0] for line in out.splitlines() if line.strip()})

    def test_cname_in_zone_is_followed(self):
        self.add("nas", "A", "172.20.0.60")
        self.add("www", "CNAME", "nas")
        self.assertEqual(self.rrs(f"www.{ZONE}"), ("NOERROR", [(f"www.{ZONE}.", "CNAME", f"nas.{ZONE}."),
                                                              (f"nas.{ZONE}.", "A", "172.20.0.60")]))
        self.assertEqual(self.getent(f"www.{ZONE}"), ["172.20.0.60"], "glibc gets the address")
        # Over TCP, for other types, and a query for the CNAME itself is just the CNAME.
        self.assertEqual(self.q(f"www.{ZONE}", tcp=True), ("NOERROR", [f"nas.{ZONE}.", "172.20.0.60"]))
        self.assertEqual(self.q(f"www.{ZONE}", "CNAME"), ("NOERROR", [f"nas.{ZONE}."]))
        # A CNAME to a service name, and one to the zone apex.
        self.add("cal", "CNAME", f"calendar.{ZONE}.")
        self.assertEqual(self.q(f"cal.{ZONE}"), ("NOERROR", [f"calendar.{ZONE}.", self.ips["calendar"]]))
        self.add("home", "CNAME", "@")
        self.assertEqual(self.q(f"home.{ZONE}"), ("NOERROR", [f"{ZONE}.", self.ips["api"]]))
        # A peer (in its view) gets the chain too.
        self.peer("gina", PEER_A, [])
        self.assertEqual(self.qc(PEER_A, f"www.{ZONE}"), ("NOERROR", [f"nas.{ZONE}.", "172.20.0.60"]))

    def test_cname_chains_follow_changes_and_deletes(self):
        nas = self.add("nas", "A", "172.20.0.61")
        self.add("b", "CNAME", "nas")
        a = self.add("a", "CNAME", f"b.{ZONE}.")
        self.assertEqual(self.rrs(f"a.{ZONE}"), ("NOERROR", [(f"a.{ZONE}.", "CNAME", f"b.{ZONE}."),
                                                            (f"b.{ZONE}.", "CNAME", f"nas.{ZONE}."),
                                                            (f"nas.{ZONE}.", "A", "172.20.0.61")]))
        self.assertEqual(self.getent(f"a.{ZONE}"), ["172.20.0.61"])
        # The target changes: the very next query follows it (nothing stale is cached).
        self.assertEqual(self.picd.delete(f"/api/dns/records/{nas['id']}").status, 200)
        self.created.remove(nas["id"])
        self.assertEqual(self.q(f"a.{ZONE}"), ("NXDOMAIN", [f"b.{ZONE}.", f"nas.{ZONE}."]))
        self.add("nas", "A", "172.20.0.62")
        self.assertEqual(self.q(f"a.{ZONE}"), ("NOERROR", [f"b.{ZONE}.", f"nas.{ZONE}.", "172.20.0.62"]))
        self.assertEqual(self.getent(f"a.{ZONE}"), ["172.20.0.62"])
        # Deleting the CNAME: its name is gone, nothing of it is left in any view.
        self.assertEqual(self.picd.delete(f"/api/dns/records/{a['id']}").status, 200)
        self.created.remove(a["id"])
        self.assertEqual(self.q(f"a.{ZONE}"), ("NXDOMAIN", []))
        self.peer("hank", PEER_A, ["calendar", "files", "mail", "webdav"])
        self.assertEqual(self.qc(PEER_A, f"a.{ZONE}"), ("NXDOMAIN", []))
        self.assertEqual(self.qc(PEER_A, f"b.{ZONE}"), ("NOERROR", [f"nas.{ZONE}.", "172.20.0.62"]))
        # The name is free again for any record.
        self.add("a", "A", "172.20.0.63")
        self.assertEqual(self.q(f"a.{ZONE}"), ("NOERROR", ["172.20.0.63"]))

    def test_cname_to_a_service_follows_each_peers_grant(self):
        self.add("cal", "CNAME", "calendar")
        self.add("cal2", "CNAME", "cal")
        self.peer("ivan", PEER_A, ["calendar"])
        self.peer("judy", PEER_B, ["files"])
        want = ("NOERROR", [f"calendar.{ZONE}.", self.ips["calendar"]])
        self.assertEqual(self.qc(PEER_A, f"cal.{ZONE}"), want)
        self.assertEqual(self.qc(PEER_A, f"cal2.{ZONE}"), ("NOERROR", [f"cal.{ZONE}."] + want[1]))
        # A peer without the grant learns neither the service's address nor that the alias exists.
        for name in (f"cal.{ZONE}", f"cal2.{ZONE}"):
            for tcp in (False, True):
                self.assertEqual(self.qc(PEER_B, name, tcp=tcp), ("NXDOMAIN", []), name)
        # Even right after a granted peer's query (no shared cache answers for it).
        self.assertEqual(self.qc(PEER_A, f"cal.{ZONE}"), want)
        self.assertEqual(self.qc(PEER_B, f"cal.{ZONE}"), ("NXDOMAIN", []))
        # Grants flip it, both ways.
        self.assertEqual(self.picd.put("/api/peers/judy", {"service_access": ["calendar"]}).status, 200)
        self.assertEqual(self.qc(PEER_B, f"cal2.{ZONE}")[1][-1], self.ips["calendar"])
        self.assertEqual(self.picd.put("/api/peers/ivan", {"service_access": []}).status, 200)
        self.assertEqual(self.qc(PEER_A, f"cal.{ZONE}"), ("NXDOMAIN", []))
        # A chain that is re-pointed away from the service becomes visible to everyone.
        self.add("web", "A", "172.20.0.64")
        recs = {r["name"]: r for r in self.picd.get("/api/dns/records").json["records"]}
        self.assertEqual(self.picd.delete(f"/api/dns/records/{recs['cal']['id']}").status, 200)
        self.created.remove(recs["cal"]["id"])
        self.add("cal", "CNAME", "web")
        self.assertEqual(self.qc(PEER_A, f"cal2.{ZONE}"), ("NOERROR", [f"cal.{ZONE}.", f"web.{ZONE}.",
                                                                        "172.20.0.64"]))

    def test_cname_rules_are_409(self):
        self.add("www", "CNAME", "nas")
        self.add("sub.deep", "A", "172.20.0.65")
        cases = [
            ({"name": "x.www", "type": "A", "value": "172.20.0.66"}, "name"),     # below a CNAME
            ({"name": "y.x.www", "type": "TXT", "value": "t"}, "name"),
            ({"name": "deep", "type": "CNAME", "value": "nas"}, "name"),           # names below it exist
            ({"name": "x.calendar", "type": "CNAME", "value": "nas"}, "name"),     # below a service name
            ({"name": "nas", "type": "CNAME", "value": "www"}, "value"),            # www -> nas -> www
            ({"name": "self", "type": "CNAME", "value": "self"}, "value"),
            ({"name": "v", "type": "CNAME", "value": "x.www"}, "value"),           # below a CNAME: answers as www
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertError(self.picd.post("/api/dns/records", body), 409, field)
        # Chains: 8 CNAMEs are fine, a 9th in front or behind is not.
        self.add("c1", "CNAME", "nas")
        for i in range(2, 9):
            self.add(f"c{i}", "CNAME", f"c{i - 1}")
        self.add("nas", "A", "172.20.0.67")
        self.assertEqual(self.q(f"c8.{ZONE}")[1][-1], "172.20.0.67")
        self.assertError(self.picd.post("/api/dns/records", {"name": "c9", "type": "CNAME", "value": "c8"}), 409,
                         "value")
        self.add("p", "CNAME", "x.q")
        self.assertError(self.picd.post("/api/dns/records", {"name": "q", "type": "CNAME", "value": "p"}), 409,
                         "value")  # q would answer for x.q, which p points at: a hidden loop
        self.assertError(self.picd.post("/api/dns/records", {"name": "nas", "type": "CNAME", "value": "c1"}),
                         409, "name")  # nas has an A now: a CNAME must be alone
        before = self.picd.get("/api/dns/records").json
        # Nothing of the refused requests was stored or published.
        self.assertEqual(len(before["records"]), len(self.created))
        self.assertEqual(self.q(f"c9.{ZONE}")[0], "NXDOMAIN")

    # -- forwarders -----------------------------------------------------------------------------------
    def start_upstream(self):
        """A second unbound in its own namespace serving example.org; the cell forwards to it."""
        up = Netns()
        self.addCleanup(up.delete)
        a, b = unique("vu")[:15], unique("vv")[:15]
        run("ip", "link", "add", a, "netns", self.cell, "type", "veth", "peer", "name", b, "netns", up.name)
        run("ip", "-n", self.cell, "addr", "add", "10.98.0.1/30", "dev", a)
        run("ip", "-n", up.name, "addr", "add", "10.98.0.2/30", "dev", b)
        run("ip", "-n", self.cell, "link", "set", a, "up")
        run("ip", "-n", up.name, "link", "set", b, "up")
        tmp = tempfile.TemporaryDirectory(prefix="upstream-")
        self.addCleanup(tmp.cleanup)
        conf = os.path.join(tmp.name, "unbound.conf")
        with open(conf, "w") as f:
            f.write(UPSTREAM_CONF.format(dir=tmp.name))
        proc = up.popen("unbound", "-d", "-c", conf, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop_upstream():
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        self.addCleanup(stop_upstream)
        wait_for(lambda: dig(up.name, "10.98.0.2", "ext.example.org")[1] == ["192.0.2.7"], 10, what="upstream")

    def test_cname_to_an_outside_name_is_resolved(self):
        self.start_upstream()
        self.assertEqual(self.picd.put("/api/config", {"dns": {"forwarders": "10.98.0.2"}}).status, 200)
        self.addCleanup(lambda: self.picd.put("/api/config", {"dns": {"forwarders": ""}}))
        self.add("ext", "CNAME", "ext.example.org.")
        self.assertEqual(self.rrs(f"ext.{ZONE}"), ("NOERROR", [(f"ext.{ZONE}.", "CNAME", "ext.example.org."),
                                                              ("ext.example.org.", "A", "192.0.2.7")]))
        self.assertEqual(self.getent(f"ext.{ZONE}"), ["192.0.2.7"])
        self.peer("kim", PEER_A, [])
        self.assertEqual(self.qc(PEER_A, f"ext.{ZONE}"), ("NOERROR", ["ext.example.org.", "192.0.2.7"]))

    def test_forwarders_to_an_upstream_unbound(self):
        self.start_upstream()
        pid = unbound_pid(self.picd.state_dir)
        self.assertIsNotNone(pid)
        r = self.picd.put("/api/config", {"dns": {"forwarders": "10.98.0.2"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.q("ext.example.org"), ("NOERROR", ["192.0.2.7"]))
        self.assertEqual(self.qc(PEER_A, "ext.example.org")[0], "REFUSED", "no peer yet: a stranger")
        self.peer("carol", PEER_A, [])
        self.assertEqual(self.qc(PEER_A, "ext.example.org"), ("NOERROR", ["192.0.2.7"]))
        self.assertEqual(unbound_pid(self.picd.state_dir), pid, "forwarders change at runtime, no restart")
        with open(os.path.join(self.picd.state_dir, "etc", "dns", "unbound.conf")) as f:
            self.assertIn("forward-addr: 10.98.0.2", f.read())

        r = self.picd.put("/api/config", {"dns": {"forwarders": ""}})
        self.assertEqual(r.status, 200, r)
        run("ip", "netns", "exec", self.cell, "true")
        # Without forwarders unbound recurses from the root itself, which this namespace cannot reach.
        self.assertNotEqual(self.q("other.example.org"), ("NOERROR", ["192.0.2.7"]))
        self.assertEqual(unbound_pid(self.picd.state_dir), pid)

        for value in ("10.98.0", "127.0.0.1", "0.0.0.0", "1.1.1.1;x", "1.1.1.1\n2.2.2.2", " ".join(["1.1.1.1"] * 9),
                      "dns.example.org", 5):
            with self.subTest(value=value):
                self.assertError(self.picd.put("/api/config", {"dns": {"forwarders": value}}), 400, "dns.forwarders")
        self.assertEqual(self.picd.get("/api/config").json["dns"]["forwarders"], "")

    # -- DHCP host names and LAN clients ----------------------------------------------------------------
    def test_dhcp_hosts_resolve_and_lan_clients_may_ask(self):
        lan = Netns()
        self.addCleanup(lan.delete)
        cell_if, lan_if = unique("dh")[:15], unique("dk")[:15]
        run("ip", "link", "add", cell_if, "netns", self.cell, "type", "veth", "peer", "name", lan_if, "netns", lan.name)
        run("ip", "-n", self.cell, "addr", "add", "192.168.214.1/24", "dev", cell_if)
        run("ip", "-n", lan.name, "addr", "add", "192.168.214.9/24", "dev", lan_if)
        run("ip", "-n", self.cell, "link", "set", cell_if, "up")
        run("ip", "-n", lan.name, "link", "set", lan_if, "up")
        run("ip", "-n", lan.name, "route", "add", "172.20.0.0/24", "via", "192.168.214.1")
        self.assertEqual(dig(lan.name, self.vip, f"api.{ZONE}", source="192.168.214.9")[0], "REFUSED",
                         "no DHCP yet: the LAN is nobody's")

        r = self.picd.put("/api/config", {"dhcp": {"enabled": True, "interface": cell_if,
                                                    "range_start": "192.168.214.100", "range_end": "192.168.214.150"}})
        self.assertEqual(r.status, 200, r)

        def disable():
            self.picd.put("/api/config", {"dhcp": {"enabled": False}})
            self.wait_dns_ready()
        self.addCleanup(disable)
        wait_for(lambda: dig(lan.name, self.vip, f"api.{ZONE}", source="192.168.214.9")[0] == "NOERROR", 15,
                 what="DHCP clients allowed to ask")
        self.assertEqual(dig(lan.name, self.vip, f"calendar.{ZONE}", source="192.168.214.9"),
                         ("NOERROR", [self.ips["calendar"]]))

        # A reservation's name answers as soon as the reservation is made, with its PTR; and goes with it.
        r = self.picd.post("/api/dhcp/reservations", {"mac": "02:14:00:00:00:01", "ip": "192.168.214.20",
                                                      "hostname": "printer"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.q(f"printer.{ZONE}"), ("NOERROR", ["192.168.214.20"]))
        self.assertEqual(self.q("20.214.168.192.in-addr.arpa", "PTR"), ("NOERROR", [f"printer.{ZONE}."]))
        self.assertEqual(self.picd.delete("/api/dhcp/reservations/02:14:00:00:00:01").status, 200)
        self.assertEqual(self.q(f"printer.{ZONE}")[0], "NXDOMAIN")

        # A leased client's host name appears once dnsmasq records the lease.
        tmp = tempfile.TemporaryDirectory(prefix="dns-dhcp-")
        self.addCleanup(tmp.cleanup)
        hook = os.path.join(tmp.name, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(hook, 0o755)
        lan.exec("udhcpc", "-i", lan_if, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", hook, "-x", "hostname:laptop",
                 timeout=60)
        st, ans = wait_for(lambda: (lambda a: a if a[0] == "NOERROR" else None)(self.q(f"laptop.{ZONE}")), 15,
                           what="the lease's name in DNS")
        self.assertTrue(ans[0].startswith("192.168.214.1"), ans)
        leased = [x for x in self.picd.get("/api/dhcp/leases").json["leases"] if x.get("hostname") == "laptop"]
        self.assertEqual([x["ip"] for x in leased], ans)

    # -- restart --------------------------------------------------------------------------------------
    def test_kill9_unbound_state_comes_back(self):
        self.add("kept", "A", "172.20.0.80")
        self.add("kept", "TXT", "still here")
        self.add("alias", "CNAME", "kept")
        self.add("calias", "CNAME", "calendar")
        self.peer("dave", PEER_A, ["calendar"])
        self.peer("erin", PEER_B, ["files"])

        def snapshot():
            return [self.q(f"kept.{ZONE}"), self.q(f"kept.{ZONE}", "TXT"),
                    self.qc(PEER_A, f"calendar.{ZONE}"), self.qc(PEER_B, f"calendar.{ZONE}"),
                    self.qc(PEER_B, f"files.{ZONE}"), self.qc(PEER_A, f"kept.{ZONE}"), self.q(f"alias.{ZONE}"),
                    self.qc(PEER_A, f"calias.{ZONE}"), self.qc(PEER_B, f"calias.{ZONE}")]
        before = snapshot()
        self.assertEqual(before[0], ("NOERROR", ["172.20.0.80"]))
        self.assertEqual(before[2][0], "NOERROR")
        self.assertEqual(before[3][0], "NXDOMAIN")
        self.assertEqual(before[6], ("NOERROR", [f"kept.{ZONE}.", "172.20.0.80"]))
        self.assertEqual(before[7], ("NOERROR", [f"calendar.{ZONE}.", self.ips["calendar"]]))
        self.assertEqual(before[8], ("NXDOMAIN", []))
        old = unbound_pid(self.picd.state_dir)
        os.kill(old, signal.SIGKILL)
        # While unbound is down and about to be restarted, a record is stored and comes with the re-apply.
        self.add("during", "A", "172.20.0.82")
        wait_for(lambda: unbound_pid(self.picd.state_dir) not in (None, old), 10, what="unbound restarted")
        wait_for(lambda: self.q(f"kept.{ZONE}")[0] == "NOERROR", 10, what="records re-applied")
        self.assertEqual(snapshot(), before)
        self.assertEqual(self.q(f"during.{ZONE}"), ("NOERROR", ["172.20.0.82"]))
        # Adding works on the new process too.
        self.add("after", "A", "172.20.0.81")
        self.assertEqual(self.q(f"after.{ZONE}"), ("NOERROR", ["172.20.0.81"]))

    def test_picd_sigkill_then_restart_takes_dns_back(self):
        self.add("survivor", "A", "172.20.0.85")
        self.peer("fred", PEER_A, ["calendar"])
        self.wait_dns_ready()
        old = unbound_pid(self.picd.state_dir)
        self.picd.kill9()
        # unbound runs as the unbound user (no parent-death signal): it outlives picd and keeps answering...
        self.assertTrue(os.path.exists(f"/proc/{old}"))
        self.picd.start()
        # ...until the new picd stops it and starts its own, with the state re-applied from the store.
        wait_for(lambda: not os.path.exists(f"/proc/{old}") and unbound_pid(self.picd.state_dir), 15,
                 what="the old unbound replaced")
        wait_for(lambda: self.q(f"survivor.{ZONE}")[1] == ["172.20.0.85"], 10, what="records re-applied")
        self.assertEqual(self.qc(PEER_A, f"calendar.{ZONE}"), ("NOERROR", [self.ips["calendar"]]))
        self.assertEqual(self.picd.get("/health").json["services"]["dns"], "running")

    def test_rename_cell_moves_zone_and_records(self):
        self.add("www", "A", "172.20.0.90")
        r = self.picd.put("/api/config", {"cell_name": "renamed"})
        self.assertEqual(r.status, 200, r)
        try:
            wait_for(lambda: self.q("www.renamed.cell")[1] == ["172.20.0.90"], 15, what="renamed zone")
            self.assertEqual(self.q("calendar.renamed.cell"), ("NOERROR", [self.ips["calendar"]]))
            self.assertEqual(self.q(f"www.{ZONE}")[1], [], "the old zone is gone")
            self.assertEqual(self.picd.get("/api/dns/records").json["records"][0]["fqdn"], "www.renamed.cell.")
        finally:
            self.assertEqual(self.picd.put("/api/config", {"cell_name": "mycell"}).status, 200)
            wait_for(lambda: self.q(f"www.{ZONE}")[1] == ["172.20.0.90"], 15, what="zone back")
            self.wait_dns_ready()

    def test_unauthenticated_requests_are_refused(self):
        self.assertEqual(self.picd.get("/api/dns/records", auth=False).status, 401)
        self.assertEqual(self.picd.post("/api/dns/records", {"name": "x", "type": "A", "value": "1.2.3.4"},
                                        auth=False).status, 401)
        read = self.picd.make_token("read")
        self.assertEqual(self.picd.get("/api/dns/records", token=read).status, 200)
        self.assertEqual(self.picd.post("/api/dns/records", {"name": "x", "type": "A", "value": "1.2.3.4"},
                                        token=read).status, 403)


if __name__ == "__main__":
    main()
