"""The console's colours in one place (rich drops them itself under NO_COLOR)."""

from __future__ import annotations

import time

LEVEL_STYLES = {
    "DEBUG": "dim cyan",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
    "PRINT": "magenta",
}

STATE_STYLES = {
    "active": "green",
    "failed-running-previous": "bold yellow",
    "failed": "bold red",
    "unloaded": "dim",
}

TIME = "dim"
EVENT_TYPE = "bold cyan"
PLUGIN = "bold"
OK = "green"
FAILED = "bold red"
HINT = "cyan"
WARNING = "yellow"
RELOAD = "bold blue"


def clock(ts: float | None) -> str:
    """A record's wall-clock time as HH:MM:SS (absolute, so nothing needs redrawing as time passes)."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "-"
