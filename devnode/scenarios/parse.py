"""Reads a scenario TOML file into a Scenario, naming file:line for every problem found."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devnode.errors import DevnodeError
from devnode.bus import EventType
from devnode.host.host import PluginState
from devnode.scenarios.model import STEP_KINDS, Scenario, Step

Check = Callable[[Any], Any]


class ScenarioError(DevnodeError):
    """A scenario file that cannot be played; ``problems`` holds one ``file:line: ...`` line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Bad(Exception):
    """One invalid value; the message says what was expected."""


# -- value checks (each returns the value to keep, or raises _Bad) -------------------------
def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _event_type(value: Any) -> EventType:
    try:
        return EventType.parse(_text(value))
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _number(value: Any, low: float = 0.0, high: float | None = None) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"expected a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise _Bad(f"expected a number {bounds}, got {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"expected a whole number >= 0, got {value!r}")
    return value


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Bad(f"expected a whole number of base units > 0, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _fails(value: Any) -> bool | str:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise _Bad(f'expected true or a piece of the expected error message (e.g. "blocked pattern"), got {value!r}')


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"expected a table like {{ key = \"value\" }}, got {value!r}")
    return value


def _anything(value: Any) -> Any:
    return value


def _names(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise _Bad(f'expected a plugin name or a list of them, e.g. ["audit_plugin"], got {value!r}')
    return [_plugin(i) for i in items]


def _plugin(value: Any) -> str:
    name = _text(value)
    return name[:-3] if name.endswith(".py") else name


def _scope(value: Any) -> str:
    if value not in ("step", "run"):
        raise _Bad(f'expected "step" (events since the latest action) or "run" (since the start), got {value!r}')
    return str(value)


def _state(value: Any) -> str:
    states = [s.value for s in PluginState]
    if value not in states:
        raise _Bad(f"expected one of {', '.join(states)}, got {value!r}")
    return str(value)


def _path(value: Any) -> list[str | int]:
    parts = [value] if isinstance(value, str) else value
    ok = isinstance(parts, list) and parts and isinstance(parts[0], str)
    if not ok or not all(isinstance(p, (str, int)) and not isinstance(p, bool) for p in parts):
        raise _Bad(f'expected an attribute name or a list like ["counts", "data.shared"], got {value!r}')
    return list(parts)


# -- what each step kind accepts --------------------------------------------------------------
COMMON: dict[str, Check] = {"at": _number, "note": _text}
FAILABLE: dict[str, Check] = {"fails": _fails, "may_fail": _flag}
COMPARISONS = ("equals", "at_least", "at_most", "contains")

KINDS: dict[str, tuple[Check, dict[str, Check], tuple[str, ...]]] = {
    # kind: (check of the kind's own value, its other keys, required keys)
    "emit": (_event_type, {"data": _table, **FAILABLE}, ()),
    "share": (_text, {"data": _anything, "payment_token": _text, "payment_amount": _amount, **FAILABLE}, ("data",)),
    "receive": (_text, {"data": _anything, **FAILABLE}, ("data",)),
    "transfer": (_text, {"to": _text, "from": _text, "amount": _amount, **FAILABLE}, ("to", "amount")),
    "peer_up": (_text, dict(FAILABLE), ()),
    "peer_down": (_text, dict(FAILABLE), ()),
    "peer_set": (_text, {"latency_ms": _number, "drop": lambda v: _number(v, 0.0, 1.0)}, ()),
    "wait": (_number, {}, ()),
    "status": (_flag, {}, ()),
    "expect": (
        _event_type,
        {"data": _table, "count": _count, "handled_by": _names, "failed_by": _names, "within": _number,
         "scope": _scope},
        (),
    ),
    "expect_plugin": (
        _plugin,
        {"state": _state, "path": _path, "within": _number, **{c: _anything for c in COMPARISONS}},
        (),
    ),
}
TOP_LEVEL: dict[str, Check] = {"name": _text, "description": _text, "seed": _count, "peers": _names, "step": _anything}


# -- the parser ---------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError listing every problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f'{path}: cannot read the scenario file ({exc.strerror or exc})']) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([_toml_problem(file, str(exc))]) from None
    lines = _SourceLines(text)
    problems: list[str] = []

    for key, value in raw.items():
        line = lines.top_level_key(key)
        where = f"{file}:{line}" if line else file
        if key not in TOP_LEVEL:
            problems.append(f"{where}: unknown top-level key \"{key}\"{_suggest(key, TOP_LEVEL)}")
            continue
        try:
            raw[key] = TOP_LEVEL[key](value)
        except _Bad as exc:
            problems.append(f'{where}: "{key}": {exc}')

    tables = raw.get("step", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append(f"{file}: steps must be written as [[step]] tables")
        tables = []
    if not tables and not problems:
        problems.append(f"{file}: no steps; add one or more [[step]] tables (see docs/scenarios.md)")
    headers = lines.step_headers()
    if len(headers) != len(tables):
        headers = [None] * len(tables)  # steps written some other way: fall back to step numbers

    steps = []
    for index, (table, line) in enumerate(zip(tables, headers), start=1):
        step = _parse_step(table, index, file, line, lines, problems)
        if step is not None:
            steps.append(step)
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        name=raw.get("name") or Path(file).stem,
        file=file,
        steps=steps,
        description=raw.get("description", ""),
        seed=raw.get("seed"),
        peers=raw.get("peers", []),
    )


def _parse_step(
    table: dict[str, Any], index: int, file: str, line: int | None, lines: _SourceLines, problems: list[str]
) -> Step | None:
    kinds = [k for k in table if k in KINDS]
    where = f"{file}:{line}" if line else file
    if len(kinds) != 1:
        found = f'it has {" and ".join(kinds)}' if kinds else f'it has {", ".join(table) or "no keys"}'
        problems.append(f"{where}: step {index} needs exactly one of {', '.join(STEP_KINDS)}; {found}")
        return None
    kind = kinds[0]
    check, allowed, required = KINDS[kind]
    options: dict[str, Any] = {}
    value: Any = None
    before = len(problems)

    def problem(key: str, message: str) -> None:
        at = lines.key_in_step(line, key) or line
        prefix = f"{file}:{at}" if at else file
        problems.append(f"{prefix}: step {index} ({kind}): {message}")

    for key, raw_value in table.items():
        try:
            if key == kind:
                value = check(raw_value)
            elif key in allowed:
                options[key] = allowed[key](raw_value)
            elif key in COMMON:
                options[key] = COMMON[key](raw_value)
            else:
                keys = [kind, *allowed, *COMMON]
                problem(key, f'unknown key "{key}"{_suggest(key, keys)} (a {kind} step takes: {", ".join(keys)})')
        except _Bad as exc:
            problem(key, f'"{key}": {exc}')
    for key in required:
        if key not in table:
            problem(kind, f'"{key}" is missing (a {kind} step needs: {", ".join(required)})')
    _check_combinations(kind, options, problem)
    if len(problems) > before:
        return None
    return Step(index, kind, value, options, file, line)


def _check_combinations(kind: str, options: dict[str, Any], problem: Callable[[str, str], None]) -> None:
    if kind == "peer_set" and not ({"latency_ms", "drop"} & options.keys()):
        problem(kind, 'give "latency_ms" (milliseconds), "drop" (0.0-1.0) or both')
    if kind == "expect_plugin":
        compared = [c for c in COMPARISONS if c in options]
        if "path" in options and not compared:
            problem("path", f'"path" needs a comparison: one of {", ".join(COMPARISONS)}')
        if compared and "path" not in options:
            problem(compared[0], f'"{compared[0]}" needs a "path" naming the attribute to compare')
        if not compared and "state" not in options and "path" not in options:
            problem(kind, 'give "state" (e.g. "active") and/or a "path" with a comparison')
    if "fails" in options and options.get("may_fail"):
        problem("may_fail", '"fails" and "may_fail" contradict each other; keep one')


def _suggest(key: str, choices: Any) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def _toml_problem(file: str, message: str) -> str:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match is None:
        return f"{file}: not valid TOML: {message}"
    return f"{file}:{match.group(1)}: not valid TOML: {message[: match.start()]} (column {match.group(2)})"


class _SourceLines:
    """Finds where [[step]] tables and keys were written: tomllib keeps no positions."""

    _HEADER = re.compile(r"^\s*\[\[\s*step\s*\]\]\s*(#.*)?$")
    _TABLE = re.compile(r"^\s*\[")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.code = self._outside_multiline_strings()

    def _outside_multiline_strings(self) -> list[bool]:
        """Per line: does it start outside a multi-line string (so a header there is real)?"""
        result, open_quote = [], None
        for line in self.lines:
            result.append(open_quote is None)
            for quote in re.findall(r'"""|\'\'\'', line):
                if open_quote is None:
                    open_quote = quote
                elif quote == open_quote:
                    open_quote = None
        return result

    def step_headers(self) -> list[int | None]:
        return [n for n, line in enumerate(self.lines, 1) if self.code[n - 1] and self._HEADER.match(line)]

    def top_level_key(self, key: str) -> int | None:
        in_root = True
        for n, line in enumerate(self.lines, 1):
            if not self.code[n - 1]:
                continue
            if self._TABLE.match(line):
                in_root = False
                if re.match(rf"^\s*\[+\s*{re.escape(key)}\s*\]", line):
                    return n
            elif in_root and self._is_key(line, key):
                return n
        return None

    def key_in_step(self, header: int | None, key: str) -> int | None:
        if header is None:
            return None
        for n in range(header + 1, len(self.lines) + 1):
            line = self.lines[n - 1]
            if self.code[n - 1] and self._TABLE.match(line):
                return None
            if self.code[n - 1] and self._is_key(line, key):
                return n
        return None

    @staticmethod
    def _is_key(line: str, key: str) -> bool:
        return re.match(rf'^\s*(?:{re.escape(key)}|"{re.escape(key)}"|\'{re.escape(key)}\')\s*=', line) is not None
