"""pdb inside the console: ``breakpoint()`` / ``pdb.set_trace()`` in a plugin, and ``--pdb`` post-mortems.

While pdb has the terminal the footer steps aside, keys are not read and the
terminal is back in its normal line mode; pdb runs on the node's loop thread,
so the node is paused and nothing is lost. On ``continue`` (or ``quit``, or the
end of a post-mortem) the console comes back.
"""

from __future__ import annotations

import pdb
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

from devnode.ui.console.errors import plugin_tracebacks


class Stage(Protocol):
    """What the debugger needs from the console: to get out of the way and come back."""

    def step_aside(self, mode: str) -> None: ...

    def come_back(self) -> None: ...


class ConsolePdb(pdb.Pdb):
    """A Pdb that hands the terminal back to the console when the author continues."""

    def __init__(self, stage: Stage, plugin_dir: Path | None = None) -> None:
        # nosigint: pdb must not take over SIGINT from the event loop on `continue`.
        super().__init__(nosigint=True)
        self._stage = stage
        self._plugin_dir = plugin_dir
        self._aside = False
        self._leaving = False

    def step_aside(self) -> None:
        if not self._aside:
            self._stage.step_aside("debugger")
            self._aside = True

    def interaction(self, frame: FrameType | None, traceback: TracebackType | None) -> None:
        self.step_aside()
        ended = True
        try:
            with _terminal_for_pdb():
                super().interaction(frame, traceback)
            ended = self._leaving or traceback is not None
        finally:
            if self._aside and ended:  # continue, quit, end of a post-mortem, or pdb itself failed
                self._leaving = False
                self._aside = False
                self._stage.come_back()

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
            stage.step_aside("debugger")
            debugger = ConsolePdb(stage)
            debugger._aside = True
            if header is not None:
                debugger.message(header)
            debugger.set_trace(sys._getframe().f_back)

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
