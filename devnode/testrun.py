"""``devnode run --test``: after each reload, the tests that cover the reloaded plugin, in a subprocess.

A test covers a plugin when its file names the plugin's module (an import, a
``devnode.load("name")``, a path). Tests that failed last time run first. The
run is a separate pytest process with a deadline, so a hanging or crashing test
never stops the node; the outcome is one ``tests.finished`` record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.reporting import Record
from devnode.testing.watchrun import FAILED_FIRST_ENV, REPORT_ENV

if TYPE_CHECKING:
    from devnode.records import PytestSummary, TestsFinished
    from devnode.runtime import Runtime

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist",
             ".mypy_cache", ".pytest_cache", "site-packages"}
OUTPUT_LINES = 40  # the tail of pytest's output kept for the record


def test_files(root: Path, skip: Path | None = None) -> list[Path]:
    """Every ``test_*.py`` / ``*_test.py`` under ``root`` (not in virtualenvs, caches, or ``skip``)."""
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".") and here / d != skip)
        found += [here / f for f in sorted(files) if f.endswith(".py") and (f.startswith("test_") or f.endswith("_test.py"))]
    return found


def covering(files: list[Path], plugins: set[str]) -> list[Path]:
    """The test files that name one of ``plugins``."""
    patterns = [re.compile(rf"\b{re.escape(p)}\b") for p in plugins]
    chosen = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(p.search(text) for p in patterns):
            chosen.append(path)
    return chosen


class TestRunner:
    """Runs the covering tests after reloads, one run at a time; later reloads queue the next run."""

    __test__ = False  # not a pytest test class

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.plugin_dir = Path(runtime.config.plugin_dir)
        self.root = self.plugin_dir.parent
        self.args = list(runtime.options.test_args or [])
        self.timeout = runtime.options.test_timeout
        self.pending: set[str] = set()
        self.failed: list[str] = []  # node ids that failed in the last run, run first next time
        self._ready = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def attach(self) -> None:
        self.runtime.reporter.add_sink(self._on_record)

    def _on_record(self, record: Record) -> None:
        kind = record["kind"]
        if kind == "node.ready":
            self._ready = True
            return
        if kind == "plugin.reloaded" or (kind == "plugin.loaded" and self._ready):
            self.pending.add(record["plugin"])
            if self._worker is None:
                self._worker = self.runtime.start_task(self._work(), "devnode-tests")
            self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.05)  # a batch of reloads (a helper and its importers) becomes one run
            plugins, self.pending = self.pending, set()
            if plugins:
                self.runtime.reporter.emit("tests.finished", **await self.run(plugins))

    async def run(self, plugins: set[str]) -> TestsFinished:
        """Run the tests covering ``plugins``; the ``tests.finished`` record's fields."""
        started = time.perf_counter()
        files = covering(test_files(self.root, skip=self.plugin_dir), plugins)
        subject, names = sorted(plugins), [self._rel(f) for f in files]
        if not files:
            return {"plugins": subject, "files": names, "outcome": "none", "passed": 0, "failed": 0, "errors": 0, "skipped": 0,
                    "failures": [], "seconds": 0.0, "exit_code": None,
                    "message": f"no test names {', '.join(sorted(plugins))} (looked under {self.root})"}
        fd, report_name = tempfile.mkstemp(prefix="devnode-tests-", suffix=".jsonl")
        os.close(fd)
        report = Path(report_name)
        env = {**os.environ, REPORT_ENV: report_name, FAILED_FIRST_ENV: json.dumps(self.failed)}
        command = [sys.executable, "-m", "pytest", "-p", "devnode.testing.watchrun", "-q",
                   *[str(f) for f in files], *self.args]
        output: deque[str] = deque(maxlen=OUTPUT_LINES)
        timed_out = False
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, cwd=self.root, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
            try:
                await asyncio.wait_for(self._drain(proc, output), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
            finally:
                if proc.returncode is None:
                    _kill(proc)
                    await proc.wait()
            entries = _read_report(report)
        finally:
            report.unlink(missing_ok=True)
        return {"plugins": subject, "files": names, **self._summary(entries, proc.returncode, timed_out, output, time.perf_counter() - started)}

    async def _drain(self, proc: asyncio.subprocess.Process, output: deque[str]) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            output.append(line.decode("utf-8", "replace").rstrip())
        await proc.wait()

    def _summary(self, entries: list[dict[str, Any]], code: int | None, timed_out: bool, output: deque[str],
                 seconds: float) -> PytestSummary:
        results: dict[str, str] = {}
        started: list[str] = []
        for entry in entries:
            if entry.get("event") == "start":
                started.append(entry["nodeid"])
            elif entry.get("event") == "result":
                previous = results.get(entry["nodeid"])
                if previous not in ("failed", "error"):
                    results[entry["nodeid"]] = entry["outcome"]
        counts = {k: sum(1 for v in results.values() if v == k) for k in ("passed", "failed", "error", "skipped")}
        failures = [n for n, v in results.items() if v in ("failed", "error")]
        running = next((n for n in reversed(started) if n not in results), None) if timed_out else None
        if timed_out:
            outcome = "timeout"
            self.failed = [*([running] if running else []), *failures]
        else:
            outcome = "passed" if code == 0 else "none" if code == 5 else "failed" if failures or code == 1 else "error"
            self.failed = failures
        fields: PytestSummary = {
            "outcome": outcome, "passed": counts["passed"], "failed": counts["failed"], "errors": counts["error"],
            "skipped": counts["skipped"], "failures": failures, "seconds": round(seconds, 3), "exit_code": code,
        }
        if timed_out:
            fields["running"] = running
            fields["message"] = (f"killed after {self.timeout:g} s (--test-timeout)"
                                 + (f" while {running} was running" if running else ""))
        elif outcome == "error":
            fields["message"] = next((line for line in reversed(output) if line.strip()), f"pytest exited {code}")
        elif outcome == "none":
            fields["message"] = "pytest selected no test in the covering files (do the --test arguments deselect them all?)"
        if outcome != "passed":
            fields["output"] = list(output)
        return fields

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def _kill(proc: asyncio.subprocess.Process) -> None:
    """The test process and whatever it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _read_report(path: Path) -> list[dict[str, Any]]:
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # the line being written when the run was killed
    return entries


def format_tests(r: Record) -> str:
    """The one console line for a ``tests.finished`` record."""
    who = ", ".join(r.get("plugins") or [])
    outcome = str(r.get("outcome"))
    if outcome == "none":
        return f"tests ({who}): {r.get('message')}"
    counts = [f"{r[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if r.get(k)]
    line = f"tests ({who}): {outcome.upper() if outcome != 'passed' else 'passed'}: {', '.join(counts) or 'nothing ran'}"
    line += f" in {r.get('seconds', 0):.1f} s"
    if r.get("failures"):
        shown = r["failures"][:3]
        line += " (" + ", ".join(shown) + (f", +{len(r['failures']) - 3} more" if len(r["failures"]) > 3 else "") + ")"
    if r.get("message"):
        line += f"; {r['message']}"
    return line
