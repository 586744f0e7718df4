"""``--ui json``: one JSON object per line, for scripts (jq, CI)."""

from __future__ import annotations

from typing import IO, Any

from devnode.reporting import json_line


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
