"""What a parsed scenario is: named, timed steps, each remembering where it was written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Steps that make something happen; an ``expect`` looks at the events since the latest one.
ACTIONS = ("emit", "share", "receive", "transfer", "peer_up", "peer_down", "status")
# Steps that only change or inspect things.
OTHERS = ("peer_set", "wait", "expect", "expect_plugin")
STEP_KINDS = ACTIONS + OTHERS


@dataclass(frozen=True)
class Step:
    """One step: its kind (the action key), that key's value and the step's other keys."""

    index: int  # 1-based, in file order
    kind: str
    value: Any
    options: dict[str, Any]
    file: str
    line: int | None = None

    @property
    def where(self) -> str:
        """``tour.toml:12``, or ``tour.toml step 3`` when the line is not known."""
        return f"{self.file}:{self.line}" if self.line else f"{self.file} step {self.index}"

    @property
    def is_action(self) -> bool:
        return self.kind in ACTIONS

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def describe(self) -> str:
        """The step as one readable line, e.g. ``share peer1 {"report": 42}``."""
        text = _DESCRIBE[self.kind](self)
        if "fails" in self.options:
            fails = self.options["fails"]
            text += " (should fail" + (f': "{fails}")' if isinstance(fails, str) else ")")
        return text


@dataclass
class Scenario:
    """A whole scenario file."""

    name: str
    file: str
    steps: list[Step]
    description: str = ""
    seed: int | None = None
    peers: list[str] = field(default_factory=list)


def compact(value: Any, width: int = 120) -> str:
    text = json.dumps(value, default=str, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


def _type_name(value: Any) -> str:
    return getattr(value, "value", str(value))


def _emit(s: Step) -> str:
    data = s.get("data")
    return f"emit {_type_name(s.value)}" + (f" {compact(data)}" if data else "")


def _transfer(s: Step) -> str:
    source = f" from {s.get('from')}" if s.get("from") else ""
    return f"transfer {s.get('amount')} {s.value}{source} to {s.get('to')}"


def _peer_set(s: Step) -> str:
    parts = [f"{k}={s.get(k)}" for k in ("latency_ms", "drop") if k in s.options]
    return f"peer set {s.value} {' '.join(parts)}"


def _expect(s: Step) -> str:
    count, what = s.get("count"), _type_name(s.value)
    if count is None:
        text = f"expect {what}"
    else:
        text = f"expect no {what}" if count == 0 else f"expect {count} x {what}"
    if s.get("data"):
        text += f" {compact(s.get('data'))}"
    if s.get("handled_by"):
        text += f" handled by {', '.join(s.get('handled_by'))}"
    if s.get("failed_by"):
        text += f" failing in {', '.join(s.get('failed_by'))}"
    return text


def _expect_plugin(s: Step) -> str:
    text = f"expect plugin {s.value}"
    if s.get("state"):
        text += f" {s.get('state')}"
    if s.get("path"):
        text += " " + path_text(s.get("path"))
        for key, op in (("equals", "=="), ("at_least", ">="), ("at_most", "<="), ("contains", "contains")):
            if key in s.options:
                text += f" {op} {compact(s.get(key))}"
    return text


def path_text(path: list[str | int]) -> str:
    """``counts["data.shared"]`` for ``["counts", "data.shared"]``."""
    text = str(path[0])
    for part in path[1:]:
        text += f"[{json.dumps(part)}]" if not (isinstance(part, str) and part.isidentifier()) else f".{part}"
    return text


_DESCRIBE = {
    "emit": _emit,
    "share": lambda s: f"share {s.value} {compact(s.get('data'))}" + (
        f" paying {s.get('payment_amount')} {s.get('payment_token')}" if s.get("payment_token") else ""),
    "receive": lambda s: f"receive {s.value} {compact(s.get('data'))}",
    "transfer": _transfer,
    "peer_up": lambda s: f"peer up {s.value}",
    "peer_down": lambda s: f"peer down {s.value}",
    "peer_set": _peer_set,
    "wait": lambda s: f"wait {s.value:g} s",
    "status": lambda s: "status update (health.update, network.stats_update)",
    "expect": _expect,
    "expect_plugin": _expect_plugin,
}
