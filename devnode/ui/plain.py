"""``--ui plain``: one readable line per record (errors get a code frame), as ui/text.py words it."""

from __future__ import annotations

from typing import IO, Any

from devnode.ui.text import format_record


class PlainUI:
    """Writes one human line (or a few, for errors) per record."""

    interactive = False

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, record: dict[str, Any]) -> None:
        self.stream.write(format_record(record) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
