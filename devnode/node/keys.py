"""``node.key_manager``: production's KeyManager surface (services/key_manager.py) over devnode's key files.

Production keeps versioned Fernet keys, encrypted with a master password, in
``DATA_DIR/encryption_keys.json``. devnode keeps version 1 in
``DATA_DIR/devnode.key`` (devnode.node.crypto) and the versions ``rotate_key()``
adds in ``DATA_DIR/devnode.key-versions.json``, owner-only, so a rotation lasts
across restarts as production's does: the next start uses the newest version
(``node.cipher_suite``), and every version still decrypts what it encrypted.
The master password is production's; devnode's files rely on their mode (0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from devnode.node.crypto import KEY_FILENAME, KeyFileError

if TYPE_CHECKING:  # cryptography is imported on the first encrypt/decrypt: it is a sizeable part of start-up
    from cryptography.fernet import Fernet

VERSIONS_FILENAME = "devnode.key-versions.json"


class KeyManager:
    """Versioned Fernet ciphers: version 1 is the key in the data dir, later ones come from ``rotate_key()``."""

    def __init__(self, keys_dir: str | Path, key: bytes) -> None:
        self.keys_dir = str(keys_dir)
        self.keys_file = str(Path(keys_dir) / KEY_FILENAME)
        self.versions_file = str(Path(keys_dir) / VERSIONS_FILENAME)
        self._keys: dict[int, bytes] = {1: key, **_read_versions(Path(self.versions_file))}
        self._ciphers: dict[int, Fernet] = {}  # each made on first use (see get_cipher)
        self._current_version = max(self._keys)

    def initialize(self) -> Fernet:
        return self.get_current_cipher()

    @property
    def current_version(self) -> int:
        return self._current_version

    def get_current_cipher(self) -> Fernet:
        return self.get_cipher(self._current_version)

    def get_cipher(self, version: int) -> Fernet:
        cipher = self._ciphers.get(version)
        if cipher is None:
            if version not in self._keys:
                raise ValueError(f"Unknown key version: {version}")
            from cryptography.fernet import Fernet

            cipher = self._ciphers[version] = Fernet(self._keys[version])  # the key was checked when read
        return cipher

    def rotate_key(self) -> int:
        """A new key version, saved in the data dir before it is used (production: ``_save_keys()``)."""
        from cryptography.fernet import Fernet

        version = max(self._keys) + 1
        key = Fernet.generate_key()
        _write_versions(Path(self.versions_file), {**self._keys, version: key})
        self._keys[version] = key
        self._ciphers[version] = Fernet(key)
        self._current_version = version
        return version

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


def _read_versions(path: Path) -> dict[int, bytes]:
    """The rotated keys (version 2 and later); none when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeyFileError(f'cannot read the key versions file "{path}" ({exc}). Fix its permissions (chmod 600).') from exc
    from cryptography.fernet import Fernet  # only once a key was rotated: Fernet's own check of each key

    try:
        keys = {int(version): str(key).encode() for version, key in json.loads(text)["keys"].items()}
        for key in keys.values():
            Fernet(key)  # a key Fernet refuses is reported now, not at the first decrypt
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(
            f'"{path}" is not a key versions file devnode wrote ({type(exc).__name__}: {exc}). Restore it, or move '
            "it aside to go back to the key in devnode.key (data encrypted with rotated keys will no longer decrypt)."
        ) from exc
    return {version: key for version, key in keys.items() if version > 1}


def _write_versions(path: Path, keys: dict[int, bytes]) -> None:
    """Every version after the first, owner-only from the first byte, replacing the file in one step."""
    body = {"current_version": max(keys), "keys": {str(v): k.decode() for v, k in sorted(keys.items()) if v > 1}}
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
