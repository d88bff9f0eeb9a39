"""A SIGKILLed picd leaves no daemon of its cell behind. unbound and chronyd drop privileges and so lose the kernel's
parent-death signal: picd's guardian stops them as soon as picd is gone, and should the guardian be killed too, the
next start of the same cell finds and stops them before starting its own — whenever picd was killed: with pid
records, without them, right after it spawned a daemon, or at any point of its start-up."""
import os
import time
import unittest

from pic import PICD, Picd, free_port, main, run, wait_for


def alive(pid):
    """Running (a zombie waiting for init to reap it is dead for our purpose)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


class LeftoverTest(unittest.TestCase):
    def setUp(self):
        self.picd = Picd()

    def tearDown(self):
        self.picd.cleanup()

    def assert_clean_start(self, old):
        """Starts picd again and shows what a user sees: every service healthy, and every process in the cell's
        namespace is one of the daemons this picd runs (none of `old`, the processes seen before the kills)."""
        self.picd.start()
        if not self.picd.token:
            self.picd.admin()

        def parent(pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return 0

        def ours(pid, daemons):
            # A daemon's own children (Postfix's qmgr and pickup, Dovecot's log and config) count as it: they
            # die with it. A child whose daemon is gone has been handed to init and is a leftover.
            for _ in range(8):
                if pid in daemons:
                    return True
                pid = parent(pid)
                if pid <= 1:
                    return False
            return False

        def settled():
            health = self.picd.get("/health", auth=False).json
            services = {s["name"]: s for s in self.picd.get("/api/services").json["services"]}
            pids = {s["pid"] for s in services.values() if s["pid"]}
            running = set(self.picd.netns_pids())
            return (health["status"] == "ok" and pids <= running and all(ours(p, pids) for p in running) and
                    not running & set(old) and
                    all(s["state"] in ("running", "disabled") for s in services.values())) and services
        try:
            services = wait_for(settled, timeout=15, interval=0.1, what="every service healthy, nothing else running")
        except AssertionError:
            raise AssertionError(f"cell processes {self.picd.netns_pids()}\nhealth {self.picd.get('/health').json}\n"
                                 f"{self.picd.logs()[-6000:]}") from None
        # A leftover holding a port makes the new daemon exit within a second; none did, none was restarted.
        for name, s in services.items():
            with self.subTest(service=name):
                self.assertEqual(s["restarts"], 0, s)
                self.assertIsNone(s["last_exit"], s)
        for pid, argv in old.items():
            self.assertFalse(alive(pid) and pid not in {s["pid"] for s in services.values()},
                             f"{argv} (pid {pid}) from a killed picd is still running")

    def running_daemons(self):
        return wait_for(lambda: (lambda p: p if {"dns", "ntp", "wireguard"} <= set(p) else None)(
            self.picd.daemon_pids()), what="daemons running with pid records")

    def test_daemons_die_with_a_killed_picd(self):
        """No next start needed: picd's guardian stops them as soon as picd is gone."""
        self.picd.start()
        self.running_daemons()
        old = self.picd.netns_pids()
        self.assertTrue(old)
        self.picd.kill9()
        try:
            wait_for(lambda: not self.picd.netns_pids(), timeout=10, what="no daemon of the killed picd left")
        except AssertionError:
            raise AssertionError(f"still running: {self.picd.netns_pids()}\n{self.picd.logs()[-3000:]}") from None
        # The guardian writes its line once its last process is reaped, a moment after the namespace is empty.
        wait_for(lambda: "its guardian stopped" in self.picd.logs(), timeout=5, what="the guardian's report")
        self.assert_clean_start(old)

    def test_restart_after_kill9_stops_leftover_daemons(self):
        self.picd.start()
        self.running_daemons()
        old = self.picd.netns_pids()
        self.picd.kill9()
        self.assert_clean_start(old)

    def test_restart_after_kill9_without_pid_records(self):
        """picd and its guardian killed, before picd wrote its records (or they were lost): the next start finds the
        daemons all the same."""
        self.picd.start()
        self.running_daemons()
        old = self.picd.netns_pids()
        self.assertEqual(len(self.picd.guardian_pids()), 1)
        self.picd.kill9(guardian_too=True)
        run_dir = os.path.join(self.picd.state_dir, "run")
        for name in os.listdir(run_dir):
            if name.endswith(".pid"):
                os.unlink(os.path.join(run_dir, name))
        self.assert_clean_start(old)

    def test_kill9_right_after_spawn_and_during_startup(self):
        """Killed the moment its first daemon appears, and at several points of its start-up; with and without its
        guardian."""
        old = {}
        for guardian_too in (False, True):
            self.picd.start(wait=False)
            wait_for(lambda: self.picd.netns_pids(), timeout=20, interval=0.001, what="a first daemon spawned")
            self.picd.kill9(guardian_too)
            old.update(self.picd.netns_pids())
        for delay in (0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4, 0.8):
            for guardian_too in (False, True):
                with self.subTest(kill_after=delay, guardian_too=guardian_too):
                    self.picd.start(wait=False)
                    time.sleep(delay)
                    self.picd.kill9(guardian_too)
                    old.update(self.picd.netns_pids())
        self.assert_clean_start(old)

    def test_second_picd_on_the_same_state_dir_refuses(self):
        """The start-up sweep stops whatever carries the cell's marker: never the daemons of a picd that is alive."""
        self.picd.start()
        before = self.running_daemons()
        wait_for(lambda: self.picd.get("/health", auth=False).json["status"] == "ok", what="health ok")
        res = run(PICD, "--state-dir", self.picd.state_dir, "--listen", f"127.0.0.1:{free_port()}",
                  "--netns", self.picd.netns, check=False, timeout=30)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(f"another picd is running with the state dir {os.path.realpath(self.picd.state_dir)}",
                      res.stderr)
        self.assertEqual(self.picd.daemon_pids(), before)
        self.assertEqual(self.picd.get("/health", auth=False).json["status"], "ok")


if __name__ == "__main__":
    main()
