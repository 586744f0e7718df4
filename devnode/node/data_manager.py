"""``node.data_manager``: production's DataManager (services/data_manager.py) over devnode's Store.

Production keeps data in LevelDB (plyvel) or RocksDB: keys and values are
bytes, so ``store_data`` takes str (encoded as UTF-8) or bytes-like values and
refuses anything else with TypeError, and ``get_data`` always returns the
decoded str, or None for a missing or empty value.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from devnode.node.chain_values import StandInLimit
from devnode.node.storage import Store
from devnode.node.tracked import Tracked

_BYTES_LIKE = (bytes, bytearray, memoryview)


class DataManager(Tracked):
    """Key/value storage with production's ``store_data``/``get_data``/``delete_data``/``close``."""

    tracked_name = "node.data_manager"

    def __init__(self, store: Store, db_path: str = "") -> None:
        self.store = store
        self.db_path = db_path
        self._state = {"closed": False}

    @property
    def db(self) -> Any:
        raise StandInLimit(
            "node.data_manager.db is production's plyvel (LevelDB) or RocksDB handle; the stand-in keeps data in "
            "SQLite. Use store_data/get_data/delete_data, or run devnode with --node production"
        )

    def store_data(self, key: str | bytes, value: str | bytes) -> None:
        raw = value.encode() if isinstance(value, str) else value
        if not isinstance(raw, _BYTES_LIKE):
            raise TypeError(f"a bytes-like object is required, not '{type(value).__name__}'")
        self.store.put_data(self._key(key), bytes(raw))

    def get_data(self, key: str | bytes) -> str | None:
        """The stored value as str, or None when ``key`` was never stored (or holds an empty value)."""
        value = self.store.get_data(self._key(key))
        if not value:
            return None
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode()
        return value if isinstance(value, str) else str(value)  # written by an older devnode

    def delete_data(self, key: str | bytes) -> None:
        self.store.delete_data(self._key(key))

    def close(self) -> None:
        self._state["closed"] = True

    def __enter__(self) -> DataManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        self.close()

    def keys(self) -> list[str]:
        """devnode addition: every stored key (production's LevelDB has no such call here)."""
        return self.store.data_keys()

    def _key(self, key: object) -> str:
        if self._state["closed"]:
            raise RuntimeError("Database is closed")
        if isinstance(key, str):
            return key
        if isinstance(key, (bytes, bytearray)):
            try:
                return bytes(key).decode()
            except UnicodeDecodeError:  # a binary key: any spelling str keys cannot collide with
                return "\x00bytes:" + bytes(key).hex()
        raise TypeError(f"Argument 'key' has incorrect type (expected bytes, got {type(key).__name__})")
