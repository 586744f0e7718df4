"""Notices plugin code blocking the event loop, says whose code and where, and interrupts it past a limit.

A thread watches the loop without waking it. The loop's selector wait is wrapped
so that it notes when the loop last came out of it (a ``SelectClock``): a loop
waiting there is idle, and a loop out of it for ``warn_after`` is blocked, to the
millisecond. So the thread sleeps until a stall could first be due (``warn_after``
after the loop last left its wait), which idle is once per ``warn_after`` instead of
every ``tick``; during a reported stall it checks every ``tick``. A loop without a
selector to wrap falls back to sampling every ``tick``: seen in its wait, it is idle;
doing anything else, it gets a ping (``call_soon_threadsafe``) that stamps the
heartbeat when the loop gets to it. When the heartbeat is older than ``warn_after``, the loop is blocked: the thread
reads the loop thread's stack and the plugin that owns the running code (its
ledger, which the thread can read through ``ownership.ledger_running_in``) and
emits a ``warning`` record with code ``stall`` at once, while the loop is still
blocked. Past ``interrupt_after`` it sends the loop thread a signal whose handler
raises ``PluginStalledError`` inside the plugin's code, so an endless loop or a
long ``time.sleep`` in a handler becomes an ordinary, reported plugin error and
the watcher and the console come back. The handler raises only where a plugin's
frame is on the stack, never in devnode's own code.

Code stuck inside a C call that holds the GIL (a backtracking regex) starves the
watching thread too. So the thread also keeps pushing a CPU-time alarm
(``ITIMER_VIRTUAL``) into the future while it runs: when it is starved, the alarm
goes off, and its handler runs on the loop thread the moment the C code checks
for signals (``re`` does), inside the plugin's frame. It reports the stall from
there, and past the limit raises ``PluginStalledError`` out of the C call.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devnode.codes import WarningCode
from devnode.host.diagnostics import display_path
from devnode.host.naming import PACKAGE
from devnode.ownership import ledger_running_in
from devnode.paused import CLOCK
from devnode.reporting import Reporter

logger = logging.getLogger("devnode.watchdog")

INTERRUPT_SIGNAL = signal.SIGUSR2
GIL_SIGNAL = signal.SIGVTALRM  # ITIMER_VIRTUAL: counts CPU time, so an idle node never gets it
STACK_LIMIT = 25


class PluginStalledError(Exception):
    """Raised inside plugin code that blocked the event loop past the limit.

    An ordinary Exception, so every place devnode already catches plugin errors
    (import, construct, initialize, handlers, tasks) reports it with file and line.
    """


@dataclass
class Stall:
    """What was running when the loop was found blocked."""

    seconds: float
    plugin: str | None  # the owner (current ledger) of the running code
    module: str | None  # the innermost plugin-dir module on the stack, e.g. plugins.slow_plugin
    file: str | None
    line: int | None
    code: str | None
    stack: str


class SelectClock:
    """Wraps a selector's ``select`` to note whether the loop waits in it and when it last came out."""

    def __init__(self, selector: Any) -> None:
        self.selector = selector
        self.waiting = False
        self.left_at = time.monotonic()  # the loop is running whoever installs the clock
        self._had_own = "select" in vars(selector)  # an instance attribute already (someone else's wrapper)
        self._select = selector.select
        selector.select = self.select

    def select(self, timeout: float | None = None) -> Any:
        self.waiting = True
        try:
            return self._select(timeout)
        finally:
            self.waiting = False
            self.left_at = time.monotonic()

    def busy_since(self) -> float | None:
        """When the loop's current run of work began, or None while it waits in its selector."""
        left_at = self.left_at  # read before ``waiting``: a wait that ends in between then shows as work since then
        return None if self.waiting else left_at

    def remove(self) -> None:
        if vars(self.selector).get("select") is self.select:
            if self._had_own:
                self.selector.select = self._select
            else:
                del self.selector.select


class Watchdog:
    """Watches one event loop from a daemon thread; ``start`` on the loop, ``stop`` when done."""

    def __init__(
        self,
        reporter: Reporter,
        plugin_dir: Path,
        *,
        warn_after: float = 1.0,
        interrupt_after: float | None = 5.0,
        tick: float = 0.1,  # how often to look during a stall (or always, without a selector to wrap)
    ) -> None:
        self.reporter = reporter
        self.plugin_dir = plugin_dir.resolve()
        self.warn_after = warn_after
        self.interrupt_after = interrupt_after
        self.tick = tick
        self.stalls: list[Stall] = []
        self.interrupts = 0
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._select_code: types.CodeType | None = None  # the loop's selector wait: seen there, the loop is idle
        self._pinged = False
        self._clock: SelectClock | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_handler: Any = None
        self._can_interrupt = False
        self._interrupt_for: float | None = None  # the heartbeat of the stall an interrupt was sent for
        self._reported: float | None = None  # heartbeat of the stall already reported (by the thread or the alarm)
        self._longest = 0.0
        self._previous_gil_handler: Any = None
        self._gil_alarm = False

    # -- lifecycle ---------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start watching ``loop`` (default: the running loop); call from the loop's thread."""
        self._loop = loop or asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        selector = getattr(self._loop, "_selector", None)
        select = getattr(selector, "select", None)
        self._select_code = getattr(getattr(select, "__func__", None), "__code__", None)
        self._clock = SelectClock(selector) if callable(select) else None
        # Signal handlers can only be set, and only run, on the main thread.
        if self.interrupt_after is not None and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(INTERRUPT_SIGNAL, self._on_signal)
            self._can_interrupt = True
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._previous_gil_handler = signal.signal(GIL_SIGNAL, self._on_gil_alarm)
            self._gil_alarm = True
            self._arm()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="devnode-watchdog", daemon=True)
        self._thread.pydev_do_not_trace = True  # type: ignore[attr-defined]  # an attached editor never stops it
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._clock is not None:
            self._clock.remove()
            self._clock = None
        if self._can_interrupt:
            signal.signal(INTERRUPT_SIGNAL, self._previous_handler)
            self._can_interrupt = False
        if self._gil_alarm:
            self._gil_alarm = False
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(GIL_SIGNAL, self._previous_gil_handler)

    def _arm(self, seconds: float | None = None) -> None:
        """(Re)set the CPU-time alarm: it fires only if nothing re-arms it for that long."""
        if self._gil_alarm:
            signal.setitimer(signal.ITIMER_VIRTUAL, seconds if seconds is not None else self.warn_after + 4 * self.tick)

    # -- the loop side -------------------------------------------------------------
    def _heartbeat(self) -> None:
        """The answer to a ping: the loop ran it, so it is not blocked."""
        self._beat = time.monotonic()
        self._pinged = False

    def _live_beat(self) -> float:
        """When the loop was last known not blocked: now while it waits, else when it left its wait."""
        clock = self._clock
        if clock is None:
            return self._beat
        since = clock.busy_since()
        return time.monotonic() if since is None else max(since, self._beat)

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        """Runs on the loop thread, inside whatever code is blocking it."""
        stall_of, self._interrupt_for = self._interrupt_for, None
        if stall_of is None or stall_of != self._live_beat() or frame is None:
            return  # the stall ended before the signal arrived
        where = self._innermost_plugin_frame(frame)
        if where is None:
            return  # never raise inside devnode's own code
        seconds = time.monotonic() - stall_of
        self.interrupts += 1
        module = where.f_globals.get("__name__", "?")
        raise PluginStalledError(
            f"{module} blocked the event loop for {seconds:.1f} s; devnode interrupted it "
            f"after {self.interrupt_after:g} s (see --timeout) so the node keeps serving"
        )

    def _on_gil_alarm(self, signum: int, frame: types.FrameType | None) -> None:
        """Runs on the loop thread when the watching thread was starved: a C call holds the GIL."""
        beat = self._live_beat()
        lag = time.monotonic() - beat
        idle = self._loop is None or not self._loop.is_running()  # a loop that is not running is not blocked
        if lag < self.warn_after or frame is None or self._stop.is_set() or idle:
            self._arm()
            return  # the loop is fine; something else kept the watching thread waiting
        if self._reported != beat:
            self._reported, self._longest = beat, lag
            try:
                self._report(self._inspect(lag, frame), gil=True)
            except Exception:  # reporting from inside a signal handler must never add a failure
                logger.exception("could not report a stall")
        self._longest = lag
        if self.interrupt_after is not None and lag >= self.interrupt_after:
            where = self._innermost_plugin_frame(frame)
            if where is not None:
                self.interrupts += 1
                module = where.f_globals.get("__name__", "?")
                del where, frame
                self._arm()
                raise PluginStalledError(
                    f"{module} blocked the event loop for {lag:.1f} s inside a C call holding the GIL; devnode "
                    f"interrupted it after {self.interrupt_after:g} s (see --timeout) so the node keeps serving"
                )
        remaining = (self.interrupt_after - lag) if self.interrupt_after is not None and lag < self.interrupt_after else 0
        self._arm(max(remaining, self.tick))

    # -- the watching thread -----------------------------------------------------------
    def _watch(self) -> None:
        interrupted_at = 0.0
        wait = self.tick
        due = time.monotonic() + wait
        while not self._stop.wait(wait):
            now = time.monotonic()
            starved, wait = now - due > max(self.warn_after / 2, 10 * self.tick), self.tick
            if starved and self._gil_alarm:
                due = now + wait
                continue  # this thread was kept from running: the alarm's handler reports, from inside the stall
            self._arm()  # this thread runs, so the GIL is not stuck: push the CPU-time alarm back
            self._sense()
            if self._loop is not None and not self._loop.is_running():
                self._beat = time.monotonic()  # a loop that is not running is idle, not blocked
            self._skip_debugger_stops()
            beat = self._beat
            now = time.monotonic()
            lag = now - beat
            if lag < self.warn_after:
                if self._reported is not None and self._reported != beat:
                    self._ended(self._longest)
                    self._reported = None
                if self._clock is not None and self._reported is None:
                    wait = max(beat + self.warn_after - now, self.tick)  # no stall can be due before then
                due = now + wait
                continue
            due = now + wait
            if self._reported != beat:
                if self._reported is not None:
                    # The loop ran between two stalls this thread saw no gap between (a loaded machine, or
                    # devnode's own work right after an interrupted plugin): the first one has ended.
                    self._ended(self._longest)
                self._reported = beat
                interrupted_at = 0.0
                self._report(self._inspect(lag))
            self._longest = lag
            if (
                self._can_interrupt
                and self.interrupt_after is not None
                and lag >= self.interrupt_after
                and lag - interrupted_at >= self.interrupt_after
            ):
                interrupted_at = lag  # again after another interval if the plugin swallows it
                self._interrupt_for = beat
                signal.pthread_kill(self._loop_thread, INTERRUPT_SIGNAL)

    def _sense(self) -> None:
        """Stamp the heartbeat if the loop is idle in its selector; otherwise ping it (once) to hear it is alive."""
        loop = self._loop
        clock = self._clock
        if clock is not None:
            since = clock.busy_since()
            self._beat = time.monotonic() if since is None else max(since, self._beat)
            return
        if loop is None or self._pinged:
            return
        frame = sys._current_frames().get(self._loop_thread)
        idle = frame is not None and self._select_code is not None and frame.f_code is self._select_code
        del frame  # frames hold plugin objects: keep none
        if idle:
            self._beat = time.monotonic()
            return
        self._pinged = True
        try:
            loop.call_soon_threadsafe(self._heartbeat)
        except RuntimeError:  # the loop is closed
            self._pinged = False

    def _skip_debugger_stops(self) -> None:
        """A loop stopped in a debugger is the author looking around, not a plugin blocking it."""
        if CLOCK.is_stopped(self._loop_thread):
            self._beat = time.monotonic()
            return
        resumed = CLOCK.resumed_at.get(self._loop_thread)
        if resumed is not None and resumed > self._beat:
            self._beat = resumed

    def _inspect(self, lag: float, frame: types.FrameType | None = None) -> Stall:
        frame = frame or sys._current_frames().get(self._loop_thread)
        task = None
        if self._loop is not None:
            try:
                task = asyncio.current_task(self._loop)
            except RuntimeError:
                task = None
        try:
            ledger = ledger_running_in(task, self._loop_thread)
        except RuntimeError:  # a table changed size under us; the names still come from the stack
            ledger = None
        try:
            where = self._innermost_plugin_frame(frame) if frame is not None else None
            module = where.f_globals.get("__name__") if where is not None else None
            file = display_path(where.f_code.co_filename, self.plugin_dir) if where is not None else None
            line = where.f_lineno if where is not None else None
            summary = traceback.extract_stack(frame, limit=STACK_LIMIT) if frame is not None else []
        finally:
            # Frames hold plugin instances: keep none, or the leak check would blame the plugin.
            del frame
            where = None
        code = None
        for entry in reversed(summary):
            if file is not None and entry.lineno == line and display_path(entry.filename, self.plugin_dir) == file:
                code = entry.line
                break
        owner = ledger.owner if ledger is not None else None
        if owner is None and module is not None:
            owner = module.split(".")[1] if module.count(".") else module
        return Stall(round(lag, 3), owner, module, file, line, code, "".join(traceback.format_list(summary)).rstrip())

    def _report(self, stall: Stall, gil: bool = False) -> None:
        self.stalls.append(stall)
        if stall.plugin is None:
            # devnode's own code (or the machine) was slow: not the plugin author's problem.
            logger.warning("the event loop was blocked for %.1f s outside plugin code:\n%s", stall.seconds, stall.stack)
            return
        where = f" at {stall.file}:{stall.line}" if stall.file else ""
        code = f" ({stall.code.strip()})" if stall.code else ""
        if gil:
            code += " inside a C call that holds the GIL"
        then = (
            f"; devnode interrupts it after {self.interrupt_after:g} s"
            if self._can_interrupt and self.interrupt_after is not None
            else ""
        )
        self.reporter.emit(
            "warning", code=WarningCode.STALL, plugin=stall.plugin, file=stall.file, line=stall.line, seconds=stall.seconds,
            message=f"{stall.plugin} has blocked the event loop for {stall.seconds:.1f} s{where}{code}: no events, "
            f"reloads or commands run meanwhile{then}. Use await asyncio.sleep() instead of time.sleep(), and "
            "move long work to a thread (await asyncio.to_thread(...))",
            stack=stall.stack,
        )

    def _ended(self, seconds: float) -> None:
        last = self.stalls[-1] if self.stalls else None
        if last is None or last.plugin is None:
            return
        self.reporter.emit(
            "warning", code=WarningCode.STALL_ENDED, plugin=last.plugin, file=last.file, line=last.line,
            seconds=round(seconds, 3),
            message=f"the event loop is running again; {last.plugin} blocked it for about {seconds:.1f} s",
        )

    # -- helpers ---------------------------------------------------------------------
    def _innermost_plugin_frame(self, frame: types.FrameType | None) -> types.FrameType | None:
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if isinstance(name, str) and (name == PACKAGE or name.startswith(PACKAGE + ".")):
                return frame
            frame = frame.f_back
        return None
