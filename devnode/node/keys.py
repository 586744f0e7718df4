"""``node.key_manager``: production's KeyManager surface (services/key_manager.py) over devnode's key file.

Production keeps versioned Fernet keys, encrypted with a master password, in
``DATA_DIR/encryption_keys.json``. devnode keeps one Fernet key in
``DATA_DIR/devnode.key`` (devnode.node.crypto); this object offers the same
calls on it. ``rotate_key()`` makes a new version for this run only.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from devnode.node.crypto import KEY_FILENAME


class KeyManager:
    """Versioned Fernet ciphers: version 1 is the key in the data dir."""

    def __init__(self, keys_dir: str | Path, key: bytes) -> None:
        self.keys_dir = str(keys_dir)
        self.keys_file = str(Path(keys_dir) / KEY_FILENAME)
        self._ciphers = {1: Fernet(key)}
        self._current_version = 1

    def initialize(self) -> Fernet:
        return self.get_current_cipher()

    @property
    def current_version(self) -> int:
        return self._current_version

    def get_current_cipher(self) -> Fernet:
        return self._ciphers[self._current_version]

    def get_cipher(self, version: int) -> Fernet:
        if version not in self._ciphers:
            raise ValueError(f"Unknown key version: {version}")
        return self._ciphers[version]

    def rotate_key(self) -> int:
        """A new key version (kept for this run only: devnode's key file holds one key)."""
        self._current_version = max(self._ciphers) + 1
        self._ciphers[self._current_version] = Fernet(Fernet.generate_key())
        return self._current_version

    def encrypt(self, data: str) -> dict[str, object]:
        return {"version": self._current_version, "data": self.get_current_cipher().encrypt(data.encode()).decode()}

    def decrypt(self, encrypted_data: dict[str, object]) -> str:
        version = encrypted_data.get("version", 1)
        data = encrypted_data.get("data", encrypted_data)
        if isinstance(data, str) and isinstance(version, int):
            return self.get_cipher(version).decrypt(data.encode()).decode()
        raise ValueError("Invalid encrypted data format")

    def decrypt_legacy(self, encrypted_string: str) -> str:
        return self.get_current_cipher().decrypt(encrypted_string.encode()).decode()
