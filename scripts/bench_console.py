"""What the rich console costs: idle CPU, and event delivery in a burst compared with --ui json.

Usage: .venv/bin/python scripts/bench_console.py [--idle-seconds 5] [--events 30000] [--rounds 3]

Idle: a real ``devnode run --ui rich`` on a pseudo-terminal (100x40) with the
bundled plugins, no events and no changes; its CPU time (all threads, from
/proc/<pid>/stat) over several seconds, as a percentage of one core.

Burst: a bench plugin publishes ``--events`` events back to back (yielding to
the loop every 100, as real bursts do), each handled by two plugins, and writes
how long delivery took. Run once with the rich console on a pty and once with
``--ui json > /dev/null``, alternating for ``--rounds`` rounds in this same run;
the medians and their ratio are printed. The goals: idle under 1% of a core,
rich at least 90% of json's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ptyprocess import PtyProcess  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

BURST_PLUGIN = """
    import asyncio
    import json
    import time
    from pathlib import Path

    from dashboard.event_bus import Event, EventType

    EVENTS = {events}


    class Burst_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"
            self._task = None

        def initialize(self):
            self.node.event_bus.subscribe(EventType.NODE_STARTED, self.on_started)

        def shutdown(self):
            if self._task is not None:
                self._task.cancel()

        def on_started(self, event):
            self._task = asyncio.get_running_loop().create_task(self.burst())

        async def burst(self):
            await asyncio.sleep(1.0)  # let start-up output settle
            bus = self.node.event_bus
            start = time.perf_counter()
            for i in range(EVENTS):
                await bus.publish(Event(EventType.DATA_SHARED, {{"n": i, "recipient": "peer1"}}))
                if i % 100 == 99:
                    await asyncio.sleep(0)
            seconds = time.perf_counter() - start
            Path(self.node.config.data_dir, "burst.json").write_text(json.dumps({{"events": EVENTS, "seconds": seconds}}))
"""

LISTENER_PLUGIN = """
    from dashboard.event_bus import EventType


    class {cls}:
        def __init__(self, node):
            self.node = node
            self.version = "1.0.0"
            self.seen = 0

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        async def on_shared(self, event):
            self.seen += 1
"""


def _env() -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color")
    for name in ("NO_COLOR", "COLUMNS", "LINES", "PLUGIN_DIR", "DATA_DIR"):
        env.pop(name, None)
    return env


def _command(plugin_dir: Path, data_dir: Path, ui: str) -> list[str]:
    return [sys.executable, "-m", "devnode", "run", str(plugin_dir), "--data-dir", str(data_dir), "--ui", ui]


class PtyRun:
    """``devnode run --ui rich`` on a pty, its output drained on a thread as a terminal would."""

    def __init__(self, plugin_dir: Path, data_dir: Path) -> None:
        self.proc = PtyProcess.spawn(_command(plugin_dir, data_dir, "rich"), env=_env(), dimensions=(40, 100),
                                     cwd=str(plugin_dir.parent))
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                self.output += self.proc.read(65536)
            except EOFError:
                return

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self.proc.isalive():
                raise RuntimeError(f"devnode never showed {text!r}; output:\n{self.output[-3000:].decode(errors='replace')}")
            time.sleep(0.05)

    def quit(self) -> None:
        self.proc.write(b"q")
        deadline = time.monotonic() + 60
        while self.proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.proc.isalive():
            self.proc.terminate(force=True)
        self._reader.join(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def idle_cpu(work: Path, seconds: float) -> float:
    plugin_dir = work / "idle" / "plugins"
    shutil.copytree(ROOT / "plugins", plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
    run = PtyRun(plugin_dir, work / "idle" / "data")
    try:
        run.wait_for(b"node node1 ready")
        run.wait_for(b" quit")
        time.sleep(1.0)  # start-up done, footer drawn
        before, started = cpu_seconds(run.proc.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(run.proc.pid) - before, time.monotonic() - started
    finally:
        run.quit()
    return used / elapsed * 100


def idle_cpu_json(work: Path, seconds: float) -> float:
    """The same idle node with --ui json to /dev/null: what the node costs without any console."""
    plugin_dir = work / "idle-json" / "plugins"
    shutil.copytree(ROOT / "plugins", plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
    data_dir = work / "idle-json" / "data"
    proc = subprocess.Popen(_command(plugin_dir, data_dir, "json"), env=_env(), cwd=plugin_dir.parent,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if '"node.ready"' in line:
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        time.sleep(1.0)
        before, started = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(proc.pid) - before, time.monotonic() - started
    finally:
        _quit_json(proc)
    return used / elapsed * 100


def _quit_json(proc: subprocess.Popen[str]) -> None:
    """Quit a ``--ui json`` node as a user would (``quit`` on stdin); kill it if it does not stop."""
    if proc.poll() is not None:
        return
    assert proc.stdin is not None
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def burst_dir(work: Path, events: int) -> Path:
    plugin_dir = work / "burst" / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "burst_plugin.py").write_text(textwrap.dedent(BURST_PLUGIN.format(events=events)).lstrip())
    for name in ("first_plugin", "second_plugin"):
        cls = name.capitalize() + "Plugin"
        (plugin_dir / f"{name}.py").write_text(textwrap.dedent(LISTENER_PLUGIN.format(cls=cls)).lstrip())
    return plugin_dir


def _wait_result(path: Path, alive: Callable[[], bool], timeout: float = 300) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"the burst did not finish ({path} missing)")
        time.sleep(0.05)
    time.sleep(0.05)  # the write is tiny; let it land
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def burst_rich(plugin_dir: Path, data_dir: Path) -> float:
    run = PtyRun(plugin_dir, data_dir)
    try:
        result = _wait_result(data_dir / "burst.json", run.proc.isalive)
    except RuntimeError:
        print(run.output[-4000:].decode(errors="replace"), file=sys.stderr)
        raise
    finally:
        run.quit()
    return result["events"] / result["seconds"]


def burst_json(plugin_dir: Path, data_dir: Path) -> float:
    proc = subprocess.Popen(_command(plugin_dir, data_dir, "json"), env=_env(), cwd=plugin_dir.parent,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        result = _wait_result(data_dir / "burst.json", lambda: proc.poll() is None)
    finally:
        _quit_json(proc)
    return result["events"] / result["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        idle = idle_cpu(work, args.idle_seconds)
        print(f"idle: {idle:.2f}% of one core over {args.idle_seconds:g} s "
              f"(devnode run --ui rich on a 100x40 pty, bundled plugins)  goal < 1%: {'ok' if idle < 1 else 'MISSED'}")
        print(f"  for comparison, the same node with --ui json: {idle_cpu_json(work, args.idle_seconds):.2f}%")

        plugin_dir = burst_dir(work, args.events)
        rich_rates: list[float] = []
        json_rates: list[float] = []
        for i in range(args.rounds):
            for name, runner, rates in (("json", burst_json, json_rates), ("rich", burst_rich, rich_rates)):
                data_dir = work / "burst" / f"data-{name}-{i}"
                rates.append(runner(plugin_dir, data_dir))
        rich, plain = statistics.median(rich_rates), statistics.median(json_rates)
        ratio = rich / plain
        print(f"burst: {args.events} events x 2 handlers, median of {args.rounds} alternating rounds")
        print(f"  --ui json > /dev/null: {plain:,.0f} events/s  ({', '.join(f'{r:,.0f}' for r in json_rates)})")
        print(f"  --ui rich on a pty:    {rich:,.0f} events/s  ({', '.join(f'{r:,.0f}' for r in rich_rates)})")
        print(f"  rich / json = {ratio:.3f}  (slowdown {max(0.0, 1 - ratio) * 100:.1f}%)  "
              f"goal < 10%: {'ok' if ratio >= 0.9 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
