"""bench/mesh driver (see run.sh): cells a and b (real picds in their own namespaces, joined through an
"internet" namespace) and one VPN client of b. Per round: b joins a's invite and grants its client calendar@a;
then the time until the client's first TCP connection to a's calendar address succeeds and until its first DNS
answer for calendar.a.cell; then a's unshare and share again, until the client is cut / reaches it again.
The same link is then made with the raw commands in the same namespaces and timed the same way."""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from pic import Netns, Picd, run, unique, veth_pair  # noqa: E402
from test_vpn import PORT, Client, start_listeners, stop_process  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CELLS = {"a": ("10.10.0.1/24", "172.30.0.0/24", "192.0.2.1", "192.0.2.254"),
         "b": ("10.11.0.1/24", "172.31.0.0/24", "198.51.100.1", "198.51.100.254")}
PROBE_EVERY = 0.005


def until(pred, limit=20.0):
    """Seconds until pred() is true (polled), or None after limit."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if pred():
            return time.perf_counter() - t0
        time.sleep(PROBE_EVERY)
    return None


def ms(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    return f"{statistics.median(xs) * 1000:7.1f} ms (min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f}, n={len(xs)})"


def main():
    inet = Netns(unique("benchnet"))
    cells, procs, clients = {}, [], []
    try:
        inet.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        for n, (vpn, rng, pub, gw) in CELLS.items():
            p = Picd(extra_args=["--set", f"cell_name={n}", "--set", f"wireguard.address={vpn}", "--set",
                                 f"ip_range={rng}", "--set", f"wireguard.endpoint={pub}:51820"])
            cells[n] = p
            p.start()
            p.admin()
            veth_pair(p.netns, f"{pub}/24", inet.name, f"{gw}/24")
            run("ip", "-n", p.netns, "route", "add", "default", "via", gw)
        a, b = cells["a"], cells["b"]
        vip = a.get("/api/config").json["service_ips"]
        procs.append(start_listeners(a.netns, [f"calendar:{vip['calendar']}:{PORT}"]))
        cl = Client(b.netns, 1)
        clients.append(cl)
        peer = b.post("/api/peers", {"name": "phone"}).json
        conf = b.get("/api/peers/phone/config").body
        conf = "\n".join(l if not l.startswith("AllowedIPs") else "AllowedIPs = 0.0.0.0/0" for l in conf.splitlines())
        cl.configure(conf, peer["ip"], ["10.11.0.0/24", CELLS["b"][1], CELLS["a"][1]], own_endpoint=True)
        bdns = b.get("/api/config").json["service_ips"]["dns"]
        tcp = lambda: cl.tcp(vip["calendar"], timeout=0.2) is not None  # noqa: E731

        def dns():
            r = cl.ns.exec("dig", "+time=1", "+tries=1", "+short", f"@{bdns}", "calendar.a.cell", "A", check=False)
            return r.stdout.strip() == vip["calendar"]

        res = {k: [] for k in ("join", "grant", "packet", "dns", "unshare", "cut", "share", "back",
                               "raw_cmds", "raw_packet", "raw_dns", "raw_unshare", "raw_cut", "raw_share", "raw_back")}
        for _ in range(ROUNDS):
            inv = a.post("/api/mesh/invites", {"share": ["calendar"]}).json["invite"]
            t = time.perf_counter()
            assert b.post("/api/mesh/join", {"invite": inv}).status == 201
            res["join"].append(time.perf_counter() - t)
            t = time.perf_counter()
            assert b.put("/api/mesh/cells/a", {"grants": {"phone": ["calendar"]}}).status == 200
            res["grant"].append(time.perf_counter() - t)
            res["packet"].append(until(tcp))
            res["dns"].append(until(dns))
            t = time.perf_counter()
            assert a.put("/api/mesh/cells/b", {"share": []}).status == 200
            res["unshare"].append(time.perf_counter() - t)
            res["cut"].append(until(lambda: not tcp()))
            t = time.perf_counter()
            assert a.put("/api/mesh/cells/b", {"share": ["calendar"]}).status == 200
            res["share"].append(time.perf_counter() - t)
            res["back"].append(until(tcp))
            assert b.delete("/api/mesh/cells/a").json["notified"]

            # The raw commands for the same link: a's side (peer, route, firewall and DNS view of b's address),
            # b's side (peer, route, SNAT, forward grant, forward zone).
            ifa = a.get("/api/wireguard/status").json["interface"]
            ifb = b.get("/api/wireguard/status").json["interface"]
            ka = a.get("/api/wireguard/status").json["public_key"]
            kb = b.get("/api/wireguard/status").json["public_key"]
            x = "10.10.0.200"
            views = run("ip", "netns", "exec", a.netns, "nft", "list", "map", "ip", "pic_dns", "views").stdout
            port = 5300 + 1  # the view of {calendar}: grant bit 0
            raw = [
                (a.netns, ["wg", "set", ifa, "peer", kb, "endpoint", "198.51.100.1:51820", "persistent-keepalive", "25",
                           "allowed-ips", f"{x}/32,{CELLS['b'][1]}"]),
                (a.netns, ["ip", "route", "replace", CELLS["b"][1], "dev", ifa]),
                (a.netns, ["nft", f"add element inet pic peers {{ {x} }}; add element inet pic grants {{ {x} . "
                                  f"{vip['calendar']} : accept }}; add element ip pic_dns views {{ {x} : {port} }}"]),
                (b.netns, ["wg", "set", ifb, "peer", ka, "endpoint", "192.0.2.1:51820", "persistent-keepalive", "25",
                           "allowed-ips", CELLS["a"][1]]),
                (b.netns, ["ip", "route", "replace", CELLS["a"][1], "dev", ifb]),
                (b.netns, ["nft", f"add element inet pic mesh_snat {{ {CELLS['a'][1]} : {x} }}; add element inet pic "
                                  f"mesh_fwd {{ {peer['ip']} . {vip['calendar']} : accept }}"]),
                (b.netns, ["unbound-control", "-c", os.path.join(b.state_dir, "etc", "dns", "unbound.conf"),
                           "forward_add", "+i", "a.cell.", f"{a.get('/api/config').json['service_ips']['dns']}@53"]),
            ]
            assert "views" in views
            t = time.perf_counter()
            for ns, argv in raw:
                run("ip", "netns", "exec", ns, *argv)
            res["raw_cmds"].append(time.perf_counter() - t)
            res["raw_packet"].append(until(tcp))
            res["raw_dns"].append(until(dns))
            t = time.perf_counter()
            run("ip", "netns", "exec", a.netns, "nft", f"delete element inet pic grants {{ {x} . {vip['calendar']} }}")
            res["raw_unshare"].append(time.perf_counter() - t)
            res["raw_cut"].append(until(lambda: not tcp()))
            t = time.perf_counter()
            run("ip", "netns", "exec", a.netns, "nft", f"add element inet pic grants {{ {x} . {vip['calendar']} : accept }}")
            res["raw_share"].append(time.perf_counter() - t)
            res["raw_back"].append(until(tcp))
            # undo the raw link
            for ns, argv in ((a.netns, ["wg", "set", ifa, "peer", kb, "remove"]),
                             (a.netns, ["ip", "route", "del", CELLS["b"][1]]),
                             (a.netns, ["nft", f"delete element inet pic peers {{ {x} }}; delete element inet pic grants "
                                               f"{{ {x} . {vip['calendar']} }}; delete element ip pic_dns views {{ {x} }}"]),
                             (b.netns, ["wg", "set", ifb, "peer", ka, "remove"]),
                             (b.netns, ["ip", "route", "del", CELLS["a"][1]]),
                             (b.netns, ["nft", f"delete element inet pic mesh_snat {{ {CELLS['a'][1]} }}; delete element "
                                               f"inet pic mesh_fwd {{ {peer['ip']} . {vip['calendar']} }}"]),
                             (b.netns, ["unbound-control", "-c", os.path.join(b.state_dir, "etc", "dns", "unbound.conf"),
                                        "forward_remove", "+i", "a.cell."])):
                run("ip", "netns", "exec", ns, *argv)
        print(f"bench/mesh: {ROUNDS} rounds, probes every {PROBE_EVERY * 1000:.0f} ms (a probe is a process start)")
        print("picd                                         | raw commands")
        print(f"  POST /api/mesh/join          {ms(res['join'])}")
        print(f"  PUT grants calendar@a        {ms(res['grant'])}   | all raw commands of the link {ms(res['raw_cmds'])}")
        print(f"  then first packet            {ms(res['packet'])}   | {ms(res['raw_packet'])}")
        print(f"  then first DNS answer        {ms(res['dns'])}   | {ms(res['raw_dns'])}")
        print(f"  PUT share [] (unshare)       {ms(res['unshare'])}   | nft delete element {ms(res['raw_unshare'])}")
        print(f"  then client cut              {ms(res['cut'])}   | {ms(res['raw_cut'])}")
        print(f"  PUT share [calendar]         {ms(res['share'])}   | nft add element {ms(res['raw_share'])}")
        print(f"  then first packet again      {ms(res['back'])}   | {ms(res['raw_back'])}")
    finally:
        for p in procs:
            stop_process(p)
        for c in clients:
            c.close()
        for p in cells.values():
            p.cleanup()
        inet.delete()


if __name__ == "__main__":
    sys.exit(main())
