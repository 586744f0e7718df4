"""A file's content identity: a digest of its bytes, and the stat that says whether it may have changed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

Signature = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def signature(path: str | Path) -> Signature | None:
    """The stat of a regular file (None if it is missing or not a regular file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def read_regular(path: str) -> bytes | None:
    """The bytes of the regular file at ``path`` (following a symlink); None if there is none or it cannot be read.

    One open and one fstat: what ``is_file()`` then ``read_bytes()`` do with a stat more. Opened
    non-blocking, so a FIFO named like a module is never waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = os.read(fd, st.st_size + 1)  # a regular file reads short only at its end
        if len(data) <= st.st_size:
            return data
        chunks = [data]  # it grew since the fstat: read on to the end
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
