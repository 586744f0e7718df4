"""Judges ``expect`` and ``expect_plugin`` steps against the run's event log and the live plugins.

Each check returns None when the expectation holds, or a sentence saying what
was seen instead.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devnode.bus import Event, HandlerResult
from devnode.scenarios.model import Step, compact, path_text

MISSING = object()


@dataclass
class Seen:
    """One published event and how every handler fared with it."""

    event: Event
    results: list[HandlerResult] = field(default_factory=list)


class EventLog:
    """A bus observer keeping every event of a scenario run, in dispatch order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    def __call__(self, event: Event, results: list[HandlerResult]) -> None:
        # A plugin swapped mid-dispatch gets the event delivered again: same event, more results.
        for entry in reversed(self.seen[-50:]):
            if entry.event is event:
                entry.results.extend(results)
                return
        self.seen.append(Seen(event, list(results)))

    def since(self, index: int) -> list[Seen]:
        return self.seen[index:]


def check_event(step: Step, window: list[Seen], plugins: list[str]) -> str | None:
    """None if the window holds the events ``step`` expects; otherwise what it holds instead."""
    unknown = [p for p in step.get("handled_by", []) + step.get("failed_by", []) if p not in plugins]
    if unknown:
        return f'{", ".join(unknown)} not loaded (loaded plugins: {", ".join(plugins) or "none"})'
    same_type = [s for s in window if s.event.type == step.value]
    matching = [s for s in same_type if _matches(step, s)]
    wanted = step.get("count")
    if (wanted is None and matching) or len(matching) == wanted:
        return None
    type_name = step.value.value
    if wanted is None:
        head = f"no {type_name} event matched"
    else:
        head = f"expected exactly {wanted} matching {type_name} event(s), saw {len(matching)}"
    if not same_type:
        return f"{head}: there was no {type_name} event; {_inventory(window)}"
    shown = (matching if wanted is not None and matching else same_type)[:3]
    more = f" (and {len(same_type) - len(shown)} more)" if len(same_type) > len(shown) else ""
    return f"{head}; saw: " + "; ".join(_describe_seen(s) + _why_not(step, s) for s in shown) + more


def _why_not(step: Step, seen: Seen) -> str:
    """What keeps ``seen`` from matching, or "" when it matches."""
    reasons = []
    if "data" in step.options and not subset(step.get("data"), seen.event.data):
        reasons.append(f"data differs from {compact(step.get('data'))}")
    ok = {r.plugin for r in seen.results if r.ok}
    failed = {r.plugin for r in seen.results if not r.ok}
    reasons += [f"{p} did not handle it successfully" for p in step.get("handled_by", []) if p not in ok]
    reasons += [f"{p} did not fail on it" for p in step.get("failed_by", []) if p not in failed]
    return f" [{'; '.join(reasons)}]" if reasons else ""


def _matches(step: Step, seen: Seen) -> bool:
    if "data" in step.options and not subset(step.get("data"), seen.event.data):
        return False
    ok = {r.plugin for r in seen.results if r.ok}
    failed = {r.plugin for r in seen.results if not r.ok}
    return all(p in ok for p in step.get("handled_by", [])) and all(p in failed for p in step.get("failed_by", []))


def subset(expected: Any, actual: Any) -> bool:
    """Every key of ``expected`` (recursively) is in ``actual`` with an equal value."""
    if isinstance(expected, dict):
        return isinstance(actual, Mapping) and all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, (list, tuple)):
        return len(expected) == len(actual) and all(subset(e, a) for e, a in zip(expected, actual))
    return bool(expected == actual)


def _describe_seen(seen: Seen) -> str:
    handlers = ", ".join(
        f"{r.plugin or '-'} {'ok' if r.ok else f'FAILED ({type(r.error).__name__}: {r.error})'}" for r in seen.results
    )
    return f"{compact(seen.event.data, 160)} handled by {handlers or 'no handler'}"


def _inventory(window: list[Seen]) -> str:
    if not window:
        return "no events were published in this window"
    counts = Counter(s.event.type.value for s in window)
    return "events in this window: " + ", ".join(f"{name} x{n}" for name, n in counts.items())


def check_plugin(step: Step, host: Any) -> str | None:
    """None if the plugin's host state and attribute hold what ``step`` expects."""
    name = step.value
    slot = host.view(name)
    if slot is None:
        return f'plugin "{name}" is not loaded (plugins: {", ".join(sorted(host.known())) or "none"})'
    state = step.get("state")
    if state is not None and slot.state.value != state:
        error = f" ({slot.error})" if slot.error is not None else ""
        return f"{name} is {slot.state.value}{error}, expected {state}"
    path = step.get("path")
    if path is None:
        return None
    if slot.instance is None:
        return f"{name} has no running instance to read {path_text(path)} from (it is {slot.state.value})"
    value = resolve(slot.instance, path)
    where = f"{name}.{path_text(path)}"
    if value is MISSING:
        return f"{where} does not exist"
    return _compare(step, where, value)


def resolve(obj: Any, path: list[str | int]) -> Any:
    """Follow attributes and keys (mappings: key first; other objects: attribute first)."""
    for part in path:
        obj = _step_into(obj, part)
        if obj is MISSING:
            return MISSING
    return obj


def _step_into(obj: Any, part: str | int) -> Any:
    if isinstance(obj, Mapping) or (isinstance(part, int) and isinstance(obj, (list, tuple))):
        try:
            return obj[part]  # type: ignore[index]  # a Counter answers 0 for a key it has not counted yet
        except (KeyError, IndexError, TypeError):
            pass
    if isinstance(part, str):
        return getattr(obj, part, MISSING)
    return MISSING


def _compare(step: Step, where: str, value: Any) -> str | None:
    shown = json.dumps(value, default=repr)
    try:
        if "equals" in step.options and not value == step.get("equals"):
            return f"{where} is {shown}, expected {compact(step.get('equals'))}"
        if "at_least" in step.options and not value >= step.get("at_least"):
            return f"{where} is {shown}, expected at least {step.get('at_least')}"
        if "at_most" in step.options and not value <= step.get("at_most"):
            return f"{where} is {shown}, expected at most {step.get('at_most')}"
        if "contains" in step.options and step.get("contains") not in value:
            return f"{where} is {compact(value)}, expected it to contain {compact(step.get('contains'))}"
    except TypeError as exc:
        return f"{where} is {shown}, which cannot be compared that way ({exc})"
    return None
