"""One subscribed callback, how it fared with one event, and calling it as production would.

``Subscription`` is the one record of who owns a callback (its ``ledger``);
``HandlerResult`` is what a dispatch reports per handler, and ``handler_entry``
is the one place that turns a result into the form records, recordings and the
testing kit show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from inspect import iscoroutinefunction
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Union

from devnode import safe
from devnode.bus.event import Event
from devnode.ownership import Ledger

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import HandlerEntry

Callback = Callable[[Event], Union[Awaitable[Any], Any]]


class Subscription:
    """One callback on the bus and the plugin (ledger) that registered it."""

    # "retired": removed while its plugin was held for a swap; a dispatch already under way that
    # still reaches it gives the event to the plugin's version serving then (see Dispatcher).
    __slots__ = ("event_type", "callback", "ledger", "is_async", "owner_name", "retired", "name")

    def __init__(self, event_type: Any, callback: Callback, ledger: Ledger | None) -> None:
        self.event_type = event_type
        self.callback = callback
        self.ledger = ledger
        self.is_async = iscoroutinefunction(callback)
        self.owner_name = ledger.owner if ledger is not None else None
        self.retired = False
        self.name = callback_name(callback)  # read once: every event record names the handler

    def move_to(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.owner_name = ledger.owner


class HandlerResult:
    """How one handler fared with one event."""

    # "debugged" is set (by devnode.paused) only when a debugger stopped inside the handler.
    __slots__ = ("subscription", "seconds", "error", "debugged")

    def __init__(self, subscription: Subscription, seconds: float, error: BaseException | None) -> None:
        self.subscription = subscription
        self.seconds = seconds
        self.error = error
        self.debugged = False

    @property
    def plugin(self) -> str | None:
        return self.subscription.owner_name

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def handler_name(self) -> str:
        return self.subscription.name


def callback_name(callback: Any) -> str:
    """A handler's qualified name, or its repr when it has none (a plugin's callable may raise on either)."""
    try:
        name = callback.__qualname__
    except Exception:
        return safe.representation(callback)
    return name if isinstance(name, str) and name else safe.representation(callback)


def handler_entries(results: list[HandlerResult]) -> list[HandlerEntry]:
    """Results in record form: ``plugin``, ``handler``, ``ok``, ``ms``, ``error``, and ``debugged`` when set.

    The one conversion: ``event`` records (docs/json-records.md), recordings (which leave
    out the timing) and the testing kit's ``Handled`` are all built from it. A list at a
    time: it runs for every event, for every handler (scripts/bench_bus.py).
    """
    entries: list[HandlerEntry] = []
    append = entries.append
    for result in results:
        sub, error = result.subscription, result.error
        # milliseconds(), inlined: this loop runs for every handler of every event.
        ms = result.seconds * 1000.0
        if 0.0 < ms < MS_EXACT_BELOW:
            micros = ms * 1000.0
            whole = int(micros + 0.5)
            if -0.49 < micros - whole < 0.49:
                ms = whole / 1000
            else:
                ms = round(ms, 3)
        else:
            ms = round(ms, 3)
        if error is None:
            entry: HandlerEntry = {"plugin": sub.owner_name, "handler": sub.name, "ok": True, "ms": ms, "error": None}
        else:  # the error's text is whatever its __str__ does
            entry = {"plugin": sub.owner_name, "handler": sub.name, "ok": False, "ms": ms,
                     "error": safe.exception_text(error)}
        if result.debugged:
            entry["debugged"] = True
        append(entry)
    return entries


# Below this many ms (1,000 s), a double's error in ms * 1000 is far under 0.01 µs, so rounding
# to the nearest µs away from a half is exact; nearer a half, round() decides (ties to even).
MS_EXACT_BELOW = 1e6


def milliseconds(seconds: float) -> float:
    """``round(seconds * 1000, 3)``, the same float, without round()'s decimal conversion (3x its cost).

    ``whole / 1000`` is the double nearest to whole µs in ms, which is what round() returns
    once it has picked ``whole``; it picks the same µs whenever ``micros`` is not near a half.
    """
    ms = seconds * 1000.0
    if 0.0 < ms < MS_EXACT_BELOW:
        micros = ms * 1000.0
        whole = int(micros + 0.5)
        if -0.49 < micros - whole < 0.49:
            return whole / 1000
    return round(ms, 3)


def handler_entry(result: HandlerResult) -> HandlerEntry:
    """One result in record form (``handler_entries`` for one)."""
    return handler_entries([result])[0]


class UnawaitedHandlerError(TypeError):
    """A callback that is not ``async def`` returned an awaitable, which production never awaits."""


def raise_unawaited(callback: Callback, result: Any) -> None:
    """Behave as production does (the awaitable never runs), but say so instead of staying silent."""
    close = safe.attribute(result, "close")
    if callable(close):
        safe.call(close)  # no "coroutine was never awaited" noise: the error below says it
    raise UnawaitedHandlerError(
        f"{callback_name(callback)} is not an async def function but returned {type(result).__name__}; the "
        "production event bus awaits only callbacks for which asyncio.iscoroutinefunction() is true, so this "
        "work never runs there. Subscribe the async def method itself instead of a lambda, partial or wrapper "
        "around it."
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


async def bounded(awaitable: Awaitable[Any], seconds: float, callback: Callback) -> None:
    """Await a plugin's handler, cancelling it past ``seconds`` so later events and commands go on."""
    if isinstance(awaitable, CoroutineType):
        # Most handlers finish without ever suspending: they need no timer (arming one per handler
        # cost more than a light handler itself). Only one that suspends gets the deadline.
        try:
            first = awaitable.send(None)
        except StopIteration:
            return
        await bounded_rest(awaitable, first, seconds, callback)
    else:
        await _within(awaitable, seconds, callback)


async def bounded_rest(coro: Coroutine[Any, Any, Any], first: Any, seconds: float, callback: Callback) -> None:
    """``bounded`` for a handler's coroutine that already ran to its first suspension (yielding ``first``)."""
    await _within(_Resumed(coro, first), seconds, callback)


async def _within(awaitable: Awaitable[Any], seconds: float, callback: Callback) -> None:
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
