"""The suite's own machinery: shapes, the comparison rule and the table's round trip (no production needed)."""

from __future__ import annotations

import ast
from pathlib import Path

import contract_session
import pytest
from contract_compare import PENDING, Difference, differences, read_table, same, write_table
from contract_kit import describe, string_format
from contract_session import PROBE_PLUGINS

PAGE = """# Page

## Remaining differences

Intro.

| probe | aspect | production does | devnode does | why | warning |
|---|---|---|---|---|---|
| `a.kept` | result | `1` | `2` | deliberate: kept | `some-code` |
| `a.gone` | events | `[]` | `[1]` | stand-in bug (issue 11) | none |

## After

Text.
"""


def obs(result: object, events: object = None) -> dict[str, object]:
    return {"result": result, "events": events or [], "logs": [], "warnings": []}


def test_shapes_name_formats_not_values() -> None:
    assert describe({"tx": "ab" * 32, "to": "0x" + "Ab" * 20, "amount": "5", "n": 3, "ok": True, "x": None}) == {
        "mapping": {"amount": "str:digits", "n": "int", "ok": "bool", "to": "str:address", "tx": "str:hex64",
                    "x": "None"}}
    assert string_format("0x" + "f" * 64) == "0x-hex64" and string_format("") == "empty"
    assert describe((True, "x")) == {"tuple": ["bool", "str:text"], "len": 2}


def test_exception_messages_may_add_detail_but_not_change() -> None:
    production = {"raises": {"type": "ValueError", "message": "Unsupported token"}}
    assert same(production, {"raises": {"type": "ValueError", "message": "Unsupported token 0x1; supported: ..."}})
    assert not same(production, {"raises": {"type": "ValueError", "message": "unknown token"}})
    assert not same(production, {"raises": {"type": "TypeError", "message": "Unsupported token"}})
    assert not same({"returns": "int"}, {"returns": "float"})


def test_differences_are_per_probe_and_aspect() -> None:
    found = differences({"p": obs(1, ["e"]), "q": obs(1), "_seconds": 1.0}, {"p": obs(1, ["f"]), "runner.x": obs(0)})
    assert [(d.probe, d.aspect) for d in found] == [("p", "events"), ("q", "result")]


def test_rewriting_the_table_keeps_reasons_drops_stale_rows_and_marks_new_ones(tmp_path: Path) -> None:
    page = tmp_path / "parity.md"
    page.write_text(PAGE)
    write_table(page, [Difference("a.kept", "result", 1, 3), Difference("b.new", "logs", [], [["x"]])])
    rows = read_table(page)
    assert [(r.probe, r.aspect, r.cells[-2], r.warning) for r in rows] == [
        ("a.kept", "result", "deliberate: kept", "some-code"), ("b.new", "logs", PENDING, "none")]
    text = page.read_text()
    assert "Intro." in text and "## After\n\nText." in text and "a.gone" not in text


def test_the_probe_plugins_are_written_from_production_alone() -> None:
    """Nothing of devnode in them: they are what a production author writes."""
    for path in sorted(PROBE_PLUGINS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "devnode" for n in names), f"{path.name} imports {names}"


def test_without_the_checkout_the_suite_says_why_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract_session, "CHECKOUT", tmp_path / "datamgmtnode")
    reason = contract_session.unavailable()
    assert reason is not None and "\n" not in reason and str(tmp_path / "datamgmtnode") in reason
