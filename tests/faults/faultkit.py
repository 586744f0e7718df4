"""The fault catalogue's bench: a node with a healthy witness plugin and the plugin under test.

``Bench`` drives an in-process node, host and reloader (the watcher's own code path:
content check -> planner -> host) plus the stall watchdog. ``Bench.survived`` is the
one assertion every fault ends with: the node is alive, the witness still receives
events, the faulty plugin is in the expected state, the report names the file and
the cause, and the previous good version (if any) still serves.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import HostHarness

from devnode.bus import Event, EventType
from devnode.reload.reloader import Reloader
from devnode.reporting import Record
from devnode.watchdog import Watchdog

FAULTY = "faulty_plugin"
PROBE = EventType.DATA_RECEIVED

WITNESS = '''
import json
from pathlib import Path

from dashboard.event_bus import EventType


class Witness_pluginPlugin:
    """A healthy plugin: logs every probe it receives."""

    def __init__(self, node):
        self.node = node
        self.seen = Path(node.config.data_dir) / "seen.jsonl"

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_event)

    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_event)

    def on_event(self, event):
        with open(self.seen, "a") as f:
            f.write(json.dumps({"plugin": "witness", "version": "1", "probe": event.data.get("probe")}) + "\\n")
'''

# The plugin under test. Each {slot} takes statements (any indentation; re-indented here).
TEMPLATE = '''
import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from dashboard.event_bus import Event, EventType
{imports}

VERSION = "{version}"
{module}


class Faulty_pluginPlugin:
    def __init__(self, node):
        self.node = node
        self.version = VERSION
        self.seen = Path(node.config.data_dir) / "seen.jsonl"
{construct}

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_event)
{initialize}

    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_event)
{shutdown}

    {async_}def on_event(self, event):
        with open(self.seen, "a") as f:
            f.write(json.dumps({{"plugin": "faulty", "version": VERSION, "probe": event.data.get("probe")}}) + "\\n")
{handler}
{methods}
'''


def plugin_source(version: str = "1", *, imports: str = "", module: str = "", construct: str = "",
                  initialize: str = "", shutdown: str = "", handler: str = "", methods: str = "",
                  async_handler: bool = False) -> str:
    """The faulty plugin's source: a good plugin with code dropped into its slots."""

    def block(code: str, indent: int) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), " " * indent) if code.strip() else ""

    return TEMPLATE.format(
        version=version, imports=block(imports, 0), module=block(module, 0), construct=block(construct, 8),
        initialize=block(initialize, 8), shutdown=block(shutdown, 8), handler=block(handler, 8),
        methods=block(methods, 4), async_="async " if async_handler else "",
    ).lstrip()


@dataclass
class Expect:
    """What a fault must leave behind."""

    state: str | None  # the faulty plugin's state in `status`; None: it has no slot any more
    kind: str  # the record that explains it: plugin.failed, plugin.error, warning, plugin.unloaded
    cause: str  # text the record's error (or message) must contain
    file: str | None = "plugins/faulty_plugin.py"  # the file the record must name
    serving: str | None = None  # the faulty plugin's version that must still receive events
    plugin: str = FAULTY
    code: str | None = None  # for warnings: the warning code


class Bench:
    """In-process node + host + reloader + watchdog over one plugin dir."""

    def __init__(self, harness: HostHarness, *, warn_after: float = 0.3, interrupt_after: float = 1.0) -> None:
        self.h = harness
        self.plugin_dir = harness.plugin_dir
        self.data_dir = harness.data_dir
        self.records = harness.records
        self.watchdog = Watchdog(harness.reporter, self.plugin_dir, warn_after=warn_after,
                                 interrupt_after=interrupt_after, tick=0.02)
        self.reloader: Reloader | None = None
        self._probes = 0

    # -- driving -----------------------------------------------------------------
    def start(self) -> Bench:
        self.watchdog.start(self.h.loop)
        self.h.start()
        self.reloader = Reloader(self.h.host)
        return self

    def close(self) -> None:
        self.watchdog.stop()

    def run(self, coro: Any) -> Any:
        return self.h.run(coro)

    def write(self, name: str, source: str | bytes) -> Path:
        path = self.plugin_dir / (name if "." in name or "/" in name else f"{name}.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            path.write_text(source)
        return path

    def apply(self, *paths: Path) -> None:
        """What the watcher does with a batch of changed paths."""
        assert self.reloader is not None
        self.run(self.reloader.apply(set(paths)))
        self.settle()

    def edit(self, name: str, source: str | bytes) -> Path:
        """Save a file and let the reloader act on it, as the watcher would."""
        path = self.write(name, source)
        self.apply(path)
        return path

    def settle(self) -> None:
        """Let held events and other callbacks queued by a swap run."""
        async def spin() -> None:
            for _ in range(5):
                await asyncio.sleep(0)

        self.run(spin())

    def publish(self, event_type: EventType, data: dict[str, Any]) -> None:
        self.run(self.h.bus.publish(Event(event_type, data)))
        self.settle()

    def probe(self) -> set[tuple[str, str]]:
        """Publish one probe event; the (plugin, version) pairs that logged it."""
        self._probes += 1
        n = self._probes * 1000
        self.publish(PROBE, {"probe": n})
        return {(e["plugin"], e["version"]) for e in self.seen() if e["probe"] == n}

    def seen(self) -> list[dict[str, Any]]:
        path = self.data_dir / "seen.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def status(self) -> dict[str, dict[str, Any]]:
        return {s["plugin"]: s for s in self.h.host.status()}

    def kinds(self, kind: str, plugin: str | None = None) -> list[Record]:
        return self.h.kinds(kind, plugin)

    # -- the one assertion ------------------------------------------------------------
    def survived(self, expect: Expect) -> Record:
        """Assert the node survived the fault as ``expect`` says; returns the explaining record."""
        # the node is alive: its loop runs, its store takes writes, the host is free for the next swap
        data_hash = self.run(self.h.node.receive("peer1", {"still": "alive", "n": self._probes}))
        assert self.h.node.data_manager.get_data(data_hash) is not None
        assert not self.h.host._lock.locked()
        # the other plugin keeps receiving events, and the previous good version (if any) still serves
        got = self.probe()
        assert ("witness", "1") in got, f"the healthy plugin missed a probe: {got}"
        faulty_got = {v for p, v in got if p == "faulty"}
        if expect.plugin == FAULTY:
            if expect.serving is None:
                assert not faulty_got, f"{FAULTY} should not be serving, but version(s) {faulty_got} handled a probe"
            else:
                assert faulty_got == {expect.serving}, f"expected version {expect.serving} serving, got {faulty_got}"
        # the plugin's reported state
        status = self.status()
        if expect.state is None:
            assert expect.plugin not in status, status.get(expect.plugin)
        else:
            assert status[expect.plugin]["state"] == expect.state, status[expect.plugin]
        # the message names the file and the cause
        records = [r for r in self.kinds(expect.kind, expect.plugin) if expect.code is None or r.get("code") == expect.code]
        assert records, f"no {expect.kind} record for {expect.plugin}: {[r['kind'] for r in self.records]}"
        record = next((r for r in reversed(records) if expect.cause in _text(r)), records[-1])
        assert expect.cause in _text(record), f"cause {expect.cause!r} not in {_text(record)!r}"
        if expect.file is not None:
            named = record.get("file") or ""
            assert named.endswith(expect.file) or expect.file in _text(record), f"{expect.file} not named in {record}"
        return record


def _text(record: Record) -> str:
    return " ".join(str(record.get(k) or "") for k in ("error", "message", "reason", "hint"))



# -- hostile plugins for `devnode run` processes (test_hostile_faults.py) ------------------------------
HOSTILE_HEAD = '''
import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

from dashboard.event_bus import Event, EventType

VERSION = "{version}"
'''


def hostile_source(name: str, body: str, version: str = "1", head: str = "") -> str:
    """A plugin ``name`` whose class body is ``body`` (methods, indented or not); ``head`` is module code."""
    cls = name.capitalize() + "Plugin"
    text = HOSTILE_HEAD.format(version=version).lstrip() + textwrap.dedent(head)
    return text + f"\n\nclass {cls}:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
