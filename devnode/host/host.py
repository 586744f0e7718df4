"""The plugin host: loads, swaps and unloads plugins exactly as production names them.

A swap (load, reload, bring-back) is one transaction per plugin:

1. import the new module from disk; if that fails, the running version is untouched;
2. hold the plugin's events (they queue instead of reaching a half-swapped plugin);
3. shut the old instance down and sweep its ledger (subscriptions, tasks, patches);
4. construct and initialize the new one under a fresh ledger; if that fails, sweep
   it and bring the previous version back, with its carried-over state;
5. release the held events to whichever version now serves: each event reaches
   exactly one version, exactly once.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
import time
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from inspect import isawaitable
from pathlib import Path
from typing import Any, Literal

from devnode import safe
from devnode.bus import EventBus, Hold
from devnode.codes import WarningCode
from devnode.host import contract, dependencies, parity
from devnode.host.diagnostics import PluginLookupError, PluginProblem, diagnose, drop_frames
from devnode.host.file_reads import recording_reads
from devnode.host.importer import PluginImporter
from devnode.host.imports import ModuleGraph
from devnode.host.leaks import LeakWatch
from devnode.host.node_like import NodeLike
from devnode.host.links import LinkGuard
from devnode.host.naming import candidate_modules, expected_class_name, module_path
from devnode.host.run_errors import RunErrors
from devnode.ownership import MISSING, Ledger, _task_owner, reset_current, set_current
from devnode.process_ownership import undo_all
from devnode.process_state import StateSnapshot
from devnode.reporting import Reporter

# What production logs, mirrored on production's logger names for code that watches them; devnode's own UI
# shows its richer records instead (the log bridge skips records marked with MIRROR).
MIRROR = {"devnode_mirror": True}
_loader_log = logging.getLogger("services.plugin_manager")
_node_log = logging.getLogger("services.node")

# Optional hook pair for carrying state across a reload (documented in docs/reload.md).
SAVE_HOOK = "devnode_save_state"
RESTORE_HOOK = "devnode_restore_state"


LEAK_CHECK_DELAY = 0.25  # seconds after the last swap; batches of reloads share one gc pass
SINGULAR = {"subscriptions": "subscription", "tasks": "task", "patches": "patch",
            "process changes": "process change"}


class PluginState(str, Enum):
    ACTIVE = "active"
    FAILED_RUNNING_PREVIOUS = "failed-running-previous"
    FAILED = "failed"
    UNLOADED = "unloaded"


@dataclass(eq=False)
class PluginSlot:
    """Everything the host knows about one plugin name, across its versions."""

    name: str
    path: Path
    state: PluginState = PluginState.UNLOADED
    module: types.ModuleType | None = None
    instance: Any = None
    ledger: Ledger | None = None
    problem: PluginProblem | None = None
    reloads: int = 0
    last_change: float | None = None
    handled_before: int = 0  # events handled by earlier versions
    errors_before: int = 0
    warned: set[str] = field(default_factory=set)
    held: Hold | None = None  # a hold that spans two steps (lifted for a restack, ended by _restack)
    files_read: set[Path] = field(default_factory=set)  # data files read while loading

    @property
    def serving(self) -> bool:
        return self.instance is not None

    @property
    def version(self) -> str | None:
        for source in (self.instance, self.module):
            for name in ("version", "__version__"):
                value = safe.attribute(source, name)  # a property raising must not fail a swap or a status
                if isinstance(value, str):
                    return value
        return None

    def status(self) -> dict[str, Any]:
        counts = self.ledger.counts() if self.ledger else {"subscriptions": 0, "tasks": 0, "patches": 0, "threads": 0}
        handled = self.handled_before + (self.ledger.events_handled if self.ledger else 0)
        errors = self.errors_before + (self.ledger.errors if self.ledger else 0)
        return {
            "plugin": self.name,
            "version": self.version,
            "state": self.state.value,
            "reloads": self.reloads,
            "last_change": self.last_change,
            "events_handled": handled,
            "errors": errors,
            "error": self.problem.error if self.problem else None,
            **counts,
        }


class _StartFailed(Exception):
    def __init__(self, problem: PluginProblem) -> None:
        super().__init__(problem.error)
        self.problem = problem


class PluginHost:
    """Discovers, loads, swaps and unloads the plugins of one plugin dir on one node."""

    def __init__(
        self,
        node: NodeLike,
        plugin_dir: Path,
        reporter: Reporter,
        *,
        timeout: float = 5.0,
        check_leaks: bool = True,
    ) -> None:
        self.node = node
        # The node's bus as it was when the host was made: a plugin replacing node.event_bus must not
        # take the host's holds and sweeps with it (the replacement is its patch, undone at unload).
        self._bus: EventBus = node.event_bus
        self._bus.handler_timeout = timeout  # an async handler that never returns must not hold up the node
        self.plugin_dir = plugin_dir.resolve()
        self.reporter = reporter
        self.timeout = timeout
        self.slots: dict[str, PluginSlot] = {}
        self.importer = PluginImporter(self.plugin_dir)
        self.graph = ModuleGraph(self.plugin_dir)
        self.leaks = LeakWatch(grace=timeout + LEAK_CHECK_DELAY)
        self.check_leaks = check_leaks
        self._lock = asyncio.Lock()
        self._stale_helpers: dict[str, Any] = {}  # helper module -> the module object its new code replaces
        # Handler and task exceptions of serving plugins become plugin.error records with file and line.
        self.run_errors = RunErrors(reporter, self.plugin_dir, lambda name: module_path(self.plugin_dir, name))
        self.bus.add_observer(self.run_errors.observe)
        self.links = LinkGuard(self.plugin_dir)  # symlinks out of the plugin dir are reported once
        self._leak_check: asyncio.TimerHandle | None = None
        self._deliveries: set[asyncio.Task[None]] = set()  # held events on their way (the loop keeps tasks weakly)
        self._starting = False
        self._shutdown_failures = 0
        self._last_shutdown_error = ""
        notices = getattr(node, "parity_notices", None)  # the stand-in's "production would do X" notices
        if notices is not None:
            notices.add_sink(lambda notice: self.reporter.emit("warning", **notice.to_record()))

    # -- production-compatible surface (node.plugin_manager) -------------------
    @property
    def plugins(self) -> dict[str, Any]:
        return {name: slot.instance for name, slot in self.slots.items() if slot.serving}

    def get_plugin(self, name: str) -> Any:
        slot = self.slots.get(name)
        return slot.instance if slot else None

    @property
    def bus(self) -> EventBus:
        return self._bus

    # -- discovery -------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        """Modules in the plugin dir that are plugins (not helpers), sorted."""
        return [m for m in candidate_modules(self.plugin_dir) if not self.is_helper(m)]

    def is_helper(self, module: str) -> bool:
        if module in self.slots and self.slots[module].serving:
            return False
        return self.graph.is_helper(module)

    # -- lifecycle -------------------------------------------------------------
    async def start(self, reverse: bool = False) -> None:
        """Load every plugin (``reverse`` order lets ``devnode check`` catch order reliance)."""
        self.importer.install()
        for warning in parity.check_plugin_dir(self.plugin_dir) + self.links.scan():
            self._warn(None, warning)
        async with self._lock:
            names = candidate_modules(self.plugin_dir)
            self._starting = True
            try:
                for name in reversed(names) if reverse else names:
                    if self.is_helper(name):
                        self._warn_helper(name)
                        _loader_log.error(f"Failed to load plugin {name}: module 'plugins.{name}' has no attribute "
                                          f"'{expected_class_name(name)}'", extra=MIRROR)
                    else:
                        await self._swap(name, trigger=None)
            finally:
                self._starting = False

    def load_plugins(self) -> None:
        """Production's sync name: load every plugin, on the running loop (devnode's host is async)."""
        self._soon(self.start())

    def shutdown_plugins(self) -> None:
        """Production's sync name: shut every plugin down, on the running loop."""
        self._soon(self.stop())

    def _soon(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())  # owned by no plugin
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def stop(self) -> None:
        """Shut every plugin down (each isolated), then release the import hooks."""
        async with self._lock:
            raised = [slot.name for slot in self.slots.values() if slot.serving]
            failures_before = self._shutdown_failures
            for name in list(self.slots):
                await self._retire(name, reason="node stopping")
            if self._shutdown_failures > failures_before and raised:
                _node_log.error(f"Error shutting down plugins: {self._last_shutdown_error}", extra=MIRROR)
                _node_log.warning("Node stopped with 1 error(s)", extra=MIRROR)
        if self._leak_check is not None:
            self._leak_check.cancel()
            self._leak_check = None
        self.importer.uninstall()

    async def load(self, name: str, trigger: Sequence[str] | None = None) -> bool:
        async with self._lock:
            return await self._swap(name, trigger)

    async def reload(
        self,
        names: Iterable[str],
        trigger: Sequence[str] | None = None,
        purge: Sequence[str] = (),
        detect_ms: float | None = None,
        triggers: dict[str, list[str]] | None = None,
    ) -> dict[str, bool]:
        """Swap each named plugin (in order), re-executing the ``purge`` helpers fresh first.

        ``purge`` names helper modules (``support`` or ``_common``); their
        submodules are re-executed too.
        """
        results: dict[str, bool] = {}
        async with self._lock:
            self._stale()  # forget helpers re-executed since, so their current module is the one to replace
            for n in self.importer.with_submodules(purge):
                self._stale_helpers.setdefault(n, sys.modules.get(n))
            for name in names:
                why = (triggers or {}).get(name, trigger)
                # Helpers are re-executed once: by the first import that succeeds, in this batch or a later one.
                results[name] = await self._swap(name, why, purge=self._stale(), detect_ms=detect_ms)
        self.after_changes()
        return results

    def _stale(self) -> list[str]:
        """Changed helpers whose new code has not run yet (a broken one stays here until it imports).

        Every import re-executes them, so no plugin loads against a helper's old code
        while the file on disk says something else.
        """
        self._stale_helpers = {n: old for n, old in self._stale_helpers.items() if sys.modules.get(n) is old}
        return list(self._stale_helpers)

    async def unload(self, name: str, reason: str = "requested") -> bool:
        async with self._lock:
            done = await self._retire(name, reason)
        self.after_changes()
        return done

    def after_changes(self) -> None:
        """Check for leaked old versions soon, off the reload's path (a full gc is not free)."""
        if self.check_leaks and self.leaks.pending and self._leak_check is None:
            self._leak_check = asyncio.get_running_loop().call_later(LEAK_CHECK_DELAY, self._confirm_leaks)

    def report_leaks(self, confirm: bool = False) -> None:
        """Report old versions still alive; ``confirm`` (the background check): only what stays alive.

        A direct call reports at once: its caller knows nothing is under way. The
        background check runs while the loop works, so what it finds alive the
        first time it looks at again shortly (a result on its way back to the
        publisher can hold an old version for a moment).
        """
        self._leak_check = None
        if self.leaks.pending:
            leftovers = self.leaks.check(in_flight=confirm and self.bus.in_flight > 0, running=confirm)
            if self.leaks.pending and confirm:
                self._leak_check = asyncio.get_running_loop().call_later(LEAK_CHECK_DELAY * 2, self._confirm_leaks)
            for leftover in leftovers:
                self.reporter.emit(
                    "warning",
                    code=WarningCode.LEAK,
                    plugin=leftover.plugin,
                    message=f"the previous {leftover.plugin} {leftover.what} is still alive after unload; held by: "
                    + "; ".join(leftover.holders),
                    holders=leftover.holders,
                )

    def _confirm_leaks(self) -> None:
        self.report_leaks(confirm=True)

    def status(self) -> list[dict[str, Any]]:
        return [slot.status() for slot in sorted(self.slots.values(), key=lambda s: s.name)]

    # -- the swap transaction -----------------------------------------------------
    async def _swap(
        self, name: str, trigger: Sequence[str] | None, purge: Sequence[str] = (), detect_ms: float | None = None
    ) -> bool:
        slot = self.slots.get(name) or self.slots.setdefault(name, PluginSlot(name, module_path(self.plugin_dir, name)))
        timings: dict[str, float] = {} if detect_ms is None else {"detect": round(detect_ms, 3)}
        started = time.perf_counter()
        was_serving = slot.serving

        # 1. import: nothing running is touched until this succeeds. What the module body
        #    starts (tasks, subscriptions, threads) is owned by import_ledger until then.
        import_ledger = Ledger(name)
        try:
            token = set_current(import_ledger)
            snapshot = StateSnapshot(self.node)
            try:
                with recording_reads(self.plugin_dir):
                    module = self.importer.import_fresh(name, purge or self._stale())
            finally:
                reset_current(token)
                self._after_phase(name, import_ledger, snapshot)
            cls = self._plugin_class(module, name)
        except BaseException as exc:  # anything plugin code raises, BaseException subclasses too
            if not safe.is_plugin_failure(exc):
                raise
            phase = "lookup" if isinstance(exc, PluginLookupError) else "import"
            await self._sweep(name, import_ledger, quiet=True)
            self._failed(slot, diagnose(exc, phase, name, self.plugin_dir, slot.path), trigger)
            return False
        timings["import"] = _ms(started)
        self.graph.update(name)
        for warning in parity.check_class(name, cls, slot.path):
            self._warn(slot, warning)
        for warning in dependencies.check_module(name, slot.path, self.plugin_dir, self.graph.third_party.get(name)):
            self._warn(slot, warning)
        for warning in contract.misspelt_lifecycle(name, cls, slot.path):
            self._note_once(slot, "warning", warning.message, **warning.to_record())

        # 2-5. hold events, retire the old version, start the new one (or bring the old back)
        old_module, old_class = slot.module, type(slot.instance) if was_serving else None
        carried: Any = MISSING
        restack: list[tuple[str, Any]] = []
        async with self.bus.holding(name):
            if was_serving:
                carried = await self._save_state(slot)
                restack = await self._lift_stacked(slot)
                t = time.perf_counter()
                await self._shutdown_instance(slot, reason="reload")
                timings["shutdown"] = _ms(t)
            else:
                timings["shutdown"] = 0.0
            try:
                await self._start_instance(slot, module, cls, carried, timings)
            except _StartFailed as failure:
                await self._sweep(name, import_ledger, quiet=True)
                self._failed(slot, failure.problem, trigger, bring_back=old_class is not None)
                if old_module is not None and old_class is not None:
                    await self._bring_back(slot, old_module, old_class, carried)
                return False
            finally:
                for other, state in restack:
                    await self._restack(other, state)

        slot.module, slot.state, slot.problem = module, PluginState.ACTIVE, None
        slot.last_change = time.time()
        assert slot.ledger is not None
        slot.ledger.absorb(import_ledger)
        slot.files_read = set(slot.ledger.files_read)
        self._note_unsubscribed(slot, cls)
        timings["total"] = round(_ms(started) + timings.get("detect", 0.0), 3)
        if was_serving:
            slot.reloads += 1
            self.reporter.emit(
                "plugin.reloaded", plugin=name, version=slot.version, trigger=list(trigger or []), timings=timings,
                **slot.ledger.counts() if slot.ledger else {},
            )
        else:
            self.reporter.emit(
                "plugin.loaded", plugin=name, version=slot.version, file=self._rel(slot.path), timings=timings,
                **slot.ledger.counts() if slot.ledger else {},
            )
        if old_class is not None and self.check_leaks:
            self.leaks.expect_freed(name, old_class)
        return True

    def _plugin_class(self, module: types.ModuleType, name: str) -> type:
        expected = expected_class_name(name)
        cls = getattr(module, expected, None)
        if cls is not None and callable(cls):
            return cls  # type: ignore[no-any-return]
        classes = [k for k, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__]
        if cls is not None:
            raise PluginLookupError(
                f"{expected} in {name}.py is a {type(cls).__name__}, not a class",
                f"define `class {expected}:` with __init__(self, node), initialize() and shutdown()",
            )
        near = [c for c in classes if c.lower() == expected.lower() or c.lower().endswith("plugin")]
        found = ", ".join(classes) if classes else "none"
        hint = (
            f"rename class {near[0]} to {expected}: production looks for the file name with only its first "
            f"letter upper-cased (str.capitalize()) + 'Plugin' (classes found: {found})"
            if near
            else f"define `class {expected}:` in {name}.py; production looks for "
            f"{name!r}.capitalize() + 'Plugin' (classes found: {found})"
        )
        line = _class_line(module, near[0]) if near else None
        raise PluginLookupError(f"{name}.py has no class {expected}", hint, line)

    async def _start_instance(
        self, slot: PluginSlot, module: types.ModuleType, cls: type, carried: Any, timings: dict[str, float]
    ) -> None:
        ledger = Ledger(slot.name, on_task_error=self.run_errors.task_failed)
        slot.ledger, slot.instance = ledger, None
        token = set_current(ledger)
        snapshot = StateSnapshot(self.node, plugin_modules=True)
        phase = "construct"
        try:
            with recording_reads(self.plugin_dir):
                t = time.perf_counter()
                instance = cls(self.node)
                for warning in parity.check_instance(slot.name, cls, instance, slot.path):
                    self._warn(slot, warning)
                restore = safe.attribute(instance, RESTORE_HOOK) if carried is not MISSING else None
                if callable(restore):
                    phase = "restore-state"
                    result = restore(carried)
                    if isawaitable(result):  # an async hook is awaited, like an async initialize()
                        await _within(result, self.timeout)
                timings["construct"] = _ms(t)
                phase = "initialize"
                t = time.perf_counter()
                initialize = safe.attribute(instance, "initialize")
                if initialize is not None:
                    result = initialize()
                    if isawaitable(result):
                        await _within(result, self.timeout)
                timings["initialize"] = _ms(t)
        except BaseException as exc:
            if not safe.is_plugin_failure(exc):
                await self._sweep(slot.name, ledger, quiet=True)
                slot.ledger = None
                raise
            if isinstance(exc, asyncio.TimeoutError):
                what = RESTORE_HOOK if phase == "restore-state" else phase
                exc = TimeoutError(f"async {what}() did not finish within {self.timeout:g} s (see --timeout)")
            problem = diagnose(exc, phase, slot.name, self.plugin_dir, slot.path)
            if phase == "initialize":
                self._warn(slot, parity.initialize_raised(slot.name, problem.file, problem.line))
            await self._sweep(slot.name, ledger, quiet=True)
            slot.ledger = None
            raise _StartFailed(problem) from None
        finally:
            reset_current(token)
            self._after_phase(slot.name, ledger, snapshot)
        slot.instance = instance

    async def _bring_back(self, slot: PluginSlot, module: types.ModuleType, cls: type, carried: Any) -> None:
        """The new version failed to start: serve the previous one again."""
        self.importer.restore(slot.name, module)
        try:
            try:
                await self._start_instance(slot, module, cls, carried, {})
            except _StartFailed as failure:
                if carried is MISSING or failure.problem.phase != "restore-state":
                    raise
                # Its own restore hook fails on the state it saved: serve it fresh rather than not at all.
                self.reporter.emit("warning", code=WarningCode.RESTORE_STATE_FAILED, plugin=slot.name, file=failure.problem.file,
                                   line=failure.problem.line,
                                   message=f"{RESTORE_HOOK}() of the previous {slot.name} raised too "
                                   f"({failure.problem.error}); it serves again with fresh state")
                await self._start_instance(slot, module, cls, MISSING, {})
        except _StartFailed as failure:
            slot.state, slot.module = PluginState.FAILED, None
            self.reporter.emit("warning", code=WarningCode.RESTORE_FAILED, plugin=slot.name,
                               message=f"the previous version of {slot.name} could not be restarted: {failure.problem.error}")
            return
        slot.module, slot.state = module, PluginState.FAILED_RUNNING_PREVIOUS

    async def _retire(self, name: str, reason: str) -> bool:
        slot = self.slots.get(name)
        if slot is None:
            return False
        if slot.serving:
            async with self.bus.holding(name):
                restack = await self._lift_stacked(slot)
                old_class = type(slot.instance)
                await self._shutdown_instance(slot, reason)
                for other, state in restack:
                    await self._restack(other, state)
            if self.check_leaks:
                self.leaks.expect_freed(name, old_class)
        was_serving = slot.state in (PluginState.ACTIVE, PluginState.FAILED_RUNNING_PREVIOUS)
        slot.state, slot.module, slot.problem = PluginState.UNLOADED, None, None
        self.importer.forget(name)
        if was_serving or reason == "file deleted":
            self.reporter.emit("plugin.unloaded", plugin=name, reason=reason)
        if reason == "file deleted":
            del self.slots[name]
        return True

    async def _shutdown_instance(self, slot: PluginSlot, reason: str) -> None:
        """Call shutdown() (bounded), then sweep whatever it left behind."""
        ledger, instance = slot.ledger, slot.instance
        assert ledger is not None
        shutdown = safe.attribute(instance, "shutdown")
        if callable(shutdown):
            token = set_current(ledger)
            snapshot = StateSnapshot(self.node, plugin_modules=True)
            try:
                result = shutdown()
                if isawaitable(result):
                    await _within(result, self.timeout)
            except BaseException as exc:
                if not safe.is_plugin_failure(exc):
                    raise
                if isinstance(exc, asyncio.TimeoutError):
                    exc = TimeoutError(f"async shutdown() did not finish within {self.timeout:g} s; "
                                       "devnode cleaned up after it (see --timeout)")
                problem = diagnose(exc, "shutdown", slot.name, self.plugin_dir, slot.path)
                self._shutdown_failures += 1
                self._last_shutdown_error = str(exc)
                self.reporter.emit("plugin.failed", running="none" if reason != "reload" else "new",
                                   **problem.to_record(), problem=problem)
                self._warn(slot, parity.shutdown_raised(slot.name, problem.file))
                drop_frames(exc)
            finally:
                reset_current(token)
                self._after_phase(slot.name, ledger, snapshot)
        await self._sweep(slot.name, ledger)
        slot.handled_before += ledger.events_handled
        slot.errors_before += ledger.errors
        slot.instance, slot.ledger = None, None

    async def _sweep(self, name: str, ledger: Ledger, quiet: bool = False) -> None:
        """Remove everything the plugin registered and did not release itself."""
        cleaned: dict[str, Any] = {}
        file = self._rel(module_path(self.plugin_dir, name))  # warnings name the file to fix
        subs = list(ledger.subscriptions)
        for sub in subs:
            self.bus.remove_subscription(sub)
        ledger.subscriptions.clear()
        if subs:
            cleaned["subscriptions"] = [f"{_event_name(s.event_type)} -> {getattr(s.callback, '__qualname__', s.callback)}" for s in subs]
        current = asyncio.current_task()
        live = [t for t in ledger.live_tasks() if t is not current]
        # Tasks the plugin cancelled itself are finishing, not left behind: only wait for them.
        tasks = [t for t in live if not t.cancelling()]
        for task in tasks:
            task.cancel()
        if live:
            await asyncio.wait(live, timeout=self.timeout)
        if tasks:
            cleaned["tasks"] = [t.get_name() + (" (ignored cancel)" if not t.done() else "") for t in tasks]
        patches = []
        for patch in reversed(ledger.patches):
            if patch.is_in_place():
                patch.restore()
                patches.append(patch.describe())
            else:
                self.reporter.emit("warning", code=WarningCode.PATCH_OVERWRITTEN, plugin=name, file=file,
                                   message=f"{name} replaced {patch.describe()}, and something else replaced it "
                                   "afterwards; devnode left the current value in place")
        ledger.patches.clear()
        if patches:
            cleaned["patches"] = patches
        undone = undo_all(ledger)  # timers, child processes, cwd/signals/logging/sys.path/config changes
        if undone.cleaned:
            cleaned["process changes"] = [self._where(c) for c in undone.cleaned]
        if undone.left and not quiet:
            self.reporter.emit("warning", code=WarningCode.PROCESS_CHANGE_LEFT, plugin=name, file=file,
                               message=f"{name} changed the process and devnode could not undo it safely: "
                               + "; ".join(self._where(c) for c in undone.left), left=undone.left)
        threads = ledger.live_threads()
        if threads:
            self.reporter.emit("warning", code=WarningCode.THREAD_LEFT_RUNNING, plugin=name, file=file,
                               message=f"{name} left {len(threads)} thread(s) running after shutdown: "
                               + ", ".join(safe.representation(safe.attribute(t, "name")) for t in threads)
                               + "; devnode cannot stop threads: signal them to stop in shutdown() and join them")
        if cleaned and not quiet:
            parts = [f"{len(v)} {k if len(v) > 1 else SINGULAR[k]}" for k, v in cleaned.items()]
            if "process changes" in cleaned:
                parts[-1] += " (" + "; ".join(cleaned["process changes"]) + ")"
            self.reporter.emit("warning", code=WarningCode.CLEANUP, plugin=name, file=file,
                               message=f"{name} left {', '.join(parts)} behind after shutdown; devnode removed them",
                               cleaned=cleaned)

    def _after_phase(self, name: str, ledger: Ledger, snapshot: StateSnapshot) -> None:
        """After plugin code ran: note its sys.path/config changes; report at once what could not wait."""
        file = self._rel(module_path(self.plugin_dir, name))
        for repaired in snapshot.record_changes(ledger, file):
            self.reporter.emit("warning", code=WarningCode.MODULE_REPLACED, plugin=name, file=file,
                               message=f"{name} replaced {repaired}; devnode put its own module back, since later "
                               "imports of plugins would fail on the replacement. Do not assign to sys.modules")
        if self.importer.replaced_package is not None:
            replaced, self.importer.replaced_package = self.importer.replaced_package, None
            self.reporter.emit("warning", code=WarningCode.MODULE_REPLACED, plugin=None,
                               message=f"sys.modules['plugins'] had been replaced by plugin code ({replaced[:80]}); "
                               "devnode put the plugin package back")
        refused = [c for c in ledger.changes if c.undo is None]
        for change in refused:
            ledger.changes.remove(change)
            self.reporter.emit("warning", code=WarningCode.PROCESS_CHANGE_REFUSED, plugin=name, file=file,
                               message=f"{name} tried {self._where(change.what)}"
                               + (f" at {self._where(change.where)}" if change.where else ""))

    def _where(self, text: str | None) -> str:
        """``text`` with absolute paths into the plugin dir shortened to ``plugins/x.py``."""
        text = text or ""
        return text.replace(str(self.plugin_dir.parent) + "/", "")

    # -- state carry-over and stacked patches --------------------------------------
    async def _save_state(self, slot: PluginSlot) -> Any:
        hook = safe.attribute(slot.instance, SAVE_HOOK)
        if not callable(hook):
            return MISSING
        token = set_current(slot.ledger)
        try:
            state = hook()
            if isawaitable(state):  # async def devnode_save_state: the state is what it returns, not the coroutine
                state = await _within(state, self.timeout)
            return state
        except BaseException as exc:
            if not safe.is_plugin_failure(exc):
                raise
            if isinstance(exc, asyncio.TimeoutError):
                exc = TimeoutError(f"async {SAVE_HOOK}() did not finish within {self.timeout:g} s (see --timeout)")
            problem = diagnose(exc, "save-state", slot.name, self.plugin_dir, slot.path)
            self.reporter.emit("warning", code=WarningCode.SAVE_STATE_FAILED, plugin=slot.name, file=problem.file,
                               line=problem.line,
                               message=f"{SAVE_HOOK}() raised ({problem.error}); the new version starts fresh")
            drop_frames(exc)
            return MISSING
        finally:
            reset_current(token)

    async def _lift_stacked(self, slot: PluginSlot) -> list[tuple[str, Any]]:
        """Retire plugins that wrapped a node attribute on top of this plugin's wrapper.

        Their wrapper holds ours, so ours cannot be removed underneath them; they are
        started again after the swap so they wrap whatever is then in place.
        """
        lifted: list[tuple[str, Any]] = []
        if slot.ledger is None or not slot.ledger.patches:
            return lifted  # nothing of ours to wrap: no need to look at every other plugin
        mine = slot.ledger.patches
        for other in list(self.slots.values()):
            if other is slot or other.ledger is None:
                continue
            if any(p.target is q.target and p.name == q.name and p.old is q.new for p in other.ledger.patches for q in mine):
                lifted.extend(await self._lift_stacked(other))
                state = await self._save_state(other)
                other.held = self.bus.holding(other.name).start()  # ended by _restack
                await self._shutdown_instance(other, reason="restack")
                lifted.append((other.name, state))
        return lifted

    async def _restack(self, name: str, state: Any) -> None:
        slot = self.slots[name]
        try:
            if slot.module is None:
                return
            cls = self._plugin_class(slot.module, name)
            await self._start_instance(slot, slot.module, cls, state, {})
        except (_StartFailed, PluginLookupError) as exc:
            slot.state = PluginState.FAILED
            self.reporter.emit("warning", code=WarningCode.RESTACK_FAILED, plugin=name,
                               message=f"{name} could not be restarted on top of the reloaded wrapper: {exc}")
        finally:
            held, slot.held = slot.held, None
            if held is not None:
                held.end()

    # -- reporting ---------------------------------------------------------------
    def _failed(self, slot: PluginSlot, problem: PluginProblem, trigger: Sequence[str] | None, bring_back: bool = False) -> None:
        previous = slot.serving or bring_back
        slot.problem = problem
        slot.state = PluginState.FAILED_RUNNING_PREVIOUS if previous else PluginState.FAILED
        slot.last_change = time.time()
        self.reporter.emit(
            "plugin.failed", running="previous" if previous else "none", trigger=list(trigger or []),
            **problem.to_record(), problem=problem,
        )
        if self._starting:
            _loader_log.error(f"Failed to load plugin {slot.name}: {problem.error.split(': ', 1)[-1]}", extra=MIRROR)
        if problem.exception is not None:
            drop_frames(problem.exception)

    def _warn(self, slot: PluginSlot | None, warning: parity.ParityWarning) -> None:
        key = warning.code + (warning.file or "")
        if slot is not None:
            if key in slot.warned:
                return
            slot.warned.add(key)
        self.reporter.emit("warning", **warning.to_record())

    def _note_once(self, slot: PluginSlot, kind: Literal["warning", "log"], key: str, **fields: Any) -> None:
        """Emit a contract record once per plugin (not again at every reload)."""
        if key in slot.warned:
            return
        slot.warned.add(key)
        self.reporter.emit(kind, **fields)

    def _note_unsubscribed(self, slot: PluginSlot, cls: type) -> None:
        """An info-level note for each ``async def on_*`` that initialize() did not subscribe."""
        assert slot.ledger is not None
        callbacks = [sub.callback for sub in slot.ledger.subscriptions]
        for method, line in contract.unsubscribed_handlers(cls, callbacks):
            message = contract.unsubscribed_note(slot.name, cls, method, line, slot.path)
            self._note_once(slot, "log", message, plugin=slot.name, level="INFO", logger="devnode.contract",
                            message=message, file=str(slot.path), line=line, code="unsubscribed-handler")

    def _warn_helper(self, name: str) -> None:
        path = module_path(self.plugin_dir, name)
        slot = self.slots.get(name)
        warning = parity.check_helper(name, path, self.graph.imported_by_others(name))
        if slot is None:
            self.reporter.emit("warning", **warning.to_record())
        else:
            self._warn(slot, warning)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.plugin_dir.parent))
        except ValueError:
            return str(path)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def _within(awaitable: Any, seconds: float) -> Any:
    """Await a plugin's hook for at most ``seconds``; past that it is cancelled and not waited for.

    Unlike ``asyncio.wait_for``, a hook that swallows the cancellation cannot hold
    the swap (or quit) up: it is left to end on its own. It runs as a task of the
    plugin (what it starts is the plugin's), but its outcome is this call's, not a
    separately reported task failure.
    """
    task = asyncio.ensure_future(_awaited(awaitable))
    owner = _task_owner.get(task)
    if owner is not None:
        owner.tasks.discard(task)
        task.remove_done_callback(owner._task_done)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:  # devnode itself is being cancelled (shutting down): take the hook with it
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=min(seconds, 0.2))
        if not task.done():
            task.add_done_callback(_forget_outcome)
        raise asyncio.TimeoutError
    return task.result()


def _forget_outcome(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned hook's end is not an "exception never retrieved" at exit


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _event_name(event_type: Any) -> str:
    return "*" if event_type is None else event_type.value


def _class_line(module: types.ModuleType, class_name: str) -> int | None:
    try:
        return inspect.getsourcelines(getattr(module, class_name))[1]
    except (OSError, TypeError):
        return None
