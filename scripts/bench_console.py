"""What a running node costs the machine: idle wakeups and CPU in every UI, and a burst's delivery.

Usage: .venv/bin/python scripts/bench_console.py [--idle-seconds 30] [--events 60000] [--rounds 7]

Idle: a real ``devnode run`` with the bundled plugins, no events and no changes, in
each UI (``--ui rich`` on a 100x40 pseudo-terminal, ``--ui plain`` and ``--ui json``
into a pipe that is drained), and the baseline: a bare Python process doing nothing
but ``watchfiles.awatch(plugin_dir, step=10)``. From /proc, over ``--idle-seconds``
(default 30 s): the wakeups per second of all its threads (voluntary + involuntary
context switches) and its CPU time as a percentage of one core, read from each
thread's scheduler account (``/proc/PID/task/TID/sched``, nanoseconds; clock ticks,
10 ms each, where that file is missing). Goals: wakeups within 1.2x of the bare
awatch process, CPU under 0.5%. Each process's CPU is also split into its watching
thread (the one waking about a hundred times a second: the watcher's ``step``) and
the rest, which is what devnode adds around the watcher.

Burst: a bench plugin publishes ``--events`` events back to back (yielding to the
loop every 100, as real bursts do), each handled by two plugins, and writes how long
delivery took, by the wall clock and in CPU time of the whole process (all threads:
rendering included). Run with each UI and with no UI at all (the same Runtime with a
sink that drops every record: the baseline), alternating for ``--rounds`` rounds; the
medians, each round's figures and the ratios are printed. Goal: the rich console
(which folds bursts into one line a second) at least 90% of the no-UI rate, judged
on CPU time (on this shared 2-core machine the wall clock also counts waiting for a
core, which moved the baseline alone by 2x within one run); plain and JSON print a
line per event by design and are shown for comparison.
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
    import os
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
            go = Path(os.environ["BENCH_GO"])  # the bench starts the two nodes of a pair at the same moment
            Path(self.node.config.data_dir, "armed").write_text("")
            while not go.exists():
                await asyncio.sleep(0.01)
            bus = self.node.event_bus
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(EVENTS):
                await bus.publish(Event(EventType.DATA_SHARED, {{"n": i, "recipient": "peer1"}}))
                if i % 100 == 99:
                    await asyncio.sleep(0)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            Path(self.node.config.data_dir, "burst.json").write_text(
                json.dumps({{"events": EVENTS, "seconds": seconds, "cpu": cpu}}))
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


def thread_cpu(task: Path) -> float:
    """CPU seconds of one thread: its scheduler account (ns) where the kernel has one, else clock ticks."""
    try:
        for line in (task / "sched").read_text().splitlines():
            if line.startswith("se.sum_exec_runtime"):
                return float(line.split(":")[1]) / 1000
    except (OSError, ValueError):
        pass
    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def threads(pid: int) -> dict[str, tuple[int, float]]:
    """Thread id -> (context switches, voluntary + involuntary, so far; CPU seconds so far)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            switches = sum(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                           if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
            found[task.name] = (switches, thread_cpu(task))
        except OSError:
            continue  # a thread that ended meanwhile
    return found


def wakeups(pid: int) -> int:
    """Context switches (voluntary + involuntary) of every thread of the process so far."""
    return sum(switches for switches, _ in threads(pid).values())


class Idle:
    """One process's idle window: wakeups/s and % of a core, in all and for its watching thread."""

    def __init__(self, before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]],
                 seconds: float) -> None:
        deltas = {tid: (after[tid][0] - before.get(tid, (0, 0.0))[0], after[tid][1] - before.get(tid, (0, 0.0))[1])
                  for tid in after}
        self.rate = sum(d[0] for d in deltas.values()) / seconds
        self.cpu = sum(d[1] for d in deltas.values()) / seconds * 100
        watcher = max(deltas.values(), key=lambda d: d[0])  # the thread waking every step
        self.watcher_cpu = watcher[1] / seconds * 100
        self.rest_cpu = self.cpu - self.watcher_cpu


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


def idle(work: Path, seconds: float) -> dict[str, Idle]:
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
        before = {name: threads(pid) for name, pid in pids.items()}
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        after = {name: threads(pid) for name, pid in pids.items()}
    finally:
        for run in runs.values():
            run.quit()
    return {name: Idle(before[name], after[name], elapsed) for name in pids}


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


def _wait_file(path: Path, alive: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"{what} ({path} missing)")
        time.sleep(0.02)


NO_UI = """
import asyncio, sys
from devnode.config import load_config
from devnode.runtime import RunOptions, Runtime
config = load_config({"plugin_dir": sys.argv[1], "data_dir": sys.argv[2]})
runtime = Runtime(config, RunOptions(read_commands=False), lambda record: None, commands_in=None)
sys.exit(asyncio.run(runtime.run()))
"""


class BurstRun:
    """One node with the burst plugins, started and waiting for the go file; quit once its burst is done."""

    def __init__(self, ui: str, plugin_dir: Path, data_dir: Path) -> None:
        self.ui = ui
        self.data_dir = data_dir
        self.pty: PtyRun | None = None
        self.piped: PipedRun | None = None
        self.proc: subprocess.Popen[str] | None = None
        if ui == "rich":
            self.pty = PtyRun(plugin_dir, data_dir)
        elif ui == "plain":
            self.piped = PipedRun(_command(plugin_dir, data_dir, "plain"), plugin_dir.parent, "ready")
        else:
            command = (_command(plugin_dir, data_dir, "json") if ui == "json"
                       else [sys.executable, "-c", NO_UI, str(plugin_dir), str(data_dir)])
            self.proc = subprocess.Popen(command, env=_env(), cwd=plugin_dir.parent, stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)

    def alive(self) -> bool:
        if self.pty is not None:
            return bool(self.pty.proc.isalive())
        if self.piped is not None:
            return self.piped.proc.poll() is None
        assert self.proc is not None
        return self.proc.poll() is None

    def wait_armed(self) -> None:
        try:
            _wait_file(self.data_dir / "armed", self.alive, f"--ui {self.ui} never got ready for the burst")
        except RuntimeError:
            if self.pty is not None:
                print(self.pty.output[-4000:].decode(errors="replace"), file=sys.stderr)
            raise

    def result(self) -> dict[str, float]:
        path = self.data_dir / "burst.json"
        _wait_file(path, self.alive, f"the burst under --ui {self.ui} did not finish")
        time.sleep(0.05)  # the write is tiny; let it land
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    def quit(self) -> None:
        if self.pty is not None:
            self.pty.quit()
        elif self.piped is not None:
            self.piped.quit()
        elif self.proc is not None and self.ui == "json":
            _quit_json(self.proc)
        elif self.proc is not None:
            self.proc.terminate()  # SIGTERM: the runtime shuts down cleanly
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def burst_pair(ui: str, plugin_dir: Path, work: Path) -> tuple[dict[str, float], dict[str, float]]:
    """The no-UI baseline and ``ui`` bursting at the same moment: (baseline's result, ui's result).

    Side by side, both see the same load from the rest of the machine (here it moved one process's rate
    by 2x from one round to the next); each has a core to itself when nothing else runs.
    """
    work.mkdir(parents=True)
    go = work / "go"
    os.environ["BENCH_GO"] = str(go)
    runs = [BurstRun("no UI", plugin_dir, work / "data-no-ui"), BurstRun(ui, plugin_dir, work / f"data-{ui}")]
    try:
        for run in runs:
            run.wait_armed()
        time.sleep(0.5)  # start-up output settled
        go.write_text("")
        base, other = (run.result() for run in runs)
    finally:
        for run in runs:
            run.quit()
    return base, other


def report_idle(figures: dict[str, Idle], seconds: float) -> None:
    bare = figures["awatch"]
    print(f"idle over {seconds:g} s, bundled plugins, all four processes in the same window (from /proc)")
    print(f"  bare awatch(step=10) process: {bare.rate:7.1f} wakeups/s  {bare.cpu:.3f}% of a core "
          f"(watching thread {bare.watcher_cpu:.3f}%, the rest {bare.rest_cpu:.3f}%)")
    for ui in ("rich", "plain", "json"):
        run = figures[ui]
        ok = run.rate <= 1.2 * bare.rate and run.cpu < 0.5
        print(f"  devnode run --ui {ui:<5}:       {run.rate:7.1f} wakeups/s  {run.cpu:.3f}% of a core "
              f"(watching thread {run.watcher_cpu:.3f}%, the rest {run.rest_cpu:.3f}%)   "
              f"{run.rate / bare.rate:.2f}x the bare awatch  [goal <= 1.2x and < 0.5%: {'ok' if ok else 'MISSED'}]")


def spread(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="0 skips the idle part")
    parser.add_argument("--events", type=int, default=60000, help="0 skips the burst part")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        if args.idle_seconds > 0:
            report_idle(idle(work, args.idle_seconds), args.idle_seconds)
        if args.events <= 0:
            return 0

        plugin_dir = burst_dir(work, args.events)
        uis = ["rich", "json", "plain"]
        base: dict[str, list[dict[str, float]]] = {ui: [] for ui in uis}
        got: dict[str, list[dict[str, float]]] = {ui: [] for ui in uis}
        for i in range(args.rounds):
            for ui in uis[i % 3:] + uis[:i % 3]:  # no UI always runs first
                pair = burst_pair(ui, plugin_dir, work / "burst" / f"round-{i}-{ui}")
                base[ui].append(pair[0])
                got[ui].append(pair[1])
        print(f"burst: {args.events} events x 2 handlers; each UI side by side with the no-UI baseline, both "
              f"starting at once, {args.rounds} rounds; events per second of wall clock and per CPU second of "
              "the whole process, medians (each round's in brackets)")
        for ui in uis:
            where = "on a pty" if ui == "rich" else "into a pipe" if ui == "plain" else "> /dev/null"
            for measure, key in (("wall", "seconds"), ("CPU ", "cpu")):
                mine = [r["events"] / r[key] for r in got[ui]]
                theirs = [r["events"] / r[key] for r in base[ui]]
                ratios = [m / t for m, t in zip(mine, theirs)]
                ratio = statistics.median(ratios)
                if ui != "rich":
                    goal = "(a line per event, by design: for comparison)" if measure == "CPU " else ""
                elif measure == "CPU ":
                    goal = f"[goal >= 0.9 by CPU: {'ok' if ratio >= 0.9 else 'MISSED'}]"
                else:
                    goal = ""
                print(f"  --ui {ui:<5} {where:<12} {measure}: {statistics.median(mine):>8,.0f} ({spread(mine)})")
                print(f"  {'':<6}no UI beside it {measure}: {statistics.median(theirs):>8,.0f} ({spread(theirs)})")
                print(f"  {'':<6}ratio {measure}: {ratio:.2f} (each round: {', '.join(f'{r:.2f}' for r in ratios)})"
                      f"  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
