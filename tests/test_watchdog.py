"""The stall watchdog: reports plugin code blocking the loop, never interrupts devnode's own code."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import pytest

from devnode.reporting import Record, Reporter
from devnode.watchdog import INTERRUPT_SIGNAL, Watchdog


def make(tmp_path: Path, **options: float) -> tuple[Watchdog, list[Record]]:
    records: list[Record] = []
    reporter = Reporter()
    reporter.add_sink(records.append)
    return Watchdog(reporter, tmp_path, tick=0.02, **options), records


def test_blocking_outside_plugin_code_is_logged_not_blamed_and_never_interrupted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dog, records = make(tmp_path, warn_after=0.1, interrupt_after=0.2)

    async def devnode_code_that_blocks() -> str:
        time.sleep(0.5)  # past the interrupt limit, but not plugin code: must finish normally
        return "finished"

    async def main() -> str:
        dog.start()
        try:
            return await devnode_code_that_blocks()
        finally:
            dog.stop()

    with caplog.at_level(logging.WARNING, logger="devnode.watchdog"):
        assert asyncio.run(main()) == "finished"
    assert records == [] and dog.interrupts == 0
    assert dog.stalls and dog.stalls[0].plugin is None
    assert "outside plugin code" in caplog.text and "devnode_code_that_blocks" in caplog.text


def test_an_idle_loop_is_not_a_stall(tmp_path: Path) -> None:
    dog, records = make(tmp_path, warn_after=0.05)
    loop = asyncio.new_event_loop()
    try:
        dog.start(loop)
        time.sleep(0.3)  # the loop is not running at all: nothing to report
        loop.run_until_complete(asyncio.sleep(0.1))  # running and responsive
        dog.stop()
    finally:
        loop.close()
    assert dog.stalls == [] and records == []


def test_stop_restores_the_previous_signal_handler(tmp_path: Path) -> None:
    before = signal.getsignal(INTERRUPT_SIGNAL)
    dog, _ = make(tmp_path)

    async def main() -> None:
        dog.start()
        assert signal.getsignal(INTERRUPT_SIGNAL) != before
        dog.stop()

    asyncio.run(main())
    assert signal.getsignal(INTERRUPT_SIGNAL) == before


def test_without_an_interrupt_limit_no_signal_handler_is_installed(tmp_path: Path) -> None:
    before = signal.getsignal(INTERRUPT_SIGNAL)
    dog, _ = make(tmp_path, interrupt_after=None)  # type: ignore[arg-type]

    async def main() -> None:
        dog.start()
        assert signal.getsignal(INTERRUPT_SIGNAL) == before
        dog.stop()

    asyncio.run(main())
