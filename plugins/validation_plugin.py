"""Refuses to share data that looks like a secret or personal data, by wrapping node.share_data."""

import logging
import re

logger = logging.getLogger(__name__)

BLOCKED_PATTERNS = {
    "social security number": r"\b\d{3}-\d{2}-\d{4}\b",
    "card number": r"\b\d{16}\b",
    "password": r"password\s*[:=]\s*\S+",
    "API key": r"api[_-]?key\s*[:=]\s*\S+",
}
MAX_BYTES = 1024 * 1024


class Validation_pluginPlugin:
    """Wraps share_data; restores the original on shutdown."""

    def __init__(self, node):
        self.node = node
        self.version = "1.0.0"
        self._original_share = None

    def initialize(self):
        self._original_share = self.node.share_data
        self.node.share_data = self._validated_share
        logger.info(f"blocking {len(BLOCKED_PATTERNS)} patterns in shared data")

    def shutdown(self):
        if self._original_share is not None:
            self.node.share_data = self._original_share

    async def _validated_share(self, data, recipient, **kwargs):
        text = str(data)
        for what, pattern in BLOCKED_PATTERNS.items():
            if re.search(pattern, text, re.IGNORECASE):
                logger.warning(f"refused to share data with {recipient}: it contains a {what}")
                raise ValueError(f"Data contains blocked pattern ({what}): {pattern}")
        if len(text.encode()) > MAX_BYTES:
            raise ValueError("Data exceeds maximum size (1MB)")
        return await self._original_share(data, recipient, **kwargs)
