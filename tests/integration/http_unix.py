"""Tiny HTTP servers on unix sockets for the proxy tests, run as their own processes:

  python3 http_unix.py backend SOCKET        echoes what reached it (X-Pic-User, X-Forwarded-For, method, path) as JSON
  python3 http_unix.py auth SOCKET LOGFILE   a stand-in for picd's authorization socket (STATE/run/auth.sock), following
                                             the contract of the accounts work: GET /auth with X-Pic-Service and the
                                             client's Authorization; 2xx + X-Pic-User admits, anything else is returned
                                             to the client as is. alice:app-secret is valid for "calendar"; other
                                             services are 403. Each request's headers are appended to LOGFILE.
"""
import base64
import http.server
import json
import os
import socketserver
import sys


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


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


GOOD = "Basic " + base64.b64encode(b"alice:app-secret").decode()


class Auth(Quiet):
    log_path = None

    def do_GET(self):
        with open(self.log_path, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items())}) + "\n")
        if self.headers.get("X-Pic-Service") != "calendar":
            return self.reply(403, b"not granted\n", [("Content-Type", "text/plain")])
        if self.headers.get("Authorization") != GOOD:
            return self.reply(401, b"app password needed\n",
                              [("WWW-Authenticate", 'Basic realm="pic"'), ("Content-Type", "text/plain")])
        self.reply(200, b"", [("X-Pic-User", "alice")])


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    handler = Backend
    if kind == "auth":
        Auth.log_path = sys.argv[3]
        handler = Auth
    srv = Server(path, handler)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
