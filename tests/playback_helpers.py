"""Helpers for the network, scenario and record/replay tests: a real Runtime driven in-process."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conftest import async_wait_until, kinds

from devnode.config import NodeConfig
from devnode.reporting import Record
from devnode.runtime import RunOptions, Runtime

DEVNODE = [sys.executable, "-m", "devnode"]

Body = Callable[[Runtime, list[Record]], Awaitable[Any]]


def node_config(plugin_dir: Path, data_dir: Path, **fields: Any) -> NodeConfig:
    return NodeConfig(plugin_dir=str(plugin_dir), data_dir=str(data_dir),
                      sqlite_db_path=str(data_dir / "devnode.sqlite3"), **fields)


def run_live(plugin_dir: Path, data_dir: Path, body: Body | None = None, **options: Any) -> tuple[int, list[Record]]:
    """Run a real Runtime (no watcher, no stdin) until ``body`` returns, or until it stops by itself."""
    records: list[Record] = []

    async def main() -> int:
        runtime = Runtime(node_config(plugin_dir, data_dir), RunOptions(watch=False, read_commands=False, **options),
                          records.append)
        task = asyncio.create_task(runtime.run())
        if body is None:
            return await asyncio.wait_for(task, 30)
        await async_wait_until(lambda: task.done() or any(r["kind"] == "node.ready" for r in records), 30, "node.ready")
        try:
            await body(runtime, records)
        finally:
            runtime.request_stop()
        return await asyncio.wait_for(task, 30)

    return asyncio.run(main()), records


async def wait_record(records: list[Record], kind: str, timeout: float = 10.0, **fields: Any) -> Record:
    await async_wait_until(lambda: kinds(records, kind, **fields), timeout, f"{kind} {fields}")
    return kinds(records, kind, **fields)[0]
