"""The templates ``devnode new`` offers: a constant the CLI's parser needs without the scaffolding code."""

TEMPLATES = ("basic", "audit", "validation", "webhook", "configurable")
