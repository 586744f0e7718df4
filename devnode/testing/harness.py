"""NodeHarness: one session's node on a private event loop, driven from sync code.

The base of the testing kit (``DevNodeKit``) and of the project's own test
harness (``tests/conftest.py``): both build their node through ``NodeSession``
here, collect its records, and tear it down in one order (plugins, node, stray
tasks, hooks, loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from devnode.config import NodeConfig
from devnode.production.options import ProductionOptions
from devnode.reporting import Record, Reporter
from devnode.session import NodeKind, NodeSession

T = TypeVar("T")
SETTLE_TIMEOUT = 5.0


async def await_until(predicate: Callable[[], Any], timeout: float = SETTLE_TIMEOUT, what: str = "") -> Any:
    """Poll ``predicate`` on the loop until it is truthy; fail after ``timeout`` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)


class NodeHarness:
    """A node built by a ``NodeSession`` (no host yet) on a loop of its own; ``close`` undoes it all."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        kind: NodeKind = "standin",
        production: ProductionOptions | None = None,
        timeout: float = 5.0,
        check_leaks: bool = True,
        start_node: bool = False,
    ) -> None:
        self.timeout = timeout
        self.records: list[Record] = []
        self.reporter = Reporter()
        self.reporter.add_sink(self._record)
        self.loop = asyncio.new_event_loop()
        self._closed = False
        self.session = NodeSession(config, self.reporter, kind=kind, production=production, timeout=timeout,
                                   check_leaks=check_leaks)
        try:
            self.run(self.session.open(host=False))
            self.node: Any = self.session.node
            self._attach()
            if start_node:
                self.run(self.session.start_node())
        except BaseException:
            self.loop.run_until_complete(self.session.close())
            self.loop.close()
            raise

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the node's loop until it is done."""
        return self.loop.run_until_complete(coro)

    def kinds(self, kind: str, plugin: str | None = None) -> list[Record]:
        """The records of ``kind`` so far (of ``plugin``'s, if given)."""
        return [r for r in self.records if r["kind"] == kind and (plugin is None or r.get("plugin") == plugin)]

    def close(self) -> None:
        """Stop plugins and node, cancel stray tasks, remove the global hooks, close the loop (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.run(self.session.stop())
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.wait(pending, timeout=self.timeout))
        finally:
            self._detach()
            self.loop.run_until_complete(self.session.close())  # removes the global hooks
            self.loop.close()

    # -- what a harness adds -------------------------------------------------------------
    def _record(self, record: Record) -> None:
        self.records.append(record)

    def _attach(self) -> None:
        """Called once the node exists, before it starts: observers go on here."""

    def _detach(self) -> None:
        """Called at close, before the hooks go: undo what ``_attach`` did."""
