"""watchfiles' Rust watcher on a thread of its own, as an async iterator for the event loop.

``watchfiles.awatch`` runs the same watcher through anyio's worker threads, and
importing anyio's asyncio backend is a sizeable part of ``devnode run``'s start-up.
This does the same with one thread and ``call_soon_threadsafe``: the watch is
registered synchronously in the iterator's first step (as with awatch, so the
reloader's catch-up rescan can follow it), the thread blocks in the watcher's own
loop, and each batch reaches the loop as one callback. Idle, it wakes exactly as
often as awatch does (the watcher's ``step``).
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


async def watch_in_thread(
    *paths: Path,
    watch_filter: Filter,
    debounce: int,
    step: int,
    stop_event: asyncio.Event,
    force_polling: bool,
    poll_delay_ms: int,
    recursive: bool = True,
) -> AsyncIterator[set[tuple[Change, str]]]:
    """Yield each batch of filtered changes under ``paths`` until ``stop_event`` is set (awatch's arguments)."""
    loop = asyncio.get_running_loop()
    stopping = threading.Event()  # what the Rust loop polls every step
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
