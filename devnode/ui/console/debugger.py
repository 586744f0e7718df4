"""pdb inside the console: ``breakpoint()`` / ``pdb.set_trace()`` in a plugin, and ``--pdb`` post-mortems.

While pdb has the terminal the footer steps aside, keys are not read and the
terminal is back in its normal line mode; pdb runs on the node's loop thread,
so the node is paused and nothing is lost. However the session ends the console
comes back: ``continue``, ``quit``, the end of a post-mortem, or stepping out of
plugin code (``n``/``s``/``r`` past the end of a handler or task, or an exception
unwinding it). Stepping never stops in devnode's own frames (pdb's ``skip``).
"""

from __future__ import annotations

import dis
import inspect
import pdb
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

from devnode.host.naming import PACKAGE
from devnode.paused import CLOCK
from devnode.ui.console.errors import plugin_tracebacks

# Modules whose frames `n`/`s` pass through without stopping: devnode and the machinery that calls plugins.
SKIP = ("devnode", "devnode.*", "asyncio", "asyncio.*", "concurrent.*", "threading", "selectors", "contextvars",
        "contextlib", "runpy", "rich", "rich.*", "watchfiles", "watchfiles.*")
SUSPENDED = dis.opmap["YIELD_VALUE"]


class Stage(Protocol):
    """What the debugger needs from the console: to get out of the way and come back."""

    def step_aside(self, mode: str) -> None: ...

    def come_back(self) -> None: ...


class ConsolePdb(pdb.Pdb):
    """A Pdb that hands the terminal back to the console when the author continues."""

    def __init__(self, stage: Stage, plugin_dir: Path | None = None, home: str | None = None) -> None:
        # nosigint: pdb must not take over SIGINT from the event loop on `continue`.
        super().__init__(nosigint=True, skip=SKIP)
        self._stage = stage
        self._plugin_dir = plugin_dir
        self._home = home  # the module breakpoint() was called from: author code even outside the plugin dir
        self._previous_trace = sys.gettrace()  # an attached editor's tracer (debugpy), put back afterwards
        self._aside = False
        self._leaving = False
        self._released = False

    def trace_dispatch(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self._released:
            return None  # a frame still pointing at a finished session: leave it alone
        return super().trace_dispatch(frame, event, arg)

    def step_aside(self) -> None:
        if not self._aside:
            self._stage.step_aside("debugger")
            self._aside = True

    def interaction(self, frame: FrameType | None, traceback: TracebackType | None) -> None:
        self.step_aside()
        ended = True
        CLOCK.stopped()  # the time at the prompt is the author's, not the handler's
        try:
            with _terminal_for_pdb():
                super().interaction(frame, traceback)
            ended = self._leaving or frame is None  # frame None: a post-mortem, over when pdb returns
        finally:
            CLOCK.resumed()
            if self._aside and ended:  # continue, quit, end of a post-mortem, or pdb itself failed
                self._end_session()

    def _end_session(self) -> None:
        self._leaving = False
        self._aside = False
        if not self.breaks:
            self._release()
            if self._previous_trace is not None and sys.gettrace() is None:
                sys.settrace(self._previous_trace)  # the editor's breakpoints work again on this thread
        self._stage.come_back()

    def _release(self) -> None:
        """Drop the frames pdb keeps after a session: they hold plugin instances (the leak check would blame them)."""
        self._released = True
        if self.botframe is not None and self.botframe.f_trace is not None:
            self.botframe.f_trace = None  # set_continue leaves the bottom frame's trace: it holds this debugger
        self.curframe = None
        self.curframe_locals = {}
        self.stack = []
        self.botframe = self.stopframe = self.returnframe = None
        self.frame_returning = None

    def stop_here(self, frame: FrameType) -> bool:
        """Where a step would stop next; once no author frame is left, the session is over."""
        if self._aside and not self.quitting and self.stoplineno != -1 \
                and not self._author_on_stack(frame) and not self._awaiting():
            # Stepped out of the handler or task (or an exception unwound it): the node runs on, as after `c`.
            self.message("--stepped out of plugin code: back to the devnode console--")
            self.set_continue()
            self._end_session()
            return False
        return bool(super().stop_here(frame))

    def _author_on_stack(self, frame: FrameType | None) -> bool:
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and (name == PACKAGE or name.startswith(PACKAGE + ".") or name == self._home):
                return True
            frame = frame.f_back
        return False

    def _awaiting(self) -> bool:
        """Whether the frame `n` is waiting in is a coroutine suspended at an ``await`` (it will resume)."""
        frame = self.stopframe
        if frame is None or frame is self.botframe or not frame.f_code.co_flags & (
                inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE):
            return False
        code = frame.f_code.co_code
        return 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == SUSPENDED

    def set_continue(self) -> None:
        self._leaving = True
        super().set_continue()

    def set_quit(self) -> None:
        self._leaving = True
        super().set_quit()

    def setup(self, f: FrameType | None, tb: TracebackType | None) -> Any:
        """Start a post-mortem at the plugin's own frame, not deep inside a library it called."""
        result = super().setup(f, tb)
        if tb is not None and self._plugin_dir is not None:
            mine = {id(t.tb_frame) for t in plugin_tracebacks(tb, self._plugin_dir)}
            for index in range(len(self.stack) - 1, -1, -1):
                if id(self.stack[index][0]) in mine:
                    self.curindex = index
                    self.curframe = self.stack[index][0]
                    self.curframe_locals = self.curframe.f_locals
                    break
        return result


@contextmanager
def _terminal_for_pdb() -> Iterator[None]:
    """While pdb prompts: Ctrl-C interrupts pdb (as usual) instead of queueing a node shutdown, and
    the stall watchdog's interrupt waits, so a long look around is not cut short as a 'blocked loop'."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    wakeup = signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupt = _watchdog_signal()
    held = {interrupt} if interrupt is not None else set()
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        if held:
            # Drop an interrupt that arrived while debugging: the author paused the node on purpose.
            while signal.sigtimedwait(held, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(wakeup, warn_on_full_buffer=False)


def _watchdog_signal() -> signal.Signals | None:
    try:
        from devnode.watchdog import INTERRUPT_SIGNAL
    except ImportError:
        return None
    return INTERRUPT_SIGNAL


class Breakpoints:
    """Routes ``breakpoint()`` and ``pdb.set_trace()`` to a console-aware pdb while installed."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self._original: Any = None

    def install(self) -> None:
        if self._original is not None:
            return
        self._original = pdb.set_trace
        stage = self.stage

        def set_trace(*, header: str | None = None) -> None:
            caller = sys._getframe().f_back  # breakpoint()'s hook is C: this is the author's frame
            stage.step_aside("debugger")
            debugger = ConsolePdb(stage, home=caller.f_globals.get("__name__") if caller is not None else None)
            debugger._aside = True
            if header is not None:
                debugger.message(header)
            debugger.set_trace(caller)

        # sys.breakpointhook's default looks pdb.set_trace up at call time, so this covers breakpoint() too.
        pdb.set_trace = set_trace

    def uninstall(self) -> None:
        if self._original is not None:
            pdb.set_trace = self._original
            self._original = None


def post_mortem(stage: Stage, exc: BaseException, plugin_dir: Path) -> None:
    """Debug ``exc`` where it was raised, starting at the last plugin frame."""
    if exc.__traceback__ is None:
        return
    stage.step_aside("debugger")
    debugger: ConsolePdb | None = None
    try:
        debugger = ConsolePdb(stage, plugin_dir)
        debugger._aside = True
        debugger.reset()
        debugger.interaction(None, exc.__traceback__)
    finally:
        if debugger is None or debugger._aside:
            stage.come_back()
