"""The one SQLite file that keeps the dev node's state across restarts.

Every service stand-in (data, chain, compliance, simulated peers) keeps its
state here, so stopping and starting devnode loses nothing. devnode never
deletes, truncates or overwrites a file it cannot read: it stops and says so.

Values of arbitrary Python objects are stored as JSON with a type tag, so a
str comes back a str, a dict a dict, and lists, ints, floats, bools and None
round-trip (tuples come back as lists, as JSON has no tuple). bytes round-trip
too. A value JSON cannot represent (a set, a custom object, a dict holding
one) is stored as ``str(value)`` and comes back as that string.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devnode.errors import DevnodeError

DB_FILENAME = "devnode.sqlite3"
SCHEMA_VERSION = 1
_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    address TEXT NOT NULL, asset TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (address, asset)
);
CREATE TABLE IF NOT EXISTS transactions (
    block INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contracts (address TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS compliance_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_hash TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, event_hash TEXT NOT NULL,
    event_data TEXT NOT NULL, timestamp REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS peer_data (
    peer TEXT NOT NULL, data_hash TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (peer, data_hash)
);
"""


class StoreError(DevnodeError):
    """The database file cannot be opened or written."""


def canonical_json(obj: Any) -> str:
    """The one JSON spelling of ``obj`` used for hashing: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def encode_value(value: Any) -> str:
    """Tag and serialise ``value`` for a TEXT column (see the module docstring)."""
    if isinstance(value, (bytes, bytearray)):
        return json.dumps({"type": "bytes", "value": base64.b64encode(bytes(value)).decode("ascii")})
    try:
        return json.dumps({"type": "json", "value": value})
    except (TypeError, ValueError):
        # ValueError covers circular references; neither can be stored faithfully.
        return json.dumps({"type": "str", "value": str(value)})


def decode_value(text: str) -> Any:
    """Undo ``encode_value``."""
    tagged = json.loads(text)
    if tagged["type"] == "bytes":
        return base64.b64decode(tagged["value"])
    return tagged["value"]


class Store:
    """One SQLite database on disk, shared by the node's services.

    ``path`` is the database file, or a directory to hold ``DB_FILENAME``.
    Safe to call from several threads: every call holds one lock.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        self.path = path / DB_FILENAME if path.is_dir() else path
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = _open(self.path)

    # -- plumbing --------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the block as one transaction (nested blocks join the outer one)."""
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._lock:
            try:
                return self._conn.execute(sql, params).rowcount
            except sqlite3.OperationalError as exc:
                raise _write_failed(self.path, exc) from exc

    # -- data key/value --------------------------------------------------------
    def put_data(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO data (key, value) VALUES (?, ?)", (key, encode_value(value)))

    def get_data(self, key: str) -> Any | None:
        rows = self._rows("SELECT value FROM data WHERE key = ?", (key,))
        return decode_value(rows[0][0]) if rows else None

    def delete_data(self, key: str) -> bool:
        return self._write("DELETE FROM data WHERE key = ?", (key,)) > 0

    def data_keys(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT key FROM data ORDER BY key")]

    # -- chain: balances, transactions, contracts -------------------------------
    def balance(self, address: str, asset: str) -> int:
        rows = self._rows("SELECT amount FROM balances WHERE address = ? AND asset = ?", (address, asset))
        return int(rows[0][0]) if rows else 0

    def has_account(self, address: str, asset: str) -> bool:
        return bool(self._rows("SELECT 1 FROM balances WHERE address = ? AND asset = ?", (address, asset)))

    def set_balance(self, address: str, asset: str, amount: int) -> None:
        # TEXT, because token amounts in base units overflow SQLite's 64-bit INTEGER.
        self._write(
            "INSERT OR REPLACE INTO balances (address, asset, amount) VALUES (?, ?, ?)",
            (address, asset, str(amount)),
        )

    def add_transaction(self, tx_hash: str, body: dict[str, Any]) -> int:
        """Append a transaction in a new block; returns the block number."""
        with self._lock:
            block = self.block_number() + 1
            self._write(
                "INSERT INTO transactions (block, hash, body) VALUES (?, ?, ?)",
                (block, tx_hash, json.dumps({**body, "blockNumber": block}, default=str)),
            )
            return block

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT body FROM transactions WHERE hash = ?", (tx_hash,))
        return json.loads(rows[0][0]) if rows else None

    def transactions_since(self, first_block: int) -> list[dict[str, Any]]:
        """Transactions in blocks ``first_block`` and later, newest first."""
        rows = self._rows("SELECT body FROM transactions WHERE block >= ? ORDER BY block DESC", (first_block,))
        return [json.loads(r[0]) for r in rows]

    def sent_count(self, address: str) -> int:
        """Transactions whose sender is ``address`` (a nonce)."""
        rows = self._rows(
            "SELECT COUNT(*) FROM transactions WHERE json_extract(body, '$.from') = ? AND json_extract(body, '$.kind') != 'mint'",
            (address,),
        )
        return int(rows[0][0])

    def block_number(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(block), 0) FROM transactions")[0][0])

    def put_contract(self, address: str, info: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO contracts (address, info) VALUES (?, ?)"
            " ON CONFLICT (address) DO UPDATE SET info = excluded.info",
            (address, json.dumps(info)),
        )

    def contracts(self) -> dict[str, dict[str, Any]]:
        return {a: json.loads(i) for a, i in self._rows("SELECT address, info FROM contracts ORDER BY rowid")}

    # -- compliance events -----------------------------------------------------
    def add_compliance_event(
        self, tx_hash: str, event_type: str, event_hash: str, event_data: dict[str, Any], timestamp: float
    ) -> None:
        self._write(
            "INSERT INTO compliance_events (tx_hash, event_type, event_hash, event_data, timestamp)"
            " VALUES (?, ?, ?, ?, ?)",
            (tx_hash, event_type, event_hash, json.dumps(event_data, default=str), timestamp),
        )

    def compliance_events(self) -> list[dict[str, Any]]:
        """Every recorded compliance event, oldest first."""
        rows = self._rows(
            "SELECT tx_hash, event_type, event_hash, event_data, timestamp FROM compliance_events ORDER BY seq"
        )
        return [
            {"tx_hash": t, "event_type": et, "event_hash": eh, "event_data": json.loads(d), "timestamp": ts}
            for t, et, eh, d, ts in rows
        ]

    # -- data held by simulated peers ------------------------------------------
    def put_peer_data(self, peer: str, data_hash: str, value: Any) -> None:
        self._write(
            "INSERT INTO peer_data (peer, data_hash, value) VALUES (?, ?, ?)"
            " ON CONFLICT (peer, data_hash) DO UPDATE SET value = excluded.value",
            (peer, data_hash, encode_value(value)),
        )

    def get_peer_data(self, peer: str, data_hash: str) -> tuple[bool, Any]:
        """``(found, value)``: a peer may legitimately hold a None value."""
        rows = self._rows("SELECT value FROM peer_data WHERE peer = ? AND data_hash = ?", (peer, data_hash))
        return (True, decode_value(rows[0][0])) if rows else (False, None)

    def peer_data_hashes(self, peer: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT data_hash FROM peer_data WHERE peer = ? ORDER BY rowid", (peer,))]


def _open(path: Path) -> sqlite3.Connection:
    """Connect and create the schema, turning every failure into a StoreError with a fix."""
    _refuse_foreign_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f'"{path}" was written by a newer devnode (schema {version}, this one reads {SCHEMA_VERSION}). '
                "Upgrade devnode, or move the file aside to start fresh; devnode never overwrites it."
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        if version != SCHEMA_VERSION:  # only a new file is written to just by opening it
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise _classify(path, exc) from exc
    except StoreError:
        if conn is not None:
            conn.close()
        raise
    return conn


def _refuse_foreign_file(path: Path) -> None:
    # Checked before SQLite sees the file, so nothing (not even a -wal file) is written next to it.
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StoreError(f'"{path}" is a directory, not a database file; move it aside (devnode creates the database there on its next start)') from None
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    if header and header != _SQLITE_HEADER:
        raise _corrupt(path, "it does not start with the SQLite header")


def _classify(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f'"{path}" is locked by another process ({text}). '
            "Stop the other devnode using this data directory, or give this one another DATA_DIR."
        )
    if isinstance(exc, sqlite3.OperationalError):
        return _unwritable(path, exc)
    return _corrupt(path, text)


def _write_failed(path: Path, exc: sqlite3.OperationalError) -> StoreError:
    if "full" in str(exc):
        return StoreError(
            f'cannot write to the devnode database "{path}": the disk is full ({exc}). '
            f'Free some space where the data directory "{path.parent}" lives; what was stored before is intact '
            "(the failed write was rolled back)."
        )
    return _classify(path, exc)


def _corrupt(path: Path, cause: str) -> StoreError:
    return StoreError(
        f'"{path}" is not a usable SQLite database: {cause}. '
        "Move it aside to start fresh; devnode never overwrites it."
    )


def _unwritable(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f'cannot open the devnode database "{path}" for writing ({exc}). '
        f'The data directory "{path.parent}" and the database in it must be writable: '
        "fix their permissions or set DATA_DIR to a writable directory."
    )
