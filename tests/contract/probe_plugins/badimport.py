"""A plugin whose import fails."""
import no_such_module_for_contract  # noqa: F401


class BadimportPlugin:
    pass
