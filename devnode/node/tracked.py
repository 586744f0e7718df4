"""Base class for node objects whose attributes plugins may replace.

The validation example wraps ``node.share_data``; any plugin may wrap a
service method the same way. Assignments made while a plugin's code runs are
recorded in that plugin's ledger, so unloading the plugin can put back exactly
what it replaced.
"""

from __future__ import annotations

import sys
from typing import Any

from devnode.ownership import current_ledger


class Tracked:
    """An object that records plugin assignments to its attributes."""

    tracked_name: str = "node"

    def __setattr__(self, name: str, value: Any) -> None:
        ledger = current_ledger()
        # devnode's own code updating its state while a plugin's call is running is not a patch.
        if ledger is not None and not sys._getframe(1).f_globals.get("__name__", "").startswith("devnode."):
            if ledger.record_patch(self, name, value):
                return  # the plugin put back the original; record_patch restored it
        object.__setattr__(self, name, value)
