"""``node.data_manager``: the node's key/value data, kept in the Store."""

from __future__ import annotations

from typing import Any

from devnode.node.storage import Store
from devnode.node.tracked import Tracked


class DataManager(Tracked):
    """Key/value storage with the production ``store_data``/``get_data``/``delete_data`` API.

    Keys are str or bytes (bytes are decoded as UTF-8), as in production.
    Values keep their type across restarts; see ``devnode.node.storage``.
    """

    tracked_name = "node.data_manager"

    def __init__(self, store: Store) -> None:
        self.store = store

    def store_data(self, key: str | bytes, value: Any) -> None:
        self.store.put_data(_key(key), value)

    def get_data(self, key: str | bytes) -> Any | None:
        """The stored value, or None when ``key`` was never stored."""
        return self.store.get_data(_key(key))

    def delete_data(self, key: str | bytes) -> bool:
        """Remove ``key``; False when there was nothing to remove."""
        return self.store.delete_data(_key(key))

    def keys(self) -> list[str]:
        return self.store.data_keys()


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8")
    # Production's RocksDB/LevelDB store only takes str or bytes keys.
    raise TypeError(f"data key must be str or bytes, got {type(key).__name__} {key!r}")
