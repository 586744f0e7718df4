"""Line prompts for ``:`` and ``e``: the terminal's own line editing, with history and Tab completion.

``input()`` runs on a daemon thread so the node's loop keeps running while the
author types; a daemon, because a prompt still open at quit must not keep the
process alive.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

try:
    import readline
except ImportError:  # pragma: no cover - Python built without readline
    readline = None  # type: ignore[assignment]

Completer = Callable[[str, int], "str | None"]
HISTORY_LIMIT = 500


def words_completer(candidates: Callable[[str], Sequence[str]]) -> Completer:
    """A readline completer over ``candidates(line_so_far)`` for the word being typed."""
    matches: list[str] = []

    def complete(text: str, state: int) -> str | None:
        nonlocal matches
        if state == 0:
            line = readline.get_line_buffer()[: readline.get_endidx()] if readline else text
            matches = [c for c in candidates(line) if c.startswith(text)]
        return matches[state] if state < len(matches) else None

    return complete


class LineHistory:
    """One prompt's history, swapped into readline while that prompt is open."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def load(self) -> None:
        if readline is None:
            return
        readline.clear_history()
        for item in self.items[-HISTORY_LIMIT:]:
            readline.add_history(item)

    def save(self) -> None:
        if readline is None:
            return
        count = readline.get_current_history_length()
        self.items = [item for i in range(1, count + 1) if (item := readline.get_history_item(i)) is not None]


def read_line(prompt: str, history: LineHistory | None = None, completer: Completer | None = None) -> str | None:
    """``input(prompt)`` with this prompt's history and completion; None on end of input."""
    previous = readline.get_completer() if readline else None
    if readline is not None:
        if history is not None:
            history.load()
        readline.set_completer(completer)
        readline.set_completer_delims(" \t\n")
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
    try:
        return input(prompt)
    except (EOFError, KeyboardInterrupt):
        return None
    finally:
        if readline is not None:
            if history is not None:
                history.save()
            readline.set_completer(previous)


def on_thread(loop: asyncio.AbstractEventLoop, fn: Callable[[], object]) -> asyncio.Future[object]:
    """Run blocking ``fn`` on a daemon thread; its result (or exception) arrives as a future on ``loop``."""
    future: asyncio.Future[object] = loop.create_future()

    def settle(result: object, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:  # handed to the loop, which decides
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop closed while we were reading: nobody is waiting any more

    threading.Thread(target=run, name="devnode-prompt", daemon=True).start()
    return future
