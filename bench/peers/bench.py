"""bench/peers driver (see run.sh): a real picd in its own namespace, grown to each size through the API; per
size, ROUNDS creates and deletes of one peer through the API (keep-alive HTTP, like a client would) and the
same live change done with the raw tools in the same namespace. Prints medians and p90s in milliseconds."""
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from pic import Picd  # noqa: E402
from test_peers import Api  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "100 1000 10000").split()]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
GRANTS = [["calendar"], ["files", "mail"], [], ["calendar", "files", "mail", "webdav"]]


def ms(samples):
    s = sorted(samples)
    return statistics.median(s) * 1000, s[min(len(s) - 1, int(len(s) * 0.9))] * 1000


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    picd = Picd(extra_args=("--set", "wireguard.address=10.64.0.1/16", "--log-level", "warn"))
    picd.start()
    picd.admin()
    api = Api(picd)
    tmp = tempfile.mkdtemp(prefix="bench-peers-")
    try:
        status = picd.get("/api/wireguard/status").json
        ifname = status["interface"]
        vips = picd.get("/api/config").json["service_ips"]
        nsenter = ["nsenter", f"--net=/run/netns/{picd.netns}"]
        psk = os.path.join(tmp, "psk")
        with open(psk, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")

        def check(status_body, want):
            if status_body[0] != want:
                raise SystemExit(f"bench/peers: API answered {status_body}")

        def raw(argv):
            subprocess.run(argv, check=True, capture_output=True)

        rows, have = [], 0
        for size in SIZES:
            t0 = time.monotonic()
            while have < size:
                check(api("POST", "/api/peers", {"name": f"p{have}", "service_access": GRANTS[have % 4]}), 201)
                have += 1
            grow = time.monotonic() - t0
            body = {"name": "bench", "service_access": ["calendar", "files"]}
            api_c, api_d, raw_c, raw_d = [], [], [], []
            for i in range(ROUNDS):
                api_c.append(timed(lambda: check(api("POST", "/api/peers", body), 201)))
                api_d.append(timed(lambda: check(api("DELETE", "/api/peers/bench"), 200)))
                # The same live change by hand: one WireGuard peer with a preshared key, and its elements.
                key = base64.b64encode(os.urandom(32)).decode()
                ip = "10.64.250.%d" % (1 + i % 250)
                add = ["nft", f"add element inet pic peers {{ {ip} }}; add element inet pic grants "
                              f"{{ {ip} . {vips['calendar']} : accept, {ip} . {vips['files']} : accept }}"]
                delete = ["nft", f"delete element inet pic grants {{ {ip} . {vips['calendar']}, "
                                 f"{ip} . {vips['files']} }}; delete element inet pic peers {{ {ip} }}"]
                raw_c.append(timed(lambda: (raw(["wg", "set", ifname, "peer", key, "preshared-key", psk,
                                                 "allowed-ips", f"{ip}/32"]), raw(nsenter + add))))
                raw_d.append(timed(lambda: (raw(["wg", "set", ifname, "peer", key, "remove"]),
                                            raw(nsenter + delete))))
            rows.append((size, ms(api_c), ms(api_d), ms(raw_c), ms(raw_d), grow))
    finally:
        api.close()
        picd.cleanup()
        subprocess.run(["rm", "-rf", tmp])

    print(f"\nbench/peers: one peer create / delete, median (p90) ms over {ROUNDS} rounds; raw = wg set + nft (floor)")
    print(f"{'existing':>9} | {'API create':>16} {'API delete':>16} | {'raw create':>16} {'raw delete':>16} "
          f"| {'API/raw':>7} | grow")
    for size, ac, ad, rc, rd, grow in rows:
        ratio = (ac[0] + ad[0]) / (rc[0] + rd[0])
        print(f"{size:>9} | {ac[0]:7.2f} ({ac[1]:6.2f}) {ad[0]:7.2f} ({ad[1]:6.2f}) | {rc[0]:7.2f} ({rc[1]:6.2f}) "
              f"{rd[0]:7.2f} ({rd[1]:6.2f}) | {ratio:7.2f} | {grow:.1f} s")
    first, last = rows[0], rows[-1]
    flat_c, flat_d = last[1][0] / first[1][0], last[2][0] / first[2][0]
    worst_ratio = max((r[1][0] + r[2][0]) / (r[3][0] + r[4][0]) for r in rows)
    ok = flat_c < 2 and flat_d < 2 and worst_ratio < 2
    print(f"flatness {last[0]} vs {first[0]} peers: create {flat_c:.2f}x, delete {flat_d:.2f}x (target < 2x); "
          f"API vs raw: worst {worst_ratio:.2f}x (target < 2x) -> {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
