"""Request bodies as a client sees them: picd decides on the headers (route, credentials, size, media type)
before it reads a body, so a refused request is answered without its body being sent; accepted bodies
arrive in any pieces up to 1 MiB; a body that is not declared JSON is refused with 415."""
import http.client
import json
import os
import re
import socket
import time
import unittest

from pic import SLOW, SOURCE, PicdTestCase, Response, main, run, unique

WAIT = 10  # seconds (scaled by SLOW): picd answers at once; without the fix it waits for a body never sent


def read_response(sock, timeout=WAIT):
    """Reads one HTTP response from a raw socket: (first line, Response). Bounded by timeout."""
    deadline = time.monotonic() + timeout * SLOW
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)  # socket.timeout fails the test: no answer in time
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
    return lines[0], Response(status, headers, body.decode(errors="replace"))


def closed_by_peer(sock, timeout=WAIT):
    """True when picd closes the connection (it will not read the body it refused)."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
    return False


class BodyTest(PicdTestCase):
    def headers_only(self, method, path, length, extra=""):
        """Sends only the request head announcing a body of `length` bytes; returns (first line, response)
        read before a single body byte is sent, and the still-open socket."""
        sock = socket.create_connection((self.picd.host, self.picd.port), timeout=WAIT * SLOW)
        sock.sendall((f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {length}\r\n{extra}\r\n").encode())
        first, r = read_response(sock)
        return first, r, sock

    def test_unauthenticated_body_is_refused_on_the_headers(self):
        for extra in ("", "Expect: 100-continue\r\n"):
            with self.subTest(expect=bool(extra)):
                first, r, sock = self.headers_only("POST", "/api/peers", 8 << 20, extra)
                try:
                    # the answer, not "100 Continue": the client is told before it sends the body
                    self.assertTrue(first.startswith("HTTP/1.1 401"), first)
                    self.assertError(r, 401)
                    self.assertTrue(closed_by_peer(sock), "picd kept the connection open to read the body")
                finally:
                    sock.close()

    def test_wrong_scope_and_unknown_route_are_refused_on_the_headers(self):
        read_token = self.picd.make_token("read")
        first, r, sock = self.headers_only("POST", "/api/peers", 8 << 20, f"Authorization: Bearer {read_token}\r\n")
        sock.close()
        self.assertError(r, 403)
        first, r, sock = self.headers_only("POST", "/api/nothing-here", 8 << 20)
        sock.close()
        self.assertError(r, 404)

    def test_a_refusal_without_a_body_keeps_the_connection(self):
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=WAIT * SLOW)
        try:
            for method, path, status in (("GET", "/api/peers", 401), ("GET", "/nothing", 404),
                                         ("DELETE", "/health", 405), ("GET", "/health", 200)):
                conn.request(method, path)
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, status)
                self.assertNotEqual((r.getheader("Connection") or "").lower(), "close", (method, path))
                self.assertIsNotNone(conn.sock, (method, path))
        finally:
            conn.close()

    def test_declared_oversize_body_is_413_before_it_is_sent(self):
        first, r, sock = self.headers_only("POST", "/api/peers", (1 << 20) + 1,
                                           f"Authorization: Bearer {self.picd.token}\r\nExpect: 100-continue\r\n")
        try:
            self.assertTrue(first.startswith("HTTP/1.1 413"), first)
            self.assertError(r, 413)
            self.assertIn("1 MiB", r.json["error"]["message"])
        finally:
            sock.close()

    def test_an_authorized_client_already_sending_gets_its_413_not_a_reset(self):
        # No Expect: the client sends 4 MiB at once. Answering before the body would close a connection with
        # bytes still arriving (a reset: http.client raises instead of showing the 413).
        r = self.picd.request("PUT", "/api/config", raw=b'{"cell_name":"' + b"a" * (4 << 20) + b'"}',
                              headers={"Content-Type": "application/json"})
        self.assertError(r, 413)
        r = self.picd.request("PUT", "/api/config", raw=b'{"cell_name":"' + b"a" * (4 << 20) + b'"}',
                              headers={"Content-Type": "text/plain"})
        self.assertError(r, 413)
        r = self.picd.request("PUT", "/api/config", raw=b'{"cell_name":"' + b"a" * (900 << 10) + b'"}',
                              headers={"Content-Type": "text/plain"})
        self.assertError(r, 415)

    def token_body(self, name, pad):
        return b'{"name": "' + name.encode() + b'", "scope": "read"' + b" " * pad + b"}"

    def post_chunked(self, path, pieces):
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=60 * SLOW)
        try:
            conn.request("POST", path, body=iter(pieces), encode_chunked=True,
                         headers={"Authorization": f"Bearer {self.picd.token}", "Content-Type": "application/json"})
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read().decode(errors="replace"))
        finally:
            conn.close()

    def test_bodies_in_many_pieces_up_to_the_limit_are_accepted(self):
        # A chunked body of ~1 MiB in 1 KiB pieces (no declared length: the buffer grows as it arrives) ...
        name = unique("chunky")
        body = self.token_body(name, (1 << 20) - 200)
        r = self.post_chunked("/api/auth/tokens", [body[i:i + 1024] for i in range(0, len(body), 1024)])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["name"], name)
        # ... and a declared body of exactly 1 MiB.
        name = unique("exact")
        body = self.token_body(name, 0)
        body = body[:-1] + b" " * ((1 << 20) - len(body)) + b"}"
        self.assertEqual(len(body), 1 << 20)
        r = self.picd.request("POST", "/api/auth/tokens", raw=body, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)

    def test_chunked_body_over_the_limit_is_413(self):
        name = unique("huge")
        body = self.token_body(name, (1 << 20) + 10)
        r = self.post_chunked("/api/auth/tokens", [body[i:i + 65536] for i in range(0, len(body), 65536)])
        self.assertError(r, 413)
        names = [t["name"] for t in self.picd.get("/api/auth/tokens").json["tokens"]]
        self.assertNotIn(name, names)

    def curl_post(self, path, data, content_type=None):
        argv = ["curl", "-s", "-i", "--max-time", str(20 * SLOW), "-H", f"Authorization: Bearer {self.picd.token}"]
        if content_type is not None:
            argv += ["-H", f"Content-Type: {content_type}"]
        argv += ["--data-binary", data, f"http://{self.picd.host}:{self.picd.port}{path}"]
        out = run(*argv).stdout
        head, _, text = out.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return Response(int(lines[0].split()[1]), hdrs, text)

    def test_a_body_not_declared_json_is_415_and_changes_nothing(self):
        # curl's default for --data (application/x-www-form-urlencoded), other types, and none at all
        for ctype in (None, "text/plain", "application/jsonp", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", ""):
            with self.subTest(content_type=ctype):
                name = unique("ct")
                if ctype == "":  # no Content-Type header at all
                    r = self.picd.request("POST", "/api/auth/tokens",
                                          raw=json.dumps({"name": name, "scope": "read"}).encode())
                else:
                    r = self.curl_post("/api/auth/tokens", json.dumps({"name": name, "scope": "read"}), ctype)
                self.assertError(r, 415)
                self.assertEqual(r.json["error"]["code"], "unsupported_media_type")
                self.assertIn("application/json", r.json["error"]["message"])
                names = [t["name"] for t in self.picd.get("/api/auth/tokens").json["tokens"]]
                self.assertNotIn(name, names)

    def test_json_with_parameters_or_any_case_is_accepted(self):
        for ctype in ("application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
            with self.subTest(content_type=ctype):
                r = self.curl_post("/api/auth/tokens", json.dumps({"name": unique("ok"), "scope": "read"}), ctype)
                self.assertEqual(r.status, 201, r)

    def test_login_needs_json_too_and_no_body_needs_no_type(self):
        r = self.picd.request("POST", "/api/auth/login", auth=False, headers={"Content-Type": "text/plain"},
                              raw=json.dumps({"username": "admin", "password": self.picd.admin_password()}).encode())
        self.assertError(r, 415)
        # a POST without a body (apply) is not affected
        self.assertEqual(self.picd.post("/api/config/apply").status, 200)


class OpenapiTest(unittest.TestCase):
    def test_every_operation_with_a_body_documents_415(self):
        ops, key = {}, None
        with open(os.path.join(SOURCE, "api", "openapi.yaml")) as f:
            for line in f:
                m = re.match(r"^  (/\S*):\s*$", line)
                if m:
                    path = m.group(1)
                m = re.match(r"^    (get|put|post|delete|patch):\s*$", line)
                if m:
                    key = (m.group(1).upper(), path)
                    ops[key] = set()
                elif key and re.match(r"^      requestBody:", line):
                    ops[key].add("body")
                elif key and re.match(r"""^        ['"]415['"]:""", line):
                    ops[key].add("415")
        with_body = [k for k, v in ops.items() if "body" in v]
        self.assertGreaterEqual(len(with_body), 9)
        self.assertEqual([k for k in with_body if "415" not in ops[k]], [])


if __name__ == "__main__":
    main()
