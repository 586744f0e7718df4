"""Error panels: a plugin's failure as a traceback of its own frames, with code, column and hint."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from devnode.ui.console import style
from devnode.ui.text import RUNNING

CONTEXT = 2  # lines of code shown either side of a frame's line
MAX_FRAMES = 4


@dataclass
class FrameView:
    """One plugin frame and the code around its line, read when the error happened."""

    file: str
    line: int
    name: str
    code: list[tuple[int, str]] = field(default_factory=list)
    column: int | None = None  # 1-based; a caret is drawn under it


@dataclass
class ErrorView:
    """Everything an error panel shows; built at the moment of failure so later edits don't change it."""

    plugin: str
    phase: str
    error: str
    frames: list[FrameView] = field(default_factory=list)
    hint: str | None = None
    running: str | None = None
    context: str | None = None  # which handler, event or task
    omitted: int = 0  # older plugin frames left out


def read_context(path: Path, line: int, context: int = CONTEXT) -> list[tuple[int, str]]:
    """The numbered source lines around ``line`` (empty when the file cannot be read)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    start = max(1, line - context)
    end = min(len(lines), line + context)
    return [(n, lines[n - 1]) for n in range(start, end + 1)]


def plugin_tracebacks(tb: TracebackType | None, plugin_dir: Path) -> list[TracebackType]:
    """The traceback entries whose code lives in the plugin dir (the author's own frames)."""
    found = []
    root = plugin_dir.resolve()
    while tb is not None:
        try:
            if Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(root):
                found.append(tb)
        except (OSError, ValueError):
            pass
        tb = tb.tb_next
    return found


def _display(path: Path, plugin_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(plugin_dir.resolve().parent))
    except ValueError:
        return str(path)


def from_record(record: dict[str, Any], plugin_dir: Path, exc: BaseException | None = None) -> ErrorView:
    """A ``plugin.failed``/``plugin.error`` record (and its exception, when the emit site handed it over) as a view.

    The diagnosis (error, hint, file and line) is the record's own: the host made it once; this only
    lays it out, with the live frames of ``exc`` when there is one and the record's text otherwise.
    """
    view = ErrorView(
        plugin=record.get("plugin") or "?",
        phase=record.get("phase") or "?",
        error=record.get("error") or "",
        hint=record.get("hint"),
        running=record.get("running"),
        context=_context(record),
    )
    if exc is not None and not isinstance(exc, SyntaxError):
        view.frames, view.omitted = _frames(exc, plugin_dir)
    if not view.frames and record.get("traceback"):
        view.frames, view.omitted = _frames_from_text(record["traceback"], plugin_dir, record.get("column"))
    if not view.frames and record.get("file") and record.get("line"):
        path = Path(record["file"])
        if not path.is_absolute():
            path = plugin_dir.resolve().parent / path
        code = read_context(path, record["line"]) or ([(record["line"], record["code"])] if record.get("code") else [])
        view.frames = [FrameView(record["file"], record["line"], "<module>" if view.phase == "import" else view.phase,
                                 code, record.get("column"))]
    return view


def _context(record: dict[str, Any]) -> str | None:
    if record.get("handler"):
        on = f" on {record['event']}" if record.get("event") else ""
        return f"in handler {record['handler']}{on}"
    if record.get("task"):
        return f"in task {record['task']}"
    return None


def _frames(exc: BaseException, plugin_dir: Path) -> tuple[list[FrameView], int]:
    entries = plugin_tracebacks(exc.__traceback__, plugin_dir)
    kept = entries[-MAX_FRAMES:]
    frames = []
    for i, tb in enumerate(kept):
        path = Path(tb.tb_frame.f_code.co_filename)
        line = tb.tb_lineno
        column = None
        if i == len(kept) - 1:
            summary = traceback.extract_tb(tb, limit=1)
            colno = getattr(summary[0], "colno", None) if summary else None
            column = colno + 1 if colno is not None else None
        frames.append(FrameView(_display(path, plugin_dir), line, tb.tb_frame.f_code.co_name,
                                read_context(path, line), column))
    return frames, len(entries) - len(kept)


FRAME_LINE = re.compile(r'^  File "(?P<file>.+)", line (?P<line>\d+), in (?P<name>.+)$', re.M)


def _frames_from_text(text: str, plugin_dir: Path, column: int | None) -> tuple[list[FrameView], int]:
    """Frames from a record's formatted traceback, when the exception itself is gone."""
    root = plugin_dir.resolve()
    entries = []
    for match in FRAME_LINE.finditer(text):
        path = Path(match["file"])
        try:
            mine = path.resolve().is_relative_to(root)
        except (OSError, ValueError):
            mine = False
        if mine:
            entries.append((path, int(match["line"]), match["name"]))
    kept = entries[-MAX_FRAMES:]
    frames = [FrameView(_display(path, plugin_dir), line, name, read_context(path, line),
                        column if i == len(kept) - 1 else None)
              for i, (path, line, name) in enumerate(kept)]
    return frames, len(entries) - len(kept)


# -- rendering -----------------------------------------------------------------------
def _code(frame: FrameView, last: bool) -> RenderableType:
    if not frame.code:
        return Text("    (source not available)", style.TIME)
    gutter = len(str(frame.code[-1][0]))
    source = "\n".join(text for _, text in frame.code)
    highlighted = Syntax(source, "python", theme="ansi_dark", background_color="default").highlight(source)
    rows = []
    for (number, _), text in zip(frame.code, highlighted.split("\n", allow_blank=True)):
        here = number == frame.line
        row = Text.assemble(("  ❱ " if here else "    ", style.FAILED if here else ""))
        row.append(f"{number:>{gutter}} │ ", "bold" if here else style.TIME)
        if here:
            text.stylize("bold")
        row.append_text(text)
        rows.append(row)
        if here and last and frame.column:
            rows.append(Text(" " * (4 + gutter + 3 + frame.column - 1) + "^", style.FAILED))
    return Group(*rows)


def error_panel(view: ErrorView, link: Callable[[Text], Text] | None = None) -> Panel:
    """The panel for one failure: plugin frames (most recent last), the error, the hint.

    ``link`` makes each frame's file:line a hyperlink (the console's Linker).
    """
    parts: list[RenderableType] = []
    if view.omitted:
        parts.append(Text(f"… {view.omitted} earlier plugin frame(s)", style.TIME))
    for i, frame in enumerate(view.frames):
        last = i == len(view.frames) - 1
        where = Text(frame.file, "bold")
        where.append(f":{frame.line}")
        if frame.column and last:
            where.append(f":{frame.column}")
        where.append(f" in {frame.name}", style.TIME)
        if link is not None:
            where = link(where)
        parts += [where, _code(frame, last)]
    parts.append(Text(view.error, style.FAILED))
    if view.context:
        parts.append(Text(view.context, style.TIME))
    if view.hint:
        parts.append(Text.assemble(("hint: ", "bold " + style.HINT), (view.hint, style.HINT)))
    if view.running in RUNNING:
        parts.append(Text(f"({RUNNING[view.running]})", style.TIME))
    return Panel(
        Group(*parts),
        title=Text(f"{view.plugin} failed in {view.phase}", style.FAILED),
        title_align="left",
        border_style="red",
        expand=True,
    )
