"""bench/proxy report: parses three `wrk --latency` outputs (no authorization; picd's authorization checked in
Caddy; the same through forward_auth to picd) and the CPU ticks Caddy and picd used during each, and prints a
table on stderr and the JSON on stdout."""
import json
import re
import sys


def parse(path):
    text = open(path).read()
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        return round(float(m.group(1)) * unit[m.group(2)], 3)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    # at the start of a line: "+/- Stdev" columns end in % too ("84.50%")
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "socket_errors": errors,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def cpu(result, wrk_path, ticks):
    """Caddy's and picd's CPU per request (us) from "CADDY_TICKS PICD_TICKS CLK_TCK"."""
    n = int(re.search(r"(\d+) requests in", open(wrk_path).read()).group(1))
    caddy, picd, hz = (int(x) for x in ticks.split())
    result["caddy_cpu_us"] = round(caddy * 1e6 / hz / n, 1) if n else 0
    result["picd_cpu_us"] = round(picd * 1e6 / hz / n, 1) if n else 0


noauth, auth = parse(sys.argv[1]), parse(sys.argv[2])
cpu(noauth, sys.argv[1], sys.argv[6])
cpu(auth, sys.argv[2], sys.argv[7])
fwd = parse(sys.argv[8])
cpu(fwd, sys.argv[8], sys.argv[9])
out = {"no_auth": noauth, "authorized": auth, "forward_auth": fwd, "ratio": round(auth["rps"] / noauth["rps"], 3),
       "forward_auth_ratio": round(fwd["rps"] / noauth["rps"], 3),
       "cpu_ratio": round(noauth["caddy_cpu_us"] / (auth["caddy_cpu_us"] + auth["picd_cpu_us"]), 3),
       "caddy_rss_kb": int(sys.argv[3]), "picd_rss_kb": int(sys.argv[4]), "uptime": sys.argv[5].strip()}
print(f"{'path':<28}{'req/s':>10}{'p50':>10}{'p99':>10}{'errors':>8}{'caddy cpu':>11}{'picd cpu':>10}",
      file=sys.stderr)
for name, r in (("caddy -> backend", noauth), ("caddy + picd's authz", auth), ("  same via forward_auth", fwd)):
    print(f"{name:<28}{r['rps']:>10.0f}{r['p50_ms']:>8.2f}ms{r['p99_ms']:>8.2f}ms{r['socket_errors'] + r['non_2xx']:>8}"
          f"{r['caddy_cpu_us']:>9.1f}us{r['picd_cpu_us']:>8.1f}us", file=sys.stderr)
print(f"authorized / no auth: {out['ratio']:.2f} by req/s, {out['cpu_ratio']:.2f} by CPU per request "
      f"(through forward_auth: {out['forward_auth_ratio']:.2f}); "
      f"RSS caddy {out['caddy_rss_kb'] / 1024:.1f} MiB, picd "
      f"{out['picd_rss_kb'] / 1024:.1f} MiB; load: {out['uptime']}", file=sys.stderr)
print(json.dumps(out, indent=2))
