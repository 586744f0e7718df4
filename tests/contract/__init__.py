"""The contract suite: production and devnode probed side by side (docs/parity.md)."""
