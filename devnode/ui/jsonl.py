"""``--ui json``: one JSON object per line, for scripts (jq, CI)."""

from __future__ import annotations

import io
import os
from typing import IO, Any

from devnode.reporting import json_line


def private_output(stream: IO[str]) -> IO[str]:
    """A writer to the same place plugin code cannot close (a dup of its fd), or ``stream`` itself."""
    try:
        fd = stream.fileno()
        return os.fdopen(os.dup(fd), "w", encoding=getattr(stream, "encoding", None) or "utf-8",
                         errors="backslashreplace", closefd=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return stream


class JsonUI:
    """Writes every record as a JSON line."""

    interactive = False

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, record: dict[str, Any]) -> None:
        self.stream.write(json_line(record) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
