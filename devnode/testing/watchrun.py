"""pytest plugin for ``devnode run --test`` runs (``-p devnode.testing.watchrun``): failed-first order and a progress file.

The node's test runner passes the tests that failed last time in ``DEVNODE_FAILED_FIRST``
(JSON list of node ids) and a file path in ``DEVNODE_TEST_REPORT``; each test's start and
outcome is appended there as a JSON line as it happens, so a run killed at its deadline
still says which test was running.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

FAILED_FIRST_ENV = "DEVNODE_FAILED_FIRST"
REPORT_ENV = "DEVNODE_TEST_REPORT"


def _write(entry: dict[str, Any]) -> None:
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        failed = set(json.loads(os.environ.get(FAILED_FIRST_ENV, "[]")))
    except ValueError:
        failed = set()
    if failed:
        items.sort(key=lambda item: item.nodeid not in failed)  # stable: otherwise in collection order


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _write({"event": "start", "nodeid": nodeid})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        outcome = "error" if report.when != "call" and report.outcome == "failed" else report.outcome
        _write({"event": "result", "nodeid": report.nodeid, "when": report.when, "outcome": outcome})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write({"event": "result", "nodeid": report.nodeid, "when": "collect", "outcome": "error"})
