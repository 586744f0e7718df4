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
