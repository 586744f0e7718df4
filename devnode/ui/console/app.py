"""The rich console: the reporter sink, and who has the terminal (the dashboard, a prompt, pdb, Python).

The parts do one job each: ``screen`` queues and draws the history and the
footer, ``failures`` makes error panels (and the post-mortem, and ``o``),
``prompts`` the ``:`` and ``e`` prompts, ``python_console`` the ``c`` console,
``debugger_state`` what pdb and an editor's debugger mean for the display.
This module routes records and keys to them and hands the terminal over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.text import Text

from devnode.commands import complete, next_log_level, set_log_level
from devnode.reporting import Record
from devnode.ui.console import style
from devnode.ui.console.debugger import Breakpoints
from devnode.ui.console.debugger_state import DebuggerState
from devnode.ui.console.failures import Failures
from devnode.ui.console.footer_view import footer_view
from devnode.ui.console.keys import KeyReader
from devnode.ui.console.links import Linker, links_enabled
from devnode.ui.console.prompts import Prompts
from devnode.ui.console.python_console import PythonConsole
from devnode.ui.console.repl import NodeConsole
from devnode.ui.console.screen import Screen
from devnode.ui.console.table import status_table
from devnode.ui.console.table_cache import TableCache

if TYPE_CHECKING:
    from devnode.host.diagnostics import PluginProblem
    from devnode.interrupts import Interrupts
    from devnode.runtime import Runtime

HOLDING_MODES = ("prompt", "debugger")  # while these have the terminal, history lines wait
KEY_COMMANDS = {"q": "quit", "r": "reload all", "s": "status", "?": "help", "R": "restart"}


class RichConsole:
    """``--ui rich``: the console a plugin author keeps open beside the editor."""

    interactive = True

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        console: Console | None = None,
        post_mortem: bool = False,
        open_console: bool = False,
        keys_fd: int | None = None,
        force_terminal: bool | None = None,
        editor: str | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        # The console writes to the real stream: print() is redirected *to* it while the footer shows.
        self.console = console or Console(file=self.stream, force_terminal=force_terminal, highlight=False)
        self._tables = TableCache()  # the footer's table rows, rendered once while they stay the same
        self.screen = Screen(self.console, self.footer_renderable)
        self.footer = self.screen.footer
        self._poke = self.screen.poke
        self._put_event = self.screen.put_event  # the sink's hot path, one lookup less
        self.open_console = open_console
        self.runtime: Runtime | None = None
        # OSC 8 links on file:line, and the o key (docs/authoring.md); set up in attach() once the dirs are known.
        self.editor = editor or os.environ.get("DEVNODE_EDITOR") or None
        self.failures = Failures(self.screen, self, post_mortem=post_mortem, editor=self.editor)
        self.prompts = Prompts(self.console, self)
        self.debuggers = DebuggerState()
        self.keys = KeyReader(keys_fd, self._on_key) if keys_fd is not None else None
        self._modes: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._breakpoints = Breakpoints(self)
        self._python: PythonConsole | None = None
        self._closed = False

    @property
    def plugin_dir(self) -> Path | None:
        """The plugin dir (set by attach() from the host): error panels show frames relative to it."""
        return self.failures.plugin_dir

    @plugin_dir.setter
    def plugin_dir(self, path: Path | None) -> None:
        self.failures.plugin_dir = path

    # -- the reporter sink (hot path) -------------------------------------------------------
    def __call__(self, record: Record) -> None:
        kind = record["kind"]
        if kind == "event":
            self._put_event(record)
            return
        if kind in ("plugin.failed", "plugin.error") and self.failures.plugin_dir is not None:
            self.failures.report(record, None)  # no exception at hand (it comes through with_problem when there is one)
            return
        if kind in ("warning", "log") and self.debuggers.hides(record, "debugger" in self._modes):
            return
        if kind.startswith("debugger."):
            self._editor_debugger(record)
            return
        if kind == "node.ready" and self.open_console and self.screen.loop is not None:
            self.open_console = False
            self.screen.loop.call_soon(self._open_console)
        self.screen.put(record)

    def with_problem(self, record: Record, problem: PluginProblem) -> None:
        """A failure record with the problem behind it (``Reporter.emit(..., problem=)``): panels show its frames."""
        if record["kind"] in ("plugin.failed", "plugin.error") and self.failures.plugin_dir is not None:
            self.failures.report(record, problem.exception)
        else:
            self(record)

    def _editor_debugger(self, record: Record) -> None:
        """An attached editor's state, for the footer; a stop of the loop thread is drawn at once."""
        if not self.debuggers.follow(record):
            self.screen.footer_stale = True
            self._poke()
            return
        self.screen.put(record, poke=False)
        if record["kind"] == "debugger.stopped" and record.get("on_loop") and self.screen.on_loop() and not self._closed:
            self.screen.flush()  # the loop stays blocked until the editor continues: the pump cannot draw this
        else:
            self._poke()

    # -- lifetime ---------------------------------------------------------------------------
    def attach(self, runtime: Runtime) -> None:
        """Runtime hook, called on the loop once the node exists and before plugins load."""
        self.runtime = runtime
        plugin_dir = self.plugin_dir = runtime.host.plugin_dir
        self.screen.linker = Linker([plugin_dir.parent, plugin_dir, Path.cwd()], self.editor,
                                    enabled=links_enabled(self.console.is_terminal))
        loop = asyncio.get_running_loop()
        self.screen.start(loop)
        self._breakpoints.install()
        self._python = PythonConsole(runtime, loop)
        self.prompts.run_command = runtime.run_command
        self.prompts.complete = self._command_words
        self._follow_interrupts(runtime.interrupts)
        self._watch_resizes()
        self._spawn(self.screen.pump(), "devnode-console")
        self._enter_dashboard()

    def close(self) -> None:
        """Print what is left, put the terminal back and leave the final plugin table in the scrollback."""
        if self._closed:
            return
        self._closed = True
        self._breakpoints.uninstall()
        self._set_modes([])
        self.footer.hide()
        if self.keys is not None:
            self.keys.stop()
        self.screen.print_held()
        self.screen.flush(final=True)
        if self.runtime is not None and hasattr(self.runtime, "host"):
            self.console.print(status_table(self.runtime.host.status(), self.console.width))
        if self.console.is_terminal:
            self.console.show_cursor(True)

    def flush(self, final: bool = False) -> None:
        """Render everything queued now (the pump does this at most ten times a second)."""
        self.screen.flush(final)

    def footer_renderable(self) -> RenderableType:
        """The footer: plugin table, one line of node state, one line of keys."""
        screen = self.screen
        hidden = sum(screen.paused_counts.values()) if screen.paused else None
        return footer_view(self.runtime, self.console.width, self.console.height, hidden, self.debuggers.notes(),
                           self._tables)

    def histories(self) -> dict[str, list[str]]:
        """The prompts' histories, handed to the next process by a restart."""
        return self.prompts.histories()

    def python_console(self) -> NodeConsole:
        """The Python console on the live node (one per node: what was defined stays defined)."""
        assert self._python is not None
        return self._python.get()

    # -- the console steps aside for prompts, the Python console and pdb ---------------------
    def step_aside(self, mode: str) -> None:
        """Hand the terminal over (mode: prompt, console or debugger); nested calls stack."""
        screen = self.screen
        if not self._modes:
            self.footer.hide()
            if screen.on_loop():
                screen.flush(final=True)  # everything up to now is on screen before the terminal is handed over
        if mode != "prompt":  # the : and e prompts read keys here; pdb and the Python console read the terminal
            self.prompts.cancel()
            if self.keys is not None:
                if screen.on_loop():
                    self.keys.stop()
                elif screen.loop is not None:  # breakpoint() in a plugin's own thread
                    self.keys.restore_terminal()
                    screen.loop.call_soon_threadsafe(self.keys.stop)
        self._set_modes([*self._modes, mode])

    def come_back(self) -> None:
        """End the innermost step-aside; the dashboard returns when none is left."""
        if not self._modes:
            return
        self._set_modes(self._modes[:-1])
        if not self._modes:
            self.prompts.forget_typed_ahead()
            self._enter_dashboard()

    def _set_modes(self, modes: list[str]) -> None:
        self._modes[:] = modes
        self.screen.holding = bool(modes) and modes[-1] in HOLDING_MODES

    def _enter_dashboard(self) -> None:
        if self._closed or self.runtime is None:
            return
        screen = self.screen
        screen.show_footer()
        if self.keys is not None and screen.loop is not None:
            if screen.on_loop():
                self.keys.start(screen.loop)
            else:
                screen.loop.call_soon_threadsafe(self._resume_keys)
        self._poke()

    def _resume_keys(self) -> None:
        loop = self.screen.loop
        if self.keys is not None and loop is not None and not self._modes and not self._closed:
            self.keys.start(loop)

    # -- keys -----------------------------------------------------------------------------------
    def _on_key(self, key: str) -> None:
        runtime = self.runtime
        if self.prompts.feed(key):
            return
        if self._modes and self._modes[-1] == "prompt":
            self.prompts.type_ahead(key)  # typed right after ":" or "e", before the prompt is drawn
            return
        if runtime is None or self._modes:
            return
        if key in KEY_COMMANDS:
            self._command(KEY_COMMANDS[key])
        elif key == "l":
            # Now, not as a queued command, so quick presses step through the levels one by one.
            set_log_level(runtime.command_context, next_log_level(runtime.options.log_level))
        elif key == "p":
            self.screen.toggle_pause()
        elif key == ":":
            self.step_aside("prompt")  # now, so keys typed after ":" go to the prompt
            self._spawn(self.prompts.command_prompt(), "devnode-prompt")
        elif key == "e":
            self.step_aside("prompt")
            self._spawn(self.prompts.emit_prompt(), "devnode-prompt")
        elif key == "c":
            self._open_console()
        elif key == "o":
            self.failures.open_last(runtime.reporter, self._spawn)

    def _command(self, line: str) -> None:
        assert self.runtime is not None
        self._spawn(self.runtime.run_command(line), f"devnode-key {line}")

    def _command_words(self, line: str) -> list[str]:
        """What the : prompt offers on Tab: the command table's own completion."""
        assert self.runtime is not None
        return complete(self.runtime.command_context, line)

    def _open_console(self) -> None:
        if self._python is None or self._closed:
            return
        self.step_aside("console")
        self._spawn(self._python.run(self), "devnode-python-console")

    # -- Ctrl-C (the runtime's policy: devnode/interrupts.py) and resizing ------------------------
    def _follow_interrupts(self, interrupts: Interrupts) -> None:
        interrupts.claim = self._claim_interrupt
        interrupts.announce = lambda notice: self.screen.line(Text(notice, "bold " + style.WARNING))
        interrupts.before_forced_exit = self._restore_terminal

    def _claim_interrupt(self) -> bool:
        """Ctrl-C in a prompt cancels it, in the Python console stops the code there; only at the dashboard it quits."""
        if self.prompts.cancel():
            return True
        if self._modes and self._modes[-1] == "console" and self._python is not None:
            return self._python.interrupt()
        return False

    def _restore_terminal(self) -> None:
        self.footer.hide()
        if self.keys is not None:
            self.keys.restore_terminal()

    def _watch_resizes(self) -> None:
        loop = self.screen.loop
        if threading.current_thread() is not threading.main_thread() or loop is None or not hasattr(signal, "SIGWINCH"):
            return
        try:
            loop.add_signal_handler(signal.SIGWINCH, self._resized)
        except (NotImplementedError, RuntimeError):
            pass

    def _resized(self) -> None:
        """SIGWINCH: redraw the footer for the new width now, not at the next output."""
        self.footer.resized(self.console.width)
        if self.footer.shown and not self._modes and not self._closed:
            self.screen.redraw_footer()

    # -- helpers ------------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        assert self.screen.loop is not None
        task = self.screen.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if self.runtime is not None:
            self.runtime.reporter.emit("command.error", command=task.get_name(), error=f"{type(exc).__name__}: {exc}")
