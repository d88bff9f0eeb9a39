"""bench/dav report: the timings of the four legs and the sampled RSS; prints a table on stderr and the JSON on
stdout. Throughput: small files per second, large file MiB per second; ratio = front door (HTTP/2) / floor, the
issue's target; bare/floor is what TLS and the proxy hop alone leave, front/bare what authorization costs."""
import json
import sys

times_path, rss_path, small, small_bytes, large_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(
    sys.argv[5])
daemons = dict(a.split("=", 1) for a in sys.argv[6].split())
uptime = sys.argv[7].strip()
t, codes = {}, {}
with open(times_path) as f:
    for line in f:
        name, t0, t1, *c = line.split()
        t[name], codes[name] = float(t1) - float(t0), " ".join(c)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None


out = {"small_files": small, "small_bytes": small_bytes, "large_mib": large_mb, "legs": {}, "ratio": {},
       "http_codes": codes, "rss_sampled_kb": json.load(open(rss_path)),
       "rss_after_kb": {n: rss_kb(p) for n, p in daemons.items()}, "uptime": uptime}
LEGS = ("floor", "bare", "front", "front1")
for leg in LEGS:
    out["legs"][leg] = {
        "small_put_per_s": round(small / t[f"{leg}-small-put"], 1),
        "small_get_per_s": round(small / t[f"{leg}-small-get"], 1),
        "large_put_mib_s": round(large_mb / t[f"{leg}-large-put"], 1),
        "large_get_mib_s": round(large_mb / t[f"{leg}-large-get"], 1),
    }
RATIOS = (("front", "floor"), ("bare", "floor"), ("front", "bare"), ("front1", "floor"))
for k in out["legs"]["floor"]:
    out["ratio"][k] = {f"{a}/{b}": round(out["legs"][a][k] / out["legs"][b][k], 3) for a, b in RATIOS}
print(f"{'':<22}{'floor':>8}{'bare TLS':>9}{'front':>8}{'front h1':>9}  {'front/':>7}{'bare/':>7}{'front/':>7}"
      f"{'h1/':>7}", file=sys.stderr)
print(f"{'':<22}{'':>8}{'proxy':>9}{'door':>8}{'':>9}  {'floor':>7}{'floor':>7}{'bare':>7}{'floor':>7}", file=sys.stderr)
for k, label in (("small_put_per_s", "small PUT (files/s)"), ("small_get_per_s", "small GET (files/s)"),
                 ("large_put_mib_s", "large PUT (MiB/s)"), ("large_get_mib_s", "large GET (MiB/s)")):
    print(f"{label:<22}" + "".join(f"{out['legs'][leg][k]:>{w}}" for leg, w in zip(LEGS, (8, 9, 8, 9))) + "  " +
          "".join(f"{out['ratio'][k][f'{a}/{b}']:>7.2f}" for a, b in RATIOS), file=sys.stderr)
print("HTTP codes: " + "; ".join(f"{k}: {v}" for k, v in codes.items()), file=sys.stderr)
print("RSS sampled (min-max MiB): " + ", ".join(f"{n} {v['min'] / 1024:.1f}-{v['max'] / 1024:.1f}"
                                                for n, v in out["rss_sampled_kb"].items()), file=sys.stderr)
print("RSS after (MiB): " + ", ".join(f"{n} {v / 1024:.1f}" for n, v in out["rss_after_kb"].items() if v),
      file=sys.stderr)
print(f"load: {uptime}", file=sys.stderr)
print(json.dumps(out, indent=2))
