"""Out-of-band exchange of backup attributes, keyed by default attributes (paper §4.2).

The application trades its *default* GID/QPN/rkeys over its own channel, which SHIFT cannot see. So each
host publishes ``default attribute -> backup attribute`` in the KV store, and a peer that knows a default
attribute (because the app gave it) looks the backup one up. Remote lookups are lazy and cached, as in the
paper ("retrieved lazily on first use on the backup NIC, then cached").
"""

from __future__ import annotations

from typing import Any

from shift_core.kv.store import KVStore


def qp_key(gid: str, qpn: int) -> str:
    """Key of a QP's backup route: default GID + default QPN -> ``{"gid", "qpn"}`` of the backup QP."""
    return f"qp:{gid}:{qpn}"


def mr_key(gid: str, rkey: int) -> str:
    """Key of an MR's backup rkey: default GID + default rkey -> ``{"rkey"}`` on the backup NIC."""
    return f"mr:{gid}:{rkey}"


def region_key(kind: str, gid: str, qpn: int) -> str:
    """Key of a layer-owned region of a QP (``mbox``, ``log``, ``stage``) -> ``{"addr", "rkey", "brkey"}``."""
    return f"{kind}:{gid}:{qpn}"


class RemoteCache:
    """Lazy, cached lookups of a peer's published attributes (a miss is retried; a hit is kept)."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The value under ``key`` or ``None`` when not published yet.

        :raises shift_core.kv.store.KVUnavailable: when the store cannot be reached.
        """
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        val = self.kv.get(key)
        if val is not None:
            self._cache[key] = val
        return val
