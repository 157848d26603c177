"""Files that survive a kill: atomic writes (temporary file, rename) and flushes to disk.

A reader sees a file whole or not at all; a symbolic link is replaced, never written through;
a sweep's runs are flushed to disk in batches by a thread (``Flusher``) rather than one fsync a
file (the store's promise is in its module docstring and the README).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from optbench.bench.results.lock import cannot_write


def atomic_write(path: str | Path, data: bytes | str | Any, sync: bool = True) -> str | Path:
    """Write ``data`` (bytes, text, or a function of a binary file) to ``path`` atomically.

    A temporary file in the same folder is written, flushed to disk (``sync``; else left to
    the caller's ``sync_folder``) and renamed over ``path``: a reader sees the old file or the
    new one, never part of one; a symbolic link at ``path`` is replaced, not written through.
    The file gets the user's usual permissions (the umask's). A disk error (full, read-only,
    no permission) is a ResultsError, one line. Returns ``path``.
    """
    target = os.fspath(path)
    write = data if callable(data) else None
    if write is None:
        raw = data.encode() if isinstance(data, str) else bytes(data)

        def write(f):
            f.write(raw)

    tmp = None
    try:
        fd, tmp = _temporary(target)
        with os.fdopen(fd, "wb") as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise cannot_write(Path(target), e) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path  # as given: a str stays one (a sweep writes two files a run)


def _temporary(path: str) -> tuple[int, str]:
    """A new file ``.<name>.<random>.tmp`` beside ``path``, opened for writing; created with
    mode 0o666 so that the kernel applies the umask (and a folder's default ACL), as for any
    file the user creates; never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | \
        getattr(os, "O_NOFOLLOW", 0)
    folder, name = os.path.split(path)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # one in 4 billion
            continue


def sync_folder(folder: Path) -> None:
    """Flush to disk every file written on ``folder``'s filesystem, renames included: one
    ``syncfs`` (Linux) for a batch of files costs what one fsync does; elsewhere ``sync``."""
    libc = _libc()
    if libc is not None:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    if hasattr(os, "sync"):
        os.sync()


@functools.cache
def _libc():
    """The C library, when it has ``syncfs`` (Linux); else None."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


SYNC_SECONDS = 1.0  # a sweep's finished runs reach the disk about this soon


class Flusher:
    """A thread that flushes a folder's filesystem to disk ``every`` seconds after a write
    (``written``), so that the sweep never waits on the disk (a flush on a busy machine can
    take seconds)."""

    def __init__(self, folder: Path, every: float):
        self.folder, self.every = folder, every
        self.written, self.closing = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="optbench-flush", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.written.wait()
            if self.closing.wait(self.every):
                return
            self.written.clear()  # what is written from now on waits for the next flush
            with contextlib.suppress(OSError):  # the final, waited-for flush reports errors
                sync_folder(self.folder)

    def close(self) -> None:
        self.closing.set()
        self.written.set()
        self.thread.join()


def signature(path: str | Path) -> tuple[int, ...] | None:
    """What changes when a file is replaced or written to: inode, size, modification time."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
