"""devnode/records.py declares exactly the fields docs/json-records.md documents, kind by kind.

A section's fields are the ``snake_case`` names in backticks outside parentheses: the page writes
values, examples and the fields of nested objects inside parentheses (``phase`` (``import``, ...)).
The JSON examples are checked too: every key they show is declared for their kind.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

from record_sites import ROOT

from devnode import records, reporting
from devnode.codes import RecordKind
from devnode.reporting import Reporter

PAGE = (ROOT / "docs" / "json-records.md").read_text(encoding="utf-8")
ADDED_BY_THE_REPORTER = {"kind", "ts"}
FIELD = re.compile(r"[a-z][a-z0-9_]*")


def _sections(page: str) -> dict[str, str]:
    """Each ``### `kind``` section's text, up to the next heading."""
    parts = re.split(r"^(#{2,3} .*)$", page, flags=re.MULTILINE)
    sections: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2]):
        match = re.fullmatch(r"### `([\w.]+)`", heading.strip())
        if match:
            sections[match[1]] = body
    return sections


def _prose(body: str) -> str:
    without_blocks = re.sub(r"```.*?```", "", body, flags=re.DOTALL)
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", without_blocks)  # a link's target is not text


def documented_fields(body: str) -> set[str]:
    """The backticked snake_case names at parenthesis depth 0 of a section's prose."""
    text, depth, outside = _prose(body), 0, []
    for part in re.split(r"(`[^`]*`|[()])", text):
        if part == "(":
            depth += 1
        elif part == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and part.startswith("`"):
            outside.append(part.strip("`"))
    return {name for name in outside if FIELD.fullmatch(name)}


def example_keys(body: str) -> list[tuple[str, set[str]]]:
    return [(record["kind"], set(record)) for record in
            (json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", body, flags=re.DOTALL))]


SECTIONS = _sections(PAGE)


def declared(kind: str) -> set[str]:
    return set(typing.get_type_hints(records.FIELDS[RecordKind(kind)]))


def test_every_kind_has_its_fields_declared() -> None:
    assert set(records.FIELDS) == set(RecordKind)
    assert set(SECTIONS) == {str(kind) for kind in RecordKind}


def test_the_declared_fields_are_the_documented_ones_kind_by_kind() -> None:
    problems = []
    for kind, body in SECTIONS.items():
        documented, fields = documented_fields(body), declared(kind)
        if fields - documented:
            problems.append(f"{kind}: declared in devnode/records.py, not documented: {sorted(fields - documented)}")
        if documented - fields:
            problems.append(f"{kind}: documented, not declared in devnode/records.py: {sorted(documented - fields)}")
    assert not problems, "\n".join(problems)


def test_the_examples_show_only_declared_fields() -> None:
    examples = [example for body in SECTIONS.values() for example in example_keys(body)]
    assert len(examples) >= 6
    for kind, keys in examples:
        assert keys - ADDED_BY_THE_REPORTER <= declared(kind), (kind, sorted(keys - ADDED_BY_THE_REPORTER - declared(kind)))


def test_reporter_emit_has_one_overload_per_kind_typed_with_its_fields() -> None:
    by_kind: dict[str, type] = {}
    for overload in typing.get_overloads(Reporter.emit):
        hints = typing.get_type_hints(overload, globalns=vars(reporting) | {"r": records, "PluginProblem": object})
        fields = typing.get_args(hints["fields"])[0]
        for kind in typing.get_args(hints["kind"]):
            assert kind not in by_kind, f"two overloads for {kind}"
            by_kind[kind] = fields
    assert by_kind == {str(kind): fields for kind, fields in records.FIELDS.items()}


def test_the_section_parser_reads_fields_not_values() -> None:
    body = ("`plugin`, `phase` (`import`, `lookup`), `timings` (milliseconds: `total`), and `trigger` "
            "(see [the guide](guide.md#x)); `--no-watch` and `log-level LEVEL` are no fields.\n"
            '```json\n{"kind": "x", "shown_only_here": 1}\n```\n')
    assert documented_fields(body) == {"plugin", "phase", "timings", "trigger"}
    assert example_keys(body) == [("x", {"kind", "shown_only_here"})]


WRONG_EMITS = """
    from devnode.codes import WarningCode
    from devnode.reporting import Reporter

    reporter = Reporter()
    reporter.emit("plugin.unloaded", plugin="p", reason="unload command")
    reporter.emit("plugin.unloaded", plugin="p", why="unload command")  # a field the kind does not have
    reporter.emit("warning", code="cleanup", plugin="p", message="m")  # a code that is not a WarningCode
    reporter.emit("warning", code=WarningCode.CLEANUP, plugin="p", message="m", cleaned={"tasks": ["t"]})
    reporter.emit("no.such.kind", plugin="p")  # an unknown kind
    reporter.emit("command.error", command="x")  # a required field missing


    # Fields built elsewhere and spread in are typed too, so mypy checks them at the emit site.
    async def spreads(warning: ParityWarning, notice: Notice, ledger: Ledger, session: NodeSession,
                      runtime: Runtime, runner: TestRunner) -> None:
        reporter.emit("warning", **warning.to_record())
        reporter.emit("log", **warning.to_record())  # a warning's fields are not a log's
        reporter.emit("warning", **notice.to_record())
        reporter.emit("plugin.unloaded", plugin="p", reason="r", **notice.to_record())  # nor an unload's
        reporter.emit("plugin.unloaded", plugin="p", reason="r", **ledger.counts())  # counts belong to loads
        reporter.emit("node.ready", node_id="n", plugin_dir="p", data_dir="d", plugins=[], watching=True,
                      **session.ready_fields(), **authoring.ready_fields(runtime))
        reporter.emit("node.stopped", reason="r", **session.ready_fields())  # the node's kind is node.ready's
        reporter.emit("tests.finished", **await runner.run(set()))
        reporter.emit("status", **await runner.run(set()))  # a test run is no status
"""
# Appended after WRONG_EMITS, so its line numbers stay put (mypy does not mind the order).
SPREAD_IMPORTS = """
    from devnode import authoring
    from devnode.host.parity import ParityWarning
    from devnode.node.notices import Notice
    from devnode.ownership import Ledger
    from devnode.runtime import Runtime
    from devnode.session import NodeSession
    from devnode.testrun import TestRunner
"""


def test_mypy_rejects_an_emit_whose_fields_do_not_match_its_kind(tmp_path: Path) -> None:
    snippet = tmp_path / "emits.py"
    snippet.write_text(textwrap.dedent(WRONG_EMITS) + textwrap.dedent(SPREAD_IMPORTS), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"),
         str(snippet)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    flagged = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    assert flagged == {7, 8, 10, 11, 18, 20, 21, 24, 26}, result.stdout
