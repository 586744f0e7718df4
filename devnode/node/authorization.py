"""``node.authorization_module`` and ``node.db_connection``: production's AuthorizationModule (services/authorisation.py).

Authorized users (id -> PEM public key) live in an SQLite table
``authorized_users``, as in production, but in devnode's own file in the data
dir: a developer's SQLITE_DB_PATH may name the production node's database,
which devnode never writes to. ``authorize_transfer`` really verifies an
RSA-PSS signature over the data hash.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path


AUTH_DB_FILENAME = "devnode-auth.sqlite3"
logger = logging.getLogger("devnode.authorization")


def open_auth_db(data_dir: Path) -> sqlite3.Connection:
    """The connection production calls ``node.db_connection``, with its table."""
    conn = sqlite3.connect(Path(data_dir) / AUTH_DB_FILENAME, check_same_thread=False)
    conn.execute("CREATE TABLE IF NOT EXISTS authorized_users (user_id TEXT PRIMARY KEY, public_key TEXT)")
    conn.commit()
    return conn


class AuthorizationModule:
    """Which users may transfer data, checked by signature."""

    def __init__(self, db_connection: sqlite3.Connection) -> None:
        self.db = db_connection
        self.authorized_keys = self._load_authorized_keys()

    def _load_authorized_keys(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self.db.execute("SELECT user_id, public_key FROM authorized_users")}

    def authorize_transfer(self, data_hash: str, signature: bytes, user_id: str) -> bool:
        """True iff ``signature`` is ``user_id``'s RSA-PSS/SHA-256 signature of ``data_hash``."""
        if user_id not in self.authorized_keys:
            return False
        # Imported here: cryptography is a sizeable part of start-up, and most runs never verify a signature.
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        try:
            key = serialization.load_pem_public_key(self.authorized_keys[user_id].encode())
            if not isinstance(key, rsa.RSAPublicKey):
                raise TypeError(f"the key of {user_id} is not an RSA key")
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
            key.verify(signature, data_hash.encode(), pss, hashes.SHA256())
            return True
        except InvalidSignature:
            return False
        except Exception as exc:  # production logs and refuses (a str signature lands here)
            logger.error(f"Authorization verification failed: {exc}")
            return False

    def add_authorized_user(self, user_id: str, public_key_pem: str) -> None:
        self.db.execute("INSERT INTO authorized_users (user_id, public_key) VALUES (?, ?)", (user_id, public_key_pem))
        self.db.commit()
        self.authorized_keys[user_id] = public_key_pem
