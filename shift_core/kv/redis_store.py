"""Redis key-value store, as in the paper's implementation (Redis 8.0.5 over the management network).

redis-py is imported lazily, so the rest of :mod:`shift_core.kv` runs on a guest python3 without it.
Connection errors and timeouts become :class:`shift_core.kv.store.KVUnavailable` (SHIFT fails closed on them).
"""

from __future__ import annotations

import json
from typing import Any

from shift_core.errors import ShiftUserError
from shift_core.kv.store import KVUnavailable


class RedisKV:
    """Values are JSON strings under plain Redis keys; ``timeout_s`` bounds every call."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        try:
            import redis
        except ImportError:
            raise ShiftUserError("redis KV store needs redis-py: pip install redis") from None
        self.url = url
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,
                                                          redis.exceptions.TimeoutError)
        self._r = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._r.set(key, json.dumps(value))
        except self._errors as exc:
            raise KVUnavailable(f"Failed to put {key!r} in {self.url}: {exc}") from None

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._r.get(key)
        except self._errors as exc:
            raise KVUnavailable(f"Failed to get {key!r} from {self.url}: {exc}") from None
        return None if raw is None else dict(json.loads(raw))

    def delete(self, key: str) -> None:
        try:
            self._r.delete(key)
        except self._errors as exc:
            raise KVUnavailable(f"Failed to delete {key!r} from {self.url}: {exc}") from None

    def close(self) -> None:
        self._r.close()
