# plugins/validation_plugin.py
import json
import logging
import re

logger = logging.getLogger(__name__)


class Validation_pluginPlugin:
    """Validate data before sharing."""

    # Patterns to block (PII, secrets, etc.)
    BLOCKED_PATTERNS = [
        r'\b\d{3}-\d{2}-\d{4}\b',  # SSN
        r'\b\d{16}\b',             # Credit card
        r'password\s*[:=]\s*\S+',  # Passwords
        r'api[_-]?key\s*[:=]\s*\S+',  # API keys
    ]

    def __init__(self, node):
        self.node = node
        self._original_share = None

    def initialize(self):
        # Wrap the share_data method
        self._original_share = self.node.share_data
        self.node.share_data = self._validated_share

        logger.info("Validation plugin initialized")

    def shutdown(self):
        # Restore original method
        if self._original_share:
            self.node.share_data = self._original_share

    async def _validated_share(self, data, recipient, **kwargs):
        """Validate data before sharing."""
        # Check for blocked patterns
        data_str = str(data)

        for pattern in self.BLOCKED_PATTERNS:
            if re.search(pattern, data_str, re.IGNORECASE):
                raise ValueError(
                    f"Data contains blocked pattern: {pattern}"
                )

        # Check data size
        if len(data_str) > 1024 * 1024:  # 1MB
            raise ValueError("Data exceeds maximum size (1MB)")

        # Call original method
        return await self._original_share(data, recipient, **kwargs)
