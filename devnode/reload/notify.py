"""watchfiles' Rust watcher on a thread of its own, as an async iterator for the event loop.

``watchfiles.awatch`` runs the same watcher through anyio's worker threads, and
importing anyio's asyncio backend is a sizeable part of ``devnode run``'s start-up.
This does the same with one thread and ``call_soon_threadsafe``: the watch is
registered synchronously in the iterator's first step (as with awatch, so the
reloader's catch-up rescan can follow it), the thread blocks in the watcher's own
loop, and each batch reaches the loop as one callback. Idle, it wakes exactly as
often as awatch does (the watcher's ``step``). A periodic check the caller needs
(``on_tick``: the reloader's "is the plugin dir still the one watched?") runs on
this thread between two steps, so it costs the loop no wakeup of its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from watchfiles import Change
from watchfiles._rust_notify import RustNotify  # the backend awatch and watch wrap (documented by watchfiles)

Filter = Callable[[Change, str], bool]
RUST_TIMEOUT_MS = 5_000  # the watcher returns "timeout" this often when nothing happens; the thread goes on


class _Stopping:
    """The flag the Rust loop reads every step (``is_set``); every ``steps`` steps it also runs ``on_tick`` there.

    Kept to two attribute reads a step: this runs a hundred times a second on an idle node, with cold
    caches, where even a clock read showed (0.09 points of a core, measured per thread from /proc).
    A plain attribute is enough for the flag: both threads read and write it under the GIL.
    """

    def __init__(self, on_tick: Callable[[], None] | None, steps: int) -> None:
        self._flag = False
        self._on_tick = on_tick
        self._steps = steps
        self._left = steps if on_tick is not None else -1  # -1: never reaches 0

    def set(self) -> None:
        self._flag = True

    def is_set(self) -> bool:
        self._left -= 1
        if self._left == 0:
            self._left = self._steps
            self._on_tick()  # type: ignore[misc]  # set only with an on_tick
        return self._flag


async def watch_in_thread(
    *paths: Path,
    watch_filter: Filter,
    debounce: int,
    step: int,
    stop_event: asyncio.Event,
    force_polling: bool,
    poll_delay_ms: int,
    recursive: bool = True,
    on_tick: Callable[[], None] | None = None,
    tick_seconds: float = 0.5,
) -> AsyncIterator[set[tuple[Change, str]]]:
    """Yield each batch of filtered changes under ``paths`` until ``stop_event`` is set (awatch's arguments).

    ``on_tick`` (if given) is called on the watching thread about every ``tick_seconds`` (counted in
    steps) while the watch lasts; it must not raise.
    """
    loop = asyncio.get_running_loop()
    stopping = _Stopping(on_tick, max(1, round(tick_seconds * 1000 / max(step, 1))))  # polled every step
    batches: asyncio.Queue[set[tuple[Change, str]] | BaseException | None] = asyncio.Queue()
    ignore_denied = bool(os.getenv("WATCHFILES_IGNORE_PERMISSION_DENIED"))
    debug = bool(os.getenv("WATCHFILES_DEBUG"))
    with RustNotify([str(p) for p in paths], debug, force_polling, poll_delay_ms, recursive, ignore_denied) as watcher:

        def post(item: set[tuple[Change, str]] | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(batches.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stopping.set()

        def run() -> None:
            try:
                while not stopping.is_set():
                    raw = watcher.watch(debounce, step, RUST_TIMEOUT_MS, stopping)
                    if raw == "stop":
                        break
                    if isinstance(raw, str):  # "timeout" (or "signal", which a non-main thread never gets)
                        continue
                    changes = {(Change(c), p) for c, p in raw if watch_filter(Change(c), p)}
                    if changes:
                        post(changes)
            except BaseException as exc:  # e.g. the watched dir vanished: the consumer raises it
                if on_tick is not None:
                    on_tick()  # a last look: the caller's check may explain the failure (the dir is gone)
                post(exc)
            finally:
                post(None)

        thread = threading.Thread(target=run, name="devnode-watcher", daemon=True)
        thread.start()
        stopped = loop.create_task(stop_event.wait())
        try:
            while True:
                got = loop.create_task(batches.get())
                await asyncio.wait({got, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not got.done():
                    got.cancel()
                    return
                item = got.result()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stopping.set()
            stopped.cancel()
            thread.join(timeout=5)  # within one step: the Rust loop checks ``stopping`` every step
