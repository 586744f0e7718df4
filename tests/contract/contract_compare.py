"""Compare two sides' observations probe by probe, and read the documented differences (docs/parity.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ASPECTS = ("result", "events", "logs")
TABLE_HEADING = "## Remaining differences"
BACKED_HEADING = "## The production-backed node"
_ROW = re.compile(r"^\|\s*`(?P<probe>[^`]+)`\s*\|\s*(?P<aspect>\w+)\s*\|(?P<rest>.*)\|\s*$")


@dataclass(frozen=True)
class Difference:
    probe: str
    aspect: str
    production: Any
    other: Any

    @property
    def key(self) -> tuple[str, str]:
        return (self.probe, self.aspect)

    def render(self, limit: int = 160) -> str:
        return (f"{self.probe} [{self.aspect}]\n    production: {_short(self.production, limit)}\n"
                f"    devnode:    {_short(self.other, limit)}")


@dataclass(frozen=True)
class TableRow:
    probe: str
    aspect: str
    cells: list[str]
    line: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.probe, self.aspect)

    @property
    def warning(self) -> str:
        """The last cell: a warning code in backticks, or "none"."""
        match = re.search(r"`([a-z0-9-]+)`", self.cells[-1]) if self.cells else None
        return match.group(1) if match else "none"


def _short(value: Any, limit: int) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same(production: Any, other: Any) -> bool:
    """Equal, except that an exception message may add detail after production's own message."""
    if isinstance(production, dict) and isinstance(other, dict):
        if set(production) != set(other):
            return False
        return all(_same_item(k, production[k], other[k]) for k in production)
    if isinstance(production, list) and isinstance(other, list):
        return len(production) == len(other) and all(same(p, o) for p, o in zip(production, other))
    return bool(production == other)


def _same_item(key: str, production: Any, other: Any) -> bool:
    if key == "message" and isinstance(production, str) and isinstance(other, str):
        return other.startswith(production)
    return same(production, other)


def differences(production: dict[str, Any], other: dict[str, Any]) -> list[Difference]:
    """Every (probe, aspect) whose observation differs; a probe one side lacks differs in its result."""
    found: list[Difference] = []
    for name in sorted(set(production) | set(other)):
        if name.startswith(("_", "runner.")):
            continue
        p, o = production.get(name), other.get(name)
        if p is None or o is None:
            found.append(Difference(name, "result", p and p.get("result"), o and o.get("result")))
            continue
        for aspect in ASPECTS:
            if not same(p.get(aspect), o.get(aspect)):
                found.append(Difference(name, aspect, p.get(aspect), o.get(aspect)))
    return found


def read_table(path: Path, heading: str = TABLE_HEADING) -> list[TableRow]:
    """The rows of the table under ``heading`` in docs/parity.md."""
    rows: list[TableRow] = []
    inside = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("## "):
            inside = line.strip() == heading
            continue
        match = _ROW.match(line) if inside else None
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", match.group("rest"))]
            rows.append(TableRow(match.group("probe"), match.group("aspect"), cells, number))
    return rows


TABLE_HEADER = [
    "| probe | aspect | production does | devnode does | why | warning |",
    "|---|---|---|---|---|---|",
]
PENDING = "stand-in bug (issue 11)"
BACKED_PENDING = "production-backed node bug (issue 10)"


def _cell(value: Any, limit: int = 70) -> str:
    return _short(value, limit).replace("|", "\\|")


def table_lines(found: list[Difference], rows: list[TableRow], pending: str = PENDING) -> list[str]:
    """The table for ``found``: existing rows keep their why and warning; new ones are marked pending."""
    kept = {row.key: row for row in rows}
    lines = list(TABLE_HEADER)
    for diff in found:
        row = kept.get(diff.key)
        why, warning = (row.cells[-2], row.cells[-1]) if row and len(row.cells) >= 2 else (pending, "none")
        lines.append(f"| `{diff.probe}` | {diff.aspect} | `{_cell(diff.production)}` | `{_cell(diff.other)}` "
                     f"| {why} | {warning} |")
    return lines


def write_table(path: Path, found: list[Difference], heading: str = TABLE_HEADING, pending: str = PENDING) -> None:
    """Rewrite the table under ``heading`` to list exactly ``found`` (the text around it stays)."""
    rows = read_table(path, heading)
    text = path.read_text().splitlines()
    start = text.index(heading)
    end = next((i for i in range(start + 1, len(text)) if text[i].startswith("## ")), len(text))
    body = text[start + 1:end]
    first = next((i for i, line in enumerate(body) if line.startswith("|")), len(body))
    last = max((i for i, line in enumerate(body) if line.startswith("|")), default=first - 1)
    new_body = body[:first] + table_lines(found, rows, pending) + body[last + 1:]
    path.write_text("\n".join(text[:start + 1] + new_body + text[end:]) + "\n")
