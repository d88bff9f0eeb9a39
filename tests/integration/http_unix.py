"""A tiny HTTP application on a unix socket (or loopback TCP) for the proxy tests, run as its own process:

  python3 http_unix.py backend SOCKET   echoes what reached it (X-Pic-User, X-Forwarded-For, method, path) as JSON
  python3 http_unix.py backend-tcp PORT the same on 127.0.0.1:PORT (an upstream like Radicale's)
"""
import http.server
import json
import os
import socketserver
import sys


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Backend(Quiet):
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        out = {"user": self.headers.get("X-Pic-User"), "xff": self.headers.get("X-Forwarded-For"),
               "method": self.command, "path": self.path, "body_len": len(body)}
        self.reply(200, json.dumps(out).encode(), [("Content-Type", "application/json")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PROPFIND = handle_one


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "backend-tcp":
        srv = TcpServer(("127.0.0.1", int(path)), Backend)
    elif kind == "backend":
        if os.path.exists(path):
            os.unlink(path)
        srv = Server(path, Backend)
    else:
        sys.exit(f"usage: {sys.argv[0]} backend SOCKET | backend-tcp PORT")
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
