"""The rich console: the reporter sink, the history and footer, keys, prompts, debugger and Python console.

Records are only queued when they arrive (the sink is on the event hot path and
may be called from plugin threads); a pump task on the node's loop renders them
at most ten times a second, and only when something arrived, so an idle console
does no work at all and a burst costs a bounded share of the loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import types
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from devnode.commands import complete, next_log_level, set_log_level
from devnode.events import Event, EventType, HandlerResult
from devnode.interrupts import Interrupts
from devnode.reporting import Record
from devnode.ui.console import errors, history, render_caches, style
from devnode.ui.console.debugger import Breakpoints, post_mortem
from devnode.ui.console.event_lines import Burst, Coalescer, burst_line, event_line, paused_summary
from devnode.ui.console.footer import Footer
from devnode.ui.console.key_hints import key_hints
from devnode.ui.console.keys import KeyReader
from devnode.ui.console.line_editor import LineEditor, PromptHistory
from devnode.ui.console.prompt import on_thread
from devnode.ui.console.links import Linker, Location, editor_command, links_enabled, run_editor
from devnode.ui.console.repl import NodeConsole, interact, namespace
from devnode.ui.console.table import status_table

if TYPE_CHECKING:
    from devnode.runtime import Runtime

FRAME = 0.1  # at most ten renders a second
RENDER_SHARE = 0.05  # and rendering never takes more than ~5% of the loop's time
FOOTER_EVERY = 0.5  # counters alone refresh the footer this often
MAX_LOG_LINES = 40  # per frame; a log flood is summed up, not scrolled
HOLDING_MODES = ("prompt", "debugger")


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
        self.footer = Footer(self.console)
        self.coalescer = Coalescer()
        self.post_mortem = post_mortem
        self.open_console = open_console
        self.runtime: Runtime | None = None
        self.plugin_dir: Path | None = None
        self.keys = KeyReader(keys_fd, self._on_key) if keys_fd is not None else None
        self._queue: deque[tuple[Record, Any]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._modes: list[str] = []
        self._held: list[RenderableType] = []
        self._paused = False
        self._paused_counts: Counter[str] = Counter()
        self._live: list[tuple[str | None, str, BaseException]] = []
        self._footer_stale = False
        self._footer_drawn = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._breakpoints = Breakpoints(self)
        self._repl: NodeConsole | None = None
        self._command_history = PromptHistory()
        self._emit_history = PromptHistory()
        self._data_history = PromptHistory()
        self._editor: tuple[LineEditor, asyncio.Future[str | None]] | None = None  # the open : or e prompt
        self._early_keys: list[str] = []
        self._stall_in_debugger = False
        self._editor_attached = False
        self._editor_stop: Record | None = None
        self._closed = False
        # OSC 8 links on file:line, and the o key (docs/authoring.md); set up in attach() once the dirs are known.
        self.editor = editor or os.environ.get("DEVNODE_EDITOR") or None
        self.linker = Linker([], self.editor, enabled=False)
        self.last_error: Location | None = None
        self._restore_histories()

    # -- the reporter sink (hot path) -------------------------------------------------------
    def __call__(self, record: Record) -> None:
        kind = record["kind"]
        if kind == "event":
            self._queue.append((record, None))
            self._poke()
            return
        if kind in ("plugin.failed", "plugin.error") and self.plugin_dir is not None:
            self._failure(record)
            return
        if kind in ("warning", "log") and self._hide_stall(record):
            return
        if kind.startswith("debugger."):
            self._editor_debugger(record)
            return
        if kind == "node.ready" and self.open_console and self._loop is not None:
            self.open_console = False
            self._loop.call_soon(self._open_console)
        self._queue.append((record, None))
        self._poke()

    def _failure(self, record: Record) -> None:
        """An error panel, built now: the host reports synchronously, while the exception's frames live."""
        assert self.plugin_dir is not None
        if record["kind"] == "plugin.error":
            exc = self._live_error(record)
        else:
            exc = _exception_for(record)
        if (record.get("error") or "").startswith("BdbQuit"):
            # The author typed q in pdb: the handler stopped there on purpose.
            line = Text(f"{record.get('plugin')}: debugger quit; the {record.get('phase')} was stopped", style.TIME)
            self._queue.append(({"kind": "console.line", "ts": record.get("ts")}, line))
            self._poke()
            return
        try:
            view = errors.from_record(record, self.plugin_dir, exc)
        except Exception:  # an odd traceback must not cost the panel (or switch the console off)
            view = errors.from_record(record, self.plugin_dir)
        self._remember_error(view, record)
        self._queue.append((record, view))
        self._poke()
        if self.post_mortem and exc is not None and self._on_loop() and self._debuggable(exc):
            post_mortem(self, exc, self.plugin_dir)

    def _catch_live(self, event: Event, results: list[HandlerResult]) -> None:
        """First bus observer: keep this dispatch's handler exceptions until the host has reported them."""
        for result in results:
            if result.error is not None:
                self._live.append((result.plugin, result.handler_name, result.error))

    def _forget_live(self, event: Event, results: list[HandlerResult]) -> None:
        """Last bus observer: let go of them (frames hold plugin instances; the leak check would notice)."""
        if self._live:
            self._live.clear()

    def _live_error(self, record: Record) -> BaseException | None:
        for plugin, handler, exc in self._live:
            if plugin == record.get("plugin") and handler == record.get("handler"):
                return exc
        return None

    def _hide_stall(self, record: Record) -> bool:
        """The loop is 'blocked' while pdb has it: that is the author debugging, not a plugin stalling."""
        code = record.get("code")
        if record["kind"] == "log":
            return record.get("logger") == "devnode.watchdog" and "debugger" in self._modes
        if code == "stall" and "debugger" in self._modes:
            self._stall_in_debugger = True
            return True
        if code == "stall-ended" and self._stall_in_debugger:
            self._stall_in_debugger = False
            return True
        return False

    def _editor_debugger(self, record: Record) -> None:
        """An attached editor's state, for the footer; a stop of the loop thread is drawn at once."""
        kind = record["kind"]
        if kind in ("debugger.attached", "debugger.detached"):
            self._editor_attached = kind == "debugger.attached"
        elif kind == "debugger.stopped":
            self._editor_stop = record
        elif kind == "debugger.resumed":
            self._editor_stop = None
            self._footer_stale = True
            self._poke()
            return  # the stop line said it all; the footer just drops its note
        self._queue.append((record, None))
        if kind == "debugger.stopped" and record.get("on_loop") and self._on_loop() and not self._closed:
            self.flush()  # the loop stays blocked until the editor continues: the pump cannot draw this
        else:
            self._poke()

    def _debugger_notes(self) -> list[tuple[str, str]]:
        stop = self._editor_stop
        if stop is not None:
            where = f"{Path(str(stop.get('file'))).name}:{stop.get('line')}"
            return [(f"stopped in your editor at {where}", "bold " + style.WARNING)]
        if self._editor_attached:
            return [("editor attached", style.HINT)]
        return []

    def _poke(self) -> None:
        wake = self._wake
        if wake is None or wake.is_set():
            return
        if self._on_loop():
            wake.set()
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass  # the loop has closed; close() prints what is left

    # -- lifetime ---------------------------------------------------------------------------
    def attach(self, runtime: Runtime) -> None:
        """Runtime hook, called on the loop once the node exists and before plugins load."""
        self.runtime = runtime
        self.plugin_dir = runtime.host.plugin_dir
        self.linker = Linker([self.plugin_dir.parent, self.plugin_dir, Path.cwd()], self.editor,
                             enabled=links_enabled(self.console.is_terminal))
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        bus = runtime.node.event_bus
        bus.add_observer(self._catch_live, first=True)
        bus.add_observer(self._forget_live)
        self._breakpoints.install()
        runtime.host.leaks.own.release.append(self._release_own_references)
        self._follow_interrupts(runtime.interrupts)
        self._watch_resizes()
        self._spawn(self._pump(), "devnode-console")
        self._enter_dashboard()

    def close(self) -> None:
        """Print what is left, put the terminal back and leave the final plugin table in the scrollback."""
        if self._closed:
            return
        self._closed = True
        self._breakpoints.uninstall()
        self._modes.clear()
        self.footer.hide()
        if self.keys is not None:
            self.keys.stop()
        held, self._held = self._held, []
        if held:
            self.console.print(Group(*held))
        self.flush(final=True)
        if self.runtime is not None and hasattr(self.runtime, "host"):
            self.console.print(status_table(self.runtime.host.status(), self.console.width))
        if self.console.is_terminal:
            self.console.show_cursor(True)

    async def _pump(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = time.perf_counter()
            try:
                self.flush()
            except Exception as exc:  # the display must outlive a rendering bug; say so and go on
                self.console.print(Text(f"devnode console: could not draw: {type(exc).__name__}: {exc}", style.FAILED))
            render_caches.trim()  # flat memory over thousands of reloads
            cost = time.perf_counter() - started
            await asyncio.sleep(max(FRAME, cost / RENDER_SHARE))
            if self._queue or self.coalescer.pending or self._footer_stale:
                self._wake.set()

    # -- rendering ----------------------------------------------------------------------------
    def flush(self, final: bool = False) -> None:
        """Render everything queued: history lines (printed or held) and, if due, the footer."""
        now = time.monotonic()
        lines: list[RenderableType] = []
        run: list[Record] = []
        structural = False
        skipped_logs: Counter[str] = Counter()
        logs = 0
        width = self.console.width
        while self._queue:
            record, extra = self._queue.popleft()
            kind = record["kind"]
            if kind == "event":
                if self._paused:
                    self._paused_counts[record["type"]] += 1
                else:
                    run.append(record)
                continue
            if run:
                lines += self._event_lines(self.coalescer.feed(run, now))
                run = []
            structural = True
            if kind == "log":
                logs += 1
                if logs > MAX_LOG_LINES and not final:
                    skipped_logs[record.get("plugin") or record.get("logger") or "-"] += 1
                    continue
            if isinstance(extra, errors.ErrorView):
                lines.append(errors.error_panel(extra, self.linker.link_text if self.linker.enabled else None))
            elif extra is not None:
                lines.append(extra)  # a line the console made itself
            else:
                line = _render_safely(record, width)
                lines.append(self.linker.link_text(line) if isinstance(line, Text) else line)
        lines += self._event_lines(self.coalescer.feed(run, now))
        if final:
            lines += self._event_lines(self.coalescer.close_all())
        if skipped_logs:
            lines.append(history.log_summary(skipped_logs))
        self._show(lines, structural, now)

    def _event_lines(self, items: Sequence[Record | Burst]) -> list[RenderableType]:
        return [burst_line(i) if isinstance(i, Burst) else event_line(i) for i in items]

    def _show(self, lines: list[RenderableType], structural: bool, now: float) -> None:
        if self._modes and self._modes[-1] in HOLDING_MODES:
            self._held += lines
            return
        dashboard = self.footer.shown
        if dashboard and (lines or structural or now - self._footer_drawn >= FOOTER_EVERY):
            self.footer.update(self.footer_renderable())
            self._footer_drawn, self._footer_stale = now, False
            if lines:
                self.console.print(Group(*lines))  # draws the footer too: one render
            else:
                self.footer.draw()
        else:
            if lines:
                self.console.print(Group(*lines))
            self._footer_stale = dashboard

    def footer_renderable(self) -> RenderableType:
        """The footer: plugin table, one line of node state, one line of keys."""
        runtime = self.runtime
        width = self.console.width
        if runtime is None or not hasattr(runtime, "host"):
            return Text("devnode starting…", style.TIME)
        limit = max(3, self.console.height - 12)
        rows = runtime.host.status()
        table = status_table(rows, width, limit)
        bus = runtime.node.event_bus
        info = Text.assemble((runtime.config.node_id, "bold"), no_wrap=True, overflow="ellipsis")
        info.append(f" · {plugin_count(rows)} · {bus.published} events · log {runtime.options.log_level}", style.TIME)
        info.append(" · watching" if runtime.reloader is not None else " · not watching", style.TIME)
        if self._paused:
            info.append(f" · events paused ({sum(self._paused_counts.values())} hidden)", "bold " + style.WARNING)
        for note, note_style in self._debugger_notes():
            info.append(" · " + note, note_style)
        info.truncate(width, overflow="ellipsis")
        keys = key_hints(width)
        return Group(Rule(style=style.TIME), table, info, keys)

    # -- the console steps aside for prompts, the Python console and pdb ---------------------
    def step_aside(self, mode: str) -> None:
        """Hand the terminal over (mode: prompt, console or debugger); nested calls stack."""
        if not self._modes:
            self.footer.hide()
            if self._on_loop():
                self.flush(final=True)  # everything up to now is on screen before the terminal is handed over
        if mode != "prompt":  # the : and e prompts read keys here; pdb and the Python console read the terminal
            self._cancel_prompt()
            if self.keys is not None:
                if self._on_loop():
                    self.keys.stop()
                elif self._loop is not None:  # breakpoint() in a plugin's own thread
                    self.keys.restore_terminal()
                    self._loop.call_soon_threadsafe(self.keys.stop)
        self._modes.append(mode)

    def come_back(self) -> None:
        """End the innermost step-aside; the dashboard returns when none is left."""
        if not self._modes:
            return
        self._modes.pop()
        if not self._modes:
            self._early_keys.clear()  # typed ahead for a prompt that did not come: not keys for the dashboard
            self._enter_dashboard()

    def _enter_dashboard(self) -> None:
        if self._closed or self.runtime is None:
            return
        held, self._held = self._held, []
        self.footer.update(self.footer_renderable())
        self.footer.show()
        self._footer_drawn = time.monotonic()
        if held:
            self.console.print(Group(*held))
        if self.keys is not None and self._loop is not None:
            if self._on_loop():
                self.keys.start(self._loop)
            else:
                self._loop.call_soon_threadsafe(self._resume_keys)
        self._poke()

    def _resume_keys(self) -> None:
        if self.keys is not None and self._loop is not None and not self._modes and not self._closed:
            self.keys.start(self._loop)

    # -- keys -----------------------------------------------------------------------------------
    def _on_key(self, key: str) -> None:
        runtime = self.runtime
        if self._editor is not None and not self._editor[1].done():
            editor, answer = self._editor
            if editor.feed(key):
                answer.set_result(editor.result)
            return
        if self._modes and self._modes[-1] == "prompt":
            self._early_keys.append(key)  # typed right after ":" or "e", before the prompt is drawn
            return
        if runtime is None or self._modes:
            return
        if key == "q":
            self._command("quit")
        elif key == "r":
            self._command("reload all")
        elif key == "s":
            self._command("status")
        elif key == "?":
            self._command("help")
        elif key == "l":
            # Now, not as a queued command, so quick presses step through the levels one by one.
            set_log_level(runtime.command_context, next_log_level(runtime.options.log_level))
        elif key == "p":
            self._toggle_pause()
        elif key == ":":
            self.step_aside("prompt")  # now, so keys typed after ":" go to the prompt
            self._spawn(self._command_prompt(), "devnode-prompt")
        elif key == "e":
            self.step_aside("prompt")
            self._spawn(self._emit_prompt(), "devnode-prompt")
        elif key == "c":
            self._open_console()
        elif key == "R":
            self._command("restart")
        elif key == "o":
            self._open_last_error()

    def _command(self, line: str) -> None:
        assert self.runtime is not None
        self._spawn(self.runtime.run_command(line), f"devnode-key {line}")

    def _toggle_pause(self) -> None:
        self._paused = not self._paused
        if not self._paused:
            counts, self._paused_counts = self._paused_counts, Counter()
            self._queue.append(({"kind": "console.line", "ts": time.time()}, paused_summary(counts)))
        self._footer_stale = True
        self._poke()

    async def _ask(self, prompt: str, history: PromptHistory,
                   candidates: Callable[[str], Sequence[str]] | None = None) -> str | None:
        """One line typed at ``prompt`` (keys come from the key reader); None when cancelled."""
        assert self._loop is not None
        editor = LineEditor(prompt, history, self.console.file, lambda: self.console.width, candidates)
        answer: asyncio.Future[str | None] = self._loop.create_future()
        self._editor = (editor, answer)
        editor.open()
        early, self._early_keys = self._early_keys, []
        for key in early:
            if editor.feed(key) and not answer.done():
                answer.set_result(editor.result)
        try:
            return await answer
        finally:
            self._editor = None

    def _cancel_prompt(self) -> bool:
        """Escape, Ctrl-C or something else taking the terminal: the open prompt ends, nothing is run."""
        if self._editor is None:
            return False
        editor, answer = self._editor
        if not answer.done():
            editor.cancel()
            answer.set_result(None)
        return True

    async def _command_prompt(self) -> None:
        assert self.runtime is not None
        try:
            line = await self._ask(": ", self._command_history, self._command_words)
        finally:
            self.come_back()
        if line is not None and line.strip():
            await self.runtime.run_command(line)

    async def _emit_prompt(self) -> None:
        assert self.runtime is not None
        data = None
        try:
            kind = await self._ask("event type: ", self._emit_history, lambda _: [t.value for t in EventType])
            if kind is not None and kind.strip():
                data = await self._ask("data (JSON, Enter for {}): ", self._data_history)
        finally:
            self.come_back()
        if kind is not None and kind.strip() and data is not None:
            await self.runtime.run_command(f"emit {kind.strip()} {data.strip()}")

    def _command_words(self, line: str) -> list[str]:
        assert self.runtime is not None
        return complete(self.runtime.command_context, line)

    # -- the editor and histories across a restart -----------------------------------------------------
    def _remember_error(self, view: errors.ErrorView, record: Record) -> None:
        """The innermost plugin frame of the newest error: where ``o`` opens the editor."""
        if view.frames:
            frame = view.frames[-1]
            found = self.linker.resolve(frame.file, frame.line, frame.column)
        elif record.get("file") and record.get("line"):
            found = self.linker.resolve(str(record["file"]), int(record["line"]), record.get("column"))
        else:
            found = None
        if found is not None:
            self.last_error = found

    def _open_last_error(self) -> None:
        assert self.runtime is not None
        location = self.last_error
        if location is None:
            self.runtime.reporter.emit("command.error", command="o", error="no error to open yet")
            return
        command = editor_command(location, self.editor)
        if command is None:
            self.runtime.reporter.emit("command.error", command="o",
                                       error="no editor configured: set $EDITOR, $DEVNODE_EDITOR or --editor")
            return
        self.step_aside("prompt")  # a terminal editor gets the terminal until it exits
        self._spawn(self._edit(command), "devnode-editor")

    async def _edit(self, command: list[str]) -> None:
        assert self._loop is not None and self.runtime is not None
        try:
            problem = await on_thread(self._loop, lambda: run_editor(command))
        finally:
            self.come_back()
        if problem:
            self.runtime.reporter.emit("command.error", command="o", error=problem)

    def histories(self) -> dict[str, list[str]]:
        """The prompts' histories, handed to the next process by a restart."""
        return {"command": self._command_history.items, "emit": self._emit_history.items,
                "data": self._data_history.items}

    def _restore_histories(self) -> None:
        from devnode.restart import take_histories

        saved = take_histories()
        self._command_history.items = saved.get("command", [])
        self._emit_history.items = saved.get("emit", [])
        self._data_history.items = saved.get("data", [])

    # -- the Python console -----------------------------------------------------------------------
    def _open_console(self) -> None:
        if self.runtime is None or self._loop is None or self._closed:
            return
        self.step_aside("console")
        self._spawn(self._run_console(), "devnode-python-console")

    def python_console(self) -> NodeConsole:
        """The Python console on the live node (one per node: what was defined stays defined)."""
        assert self._loop is not None and self.runtime is not None
        if self._repl is None:
            self._repl = NodeConsole(namespace(self.runtime), self._loop)
            # What the author keeps in the console is theirs to drop: the leak check names it, not the plugin.
            self.runtime.host.leaks.own.namespaces.append((self._repl.locals, "the devnode console"))
        return self._repl

    async def _run_console(self) -> None:
        assert self._loop is not None and self.runtime is not None
        repl = self.python_console()
        try:
            await on_thread(self._loop, lambda: interact(repl))
        finally:
            self.come_back()

    def _release_own_references(self) -> None:
        """Before a leak check: the console's ``_`` and last error keep no retired plugin version alive."""
        if self._repl is None:
            return
        import builtins

        if refers_to_plugin_code(builtins.__dict__.get("_")):
            builtins._ = None  # type: ignore[attr-defined]
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if getattr(sys, name, None) is not None:
                setattr(sys, name, None)

    # -- Ctrl-C (the runtime's policy: devnode/interrupts.py) and resizing ------------------------
    def _follow_interrupts(self, interrupts: Interrupts) -> None:
        interrupts.claim = self._claim_interrupt
        interrupts.announce = self._announce
        interrupts.before_forced_exit = self._restore_terminal

    def _claim_interrupt(self) -> bool:
        """Ctrl-C in a prompt cancels it, in the Python console stops the code there; only at the dashboard it quits."""
        if self._cancel_prompt():
            return True
        if self._modes and self._modes[-1] == "console" and self._repl is not None:
            # As in any Python console, Ctrl-C stops the code running there, not the node.
            if not self._repl.interrupt():
                self._repl.write("\nKeyboardInterrupt (Ctrl-D or exit() returns to the dashboard)\n")
            return True
        return False

    def _announce(self, notice: str) -> None:
        self._queue.append(({"kind": "console.line", "ts": time.time()}, Text(notice, "bold " + style.WARNING)))
        self._poke()

    def _restore_terminal(self) -> None:
        self.footer.hide()
        if self.keys is not None:
            self.keys.restore_terminal()

    def _watch_resizes(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return
        try:
            if hasattr(signal, "SIGWINCH"):
                self._loop.add_signal_handler(signal.SIGWINCH, self._resized)
        except (NotImplementedError, RuntimeError):
            pass

    def _resized(self) -> None:
        """SIGWINCH: redraw the footer for the new width now, not at the next output."""
        self.footer.resized(self.console.width)
        if self.footer.shown and not self._modes and not self._closed:
            self.footer.update(self.footer_renderable())
            self.footer.draw()
            self._footer_drawn, self._footer_stale = time.monotonic(), False

    # -- helpers ------------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if self.runtime is not None:
            self.runtime.reporter.emit("command.error", command=task.get_name(), error=f"{type(exc).__name__}: {exc}")

    def _on_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _debuggable(self, exc: BaseException) -> bool:
        return self.plugin_dir is not None and bool(errors.plugin_tracebacks(exc.__traceback__, self.plugin_dir))


def refers_to_plugin_code(value: object, depth: int = 1) -> bool:
    """Whether ``value`` is (or, one level down, contains) something from a plugin module."""
    from devnode.host.naming import PACKAGE

    def from_plugin(v: object) -> bool:
        module = getattr(v, "__module__", None) if isinstance(v, (type, types.FunctionType, types.MethodType)) \
            else getattr(type(v), "__module__", None)
        if isinstance(v, types.ModuleType):
            module = v.__name__
        return isinstance(module, str) and (module == PACKAGE or module.startswith(PACKAGE + "."))

    if value is None:
        return False
    if from_plugin(value):
        return True
    if depth and isinstance(value, (list, tuple, set, frozenset, dict)):
        items = list(value.values() if isinstance(value, dict) else value)[:100]
        return any(refers_to_plugin_code(item, depth - 1) for item in items)
    return False


def plugin_count(rows: Sequence[dict[str, Any]]) -> str:
    """``6 plugin(s) (1 failed)``: counts every row the table shows, and says which are not serving."""
    states = Counter(r.get("state") for r in rows)
    text = f"{len(rows)} plugin(s)"
    others = [f"{n} {state}" for state, n in sorted(states.items(), key=lambda kv: str(kv[0])) if state != "active"]
    return text + (f" ({', '.join(others)})" if others else "")


def _exception_for(record: Record) -> BaseException | None:
    """The exception behind a ``plugin.failed`` record: the one being handled while the host reports it."""
    exc = sys.exc_info()[1]
    problem = getattr(exc, "problem", None)  # the host wraps start failures; the plugin's exception is inside
    inner = getattr(problem, "exception", None)
    if isinstance(inner, BaseException):
        exc = inner
    if exc is None or type(exc).__name__ not in (record.get("error") or ""):
        return None  # some other exception being handled further up: not this failure
    return exc


def _render_safely(record: Record, width: int) -> RenderableType:
    """A record the console cannot lay out (an unexpected shape) still shows, as its raw fields."""
    try:
        return history.render(record, width)
    except (KeyError, TypeError, ValueError, AttributeError):
        return Text(f"{record.get('kind')}: {record!r}")
