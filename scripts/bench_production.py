"""Start-up and reload of the production-backed node against the stand-in, measured in one run.

For each node kind, ``devnode run plugins --ui json`` is started as a real process
(watcher on, bundled plugins, a fresh data dir: a first start) and timed from spawn
to its ``node.ready`` record, in wall time and in the CPU time the devnode process
had used by then (read from /proc as the record arrives: its own work, which the
shared machine's load stretches far less than wall time; anvil and its watcher
are processes of their own and not in it); the kinds alternate start by start, so
both see the same machine. Then each bundled plugin is reloaded with the ``reload``
command and the reload's own total (shutdown, import, initialize, swap) is read
from its ``plugin.reloaded`` record. ``--second-start`` also times a start on the
data dir a first start left (keys, LevelDB, the chain's state file). Goals
(issue 10): ready in under 3 s with ``--node production``, reload within 1.2x of
the stand-in's. Each start's reloads run with that node alone, as an author's
single node does: with the other kind's node beside it, that node's leak check
after each reload (a full gc, about 5x dearer in the production-backed process)
lands on the other's reloads.

Bytecode caching is on, as on a plugin author's machine (and as in
bench_startup.py and bench_reload.py): Python caches what it compiles of devnode
and of the checkout (here in a temporary PYTHONPYCACHEPREFIX, so the shared
checkout is never written to), and one untimed start of each kind first does
that compiling, as an author's first run ever did. ``--no-bytecode`` keeps this
machine's PYTHONDONTWRITEBYTECODE=1 instead: every start then compiles devnode's
and the checkout's sources afresh (an editable install, a read-only checkout).

    .venv/bin/python scripts/bench_production.py [--starts 5] [--reloads 10] [--second-start] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
CHECKOUT = ROOT.parent / "shared" / "upstream" / "datamgmtnode"


class Node:
    """One ``devnode run --ui json`` process and its records."""

    def __init__(self, args: list[str], data_dir: Path, env: dict[str, str]) -> None:
        self.records: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devnode", "run", str(PLUGINS), "--ui", "json", "--data-dir", str(data_dir), *args],
            cwd=data_dir.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1, env=env,
        )
        self.arrived: dict[int, float] = {}
        self.ready_cpu: float | None = None  # the process's CPU seconds when node.ready arrived
        # The reader wakes the waiter: no polling loop of the bench's own beside the process it times.
        self._new_record = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            arrived = time.perf_counter()
            record = json.loads(line)
            if record["kind"] == "node.ready" and self.ready_cpu is None:
                self.ready_cpu = cpu_seconds(self.proc.pid)
            with self._new_record:
                self.arrived[len(self.records)] = arrived
                self.records.append(record)
                self._new_record.notify_all()
        with self._new_record:
            self._ended = True
            self._new_record.notify_all()

    def wait_for(self, kind: str, after: int = 0, timeout: float = 120.0, **fields: Any) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = after
        with self._new_record:
            while True:
                for index in range(seen, len(self.records)):
                    record = self.records[index]
                    if record["kind"] == kind and all(record.get(k) == v for k, v in fields.items()):
                        return index, record
                seen = len(self.records)
                if self._ended:
                    raise SystemExit(f"devnode exited ({self.proc.wait()}) before {kind}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"no {kind} within {timeout} s")
                self._new_record.wait(left)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def quit(self) -> None:
        self.send("quit")
        self.proc.wait(60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (all its threads), from /proc (10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


KINDS = ("standin", "production")


def bench_env(bytecode: bool, pycache: Path) -> dict[str, str]:
    """The devnode processes' environment: bytecode cached in ``pycache`` (an author's machine), or never written."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)  # not beside the sources: the shared checkout stays untouched
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def start(kind: str, data_dir: Path, figures: dict[str, list[float]], reloads: int, env: dict[str, str],
          prefix: str = "") -> None:
    """One start of ``kind`` on ``data_dir``: its ready figures, then ``reloads`` rounds of reloads."""
    args = ["--node", "production", "--node-src", str(CHECKOUT)] if kind == "production" else []
    node = Node(args, data_dir, env)
    index, _ = node.wait_for("node.ready")
    figures[prefix + "ready"].append(node.arrived[index] - node.started)
    assert node.ready_cpu is not None
    figures[prefix + "ready_cpu"].append(node.ready_cpu)
    plugins = sorted(p.stem for p in PLUGINS.glob("*_plugin.py"))
    for _ in range(reloads):
        for plugin in plugins:
            mark = len(node.records)
            node.send(f"reload {plugin}")
            _, record = node.wait_for("plugin.reloaded", after=mark, plugin=plugin)
            figures["reload"].append(record["timings"]["total"])
    node.quit()


def measure(starts: int, reloads: int, second_start: bool, bytecode: bool) -> dict[str, dict[str, list[float]]]:
    """Both kinds, start by start in turn (stand-in first in odd rounds, production first in even ones)."""
    names = ("ready", "ready_cpu", "again_ready", "again_ready_cpu", "reload")
    results: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in names} for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="bench-production-pycache-") as pycache:
        env = bench_env(bytecode, Path(pycache))
        for kind in KINDS:  # untimed: compiles (and caches, with bytecode on) what the timed starts import
            with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-warm-") as tmp:
                start(kind, Path(tmp) / "data", {name: [] for name in names}, 0, env)
        for round_ in range(starts):
            for kind in KINDS if round_ % 2 == 0 else tuple(reversed(KINDS)):
                with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
                    data_dir = Path(tmp) / "data"
                    start(kind, data_dir, results[kind], reloads, env)
                    if second_start:
                        start(kind, data_dir, results[kind], 0, env, prefix="again_")
    return results


def ready_lines(results: dict[str, dict[str, list[float]]], prefix: str) -> None:
    for kind, figures in results.items():
        ready, cpu = figures[prefix + "ready"], figures[prefix + "ready_cpu"]
        print(f"  {kind:<10} median {statistics.median(ready):6.2f} s   first {ready[0]:6.2f} s   "
              f"best {min(ready):6.2f} s   CPU median {statistics.median(cpu):5.2f} s   "
              f"CPU best {min(cpu):5.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="process starts per node kind (default: 5)")
    parser.add_argument("--reloads", type=int, default=10, help="reloads of each bundled plugin per start (default: 10)")
    parser.add_argument("--second-start", action="store_true",
                        help="also time a start on the data dir each first start left")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="PYTHONDONTWRITEBYTECODE=1: every start compiles devnode's and the checkout's sources")
    args = parser.parse_args()
    if not (CHECKOUT / "datamgmtnode" / "services" / "node.py").is_file():
        print(f"no production checkout at {CHECKOUT}", file=sys.stderr)
        return 2
    results = measure(args.starts, args.reloads, args.second_start, bytecode=not args.no_bytecode)
    caching = ("bytecode never written (PYTHONDONTWRITEBYTECODE=1)" if args.no_bytecode
               else "bytecode cached as on an author's machine")
    print(f"start-up to node.ready, bundled plugins, watcher on, fresh data dir, {caching} ({args.starts} starts "
          "each, process spawn included; CPU: the devnode process's own):")
    ready_lines(results, "")
    standin_ready = statistics.median(results["standin"]["ready"])
    production_ready = statistics.median(results["production"]["ready"])
    cpu_ratio = statistics.median(results["production"]["ready_cpu"]) / max(
        statistics.median(results["standin"]["ready_cpu"]), 0.01)  # a 10 ms tick at least
    print(f"  ratio production/stand-in: {production_ready / standin_ready:.2f}x (CPU {cpu_ratio:.2f}x)   "
          f"goal: production under 3 s: {'met' if production_ready < 3 else 'NOT met'}")
    if args.second_start:
        print("the same, second start on the data dir the first left (keys, LevelDB, chain state):")
        ready_lines(results, "again_")
    print(f"reload, total per reload command ({len(results['standin']['reload'])} reloads each):")
    for kind, figures in results.items():
        reload = figures["reload"]
        print(f"  {kind:<10} median {statistics.median(reload):6.2f} ms   p90 "
              f"{statistics.quantiles(reload, n=10)[-1]:6.2f} ms")
    ratio = statistics.median(results["production"]["reload"]) / statistics.median(results["standin"]["reload"])
    print(f"  ratio production/stand-in: {ratio:.2f}x   goal: within 1.2x: {'met' if ratio <= 1.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
