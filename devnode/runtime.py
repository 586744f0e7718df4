"""One running dev node: node + plugin host + watcher + UI + command input, on one event loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from devnode import authoring
from devnode.codes import WarningCode
from devnode.command_feed import CommandFeed, private_stream
from devnode.config import NodeConfig
from devnode.bus import Event, EventType, HandlerResult
from devnode.host.host import PluginHost
from devnode.interrupts import Interrupts
from devnode.paused import exclude_pauses
from devnode.process_ownership import OwnedExecutor, keep_handler, process_leftovers
from devnode.reload.reloader import Reloader
from devnode.reporting import Record, Reporter
from devnode.session import NodeChoice, NodeSession
from devnode.ui.records import PluginLogBridge, event_fields
from devnode.watchdog import Watchdog

if TYPE_CHECKING:  # scenarios, recordings and commands are imported only when needed (start-up time)
    from devnode.records import NodeStopped
    from devnode.commands import CommandContext
    from devnode.recording import Recorder

UI = Callable[[Record], None]


@dataclass
class RunOptions:
    """How ``devnode run`` behaves, beyond the node's configuration."""

    watch: bool = True
    debounce_ms: int = 1600
    step_ms: int = 10
    force_polling: bool = False
    timeout: float = 5.0
    log_level: str = "INFO"
    read_commands: bool = True
    check_leaks: bool = True
    stall_warn: float = 1.0  # seconds of blocked event loop before a stall warning (interrupted after timeout)
    # Scenarios and record/replay (docs/scenarios.md, docs/record-replay.md).
    scenario: str | None = None
    loop_scenario: bool = False
    record: str | None = None
    replay: str | None = None
    fast: bool = False
    headless: bool = False  # stop once the scenario/replay is done; run() returns 0/1 on its outcome
    node: NodeChoice = field(default_factory=NodeChoice)  # stand-in or production-backed (--node)
    debug_adapter: str | None = None  # [HOST:]PORT for an editor's debugger (docs/debugging.md); None: nothing listens
    wait_for_client: bool = False
    # The authoring loop (docs/reload.md, docs/authoring.md): watch scope, .env, editor, tests on save.
    watch_paths: list[Path] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    env_file: Path | None = None  # the .env in use: watched, a change restarts the node with it
    editor: str | None = None
    test_args: list[str] | None = None  # devnode run --test [PYTEST_ARGS]
    test_timeout: float = 60.0
    config_loader: Callable[[], NodeConfig] | None = None  # re-reads the configuration (after a .env change)


class Runtime:
    """Owns the node's lifetime; ``await run()`` returns the process exit code."""

    def __init__(
        self,
        config: NodeConfig,
        options: RunOptions,
        ui: UI,
        commands_in: IO[str] | None = None,
        on_start: Callable[[Runtime], None] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.ui = ui
        self.commands_in = commands_in
        # Called on the loop once node and host exist, before plugins load (the rich console's hook).
        self.on_start = on_start
        self.reporter = Reporter()
        self.reporter.add_sink(ui)
        self.reporter.on_output_closed = lambda: self.request_stop("output closed")
        self.stop_event = asyncio.Event()
        self.stop_reason = "quit"
        self.interrupts = Interrupts(self.request_stop)  # the one Ctrl-C policy; a UI may hook into it
        self.session = NodeSession(config, self.reporter, kind=options.node.kind, production=options.node.production,
                                   timeout=options.timeout, check_leaks=options.check_leaks)
        self.node: Any  # a DevNode or production's Node
        self.host: PluginHost
        self.reloader: Reloader | None = None
        self._command_context: CommandContext | None = None  # see command_context
        self._log_bridge = keep_handler(PluginLogBridge(self.reporter))  # basicConfig(force=True) cannot drop it
        self._feed: CommandFeed | None = None
        # What plugins left running that devnode could not stop (threads, executor jobs): the CLI ends
        # the process without waiting for them (see cli._serve), so quit is bounded.
        self.abandoned: list[str] = []
        self._executor: OwnedExecutor | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = False
        self._root_level = logging.WARNING
        self.exit_code = 0
        self.recorder: Recorder | None = None
        self.debug_adapter: Any = None
        self.restart_reason: str | None = None  # set by request_restart(); the CLI then starts devnode afresh
        self.env_values: dict[str, str | None] = {}  # the .env as read at start (authoring.env_changed diffs it)
        self.test_runner: Any = None  # devnode run --test (devnode/testrun.py)

    # -- the whole life of the node --------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        if self.commands_in is not None and self.options.read_commands:
            # Taken before any plugin code runs: a plugin closing sys.stdin (or fd 0) cannot cut the node off.
            self.commands_in = private_stream(self.commands_in)
        # devnode's own default executor, so that at exit it can stop waiting for jobs plugins left in it.
        self._executor = OwnedExecutor(thread_name_prefix="devnode-executor")
        loop.set_default_executor(self._executor)
        self.interrupts.install(loop)
        self._install_logging()
        watchdog = Watchdog(self.reporter, Path(self.config.plugin_dir), warn_after=self.options.stall_warn,
                            interrupt_after=self.options.timeout)
        watchdog.start(loop)
        try:
            if self.options.record:
                from devnode.recording import Recorder

                self.recorder = Recorder(self.options.record, self.config.node_id)
            await self.session.open()
            assert self.session.host is not None
            self.node, self.host = self.session.node, self.session.host
            for code, message in self.session.notices():
                self.reporter.emit("warning", code=WarningCode(code), plugin=None, message=message)
            if hasattr(self.node, "on_data_dir_replaced"):  # devnode's own node reports a vanished data dir
                self.node.on_data_dir_replaced = lambda message: self.reporter.emit(
                    "warning", code=WarningCode.DATA_DIR_REPLACED, plugin=None, message=message)
            self.node.event_bus.add_observer(self._on_event)
            self.node.event_bus.add_observer(exclude_pauses, first=True)  # before any handler time is reported
            if self.on_start is not None:
                self.on_start(self)
            if self.recorder is not None:
                self.recorder.attach(self.node)
            await self.session.start_node()
            if self.options.debug_adapter is not None:
                from devnode.debug_adapter import start_debug_adapter

                self.debug_adapter = await start_debug_adapter(self, self.options.debug_adapter,
                                                               self.options.wait_for_client)
            elif "pydevd" in sys.modules:  # run under an IDE's debugger: its stops are not handler time either
                from devnode.debug_adapter import follow_running_debugger

                self.debug_adapter = follow_running_debugger(self)
            await self.host.start()
            authoring.install(self)
            if self.options.watch:
                self.reloader = Reloader(
                    self.host, debounce_ms=self.options.debounce_ms, step_ms=self.options.step_ms,
                    force_polling=self.options.force_polling, scope=authoring.watch_scope(self),
                    on_env_change=lambda path: authoring.env_changed(self, path),
                )
                self._tasks.append(loop.create_task(self.reloader.run(self.stop_event), name="devnode-watcher"))
                await _first_of(self.reloader.ready.wait(), self.stop_event.wait())
            self.reporter.emit(
                "node.ready", node_id=self.config.node_id, plugin_dir=self.config.plugin_dir,
                data_dir=self.config.data_dir, plugins=sorted(self.host.plugins), watching=self.options.watch,
                **self.session.ready_fields(),
                **authoring.ready_fields(self),
            )
            await self.host.bus.publish(Event(EventType.NODE_STARTED, {"node_id": self.config.node_id}))
            if self.commands_in is not None and self.options.read_commands:
                self._start_command_reader(loop)
            if self.options.scenario or self.options.replay:
                from devnode.playback import run_requested

                self.start_task(run_requested(self), "devnode-playback")
            await self.stop_event.wait()
            await self._shutdown()
        finally:
            if not self._stopped:
                await self._abandon()
            watchdog.stop()
            self._abandon_leftovers(loop)
            if self.debug_adapter is not None:
                self.debug_adapter.stop()
            if self.recorder is not None:
                self.recorder.close()
            self._uninstall_logging()
            await self.session.close()  # removes the global hooks
        return self.exit_code

    async def _shutdown(self) -> None:
        # Each step is bounded: plugin code (a NODE_STOPPING handler, a shutdown() that swallows its
        # cancellation) cannot keep quit from finishing.
        await self._bounded_step(self.host.bus.publish(Event(EventType.NODE_STOPPING, {"node_id": self.config.node_id})),
                                 "the system.node_stopping handlers")
        if self._feed is not None:
            self._feed.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=self.options.timeout) if self._tasks else None
        plugins = max(1, len(self.host.known()))
        await self._bounded_step(self.session.stop_plugins(), "shutting the plugins down",
                                 (self.options.timeout * 3 + 1) * plugins)
        await self.session.stop_node()
        self._stopped = True
        leftovers = await self._wait_for_leftovers()
        stopped: NodeStopped = {"reason": self.stop_reason}
        if leftovers:
            stopped["abandoned"] = leftovers
        self.reporter.emit("node.stopped", **stopped)

    async def _bounded_step(self, coro: Any, what: str, seconds: float | None = None) -> None:
        limit = seconds if seconds is not None else self.options.timeout + 1.0
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=limit)
        if done:
            task.result()
            return
        task.cancel()
        self.reporter.emit("warning", code=WarningCode.ABANDONED, plugin=None,
                           message=f"{what} did not finish within {limit:g} s; devnode stops without waiting for it")

    async def _wait_for_leftovers(self) -> list[str]:
        """Give plugin threads and executor jobs a last moment, then name what quit will not wait for."""
        deadline = time.monotonic() + min(self.options.timeout, 2.0)
        while process_leftovers(self._executor) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.abandoned = process_leftovers(self._executor)
        if self.abandoned:
            self.reporter.emit(
                "warning", code=WarningCode.ABANDONED, plugin=None, threads=self.abandoned,
                message=f"plugins left {len(self.abandoned)} thread(s) or executor job(s) running after every plugin "
                "shut down: " + ", ".join(repr(t) for t in self.abandoned) + "; devnode exits without waiting for "
                "them. Stop them in shutdown() (signal the thread, await the executor future)",
            )
        return self.abandoned

    def _abandon_leftovers(self, loop: asyncio.AbstractEventLoop) -> None:
        """asyncio.run waits for the default executor's jobs without limit: hand it an idle one instead."""
        if self._executor is None:
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="devnode-idle"))
        self._executor = None

    async def _abandon(self) -> None:
        """Start-up failed half-way: still shut down what was started, so the store is closed cleanly."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.session.stop()
        self._stopped = True

    def request_stop(self, reason: str = "quit") -> None:
        self.stop_reason = reason
        self.stop_event.set()

    def request_restart(self, reason: str = "restart command") -> None:
        """Shut everything down cleanly, then start devnode again with the same arguments (see cli)."""
        if self.restart_reason is None:
            self.restart_reason = reason
            self.reporter.emit("node.restarting", reason=reason)
        self.request_stop("restart")

    def start_task(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background until it ends or the node stops (it is cancelled then)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.append(task)
        return task

    # -- what the UIs and commands use --------------------------------------------------
    @property
    def command_context(self) -> CommandContext:
        """What commands get of this runtime, once node and host exist; the commands load on first use, after ready."""
        if self._command_context is None:
            from devnode.commands import CommandContext

            self._command_context = CommandContext(
                node=self.node, host=self.host, reporter=self.reporter, stop=self.request_stop,
                restart=None if self.options.headless else self.request_restart, start_task=self.start_task,
                set_log_level=self.set_log_level,
            )
        return self._command_context

    def set_log_level(self, level: str) -> None:
        self.options.log_level = level
        logging.getLogger("plugins").setLevel(level)

    async def run_command(self, line: str) -> None:
        from devnode.commands import execute

        await execute(self.command_context, line)

    # -- plumbing ------------------------------------------------------------------------
    def _on_event(self, event: Event, results: list[HandlerResult]) -> None:
        # A UI may build the fields itself (the JSON UI encodes the entries as it goes): the same fields.
        self.reporter.emit("event", **getattr(self.ui, "event_fields", event_fields)(event, results))

    def _install_logging(self) -> None:
        root = logging.getLogger()
        root.addHandler(self._log_bridge)
        self._root_level = root.level
        if root.level > logging.DEBUG:
            root.setLevel(logging.WARNING)
        logging.getLogger("plugins").setLevel(self.options.log_level)
        logging.getLogger("devnode").setLevel(logging.WARNING)

    def _uninstall_logging(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self._log_bridge)
        root.setLevel(self._root_level)

    def _start_command_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read commands on a thread (stdin may be a pipe or a terminal); run them on the loop, fairly."""
        assert self.commands_in is not None
        # A little past the handlers' own deadline, so a slow handler is reported as such first.
        self._feed = CommandFeed(self.commands_in, self.run_command, self.reporter, self.options.timeout + 1.0)
        self._tasks.append(self._feed.start(loop))


async def _first_of(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
