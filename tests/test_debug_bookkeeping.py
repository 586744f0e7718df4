"""Debugging leaves no false trail: paused time is not handler time or a stall, and devnode's own
references (the console's ``_`` and variables, pdb's frames) are not blamed on the plugin as a leak."""

from __future__ import annotations

import asyncio
import builtins
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import write_plugin
from devnode.bus import Event, EventBus, EventType
from devnode.paused import CLOCK, exclude_pauses
from devnode.reporting import Reporter
from devnode.runtime import Runtime
from devnode.ui.console import RichConsole
from devnode.ui.console.python_console import refers_to_plugin_code
from devnode.watchdog import Watchdog
from test_console_app import run_console

PAUSE = 0.3  # a debugger holding the thread this long, standing in for an author reading pdb's output


def stop_in_debugger() -> None:
    """What pdb or an attached editor does while the author looks around: the thread waits."""
    CLOCK.stopped()
    try:
        time.sleep(PAUSE)
    finally:
        CLOCK.resumed()


@pytest.fixture(autouse=True)
def fresh_clock() -> Any:
    CLOCK.clear()
    yield
    CLOCK.clear()


def test_time_stopped_in_a_debugger_is_not_handler_time_and_the_handler_is_marked_debugged() -> None:
    bus = EventBus()
    bus.add_observer(exclude_pauses, first=True)
    seen: list[Any] = []
    bus.add_observer(lambda event, results: seen.extend(results))

    def debugged(event: Event) -> None:
        stop_in_debugger()

    def plain(event: Event) -> None:
        pass

    bus.subscribe(EventType.DATA_SHARED, debugged)
    bus.subscribe(EventType.DATA_SHARED, plain)
    started = time.perf_counter()
    asyncio.run(bus.publish(Event(EventType.DATA_SHARED, {})))
    wall = time.perf_counter() - started
    first, second = seen
    assert wall >= PAUSE
    assert first.seconds < wall - PAUSE + 0.05 and getattr(first, "debugged", False)
    assert not getattr(second, "debugged", False)  # the next handler did not wait in the debugger


def test_the_watchdog_does_not_call_a_loop_stopped_in_a_debugger_a_stall(tmp_path: Path) -> None:
    reporter = Reporter()
    records: list[dict[str, Any]] = []
    reporter.add_sink(records.append)

    async def main() -> None:
        watchdog = Watchdog(reporter, tmp_path, warn_after=0.1, interrupt_after=None, tick=0.02)
        watchdog.start()
        try:
            await asyncio.sleep(0.05)
            stop_in_debugger()  # blocks the loop three times longer than warn_after
            await asyncio.sleep(0.1)
        finally:
            watchdog.stop()

    asyncio.run(main())
    assert not [r for r in records if r.get("code") == "stall"]
    assert CLOCK.resumed_at.get(threading.get_ident()) is not None


PLUGIN = """
    from dashboard.event_bus import EventType

    class Alpha_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        def on_shared(self, event):
            {body}
"""


def leaks(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "warning" and r.get("code") == "leak"]


def test_inspecting_a_plugin_in_the_python_console_then_reloading_it_blames_no_one(
    plugin_dir: Path, tmp_path: Path
) -> None:
    write_plugin(plugin_dir, "alpha_plugin", PLUGIN.format(body="pass"))
    held: dict[str, Any] = {}

    async def script(runtime: Runtime, ui: RichConsole, output: Any) -> None:
        repl = ui.python_console()
        await asyncio.to_thread(repl.push, "plugins['alpha_plugin']")  # the console's _ now holds it
        await asyncio.to_thread(repl.push, "mine = plugins['alpha_plugin']")  # and so does a variable
        held["underscore"] = refers_to_plugin_code(builtins.__dict__.get("_"))
        await runtime.run_command("reload alpha_plugin")
        runtime.host.report_leaks()
        await asyncio.to_thread(repl.push, "del mine")
        await runtime.run_command("reload alpha_plugin")
        runtime.host.report_leaks()

    _, records = run_console(plugin_dir, tmp_path / "data", script)
    assert held["underscore"]  # the test did hold the old version where the console keeps it
    assert [r for r in records if r["kind"] == "plugin.reloaded"]
    assert not leaks(records), leaks(records)


def test_a_pdb_session_keeps_no_plugin_frames_alive_after_continue(
    plugin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_plugin(plugin_dir, "alpha_plugin", PLUGIN.format(body="breakpoint()"))
    monkeypatch.setattr("sys.stdin", io.StringIO("p self.version\nc\n"))  # pdb reads its commands here

    async def script(runtime: Runtime, ui: RichConsole, output: Any) -> None:
        await runtime.run_command('emit data.shared {"a": 1}')
        await runtime.run_command("reload alpha_plugin")
        runtime.host.report_leaks()

    _, records = run_console(plugin_dir, tmp_path / "data", script)
    assert "'1.0.0'" in capsys.readouterr().out  # pdb ran the scripted commands
    assert [r for r in records if r["kind"] == "plugin.reloaded"]
    assert not leaks(records), leaks(records)


def test_a_real_leak_is_still_reported(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "alpha_plugin", PLUGIN.format(body="pass") + "\n    import json\n    json.__dict__.setdefault(\"kept\", []).append(Alpha_pluginPlugin)\n")

    async def script(runtime: Runtime, ui: RichConsole, output: Any) -> None:
        ui.python_console()
        await runtime.run_command("reload alpha_plugin")
        runtime.host.report_leaks()

    try:
        _, records = run_console(plugin_dir, tmp_path / "data", script)
    finally:
        import json

        json.__dict__.pop("kept", None)
    assert leaks(records)
