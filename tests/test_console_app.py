"""The rich console driven in-process: a real Runtime and plugins, output to a recording Console."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conftest import async_wait_until, clean_env, write_plugin
from devnode.config import NodeConfig
from devnode.bus import Event, EventType
from devnode.reporting import Record
from devnode.runtime import RunOptions, Runtime
from devnode.ui.console import RichConsole
from devnode.ui.console.repl import NodeConsole, namespace

Script = Callable[[Runtime, RichConsole, Callable[[], str]], Awaitable[None]]


def run_console(plugin_dir: Path, data_dir: Path, script: Script, width: int = 100, **console_options: Any) -> tuple[str, list[Record]]:
    """Run a node with the rich console writing to a string; ``script`` drives it, then the node stops."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False)
    ui = RichConsole(console=console, **console_options)
    config = NodeConfig(plugin_dir=str(plugin_dir), data_dir=str(data_dir),
                        sqlite_db_path=str(data_dir / "devnode.sqlite3"), initial_peers=["peer1"])
    runtime = Runtime(config, RunOptions(watch=False), ui, commands_in=None, on_start=ui.attach)
    records: list[Record] = []
    runtime.reporter.add_sink(records.append)

    async def main() -> int:
        task = asyncio.create_task(runtime.run())
        await async_wait_until(lambda: any(r["kind"] == "node.ready" for r in records) or task.done(), what="node.ready")
        await script(runtime, ui, out.getvalue)
        runtime.request_stop()
        return await task

    try:
        assert asyncio.run(main()) == 0
    finally:
        ui.close()
    return out.getvalue(), records


async def publish(runtime: Runtime, count: int, event_type: EventType = EventType.DATA_SHARED) -> None:
    for i in range(count):
        await runtime.node.event_bus.publish(Event(event_type, {"n": i}))
        if i % 100 == 99:
            await asyncio.sleep(0)  # a real burst yields now and then: the console gets its frames


COUNTER = """
    from dashboard.event_bus import EventType

    class Counter_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"
            self.seen = 0

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.count)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.count)

        def count(self, event):
            self.seen += 1
"""


def test_a_burst_is_coalesced_and_every_event_is_accounted_for(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "counter_plugin", COUNTER)

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        await publish(runtime, 3000)
        await async_wait_until(lambda: "data.shared ×" in output(), what="a burst line")

    text, _ = run_console(plugin_dir, tmp_path / "data", script)
    singles = re.findall(r"data\.shared \{\"n\":\d+\} → counter_plugin ok", text)
    bursts = [int(n) for n in re.findall(r"data\.shared ×(\d+) in [\d.]+ s → counter_plugin ok \1 ", text)]
    assert bursts, text
    assert len(singles) + sum(bursts) == 3000  # coalesced, not dropped
    assert len(singles) + len(bursts) < 30  # and not flooding the screen


FAILING_HANDLER = """
    from dashboard.event_bus import EventType

    class Bad_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.node.event_bus.subscribe(EventType.COMPLIANCE_EVENT, self.on_event)

        def shutdown(self):
            pass

        def on_event(self, event):
            return event.data["missing"]
"""


def test_a_failing_handler_gets_one_panel_per_place_until_the_plugin_reloads(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "bad_plugin", FAILING_HANDLER)

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        for _ in range(3):
            await publish(runtime, 1, EventType.COMPLIANCE_EVENT)
        await async_wait_until(lambda: output().count("FAILED") == 3, what="three failed event lines")
        await runtime.run_command("reload bad_plugin")
        await publish(runtime, 1, EventType.COMPLIANCE_EVENT)
        await async_wait_until(lambda: output().count("failed in handler") == 2, what="a second panel after reload")

    text, _ = run_console(plugin_dir, tmp_path / "data", script)
    assert text.count("failed in handler") == 2
    assert "plugins/bad_plugin.py:14:16 in on_event" in text
    assert re.search(r"❱ 14 │\s+return event\.data\[\"missing\"\]", text)
    assert re.search(r"│ KeyError: 'missing' +│\n│ in handler Bad_pluginPlugin\.on_event on compliance\.event +│", text)
    assert "compliance.event {\"n\":0} → bad_plugin FAILED" in text


FAILING_INIT = """
    class Broken_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.limits = {"max": 3}
            return self.limits["min"]

        def shutdown(self):
            pass
"""


def test_a_start_failure_panel_has_the_plugin_frame_captured_when_it_failed(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "broken_plugin", FAILING_INIT)

    footer: list[str] = []

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        await async_wait_until(lambda: "failed in initialize" in output(), what="the panel")
        probe = Console(width=100, color_system=None, force_terminal=True, file=io.StringIO())
        probe.print(ui.footer_renderable())
        footer.append(probe.file.getvalue())  # type: ignore[attr-defined]

    text, records = run_console(plugin_dir, tmp_path / "data", script)
    assert "plugins/broken_plugin.py:7" in text and "in initialize" in text
    assert re.search(r"❱ 7 │\s+return self\.limits\[\"min\"\]", text)
    assert "KeyError: 'min'" in text
    assert "(the plugin is not running)" in text
    assert re.search(r"^broken_plugin\s+-\s+failed\s+0 ", footer[0], re.M), footer[0]


LOGGING = """
    import logging
    from dashboard.event_bus import EventType

    logger = logging.getLogger(__name__)

    class Chatty_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "2.1.0"

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)
            logger.info("ready")

        def shutdown(self):
            logger.info("bye")

        def on_shared(self, event):
            logger.debug("debug detail %s", event.data.get("n"))
"""


def test_keys_run_the_commands_pause_the_stream_and_quit(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "chatty_plugin", LOGGING)

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        ui._on_key("s")
        await async_wait_until(lambda: "1 plugin(s) · 1 subscriptions" in output(), what="status details")
        ui._on_key("?")
        await async_wait_until(lambda: "commands (after :)" in output(), what="help")
        await publish(runtime, 1)
        ui._on_key("l")  # INFO -> WARNING
        ui._on_key("l")  # WARNING -> ERROR
        ui._on_key("l")  # ERROR -> DEBUG
        await async_wait_until(lambda: runtime.options.log_level == "DEBUG", what="log level DEBUG")
        await publish(runtime, 1)
        await async_wait_until(lambda: "debug detail 0" in output(), what="a DEBUG line")
        ui._on_key("r")
        await async_wait_until(lambda: "reloaded chatty_plugin 2.1.0" in output(), what="reload line")
        ui._on_key("p")
        await publish(runtime, 5)
        await asyncio.sleep(0.3)
        assert "debug detail" in output() and output().count("data.shared {") == 2
        ui._on_key("p")
        await async_wait_until(lambda: "event stream resumed: 5 event(s) while paused (data.shared ×5)" in output(),
                               what="pause summary")
        ui._on_key("q")
        await asyncio.wait_for(runtime.stop_event.wait(), 10)

    text, records = run_console(plugin_dir, tmp_path / "data", script)
    assert re.search(r"INFO\s+chatty_plugin ready", text)
    assert re.search(r"DEBUG\s+chatty_plugin debug detail 0", text)
    assert text.count("debug detail") == 1 + 5  # the first event was logged at INFO, so not shown
    assert "ok: log-level" in text
    assert re.search(r"INFO\s+chatty_plugin bye", text) and "unloaded chatty_plugin (node stopping)" in text
    assert "node stopped (quit)" in text


def test_footer_fits_80_columns_and_names_every_key(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "chatty_plugin", LOGGING)
    footers: list[str] = []

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        probe = Console(width=80, color_system=None, force_terminal=True, file=io.StringIO())
        probe.print(ui.footer_renderable())
        footers.append(probe.file.getvalue())  # type: ignore[attr-defined]

    run_console(plugin_dir, tmp_path / "data", script, width=80)
    lines = footers[0].splitlines()
    assert max(len(line) for line in lines) <= 80
    assert re.search(r"^chatty_plugin\s+active\s+0\s+1\s+0\s+0\s+0$", footers[0], re.M), footers[0]
    assert "node1 · 1 plugin(s) · 1 events · log INFO · not watching" in footers[0]
    assert lines[-1].split() == ["r", "reload", "s", "status", "e", "emit", ":", "command", "c", "console",
                                 "p", "pause", "l", "log", "?", "help", "q", "quit"]


@pytest.mark.parametrize("width", [60, 64, 72, 79])
def test_the_key_line_degrades_below_80_columns_without_wrapping_or_losing_keys_silently(width: int) -> None:
    from devnode.ui.console.key_hints import KEYS, key_hints

    line = key_hints(width).plain
    assert len(line) <= width
    shown = line.split()[::2]
    assert "?" in shown and "q" in shown
    if len(shown) < len(KEYS):
        assert "? more" in line  # a dropped key is one ? away


# -- the Python console ------------------------------------------------------------------------
@contextlib.contextmanager
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_python_console_runs_code_on_the_loop_with_top_level_await() -> None:
    with loop_thread() as loop:
        ns: dict[str, Any] = {"asyncio": asyncio}
        console = NodeConsole(ns, loop)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            console.push("import threading")
            console.push("where = await asyncio.sleep(0, threading.current_thread().name)")
            console.push("where")
            console.push("1 / 0")
        assert ns["where"] != threading.current_thread().name  # ran on the loop's thread
        assert repr(ns["where"]) in out.getvalue()
        assert "ZeroDivisionError" in err.getvalue() and "_execute" not in err.getvalue()
        with pytest.raises(SystemExit):
            console.push("raise SystemExit(3)")
        assert loop.is_running()  # SystemExit left the console, not the node's loop


def test_python_console_namespace_follows_reloads(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "chatty_plugin", LOGGING)
    seen: list[Any] = []

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        ns = namespace(runtime)
        before = ns["plugins"]["chatty_plugin"]
        await runtime.run_command("reload chatty_plugin")
        seen.extend([before, ns["plugins"]["chatty_plugin"], ns["node"], ns["bus"], ns["EventType"]])
        ns["exit"]  # repr'd at the prompt: must not close stdin like the builtin would
        with pytest.raises(SystemExit):
            ns["exit"]()

    run_console(plugin_dir, tmp_path / "data", script)
    before, after, node, bus, event_type = seen
    assert before is not after and type(after).__name__ == "Chatty_pluginPlugin"
    assert bus is node.event_bus and event_type is EventType


def test_ui_auto_falls_back_to_plain_when_stdout_is_not_a_terminal(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "chatty_plugin", LOGGING)
    done = subprocess.run(
        [sys.executable, "-m", "devnode", "run", str(plugin_dir), "--data-dir", str(tmp_path / "data"), "--no-watch"],
        input="quit\n", capture_output=True, text=True, timeout=60, env=clean_env(), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "devnode: node node1 ready; 1 plugin(s)" in done.stdout  # the plain UI's line
    assert "\x1b[" not in done.stdout


SHUTDOWN_FAILS = """
    from dashboard.event_bus import EventType

    class Fragile_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            self.node.event_bus.subscribe(EventType.COMPLIANCE_EVENT, self.on_event)

        def shutdown(self):
            pending = ["flush"]
            raise RuntimeError("could not " + pending[0])

        def on_event(self, event):
            wanted = "missing"
            return event.data[wanted]
"""


def test_pdb_mode_debugs_handler_and_shutdown_failures_while_their_frames_are_alive(
    plugin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plugin(plugin_dir, "fragile_plugin", SHUTDOWN_FAILS)
    debugged: list[tuple[str, dict[str, Any]]] = []

    def fake_post_mortem(stage: Any, exc: BaseException, plugin_dir: Path) -> None:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        assert tb is not None
        debugged.append((tb.tb_frame.f_code.co_name, dict(tb.tb_frame.f_locals)))

    monkeypatch.setattr("devnode.ui.console.failures.post_mortem", fake_post_mortem)

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        await publish(runtime, 1, EventType.COMPLIANCE_EVENT)
        await publish(runtime, 1, EventType.COMPLIANCE_EVENT)  # the same failure again: reported once
        await async_wait_until(lambda: "failed in handler" in output(), what="handler panel")

    text, _ = run_console(plugin_dir, tmp_path / "data", script, post_mortem=True)
    names = [name for name, _ in debugged]
    assert names == ["on_event", "shutdown"]
    handler_locals, shutdown_locals = debugged[0][1], debugged[1][1]
    assert handler_locals["wanted"] == "missing" and handler_locals["event"].data == {"n": 0}
    assert shutdown_locals["pending"] == ["flush"]  # not yet cleared by the host
    assert "failed in shutdown" in text


def test_command_line_completes_commands_plugins_event_types_and_peers(plugin_dir: Path, tmp_path: Path) -> None:
    write_plugin(plugin_dir, "chatty_plugin", LOGGING)
    words: dict[str, list[str]] = {}

    async def script(runtime: Runtime, ui: RichConsole, output: Callable[[], str]) -> None:
        for line in ("", "rel", "reload ", "emit ", "emit data.shared ", "peer ", "peer connect ", "share ",
                     "transfer ", "transfer native ", "balance peer1 ", "log-level ", "quit ", "bogus "):
            words[line] = ui._command_words(line)

    run_console(plugin_dir, tmp_path / "data", script)
    assert {"reload", "emit", "status", "quit"} <= set(words[""]) and words["rel"] == words[""]
    assert words["reload "] == ["chatty_plugin", "all"]
    assert "data.shared" in words["emit "] and "system.error" in words["emit "]
    assert words["peer "] == ["connect", "disconnect"]
    assert words["peer connect "] == words["share "] == ["peer1"]
    assert words["log-level "] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    # Each command completes its own arguments, by position: no event types where the JSON goes.
    assert words["emit data.shared "] == words["quit "] == words["bogus "] == []
    assert words["transfer "] == words["balance peer1 "] == ["native"] and words["transfer native "] == ["peer1"]


def test_the_footer_counts_every_row_of_its_table_and_names_those_not_serving() -> None:
    from devnode.ui.console.footer_view import plugin_count

    rows = [{"plugin": f"p{i}", "state": "active"} for i in range(5)] + [{"plugin": "broken", "state": "failed"}]
    assert plugin_count(rows) == "6 plugin(s) (1 failed)"
    assert plugin_count(rows[:2]) == "2 plugin(s)"
