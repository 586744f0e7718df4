"""The JSON output's fast paths write exactly what the plain ``json.dumps`` path wrote, byte for byte.

``json_line`` reuses one C encoder instead of ``json.dumps`` with options, and the JSON
UI writes event records from cached fragments; ``handler_entries`` rounds times without
``round()``. Each is checked here against the reference it replaced over many generated
payloads: non-ASCII and control characters, lone surrogates, big ints, every kind of
float, nesting past the fallback's depth, non-string keys, cycles, sets and objects whose
``str()`` raises or is not a str (docs/json-records.md is the contract).
"""

from __future__ import annotations

import io
import json
import math
import random
import struct
from typing import Any

from devnode import safe
from devnode.bus.handlers import HandlerResult, Subscription, handler_entries, milliseconds
from devnode.reporting import _encodable, json_line, json_text
from devnode.ui.jsonl import HANDLER_KEYS, JsonUI

CASES = 3000


def reference_line(value: Any) -> str:
    """What ``json_line`` / ``json_text`` wrote before the fast paths (the behaviour to keep)."""
    try:
        return json.dumps(value, default=safe.text, allow_nan=False)
    except Exception:
        return json.dumps(_encodable(value), default=safe.text, allow_nan=False)


class Unprintable:
    def __str__(self) -> str:
        raise KeyError("str")

    __repr__ = __str__


class NotAString:
    def __str__(self) -> Any:
        return 42


class Shown:
    def __init__(self, n: int) -> None:
        self.n = n

    def __str__(self) -> str:
        return f"shown-{self.n}-\u00e9"


def random_float(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.2:
        return rng.choice([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1e300, 1e16, 0.1, 1.5])
    if pick < 0.5:
        return struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
    return round(rng.uniform(-1e6, 1e6), rng.randrange(0, 8))


def random_text(rng: random.Random) -> str:
    alphabet = "ab\"\\/\n\t\x00\x1f\x7f\u00e9\u2028\u4e2d\U0001f600\ud800 "
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 12 or pick < 0.45:
        return rng.choice([
            lambda: None, lambda: True, lambda: False, lambda: rng.randrange(-10**30, 10**30),
            lambda: random_float(rng), lambda: random_text(rng), lambda: Shown(rng.randrange(3)),
            lambda: Unprintable(), lambda: NotAString(), lambda: {1, 2}, lambda: b"bytes",
        ])()
    if pick < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if pick < 0.75:
        return tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3)))
    keys: list[Any] = [random_text(rng), "k", 1, 2.5, True, None, (1, 2), Unprintable()]
    return {rng.choice(keys) if rng.random() < 0.3 else random_text(rng): random_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 4))}


def random_data(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.4:  # the node's own shape
        return {"data_hash": f"0x{rng.getrandbits(256):064x}", "recipient": rng.choice(["peer1", "p\u00e9er"])}
    if pick < 0.5:
        cyclic: dict[str, Any] = {"n": 1}
        cyclic["self"] = [cyclic]
        return cyclic
    if pick < 0.55:
        deep: Any = "bottom"
        for _ in range(rng.choice([9, 40, 2000])):
            deep = {"d": deep}
        return deep
    return random_value(rng)


def random_entry(rng: random.Random) -> Any:
    plugin = rng.choice(["a_plugin", "b_plugin", None, "\u00e9_plugin", 7, Shown(1)])
    handler = rng.choice(["APlugin.on_event", "APlugin.on_share", "B.\u4e2d", "<lambda>", None])
    ms = rng.choice([0.001, 0.002, 0.013, 0.0, -0.0, 1.0, 12.5, math.nan, math.inf, 3, True, None, random_float(rng)])
    entry: dict[Any, Any] = {"plugin": plugin, "handler": handler, "ok": True, "ms": ms, "error": None}
    pick = rng.random()
    if pick < 0.1:
        entry.update(ok=False, error=rng.choice(["ValueError: no", "Err\u00e9", None]))
    elif pick < 0.15:
        entry["debugged"] = True
    elif pick < 0.2:
        entry["ok"] = 1  # equal to True, written as 1
    elif pick < 0.25:
        entry = {k: entry[k] for k in reversed(HANDLER_KEYS)}
    elif pick < 0.27:
        return rng.choice([None, "entry", [1, 2], {"plugin": "a_plugin"}])
    return entry


def random_event_record(rng: random.Random) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "event", "ts": rng.choice([1718000000.123456, round(rng.uniform(0, 2e9), 6), math.nan, 17]),
        "type": rng.choice(["data.shared", "d\u00e9ta", 5]), "data": random_data(rng),
        "handlers": [random_entry(rng) for _ in range(rng.randrange(0, 6))],
    }
    pick = rng.random()
    if pick < 0.05:
        record["extra"] = 1
    elif pick < 0.08:
        record["handlers"] = tuple(record["handlers"])
    return record


def test_json_line_and_json_text_write_what_json_dumps_wrote() -> None:
    rng = random.Random(14)
    for _ in range(CASES):
        value = random_value(rng)
        record = {"kind": "log", "ts": 1.5, "data": value}
        assert json_line(record) == reference_line(record)
        assert json_text(value) == reference_line(value)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert json_line({"c": cyclic}) == reference_line({"c": cyclic})


def test_event_lines_from_the_fast_path_are_the_bytes_json_line_writes() -> None:
    rng = random.Random(16)
    ui = JsonUI(io.StringIO())
    for _ in range(CASES):
        record = random_event_record(rng)
        assert ui._event_line(record) == reference_line(record)
    # The caches (fragments per handler, texts per ms value) keep giving the same bytes.
    record = {"kind": "event", "ts": 2.0, "type": "data.shared", "data": {},
              "handlers": [{"plugin": "a_plugin", "handler": "APlugin.on_event", "ok": True, "ms": ms, "error": None}
                           for ms in (0.001, 0.0, -0.0, 0.001, 0.0, -0.0)]}
    assert ui._event_line(record) == reference_line(record) == ui._event_line(record)


def test_handler_entries_round_times_as_round_did() -> None:
    rng = random.Random(18)
    sub = Subscription(None, print, None)
    seconds = [0.0, -0.0, 6.25e-05, 0.0000625, 1e-9, 5e-7, 1.5e-6, 2.5e-6, 0.0005, 0.0015, 999.9999995, 1e3, 1e4,
               math.inf, -1e-6]
    seconds += [rng.random() * 10 ** rng.uniform(-8, 3) for _ in range(20000)]
    seconds += [(rng.randrange(0, 10**7) + 0.5) / 1e9 for _ in range(20000)]  # half a µs: round() decides
    entries = handler_entries([HandlerResult(sub, s, None) for s in seconds])
    for s, entry in zip(seconds, entries):
        expected = round(s * 1000, 3)
        assert repr(entry["ms"]) == repr(expected) == repr(milliseconds(s)), s


def test_event_fields_built_by_the_json_ui_are_the_runtimes_and_their_line_the_same_bytes() -> None:
    from devnode.bus import Event, EventType
    from devnode.ownership import Ledger
    from devnode.ui.records import event_fields

    rng = random.Random(20)

    class Weird:
        def __call__(self, event: Any) -> None: ...

    callbacks: list[Any] = [print, Weird(), lambda e: None, Shown.__str__]
    ledgers = [None, Ledger("a_plugin"), Ledger("\u00e9_plugin")]
    subs = [Subscription(EventType.DATA_SHARED, cb, ledger) for cb in callbacks for ledger in ledgers]
    ui = JsonUI(io.StringIO())
    for n in range(CASES // 3):
        results = []
        for _ in range(rng.randrange(0, 8)):
            error = rng.choice([None] * 6 + [ValueError("no"), KeyError("\u4e2d"), SystemExit(3)])
            result = HandlerResult(rng.choice(subs), rng.choice([0.0, 1e-6, 2.5e-6, rng.random() / 100]), error)
            result.debugged = rng.random() < 0.1
            results.append(result)
        event = Event(EventType.DATA_SHARED, random_data(rng))
        fields = ui.event_fields(event, results)
        assert fields == event_fields(event, results)
        record = {"kind": "event", "ts": 1718000000.5 + n, **fields}
        if rng.random() < 0.1:
            record["handlers"] = [dict(e) for e in record["handlers"]]  # not the entries built here: checked as usual
        assert ui._event_line(record) == reference_line(record)


def test_the_reused_encoder_detects_cycles_at_once_and_survives_re_entry_and_threads() -> None:
    import sys
    import threading

    class Reentrant:  # a plugin's __str__ that logs (a record encoded inside an encode)
        def __str__(self) -> str:
            return json_line({"inner": [Shown(1), math.nan]})

    cyclic: dict[str, Any] = {"n": 1}
    cyclic["self"] = cyclic
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)  # a cycle must not recurse until the C stack gives out
    try:
        assert json_line({"c": cyclic}) == reference_line({"c": cyclic})
    finally:
        sys.setrecursionlimit(limit)
    record = {"kind": "log", "data": [Reentrant(), {"x": Reentrant()}], "after": math.inf}
    assert json_line(record) == reference_line(record)
    failures: list[str] = []

    def encode_many() -> None:
        rng = random.Random(threading.get_ident())
        for _ in range(300):
            value = {"v": random_value(rng), "c": cyclic if rng.random() < 0.2 else 0}
            if json_line(value) != reference_line(value):
                failures.append(repr(value))

    threads = [threading.Thread(target=encode_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
