#!/usr/bin/env python3
# bench/api report: turns run.sh's wrk results (one JSON line per run) and its meta data into the printed table,
# the pass/fail checks against the targets, and bench/results/api-<timestamp>.json. Exit 1 if a check fails.
# The slowloris column is picd's p99 while another address holds thousands of unfinished requests open.
import json
import sys

RATIO_TARGET = 0.5          # picd req/s >= half of nginx with one worker, on both paths
RSS_TARGET_KB = 10 * 1024   # picd VmRSS under 10 MiB after the runs
SLOWLORIS_P99_TARGET_US = 1_000_000  # issue 7: a normal request is answered within 1 s during the attack
TARGETS = ("picd", "nginx-1", "nginx-auto")
PATHS = ("/health", "/api/config")


def ms(us):
    return f"{us / 1000:.2f}ms"


def main(meta_path, results_path, slow_path, out_path):
    with open(meta_path) as f:
        meta = json.load(f)
    with open(results_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(slow_path) as f:
        attacker = {r["path"]: r for r in (json.loads(line) for line in f if line.strip())}
    for r in rows:
        r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6), 1)
        r["errors_total"] = sum(r["errors"].values())
        r["server_cpu_us_per_request"] = round(r["server_cpu_s"] * 1e6 / max(r["requests"], 1), 2)
    by = {(r["target"], r["path"]): r for r in rows}
    ratios = {p: {n: round(by[("picd", p)]["rps"] / by[(n, p)]["rps"], 3) for n in TARGETS[1:]} for p in PATHS}
    # The same comparison by server CPU per request (nginx's cost over picd's): steadier on a shared machine.
    cpu_ratios = {p: {n: round(by[(n, p)]["server_cpu_us_per_request"] / by[("picd", p)]["server_cpu_us_per_request"], 3)
                      for n in TARGETS[1:]} for p in PATHS}
    labels = {"picd": "picd", "nginx-1": "nginx 1 worker", "nginx-auto": f"nginx auto ({meta['cpus']})"}

    print()
    n_slow = meta["slowloris"]["connections"]
    print(f"{'target':<16} {'path':<12} {'req/s':>9} {'avg':>8} {'p50':>8} {'p99':>8} {'p99 slowl':>9} {'errors':>6} "
          f"{'cpu/req':>9}  {'picd/this':>9} {'by cpu':>6}")
    for p in PATHS:
        for n in TARGETS:
            r = by[(n, p)]
            lat = r["latency_us"]
            ratio = f"{ratios[p][n]:.2f}" if n != "picd" else "-"
            cpu_ratio = f"{cpu_ratios[p][n]:.2f}" if n != "picd" else "-"
            slow = ms(by[("picd-slowloris", p)]["latency_us"]["p99"]) if n == "picd" else "-"
            cpu = f"{r['server_cpu_us_per_request']:.1f}us"
            print(f"{labels[n]:<16} {p:<12} {r['rps']:>9.0f} {ms(lat['mean']):>8} {ms(lat['p50']):>8} "
                  f"{ms(lat['p99']):>8} {slow:>9} {r['errors_total']:>6} {cpu:>9}  {ratio:>9} {cpu_ratio:>6}")
    print(f"(p99 slowl: picd's p99 with {n_slow} slowloris connections open from {meta['slowloris']['source']} "
          "meanwhile)")
    for p in PATHS:
        r, a = by[("picd-slowloris", p)], attacker[p]
        print(f"  under slowloris {p:<12} {r['rps']:>6.0f} req/s, p50 {ms(r['latency_us']['p50'])}, "
              f"{r['errors_total']} errors, {r['server_cpu_us_per_request']:.1f}us cpu/req, "
              f"VmRSS {r['server_rss_kb_under_load'] / 1024:.1f} MiB; picd held "
              f"{a['held_by_server_min']}-{a['held_by_server_max']} of the attacker's connections and dropped "
              f"~{a['reopened_per_round']:.0f} reopened ones a second")
    rss = meta["picd_rss_kb"]
    rss["under_load"] = max(by[("picd", p)]["server_rss_kb_under_load"] for p in PATHS)
    print()
    print(f"picd RSS: VmRSS {rss['under_load'] / 1024:.1f} MiB under load ({meta['wrk']['connections']} connections), "
          f"{rss['after'] / 1024:.1f} MiB after the runs, {rss['before'] / 1024:.1f} MiB before them; "
          f"VmHWM {rss['hwm'] / 1024:.1f} MiB")
    print("  (the peak is argon2id hashing the admin password at first start and at login: 64 MiB, given back at once)")
    ngx = {n: max(by[(n, p)]["server_rss_kb_under_load"] for p in PATHS) for n in TARGETS[1:]}
    print(f"nginx RSS under load, master + workers: 1 worker {ngx['nginx-1'] / 1024:.1f} MiB, "
          f"auto {ngx['nginx-auto'] / 1024:.1f} MiB")
    load = meta["loadavg_1min"]
    if load["start"] > 0.5:
        print(f"note: the machine was busy before the bench started (1-min load {load['start']}): "
              "figures are noisy; run it again on an idle machine")

    checks = {f"picd >= {RATIO_TARGET:g} x nginx 1 worker, {p}": ratios[p]["nginx-1"] >= RATIO_TARGET for p in PATHS}
    checks[f"picd VmRSS < {RSS_TARGET_KB} kB, under load and after"] = max(rss["under_load"], rss["after"]) < RSS_TARGET_KB
    checks[f"picd p99 < {SLOWLORIS_P99_TARGET_US // 1000} ms with {n_slow} slowloris connections open"] = all(
        by[("picd-slowloris", p)]["latency_us"]["p99"] < SLOWLORIS_P99_TARGET_US for p in PATHS)
    checks["no wrk errors, timeouts or non-2xx answers"] = not any(r["errors_total"] for r in rows)
    ok = all(checks.values())
    for k, v in checks.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")

    report = dict(meta, bench="api", results=rows, ratios=ratios, cpu_ratios=cpu_ratios, slowloris_client=attacker,
                  targets={"ratio_vs_nginx_1_worker": RATIO_TARGET, "picd_vmrss_kb_below": RSS_TARGET_KB,
                           "picd_p99_us_below_with_slowloris": SLOWLORIS_P99_TARGET_US},
                  checks=checks, passed=ok)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"\nwritten {out_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
