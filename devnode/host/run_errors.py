"""Reports what a serving plugin's handlers and tasks raise: file, line, cause and fix.

Each distinct failure (phase, exception type, place) is reported once per plugin
version as a ``plugin.error`` record; repeats only count (status ``errors``), so a
handler failing on every event does not flood the output. The plugin keeps serving.
"""

from __future__ import annotations

import asyncio
import linecache
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from devnode.bus import Event, HandlerResult
from devnode.host.diagnostics import PluginProblem, diagnose, display_path, drop_frames, inside
from devnode.ownership import Ledger, PluginExit
from devnode.reporting import Reporter

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import FailureContext


class RunErrors:
    """A bus observer and task-failure hook that turns plugin run-time exceptions into records."""

    def __init__(self, reporter: Reporter, plugin_dir: Path, path_of: Callable[[str], Path]) -> None:
        self.reporter = reporter
        self.plugin_dir = plugin_dir
        self.path_of = path_of
        self._seen: weakref.WeakKeyDictionary[Ledger, set[tuple[Any, ...]]] = weakref.WeakKeyDictionary()

    def observe(self, event: Event, results: list[HandlerResult]) -> None:
        for result in results:
            if result.error is None:  # the usual case first: this runs for every handler of every event
                continue
            ledger = result.subscription.ledger
            if ledger is not None:
                self.report(ledger, "handler", result.error, result.subscription.callback,
                            handler=result.handler_name, event=event.type.value)

    def task_failed(self, ledger: Ledger, task: asyncio.Task[Any], error: BaseException) -> None:
        if isinstance(error, PluginExit) and error.__cause__ is not None:
            error = error.__cause__  # report the plugin's own SystemExit/KeyboardInterrupt
        self.report(ledger, "task", error, None, task=task.get_name())

    def report(self, ledger: Ledger, phase: str, error: BaseException, callback: Any = None,
               **context: Unpack[FailureContext]) -> None:
        key = (phase, type(error).__name__, *_raised_at(error))
        seen = self._seen.setdefault(ledger, set())
        if key in seen:
            return
        seen.add(key)
        problem = diagnose(error, phase, ledger.owner, self.plugin_dir, self.path_of(ledger.owner))
        if problem.line is None and callback is not None:
            # Raised before the handler's first line ran (e.g. a wrong signature): point at its def.
            _point_at_definition(problem, callback, self.plugin_dir)
        if problem.hint is None:
            problem.hint = HINTS.get(phase)
        self.reporter.emit("plugin.error", running="current", **problem.to_record(), **context, problem=problem)
        drop_frames(error)


HINTS = {
    "handler": "the handler raised; devnode caught it and the other handlers still ran. "
    "In production the bus logs it the same way; fix it and save to reload",
    "task": "a task the plugin started ended with this exception; nothing awaits it, so in production "
    "it would only be logged at exit. Catch errors inside the task or await it",
}


def _point_at_definition(problem: PluginProblem, callback: Any, plugin_dir: Path) -> None:
    code = getattr(getattr(callback, "__func__", callback), "__code__", None)
    if code is None or not inside(code.co_filename, plugin_dir.resolve()):
        return
    problem.file = display_path(code.co_filename, plugin_dir.resolve())
    problem.line = code.co_firstlineno
    problem.code = linecache.getline(code.co_filename, code.co_firstlineno).rstrip() or None
    if isinstance(problem.exception, TypeError) and "argument" in problem.error:
        problem.hint = "the bus calls every handler with one argument, the event: define it as def handler(self, event)"


def _raised_at(error: BaseException) -> tuple[str, int]:
    tb = error.__traceback__
    if tb is None:
        return ("", 0)
    while tb.tb_next is not None:
        tb = tb.tb_next
    return (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
