"""A plugin's failure on the console: its error panel, the post-mortem debugger (--pdb), and o to open it.

The panel is built when the record arrives, with the exception the emit site
handed over (``Reporter.emit(..., problem=)``), while its frames still live.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.text import Text

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

    def report(self, record: Record, exc: BaseException | None) -> None:
        """An error panel, built now: the host reports synchronously, while the exception's frames live."""
        assert self.plugin_dir is not None
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
        # --pdb stops in the phases docs/debugging.md lists; a failed task's panel gets its frames, no debugger.
        if self.post_mortem and exc is not None and record.get("phase") != "task" and self.screen.on_loop() \
                and self._debuggable(exc):
            post_mortem(self.stage, exc, self.plugin_dir)

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
            reporter.emit("command.error", command="o", error=str(problem))

