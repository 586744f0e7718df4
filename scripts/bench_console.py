"""What a running node costs the machine: idle wakeups and CPU in every UI, and a burst's delivery.

Usage: .venv/bin/python scripts/bench_console.py [--idle-seconds 30] [--events 30000] [--rounds 3]

Idle: a real ``devnode run`` with the bundled plugins, no events and no changes, in
each UI (``--ui rich`` on a 100x40 pseudo-terminal, ``--ui plain`` and ``--ui json``
into a pipe that is drained), and the baseline: a bare Python process doing nothing
but ``watchfiles.awatch(plugin_dir, step=10)``. From /proc, over ``--idle-seconds``
(default 30 s, about 3,000 clock ticks): the wakeups per second of all its threads
(voluntary + involuntary context switches) and its CPU time as a percentage of one
core. Goals: wakeups within 1.2x of the bare awatch process, CPU under 0.5%.

Burst: a bench plugin publishes ``--events`` events back to back (yielding to the
loop every 100, as real bursts do), each handled by two plugins, and writes how long
delivery took. Run with each UI and with no UI at all (the same Runtime with a sink
that drops every record: the baseline), alternating for ``--rounds`` rounds; the
medians and ratios are printed. Goal: the rich console (which folds bursts into one
line a second) at least 90% of the no-UI rate; plain and JSON print a line per event
by design and are shown for comparison.
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
from typing import Any
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


def wakeups(pid: int) -> int:
    """Context switches (voluntary + involuntary) of every thread of the process so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue  # a thread that ended meanwhile
    return total


BARE_AWATCH = """
import asyncio, sys
from watchfiles import awatch
async def main():
    print("watching", flush=True)
    async for _ in awatch(sys.argv[1], step=10):
        pass
asyncio.run(main())
"""


class PipedRun:
    """A process whose stdout is a drained pipe and whose stdin stays open (plain/json UIs, bare awatch)."""

    def __init__(self, command: list[str], cwd: Path, ready: str) -> None:
        self.proc = subprocess.Popen(command, env=_env(), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if ready in line:
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def quit(self) -> None:
        if self.proc.poll() is None and self.proc.args[1] == "-c":  # the bare awatch process reads no commands
            self.proc.kill()
            self.proc.wait()
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def idle(work: Path, seconds: float) -> dict[str, tuple[float, float]]:
    """name -> (wakeups/s, % of a core), all four processes measured over the same window."""
    dirs = {}
    for name in ("rich", "plain", "json", "awatch"):
        dirs[name] = work / f"idle-{name}" / "plugins"
        shutil.copytree(ROOT / "plugins", dirs[name], ignore=shutil.ignore_patterns("__pycache__"))
    runs: dict[str, Any] = {}
    try:
        rich = PtyRun(dirs["rich"], dirs["rich"].parent / "data")
        runs["rich"] = rich
        rich.wait_for(b"node node1 ready")
        rich.wait_for(b" quit")
        for ui in ("plain", "json"):
            runs[ui] = PipedRun(_command(dirs[ui], dirs[ui].parent / "data", ui), dirs[ui].parent,
                                "ready" if ui == "plain" else '"node.ready"')
        runs["awatch"] = PipedRun([sys.executable, "-c", BARE_AWATCH, str(dirs["awatch"])], dirs["awatch"].parent,
                                  "watching")
        time.sleep(2.0)  # start-up done, footer drawn, first leak checks run
        pids = {name: run.proc.pid for name, run in runs.items()}
        before = {name: (wakeups(pid), cpu_seconds(pid)) for name, pid in pids.items()}
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        after = {name: (wakeups(pid), cpu_seconds(pid)) for name, pid in pids.items()}
    finally:
        for run in runs.values():
            run.quit()
    return {name: ((after[name][0] - before[name][0]) / elapsed, (after[name][1] - before[name][1]) / elapsed * 100)
            for name in pids}


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


NO_UI = """
import asyncio, sys
from devnode.config import load_config
from devnode.runtime import RunOptions, Runtime
config = load_config({"plugin_dir": sys.argv[1], "data_dir": sys.argv[2]})
runtime = Runtime(config, RunOptions(read_commands=False), lambda record: None, commands_in=None)
sys.exit(asyncio.run(runtime.run()))
"""


def burst_plain(plugin_dir: Path, data_dir: Path) -> float:
    proc = PipedRun(_command(plugin_dir, data_dir, "plain"), plugin_dir.parent, "ready")
    try:
        result = _wait_result(data_dir / "burst.json", lambda: proc.proc.poll() is None)
    finally:
        proc.quit()
    return result["events"] / result["seconds"]


def burst_no_ui(plugin_dir: Path, data_dir: Path) -> float:
    proc = subprocess.Popen([sys.executable, "-c", NO_UI, str(plugin_dir), str(data_dir)], env=_env(),
                            cwd=plugin_dir.parent, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        result = _wait_result(data_dir / "burst.json", lambda: proc.poll() is None)
    finally:
        proc.terminate()  # SIGTERM: the runtime shuts down cleanly
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return result["events"] / result["seconds"]


def report_idle(figures: dict[str, tuple[float, float]], seconds: float) -> None:
    bare = figures["awatch"][0]
    print(f"idle over {seconds:g} s, bundled plugins, all four processes in the same window (from /proc)")
    print(f"  bare awatch(step=10) process: {bare:7.1f} wakeups/s  {figures['awatch'][1]:.2f}% of a core")
    for ui in ("rich", "plain", "json"):
        rate, cpu = figures[ui]
        ok = rate <= 1.2 * bare and cpu < 0.5
        print(f"  devnode run --ui {ui:<5}:       {rate:7.1f} wakeups/s  {cpu:.2f}% of a core   "
              f"{rate / bare:.2f}x the bare awatch  [goal <= 1.2x and < 0.5%: {'ok' if ok else 'MISSED'}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="0 skips the idle part")
    parser.add_argument("--events", type=int, default=30000, help="0 skips the burst part")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        if args.idle_seconds > 0:
            report_idle(idle(work, args.idle_seconds), args.idle_seconds)
        if args.events <= 0:
            return 0

        plugin_dir = burst_dir(work, args.events)
        runners = {"no UI": burst_no_ui, "json": burst_json, "plain": burst_plain, "rich": burst_rich}
        rates: dict[str, list[float]] = {name: [] for name in runners}
        for i in range(args.rounds):
            for name, runner in runners.items():
                rates[name].append(runner(plugin_dir, work / "burst" / f"data-{name.replace(' ', '-')}-{i}"))
        base = statistics.median(rates["no UI"])
        print(f"burst: {args.events} events x 2 handlers, median of {args.rounds} alternating rounds")
        print(f"  no UI (records dropped): {base:>9,.0f} events/s  ({', '.join(f'{r:,.0f}' for r in rates['no UI'])})")
        for name in ("json", "plain", "rich"):
            rate = statistics.median(rates[name])
            where = "on a pty" if name == "rich" else "into a pipe" if name == "plain" else "> /dev/null"
            goal = (f"[goal >= 0.9: {'ok' if rate >= 0.9 * base else 'MISSED'}]" if name == "rich"
                    else "(a line per event, by design: for comparison)")
            print(f"  --ui {name} {where:<12}: {rate:>9,.0f} events/s  ({', '.join(f'{r:,.0f}' for r in rates[name])})"
                  f"  {rate / base:.2f} of no UI  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
