"""Clickable file:line in the rich console (OSC 8 hyperlinks) and opening a location in the editor.

A link is a ``file://`` URL, or the editor's own URL scheme when ``--editor`` /
``$DEVNODE_EDITOR`` is a template such as ``vscode://file/{path}:{line}:{col}``.
No links when ``NO_COLOR`` is set or the output is not a terminal (rich writes
OSC 8 only for terminals); plain and JSON output never have any.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rich.style import Style
from rich.text import Text

LOCATION = re.compile(r"(?P<path>(?:[\w.~-]+/)*[\w.-]+\.py):(?P<line>\d+)(?::(?P<col>\d+))?")
# Editors by command name: how each is told to open a file at a line.
AT_COLON = {"subl", "sublime_text", "zed", "hx", "helix", "atom"}
VSCODE_LIKE = {"code", "codium", "code-insiders", "cursor", "windsurf"}
JETBRAINS = {"idea", "pycharm", "charm", "pycharm.sh", "idea.sh"}


@dataclass(frozen=True)
class Location:
    """A place in a file: absolute path, 1-based line and column."""

    path: Path
    line: int
    col: int | None = None


def links_enabled(is_terminal: bool, environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return is_terminal and not env.get("NO_COLOR")


class Linker:
    """Turns locations into URLs and decorates console text with them."""

    def __init__(self, bases: list[Path], editor: str | None = None, enabled: bool = True) -> None:
        self.bases = bases  # directories relative locations are resolved against, in order
        self.template = editor if editor and "://" in editor else None
        self.enabled = enabled

    def resolve(self, shown: str, line: int, col: int | None = None) -> Location | None:
        path = Path(shown).expanduser()
        candidates = [path] if path.is_absolute() else [base / path for base in self.bases]
        for candidate in candidates:
            if candidate.is_file():
                return Location(candidate.resolve(), line, col)
        return None

    def url(self, location: Location) -> str:
        if self.template is not None:
            return self.template.format(path=location.path, line=location.line, col=location.col or 1)
        return location.path.as_uri()

    def link_text(self, text: Text) -> Text:
        """``text`` with every ``something.py:LINE[:COL]`` in it made a hyperlink (in place)."""
        if not self.enabled:
            return text
        for match in LOCATION.finditer(text.plain):
            location = self.resolve(match["path"], int(match["line"]), int(match["col"]) if match["col"] else None)
            if location is not None:
                text.stylize(Style(link=self.url(location)), match.start(), match.end())
        return text


def editor_command(location: Location, editor: str | None, environ: dict[str, str] | None = None) -> list[str] | None:
    """The command that opens ``location`` in the author's editor, or None when none is configured.

    ``editor`` (``--editor`` / ``$DEVNODE_EDITOR``) may be a command with ``{path}``, ``{line}``, ``{col}``
    placeholders, a URL template (opened with xdg-open/open), or a bare command; otherwise ``$VISUAL``/``$EDITOR``.
    """
    env = os.environ if environ is None else environ
    values = {"path": str(location.path), "line": str(location.line), "col": str(location.col or 1)}
    if editor and "://" in editor:
        opener = shutil.which("xdg-open") or shutil.which("open")
        return [opener, editor.format(**values)] if opener else None
    chosen = editor or env.get("VISUAL") or env.get("EDITOR")
    if not chosen:
        return None
    if "{path}" in chosen:
        return [part.format(**values) for part in shlex.split(chosen)]
    words = shlex.split(chosen)
    name = Path(words[0]).name if words else ""
    if name in VSCODE_LIKE:
        return [*words, "-g", f"{values['path']}:{values['line']}:{values['col']}"]
    if name in AT_COLON:
        return [*words, f"{values['path']}:{values['line']}:{values['col']}"]
    if name in JETBRAINS:
        return [*words, "--line", values["line"], values["path"]]
    return [*words, f"+{values['line']}", values["path"]]  # vi, vim, nvim, nano, emacs, micro, kak, ...


def run_editor(command: list[str]) -> str | None:
    """Run the editor and wait for it (a terminal editor has the terminal meanwhile); an error's text, or None."""
    try:
        subprocess.run(command, check=False)
    except OSError as exc:
        return f"could not start the editor {command[0]!r}: {exc}; set --editor or $EDITOR"
    return None
