"""``asyncio.run`` for a node whose plugins may leave tasks that never end: the same steps, each bounded.

``asyncio.run`` cancels the tasks still pending at the end and then waits for
them without limit, so one plugin task that swallows its cancellation would
keep ``quit`` from ever returning. Here the wait is bounded, and what did not
end is named (the caller then exits without waiting for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from devnode import safe


def run_bounded(main: Coroutine[Any, Any, int], grace: float) -> tuple[int, list[str]]:
    """Run ``main`` to its end; returns its result and the tasks that ignored cancellation for ``grace`` s."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        result = loop.run_until_complete(main)
        stuck = _cancel_remaining(loop, grace)
        if not stuck:
            loop.run_until_complete(loop.shutdown_asyncgens())
        return result, stuck
    finally:
        asyncio.set_event_loop(None)
        if not loop.is_closed() and not loop.is_running():
            loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop, grace: float) -> list[str]:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return []
    for task in pending:
        task.cancel()
    done, left = loop.run_until_complete(asyncio.wait(pending, timeout=grace))
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            pass  # retrieved: a task that failed while being cancelled at exit is not news
    return [f"task {safe.text(t.get_name())} ({safe.representation(t.get_coro())[:80]}) ignored cancellation"
            for t in left]
