"""The bus package's shape: production's name exposes production's API only, and no import cycles around it."""

from __future__ import annotations

import ast
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

import devnode.bus.api
from devnode import compat
from devnode.bus import Event, EventBus, EventType
from devnode.node.notices import Notice, Notices
from devnode.ownership import Ledger, reset_current, set_current

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "devnode"
PRODUCTION_BUS = ROOT.parent / "shared" / "upstream" / "datamgmtnode" / "datamgmtnode" / "dashboard" / "event_bus.py"


# -- the import graph, read from the source (every import: top level, inside functions, under TYPE_CHECKING) --
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from devnode import safe` imports the module devnode.safe
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def _path(graph: dict[str, set[str]], start: set[str], goal: set[str]) -> list[str] | None:
    """The shortest import chain from a module in ``start`` to one in ``goal``, if any."""
    frontier = [[s] for s in sorted(start)]
    seen = set(start)
    while frontier:
        chain = frontier.pop(0)
        for nxt in sorted(graph[chain[-1]]):
            if nxt in goal:
                return [*chain, nxt]
            if nxt not in seen:
                seen.add(nxt)
                frontier.append([*chain, nxt])
    return None


def test_no_import_cycle_between_the_bus_ownership_and_node_tracked() -> None:
    graph = import_graph()
    groups = {
        "bus": {m for m in graph if m == "devnode.bus" or m.startswith("devnode.bus.")},
        "ownership": {"devnode.ownership"},
        "tracked": {"devnode.node.tracked"},
    }
    assert len(groups["bus"]) >= 5 and all(m in graph for g in groups.values() for m in g)
    cycles = []
    for a, b in [("bus", "ownership"), ("bus", "tracked"), ("ownership", "tracked")]:
        there, back = _path(graph, groups[a], groups[b]), _path(graph, groups[b], groups[a])
        if there and back:
            cycles.append(" -> ".join(there) + " | " + " -> ".join(back))
    assert cycles == []
    # the direction that is allowed is really there: the bus and node objects record into ledgers
    assert _path(graph, groups["bus"], groups["ownership"]) and _path(graph, groups["tracked"], groups["ownership"])
    # and the graph sees what runs only lazily or under TYPE_CHECKING (ownership imports process_ownership so)
    assert "devnode.process_ownership" in graph["devnode.ownership"]


# -- production's name ----------------------------------------------------------------------------------
def _production_public_names() -> set[str]:
    tree = ast.parse(PRODUCTION_BUS.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")}


def _public(obj: Any) -> set[str]:
    return {n for n in vars(obj) if n.isidentifier() and not n.startswith("_")}  # "@py_builtins": pytest's rewriting


def test_the_production_name_exposes_only_what_productions_module_does() -> None:
    production = _production_public_names()
    assert {"EventType", "Event", "EventBus", "logger"} <= production
    ours = _public(devnode.bus.api) - {"annotations"}  # the __future__ feature, not an API
    assert ours <= production, ours - production
    for devnode_only in ("HandlerResult", "publish_depth", "MAX_PUBLISH_DEPTH", "Subscription", "Hold",
                         "PublishLoopError", "Dispatcher", "handler_entry"):
        assert not hasattr(devnode.bus.api, devnode_only)
    compat.install()
    try:
        from dashboard import event_bus

        assert event_bus is devnode.bus.api
    finally:
        compat.uninstall()


def test_the_bus_has_every_public_method_of_productions_bus() -> None:
    tree = ast.parse(PRODUCTION_BUS.read_text(encoding="utf-8"))
    [bus] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "EventBus"]
    methods = {n.name for n in bus.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and not n.name.startswith("_")}
    assert methods == {"subscribe", "subscribe_all", "unsubscribe", "unsubscribe_all", "publish", "get_recent_events",
                       "get_events_by_type", "clear_history", "subscriber_count", "history_size"}
    assert all(hasattr(EventBus, m) for m in methods)


# -- ownership is recorded once ---------------------------------------------------------------------------
def test_a_ledgers_subscriptions_are_read_from_the_bus_and_move_with_absorb() -> None:
    bus = EventBus()
    module_body, instance = Ledger("p"), Ledger("p")
    token = set_current(module_body)
    try:
        bus.subscribe(EventType.DATA_SHARED, lambda event: None)
    finally:
        reset_current(token)
    [sub] = bus.subscriptions()
    assert module_body.subscriptions == [sub] and instance.subscriptions == []
    instance.absorb(module_body)
    assert sub.ledger is instance and instance.subscriptions == [sub] and module_body.subscriptions == []
    assert all(s in bus.owned_by(s.ledger) for s in bus.subscriptions() if s.ledger is not None)
    bus.remove_subscription(sub)
    assert instance.subscriptions == [] and bus.subscriptions() == []
    assert not hasattr(instance, "gate")


# -- the swap hold -------------------------------------------------------------------------------------------
def _subscribe_as(bus: EventBus, ledger: Ledger, seen: list[str], label: str) -> None:
    token = set_current(ledger)
    try:
        bus.subscribe(EventType.DATA_SHARED, lambda event: seen.append(f"{label}:{event.data['n']}"))
    finally:
        reset_current(token)


def test_a_hold_queues_the_plugins_events_and_hands_them_to_the_version_serving_when_it_ends() -> None:
    async def scenario() -> tuple[list[str], list[str], bool]:
        bus = EventBus()
        seen: list[str] = []
        old, new, other = Ledger("p"), Ledger("p"), Ledger("q")
        _subscribe_as(bus, old, seen, "old")
        _subscribe_as(bus, other, seen, "q")
        async with bus.holding("p") as hold:
            assert bus.holding("p") is hold  # a nested hold of the same plugin joins this one
            async with bus.holding("p"):
                await bus.publish(Event(EventType.DATA_SHARED, {"n": 1}))
            await bus.publish(Event(EventType.DATA_SHARED, {"n": 2}))  # still held: the inner end was not the last
            queued = [f"held:{e.data['n']}" for e in hold.events]
            for sub in old.subscriptions:  # the swap: old version swept, new one subscribed
                bus.remove_subscription(sub)
            _subscribe_as(bus, new, seen, "new")
        active = hold.active
        while bus._deliveries:
            await asyncio.gather(*bus._deliveries)
        await bus.publish(Event(EventType.DATA_SHARED, {"n": 3}))
        return seen, queued, active

    seen, queued, active = asyncio.run(scenario())
    assert queued == ["held:1", "held:2"] and not active
    # q is never held; p's events reach only the new version, each once, in order, then live ones
    assert seen == ["q:1", "q:2", "new:1", "new:2", "q:3", "new:3"]  # live ones in subscription order


def test_a_hold_started_and_ended_by_hand_spans_two_steps() -> None:
    async def scenario() -> list[str]:
        bus = EventBus()
        seen: list[str] = []
        ledger = Ledger("p")
        _subscribe_as(bus, ledger, seen, "p")
        hold = bus.holding("p").start()  # as the host lifts a plugin for a restack
        await bus.publish(Event(EventType.DATA_SHARED, {"n": 1}))
        assert seen == []
        hold.end()
        while bus._deliveries:
            await asyncio.gather(*bus._deliveries)
        return seen

    assert asyncio.run(scenario()) == ["p:1"]


# -- production's behaviour for a type that is not an EventType --------------------------------------------
def test_publishing_an_event_with_a_string_type_calls_subscribe_all_callbacks_logs_and_raises(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    called: list[str] = []

    def everything(event: Event) -> None:
        called.append("all")
        event.type.value  # as a dashboard broadcaster would: fails on a str

    bus.subscribe(EventType.DATA_VERIFIED, lambda event: called.append("typed"))
    bus.subscribe_all(everything)
    with caplog.at_level(logging.ERROR, logger="dashboard.event_bus"):
        with pytest.raises(AttributeError, match=r"'str' object has no attribute 'value'.*EventType member"):
            asyncio.run(bus.publish(Event(type="data.verified", data={"probe": "str"})))  # type: ignore[arg-type]
    assert called == ["all"]  # production calls no per-type callback (the key is not an EventType)
    assert [(r.name, r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [
        ("dashboard.event_bus", "ERROR", "Event callback error")]
    assert bus.history_size == 1  # production appends it to history before dispatching


def test_subscribing_with_a_string_is_refused_with_a_parity_warning() -> None:
    bus = EventBus()
    notices = Notices()
    seen: list[Notice] = []
    notices.add_sink(seen.append)
    bus.parity = notices
    token = set_current(Ledger("p"))
    try:
        with pytest.raises(TypeError, match="needs an EventType member"):
            bus.subscribe("data.verified", lambda event: None)  # type: ignore[arg-type]
    finally:
        reset_current(token)
    [notice] = seen
    assert notice.code == "subscribe-not-event-type" and notice.plugin == "p"
    assert "AttributeError" in notice.production and notice.file == __file__
    assert bus.subscriptions() == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
