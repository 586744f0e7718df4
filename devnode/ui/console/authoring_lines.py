"""Console lines for the authoring loop: tests on save (green or red), a changed .env, a restart."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from rich.text import Text

from devnode.reporting import Record
from devnode.ui.authoring_lines import AUTHORING_FORMATTERS
from devnode.ui.console import style

OUTCOME_STYLES = {"passed": style.OK, "failed": style.FAILED, "timeout": style.FAILED, "error": style.FAILED,
                  "none": style.TIME}


def _line(text_style: Callable[[Record], str]) -> Callable[[Record, int], RenderableType]:
    def render(r: Record, width: int) -> RenderableType:
        stamp = Text.assemble((style.clock(r.get("ts")) + " ", style.TIME))
        return stamp.append(AUTHORING_FORMATTERS[r["kind"]](r), text_style(r))

    return render


AUTHORING_RENDERERS: dict[str, Callable[[Record, int], RenderableType]] = {
    "tests.finished": _line(lambda r: OUTCOME_STYLES.get(str(r.get("outcome")), "")),
    "config.changed": _line(lambda r: "bold " + style.WARNING),
    "node.restarting": _line(lambda r: "bold"),
}
