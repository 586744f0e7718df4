"""Single keys from the terminal: cbreak mode (no Enter, no echo), read on the event loop."""

from __future__ import annotations

import asyncio
import codecs
import os
import select
from collections.abc import Callable
from typing import Any

try:
    import termios
    import tty
except ImportError:  # pragma: no cover - not a POSIX terminal
    termios = None  # type: ignore[assignment]
    tty = None  # type: ignore[assignment]

CTRL_D = "\x04"
ESC = "\x1b"
ESCAPE_WAIT = 0.05  # a lone Escape: nothing followed it this long (terminals send a sequence in one write)
# Escape sequences -> the names the line editor knows (the dashboard ignores them).
SEQUENCES = {
    "[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right", "OD": "left",
    "[H": "home", "OH": "home", "[1~": "home", "[7~": "home", "[F": "end", "OF": "end", "[4~": "end",
    "[8~": "end", "[3~": "delete",
}


class KeyReader:
    """Calls ``on_key(char)`` for each key pressed; ``pause``/``resume`` hand the terminal back and forth."""

    def __init__(self, fd: int, on_key: Callable[[str], None], on_eof: Callable[[], None] | None = None) -> None:
        self.fd = fd
        self.on_key = on_key
        self.on_eof = on_eof
        self.is_tty = termios is not None and os.isatty(fd)
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._escape = 0  # 0 plain, 1 after ESC, 2 inside an escape sequence
        self._sequence = ""
        self._lone: asyncio.TimerHandle | None = None
        self._eof = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put the terminal in cbreak mode and read keys on ``loop``."""
        if self._loop is not None or self._eof:
            return
        if self.is_tty:
            if self._saved is None:
                self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~termios.ECHO  # lflag: never echo keys over the display
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        loop.add_reader(self.fd, self._readable)
        self._loop = loop

    def stop(self) -> None:
        """Stop reading and give the terminal back its own (line-editing, echoing) mode."""
        if self._lone is not None:
            self._lone.cancel()
            self._lone = None
        if self._loop is not None:
            try:
                self._loop.remove_reader(self.fd)
            except (RuntimeError, ValueError, OSError):
                pass  # the loop is already closed
            self._loop = None
        self.restore_terminal()

    def restore_terminal(self) -> None:
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass

    def _readable(self) -> None:
        try:
            # One byte at a time: when a key hands the terminal over (":" opens a prompt),
            # whatever was typed after it stays in the terminal for the prompt to read.
            data = os.read(self.fd, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._eof = True
            self.stop()
            if self.on_eof is not None:
                self.on_eof()
            return
        for char in self._decoder.decode(data):
            self._char(char)
        if self._escape == 1 and self._loop is not None and self._lone is None:
            if self._more_waiting():
                return  # the rest of the sequence is already there: the next read gets it
            self._lone = self._loop.call_later(ESCAPE_WAIT, self._lone_escape)

    def _char(self, char: str) -> None:
        if self._lone is not None:
            self._lone.cancel()
            self._lone = None
        if self._escape == 1:  # after ESC: arrow and function keys go on with [ or O
            if char in "[O":
                self._escape, self._sequence = 2, char
                return
            self._escape = 0
            self.on_key("escape")  # Escape, then a key typed quickly after it (or Alt+key)
        elif self._escape == 2:  # collect the sequence up to its final letter
            self._sequence += char
            if char.isalpha() or char == "~":
                self._escape = 0
                name = SEQUENCES.get(self._sequence)
                if name is not None:
                    self.on_key(name)
            return
        if char == ESC:
            self._escape = 1
            return
        self.on_key(char)

    def _lone_escape(self) -> None:
        self._lone = None
        if self._escape == 1:
            self._escape = 0
            self.on_key("escape")

    def _more_waiting(self) -> bool:
        try:
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False
