"""Soak: edit plugins at random, with valid changes and faults from the catalogue, while events flow.

A real ``Runtime`` (node, host, watcher, watchdog) runs on a temp plugin dir of
soak plugins plus the bundled audit plugin. Every few hundred milliseconds one
plugin file (or the helper they import) is saved with a random version: a valid
change, a fault that stops it loading, or a fault in what it does while serving.
Meanwhile peers send data and the node shares data without pause; each soak
plugin logs every event it handles to its own file.

At the end it checks, and prints as a table:
  * the node is alive and every plugin is in the state its final file implies;
  * no subscription, task or patch of an old version is left, none after stop;
  * memory (RSS) grew by less than the bound;
  * every event reached, exactly once, every plugin that was serving when it was
    published and still serving after (and no plugin twice);
  * the SQLite store and the audit log are intact (every record, no torn line).

Usage: python scripts/soak.py [--minutes 2] [--seed N]   (exit 0 when every check passes)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devnode.node.chain_values import ZERO_ADDRESS  # noqa: E402
from devnode.config import NodeConfig  # noqa: E402
from devnode.node.storage import Store  # noqa: E402
from devnode.ownership import _task_owner  # noqa: E402
from devnode.runtime import RunOptions, Runtime  # noqa: E402

PLUGINS = ["soak_a", "soak_b", "soak_c", "soak_d"]
HELPER = "_soakshared"
RSS_BOUND_MB = 64.0
TIMEOUT = 1.0  # --timeout: async initialize/shutdown and blocked-loop interrupts

TEMPLATE = '''\
import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

from dashboard.event_bus import Event, EventType
{imports}

VERSION = "{version}"
{module}


class {cls}:
    def __init__(self, node):
        self.node = node
        self.version = VERSION
        self.log = Path(node.config.data_dir) / "soak-{name}.log"
        self.once = True
{construct}

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_event)
        self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_event)
{initialize}

    def shutdown(self):
{unsubscribe}
{shutdown}

    {async_}def on_event(self, event):
        with open(self.log, "a") as f:
            f.write(json.dumps({{"v": VERSION, "t": event.type.value, "h": event.data.get("data_hash")}}) + "\\n")
{handler}
{methods}
'''
UNSUBSCRIBE = ("self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_event)\n"
               "self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_event)")
WRAP = ("self.inner = self.node.share_data\nself.node.share_data = self.wrapped",
        "async def wrapped(self, data, recipient, **kwargs):\n    return await self.inner(data, recipient, **kwargs)")
CHILD = ("child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
         "with open(self.log.parent / 'children.txt', 'a') as f:\n    f.write(f'{child.pid}\\n')")
TICKER = ("self.ticker = asyncio.get_running_loop().create_task(self.tick())",
          "async def tick(self):\n    while True:\n        await asyncio.sleep(0.05)")

# kind: "valid" (loads and serves), "runtime" (loads and serves, misbehaves), "load" (does not load)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("valid", {}),
    "comment": ("valid", {"module": "# a harmless edit"}),
    "ticker-task": ("valid", {"initialize": TICKER[0], "shutdown": "self.ticker.cancel()", "methods": TICKER[1]}),
    "wraps-share-data": ("valid", {"initialize": WRAP[0], "shutdown": "self.node.share_data = self.inner",
                                   "methods": WRAP[1]}),
    "uses-helper": ("valid", {"imports": f"from plugins import {HELPER}", "handler": f"{HELPER}.touch()"}),
    "async-handler": ("valid", {"async": True, "handler": "await asyncio.sleep(0)"}),
    "handler-raises": ("runtime", {"handler": "raise RuntimeError('soak: handler fault')"}),
    "handler-sys-exit": ("runtime", {"handler": "sys.exit(3)"}),
    "task-raises": ("runtime", {"initialize": "asyncio.get_running_loop().create_task(self.boom())",
                                "methods": "async def boom(self):\n    raise ValueError('soak: task fault')"}),
    "shutdown-raises": ("runtime", {"shutdown": "raise RuntimeError('soak: shutdown fault')"}),
    "leaves-patch": ("runtime", {"initialize": WRAP[0], "methods": WRAP[1]}),
    "leaves-task": ("runtime", {"initialize": TICKER[0], "methods": TICKER[1]}),
    "leaves-subscriptions": ("runtime", {"unsubscribe": False}),
    "blocking-sleep": ("runtime", {"handler": "if self.once:\n    self.once = False\n    time.sleep(0.8)"}),
    "endless-loop": ("runtime", {"handler": "if self.once:\n    self.once = False\n    while True:\n        pass"}),
    "syntax-error": ("load", {"handler": "if True print('x')"}),
    "indentation-error": ("load", {"initialize": "x = 1\n    y = 2"}),
    "empty-file": ("load", {"raw": ""}),
    "binary-file": ("load", {"raw": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}),
    "missing-class": ("load", {"raw": "def helper():\n    return 1\n"}),
    "wrong-class-name": ("load", {"class": "WrongName"}),
    "class-not-callable": ("load", {"tail": "\n{cls} = 42\n"}),
    "constructor-signature": ("load", {"construct_sig": True}),
    "module-raises": ("load", {"module": "LIMIT = 1 / 0"}),
    "constructor-raises": ("load", {"construct": "raise RuntimeError('soak: constructor fault')"}),
    "initialize-raises": ("load", {"initialize": "raise RuntimeError('soak: initialize fault')"}),
    "module-sys-exit": ("load", {"module": "sys.exit(2)"}),
    "initialize-keyboard-interrupt": ("load", {"initialize": "raise KeyboardInterrupt"}),
    "missing-package": ("load", {"imports": "import aiohttp_soak_missing"}),
    "half-written": ("load", {"half": True}),
    # issue 12: hostile to devnode's own boundaries
    "async-state-hooks": ("valid", {"methods": "async def devnode_save_state(self):\n    return {'once': self.once}\n"
                                               "async def devnode_restore_state(self, state):\n"
                                               "    self.once = state['once']"}),
    "unprintable-error": ("runtime", {"handler": "class Opaque(Exception):\n    def __str__(self):\n"
                                                 "        raise ValueError('no str')\nraise Opaque()"}),
    "base-exception-handler": ("runtime", {"handler": "class Abort(BaseException):\n    pass\nraise Abort('soak')"}),
    "unprintable-event-data": ("runtime", {"handler": "if self.once:\n    self.once = False\n"
                                                      "    asyncio.get_running_loop().create_task(self.node.event_bus.publish("
                                                      "Event(EventType.COMPLIANCE_EVENT, {'odd': UNPRINTABLE, "
                                                      "'nan': float('nan'), 1: {1, 2}})))",
                                           # builtins as methods: the bus history (100 events) keeps this object,
                                           # and it must not keep the plugin's module (and class) with it
                                           "module": "UNPRINTABLE = type('Unprintable', (), {'__repr__': int, "
                                                     "'__str__': int})()"}),
    "endless-async-handler": ("runtime", {"async": True, "handler": "if self.once:\n    self.once = False\n"
                                                                   "    await asyncio.sleep(3600)"}),
    "regex-gil-stall": ("runtime", {"handler": "if self.once:\n    self.once = False\n"
                                               "    re.match(r'(a+)+$', 'a' * 40 + 'b')"}),
    "leaves-timer": ("runtime", {"initialize": "self.timer = asyncio.get_running_loop().call_later(3600, self.late)",
                                 "methods": "def late(self):\n    pass"}),
    "leaves-child": ("runtime", {"initialize": CHILD}),
    "executor-job": ("runtime", {"initialize": "asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.5)"}),
    "changes-process": ("runtime", {"initialize": "os.chdir(self.log.parent)\nsys.path.insert(0, '/soak/nowhere')\n"
                                                  "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
                                                  "self.node.config.node_signature = 'soak-changed'"}),
    "logging-force": ("runtime", {"initialize": "logging.basicConfig(force=True)"}),
    "replaces-sys-modules": ("runtime", {"initialize": "sys.modules['plugins'] = types.ModuleType('plugins')"}),
    "replaces-event-bus": ("runtime", {"initialize": "self.real_bus = self.node.event_bus\n"
                                                     "self.node.event_bus = types.SimpleNamespace(**{n: getattr("
                                                     "self.real_bus, n) for n in ('subscribe', 'unsubscribe', "
                                                     "'publish', 'subscribe_all', 'unsubscribe_all')})",
                                       "shutdown": "self.node.event_bus = self.real_bus"}),
    "loop-stop": ("load", {"initialize": "asyncio.get_running_loop().stop()"}),
}
HELPER_VARIANTS = {
    "valid": "TOUCHES = {n}\n\n\ndef touch():\n    return TOUCHES\n",
    "broken": "TOUCHES = (\n",
}


def block(code: str, indent: int) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), " " * indent) if code.strip() else ""


def render(name: str, version: str, variant: str) -> str | bytes:
    """The source of ``name`` at ``version`` in the given variant."""
    kind, slots = VARIANTS[variant]
    if "raw" in slots:
        return slots["raw"]  # type: ignore[no-any-return]
    cls = name.capitalize() + "Plugin"
    source = TEMPLATE.format(
        name=name, version=version, cls=slots.get("class", cls), imports=slots.get("imports", ""),
        module=slots.get("module", ""), construct=block(slots.get("construct", ""), 8),
        initialize=block(slots.get("initialize", ""), 8), shutdown=block(slots.get("shutdown", ""), 8),
        unsubscribe=block(UNSUBSCRIBE if slots.get("unsubscribe", True) else "pass", 8),
        handler=block(slots.get("handler", ""), 8), methods=block(slots.get("methods", ""), 4),
        async_="async " if slots.get("async") else "",
    )
    if slots.get("construct_sig"):
        source = source.replace("def __init__(self, node):", "def __init__(self):\n        node = None")
    if "tail" in slots:
        source += slots["tail"].format(cls=cls)
    if slots.get("half"):  # cut inside a call: never valid Python, whatever the template's length
        cut = source.index("self.node.event_bus.subscribe(EventType.DATA_RECEIVED")
        source = source[: cut + len("self.node.event_bus.subscribe(")]
    return source


def atomic_write(path: Path, content: str | bytes) -> None:
    """Save as editors do: a temp file beside it, renamed over."""
    tmp = path.with_name(f".{path.name}.soak~")
    tmp.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.replace(tmp, path)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class FileState:
    """What the soak last saved for one plugin file."""

    variant: str = "plain"
    version: str = "0"
    exists: bool = True
    good_versions: set[str] = field(default_factory=lambda: {"0"})


@dataclass
class Tally:
    edits: Counter[str] = field(default_factory=Counter)
    published: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    handler_failures: int = 0
    interrupted: int = 0
    children: int = 0
    rss: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Soak:
    """One soak run over a fresh temp dir."""

    def __init__(self, minutes: float, seed: int, workdir: Path) -> None:
        self.duration = minutes * 60
        self.rng = random.Random(seed)
        self.seed = seed
        self.workdir = workdir
        self.plugin_dir = workdir / "plugins"
        self.data_dir = workdir / "data"
        self.expected = workdir / "expected.jsonl"
        self.files = {name: FileState() for name in PLUGINS}
        self.helper_ok = True
        self.tally = Tally()
        self.runtime: Runtime | None = None
        self.versions = 0
        self.last_edit = 0.0
        self.keep_records: Any = None  # with --keep: every record but events, for a post-mortem

    # -- setup -----------------------------------------------------------------------
    def prepare(self) -> None:
        self.plugin_dir.mkdir(parents=True)
        shutil.copy(ROOT / "plugins" / "audit_plugin.py", self.plugin_dir / "audit_plugin.py")
        (self.plugin_dir / f"{HELPER}.py").write_text(HELPER_VARIANTS["valid"].format(n=0))
        for name in PLUGINS:
            (self.plugin_dir / f"{name}.py").write_text(render(name, "0", "plain"))  # type: ignore[arg-type]

    def sink(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if self.keep_records is not None and kind != "event":
            self.keep_records.write(json.dumps(record, default=str) + "\n")
        self.tally.records[kind] += 1
        if kind == "warning":
            self.tally.warnings[record.get("code") or "?"] += 1
            if record.get("code") == "leak":
                self.tally.problems.append(f"leak reported: {record['message']}")
        elif kind in ("plugin.error", "plugin.failed") and "PluginStalledError" in (record.get("error") or ""):
            self.tally.interrupted += 1
        elif kind == "event":
            self.tally.handler_failures += sum(1 for h in record["handlers"] if not h["ok"])
        elif kind == "node.ready":
            self.ready.set()

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> None:
        self.ready = asyncio.Event()
        config = NodeConfig(plugin_dir=str(self.plugin_dir), data_dir=str(self.data_dir), node_id="soak")
        options = RunOptions(watch=True, debounce_ms=150, step_ms=20, timeout=TIMEOUT, read_commands=False,
                             stall_warn=0.5)
        self.runtime = runtime = Runtime(config, options, self.sink)
        threads_before = {t.name for t in threading.enumerate()}
        self.cwd, self.signature = os.getcwd(), config.node_signature
        main = asyncio.get_running_loop().create_task(runtime.run(), name="soak-runtime")
        await asyncio.wait_for(self.ready.wait(), 60)
        self.tally.rss.append(rss_mb())
        deadline = time.monotonic() + self.duration
        stop_events = asyncio.Event()
        with open(self.expected, "w") as expected:
            pump = asyncio.get_running_loop().create_task(self.pump(expected, stop_events))
            sampler = asyncio.get_running_loop().create_task(self.sample_memory(stop_events))
            await self.edit_until(deadline)
            await self.settle()
            stop_events.set()
            await asyncio.gather(pump, sampler)
        await runtime.host.bus.drain()  # node.event_bus may be a plugin's replacement (replaces-event-bus)
        await asyncio.sleep(0.2)  # held events released by the last swaps
        self.check_alive()
        self.check_states()
        self.check_leftovers_while_running()
        bus, node, host = runtime.host.bus, runtime.node, runtime.host
        runtime.request_stop("soak finished")
        await asyncio.wait_for(main, 60)
        self.check_leftovers_after_stop(bus, node, host, threads_before)
        self.check_deliveries()
        self.check_store_and_audit()

    async def pump(self, expected: Any, stop: asyncio.Event) -> None:
        """Peers send data and the node shares data, without pause, until told to stop."""
        assert self.runtime is not None
        node, host = self.runtime.node, self.runtime.host
        n = 0
        while not stop.is_set():
            n += 1
            before = host.serving()
            if n % 10:
                kind = "data.received"
                data_hash = await node.receive(self.rng.choice(["peer1", "peer2", "peer3"]), {"seq": n, "k": "r"})
            else:
                kind = "data.shared"
                text = json.dumps({"seq": n, "k": "s"})  # production's store takes str or bytes
                await node.share_data(text, "peer2")
                data_hash = node._hash_data(text)
            # A file the soak deleted meanwhile is being unloaded: what it is published now need not reach it.
            after = [name for name in host.serving() if name not in self.files or self.files[name].exists]
            expected.write(json.dumps({"t": kind, "h": data_hash, "b": before, "a": after}) + "\n")
            self.tally.published[kind] += 1
            await asyncio.sleep(0.004)

    async def sample_memory(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            self.tally.rss.append(rss_mb())

    async def edit_until(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(self.rng.uniform(0.15, 0.6))
            await asyncio.to_thread(self.edit_once)

    def edit_once(self) -> None:
        """One save (or delete) of a random file, like a plugin author at work."""
        self.last_edit = time.monotonic()
        if self.rng.random() < 0.08:
            self.helper_ok = self.rng.random() < 0.7
            variant = "valid" if self.helper_ok else "broken"
            self.versions += 1
            atomic_write(self.plugin_dir / f"{HELPER}.py", HELPER_VARIANTS[variant].format(n=self.versions))
            self.tally.edits[f"helper {variant}"] += 1
            if self.helper_ok:  # a plugin that failed on the broken helper loads now, as it should
                for state in self.files.values():
                    if state.exists and VARIANTS[state.variant][0] != "load":
                        state.good_versions.add(state.version)
            return
        name = self.rng.choice(PLUGINS)
        state = self.files[name]
        path = self.plugin_dir / f"{name}.py"
        if state.exists and self.rng.random() < 0.04:
            path.unlink()
            state.exists = False
            state.good_versions = set()  # the host forgets a deleted plugin
            self.tally.edits["delete file"] += 1
            return
        roll = self.rng.random()
        kinds = "valid" if roll < 0.4 else "runtime" if roll < 0.7 else "load"
        variant = self.rng.choice([v for v, (k, _) in VARIANTS.items() if k == kinds])
        self.versions += 1
        state.variant, state.version, state.exists = variant, str(self.versions), True
        atomic_write(path, render(name, state.version, variant))
        if self.keep_records is not None:
            self.keep_records.write(json.dumps({"kind": "soak.edit", "ts": time.time(), "plugin": name,
                                                "version": state.version, "variant": variant}) + "\n")
        if kinds != "load" and not (VARIANTS[variant][1].get("imports") and not self.helper_ok):
            state.good_versions.add(state.version)
        self.tally.edits[f"{kinds}: {variant}"] += 1

    async def settle(self) -> None:
        """Wait until the watcher has applied every save (its content hashes match the disk)."""
        assert self.runtime is not None and self.runtime.reloader is not None
        reloader, host = self.runtime.reloader, self.runtime.host
        quiet_until = time.monotonic() + 2.0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            known = reloader.contents._hashes  # keyed by the path as a string
            on_disk = {str(p): _digest(p) for p in self.plugin_dir.glob("*.py")}
            in_step = all(known.get(p) == d for p, d in on_disk.items()) and all(
                d is None for p, d in known.items() if p.endswith(".py") and p not in on_disk
            )
            if in_step and not host._lock.locked() and time.monotonic() > quiet_until:
                return
        self.tally.problems.append("the watcher did not catch up with the last saves within 60 s")

    # -- checks ---------------------------------------------------------------------------
    def problem(self, text: str) -> None:
        self.tally.problems.append(text)

    def check_alive(self) -> None:
        assert self.runtime is not None
        if self.runtime.stop_event.is_set():
            self.problem("the node stopped during the soak")

    def check_states(self) -> None:
        assert self.runtime is not None
        host = self.runtime.host
        self.final_states: dict[str, str] = {}
        for name, state in self.files.items():
            slot = host.view(name)
            actual = slot.state.value if slot else "no slot"
            self.final_states[name] = actual
            if not state.exists:
                if slot is not None:
                    self.problem(f"{name}: file deleted but the host still has it ({actual})")
                continue
            kind, slots = VARIANTS[state.variant]
            needs_helper = bool(slots.get("imports", "").endswith(HELPER))
            loads = kind != "load" and (self.helper_ok or not needs_helper)
            if slot is None:
                self.problem(f"{name}: the file exists but the host has no slot for it")
            elif loads:
                if actual != "active" or getattr(slot.instance, "version", None) != state.version:
                    self.problem(f"{name}: final file is version {state.version} ({state.variant}), which loads, "
                                 f"but the plugin is {actual} with version {getattr(slot.instance, 'version', None)}")
            elif actual == "failed-running-previous":
                serving = getattr(slot.instance, "version", None)
                if serving not in state.good_versions:
                    self.problem(f"{name}: failed-running-previous, but serving version {serving} was never good")
            elif actual != "failed":
                self.problem(f"{name}: final file ({state.variant}) does not load, yet the plugin is {actual}")

    def check_leftovers_while_running(self) -> None:
        """Nothing of an old version survives: every subscription, task and patch has a live owner."""
        assert self.runtime is not None
        host, bus, node = self.runtime.host, self.runtime.host.bus, self.runtime.node
        current = {view.ledger for view in host.views() if view.ledger is not None}
        stale = [s for s in bus.subscriptions() if s.ledger is not None and s.ledger not in current]
        if stale:
            self.problem(f"{len(stale)} subscription(s) of old versions still on the bus")
        tasks = [t for t in asyncio.all_tasks() if not t.done() and _task_owner.get(t) not in (None, *current)]
        if tasks:
            self.problem(f"{len(tasks)} task(s) of old versions still running: {[t.get_name() for t in tasks]}")
        patches = sum(1 for view in host.views() if view.ledger is not None
                      for patch in view.ledger.patches if patch.name == "share_data")
        chain = 0
        share = vars(node).get("share_data")
        while share is not None and getattr(share, "__self__", None) is not node:
            chain += 1
            share = getattr(getattr(share, "__self__", None), "inner", None)
        if chain != patches:
            self.problem(f"node.share_data is wrapped {chain} time(s) but the serving plugins hold {patches} patch(es)")
        serving = {id(view.instance) for view in host.views() if view.instance is not None}
        loop: Any = asyncio.get_running_loop()
        timers = [h for h in loop._scheduled if not h.cancelled()
                  and str(getattr(getattr(h._callback, "__self__", None), "__module__", "")).startswith("plugins.")
                  and id(h._callback.__self__) not in serving]
        if timers:
            self.problem(f"{len(timers)} loop timer(s) of old versions still scheduled: {timers[:3]}")
        import logging

        if not any(type(h).__name__ == "PluginLogBridge" for h in logging.getLogger().handlers):
            self.problem("devnode's log bridge is no longer on the root logger")
        self.leftovers = {"stale subscriptions": len(stale), "stale tasks": len(tasks), "patch mismatch": abs(chain - patches),
                          "stale timers": len(timers)}

    def check_leftovers_after_stop(self, bus: Any, node: Any, host: Any, threads_before: set[str]) -> None:
        if bus.subscriber_count:
            self.problem(f"{bus.subscriber_count} subscription(s) left after the node stopped")
        if "share_data" in vars(node):
            self.problem("node.share_data is still patched after every plugin shut down")
        plugin_tasks = [t for t in asyncio.all_tasks() if not t.done() and _task_owner.get(t) is not None]
        if plugin_tasks:
            self.problem(f"{len(plugin_tasks)} plugin task(s) still running after stop")
        deadline = time.monotonic() + 5  # devnode's executor workers exit once their last job ends
        while True:
            extra = [t.name for t in threading.enumerate() if t.name not in threads_before
                     and not t.name.startswith(("asyncio_", "AnyIO worker", "devnode-idle"))]
            if not extra or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if extra:
            self.problem(f"threads left running after stop: {extra}")
        children = self.data_dir / "children.txt"
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        deadline = time.monotonic() + 5
        alive = [p for p in pids if _alive(p)]
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [p for p in alive if _alive(p)]
        if alive:
            self.problem(f"{len(alive)} child process(es) of plugins still running after stop: {alive}")
        process = []
        if os.getcwd() != self.cwd:
            process.append(f"cwd is {os.getcwd()}, was {self.cwd}")
        if "/soak/nowhere" in sys.path:
            process.append("sys.path still holds a plugin's entry")
        if signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, 0):
            process.append(f"SIGUSR1 handler left: {signal.getsignal(signal.SIGUSR1)}")
        if node.config.node_signature != self.signature:
            process.append(f"node.config.node_signature is {node.config.node_signature!r}")
        for text in process:
            self.problem(f"process change left after stop: {text}")
        self.tally.children = len(pids)
        self.leftovers["after stop"] = (bus.subscriber_count + len(plugin_tasks) + ("share_data" in vars(node))
                                        + len(alive) + len(process))

    def check_deliveries(self) -> None:
        """Each event exactly once to every plugin serving before and after it was published; never twice."""
        got: dict[str, Counter[tuple[str, str]]] = {name: Counter() for name in PLUGINS}
        for name in PLUGINS:
            log = self.data_dir / f"soak-{name}.log"
            if not log.exists():
                continue
            for number, line in enumerate(log.read_text().splitlines(), 1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    self.problem(f"soak-{name}.log line {number} is torn: {line[:60]!r}")
                    continue
                got[name][(entry["t"], entry["h"])] += 1
        must = missed = twice = 0
        self.missed: list[tuple[str, dict[str, Any]]] = []
        with open(self.expected) as f:
            for line in f:
                event = json.loads(line)
                key = (event["t"], event["h"])
                for name in PLUGINS:
                    count = got[name].get(key, 0)
                    if count > 1:
                        twice += 1
                    if name in event["b"] and name in event["a"]:
                        must += 1
                        if count == 0:
                            missed += 1
                            self.missed.append((name, event))
        self.deliveries = {"delivered": sum(sum(c.values()) for c in got.values()), "required": must,
                           "missed": missed, "duplicated": twice}
        if missed:
            self.problem(f"{missed} event(s) missed by a plugin that was serving before and after they were published: "
                         + "; ".join(f"{name} missed {e['t']} {e['h'][:12]}" for name, e in self.missed[:5]))
        if twice:
            self.problem(f"{twice} event(s) delivered twice to the same plugin")

    def check_store_and_audit(self) -> None:
        store = Store(self.data_dir)
        try:
            integrity = store._conn.execute("PRAGMA integrity_check").fetchone()[0]
            expected = [json.loads(line) for line in self.expected.read_text().splitlines()]
            hashes = {e["h"] for e in expected}
            received = [e["h"] for e in expected if e["t"] == "data.received"]
            missing = [h for h in received if store.get_data(h) is None]
            shares = sum(1 for tx in store.transactions_since(1)
                         if tx.get("to") == ZERO_ADDRESS and str(tx.get("data", "")).startswith("data_share:"))
        finally:
            store.close()
        audit_lines = (self.data_dir / "audit.log").read_text().splitlines()
        torn = 0
        audited: Counter[str] = Counter()
        for line in audit_lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                torn += 1
                continue
            if entry["data"].get("data_hash") in hashes:
                audited[entry["event"]] += 1
        self.storage = {"integrity": integrity, "stored": len(received) - len(missing), "missing": len(missing),
                        "shares recorded": shares, "audit lines": len(audit_lines), "torn lines": torn}
        if integrity != "ok":
            self.problem(f"SQLite integrity_check: {integrity}")
        if missing:
            self.problem(f"{len(missing)} received data item(s) missing from the store")
        if shares != self.tally.published["data.shared"]:
            self.problem(f"{shares} compliance records for {self.tally.published['data.shared']} shares")
        if torn:
            self.problem(f"{torn} torn line(s) in audit.log")
        for kind in ("data.shared",):  # what the bundled audit plugin audits (production never publishes data.received)
            if audited[kind] != self.tally.published[kind]:
                self.problem(f"audit.log has {audited[kind]} {kind} records for {self.tally.published[kind]} events")

    # -- report ---------------------------------------------------------------------------------
    def summary(self, elapsed: float) -> str:
        t = self.tally
        valid = sum(n for k, n in t.edits.items() if k.startswith(("valid", "helper valid")))
        faults = sum(n for k, n in t.edits.items() if k.startswith(("runtime", "load", "helper broken")))
        growth = max(t.rss) - t.rss[min(len(t.rss) - 1, 5)] if t.rss else 0.0
        rows = [
            ("duration", f"{elapsed:.1f} s (seed {self.seed})"),
            ("edits", f"{sum(t.edits.values())} ({valid} valid changes, {faults} faults injected, "
                      f"{t.edits['delete file']} deletions; {t.edits['helper valid'] + t.edits['helper broken']} "
                      "of them to the shared helper)"),
            ("fault kinds used", f"{len({k for k in t.edits if k.startswith(('runtime', 'load', 'helper broken'))})} "
                                 f"of {sum(1 for k, _ in VARIANTS.values() if k != 'valid') + 1}"),
            ("reloads / load failures", f"{t.records['plugin.reloaded'] + t.records['plugin.loaded']} / "
                                        f"{t.records['plugin.failed']}"),
            ("plugin errors reported", f"{t.records['plugin.error']} (handler failures seen: {t.handler_failures})"),
            ("stalls / interrupted", f"{t.warnings['stall']} / {t.interrupted}"),
            ("events published", f"{sum(t.published.values())} ({t.published['data.received']} received, "
                                 f"{t.published['data.shared']} shared)"),
            ("events delivered", f"{self.deliveries['delivered']} (required {self.deliveries['required']}, "
                                 f"missed {self.deliveries['missed']}, duplicated {self.deliveries['duplicated']})"),
            ("leaks", f"{sum(self.leftovers.values()) + t.warnings['leak']} "
                      f"({', '.join(f'{k} {v}' for k, v in self.leftovers.items())}, leak warnings {t.warnings['leak']})"),
            ("devnode cleanups reported", str(t.warnings["cleanup"])),
            ("process ownership", f"{t.children} child process(es) started by plugins, all stopped by devnode; "
                                  f"cwd, signals, sys.path, node.config and logging checked after stop"),
            ("memory (RSS)", f"{t.rss[0]:.1f} -> {t.rss[-1]:.1f} MiB, max growth after warm-up {growth:.1f} MiB "
                             f"(bound {RSS_BOUND_MB:g})"),
            ("store", f"integrity {self.storage['integrity']}, {self.storage['stored']} received items stored, "
                      f"{self.storage['missing']} missing, {self.storage['shares recorded']} shares recorded"),
            ("audit log", f"{self.storage['audit lines']} lines, {self.storage['torn lines']} torn"),
            ("final states", ", ".join(f"{k} {v}" for k, v in self.final_states.items())),
            ("result", "PASS" if not t.problems else f"FAIL ({len(t.problems)} problem(s))"),
        ]
        if growth > RSS_BOUND_MB:
            t.problems.append(f"RSS grew by {growth:.1f} MiB (bound {RSS_BOUND_MB:g})")
            rows[-1] = ("result", f"FAIL ({len(t.problems)} problem(s))")
        width = max(len(k) for k, _ in rows)
        lines = ["devnode soak summary", "-" * (width + 60)]
        lines += [f"{k:<{width}}  {v}" for k, v in rows]
        lines += [f"  problem: {p}" for p in t.problems]
        return "\n".join(lines)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # our own child: reap it if it is a zombie
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
    return True


def _digest(path: Path) -> str | None:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak devnode with random plugin edits and faults while events flow.")
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to edit (default: 2)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time-based; printed)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f'--minutes "{args.minutes}" must be greater than 0')
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="devnode-soak-"))
    if args.keep and workdir.exists() and any(workdir.iterdir()):
        parser.error(f'--keep "{workdir}" is not empty')
    soak = Soak(args.minutes, seed, workdir)
    soak.prepare()
    if args.keep:
        soak.keep_records = open(workdir / "records.jsonl", "w")
    started = time.monotonic()
    try:
        asyncio.run(soak.run())
        print(soak.summary(time.monotonic() - started))
    finally:
        if soak.keep_records is not None:
            soak.keep_records.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if not soak.tally.problems else 1


if __name__ == "__main__":
    sys.exit(main())
