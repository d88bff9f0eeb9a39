"""bench/dav sampler: the resident memory (kB) of named pids every 100 ms until SIGTERM, then writes
{name: {"min", "max", "last"}} to the file named first."""
import json
import signal
import sys
import time

out, procs = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
seen, running = {}, True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
while running:
    for name, pid in procs.items():
        try:
            with open(f"/proc/{pid}/status") as f:
                kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
        s = seen.setdefault(name, {"min": kb, "max": kb, "last": kb})
        s["min"], s["max"], s["last"] = min(s["min"], kb), max(s["max"], kb), kb
    time.sleep(0.1)
with open(out, "w") as f:
    json.dump(seen, f)
