#!/usr/bin/env python3
# bench/api slowloris client: holds N connections from one source address to a server, each with a request whose
# headers never end, reopening every one the server drops, until SIGTERM; then prints what it saw as one JSON line.
#
# Usage: slowloris.py SOURCE_ADDR HOST PORT N   (prints "ready <connected>" once all N had their handshake)
import errno
import json
import resource
import selectors
import signal
import socket
import sys
import time

PARTIAL = b"GET /health HTTP/1.1\r\nHost: cell\r\nX-Slow: "
ROUND_S = 1.0  # how often dropped connections are reopened


def main(source, host, port, n):
    port, n = int(port), int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 100, hard) if hard != resource.RLIM_INFINITY else n + 100,
                                                    hard))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(err, f"connect from {source}")
        return s

    def send(s, data):
        try:
            s.send(data)
        except OSError:
            pass

    def alive(s):
        try:
            return s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    socks = [open_one() for _ in range(n)]
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    connected, deadline = 0, time.monotonic() + 30
    while sel.get_map() and time.monotonic() < deadline and not stop:
        for key, _ in sel.select(0.5):
            sel.unregister(key.fileobj)
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
    sel.close()
    for s in socks:
        send(s, PARTIAL)
    print(f"ready {connected}", flush=True)

    rounds, reopened, held = 0, 0, []
    while not stop:
        time.sleep(ROUND_S)
        rounds += 1
        live = 0
        for i, s in enumerate(socks):
            if alive(s):
                live += 1
                continue
            s.close()
            socks[i] = open_one()
            send(socks[i], PARTIAL)  # lost if the handshake is not done yet: the next round reopens it
            reopened += 1
        held.append(live)
    for s in socks:
        s.close()
    print(json.dumps({"connections": n, "connected_at_start": connected, "rounds": rounds,
                      "reopened_per_round": round(reopened / max(rounds, 1), 1),
                      "held_by_server_min": min(held, default=0), "held_by_server_max": max(held, default=0)}),
          flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: slowloris.py SOURCE_ADDR HOST PORT N", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
