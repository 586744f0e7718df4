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
