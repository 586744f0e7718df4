"""How ``--node production`` builds the node: the options alone, light to import for every run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Authorize = Literal["devnode", "production"]


@dataclass
class ProductionOptions:
    """How ``--node production`` builds the node (``--node-src``, ``--authorize``)."""

    node_src: str | None = None
    authorize: Authorize = "devnode"
