"""What the console knows of debuggers: pdb holding the loop, and an attached editor's debugger."""

from __future__ import annotations

from pathlib import Path

from devnode.reporting import Record
from devnode.ui.console import style


class DebuggerState:
    """Hides the stall warnings pdb causes; follows an editor's attach and stops for the footer."""

    def __init__(self) -> None:
        self._stall_in_debugger = False
        self.editor_attached = False
        self.editor_stop: Record | None = None

    def hides(self, record: Record, in_pdb: bool) -> bool:
        """The loop is 'blocked' while pdb has it: that is the author debugging, not a plugin stalling."""
        code = record.get("code")
        if record["kind"] == "log":
            return record.get("logger") == "devnode.watchdog" and in_pdb
        if code == "stall" and in_pdb:
            self._stall_in_debugger = True
            return True
        if code == "stall-ended" and self._stall_in_debugger:
            self._stall_in_debugger = False
            return True
        return False

    def follow(self, record: Record) -> bool:
        """Note a ``debugger.*`` record; True when it also goes into the history (a resume only ends the note)."""
        kind = record["kind"]
        if kind in ("debugger.attached", "debugger.detached"):
            self.editor_attached = kind == "debugger.attached"
        elif kind == "debugger.stopped":
            self.editor_stop = record
        elif kind == "debugger.resumed":
            self.editor_stop = None
            return False  # the stop line said it all; the footer just drops its note
        return True

    def notes(self) -> list[tuple[str, str]]:
        """The footer's words (and style) for the editor's debugger."""
        stop = self.editor_stop
        if stop is not None:
            where = f"{Path(str(stop.get('file'))).name}:{stop.get('line')}"
            return [(f"stopped in your editor at {where}", "bold " + style.WARNING)]
        if self.editor_attached:
            return [("editor attached", style.HINT)]
        return []
