"""Reload speed and memory: devnode's in-process reload against a process-restart reloader.

Prints, measured in the same run on this machine:
  1. save-to-ready latency over N atomic saves (temp file + rename, as editors save) of
     a real plugin file: devnode run and the classic alternative (the ``watchfiles``
     CLI restarting the same ``devnode run``) run side by side and the saves alternate
     between them, so both see the same machine; median, p90 and the ratio;
  2. reload work of a small plugin alone and among 2000 plugins, as the whole
     ``timings.total`` of its ``plugin.reloaded`` record (import, checks, shutdown,
     construct, initialize, everything the host does), and the wall time of the reload;
  3. memory: a real ``devnode run`` in each UI (rich on a pty, plain, json), 1000
     atomic saves each: RSS after 1000 reloads against after 50, and subscriptions and
     tasks before and after.

Usage: python scripts/bench_reload.py [--saves 60] [--reloads 1000] [--among 2000]
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"median_ms": 25.0, "p90_ms": 50.0, "speedup": 8.0, "work_ms": 2.0, "among_ratio": 1.2, "rss_mb": 1.0}

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


def atomic_save(path: Path, text: str) -> None:
    """Save as editors do: a temp file beside it, renamed over it (watchfiles reports it as added)."""
    tmp = path.with_name(f".{path.name}.bench~")
    tmp.write_text(text)
    os.replace(tmp, path)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # measure what a plugin author's machine does
    return e


class Reloader:
    """One reloader under test: a process watching its own copy of the plugins, and how it says 'ready'."""

    def __init__(self, name: str, command: list[str], plugins: Path, ready_kind: str, major: str) -> None:
        self.name, self.path, self.ready_kind, self.major = name, plugins / "bench_plugin.py", ready_kind, major
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env())
        self.records = Records(self.proc)
        self.records.wait(lambda r: r["kind"] == "node.ready", 0, timeout=60)
        self.latencies: list[float] = []
        self.parts: dict[str, list[float]] = {}

    def save(self, i: int) -> None:
        version = f"{self.major}.{i}"
        start = len(self.records)
        written = time.time()
        atomic_save(self.path, plugin_source("bench_plugin", version))
        ready = self.records.wait(lambda r: r["kind"] == self.ready_kind and r.get("version") == version, start)
        self.latencies.append((ready["ts"] - written) * 1000)
        for key, value in ready.get("timings", {}).items():
            self.parts.setdefault(key, []).append(value)
        # a restarted process is only done once it is ready again (an in-process reload already is)
        self.records.wait(lambda r: r["kind"] in ("node.ready", "plugin.reloaded"), start)

    def stop(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def side_by_side(workdir: Path, saves: int) -> tuple[Reloader, Reloader]:
    """Both reloaders running at once; the saves alternate between them (and which goes first)."""
    copies = {}
    for name in ("devnode", "restart"):
        copies[name] = workdir / name / "plugins"
        shutil.copytree(ROOT / "plugins", copies[name], ignore=shutil.ignore_patterns("__pycache__"))
        (copies[name] / "bench_plugin.py").write_text(plugin_source("bench_plugin", "1"))
    watchfiles = shutil.which("watchfiles", path=str(Path(sys.executable).parent)) or "watchfiles"
    restart_command = (f"{sys.executable} -m devnode run {copies['restart']} --ui json --no-watch "
                       f"--data-dir {workdir / 'restart' / 'data'}")
    devnode = Reloader("devnode", [sys.executable, "-m", "devnode", "run", str(copies["devnode"]), "--ui", "json",
                                   "--data-dir", str(workdir / "devnode" / "data")], copies["devnode"], "plugin.reloaded", "2")
    restart = Reloader("restart", [watchfiles, "--filter", "python", restart_command, str(copies["restart"])],
                       copies["restart"], "plugin.loaded", "3")
    try:
        for i in range(saves):
            for reloader in (devnode, restart) if i % 2 == 0 else (restart, devnode):
                reloader.save(i)
                time.sleep(0.05)  # let the machine settle between saves (a benchmark, not a test)
    finally:
        devnode.stop()
        restart.stop()
    return devnode, restart


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
            name = f"p{n:04d}_plugin"
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


async def reload_work(plugin_count: int, reloads: int) -> tuple[list[float], list[float]]:
    """``timings.total`` of reloading one plugin among ``plugin_count``, and the wall time of each ``host.reload``."""
    async with HostOnDisk(plugin_count, check_leaks=False) as bench:
        totals, walls = [], []
        for _ in range(reloads):
            bench.records.clear()
            start = time.perf_counter()
            await bench.host.reload(["p0000_plugin"])
            walls.append((time.perf_counter() - start) * 1000)
            [record] = [r for r in bench.records if r["kind"] == "plugin.reloaded"]
            totals.append(record["timings"]["total"])
        return totals, walls


async def thousand_reloads(count: int = 1000) -> dict[str, float]:
    """Subscriptions, tasks and RSS around 1,000 reloads in a row (leak checks on, as in devnode run)."""
    import gc

    def snapshot(bench: HostOnDisk) -> dict[str, float]:
        gc.collect()
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        return {"subs": bench.node.event_bus.subscriber_count, "tasks": len(asyncio.all_tasks()), "rss": rss}

    async with HostOnDisk(1, check_leaks=True) as bench:
        for _ in range(50):
            await bench.host.reload(["p0000_plugin"])
        await asyncio.sleep(0.3)  # let the deferred leak check run
        bench.records.clear()
        before = snapshot(bench)
        for _ in range(count):
            await bench.host.reload(["p0000_plugin"])
        await asyncio.sleep(0.3)
        bench.records.clear()
        after = snapshot(bench)
    return {"subs_before": before["subs"], "subs_after": after["subs"], "tasks_before": before["tasks"],
            "tasks_after": after["tasks"], "rss_growth_mb": after["rss"] - before["rss"]}


MARKER = "bench_version"


def marked_source(version: str) -> str:
    """The bench plugin, also writing its version to the data dir when it starts (how the bench sees a reload)."""
    source = plugin_source("bench_plugin", version)
    return source.replace("    def initialize(self):\n",
                          "    def initialize(self):\n        __import__('pathlib').Path(self.node.config.data_dir, "
                          f"'{MARKER}').write_text(VERSION)\n", 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class UiRun:
    """``devnode run --ui UI`` on the bundled plugins + the bench plugin; rich runs on a pseudo-terminal."""

    def __init__(self, ui: str, workdir: Path) -> None:
        self.ui = ui
        self.plugins = workdir / f"mem-{ui}" / "plugins"
        self.data = workdir / f"mem-{ui}" / "data"
        shutil.copytree(ROOT / "plugins", self.plugins, ignore=shutil.ignore_patterns("__pycache__"))
        (self.plugins / "bench_plugin.py").write_text(marked_source("0"))
        command = [sys.executable, "-m", "devnode", "run", str(self.plugins), "--ui", ui, "--data-dir", str(self.data)]
        if ui == "rich":
            from ptyprocess import PtyProcess  # type: ignore[import-untyped]

            self.pty = PtyProcess.spawn(command, env=dict(env(), TERM="xterm-256color"), dimensions=(40, 100))
            self.pid = self.pty.pid
            threading.Thread(target=self._drain_pty, daemon=True).start()
        else:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, env=env())
            self.pid = self.proc.pid
            threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        self.wait_version("0")

    def _drain_pty(self) -> None:
        while True:
            try:
                self.pty.read(65536)
            except EOFError:
                return

    def save(self, version: str) -> None:
        atomic_save(self.plugins / "bench_plugin.py", marked_source(version))

    def wait_version(self, version: str, timeout: float = 60) -> None:
        marker = self.data / MARKER
        deadline = time.monotonic() + timeout
        while True:
            try:
                if marker.read_text() == version:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"--ui {self.ui}: bench_plugin {version} never started")
            time.sleep(0.002)

    def stop(self) -> None:
        if self.ui == "rich":
            self.pty.write(b"q")
            deadline = time.monotonic() + 30
            while self.pty.isalive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.pty.isalive():
                self.pty.terminate(force=True)
        else:
            try:
                self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def memory_under_uis(workdir: Path, reloads: int, uis: list[str]) -> dict[str, tuple[float, float]]:
    """ui -> (RSS MB after 50 reloads, after ``reloads``); the UIs run side by side, each save goes to all."""
    runs = [UiRun(ui, workdir) for ui in uis]
    at_50: dict[str, float] = {}
    try:
        for i in range(1, reloads + 1):
            for run in runs:
                run.save(str(i))
            for run in runs:
                run.wait_version(str(i))
            time.sleep(0.01)  # the reload's own records reach the UI
            if i == 50:
                time.sleep(1.0)  # leak checks and the console's frames have run
                at_50 = {run.ui: rss_mb(run.pid) for run in runs}
        time.sleep(1.0)
        return {run.ui: (at_50[run.ui], rss_mb(run.pid)) for run in runs}
    finally:
        for run in runs:
            run.stop()


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=60, help="saves per reloader (default 60, at least 50 for the goal)")
    parser.add_argument("--among", type=int, default=2000, help="plugins around the reloaded one (default 2000)")
    parser.add_argument("--reloads", type=int, default=1000, help="saves for the memory check (default 1000)")
    parser.add_argument("--uis", default="rich,plain,json", help="UIs for the memory check (default rich,plain,json)")
    parser.add_argument("--work-reloads", type=int, default=200, help="reloads timed for the reload work (default 200)")
    parser.add_argument("--ledger-reloads", type=int, default=1000, help="in-process reloads for the ledger check")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="devnode-bench-") as tmp:
        devnode, restart = side_by_side(Path(tmp), args.saves)
    latencies, parts, restarts = devnode.latencies, devnode.parts, restart.latencies
    med, p90 = statistics.median(latencies), pct(latencies, 0.9)
    rmed, rp90 = statistics.median(restarts), pct(restarts, 0.9)
    speedup = rmed / med
    print(f"save-to-ready over {args.saves} atomic saves each, alternating between the two reloaders running side by "
          "side (bundled plugins + bench_plugin loaded)")
    print(f"  devnode run (in-process reload)    median {med:7.1f} ms   p90 {p90:7.1f} ms   "
          f"[goal <= {GOALS['median_ms']:.0f} / {GOALS['p90_ms']:.0f} ms: {verdict(med <= GOALS['median_ms'] and p90 <= GOALS['p90_ms'])}]")
    print(f"  watchfiles CLI restarting devnode  median {rmed:7.1f} ms   p90 {rp90:7.1f} ms")
    print(f"  speed-up: {speedup:.1f}x  [goal >= {GOALS['speedup']:.0f}x: {verdict(speedup >= GOALS['speedup'])}]")
    print("  devnode breakdown (median ms): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in parts.items()))

    alone, alone_wall = asyncio.run(reload_work(1, args.work_reloads))
    among, among_wall = asyncio.run(reload_work(args.among, args.work_reloads))
    ratio = statistics.median(among) / statistics.median(alone)
    print("reload work of a 30-line plugin: the whole timings.total of its plugin.reloaded record (wall time of the "
          "host's reload in brackets)")
    print(f"  alone            median {statistics.median(alone):.3f} ms  p90 {pct(alone, 0.9):.3f} ms  "
          f"[{statistics.median(alone_wall):.3f} ms]  "
          f"[goal < {GOALS['work_ms']:.0f} ms: {verdict(statistics.median(alone) < GOALS['work_ms'])}]")
    print(f"  among {args.among:<10} median {statistics.median(among):.3f} ms  p90 {pct(among, 0.9):.3f} ms  "
          f"[{statistics.median(among_wall):.3f} ms]  ratio {ratio:.2f}x  "
          f"[goal <= {GOALS['among_ratio']}x: {verdict(ratio <= GOALS['among_ratio'])}]")

    flat = asyncio.run(thousand_reloads(args.ledger_reloads))
    print(f"{args.ledger_reloads:,} reloads in a row in-process (no UI): ledgers")
    print(f"  subscriptions {flat['subs_before']} -> {flat['subs_after']}, tasks {flat['tasks_before']} -> "
          f"{flat['tasks_after']}  [goal flat: "
          f"{verdict(flat['subs_before'] == flat['subs_after'] and flat['tasks_before'] == flat['tasks_after'])}]")

    uis = [u for u in args.uis.split(",") if u]
    with tempfile.TemporaryDirectory(prefix="devnode-bench-mem-") as tmp:
        memory = memory_under_uis(Path(tmp), args.reloads, uis)
    print(f"memory: devnode run in each UI, {args.reloads} atomic saves of bench_plugin (side by side), VmRSS")
    for ui, (before, after) in memory.items():
        growth = after - before
        print(f"  --ui {ui:<5}  after 50 reloads {before:6.1f} MB, after {args.reloads} {after:6.1f} MB: "
              f"{growth:+.2f} MB ({growth * 1024 / max(1, args.reloads - 50):+.2f} KB per reload)  "
              f"[goal within {GOALS['rss_mb']:g} MB: {verdict(abs(growth) <= GOALS['rss_mb'])}]")


if __name__ == "__main__":
    main()
