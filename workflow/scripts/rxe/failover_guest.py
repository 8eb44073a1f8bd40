"""Link faults on real soft-RoCE, in the guest: detection, and failover by each strategy (none / naive / shift).

Faults (all injected from inside the guest, on the primary link p0<->p1; rxe_guest_recipe.md):

==================  ==========================================  ======================  ====================
scenario            command                                     vocabulary (kind/site)  what rxe shows
==================  ==========================================  ======================  ====================
peer_link_down      ip link set p1 down                          link_down/receiver_nic  PORT_ERR, RETRY_EXC
local_link_down     ip link set p0 down                          link_down/sender_nic    PORT_ERR, LOC_QP_OP
netem_loss          tc qdisc add dev p0 root netem loss 100%    packet_loss/switch_port RETRY_EXC only
netem_ack_loss      tc qdisc add dev p1 root netem loss 100%    ack_loss/switch_port    RETRY_EXC only
==================  ==========================================  ======================  ====================

``netem_ack_loss`` drops everything B sends back (ACKs, READ responses, B's own requests): A's requests
execute at B but A times out, the physical fact behind the paper's Theorem 1 and the case where ``naive``
re-executes. A link down that is shorter than RC's detection time is healed by RC retransmission itself, so the
link stays down ``DOWN_S`` (longer than (retry_cnt+1) x 4.096 us x 2^timeout under TCG).

Every scenario records the fault's first signal (first async event or error completion, whichever is first),
and for the strategies the downtime to the first successful completion on the backup, whether the data the
receiver got is intact, and the switch-back after the link is restored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shift_core.backend import SGE, SendWR, ibv_port_state
from shift_core.backend import ibv_wc_status as S
from shift_core.backend import ibv_wr_opcode as O

#: name -> (inject, restore, fault kind, site)
FAULTS: dict[str, tuple[str, str, str, str]] = {
    "peer_link_down": ("ip link set p1 down", "ip link set p1 up && rxe-relink.sh", "link_down", "receiver_nic"),
    "local_link_down": ("ip link set p0 down", "ip link set p0 up && rxe-relink.sh", "link_down", "sender_nic"),
    "netem_loss": ("tc qdisc add dev p0 root netem loss 100%", "tc qdisc del dev p0 root", "packet_loss",
                   "switch_port"),
    "netem_ack_loss": ("tc qdisc add dev p1 root netem loss 100%", "tc qdisc del dev p1 root", "ack_loss",
                       "switch_port"),
}
DOWN_S = 2.2  #: seconds a strategy run's link stays down
TIMEOUT, RETRY_CNT = 14, 6  #: RC settings of every scenario: 67 ms x 7 tries; 7 would retry forever on rxe
SIZE, DEPTH = 4096, 8


@dataclass
class Detection:
    """What the application saw of one fault (times in ms from the start of the fault command)."""

    scenario: str
    kind: str
    site: str
    timeout: int
    retry_cnt: int
    fault_cmd_ms: float = 0.0
    first_async_ms: float | None = None
    async_events: list[str] = field(default_factory=list)
    first_error_ms: float | None = None
    first_error_status: str = ""
    writes_before_fault: int = 0
    spurious_error_before_fault: bool = False
    port_active_again_ms: float | None = None


def sh(cmd: str) -> float:
    """Run a fault command; returns its duration in ms (spawning ip/tc under TCG takes 100-250 ms)."""
    t0 = time.monotonic()
    subprocess.run(cmd, shell=True, check=True, capture_output=True)
    return (time.monotonic() - t0) * 1e3


def _rxe_helpers() -> Any:
    sys.path.insert(0, str(Path(os.environ.get("SHIFT_PROJECT", "/project")) / "tests" / "rdma" / "guest"))
    import rxe_helpers

    return rxe_helpers


def detect(scenario: str, backend: Any, warmup_s: float = 0.6, give_up_s: float = 15.0) -> Detection:
    """Stream RDMA WRITEs on rxe_p0 -> rxe_p1, inject ``scenario`` mid-stream, record the first signals."""
    h = _rxe_helpers()
    inject, restore, kind, site = FAULTS[scenario]
    det = Detection(scenario, kind, site, TIMEOUT, RETRY_CNT)
    a, b = h.make_side(backend, "rxe_p0"), h.make_side(backend, "rxe_p1")
    h.connect(backend, a, b, timeout=TIMEOUT, retry_cnt=RETRY_CNT)
    wr_id, out, t_fault = 0, 0, None
    t0 = time.monotonic()
    try:
        while True:
            while out < DEPTH and det.first_error_ms is None:
                wr = SendWR(wr_id=wr_id, opcode=O.IBV_WR_RDMA_WRITE, sg_list=[SGE(a.mr.buf, SIZE, a.mr.lkey)])
                wr.set_wr_rdma(b.mr.rkey, b.mr.buf)
                a.qp.post_send(wr)
                wr_id, out = wr_id + 1, out + 1
            _, wcs = a.cq.poll(DEPTH)
            now = time.monotonic()
            for wc in wcs:
                out -= 1
                if wc.status == S.IBV_WC_SUCCESS:
                    det.writes_before_fault += t_fault is None
                elif det.first_error_ms is None:
                    if t_fault is None:
                        det.spurious_error_before_fault = True
                        return det
                    det.first_error_ms = (now - t_fault) * 1e3
                    det.first_error_status = wc.status.name
            ev = a.ctx.get_async_event()
            if ev is not None and t_fault is not None:
                det.async_events.append(ev.event_type.name)
                if det.first_async_ms is None:
                    det.first_async_ms = (now - t_fault) * 1e3
            if t_fault is None and now - t0 >= warmup_s:
                t_fault = time.monotonic()
                det.fault_cmd_ms = sh(inject)
            if det.first_error_ms is not None and out <= 0:
                break
            if t_fault is not None and now - t_fault > give_up_s:
                break
        while (ev := a.ctx.get_async_event(timeout_s=0.3)) is not None:
            det.async_events.append(ev.event_type.name)
    finally:
        t_restore = time.monotonic()
        if t_fault is not None:
            sh(restore)
        while a.ctx.query_port(1).state != ibv_port_state.IBV_PORT_ACTIVE and time.monotonic() - t_restore < 20:
            time.sleep(0.05)
        if t_fault is not None and a.ctx.query_port(1).state == ibv_port_state.IBV_PORT_ACTIVE:
            det.port_active_again_ms = (time.monotonic() - t_restore) * 1e3
        a.close()
        b.close()
    return det


# -- strategies over the SHIFT layer (shift_core.shift.lib.ShiftLib), unchanged from sim --------------------
STRATEGY_NAMES = ("none", "naive", "shift")
WORKLOADS = ("nccl_simple", "send_recv")
MSG = 4096            #: bytes per SEND / per NCCL chunk
SLOTS = 4             #: receive slots (SEND/RECV) / NCCL buffer slots
PROBE_NS = 100_000_000  #: SHIFT probe interval on the reset default QP (real time)


def strategies_available() -> tuple[bool, str]:
    """Whether the SHIFT layer can run here (it is standard library only, like this backend)."""
    try:
        import shift_core.kv.memory_store
        import shift_core.shift.lib  # noqa: F401
    except ImportError as exc:
        return False, f"SHIFT layer not importable in the guest ({exc})"
    return True, ""


def pattern(seq: int, n: int = MSG) -> bytes:
    """The payload of message/step ``seq``: its number then a seq-dependent byte pattern (checked end to end)."""
    head = seq.to_bytes(8, "little")
    return head + bytes(((seq * 131 + i) & 0xFF) for i in range(n - 8))


class Host:
    """One "host": a ShiftLib over (primary, backup) with one MR, CQ and RC QP."""

    def __init__(self, backend: Any, primary: str, backup: str, kv: Any, strategy: str) -> None:
        from shift_core.backend import QPCap, QPInitAttr
        from shift_core.shift.lib import ShiftLib

        self.lib = ShiftLib(backend, primary, backup, kv, strategy, probe_interval_ns=PROBE_NS)
        self.pd = self.lib.alloc_pd()
        self.mr = self.lib.reg_mr(self.pd, (2 * SLOTS + 2) * MSG, ACCESS)
        self.cq = self.lib.create_cq(512)
        self.qp = self.lib.create_qp(self.pd, QPInitAttr(scq=self.cq, rcq=self.cq,
                                                         cap=QPCap(max_send_wr=128, max_recv_wr=128)))

    def connect(self, peer: Host) -> None:
        from shift_core.backend import AHAttr, GlobalRoute, QPAttr

        idx = self.lib.gid_index
        self.qp.to_rts(QPAttr(dest_qp_num=peer.qp.qp_num, timeout=TIMEOUT, retry_cnt=RETRY_CNT, rnr_retry=7,
                              ah_attr=AHAttr(gr=GlobalRoute(dgid=peer.lib.default_gid, sgid_index=idx,
                                                            hop_limit=64))))


ACCESS = 15  #: local write | remote write | remote read | remote atomic


@dataclass
class StrategyRun:
    """One strategy x workload x fault run on rxe (times in ms from the start of the fault command)."""

    strategy: str
    workload: str
    scenario: str
    kind: str
    site: str
    outcome: str = ""
    data_intact: bool = True
    delivered: int = 0
    delivered_after_fault: int = 0
    duplicates: int = 0
    gaps: int = 0
    corrupt: int = 0
    errors_surfaced: int = 0
    first_signal_ms: float | None = None
    first_async_ms: float | None = None
    first_error_ms: float | None = None
    first_backup_ok_ms: float | None = None
    downtime_ms: float | None = None           #: first signal -> first successful completion on the backup
    downtime_from_error_ms: float | None = None  #: the paper's: first error completion -> first backup success
    switched_back: bool = False
    restore_ms: float | None = None            #: when the restore command started
    switch_back_ms: float | None = None        #: link restored -> traffic back on the default QPs
    sq_transitions: list[str] = field(default_factory=list)
    timeline: list[tuple[float, int]] = field(default_factory=list)  #: (ms from the fault, delivered so far)
    note: str = ""


def run_strategy(backend: Any, strategy: str, workload: str, scenario: str, warmup_s: float = 0.4,
                 down_s: float = DOWN_S, after_s: float = 1.5) -> StrategyRun:
    """Run ``workload`` through ``strategy`` on rxe, inject ``scenario`` after ``warmup_s``, restore the link
    ``down_s`` later, keep going ``after_s`` more, then judge: data intact, downtime, switch-back."""
    from shift_core.kv.memory_store import MemoryKV

    inject, restore, kind, site = FAULTS[scenario]
    res = StrategyRun(strategy, workload, scenario, kind, site)
    kv = MemoryKV(f"rxe-{strategy}-{workload}-{scenario}", fresh=True)
    a = Host(backend, "rxe_p0", "rxe_b0", kv, strategy)
    b = Host(backend, "rxe_p1", "rxe_b1", kv, strategy)
    a.connect(b)
    b.connect(a)
    for _ in range(5):
        a.lib.progress()
        b.lib.progress()
    step = (_send_recv if workload == "send_recv" else _nccl_simple)(a, b, res)
    if strategy == "shift":
        after_s *= 2  # time for probe -> fence -> switch-back (the others never switch back)
    watchers = [backend.Context(name=dev) for dev in ("rxe_p0", "rxe_p1")]  #: observers of port events
    t0 = time.monotonic()
    t_fault = t_restore = None
    try:
        while True:
            now = time.monotonic()
            if t_fault is None and now - t0 >= warmup_s:
                t_fault = time.monotonic()
                sh(inject)
            elif t_fault is not None and t_restore is None and now - t_fault >= down_s:
                t_restore = time.monotonic()
                sh(restore)
            alive = step(t_fault)
            if t_fault is not None and (not res.timeline or (now - t_fault) * 1e3 - res.timeline[-1][0] >= 50):
                res.timeline.append((round((now - t_fault) * 1e3, 1), res.delivered))
            for w in watchers:  # the layer consumes its own contexts' events; these see the same port events
                ev = w.get_async_event()
                if ev is not None and t_fault is not None and res.first_async_ms is None:
                    res.first_async_ms = (time.monotonic() - t_fault) * 1e3
            failed_over = a.lib.record.first_error_ns is not None or b.lib.record.first_error_ns is not None
            if t_restore is not None and failed_over and not res.switched_back and _on_default(a, b, workload):
                res.switched_back = True
                res.switch_back_ms = (time.monotonic() - t_restore) * 1e3
            if not alive or (t_restore is not None and now - t_restore >= after_s):
                break
    finally:
        if t_fault is not None and t_restore is None:
            sh(restore)
    _judge(res, a, b, t_fault, t_restore)
    for h in (a, b):
        _close(h)
    for w in watchers:
        w.close()
    return res


def _on_default(a: Host, b: Host, workload: str) -> bool:
    """Traffic is back on the default QPs: A's send queue and B's receive queue (and B's send queue when B
    sends too: NCCL's CTS). SHIFT switches a send queue back on the app's next signaled WR (the fence), so a
    queue that carries no traffic stays where it is, by design."""
    from shift_core.shift.machine import RQState, SQState

    back = a.qp.sq_state is SQState.DEFAULT and b.qp.rq_state is RQState.DEFAULT
    return back and (workload != "nccl_simple" or b.qp.sq_state is SQState.DEFAULT)


def _close(h: Host) -> None:
    """Close both devices of a host; pyverbs closes every child (QPs, MRs, CQs, PDs) first."""
    for ctx in (h.lib.bctx, h.lib.ctx):
        if ctx is not None:
            try:
                ctx.close()
            except Exception as exc:  # teardown after a fault must not hide the run's result
                print(f"[failover] close {ctx}: {exc}", flush=True)


def _judge(res: StrategyRun, a: Host, b: Host, t_fault: float | None, t_restore: float | None) -> None:
    rec = a.lib.record
    brec = b.lib.record
    base = int(t_fault * 1e9) if t_fault is not None else 0
    errs = [r.first_error_ns for r in (rec, brec) if r.first_error_ns is not None]
    oks = [r.first_backup_ok_ns for r in (rec, brec) if r.first_backup_ok_ns is not None]
    if errs:
        res.first_error_ms = (min(errs) - base) / 1e6
    if oks:
        res.first_backup_ok_ms = (min(oks) - base) / 1e6
    signals = [x for x in (res.first_async_ms, res.first_error_ms) if x is not None]
    res.first_signal_ms = min(signals) if signals else None
    if res.first_backup_ok_ms is not None and res.first_signal_ms is not None:
        res.downtime_ms = res.first_backup_ok_ms - res.first_signal_ms
    if res.first_backup_ok_ms is not None and res.first_error_ms is not None:
        res.downtime_from_error_ms = res.first_backup_ok_ms - res.first_error_ms
    res.sq_transitions = [f"{(t.t_ns - base) / 1e6:.0f}ms {host}.sq {t.from_}-{t.event}->{t.to}"
                          for host, r in (("A", rec), ("B", brec)) for t in r.transitions if t.queue == "sq"]
    res.restore_ms = round((t_restore - t_fault) * 1e3, 1) if t_restore is not None and t_fault is not None else None
    res.data_intact = res.corrupt == 0 and res.duplicates == 0 and res.gaps == 0
    if not res.data_intact:
        res.outcome = "silent_corruption"
    elif res.errors_surfaced:
        res.outcome = "error_surfaced"
    elif t_fault is not None and res.delivered_after_fault == 0:
        res.outcome = "stall"
    else:
        res.outcome = "correct"


def _send_recv(a: Host, b: Host, res: StrategyRun) -> Any:
    """SEND/RECV stream A -> B: message ``seq`` carries pattern(seq); B checks order, gaps, duplicates, bytes."""
    from shift_core.backend import SGE, RecvWR, SendWR
    from shift_core.backend import ibv_wr_opcode as O

    state = {"next_send": 0, "next_expect": 0, "out": 0, "dead": False}
    for i in range(SLOTS):
        b.qp.post_recv(RecvWR(wr_id=i, sg_list=[SGE(b.mr.buf + i * MSG, MSG, b.mr.lkey)]))

    def step(t_fault: float | None) -> bool:
        while state["out"] < SLOTS and not state["dead"]:
            seq = state["next_send"]
            slot = SLOTS + seq % SLOTS
            a.mr.write(pattern(seq), MSG, slot * MSG)
            a.qp.post_send(SendWR(wr_id=seq, opcode=O.IBV_WR_SEND, sg_list=[SGE(a.mr.buf + slot * MSG, MSG,
                                                                               a.mr.lkey)]))
            state["next_send"] += 1
            state["out"] += 1
        for wc in a.cq.poll(16)[1]:
            state["out"] -= 1
            if not wc.ok:
                res.errors_surfaced += 1
                state["dead"] = True
        for wc in b.cq.poll(16)[1]:
            if not wc.ok:
                res.errors_surfaced += 1
                state["dead"] = True
                continue
            data = b.mr.read(MSG, wc.wr_id * MSG)
            seq = int.from_bytes(data[:8], "little")
            if seq < state["next_expect"]:
                res.duplicates += 1
            elif seq > state["next_expect"]:
                res.gaps += seq - state["next_expect"]
            if data != pattern(seq):
                res.corrupt += 1
            state["next_expect"] = max(state["next_expect"], seq + 1)
            res.delivered += 1
            res.delivered_after_fault += t_fault is not None
            b.qp.post_recv(RecvWR(wr_id=wc.wr_id, sg_list=[SGE(b.mr.buf + wc.wr_id * MSG, MSG, b.mr.lkey)]))
        return not (state["dead"] and state["out"] <= 0)

    return step


def _nccl_simple(a: Host, b: Host, res: StrategyRun) -> Any:
    """NCCL Simple A -> B: per step, two unsignaled WRITEs fill slot ``step % SLOTS`` then a signaled
    WRITE_WITH_IMM(imm=step) notifies; B checks the slot and answers with a CTS WRITE of ``step`` into A's CTS
    word; A reuses a slot only after its CTS (NCCL's flow control)."""
    from shift_core.backend import SGE, RecvWR, SendWR
    from shift_core.backend import ibv_wr_opcode as O

    cts_off = 2 * SLOTS * MSG
    a.mr.write((0).to_bytes(8, "little"), 8, cts_off)
    state = {"step": 0, "expect": 0, "dead": False, "out": 0}
    for i in range(SLOTS):
        b.qp.post_recv(RecvWR(wr_id=i, sg_list=[SGE(b.mr.buf + cts_off, 8, b.mr.lkey)]))

    def cts() -> int:
        return int.from_bytes(a.mr.read(8, cts_off), "little")

    def step(t_fault: float | None) -> bool:
        s = state["step"]
        if not state["dead"] and s - cts() < SLOTS and state["out"] < 2 * SLOTS:
            slot = s % SLOTS
            a.mr.write(pattern(s), MSG, (SLOTS + slot) * MSG)
            half = MSG // 2
            for k in range(2):
                w = SendWR(wr_id=10_000_000 + 2 * s + k, opcode=O.IBV_WR_RDMA_WRITE, send_flags=0,
                           sg_list=[SGE(a.mr.buf + (SLOTS + slot) * MSG + k * half, half, a.mr.lkey)])
                w.set_wr_rdma(b.mr.rkey, b.mr.buf + slot * MSG + k * half)
                a.qp.post_send(w)
            n = SendWR(wr_id=s, opcode=O.IBV_WR_RDMA_WRITE_WITH_IMM, imm_data=s + 1, sg_list=[])
            n.set_wr_rdma(b.mr.rkey, b.mr.buf + cts_off)
            a.qp.post_send(n)
            state["step"] += 1
            state["out"] += 1
        for wc in a.cq.poll(16)[1]:
            state["out"] -= 1
            if not wc.ok:
                res.errors_surfaced += 1
                state["dead"] = True
        for wc in b.cq.poll(16)[1]:
            if not wc.ok:
                res.errors_surfaced += 1
                state["dead"] = True
                continue
            if wc.opcode.name == "IBV_WC_RDMA_WRITE":
                continue  # B's own CTS write completed
            got = wc.imm_data - 1
            if got < state["expect"]:
                res.duplicates += 1
            elif got > state["expect"]:
                res.gaps += got - state["expect"]
            if b.mr.read(MSG, (got % SLOTS) * MSG) != pattern(got):
                res.corrupt += 1
            state["expect"] = max(state["expect"], got + 1)
            res.delivered += 1
            res.delivered_after_fault += t_fault is not None
            b.qp.post_recv(RecvWR(wr_id=wc.wr_id, sg_list=[SGE(b.mr.buf + cts_off, 8, b.mr.lkey)]))
            b.mr.write((got + 1).to_bytes(8, "little"), 8, cts_off + 8)
            c = SendWR(wr_id=20_000_000 + got, opcode=O.IBV_WR_RDMA_WRITE,
                       sg_list=[SGE(b.mr.buf + cts_off + 8, 8, b.mr.lkey)])
            c.set_wr_rdma(a.mr.rkey, a.mr.buf + cts_off)
            b.qp.post_send(c)
        return not (state["dead"] and state["out"] <= 0)

    return step


def run_all(out: Path) -> dict[str, Any]:
    from shift_core.verbs import open_backend

    backend = open_backend("rxe")
    detections = []
    for scenario in FAULTS if not os.environ.get("SHIFT_RXE_FAILOVER") else ():
        det = detect(scenario, backend)
        print(f"[failover] detect {scenario}: {asdict(det)}", flush=True)
        detections.append(asdict(det))
    ok, why = strategies_available()
    result: dict[str, Any] = {"status": "ok", "detection": detections}
    if not ok:
        result["strategies"] = {"status": "skipped", "reason": why}
        return result
    runs = []
    only = [tuple(x.split(":")) for x in os.environ.get("SHIFT_RXE_FAILOVER", "").split(",") if x]
    for workload in WORKLOADS:
        for scenario in FAULTS:
            for strategy in STRATEGY_NAMES:
                if only and (strategy, workload, scenario) not in only:
                    continue
                try:
                    r = asdict(run_strategy(backend, strategy, workload, scenario))
                except Exception as exc:  # one broken run is a result, not the end of the matrix
                    r = {"strategy": strategy, "workload": workload, "scenario": scenario, "outcome": "harness_error",
                         "note": f"{type(exc).__name__}: {exc}"}
                    import traceback

                    traceback.print_exc()
                print(f"[failover] {strategy} {workload} {scenario}: {r.get('outcome')} intact={r.get('data_intact')} "
                      f"downtime={r.get('downtime_ms')} switch_back={r.get('switched_back')} {r.get('note', '')}",
                      flush=True)
                runs.append(r)
    result["strategies"] = {"status": "ok", "runs": runs}
    return result
