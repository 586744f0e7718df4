"""A plugin's failure on the console: its error panel, the post-mortem debugger (--pdb), and o to open it.

The panel is built when the record arrives: the host reports synchronously,
while the exception's frames still live.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.text import Text

from devnode.events import Event, HandlerResult
from devnode.reporting import Record, Reporter
from devnode.ui.console import errors, style
from devnode.ui.console.debugger import Stage, post_mortem
from devnode.ui.console.links import Location, editor_command, run_editor
from devnode.ui.console.prompt import on_thread
from devnode.ui.console.screen import Screen

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


class Failures:
    """Turns ``plugin.failed``/``plugin.error`` records into panels, and remembers where the newest one is."""

    def __init__(self, screen: Screen, stage: Stage, *, post_mortem: bool, editor: str | None) -> None:
        self.screen = screen
        self.stage = stage
        self.post_mortem = post_mortem
        self.editor = editor
        self.plugin_dir: Path | None = None  # known once the console is attached; panels need it
        self.last_error: Location | None = None
        self._live: list[tuple[str | None, str, BaseException]] = []

    # -- the exception behind a record (kept in one piece: how a sink gets it may change) ------------
    def report(self, record: Record) -> None:
        """An error panel, built now: the host reports synchronously, while the exception's frames live."""
        assert self.plugin_dir is not None
        if record["kind"] == "plugin.error":
            exc = self._live_error(record)
        else:
            exc = _exception_for(record)
        if (record.get("error") or "").startswith("BdbQuit"):
            # The author typed q in pdb: the handler stopped there on purpose.
            line = Text(f"{record.get('plugin')}: debugger quit; the {record.get('phase')} was stopped", style.TIME)
            self.screen.put({"kind": "console.line", "ts": record.get("ts")}, line)
            return
        try:
            view = errors.from_record(record, self.plugin_dir, exc)
        except Exception:  # an odd traceback must not cost the panel (or switch the console off)
            view = errors.from_record(record, self.plugin_dir)
        self._remember_error(view, record)
        self.screen.put(record, view)
        if self.post_mortem and exc is not None and self.screen.on_loop() and self._debuggable(exc):
            post_mortem(self.stage, exc, self.plugin_dir)

    def catch_live(self, event: Event, results: list[HandlerResult]) -> None:
        """First bus observer: keep this dispatch's handler exceptions until the host has reported them."""
        for result in results:
            if result.error is not None:
                self._live.append((result.plugin, result.handler_name, result.error))

    def forget_live(self, event: Event, results: list[HandlerResult]) -> None:
        """Last bus observer: let go of them (frames hold plugin instances; the leak check would notice)."""
        if self._live:
            self._live.clear()

    def _live_error(self, record: Record) -> BaseException | None:
        for plugin, handler, exc in self._live:
            if plugin == record.get("plugin") and handler == record.get("handler"):
                return exc
        return None

    def _debuggable(self, exc: BaseException) -> bool:
        return self.plugin_dir is not None and bool(errors.plugin_tracebacks(exc.__traceback__, self.plugin_dir))

    # -- o: the newest error in the editor -------------------------------------------------------------
    def _remember_error(self, view: errors.ErrorView, record: Record) -> None:
        """The innermost plugin frame of the newest error: where ``o`` opens the editor."""
        linker = self.screen.linker
        if view.frames:
            frame = view.frames[-1]
            found = linker.resolve(frame.file, frame.line, frame.column)
        elif record.get("file") and record.get("line"):
            found = linker.resolve(str(record["file"]), int(record["line"]), record.get("column"))
        else:
            found = None
        if found is not None:
            self.last_error = found

    def open_last(self, reporter: Reporter, spawn: Spawn) -> None:
        location = self.last_error
        if location is None:
            reporter.emit("command.error", command="o", error="no error to open yet")
            return
        command = editor_command(location, self.editor)
        if command is None:
            reporter.emit("command.error", command="o",
                          error="no editor configured: set $EDITOR, $DEVNODE_EDITOR or --editor")
            return
        self.stage.step_aside("prompt")  # a terminal editor gets the terminal until it exits
        spawn(self._edit(command, reporter), "devnode-editor")

    async def _edit(self, command: list[str], reporter: Reporter) -> None:
        assert self.screen.loop is not None
        try:
            problem = await on_thread(self.screen.loop, lambda: run_editor(command))
        finally:
            self.stage.come_back()
        if problem:
            reporter.emit("command.error", command="o", error=problem)


def _exception_for(record: Record) -> BaseException | None:
    """The exception behind a ``plugin.failed`` record: the one being handled while the host reports it."""
    exc = sys.exc_info()[1]
    problem = getattr(exc, "problem", None)  # the host wraps start failures; the plugin's exception is inside
    inner = getattr(problem, "exception", None)
    if isinstance(inner, BaseException):
        exc = inner
    if exc is None or type(exc).__name__ not in (record.get("error") or ""):
        return None  # some other exception being handled further up: not this failure
    return exc
