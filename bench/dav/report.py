"""bench/dav report: the timings of both legs (front door, floor) and the sampled RSS; prints a table on stderr
and the JSON on stdout. Throughput: small files per second, large file MiB per second; ratio = front / floor."""
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
for leg in ("floor", "front"):
    out["legs"][leg] = {
        "small_put_per_s": round(small / t[f"{leg}-small-put"], 1),
        "small_get_per_s": round(small / t[f"{leg}-small-get"], 1),
        "large_put_mib_s": round(large_mb / t[f"{leg}-large-put"], 1),
        "large_get_mib_s": round(large_mb / t[f"{leg}-large-get"], 1),
    }
for k in out["legs"]["floor"]:
    out["ratio"][k] = round(out["legs"]["front"][k] / out["legs"]["floor"][k], 3)
print(f"{'':<24}{'floor':>12}{'front door':>12}{'ratio':>8}", file=sys.stderr)
for k, label in (("small_put_per_s", "small PUT (files/s)"), ("small_get_per_s", "small GET (files/s)"),
                 ("large_put_mib_s", "large PUT (MiB/s)"), ("large_get_mib_s", "large GET (MiB/s)")):
    print(f"{label:<24}{out['legs']['floor'][k]:>12}{out['legs']['front'][k]:>12}{out['ratio'][k]:>8.2f}", file=sys.stderr)
print("HTTP codes: " + "; ".join(f"{k}: {v}" for k, v in codes.items()), file=sys.stderr)
print("RSS sampled (min-max MiB): " + ", ".join(f"{n} {v['min'] / 1024:.1f}-{v['max'] / 1024:.1f}"
                                                for n, v in out["rss_sampled_kb"].items()), file=sys.stderr)
print("RSS after (MiB): " + ", ".join(f"{n} {v / 1024:.1f}" for n, v in out["rss_after_kb"].items() if v),
      file=sys.stderr)
print(f"load: {uptime}", file=sys.stderr)
print(json.dumps(out, indent=2))
