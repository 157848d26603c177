"""One writer per results folder: an advisory lock on ``<folder>/.optbench.lock``.

``optbench run`` (``--resume``, ``--force``) takes it before it writes anything and holds it to
the end; a second writer is refused in one line naming the process that holds it. The lock is
``flock`` on an open file, so the kernel releases it when the holder exits, however it exits
(SIGKILL and power loss included): there is never a stale lock to delete by hand. The file
holds the holder's pid and command line, for that message; it stays in the folder.

Readers (``optbench report``, ``optbench.load``) take no lock: every stored run is written
atomically and verified when read, so they see the runs finished so far (``holder`` tells
them a sweep is still writing).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from pathlib import Path

from optbench.bench.errors import ResultsError, UsageError

NAME = ".optbench.lock"


class FolderLocked(UsageError):
    """Another process is writing this results folder."""


class FolderLock:
    """The writer's lock on ``root``, as a context; ``acquire()`` takes it (once) inside it.

    ``with FolderLock(root):`` takes it on entry; ``with FolderLock(root, lazy=True) as lock:``
    leaves the moment to the caller (``lock.acquire()``), so a command can check what it must
    before creating a folder. Leaving the block releases it, if it was taken.
    """

    def __init__(self, root: str | Path, lazy: bool = False, command: str | None = None):
        self.root = Path(root)
        self.lazy = lazy
        self.command = command if command is not None else _command()
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        if not self.lazy:
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (creating the folder); FolderLocked when another process holds it."""
        if self._fd is not None:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o666)
        except OSError as e:
            raise cannot_write(self.root, e) from None
        try:
            if not _flock(fd):
                holder = _read(fd) or "another process"
                raise FolderLocked(f"{self.root} is being written by {holder}; wait for it to "
                                   "finish or stop it, or give another --out")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {self.command}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no holder named once it is free
        os.close(fd)  # closing the last descriptor releases the flock


def _flock(fd: int, tries: int = 5) -> bool:
    """Take the exclusive lock without blocking; a reader's brief probe (``holder``) is
    waited out for a moment before the lock counts as held."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.02)
    return False


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode(errors="replace").strip()[:300]
    except OSError:
        return ""


def holder(root: str | Path) -> str | None:
    """Who else is writing ``root`` now (``pid N: command``), or None when nobody is."""
    try:
        fd = os.open(Path(root) / NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _read(fd)
            return None if who.startswith(f"pid {os.getpid()}:") else who or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
            *sys.argv[1:]]
    if argv[0] in ("__main__.py", "-m"):
        argv[0] = "optbench"
    return " ".join(argv)[:200]


# What writing to a folder can meet that is the machine's, not optbench's: one line, exit 2
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
               errno.EFBIG}


def cannot_write(where: Path, e: OSError) -> ResultsError:
    """An OSError met writing the file or folder ``where``, as one line (a full disk, a
    read-only folder...)."""
    what = e.strerror or type(e).__name__
    other = f" ({e.filename})" if e.filename not in (None, str(where)) else ""
    return ResultsError(f"cannot write {where}: {what}{other}")
