"""The node's Fernet key on disk and the cipher behind ``node.encrypt_data``.

The key is created once, owner-only from its first byte, and reused on every
restart so data encrypted yesterday still decrypts today. A key file devnode
cannot use is reported, never replaced: replacing it would make everything
encrypted with it unreadable.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from devnode.errors import DevnodeError

if TYPE_CHECKING:  # cryptography is imported on the first encrypt/decrypt: it is a sizeable part of start-up
    from cryptography.fernet import Fernet, InvalidToken

    class DecryptError(DevnodeError, InvalidToken):
        """A token that this node's key cannot decrypt."""

KEY_FILENAME = "devnode.key"


class KeyFileError(DevnodeError):
    """The key file exists but cannot be read or is not a Fernet key."""


def __getattr__(name: str) -> Any:
    """``DecryptError``, made on first use: it is an InvalidToken (so ``except InvalidToken`` works as in production)."""
    if name == "DecryptError":
        return _decrypt_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _decrypt_error() -> type[DecryptError]:
    from cryptography.fernet import InvalidToken

    made = type("DecryptError", (DevnodeError, InvalidToken),
                {"__doc__": "A token that this node's key cannot decrypt.", "__module__": __name__})
    return cast("type[DecryptError]", made)


def load_or_create_key(data_dir: Path) -> bytes:
    """The Fernet key in ``data_dir/KEY_FILENAME``, created on first use."""
    path = Path(data_dir) / KEY_FILENAME
    key = base64.urlsafe_b64encode(os.urandom(32))  # what Fernet.generate_key() makes
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f'cannot create the data directory "{path.parent}" for the key file ({exc}).') from exc
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise KeyFileError(
            f'cannot create the key file "{path}" ({exc}). '
            "The data directory must be writable: fix its permissions or set DATA_DIR."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        # A half-written key would be refused on every later start: remove what this call created.
        path.unlink(missing_ok=True)
        raise KeyFileError(
            f'cannot write the key file "{path}" ({exc}). '
            "Free some space where the data directory lives, or set DATA_DIR to another directory."
        ) from exc
    return key


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise KeyFileError(f'cannot read the key file "{path}" ({exc}). Fix its permissions (chmod 600).') from exc
    try:
        _check_key(key)
    except ValueError as exc:
        raise KeyFileError(
            f'"{path}" is not a valid Fernet key ({exc}). '
            "Restore the original key, or move the file aside to let devnode create a new one "
            "(data encrypted with the old key will no longer decrypt); devnode never overwrites it."
        ) from exc
    return key


def _check_key(key: bytes) -> None:
    """Fernet's own check of a key (32 url-safe base64-encoded bytes), without importing cryptography."""
    try:
        raw = base64.urlsafe_b64decode(key)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc
    if len(raw) != 32:
        raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")


def key_file_problems(path: Path) -> list[str]:
    """Warnings about ``path`` being readable or writable by group or others."""
    if os.name != "posix":
        return []  # POSIX mode bits say nothing about Windows ACLs
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        return [f'key file "{path}" is accessible by group or others (mode {mode:04o}); run: chmod 600 "{path}"']
    return []


class Cipher:
    """Encrypts like production ``node.encrypt_data``: a Fernet token of ``str(data)``."""

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = key
        self._cipher: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._cipher is None:
            from cryptography.fernet import Fernet

            self._cipher = Fernet(self._key)
        return self._cipher

    def encrypt(self, data: object) -> str:
        return self._fernet.encrypt(str(data).encode()).decode()

    def decrypt(self, token: str | bytes) -> str:
        from cryptography.fernet import InvalidToken

        raw = token.encode() if isinstance(token, str) else token
        try:
            return self._fernet.decrypt(raw).decode()
        except (InvalidToken, TypeError) as exc:
            shown = repr(token) if len(repr(token)) <= 40 else repr(token)[:37] + "..."
            raise _decrypt_error()(
                f"cannot decrypt {shown}: it is not a Fernet token made with this node's key "
                "(it was made with another key, altered, or is not a token from node.encrypt_data)."
            ) from exc
