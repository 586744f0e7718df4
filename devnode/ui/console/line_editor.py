"""The one-line editor behind the ``:`` and ``e`` prompts, fed keys by the console's key reader.

The prompts used to be ``input()`` on a thread, but a thread blocked in readline
cannot be told to stop: Escape only counted once another key followed, and
Ctrl-C reached the node as SIGINT and quit it. Keys read on the loop can do
both. Editing: arrows, Home/End, Backspace/Delete, Ctrl-A/E/K/U/W, Up/Down
through this prompt's history, Tab to complete; Enter accepts; Escape, Ctrl-C
and Ctrl-D (on an empty line) cancel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import IO

Candidates = Callable[[str], Sequence[str]]  # the line up to the word being typed -> possible words
HISTORY_LIMIT = 500

# Named keys the key reader delivers for escape sequences (plain characters come as themselves).
UP, DOWN, LEFT, RIGHT, HOME, END, DELETE, ESCAPE = "up", "down", "left", "right", "home", "end", "delete", "escape"
CTRL_A, CTRL_C, CTRL_D, CTRL_E, CTRL_K, CTRL_U, CTRL_W = "\x01", "\x03", "\x04", "\x05", "\x0b", "\x15", "\x17"
BACKSPACE = ("\x7f", "\x08")
ENTER = ("\r", "\n")
TAB = "\t"


class PromptHistory:
    """One prompt's previous lines (newest last), kept for the node's lifetime."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, line: str) -> None:
        if line.strip() and (not self.items or self.items[-1] != line):
            self.items.append(line)
            del self.items[:-HISTORY_LIMIT]


class LineEditor:
    """Edits one line; ``feed(key)`` is True once the line is accepted or cancelled (``result`` says which)."""

    def __init__(self, prompt: str, history: PromptHistory, out: IO[str], width: Callable[[], int],
                 candidates: Candidates | None = None) -> None:
        self.prompt = prompt
        self.history = history
        self.out = out
        self.width = width
        self.candidates = candidates
        self.buffer = ""
        self.cursor = 0
        self._browsing = len(history.items)  # index into history; len() is the line being typed
        self._typed = ""
        self.result: str | None = None  # the accepted line; None when cancelled

    def open(self) -> None:
        self._draw()

    def feed(self, key: str) -> bool:
        if key in ENTER:
            self._finish(self.prompt + self.buffer)
            self.history.add(self.buffer)
            self.result = self.buffer
            return True
        if key in (ESCAPE, CTRL_C) or (key == CTRL_D and not self.buffer):
            self.cancel()
            return True
        self._edit(key)
        self._draw()
        return False

    def cancel(self) -> None:
        self._finish(self.prompt + "cancelled")
        self.result = None

    # -- editing ----------------------------------------------------------------------
    def _edit(self, key: str) -> None:
        buffer, cursor = self.buffer, self.cursor
        if key in BACKSPACE:
            if cursor:
                buffer, cursor = buffer[: cursor - 1] + buffer[cursor:], cursor - 1
        elif key in (DELETE, CTRL_D):
            buffer = buffer[:cursor] + buffer[cursor + 1:]
        elif key == LEFT:
            cursor = max(0, cursor - 1)
        elif key == RIGHT:
            cursor = min(len(buffer), cursor + 1)
        elif key in (HOME, CTRL_A):
            cursor = 0
        elif key in (END, CTRL_E):
            cursor = len(buffer)
        elif key == CTRL_K:
            buffer = buffer[:cursor]
        elif key == CTRL_U:
            buffer, cursor = buffer[cursor:], 0
        elif key == CTRL_W:
            start = len(buffer[:cursor].rstrip()) - len(buffer[:cursor].rstrip().split(" ")[-1])
            buffer, cursor = buffer[:start] + buffer[cursor:], start
        elif key in (UP, DOWN):
            self._browse(-1 if key == UP else 1)
            return
        elif key == TAB:
            buffer, cursor = self._complete(buffer, cursor)
        elif len(key) == 1 and key.isprintable():
            buffer, cursor = buffer[:cursor] + key + buffer[cursor:], cursor + 1
        self.buffer, self.cursor = buffer, cursor

    def _browse(self, step: int) -> None:
        items = self.history.items
        if self._browsing == len(items):
            self._typed = self.buffer
        self._browsing = max(0, min(len(items), self._browsing + step))
        self.buffer = items[self._browsing] if self._browsing < len(items) else self._typed
        self.cursor = len(self.buffer)

    def _complete(self, buffer: str, cursor: int) -> tuple[str, int]:
        if self.candidates is None:
            return buffer, cursor
        head = buffer[:cursor]
        word = head.split(" ")[-1]
        matches = sorted({c for c in self.candidates(head[: len(head) - len(word)]) if c.startswith(word)})
        if not matches:
            return buffer, cursor
        common = os.path.commonprefix(matches)
        if len(matches) == 1:
            common += " "
        elif common == word:  # nothing more to add: show the choices under the prompt
            self.out.write("\r\n" + "  ".join(matches) + "\r\n")
        insert = common[len(word):]
        return buffer[:cursor] + insert + buffer[cursor:], cursor + len(insert)

    # -- drawing ----------------------------------------------------------------------
    def _draw(self) -> None:
        """Redraw the line in place; a line wider than the terminal scrolls to keep the cursor in view."""
        room = max(10, self.width() - len(self.prompt) - 1)
        start = max(0, self.cursor - room + 1)
        shown = self.buffer[start: start + room]
        back = len(shown) - (self.cursor - start)
        self.out.write("\r\x1b[2K" + self.prompt + shown + (f"\x1b[{back}D" if back > 0 else ""))
        self.out.flush()

    def _finish(self, text: str) -> None:
        self.out.write("\r\x1b[2K" + text[: max(10, self.width() - 1)] + "\r\n")
        self.out.flush()
