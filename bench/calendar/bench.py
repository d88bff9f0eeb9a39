"""bench/calendar: Radicale's memory as picd runs it, next to a Radicale started by hand on the same config.

Starts a fresh picd (temp state dir, its own namespace), creates BENCH_USERS users through the API (each gets a
default calendar and address book), then sends BENCH_EVENTS event PUTs, one vCard PUT and one calendar REPORT
per user straight to Radicale on the namespace's loopback (the upstream Caddy uses), and reads VmRSS of every
daemon at rest, after the users and after the workload. The reference is a second Radicale, same config apart
from port and storage, started by this script in the same namespace with the same workload."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
BUILD = sys.argv[1]
os.environ["PIC_BUILD_DIR"] = BUILD
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
import pic  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "20"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "10"))

# Runs in the cell namespace: the workload against 127.0.0.1:PORT for the given users, as Caddy would send it.
WORKLOAD = r"""
import http.client, sys
port, events, users = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
ical = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:202603{d:02d}T100000Z\r\nDTEND:202603{d:02d}T110000Z\r\n"
        "SUMMARY:Event {uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
report = ('<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
          '<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
          '<C:time-range start="20260301T000000Z" end="20260310T000000Z"/></C:comp-filter></C:comp-filter>'
          '</C:filter></C:calendar-query>')
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def req(method, path, user, body=None, ctype=None, extra=None):
    h = {"X-Remote-User": user}
    if ctype:
        h["Content-Type"] = ctype
    h.update(extra or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    r.read()
    assert r.status < 300, (method, path, r.status)
for u in users:
    for i in range(events):
        req("PUT", f"/{u}/calendar/e{i}.ics", u, ical.format(uid=f"{u}-{i}", d=1 + i % 28), "text/calendar")
    req("PUT", f"/{u}/contacts/c.vcf", u, f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{u}\r\nFN:{u}\r\nEND:VCARD\r\n",
        "text/vcard")
    req("REPORT", f"/{u}/calendar/", u, report, "application/xml", {"Depth": "1"})
"""


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def mib(b):
    return f"{b / 1048576:.1f}"


def main():
    p = pic.Picd()
    ref = None
    rows = {}
    try:
        p.start()
        p.admin()
        daemons = lambda: {s["name"]: s["pid"] for s in p.get("/api/services").json["services"] if s.get("pid")}
        pic.wait_for(lambda: next(s for s in p.get("/api/services").json["services"]
                                  if s["name"] == "calendar")["healthy"], 30, what="radicale")
        port = p.get("/api/config").json["calendar"]["port"]
        # The reference: Debian's Radicale on the same config, its own port and storage, started by hand.
        tmp = tempfile.mkdtemp(prefix="bench-cal-")
        with open(os.path.join(p.state_dir, "etc", "calendar", "radicale.conf")) as f:
            conf = f.read().replace(f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}")
        conf = "\n".join(f"filesystem_folder = {tmp}" if l.startswith("filesystem_folder") else l
                         for l in conf.splitlines()) + "\n"
        with open(os.path.join(tmp, "radicale.conf"), "w") as f:
            f.write(conf)
        ref = subprocess.Popen(["ip", "netns", "exec", p.netns, "/usr/bin/python3", "-m", "radicale", "--config",
                                os.path.join(tmp, "radicale.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(3)

        def reading(label):
            d = daemons()
            rows[label] = {name: rss(pid) for name, pid in d.items()}
            rows[label]["picd"] = rss(p.proc.pid)
            rows[label]["radicale (reference)"] = rss(ref.pid)  # ip netns exec execs python in place

        reading("at rest")
        users = [f"u{i:04d}" for i in range(USERS)]
        for u in users:
            r = p.post("/api/users", {"name": u, "password": f"{u}-password-123", "role": "user"})
            assert r.status == 201, r
        time.sleep(1)
        reading(f"after {USERS} users")
        t0 = time.monotonic()
        pic.run("ip", "netns", "exec", p.netns, "/usr/bin/python3", "-c", WORKLOAD, str(port), str(EVENTS), *users,
                timeout=600)
        t_picd = time.monotonic() - t0
        # The reference's users get the same two collections the way a client makes them (MKCALENDAR, MKCOL);
        # Radicale makes each principal itself.
        mk = r"""
import http.client, sys
port, users = int(sys.argv[1]), sys.argv[2:]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for u in users:
    for path, body in ((f"/{u}/calendar/", None), (f"/{u}/contacts/", '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" '
                       'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/>'
                       '<CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>')):
        c.request("MKCALENDAR" if body is None else "MKCOL", path, body=body, headers={"X-Remote-User": u})
        r = c.getresponse(); r.read(); assert r.status == 201, (path, r.status)
"""
        pic.run("ip", "netns", "exec", p.netns, "/usr/bin/python3", "-c", mk, str(port + 1), *users, timeout=600)
        t0 = time.monotonic()
        pic.run("ip", "netns", "exec", p.netns, "/usr/bin/python3", "-c", WORKLOAD, str(port + 1), str(EVENTS),
                *users, timeout=600)
        t_ref = time.monotonic() - t0
        time.sleep(1)
        reading(f"after {USERS * (EVENTS + 2)} requests")
        status = p.get("/api/services/calendar/status").json
    finally:
        if ref:
            ref.send_signal(signal.SIGTERM)
            ref.wait(10)
        p.stop()
        p.cleanup()
    names = ["calendar", "radicale (reference)", "proxy", "dns", "ntp", "wireguard", "picd"]
    labels = list(rows)
    print(f"{'RSS MiB':24}" + "".join(f"{l:>22}" for l in labels))
    for n in names:
        print(f"{n:24}" + "".join(f"{mib(rows[l].get(n, 0)):>22}" for l in labels))
    print(f"workload: {USERS * (EVENTS + 2)} requests, picd's radicale {t_picd:.1f} s, reference {t_ref:.1f} s; "
          f"storage {status['storage_bytes']} bytes, {status['items']} items")
    out = os.path.join(SOURCE, "bench", "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, time.strftime("calendar-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    with open(path, "w") as f:
        json.dump({"rss": rows, "seconds": {"picd": t_picd, "reference": t_ref}, "users": USERS, "events": EVENTS,
                   "status": {k: v for k, v in status.items() if k != "users"}}, f, indent=2)
    print(f"written {path}")


if __name__ == "__main__":
    main()
