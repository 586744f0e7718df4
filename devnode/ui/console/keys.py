"""Single keys from the terminal: cbreak mode (no Enter, no echo), read on the event loop."""

from __future__ import annotations

import asyncio
import codecs
import os
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
            if self._escape == 1:  # after ESC: arrow and function keys go on with [ or O
                self._escape = 2 if char in "[O" else 0
                if self._escape:
                    continue
            elif self._escape == 2:  # swallow the sequence up to its final letter
                if char.isalpha() or char == "~":
                    self._escape = 0
                continue
            if char == ESC:
                self._escape = 1
                continue
            self.on_key(char)
