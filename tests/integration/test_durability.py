"""Nothing acknowledged is lost: kill -9 picd in the middle of a burst of config writes from several
clients; the store must be intact and hold every write that got a 2xx (or a later one still in flight)."""
import os
import random
import subprocess
import threading
import time
import unittest

from pic import Picd, main, wait_for

KEYS = {
    "cell_name": lambda n: {"cell_name": f"burst-{n}"},
    "wireguard.endpoint": lambda n: {"wireguard": {"endpoint": f"h{n}.example.org:51820"}},
    "domain": lambda n: {"domain": f"d{n}.example"},
}


def value_of(config, key):
    if key == "wireguard.endpoint":
        return config["wireguard"]["endpoint"]
    return config[key]


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.picd = Picd().start()
        self.picd.admin()

    def tearDown(self):
        self.picd.cleanup()

    def burst_and_kill(self, kill_after):
        acked = {k: [] for k in KEYS}     # values with a 2xx, in order
        sent = {k: [] for k in KEYS}      # values sent (maybe not acked)
        stop = threading.Event()

        def writer(key):
            n = 0
            while not stop.is_set() and n < 100000:
                n += 1
                body = KEYS[key](n)
                sent[key].append(n)
                try:
                    r = self.picd.put("/api/config", body, timeout=5)
                except OSError:
                    return
                if r.status == 200:
                    acked[key].append(n)

        threads = [threading.Thread(target=writer, args=(k,)) for k in KEYS]
        for t in threads:
            t.start()
        # The kill lands in the middle of the burst: after every writer has had a write acknowledged (a
        # loaded machine may take longer than a fixed delay for that), then a random while later.
        try:
            wait_for(lambda: all(acked.values()), 20, what="a first acknowledged write of every writer")
        except AssertionError:
            stop.set()
            raise
        time.sleep(kill_after)
        self.picd.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        return acked, sent

    def test_kill9_during_write_burst_keeps_every_acknowledged_write(self):
        for round_ in range(3):
            acked, sent = self.burst_and_kill(random.uniform(0.0, 0.7))
            db = os.path.join(self.picd.state_dir, "picd.db")
            check = subprocess.run(["sqlite3", db, "PRAGMA integrity_check;"], capture_output=True, text=True)
            self.assertEqual(check.stdout.strip(), "ok", check)
            self.picd.start()
            config = self.picd.get("/api/config").json
            for key in KEYS:
                last_ack = acked[key][-1]
                # the stored value is the last acknowledged one, or one sent after it (applied, reply lost)
                allowed_values = [value_of(KEYS[key](n), key) for n in sent[key] if n >= last_ack]
                with self.subTest(round=round_, key=key):
                    self.assertIn(value_of(config, key), allowed_values)


if __name__ == "__main__":
    main()
