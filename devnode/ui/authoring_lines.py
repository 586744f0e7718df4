"""Plain lines for the authoring loop's records: tests on save, a changed .env, a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _tests(r: dict[str, Any]) -> str:
    from devnode.testrun import format_tests

    return format_tests(r)


def _config_changed(r: dict[str, Any]) -> str:
    changes = "; ".join(f"{c['name']}: {c['old'] if c['old'] is not None else '(unset)'} -> "
                        f"{c['new'] if c['new'] is not None else '(unset)'}" for c in r.get("changed", []))
    return f"config: {r.get('message')} [{changes}]"


def _restarting(r: dict[str, Any]) -> str:
    return f"devnode: restarting ({r.get('reason')}); the data dir is kept"


AUTHORING_FORMATTERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "tests.finished": _tests,
    "config.changed": _config_changed,
    "node.restarting": _restarting,
}
