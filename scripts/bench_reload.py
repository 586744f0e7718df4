"""Reload speed and memory: devnode's in-process reload against a process-restart reloader.

Prints, measured in the same run on this machine:
  1. save-to-ready latency over N saves of a real plugin file in a running
     ``devnode run`` (file written -> new version initialized), median and p90,
     with the reload work broken down;
  2. the same for the classic alternative: the ``watchfiles`` CLI restarting the
     same ``devnode run`` process with the same plugins; and the ratio;
  3. reload work of a small plugin alone, and of one plugin among 200;
  4. 1,000 reloads in a row: subscriptions, tasks and RSS before and after.

Usage: python scripts/bench_reload.py [--saves 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"median_ms": 25.0, "p90_ms": 50.0, "speedup": 8.0, "work_ms": 2.0, "among_200_ratio": 1.5, "rss_mb": 5.0}

PLUGIN = '''\
"""A small plugin, as a plugin author would write it (about 30 lines)."""
import logging

from dashboard.event_bus import EventType

logger = logging.getLogger(__name__)
VERSION = "{version}"


class {cls}:
    def __init__(self, node):
        self.node = node
        self.version = VERSION
        self.seen = 0

    def initialize(self):
        self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)
        self.node.event_bus.subscribe(EventType.DATA_RECEIVED, self.on_received)

    def shutdown(self):
        self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)
        self.node.event_bus.unsubscribe(EventType.DATA_RECEIVED, self.on_received)

    async def on_shared(self, event):
        self.seen += 1
        logger.debug("shared %s", event.data.get("data_hash"))

    async def on_received(self, event):
        self.seen += 1
        logger.debug("received %s", event.data.get("data_hash"))
'''


def plugin_source(name: str, version: str) -> str:
    return PLUGIN.format(cls=name.capitalize() + "Plugin", version=version)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Records:
    """JSON records from a process's stdout, collected on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self.cond:
                self.items.append(record)
                self.cond.notify_all()

    def wait(self, predicate: Any, start: int, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for record in self.items[start:]:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching record")
                self.cond.wait(remaining)

    def __len__(self) -> int:
        with self.cond:
            return len(self.items)


def timed_saves(
    records: Records, path: Path, major: str, ready_kind: str, saves: int
) -> Iterator[tuple[float, dict[str, Any]]]:
    """Save a new version ``saves`` times; yield (ms from write to ``ready_kind`` record, that record)."""
    for i in range(saves):
        version = f"{major}.{i}"
        start = len(records)
        written = time.time()
        path.write_text(plugin_source("bench_plugin", version))
        ready = records.wait(lambda r: r["kind"] == ready_kind and r["version"] == version, start)
        yield (ready["ts"] - written) * 1000, ready
        # a restarted process is only done once it is ready again (an in-process reload already is)
        records.wait(lambda r: r["kind"] in ("node.ready", "plugin.reloaded"), start)
        time.sleep(0.05)  # let the machine settle between saves (a benchmark, not a test)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # measure what a plugin author's machine does
    return e


def measure_devnode(workdir: Path, saves: int) -> tuple[list[float], dict[str, list[float]]]:
    plugins = workdir / "plugins"
    path = plugins / "bench_plugin.py"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devnode", "run", str(plugins), "--ui", "json", "--data-dir", str(workdir / "data")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env(),
    )
    records = Records(proc)
    try:
        records.wait(lambda r: r["kind"] == "node.ready", 0)
        parts: dict[str, list[float]] = {}
        latencies = []
        for latency, record in timed_saves(records, path, "2", "plugin.reloaded", saves):
            latencies.append(latency)
            for key, value in record["timings"].items():
                parts.setdefault(key, []).append(value)
        return latencies, parts
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.terminate()
        proc.wait(10)


def measure_restart(workdir: Path, saves: int) -> list[float]:
    plugins = workdir / "plugins"
    path = plugins / "bench_plugin.py"
    command = (f"{sys.executable} -m devnode run {plugins} --ui json --no-watch "
               f"--data-dir {workdir / 'data-restart'}")
    watchfiles = shutil.which("watchfiles", path=str(Path(sys.executable).parent)) or "watchfiles"
    proc = subprocess.Popen(
        [watchfiles, "--filter", "python", command, str(plugins)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env(),
    )
    records = Records(proc)
    try:
        records.wait(lambda r: r["kind"] == "node.ready", 0)
        return [latency for latency, _ in timed_saves(records, path, "3", "plugin.loaded", saves)]
    finally:
        proc.terminate()
        proc.wait(10)


class HostOnDisk:
    """A dev node and plugin host over ``plugin_count`` copies of the small plugin, in a temp dir."""

    def __init__(self, plugin_count: int, check_leaks: bool) -> None:
        self.plugin_count = plugin_count
        self.check_leaks = check_leaks
        self.records: list[dict[str, Any]] = []

    async def __aenter__(self) -> HostOnDisk:
        from devnode import compat
        from devnode.config import NodeConfig
        from devnode.host.host import PluginHost
        from devnode.node.node import DevNode
        from devnode.ownership import install_task_factory
        from devnode.reporting import Reporter

        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        plugins = tmp / "plugins"
        plugins.mkdir()
        for n in range(self.plugin_count):
            name = f"p{n:03d}_plugin"
            (plugins / f"{name}.py").write_text(plugin_source(name, "1"))
        install_task_factory(asyncio.get_running_loop())
        compat.install()
        reporter = Reporter()
        reporter.add_sink(self.records.append)
        self.node = DevNode(NodeConfig(plugin_dir=str(plugins), data_dir=str(tmp)))
        self.host = PluginHost(self.node, plugins, reporter, check_leaks=self.check_leaks)
        await self.host.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        from devnode import compat

        await self.host.stop()
        self.node.store.close()
        compat.uninstall()
        self._tmp.cleanup()


async def reload_work(plugin_count: int, reloads: int) -> list[float]:
    """Reload work (import + shutdown + construct + initialize) of one plugin among ``plugin_count``."""
    async with HostOnDisk(plugin_count, check_leaks=False) as bench:
        work = []
        for _ in range(reloads):
            bench.records.clear()
            await bench.host.reload(["p000_plugin"])
            t = bench.records[-1]["timings"]
            work.append(t["import"] + t["shutdown"] + t["construct"] + t["initialize"])
        return work


async def thousand_reloads() -> dict[str, float]:
    """Subscriptions, tasks and RSS around 1,000 reloads in a row (leak checks on, as in devnode run)."""
    import gc

    def snapshot(bench: HostOnDisk) -> dict[str, float]:
        gc.collect()
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        return {"subs": bench.node.event_bus.subscriber_count, "tasks": len(asyncio.all_tasks()), "rss": rss}

    async with HostOnDisk(1, check_leaks=True) as bench:
        for _ in range(50):
            await bench.host.reload(["p000_plugin"])
        await asyncio.sleep(0.3)  # let the deferred leak check run
        bench.records.clear()
        before = snapshot(bench)
        for _ in range(1000):
            await bench.host.reload(["p000_plugin"])
        await asyncio.sleep(0.3)
        bench.records.clear()
        after = snapshot(bench)
    return {"subs_before": before["subs"], "subs_after": after["subs"], "tasks_before": before["tasks"],
            "tasks_after": after["tasks"], "rss_growth_mb": after["rss"] - before["rss"]}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=60, help="saves per reloader (default 60, at least 50 for the goal)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="devnode-bench-") as tmp:
        workdir = Path(tmp)
        shutil.copytree(ROOT / "plugins", workdir / "plugins")
        (workdir / "plugins" / "bench_plugin.py").write_text(plugin_source("bench_plugin", "1"))
        latencies, parts = measure_devnode(workdir, args.saves)
        restart = measure_restart(workdir, args.saves)

    med, p90 = statistics.median(latencies), pct(latencies, 0.9)
    rmed, rp90 = statistics.median(restart), pct(restart, 0.9)
    speedup = rmed / med
    print(f"save-to-ready over {args.saves} saves of a real plugin file (bundled plugins + bench_plugin loaded)")
    print(f"  devnode run (in-process reload)    median {med:7.1f} ms   p90 {p90:7.1f} ms   "
          f"[goal <= {GOALS['median_ms']:.0f} / {GOALS['p90_ms']:.0f} ms: {verdict(med <= GOALS['median_ms'] and p90 <= GOALS['p90_ms'])}]")
    print(f"  watchfiles CLI restarting devnode  median {rmed:7.1f} ms   p90 {rp90:7.1f} ms")
    print(f"  speed-up: {speedup:.1f}x  [goal >= {GOALS['speedup']:.0f}x: {verdict(speedup >= GOALS['speedup'])}]")
    print("  devnode breakdown (median ms): " + ", ".join(
        f"{k} {statistics.median(v):.2f}" for k, v in parts.items()))

    alone = asyncio.run(reload_work(1, 200))
    among = asyncio.run(reload_work(200, 200))
    ratio = statistics.median(among) / statistics.median(alone)
    print("reload work (import + shutdown + construct + initialize) of a 30-line plugin")
    print(f"  alone            median {statistics.median(alone):.3f} ms  p90 {pct(alone, 0.9):.3f} ms  "
          f"[goal < {GOALS['work_ms']:.0f} ms: {verdict(statistics.median(alone) < GOALS['work_ms'])}]")
    print(f"  among 200        median {statistics.median(among):.3f} ms  p90 {pct(among, 0.9):.3f} ms  "
          f"ratio {ratio:.2f}x  [goal <= {GOALS['among_200_ratio']}x: {verdict(ratio <= GOALS['among_200_ratio'])}]")

    flat = asyncio.run(thousand_reloads())
    print("1,000 reloads in a row")
    print(f"  subscriptions {flat['subs_before']} -> {flat['subs_after']}, tasks {flat['tasks_before']} -> "
          f"{flat['tasks_after']}, RSS growth {flat['rss_growth_mb']:.2f} MB  "
          f"[goal flat, < {GOALS['rss_mb']:.0f} MB: "
          f"{verdict(flat['subs_before'] == flat['subs_after'] and flat['tasks_before'] == flat['tasks_after'] and flat['rss_growth_mb'] < GOALS['rss_mb'])}]")


if __name__ == "__main__":
    main()
