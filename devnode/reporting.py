"""The stream of records every UI renders: one dict per thing that happened.

Each record has ``kind`` and ``ts``; the JSON UI prints them as they are, so the
field names are a public interface: devnode/records.py declares them per kind (as
docs/json-records.md documents them) and ``Reporter.emit``'s overloads make mypy
check every emit site against its kind.

The exception behind a ``plugin.failed``/``plugin.error`` record is not in the record:
the emit site hands its ``PluginProblem`` (diagnosis and exception) over with
``problem=``, and a sink with a ``with_problem(record, problem)`` method gets it there,
synchronously, while the exception's frames are still alive (the rich console's
error panels and post-mortem). No sink re-derives it.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from devnode import safe
from devnode.codes import WarningCode

if TYPE_CHECKING:
    from devnode import records as r
    from devnode.host.diagnostics import PluginProblem

Record = dict[str, Any]
Sink = Callable[[Record], None]


class Reporter:
    """Fans records out to the sinks (UI, tests, recorders)."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._failures: set[tuple[int, str]] = set()  # (sink, exception type) already noted on stderr
        # Called on each record before the sinks see it (e.g. to add a restart offer to a warning).
        self.enrichers: list[Callable[[Record], None]] = []
        # Called once when a sink's reader went away (e.g. ``devnode run | head``).
        self.on_output_closed: Callable[[], None] | None = None

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    # One overload per kind: the fields each kind takes (devnode/records.py).
    @overload
    def emit(self, kind: Literal["node.ready"], **fields: Unpack[r.NodeReady]) -> Record: ...
    @overload
    def emit(self, kind: Literal["node.stopped"], **fields: Unpack[r.NodeStopped]) -> Record: ...
    @overload
    def emit(self, kind: Literal["node.restarting"], **fields: Unpack[r.NodeRestarting]) -> Record: ...
    @overload
    def emit(self, kind: Literal["config.changed"], **fields: Unpack[r.ConfigChanged]) -> Record: ...
    @overload
    def emit(self, kind: Literal["plugin.loaded"], **fields: Unpack[r.PluginLoaded]) -> Record: ...
    @overload
    def emit(self, kind: Literal["plugin.reloaded"], **fields: Unpack[r.PluginReloaded]) -> Record: ...
    @overload
    def emit(self, kind: Literal["plugin.failed"], *, problem: PluginProblem | None = None,
             **fields: Unpack[r.PluginFailed]) -> Record: ...
    @overload
    def emit(self, kind: Literal["plugin.error"], *, problem: PluginProblem | None = None,
             **fields: Unpack[r.PluginError]) -> Record: ...
    @overload
    def emit(self, kind: Literal["plugin.unloaded"], **fields: Unpack[r.PluginUnloaded]) -> Record: ...
    @overload
    def emit(self, kind: Literal["warning"], **fields: Unpack[r.WarningRecord]) -> Record: ...
    @overload
    def emit(self, kind: Literal["event"], **fields: Unpack[r.EventRecord]) -> Record: ...
    @overload
    def emit(self, kind: Literal["log"], **fields: Unpack[r.Log]) -> Record: ...
    @overload
    def emit(self, kind: Literal["help"], **fields: Unpack[r.Help]) -> Record: ...
    @overload
    def emit(self, kind: Literal["status"], **fields: Unpack[r.Status]) -> Record: ...
    @overload
    def emit(self, kind: Literal["command.result"], **fields: Unpack[r.CommandResult]) -> Record: ...
    @overload
    def emit(self, kind: Literal["command.error"], **fields: Unpack[r.CommandError]) -> Record: ...
    @overload
    def emit(self, kind: Literal["peers"], **fields: Unpack[r.Peers]) -> Record: ...
    @overload
    def emit(self, kind: Literal["tests.finished"], **fields: Unpack[r.TestsFinished]) -> Record: ...
    @overload
    def emit(self, kind: Literal["scenario.started"], **fields: Unpack[r.ScenarioStarted]) -> Record: ...
    @overload
    def emit(self, kind: Literal["scenario.step"], **fields: Unpack[r.ScenarioStep]) -> Record: ...
    @overload
    def emit(self, kind: Literal["scenario.finished"], **fields: Unpack[r.ScenarioFinished]) -> Record: ...
    @overload
    def emit(self, kind: Literal["replay.started"], **fields: Unpack[r.ReplayStarted]) -> Record: ...
    @overload
    def emit(self, kind: Literal["replay.finished"], **fields: Unpack[r.ReplayFinished]) -> Record: ...
    @overload
    def emit(self, kind: Literal["scenario.error", "replay.error"], **fields: Unpack[r.PlaybackError]) -> Record: ...
    @overload
    def emit(self, kind: Literal["debugger.listening", "debugger.waiting", "debugger.attached", "debugger.detached"],
             **fields: Unpack[r.DebuggerEndpoint]) -> Record: ...
    @overload
    def emit(self, kind: Literal["debugger.stopped", "debugger.resumed"], **fields: Unpack[r.DebuggerStop]) -> Record: ...

    def emit(self, kind: str, *, problem: PluginProblem | None = None, **fields: Any) -> Record:
        """Build the record (``kind``, ``ts``, ``fields``), enrich it and hand it to every sink.

        ``problem``: the failure behind a ``plugin.failed``/``plugin.error`` record, for sinks
        with ``with_problem``; it is never part of the record.
        """
        record: Record = {"kind": kind, "ts": round(time.time(), 6), **fields}
        if kind == "warning" and isinstance(fields.get("code"), WarningCode):
            record["code"] = str(fields["code"])  # records hold plain strings (as parity warnings' codes are)
        for enrich in self.enrichers:
            enrich(record)
        for sink in list(self._sinks):
            try:
                taker = getattr(sink, "with_problem", None) if problem is not None else None
                if taker is not None:
                    taker(record, problem)
                else:
                    sink(record)
            except BrokenPipeError:
                self.remove_sink(sink)
                if self.on_output_closed is not None:
                    self.on_output_closed()
            except Exception as exc:  # a broken UI must never fail the plugin whose record it was showing
                # One record the sink could not take (odd plugin data) is dropped; the sink stays on.
                key = (id(sink), type(exc).__name__)
                if key not in self._failures:
                    self._failures.add(key)
                    sys.stderr.write(f"devnode: output {type(sink).__name__} could not show a {kind} record "
                                     f"({safe.exception_text(exc)}); that record was dropped, the output stays on\n")
        return record


def json_line(record: Record) -> str:
    """``record`` as one strict JSON line; data JSON cannot hold is written as text, never raised.

    Non-string keys, cycles, NaN/inf, objects whose str()/repr() raise: a plugin's
    odd event data must not switch the output (or a recording) off, nor make a line jq rejects.
    """
    try:
        return strict_json(record)
    except Exception:
        return strict_json(_encodable(record))


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` that never raises: what JSON cannot hold is written as text."""
    if not options:
        return json_line(value)
    try:
        return json.dumps(value, default=safe.text, allow_nan=False, **options)
    except Exception:
        return json.dumps(_encodable(value), default=safe.text, allow_nan=False, **options)


def _strict_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, default=safe.text, allow_nan=False)``, without building an encoder per call.

    ``json.dumps`` with options makes a ``JSONEncoder`` and its C encoder for every call,
    which cost more than encoding a small record (one per event: scripts/bench_bus.py).
    This is the C encoder ``dumps`` would make, made once, with its cycle markers. The
    markers are one dict, so one encode at a time uses it (a lock taken without waiting);
    an encode from another thread, or from inside one (a plugin's ``__str__`` logging),
    takes a fresh encoder as ``dumps`` does.
    """
    encoder = json.JSONEncoder(default=safe.text, allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder, as dumps would use
        return encoder.encode
    markers: dict[int, Any] = {}
    chunks = make(markers, safe.text, json.encoder.encode_basestring_ascii, None, encoder.key_separator,
                  encoder.item_separator, False, False, False)
    busy = threading.Lock()
    join, fresh = "".join, encoder.encode

    def encode(value: Any) -> str:
        if not busy.acquire(blocking=False):
            return fresh(value)
        try:
            return join(chunks(value, 0))
        finally:
            if markers:
                markers.clear()  # an encode that raised leaves the containers it was in marked
            busy.release()

    return encode


strict_json = _strict_encoder()


def _encodable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= 8:
        return safe.representation(value)
    if isinstance(value, dict):
        try:
            items = list(value.items())
        except Exception:
            return safe.representation(value)
        return {(k if isinstance(k, str) else safe.representation(k)): _encodable(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [_encodable(v, depth + 1) for v in value]
    return safe.text(value)
