"""Who owns what: the per-plugin ledger of subscriptions, tasks and node patches.

Every resource a plugin acquires is recorded against the ledger that is
*current* when it is acquired. The current ledger lives in a context variable,
so it follows the plugin into its handlers and into every asyncio task it
starts (tasks copy the context they were created in).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from devnode import safe

if TYPE_CHECKING:
    from devnode.records import PluginCounts
    from devnode.process_ownership import ProcessChange

_current: ContextVar[Ledger | None] = ContextVar("devnode_owner", default=None)
# The same owner, keyed by running task (or thread): the stall watchdog runs on another
# thread and cannot read this thread's context variables.
_running: dict[Any, Ledger] = {}
_task_owner: weakref.WeakKeyDictionary[asyncio.Task[Any], Ledger] = weakref.WeakKeyDictionary()

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def current_ledger() -> Ledger | None:
    """The ledger of the plugin whose code is running now, if any."""
    return _current.get()


def set_current(ledger: Ledger | None) -> Any:
    """Make ``ledger`` the owner of what follows; returns a token for ``reset_current``."""
    token = _current.set(ledger)
    _note_running(ledger)
    return token


def reset_current(token: Any) -> None:
    _current.reset(token)
    _note_running(_current.get())


def _note_running(ledger: Ledger | None, key: Any = None) -> None:
    if key is None:
        key = running_key()
    if ledger is None:
        _running.pop(key, None)
    else:
        _running[key] = ledger


def running_key() -> Any:
    """What the owner is noted against for the watchdog: the running task, or the thread outside tasks."""
    try:
        return asyncio.current_task() or threading.get_ident()
    except RuntimeError:  # no running loop
        return threading.get_ident()


def switch_current(ledger: Ledger | None, key: Any) -> Any:
    """``set_current`` for a caller that knows ``running_key()`` already (the bus: one per dispatch)."""
    token = _current.set(ledger)
    _note_running(ledger, key)
    return token


def reset_current_at(token: Any, key: Any) -> None:
    """``reset_current`` with the caller's ``running_key()``."""
    _current.reset(token)
    _note_running(_current.get(), key)


def ledger_running_in(task: asyncio.Task[Any] | None, thread_id: int) -> Ledger | None:
    """The owner current in ``task`` (or, outside tasks, on ``thread_id``), read from any thread."""
    key: Any = task if task is not None else thread_id
    ledger = _running.get(key)
    if ledger is None and task is not None:
        ledger = _task_owner.get(task)
    return ledger


class PluginExit(RuntimeError):
    """A plugin's task raised SystemExit or KeyboardInterrupt (the original is the ``__cause__``)."""


@dataclass(eq=False)
class Patch:
    """An attribute a plugin replaced on a node object, and what was there before."""

    target: object
    name: str
    old: Any  # MISSING when the attribute came from the class, not the instance
    new: Any

    def describe(self) -> str:
        return f"{_target_name(self.target)}.{self.name}"

    def is_in_place(self) -> bool:
        current = vars(self.target).get(self.name, MISSING)
        return current is self.new or (current is not MISSING and current == self.new)

    def restore(self) -> None:
        if self.old is MISSING:
            vars(self.target).pop(self.name, None)
        else:
            vars(self.target)[self.name] = self.old


class SubscriptionRegistry(Protocol):
    """Where a plugin's subscriptions are recorded (the event bus): the ledger keeps no list of its own."""

    def owned_by(self, ledger: Ledger) -> list[Any]: ...

    def transfer(self, source: Ledger, target: Ledger) -> None: ...


@dataclass(eq=False)
class Ledger:
    """Everything one plugin instance has registered with the node."""

    owner: str
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    threads: list[threading.Thread] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    files_read: set[Path] = field(default_factory=set)
    # Process-wide things it started or changed (devnode.process_ownership): loop timers (handle ->
    # (label, file:line), weakly: a timer that ran is gone), child processes, cwd/signal/logging changes.
    timers: weakref.WeakKeyDictionary[asyncio.TimerHandle, tuple[str, str | None]] = field(
        default_factory=weakref.WeakKeyDictionary)
    children: list[tuple[Any, str, str | None]] = field(default_factory=list)
    changes: list[ProcessChange] = field(default_factory=list)
    # The buses it subscribed on; each records which of its subscriptions are this ledger's.
    registries: list[SubscriptionRegistry] = field(default_factory=list, repr=False)
    events_handled: int = 0
    errors: int = 0
    # Called with (ledger, task, exception) when one of the plugin's tasks fails (see host).
    on_task_error: Callable[[Ledger, asyncio.Task[Any], BaseException], None] | None = None

    # -- subscriptions ---------------------------------------------------------
    @property
    def subscriptions(self) -> list[Any]:
        """The plugin's live subscriptions, read from the bus (``Subscription.ledger`` is the one record)."""
        return [sub for registry in self.registries for sub in registry.owned_by(self)]

    def subscribed_on(self, registry: SubscriptionRegistry) -> None:
        """Called by a bus when this ledger's plugin subscribes there (so ``subscriptions`` knows where to look)."""
        if not any(r is registry for r in self.registries):
            self.registries.append(registry)

    # -- patches -------------------------------------------------------------
    def record_patch(self, target: object, name: str, value: Any) -> bool:
        """Note that this plugin set ``target.name = value``.

        Returns True when the assignment puts back what was there before
        (the plugin undoing its own patch), so the caller restores exactly.
        """
        for patch in self.patches:
            if patch.target is target and patch.name == name:
                if safe.same(value, patch.old) or safe.same(value, _class_value(target, name, patch.old)):
                    self.patches.remove(patch)
                    patch.restore()
                    return True
                patch.new = value
                return False
        old = vars(target).get(name, MISSING)
        self.patches.append(Patch(target, name, old, value))
        return False

    # -- tasks ---------------------------------------------------------------
    def adopt_task(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        _task_owner[task] = self
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        # A task that ends with an owner noted (it ran handlers, e.g. by publishing) would otherwise
        # keep its entry, and with it the task and this ledger, for the life of the process.
        _running.pop(task, None)
        if self.on_task_error is not None and not task.cancelled():
            error = task.exception()  # retrieved here, so asyncio does not log it again at exit
            if error is not None:
                self.on_task_error(self, task, error)

    def absorb(self, other: Ledger) -> None:
        """Take over what ``other`` recorded (a module body's side effects become the instance's)."""
        for registry in other.registries:
            registry.transfer(other, self)
            self.subscribed_on(registry)
        for task in other.live_tasks():
            task.remove_done_callback(other._task_done)
            self.adopt_task(task)
        self.threads.extend(other.threads)
        self.patches.extend(other.patches)
        self.files_read |= other.files_read
        self.timers.update(other.timers)
        self.children.extend(other.children)
        self.changes.extend(other.changes)
        other.registries, other.tasks, other.threads, other.patches = [], set(), [], []
        other.timers, other.children, other.changes = weakref.WeakKeyDictionary(), [], []

    def live_tasks(self) -> list[asyncio.Task[Any]]:
        return [t for t in self.tasks if not t.done()]

    def live_threads(self) -> list[threading.Thread]:
        return [t for t in self.threads if t.is_alive()]

    def counts(self) -> PluginCounts:
        return {
            "subscriptions": len(self.subscriptions),
            "tasks": len(self.live_tasks()),
            "patches": len(self.patches),
            "threads": len(self.live_threads()),
        }


def _class_value(target: object, name: str, old: Any) -> Any:
    """What ``target.name`` resolves to once the instance attribute is gone."""
    if old is not MISSING:
        return old
    try:
        attribute = getattr(type(target), name)
    except AttributeError:
        return MISSING
    if isinstance(attribute, functools.cached_property):
        # Its __get__ would answer the instance attribute itself (node.cipher_suite is one, made on first read).
        return attribute.func(target)
    try:
        return attribute.__get__(target, type(target))
    except AttributeError:
        return MISSING


def _target_name(target: object) -> str:
    # Node objects (node.tracked.Tracked, the only ones that record patches) carry their name;
    # read by attribute, not by importing Tracked, which imports this module.
    name = safe.attribute(target, "tracked_name")
    return name if isinstance(name, str) else type(target).__name__


class TrackedThread:
    """Records threads a plugin starts, so leftovers can be named on unload."""

    _installed = False

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        cls._installed = True
        from devnode import process_ownership

        process_ownership.install()  # timers, children, cwd, signals, logging: the same ledger, same moment
        original_start = threading.Thread.start

        def start(self: threading.Thread) -> None:
            ledger = _current.get()
            # Executor workers (run_in_executor, asyncio.to_thread) outlive any one caller: not the plugin's.
            pooled = getattr(getattr(self, "_target", None), "__module__", "") == "concurrent.futures.thread"
            if ledger is not None and not pooled:
                ledger.threads.append(self)
                process_ownership.plugin_threads.add(self)
                run = self.run

                def owned_run() -> None:
                    # Threads do not inherit context variables: carry the owner over by hand.
                    _current.set(ledger)
                    run()

                self.run = owned_run  # type: ignore[method-assign]
            original_start(self)

        threading.Thread.start = start  # type: ignore[method-assign]


def install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
    """Make every task created while a plugin's code runs belong to that plugin."""
    previous = loop.get_task_factory()
    from devnode.process_ownership import guard_loop

    guard_loop(loop)  # plugin code may not stop or close the node's loop

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        ledger = kwargs["context"].get(_current) if kwargs.get("context") else _current.get()
        if ledger is not None and asyncio.iscoroutine(coro):
            coro = _Contained(coro)
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if ledger is not None:
            ledger.adopt_task(task)  # type: ignore[arg-type]
        return task  # type: ignore[return-value]

    loop.set_task_factory(factory)


class _Contained(Coroutine[Any, Any, Any]):
    """A plugin's coroutine run as a task; its SystemExit/KeyboardInterrupt must not stop the loop.

    asyncio re-raises those two out of a task into ``run_forever``, which would end the
    node; here they become ``PluginExit``, an ordinary task failure. A wrapper object
    rather than a wrapping coroutine, so a task cancelled before it ran closes the
    plugin's coroutine exactly as asyncio would (no "never awaited" warning).
    """

    __slots__ = ("_coro",)

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro

    def send(self, value: Any) -> Any:
        try:
            return self._coro.send(value)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise PluginExit(f"{type(exc).__name__} raised in a plugin task") from exc

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        try:
            return self._coro.throw(typ, val, tb) if val is not None or tb is not None else self._coro.throw(typ)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise PluginExit(f"{type(exc).__name__} raised in a plugin task") from exc

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:
        return self

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coro, name)  # cr_code, cr_frame, __qualname__: task reprs show the plugin's coroutine

    def __repr__(self) -> str:
        return repr(self._coro)
