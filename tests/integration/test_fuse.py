"""strata-fuse mounts the namespace for real (/dev/fuse) and any program uses
it as a local directory: the same random sequence of file operations gives
the same results through the mount as in a plain local directory (and what
strata stored is what the local directory holds); a file the S3 gateway read
is a cache hit when read through the mount; a dead worker or master makes
the calls fail with EIO within a bound, never a hang or a dead mount;
SIGTERM and fusermount3 -u unmount cleanly; bad options are refused with
the option named."""
import ctypes
import errno
import fcntl
import json
import mmap
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import boto3
import botocore.config

from harness import (BUILD_DIR, ClusterTestCase, Daemon, get_json, main, request, wait_for,
                     wait_heartbeats)

FUSE_BIN = os.path.join(BUILD_DIR, "fuse", "strata-fuse")
MiB = 1 << 20
SEED = int(os.environ.get("STRATA_FUSE_SEED", "20261203"))


def fuse_missing():
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (no FUSE in this kernel or container)"
    if not shutil.which("fusermount3"):
        return "fusermount3 is not installed (Debian package fuse3)"
    return None


def is_mounted(path):
    """From the mount table (os.path.ismount stats the mount point, which a
    FUSE mount may answer with an error)."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def fuse_pids(mnt):
    """Processes of strata-fuse serving mnt."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"strata-fuse") and mnt.encode() in argv:
            pids.append(int(pid))
    return pids


def unmount(path):
    """fusermount3 -u, then a lazy unmount if the mount is busy."""
    if not is_mounted(path):
        return 0
    r = subprocess.run(["fusermount3", "-u", path], capture_output=True)
    if r.returncode != 0 and is_mounted(path):
        subprocess.run(["fusermount3", "-uz", path], capture_output=True)
    return r.returncode


def print_stacks(d, why):
    """Every thread's stack of a daemon that should have ended (gdb), on
    stderr: what it waits for is the first thing to know."""
    try:
        out = subprocess.run(["gdb", "-p", str(d.proc.pid), "-batch", "-ex",
                              "thread apply all bt"], capture_output=True, text=True,
                             timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        out = f"(gdb: {e})"
    print(f"\n----- {why}: its threads -----\n{out}", file=sys.stderr, flush=True)


class FuseTestCase(ClusterTestCase):
    def setUp(self):
        why = fuse_missing()
        if why:
            self.skipTest(why)
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.mounts = []
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "master.worker_timeout": "30s"})

    def tearDown(self):
        # Unmount before the daemons stop and before the temp dir is removed
        # (a removal through a live mount would delete from strata).
        try:
            for mnt, d in self.mounts:
                if d is None:  # mounted by mount.fuse3: a daemon of its own
                    self.assertEqual(unmount(mnt), 0, "fusermount3 -u")
                    wait_for(lambda: not fuse_pids(mnt), what="strata-fuse to exit")
                    continue
                rc = unmount(mnt)
                try:
                    code = d.proc.wait(30)
                except subprocess.TimeoutExpired:
                    code = None
                    print_stacks(d, f"strata-fuse {mnt} still running 30 s after its unmount")
                self.assertFalse(is_mounted(mnt), f"{mnt} still mounted")
                if not getattr(d, "expect_dead", False):
                    self.assertEqual((rc, code), (0, 0),
                                     "fusermount3 -u and strata-fuse's exit code")
        finally:
            for mnt, d in self.mounts:
                if is_mounted(mnt):
                    subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
                if d is None:
                    for pid in fuse_pids(mnt):
                        os.kill(pid, signal.SIGKILL)
                    continue
                d.kill()
                if not d.log.closed:
                    d.log.close()
            super().tearDown()

    def start_worker(self, name="worker", settings=None):
        w = self.cluster.worker(self.m, name=name, settings=settings)
        wait_for(lambda: any(x["state"] == "live" and x["address"] == w.address
                             for x in get_json(self.m.url + "/api/v1/workers")[1]["workers"]),
                 what=f"{name} to register")
        return w

    def mount(self, *opts, name="mnt", masters=None):
        mnt = os.path.join(self.tmp, name)
        os.makedirs(mnt, exist_ok=True)
        masters = masters or [self.m]
        argv = [FUSE_BIN, mnt, "--master", ",".join(m.address for m in masters), "-f"]
        for o in opts:
            argv += ["-o", o]
        d = Daemon(f"strata-fuse {name}", argv, self.cluster.env(),
                   os.path.join(self.tmp, f"{name}.log"), None)
        self.cluster.daemons.append(d)
        d.start()
        self.mounts.append((mnt, d))

        def mounted():
            if d.proc.poll() is not None:
                raise AssertionError(f"strata-fuse exited with {d.proc.returncode}:\n"
                                     + d.read_log())
            return is_mounted(mnt)
        wait_for(mounted, what=f"{mnt} to be mounted")
        return mnt, d

    def counters(self, workers):
        """The workers' counters, summed."""
        total = {}
        for w in workers:
            for k, v in get_json(w.url + "/api/v1/metrics")[1]["counters"].items():
                total[k] = total.get(k, 0) + v
        return total

    def timed_call(self, fn, bound):
        """Runs fn in a thread; returns (result or exception, seconds). A
        call still blocked after bound seconds fails the test (a hang)."""
        out = {}

        def run():
            t0 = time.monotonic()
            try:
                out["value"] = fn()
            except Exception as e:  # noqa: BLE001 - the test inspects it
                out["value"] = e
            out["took"] = time.monotonic() - t0
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(bound)
        self.assertFalse(t.is_alive(), f"the call hung for more than {bound} s")
        return out["value"], out["took"]


# ---- the random-operation comparison -------------------------------------

FILES = ["x.bin", "y.txt", "z"]
DIRS = ["", "a", "b", "a/c"]


def outcome(fn):
    """("ok", value) or ("err", errno name): what an operation did."""
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


HOPEN_FLAGS = {"trunc": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
               "append": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
               "rw": os.O_RDWR | os.O_CREAT,
               "r": os.O_RDONLY}


def close_handles(handles):
    """Closes what do_op's hopen left open; each close's outcome."""
    out = {}
    for slot in sorted(handles):
        out[slot] = outcome(lambda: os.close(handles.pop(slot)))
    return out


def do_op(base, op, handles):
    """op in base. handles: the descriptors hopen keeps open (slot -> fd)
    across operations, which hwrite writes and fsyncs, and hclose closes."""
    kind, args = op[0], op[1:]
    p = lambda rel: os.path.join(base, rel)  # noqa: E731
    if kind == "hopen":
        # The open is fsynced: a new or truncated file is stored at once,
        # so other opens find what a local directory would show them.
        def f():
            if args[0] in handles:
                os.close(handles.pop(args[0]))
            fd = os.open(p(args[1]), HOPEN_FLAGS[args[2]], 0o644)
            handles[args[0]] = fd
            os.fsync(fd)
    elif kind == "hwrite":
        if args[0] not in handles:
            return ("no handle",)

        def f():
            n = os.write(handles[args[0]], args[1])
            os.fsync(handles[args[0]])
            return n
    elif kind == "hread":
        if args[0] not in handles:
            return ("no handle",)

        def f():
            return os.pread(handles[args[0]], args[2], args[1])
    elif kind == "hclose":
        if args[0] not in handles:
            return ("no handle",)

        def f():
            return os.close(handles.pop(args[0]))
    elif kind == "write":
        def f():
            with open(p(args[0]), "wb") as fh:
                return fh.write(args[1])
    elif kind == "append":
        def f():
            with open(p(args[0]), "ab") as fh:
                return fh.write(args[1])
    elif kind == "pwrite":
        def f():
            with open(p(args[0]), "r+b") as fh:
                fh.seek(args[1])
                return fh.write(args[2])
    elif kind == "read":
        def f():
            with open(p(args[0]), "rb") as fh:
                return fh.read()
    elif kind == "pread":
        def f():
            with open(p(args[0]), "rb") as fh:
                fh.seek(args[1])
                return fh.read(args[2])
    elif kind == "mkdir":
        def f():
            return os.mkdir(p(args[0]))
    elif kind == "unlink":
        def f():
            return os.unlink(p(args[0]))
    elif kind == "rmdir":
        def f():
            return os.rmdir(p(args[0]))
    elif kind == "rename":
        def f():
            return os.rename(p(args[0]), p(args[1]))
    elif kind == "truncate":
        def f():
            return os.truncate(p(args[0]), args[1])
    elif kind == "listdir":
        def f():
            return sorted(os.listdir(p(args[0])))
    elif kind == "stat":
        def f():
            st = os.stat(p(args[0]))
            return ("dir", 0) if os.path.isdir(p(args[0])) else ("file", st.st_size)
    else:
        raise ValueError(kind)
    return outcome(f)


KINDS = ["write", "append", "pwrite", "read", "pread", "mkdir", "unlink", "rmdir", "rename",
         "truncate", "listdir", "stat", "hopen", "hwrite", "hclose", "hread"]
WEIGHTS = [12, 5, 5, 10, 6, 10, 6, 5, 8, 5, 6, 6, 0, 0, 0, 0]
# Open handles against what moves and removes their files: fewer names,
# more handles, renames and unlinks.
HANDLE_WEIGHTS = [4, 2, 2, 4, 2, 6, 8, 4, 14, 4, 3, 3, 12, 16, 3, 10]


def random_ops(rng, n, files=FILES, dirs=DIRS, weights=WEIGHTS):
    """n operations over a small set of names, so they collide: files over
    directories, renames onto existing names, removals of full directories,
    handles kept open across it all."""
    def path():
        # Mostly files where files go; sometimes a directory's name.
        if rng.random() < 0.1:
            return rng.choice(dirs[1:])
        d = rng.choice(dirs)
        return f"{d}/{rng.choice(files)}" if d else rng.choice(files)

    def data():
        size = rng.choice([0, 1, 100, 4096, 70000, 300000])
        return rng.randbytes(size)
    ops = [("mkdir", d) for d in dirs[1:]]
    while len(ops) < n:
        k = rng.choices(KINDS, weights=weights)[0]
        if k == "hopen":
            ops.append((k, rng.randrange(2), path(), rng.choice(sorted(HOPEN_FLAGS))))
        elif k == "hwrite":
            ops.append((k, rng.randrange(2), rng.randbytes(rng.choice([1, 100, 5000]))))
        elif k == "hclose":
            ops.append((k, rng.randrange(2)))
        elif k == "hread":
            ops.append((k, rng.randrange(2), rng.choice([0, 0, 50, 4000]),
                        rng.choice([10, 5000, 100000])))
        elif k in ("write", "append"):
            ops.append((k, path(), data()))
        elif k == "pwrite":
            ops.append((k, path(), rng.randrange(0, 400000), rng.randbytes(rng.randrange(1, 9000))))
        elif k == "pread":
            ops.append((k, path(), rng.randrange(0, 400000), rng.randrange(1, 200000)))
        elif k == "rename":
            ops.append((k, rng.choice([path(), rng.choice(dirs[1:])]), path()))
        elif k == "truncate":
            ops.append((k, path(), rng.choice([0, 0, 10, 5000, 500000])))
        elif k == "listdir":
            ops.append((k, rng.choice(dirs)))
        elif k in ("mkdir", "rmdir"):
            ops.append((k, rng.choice([path(), rng.choice(dirs[1:])])))
            if k == "rmdir" and rng.random() < 0.5:
                ops.append(("mkdir", rng.choice(dirs[1:])))
        else:
            ops.append((k, path()))
    return ops


def left_out(base, op, handles):
    """Whether the comparison leaves op out, judged in the local directory
    base, because strata differs there by design (docs/fuse.md):
    - a second writer of a file a handle holds (the same inode): strata
      stores whole versions, a local directory merges their bytes;
    - a truncate of a file a read-only handle holds: that reader keeps
      reading the version it opened;
    - a read through a read-only handle of a file deleted (or renamed
      over) since: strata reads by path, and the path is gone."""
    def held(path, read_only=False):
        try:
            ino = os.stat(os.path.join(base, path)).st_ino
        except OSError:
            return False
        return any(os.fstat(fd).st_ino == ino and
                   (not read_only or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY)
                   for fd in handles.values())
    if op[0] in ("write", "append", "pwrite"):
        return held(op[1])
    if op[0] == "hopen":
        return held(op[2])
    if op[0] == "truncate":
        return held(op[1], read_only=True)
    if op[0] == "hread" and op[1] in handles:
        fd = handles[op[1]]
        return (fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY and
                os.fstat(fd).st_nlink == 0)
    return False


def tree(base):
    """{relative path: ("dir", None) or ("file", content)} below base."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d))] = ("dir", None)
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[os.path.normpath(os.path.join(rel, f))] = ("file", fh.read())
    return out


def short(op):
    return tuple(f"<{len(a)} bytes>" if isinstance(a, bytes) else a for a in op)


class FuseSemanticsTest(FuseTestCase):
    def compare_random_ops(self, mnt, seed, n, name="t", **kinds):
        """n seeded random operations in mnt/t and in a local directory:
        the same result each, the same tree at the end. The kinds of
        operation that succeeded locally."""
        os.mkdir(os.path.join(mnt, name))
        local = os.path.join(self.tmp, "local" if name == "t" else f"local-{name}")
        os.mkdir(local)
        done = []
        succeeded = set()
        hlocal, hmount = {}, {}
        try:
            for i, op in enumerate(random_ops(random.Random(seed), n, **kinds)):
                if left_out(local, op, hlocal):
                    continue
                want = do_op(local, op, hlocal)
                if want[0] == "ok":
                    succeeded.add(op[0])
                got = do_op(os.path.join(mnt, name), op, hmount)
                done.append(short(op))
                if got != want:
                    self.fail(f"seed {seed} (STRATA_FUSE_SEED), op {i} {short(op)}: local "
                              f"gave {str(want)[:200]}, the mount {str(got)[:200]}; ops so "
                              "far:\n" + "\n".join(map(str, done[-15:])))
        except BaseException:
            close_handles(hmount)  # held descriptors would keep the mount busy
            close_handles(hlocal)
            raise
        self.assertEqual(close_handles(hmount), close_handles(hlocal), "closing the handles")
        self.assertEqual(tree(os.path.join(mnt, name)), tree(local), "the trees differ")
        return succeeded

    def test_random_operations_match_a_local_directory(self):
        self.start_worker()
        mnt, _ = self.mount()
        local = os.path.join(self.tmp, "local")
        succeeded = self.compare_random_ops(mnt, SEED, 400)
        if "STRATA_FUSE_SEED" not in os.environ:  # (another seed may not reach them all)
            self.assertEqual(len(succeeded), 12, "every kind of operation succeeded at least once")
        # What strata stored in its store is the same tree.
        self.assertEqual(tree(os.path.join(self.root, "t")), tree(local),
                         "the store holds what the mount showed")

    def test_random_operations_with_open_handles(self):
        """Handles held open while their files (and directories) are
        renamed, replaced, truncated and unlinked: the same results as a
        local directory (another seed, fewer names)."""
        self.start_worker()
        mnt, _ = self.mount()
        succeeded = set()
        for k, name in ((3, "t"), (4, "t2")):  # (between them, every kind succeeds)
            succeeded |= self.compare_random_ops(mnt, SEED + k, 400, name=name, files=["x", "y"],
                                                 dirs=["", "a"], weights=HANDLE_WEIGHTS)
        if "STRATA_FUSE_SEED" not in os.environ:  # (another seed may not reach them all)
            self.assertEqual(len(succeeded), 16, "every kind of operation succeeded at least once")

    def test_random_operations_without_caches(self):
        """The same comparison (another seed) with every cache off: each
        call goes to the master."""
        self.start_worker()
        mnt, _ = self.mount("attr_timeout=0", "entry_timeout=0", "negative_timeout=0",
                            "dir_timeout=0")
        self.compare_random_ops(mnt, SEED + 1, 200)

    def test_direct_io_mount(self):
        """-o direct_io: the same results as a local directory (another
        seed), a big file read whole and by ranges; a shared mapping is
        refused with ENODEV (the kernel cannot keep one coherent without a
        page cache), a private one reads the file."""
        self.start_worker()
        mnt, _ = self.mount("direct_io")
        self.compare_random_ops(mnt, SEED + 2, 100)
        data = random.Random(7).randbytes(9 << 20)  # three 4 MiB blocks, one partial
        path = os.path.join(mnt, "big.bin")
        with open(path, "wb") as f:
            f.write(data)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
            for off in (0, (4 << 20) - 7, (8 << 20) + 100, (9 << 20) - 10):
                self.assertEqual(os.pread(f.fileno(), 100000, off), data[off:off + 100000])
            with self.assertRaises(OSError) as e:
                mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
            self.assertEqual(e.exception.errno, errno.ENODEV)
            m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
            try:
                self.assertEqual(m[(4 << 20) - 5:(4 << 20) + 5], data[(4 << 20) - 5:(4 << 20) + 5])
            finally:
                m.close()

    def test_changes_made_elsewhere_show_within_the_timeouts(self):
        w = self.start_worker()
        mnt, _ = self.mount("attr_timeout=1", "entry_timeout=1", "dir_timeout=1")
        os.mkdir(os.path.join(mnt, "d"))
        with open(os.path.join(mnt, "d", "f.txt"), "wb") as f:
            f.write(b"one")
        self.assertEqual(os.listdir(os.path.join(mnt, "d")), ["f.txt"])
        self.assertEqual(os.path.getsize(os.path.join(mnt, "d", "f.txt")), 3)

        def put(path, data):  # another client: the worker's data API
            status, _, body = request(f"{w.url}/api/v1/data?path={path}", method="PUT",
                                      body=data)
            self.assertEqual(status, 201, body)
        put("/d/g.txt", b"new file")
        put("/d/f.txt", b"longer content")
        t0 = time.monotonic()
        wait_for(lambda: sorted(os.listdir(os.path.join(mnt, "d"))) == ["f.txt", "g.txt"],
                 timeout=5, what="the new file in the listing")
        wait_for(lambda: os.path.getsize(os.path.join(mnt, "d", "f.txt")) == 14, timeout=5,
                 what="the new size")
        self.assertLess(time.monotonic() - t0, 3, "seen within the 1 s timeouts (and slack)")
        with open(os.path.join(mnt, "d", "f.txt"), "rb") as f:
            self.assertEqual(f.read(), b"longer content")

    def test_rewrite_limits_and_write_type(self):
        w = self.start_worker()
        mnt, _ = self.mount("max_rewrite=1", "write_type=THROUGH")
        big = os.urandom(2 * MiB)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(big)
        with self.assertRaises(OSError) as cm:
            open(os.path.join(mnt, "big.bin"), "r+b")
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
        with self.assertRaises(OSError) as cm:
            os.truncate(os.path.join(mnt, "big.bin"), 10)
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
        with open(os.path.join(self.root, "big.bin"), "rb") as f:
            self.assertEqual(f.read(), big, "a refused rewrite left the file as it was")
        # Replacing it whole (O_TRUNC) is fine, and truncation to 0.
        with open(os.path.join(mnt, "big.bin"), "wb") as f:
            f.write(b"small now")
        with open(os.path.join(self.root, "big.bin"), "rb") as f:
            self.assertEqual(f.read(), b"small now")
        os.truncate(os.path.join(mnt, "big.bin"), 0)
        self.assertEqual(os.path.getsize(os.path.join(self.root, "big.bin")), 0)
        # A path truncate while a writer of the file is open (or closed but
        # not yet released: FUSE's release is asynchronous) is stored by the
        # time truncate(2) returns.
        with open(os.path.join(mnt, "open.bin"), "wb") as f:
            f.write(b"twelve bytes")
            f.flush()
            os.fsync(f.fileno())
            self.assertEqual(os.path.getsize(os.path.join(self.root, "open.bin")), 12)
            os.truncate(os.path.join(mnt, "open.bin"), 6)
            with open(os.path.join(self.root, "open.bin"), "rb") as u:
                self.assertEqual(u.read(), b"twelve", "stored while the writer is open")
        with open(os.path.join(self.root, "open.bin"), "rb") as u:
            self.assertEqual(u.read(), b"twelve", "and still so after its close")
        # THROUGH: stored, not cached, so the first read is from the store.
        data = os.urandom(MiB + 3)
        with open(os.path.join(mnt, "through.bin"), "wb") as f:
            f.write(data)
        c0 = self.counters([w])
        with open(os.path.join(mnt, "through.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        c1 = self.counters([w])
        self.assertEqual(c1["bytes_from_ufs_total"] - c0["bytes_from_ufs_total"], len(data))
        # truncate(path) while the file is open for writing cuts what the
        # writer will store; stat shows the writer's size meanwhile.
        with open(os.path.join(mnt, "open.bin"), "wb") as f:
            f.write(b"0123456789" * 10)
            f.flush()
            self.assertEqual(os.path.getsize(os.path.join(mnt, "open.bin")), 100)
            os.truncate(os.path.join(mnt, "open.bin"), 10)
            self.assertEqual(os.path.getsize(os.path.join(mnt, "open.bin")), 10)
        with open(os.path.join(self.root, "open.bin"), "rb") as f:
            self.assertEqual(f.read(), b"0123456789")
        # Exchanging two names is refused (strata has no atomic swap).
        libc = ctypes.CDLL(None, use_errno=True)
        a, b = os.path.join(mnt, "big.bin").encode(), os.path.join(mnt, "through.bin").encode()
        self.assertEqual(libc.renameat2(-100, a, -100, b, 2), -1)  # AT_FDCWD, RENAME_EXCHANGE
        self.assertEqual(ctypes.get_errno(), errno.EINVAL)
        # Links are refused, not faked.
        with self.assertRaises(OSError) as cm:
            os.symlink("through.bin", os.path.join(mnt, "link"))
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)

    @unittest.skipUnless(shutil.which("mount.fuse3"), "mount.fuse3 is not installed")
    def test_open_writers_follow_unlink_and_rename(self):
        """A handle open for writing on a file that is unlinked keeps
        working and never brings the name back; one on a file (or below a
        directory) that is renamed stores at the new path."""
        self.start_worker()
        mnt, _ = self.mount()
        m, r = (lambda *p: os.path.join(mnt, *p)), (lambda *p: os.path.join(self.root, *p))
        # mkstemp + unlink (what tempfile.TemporaryFile does where O_TMPFILE
        # is refused): a new file, never stored, unlinked while open.
        with tempfile.TemporaryFile(dir=mnt) as t:
            t.write(b"x" * 100000)
            t.seek(0)
            self.assertEqual(t.read(), b"x" * 100000)
            self.assertEqual(os.listdir(mnt), [], "the unlinked name is gone at once")
        self.assertEqual(os.listdir(mnt), [], "and does not come back at close")
        self.assertEqual(os.listdir(self.root), [], "nor in the store")
        # A stored file unlinked while a writer has it open.
        with open(m("a.txt"), "w+b") as f:
            f.write(b"one")
            f.flush()
            os.fsync(f.fileno())
            self.assertTrue(os.path.exists(r("a.txt")))
            os.unlink(m("a.txt"))
            self.assertFalse(os.path.exists(r("a.txt")), "deleted from the store")
            f.write(b"two")
            f.flush()
            f.seek(0)
            self.assertEqual(f.read(), b"onetwo", "the handle still works")
        self.assertFalse(os.path.exists(m("a.txt")), "not back at close")
        self.assertFalse(os.path.exists(r("a.txt")), "not back in the store either")
        # Renamed while open: the rest lands at the new name.
        with open(m("r1.txt"), "wb") as f:
            f.write(b"abc")
            os.rename(m("r1.txt"), m("r2.txt"))
            f.write(b"def")
        self.assertEqual(sorted(os.listdir(self.root)), ["r2.txt"])
        with open(r("r2.txt"), "rb") as u:
            self.assertEqual(u.read(), b"abcdef")
        # A new file below a directory: rmdir refuses, a rename takes it along.
        os.mkdir(m("d1"))
        with open(m("d1", "n.txt"), "wb") as f:
            f.write(b"below")
            with self.assertRaises(OSError) as cm:
                os.rmdir(m("d1"))
            self.assertEqual(cm.exception.errno, errno.ENOTEMPTY)
            os.rename(m("d1"), m("d2"))
            self.assertEqual(os.listdir(m("d2")), ["n.txt"])
        self.assertFalse(os.path.exists(r("d1")))
        with open(r("d2", "n.txt"), "rb") as u:
            self.assertEqual(u.read(), b"below")
        # Renamed over a file that a writer holds open: that writer is cut off.
        with open(m("dst.txt"), "wb") as g:
            g.write(b"old")
            g.flush()
            with open(m("src.txt"), "wb") as f:
                f.write(b"new")
            os.rename(m("src.txt"), m("dst.txt"))
            g.write(b" and more")
        with open(r("dst.txt"), "rb") as u:
            self.assertEqual(u.read(), b"new", "the renamed file, not the old writer's")
        with open(m("dst.txt"), "rb") as u:
            self.assertEqual(u.read(), b"new")
        self.assertEqual(sorted(os.listdir(self.root)), ["d2", "dst.txt", "r2.txt"])

    def test_open_readers_follow_a_rename(self):
        """A file (or its directory) renamed through the mount while a
        reader has it open: the reader goes on reading it at its new path."""
        self.start_worker()
        data = os.urandom(24 * MiB)
        os.makedirs(os.path.join(self.root, "d"))
        for rel in ("r.bin", "d/f.bin"):
            with open(os.path.join(self.root, rel), "wb") as f:
                f.write(data)
        mnt, _ = self.mount("readahead=0")  # every read below fetches
        for src, dst, rel in (("r.bin", "s.bin", "s.bin"), ("d", "e", "e/f.bin")):
            src_file = "r.bin" if src == "r.bin" else "d/f.bin"
            with open(os.path.join(mnt, src_file), "rb", buffering=0) as f:
                self.assertEqual(f.read(MiB), data[:MiB])
                os.rename(os.path.join(mnt, src), os.path.join(mnt, dst))
                f.seek(16 * MiB)
                self.assertEqual(f.read(MiB), data[16 * MiB:17 * MiB], f"after {src} -> {dst}")
                self.assertEqual(os.fstat(f.fileno()).st_size, len(data))
            with open(os.path.join(mnt, rel), "rb") as f:
                self.assertEqual(f.read(), data)

    def test_reads_get_the_version_opened_from_a_worker_that_knows_an_older_one(self):
        """Close-to-open through a worker whose metadata is stale: the mount
        renames a file over another at the master, which the worker (1 h
        metadata TTL: no epoch check comes between) does not learn; reads name the version they
        opened, so the worker asks the master again instead of serving the
        replaced file (EIO on a length change, else the wrong bytes)."""
        w = self.start_worker(settings={"worker.metadata_ttl": "1h"})
        mnt, _ = self.mount()
        m = lambda *p: os.path.join(mnt, *p)  # noqa: E731
        old, new = b"1", os.urandom(100)
        for name, data in (("z", old), ("x", new)):
            with open(m(name), "wb") as f:
                f.write(data)
        with open(m("z"), "rb") as f:
            self.assertEqual(f.read(), old)  # the worker now knows z's first version
        c0 = self.counters([w])
        os.rename(m("x"), m("z"))
        with open(m("z"), "rb") as f:
            self.assertEqual(f.read(), new)
        # A rewrite (no O_TRUNC) copies what it opened, then appends.
        self.assertEqual(subprocess.run(["sh", "-c", f"printf tail >> {m('z')}"]).returncode, 0)
        with open(os.path.join(self.root, "z"), "rb") as f:
            self.assertEqual(f.read(), new + b"tail")
        c1 = self.counters([w])
        self.assertGreaterEqual(c1["data_version_lookups_total"] - c0["data_version_lookups_total"],
                                1, "the worker looked the file up again")
        # Reads of a file the worker knows as it is cost no extra lookup.
        for _ in range(3):
            with open(m("z"), "rb") as f:
                self.assertEqual(f.read(), new + b"tail")
        self.assertEqual(self.counters([w])["data_version_lookups_total"],
                         c1["data_version_lookups_total"])

    def test_fstab_style_mount_through_mount_fuse3(self):
        """What an /etc/fstab line does: mount.fuse3 SOURCE MOUNTPOINT -t
        strata-fuse -o OPTIONS, the masters as the source, fstab-only
        options taken out by mount.fuse3, strata-fuse a daemon."""
        self.start_worker()
        with open(os.path.join(self.root, "hello.txt"), "w") as f:
            f.write("hello")
        mnt = os.path.join(self.tmp, "fstab")
        os.makedirs(mnt)
        env = self.cluster.env({"PATH": os.path.dirname(FUSE_BIN) + ":" + os.environ["PATH"]})
        r = subprocess.run(["mount.fuse3", self.m.address, mnt, "-t", "strata-fuse", "-o",
                            "_netdev,nofail,noatime,attr_timeout=2,readahead=4"],
                           env=env, capture_output=True, text=True, timeout=30)
        self.mounts.append((mnt, None))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(is_mounted(mnt))
        self.assertEqual(len(fuse_pids(mnt)), 1, "one strata-fuse daemon")
        with open(os.path.join(mnt, "hello.txt")) as f:
            self.assertEqual(f.read(), "hello")
        # A source and --master both: refused, the two named.
        r = subprocess.run([FUSE_BIN, "127.0.0.1:1", os.path.join(self.tmp, "x"), "--master",
                            self.m.address], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("masters given twice: source '127.0.0.1:1'", r.stderr)

    def test_statfs_is_the_cluster_capacity_and_readers_run_together(self):
        ws = [self.start_worker("w1"), self.start_worker("w2")]
        mnt, _ = self.mount()
        workers = get_json(self.m.url + "/api/v1/workers")[1]["workers"]
        cap = sum(x["capacity_bytes"] for x in workers if x["state"] == "live")
        used = sum(x["used_bytes"] for x in workers if x["state"] == "live")
        self.assertGreater(cap, 0)
        sv = os.statvfs(mnt)
        self.assertEqual(sv.f_blocks * sv.f_frsize, cap // 4096 * 4096)
        self.assertEqual(sv.f_bavail * sv.f_frsize, (cap - used) // 4096 * 4096)
        # Eight readers at once over four files of a few blocks each.
        files = {}
        for i in range(4):
            files[f"r{i}.bin"] = os.urandom(9 * MiB + i)
            with open(os.path.join(self.root, f"r{i}.bin"), "wb") as f:
                f.write(files[f"r{i}.bin"])
        errors = []

        def reader(name):
            try:
                with open(os.path.join(mnt, name), "rb") as f:
                    got = f.read()
                if got != files[name]:
                    errors.append(f"{name}: wrong content")
            except OSError as e:
                errors.append(f"{name}: {e}")
        threads = [threading.Thread(target=reader, args=(f"r{i % 4}.bin",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        # The blocks were cached by their owners: both workers hold some.
        c = [self.counters([w]) for w in ws]
        self.assertTrue(all(x["bytes_from_ufs_total"] > 0 for x in c),
                        "each worker read the blocks it owns")


class FuseCacheTest(FuseTestCase):
    def test_a_file_read_through_s3_is_a_cache_hit_through_the_mount(self):
        ws = [self.start_worker("w1"), self.start_worker("w2")]
        # Both know each other (so both place blocks alike) before the read.
        wait_heartbeats(ws)
        os.makedirs(os.path.join(self.root, "bkt", "ds"))
        data = os.urandom(10 * MiB + 123)
        with open(os.path.join(self.root, "bkt", "ds", "part-0.bin"), "wb") as f:
            f.write(data)
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{ws[0].settings['worker.s3_port']}",
                          aws_access_key_id="anykey", aws_secret_access_key="anysecret",
                          region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))
        body = s3.get_object(Bucket="bkt", Key="ds/part-0.bin")["Body"].read()
        self.assertEqual(body, data)
        # Cached: every block is in some worker's tier (they fill their
        # tiers as they serve; the master learns it from heartbeats).
        wait_for(lambda: get_json(self.m.url + "/api/v1/files/stat?path=/bkt/ds/part-0.bin")[1]
                 ["cached_percent"] == 100, what="the file to be cached")
        c0 = self.counters(ws)
        self.assertEqual(c0["bytes_from_ufs_total"], len(data), "the S3 read was a miss")
        mnt, _ = self.mount()
        with open(os.path.join(mnt, "bkt", "ds", "part-0.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        c1 = self.counters(ws)
        self.assertEqual(c1["bytes_from_ufs_total"], c0["bytes_from_ufs_total"],
                         "the mount's read did not go to the store")
        self.assertGreaterEqual(c1["bytes_from_cache_total"] - c0["bytes_from_cache_total"],
                                len(data))
        self.assertGreater(c1["block_hits_total"], c0["block_hits_total"])


class FuseFaultTest(FuseTestCase):
    def test_worker_killed_mid_read_gives_eio_not_a_hang(self):
        w = self.start_worker()
        data = os.urandom(40 * MiB)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(data)
        mnt, d = self.mount("timeout=5", "readahead=1")
        with open(os.path.join(mnt, "big.bin"), "rb", buffering=0) as f:
            self.assertEqual(f.read(MiB), data[:MiB])
            w.kill()
            f.seek(32 * MiB)
            value, took = self.timed_call(lambda: f.read(MiB), 20)
        self.assertIsInstance(value, OSError, f"the read gave {str(value)[:80]}")
        self.assertEqual(value.errno, errno.EIO)
        self.assertLess(took, 12, "EIO within the data timeout")
        # The mount is alive: metadata still answers, and reads keep failing
        # with EIO (not ENOTCONN).
        self.assertTrue(is_mounted(mnt))
        self.assertEqual(sorted(os.listdir(mnt)), ["big.bin"])
        def read_all():
            with open(os.path.join(mnt, "big.bin"), "rb") as f:
                return f.read()
        value, _ = self.timed_call(read_all, 20)
        self.assertIsInstance(value, OSError)
        self.assertEqual(value.errno, errno.EIO)
        self.assertIsNone(d.proc.poll(), "strata-fuse is running")

    def test_a_write_no_worker_can_store_fails_at_close_with_eio(self):
        w = self.start_worker()
        mnt, d = self.mount("timeout=3")
        f = open(os.path.join(mnt, "lost.bin"), "wb")
        f.write(b"x" * 100000)
        w.kill()
        with self.assertRaises(OSError) as cm:
            f.close()  # flush: the upload has no worker to go through
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertFalse(os.path.exists(os.path.join(self.root, "lost.bin")),
                         "nothing was stored")
        self.assertIsNone(d.proc.poll(), "strata-fuse is running")

    def test_dead_master_gives_eio_within_the_master_timeout(self):
        self.start_worker()
        os.makedirs(os.path.join(self.root, "d"))
        data = os.urandom(12 * MiB)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(data)
        mnt, d = self.mount("master_timeout=2", "timeout=3", "readahead=0")
        self.assertEqual(os.listdir(os.path.join(mnt, "d")), [])
        f = open(os.path.join(mnt, "big.bin"), "rb", buffering=0)
        self.addCleanup(f.close)
        self.assertEqual(f.read(MiB), data[:MiB])
        self.m.kill()
        # A file open before the master died: reads go on through the
        # workers known last (once the list is due for a refresh too), or
        # fail with EIO; never a hang.
        time.sleep(2.1)
        f.seek(8 * MiB)
        value, took = self.timed_call(lambda: f.read(MiB), 20)
        self.assertTrue(value == data[8 * MiB:9 * MiB] or
                        (isinstance(value, OSError) and value.errno == errno.EIO), str(value)[:80])
        f.close()
        value, took = self.timed_call(lambda: os.stat(os.path.join(mnt, "not-seen-yet")), 20)
        self.assertIsInstance(value, OSError)
        self.assertEqual(value.errno, errno.EIO)
        self.assertLess(took, 10)
        value, _ = self.timed_call(lambda: os.mkdir(os.path.join(mnt, "d", "new")), 20)
        self.assertIsInstance(value, OSError)
        self.assertEqual(value.errno, errno.EIO)
        # The mount point itself stays a directory; what is in it cannot be
        # listed.
        time.sleep(1.2)  # past attr_timeout and dir_timeout
        self.assertTrue(os.path.isdir(mnt))
        value, _ = self.timed_call(lambda: os.listdir(os.path.join(mnt, "d")), 20)
        self.assertIsInstance(value, OSError)
        self.assertEqual(value.errno, errno.EIO)
        self.assertTrue(is_mounted(mnt))

    def test_sigterm_unmounts_cleanly(self):
        self.start_worker()
        mnt, d = self.mount()
        with open(os.path.join(mnt, "f.txt"), "wb") as f:
            f.write(b"kept")
        # A file still open for writing when the signal comes is stored.
        fd = os.open(os.path.join(mnt, "open.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"stored at unmount")
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(15), 0)
        try:
            os.close(fd)
        except OSError:
            pass  # the connection is gone; what matters is the store
        with open(os.path.join(self.root, "open.txt"), "rb") as f:
            self.assertEqual(f.read(), b"stored at unmount")
        self.assertFalse(is_mounted(mnt))
        self.assertEqual(os.listdir(mnt), [], "the mount point is an empty directory again")
        with open(os.path.join(self.root, "f.txt"), "rb") as f:
            self.assertEqual(f.read(), b"kept")


class FuseAuthTest(FuseTestCase):
    """With REST tokens on, the mount sends the token of -o token_file: a
    readonly token reads, and what it may not do fails with EACCES."""

    def setUp(self):
        why = fuse_missing()
        if why:
            self.skipTest(why)
        ClusterTestCase.setUp(self)
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "data"))
        with open(os.path.join(self.root, "data", "a.txt"), "w") as f:
            f.write("hello")
        self.mounts = []
        tokfile = os.path.join(self.tmp, "tokens")
        tokens = {}
        for role in ("admin", "readonly"):
            r = self.cluster.cli("admin", "token", "create", "--role", role, "--file", tokfile,
                                 "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            path = os.path.join(self.tmp, f"{role}.token")
            with open(path, "w") as f:
                f.write(json.loads(r.stdout)["token"] + "\n")
            tokens[role] = path
        self.tokens = tokens
        auth = {"http.token_file": tokfile, "cluster.worker_token": "wt-" + "k9" * 12}
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root, **auth})
        self.cluster.worker(self.m, settings=auth)
        with open(tokens["admin"]) as f:
            hdr = {"Authorization": "Bearer " + f.read().strip()}
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers", headers=hdr)[1]
                             ["workers"]) == 1, what="the worker to register")

    def test_tokens(self):
        ro, _ = self.mount("token_file=" + self.tokens["readonly"], name="ro")
        with open(os.path.join(ro, "data", "a.txt")) as f:
            self.assertEqual(f.read(), "hello")
        for call in (lambda: os.mkdir(os.path.join(ro, "data", "d")),
                     lambda: os.unlink(os.path.join(ro, "data", "a.txt"))):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EACCES)
        f = open(os.path.join(ro, "data", "new.txt"), "wb")
        f.write(b"no")
        with self.assertRaises(OSError) as cm:
            f.close()
        self.assertEqual(cm.exception.errno, errno.EACCES)
        self.assertFalse(os.path.exists(os.path.join(self.root, "data", "new.txt")))
        # No token at all: nothing below the mount point can be listed.
        none, _ = self.mount(name="none")
        with self.assertRaises(OSError) as cm:
            os.listdir(os.path.join(none, "data"))
        self.assertEqual(cm.exception.errno, errno.EACCES)
        # The admin token writes.
        rw, _ = self.mount("token_file=" + self.tokens["admin"], name="rw")
        with open(os.path.join(rw, "data", "new.txt"), "wb") as f:
            f.write(b"yes")
        with open(os.path.join(self.root, "data", "new.txt"), "rb") as f:
            self.assertEqual(f.read(), b"yes")
        # A token file that cannot be read is refused before mounting.
        r = subprocess.run([FUSE_BIN, os.path.join(self.tmp, "x"), "--master", self.m.address,
                            "-o", "token_file=" + os.path.join(self.tmp, "missing.token")],
                           env=self.cluster.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.token", r.stderr)


class FuseUsageTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_the_documented_mount_unit_verifies(self):
        src = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "fuse.md")
        with open(src) as f:
            doc = f.read()
        unit = doc.split("```ini\n", 1)[1].split("```", 1)[0]
        self.assertIn("Type=fuse.strata-fuse", unit)
        d = tempfile.mkdtemp(prefix="strata-fuse-unit-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "mnt-strata.mount")
        with open(path, "w") as f:
            f.write(unit)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60, cwd=d)
        # verify exits 0 on warnings: any output is a failure.
        self.assertEqual((r.returncode, r.stderr.strip(), r.stdout.strip()), (0, "", ""))
        # The fstab line has the six fields, the type strata-fuse's.
        line = [x for x in doc.split("```\n") if "fuse.strata-fuse  _netdev" in x][0].strip()
        self.assertEqual(line.split()[2], "fuse.strata-fuse")
        self.assertEqual(len(line.split()), 6)

    def run_fuse(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        return subprocess.run([FUSE_BIN, *args], capture_output=True, text=True, timeout=30,
                              env=env)

    def test_help_and_bad_options(self):
        r = self.run_fuse("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("Usage: strata-fuse MOUNTPOINT"))
        for opt in ("write_type=", "attr_timeout=", "master_timeout=", "readahead="):
            self.assertIn(opt, r.stdout)
        r = self.run_fuse("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^strata-fuse \d+\.\d+\.\d+\n")
        r = self.run_fuse("/tmp", "-o", "write_type=SOMETIMES")
        self.assertEqual(r.returncode, 2)
        self.assertIn("option 'write_type': 'SOMETIMES' is not THROUGH", r.stderr)
        r = self.run_fuse("/tmp", "-o", "readahead=99")
        self.assertEqual(r.returncode, 2)
        self.assertIn("option 'readahead': 99 is not in 0..16", r.stderr)
        r = self.run_fuse("/tmp", "-o", "spool_dir=/nonexistent/dir")
        self.assertEqual(r.returncode, 2)
        self.assertIn("option 'spool_dir': /nonexistent/dir", r.stderr)
        r = self.run_fuse("/tmp", "--master", "")
        self.assertEqual(r.returncode, 2)
        r = self.run_fuse("127.0.0.1:1", "/tmp", "/var")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument '/var'", r.stderr)
        r = self.run_fuse("--master", "127.0.0.1:1")  # no mount point
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("mountpoint", r.stderr)


if __name__ == "__main__":
    main()
