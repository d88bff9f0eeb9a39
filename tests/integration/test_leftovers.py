"""After kill -9 of picd, daemons that dropped privileges keep running (they lose the parent-death
signal); the next picd of the same cell stops them before starting its own, so nothing is left behind
and nothing fights over the service addresses."""
import unittest

from pic import Picd, main, wait_for


def alive(pid):
    """Running (a zombie waiting for init to reap it is dead for our purpose)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


class LeftoverTest(unittest.TestCase):
    def setUp(self):
        self.picd = Picd().start()

    def tearDown(self):
        self.picd.cleanup()

    def test_restart_after_kill9_stops_leftover_daemons(self):
        before = wait_for(lambda: self.picd.daemon_pids().get("ntp") and self.picd.daemon_pids(),
                          what="ntp running with a pid record")
        self.picd.kill9()
        survivors = self.picd.daemon_pids()
        # the case this guards: chronyd and unbound drop privileges and so outlive a killed picd
        self.assertIn("ntp", survivors)
        self.picd.start()
        after = wait_for(lambda: all(self.picd.daemon_pids().get(n) for n in before) and self.picd.daemon_pids(),
                         what="daemons running again")
        for name, pid in survivors.items():
            with self.subTest(service=name):
                self.assertNotEqual(after[name], pid)
                self.assertFalse(alive(pid), f"{name} pid {pid} from the killed picd is still running")


if __name__ == "__main__":
    main()
