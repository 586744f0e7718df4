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
