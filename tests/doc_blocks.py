"""Runs the code blocks of a docs page the way a reader would, so the docs cannot rot.

Each page gets a sandbox project: a copy of the bundled ``plugins/`` and
``scenarios/``, where its blocks run in order.

* ```python``` blocks that define a ``...Plugin`` class are plugins: each is loaded
  in its own dev node and must load, initialize and shut down cleanly. A first
  line ``# plugins/NAME.py`` also writes it into the sandbox for later blocks.
* ```python``` blocks with ``def test_`` are tests, run with pytest in the sandbox
  (a first line ``# tests/NAME.py`` names the file).
* other ```python``` blocks are snippets, run in one namespace per page with a
  live dev node as ``node`` (and ``kit``, ``Event``, ``EventType``); top-level
  ``await`` works.
* ```bash```/```console``` blocks: every ``devnode``, ``pytest`` or ``python``
  command runs for real in the sandbox (``console``: the ``$ `` lines), with
  ``quit`` on stdin, and must exit 0. Lines with a pipe are not run.
* ```json``` and ```toml``` blocks must parse. Other blocks are output samples.

An HTML comment right before a block changes that:
``<!-- doc-test: skip REASON -->``, ``<!-- doc-test: fails "TEXT" -->`` (a
deliberately broken example: it must fail, with TEXT in the error or output),
``<!-- doc-test: file PATH -->`` (write the block to PATH in the sandbox),
``<!-- doc-test: setup COMMAND -->`` (run a shell command in the sandbox first).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnode import Event, EventType
from devnode.testing import DevNodeKit, PluginLoadError

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^<!--\s*doc-test:\s*(\w+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,})\s*([\w+-]*)")
SHELLS = {"bash", "sh", "shell", "console"}
RUNNABLE = ("devnode", "pytest", "python")
PLUGIN_CLASS = re.compile(r"^class (\w+Plugin)\b", re.MULTILINE)
HEADER = re.compile(r"^#\s*((?:[\w.-]+/)*[\w.-]+\.\w+)\s*$")


@dataclass
class Block:
    """One fenced code block and the directives before it."""

    page: Path
    line: int
    lang: str
    text: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def expected_failure(self) -> str | None:
        value = self.directives.get("fails")
        if value is None:
            return None
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        return value

    @property
    def header(self) -> str | None:
        first = self.text.lstrip("\n").splitlines()[0] if self.text.strip() else ""
        match = HEADER.match(first)
        return match.group(1) if match else None


def parse(page: Path) -> list[Block]:
    blocks: list[Block] = []
    pending: dict[str, str] = {}
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = DIRECTIVE.match(line.strip())
        fence = FENCE.match(line)
        if directive:
            pending[directive.group(1)] = directive.group(2)
        elif fence:
            indent, ticks, lang = fence.groups()
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(ticks):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            blocks.append(Block(page, i - len(body), lang.lower(), "\n".join(body) + "\n", pending))
            pending = {}
        elif line.strip():
            pending = {}
        i += 1
    return blocks


class PageRunner:
    """Runs one page's blocks in order in a sandbox project."""

    def __init__(self, page: Path, sandbox: Path) -> None:
        self.page = page
        self.sandbox = sandbox
        self.plugin_dir = sandbox / "plugins"
        shutil.copytree(ROOT / "plugins", self.plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
        if (ROOT / "scenarios").is_dir():
            shutil.copytree(ROOT / "scenarios", sandbox / "scenarios")
        self._kit: DevNodeKit | None = None
        self.namespace: dict[str, Any] = {}
        self.ran: list[str] = []

    # -- driving -------------------------------------------------------------------
    def run(self) -> list[str]:
        try:
            for block in parse(self.page):
                self.run_block(block)
        finally:
            if self._kit is not None:
                self._kit.close()
        return self.ran

    def run_block(self, block: Block) -> None:
        if "skip" in block.directives:
            assert block.directives["skip"], f"{block.where}: say why the block is skipped"
            return
        if "setup" in block.directives:
            setup = self.command(block.directives["setup"])
            assert setup.returncode == 0, f"{block.where}: setup failed:\n{setup.stdout}{setup.stderr}"
        if "file" in block.directives:
            self.write(block.directives["file"], block.text)
            self.ran.append(f"{block.where} file")
            return
        if block.lang == "python":
            self.run_python(block)
        elif block.lang in SHELLS:
            self.run_shell(block)
        elif block.lang == "json":
            _parse_json_stream(block)
            self.ran.append(f"{block.where} json")
        elif block.lang == "toml":
            tomllib.loads(block.text)
            self.ran.append(f"{block.where} toml")

    # -- python --------------------------------------------------------------------
    def run_python(self, block: Block) -> None:
        header = block.header
        if re.search(r"^def test_|^async def test_", block.text, re.MULTILINE):
            self.run_test(block, header or f"tests/test_doc_{self.page.stem.replace('-', '_')}_{block.line}.py")
        elif PLUGIN_CLASS.search(block.text):
            self.run_plugin(block, header)
        else:
            self.run_snippet(block)

    def run_plugin(self, block: Block, header: str | None) -> None:
        class_name = PLUGIN_CLASS.search(block.text).group(1)  # type: ignore[union-attr]
        module = Path(header).stem if header else class_name[: -len("Plugin")].lower()
        isolated = self.sandbox / ".doc-plugins" / str(block.line) / "plugins"
        isolated.mkdir(parents=True)
        (isolated / f"{module}.py").write_text(block.text)
        for helper in ("__init__.py", "support"):  # plugins may use the bundled helper package
            source = self.plugin_dir / helper
            if source.is_dir():
                shutil.copytree(source, isolated / helper, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                shutil.copy(source, isolated / helper)
        kit = DevNodeKit(isolated, isolated.parent / "data")
        expected = block.expected_failure
        try:
            try:
                kit.load(module)
            except PluginLoadError as exc:
                assert expected is not None, f"{block.where}: plugin {module} failed to load:\n{exc}"
                assert expected in str(exc), f"{block.where}: expected {expected!r} in:\n{exc}"
                self.ran.append(f"{block.where} plugin {module} (fails as documented)")
                return
            problems = kit.finish()
            if expected is not None:
                text = "\n".join(problems)
                assert expected in text, f"{block.where}: {module} was expected to fail with {expected!r}; got: {text or 'no problem'}"
                self.ran.append(f"{block.where} plugin {module} (fails as documented)")
                return
            assert problems == [], f"{block.where}: plugin {module} left problems:\n" + "\n".join(problems)
        finally:
            kit.close()
        if header and header.startswith("plugins/"):
            self.write(header, block.text)
        self.ran.append(f"{block.where} plugin {module}")

    def run_test(self, block: Block, path: str) -> None:
        self.write(path, block.text)
        result = self.command(f"python -m pytest -q -p no:cacheprovider -W error {shlex.quote(path)}")
        self.check_exit(block, f"pytest {path}", result)

    def run_snippet(self, block: Block) -> None:
        kit = self.kit
        self.namespace.setdefault("__name__", "__doc_snippet__")
        self.namespace.update(node=kit.node, kit=kit, Event=Event, EventType=EventType)
        expected = block.expected_failure
        try:
            code = compile(block.text, f"{self.page.name}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            with contextlib.chdir(self.sandbox):
                if code.co_flags & inspect.CO_COROUTINE:
                    kit.run(kit._settled(eval(code, self.namespace)))
                else:  # plain code runs as in a script: outside any event loop
                    exec(code, self.namespace)
                    kit.settle()
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            assert expected is not None, f"{block.where}: snippet raised {text}\n{block.text}"
            assert expected in text, f"{block.where}: expected {expected!r} in {text}"
            self.ran.append(f"{block.where} snippet (fails as documented)")
            return
        assert expected is None, f"{block.where}: snippet was expected to fail with {expected!r} but did not"
        self.ran.append(f"{block.where} snippet")

    @property
    def kit(self) -> DevNodeKit:
        if self._kit is None:
            self._kit = DevNodeKit(self.plugin_dir, self.sandbox / ".doc-node-data")
        return self._kit

    # -- shell ---------------------------------------------------------------------
    def run_shell(self, block: Block) -> None:
        for command in shell_commands(block):
            result = self.command(command)
            self.check_exit(block, command, result)

    def command(self, line: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "PLUGIN_DIR", "DATA_DIR", "NODE_ID", "INITIAL_PEERS", "PYTHONPATH"))}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(["bash", "-c", line], cwd=self.sandbox, env=env, input="quit\n",
                              capture_output=True, text=True, timeout=180)

    def check_exit(self, block: Block, command: str, result: subprocess.CompletedProcess[str]) -> None:
        output = result.stdout + result.stderr
        expected = block.expected_failure
        if expected is None:
            assert result.returncode == 0, f"{block.where}: `{command}` exited {result.returncode}:\n{output}"
            self.ran.append(f"{block.where} $ {command}")
        else:
            assert result.returncode != 0, f"{block.where}: `{command}` was expected to fail but exited 0:\n{output}"
            assert expected in output, f"{block.where}: expected {expected!r} in the output of `{command}`:\n{output}"
            self.ran.append(f"{block.where} $ {command} (fails as documented)")

    def write(self, relative: str, text: str) -> None:
        path = self.sandbox / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def shell_commands(block: Block) -> list[str]:
    """The runnable command lines of a shell block (continuations joined)."""
    lines = block.text.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        else:
            joined.append(line.strip())
    commands = []
    for line in joined:
        if not line or line.startswith("#") or "|" in line:
            continue
        if line.split()[0] in RUNNABLE:
            commands.append(line)
    return commands


def _parse_json_stream(block: Block) -> None:
    decoder = json.JSONDecoder()
    text = block.text.strip()
    position = 0
    while position < len(text):
        _, position = decoder.raw_decode(text, position)
        while position < len(text) and text[position].isspace():
            position += 1
