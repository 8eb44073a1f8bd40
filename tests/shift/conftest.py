"""Shared helpers of the SHIFT layer tests: one judged run on a fresh two-host, two-NIC sim fabric, or a raw
connected pair of layer endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from shift_core.backend.attrs import QPInitAttr
from shift_core.backend.enums import local_ack_timeout_ns
from shift_core.bench.judge import Verdict, judge
from shift_core.bench.matrix import HOSTS
from shift_core.bench.workloads import ACCESS, RunResult, run_failover
from shift_core.fabric import make_fabric, rc_attr
from shift_core.kv.memory_store import MemoryKV
from shift_core.shift.lib import ShiftLib

TIMEOUT, RETRY = 10, 2
DETECT_NS = (RETRY + 1) * local_ack_timeout_ns(TIMEOUT)


def run(workload: str, strategy: str, fault: Callable[[Any], None] | None = None, *, after: int = 2, n: int = 12,
        seed: int = 1, on_round: Callable[[Any, dict[str, Any]], None] | None = None, pace_ns: int = 0,
        dup_write: str = "reexecute", **kw: Any) -> tuple[RunResult, Verdict, Any]:
    """Run ``workload`` under ``strategy``; ``fault(backend)`` fires after ``after`` completed ops."""
    b = make_fabric(seed=seed, dup_write=dup_write)
    hook = (lambda: fault(b)) if fault is not None else None
    rnd = (lambda libs: on_round(b, libs)) if on_round is not None else None
    res = run_failover(b, HOSTS, workload, strategy, n=n, fault_hook=hook, fault_after_ops=after, timeout=TIMEOUT,
                       retry_cnt=RETRY, on_round=rnd, pace_ns=pace_ns, **kw)
    return res, judge(res), b


def transitions(res: RunResult) -> set[tuple[str, str, str]]:
    """``(queue, from, event)`` of every transition either host took."""
    return {(t.queue, t.from_, t.event) for rec in res.records.values() for t in rec.transitions}


def ack_loss(nic: str, window_ns: int = 2 * DETECT_NS) -> Callable[[Any], None]:
    """Every ACK to requester ``nic`` lost for ``window_ns``: requests execute, the requester times out."""
    def f(b: Any) -> None:
        b.faults.ack_loss(nic, probability=1.0, at_ns=b.now_ns(), until_ns=b.now_ns() + window_ns)
    return f


def nic_fatal(nic: str, delay_ns: int = 1_000) -> Callable[[Any], None]:
    def f(b: Any) -> None:
        b.faults.nic_fatal(nic, at_ns=b.now_ns() + delay_ns)
    return f


def flap(nic: str, down_ns: int = int(1.5 * DETECT_NS)) -> Callable[[Any], None]:
    """One link flap: down long enough to exhaust the RC retries, then up for good."""
    def f(b: Any) -> None:
        b.faults.link_flap(nic, b.now_ns() + 1_000, down_ns, 10**12, 1)
    return f


def layer_pair(seed: int = 3, mr_bytes: int = 4096, strategy: str = "shift") -> tuple[Any, list[tuple[Any, ...]]]:
    """Two connected SHIFT endpoints ``(lib, mr, cq, qp)`` on hosts h0 / h1 (default nic0, backup nic1),
    with every shadow verb replayed: the raw layer API, for tests that drive posts and polls themselves."""
    b = make_fabric(seed=seed)
    kv = MemoryKV(uuid.uuid4().hex, fresh=True)
    ends = []
    for h in (0, 1):
        lib = ShiftLib(b, f"h{h}.nic0", f"h{h}.nic1", kv, strategy)
        pd = lib.alloc_pd()
        mr = lib.reg_mr(pd, mr_bytes, ACCESS)
        cq = lib.create_cq(256)
        ends.append((lib, mr, cq, lib.create_qp(pd, QPInitAttr(scq=cq, rcq=cq))))
    (la, _, _, qa), (lb, _, _, qb) = ends
    qa.to_rts(rc_attr(lb.default_gid, qb.qp_num, timeout=TIMEOUT, retry_cnt=RETRY))
    qb.to_rts(rc_attr(la.default_gid, qa.qp_num, timeout=TIMEOUT, retry_cnt=RETRY))
    for _ in range(5):
        la.progress()
        lb.progress()
    assert la.ready and lb.ready
    return b, ends
