"""SQLite key-value store: one file shared by several processes on one host (no server needed)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shift_core.kv.store import KVUnavailable


class SQLiteKV:
    """A ``kv(key TEXT PRIMARY KEY, value TEXT)`` table; every call is its own transaction."""

    def __init__(self, path: str) -> None:
        self.url = f"sqlite://{path}"
        try:
            self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            self._db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.Error as exc:
            raise KVUnavailable(f"Failed to open KV store {self.url}: {exc}") from None

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value)))
        except sqlite3.Error as exc:
            raise KVUnavailable(f"Failed to put {key!r} in {self.url}: {exc}") from None

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise KVUnavailable(f"Failed to get {key!r} from {self.url}: {exc}") from None
        return None if row is None else dict(json.loads(row[0]))

    def delete(self, key: str) -> None:
        try:
            self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise KVUnavailable(f"Failed to delete {key!r} from {self.url}: {exc}") from None

    def close(self) -> None:
        self._db.close()
