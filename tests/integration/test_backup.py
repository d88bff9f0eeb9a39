"""Backup and restore of the whole cell through the API: round trip (settings, keys, generated configs,
tokens, the audit trail), listing, hostile ids, tampered/truncated/foreign/hostile archives (422 and nothing
changes), scopes, and an interrupted restore finished (or dropped) by the next start."""
import hashlib
import http.client
import hmac
import io
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import DhcpClient, PicdTestCase, main, unique, wait_for  # noqa: E402
from test_users import Cell as AccountsCell, basic  # noqa: E402

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HMAC_CONTEXT = b"pic-backup-manifest-v1\n"


def read_members(path):
    """[(TarInfo, bytes or None)] of an archive, in order."""
    out = []
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            f = t.extractfile(m) if m.isfile() else None
            out.append((m, f.read() if f else None))
    return out


def write_members(path, members):
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)


def sign(manifest, key):
    """The manifest's HMAC as picd computes it: canonical compact JSON, sorted keys, without "hmac"."""
    m = {k: v for k, v in manifest.items() if k != "hmac"}
    canon = HMAC_CONTEXT + json.dumps(m, sort_keys=True, separators=(",", ":")).encode()
    manifest["hmac"] = hmac.new(key, canon, hashlib.sha256).hexdigest()
    return json.dumps(manifest, indent=2).encode()


def add_core(members, info, data):
    """Adds a member where the manifest's files go: before data.index and the data it lists."""
    at = next((i for i, (m, _) in enumerate(members) if m.name == "data.index"), len(members))
    members.insert(at, (info, data))


def file_info(name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o600
    info.size = len(data)
    return info


class BackupTestCase(PicdTestCase):
    def path(self, *parts):
        return os.path.join(self.picd.state_dir, *parts)

    def archive(self, backup_id):
        return self.path("backups", backup_id + ".tar.gz")

    def key(self):
        with open(self.path("keys", "backup.key")) as f:
            return bytes.fromhex(f.read().strip())

    def set_name(self, name):
        r = self.picd.put("/api/config", {"cell_name": name})
        self.assertEqual(r.status, 200, r)

    def cell_name(self):
        r = self.picd.get("/api/config")
        self.assertEqual(r.status, 200, r)
        return r.json["cell_name"]

    def backup(self):
        r = self.picd.post("/api/config/backup")
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.json["id"], ID_RE)
        return r.json["id"]

    def write_state_file(self, rel, text):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def tree(self):
        """Content of every file below keys/ and etc/: what a restore would replace."""
        out = {}
        for top in ("keys", "etc"):
            for root, _, files in os.walk(self.path(top)):
                for n in files:
                    p = os.path.join(root, n)
                    with open(p, "rb") as f:
                        out[os.path.relpath(p, self.picd.state_dir)] = f.read()
        return out

    def snapshot(self):
        return {"name": self.cell_name(), "tree": self.tree(), "db_inode": os.stat(self.path("picd.db")).st_ino}

    def assertNothingChanged(self, before):
        self.assertEqual(self.cell_name(), before["name"])
        self.assertEqual(self.tree(), before["tree"])
        # The live database file is the same file: no swap happened.
        self.assertEqual(os.stat(self.path("picd.db")).st_ino, before["db_inode"])
        leftovers = [n for n in os.listdir(self.picd.state_dir) if n.startswith(".restore-") or n == "restore-journal"]
        self.assertEqual(leftovers, [])


class BackupRestoreTest(BackupTestCase):
    def test_round_trip(self):
        p = self.picd
        early = p.make_token("read")
        early_cookie, _ = p.login()
        self.set_name("alpha")
        self.write_state_file("keys/test-wg.key", "key-before")
        self.write_state_file("etc/dns/test.conf", "conf-before\n")
        bid = self.backup()
        self.assertEqual(os.stat(self.archive(bid)).st_mode & 0o777, 0o600)
        key_before = self.key()
        at_backup = p.get("/api/audit?limit=1").json["entries"][0]["id"]

        backups = p.get("/api/config/backups")
        self.assertEqual(backups.status, 200, backups)
        entry = next(b for b in backups.json["backups"] if b["id"] == bid)
        self.assertEqual(entry["cell_name"], "alpha")
        self.assertEqual(entry["size"], os.path.getsize(self.archive(bid)))
        self.assertTrue(entry["verified"])
        names = [m.name for m, _ in read_members(self.archive(bid))]
        self.assertEqual(names[0], "manifest.json")
        self.assertIn("picd.db", names)
        self.assertIn("keys/test-wg.key", names)
        self.assertIn("etc/dns/test.conf", names)
        self.assertNotIn("keys/backup.key", names)

        self.set_name("beta")
        self.write_state_file("keys/test-wg.key", "key-after")
        self.write_state_file("etc/after-backup.conf", "new\n")
        late = p.make_token("read")
        late_cookie, _ = p.login()
        self.assertEqual(p.get("/api/config", auth=False, headers={"Cookie": early_cookie}).status, 200)
        last_before_restore = p.get("/api/audit?limit=1").json["entries"][0]["id"]

        r = p.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["restored"])
        # Every web session ends, and the response says so: none comes back from the archive either.
        self.assertIs(r.json["sessions_ended"], True)
        self.assertIn("sign in again", r.json["message"])
        for cookie in (early_cookie, late_cookie):
            self.assertEqual(p.get("/api/config", auth=False, headers={"Cookie": cookie}).status, 401)
        self.assertEqual(self.cell_name(), "alpha")
        with open(self.path("keys/test-wg.key")) as f:
            self.assertEqual(f.read(), "key-before")
        with open(self.path("etc/dns/test.conf")) as f:
            self.assertEqual(f.read(), "conf-before\n")
        self.assertFalse(os.path.exists(self.path("etc/after-backup.conf")))
        self.assertEqual(self.key(), key_before)
        # What Caddy (its own user) reads comes back readable by it, through its group alone; the CA's key root's.
        caddy = pwd.getpwnam("caddy")

        def owner(rel):
            st = os.lstat(self.path(rel))
            return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

        self.assertEqual(owner("keys/ca/root.key"), (0, 0, 0o600))
        self.assertEqual(owner("keys/ca/leaves"), (0, caddy.pw_gid, 0o2750))
        leaf_keys = [n for n in os.listdir(self.path("keys/ca/leaves")) if n.endswith(".key")]
        self.assertTrue(leaf_keys)
        for n in leaf_keys:
            self.assertEqual(owner(f"keys/ca/leaves/{n}"), (0, caddy.pw_gid, 0o640), n)
        self.assertEqual(owner("etc/proxy/caddy.json"), (0, caddy.pw_gid, 0o640))

        def caddy_uids():
            """The Uid line of the running Caddy. A config change just after its start, before its admin socket
            is up, starts it again (proxy_apply), so the pid may be gone by the time it is read: read again."""
            s = next(s for s in p.get("/api/services").json["services"] if s["name"] == "proxy")
            if s["state"] != "running" or not s["pid"]:
                return None
            with open(f"/proc/{s['pid']}/status") as f:
                return next(line for line in f if line.startswith("Uid:"))
        uids = wait_for(caddy_uids, timeout=30, what="caddy running after the restore")
        self.assertEqual(uids.split()[1:], [str(caddy.pw_uid)] * 4)

        # Tokens: one made before the backup works, one made after it is gone with the rest of that state.
        self.assertEqual(p.get("/api/config", token=early).status, 200)
        self.assertEqual(p.get("/api/config", token=late).status, 401)

        # The audit trail survived the restore, including what happened after the backup and the restore itself.
        entries = p.get("/api/audit?limit=1000").json["entries"]
        ids = {e["id"] for e in entries}
        self.assertIn(last_before_restore, ids)
        self.assertTrue(any(e["method"] == "PUT" and e["path"] == "/api/config" and e["id"] > at_backup for e in entries))
        self.assertTrue(any(e["path"] == f"/api/config/restore/{bid}" and e["status"] == 200 for e in entries), entries[:5])
        leftovers = [n for n in os.listdir(p.state_dir) if n.startswith(".restore-") or n == "restore-journal"]
        self.assertEqual(leftovers, [])

    def test_users_and_app_passwords_survive_a_restore(self):
        """Users, their app passwords (and the key they are hashed with) and peers are in the archive: after a
        restore the devices of the backup work again on auth.sock, and what came later is gone."""
        p, cell = self.picd, AccountsCell(self.picd)
        name = unique("ivy")
        pw = cell.user(name)
        early_id, early = cell.app_password(name, "phone")
        phone = unique("ivy-phone")
        ip = cell.peer(phone, owner=name, access=["calendar"])
        bid = self.backup()
        _, late = cell.app_password(name, "laptop")
        self.assertEqual(p.delete(f"/api/users/{name}/app-passwords/{early_id}").status, 200)
        self.assertEqual(p.delete(f"/api/peers/{phone}").status, 200)
        self.assertEqual(cell.authz("calendar", ip, basic(name, early))[0], 403)
        r = p.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        status, h = cell.authz("calendar", ip, basic(name, early))
        self.assertEqual((status, h.get("x-pic-user")), (200, name))
        self.assertEqual(cell.authz("calendar", ip, basic(name, late))[0], 401)
        self.assertEqual(p.get(f"/api/users/{name}").json["peers"], [phone])
        self.assertEqual(p.post("/api/auth/login", {"username": name, "password": pw}, auth=False,
                                headers={"X-Forwarded-For": "198.51.100.30"}).status, 200)
        self.assertEqual(p.delete(f"/api/users/{name}?purge=true").status, 200)

    def test_list_newest_first_and_delete(self):
        first, second = self.backup(), self.backup()
        r = self.picd.get("/api/config/backups")
        ids = [b["id"] for b in r.json["backups"]]
        self.assertLess(ids.index(second), ids.index(first))
        r = self.picd.delete(f"/api/config/backups/{first}")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(os.path.exists(self.archive(first)))
        ids = [b["id"] for b in self.picd.get("/api/config/backups").json["backups"]]
        self.assertNotIn(first, ids)
        self.assertIn(second, ids)
        self.assertError(self.picd.post(f"/api/config/restore/{first}"), 404, "id")
        self.assertError(self.picd.delete(f"/api/config/backups/{first}"), 404, "id")

    def download(self, backup_id, token=None):
        """GET .../download as raw bytes (the helper's Response decodes text)."""
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=30)
        try:
            conn.request("GET", f"/api/config/backups/{backup_id}/download",
                         headers={"Authorization": f"Bearer {token or self.picd.token}"})
            r = conn.getresponse()
            return r.status, r.headers, r.read()
        finally:
            conn.close()

    def test_download_is_the_archive(self):
        bid = self.backup()
        status, headers, data = self.download(bid)
        self.assertEqual(status, 200, data[:300])
        with open(self.archive(bid), "rb") as f:
            self.assertEqual(data, f.read())
        self.assertEqual(headers["Content-Type"], "application/gzip")
        self.assertEqual(headers["Content-Disposition"], f'attachment; filename="{bid}.tar.gz"')
        self.assertEqual(headers["Cache-Control"], "no-store")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
            self.assertIn("manifest.json", t.getnames())
        for scope in ("read", "write"):
            self.assertEqual(self.download(bid, token=self.picd.make_token(scope))[0], 403)
        self.assertEqual(self.download("pic-20000101-000000-abcdef")[0], 404)
        self.assertEqual(self.download("Not-An-Id")[0], 400)

    def test_hostile_ids_are_400(self):
        before = self.snapshot()
        hostile = ["../x", "..%2Fx", "%2Fetc%2Fpasswd", "/etc/passwd", "a/b", "..", "%2E%2E", "x" * 65, "x" * 300,
                   "PIC-20250101-000000-ABCDEF", "Backup", "-x", "a.tar.gz", "a%20b", "a%0Ab"]
        for bad in hostile:
            with self.subTest(id=bad):
                self.assertError(self.picd.post(f"/api/config/restore/{bad}"), 400, "id")
                self.assertError(self.picd.delete(f"/api/config/backups/{bad}"), 400, "id")
        self.assertNothingChanged(before)

    def test_unknown_id_is_404(self):
        self.assertError(self.picd.post("/api/config/restore/pic-20000101-000000-abcdef"), 404, "id")

    def test_scopes(self):
        bid = self.backup()
        for scope in ("read", "write"):
            tok = self.picd.make_token(scope)
            with self.subTest(scope=scope):
                self.assertError(self.picd.post("/api/config/backup", token=tok), 403)
                self.assertError(self.picd.get("/api/config/backups", token=tok), 403)
                self.assertError(self.picd.post(f"/api/config/restore/{bid}", token=tok), 403)
                self.assertError(self.picd.delete(f"/api/config/backups/{bid}", token=tok), 403)
        self.assertError(self.picd.post("/api/config/backup", auth=False), 401)
        self.assertTrue(os.path.exists(self.archive(bid)))


class RestoreLeavesDaemonsWhole(BackupTestCase):
    """A restore runs every module's start path again: dnsmasq's hosts.d (empty, so not in the archive) is
    there again and a reservation made after the restore is served to a real DHCP client."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.client = DhcpClient(cls.picd.netns, "192.168.214.1/24", "r")
        except Exception:
            super().tearDownClass()
            raise
        cls.cell_if = cls.client.cell_if

    @classmethod
    def tearDownClass(cls):
        try:
            cls.client.delete()
        finally:
            super().tearDownClass()

    def dhcp_state(self):
        return next(s for s in self.picd.get("/api/services").json["services"] if s["name"] == "dhcp")

    def lease_ip(self):
        return self.client.udhcpc("02:14:00:00:00:01")["ip"]

    def test_reservation_after_restore_is_served(self):
        p = self.picd
        r = p.put("/api/config", {"dhcp": {"enabled": True, "interface": self.cell_if,
                                           "range_start": "192.168.214.100", "range_end": "192.168.214.150"}})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.dhcp_state()["state"] == "running", what="dnsmasq running")
        bid = self.backup()
        pid_before = self.dhcp_state()["pid"]
        r = p.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        self.assertIn("dhcp", r.json["restarted"])
        state = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != pid_before else None)(
            self.dhcp_state()), what="dnsmasq running again")
        r = p.post("/api/dhcp/reservations", {"mac": "02:14:00:00:00:01", "ip": "192.168.214.20", "hostname": "nas"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.lease_ip(), "192.168.214.20")
        self.assertEqual(self.dhcp_state()["pid"], state["pid"], "a reservation must not need a restart")
        self.assertNotIn("bad dynamic directory", p.logs())


class HostileArchiveTest(BackupTestCase):
    """Each test makes a genuine backup, changes the live state, damages the archive and expects 422 with
    the live state exactly as it was."""

    def prepare(self, tag):
        self.set_name(f"good-{tag}")
        bid = self.backup()
        self.set_name(f"current-{tag}")
        return bid, read_members(self.archive(bid))

    def expect_rejected(self, bid):
        before = self.snapshot()
        r = self.picd.post(f"/api/config/restore/{bid}")
        self.assertError(r, 422)
        self.assertEqual(r.json["error"]["code"], "rejected")
        self.assertNothingChanged(before)
        return r

    def test_flipped_byte_in_database(self):
        bid, members = self.prepare("flip")
        out = []
        for info, data in members:
            if info.name == "picd.db":
                data = bytearray(data)
                data[len(data) // 2] ^= 0x01
                data = bytes(data)
            out.append((info, data))
        write_members(self.archive(bid), out)
        r = self.expect_rejected(bid)
        self.assertIn("picd.db", r.json["error"]["message"])

    def test_changed_manifest(self):
        bid, members = self.prepare("manifest")
        info, data = members[0]
        m = json.loads(data)
        m["cell_name"] = "forged"
        members[0] = (info, json.dumps(m).encode())
        write_members(self.archive(bid), members)
        self.expect_rejected(bid)

    def test_truncated(self):
        bid, _ = self.prepare("trunc")
        size = os.path.getsize(self.archive(bid))
        with open(self.archive(bid), "r+b") as f:
            f.truncate(size // 2)
        self.expect_rejected(bid)

    def test_garbage(self):
        bid, _ = self.prepare("garbage")
        with open(self.archive(bid), "wb") as f:
            f.write(secrets.token_bytes(4096))
        self.expect_rejected(bid)

    def test_signed_by_another_key(self):
        bid, members = self.prepare("foreign")
        info, data = members[0]
        members[0] = (info, sign(json.loads(data), secrets.token_bytes(32)))
        write_members(self.archive(bid), members)
        r = self.expect_rejected(bid)
        self.assertIn("backup key", r.json["error"]["message"])

    def test_unlisted_escaping_members(self):
        for evil in ("../evil-unlisted", "/tmp/pic-evil-unlisted", "etc/../../evil-unlisted", "keys/backup.key"):
            with self.subTest(member=evil):
                bid, members = self.prepare("unlisted")
                members.append((file_info(evil, b"owned"), b"owned"))
                write_members(self.archive(bid), members)
                self.expect_rejected(bid)
                self.assertNoEvil("evil-unlisted")

    def test_signed_manifest_with_escaping_paths(self):
        """Even an archive signed with this cell's own key (a leaked key) cannot write outside the staging dir."""
        for evil in ("../evil-signed", "/tmp/pic-evil-signed", "etc/../../evil-signed", "etc/./x", "etc//x",
                     "keys/backup.key", "picd.db-wal", "other/file"):
            with self.subTest(path=evil):
                bid, members = self.prepare("signed")
                key = self.key()
                info, data = members[0]
                m = json.loads(data)
                payload = b"owned"
                m["files"].append({"path": evil, "size": len(payload), "mode": 0o600,
                                   "sha256": hashlib.sha256(payload).hexdigest()})
                members[0] = (info, sign(m, key))
                add_core(members, file_info(evil, payload), payload)
                write_members(self.archive(bid), members)
                self.expect_rejected(bid)
                self.assertNoEvil("evil-signed")

    def test_signed_links_and_devices(self):
        kinds = [("symlink", tarfile.SYMTYPE, "/etc/passwd"), ("hardlink", tarfile.LNKTYPE, "picd.db"),
                 ("fifo", tarfile.FIFOTYPE, ""), ("chardev", tarfile.CHRTYPE, ""), ("dir", tarfile.DIRTYPE, "")]
        for label, kind, target in kinds:
            with self.subTest(kind=label):
                bid, members = self.prepare(label)
                key = self.key()
                info, data = members[0]
                m = json.loads(data)
                name = f"etc/{label}-entry"
                m["files"].append({"path": name, "size": 0, "mode": 0o600, "sha256": hashlib.sha256(b"").hexdigest()})
                members[0] = (info, sign(m, key))
                add_core(members, file_info(name, kind=kind, linkname=target), None)
                write_members(self.archive(bid), members)
                self.expect_rejected(bid)
                self.assertFalse(os.path.lexists(self.path(name)))

    def test_signed_modes_are_masked(self):
        """A signed manifest chooses no mode a restore writes: world-writable or executable files come back 0644,
        anything below keys/ 0600, and setuid is no mode at all (422)."""
        bid, members = self.prepare("modes")
        key = self.key()
        info, data = members[0]
        m = json.loads(data)
        added = {"etc/world-writable.conf": 0o777, "etc/private.conf": 0o600, "keys/leaky.key": 0o644}
        for name, mode in added.items():
            m["files"].append({"path": name, "size": 2, "mode": mode, "sha256": hashlib.sha256(b"x\n").hexdigest()})
            add_core(members, file_info(name, b"x\n"), b"x\n")
        members[0] = (info, sign(m, key))
        write_members(self.archive(bid), members)
        r = self.picd.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        modes = {n: os.stat(self.path(n)).st_mode & 0o7777 for n in added}
        self.assertEqual(modes, {"etc/world-writable.conf": 0o644, "etc/private.conf": 0o600, "keys/leaky.key": 0o600})

        bid, members = self.prepare("setuid")
        info, data = members[0]
        m = json.loads(data)
        m["files"].append({"path": "etc/suid", "size": 2, "mode": 0o4755, "sha256": hashlib.sha256(b"x\n").hexdigest()})
        add_core(members, file_info("etc/suid", b"x\n"), b"x\n")
        members[0] = (info, sign(m, self.key()))
        write_members(self.archive(bid), members)
        self.expect_rejected(bid)
        self.assertFalse(os.path.exists(self.path("etc/suid")))

    def test_duplicate_member(self):
        bid, members = self.prepare("dup")
        db = next(x for x in members if x[0].name == "picd.db")
        members.append(db)
        write_members(self.archive(bid), members)
        self.expect_rejected(bid)

    def test_missing_member(self):
        bid, members = self.prepare("missing")
        members = [x for x in members if x[0].name != "picd.db"]
        write_members(self.archive(bid), members)
        self.expect_rejected(bid)

    def assertNoEvil(self, marker):
        state = self.picd.state_dir
        parent = os.path.dirname(state)
        for root in (parent, "/tmp"):
            self.assertFalse([n for n in os.listdir(root) if marker in n], f"{marker} created in {root}")
        for root, dirs, files in os.walk(state):
            self.assertFalse([n for n in dirs + files if marker in n], f"{marker} created below {root}")


class InterruptedRestoreTest(BackupTestCase):
    """A restore killed after its journal was written is finished by the next start; one killed before is
    dropped. The state is the old one or the new one, never a mix."""

    def stage_by_hand(self, bid, journal):
        """Lays out STATE/.restore-X/{new,old} from a real archive as backup_restore() does before its swap."""
        name = ".restore-" + secrets.token_hex(6)
        new = self.path(name, "new")
        os.makedirs(self.path(name, "old"))
        os.makedirs(new)
        for info, data in read_members(self.archive(bid)):
            if info.name == "manifest.json":
                continue
            p = os.path.join(new, info.name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(new, "keys"), exist_ok=True)
        os.makedirs(os.path.join(new, "etc"), exist_ok=True)
        shutil.copy(self.path("keys", "backup.key"), os.path.join(new, "keys", "backup.key"))
        if journal:
            with open(self.path("restore-journal"), "w") as f:
                f.write(f"pic-restore-journal 1\n{name}\nforward\n")
        return name

    def test_journaled_restore_rolls_forward(self):
        self.set_name("before-crash")
        self.write_state_file("etc/crash-test.conf", "from-backup\n")
        bid = self.backup()
        self.set_name("after-backup")
        self.write_state_file("etc/crash-test.conf", "after-backup\n")
        self.picd.kill9()
        # picd died with its WAL holding "after-backup": that WAL must not end up beside the restored database.
        name = self.stage_by_hand(bid, journal=True)
        # ...and the swap was cut off half-way: etc/ already moved out of the live state.
        os.rename(self.path("etc"), self.path(name, "old", "etc"))
        self.picd.start()
        self.assertEqual(self.cell_name(), "before-crash")
        with open(self.path("etc/crash-test.conf")) as f:
            self.assertEqual(f.read(), "from-backup\n")
        self.assertFalse(os.path.exists(self.path(name)))
        self.assertFalse(os.path.exists(self.path("restore-journal")))
        self.assertIn("finished a restore", self.picd.logs())
        # The admin token predates the backup: still valid.
        self.assertEqual(self.picd.get("/api/config/backups").status, 200)

    def test_unjournaled_staging_is_dropped(self):
        self.set_name("staged-only")
        bid = self.backup()
        self.set_name("live")
        self.write_state_file("etc/crash-test.conf", "live\n")
        self.picd.kill9()
        name = self.stage_by_hand(bid, journal=False)
        self.picd.start()
        self.assertEqual(self.cell_name(), "live")
        with open(self.path("etc/crash-test.conf")) as f:
            self.assertEqual(f.read(), "live\n")
        self.assertFalse(os.path.exists(self.path(name)))


if __name__ == "__main__":
    main()
