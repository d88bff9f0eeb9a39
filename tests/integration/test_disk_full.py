"""A full disk under the state dir: every mutation answers 507 insufficient_storage naming the file it could
not write (never 409, which clients read as "name taken"), changes nothing, and the cell works again as soon
as space is freed. picd's state dir is a tmpfs of its own, mounted on a temp dir this test made."""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pic import ApiAssertions, Picd, main, run  # noqa: E402

TMPFS_SIZE = "16m"


class DiskFullTest(unittest.TestCase, ApiAssertions):
    @classmethod
    def setUpClass(cls):
        cls.mnt = tempfile.mkdtemp(prefix="picd-full-")
        cls.logdir = tempfile.TemporaryDirectory(prefix="picd-full-log-")
        run("mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", cls.mnt)
        cls.picd = Picd(state_dir=cls.mnt)
        # The log lives elsewhere: on the full disk it would be lost exactly when it matters.
        cls.picd.log_path = os.path.join(cls.logdir.name, "picd.log")
        cls.filler = os.path.join(cls.mnt, "filler")
        try:
            cls.picd.start()
            cls.picd.admin()
        except Exception:
            print(cls.picd.logs())
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = None
        try:
            rc = cls.picd.stop()
        finally:
            cls.picd.cleanup()
            if subprocess.run(["umount", cls.mnt]).returncode != 0:
                subprocess.run(["umount", "-l", cls.mnt])
            os.rmdir(cls.mnt)
            cls.logdir.cleanup()
        if rc not in (0, None):
            raise AssertionError(f"picd exited {rc} on SIGTERM:\n{cls.picd.logs()}")

    def fill(self):
        """Fills the tmpfs to its last byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (1 << 20, 4096, 1):
                for _ in range(1 << 16):
                    try:
                        os.write(fd, b"\0" * chunk)
                    except OSError as e:
                        self.assertEqual(e.errno, 28, e)
                        break
        finally:
            os.close(fd)
        st = os.statvfs(self.mnt)
        self.assertEqual(st.f_bavail, 0)

    def free(self):
        os.unlink(self.filler)

    def assertFull(self, r, names):
        """507, the envelope, code insufficient_storage, and the message names the file below the state dir."""
        self.assertError(r, 507)
        self.assertEqual(r.json["error"]["code"], "insufficient_storage", r)
        self.assertIn(os.path.join(self.mnt, names), r.json["error"]["message"])

    def state(self):
        p = self.picd
        return {
            "config": p.get("/api/config").json,
            "peers": p.get("/api/peers").json,
            "records": p.get("/api/dns/records").json,
            "backups": sorted(b["id"] for b in p.get("/api/config/backups").json["backups"]),
            "backups_dir": sorted(os.listdir(os.path.join(self.mnt, "backups")))
            if os.path.isdir(os.path.join(self.mnt, "backups")) else [],
            "keys": sorted(os.listdir(os.path.join(self.mnt, "keys"))),
        }

    def test_full_disk_is_507_naming_the_file_and_changes_nothing(self):
        p = self.picd
        self.fill()
        try:
            before = self.state()
            # The first backup also makes the cell's backup key: the key file is what cannot be written.
            self.assertFull(p.post("/api/config/backup"), "keys/backup.key")
            self.assertFull(p.put("/api/config", {"cell_name": "after"}), "picd.db")
            self.assertFull(p.post("/api/dns/records", {"name": "nas", "type": "A", "value": "172.20.0.99"}),
                            "picd.db")
            self.assertFull(p.post("/api/peers", {"name": "phone"}), "picd.db")
            self.assertEqual(self.state(), before)
        finally:
            self.free()

        # Space again: the same requests succeed, without a restart.
        r = p.post("/api/config/backup")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(p.put("/api/config", {"cell_name": "after"}).status, 200)
        self.assertEqual(p.get("/api/config").json["cell_name"], "after")
        self.assertEqual(p.post("/api/dns/records", {"name": "nas", "type": "A", "value": "172.20.0.99"}).status,
                         201)
        self.assertEqual(p.post("/api/peers", {"name": "phone"}).status, 201)

        # With a key in place, a backup that does not fit names the file it was writing.
        self.fill()
        try:
            before = self.state()
            r = p.post("/api/config/backup")
            self.assertFull(r, "backups/")
            self.assertEqual(self.state(), before)
        finally:
            self.free()
        self.assertEqual(p.post("/api/config/backup").status, 201)

    def free_bytes(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def test_data_that_does_not_fit_is_507_and_leaves_nothing(self):
        """Users' data hard-linked into the snapshot costs no space, so the archive is what overflows: 507 naming
        it, no partial archive, no snapshot left. A restore that cannot fit says so before it writes a byte."""
        p = self.picd
        data = os.path.join(self.mnt, "data", "files", "alice")
        os.makedirs(data)
        try:
            self.assertEqual(p.post("/api/config/backup").status, 201)  # the key exists from here
            # Random (gzip cannot shrink it) and larger than what is left once it is written.
            with open(os.path.join(data, "video.mkv"), "wb") as f:
                f.write(secrets.token_bytes(self.free_bytes() * 6 // 10))
            before = self.state()
            self.assertFull(p.post("/api/config/backup"), "backups/")
            self.assertEqual(self.state(), before)
            self.assertEqual([n for n in os.listdir(os.path.join(self.mnt, "backups")) if ".tmp-" in n], [])

            # A backup that fits, then one more file: the restore needs more room than there is.
            os.unlink(os.path.join(data, "video.mkv"))
            with open(os.path.join(data, "video.mkv"), "wb") as f:
                f.write(secrets.token_bytes(self.free_bytes() * 4 // 10))
            r = p.post("/api/config/backup")
            self.assertEqual(r.status, 201, r)
            bid = r.json["id"]
            with open(os.path.join(data, "later.bin"), "wb") as f:
                f.write(secrets.token_bytes(self.free_bytes() // 2))
            before = self.state()
            r = p.post(f"/api/config/restore/{bid}")
            self.assertFull(r, ".restore-")
            self.assertIn("not enough space to restore", r.json["error"]["message"])
            self.assertEqual(self.state(), before)
            self.assertTrue(os.path.exists(os.path.join(data, "later.bin")))
            self.assertEqual([n for n in os.listdir(self.mnt) if n.startswith(".restore-")], [])
        finally:
            shutil.rmtree(os.path.join(self.mnt, "data"), ignore_errors=True)
            # The other test starts from a cell that never made a backup (no key, no archive).
            shutil.rmtree(os.path.join(self.mnt, "backups"), ignore_errors=True)
            if os.path.exists(os.path.join(self.mnt, "keys", "backup.key")):
                os.unlink(os.path.join(self.mnt, "keys", "backup.key"))


if __name__ == "__main__":
    main()
