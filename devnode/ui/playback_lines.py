"""Plain-text lines for the scenario, replay and peer records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _started(r: dict[str, Any]) -> str:
    round_ = f" (round {r['iteration']})" if r.get("iteration", 1) > 1 else ""
    return f"scenario {r['scenario']}{round_}: {r['steps']} step(s) from {r['file']}"


def _step(r: dict[str, Any]) -> str:
    mark = ("ok~" if r.get("tolerated") else "ok") if r["ok"] else "FAIL"
    text = f"  {mark:<4} {r['index']:>2} {r['step']}"
    if r.get("note"):
        text += f"  # {r['note']}"
    if r.get("error"):
        text += f"\n       {r['where']}: {r['error']}" if not r["ok"] else f"\n       (tolerated: {r['error']})"
    return text


def _finished(r: dict[str, Any]) -> str:
    if r["ok"]:
        return f"scenario {r['scenario']} passed: {r['steps']} step(s) in {r['seconds']:.2f} s"
    lines = [f"scenario {r['scenario']} FAILED: {r['failed']} of {r['steps']} step(s) failed"]
    lines += [f"  {f['where']}: step {f['index']} {f['step']}: {f['error']}" for f in r["failures"]]
    return "\n".join(lines)


def _scenario_error(r: dict[str, Any]) -> str:
    return "error: scenario " + (r.get("file") or "") + ":\n" + "\n".join(
        f"  {p}" for p in (r.get("problems") or [r.get("error", "")])
    )


def _replay_started(r: dict[str, Any]) -> str:
    speed = "as fast as possible" if r["fast"] else "at recorded speed"
    left = f" ({r['skipped']} not replayed: the node's start/stop, or published by plugins)" if r["skipped"] else ""
    return f"replaying {r['events']} event(s) from {r['file']} {speed}{left}"


def _replay_finished(r: dict[str, Any]) -> str:
    head = f"replayed {r['replayed']} event(s) in {r['seconds']:.2f} s: "
    head += "every handler ok" if r["ok"] else f"{len(r['failures'])} handler failure(s)"
    lines = [head]
    lines += [f"  FAILED #{f['seq']} {f['type']}: {f['plugin']} {f['handler']}: {f['error']}" for f in r["failures"]]
    for change in r["changed"]:
        lines.append(f"  changed #{change['seq']} {change['type']}: {'; '.join(change['before']) or 'no handlers'}"
                     f" -> {'; '.join(change['after']) or 'no handlers'}")
    return "\n".join(lines)


def _peers(r: dict[str, Any]) -> str:
    lines = [f"{len(r['peers'])} simulated peer(s)"]
    for p in r["peers"]:
        state = "connected" if p["connected"] else "DISCONNECTED"
        lines.append(f"  {p['peer']:<16} {state:<13} latency {p['latency_ms']:g} ms  drop {p['drop_rate']:g}  "
                     f"holds {p['items_held']}  balance {p['balance']}  {p['address']}")
    return "\n".join(lines)


PLAYBACK_FORMATTERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "scenario.started": _started,
    "scenario.step": _step,
    "scenario.finished": _finished,
    "scenario.error": _scenario_error,
    "replay.started": _replay_started,
    "replay.finished": _replay_finished,
    "replay.error": lambda r: f"error: replay: {r['error']}",
    "peers": _peers,
}
