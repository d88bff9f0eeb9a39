"""Slowloris: one client address holding thousands of half-sent requests must not lock anyone else out of the
API. picd and every client run in a namespace this test creates; 127.0.0.2 is the attacker, 127.0.0.3 a user."""
import ctypes
import errno
import http.client
import os
import resource
import selectors
import socket
import time
import unittest

from pic import SLOW, Netns, Picd, main, wait_for

ATTACKER, USER = "127.0.0.2", "127.0.0.3"
N_ATTACK = 2000
# The bound for a normal request during the attack (sanitizer builds are several times slower).
ANSWER_S = 1.0 * SLOW
# picd promises headers within 5 s and the whole request within 10 s; the margins cover the 0.5 s sweep.
HEADER_CUT_S, BODY_CUT_S = 8 * SLOW, 14 * SLOW
CLONE_NEWNET = 0x40000000
PARTIAL = b"GET /health HTTP/1.1\r\nHost: cell\r\nX-Slow: "


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


class Attack:
    """N sockets from one address, each connected and sent an unfinished request, trickled a byte at a time
    (so an idle timeout alone never ends them) and reopened when picd drops them — a real slowloris."""

    def __init__(self, host, port, n):
        self.host, self.port, self.n = host, port, n
        self.socks = []

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((ATTACKER, 0))
        err = s.connect_ex((self.host, self.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(err, "attacker connect")
        return s

    def open_all(self, timeout):
        """Connects all N; returns how many completed the TCP handshake within timeout."""
        self.socks = [self._open() for _ in range(self.n)]
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_WRITE)
        connected, deadline = 0, time.monotonic() + timeout
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                sel.unregister(key.fileobj)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected += 1
        sel.close()
        for s in self.socks:
            self._send(s, PARTIAL)
        return connected

    @staticmethod
    def _send(s, data):
        try:
            s.send(data)
            return True
        except OSError:
            return False

    @staticmethod
    def _alive(s):
        try:
            return s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def trickle(self):
        """One more header byte on every live connection; dropped ones are reopened. Returns how many were dropped."""
        dropped = 0
        for i, s in enumerate(self.socks):
            if self._alive(s) and self._send(s, b"x"):
                continue
            dropped += 1
            s.close()
            self.socks[i] = self._open()
            self._send(self.socks[i], PARTIAL)  # lost if the handshake is not done yet: the next round retries
        return dropped

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


class SlowlorisTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 2,000 sockets in this process: the soft limit must hold them (a low hard limit is a failure, not a skip).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = N_ATTACK + 500
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                raise AssertionError(f"open-file hard limit {hard} < {want}: this test cannot open its connections")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.ns = Netns()
        cls.host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        ns_fd = os.open(f"/run/netns/{cls.ns.name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(ns_fd)  # from here on every socket of this test lives in the test's namespace
        finally:
            os.close(ns_fd)
        cls.picd = Picd(run_in_netns=cls.ns.name)
        try:
            cls.picd.start()
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc, held = None, []
        try:
            if cls.picd.proc:  # picd stops with unfinished requests still open, every one of them freed
                for _ in range(3):
                    held.append(socket.create_connection((cls.picd.host, cls.picd.port), timeout=5 * SLOW,
                                                         source_address=(USER, 0)))
                    held[-1].sendall(PARTIAL)
            rc = cls.picd.stop()
        finally:
            for s in held:
                s.close()
            cls.picd.cleanup()
            setns(cls.host_ns)
            os.close(cls.host_ns)
            cls.ns.delete()
        # picd must exit 0 on SIGTERM; under ASan a leak (say, of a tracked connection) makes it non-zero.
        if rc not in (0, None):
            raise AssertionError(f"picd exited {rc} on SIGTERM:\n{cls.picd.logs()}")

    def health_from(self, source, timeout=10):
        """GET /health from one source address; returns (status, seconds)."""
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=timeout * SLOW,
                                          source_address=(source, 0))
        t0 = time.monotonic()
        try:
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            return r.status, time.monotonic() - t0
        except OSError as e:
            return repr(e), time.monotonic() - t0
        finally:
            conn.close()

    def connect_from(self, source):
        s = socket.create_connection((self.picd.host, self.picd.port), timeout=5 * SLOW,
                                     source_address=(source, 0))
        return s

    def wait_closed_by_picd(self, s, feed, limit):
        """Feeds s one byte every 0.5 s until picd closes it; returns the seconds that took (or None)."""
        s.settimeout(0.5)
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            try:
                s.send(feed)
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                continue
            except OSError:  # reset: picd closed it and our next byte hit the closed socket
                return time.monotonic() - t0
        return None

    def test_1_other_address_answered_during_attack_and_all_after(self):
        attack = Attack(self.picd.host, self.picd.port, N_ATTACK)
        try:
            connected = attack.open_all(timeout=15 * SLOW)
            # A dozen seconds of attack: past the header deadline, so picd has been cutting and the attacker
            # reopening throughout; a user's request every round.
            slow = []
            for rnd in range(12):
                status, took = self.health_from(USER, timeout=3)
                if status != 200 or took > ANSWER_S:
                    slow.append((rnd, status, round(took, 2)))
                attack.trickle()
                time.sleep(1)
            self.assertEqual(slow, [], f"GET /health from {USER} not answered within {ANSWER_S} s during the attack")
            # picd kept accepting (and dropping what was over the address's share) instead of leaving the
            # attacker's surplus queued in the kernel, where it would sit in front of every new client.
            self.assertEqual(connected, N_ATTACK, "the attacker's connections did not all get through the handshake")
        finally:
            attack.close()
            closed_at = time.monotonic()
        # As soon as they close: everyone else at once, and the attacker's own address as soon as picd has read the
        # end of its old connections. Until then they still count against the address's share, so a connection
        # opened the very instant after the close can be reset (it was, with the machine loaded by other suites):
        # the bound for the address being back is the 1 s (scaled like every wait), not zero.
        status, took = self.health_from(USER)
        self.assertEqual((status, took < ANSWER_S), (200, True), f"{status} after {took:.2f} s")
        wait_for(lambda: self.health_from(ATTACKER)[0] == 200, timeout=1.0, interval=0.02,
                 what="the attacker's address answered after the attack")
        back = time.monotonic() - closed_at
        self.assertLess(back, ANSWER_S * 2, f"the attacker's address was answered only {back:.2f} s after the close")
        # Then many at a time: no slot of the address is still held.
        socks = [self.connect_from(ATTACKER) for _ in range(32)]
        try:
            t0 = time.monotonic()
            for s in socks:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: cell\r\n\r\n")
            for s in socks:
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"), "a request right after the attack failed")
            self.assertLess(time.monotonic() - t0, ANSWER_S * 2, "32 requests right after the attack were slow")
        finally:
            for s in socks:
                s.close()
        for source in (USER, ATTACKER):
            status, took = self.health_from(source)
            self.assertEqual(status, 200)
            self.assertLess(took, ANSWER_S)

    def test_2_trickled_headers_are_cut(self):
        # One byte every 0.5 s keeps an idle timeout from ever firing; the header deadline still ends it.
        s = self.connect_from(USER)
        try:
            s.sendall(PARTIAL)
            took = self.wait_closed_by_picd(s, b"x", HEADER_CUT_S + 5)
        finally:
            s.close()
        self.assertIsNotNone(took, "a request whose headers never finish was kept open")
        self.assertLess(took, HEADER_CUT_S)

    def test_3_trickled_body_is_cut(self):
        s = self.connect_from(USER)
        try:
            s.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: cell\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000\r\n\r\n{")
            took = self.wait_closed_by_picd(s, b" ", BODY_CUT_S + 5)
        finally:
            s.close()
        self.assertIsNotNone(took, "a request whose body never finishes was kept open")
        self.assertLess(took, BODY_CUT_S)

    def test_4_one_address_gets_a_bounded_share(self):
        # Connections that send nothing at all: the attacker cannot hold more than its share, so the user's
        # requests keep their slots; and picd drops the rest at once rather than leaving them queued.
        socks = []
        try:
            for _ in range(300):
                socks.append(self.connect_from(ATTACKER))
            # picd closes the surplus as it accepts it. Bounded well below the 5 s header deadline (not scaled
            # for slow builds), so what is counted here is the per-address limit, not the deadline.
            deadline = time.monotonic() + 3
            while True:
                dropped = sum(1 for s in socks if self._eof(s))
                if dropped >= 300 - 64 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertGreaterEqual(dropped, 300 - 64, "picd kept more than 64 connections of one address open")
            status, took = self.health_from(USER)
            self.assertEqual(status, 200)
            self.assertLess(took, ANSWER_S)
        finally:
            for s in socks:
                s.close()

    @staticmethod
    def _eof(s):
        s.setblocking(False)
        try:
            return s.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True


if __name__ == "__main__":
    main()
