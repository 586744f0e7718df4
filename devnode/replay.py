"""Publishes a recording's events again, against the plugins loaded now, and compares the outcomes.

Only events that came from outside the plugins are published: what plugins
published in reaction (``depth`` > 1, or a ``source`` plugin) they will publish
again themselves, and the node's own start/stop events belong to the node that
replays. Each replayed event gets the recorded type and data with a fresh
timestamp; the data a DATA_SHARED/DATA_RECEIVED event points at is put back
into the node's data store first, so ``get_shared_data`` finds it.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field
from typing import Any

from devnode.bus import Event, EventBus, EventType
from devnode.recording import RecordedEvent, Recording, outcome
from devnode.reporting import Reporter

LIFECYCLE = (EventType.NODE_STARTED, EventType.NODE_STOPPING)


@dataclass
class ReplayResult:
    """What a replay did: per replayed event, how every handler fared now."""

    file: str
    replayed: list[RecordedEvent] = field(default_factory=list)
    skipped: int = 0
    outcomes: list[list[dict[str, Any]]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [
            {"seq": rec.seq, "type": rec.event.type.value, **o}
            for rec, outs in zip(self.replayed, self.outcomes) for o in outs if not o["ok"]
        ]

    @property
    def changed(self) -> list[dict[str, Any]]:
        """Events whose handlers fared differently from the recording (a fix, or a new bug)."""
        return [
            {"seq": rec.seq, "type": rec.event.type.value, "before": summary(rec.handlers), "after": summary(outs)}
            for rec, outs in zip(self.replayed, self.outcomes) if summary(rec.handlers) != summary(outs)
        ]

    @property
    def ok(self) -> bool:
        return not self.failures


def summary(outcomes: list[dict[str, Any]]) -> list[str]:
    """``["audit_plugin._log_event ok", "x.on_event FAILED (ValueError: ...)"]``."""
    return [
        f"{o.get('plugin') or '-'} {o.get('handler')} " + ("ok" if o.get("ok") else f"FAILED ({o.get('error')})")
        for o in outcomes
    ]


def selection(recording: Recording) -> tuple[list[RecordedEvent], int]:
    """The events to publish, in the order they were published, and how many are left out."""
    chosen = [r for r in recording.events if r.from_outside and r.event.type not in LIFECYCLE]
    chosen.sort(key=lambda r: (r.event.timestamp, r.seq))
    return chosen, len(recording.events) - len(chosen)


async def replay(node: Any, recording: Recording, reporter: Reporter, fast: bool = False) -> ReplayResult:
    """Publish the recording's outside events on ``node``'s bus; at recorded speed unless ``fast``."""
    bus: EventBus = node.event_bus
    events, skipped = selection(recording)
    result = ReplayResult(recording.path, skipped=skipped)
    reporter.emit("replay.started", file=recording.path, events=len(events), skipped=skipped, fast=fast)
    started = time.monotonic()
    first = events[0].event.timestamp if events else 0.0
    for rec in events:
        if not fast:
            delay = (rec.event.timestamp - first) - (time.monotonic() - started)
            if delay > 0:
                await asyncio.sleep(delay)
        for data_hash, value in rec.stored.items():
            node.data_manager.store_data(data_hash, copy.deepcopy(value))
        results = await bus.dispatch(Event(rec.event.type, copy.deepcopy(rec.event.data)))
        await bus.drain()
        result.replayed.append(rec)
        result.outcomes.append([outcome(r) for r in results])
    result.seconds = time.monotonic() - started
    reporter.emit(
        "replay.finished", file=recording.path, replayed=len(result.replayed), skipped=skipped, ok=result.ok,
        failures=result.failures, changed=result.changed, seconds=round(result.seconds, 3),
    )
    return result
