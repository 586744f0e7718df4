"""In JSON mode stdout belongs to the records: plugins' print() output becomes ``log`` records."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from devnode.ownership import current_ledger
from devnode.reporting import Reporter


class PrintCapture(io.TextIOBase):
    """A stdout stand-in that turns each printed line into a record."""

    def __init__(self) -> None:
        self.reporter: Reporter | None = None
        self._buffer = ""

    def attach(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if self.reporter is not None:
                ledger = current_ledger()
                self.reporter.emit("log", plugin=ledger.owner if ledger else None, level="PRINT",
                                   logger="print", message=line)
        return len(text)


@contextmanager
def capture_prints() -> Iterator[PrintCapture]:
    """Swap sys.stdout for a PrintCapture; the JSON UI keeps the real stream it was given."""
    capture = PrintCapture()
    original = sys.stdout
    sys.stdout = capture
    try:
        yield capture
    finally:
        sys.stdout = original
