"""Which plugins wrapped a node attribute on top of another plugin's wrapper (they must be lifted first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from devnode.host.slots import PluginSlot
from devnode.ownership import Patch


def stacked_on(slot: PluginSlot, slots: Mapping[str, PluginSlot]) -> list[PluginSlot]:
    """The plugins whose wrappers hold ``slot``'s (transitively), in the order to shut them down.

    A wrapper that holds ours cannot stay while ours is removed underneath it: each is
    shut down before the plugin it wraps (the outermost first), and started again after
    the swap so it wraps whatever is then in place.
    """
    order: list[PluginSlot] = []
    seen = {id(slot)}

    def visit(inner: PluginSlot) -> None:
        if inner.ledger is None or not inner.ledger.patches:
            return  # nothing of its own to wrap: no need to look at every other plugin
        for other in list(slots.values()):
            if id(other) in seen or other.ledger is None:
                continue
            if _wraps(other.ledger.patches, inner.ledger.patches):
                seen.add(id(other))
                visit(other)
                order.append(other)

    visit(slot)
    return order


def _wraps(outer: Iterable[Patch], inner: list[Patch]) -> bool:
    """Whether one of ``outer`` replaced the value one of ``inner`` had put in place."""
    return any(p.target is q.target and p.name == q.name and p.old is q.new for p in outer for q in inner)
