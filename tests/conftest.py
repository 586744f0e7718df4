"""Shared test helpers: deadlines instead of sleeps, a real devnode process, an in-process host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devnode.config import NodeConfig
from devnode.host.host import PluginHost
from devnode.reporting import Record
from devnode.testing.harness import NodeHarness, await_until

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_CHECKOUT = ROOT.parent / "shared" / "upstream" / "datamgmtnode"  # production's snapshot


def production_unavailable() -> str | None:
    """Why the production-backed node cannot run here (no checkout, no [production] extra, no anvil), or None."""
    from devnode.production import anvil, requirements
    if not (UPSTREAM_CHECKOUT / "datamgmtnode" / "services" / "node.py").is_file():
        return f"no production checkout at {UPSTREAM_CHECKOUT}"
    if requirements.missing_packages():
        return f"the [production] extra is not installed ({', '.join(requirements.missing_packages())})"
    try:
        anvil.find_anvil()
    except anvil.AnvilNotFound as exc:
        return str(exc)
    return None
BUNDLED_PLUGINS = ROOT / "plugins"
# File-system events on a slow shared machine can take a while: be generous.
WATCH_DEADLINE = 30.0


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = "") -> Any:
    """Poll ``predicate`` until truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(interval)


async def async_wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    return await await_until(predicate, timeout, what)


def kinds(records: list[Record], kind: str, **fields: Any) -> list[Record]:
    """The records of ``kind`` whose ``fields`` have the given values."""
    return [r for r in records if r.get("kind") == kind and all(r.get(k) == v for k, v in fields.items())]


def write_plugin(plugin_dir: Path, name: str, source: str) -> Path:
    """Write ``plugin_dir/name.py`` from an indented snippet."""
    path = plugin_dir / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def atomic_write(path: Path, text: str) -> None:
    """Save like an editor does: write a temp file beside it, then rename over."""
    tmp = path.with_name(f".{path.name}.tmp~")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- in-process node + host -------------------------------------------------------------
class HostHarness(NodeHarness):
    """A dev node and plugin host on a temp data dir, driven from a sync test via ``run`` (the kit's base)."""

    def __init__(self, plugin_dir: Path, data_dir: Path, **host_options: Any) -> None:
        self.plugin_dir = plugin_dir
        self.data_dir = data_dir
        super().__init__(NodeConfig(plugin_dir=str(plugin_dir), data_dir=str(data_dir),
                                    sqlite_db_path=str(data_dir / "devnode.sqlite3")))
        self.host: PluginHost = self.session.attach_host(plugin_dir, **host_options)
        self.bus = self.node.event_bus

    def start(self) -> HostHarness:
        self.run(self.session.start())
        return self


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    return path


@pytest.fixture
def harness(plugin_dir: Path, tmp_path: Path) -> Iterator[Callable[..., HostHarness]]:
    made: list[HostHarness] = []

    def make(**options: Any) -> HostHarness:
        h = HostHarness(plugin_dir, tmp_path / "data", **options)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


# -- a real devnode process ---------------------------------------------------------------
class DevnodeProcess:
    """``devnode run --ui json`` in a subprocess; records are collected on a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 preexec_fn: Callable[[], Any] | None = None) -> None:
        self.records: list[Record] = []
        self.stderr_lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devnode", "run", "--ui", "json", *args],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1, preexec_fn=preexec_fn,
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {"kind": "unparsed", "line": line}
            with self._lock:
                self.records.append(record)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def find(self, kind: str, **fields: Any) -> list[Record]:
        return kinds(self.snapshot(), kind, **fields)

    def wait_for(self, kind: str, timeout: float = WATCH_DEADLINE, after: int = 0, **fields: Any) -> Record:
        """The first record of ``kind`` (matching ``fields``) at index >= ``after``."""

        def match() -> Record | None:
            found = kinds(self.snapshot()[after:], kind, **fields)
            if found:
                return found[0]
            if self.proc.poll() is not None:
                raise AssertionError(f"devnode exited ({self.proc.returncode}) before {kind}: {''.join(self.stderr_lines)}")
            return None

        return wait_until(match, timeout, what=f"{kind} {fields}")  # type: ignore[no-any-return]

    def mark(self) -> int:
        return len(self.snapshot())

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return self.proc.returncode


def clean_env(bytecode: bool = False) -> dict[str, str]:
    """The environment for a devnode subprocess; ``bytecode=True`` is a plugin author's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLUGIN_DIR", "DATA_DIR", "NODE_ID", "INITIAL_PEERS"))}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONUNBUFFERED", None)
    return env


@pytest.fixture
def devnode_process(tmp_path: Path) -> Iterator[Callable[..., DevnodeProcess]]:
    started: list[DevnodeProcess] = []

    def start(plugin_dir: Path, *extra: str, bytecode: bool = False, env: dict[str, str] | None = None,
              preexec_fn: Callable[[], Any] | None = None) -> DevnodeProcess:
        proc = DevnodeProcess(
            [str(plugin_dir), "--data-dir", str(tmp_path / "data"), *extra],
            cwd=tmp_path, env=env or clean_env(bytecode), preexec_fn=preexec_fn,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
