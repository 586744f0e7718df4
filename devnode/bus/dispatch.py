"""Dispatch: who is subscribed, calling each handler as its plugin, timing it, and telling the observers.

The bus's hot path. Per event: one cached snapshot of the subscriptions (per-type
ones, then the subscribe-all ones, as production orders them), one clock reading
per handler (it ends one handler's time and starts the next one's), the owner
switched only when it changes from one handler to the next, and a
``HandlerResult`` per handler handed to the observers (UI, recorder, the host's
error reports). Events for a plugin being swapped are held (``holding``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from inspect import isawaitable
from types import CoroutineType
from typing import Any

from devnode import safe
from devnode.bus.event import Event, EventType
from devnode.bus.handlers import (
    Callback, HandlerResult, Subscription, UnawaitedHandlerError, bounded, bounded_rest, raise_unawaited,
)
from devnode.bus.hold import Hold, to_current
from devnode.bus.notices import BusNotices
from devnode.node.notices import Notices
from devnode.ownership import (
    Ledger, current_ledger, reset_current, reset_current_at, running_key, set_current, switch_current,
)

logger = logging.getLogger("devnode.bus")
# Production's bus logs each failing callback here (dashboard/event_bus.py:179-180); devnode mirrors the line,
# marked so devnode's own UI (which shows a richer plugin.error) skips it.
production_logger = logging.getLogger("dashboard.event_bus")
MIRROR = {"devnode_mirror": True}

MAX_PUBLISH_DEPTH = 32
FINISHED: Any = object()  # what a handler's first step gives when it ran to the end without suspending

Observer = Callable[[Event, "list[HandlerResult]"], None]


class PublishLoopError(RuntimeError):
    """A handler kept publishing from inside its own dispatch."""


_depth: ContextVar[int] = ContextVar("devnode_publish_depth", default=0)


def publish_depth() -> int:
    """How many publishes deep the running code is: 1 inside a top-level dispatch, 0 outside any."""
    return _depth.get()


class Dispatcher:
    """Subscriptions, dispatch, observers and swap holds; ``EventBus`` adds production's face to it."""

    def __init__(self, max_history: int = 100) -> None:
        self._by_type: dict[EventType, dict[Callback, Subscription]] = {}
        self._all: dict[Callback, Subscription] = {}
        # The same subscriptions by owner, in subscription order: sweeping or counting one plugin's
        # must not read every plugin's (start-up with many plugins stays linear).
        self._by_ledger: dict[Ledger, dict[Subscription, None]] = {}
        # Per event type, how many subscriptions each plugin holds: the parity notices ask whether a plugin
        # already has one, which must not read every plugin's (a reload among many plugins stays flat).
        self._owner_counts: dict[Any, dict[str, int]] = {}
        self._snapshots: dict[Any, tuple[Subscription, ...]] = {}
        self._history: deque[Event] = deque(maxlen=max_history)
        self._observers: list[Observer] = []
        self._soon: set[asyncio.Task[list[HandlerResult]]] = set()
        self._holds: dict[str, Hold] = {}  # plugin name -> its hold while it is swapped
        self._deliveries: set[asyncio.Task[None]] = set()  # held events on their way (the loop keeps tasks weakly)
        self.published = 0
        # devnode's deadline for one async handler of a plugin (the host sets it from --timeout); None: no limit.
        self.handler_timeout: float | None = None
        self.in_flight = 0  # dispatches under way (one awaiting a slow handler pins the subscriptions it started with)
        self._notices: BusNotices | None = None

    @property
    def parity(self) -> Notices | None:
        """The node's parity notices (devnode.node.notices), when it has some: the bus adds its own to them."""
        return self._notices.notices if self._notices is not None else None

    @parity.setter
    def parity(self, notices: Notices | None) -> None:
        self._notices = BusNotices(notices) if notices is not None else None

    # -- dispatch ----------------------------------------------------------------
    async def dispatch(self, event: Event) -> list[HandlerResult]:
        """Publish ``event``; returns one HandlerResult per handler called."""
        depth = _depth.get()
        if depth >= MAX_PUBLISH_DEPTH:
            raise PublishLoopError(
                f"{event.type.value} published {depth} levels deep from inside event handlers; "
                "a handler publishes an event that triggers itself again. "
                "Publish a different event type, or guard the handler against re-entry."
            )
        token = _depth.set(depth + 1)
        self.in_flight += 1
        try:
            if type(event.type) is EventType:
                results = await self._dispatch(event)
            else:
                results = await self._dispatch_untyped(event)
        finally:
            self.in_flight -= 1
            _depth.reset(token)
        return results

    def publish_soon(self, event: Event) -> asyncio.Task[list[HandlerResult]] | None:
        """Publish from sync code (e.g. ``transfer_tokens``): dispatch on the running loop.

        The task belongs to no plugin, so unloading the caller never cancels a
        node event half-way. Without a running loop the event only enters history.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._history.append(event)
            return None
        # A fresh context (no owner), keeping the caller's publish depth: an event a handler causes
        # this way counts as nested (the recursion guard and the recorder see it as a reaction).
        context = contextvars.Context()
        context.run(_depth.set, _depth.get())
        task = loop.create_task(self.dispatch(event), context=context)
        self._soon.add(task)
        task.add_done_callback(self._soon.discard)
        return task

    async def drain(self) -> None:
        """Wait until every ``publish_soon`` event so far (and any they cause) has been dispatched."""
        while self._soon:
            await asyncio.gather(*list(self._soon), return_exceptions=True)

    # -- observers ---------------------------------------------------------------
    def add_observer(self, observer: Observer, *, first: bool = False) -> None:
        """Call ``observer(event, results)`` after every dispatch (UI, recorder).

        ``first`` runs it before the observers already added: the console's debugger
        must see a handler's exception before the host reports it and frees its frames.
        """
        if first:
            self._observers.insert(0, observer)
        else:
            self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        self._observers.remove(observer)

    def _notify(self, event: Event, results: list[HandlerResult]) -> None:
        """Tell the observers; one that fails is switched off, never the publisher's problem."""
        for observer in list(self._observers):
            try:
                observer(event, results)
            except Exception:
                logger.exception("event observer %r failed and was switched off", observer)
                self.remove_observer(observer)

    # -- subscriptions (the one record of who owns which callback) ---------------
    def subscriptions(self) -> list[Subscription]:
        subs = [s for d in self._by_type.values() for s in d.values()]
        return subs + list(self._all.values())

    def owned_by(self, ledger: Ledger) -> list[Subscription]:
        """The subscriptions ``ledger``'s plugin made on this bus (``Ledger.subscriptions`` reads this)."""
        return list(self._by_ledger.get(ledger, ()))

    def transfer(self, source: Ledger, target: Ledger) -> None:
        """``source``'s subscriptions become ``target``'s (``Ledger.absorb``: a module body's become the instance's)."""
        moved = self._by_ledger.pop(source, {})
        for sub in moved:
            if source.owner != target.owner:
                self._count(sub.event_type, source.owner, -1)
                self._count(sub.event_type, target.owner, 1)
            sub.move_to(target)
        if moved:
            self._by_ledger.setdefault(target, {}).update(moved)

    def remove_subscription(self, sub: Subscription) -> None:
        table = self._all if sub.event_type is None else self._by_type.get(sub.event_type, {})
        try:
            if table.get(sub.callback) is sub:
                self._remove(table, sub.callback)
        except Exception:  # a callback whose __hash__/__eq__ raises now: find it by identity
            for key, value in list(table.items()):
                if value is sub:
                    del table[key]
                    self._retire(sub)

    def _add(self, table: dict[Callback, Subscription], event_type: EventType | None, callback: Callback) -> None:
        if not callable(callback):
            raise TypeError(f"event handler must be callable, got {callback!r}")
        if callback in table:
            return  # production keeps subscribers in a set
        ledger = current_ledger()
        sub = table[callback] = Subscription(event_type, callback, ledger)
        if ledger is not None:
            ledger.subscribed_on(self)
            self._by_ledger.setdefault(ledger, {})[sub] = None
            self._count(event_type, ledger.owner, 1)
        self._snapshots.clear()

    def _count(self, event_type: Any, owner: str, step: int) -> None:
        counts = self._owner_counts.setdefault(event_type, {})
        left = counts.get(owner, 0) + step
        if left > 0:
            counts[owner] = left
        else:
            counts.pop(owner, None)

    def owners_subscribed(self, event_type: Any) -> dict[str, int]:
        """Plugin name -> how many subscriptions it holds on ``event_type`` now (read-only)."""
        return self._owner_counts.get(event_type, {})

    def _remove(self, table: dict[Callback, Subscription], callback: Callback) -> None:
        sub = table.pop(callback, None)
        if sub is not None:
            self._retire(sub)

    def _retire(self, sub: Subscription) -> None:
        ledger = sub.ledger
        if ledger is not None:
            owned = self._by_ledger.get(ledger)
            if owned is not None:
                owned.pop(sub, None)
                if not owned:
                    del self._by_ledger[ledger]
            self._count(sub.event_type, ledger.owner, -1)
            # Removed while its plugin swaps: a dispatch still holding it in its snapshot routes the event instead.
            sub.retired = ledger.owner in self._holds
        self._snapshots.clear()

    def _snapshot(self, event_type: Any) -> tuple[Subscription, ...]:
        snap = self._snapshots.get(event_type)
        if snap is None:
            snap = tuple(self._by_type.get(event_type, {}).values()) + tuple(self._all.values())
            self._snapshots[event_type] = snap
        return snap

    # -- the swap hold -----------------------------------------------------------
    def holding(self, owner: str) -> Hold:
        """The hold for ``owner``'s swap: ``async with bus.holding(name):`` (the active one, if it is held already)."""
        return self._holds.get(owner) or Hold(self, owner)

    # -- calling handlers ----------------------------------------------------------
    async def _dispatch(self, event: Event) -> list[HandlerResult]:
        """``_call`` for each subscriber, inlined: this loop is the bus's hot path (scripts/bench_bus.py).

        The owner is set only when it changes from one handler to the next, and one
        clock reading both ends a handler's time and starts the next one's.
        """
        self._history.append(event)
        self.published += 1
        if self._notices is not None:
            self._notices.published(event)
        holds = self._holds
        # Plugins whose share of this event is settled without calling their handlers here:
        # held for them (whoever ends the hold delivers it) or forwarded to their current version.
        routed: set[str] = set()
        if holds:
            routed.update(holds)
            for hold in holds.values():
                hold.events.append(event)
        results: list[HandlerResult] = []
        append = results.append
        clock = time.perf_counter
        step = next
        owner = current_ledger()
        token = None
        running: Any = None
        timeout = self.handler_timeout
        try:
            start = clock()
            for sub in self._snapshot(event.type):
                ledger = sub.ledger
                if ledger is not None and (routed or holds or sub.retired):
                    name = ledger.owner
                    if name in routed:
                        continue
                    joined = holds.get(name)
                    if joined is not None:
                        # The plugin's swap began while this dispatch waited in an earlier (async)
                        # handler: hold the event for whichever version ends up serving.
                        routed.add(name)
                        joined.events.append(event)
                        continue
                    if sub.retired:
                        # This version was retired while the dispatch waited in an earlier (async) handler.
                        routed.add(name)
                        results.extend(await to_current(self, event, name))
                        start = clock()
                        continue
                if ledger is not owner:
                    owner = ledger
                    if token is None:
                        running = running_key()  # the same task all through this dispatch
                        token = switch_current(ledger, running)  # resetting it restores the publisher's owner
                    else:
                        switch_current(ledger, running)
                    start = clock()
                error: BaseException | None = None
                try:
                    if sub.is_async:
                        coro = sub.callback(event)
                        if ledger is None or timeout is None:
                            await coro
                        elif type(coro) is CoroutineType:
                            # ``bounded`` inlined: a handler that never suspends needs no deadline. next() with a
                            # default takes the first step without the StopIteration that send() raises at the end.
                            first = step(coro.__await__(), FINISHED)
                            if first is not FINISHED:
                                await bounded_rest(coro, first, timeout, sub.callback)
                        else:
                            await bounded(coro, timeout, sub.callback)
                    else:
                        result = sub.callback(event)
                        if result is not None and isawaitable(result):
                            raise_unawaited(sub.callback, result)
                except BaseException as exc:
                    # Whatever plugin code raises (SystemExit, KeyboardInterrupt, a BaseException subclass)
                    # must not stop the node; only devnode's own cancellation passes through.
                    if not safe.is_plugin_failure(exc):
                        raise
                    error = exc
                    self._failed(sub, event, exc)
                end = clock()
                if ledger is not None:
                    ledger.events_handled += 1
                append(HandlerResult(sub, end - start, error))
                start = end
        finally:
            if token is not None:
                reset_current_at(token, running)
        self._notify(event, results)
        return results

    async def _call(self, sub: Subscription, event: Event) -> HandlerResult:
        """One handler, as its plugin, timed (outside the hot path: held and forwarded events)."""
        ledger = sub.ledger
        token = set_current(ledger)
        error: BaseException | None = None
        start = time.perf_counter()
        try:
            if sub.is_async:
                if ledger is None or self.handler_timeout is None:
                    await sub.callback(event)
                else:
                    await bounded(sub.callback(event), self.handler_timeout, sub.callback)
            else:
                result = sub.callback(event)
                if result is not None and isawaitable(result):
                    raise_unawaited(sub.callback, result)
        except BaseException as exc:
            if not safe.is_plugin_failure(exc):
                raise
            error = exc
            self._failed(sub, event, exc)
        finally:
            reset_current(token)
        elapsed = time.perf_counter() - start
        if ledger is not None:
            ledger.events_handled += 1
        return HandlerResult(sub, elapsed, error)

    def _failed(self, sub: Subscription, event: Event, exc: BaseException) -> None:
        """Count and log a handler's failure as production logs it (the other handlers still run)."""
        ledger = sub.ledger
        logger.debug("handler %r failed on %s", sub.callback, safe.text(getattr(event.type, "value", event.type)),
                     exc_info=exc)
        if ledger is not None:
            ledger.errors += 1
        if not isinstance(exc, Exception):
            if self._notices is not None:
                self._notices.handler_exit(exc, ledger)
        elif not isinstance(exc, UnawaitedHandlerError):  # production drops those silently
            production_logger.error(f"Event callback error: {safe.text(exc)}", extra=MIRROR)

    async def _dispatch_untyped(self, event: Event) -> list[HandlerResult]:
        """An Event whose ``type`` is not an EventType member (a str, say): production's behaviour, exactly.

        Production appends it to history, calls no per-type callback (the key is not
        an EventType), calls every subscribe-all callback (logging each failure), and
        only then raises AttributeError reading ``event.type.value`` for its debug line.
        Observers are not told: the event has no type value to show.
        """
        self._history.append(event)
        self.published += 1
        for sub in list(self._all.values()):
            await self._call(sub, event)
        try:
            event.type.value
        except AttributeError as exc:
            raise AttributeError(
                f"{exc}: Event(type=...) needs an EventType member (e.g. EventType.DATA_SHARED), "
                f"not {safe.representation(event.type)}"
            ) from None
        return []
