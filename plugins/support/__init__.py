"""Helpers shared by plugins. A sub-package, so the production node never mistakes it for a plugin."""
