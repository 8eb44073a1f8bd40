"""Every KV store honours one contract: put/get round-trip, absent -> None, delete, shared view, and
unreachable -> KVUnavailable (what SHIFT's fail-closed path relies on)."""

from __future__ import annotations

import socket
import uuid

import pytest

from shift_core.errors import ShiftUserError
from shift_core.kv import KVStore, KVUnavailable, open_kv
from shift_core.kv.memory_store import MemoryKV


def _contract(a: KVStore, b: KVStore) -> None:
    key = f"qp/sim:h0.nic0/{uuid.uuid4().hex}"
    assert a.get(key) is None
    a.put(key, {"qpn": 17, "gid": "sim:h0.nic1"})
    assert b.get(key) == {"qpn": 17, "gid": "sim:h0.nic1"}  # the peer sees what this host published
    a.put(key, {"qpn": 18, "gid": "sim:h0.nic1"})
    assert b.get(key) == {"qpn": 18, "gid": "sim:h0.nic1"}
    b.delete(key)
    assert a.get(key) is None


def test_memory_store_contract_and_isolation() -> None:
    ns = uuid.uuid4().hex
    _contract(open_kv(f"mem://{ns}"), open_kv(f"mem://{ns}"))
    a, other = MemoryKV(ns), MemoryKV(uuid.uuid4().hex)
    a.put("k", {"v": 1})
    assert other.get("k") is None


def test_private_memory_store_is_its_own_and_unregistered() -> None:
    """A run's private store is a full store for whoever holds it, shares nothing, and leaves no entry in the
    process-wide registry (a fault-matrix worker opens one per run, 10^5 runs)."""
    from shift_core.kv import memory_store

    before = dict(memory_store._NAMESPACES)
    a, b = MemoryKV.private(), MemoryKV.private()
    _contract(a, a)
    a.put("k", {"v": 1})
    assert b.get("k") is None and a.url != b.url
    assert before == memory_store._NAMESPACES


def test_memory_store_values_are_copies() -> None:
    kv = MemoryKV(uuid.uuid4().hex)
    val = {"rkeys": [1, 2]}
    kv.put("k", val)
    val["rkeys"].append(3)
    got = kv.get("k")
    assert got == {"rkeys": [1, 2]}


def test_memory_store_unavailable_raises() -> None:
    kv = MemoryKV(uuid.uuid4().hex)
    kv.available = False
    with pytest.raises(KVUnavailable):
        kv.get("k")
    with pytest.raises(KVUnavailable):
        kv.put("k", {})


def test_sqlite_store_contract(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kv.sqlite"
    a, b = open_kv(f"sqlite://{path}"), open_kv(f"sqlite://{path}")
    _contract(a, b)
    a.close()
    b.close()


def test_unknown_scheme_is_a_user_error() -> None:
    with pytest.raises(ShiftUserError, match="mem://"):
        open_kv("etcd://x")


def test_redis_store_contract(redis_url: str) -> None:
    a, b = open_kv(redis_url), open_kv(redis_url)
    _contract(a, b)
    a.close()
    b.close()


def test_redis_unreachable_raises_kv_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kv = open_kv(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(KVUnavailable):
        kv.get("k")


def test_dir_store_contract(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``dir://``: the store libshift.so's C end writes (one file per key, ':' and '/' become '_')."""
    a, b = open_kv(f"dir://{tmp_path}"), open_kv(f"dir://{tmp_path}")
    _contract(a, b)
    a.put("qp:fe80:0000:0000:0000:0000:0000:0000:0001:17", {"gid": "x", "qpn": 3})
    assert (tmp_path / "qp_fe80_0000_0000_0000_0000_0000_0000_0001_17").read_text() == '{"gid": "x", "qpn": 3}'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kv.")]  # no temporary file left behind


def test_dir_store_unwritable_raises_kv_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    kv = open_kv(f"dir://{blocker}")
    with pytest.raises(KVUnavailable):
        kv.put("k", {"v": 1})
