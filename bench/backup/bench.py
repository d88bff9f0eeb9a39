"""bench/backup: backup and restore time of a cell holding BENCH_DATA_MB of users' data (many small calendar/mail-like
files, some medium and one large incompressible file), against GNU tar + gzip -1 and tar -xzf on the same tree.
Started by bench/backup/run.sh."""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("PIC_BUILD_DIR", sys.argv[1])
os.environ.setdefault("PIC_SOURCE_DIR", ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from pic import Picd  # noqa: E402

DATA_MB = int(os.environ.get("BENCH_DATA_MB", "1024"))
SMALL = int(os.environ.get("BENCH_SMALL", "20000"))


def make_tree(root):
    """SMALL files of 1-4 KiB in 100 dirs (text: compresses), 10% of the volume in 1 MiB files, the rest in one
    file (random: compresses not at all, like photos and videos)."""
    total = DATA_MB << 20
    small = 0
    for i in range(SMALL):
        d = os.path.join(root, "mail", f"user{i % 10}", "Maildir", "cur" if i % 3 else "new")
        os.makedirs(d, exist_ok=True)
        body = (f"From: a@b\r\nSubject: message {i}\r\n\r\n" + "lorem ipsum dolor sit amet " * (30 + i % 120)).encode()
        with open(os.path.join(d, f"17000{i:05d}.M{i}P1.cell,S={len(body)}:2,S"), "wb") as f:
            f.write(body)
        small += len(body)
    medium_dir = os.path.join(root, "files", "alice", "Photos")
    os.makedirs(medium_dir)
    n_medium = max(0, (total // 10) >> 20)
    for i in range(n_medium):
        with open(os.path.join(medium_dir, f"IMG_{i:04d}.jpg"), "wb") as f:
            f.write(secrets.token_bytes(1 << 20))
    rest = max(0, total - small - (n_medium << 20))
    with open(os.path.join(root, "files", "alice", "video.mkv"), "wb") as f:
        while rest > 0:
            k = min(rest, 16 << 20)
            f.write(secrets.token_bytes(k))
            rest -= k
    return SMALL + n_medium + 1


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def drop_caches():
    """With BENCH_DROP_CACHES=1 (a machine of its own), each run reads from the disk as a first backup would, not
    from what the previous one left cached."""
    subprocess.run(["sync"], check=True)
    if os.environ.get("BENCH_DROP_CACHES") != "1":
        return
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def main():
    p = Picd()
    ref = tempfile.mkdtemp(prefix="pic-bench-backup-ref-")
    try:
        p.start()
        p.admin()
        files = make_tree(os.path.join(p.state_dir, "data"))
        drop_caches()
        t_backup, r = timed(lambda: p.post("/api/config/backup", timeout=3600))
        assert r.status == 201, r
        bid, size = r.json["id"], r.json["size"]
        drop_caches()
        t_restore, r = timed(lambda: p.post(f"/api/config/restore/{bid}", timeout=3600))
        assert r.status == 200, r
        drop_caches()
        tgz = os.path.join(ref, "ref.tar.gz")
        t_tar, _ = timed(lambda: subprocess.run(["tar", "-I", "gzip -1", "-cf", tgz, "-C", p.state_dir, "data"],
                                                check=True))
        drop_caches()
        out = os.path.join(ref, "x")
        os.mkdir(out)
        t_untar, _ = timed(lambda: subprocess.run(["tar", "-xzf", tgz, "-C", out], check=True))
        ref_size = os.path.getsize(tgz)
    finally:
        p.stop()
        p.cleanup()
        shutil.rmtree(ref, ignore_errors=True)
    mib = DATA_MB
    rows = [("picd backup", t_backup, size), ("tar -I 'gzip -1' -c", t_tar, ref_size),
            ("picd restore", t_restore, None), ("tar -xzf", t_untar, None)]
    print(f"data: {mib} MiB in {files} files; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    print(f"{'what':<22}{'seconds':>9}{'MiB/s':>9}{'archive MiB':>13}")
    for name, secs, sz in rows:
        print(f"{name:<22}{secs:>9.1f}{mib / secs:>9.1f}{'' if sz is None else f'{sz / 2**20:.1f}':>13}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", time.strftime("backup-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    with open(path, "w") as f:
        json.dump({"data_mib": mib, "files": files, "load": os.getloadavg()[0],
                   "rows": [{"what": n, "seconds": s, "archive_bytes": z} for n, s, z in rows]}, f, indent=2)
    print(f"written {path}")


if __name__ == "__main__":
    main()
