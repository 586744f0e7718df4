"""The console's ``:`` (a command) and ``e`` (an event) prompts, and their histories across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.console import Console

from devnode.ui.console.debugger import Stage
from devnode.ui.console.line_editor import Candidates, LineEditor, PromptHistory

RunCommand = Callable[[str], Awaitable[None]]


class Prompts:
    """One line edited at a time, fed keys by the console's key reader; what is accepted runs as a command."""

    def __init__(self, console: Console, stage: Stage) -> None:
        self.console = console
        self.stage = stage
        self.run_command: RunCommand | None = None  # set once the console is attached to a runtime
        self.complete: Candidates | None = None
        self.command_history = PromptHistory()
        self.emit_history = PromptHistory()
        self.data_history = PromptHistory()
        self._open: tuple[LineEditor, asyncio.Future[str | None]] | None = None
        self._early_keys: list[str] = []  # typed right after ":" or "e", before the prompt is drawn
        self._restore_histories()

    def feed(self, key: str) -> bool:
        """Give ``key`` to the open prompt; False when none is open."""
        if self._open is None or self._open[1].done():
            return False
        editor, answer = self._open
        if editor.feed(key):
            answer.set_result(editor.result)
        return True

    def type_ahead(self, key: str) -> None:
        self._early_keys.append(key)

    def forget_typed_ahead(self) -> None:
        """Typed ahead for a prompt that did not come: not keys for the dashboard."""
        self._early_keys.clear()

    def cancel(self) -> bool:
        """Escape, Ctrl-C or something else taking the terminal: the open prompt ends, nothing is run."""
        if self._open is None:
            return False
        editor, answer = self._open
        if not answer.done():
            editor.cancel()
            answer.set_result(None)
        return True

    async def ask(self, prompt: str, history: PromptHistory, candidates: Candidates | None = None) -> str | None:
        """One line typed at ``prompt``; None when cancelled."""
        editor = LineEditor(prompt, history, self.console.file, lambda: self.console.width, candidates)
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._open = (editor, answer)
        editor.open()
        early, self._early_keys = self._early_keys, []
        for key in early:
            if editor.feed(key) and not answer.done():
                answer.set_result(editor.result)
        try:
            return await answer
        finally:
            self._open = None

    async def command_prompt(self) -> None:
        assert self.run_command is not None
        try:
            line = await self.ask(": ", self.command_history, self.complete)
        finally:
            self.stage.come_back()
        if line is not None and line.strip():
            await self.run_command(line)

    async def emit_prompt(self) -> None:
        assert self.run_command is not None
        data = None
        try:
            kind = await self.ask("event type: ", self.emit_history, self._event_types)
            if kind is not None and kind.strip():
                data = await self.ask("data (JSON, Enter for {}): ", self.data_history)
        finally:
            self.stage.come_back()
        if kind is not None and kind.strip() and data is not None:
            await self.run_command(f"emit {kind.strip()} {data.strip()}")

    def _event_types(self, typed: str) -> list[str]:
        """What the emit command completes as its TYPE: the command table says, not this prompt."""
        return list(self.complete("emit " + typed)) if self.complete is not None else []

    def histories(self) -> dict[str, list[str]]:
        """The prompts' histories, handed to the next process by a restart."""
        return {"command": self.command_history.items, "emit": self.emit_history.items,
                "data": self.data_history.items}

    def _restore_histories(self) -> None:
        from devnode.restart import take_histories

        saved = take_histories()
        self.command_history.items = saved.get("command", [])
        self.emit_history.items = saved.get("emit", [])
        self.data_history.items = saved.get("data", [])
