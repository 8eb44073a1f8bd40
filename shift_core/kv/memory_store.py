"""In-process key-value store: the emulator's default (both emulated hosts live in one Python process).

Stores opened with the same namespace share one dict, as two hosts share one Redis. ``available`` can be
switched off to emulate an unreachable store (the "KV store down" second failure of the fault matrix). A run that
hands one store object to both hosts takes a :meth:`MemoryKV.private` store instead: no name to share, so nothing
of it outlives the run.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from shift_core.kv.store import KVUnavailable

_NAMESPACES: dict[str, dict[str, dict[str, Any]]] = {}


class MemoryKV:
    """A dict shared per namespace; values are deep-copied so callers never alias stored data."""

    def __init__(self, namespace: str = "default", *, fresh: bool = False, shared: bool = True) -> None:
        self.url = f"mem://{namespace}"
        if not shared:
            self._data: dict[str, dict[str, Any]] = {}
        else:
            if fresh or namespace not in _NAMESPACES:
                _NAMESPACES[namespace] = {}
            self._data = _NAMESPACES[namespace]
        self.available = True
        self.ops = 0  #: put/get/delete calls served (the exchange's cost, reported by benchmarks)

    @classmethod
    def private(cls) -> MemoryKV:
        """An empty store under a unique name that no other handle opens, kept out of the process-wide registry:
        it goes with its last reference. (Registered, every fault-matrix run's exchanged attributes, ~3.6 kB,
        stayed in its worker until the worker exited.)"""
        return cls(uuid.uuid4().hex, shared=False)

    def _check(self) -> None:
        if not self.available:
            raise KVUnavailable(f"Failed to reach KV store {self.url}: store marked unavailable")
        self.ops += 1

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._check()
        self._data[key] = copy.deepcopy(value)

    def get(self, key: str) -> dict[str, Any] | None:
        self._check()
        v = self._data.get(key)
        return None if v is None else copy.deepcopy(v)

    def delete(self, key: str) -> None:
        self._check()
        self._data.pop(key, None)

    def close(self) -> None:
        """Nothing to release; the namespace outlives the handle, like a server does."""
