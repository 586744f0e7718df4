"""Waiting until a step's work is done: the step itself, then every task it started, within a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def settled(coro: Awaitable[T], timeout: float,
                  exclude: Callable[[], set[asyncio.Task[Any]]] | None = None) -> T:
    """Await ``coro``, then every task started meanwhile (transitively), within ``timeout``.

    ``exclude``: tasks not to wait for, asked again each round (the plugins' own
    lifetime tasks when loading: a task started in initialize() runs until unload).
    """
    current = asyncio.current_task()
    before = asyncio.all_tasks()
    result = await coro
    deadline = time.monotonic() + timeout
    while True:
        pending = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
        if exclude is not None:
            pending -= exclude()
        if not pending:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            names = ", ".join(_task_name(t) for t in pending)
            raise TimeoutError(f"tasks started by this step are still running after {timeout:g} s: {names}. "
                               "A task that runs for the plugin's lifetime should be started in initialize(); "
                               "otherwise make it finish")
        await asyncio.wait(pending, timeout=remaining)


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None) or repr(coro)
    return f"{task.get_name()} ({qualname})"
