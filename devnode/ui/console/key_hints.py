"""The footer's line of keys: every key at 80 columns, shorter forms down to 60, never wrapped.

Forms are tried from the most to the least spelled out; the first that fits is
used. When even the shortest cannot show every key, keys drop from the middle
and ``?`` (help, which lists them all) says so.
"""

from __future__ import annotations

from rich.text import Text

KEYS: list[tuple[str, str, str]] = [  # key, label, short label
    ("r", "reload", "reload"), ("s", "status", "status"), ("e", "emit", "emit"), (":", "command", "cmd"),
    ("c", "console", "py"), ("p", "pause", "pause"), ("l", "log", "log"), ("?", "help", "help"),
    ("q", "quit", "quit"),
]
ALWAYS = ("?", "q")  # never dropped: help lists the rest, and quit must stay findable


def key_hints(width: int) -> Text:
    """The key line for a terminal ``width`` columns wide (at most ``width`` cells)."""
    for short in (False, True):
        for gap in ("  ", " "):
            line = _line([(k, s if short else lab) for k, lab, s in KEYS], gap)
            if line.cell_len <= width:
                return line
    kept = [(k, s) for k, _, s in KEYS]
    while len(kept) > len(ALWAYS):
        droppable = [i for i, (k, _) in enumerate(kept) if k not in ALWAYS]
        del kept[droppable[-1]]
        line = _line([(k, "more" if k == "?" else lab) for k, lab in kept], " ")
        if line.cell_len <= width:
            return line
    line = _line([(k, "more" if k == "?" else lab) for k, lab in kept], " ")
    line.truncate(width, overflow="ellipsis")
    return line


def _line(keys: list[tuple[str, str]], gap: str) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    for key, label in keys:
        if line:
            line.append(gap)
        line.append(key, "bold reverse")
        line.append(" " + label)
    return line
