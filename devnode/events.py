"""The event bus plugins subscribe to: the production node's API, plus ownership.

Production plugins import this module as ``dashboard.event_bus`` (see
``devnode.compat``), so names and behaviour match the production node:
``EventType`` members and dotted values, ``Event`` with ``to_dict``/``to_json``/
``from_dict``, sync and async callbacks awaited one after another (per-type
subscribers first, then the subscribe-all ones), a failing callback logged
while the others still run, set semantics for subscriptions, 100 events of
history. On top of that every subscription remembers the plugin that made it,
and every dispatch reports, per handler, who handled it, how long it took and
whether it failed.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from inspect import iscoroutinefunction, isawaitable
from types import CoroutineType
from typing import Any, Union

from devnode import safe
from devnode.node.notices import Notices, traceback_site
from devnode.ownership import Ledger, current_ledger, reset_current, set_current

logger = logging.getLogger("devnode.events")
# Production's bus logs each failing callback here (dashboard/event_bus.py:179-180); devnode mirrors the line,
# marked so devnode's own UI (which shows a richer plugin.error) skips it.
production_logger = logging.getLogger("dashboard.event_bus")
MIRROR = {"devnode_mirror": True}

MAX_PUBLISH_DEPTH = 32
JSON_CHECKS_IN_FULL = 100  # events of each type whose data is checked for JSON before sampling starts


class EventType(Enum):
    HEALTH_UPDATE = "health.update"
    COMPONENT_STATUS_CHANGE = "health.component_change"
    BALANCE_UPDATE = "token.balance_update"
    TRANSFER_COMPLETED = "token.transfer_completed"
    TRANSFER_FAILED = "token.transfer_failed"
    TOKEN_ADDED = "token.added"
    DATA_SHARED = "data.shared"
    DATA_RECEIVED = "data.received"
    DATA_VERIFIED = "data.verified"
    COMPLIANCE_EVENT = "compliance.event"
    PEER_CONNECTED = "network.peer_connected"
    PEER_DISCONNECTED = "network.peer_disconnected"
    PEER_HEALTH_UPDATE = "network.peer_health"
    NETWORK_STATS_UPDATE = "network.stats_update"
    NODE_STARTED = "system.node_started"
    NODE_STOPPING = "system.node_stopping"
    ERROR = "system.error"

    @classmethod
    def parse(cls, text: str) -> EventType:
        """Accept a member name or a dotted value, in any case."""
        wanted = text.strip()
        for member in cls:
            if wanted.upper() == member.name or wanted.lower() == member.value:
                return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f'unknown event type "{text}"; expected one of: {names}')


@dataclass
class Event:
    type: EventType
    data: dict[str, Any]
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "data": self.data, "timestamp": self.timestamp}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())  # as production: data that JSON cannot hold raises TypeError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        # As production: KeyError without "data".
        return cls(type=EventType(d["type"]), data=d["data"], timestamp=d.get("timestamp", time.time()))


# Types production defines but never publishes itself (UPSTREAM.md "Published by nobody").
NEVER_PUBLISHED = frozenset({
    EventType.BALANCE_UPDATE, EventType.TOKEN_ADDED, EventType.DATA_VERIFIED, EventType.COMPLIANCE_EVENT,
    EventType.PEER_CONNECTED, EventType.PEER_DISCONNECTED, EventType.PEER_HEALTH_UPDATE,
    EventType.COMPONENT_STATUS_CHANGE, EventType.ERROR,
})

Callback = Callable[[Event], Union[Awaitable[Any], Any]]
Observer = Callable[[Event, "list[HandlerResult]"], None]


class Subscription:
    """One callback on the bus and the plugin (ledger) that registered it."""

    __slots__ = ("event_type", "callback", "ledger", "is_async", "owner_name")

    def __init__(self, event_type: EventType | None, callback: Callback, ledger: Ledger | None) -> None:
        self.event_type = event_type
        self.callback = callback
        self.ledger = ledger
        self.is_async = iscoroutinefunction(callback)
        self.owner_name = ledger.owner if ledger is not None else None


class HandlerResult:
    """How one handler fared with one event."""

    # "debugged" is set (by devnode.paused) only when a debugger stopped inside the handler.
    __slots__ = ("subscription", "seconds", "error", "debugged")
    debugged: bool

    def __init__(self, subscription: Subscription, seconds: float, error: BaseException | None) -> None:
        self.subscription = subscription
        self.seconds = seconds
        self.error = error

    @property
    def plugin(self) -> str | None:
        return self.subscription.owner_name

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def handler_name(self) -> str:
        cb = self.subscription.callback
        name = safe.attribute(cb, "__qualname__")
        return name if isinstance(name, str) and name else safe.representation(cb)


class UnawaitedHandlerError(TypeError):
    """A callback that is not ``async def`` returned an awaitable, which production never awaits."""


def raise_unawaited(callback: Callback, result: Any) -> None:
    """Behave as production does (the awaitable never runs), but say so instead of staying silent."""
    close = safe.attribute(result, "close")
    if callable(close):
        safe.call(close)  # no "coroutine was never awaited" noise: the error below says it
    name = safe.attribute(callback, "__qualname__")
    name = name if isinstance(name, str) and name else safe.representation(callback)
    raise UnawaitedHandlerError(
        f"{name} is not an async def function but returned {type(result).__name__}; the production event bus "
        "awaits only callbacks for which asyncio.iscoroutinefunction() is true, so this work never runs there. "
        "Subscribe the async def method itself instead of a lambda, partial or wrapper around it."
    )


class HandlerTimeoutError(TimeoutError):
    """A plugin's async handler did not finish within the deadline (``--timeout``); devnode cancelled it."""


class _Resumed:
    """The rest of a coroutine that already ran to its first suspension: awaiting it carries on from there."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro, self._first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self._coro, self._first
        while True:  # what `yield from` does, from the second step on
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # the task's cancellation (the deadline) goes to the handler
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _bounded(awaitable: Awaitable[Any], seconds: float, callback: Callback) -> None:
    """Await a plugin's handler, cancelling it past ``seconds`` so later events and commands go on."""
    if isinstance(awaitable, CoroutineType):
        # Most handlers finish without ever suspending: they need no timer (arming one per handler
        # cost more than a light handler itself). Only one that suspends gets the deadline.
        try:
            first = awaitable.send(None)
        except StopIteration:
            return
        awaitable = _Resumed(awaitable, first)
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            await awaitable
    except TimeoutError:
        if not deadline.expired():
            raise  # the handler's own TimeoutError
    else:
        return
    # Raised outside the except block: no __context__ chain back to the cancelled handler's frames,
    # which would keep the plugin's old version alive after a reload.
    name = safe.attribute(callback, "__qualname__")
    raise HandlerTimeoutError(
        f"{name if isinstance(name, str) else 'the handler'} did not finish within {seconds:g} s; devnode "
        "cancelled it so later events and commands are not held up (see --timeout). In production it would "
        "block every later event: give its network calls a timeout"
    )


class PublishLoopError(RuntimeError):
    """A handler kept publishing from inside its own dispatch."""


_depth: ContextVar[int] = ContextVar("devnode_publish_depth", default=0)


def publish_depth() -> int:
    """How many publishes deep the running code is: 1 inside a top-level dispatch, 0 outside any."""
    return _depth.get()


class EventBus:
    def __init__(self, max_history: int = 100) -> None:
        self._by_type: dict[EventType, dict[Callback, Subscription]] = {}
        self._all: dict[Callback, Subscription] = {}
        self._snapshots: dict[EventType, tuple[Subscription, ...]] = {}
        self._history: deque[Event] = deque(maxlen=max_history)
        self._observers: list[Observer] = []
        self._soon: set[asyncio.Task[list[HandlerResult]]] = set()
        # Plugin name -> events held while that plugin is swapped, whether or not a subscription
        # of it is in the dispatch: its old handlers may be gone and its new ones not there yet.
        self._holding: dict[str, list[Event]] = {}
        self.published = 0
        # devnode's deadline for one async handler of a plugin (the host sets it from --timeout); None: no limit.
        self.handler_timeout: float | None = None
        self.in_flight = 0  # dispatches under way (one awaiting a slow handler pins the subscriptions it started with)
        self.parity: Notices | None = None  # the node's parity notices (devnode.node.notices), when it has some
        self._json_checked: dict[EventType, int] = {}

    # -- production API ------------------------------------------------------
    def subscribe(self, event_type: EventType, callback: Callback) -> None:
        if not isinstance(event_type, EventType):
            raise TypeError(f"subscribe() needs an EventType member, got {event_type!r}")
        table = self._by_type.setdefault(event_type, {})
        if self.parity is not None and callback not in table:
            self._note_subscription(event_type, table)
        self._add(table, event_type, callback)

    def subscribe_all(self, callback: Callback) -> None:
        self._add(self._all, None, callback)

    def unsubscribe(self, event_type: EventType, callback: Callback) -> None:
        self._remove(self._by_type.get(event_type, {}), callback)

    def unsubscribe_all(self, callback: Callback) -> None:
        self._remove(self._all, callback)

    async def publish(self, event: Event) -> None:
        """Production's publish: returns None (``dispatch`` returns how each handler fared)."""
        await self.dispatch(event)

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
            results = await self._dispatch(event)
        finally:
            self.in_flight -= 1
            _depth.reset(token)
        return results

    def get_recent_events(self, count: int = 50) -> list[Event]:
        return list(self._history)[-count:]  # as production: count 0 means everything

    def get_events_by_type(self, event_type: EventType, count: int = 50) -> list[Event]:
        matching = [e for e in self._history if e.type == event_type]
        return matching[-count:]

    def clear_history(self) -> None:
        self._history.clear()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._by_type.values()) + len(self._all)

    @property
    def history_size(self) -> int:
        return len(self._history)

    # -- devnode additions ---------------------------------------------------
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

    def add_observer(self, observer: Observer, *, first: bool = False) -> None:
        """Call ``observer(event, results)`` after every dispatch (UI, recorder).

        ``first`` runs it before the observers already added: the console's debugger
        must see a handler's exception before the host reports it and frees its frames.
        """
        if first:
            self._observers.insert(0, observer)
        else:
            self._observers.append(observer)

    def hold(self, owner: str, held: list[Event]) -> None:
        """Append every event published from now on to ``held``, until ``release(owner)`` (host swaps)."""
        self._holding[owner] = held

    def release(self, owner: str) -> None:
        self._holding.pop(owner, None)

    def remove_observer(self, observer: Observer) -> None:
        self._observers.remove(observer)

    def subscriptions(self) -> list[Subscription]:
        subs = [s for d in self._by_type.values() for s in d.values()]
        return subs + list(self._all.values())

    def remove_subscription(self, sub: Subscription) -> None:
        table = self._all if sub.event_type is None else self._by_type.get(sub.event_type, {})
        try:
            if table.get(sub.callback) is sub:
                self._remove(table, sub.callback)
        except Exception:  # a callback whose __hash__/__eq__ raises now: find it by identity
            for key, value in list(table.items()):
                if value is sub:
                    del table[key]
                    if sub.ledger is not None and sub in sub.ledger.subscriptions:
                        sub.ledger.subscriptions.remove(sub)
                    self._snapshots.clear()

    async def deliver(self, event: Event, ledger: Ledger) -> list[HandlerResult]:
        """Deliver ``event`` to one plugin's current subscriptions only (after a swap)."""
        subs = [s for s in self._snapshot(event.type) if s.ledger is ledger]
        if not subs:
            return []  # held for it, but not a type this version handles: nothing happened to report
        results = [await self._call(s, event) for s in subs]
        self._notify(event, results)
        return results

    # -- parity notices (what production would do differently) ----------------
    def _note_subscription(self, event_type: EventType, table: dict[Callback, Subscription]) -> None:
        assert self.parity is not None
        ledger = current_ledger()
        if ledger is None:
            return  # devnode's own subscribers (UI, recorder) rely on nothing
        if event_type in NEVER_PUBLISHED:
            self.parity.note(
                f"never-published-{event_type.name.lower()}",
                f"subscribed to {event_type.value}, which no production component publishes (only plugins, "
                "or devnode's emit command and scenarios)",
                f"nothing publishes {event_type.name} (dashboard/event_bus.py:19-49 defines it; services/node.py and "
                "network/p2p_network.py never publish it): the handler never runs",
            )
        elif event_type is EventType.DATA_RECEIVED:
            self.parity.note(
                "data-received-never-published",
                "subscribed to data.received; devnode publishes it when a simulated peer sends data",
                "as shipped, nothing calls P2PNetwork._handle_incoming_data (network/p2p_network.py:536), so "
                "Node.on_data_received (services/node.py:378) never runs and DATA_RECEIVED is never published",
            )
        if any(sub.ledger is not None and sub.ledger.owner == ledger.owner for sub in table.values()):
            self.parity.note(
                "dispatch-order",
                f"a second handler for {event_type.value} from the same plugin; devnode calls handlers in "
                "subscription order",
                "subscribers are kept in a set (dashboard/event_bus.py:94-110), so the order is arbitrary: "
                "do not rely on one handler running before the other",
            )

    def _note_exit(self, exc: BaseException, ledger: Ledger | None) -> None:
        if self.parity is None:
            return
        self.parity.note(
            "handler-exit",
            f"a handler raised {type(exc).__name__}; devnode reported it and kept the node running",
            f"the bus catches only Exception (dashboard/event_bus.py:174-180): {type(exc).__name__} propagates "
            "out of publish() and stops the caller (e.g. the node)",
            site=traceback_site(exc), plugin=ledger.owner if ledger is not None else None,
        )

    def _check_json(self, event: Event) -> None:
        """Sample event data for what production's dashboard WebSocket cannot send (every event early, then 1 in 64)."""
        seen = self._json_checked.get(event.type, 0)
        self._json_checked[event.type] = seen + 1
        if seen >= JSON_CHECKS_IN_FULL and seen % 64:
            return
        try:
            json.dumps(event.data)
        except Exception as exc:  # odd plugin data can raise anything from inside the encoder
            assert self.parity is not None
            self.parity.note(
                f"event-not-json-{event.type.name.lower()}",
                f"published {event.type.value} with data JSON cannot hold ({exc})",
                "the dashboard WebSocket (api/websocket_handler.py) sends every event with event.to_json() "
                "(dashboard/event_bus.py:68-70) and logs an error for this one",
            )

    # -- internals -----------------------------------------------------------
    def _notify(self, event: Event, results: list[HandlerResult]) -> None:
        """Tell the observers; one that fails is switched off, never the publisher's problem."""
        for observer in list(self._observers):
            try:
                observer(event, results)
            except Exception:
                logger.exception("event observer %r failed and was switched off", observer)
                self.remove_observer(observer)


    async def _to_current(self, event: Event, retired: Ledger) -> list[HandlerResult]:
        """Give ``event`` to the version of ``retired``'s plugin serving now (or hold it, if it is swapping)."""
        results = []
        held = False
        for sub in self._snapshot(event.type):
            ledger = sub.ledger
            if ledger is None or ledger is retired or ledger.owner != retired.owner:
                continue
            if ledger.gate is None:
                results.append(await self._call(sub, event))
            elif not held:
                ledger.gate.append(event)
                held = True
        return results

    def _add(self, table: dict[Callback, Subscription], event_type: EventType | None, callback: Callback) -> None:
        if not callable(callback):
            raise TypeError(f"event handler must be callable, got {callback!r}")
        if callback in table:
            return  # production keeps subscribers in a set
        ledger = current_ledger()
        sub = Subscription(event_type, callback, ledger)
        table[callback] = sub
        if ledger is not None:
            ledger.subscriptions.append(sub)
        self._snapshots.clear()

    def _remove(self, table: dict[Callback, Subscription], callback: Callback) -> None:
        sub = table.pop(callback, None)
        if sub is None:
            return
        if sub.ledger is not None:
            try:
                sub.ledger.subscriptions.remove(sub)
            except ValueError:
                pass
        self._snapshots.clear()

    def _snapshot(self, event_type: EventType) -> tuple[Subscription, ...]:
        snap = self._snapshots.get(event_type)
        if snap is None:
            snap = tuple(self._by_type.get(event_type, {}).values()) + tuple(self._all.values())
            self._snapshots[event_type] = snap
        return snap

    async def _dispatch(self, event: Event) -> list[HandlerResult]:
        """``_call`` for each subscriber, inlined: this loop is the bus's hot path (scripts/bench_bus.py).

        The owner is set only when it changes from one handler to the next, and one
        clock reading both ends a handler's time and starts the next one's.
        """
        self._history.append(event)
        self.published += 1
        if self.parity is not None:
            self._check_json(event)
        # Plugins whose share of this event is settled without calling their handlers here:
        # held for them (whoever releases the hold delivers it) or forwarded to their current version.
        routed: set[str] | None = None
        if self._holding:
            routed = set(self._holding)
            for held in self._holding.values():
                held.append(event)
        results: list[HandlerResult] = []
        append = results.append
        clock = time.perf_counter
        owner = current_ledger()
        token = None
        try:
            start = clock()
            for sub in self._snapshot(event.type):
                ledger = sub.ledger
                if ledger is not None and ledger.gate is not None:
                    if routed is None:
                        routed = set()
                    elif ledger.owner in routed:
                        continue
                    routed.add(ledger.owner)
                    if self._holding.get(ledger.owner) is ledger.gate:
                        # The plugin's swap began while this dispatch waited in an earlier (async)
                        # handler: hold the event for whichever version ends up serving.
                        ledger.gate.append(event)
                    else:
                        # This version was retired while the dispatch waited in an earlier (async) handler.
                        results.extend(await self._to_current(event, ledger))
                        start = clock()
                    continue
                if ledger is not owner:
                    owner = ledger
                    latest = set_current(ledger)
                    if token is None:
                        token = latest  # resetting the first token restores the publisher's owner
                    start = clock()
                error: BaseException | None = None
                try:
                    if sub.is_async:
                        if ledger is None or self.handler_timeout is None:
                            await sub.callback(event)
                        else:
                            await _bounded(sub.callback(event), self.handler_timeout, sub.callback)
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
                    logger.debug("handler %r failed on %s", sub.callback, event.type.value, exc_info=exc)
                    if ledger is not None:
                        ledger.errors += 1
                    if not isinstance(exc, Exception):
                        self._note_exit(exc, ledger)
                    elif not isinstance(exc, UnawaitedHandlerError):  # production drops those silently
                        production_logger.error(f"Event callback error: {safe.text(exc)}", extra=MIRROR)
                end = clock()
                if ledger is not None:
                    ledger.events_handled += 1
                append(HandlerResult(sub, end - start, error))
                start = end
        finally:
            if token is not None:
                reset_current(token)
        self._notify(event, results)
        return results

    async def _call(self, sub: Subscription, event: Event) -> HandlerResult:
        ledger = sub.ledger
        token = set_current(ledger)
        error: BaseException | None = None
        start = time.perf_counter()
        try:
            if sub.is_async:
                if ledger is None or self.handler_timeout is None:
                    await sub.callback(event)
                else:
                    await _bounded(sub.callback(event), self.handler_timeout, sub.callback)
            else:
                result = sub.callback(event)
                if result is not None and isawaitable(result):
                    raise_unawaited(sub.callback, result)
        except BaseException as exc:
            if not safe.is_plugin_failure(exc):
                raise
            error = exc
            logger.debug("handler %r failed on %s", sub.callback, event.type.value, exc_info=exc)
            if not isinstance(exc, Exception):
                self._note_exit(exc, ledger)
            elif not isinstance(exc, UnawaitedHandlerError):  # production drops those silently
                production_logger.error(f"Event callback error: {safe.text(exc)}", extra=MIRROR)
        finally:
            reset_current(token)
        elapsed = time.perf_counter() - start
        if ledger is not None:
            ledger.events_handled += 1
            if error is not None:
                ledger.errors += 1
        return HandlerResult(sub, elapsed, error)
