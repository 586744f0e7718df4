"""The base error of devnode's library code; only the CLI turns errors into exit codes."""


class DevnodeError(Exception):
    """A problem devnode can explain: the message names the value, its source and the fix."""
