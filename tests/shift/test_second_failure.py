"""A second failure ends in an error surfaced to the app, never a silent corruption (paper §4.2, §4.3)."""

from __future__ import annotations

from typing import Any

import pytest

from shift_core.kv.memory_store import MemoryKV

from .conftest import nic_fatal, run


@pytest.mark.parametrize("backup", ["h0.nic1", "h1.nic1"])
def test_backup_nic_dies_during_fallback(backup: str) -> None:
    def fault(b: Any) -> None:
        b.faults.link_down("h0.nic0", at_ns=b.now_ns() + 500)
        b.faults.nic_fatal(backup, at_ns=b.now_ns() + 5_000)

    res, v, _ = run("nccl_simple", "shift", fault, n=12)
    assert v.outcome == "error_surfaced"
    assert any("second failure" in n for rec in res.records.values() for n in rec.notes)


def test_kv_store_unreachable_at_the_first_failure() -> None:
    """Setup completed, then the store went down: the first lookup of the peer's mailbox fails closed."""
    kv = MemoryKV("down-at-failover", fresh=True)

    def fault(b: Any) -> None:
        kv.available = False
        nic_fatal("h1.nic0")(b)

    res, v, _ = run("send_recv", "shift", fault, n=12, kv=kv)
    assert v.outcome == "error_surfaced"
    assert any("KV store" in n for rec in res.records.values() for n in rec.notes)
