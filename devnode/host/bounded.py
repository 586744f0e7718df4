"""Awaiting a plugin's async hook with a deadline that a hook swallowing its cancellation cannot stretch."""

from __future__ import annotations

import asyncio
from typing import Any

from devnode.ownership import _task_owner


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def within(awaitable: Any, seconds: float) -> Any:
    """Await a plugin's hook for at most ``seconds``; past that it is cancelled and not waited for.

    Unlike ``asyncio.wait_for``, a hook that swallows the cancellation cannot hold
    the swap (or quit) up: it is left to end on its own. It runs as a task of the
    plugin (what it starts is the plugin's), but its outcome is this call's, not a
    separately reported task failure.
    """
    task = asyncio.ensure_future(_awaited(awaitable))
    owner = _task_owner.get(task)
    if owner is not None:
        owner.tasks.discard(task)
        task.remove_done_callback(owner._task_done)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:  # devnode itself is being cancelled (shutting down): take the hook with it
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=min(seconds, 0.2))
        if not task.done():
            task.add_done_callback(_forget_outcome)
        raise asyncio.TimeoutError
    return task.result()


def _forget_outcome(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned hook's end is not an "exception never retrieved" at exit
