"""The services API (/api/services, /status, restart, logs, the /api/containers aliases) and /health: states, pids,
memory and restarts as a user sees them; daemons that cannot start or that crash-loop show as failed without
taking picd down."""
import os
import time

import pic
from pic import Picd, PicdTestCase, run, unique, wait_for


def by_name(r):
    return {s["name"]: s for s in r.json["services"]}


class ServicesTest(PicdTestCase):
    def test_list(self):
        r = self.picd.get("/api/services")
        self.assertEqual(r.status, 200, r)
        s = by_name(r)
        self.assertEqual(s["network"]["kind"], "module")
        self.assertEqual(s["network"]["state"], "running")
        self.assertEqual(s["dhcp"]["state"], "disabled")
        ntp = s["ntp"]
        self.assertEqual(ntp["kind"], "daemon")
        self.assertEqual(ntp["state"], "running")
        self.assertTrue(os.path.exists(f"/proc/{ntp['pid']}"))
        self.assertGreater(ntp["memory"], 1024 * 1024)
        self.assertGreaterEqual(ntp["uptime"], 0)
        self.assertIsNone(ntp["last_exit"])
        self.assertIs(ntp["healthy"], True)
        for svc in s.values():
            self.assertEqual(set(svc), {"name", "kind", "state", "healthy", "problem", "pid", "uptime", "started_at",
                                        "restarts", "memory", "last_exit"})
        self.assertEqual(by_name(self.picd.get("/api/containers")).keys(), s.keys())
        self.assertEqual(self.picd.get("/api/services", auth=False).status, 401)

    def test_status_and_health(self):
        r = self.picd.get("/api/services/status")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ok")
        self.assertEqual(r.json["failing"], [])
        self.assertEqual(r.json["services"]["ntp"]["status"], "running")
        self.assertEqual(r.json["total"], r.json["running"])
        h = self.picd.get("/health", auth=False)
        self.assertEqual(h.json["status"], "ok")
        self.assertEqual(h.json["services"]["ntp"], "running")

    def test_restart(self):
        before = by_name(self.picd.get("/api/services"))["ntp"]
        r = self.picd.post("/api/services/ntp/restart")
        self.assertEqual(r.status, 200, r)
        after = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != before["pid"] else None)(
            by_name(self.picd.get("/api/services"))["ntp"]), what="ntp restarted")
        self.assertEqual(after["restarts"], before["restarts"] + 1)
        r = self.picd.post("/api/containers/ntp/restart")
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: by_name(self.picd.get("/api/services"))["ntp"]["restarts"] == before["restarts"] + 2,
                 what="second restart")
        wait_for(lambda: by_name(self.picd.get("/api/services"))["ntp"]["state"] == "running", what="running")
        self.assertError(self.picd.post("/api/services/nope/restart"), 404)
        self.assertError(self.picd.post("/api/services/..%2Fetc/restart"), 404)
        self.assertError(self.picd.post("/api/services/dhcp/restart"), 409)
        self.assertEqual(self.picd.post("/api/services/network/restart").status, 200)
        self.assertEqual(self.picd.post("/api/services/ntp/restart", token=self.picd.make_token("write")).status, 403)
        # A declared-only module (an address, a name, a grant; the files module's lighttpd serves it) is not a
        # service to restart.
        self.assertError(self.picd.post("/api/services/webdav/restart"), 404)

    def test_service_status(self):
        wg = self.picd.get("/api/services/wireguard/status")
        self.assertEqual(wg.status, 200, wg)
        self.assertEqual(wg.json, self.picd.get("/api/wireguard/status").json)
        self.assertError(self.picd.get("/api/services/dns/status"), 404)       # no status of its own
        self.assertError(self.picd.get("/api/services/webdav/status"), 404)    # declared only
        self.assertError(self.picd.get("/api/services/nope/status"), 404)
        self.assertEqual(self.picd.get("/api/services/ntp/status", auth=False).status, 401)

    def test_logs(self):
        r = self.picd.get("/api/services/ntp/logs?lines=3")
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(len(r.json["lines"]), 3)
        full = self.picd.get("/api/services/ntp/logs").json["lines"]
        self.assertTrue(any("chronyd version" in line for line in full), full)
        for bad in ("0", "abc", "10001", "-1", "5x"):
            with self.subTest(lines=bad):
                self.assertError(self.picd.get(f"/api/services/ntp/logs?lines={bad}"), 400, "lines")
        self.assertError(self.picd.get("/api/services/network/logs"), 404)
        self.assertError(self.picd.get("/api/services/nope/logs"), 404)
        self.assertEqual(self.picd.get("/api/services/ntp/logs", token=self.picd.make_token("read")).status, 403)

    def test_network_test_shape(self):
        r = self.picd.post("/api/network/test")
        self.assertEqual(r.status, 200, r)
        names = [c["name"] for c in r.json["checks"]]
        self.assertIn("bridge", names)
        self.assertIn("ntp", names)
        for c in r.json["checks"]:
            self.assertIn("ok", c)
            self.assertIsInstance(c["ms"], float)
            self.assertIsInstance(c["detail"], str)
            if c["ok"] is None:
                self.assertTrue(c["skipped"])
        self.assertIs(r.json["ok"], True, r.json)
        # DNS runs in every cell, so its checks (one per service name) are made, not skipped.
        dns = [c for c in r.json["checks"] if c["name"].startswith("dns")]
        self.assertIn("dns:ntp.mycell.cell", [c["name"] for c in dns])
        for c in dns:
            self.assertIs(c["ok"], True, c)


class BrokenDaemonTest(PicdTestCase):
    """chronyd's binary is missing and dnsmasq is enabled on a real interface with a missing binary."""

    @classmethod
    def setUpClass(cls):
        netns = unique("picc")
        run("ip", "netns", "add", netns)
        cls.ifname = unique("bd")[:15]
        try:
            run("ip", "link", "add", cls.ifname, "netns", netns, "type", "dummy", check=False)
            if run("ip", "-n", netns, "link", "show", cls.ifname, check=False).returncode != 0:
                # No dummy interfaces on this kernel: one end of a veth serves as the LAN side.
                run("ip", "link", "add", cls.ifname, "netns", netns, "type", "veth", "peer", "name",
                    unique("bp")[:15], "netns", netns)
            run("ip", "-n", netns, "addr", "add", "192.168.215.1/24", "dev", cls.ifname)
        except Exception:
            run("ip", "netns", "del", netns, check=False)
            raise
        cls.picd = Picd(netns=netns,
                        env={"PIC_CHRONYD_BIN": "/nonexistent/chronyd", "PIC_DNSMASQ_BIN": "/nonexistent/dnsmasq"},
                        extra_args=["--set", "dhcp.enabled=true", "--set", f"dhcp.interface={cls.ifname}",
                                    "--set", "dhcp.range_start=192.168.215.100",
                                    "--set", "dhcp.range_end=192.168.215.150"])
        try:
            cls.picd.start()
            cls.picd.admin()
        except Exception:
            print(cls.picd.logs())
            cls.picd.cleanup()
            raise

    def test_failed_not_fatal(self):
        s = by_name(self.picd.get("/api/services"))
        for name, binary in (("ntp", "/nonexistent/chronyd"), ("dhcp", "/nonexistent/dnsmasq")):
            with self.subTest(service=name):
                self.assertEqual(s[name]["state"], "failed")
                self.assertIs(s[name]["healthy"], False)
                self.assertIn(binary, s[name]["problem"])
                self.assertIn("No such file or directory", s[name]["problem"])
                self.assertIsNone(s[name]["pid"])
        self.assertEqual(s["network"]["state"], "running")
        h = self.picd.get("/health", auth=False)
        self.assertEqual(h.status, 200)
        self.assertEqual(h.json["status"], "degraded")
        self.assertEqual(sorted(h.json["failing"]), ["dhcp", "ntp"], h.json)
        self.assertIn("/nonexistent/chronyd", h.json["problems"]["ntp"])
        st = self.picd.get("/api/services/status").json
        self.assertEqual(st["status"], "degraded")
        self.assertEqual(sorted(st["failing"]), ["dhcp", "ntp"])
        # A restart cannot help; it says why, and picd keeps serving.
        r = self.picd.post("/api/services/ntp/restart")
        self.assertEqual(r.status, 503, r)  # the service cannot run: unavailable, not an internal error
        self.assertIn("/nonexistent/chronyd", r.json["error"]["message"])
        self.assertEqual(self.picd.get("/api/config").status, 200)
        self.assertEqual(self.picd.get("/api/ntp/status").status, 503)
        check = next(c for c in self.picd.post("/api/network/test").json["checks"] if c["name"] == "ntp")
        self.assertIs(check["ok"], False)


class CrashLoopTest(PicdTestCase):
    """A chronyd that exits at once (/bin/true passes the check and then dies): backoff, then failed."""

    @classmethod
    def setUpClass(cls):
        cls.picd = Picd(env={"PIC_CHRONYD_BIN": "/bin/true"})
        try:
            cls.picd.start()
            cls.picd.admin()
        except Exception:
            print(cls.picd.logs())
            cls.picd.cleanup()
            raise

    def test_crash_loop_degrades_then_fails(self):
        def ntp():
            return by_name(self.picd.get("/api/services"))["ntp"]
        # Degraded from the first unexpected exit on.
        wait_for(lambda: self.picd.get("/health").json["failing"] == ["ntp"], what="health degraded")
        s = wait_for(lambda: (lambda x: x if x["state"] == "failed" else None)(ntp()), timeout=30,
                     interval=0.2, what="crash loop detected")
        self.assertGreaterEqual(s["restarts"], 1)
        self.assertEqual(s["last_exit"]["code"], 0)
        self.assertTrue(s["problem"])
        h = self.picd.get("/health").json
        self.assertEqual(h["status"], "degraded")
        self.assertEqual(h["services"]["ntp"], "failed")
        # Failed stays failed (no restarts behind the user's back). The backoff starts at 200 ms and doubles per
        # quick crash, so a restart still scheduled would come after 0.2 * 2**restarts s (3.2 s after 4): watch for
        # twice that (capped at the supervisor's 30 s maximum), checking all along.
        restarts = s["restarts"]
        window = min(30.0, 2 * 0.2 * 2 ** restarts)
        self.assertGreaterEqual(window, 3.2)
        end = time.monotonic() + window
        while time.monotonic() < end:
            now = ntp()
            self.assertEqual((now["state"], now["restarts"]), ("failed", restarts), now)
            time.sleep(0.2)


if __name__ == "__main__":
    pic.main()
