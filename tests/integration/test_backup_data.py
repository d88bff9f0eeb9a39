"""The users' service data (STATE/data/) in backups: a calendar/files/mail-like tree (many small files, names with
spaces, UTF-8, ':', ',', '=', empty Maildir dirs, a file over 64 MiB, modes, owners, mtimes) comes back byte for
byte on the same cell and on a fresh one; a tampered data entry is refused with nothing changed; a name the
archive grammar refuses fails the backup naming it; the download streams; a crash mid-swap rolls forward. A daemon
that runs as its own user gets its tree back as that user's, whatever ids the archive carries (another machine may
give the same user other ids)."""
import hashlib
import io
import json
import os
import pwd
import secrets
import shutil
import stat
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import Picd, PicdTestCase, main  # noqa: E402
from test_backup import read_members, sign  # noqa: E402

BIG = 100 * 1024 * 1024 + 12345  # above the 64 MiB that limits keys/ and etc/ files, not a multiple of anything


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# The trees build_tree makes. The cell's own modules keep state of theirs beside them under data/ (Postfix's
# queue, lighttpd's property databases, Roundcube's database), which they change on their own while the test runs.
TREES = ("calendar/collection-root/alice", "calendar/collection-root/bob", "files/alice", "mail/alice")


def data_tree(state_dir):
    """Everything a restore must bring back of what build_tree made below data/: per path its kind, mode, owner,
    and for files the content hash, size and mtime (ns)."""
    out = {}
    for dirpath, dirs, files in (w for t in TREES for w in os.walk(os.path.join(state_dir, "data", t))):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, state_dir)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                            sha256_file(p))
    return out


# The trees of daemons that run as their own user: after a restore they are that user's, however the archive has
# them (here: root's, as an older picd left them, and ids of another machine).
DAEMON_OWNED = (("data/calendar/", "radicale"), ("data/files/", "pic-files"))


def as_restored(tree):
    out = {}
    for rel, v in tree.items():
        user = next((u for prefix, u in DAEMON_OWNED if rel.startswith(prefix)), None)
        if user:
            pw = pwd.getpwnam(user)
            v = v[:2] + (pw.pw_uid, pw.pw_gid) + v[4:]
        out[rel] = v
    return out


# Names real clients create: Radicale collections and items, WebDAV uploads, Maildir messages.
ODD_NAMES = [
    "Quarterly report (final) v2.pdf", "Ünïcødé – naïve café ☃.txt", "日本語のファイル.txt", "emoji 🎉 party.png",
    "a=b,c;d:e.txt", "it's \"quoted\" & #hashed% [x] {y}.txt", " leading and trailing space ", "-dash-first",
    ".hidden", "...three dots", "x" * 255,
]


def build_tree(state_dir, big=False):
    data = os.path.join(state_dir, "data")
    # calendar: Radicale's collection-root with many small items
    for user in ("alice", "bob"):
        for coll, ext in (("calendar-a", "ics"), ("contacts", "vcf")):
            d = os.path.join(data, "calendar", "collection-root", user, coll)
            os.makedirs(d)
            with open(os.path.join(d, ".Radicale.props"), "w") as f:
                json.dump({"tag": "VCALENDAR" if ext == "ics" else "VADDRESSBOOK", "D:displayname": coll}, f)
            for i in range(300):
                with open(os.path.join(d, f"{secrets.token_hex(8)}-{i}.{ext}"), "wb") as f:
                    f.write(f"BEGIN:V{i}\r\nUID:{i}@{user}\r\nEND\r\n".encode() * (1 + i % 7))
    for dirpath, dirs, files in os.walk(os.path.join(data, "calendar", "collection-root", "bob")):
        for n in [""] + dirs + files:
            os.lchown(os.path.join(dirpath, n), 4321, 8765)
    # files: WebDAV trees with odd names, nested, an empty dir, modes and an owner
    home = os.path.join(data, "files", "alice")
    os.makedirs(os.path.join(home, "Photos 2024", "Ünïcødé album", "deeper", "and deeper"))
    os.makedirs(os.path.join(home, "empty folder"))
    for i, name in enumerate(ODD_NAMES):
        with open(os.path.join(home, name), "wb") as f:
            f.write(name.encode() + secrets.token_bytes(i * 37))
    with open(os.path.join(home, "Photos 2024", "Ünïcødé album", "deeper", "and deeper", "img 1.jpg"), "wb") as f:
        f.write(secrets.token_bytes(300_000))
    with open(os.path.join(home, "empty.txt"), "wb"):
        pass
    secret = os.path.join(home, "private.txt")
    with open(secret, "w") as f:
        f.write("mine\n")
    os.chmod(secret, 0o600)
    os.chmod(os.path.join(home, "Photos 2024"), 0o750)
    os.chown(os.path.join(home, "empty.txt"), 1234, 5678)
    if big:
        # Over 64 MiB, sparse-ish: 64 KiB of randomness in every MiB (quick to make and to gzip, and any byte out
        # of place still changes the hash).
        with open(os.path.join(home, "disk image.iso"), "wb") as f:
            for i in range(BIG >> 20):
                f.write(secrets.token_bytes(1 << 16) + bytes((1 << 20) - (1 << 16)))
            f.write(secrets.token_bytes(BIG & ((1 << 20) - 1)))
    # mail: Maildirs, tmp/ and new/ empty, message names with ':' and ','
    md = os.path.join(data, "mail", "alice", "Maildir")
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        os.makedirs(os.path.join(md, sub), mode=0o700)
    for i in range(50):
        name = f"17000000{i:02d}.M{i}P{100 + i}.cell,S={200 + i},W={205 + i}:2,{'S' if i % 2 else 'RS'}"
        p = os.path.join(md, "cur", name)
        with open(p, "wb") as f:
            f.write(b"From: a@b\r\nSubject: %d\r\n\r\nbody\r\n" % i)
        os.utime(p, ns=(1_700_000_000_123_456_789 + i, 1_700_000_000_123_456_789 + i))  # IMAP INTERNALDATE
    with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
        f.write("3 V1 N51\n")


class BackupDataTest(PicdTestCase):
    def path(self, *parts):
        return os.path.join(self.picd.state_dir, *parts)

    def archive(self, bid):
        return self.path("backups", bid + ".tar.gz")

    def backup(self):
        r = self.picd.post("/api/config/backup")
        self.assertEqual(r.status, 201, r)
        return r.json["id"]

    def setUp(self):
        shutil.rmtree(self.path("data"), ignore_errors=True)
        build_tree(self.picd.state_dir, big=self._testMethodName.startswith("test_round_trip"))
        self.want = as_restored(data_tree(self.picd.state_dir))

    def assertNoLeftovers(self):
        self.assertEqual([n for n in os.listdir(self.picd.state_dir) if n.startswith(".restore-")], [])
        self.assertEqual([n for n in os.listdir(self.path("backups")) if ".tmp-" in n], [])

    def test_round_trip_same_cell_and_fresh_cell(self):
        p = self.picd
        bid = self.backup()
        self.assertNoLeftovers()
        with tarfile.open(self.archive(bid), "r:gz") as t:
            names = t.getnames()
        self.assertIn("data.index", names)
        self.assertIn("data/files/alice/Ünïcødé – naïve café ☃.txt", names)
        self.assertIn("data/mail/alice/Maildir/cur/1700000001.M1P101.cell,S=201,W=206:2,S", names)

        # The live tree changes in every way a restore must undo.
        shutil.rmtree(self.path("data", "mail"))
        os.unlink(self.path("data", "files", "alice", "disk image.iso"))
        with open(self.path("data", "files", "alice", "a=b,c;d:e.txt"), "wb") as f:
            f.write(b"changed")
        with open(self.path("data", "files", "alice", "added after.txt"), "wb") as f:
            f.write(b"gone after the restore")
        r = p.post(f"/api/config/restore/{bid}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(data_tree(p.state_dir), self.want)
        self.assertNoLeftovers()

        # A new cell (new state dir) given the key file and the archive gets the same tree.
        fresh = Picd()
        try:
            os.makedirs(os.path.join(fresh.state_dir, "keys"), mode=0o700)
            os.makedirs(os.path.join(fresh.state_dir, "backups"), mode=0o700)
            shutil.copy(self.path("keys", "backup.key"), os.path.join(fresh.state_dir, "keys", "backup.key"))
            shutil.copy(self.archive(bid), os.path.join(fresh.state_dir, "backups", bid + ".tar.gz"))
            fresh.start()
            fresh.admin()
            self.assertFalse(any(os.path.exists(os.path.join(fresh.state_dir, "data", t)) for t in TREES))
            r = fresh.post(f"/api/config/restore/{bid}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(data_tree(fresh.state_dir), self.want)
            # The restored cell is the backed-up one: its admin token works there.
            fresh.token = p.token
            self.assertEqual(fresh.get("/api/config").status, 200)
            self.assertEqual(fresh.stop(), 0)
        finally:
            fresh.cleanup()
            if getattr(fresh, "log", None):
                fresh.log.close()

    def vm_hwm_kib(self):
        with open(f"/proc/{self.picd.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    def test_download_streams_a_large_archive(self):
        with open(self.path("data", "files", "alice", "video.mkv"), "wb") as f:
            f.write(secrets.token_bytes(48 << 20))  # nothing gzip can shrink
        bid = self.backup()
        size = os.path.getsize(self.archive(bid))
        self.assertGreater(size, 48 << 20)
        before = self.vm_hwm_kib()
        conn = __import__("http.client").client.HTTPConnection(self.picd.host, self.picd.port, timeout=60)
        try:
            conn.request("GET", f"/api/config/backups/{bid}/download",
                         headers={"Authorization": f"Bearer {self.picd.token}"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(int(resp.headers["Content-Length"]), size)
            h, got = hashlib.sha256(), 0
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                got += len(chunk)
        finally:
            conn.close()
        self.assertEqual(got, size)
        self.assertEqual(h.hexdigest(), sha256_file(self.archive(bid)))
        # Streamed from the file: picd's peak RSS did not grow by anything like the archive's size.
        self.assertLess(self.vm_hwm_kib() - before, 16 * 1024)

    def rewrite(self, bid, change):
        """Rewrites the archive with change(name, data) -> data applied to each member (same order)."""
        members = read_members(self.archive(bid))
        with tarfile.open(self.archive(bid), "w:gz", format=tarfile.PAX_FORMAT) as t:
            for info, data in members:
                data = change(info.name, data)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))

    def expect_refused(self, bid):
        live = data_tree(self.picd.state_dir)
        r = self.picd.post(f"/api/config/restore/{bid}")
        self.assertError(r, 422)
        self.assertEqual(data_tree(self.picd.state_dir), live)
        self.assertNoLeftovers()
        return r

    def test_tampered_data_is_refused_and_nothing_changes(self):
        bid = self.backup()
        with open(self.path("data", "files", "alice", "private.txt"), "w") as f:
            f.write("changed since the backup\n")
        target = "data/files/alice/Ünïcødé – naïve café ☃.txt"

        def flip(name, data):
            return data[:5] + bytes([data[5] ^ 1]) + data[6:] if name == target else data
        self.rewrite(bid, flip)
        r = self.expect_refused(bid)
        self.assertIn("does not match", r.json["error"]["message"])

        # An index that lists another hash (or another file) without the key's signature: refused too.
        bid = self.backup()
        self.rewrite(bid, lambda n, d: d.replace(b"empty.txt", b"EMPTY.txt") if n == "data.index" else d)
        self.expect_refused(bid)

        # Signed with the cell's own key (a leaked key), an index naming a path that climbs out is still refused.
        bid = self.backup()
        with open(self.path("keys", "backup.key")) as f:
            key = bytes.fromhex(f.read().strip())
        members = read_members(self.archive(bid))
        evil = b"f 0644 0 0 1.000000000 5 " + hashlib.sha256(b"owned").hexdigest().encode() + b" data/../evil-data\n"
        index = next(d for i, d in members if i.name == "data.index") + evil
        m = json.loads(members[0][1])
        m["data"].update(index_size=len(index), index_sha256=hashlib.sha256(index).hexdigest(),
                         files=m["data"]["files"] + 1, bytes=m["data"]["bytes"] + 5)
        with tarfile.open(self.archive(bid), "w:gz", format=tarfile.PAX_FORMAT) as t:
            for info, data in members:
                data = sign(m, key) if info.name == "manifest.json" else index if info.name == "data.index" else data
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo("data/../evil-data")
            info.size = 5
            t.addfile(info, io.BytesIO(b"owned"))
        self.expect_refused(bid)
        self.assertFalse(os.path.exists(os.path.join(self.picd.state_dir, "evil-data")))

    def test_a_name_outside_the_grammar_fails_the_backup_naming_it(self):
        before = sorted(os.listdir(self.path("backups"))) if os.path.isdir(self.path("backups")) else []
        home = self.path("data", "files", "alice")
        cases = [
            (os.path.join(home, "tab\there.txt"), "data/files/alice/tab\\x09here.txt"),
            (os.path.join(home.encode(), b"latin1-\xe9t\xe9.txt"), "data/files/alice/latin1-\\xe9t\\xe9.txt"),
        ]
        for path, shown in cases:
            with self.subTest(name=shown):
                with open(path, "wb") as f:
                    f.write(b"x")
                r = self.picd.post("/api/config/backup")
                self.assertError(r, 409)
                self.assertIn(shown, r.json["error"]["message"])
                os.unlink(path)
        os.symlink("/etc/passwd", os.path.join(home, "a link"))
        r = self.picd.post("/api/config/backup")
        self.assertError(r, 409)
        self.assertIn("data/files/alice/a link", r.json["error"]["message"])
        self.assertIn("symbolic link", r.json["error"]["message"])
        os.unlink(os.path.join(home, "a link"))
        self.assertEqual(sorted(os.listdir(self.path("backups"))), before)
        self.assertNoLeftovers()
        self.backup()

    def test_crash_mid_swap_rolls_data_forward(self):
        """A restore journaled, then killed after the live data/ moved out: the next start finishes it."""
        bid = self.backup()
        with open(self.path("data", "files", "alice", "after.txt"), "w") as f:
            f.write("after\n")
        self.picd.kill9()
        name = ".restore-" + secrets.token_hex(6)
        new = self.path(name, "new")
        os.makedirs(self.path(name, "old"))
        with tarfile.open(self.archive(bid), "r:gz") as t:
            members = [m for m in t.getmembers() if m.name not in ("manifest.json", "data.index")]
            t.extractall(new, members=members, numeric_owner=True)
        # What backup_restore() gives each entry beyond its bytes, from the index: empty dirs, modes, owners, mtimes.
        index = next(d for i, d in read_members(self.archive(bid)) if i.name == "data.index")
        for line in index.decode().splitlines():
            kind, mode, uid, gid, rest = line.split(" ", 4)
            if kind == "d":
                p = os.path.join(new, rest)
                os.makedirs(p, exist_ok=True)
            else:
                mtime, _, _, rel = rest.split(" ", 3)
                p = os.path.join(new, rel)
                sec, nsec = mtime.split(".")
                os.utime(p, ns=(int(sec) * 10**9 + int(nsec),) * 2)
            os.chown(p, int(uid), int(gid))
            os.chmod(p, int(mode, 8))
        os.makedirs(os.path.join(new, "etc"), exist_ok=True)
        shutil.copy(self.path("keys", "backup.key"), os.path.join(new, "keys", "backup.key"))
        with open(self.path("restore-journal"), "w") as f:
            f.write(f"pic-restore-journal 1\n{name}\nforward\n")
        os.rename(self.path("data"), self.path(name, "old", "data"))
        self.picd.start()
        self.assertIn("finished a restore", self.picd.logs())
        self.assertEqual(data_tree(self.picd.state_dir), self.want)
        self.assertFalse(os.path.exists(self.path(name)))


if __name__ == "__main__":
    main()
