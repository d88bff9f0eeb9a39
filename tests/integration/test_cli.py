"""The pic CLI against a real picd over its root-only unix socket: every command a user runs, the exit codes
--help promises (0 ok, 1 refused, 2 usage, 3 unreachable), --json output, and who may use the socket."""
import json
import os
import pty
import re
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import PIC, SLOW, Netns, Picd, PicdTestCase, main, run, unique, veth_pair  # noqa: E402


def as_nobody(argv):
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


class CliTest(PicdTestCase):
    def sock(self):
        return os.path.join(self.picd.state_dir, "run", "picd.sock")

    def config(self):
        r = self.picd.get("/api/config")
        self.assertEqual(r.status, 200, r)
        return r.json

    def assertExit(self, res, code, stderr_has=None):
        self.assertEqual(res.returncode, code, f"stdout={res.stdout!r} stderr={res.stderr!r}")
        if stderr_has is not None:
            self.assertIn(stderr_has, res.stderr)

    # -- status ----------------------------------------------------------------------------------
    def test_status(self):
        name = self.config()["cell_name"]
        res = self.picd.cli("status")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"(?m)^status:\s+(ok|degraded)")
        self.assertRegex(res.stdout, rf"(?m)^cell:\s+{name}$")
        self.assertRegex(res.stdout, r"(?m)^version:\s+\d+\.\d+")
        health = self.picd.get("/health", auth=False).json
        for svc, state in health["services"].items():
            self.assertRegex(res.stdout, rf"(?m)^{svc}\s+{state}$")

        # PIC_SOCKET replaces the built-in default path.
        env = dict(os.environ, PIC_SOCKET=self.sock())
        res = run(PIC, "status", check=False, env=env, timeout=30 * SLOW)
        self.assertExit(res, 0)
        self.assertIn(name, res.stdout)

    # -- config ----------------------------------------------------------------------------------
    def test_config_set_get_round_trip(self):
        old = self.config()["cell_name"]
        new = unique("cell")
        try:
            res = self.picd.cli("config", "set", "cell_name", new)
            self.assertExit(res, 0)
            self.assertIn("Applied: cell_name", res.stdout)
            res = self.picd.cli("config", "get", "cell_name")
            self.assertExit(res, 0)
            self.assertEqual(res.stdout, new + "\n")
            # Everyone else sees it too: over HTTP, with an admin and with a read-only token.
            self.assertEqual(self.config()["cell_name"], new)
            read = self.picd.make_token("read")
            r = self.picd.get("/api/config", token=read)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["cell_name"], new)
            # Setting the same value again changes nothing and says so.
            res = self.picd.cli("config", "set", "cell_name", new)
            self.assertExit(res, 0)
            self.assertIn("No change", res.stdout)
        finally:
            self.picd.put("/api/config", {"cell_name": old})

    def test_config_get_all_and_sections(self):
        cfg = self.config()
        res = self.picd.cli("config", "get")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"(?m)^KEY\s+VALUE$")
        self.assertRegex(res.stdout, rf"(?m)^wireguard\.address\s+{cfg['wireguard']['address']}$")
        self.assertRegex(res.stdout, rf"(?m)^wireguard\.port\s+{cfg['wireguard']['port']}$")
        self.assertRegex(res.stdout, rf"(?m)^service_ips\.dns\s+{cfg['service_ips']['dns']}$")
        res = self.picd.cli("config", "get", "wireguard")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, rf"(?m)^wireguard\.port\s+{cfg['wireguard']['port']}$")
        self.assertNotIn("cell_name", res.stdout)
        res = self.picd.cli("config", "get", "wireguard.port")
        self.assertEqual(res.stdout, f"{cfg['wireguard']['port']}\n")

    def test_needs_restart_key_is_pending(self):
        port = self.config()["wireguard"]["port"]
        try:
            res = self.picd.cli("config", "set", "wireguard.port", str(port + 1))
            self.assertExit(res, 0)
            self.assertIn("pending restart: wireguard.port", res.stdout)
            self.assertIn("pic config apply", res.stdout)
            # Stored (typed as an integer, not a string), not yet running.
            self.assertEqual(self.config()["wireguard"]["port"], port + 1)
            r = self.picd.get("/api/config/pending")
            self.assertTrue(r.json["restart_required"], r)
            res = self.picd.cli("config", "pending")
            self.assertExit(res, 0)
            self.assertRegex(res.stdout, rf"(?m)^wireguard\.port\s+{port + 1}\s+{port}\s+wireguard, mesh$")
            res = self.picd.cli("config", "get")
            self.assertIn("wait for a restart", res.stdout)
        finally:
            self.picd.put("/api/config", {"wireguard": {"port": port}})
        res = self.picd.cli("config", "pending")
        self.assertExit(res, 0)
        self.assertIn("No changes wait for a restart", res.stdout)
        res = self.picd.cli("config", "apply")
        self.assertExit(res, 0)
        self.assertIn("Nothing to apply", res.stdout)

    def test_bad_value_is_refused_and_changes_nothing(self):
        before = self.config()
        for key, value in (("cell_name", "Not_A_Name"), ("wireguard.port", "abc"), ("wireguard.port", "70000"),
                           ("ip_range", "8.8.8.0/24"), ("wireguard.address", "10.0.0.0/24")):
            with self.subTest(key=key, value=value):
                res = self.picd.cli("config", "set", key, value)
                self.assertExit(res, 1, f'field "{key}"')
                self.assertIn("HTTP 400", res.stderr)
                self.assertEqual(res.stdout, "")
        self.assertEqual(self.config(), before)
        self.assertFalse(self.picd.get("/api/config/pending").json["restart_required"])

    def test_unknown_key_is_a_usage_error(self):
        before = self.config()
        res = self.picd.cli("config", "get", "wireguard.nope")
        self.assertExit(res, 2, 'unknown setting "wireguard.nope"')
        res = self.picd.cli("config", "set", "no_such_key", "1")
        self.assertExit(res, 2, 'unknown setting "no_such_key"')
        res = self.picd.cli("config", "set", "wireguard", "x")  # a section, not a setting
        self.assertExit(res, 2, "unknown setting")
        self.assertEqual(self.config(), before)

    def test_usage_errors(self):
        for argv in ((), ("frobnicate",), ("config",), ("config", "frob"), ("config", "set", "cell_name"),
                     ("token", "revoke", "abc"), ("token", "revoke", "0"), ("token", "list", "--scope", "admin"),
                     ("token", "create", "x", "--expires-days", "soon"), ("--no-such-option", "status"),
                     ("--timeout", "0", "status")):
            with self.subTest(argv=argv):
                res = self.picd.cli(*argv)
                self.assertExit(res, 2)
                self.assertTrue(res.stderr.startswith("pic: ") or "Usage:" in res.stderr, res.stderr)
        res = self.picd.cli("--help")
        self.assertExit(res, 0)
        for word in ("config set KEY VALUE", "token create NAME", "backup restore ID", "Exit status", "--json"):
            self.assertIn(word, res.stdout)
        res = self.picd.cli("--version")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"^pic \d+\.\d+\.\d+\n$")

    def test_help_of_one_command_group(self):
        for argv in (("peer", "--help"), ("--help", "peer"), ("peer", "add", "--help"), ("help", "peer"),
                     ("peer", "-h")):
            with self.subTest(argv=argv):
                res = self.picd.cli(*argv)
                self.assertExit(res, 0)
                self.assertTrue(res.stdout.startswith("Usage: pic [OPTIONS] peer COMMAND [ARGS]\n"), res.stdout)
                for word in ("peer add NAME", "--access LIST", "peer qr NAME [--png FILE]", "peer rm NAME"):
                    self.assertIn(word, res.stdout)
                self.assertNotIn("token create", res.stdout)  # not the global help
        res = self.picd.cli("config", "set", "--help")
        self.assertExit(res, 0)
        self.assertIn("config set KEY VALUE", res.stdout)
        self.assertNotIn("peer add", res.stdout)
        res = self.picd.cli("status", "--help")
        self.assertExit(res, 0)
        self.assertTrue(res.stdout.startswith("Usage: pic [OPTIONS] status\n"), res.stdout)
        res = self.picd.cli("help", "nosuchgroup")
        self.assertExit(res, 2)
        self.assertIn("no command group", res.stderr)

    def test_state_dir_finds_the_socket(self):
        """--state-dir DIR and PIC_STATE_DIR=DIR reach the picd started with --state-dir DIR; --socket and
        PIC_SOCKET win over them."""
        env = {k: v for k, v in os.environ.items() if k not in ("PIC_SOCKET", "PIC_STATE_DIR")}
        name = self.config()["cell_name"]
        res = run(PIC, "--state-dir", self.picd.state_dir, "status", check=False, env=env, timeout=30 * SLOW)
        self.assertExit(res, 0)
        self.assertIn(name, res.stdout)
        res = run(PIC, "status", check=False, env=dict(env, PIC_STATE_DIR=self.picd.state_dir), timeout=30 * SLOW)
        self.assertExit(res, 0)
        self.assertIn(name, res.stdout)
        with tempfile.TemporaryDirectory() as wrong:
            res = run(PIC, "--socket", self.sock(), "status", check=False, env=dict(env, PIC_STATE_DIR=wrong),
                      timeout=30 * SLOW)
            self.assertExit(res, 0)
            res = run(PIC, "status", check=False, env=dict(env, PIC_STATE_DIR=wrong, PIC_SOCKET=self.sock()),
                      timeout=30 * SLOW)
            self.assertExit(res, 0)
            res = run(PIC, "--state-dir", wrong, "status", check=False, env=dict(env, PIC_SOCKET=self.sock()),
                      timeout=30 * SLOW)
            self.assertExit(res, 3)
            self.assertIn(f"looked for picd's socket at {wrong}/run/picd.sock (from --state-dir)", res.stderr)
        res = self.picd.cli("--state-dir", self.picd.state_dir, "status")
        self.assertExit(res, 2)  # with --socket too: which one is meant?
        self.assertIn("not both", res.stderr)

    # -- tokens ----------------------------------------------------------------------------------
    def test_token_create_list_revoke(self):
        name = unique("clitok")
        res = self.picd.cli("token", "create", name, "--scope", "read", "--expires-days", "2")
        self.assertExit(res, 0)
        token = res.stdout.strip()
        self.assertRegex(res.stdout, r"^pic_[A-Za-z0-9_-]{43}\n$")  # the token alone on stdout
        self.assertIn("not shown again", res.stderr)
        # It works over HTTP with exactly the scope asked for.
        self.assertEqual(self.picd.get("/api/config", token=token).status, 200)
        self.assertEqual(self.picd.put("/api/config", {"cell_name": "x"}, token=token).status, 403)

        res = self.picd.cli("token", "list")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"(?m)^ID\s+NAME\s+SCOPE\s+PREFIX\s+CREATED\s+EXPIRES\s+LAST USED$")
        self.assertRegex(res.stdout, rf"(?m)^\d+\s+{name}\s+read\s+{token[:10]}\.\.\.")
        self.assertNotIn(token, res.stdout)  # shown once, never again
        res = self.picd.cli("--json", "token", "list")
        self.assertExit(res, 0)
        [entry] = [t for t in json.loads(res.stdout)["tokens"] if t["name"] == name]
        self.assertNotIn(token, res.stdout)

        res = self.picd.cli("token", "revoke", str(entry["id"]))
        self.assertExit(res, 0)
        self.assertIn(f"Revoked token {entry['id']}", res.stdout)
        r = self.picd.get("/api/config", token=token)
        self.assertError(r, 401)
        res = self.picd.cli("token", "list")
        self.assertNotRegex(res.stdout, rf"(?m)^\d+\s+{name}\s")
        # Revoking it again: picd refuses, the CLI says why and exits 1.
        res = self.picd.cli("token", "revoke", str(entry["id"]))
        self.assertExit(res, 1, "no such token")

    def test_token_create_bad_input_is_refused(self):
        res = self.picd.cli("token", "create", "Bad Name")
        self.assertExit(res, 1, 'field "name"')
        res = self.picd.cli("token", "create", unique("t"), "--scope", "root")
        self.assertExit(res, 1, 'field "scope"')
        res = self.picd.cli("token", "create", unique("t"), "--expires-days", "99999")
        self.assertExit(res, 1, 'field "expires_in_days"')
        self.assertEqual(res.stdout, "")

    # -- --json ----------------------------------------------------------------------------------
    def test_json_output_parses(self):
        res = self.picd.cli("--json", "status")
        self.assertExit(res, 0)
        self.assertIn(json.loads(res.stdout)["status"], ("ok", "degraded"))
        res = self.picd.cli("config", "get", "--json")  # options may follow the command too
        self.assertExit(res, 0)
        self.assertEqual(json.loads(res.stdout), self.config())
        res = self.picd.cli("--json", "config", "get", "wireguard")
        self.assertEqual(json.loads(res.stdout), self.config()["wireguard"])
        res = self.picd.cli("--json", "config", "get", "cell_name")
        self.assertEqual(json.loads(res.stdout), self.config()["cell_name"])
        res = self.picd.cli("--json", "config", "pending")
        self.assertIn("restart_required", json.loads(res.stdout))
        res = self.picd.cli("--json", "config", "set", "domain", self.config()["domain"])
        self.assertExit(res, 0)
        self.assertIn("applied", json.loads(res.stdout))
        # An API error with --json: picd's error envelope on stdout, the message on stderr, exit 1.
        res = self.picd.cli("--json", "config", "set", "cell_name", "Bad!")
        self.assertExit(res, 1, 'field "cell_name"')
        self.assertEqual(json.loads(res.stdout)["error"]["field"], "cell_name")

    # -- backups ---------------------------------------------------------------------------------
    def test_backup_create_list_restore(self):
        old = self.config()["cell_name"]
        saved, changed = unique("saved"), unique("changed")
        try:
            self.assertExit(self.picd.cli("config", "set", "cell_name", saved), 0)
            res = self.picd.cli("--json", "backup", "create")
            self.assertExit(res, 0)
            backup_id = str(json.loads(res.stdout)["id"])
            res = self.picd.cli("backup", "list")
            self.assertExit(res, 0)
            self.assertRegex(res.stdout, r"(?m)^ID\s+CREATED\s+SIZE\s+CELL$")
            self.assertRegex(res.stdout, rf"(?m)^{backup_id}\s+.*\s{saved}$")
            listed = json.loads(self.picd.cli("--json", "backup", "list").stdout)["backups"]
            self.assertIn(backup_id, [str(b["id"]) for b in listed])
            res = self.picd.cli("backup", "create")
            self.assertExit(res, 0)
            self.assertIn("Created backup", res.stdout)

            self.assertExit(self.picd.cli("config", "set", "cell_name", changed), 0)
            res = self.picd.cli("backup", "restore", backup_id)
            self.assertExit(res, 0)
            self.assertIn("Every web session has ended: sign in again.", res.stdout)
            self.assertEqual(self.config()["cell_name"], saved)
            res = self.picd.cli("backup", "restore", "no-such-backup")
            self.assertExit(res, 1)
            # Whatever is typed stays one path segment: no way to reach another route.
            res = self.picd.cli("backup", "restore", "../../auth/tokens")
            self.assertEqual(res.returncode, 1, res)
            self.assertEqual(self.config()["cell_name"], saved)
        finally:
            self.picd.put("/api/config", {"cell_name": old})

    # -- who may use the socket ------------------------------------------------------------------
    def test_non_root_cannot_use_it(self):
        # A missing tool is a failure, not a skip (scripts/install-deps.sh installs it).
        self.assertTrue(shutil.which("setpriv"), "setpriv (util-linux) is not installed")
        with tempfile.TemporaryDirectory(prefix="pic-bin-") as d:
            os.chmod(d, 0o755)
            pic = os.path.join(d, "pic")
            shutil.copy2(PIC, pic)  # a copy nobody can execute, wherever the build dir lives
            os.chmod(pic, 0o755)
            argv = [pic, "--socket", self.sock()]

            # The socket is 0600 inside the 0700 state dir: nobody cannot even connect.
            self.assertEqual(stat.S_IMODE(os.stat(self.sock()).st_mode), 0o600)
            res = run(*as_nobody([*argv, "config", "get"]), check=False, timeout=30 * SLOW)
            self.assertExit(res, 3, "permission denied")
            self.assertIn("are you root?", res.stderr)

            # Even with the file modes opened up, picd checks the peer's uid and refuses nobody.
            state_mode = stat.S_IMODE(os.stat(self.picd.state_dir).st_mode)
            before = self.config()
            try:
                os.chmod(self.picd.state_dir, 0o711)
                os.chmod(self.sock(), 0o666)
                for args in (("config", "get"), ("token", "list"), ("config", "set", "cell_name", "owned"),
                             ("token", "create", "evil", "--scope", "admin")):
                    with self.subTest(args=args):
                        res = run(*as_nobody([*argv, *args]), check=False, timeout=30 * SLOW)
                        self.assertExit(res, 1, "HTTP 401")
                        self.assertIn("only for root", res.stderr)
                        self.assertEqual(res.stdout, "")
            finally:
                os.chmod(self.sock(), 0o600)
                os.chmod(self.picd.state_dir, state_mode)
            self.assertEqual(self.config(), before)
            tokens = self.picd.get("/api/auth/tokens").json["tokens"]
            self.assertNotIn("evil", [t["name"] for t in tokens])


class CliPeerTest(PicdTestCase):
    """pic peer add|list|show|set|config|qr|rm against a real picd running wireguard-go: what the CLI shows is
    what picd stores, the config and the QR code carry exactly picd's text, and the PNG is owner-only."""

    HALF_BLOCKS = set("\u2588\u2580\u2584 ")  # █ ▀ ▄ and space

    def setUp(self):
        # The config needs an address peers can reach; the test cell's namespace has no global one.
        r = self.picd.put("/api/config", {"wireguard": {"endpoint": "vpn.example.org"}})
        self.assertEqual(r.status, 200, r)

    def tearDown(self):
        for p in self.picd.get("/api/peers").json["peers"]:
            self.picd.delete(f"/api/peers/{p['name']}")

    def pic(self, *args):
        """The CLI with its output decoded as UTF-8 whatever the test's locale (the QR is drawn in UTF-8)."""
        return run(PIC, "--socket", os.path.join(self.picd.state_dir, "run", "picd.sock"), *args, check=False,
                   timeout=30 * SLOW, encoding="utf-8")

    def assertExit(self, res, code, stderr_has=None):
        self.assertEqual(res.returncode, code, f"stdout={res.stdout!r} stderr={res.stderr!r}")
        if stderr_has is not None:
            self.assertIn(stderr_has, res.stderr)

    def peers(self):
        r = self.picd.get("/api/peers")
        self.assertEqual(r.status, 200, r)
        return {p["name"]: p for p in r.json["peers"]}

    def add(self, name, *opts):
        res = self.pic("peer", "add", name, *opts)
        self.assertExit(res, 0)
        return res

    def test_add_shows_in_list_and_over_http(self):
        res = self.add("phone", "--access", "calendar,files", "--description", "Ann phone")
        self.assertIn("Created peer phone.", res.stdout)
        self.assertRegex(res.stdout, r"(?m)^access:\s+calendar,files$")
        self.assertIn("pic peer qr phone", res.stdout)  # how to get the config onto the device
        peer = self.peers()["phone"]
        self.assertEqual(sorted(peer["service_access"]), ["calendar", "files"])
        self.assertTrue(peer["enabled"])
        self.assertFalse(peer["route_all"])
        self.assertEqual(peer["description"], "Ann phone")
        self.assertTrue(peer["keys_generated_by_cell"])

        self.add("laptop", "--disabled", "--route-all")
        peer = self.peers()["laptop"]
        self.assertEqual(peer["service_access"], [])
        self.assertFalse(peer["enabled"])
        self.assertTrue(peer["route_all"])

        res = self.pic("peer", "list")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"(?m)^NAME\s+IP\s+ACCESS\s+ENABLED\s+HANDSHAKE$")
        ip = re.escape(self.peers()["phone"]["ip"])
        self.assertRegex(res.stdout, rf"(?m)^phone\s+{ip}\s+calendar,files\s+yes\s+never$")
        self.assertRegex(res.stdout, r"(?m)^laptop\s+\S+\s+-\s+no\s+\S+$")
        res = self.pic("--json", "peer", "list")
        self.assertExit(res, 0)
        self.assertEqual({p["name"]: p for p in json.loads(res.stdout)["peers"]}, self.peers())

        res = self.pic("peer", "show", "phone")
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, rf"(?m)^ip:\s+{ip}$")
        self.assertRegex(res.stdout, rf"(?m)^public key:\s+{re.escape(self.peers()['phone']['public_key'])}$")
        self.assertRegex(res.stdout, r"(?m)^handshake:\s+never$")  # live from the running wireguard-go
        self.assertNotIn("PrivateKey", res.stdout)
        res = self.pic("--json", "peer", "show", "phone")
        self.assertEqual(json.loads(res.stdout), self.peers()["phone"])

        # A peer that brings its own key: the cell never has a private key to hand out.
        key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        res = self.add("tablet", "--public-key", key, "--ip", "10.0.0.77")
        self.assertIn("keeps its own private key", res.stdout)
        peer = self.peers()["tablet"]
        self.assertEqual((peer["public_key"], peer["ip"], peer["keys_generated_by_cell"]), (key, "10.0.0.77", False))

    def test_bad_input_is_refused_and_creates_nothing(self):
        self.add("phone", "--access", "calendar")
        before = self.peers()
        for args, field in ((("Bad Name",), "name"), (("bad\n[Peer]",), "name"),
                            (("newpeer", "--access", "calendar,bogus"), "service_access"),
                            (("newpeer", "--access", "calendar,,files"), "service_access"),
                            (("newpeer", "--ip", "10.0.0.999"), "ip"), (("newpeer", "--ip", "192.168.1.5"), "ip"),
                            (("newpeer", "--public-key", "not-a-key"), "public_key"), (("phone",), "name")):
            with self.subTest(args=args):
                res = self.pic("peer", "add", *args)
                self.assertExit(res, 1, f'field "{field}"')
                self.assertIn("HTTP 4", res.stderr)
                self.assertEqual(res.stdout, "")
        res = self.pic("peer", "set", "phone", "--access", "calendar,mail,bogus")
        self.assertExit(res, 1, 'field "service_access"')
        self.assertEqual(self.peers(), before)

        for args in (("peer", "set", "phone"), ("peer", "set", "phone", "--enable", "--disable"),
                     ("peer", "add", "x", "--route-all", "--no-route-all"), ("peer", "show", "phone", "--png", "f"),
                     ("peer", "list", "--access", "files"), ("peer", "qr"), ("peer", "show", "../auth/tokens"),
                     ("peer", "rm", "Phone"), ("peer", "frob")):
            with self.subTest(args=args):
                self.assertExit(self.pic(*args), 2)
        self.assertEqual(self.peers(), before)

    def test_config_is_exactly_picd_text(self):
        self.add("phone", "--access", "files")
        r = self.picd.get("/api/peers/phone/config")
        self.assertEqual(r.status, 200, r)
        self.assertIn("PrivateKey = ", r.body)
        res = self.pic("peer", "config", "phone")
        self.assertExit(res, 0)
        self.assertEqual(res.stdout, r.body)
        res = self.pic("peer", "config", "nobody")
        self.assertExit(res, 1, "HTTP 404")
        self.assertEqual(res.stdout, "")

    def test_lan_endpoint_is_warned_about(self):
        """wireguard.endpoint unset: the config's Endpoint is a LAN address of the cell, and add, config and qr
        warn on stderr (the config itself carries a comment); once it is set, no warning."""
        lan = Netns(unique("piclan"))
        self.addCleanup(lan.delete)
        veth_pair(self.picd.netns, "10.97.0.1/24", lan.name, "10.97.0.2/24")
        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"endpoint": ""}}).status, 200)
        res = self.add("phone")
        self.assertIn("pic: warning: wireguard.endpoint is not set", res.stderr)
        res = self.pic("peer", "config", "phone")
        self.assertExit(res, 0, "pic: warning: wireguard.endpoint is not set")
        self.assertIn("Endpoint = 10.97.0.1:51820\n", res.stdout)
        self.assertIn("# Endpoint is a LAN address of the cell (wireguard.endpoint is not set)", res.stdout)
        self.assertExit(self.pic("peer", "qr", "phone"), 0, "pic: warning: wireguard.endpoint is not set")
        res = self.pic("--json", "peer", "add", "tablet")
        self.assertExit(res, 0, "pic: warning: wireguard.endpoint is not set")
        self.assertEqual(len(json.loads(res.stdout)["warnings"]), 1)

        self.assertEqual(self.picd.put("/api/config", {"wireguard": {"endpoint": "vpn.example.org"}}).status, 200)
        res = self.add("laptop")
        self.assertNotIn("warning", res.stderr)
        res = self.pic("peer", "config", "laptop")
        self.assertExit(res, 0)
        self.assertNotIn("warning", res.stderr)
        # The only note left: where the device gets the cell's CA certificate.
        self.assertEqual(res.stderr.splitlines()[0].split(": ")[0],
                         "The cell's CA certificate (install it for HTTPS to the cell's services)")
        self.assertNotIn("#", res.stdout)

    def test_qr_in_terminal(self):
        self.add("phone")
        config = self.picd.get("/api/peers/phone/config").body
        res = self.pic("peer", "qr", "phone")
        self.assertExit(res, 0)
        lines = res.stdout.splitlines()
        self.assertGreater(len(lines), 20)
        self.assertEqual({len(line) for line in lines}, {len(lines[0])}, res.stdout)  # a rectangle
        self.assertGreater(len(lines[0]), 20)
        self.assertLessEqual(set(res.stdout), self.HALF_BLOCKS | {"\n"})  # no escapes when piped
        self.assertIn("\u2580", res.stdout)
        self.assertNotIn(config.split("\n")[1], res.stdout)

        # On a terminal: the same drawing with colours that force white on black.
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([PIC, "--socket", os.path.join(self.picd.state_dir, "run", "picd.sock"),
                                     "peer", "qr", "phone"], stdout=slave, stderr=subprocess.PIPE)
            os.close(slave)
            slave = -1
            out = b""
            deadline = time.monotonic() + 30 * SLOW
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the child closed the terminal
                        break
                    if not chunk:
                        break
                    out += chunk
                elif proc.poll() is not None:
                    break
            self.assertEqual(proc.wait(10 * SLOW), 0, proc.stderr.read())
            proc.stderr.close()
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        text = out.decode("utf-8").replace("\r\n", "\n")
        self.assertIn("\x1b[40;97m", text)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        self.assertEqual(plain, res.stdout)

    def test_qr_png_decodes_to_the_config(self):
        self.assertTrue(shutil.which("zbarimg"), "zbarimg (zbar-tools) is not installed")
        self.add("phone", "--access", "calendar")
        config = self.picd.get("/api/peers/phone/config").body
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "phone.png")
            with open(path, "w") as f:
                f.write("old content")
            os.chmod(path, 0o644)  # replaced, not rewritten in place: the new file is owner-only
            res = self.pic("peer", "qr", "phone", "--png", path)
            self.assertExit(res, 0)
            self.assertIn(path, res.stdout)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            self.assertEqual(sorted(os.listdir(d)), ["phone.png"])  # no temp file left behind
            dec = run("zbarimg", "-q", "--raw", path, check=False)
            self.assertEqual(dec.returncode, 0, dec)
            self.assertEqual(dec.stdout, config + "\n")  # zbarimg ends each symbol with a newline

            res = self.pic("peer", "qr", "nobody", "--png", os.path.join(d, "nobody.png"))
            self.assertExit(res, 1, "HTTP 404")
            res = self.pic("peer", "qr", "phone", "--png", os.path.join(d, "no-such-dir", "x.png"))
            self.assertExit(res, 3, "no-such-dir")
            self.assertEqual(sorted(os.listdir(d)), ["phone.png"])

    def test_set_changes_grants_and_state(self):
        self.add("phone", "--access", "calendar")
        res = self.pic("peer", "set", "phone", "--access", "files, mail", "--disable", "--route-all")
        self.assertExit(res, 0)
        self.assertIn("Changed peer phone.", res.stdout)
        peer = self.peers()["phone"]
        self.assertEqual(sorted(peer["service_access"]), ["files", "mail"])
        self.assertFalse(peer["enabled"])
        self.assertTrue(peer["route_all"])
        res = self.pic("--json", "peer", "set", "phone", "--access", "", "--enable", "--no-route-all")
        self.assertExit(res, 0)
        self.assertEqual(json.loads(res.stdout), self.peers()["phone"])
        peer = self.peers()["phone"]
        self.assertEqual((peer["service_access"], peer["enabled"], peer["route_all"]), ([], True, False))
        res = self.pic("peer", "set", "nobody", "--enable")
        self.assertExit(res, 1, "HTTP 404")

    def test_rm(self):
        self.add("phone")
        self.add("laptop")
        res = self.pic("peer", "rm", "phone")
        self.assertExit(res, 0)
        self.assertIn("Deleted peer phone", res.stdout)
        self.assertEqual(self.picd.get("/api/peers/phone").status, 404)
        self.assertEqual(list(self.peers()), ["laptop"])
        res = self.pic("peer", "show", "phone")
        self.assertExit(res, 1, 'no peer named "phone"')
        res = self.pic("peer", "rm", "phone")
        self.assertExit(res, 1, "HTTP 404")
        self.assertEqual(list(self.peers()), ["laptop"])
        self.assertNotRegex(self.pic("peer", "list").stdout, r"(?m)^phone\s")


class CliPicdGoneTest(unittest.TestCase):
    """Exit 3 when picd is not there: stopped, never started, or a stale socket file."""

    def test_picd_not_running(self):
        picd = Picd()
        try:
            picd.start()
            self.assertEqual(picd.cli("status").returncode, 0)
            self.assertEqual(picd.stop(), 0)
            res = picd.cli("status")
            self.assertEqual(res.returncode, 3, res)
            self.assertIn("is picd running?", res.stderr)
        finally:
            picd.cleanup()

    def test_says_where_it_looked(self):
        """A picd with another state dir than pic's default: the error names the path pic tried, where that
        came from, and the option and variables that point pic elsewhere."""
        env = {k: v for k, v in os.environ.items() if k not in ("PIC_SOCKET", "PIC_STATE_DIR")}
        default = "/var/lib/pic/run/picd.sock"
        self.assertFalse(os.path.exists(default), f"this test needs no picd at {default} on the test machine")
        picd = Picd()
        try:
            picd.start()
            res = run(PIC, "status", check=False, env=env)
            self.assertEqual(res.returncode, 3, res)
            self.assertIn(f"looked for picd's socket at {default} (the default)", res.stderr)
            for hint in ("--state-dir DIR", "PIC_STATE_DIR=DIR", "PIC_SOCKET=PATH", "DIR/run/picd.sock"):
                self.assertIn(hint, res.stderr)
            # Following the advice works.
            res = run(PIC, "status", check=False, env=dict(env, PIC_STATE_DIR=picd.state_dir))
            self.assertEqual(res.returncode, 0, res)
            with tempfile.TemporaryDirectory() as d:
                res = run(PIC, "status", check=False, env=dict(env, PIC_STATE_DIR=d))
                self.assertEqual(res.returncode, 3, res)
                self.assertIn(f"looked for picd's socket at {d}/run/picd.sock (from PIC_STATE_DIR)", res.stderr)
        finally:
            picd.stop()
            picd.cleanup()

    def test_missing_and_stale_socket(self):
        with tempfile.TemporaryDirectory() as d:
            res = run(PIC, "--socket", os.path.join(d, "picd.sock"), "status", check=False)
            self.assertEqual(res.returncode, 3, res)
            self.assertIn("does not exist (is picd running?)", res.stderr)
            stale = os.path.join(d, "stale.sock")
            s = socket.socket(socket.AF_UNIX)
            s.bind(stale)
            s.close()  # the file stays, nobody listens: what a crashed picd leaves
            res = run(PIC, "--socket", stale, "token", "list", check=False)
            self.assertEqual(res.returncode, 3, res)
            self.assertIn("nothing listens", res.stderr)
            res = run(PIC, "--socket", "/x" * 100, "status", check=False)
            self.assertEqual(res.returncode, 3, res)


class FakePicd:
    """A unix-socket server that answers every connection with `reply` (bytes, or None to say nothing),
    to check that the CLI gives up on broken or endless replies instead of hanging or growing."""

    def __init__(self, path, reply, stream=None):
        self.reply, self.stream = reply, stream
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conns = []
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conns.append(c)
            c.settimeout(0.5)
            try:
                self.requests.append(c.recv(65536))
                if self.reply:
                    c.sendall(self.reply)
                if self.stream:
                    while not self.stop.is_set():
                        c.sendall(self.stream)
                elif self.reply:
                    c.close()
            except OSError:
                pass
        for c in conns:
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


class CliClientLimitsTest(unittest.TestCase):
    def check(self, reply, message, stream=None, args=("status",)):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fake.sock")
            fake = FakePicd(path, reply, stream)
            try:
                t0 = time.monotonic()
                res = run(PIC, "--socket", path, "--timeout", "2", *args, check=False, timeout=20 * SLOW)
                took = time.monotonic() - t0
            finally:
                fake.close()
            self.assertEqual(res.returncode, 3, res)
            self.assertIn(message, res.stderr)
            self.assertLess(took, 10 * SLOW)

    def test_silent_server_times_out(self):
        self.check(None, "did not finish its reply in time")

    def test_endless_headers_are_capped(self):
        self.check(b"HTTP/1.1 200 OK\r\n", "headers exceed", stream=b"X-Filler: " + b"a" * 1000 + b"\r\n")

    def test_endless_body_is_capped(self):
        self.check(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":\"", "exceeds the limit",
                   stream=b"a" * 65536)

    def test_huge_content_length_is_refused(self):
        self.check(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "exceeds the limit")

    def test_truncated_body(self):
        self.check(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"status\":", "closed the connection")

    def test_not_http(self):
        self.check(b"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.x status line")

    def test_chunked_is_refused(self):
        self.check(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                   "Transfer-Encoding")

    def test_not_json(self):
        self.check(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "not with a JSON object")

    def test_error_reply_without_envelope(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fake.sock")
            fake = FakePicd(path, b"HTTP/1.1 500 Oops\r\nContent-Length: 9\r\n\r\nbad\x1b[2Jx!")
            try:
                res = run(PIC, "--socket", path, "--timeout", "2", "status", check=False, timeout=20 * SLOW)
            finally:
                fake.close()
            self.assertEqual(res.returncode, 1, res)
            self.assertIn("HTTP 500", res.stderr)
            self.assertNotIn("\x1b", res.stderr)  # no terminal escapes from a reply reach the screen


    def fake_call(self, reply_json, *args, status="200 OK"):
        body = json.dumps(reply_json).encode()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fake.sock")
            fake = FakePicd(path, f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            try:
                res = run(PIC, "--socket", path, "--timeout", "5", *args, check=False, timeout=20 * SLOW)
            finally:
                fake.close()
        return res, fake.requests[0].decode().split("\r\n")[0]

    def test_backup_commands_send_the_documented_requests(self):
        """The backup routes live in picd's tree separately; this pins what the CLI sends and shows."""
        res, line = self.fake_call({"id": "b-1", "created": 1700000000, "size": 2048}, "backup", "create")
        self.assertEqual(line, "POST /api/config/backup HTTP/1.1")
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout, r"^Created backup b-1 at \d{4}-\d\d-\d\d \d\d:\d\d \(2\.0 KiB\)\.\n$")
        listing = {"backups": [{"id": "b-1", "created": 1700000000, "size": 100, "cell_name": "home"},
                               {"id": "b-22", "created": "2026-01-02T03:04:05Z", "size": 3 << 20, "cell_name": "c"}]}
        res, line = self.fake_call(listing, "backup", "list")
        self.assertEqual(line, "GET /api/config/backups HTTP/1.1")
        self.assertRegex(res.stdout, r"(?m)^ID    CREATED\s+SIZE\s+CELL\n")
        self.assertRegex(res.stdout, r"(?m)^b-1\s+\S+ \S+\s+100 B\s+home$")
        self.assertRegex(res.stdout, r"(?m)^b-22\s+2026-01-02T03:04:05Z\s+3\.0 MiB\s+c$")
        res, _ = self.fake_call(listing, "--json", "backup", "list")
        self.assertEqual(json.loads(res.stdout), listing)
        res, line = self.fake_call({"id": "b 1/x", "restored": True}, "backup", "restore", "b 1/x")
        self.assertEqual(line, "POST /api/config/restore/b%201%2Fx HTTP/1.1")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("Restored backup b 1/x.", res.stdout)
        res, _ = self.fake_call({"error": {"code": "not_found", "message": "no such backup", "field": "id"}},
                                "backup", "restore", "nope", status="404 Not Found")
        self.assertEqual(res.returncode, 1, res)
        self.assertIn('no such backup (field "id") [HTTP 404 not_found]', res.stderr)


if __name__ == "__main__":
    main()
