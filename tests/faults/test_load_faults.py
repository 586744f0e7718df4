"""Faults in a save that stop the new version from loading: the previous version keeps serving.

Each case saves a broken version 2 over a serving version 1 and lets the reloader
act on it, exactly as on a watcher event. Then the same file is fixed, and the
plugin must come back with no manual step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from faults.faultkit import FAULTY, Bench, Expect, plugin_source

PREVIOUS = "failed-running-previous"


@dataclass
class LoadFault:
    source: str | bytes
    phase: str
    cause: str
    line: int | None = None  # the line the report must point at, where it is knowable
    hint: str | None = None  # text the hint must contain


def _good_line(source: str, needle: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if needle in line)


SYNTAX = plugin_source("2", handler="if event.data print('x')")
INDENT = plugin_source("2", initialize="x = 1\n    y = 2")
NAME_ERROR_GUIDE = plugin_source("2", initialize="self.node.event_bus.subscribe(EventTyp.ERROR, self.on_event)")
AWAIT_IN_SYNC = plugin_source("2", initialize="await self.node.event_bus.publish(Event(EventType.ERROR, {}))")
MODULE_RAISES = plugin_source("2", module="LIMIT = 1 / 0")
CONSTRUCT_RAISES = plugin_source("2", construct="raise RuntimeError('cannot construct v2')")
INITIALIZE_RAISES = plugin_source("2", initialize="self.node.event_bus.subscribe(EventType.ERROR, self.on_event)\n"
                                                  "raise ValueError('v2 cannot start')")

FAULTS: dict[str, LoadFault] = {
    "syntax-error": LoadFault(SYNTAX, "import", "SyntaxError", _good_line(SYNTAX, "print('x')")),
    "indentation-error": LoadFault(INDENT, "import", "IndentationError", _good_line(INDENT, "y = 2"), "indent"),
    "empty-file": LoadFault("", "lookup", "has no class Faulty_pluginPlugin", hint="define `class Faulty_pluginPlugin:`"),
    "binary-file": LoadFault(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "import", "null bytes", hint="binary"),
    "non-utf8-file": LoadFault(plugin_source("2", module="GREETING = 'caf\u00e9'").encode("latin-1"), "import",
                               "utf-8", hint="UTF-8"),
    "missing-class": LoadFault("def helper():\n    return 1\n", "lookup", "has no class Faulty_pluginPlugin"),
    "wrong-class-name": LoadFault(plugin_source("2").replace("class Faulty_pluginPlugin", "class FaultyPlugin"),
                                  "lookup", "has no class Faulty_pluginPlugin", hint="rename class FaultyPlugin"),
    "class-not-callable": LoadFault(plugin_source("2").replace("class Faulty_pluginPlugin:", "class _Real:")
                                    + "\nFaulty_pluginPlugin = _Real.__new__(_Real)\n",
                                    "lookup", "not a class"),
    "constructor-wrong-signature": LoadFault(plugin_source("2").replace("def __init__(self, node):",
                                                                       "def __init__(self):\n        node = None"),
                                             "construct", "TypeError", hint="cls(node)"),
    "exception-in-module-body": LoadFault(MODULE_RAISES, "import", "ZeroDivisionError",
                                          _good_line(MODULE_RAISES, "1 / 0")),
    "exception-in-constructor": LoadFault(CONSTRUCT_RAISES, "construct", "cannot construct v2",
                                          _good_line(CONSTRUCT_RAISES, "cannot construct")),
    "exception-in-initialize": LoadFault(INITIALIZE_RAISES, "initialize", "v2 cannot start",
                                         _good_line(INITIALIZE_RAISES, "v2 cannot start")),
    "sys-exit-in-module-body": LoadFault(plugin_source("2", module="sys.exit(3)"), "import", "SystemExit",
                                         hint="must not exit"),
    "sys-exit-in-constructor": LoadFault(plugin_source("2", construct="sys.exit('bye')"), "construct", "SystemExit"),
    "keyboard-interrupt-in-initialize": LoadFault(plugin_source("2", initialize="raise KeyboardInterrupt"),
                                                  "initialize", "KeyboardInterrupt"),
    "keyboard-interrupt-in-module-body": LoadFault(plugin_source("2", module="raise KeyboardInterrupt()"), "import",
                                                   "KeyboardInterrupt"),
    "missing-package": LoadFault(plugin_source("2", imports="import aiohttp_not_installed_here"), "import",
                                 "No module named 'aiohttp_not_installed_here'", 9, "pip install"),
    "guide-mistake-name-error": LoadFault(NAME_ERROR_GUIDE, "initialize", "NameError",
                                          _good_line(NAME_ERROR_GUIDE, "EventTyp.ERROR")),
    "guide-mistake-await-in-sync-initialize": LoadFault(AWAIT_IN_SYNC, "import", "SyntaxError",
                                                        _good_line(AWAIT_IN_SYNC, "await self"), "create_task"),
    "async-initialize-never-finishes": LoadFault(
        plugin_source("2", methods="async def initialize(self):\n"
                                   "    self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_event)\n"
                                   "    await asyncio.Event().wait()"),
        "initialize", "did not finish within"),
    "recursion-in-constructor": LoadFault(plugin_source("2", construct="self.deeper()",
                                                        methods="def deeper(self):\n    return self.deeper()"),
                                          "construct", "RecursionError", hint="recurses"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_broken_save_keeps_the_previous_version_serving(bench: Callable[..., Bench], name: str) -> None:
    fault = FAULTS[name]
    b = bench(plugin_source("1"))
    assert b.probe() == {("witness", "1"), ("faulty", "1")}
    subscriptions = b.h.bus.subscriber_count

    b.edit(FAULTY, fault.source)

    record = b.survived(Expect(state=PREVIOUS, kind="plugin.failed", cause=fault.cause, serving="1"))
    assert record["phase"] == fault.phase and record["running"] == "previous"
    if fault.line is not None:
        assert record["line"] == fault.line, record
    if fault.hint is not None:
        assert fault.hint in (record["hint"] or ""), record["hint"]
    # nothing of the failed version stays behind (its subscriptions were swept, v1's are back)
    assert b.h.bus.subscriber_count == subscriptions
    assert b.status()[FAULTY]["subscriptions"] == 1 and b.status()[FAULTY]["tasks"] == 0

    # fixing the file brings the plugin back by itself
    b.edit(FAULTY, plugin_source("3"))
    assert b.probe() == {("witness", "1"), ("faulty", "3")}
    assert b.status()[FAULTY]["state"] == "active"


@pytest.mark.parametrize("name", ["syntax-error", "exception-in-initialize", "missing-class"])
def test_broken_first_load_is_reported_and_the_fix_loads_it(bench: Callable[..., Bench], name: str) -> None:
    """No previous version: the plugin is failed (not serving) until the fix is saved."""
    fault = FAULTS[name]
    b = bench(fault.source if isinstance(fault.source, str) else None)
    b.survived(Expect(state="failed", kind="plugin.failed", cause=fault.cause, serving=None))
    b.edit(FAULTY, plugin_source("2"))
    assert b.probe() == {("witness", "1"), ("faulty", "2")}
