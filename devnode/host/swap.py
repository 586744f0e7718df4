"""The swap transaction: one plugin's old version out and its new one in, or the old one brought back.

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
import time
import types
from collections.abc import Sequence
from inspect import isawaitable
from typing import Any

from devnode import safe
from devnode.codes import WarningCode
from devnode.host import contract, dependencies, notes, parity, restack
from devnode.host.bounded import within
from devnode.host.diagnostics import PluginLookupError, PluginProblem, diagnose, drop_frames
from devnode.host.file_reads import recording_reads
from devnode.host.lookup import plugin_class
from devnode.host.naming import module_path
from devnode.host.parts import HostParts
from devnode.host.slots import PluginSlot, PluginState
from devnode.host.sweep import after_phase, sweep
from devnode.ownership import MISSING, Ledger, reset_current, set_current
from devnode.process_state import StateSnapshot

# Optional hook pair for carrying state across a reload (documented in docs/reload.md).
SAVE_HOOK = "devnode_save_state"
RESTORE_HOOK = "devnode_restore_state"


class _StartFailed(Exception):
    def __init__(self, problem: PluginProblem) -> None:
        super().__init__(problem.error)
        self.problem = problem


class Swapper:
    """Carries out swaps and retirements on the host's slots; the host's lock is held by its caller."""

    def __init__(self, parts: HostParts) -> None:
        self.parts = parts
        self.bus = parts.bus
        self.node = parts.node
        self.plugin_dir = parts.plugin_dir
        self.reporter = parts.reporter
        self.timeout = parts.timeout
        self.slots = parts.slots

    async def swap(
        self, name: str, trigger: Sequence[str] | None, purge: Sequence[str] = (), detect_ms: float | None = None
    ) -> bool:
        """Load ``name`` (or replace its serving version) fresh from disk, ``purge`` helpers re-executed first."""
        parts = self.parts
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
                    module = parts.importer.import_fresh(name, purge)
            finally:
                reset_current(token)
                after_phase(parts, name, import_ledger, snapshot)
            cls = plugin_class(module, name)
        except BaseException as exc:  # anything plugin code raises, BaseException subclasses too
            if not safe.is_plugin_failure(exc):
                raise
            phase = "lookup" if isinstance(exc, PluginLookupError) else "import"
            await sweep(parts, name, import_ledger, quiet=True)
            notes.failed(parts, slot, diagnose(exc, phase, name, self.plugin_dir, slot.path), trigger)
            return False
        timings["import"] = _ms(started)
        parts.graph.update(name)
        for warning in parity.check_class(name, cls, slot.path):
            notes.warn(parts, slot, warning)
        for warning in dependencies.check_module(name, slot.path, self.plugin_dir, parts.graph.third_party.get(name)):
            notes.warn(parts, slot, warning)
        for warning in contract.misspelt_lifecycle(name, cls, slot.path):
            if notes.first_time(slot, warning.message):
                self.reporter.emit("warning", **warning.to_record())

        # 2-5. hold events, retire the old version, start the new one (or bring the old back)
        old_module, old_class = slot.module, type(slot.instance) if was_serving else None
        carried: Any = MISSING
        lifted: list[tuple[str, Any]] = []
        async with self.bus.holding(name):
            if was_serving:
                carried = await self.save_state(slot)
                lifted = await self.lift_stacked(slot)
                t = time.perf_counter()
                await self.shutdown_instance(slot, reason="reload")
                timings["shutdown"] = _ms(t)
            else:
                timings["shutdown"] = 0.0
            try:
                await self.start_instance(slot, module, cls, carried, timings)
            except _StartFailed as failure:
                await sweep(parts, name, import_ledger, quiet=True)
                notes.failed(parts, slot, failure.problem, trigger, bring_back=old_class is not None)
                if old_module is not None and old_class is not None:
                    await self.bring_back(slot, old_module, old_class, carried)
                return False
            finally:
                for other, state in lifted:
                    await self.restack(other, state)

        slot.module, slot.state, slot.problem = module, PluginState.ACTIVE, None
        slot.last_change = time.time()
        assert slot.ledger is not None
        slot.ledger.absorb(import_ledger)
        slot.files_read = set(slot.ledger.files_read)
        notes.note_unsubscribed(parts, slot, cls)
        timings["total"] = round(_ms(started) + timings.get("detect", 0.0), 3)
        if was_serving:
            slot.reloads += 1
            self.reporter.emit(
                "plugin.reloaded", plugin=name, version=slot.version, trigger=list(trigger or []), timings=timings,
                **slot.ledger.counts(),
            )
        else:
            self.reporter.emit(
                "plugin.loaded", plugin=name, version=slot.version, file=parts.shown_file(name), timings=timings,
                **slot.ledger.counts(),
            )
        if old_class is not None and parts.check_leaks:
            parts.leaks.expect_freed(name, old_class)
        return True

    async def start_instance(
        self, slot: PluginSlot, module: types.ModuleType, cls: type, carried: Any, timings: dict[str, float]
    ) -> None:
        """Construct, restore and initialize ``cls`` under a fresh ledger; _StartFailed (swept) if it raises."""
        ledger = Ledger(slot.name, on_task_error=self.parts.run_errors.task_failed)
        slot.ledger, slot.instance = ledger, None
        token = set_current(ledger)
        snapshot = StateSnapshot(self.node, plugin_modules=True)
        phase = "construct"
        try:
            with recording_reads(self.plugin_dir):
                t = time.perf_counter()
                instance = cls(self.node)
                for warning in parity.check_instance(slot.name, cls, instance, slot.path):
                    notes.warn(self.parts, slot, warning)
                restore = safe.attribute(instance, RESTORE_HOOK) if carried is not MISSING else None
                if callable(restore):
                    phase = "restore-state"
                    result = restore(carried)
                    if isawaitable(result):  # an async hook is awaited, like an async initialize()
                        await within(result, self.timeout)
                timings["construct"] = _ms(t)
                phase = "initialize"
                t = time.perf_counter()
                initialize = safe.attribute(instance, "initialize")
                if initialize is not None:
                    result = initialize()
                    if isawaitable(result):
                        await within(result, self.timeout)
                timings["initialize"] = _ms(t)
        except BaseException as exc:
            if not safe.is_plugin_failure(exc):
                await sweep(self.parts, slot.name, ledger, quiet=True)
                slot.ledger = None
                raise
            if isinstance(exc, asyncio.TimeoutError):
                what = RESTORE_HOOK if phase == "restore-state" else phase
                exc = TimeoutError(f"async {what}() did not finish within {self.timeout:g} s (see --timeout)")
            problem = diagnose(exc, phase, slot.name, self.plugin_dir, slot.path)
            if phase == "initialize":
                notes.warn(self.parts, slot, parity.initialize_raised(slot.name, problem.file, problem.line))
            await sweep(self.parts, slot.name, ledger, quiet=True)
            slot.ledger = None
            raise _StartFailed(problem) from None
        finally:
            reset_current(token)
            after_phase(self.parts, slot.name, ledger, snapshot)
        slot.instance = instance

    async def bring_back(self, slot: PluginSlot, module: types.ModuleType, cls: type, carried: Any) -> None:
        """The new version failed to start: serve the previous one again."""
        self.parts.importer.restore(slot.name, module)
        try:
            try:
                await self.start_instance(slot, module, cls, carried, {})
            except _StartFailed as failure:
                if carried is MISSING or failure.problem.phase != "restore-state":
                    raise
                # Its own restore hook fails on the state it saved: serve it fresh rather than not at all.
                self.reporter.emit("warning", code=WarningCode.RESTORE_STATE_FAILED, plugin=slot.name, file=failure.problem.file,
                                   line=failure.problem.line,
                                   message=f"{RESTORE_HOOK}() of the previous {slot.name} raised too "
                                   f"({failure.problem.error}); it serves again with fresh state")
                await self.start_instance(slot, module, cls, MISSING, {})
        except _StartFailed as failure:
            slot.state, slot.module = PluginState.FAILED, None
            self.reporter.emit("warning", code=WarningCode.RESTORE_FAILED, plugin=slot.name,
                               message=f"the previous version of {slot.name} could not be restarted: {failure.problem.error}")
            return
        slot.module, slot.state = module, PluginState.FAILED_RUNNING_PREVIOUS

    async def retire(self, name: str, reason: str) -> bool:
        """Shut ``name`` down and forget its module; a deleted file's slot goes too."""
        slot = self.slots.get(name)
        if slot is None:
            return False
        if slot.serving:
            async with self.bus.holding(name):
                lifted = await self.lift_stacked(slot)
                old_class = type(slot.instance)
                await self.shutdown_instance(slot, reason)
                for other, state in lifted:
                    await self.restack(other, state)
            if self.parts.check_leaks:
                self.parts.leaks.expect_freed(name, old_class)
        was_serving = slot.state in (PluginState.ACTIVE, PluginState.FAILED_RUNNING_PREVIOUS)
        slot.state, slot.module, slot.problem = PluginState.UNLOADED, None, None
        self.parts.importer.forget(name)
        if was_serving or reason == "file deleted":
            self.reporter.emit("plugin.unloaded", plugin=name, reason=reason)
        if reason == "file deleted":
            del self.slots[name]
        return True

    async def shutdown_instance(self, slot: PluginSlot, reason: str) -> None:
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
                    await within(result, self.timeout)
            except BaseException as exc:
                if not safe.is_plugin_failure(exc):
                    raise
                if isinstance(exc, asyncio.TimeoutError):
                    exc = TimeoutError(f"async shutdown() did not finish within {self.timeout:g} s; "
                                       "devnode cleaned up after it (see --timeout)")
                problem = diagnose(exc, "shutdown", slot.name, self.plugin_dir, slot.path)
                self.parts.shutdown_failures += 1
                self.parts.last_shutdown_error = str(exc)
                self.reporter.emit("plugin.failed", running="none" if reason != "reload" else "new",
                                   **problem.to_record(), problem=problem)
                notes.warn(self.parts, slot, parity.shutdown_raised(slot.name, problem.file))
                drop_frames(exc)
            finally:
                reset_current(token)
                after_phase(self.parts, slot.name, ledger, snapshot)
        await sweep(self.parts, slot.name, ledger)
        slot.handled_before += ledger.events_handled
        slot.errors_before += ledger.errors
        slot.instance, slot.ledger = None, None

    # -- state carry-over and stacked patches --------------------------------------
    async def save_state(self, slot: PluginSlot) -> Any:
        """What the plugin's ``devnode_save_state`` returns (MISSING without one, or when it fails)."""
        hook = safe.attribute(slot.instance, SAVE_HOOK)
        if not callable(hook):
            return MISSING
        token = set_current(slot.ledger)
        try:
            state = hook()
            if isawaitable(state):  # async def devnode_save_state: the state is what it returns, not the coroutine
                state = await within(state, self.timeout)
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

    async def lift_stacked(self, slot: PluginSlot) -> list[tuple[str, Any]]:
        """Retire the plugins stacked on ``slot``'s patches (see ``restack.stacked_on``); their states, in order."""
        lifted: list[tuple[str, Any]] = []
        for other in restack.stacked_on(slot, self.slots):
            state = await self.save_state(other)
            other.held = self.bus.holding(other.name).start()  # ended by restack
            await self.shutdown_instance(other, reason="restack")
            lifted.append((other.name, state))
        return lifted

    async def restack(self, name: str, state: Any) -> None:
        """Start a lifted plugin again, on top of whatever wrapper is now in place."""
        slot = self.slots[name]
        try:
            if slot.module is None:
                return
            cls = plugin_class(slot.module, name)
            await self.start_instance(slot, slot.module, cls, state, {})
        except (_StartFailed, PluginLookupError) as exc:
            slot.state = PluginState.FAILED
            self.reporter.emit("warning", code=WarningCode.RESTACK_FAILED, plugin=name,
                               message=f"{name} could not be restarted on top of the reloaded wrapper: {exc}")
        finally:
            held, slot.held = slot.held, None
            if held is not None:
                held.end()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
