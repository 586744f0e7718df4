"""Parity notices: the stand-in did what production intends, and tells the author once what production does.

A service that deliberately differs from production (a defect production
ships, a limit of the simulation) calls ``notices.note(code, ...)`` at the
moment a plugin relies on it. The notice names production's file:line and the
plugin's own file:line (the first frame outside devnode), and is emitted once
per code and plugin. Whoever runs the node (the plugin host) adds a sink that
turns notices into ``warning`` records; until then they wait in ``pending``.
"""

from __future__ import annotations

import sys
import sysconfig
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.codes import warning_code
from devnode.ownership import current_ledger

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import WarningRecord

_DEVNODE = str(Path(__file__).resolve().parent.parent)
_PATHS = sysconfig.get_paths()  # expanded anew on every call: once
_SKIPPED = tuple(p for p in {_DEVNODE, _PATHS["stdlib"], _PATHS["purelib"]} if p)
MAX_PENDING = 100


@dataclass(frozen=True)
class Notice:
    """One difference from production, seen while plugin code ran."""

    code: str
    plugin: str
    message: str
    file: str | None
    line: int | None
    production: str

    def to_record(self) -> WarningRecord:
        return {"code": warning_code(self.code), "plugin": self.plugin, "message": self.message, "file": self.file,
                "line": self.line, "production": self.production}


Sink = Callable[[Notice], None]


def is_plugin_file(name: str) -> bool:
    """Whether code from file ``name`` is the author's: neither devnode's, nor the standard library's or a package's."""
    return not name.startswith(_SKIPPED) and not name.startswith("<")


def plugin_site(frame: types.FrameType | None = None) -> tuple[str | None, int | None]:
    """(file, line) of the innermost frame that is neither devnode's nor the standard library's."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if is_plugin_file(name):
            return name, frame.f_lineno
        frame = frame.f_back
    return None, None


def traceback_site(exc: BaseException) -> tuple[str | None, int | None]:
    """(file, line) of the deepest traceback entry outside devnode and the standard library."""
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith(_SKIPPED) and not name.startswith("<"):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


class Notices:
    """Deduplicates parity notices and hands them to the sinks."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._sinks: list[Sink] = []
        self.pending: list[Notice] = []

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)
        pending, self.pending = self.pending, []
        for notice in pending:
            sink(notice)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def note(
        self, code: str, message: str, production: str, *, site: tuple[str | None, int | None] | None = None,
        plugin: str | None = None,
    ) -> None:
        """Emit ``code`` once per plugin: ``message`` says what devnode did and what production does."""
        if plugin is None:
            ledger = current_ledger()
            plugin = ledger.owner if ledger is not None else "*"
        key = (code, plugin)
        if key in self._seen:
            return
        self._seen.add(key)
        file, line = site if site is not None else plugin_site(sys._getframe(1))
        where = f" ({file}:{line})" if file else ""
        notice = Notice(code, plugin, f"{message}{where}; production: {production}", file, line, production)
        if not self._sinks:
            if len(self.pending) < MAX_PENDING:
                self.pending.append(notice)
            return
        for sink in list(self._sinks):
            sink(notice)
