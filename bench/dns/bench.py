"""bench/dns driver (stdlib only; run by bench/dns/run.sh, inside the cell's network namespace).

Measures, side by side with references taken in the same run:
  1. record visibility: POST /api/dns/records returning -> the first DNS answer carrying the record, vs a raw
     `local_data` on unbound's control socket -> first answer;
  2. one peer's grant change with N peers stored: PUT /api/peers/<name> round trip and the time until that
     peer's own query (from a client namespace) flips, vs the raw nftables element edit (libnftables via
     ctypes) and vs the reload approach (N access-control-view lines, unbound-checkconf + reload + re-adding
     the runtime records), which is what a design without the view map would pay per change.
Prints a table and writes JSON to the path given with --out."""
import argparse
import ctypes
import http.client
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import time


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(values_s):
    ms = [x * 1000.0 for x in values_s]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 3), "p99_ms": round(pct(ms, 99), 3),
            "max_ms": round(max(ms), 3) if ms else None, "mean_ms": round(statistics.fmean(ms), 3) if ms else None}


# ---- DNS over UDP, by hand ------------------------------------------------------------------------------
def dns_query(server, name, qtype=1, source=None, timeout=1.0, port=53):
    """(rcode, ancount) of one UDP query."""
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    q += struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(q, (server, port))
        while True:
            data, _ = s.recvfrom(4096)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                return data[3] & 0x0F, struct.unpack("!H", data[6:8])[0]


QUERIES = []


def wait_answer(server, name, want_answer=True, source=None, deadline_s=5.0, port=53, min_answers=1):
    """Polls until the name answers (NOERROR with at least min_answers RRs: 2 for a CNAME with its target) or
    stops answering; returns monotonic time of success.
    QUERIES counts the queries each call needed (1 = the first query already saw the change)."""
    end = time.monotonic() + deadline_s
    tries = 0
    while time.monotonic() < end:
        tries += 1
        try:
            rcode, an = dns_query(server, name, source=source, timeout=0.5, port=port)
        except socket.timeout:
            continue
        if (rcode == 0 and an >= min_answers) == want_answer:
            QUERIES.append(tries)
            return time.monotonic()
    raise RuntimeError(f"{name} did not {'appear' if want_answer else 'disappear'} within {deadline_s}s")


# ---- picd over its unix socket (root there is admin) ---------------------------------------------------
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def api(sock, method, path, body=None):
    c = UnixHTTP(sock)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)
    finally:
        c.close()


def unbound_ctl(path, command, lines=None):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        payload = f"UBCT1 {command}\n"
        if lines is not None:
            payload += "".join(line + "\n" for line in lines) + "\x04\n"
        s.sendall(payload.encode())
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    text = out.decode()
    if text.startswith("error"):
        raise RuntimeError(f"unbound: {text.strip()}")
    return text


class Nft:
    """libnftables through ctypes: the same library calls picd makes, without picd around it. One kept context
    (what picd does), or a fresh context per edit (what it would cost without keeping one)."""

    def __init__(self):
        lib = ctypes.CDLL("libnftables.so.1")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.kept = self.new()

    def new(self):
        ctx = self.lib.nft_ctx_new(0)
        self.lib.nft_ctx_buffer_output(ctx)
        self.lib.nft_ctx_buffer_error(ctx)
        return ctx

    def run(self, script, fresh=False):
        ctx = self.new() if fresh else self.kept
        rc = self.lib.nft_run_cmd_from_buffer(ctx, script.encode())
        if fresh:
            self.lib.nft_ctx_free(ctx)
        if rc != 0:
            raise RuntimeError(f"nft failed: {script[:200]}")


# ---- a prober in the client namespace (peer source addresses arrive from outside, like over WireGuard) ----
class Prober:
    def __init__(self, netns, server):
        self.p = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, __file__, "--probe", server],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def wait(self, source, name, want_answer):
        self.p.stdin.write(f"{source} {name} {int(want_answer)}\n")
        line = self.p.stdout.readline().split()
        if not line or line[0] != "ok":
            raise RuntimeError(f"probe failed: {line}")
        self.last_tries = int(line[2])
        return float(line[1])

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def probe_main(server):
    for line in sys.stdin:
        source, name, want = line.split()
        try:
            t = wait_answer(server, name, want == "1", source=source)
            print(f"ok {t:.9f} {QUERIES[-1]}", flush=True)
        except Exception as e:  # reported to the driver, which stops
            print(f"fail {e}", flush=True)


# ---- the measurements -----------------------------------------------------------------------------------
def bench_records(a, zone):
    ours, ours_post, ref, ref_call, ours_tries = [], [], [], [], []
    cname, cname_post = [], []
    created = []
    st, body = api(a.api_sock, "POST", "/api/dns/records", {"name": "bctarget", "type": "A", "value": "172.20.1.254"})
    if st != 201:
        raise RuntimeError(f"POST failed: {st} {body}")
    created.append(body["id"])
    for i in range(a.samples):
        ip = f"172.20.1.{i % 250 + 1}"
        # picd: POST, then the first query that sees it.
        name = f"bp{i}"
        t0 = time.monotonic()
        st, body = api(a.api_sock, "POST", "/api/dns/records", {"name": name, "type": "A", "value": ip})
        t1 = time.monotonic()
        if st != 201:
            raise RuntimeError(f"POST failed: {st} {body}")
        created.append(body["id"])
        ours.append(wait_answer(a.vip, f"{name}.{zone}") - t1)
        ours_tries.append(QUERIES[-1])
        ours_post.append(t1 - t0)
        # Reference: the raw control-socket call unbound-control would make.
        name = f"br{i}"
        t0 = time.monotonic()
        unbound_ctl(a.ctl, f"local_data {name}.{zone}. 300 IN A {ip}")
        t1 = time.monotonic()
        ref.append(wait_answer(a.vip, f"{name}.{zone}") - t1)
        ref_call.append(t1 - t0)
        # A CNAME: POST, then the first query that gets the CNAME and the target's address.
        name = f"bc{i}"
        t0 = time.monotonic()
        st, body = api(a.api_sock, "POST", "/api/dns/records", {"name": name, "type": "CNAME", "value": "bctarget"})
        t1 = time.monotonic()
        if st != 201:
            raise RuntimeError(f"POST failed: {st} {body}")
        created.append(body["id"])
        cname.append(wait_answer(a.vip, f"{name}.{zone}", min_answers=2) - t1)
        cname_post.append(t1 - t0)
    for rid in created:
        api(a.api_sock, "DELETE", f"/api/dns/records/{rid}")
    unbound_ctl(a.ctl, "local_datas_remove", [f"br{i}.{zone}." for i in range(a.samples)])
    return {
        "post_return_to_answer": summary(ours), "post_round_trip": summary(ours_post),
        "ref_local_data_return_to_answer": summary(ref), "ref_local_data_call": summary(ref_call),
        "post_first_query_answered": sum(1 for t in ours_tries if t == 1), "post_samples": len(ours_tries),
        "cname_post_round_trip": summary(cname_post), "cname_post_return_to_answer": summary(cname),
    }


def bench_grants(a, zone, prober, nft):
    status, body = api(a.api_sock, "GET", "/api/peers")
    peers = body["peers"]
    count = len(peers)
    target = next(p for p in peers if p["ip"] == a.peer_ip)
    cal = f"calendar.{zone}"
    put, flip, flip_tries = [], [], []
    for i in range(a.grant_samples):
        grant = ["calendar"] if i % 2 == 0 else []
        t0 = time.monotonic()
        st, b = api(a.api_sock, "PUT", f"/api/peers/{target['name']}", {"service_access": grant})
        t1 = time.monotonic()
        if st != 200:
            raise RuntimeError(f"PUT failed: {st} {b}")
        put.append(t1 - t0)
        flip.append(prober.wait(a.peer_ip, cal, bool(grant)) - t1)
        flip_tries.append(prober.last_tries)
    # Reference 0: the same PUT with an unchanged grant: API + store transaction (fsync), no view edit.
    same = []
    for i in range(a.grant_samples):
        t0 = time.monotonic()
        st, b = api(a.api_sock, "PUT", f"/api/peers/{target['name']}", {"service_access": []})
        same.append(time.monotonic() - t0)

    # Reference 1: the bare nftables edit picd makes for a grant change (kept context, as picd), and the same
    # edit with a fresh context each time.
    raw, raw_fresh = [], []
    probe_ip = a.peer_ip
    for i in range(a.grant_samples):
        port = 5301 if i % 2 == 0 else 5300
        edit = f"delete element ip pic_dns views {{ {probe_ip} }}\nadd element ip pic_dns views {{ {probe_ip} : {port} }}\n"
        t0 = time.monotonic()
        nft.run(edit)
        raw.append(time.monotonic() - t0)
        t0 = time.monotonic()
        nft.run(edit, fresh=True)
        raw_fresh.append(time.monotonic() - t0)
    # Leave the element as the store says (last PUT above).
    api(a.api_sock, "PUT", f"/api/peers/{target['name']}", {"service_access": ["calendar"]})

    # Reference 2: the same cell with access-control-view lines, changed by re-render + checkconf + reload.
    reload_ref = bench_reload_reference(a, zone, peers)
    return {"peers": count, "put_round_trip": summary(put), "put_return_to_flip": summary(flip),
            "ref_put_unchanged_grant": summary(same),
            "flip_first_query_answered": sum(1 for t in flip_tries if t == 1), "flip_samples": len(flip_tries),
            "ref_raw_nft_element_edit": summary(raw), "ref_raw_nft_edit_fresh_context": summary(raw_fresh),
            "ref_reload_design": reload_ref}


def bench_reload_reference(a, zone, peers):
    """A scratch unbound on loopback (port 5399) with the design DESIGN.md first sketched: views by access
    set plus one access-control-view line per peer. A grant change there = new config, checkconf, reload,
    then re-adding the runtime records that the reload dropped."""
    d = os.path.join(a.tmp, "reload-ref")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "unbound.conf")
    ctl = os.path.join(d, "ctl.sock")
    views = "".join(f'view:\n    name: "grants-{v}"\n    view-first: yes\n' +
                    "".join(f'    local-zone: "{g}.{zone}." always_nxdomain\n'
                            for b, g in enumerate(["calendar", "files", "mail", "webdav"]) if not v & (1 << b))
                    for v in range(16))

    def render(flip_ip, flip_to):
        lines = []
        for p in peers:
            mask = sum(1 << ["calendar", "files", "mail", "webdav"].index(s) for s in p["service_access"]) \
                if isinstance(p["service_access"], list) else 0
            if p["ip"] == flip_ip:
                mask = flip_to
            lines.append(f"    access-control-view: {p['ip']}/32 grants-{mask}\n")
        text = (f'server:\n    username: ""\n    chroot: ""\n    pidfile: ""\n    use-syslog: no\n    logfile: ""\n'
                f'    directory: "{d}"\n    module-config: "iterator"\n    do-ip6: no\n    num-threads: 1\n'
                f'    interface: 127.0.0.1@5399\n    access-control: 127.0.0.0/8 allow\n'
                f'    local-zone: "{zone}." static\n    local-data: "calendar.{zone}. 300 IN A 172.20.0.10"\n'
                + "".join(lines) + views +
                f'remote-control:\n    control-enable: yes\n    control-interface: "{ctl}"\n    control-use-cert: no\n')
        tmp = conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    runtime = [f"r{i}.{zone}. 300 IN A 172.20.1.{i % 250 + 1}" for i in range(a.samples)]
    os.replace(render(None, 0), conf)
    proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 20
        while True:
            try:
                unbound_ctl(ctl, "status")
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.02)
        unbound_ctl(ctl, "local_datas", runtime)
        total, render_t, check_t, reload_t, readd_t = [], [], [], [], []
        for i in range(min(a.grant_samples, 20)):
            t0 = time.monotonic()
            tmp = render(a.peer_ip, 1 if i % 2 == 0 else 0)
            t1 = time.monotonic()
            subprocess.run(["unbound-checkconf", tmp], check=True, stdout=subprocess.DEVNULL)
            os.replace(tmp, conf)
            t2 = time.monotonic()
            unbound_ctl(ctl, "reload")
            wait_answer("127.0.0.1", f"calendar.{zone}", port=5399)
            t3 = time.monotonic()
            unbound_ctl(ctl, "local_datas", runtime)
            t4 = time.monotonic()
            render_t.append(t1 - t0)
            check_t.append(t2 - t1)
            reload_t.append(t3 - t2)
            readd_t.append(t4 - t3)
            total.append(t4 - t0)
        rss = rss_kb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return {"config_lines": len(peers), "total": summary(total), "render_and_write": summary(render_t),
            "checkconf": summary(check_t), "reload_until_answering": summary(reload_t),
            "readd_runtime_records": summary(readd_t), "unbound_rss_kb": rss,
            "note": "reload also flushes the cache and drops every runtime record until re-added"}


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe")
    ap.add_argument("--api-sock")
    ap.add_argument("--ctl")
    ap.add_argument("--vip")
    ap.add_argument("--zone", default="mycell.cell")
    ap.add_argument("--client-ns")
    ap.add_argument("--peer-ip")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--grant-samples", type=int, default=50)
    ap.add_argument("--tmp")
    ap.add_argument("--unbound-pid", type=int)
    ap.add_argument("--startup-ms", type=float)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.probe:
        probe_main(a.probe)
        return
    wait_answer(a.vip, f"api.{a.zone}", deadline_s=30)
    results = {"records": bench_records(a, a.zone)}
    prober = Prober(a.client_ns, a.vip)
    try:
        results["grant_change"] = bench_grants(a, a.zone, prober, Nft())
    finally:
        prober.close()
    results["picd_unbound_rss_kb"] = rss_kb(a.unbound_pid) if a.unbound_pid else None
    results["startup_reapply_ms"] = a.startup_ms
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    report(results)


def report(r):
    def row(label, s, ref=False):
        print(f"  {'(ref) ' if ref else '      '}{label:<52} p50 {s['p50_ms']:>9.3f} ms   p99 {s['p99_ms']:>9.3f} ms"
              f"   n={s['n']}")
    rec = r["records"]
    print("DNS record visibility")
    row("POST /api/dns/records round trip", rec["post_round_trip"])
    row("POST returned -> dig-equivalent query answers", rec["post_return_to_answer"])
    print(f"        (the first query after POST already had the record in {rec['post_first_query_answered']}"
          f" of {rec['post_samples']} samples)")
    row("POST a CNAME round trip (16 views)", rec["cname_post_round_trip"])
    row("CNAME POST returned -> query answers CNAME + A", rec["cname_post_return_to_answer"])
    row("raw control socket local_data call", rec["ref_local_data_call"], True)
    row("local_data returned -> query answers", rec["ref_local_data_return_to_answer"], True)
    g = r["grant_change"]
    print(f"One peer's grant change with {g['peers']} peers stored")
    row("PUT /api/peers/<name> round trip", g["put_round_trip"])
    row("PUT returned -> that peer's answer flips", g["put_return_to_flip"])
    print(f"        (the peer's first query after PUT already had the new answer in {g['flip_first_query_answered']}"
          f" of {g['flip_samples']} samples)")
    row("PUT with an unchanged grant (API + store only)", g["ref_put_unchanged_grant"], True)
    row("raw nft element edit (libnftables, kept context)", g["ref_raw_nft_element_edit"], True)
    row("raw nft element edit, fresh context each time", g["ref_raw_nft_edit_fresh_context"], True)
    rr = g["ref_reload_design"]
    row(f"reload design: render {rr['config_lines']} acl lines + checkconf", {
        "p50_ms": rr["render_and_write"]["p50_ms"] + rr["checkconf"]["p50_ms"],
        "p99_ms": rr["render_and_write"]["p99_ms"] + rr["checkconf"]["p99_ms"], "n": rr["total"]["n"]}, True)
    row("reload design: reload until answering", rr["reload_until_answering"], True)
    row("reload design: re-add runtime records", rr["readd_runtime_records"], True)
    row("reload design: total per grant change", rr["total"], True)
    print(f"unbound RSS: picd's (16 views, view map in nftables) {r['picd_unbound_rss_kb']} kB; "
          f"reload design ({rr['config_lines']} acl lines) {rr['unbound_rss_kb']} kB")
    if r.get("startup_reapply_ms") is not None:
        print(f"picd start: runtime state (view table with all peers + records) applied in {r['startup_reapply_ms']} ms")


if __name__ == "__main__":
    main()
