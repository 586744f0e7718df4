"""Ownership of what a plugin changes in the process itself: timers, children, cwd, signals, logging.

``ownership`` records what a plugin registers with the node (subscriptions,
tasks, patches). A plugin can also change the process: schedule loop timers
(``call_later``/``call_at``), start child processes, ``os.chdir``, install
signal handlers, reconfigure logging (``basicConfig(force=True)`` removes every
root handler, devnode's log bridge included), stop the event loop. The wrappers
installed here record each such change in the current plugin's ledger, with the
file and line that made it, so unloading the plugin can undo it (``undo_all``)
or, where undoing is unsafe, say so. Devnode's own calls (no plugin current)
pass straight through.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing.process
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode import safe

if TYPE_CHECKING:
    from devnode.ownership import Ledger

CHILD_GRACE = 1.0  # seconds a terminated child gets before it is killed


class LoopControlError(RuntimeError):
    """A plugin tried to stop or close the node's event loop; devnode refused."""


@dataclass(eq=False)
class ProcessChange:
    """One change a plugin made to the process, and how to take it back."""

    what: str  # e.g. "os.chdir('/tmp')"
    where: str | None  # file:line of the plugin code that made it
    undo: Callable[[], bool] | None  # puts the old state back; False when something else changed it since
    kind: str = "change"


def caller_site(depth: int = 2) -> str | None:
    """``file:line`` of the first frame outside devnode, asyncio and the standard library wrappers."""
    try:
        frame: Any = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str) or not module.startswith(("devnode.", "asyncio", "logging", "subprocess",
                                                                  "multiprocessing", "concurrent", "threading")):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _plugin_ledger() -> Ledger | None:
    from devnode.ownership import current_ledger

    return current_ledger()


# -- timers ----------------------------------------------------------------------------------
def _is_internal(callback: Any) -> bool:
    module = safe.attribute(callback, "__module__")
    if not isinstance(module, str):
        module = safe.attribute(safe.attribute(callback, "__func__"), "__module__", "")
    return isinstance(module, str) and module.startswith(("asyncio", "devnode", "concurrent"))


def _track_timer(ledger: Ledger, handle: asyncio.TimerHandle, callback: Any, kind: str) -> None:
    name = safe.attribute(callback, "__qualname__")
    label = f"{kind}({name if isinstance(name, str) else safe.representation(callback)})"
    ledger.timers[handle] = (label, caller_site(2))


def live_timers(ledger: Ledger) -> list[tuple[asyncio.TimerHandle, str, str | None]]:
    """Timers of ``ledger`` still waiting to fire."""
    return [(h, label, where) for h, (label, where) in list(ledger.timers.items())
            if not h.cancelled() and getattr(h, "_scheduled", True)]


# -- child processes ----------------------------------------------------------------------------
def live_children(ledger: Ledger) -> list[tuple[Any, str, str | None]]:
    alive = []
    for child, label, where in ledger.children:
        try:
            running = child.poll() is None if isinstance(child, subprocess.Popen) else child.is_alive()
        except Exception:
            running = False
        if running:
            alive.append((child, label, where))
    return alive


def stop_child(child: Any) -> None:
    """Terminate, then kill after a grace period (bounded: never waits on the child for long)."""
    try:
        child.terminate()
        deadline = time.monotonic() + CHILD_GRACE
        while time.monotonic() < deadline:
            if (child.poll() if isinstance(child, subprocess.Popen) else (None if child.is_alive() else 0)) is not None:
                return
            time.sleep(0.01)
        child.kill()
    except (OSError, ValueError, AttributeError):
        pass


# -- installation ----------------------------------------------------------------------------
_installed = False


def install() -> None:
    """Wrap the process-changing calls once; each records into the current plugin's ledger."""
    global _installed
    if _installed:
        return
    _installed = True
    _wrap_call_at()
    _wrap_popen()
    _wrap_multiprocessing()
    _wrap_chdir()
    _wrap_signal()
    _wrap_logging()


def _wrap_call_at() -> None:
    original = asyncio.BaseEventLoop.call_at

    def call_at(self: asyncio.BaseEventLoop, when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        handle = original(self, when, callback, *args, **kwargs)
        ledger = _plugin_ledger()
        if ledger is not None and not _is_internal(callback):
            _track_timer(ledger, handle, callback, "loop.call_later")
        return handle

    asyncio.BaseEventLoop.call_at = call_at  # type: ignore[method-assign,assignment]


def _wrap_popen() -> None:
    original = subprocess.Popen.__init__

    def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        ledger = _plugin_ledger()
        if ledger is not None:
            command = args[0] if args else kwargs.get("args")
            text = command if isinstance(command, str) else " ".join(safe.text(a) for a in (command or []))
            ledger.children.append((self, f"child process {self.pid} ({text[:60]})", caller_site(2)))

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]


def _wrap_multiprocessing() -> None:
    original = multiprocessing.process.BaseProcess.start

    def start(self: multiprocessing.process.BaseProcess) -> None:
        original(self)
        ledger = _plugin_ledger()
        if ledger is not None:
            ledger.children.append((self, f"child process {self.pid} (multiprocessing {self.name})", caller_site(2)))

    multiprocessing.process.BaseProcess.start = start  # type: ignore[method-assign]


def _wrap_chdir() -> None:
    original = os.chdir

    def chdir(path: Any) -> None:
        ledger = _plugin_ledger()
        before = os.getcwd() if ledger is not None else None
        original(path)
        if ledger is not None and before is not None:
            after = os.getcwd()

            def undo() -> bool:
                if os.getcwd() != after:
                    return False
                original(before)
                return True

            ledger.changes.append(ProcessChange(f"os.chdir({safe.representation(path)}) (was {before})",
                                                caller_site(2), undo, "cwd"))

    os.chdir = chdir


def _wrap_signal() -> None:
    original = signal.signal

    # Per signal, the plugin handlers installed on top of each other: [handler, the one it replaced].
    stacks: dict[Any, list[list[Any]]] = {}

    def set_handler(signalnum: Any, handler: Any) -> Any:
        previous = original(signalnum, handler)
        ledger = _plugin_ledger()
        if ledger is not None:
            entry = [handler, previous]
            stacks.setdefault(signalnum, []).append(entry)

            def undo() -> bool:
                stack = stacks.get(signalnum, [])
                if entry not in stack:
                    return False
                stack.remove(entry)
                if signal.getsignal(signalnum) is entry[0]:
                    original(signalnum, entry[1])
                    return True
                # Another plugin installed its handler on top of this one: it will put back ours' predecessor.
                above = next((e for e in stack if e[1] is entry[0]), None)
                if above is None:
                    return False
                above[1] = entry[1]
                return True

            ledger.changes.append(ProcessChange(f"signal handler for {_signal_name(signalnum)}", caller_site(2),
                                                undo, "signal"))
        return previous

    signal.signal = set_handler

    from asyncio import unix_events

    loop_class: Any = unix_events._UnixSelectorEventLoop
    add = loop_class.add_signal_handler

    def add_signal_handler(self: Any, sig: int, callback: Any, *args: Any) -> None:
        ledger = _plugin_ledger()
        previous = self._signal_handlers.get(sig) if ledger is not None else None
        add(self, sig, callback, *args)
        if ledger is not None:
            mine = self._signal_handlers.get(sig)

            def undo() -> bool:
                if self._signal_handlers.get(sig) is not mine or self.is_closed():
                    return False
                self.remove_signal_handler(sig)
                if previous is not None:  # devnode's own Ctrl-C handler, typically: give it back
                    add(self, sig, previous._callback, *previous._args)
                return True

            ledger.changes.append(ProcessChange(f"loop.add_signal_handler({_signal_name(sig)})", caller_site(2),
                                                undo, "signal"))

    loop_class.add_signal_handler = add_signal_handler


def _signal_name(signalnum: Any) -> str:
    try:
        return signal.Signals(signalnum).name
    except (ValueError, TypeError):
        return safe.representation(signalnum)


def keep_handler(handler: logging.Handler) -> logging.Handler:
    """Mark one of devnode's own logging handlers: plugins may not remove it (basicConfig(force=True) does)."""
    handler._devnode_keep = True  # type: ignore[attr-defined]
    return handler


def _wrap_logging() -> None:
    remove = logging.Logger.removeHandler
    add = logging.Logger.addHandler
    set_level = logging.Logger.setLevel

    def remove_handler(self: logging.Logger, hdlr: logging.Handler) -> None:
        ledger = _plugin_ledger()
        if ledger is not None and getattr(hdlr, "_devnode_keep", False):
            # Refused: without it plugins' log lines vanish from devnode's output for the rest of the run.
            ledger.changes.append(ProcessChange(
                f"removing devnode's log handler from the {self.name} logger (logging.basicConfig(force=True) "
                "does this); devnode kept it. In production this removes the node's own log output too",
                caller_site(2), None, "logging"))
            return
        remove(self, hdlr)
        if ledger is not None and self is logging.getLogger():

            def undo() -> bool:
                if hdlr in self.handlers:
                    return False
                add(self, hdlr)
                return True

            ledger.changes.append(ProcessChange(f"removal of root logging handler {type(hdlr).__name__}",
                                                caller_site(2), undo, "logging"))

    def add_handler(self: logging.Logger, hdlr: logging.Handler) -> None:
        add(self, hdlr)
        ledger = _plugin_ledger()
        if ledger is not None and self is logging.getLogger():

            def undo() -> bool:
                if hdlr not in self.handlers:
                    return False
                remove(self, hdlr)
                return True

            ledger.changes.append(ProcessChange(f"root logging handler {type(hdlr).__name__}", caller_site(2),
                                                undo, "logging"))

    def set_root_level(self: logging.Logger, level: Any) -> None:
        ledger = _plugin_ledger()
        before = self.level
        set_level(self, level)
        if ledger is not None and self is logging.getLogger() and self.level != before:
            after = self.level

            def undo() -> bool:
                if self.level != after:
                    return False
                set_level(self, before)
                return True

            ledger.changes.append(ProcessChange(f"root log level {logging.getLevelName(after)} "
                                                f"(was {logging.getLevelName(before)})", caller_site(2), undo,
                                                "logging"))

    logging.Logger.removeHandler = remove_handler  # type: ignore[method-assign]
    logging.Logger.addHandler = add_handler  # type: ignore[method-assign]
    logging.Logger.setLevel = set_root_level  # type: ignore[method-assign]


# -- the event loop itself -----------------------------------------------------------------------
def guard_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Refuse ``loop.stop()``/``loop.close()`` from plugin code: the node's loop is not the plugin's to end."""
    if getattr(loop, "_devnode_guarded", False):
        return
    for name in ("stop", "close"):
        original = getattr(loop, name)

        def guarded(*args: Any, _original: Any = original, _name: str = name) -> Any:
            if _plugin_ledger() is not None and _called_by_plugin():
                raise LoopControlError(
                    f"plugin code called loop.{_name}() on the node's event loop; in production that "
                    f"{'stops' if _name == 'stop' else 'closes'} the whole node. devnode refused it: remove the "
                    "call (to end the plugin's own work, cancel its tasks in shutdown())"
                )
            return _original(*args)

        setattr(loop, name, guarded)
    loop._devnode_guarded = True  # type: ignore[attr-defined]


def _called_by_plugin() -> bool:
    frame: Any = sys._getframe(2)
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    return not (isinstance(module, str) and module.startswith(("asyncio", "devnode.", "concurrent")))


# -- undo at unload ------------------------------------------------------------------------------
@dataclass
class Undone:
    """What ``undo_all`` did: descriptions of what it undid, and of what it had to leave."""

    cleaned: list[str]
    left: list[str]


def undo_all(ledger: Ledger) -> Undone:
    """Cancel the plugin's timers, stop its children, take back its process changes (newest first)."""
    cleaned: list[str] = []
    left: list[str] = []
    for handle, label, where in live_timers(ledger):
        handle.cancel()
        cleaned.append(f"timer {label}" + (f" set at {where}" if where else ""))
    ledger.timers.clear()
    for child, label, where in live_children(ledger):
        stop_child(child)
        cleaned.append(f"{label}" + (f" started at {where}" if where else "") + ", terminated")
    ledger.children.clear()
    for change in reversed(ledger.changes):
        at = f" at {change.where}" if change.where else ""
        if change.undo is None:
            left.append(f"{change.what}{at}")
            continue
        try:
            done = change.undo()
        except Exception as exc:
            left.append(f"{change.what}{at} (undoing it failed: {safe.exception_text(exc)})")
            continue
        if done:
            cleaned.append(f"{change.what}{at}, undone")
        else:
            left.append(f"{change.what}{at} (changed again since; devnode left the current state)")
    ledger.changes.clear()
    return Undone(cleaned, left)


# Threads plugins started (recorded by ownership.TrackedThread), kept weakly: for the exit check.
plugin_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


class OwnedExecutor(ThreadPoolExecutor):
    """The loop's default executor under devnode: remembers which plugin submitted each running job."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs: dict[Future[Any], str] = {}

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        ledger = _plugin_ledger()
        if ledger is not None:
            target = fn
            if isinstance(fn, functools.partial) and fn.args and callable(fn.args[0]):
                target = fn.args[0]  # asyncio.to_thread submits partial(context.run, func, ...)
            name = safe.attribute(target, "__qualname__")
            self.jobs[future] = f"{ledger.owner}: executor job {name if isinstance(name, str) else safe.representation(target)}"
            future.add_done_callback(lambda f: self.jobs.pop(f, None))
        return future


def process_leftovers(executor: OwnedExecutor | None) -> list[str]:
    """What plugins left running that would keep the interpreter from exiting: threads, executor jobs."""
    left = [f"thread {t.name!r}" for t in list(plugin_threads) if t.is_alive() and not t.daemon]
    if executor is not None:
        left += [job for future, job in list(executor.jobs.items()) if not future.done()]
    return left


def short_path(where: str | None, plugin_dir: Path) -> str | None:
    if where is None:
        return None
    file, _, line = where.rpartition(":")
    try:
        return f"{Path(file).resolve().relative_to(plugin_dir.resolve().parent)}:{line}"
    except (OSError, ValueError):
        return where
