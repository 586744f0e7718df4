"""Running statistics that plugins keep about events."""

from collections import Counter


def new_counts():
    return Counter()


def summary(counts, top=3):
    """'data.shared x4, token.transfer_completed x2' for the most frequent event types."""
    if not counts:
        return "no events yet"
    return ", ".join(f"{name} x{n}" for name, n in counts.most_common(top))
