"""``restart`` against a cold start: is restarting in place within 1.5x of starting devnode from nothing?

Both measured in the same run, on the same plugin dir (the bundled plugins) and data dir:
  cold:    spawn ``devnode run --ui json`` -> its ``node.ready`` record;
  restart: type ``restart`` into the running node -> the new process's ``node.ready``
           (clean shutdown of every plugin and the node, exec, start-up, load).

Prints the medians, p90s and the ratio against the goal. Usage:
    python scripts/bench_restart.py [--rounds 7]
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
import threading
import time
from pathlib import Path
from queue import Empty, Queue
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.5


def _reader(stream: IO[str], queue: Queue[dict[str, Any]]) -> None:
    for line in stream:
        try:
            queue.put(json.loads(line))
        except ValueError:
            continue


def _wait_ready(queue: Queue[dict[str, Any]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            record = queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            raise SystemExit("no node.ready within the deadline") from None
        if record.get("kind") == "node.ready":
            return


def _start(plugin_dir: Path, data_dir: Path) -> tuple[subprocess.Popen[str], Queue[dict[str, Any]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE_ID", "PLUGIN_DIR", "DATA_DIR"))}
    proc = subprocess.Popen([sys.executable, "-m", "devnode", "run", str(plugin_dir), "--ui", "json",
                             "--data-dir", str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env, cwd=plugin_dir.parent)
    queue: Queue[dict[str, Any]] = Queue()
    assert proc.stdout is not None
    threading.Thread(target=_reader, args=(proc.stdout, queue), daemon=True).start()
    return proc, queue


def _stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    proc.wait(60)


def measure(rounds: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix="devnode-bench-restart-") as tmp:
        project = Path(tmp)
        plugin_dir = project / "plugins"
        shutil.copytree(ROOT / "plugins", plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
        data_dir = project / "data"
        cold: list[float] = []
        restart: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            proc, queue = _start(plugin_dir, data_dir)
            _wait_ready(queue)
            cold.append((time.perf_counter() - started) * 1000)
            assert proc.stdin is not None
            started = time.perf_counter()
            proc.stdin.write("restart\n")
            proc.stdin.flush()
            _wait_ready(queue)
            restart.append((time.perf_counter() - started) * 1000)
            _stop(proc)
    return cold, restart


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cold, restart = measure(args.rounds)
    ratio = statistics.median(restart) / statistics.median(cold)
    print(f"cold start to node.ready:      median {statistics.median(cold):7.1f} ms   p90 {_p90(cold):7.1f} ms")
    print(f"restart to node.ready:         median {statistics.median(restart):7.1f} ms   p90 {_p90(restart):7.1f} ms")
    verdict = "ok" if ratio <= GOAL_RATIO else "OVER GOAL"
    print(f"restart / cold start:          {ratio:.2f}x (goal <= {GOAL_RATIO}x): {verdict}")


if __name__ == "__main__":
    main()
