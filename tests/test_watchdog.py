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


def _thread_switches(native_id: int) -> int:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts the thread's wakeups from /proc")
def test_idle_the_watching_thread_wakes_once_per_warn_after_yet_a_stall_is_reported_as_it_comes_due(
    tmp_path: Path,
) -> None:
    dog = Watchdog(Reporter(), tmp_path, warn_after=0.3, interrupt_after=None)  # the default tick (0.1 s)

    async def main() -> tuple[int, float, float]:
        dog.start()
        assert dog._thread is not None and dog._thread.native_id is not None
        native_id = dog._thread.native_id
        try:
            await asyncio.sleep(0.2)  # the thread's first look
            before = _thread_switches(native_id)
            await asyncio.sleep(1.5)  # idle: sampling every tick would wake it 15 times
            idle_wakeups = _thread_switches(native_id) - before
            blocked_at = time.monotonic()
            while not dog.stalls and time.monotonic() - blocked_at < 10:
                time.sleep(0.01)  # blocked (not in plugin code: logged, not reported as a record)
            return idle_wakeups, time.monotonic() - blocked_at, dog.stalls[0].seconds if dog.stalls else -1.0
        finally:
            dog.stop()

    idle_wakeups, noticed_after, seconds = asyncio.run(main())
    assert idle_wakeups <= 9  # about one a warn_after (5), with room for a loaded machine
    assert 0.3 <= seconds < 1.0 and noticed_after < 1.0  # due at warn_after, found then, not a tick or a sample later


def test_a_plugin_stall_followed_at_once_by_another_still_ends(tmp_path: Path) -> None:
    """The loop ran between two stalls the watching thread saw no gap between: the plugin's stall is ended."""
    dog, records = make(tmp_path, warn_after=0.1, interrupt_after=None)  # type: ignore[arg-type]
    dog.tick = 0.4  # samples far apart, as on a loaded machine where this thread gets little time
    plugin_code: dict[str, object] = {"__name__": "plugins.faulty_plugin", "time": time}
    exec("def crunch():\n    time.sleep(0.9)\n", plugin_code)

    async def main() -> None:
        dog.start()
        try:
            plugin_code["crunch"]()  # type: ignore[operator]
            await asyncio.sleep(0)  # one pass through the selector: the loop ran
            time.sleep(0.9)  # devnode's own slow work, right after
            await asyncio.sleep(0.5)  # idle: the thread looks again
        finally:
            dog.stop()

    asyncio.run(main())
    codes = [r["code"] for r in records if r.get("plugin") == "faulty_plugin"]
    assert codes == ["stall", "stall-ended"], records
