"""In JSON mode stdout belongs to the records: plugins' print() output becomes ``log`` records."""

from __future__ import annotations

import io
import os
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


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (print, threads, C code writing fd 1) to stderr meanwhile.

    ``devnode check --format json`` keeps stdout for its one JSON document, whatever plugins print.
    """
    sys.stdout.flush()
    try:
        saved_fd: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no fd 1 (embedded use): the Python-level redirect still holds
        saved_fd = None
    original = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = original
        if saved_fd is not None:
            sys.stderr.flush()
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
