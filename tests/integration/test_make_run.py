"""`make run` as a user runs it (the real Makefile and scripts/run-cell.sh, with its own state dir, port and
namespace so a user's own `make run` cell is never touched): settings made through the API survive a
restart; the defaults apply on the first start only, and a variable given explicitly still overrides."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import BUILD, SOURCE, Picd, free_port, run, unique, wait_for  # noqa: E402


class MakeRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pic-makerun-")
        self.addCleanup(self.tmp.cleanup)
        # Like /var/lib: other users may pass through (the daemons that run as their own users must).
        os.chmod(self.tmp.name, 0o711)
        self.state = os.path.join(self.tmp.name, "var")
        self.netns = unique("picmr")
        self.picd = Picd(state_dir=self.state, netns=self.netns, port=free_port())
        self.proc = None
        self.log = open(os.path.join(self.tmp.name, "make-run.log"), "ab")
        self.addCleanup(self.log.close)
        self.addCleanup(run, "ip", "netns", "del", f"{self.netns}-lan", check=False)
        self.addCleanup(self.picd.cleanup)
        self.addCleanup(self.stop)

    def make_run(self, **variables):
        """`VAR=value make run` with this test's state dir, listener and namespace; waits for /health."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("CELL_NAME", "VPN_ADDRESS", "IP_RANGE", "DOMAIN", "NETNS", "MAKEFLAGS", "MFLAGS",
                            "MAKELEVEL")}
        env.update(variables)
        # -o build: the build under test is already there (make test built it); everything else is `make run`.
        argv = ["make", "-s", "-C", SOURCE, "-o", "build", "run", f"BUILD={os.path.abspath(BUILD)}",
                f"STATE_DIR={self.state}", f"LISTEN=127.0.0.1:{self.picd.port}", f"NETNS={self.netns}"]
        # Its own process group, like a terminal's foreground job: stop() sends it what Ctrl-C would.
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.picd.proc = self.proc  # wait_ready() fails at once if make exits
        try:
            self.picd.wait_ready(30)
        except AssertionError:
            raise AssertionError(self.output())
        try:
            self.picd.admin()
        except Exception:
            print(self.output())
            raise

    def group_alive(self):
        """Whether any process of make's group (make, run-cell.sh, picd) still runs: make itself may exit
        before picd has finished shutting down."""
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.proc.pid and fields[0] not in "ZX":
                return True
        return False

    def stop(self):
        if not self.proc:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            wait_for(lambda: not self.group_alive(), 30, interval=0.1, what="make run to stop")
        except AssertionError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError("make run did not stop on SIGTERM:\n" + self.output())
        finally:
            self.proc.wait(10)
            self.proc = None
            self.picd.proc = None

    def output(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")[-5000:] + "\n" + self.picd.logs()

    def config(self):
        r = self.picd.get("/api/config")
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_settings_survive_restart(self):
        self.make_run()
        # Every service of the cell comes up, those that run as their own users (calendar, files, mail) too.
        wait_for(lambda: self.picd.get("/health", auth=False).json["failing"] == [], 90,
                 what="every service running under make run")
        cfg = self.config()
        # First start: the defaults, and the demo LAN's DHCP.
        self.assertEqual(cfg["cell_name"], "mycell")
        self.assertIs(cfg["dhcp"]["enabled"], True)
        self.assertEqual(cfg["dhcp"]["range_start"], "192.168.77.100")

        r = self.picd.put("/api/config", {"cell_name": "home", "dhcp": {"range_start": "192.168.77.150"}})
        self.assertEqual(r.status, 200, r)
        self.stop()

        # A plain restart keeps what the user set.
        self.make_run()
        cfg = self.config()
        self.assertEqual(cfg["cell_name"], "home", self.output())
        self.assertEqual(cfg["dhcp"]["range_start"], "192.168.77.150")
        self.assertIs(cfg["dhcp"]["enabled"], True)
        self.stop()

        # A variable given explicitly is an override, on any start.
        self.make_run(CELL_NAME="pic2")
        cfg = self.config()
        self.assertEqual(cfg["cell_name"], "pic2")
        self.assertEqual(cfg["dhcp"]["range_start"], "192.168.77.150")
        self.stop()

    def test_a_state_dir_others_cannot_reach_is_refused(self):
        """A state dir below a folder other users cannot pass through (a checkout below /root) would leave the
        calendar, files and mail daemons without their data: make run says so and starts nothing."""
        closed = os.path.join(self.tmp.name, "closed")
        os.mkdir(closed, 0o700)
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        r = subprocess.run(["make", "-s", "-C", SOURCE, "-o", "build", "run", f"BUILD={os.path.abspath(BUILD)}",
                            f"STATE_DIR={closed}/var", f"LISTEN=127.0.0.1:{self.picd.port}", f"NETNS={self.netns}"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(f"{closed} (mode 700) cannot be passed through by other users", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(closed, "var")))
        self.assertFalse(os.path.exists(f"/run/netns/{self.netns}"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
