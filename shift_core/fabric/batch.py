"""Streams of identical RDMA WRITEs at WR granularity: the emulator's fast path (no verbs counterpart).

``ib_write_bw`` and the paper's throughput timelines post the same WRITE over and over. When nothing can
perturb such a stream (no loss knobs on the path, both ports up, the QP has nothing else outstanding), a
``post_send`` of N identical WRITEs is computed in closed form instead of as 4N scheduled events: message
``i`` leaves the uplink at ``start + (i+1) x ser``, arrives ``(base + (i+1) x ser) // 1000 + prop`` (the same
arithmetic as :meth:`~shift_core.fabric.topology.Fabric.transit`) and is acknowledged one ACK latency later.
What is observable still happens at its time: the bytes are placed at the first arrival (later copies are
the same bytes to the same place), each signaled WR's completion is a scheduled event, and the trace holds
one record that expands to exactly the per-WR ``Send``/``Receive``/``Execute``/``Completion`` events.

Any fault or QP state change first *splits* every active batch (:meth:`WriteBatch.split`): WRs not yet
acknowledged become ordinary in-flight WRs with their computed arrival and ACK times, so the RC machinery
(loss, timers, go-back-N, flush) treats them exactly as if they had never been batched. Caveat: an
interleaved writer from another QP to the same bytes inside a run would, on a NIC, be overwritten by the
run's later copies; here it is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress, repeat
from operator import and_, attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import WC
from shift_core.backend.enums import ibv_qp_state, ibv_wc_opcode, ibv_wc_status, ibv_wr_opcode
from shift_core.fabric.topology import ROCE_HEADER_BYTES
from shift_core.model import events as ev
from shift_core.model.operations import Write, WriteAck

if TYPE_CHECKING:
    from shift_core.fabric.transport import RCTransport

_ACK = WriteAck()
_WR_KEY = attrgetter("opcode", "remote_addr", "rkey", "send_flags")
_FIRST = itemgetter(0)
_SG_LIST = attrgetter("sg_list")
_SGE_KEY = attrgetter("addr", "length", "lkey")
_FLAGS = attrgetter("send_flags")
_WR_ID = attrgetter("wr_id")


class WriteBatch:
    """``n`` identical RDMA WRITEs posted together on one QP, in closed form."""

    def __init__(self, qp: RCTransport, peer: RCTransport, wr_ids: list[int], signaled: list[int], w0: Any,
                 payload: bytes, mr: Any) -> None:
        fabric = qp.fabric
        env = fabric.env
        self.qp, self.peer, self.mr = qp, peer, mr
        self.n = n = len(wr_ids)
        self.wr_ids = wr_ids
        self.signaled = signaled
        self.length = len(payload)
        self.payload = payload
        self.addr, self.rkey = w0.remote_addr, w0.rkey
        self.val = int.from_bytes(payload[:8], "little")
        self.uid0 = fabric._next_uid
        fabric._next_uid += n
        self.psn0 = qp.next_psn
        self.npkts = max(1, -(-self.length // qp._mtu()))
        qp.next_psn += n * self.npkts
        self.t_post = now = env.now
        self.seg_start, self.seg_time = [0], [now]  # WRs from seg_start[k] on were posted at seg_time[k]
        self.rec_pos = fabric.recorder.position()
        self.seg_pos = [self.rec_pos]  # ... when the recorder held seg_pos[k] plain events
        sl, dl = qp.nic.link, peer.nic.link
        self.ser = ser = sl.ser_ps(self.length + self.npkts * ROCE_HEADER_BYTES)  # == dl's: same rate
        now_ps = now * 1000
        start = sl.up_busy if sl.up_busy > now_ps else now_ps
        at_switch0 = start + (sl.prop_ns + sl.extra_delay_ns + fabric.switch_ns) * 1000
        self.base = base = at_switch0 if at_switch0 > dl.down_busy else dl.down_busy
        self.d2 = dl.prop_ns + dl.extra_delay_ns
        self.ack_lat = fabric.ack_delay(peer.nic, qp.nic)
        self.start = start
        self.key = (w0.sg_list[0].addr, w0.sg_list[0].length, w0.sg_list[0].lkey, w0.remote_addr, w0.rkey,
                    w0.send_flags & ~2)
        sl.up_busy = start + n * ser
        dl.down_busy = base + n * ser
        self.cut = n  # WRs [0, cut) stay batched; split() lowers it
        self.delivered = 0  # signaled completions already pushed cover WRs [0, delivered)
        self.n_exec = n
        peer.epsn = self.psn0 + n * self.npkts
        peer.nak_sent = False
        # the ACK timer restarts on a transmission only when nothing was outstanding (rxe's retrans_timer)
        self.from_idle = not any(bt.outstanding(now) for bt in qp.batches)
        fabric.batches[self] = None
        qp.batches[self] = None
        qp.batch_wrs += n
        qp.tail_batch = self
        fabric.recorder.add_record(self)
        first = self.arrival(0)
        env.schedule_at(first, self._place)
        for i in self.signaled:
            env.schedule_at(self.arrival(i) + self.ack_lat, self._complete, i)
        env.schedule_at(self.arrival(n - 1) + self.ack_lat, self._done)

    def arrival(self, i: int) -> int:
        """When WR ``i`` lands at the responder (ns)."""
        return (self.base + (i + 1) * self.ser) // 1000 + self.d2

    def ack(self, i: int) -> int:
        """When WR ``i``'s ACK reaches the requester (ns)."""
        return self.arrival(i) + self.ack_lat

    def op(self, i: int) -> Write:
        return Write(self.addr, self.val, self.uid0 + i)

    # -- scheduled effects ----------------------------------------------------------------------------------
    def _place(self) -> None:
        if self.cut == 0:
            return
        off = self.addr - self.mr.buf
        self.mr._mem[off:off + self.length] = self.payload

    def _complete(self, i: int) -> None:
        if i < self.cut:
            self.delivered = i + 1
            self.qp.scq._push(WC(self.wr_ids[i], ibv_wc_status.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RDMA_WRITE,
                                 self.qp.qp_num))

    def _done(self) -> None:
        now = self.qp.fabric.env.now
        if self.cut == self.n and now < self.ack(self.n - 1):  # the batch grew: done later
            self.qp.fabric.env.schedule_at(self.ack(self.n - 1), self._done)
            return
        if self in self.qp.fabric.batches:
            self._unlist()
            self.qp.last_batch_ack = self.ack(self.n - 1)  # progress the ACK timer must remember

    def _unlist(self) -> None:
        """This batch is no longer active (done, or split into per-WR state)."""
        qp = self.qp
        del qp.fabric.batches[self]
        del qp.batches[self]
        qp.batch_wrs -= self.cut
        qp.batch_acked = 0

    def outstanding(self, now: int, strict: bool = False) -> int:
        """WRs of this batch not yet acknowledged at ``now`` (they occupy send-queue slots). ``strict``: an
        ACK due exactly at ``now`` has not been delivered yet (we are inside an event at ``now``).
        Closed form: ``ack(i) <= t`` iff ``base + (i+1) x ser < (t - d2 - ack_lat + 1) x 1000``."""
        t = now - 1 if strict else now
        acked = ((t - self.d2 - self.ack_lat + 1) * 1000 - 1 - self.base) // self.ser
        return self.cut - min(self.cut, max(0, acked))

    # -- splitting ------------------------------------------------------------------------------------------
    def split(self) -> tuple[list[Any], list[Any], int | None, int]:
        """Stop batching at now: make every unacknowledged WR an ordinary in-flight WR. Returns the WRs
        (in PSN order), those of them already executed (ACK on its way), the PSN the responder expects next
        if some WR has not arrived yet, and the time of the last progress (for the ACK timer)."""
        from shift_core.fabric.transport import SendWQE

        fabric = self.qp.fabric
        now = fabric.env.now
        if self in fabric.batches:
            self._unlist()
        strict = fabric.env.dispatching  # inside an event at ``now``: same-time deliveries are still pending
        first_unacked = max(self.cut - self.outstanding(now, strict), self.delivered)
        first_unarrived = first_unacked
        while first_unarrived < self.cut and (self.arrival(first_unarrived) < now
                                              or (self.arrival(first_unarrived) == now and not strict)):
            first_unarrived += 1
        wqes = []
        signaled_set = set(self.signaled)
        for i in range(first_unacked, self.cut):
            w = SendWQE()
            w.wr_id, w.opcode, w.imm = self.wr_ids[i], ibv_wr_opcode.IBV_WR_RDMA_WRITE, 0
            w.remote_addr, w.rkey, w.compare_add, w.swap = self.addr, self.rkey, 0, 0
            w.sges, w.inline, w.length, w.npkts = [], self.payload, self.length, self.npkts
            w.signaled = i in signaled_set
            w.psn = self.psn0 + i * self.npkts
            w.op = self.op(i)
            w.attempt = w.open = 1
            w.phase = "executed" if i < first_unarrived else "sent"
            w.resolved = i < first_unarrived
            wqes.append(w)
        epsn = self.psn0 + first_unarrived * self.npkts if first_unarrived < self.cut else None
        last_progress = max(self.ack(first_unacked - 1) if first_unacked else 0,
                            self.t_post if self.from_idle else 0)
        # the trace record now stands for: Sends of all n, executions of [0, first_unarrived), completions
        # of [0, first_unacked); the per-WR machinery emits the rest
        self.cut = first_unacked
        self.n_exec = first_unarrived
        return wqes, wqes[:first_unarrived - first_unacked], epsn, last_progress

    def index(self, wqe: Any) -> int:
        return int((wqe.psn - self.psn0) // self.npkts)

    # -- trace ----------------------------------------------------------------------------------------------
    def events(self) -> Iterator[tuple[int, int, int, int, ev.Event]]:
        """The per-WR model events this batch stands for (see :class:`~shift_core.fabric.recorder.TraceRecord`).
        At equal times the NIC's own events precede a post (an application posts after polling)."""
        n, pos = self.n, self.rec_pos
        bounds = [*self.seg_start[1:], n]
        for first, last, t0, p in zip(self.seg_start, bounds, self.seg_time, self.seg_pos, strict=True):
            for i in range(first, last):
                yield t0, p, 0, i, ev.Send(self.op(i), t0)
        for i in range(self.n_exec):
            op, t = self.op(i), self.arrival(i)
            yield t, pos, 0, 2 * i - 4 * n, ev.Receive(op, t)
            yield t, pos, 0, 2 * i + 1 - 4 * n, ev.Execute(op, _ACK, t)
        for i in range(self.cut):
            t = self.ack(i)
            yield t, pos, 0, i - 2 * n, ev.Completion(self.op(i), _ACK, t)

def _uniform(qp: RCTransport, wrs: list[Any]) -> tuple[list[int], list[int]] | None:
    """``(wr_ids, signaled indices)`` when ``wrs`` are identical one-SGE RDMA WRITEs (up to ``wr_id`` and the
    signaled flag), else ``None``. Checked with C-level ``map``/``set`` passes: this is the stream's hot path."""
    w0 = wrs[0]
    if w0.opcode != ibv_wr_opcode.IBV_WR_RDMA_WRITE or len(w0.sg_list) != 1:
        return None
    if len(wrs) == 1:
        return [w0.wr_id], [0] if qp.sq_sig_all or w0.send_flags & 2 else []
    f0 = w0.send_flags & ~2
    if not set(map(_WR_KEY, wrs)) <= {(w0.opcode, w0.remote_addr, w0.rkey, f0), (w0.opcode, w0.remote_addr,
                                                                               w0.rkey, f0 | 2)}:
        return None
    sgls = list(map(_SG_LIST, wrs))
    if set(map(len, sgls)) != {1}:
        return None
    s0 = w0.sg_list[0]
    if set(map(_SGE_KEY, map(_FIRST, sgls))) != {(s0.addr, s0.length, s0.lkey)}:
        return None
    k = len(wrs)
    signaled = list(range(k)) if qp.sq_sig_all else list(compress(range(k), map(and_, map(_FLAGS, wrs),
                                                                                  repeat(2))))
    return list(map(_WR_ID, wrs)), signaled


def try_batch(qp: RCTransport, wrs: list[Any]) -> bool:
    """Post ``wrs`` as one :class:`WriteBatch` if they are identical WRITEs on an unperturbed path."""
    fabric = qp.fabric
    if not fabric.batching or not wrs or qp.sq_inflight or qp.sq_unsent or qp.rnr_wait:
        return False
    if qp.qp_state != ibv_qp_state.IBV_QPS_RTS:
        return False
    ids = _uniform(qp, wrs)
    if ids is None:
        return False
    wr_ids, signaled = ids
    w0 = wrs[0]
    s0 = w0.sg_list[0]
    peer = qp._peer()
    if peer is None or peer.qp_state not in (ibv_qp_state.IBV_QPS_RTR, ibv_qp_state.IBV_QPS_RTS):
        return False
    if peer.epsn != qp.next_psn:
        return False
    sl, dl = qp.nic.link, peer.nic.link
    if (not qp.nic.usable or not peer.nic.usable or sl.gbps != dl.gbps or sl.loss_prob or sl.ack_loss_prob
            or sl.drop_psns or sl.drop_ack_psns):
        return False
    mr = fabric.mrs.get(w0.rkey)
    if (mr is None or mr.pd is not peer.pd or not mr.access & 2
            or w0.remote_addr < mr.buf or w0.remote_addr + s0.length > mr.buf + mr.length):
        return False
    from shift_core.fabric.transport import SendWQE
    probe = SendWQE()  # gather through the transport's own lkey checks
    probe.inline, probe.sges = None, [(s0.addr, s0.length, s0.lkey)]
    payload = qp._gather(probe)
    if payload is None:
        return False
    WriteBatch(qp, peer, wr_ids, signaled, w0, payload, mr)
    return True


def split_all(fabric: Any) -> None:
    """Split every active batch (oldest first) and hand its unacknowledged WRs to the RC machinery exactly as
    per-WR simulation would hold them: deliveries scheduled before ACKs (per-WR simulation scheduled them at
    transmission), every message through its path's FIFO, WRs prepended to the send queue in PSN order."""
    from shift_core.fabric.transport import _deliver_request, _deliver_response

    env = fabric.env
    now = env.now
    plans = [(bt, *bt.split()) for bt in list(fabric.batches)]
    for bt, wqes, executed, _, _ in plans:
        for w in wqes[len(executed):]:
            t = fabric.fifo(bt.qp.nic, bt.peer.nic, bt.arrival(bt.index(w)))
            env.schedule_at(t, _deliver_request, bt.qp, w, bt.payload, -1, 1)
    for bt, _, executed, _, _ in plans:
        for w in executed:
            t = fabric.fifo(bt.peer.nic, bt.qp.nic, bt.ack(bt.index(w)))
            env.schedule_at(t, _deliver_response, bt.qp, "ack", w, None)
    per_qp: dict[int, tuple[Any, list[Any], list[int]]] = {}  # qp -> (qp, WRs, last progress times)
    expect: dict[int, tuple[Any, int]] = {}  # responder -> (qp, the oldest PSN not yet arrived)
    for bt, wqes, _, epsn, last_progress in plans:
        if not wqes:
            continue
        entry = per_qp.setdefault(id(bt.qp), (bt.qp, [], []))
        entry[1].extend(wqes)
        entry[2].append(last_progress)
        if epsn is not None and (id(bt.peer) not in expect or epsn < expect[id(bt.peer)][1]):
            expect[id(bt.peer)] = (bt.peer, epsn)
    for peer, epsn in expect.values():
        peer.epsn = epsn
    for qp, wqes, progress in per_qp.values():
        qp.sq_inflight.extendleft(reversed(wqes))
        t = qp._timeout_ns()
        if t and qp.qp_state == ibv_qp_state.IBV_QPS_RTS:
            qp.retries_left = qp.attr.retry_cnt
            qp.deadline = max(*progress, qp.last_batch_ack) + t
            if not qp.timer_armed:
                qp.timer_armed = True
                env.schedule_at(max(now, qp.deadline), qp._timer_check)
    fabric.recorder.touched()


def try_extend(qp: RCTransport, wrs: list[Any]) -> bool:
    """Append WRITEs to the QP's running batch when they continue the stream exactly (same WR, same source
    bytes, the uplink still busy with this batch and nothing else posted in between): the closed form then still
    gives the per-WR times, so a stream of posts (one WR each, as ``ib_write_bw`` by default, or a list each)
    stays one batch, with its payload gathered and placed once."""
    bt = qp.tail_batch
    if bt is None or bt.cut != bt.n or qp.sq_inflight or qp.sq_unsent or qp.rnr_wait:
        return False
    fabric = qp.fabric
    if not fabric.batching or bt not in fabric.batches:
        return False
    n = bt.n
    peer = bt.peer
    if fabric._next_uid != bt.uid0 + n or qp.next_psn != bt.psn0 + n * bt.npkts or peer.epsn != qp.next_psn:
        return False
    w0 = wrs[0]
    if w0.opcode != ibv_wr_opcode.IBV_WR_RDMA_WRITE or len(w0.sg_list) != 1:
        return False
    s = w0.sg_list[0]
    if (s.addr, s.length, s.lkey, w0.remote_addr, w0.rkey, w0.send_flags & ~2) != bt.key:
        return False
    sl, dl = qp.nic.link, peer.nic.link
    ser = bt.ser
    now = fabric.env.now
    if sl.up_busy != bt.start + n * ser or dl.down_busy != bt.base + n * ser or now * 1000 >= sl.up_busy:
        return False
    snic, pnic = qp.nic, peer.nic
    if (not sl.up or snic.fatal or not dl.up or pnic.fatal
            or peer.qp_state not in (ibv_qp_state.IBV_QPS_RTR, ibv_qp_state.IBV_QPS_RTS)):
        return False
    mr = fabric.mrs.get(s.lkey)  # the source bytes must still be the batch's (lkey checked at batch start)
    if mr is None:
        return False
    off = s.addr - mr.buf
    mem = mr._mem
    same = (mem.startswith(bt.payload, off) if isinstance(mem, bytearray)  # a memcmp in place, no copy
            else bytes(mem[off:off + s.length]) == bt.payload)
    if not same:
        return False
    ids = _uniform(qp, wrs)
    if ids is None:
        return False
    wr_ids, signaled = ids
    k = len(wr_ids)
    bt.n = bt.cut = bt.n_exec = n + k
    qp.batch_wrs += k
    bt.wr_ids += wr_ids
    fabric._next_uid += k
    qp.next_psn += k * bt.npkts
    peer.epsn = qp.next_psn
    sl.up_busy += k * ser
    dl.down_busy += k * ser
    rec = fabric.recorder
    pos = len(rec._events)
    if bt.seg_time[-1] != now or bt.seg_pos[-1] != pos:
        bt.seg_start.append(n)
        bt.seg_time.append(now)
        bt.seg_pos.append(pos)
    if signaled:
        env = fabric.env
        for i in signaled:
            bt.signaled.append(n + i)
            env.schedule_at(bt.ack(n + i), bt._complete, n + i)
    rec._cache = None
    return True
