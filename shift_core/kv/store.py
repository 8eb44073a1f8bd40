"""The key-value store interface SHIFT's setup phase exchanges backup attributes through (paper §4.2).

A store maps ``str`` keys to JSON-able dicts. ``get`` of an absent key is ``None`` (the peer has not published yet:
shadow verbs retry later, App. B's best-effort rescan). An unreachable store raises
:class:`shift_core.kv.store.KVUnavailable`, which SHIFT treats as a second failure during fallback: it fails closed
and surfaces the error (§4.2).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from shift_core.errors import ShiftError, ShiftUserError


class KVUnavailable(ShiftError):
    """Raised when the key-value store cannot be reached (SHIFT then fails closed: error surfaced to the app)."""


@runtime_checkable
class KVStore(Protocol):
    """``put``/``get``/``delete`` of JSON-able dicts under string keys; ``close`` releases the connection."""

    url: str

    def put(self, key: str, value: dict[str, Any]) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...
    def close(self) -> None: ...


def open_kv(url: str) -> KVStore:
    """Open a store from its URL: ``mem://<namespace>``, ``sqlite:///<path>``, ``dir:///<path>`` (the file store
    libshift.so uses) or ``redis://host:port/db``.

    :raises ShiftUserError: on an unknown scheme (the message lists the accepted ones).
    """
    if url.startswith("mem://"):
        from shift_core.kv.memory_store import MemoryKV
        return MemoryKV(url[len("mem://"):] or "default")
    if url.startswith("sqlite://"):
        from shift_core.kv.sqlite_store import SQLiteKV
        return SQLiteKV(url[len("sqlite://"):])
    if url.startswith("dir://"):
        from shift_core.kv.dir_store import DirKV
        return DirKV(url[len("dir://"):])
    if url.startswith("redis://"):
        from shift_core.kv.redis_store import RedisKV
        return RedisKV(url)
    raise ShiftUserError(f"unknown KV store URL {url!r}: use mem://<ns>, sqlite:///<path>, dir:///<path> or "
                         "redis://host:port/db")
