"""bench/proxy report: parses two `wrk --latency` outputs (no authorization, forward_auth) and prints a table on
stderr and the JSON on stdout."""
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
    p50 = ms(re.search(r"50%\s+(\S+)", text).group(1))
    p99 = ms(re.search(r"99%\s+(\S+)", text).group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "socket_errors": errors,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


noauth, auth = parse(sys.argv[1]), parse(sys.argv[2])
out = {"no_auth": noauth, "forward_auth": auth, "ratio": round(auth["rps"] / noauth["rps"], 3),
       "caddy_rss_kb": int(sys.argv[3]), "picd_rss_kb": int(sys.argv[4]), "uptime": sys.argv[5].strip()}
print(f"{'path':<28}{'req/s':>10}{'p50':>10}{'p99':>10}{'errors':>8}", file=sys.stderr)
for name, r in (("caddy -> backend", noauth), ("caddy -> auth -> backend", auth)):
    print(f"{name:<28}{r['rps']:>10.0f}{r['p50_ms']:>8.2f}ms{r['p99_ms']:>8.2f}ms{r['socket_errors'] + r['non_2xx']:>8}",
          file=sys.stderr)
print(f"forward_auth / no auth: {out['ratio']:.2f}; RSS caddy {out['caddy_rss_kb'] / 1024:.1f} MiB, picd "
      f"{out['picd_rss_kb'] / 1024:.1f} MiB; load: {out['uptime']}", file=sys.stderr)
print(json.dumps(out, indent=2))
