"""Time the node spent stopped in a debugger (pdb or an attached editor), so nothing counts it as work.

A debugger calls ``stopped()`` / ``resumed()`` around the time it holds a thread
at a prompt or a breakpoint. Handler timings subtract the stops that fell inside
a handler (``exclude_pauses``, a bus observer) and mark that handler as debugged;
the stall watchdog does not count a stopped loop as blocked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

KEEP = 64  # recent stops kept: enough for every handler still being timed


@dataclass
class Stop:
    """One stretch of time a thread spent stopped in a debugger (perf_counter seconds)."""

    thread: int
    start: float
    end: float | None = None


class PauseClock:
    """Process-wide record of debugger stops, per thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, Stop] = {}
        self.stops: deque[Stop] = deque(maxlen=KEEP)
        self.resumed_at: dict[int, float] = {}  # thread -> time.monotonic() of its last resume
        self.last_end = float("-inf")  # perf_counter time the latest stop ended

    def stopped(self, thread: int | None = None) -> None:
        ident = threading.get_ident() if thread is None else thread
        with self._lock:
            if ident not in self._open:
                stop = Stop(ident, time.perf_counter())
                self._open[ident] = stop
                self.stops.append(stop)

    def resumed(self, thread: int | None = None) -> None:
        ident = threading.get_ident() if thread is None else thread
        with self._lock:
            stop = self._open.pop(ident, None)
            if stop is not None:
                stop.end = time.perf_counter()
                self.last_end = stop.end
                self.resumed_at[ident] = time.monotonic()

    def is_stopped(self, thread: int) -> bool:
        return thread in self._open

    @property
    def any_open(self) -> bool:
        return bool(self._open)

    def paused_within(self, thread: int, start: float, end: float) -> float:
        """Seconds ``thread`` spent stopped between perf_counter times ``start`` and ``end``."""
        total = 0.0
        for stop in list(self.stops):
            if stop.thread != thread:
                continue
            stop_end = stop.end if stop.end is not None else end
            overlap = min(stop_end, end) - max(stop.start, start)
            if overlap > 0:
                total += overlap
        return total

    def clear(self) -> None:
        with self._lock:
            self._open.clear()
            self.stops.clear()
            self.resumed_at.clear()
            self.last_end = float("-inf")


CLOCK = PauseClock()


def exclude_pauses(event: Any, results: list[Any]) -> None:
    """Bus observer (runs first): take debugger stops out of each handler's time and mark it debugged.

    Handlers of one dispatch run back to back and the observers run right after the
    last one, so each handler's window is rebuilt backwards from now.
    """
    stops = CLOCK.stops
    if not stops or not results:
        return
    now = time.perf_counter()
    if not CLOCK.any_open and CLOCK.last_end < now - sum(r.seconds for r in results):
        return  # every stop ended before this dispatch began: the common case
    thread = threading.get_ident()
    end = now
    for result in reversed(results):
        start = end - result.seconds
        paused = CLOCK.paused_within(thread, start, end)
        if paused > 0:
            result.seconds = max(0.0, result.seconds - paused)
            result.debugged = True
        end = start
