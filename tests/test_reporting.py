"""The record stream's outputs: a plugin's odd event data never switches them off."""

from __future__ import annotations

import io
import json

import pytest

from devnode.reporting import Reporter
from devnode.ui.jsonl import JsonUI
from devnode.ui.plain import PlainUI


def test_plain_and_json_output_keep_going_after_event_data_json_cannot_hold(capsys: pytest.CaptureFixture[str]) -> None:
    plain, jsonl = io.StringIO(), io.StringIO()
    reporter = Reporter()
    reporter.add_sink(PlainUI(plain))
    reporter.add_sink(JsonUI(jsonl))
    cyclic: dict[str, object] = {"n": 1}
    cyclic["self"] = cyclic

    reporter.emit("event", type="data.shared", data={(1, 2): "tuple key"}, handlers=[])
    reporter.emit("event", type="data.shared", data=cyclic, handlers=[])
    reporter.emit("log", plugin="p", level="INFO", logger="plugins.p", message="still shown")

    assert "switched off" not in capsys.readouterr().err
    assert "still shown" in plain.getvalue()
    assert "(1, 2)" in plain.getvalue().splitlines()[0]
    records = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert [r["kind"] for r in records] == ["event", "event", "log"]
    assert records[0]["data"] == {"(1, 2)": "tuple key"}
    assert records[1]["data"]["n"] == 1


class _Unprintable:
    def __repr__(self) -> str:
        raise KeyError("repr")

    __str__ = __repr__


def test_data_whose_repr_raises_and_nan_still_make_strict_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = io.StringIO()
    reporter = Reporter()
    reporter.add_sink(JsonUI(jsonl))
    reporter.add_sink(PlainUI(io.StringIO()))
    reporter.emit("event", type="data.shared", data={"odd": _Unprintable(), "nan": float("nan"), 3: {1}}, handlers=[])
    reporter.emit("log", plugin="p", level="INFO", logger="plugins.p", message="after")
    lines = jsonl.getvalue().splitlines()
    records = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}")) for line in lines]
    assert [r["kind"] for r in records] == ["event", "log"]
    assert "unprintable" in records[0]["data"]["odd"] and records[0]["data"]["nan"] == "nan"
    assert capsys.readouterr().err == ""


def test_a_sink_failing_on_one_record_drops_that_record_only(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[str] = []

    def picky(record: dict[str, object]) -> None:
        if record.get("odd"):
            raise RuntimeError("cannot show this one")
        got.append(str(record["kind"]))

    reporter = Reporter()
    reporter.add_sink(picky)
    reporter.emit("warning", odd=True)
    reporter.emit("warning", odd=True)
    reporter.emit("log")
    assert got == ["log"]
    err = capsys.readouterr().err
    assert err.count("that record was dropped, the output stays on") == 1


def test_the_problem_behind_a_failure_goes_to_sinks_that_take_it_and_never_into_the_record() -> None:
    from devnode.host.diagnostics import PluginProblem

    class Taker:
        def __init__(self) -> None:
            self.plain: list[dict[str, object]] = []
            self.with_problems: list[tuple[dict[str, object], PluginProblem]] = []

        def __call__(self, record: dict[str, object]) -> None:
            self.plain.append(record)

        def with_problem(self, record: dict[str, object], problem: PluginProblem) -> None:
            self.with_problems.append((record, problem))

    try:
        raise ValueError("bad value")
    except ValueError as exc:
        problem = PluginProblem(plugin="p", phase="handler", error="ValueError: bad value", exception=exc)
    taker, jsonl, plain = Taker(), io.StringIO(), io.StringIO()
    reporter = Reporter()
    for sink in (taker, JsonUI(jsonl), PlainUI(plain)):
        reporter.add_sink(sink)
    record = reporter.emit("plugin.error", running="current", **problem.to_record(), handler="P.on", problem=problem)
    reporter.emit("log", plugin="p", level="INFO", logger="plugins.p", message="no problem here")

    assert taker.with_problems == [(record, problem)] and taker.with_problems[0][1].exception is problem.exception
    assert [r["kind"] for r in taker.plain] == ["log"]  # each record reaches a sink once, one way
    assert "problem" not in record
    line = json.loads(jsonl.getvalue().splitlines()[0])
    assert set(line) == {"kind", "ts", "running", "handler", *problem.to_record()}
    assert "error: p failed in handler: ValueError: bad value" in plain.getvalue()


def test_no_output_re_derives_a_failure_from_the_exception_being_handled() -> None:
    """The exception comes with the record (``with_problem``): no sink reads sys.exc_info() or re-diagnoses."""
    from record_sites import PACKAGE

    offenders = [f"{path.relative_to(PACKAGE.parent)}: {needle}"
                 for path in sorted((PACKAGE / "ui").rglob("*.py"))
                 for needle in ("sys.exc_info(", "diagnose(")
                 if needle in path.read_text(encoding="utf-8")]
    assert not offenders


def test_a_warning_code_member_is_recorded_as_its_plain_string() -> None:
    from devnode.codes import WarningCode

    records: list[dict[str, object]] = []
    reporter = Reporter()
    reporter.add_sink(records.append)
    reporter.emit("warning", code=WarningCode.LEAK, plugin="p", message="m")
    assert records[0]["code"] == "leak" and type(records[0]["code"]) is str
