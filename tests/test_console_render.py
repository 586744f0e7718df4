"""The rich console's renderers, through a recording Console (fixed width, no colour)."""

from __future__ import annotations

import importlib.util
import io
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType

from devnode.host.diagnostics import diagnose
from devnode.ui.console import errors
from devnode.ui.console.event_lines import Burst, Coalescer, burst_line, event_line
from devnode.ui.console.history import render as render_record
from devnode.ui.console.style import clock
from devnode.ui.console.table import status_details, status_table

TS = 1_800_000_000.0  # a fixed record time


def render(renderable: RenderableType, width: int = 80) -> str:
    console = Console(width=width, color_system=None, force_terminal=True, file=io.StringIO(), highlight=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def plugin(name: str, state: str = "active", **fields: Any) -> dict[str, Any]:
    return {"plugin": name, "version": "1.2.0", "state": state, "reloads": 0, "last_change": TS,
            "subscriptions": 2, "tasks": 1, "patches": 0, "threads": 0, "events_handled": 17, "errors": 0,
            "error": None, **fields}


STATES = [
    plugin("audit_plugin"),
    plugin("configurable_plugin", "failed-running-previous", reloads=3, errors=2, error="NameError: name 'x' is not defined"),
    plugin("validation_plugin", "failed", version=None, subscriptions=0, tasks=0),
    plugin("metrics_plugin", "unloaded"),
]


# -- status table ----------------------------------------------------------------------
def test_status_table_at_100_columns_shows_every_column_and_state() -> None:
    text = render(status_table(STATES, 100), 100)
    header = text.splitlines()[0].split()
    assert header == ["plugin", "version", "state", "reloads", "changed", "subs", "tasks", "events", "errors"]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[2:] if line.strip()}
    assert rows["audit_plugin"] == ["audit_plugin", "1.2.0", "active", "0", clock(TS), "2", "1", "17", "0"]
    assert rows["configurable_plugin"][2:4] == ["failed-running-previous", "3"]
    assert rows["configurable_plugin"][-1] == "2"
    assert rows["validation_plugin"][1:3] == ["-", "failed"]
    assert rows["metrics_plugin"][2] == "unloaded"
    assert max(len(line) for line in text.splitlines()) <= 100


def test_status_table_stays_on_one_line_per_plugin_at_80_columns() -> None:
    text = render(status_table(STATES, 80), 80)
    lines = [line for line in text.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 2 + len(STATES)  # header, rule, one row each: nothing wrapped
    for p in STATES:
        assert any(line.split()[0] == p["plugin"] and p["state"] in line.split() for line in lines)
    assert "version" not in lines[0] and "changed" not in lines[0]


def test_status_table_caps_rows_and_says_how_many_are_hidden() -> None:
    many = [plugin(f"p{i:02d}_plugin") for i in range(10)]
    text = render(status_table(many, 100, limit=4), 100)
    assert "p02_plugin" in text and "p03_plugin" not in text
    assert "… 7 more (press s)" in text


def test_status_details_adds_errors_and_leftovers() -> None:
    record = {"kind": "status", "ts": TS, "plugins": [*STATES, plugin("patchy_plugin", patches=2)],
              "subscriptions": 6, "events": 40, "peers": ["peer1"]}
    text = render(status_details(record, 100), 100)
    assert "5 plugin(s) · 6 subscriptions · 40 events published · peers: peer1" in text
    assert re.search(r"configurable_plugin\s+NameError: name 'x' is not defined", text)
    assert re.search(r"patchy_plugin\s+patches 2", text)


# -- event lines --------------------------------------------------------------------------
def event(kind: str = "data.shared", ts: float = TS, handlers: list[dict[str, Any]] | None = None, **data: Any) -> dict[str, Any]:
    return {"kind": "event", "ts": ts, "type": kind, "data": data or {"data_hash": "ab" * 32, "recipient": "peer1"},
            "handlers": handlers if handlers is not None else [
                {"plugin": "audit_plugin", "handler": "A._log", "ok": True, "ms": 0.213, "error": None},
                {"plugin": "example_plugin", "handler": "E.on", "ok": False, "ms": 1.5, "error": "KeyError: 'x'"},
            ]}


def test_event_line_shows_type_preview_and_each_handler() -> None:
    text = render(event_line(event()), 200).strip()
    assert text.startswith(f"{clock(TS)} data.shared {{\"data_hash\":\"abab")
    assert "…" in text  # the long payload is cut short
    assert text.endswith("→ audit_plugin ok 0.2 ms, example_plugin FAILED 1.5 ms (KeyError: 'x')")


def test_event_line_without_handlers_says_so() -> None:
    assert render(event_line(event(handlers=[], n=1)), 80).strip() == f"{clock(TS)} data.shared {{\"n\":1}} → no handlers"


def feed_burst(coalescer: Coalescer, count: int, start: float, seconds: float, ticks: int = 10) -> list[Any]:
    """``count`` events spread over ``seconds``, flushed in ``ticks`` frames; returns everything printed."""
    out: list[Any] = []
    per_tick = count // ticks
    for t in range(ticks):
        now = start + seconds * t / ticks
        batch = [event(ts=TS + now + i * seconds / count, handlers=[
            {"plugin": "audit_plugin", "handler": "A", "ok": True, "ms": 0.1, "error": None}]) for i in range(per_tick)]
        out += coalescer.feed(batch, now)
    return out


def test_a_burst_becomes_one_line_per_second() -> None:
    coalescer = Coalescer()
    out = feed_burst(coalescer, 250, start=0.0, seconds=0.95)
    assert out == [] and coalescer.pending
    done = coalescer.feed([], 1.0)
    assert len(done) == 1 and isinstance(done[0], Burst)
    assert done[0].count == 250
    text = render(burst_line(done[0]), 100).strip()
    assert re.fullmatch(rf"{clock(TS)} data\.shared ×250 in 0\.9 s → audit_plugin ok 250 \(avg 0\.10 ms\)", text), text


def test_a_continuing_stream_keeps_coalescing_then_quiet_returns_to_single_lines() -> None:
    coalescer = Coalescer()
    feed_burst(coalescer, 100, start=0.0, seconds=0.9)
    assert [b.count for b in coalescer.feed([], 1.0)] == [100]
    # Still streaming: even a small batch joins the next summary instead of printing alone.
    assert coalescer.feed([event(ts=TS + 1.05)], 1.05) == []
    assert [b.count for b in coalescer.feed([], 1.6)] == [1]  # quiet for 0.5 s: the burst ends
    assert not coalescer.pending
    single = event(ts=TS + 3)
    assert coalescer.feed([single], 3.0) == [single]


def test_a_steady_trickle_prints_singly_until_it_exceeds_the_per_second_budget() -> None:
    coalescer = Coalescer(singles=10)
    printed = []
    for i in range(15):  # 15 events within one second, one per frame
        printed += coalescer.feed([event(ts=TS + i * 0.06)], i * 0.06)
    assert len(printed) == 10 and all(isinstance(p, dict) for p in printed)
    (burst,) = coalescer.feed([], 1.5)
    assert burst.count == 5


def test_burst_line_tallies_failures_per_plugin_with_the_first_error() -> None:
    coalescer = Coalescer()
    batch = [event(ts=TS + i / 100) for i in range(40)]
    coalescer.feed(batch, 0.0)
    (burst,) = coalescer.feed([], 1.0)
    text = render(burst_line(burst), 200)
    assert "data.shared ×40" in text
    assert "audit_plugin ok 40" in text
    assert "example_plugin FAILED 40 (avg 1.50 ms) first error: KeyError: 'x'" in text


def test_types_coalesce_separately() -> None:
    coalescer = Coalescer()
    shared = [event(ts=TS + i / 100) for i in range(20)]
    one = event("token.transfer_completed", ts=TS + 0.5, tx="0x1")
    out = coalescer.feed([*shared, one], 0.0)
    assert out == [one]
    assert [b.type for b in coalescer.close_all()] == ["data.shared"]


# -- history lines -------------------------------------------------------------------------
def test_reload_line_has_version_trigger_and_timings() -> None:
    record = {"kind": "plugin.reloaded", "ts": TS, "plugin": "audit_plugin", "version": "1.0.1",
              "trigger": ["audit_plugin.py modified"], "timings": {"detect": 12.0, "import": 1.25, "total": 14.5}}
    text = render(render_record(record, 120), 120).strip()
    assert text == f"{clock(TS)} reloaded audit_plugin 1.0.1 in 14.5 ms (audit_plugin.py modified) [detect 12.0, import 1.2 ms]"


def test_log_line_is_attributed_to_its_plugin_with_its_level() -> None:
    record = {"kind": "log", "ts": TS, "plugin": "example_plugin", "level": "WARNING",
              "logger": "plugins.example_plugin", "message": "disk [almost] full"}
    assert render(render_record(record, 80)).strip() == f"{clock(TS)} WARNING example_plugin disk [almost] full"


def test_log_levels_have_their_own_colours() -> None:
    console = Console(width=80, color_system="standard", force_terminal=True, file=io.StringIO())
    for level in ("INFO", "ERROR"):
        console.print(render_record({"kind": "log", "ts": TS, "plugin": "p", "level": level, "message": "m"}, 80))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[32mINFO" in out and "\x1b[1;31mERROR" in out


def test_help_lists_keys_and_commands() -> None:
    record = {"kind": "help", "ts": TS, "commands": [{"usage": "emit TYPE [JSON]", "summary": "publish an event"}]}
    text = render(render_record(record, 80))
    assert re.search(r"^q\s+quit", text, re.M) and re.search(r"^:\s+command line", text, re.M)
    assert re.search(r"emit TYPE \[JSON\]\s+publish an event", text)


# -- error panels ------------------------------------------------------------------------
FAILING = """\
    import json


    class Broken_pluginPlugin:
        def __init__(self, node):
            self.node = node

        def initialize(self):
            settings = {"retries": 3}
            return self._parse("{bad json")

        def _parse(self, text):
            return json.loads(text)
"""


def raise_from_plugin(plugin_dir: Path) -> BaseException:
    path = plugin_dir / "broken_plugin.py"
    path.write_text(textwrap.dedent(FAILING))
    spec = importlib.util.spec_from_file_location("plugins_test_broken", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.Broken_pluginPlugin(None).initialize()
    except ValueError as exc:
        return exc
    raise AssertionError("the plugin did not raise")


def view_of(exc: BaseException, plugin_dir: Path) -> errors.ErrorView:
    """The panel's view as the console builds it: the host's diagnosis, the exception handed over with it."""
    problem = diagnose(exc, "initialize", "broken_plugin", plugin_dir)
    return errors.from_record({"kind": "plugin.failed", "ts": TS, **problem.to_record()}, plugin_dir, problem.exception)


def test_error_panel_shows_only_plugin_frames_with_code_and_hint(plugin_dir: Path) -> None:
    exc = raise_from_plugin(plugin_dir)
    view = view_of(exc, plugin_dir)
    text = render(errors.error_panel(view), 100)
    assert "broken_plugin failed in initialize" in text
    assert "plugins/broken_plugin.py:10 in initialize" in text
    assert "plugins/broken_plugin.py:13:16 in _parse" in text  # the innermost plugin frame has a column
    assert re.search(r"❱ 10 │\s+return self\._parse\(\"\{bad json\"\)", text)
    assert re.search(r"❱ 13 │\s+return json\.loads\(text\)", text)
    assert "JSONDecodeError: Expecting property name" in text
    assert view.hint and "hint: " + view.hint[:40] in text
    # Trimmed: neither json's own frames nor this test's appear.
    assert "json/decoder.py" not in text and "test_console_render" not in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_syntax_error_panel_points_at_the_column(plugin_dir: Path) -> None:
    path = plugin_dir / "await_plugin.py"
    path.write_text("class Await_pluginPlugin:\n    def initialize(self):\n        await self.node.start()\n")
    record = {"kind": "plugin.failed", "ts": TS, "plugin": "await_plugin", "phase": "import",
              "error": "SyntaxError: 'await' outside async function", "file": "plugins/await_plugin.py",
              "line": 3, "column": 9, "code": "        await self.node.start()", "hint": "initialize() is called synchronously",
              "running": "none", "traceback": ""}
    text = render(errors.error_panel(errors.from_record(record, plugin_dir)), 80)
    lines = text.splitlines()
    code_row = next(i for i, line in enumerate(lines) if "❱ 3 │" in line)
    assert lines[code_row + 1].index("^") == lines[code_row].index("await")
    assert "plugins/await_plugin.py:3:9" in text
    assert "SyntaxError: 'await' outside async function" in text
    assert "hint: initialize() is called synchronously" in text
    assert "(the plugin is not running)" in text


def test_error_view_keeps_the_code_as_it_was_when_the_error_happened(plugin_dir: Path) -> None:
    exc = raise_from_plugin(plugin_dir)
    view = view_of(exc, plugin_dir)
    (plugin_dir / "broken_plugin.py").write_text("# rewritten\n")
    assert "json.loads(text)" in render(errors.error_panel(view), 100)


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_drops_colours_but_keeps_the_layout(monkeypatch: pytest.MonkeyPatch, no_color: bool) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    console = Console(width=80, force_terminal=True, color_system="256", file=io.StringIO())
    console.print(status_table(STATES, 80))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    coloured = re.search(r"\x1b\[[0-9;]*3[0-7]m", out) is not None
    assert coloured is not no_color
    assert "failed-running-previous" in out


def test_clock_is_local_wall_time() -> None:
    assert clock(TS) == time.strftime("%H:%M:%S", time.localtime(TS))
    assert clock(None) == "-"


def test_kinds_without_a_console_line_read_as_in_plain_mode() -> None:
    record = {"kind": "command.error", "ts": TS, "error": 'unknown command "x"'}
    assert render(render_record(record, 80)).strip() == f'{clock(TS)} error: unknown command "x"'
    odd = {"kind": "something.new", "ts": TS, "value": 1}
    assert render(render_record(odd, 80)).strip() == f'{clock(TS)} something.new: {{"value":1}}'


def test_the_console_panel_takes_its_frames_from_the_exception_handed_over_with_the_record(plugin_dir: Path) -> None:
    from devnode.reporting import Reporter
    from devnode.ui.console import RichConsole

    exc = raise_from_plugin(plugin_dir)
    problem = diagnose(exc, "initialize", "broken_plugin", plugin_dir)
    fields = {**problem.to_record(), "file": None, "line": None, "traceback": ""}  # nothing for the record's text to show
    out = io.StringIO()
    ui = RichConsole(console=Console(file=out, width=100, color_system=None, force_terminal=False, highlight=False))
    ui.plugin_dir = plugin_dir  # what attach() sets from the host
    reporter = Reporter()
    reporter.add_sink(ui)
    reporter.emit("plugin.failed", running="none", **fields, problem=problem)
    reporter.emit("plugin.failed", running="none", **fields)  # the same record without its problem
    ui.flush()
    panels = out.getvalue().split("broken_plugin failed in initialize")[1:]
    assert len(panels) == 2
    assert "plugins/broken_plugin.py:13:16 in _parse" in panels[0]  # the live frames, innermost with its column
    assert "plugins/broken_plugin.py" not in panels[1]  # the record alone has no place to show
