"""Start-up and reload of the production-backed node against the stand-in, measured in one run.

For each node kind, ``devnode run plugins --ui json`` is started as a real process
(watcher on, bundled plugins, a fresh data dir) and timed from spawn to its
``node.ready`` record; then each bundled plugin is reloaded with the ``reload``
command and the reload's own total (shutdown, import, initialize, swap) is
read from its ``plugin.reloaded`` record. Goals (issue 10): ready in under 3 s
with ``--node production``, reload within 1.2x of the stand-in's.

    .venv/bin/python scripts/bench_production.py [--starts 3] [--reloads 10]
"""

from __future__ import annotations

import argparse
import json
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

    def __init__(self, args: list[str], data_dir: Path) -> None:
        self.records: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devnode", "run", str(PLUGINS), "--ui", "json", "--data-dir", str(data_dir), *args],
            cwd=data_dir.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1,
        )
        self.arrived: dict[int, float] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.arrived[len(self.records)] = time.perf_counter()
            self.records.append(json.loads(line))

    def wait_for(self, kind: str, after: int = 0, timeout: float = 120.0, **fields: Any) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(after, len(self.records)):
                record = self.records[index]
                if record["kind"] == kind and all(record.get(k) == v for k, v in fields.items()):
                    return index, record
            if self.proc.poll() is not None:
                raise SystemExit(f"devnode exited ({self.proc.returncode}) before {kind}")
            time.sleep(0.002)
        raise SystemExit(f"no {kind} within {timeout} s")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def quit(self) -> None:
        self.send("quit")
        self.proc.wait(60)


def measure(kind: str, starts: int, reloads: int) -> dict[str, list[float]]:
    args = ["--node", "production", "--node-src", str(CHECKOUT)] if kind == "production" else []
    ready_s: list[float] = []
    reload_ms: list[float] = []
    plugins = sorted(p.stem for p in PLUGINS.glob("*_plugin.py"))
    for _ in range(starts):
        with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
            node = Node(args, Path(tmp) / "data")
            index, _ = node.wait_for("node.ready")
            ready_s.append(node.arrived[index] - node.started)
            for _ in range(reloads):
                for plugin in plugins:
                    mark = len(node.records)
                    node.send(f"reload {plugin}")
                    _, record = node.wait_for("plugin.reloaded", after=mark, plugin=plugin)
                    reload_ms.append(record["timings"]["total"])
            node.quit()
    return {"ready": ready_s, "reload": reload_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="process starts per node kind (default: 3)")
    parser.add_argument("--reloads", type=int, default=10, help="reloads of each bundled plugin per start (default: 10)")
    args = parser.parse_args()
    if not (CHECKOUT / "datamgmtnode" / "services" / "node.py").is_file():
        print(f"no production checkout at {CHECKOUT}", file=sys.stderr)
        return 2
    results = {kind: measure(kind, args.starts, args.reloads) for kind in ("standin", "production")}
    print(f"start-up to node.ready, bundled plugins, watcher on ({args.starts} starts each, process spawn included):")
    for kind, figures in results.items():
        ready = figures["ready"]
        print(f"  {kind:<10} median {statistics.median(ready):6.2f} s   first {ready[0]:6.2f} s   "
              f"best {min(ready):6.2f} s")
    standin_ready = statistics.median(results["standin"]["ready"])
    production_ready = statistics.median(results["production"]["ready"])
    print(f"  ratio production/stand-in: {production_ready / standin_ready:.2f}x   "
          f"goal: production under 3 s: {'met' if production_ready < 3 else 'NOT met'}")
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
