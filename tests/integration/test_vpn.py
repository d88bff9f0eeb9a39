"""The VPN as a phone sees it: client namespaces joined to the cell namespace by veth pairs take their
config from the API, run their own wireguard-go with it, and can reach exactly what they were granted —
until disabled, changed, spoofing another peer's address, or deleted. Also full tunnel (NAT) and the QR."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import pic  # noqa: E402
from pic import Netns, PicdTestCase, SLOW, run, unique, veth_pair, wait_for  # noqa: E402

PORT = 7000  # test listeners on every grantable VIP
# Small TCP servers on the service VIPs inside the cell namespace (stand-ins until the real services exist):
# each answers "<service> <client address>" so a test sees who it reached and as whom.
LISTENER = r"""
import socket, sys, threading
def serve(name, ip, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((ip, port)); s.listen(16)
    while True:
        c, addr = s.accept()
        try: c.sendall(f"{name} {addr[0]}\n".encode())
        finally: c.close()
args = sys.argv[1:]
for spec in args:
    name, ip, port = spec.split(":")
    threading.Thread(target=serve, args=(name, ip, int(port)), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""
PROBE = r"""
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        s.settimeout(float(sys.argv[3])); print(s.recv(200).decode().strip())
except OSError as e:
    print("FAIL", e); sys.exit(1)
"""


def start_listeners(netns, specs):
    """Starts LISTENER in netns for specs ["name:ip:port", ...]; returns the Popen (stdin open: closing it stops it)."""
    p = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER, *specs],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        raise AssertionError(f"test listeners did not start: {line!r}")
    return p


def stop_process(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


class Client:
    """A VPN client: its own namespace, a veth to the cell namespace and its own wireguard-go."""

    def __init__(self, cell_netns, index):
        self.ns = Netns(unique("wgcl"))
        self.cell_addr = f"10.{90 + index}.0.1"
        self.addr = f"10.{90 + index}.0.2"
        veth_pair(cell_netns, f"{self.cell_addr}/24", self.ns.name, f"{self.addr}/24")
        self.ifname = unique("wgc")[:15]
        self.tmp = tempfile.mkdtemp(prefix="wgcl-")  # mkdtemp is 0700: the config holds a private key
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns.name, "wireguard-go", "-f", self.ifname],
                                     env={**os.environ, "WG_PROCESS_FOREGROUND": "1"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(f"/run/wireguard/{self.ifname}.sock"), 10, what="client wireguard-go")
        self.conf = None

    def configure(self, conf_text, address, routes, own_endpoint=False):
        """Applies a wg-quick config the way wg-quick would: wg setconf without Address/DNS, then address
        and routes by hand. own_endpoint: dial the cell's address on this client's link instead of the
        config's (a second network the cell is on)."""
        self.conf = os.path.join(self.tmp, "wg.conf")
        lines = [l for l in conf_text.splitlines() if not l.startswith(("Address", "DNS"))]
        if own_endpoint:
            lines = [f"Endpoint = {self.cell_addr}:51820" if l.startswith("Endpoint") else l for l in lines]
        with open(self.conf, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        self.ns.exec("wg", "setconf", self.ifname, self.conf)
        self.ns.exec("ip", "addr", "flush", "dev", self.ifname)
        self.ns.exec("ip", "addr", "add", f"{address}/32", "dev", self.ifname)
        self.ns.exec("ip", "link", "set", self.ifname, "up")
        for r in routes:
            self.ns.exec("ip", "route", "replace", r, "dev", self.ifname)

    def reconnect(self):
        """What toggling the tunnel on a phone does: fresh peer state, so the next packet starts a handshake."""
        self.ns.exec("wg", "setconf", self.ifname, self.conf)

    def ping(self, ip, timeout=1):
        return self.ns.exec("ping", "-c1", "-W", str(timeout), ip, check=False, timeout=10 * SLOW).returncode == 0

    def tcp(self, ip, port=PORT, timeout=1.0):
        """The listener's answer ("<service> <our address as seen>"), or None when unreachable."""
        r = self.ns.exec(sys.executable, "-c", PROBE, ip, str(port), str(timeout), check=False, timeout=20 * SLOW)
        return r.stdout.strip() if r.returncode == 0 else None

    def close(self):
        stop_process(self.proc)
        self.ns.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)


class VpnTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clients, cls.procs, cls.extra_ns = [], [], []
        try:
            cfg = cls.picd.get("/api/config").json
            cls.vip = cfg["service_ips"]
            cls.vpn_net = "10.0.0.0/24"
            cls.ip_range = cfg["ip_range"]
            cls.procs.append(start_listeners(cls.picd.netns, [f"{s}:{cls.vip[s]}:{PORT}"
                                                              for s in ("calendar", "files", "mail", "webdav", "api", "gateway")]))
            cls.phone = cls.client(0)
            cls.tablet = cls.client(1)
            # "The internet" behind the cell, for the full-tunnel test.
            cls.outside = Netns(unique("wgout"))
            cls.extra_ns.append(cls.outside)
            veth_pair(cls.picd.netns, "10.98.0.1/24", cls.outside.name, "10.98.0.2/24")
            cls.procs.append(start_listeners(cls.outside.name, [f"outside:10.98.0.2:{PORT}"]))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def client(cls, index):
        c = Client(cls.picd.netns, index)
        cls.clients.append(c)
        return c

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "procs", []):
            stop_process(p)
        for c in getattr(cls, "clients", []):
            c.close()
        for ns in getattr(cls, "extra_ns", []):
            ns.delete()
        super().tearDownClass()

    def create(self, **body):
        r = self.picd.post("/api/peers", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def config(self, name):
        r = self.picd.get(f"/api/peers/{name}/config")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"), r.headers)
        return r.body

    def cell_wg_keys(self):
        ifname = self.picd.get("/api/wireguard/status").json["interface"]
        out = run("ip", "netns", "exec", self.picd.netns, "wg", "show", ifname, "dump").stdout
        return {l.split("\t")[0]: l.split("\t") for l in out.splitlines()[1:]}

    def reachable(self, client, services):
        return {s: client.tcp(self.vip[s]) is not None for s in services}

    def ping_within(self, client, seconds):
        """True once a ping of the cell's VPN address answers, trying for at most `seconds` (scaled for
        slow builds) from now."""
        deadline = time.monotonic() + seconds * SLOW
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # ping's -W takes fractions; each try is short so the bound is kept.
            if client.ns.exec("ping", "-c1", "-W", f"{min(left, 0.3):.2f}", "10.0.0.1", check=False,
                              timeout=10 * SLOW).returncode == 0:
                return True

    def wait_ping(self, client, ok=True):
        wait_for(lambda: client.ping("10.0.0.1") == ok, 15, interval=0.2,
                 what=f"ping of the cell {'to work' if ok else 'to fail'}")

    def test_1_granted_and_nothing_else(self):
        peer = self.create(name="phone", service_access=["calendar", "files"])
        conf = self.config("phone")
        status = self.picd.get("/api/wireguard/status").json
        self.assertTrue(status["running"], status)
        self.assertEqual(status["backend"], "userspace")
        # The endpoint falls back to the cell's first own address: the veth to this client's side.
        self.assertIn(f"Endpoint = {self.phone.cell_addr}:51820", conf)
        self.assertIn(f"PublicKey = {status['public_key']}", conf)
        self.assertIn(f"AllowedIPs = {self.vpn_net}, {self.ip_range}", conf)
        self.assertIn(f"DNS = {self.vip['dns']}", conf)
        self.assertIn("PersistentKeepalive = 25", conf)
        self.assertIn("PresharedKey = ", conf)
        self.phone.configure(conf, peer["ip"], [self.vpn_net, self.ip_range])

        self.wait_ping(self.phone)
        self.assertEqual(self.phone.tcp(self.vip["calendar"]), f"calendar {peer['ip']}")
        self.assertEqual(self.reachable(self.phone, ["calendar", "files", "mail", "webdav"]),
                         {"calendar": True, "files": True, "mail": False, "webdav": False})
        # The cell's other addresses are not reachable from the tunnel either (API VIP, gateway).
        self.assertEqual(self.reachable(self.phone, ["api", "gateway"]), {"api": False, "gateway": False})

        live = self.picd.get("/api/wireguard/peers").json
        mine = [p for p in live["peers"] if p["name"] == "phone"]
        self.assertEqual(len(mine), 1, live)
        self.assertEqual(mine[0]["public_key"], peer["public_key"])
        self.assertEqual(mine[0]["allowed_ips"], [f"{peer['ip']}/32"])
        self.assertTrue(mine[0]["endpoint"].startswith(self.phone.addr + ":"), mine)
        self.assertGreater(mine[0]["latest_handshake"], 0)
        self.assertGreater(mine[0]["rx_bytes"], 0)
        self.assertGreater(mine[0]["tx_bytes"], 0)

        # Disabled: nothing reachable, not even the cell's address or its DNS. The peer stays on the
        # interface with no allowed IPs, so its session survives; enabled again: everything back within
        # 1 s of the 2xx, without the client noticing anything (before, it took ~11 s of client timeouts
        # and a new handshake).
        r = self.picd.put("/api/peers/phone", {"enabled": False})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.cell_wg_keys()[peer["public_key"]][3], "(none)")  # allowed IPs
        self.wait_ping(self.phone, ok=False)
        self.assertEqual(self.reachable(self.phone, ["calendar", "files"]), {"calendar": False, "files": False})
        self.assertEqual(self.dig_status(self.phone, "calendar.mycell.cell"), (None, []))
        # A fresh handshake (the phone toggles its tunnel) completes, but gets it nowhere either.
        self.phone.reconnect()
        self.assertFalse(self.phone.ping("10.0.0.1", timeout=2))
        self.assertEqual(self.reachable(self.phone, ["calendar", "files"]), {"calendar": False, "files": False})
        r = self.picd.put("/api/peers/phone", {"enabled": True})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.ping_within(self.phone, 1.0), "no traffic within 1 s of re-enabling the peer")
        self.assertEqual(self.reachable(self.phone, ["calendar", "files", "mail"]),
                         {"calendar": True, "files": True, "mail": False})

        # A changed grant takes effect on the live tunnel, no reconnect.
        r = self.picd.put("/api/peers/phone", {"service_access": ["mail"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.reachable(self.phone, ["calendar", "files", "mail"]),
                         {"calendar": False, "files": False, "mail": True})

        # The QR code carries exactly the text config.
        png = self.picd.get("/api/peers/phone/config?format=png")
        self.assertEqual(png.status, 200)
        self.assertEqual(png.headers["Content-Type"], "image/png")
        svg = self.picd.get("/api/peers/phone/config?format=svg")
        self.assertEqual(svg.status, 200)
        self.assertEqual(svg.headers["Content-Type"], "image/svg+xml")
        self.assertIn("<svg", svg.body)
        self.assertEqual(self.decode_qr_png(), conf)

        # Deleted: the tunnel is gone.
        r = self.picd.delete("/api/peers/phone")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(peer["public_key"], self.cell_wg_keys())
        self.phone.reconnect()
        self.wait_ping(self.phone, ok=False)
        self.assertIsNone(self.phone.tcp(self.vip["mail"]))

    def decode_qr_png(self):
        """Fetches the PNG as bytes (the harness decodes bodies as text) and decodes it with zbarimg."""
        import http.client
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=30)
        try:
            conn.request("GET", "/api/peers/phone/config?format=png",
                         headers={"Authorization": f"Bearer {self.picd.token}"})
            data = conn.getresponse().read()
        finally:
            conn.close()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "qr.png")
            with open(path, "wb") as f:
                f.write(data)
            r = run("zbarimg", "-q", "--raw", path, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.rstrip("\n") + "\n"

    def test_2_no_spoofing_and_full_tunnel(self):
        a = self.create(name="laptop", service_access=["calendar"])
        b = self.create(name="tablet", service_access=["calendar"])
        conf_b = self.config("tablet")
        # The tablet claims the laptop's address: WireGuard's crypto routing drops its packets.
        self.tablet.configure(conf_b, a["ip"], [self.vpn_net, self.ip_range], own_endpoint=True)
        self.assertFalse(self.tablet.ping("10.0.0.1", timeout=2))
        self.assertIsNone(self.tablet.tcp(self.vip["calendar"]))
        # With its own address it works (so the failure above was the spoofing, nothing else).
        self.tablet.configure(conf_b, b["ip"], [self.vpn_net, self.ip_range], own_endpoint=True)
        self.wait_ping(self.tablet)
        self.assertEqual(self.tablet.tcp(self.vip["calendar"]), f"calendar {b['ip']}")

        # Not a full-tunnel peer: even a client that sends everything into the tunnel gets nowhere else.
        server_key = self.picd.get("/api/wireguard/status").json["public_key"]
        self.tablet.ns.exec("wg", "set", self.tablet.ifname, "peer", server_key, "allowed-ips", "0.0.0.0/0")
        self.tablet.ns.exec("ip", "route", "replace", "10.98.0.0/24", "dev", self.tablet.ifname)
        self.assertIsNone(self.tablet.tcp("10.98.0.2"))

        # route_all: the config says 0.0.0.0/0 and traffic leaves the cell with the cell's address (NAT).
        r = self.picd.put("/api/peers/tablet", {"route_all": True})
        self.assertEqual(r.status, 200, r)
        conf_b = self.config("tablet")
        self.assertIn("AllowedIPs = 0.0.0.0/0", conf_b)
        self.tablet.configure(conf_b, b["ip"], [self.vpn_net, self.ip_range, "10.98.0.0/24"], own_endpoint=True)
        self.wait_ping(self.tablet)
        self.assertEqual(self.tablet.tcp("10.98.0.2"), "outside 10.98.0.1")
        self.assertEqual(run("ip", "netns", "exec", self.picd.netns, "cat", "/proc/sys/net/ipv4/ip_forward")
                         .stdout.strip(), "1")
        # Grants still apply to the cell's own services in full-tunnel mode.
        self.assertIsNone(self.tablet.tcp(self.vip["mail"]))
        r = self.picd.put("/api/peers/tablet", {"route_all": False})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(self.tablet.tcp("10.98.0.2"))
        for name in ("laptop", "tablet"):
            self.assertEqual(self.picd.delete(f"/api/peers/{name}").status, 200)

    def test_3_endpoint_setting(self):
        r = self.picd.put("/api/config", {"wireguard": {"endpoint": "vpn.example.org"}})
        self.assertEqual(r.status, 200, r)
        try:
            self.create(name="watch")
            self.assertIn("Endpoint = vpn.example.org:51820", self.config("watch"))
            r = self.picd.put("/api/config", {"wireguard": {"endpoint": "vpn.example.org:4500"}})
            self.assertEqual(r.status, 200, r)
            self.assertIn("Endpoint = vpn.example.org:4500", self.config("watch"))
        finally:
            self.picd.put("/api/config", {"wireguard": {"endpoint": ""}})
            self.picd.delete("/api/peers/watch")

    def dig_status(self, client, name):
        """(rcode, answer) for an A query to the cell's DNS through the tunnel."""
        r = client.ns.exec("dig", "+time=2", "+tries=2", "+noall", "+comments", "+answer", f"@{self.vip['dns']}",
                           name, "A", check=False, timeout=20 * SLOW)
        status = next((l.split("status: ")[1].split(",")[0] for l in r.stdout.splitlines() if "status: " in l), None)
        answers = [l.split()[-1] for l in r.stdout.splitlines() if l and not l.startswith(";") and "\tA\t" in l]
        return status, answers

    def test_4_one_grant_drives_firewall_and_dns(self):
        """The peer's grant decides, through the real tunnel, both what it can reach and what resolves."""
        peer = self.create(name="reader", service_access=["calendar"])
        self.phone.configure(self.config("reader"), peer["ip"], [self.vpn_net, self.ip_range])
        self.wait_ping(self.phone)
        try:
            cal = wait_for(lambda: self.dig_status(self.phone, "calendar.mycell.cell")[0] == "NOERROR"
                           and self.dig_status(self.phone, "calendar.mycell.cell"), 15, what="DNS through the tunnel")
            self.assertEqual(cal[1], [self.vip["calendar"]])
            self.assertEqual(self.dig_status(self.phone, "mail.mycell.cell")[0], "NXDOMAIN")
            self.assertIsNotNone(self.phone.tcp(self.vip["calendar"]))
            self.assertIsNone(self.phone.tcp(self.vip["mail"]))
            # One change of the grant flips both, live.
            r = self.picd.put("/api/peers/reader", {"service_access": ["mail"]})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.dig_status(self.phone, "calendar.mycell.cell")[0], "NXDOMAIN")
            self.assertEqual(self.dig_status(self.phone, "mail.mycell.cell"), ("NOERROR", [self.vip["mail"]]))
            self.assertIsNone(self.phone.tcp(self.vip["calendar"]))
            self.assertIsNotNone(self.phone.tcp(self.vip["mail"]))
        finally:
            self.picd.delete("/api/peers/reader")


if __name__ == "__main__":
    pic.main()
