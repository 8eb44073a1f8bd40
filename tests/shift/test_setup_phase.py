"""Setup phase (paper §4.2): shadow control verbs replayed on the backup NIC, best-effort, and the backup
attributes exchanged through the KV store keyed by the default attributes."""

from __future__ import annotations

import uuid

from shift_core.backend.attrs import QPInitAttr
from shift_core.backend.enums import ibv_qp_state
from shift_core.bench.workloads import ACCESS
from shift_core.fabric import make_fabric, rc_attr
from shift_core.kv.memory_store import MemoryKV
from shift_core.shift.exchange import mr_key, qp_key, region_key
from shift_core.shift.lib import ShiftLib


def _host(b, kv, h):  # type: ignore[no-untyped-def]
    lib = ShiftLib(b, f"h{h}.nic0", f"h{h}.nic1", kv, "shift")
    pd = lib.alloc_pd()
    mr = lib.reg_mr(pd, 4096, ACCESS)
    cq = lib.create_cq(64)
    qp = lib.create_qp(pd, QPInitAttr(scq=cq, rcq=cq))
    return lib, mr, qp


def test_shadow_verbs_wait_for_the_peer_then_publish_and_connect() -> None:
    b = make_fabric(seed=1)
    kv = MemoryKV(uuid.uuid4().hex, fresh=True)
    la, mra, qpa = _host(b, kv, 0)
    assert not la.ready and qpa.backup is None  # nothing ran on the app's critical path
    la.progress()
    # backup objects exist and are published, but connecting needs the peer's backup QP: skipped, not blocked
    assert qpa.backup is not None and not la.ready
    assert kv.get(qp_key(la.default_gid, qpa.qp_num)) == {"gid": "sim:h0.nic1", "qpn": qpa.backup.qp_num}
    assert kv.get(mr_key(la.default_gid, mra.rkey)) == {"rkey": mra.backup_rkey}
    assert kv.get(region_key("mbox", la.default_gid, qpa.qp_num)) is not None
    lb, _, qpb = _host(b, kv, 1)
    qpa.to_rts(rc_attr(lb.default_gid, qpb.qp_num, timeout=10, retry_cnt=2))
    qpb.to_rts(rc_attr(la.default_gid, qpa.qp_num, timeout=10, retry_cnt=2))
    la.progress()
    assert not la.ready  # B has not replayed yet: A's connect verb is still pending (rescanned later)
    lb.progress()
    la.progress()
    assert la.ready and lb.ready
    assert qpa.backup.qp_state == ibv_qp_state.IBV_QPS_RTS
    assert qpa.backup.attr.dest_qp_num == qpb.backup.qp_num  # connected to B's backup, found via the KV store
    # the backup MR shares the app's bytes (registered over the same address)
    mra.write(b"shared!!", 8)
    assert qpa.lib.lkey_map[mra.lkey] == mra.backup.lkey and mra.backup.read(8, 0) == b"shared!!"


def test_strategy_none_replays_nothing() -> None:
    b = make_fabric(seed=1)
    kv = MemoryKV(uuid.uuid4().hex, fresh=True)
    lib = ShiftLib(b, "h0.nic0", "h0.nic1", kv, "none")
    lib.create_cq(16)
    lib.progress()
    assert lib.ready and lib.bctx is None and kv.ops == 0
