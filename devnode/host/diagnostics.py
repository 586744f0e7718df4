"""Turns a plugin's exception into a problem report: file, line, cause and the fix.

The mistakes here are the ones plugin authors actually make, several of them
straight from the plugin guide: ``EventType`` used without its import, ``await``
inside the sync ``initialize()``, a dependency such as aiohttp not installed,
a class name that does not follow the naming rule.
"""

from __future__ import annotations

import builtins
import linecache
import traceback
from traceback import FrameSummary
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from devnode import safe
from devnode.host.naming import PACKAGE

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import ProblemFields

# Names a plugin uses that come from the node's modules, and the import that provides them.
NODE_IMPORTS = {
    "EventType": "from dashboard.event_bus import EventType",
    "Event": "from dashboard.event_bus import Event",
    "EventBus": "from dashboard.event_bus import EventBus",
    "PluginManager": "from datamgmtnode.services.plugin_manager import PluginManager",
}
STDLIB_HINTS = {
    "asyncio": "import asyncio",
    "json": "import json",
    "logging": "import logging",
    "logger": "logger = logging.getLogger(__name__)",
    "os": "import os",
    "re": "import re",
    "time": "import time",
    "datetime": "from datetime import datetime",
    "Path": "from pathlib import Path",
}
# import name -> the distribution to install, where they differ
DISTRIBUTIONS = {"yaml": "PyYAML", "PIL": "Pillow", "sklearn": "scikit-learn", "bs4": "beautifulsoup4", "jwt": "PyJWT"}


class PluginLookupError(Exception):
    """The module imported but does not offer a usable plugin class."""

    def __init__(self, message: str, hint: str, line: int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.line = line


@dataclass
class PluginProblem:
    """What went wrong in one plugin, ready for every UI."""

    plugin: str
    phase: str  # import | lookup | construct | initialize | shutdown | handler | task | cleanup
    error: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    code: str | None = None
    traceback: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    frames: list[FrameSummary] = field(default_factory=list, repr=False, compare=False)

    def to_record(self) -> ProblemFields:
        return {
            "plugin": self.plugin,
            "phase": self.phase,
            "error": self.error,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
            "code": self.code,
            "traceback": self.traceback,
        }

    def location(self) -> str:
        if self.file is None:
            return self.plugin
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


def diagnose(exc: BaseException, phase: str, plugin: str, plugin_dir: Path, default_file: Path | None = None) -> PluginProblem:
    """Explain ``exc`` raised by ``plugin`` during ``phase``; never raises, whatever the exception holds."""
    try:
        return _diagnose(exc, phase, plugin, plugin_dir, default_file)
    except Exception as failure:  # an exception object odd enough to break the explaining (e.g. a bogus filename)
        return PluginProblem(
            plugin=plugin, phase=phase, error=safe.exception_text(exc),
            file=display_path(default_file, plugin_dir.resolve()) if default_file is not None else None,
            hint=f"devnode could not read more of this exception ({safe.exception_text(failure)})", exception=exc,
        )


def _diagnose(exc: BaseException, phase: str, plugin: str, plugin_dir: Path, default_file: Path | None) -> PluginProblem:
    plugin_dir = plugin_dir.resolve()
    frames = plugin_frames(exc.__traceback__, plugin_dir)
    file, line, column = _location(exc, frames, default_file)
    problem = PluginProblem(
        plugin=plugin,
        phase=phase,
        error=_one_line(exc),
        file=display_path(file, plugin_dir) if file is not None else None,
        line=line,
        column=column,
        hint=_hint(exc, phase, plugin_dir),
        exception=exc,
        frames=frames,
    )
    if file is not None and line is not None:
        problem.code = linecache.getline(str(file), line).rstrip() or None
        if problem.code is None and isinstance(exc, SyntaxError) and exc.text:
            problem.code = exc.text.rstrip()
    problem.traceback = _format_trimmed(exc, frames)
    return problem


def plugin_frames(tb: TracebackType | None, plugin_dir: Path) -> list[FrameSummary]:
    """The traceback frames that belong to the plugin dir (the author's own code)."""
    summary = traceback.extract_tb(tb)
    return [f for f in summary if inside(f.filename, plugin_dir)]


def inside(filename: str, plugin_dir: Path) -> bool:
    """Whether ``filename`` is in ``plugin_dir`` (resolved), following symlinks."""
    try:
        return Path(filename).resolve().is_relative_to(plugin_dir)
    except (OSError, ValueError):
        return False


def _location(
    exc: BaseException, frames: list[FrameSummary], default_file: Path | None
) -> tuple[Path | None, int | None, int | None]:
    if isinstance(exc, SyntaxError) and isinstance(exc.filename, str) and exc.filename:
        return (Path(exc.filename), exc.lineno if isinstance(exc.lineno, int) else None,
                exc.offset if isinstance(exc.offset, int) else None)
    if isinstance(exc, PluginLookupError):
        return default_file, exc.line, None
    if frames:
        last = frames[-1]
        colno = getattr(last, "colno", None)
        column = colno + 1 if colno is not None else None
        return Path(last.filename), last.lineno, column
    if isinstance(exc, ImportError) and isinstance(getattr(exc, "path", None), str) and exc.path:
        return Path(exc.path), None, None
    return default_file, None, None


def display_path(file: str | Path, plugin_dir: Path) -> str:
    """``file`` as reports show it: relative to the plugin dir's parent (``plugins/x.py``) when inside it."""
    try:
        return str(Path(file).resolve().relative_to(plugin_dir.parent))
    except (OSError, ValueError):
        return str(file)


def drop_frames(exc: BaseException) -> None:
    """Tracebacks hold frames, frames hold plugin instances: free them once reported (the whole chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        if current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {safe.text(exc.msg)}"
    if isinstance(exc, SystemExit):
        return f"SystemExit({safe.representation(exc.code)}): plugin code called sys.exit()"
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt raised by plugin code"
    if isinstance(exc, PluginLookupError):
        return safe.text(exc).strip()
    return safe.exception_text(exc)


def _hint(exc: BaseException, phase: str, plugin_dir: Path) -> str | None:
    if isinstance(exc, PluginLookupError):
        return exc.hint
    if isinstance(exc, SyntaxError):
        return _syntax_hint(exc)
    if isinstance(exc, ModuleNotFoundError):
        return _missing_module_hint(exc, plugin_dir)
    if isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError):
        return _name_hint(exc)
    if isinstance(exc, TypeError) and phase == "construct" and "positional argument" in str(exc):
        return "production constructs every plugin as cls(node): define __init__(self, node)"
    if isinstance(exc, SystemExit):
        return "plugins must not exit the process; raise an exception or log an error instead"
    if isinstance(exc, KeyboardInterrupt):
        return "plugins must not raise KeyboardInterrupt; raise an ordinary exception instead"
    if type(exc).__name__ == "PluginStalledError":  # devnode.watchdog; by name, to keep imports one-way
        return ("this code blocked the event loop; in production it would hang the whole node. Use "
                "await asyncio.sleep() instead of time.sleep(), bound the loop, and run long work with "
                "await asyncio.to_thread(...)")
    if isinstance(exc, RecursionError):
        return "the plugin recurses without end; check for a method calling itself"
    if isinstance(exc, UnicodeDecodeError):
        return "save the file as UTF-8 text"
    if phase in ("initialize", "construct"):
        method = "__init__()" if phase == "construct" else "initialize()"
        return f"the exception was raised in {method}; fix the marked line and save: devnode retries on every save"
    if phase == "shutdown":
        return "in production a shutdown() that raises stops the remaining plugins from shutting down; catch errors inside shutdown()"
    return None


def _syntax_hint(exc: SyntaxError) -> str | None:
    msg = exc.msg or ""
    if "'await' outside async function" in msg or "'await' outside function" in msg:
        return (
            "initialize() is called synchronously, so it cannot await. Schedule the async work instead: "
            "asyncio.get_running_loop().create_task(self.node.event_bus.publish(...)), "
            "or move it into an async handler"
        )
    if "null bytes" in msg or "source code string cannot contain null bytes" in str(exc):
        return "the file is binary, not Python source; restore it from your editor or version control"
    if "codec can't decode" in msg:
        return "the file is not UTF-8 text: save it as UTF-8 in your editor (Python reads source as UTF-8)"
    if isinstance(exc, IndentationError):
        return "indent with spaces consistently (4 per level) and check the block above this line"
    if "was never closed" in msg:
        return "close the bracket or quote opened on this line"
    return "fix the syntax at the marked line and column, then save again"


def _missing_module_hint(exc: ModuleNotFoundError, plugin_dir: Path) -> str:
    name = exc.name or ""
    top = name.split(".")[0]
    if top == PACKAGE:
        sibling = name.split(".", 1)[1] if "." in name else ""
        return f"there is no {sibling}.py in {plugin_dir}; create it or fix the import"
    if (plugin_dir / f"{top}.py").exists() or (plugin_dir / top / "__init__.py").exists():
        return (
            f"{top} is a module in the plugin dir; production imports plugins as the package 'plugins', "
            f"so import it as `from plugins import {top}` or `from . import {top}`"
        )
    if top in ("dashboard", "datamgmtnode"):
        return (
            "devnode provides dashboard.event_bus and datamgmtnode.services.plugin_manager only; "
            "other node modules are not part of the plugin API"
        )
    dist = DISTRIBUTIONS.get(top, top)
    return f'the package "{dist}" is not installed; install it with: pip install {dist} (and declare it as your plugin\'s dependency)'


def _name_hint(exc: NameError) -> str | None:
    name = getattr(exc, "name", None)
    if name is None:
        return None
    if name in NODE_IMPORTS:
        return f"add `{NODE_IMPORTS[name]}` at the top of the file"
    if name in STDLIB_HINTS:
        return f"add `{STDLIB_HINTS[name]}` at the top of the file"
    if hasattr(builtins, name.lower()):
        return f"did you mean `{name.lower()}`?"
    return f"define {name} or import it before use"


def _format_trimmed(exc: BaseException, frames: list[FrameSummary]) -> str:
    lines = ["Traceback (plugin frames only):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()
