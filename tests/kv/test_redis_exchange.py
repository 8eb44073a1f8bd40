"""SHIFT's setup-phase exchange through a real Redis (the paper's store): a failover run is correct."""

from __future__ import annotations

from shift_core.bench.judge import judge
from shift_core.bench.matrix import HOSTS
from shift_core.bench.workloads import run_failover
from shift_core.fabric import make_fabric
from shift_core.kv import open_kv
from shift_core.shift.exchange import qp_key


def test_failover_with_backup_attributes_exchanged_through_redis(redis_url: str) -> None:
    b = make_fabric(seed=4)
    kv = open_kv(redis_url)
    res = run_failover(b, HOSTS, "send_recv", "shift", n=12, kv=kv,
                       fault_hook=lambda: b.faults.nic_fatal("h1.nic0", at_ns=b.now_ns() + 500))
    v = judge(res)
    assert v.outcome == "correct" and v.resubmitted + v.skipped_by_counter > 0
    assert kv.get(qp_key("sim:h0.nic0", 0x11)) is not None  # the published backup route of host A's QP
    kv.close()
