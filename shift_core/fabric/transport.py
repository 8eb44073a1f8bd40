"""The RC transport: requester and responder state machines of one QP (IBA vol. 1 ch. 9; rxe's
``rxe_req.c``/``rxe_comp.c``/``rxe_resp.c``).

Requester: every WR gets a PSN range at post time; messages go out in order; ACKs are cumulative; a
sequence-error NAK or an expired local ACK timer (4.096 us x 2^timeout after the last progress) rewinds
to the oldest unacknowledged WR and resends everything from there (go-back-N), ``retry_cnt`` times; the
next expiry completes the head WR with ``IBV_WC_RETRY_EXC_ERR`` and moves the QP to ERR, which flushes
every other outstanding WR with ``IBV_WC_WR_FLUSH_ERR``. An RNR NAK waits the responder's RNR timer and
resends, ``rnr_retry`` times (7 = forever), then ``IBV_WC_RNR_RETRY_EXC_ERR``.

Responder: requests execute in PSN order, once per in-sequence arrival. Duplicates (PSN below the
expected PSN) follow the IB spec as rxe implements it (``duplicate_request`` in ``rxe_resp.c``):

* SEND / WRITE_WITH_IMM: ACKed again, never delivered again, so a duplicate never consumes a second receive
  WQE (C9-105).
* RDMA WRITE: ``dup_write="reexecute"`` (default; the data is placed again, one execution per arrival) or
  ``"ack_only"`` (rxe: ACK again, data not placed). Which one a given hardware NIC does is not visible to
  software; the theorem-relevant fact (a re-posted WRITE on *another* QP executes again) holds either way.
* RDMA READ: re-executed against current memory (rxe re-reads; the responder resource only bounds it).
* Atomics: answered from the responder's atomic cache (the old value of the first execution), never
  re-executed (the IB responder resources; rxe ``resp_res``).

Out-of-sequence requests are dropped with one sequence-error NAK per gap.

Trace mapping (the model's vocabulary, :mod:`shift_core.model.events`): each WR is one model op with a
fabric-wide ``uid``. ``Send`` at post and at every retransmission; ``PacketLost`` when a request is dropped
(network, dead port, out-of-sequence discard, RNR discard, or flushed before it left); ``Receive`` +
``Execute`` when the responder executes it; ``AckLost`` when the ACK/response had not come back when the
requester retransmitted or gave up (a later cumulative ACK covering it makes the loss harmless, as on the
wire); ``Completion`` when the requester retires the WR successfully (signaled or not);
``Timeout(status=...)`` when it retires with an error. Copies of one WR are traced one at a time in sending
order: a retransmission's ``Send`` is recorded (stamped with its send time) once the previous copy's fate is
known, so every execution of every copy appears; only a copy that lands after its WR already completed or
timed out cannot be placed and is counted in ``fabric.untraced_executions``.

Op values: a WRITE/SEND carries the first 8 bytes of its payload (little-endian) as ``val`` at the remote
address / receive buffer; READ returns the 8-byte word at its remote address; FADD/CAS are exact (64-bit
wrap-around). The model is word-granular, so judge runs whose messages do not partially overlap each other's
first words.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import WC, QPAttr
from shift_core.backend.enums import (
    ibv_access_flags,
    ibv_event_type,
    ibv_qp_state,
    ibv_wc_flags,
    ibv_wc_opcode,
    ibv_wc_status,
    ibv_wr_opcode,
    local_ack_timeout_ns,
    mtu_bytes,
)
from shift_core.fabric.topology import ACK_BYTES, ROCE_HEADER_BYTES
from shift_core.model import events as ev
from shift_core.model.operations import (
    CASResult,
    FADDVal,
    Op,
    OpResult,
    ReadVal,
    SendResult,
    WriteAck,
)

if TYPE_CHECKING:
    from shift_core.fabric.topology import Fabric, Nic

WR = ibv_wr_opcode
S = ibv_wc_status
MASK64 = (1 << 64) - 1

#: IBA table 45: RNR NAK timer field -> microseconds (index 0 means 655.36 ms)
RNR_TIMER_US: tuple[float, ...] = (
    655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920, 2560, 3840, 5120,
    7680, 10240, 15360, 20480, 30720, 40960, 61440, 81920, 122880, 163840, 245760, 327680, 491520,
)

_WC_OPCODE = {
    WR.IBV_WR_RDMA_WRITE: ibv_wc_opcode.IBV_WC_RDMA_WRITE,
    WR.IBV_WR_RDMA_WRITE_WITH_IMM: ibv_wc_opcode.IBV_WC_RDMA_WRITE,
    WR.IBV_WR_SEND: ibv_wc_opcode.IBV_WC_SEND,
    WR.IBV_WR_SEND_WITH_IMM: ibv_wc_opcode.IBV_WC_SEND,
    WR.IBV_WR_RDMA_READ: ibv_wc_opcode.IBV_WC_RDMA_READ,
    WR.IBV_WR_ATOMIC_CMP_AND_SWP: ibv_wc_opcode.IBV_WC_COMP_SWAP,
    WR.IBV_WR_ATOMIC_FETCH_AND_ADD: ibv_wc_opcode.IBV_WC_FETCH_ADD,
}
_ATOMICS = (WR.IBV_WR_ATOMIC_CMP_AND_SWP, WR.IBV_WR_ATOMIC_FETCH_AND_ADD)
_SENDS = (WR.IBV_WR_SEND, WR.IBV_WR_SEND_WITH_IMM)
_NEEDS_RECV = (WR.IBV_WR_SEND, WR.IBV_WR_SEND_WITH_IMM, WR.IBV_WR_RDMA_WRITE_WITH_IMM)


def word(data: bytes) -> int:
    """The model value of a payload: its first 8 bytes, little-endian (zero-padded)."""
    return int.from_bytes(data[:8], "little")


class SendWQE:
    """One posted send WR as the requester tracks it (its PSNs, attempts and trace phase)."""

    __slots__ = ("acked", "attempt", "compare_add", "imm", "inline", "length", "lost_at", "npkts", "op", "opcode",
                 "open", "pending", "phase", "psn", "remote_addr", "resolved", "resp", "rkey", "sges", "signaled",
                 "swap", "wr_id")

    wr_id: int
    opcode: ibv_wr_opcode
    sges: list[tuple[int, int, int]]
    signaled: bool
    imm: int
    remote_addr: int
    rkey: int
    compare_add: int
    swap: int
    inline: bytes | None
    length: int
    npkts: int
    psn: int
    op: Op

    def __init__(self) -> None:
        self.attempt = 0  # copies transmitted so far
        self.open = 0  # the copy whose fate the trace is waiting for (0: none sent yet)
        self.resolved = False  # ... and whether that fate is known
        self.pending: deque[list[Any]] | None = None  # later copies: [attempt, sent at, fate, result]
        self.phase = "sent"  # trace phase of the current attempt: sent, lost, executed, ack_lost, done
        self.lost_at = 0  # when the ACK/response of the executed attempt was dropped (0 = not dropped)
        self.resp: Any = None
        self.acked = False


class RecvWQE:
    """One posted receive WR."""

    __slots__ = ("sges", "wr_id")

    def __init__(self, wr_id: int, sges: list[tuple[int, int, int]]) -> None:
        self.wr_id = wr_id
        self.sges = sges


class RCTransport:
    """The transport half of a sim QP. :class:`shift_core.fabric.verbs.QP` adds the verbs API."""

    fabric: Fabric
    nic: Nic
    pd: Any
    attr: QPAttr
    qp_num: int
    qp_state: ibv_qp_state
    scq: Any
    rcq: Any
    sq_sig_all: int

    def _init_transport(self) -> None:
        self.sq_unsent: deque[SendWQE] = deque()
        self.sq_inflight: deque[SendWQE] = deque()
        self.rq: deque[RecvWQE] = deque()
        self.next_psn = 0
        self.epsn = 0
        self.nak_sent = False
        self.retries_left = 0
        self.rnr_left = 0
        self.deadline = 0  # local ACK timer: fires at this time unless progress moves it
        self.timer_armed = False
        self.rnr_wait = False
        self.atomic_cache: dict[int, int] = {}  # psn -> old value (the responder's atomic resources)
        self.resp_qp_cache: Any = None
        self.retry_guard: tuple[SendWQE, int] | None = None
        self.last_batch_ack = 0  # when the last fully acknowledged WR batch got its last ACK
        self.tail_batch: Any = None  # the newest WR batch of this QP (see batch.try_extend)
        self.batches: dict[Any, None] = {}  # this QP's active WR batches, oldest first
        self.batch_wrs = 0  # WRs in them not yet handed to the per-WR path (an upper bound of their outstanding)
        self.batch_acked = 0  # of those, known acknowledged (a lower bound; reset when a batch is retired)

    # -------------------------------------------------------------- helpers
    def _emit(self, e: ev.Event) -> None:
        self.fabric.recorder.emit(e)

    def _timeout_ns(self) -> int:
        return local_ack_timeout_ns(self.attr.timeout)

    def _mtu(self) -> int:
        return mtu_bytes(self.attr.path_mtu)

    def _peer(self) -> Any:
        """The connected responder QP (resolved from the AV's GID and the destination QPN)."""
        peer = self.resp_qp_cache
        if peer is None:
            nic = self.fabric.by_gid.get(self.attr.ah_attr.gr.dgid)
            if nic is not None:
                peer = nic.qps.get(self.attr.dest_qp_num)
                self.resp_qp_cache = peer
        return peer

    # -------------------------------------------------------------- requester
    def _pump(self) -> None:
        """Transmit queued WRs (in order) while the QP is in RTS and not waiting out an RNR timer."""
        while self.sq_unsent and self.qp_state == ibv_qp_state.IBV_QPS_RTS and not self.rnr_wait:
            wqe = self.sq_unsent.popleft()
            self.sq_inflight.append(wqe)
            self._transmit(wqe)

    def _gather(self, wqe: SendWQE) -> bytes | None:
        """DMA-read the WR's payload now (at each (re)transmission, as a NIC does); ``None`` on a bad lkey."""
        if wqe.inline is not None:
            return wqe.inline
        parts = []
        mrs = self.fabric.mrs
        for addr, length, lkey in wqe.sges:
            mr = mrs.get(lkey)
            if mr is None or mr.pd is not self.pd or addr < mr.buf or addr + length > mr.buf + mr.length:
                return None
            off = addr - mr.buf
            parts.append(bytes(memoryview(mr._mem)[off:off + length]))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _transmit(self, wqe: SendWQE) -> None:
        """Put one message on the wire (a first transmission or a retransmission of the same op)."""
        now = self.fabric.env.now
        wqe.attempt += 1
        if wqe.attempt == 1:
            wqe.open, wqe.resolved = 1, False  # its Send was traced at post
        else:
            # A retransmission is another Send of the same op. The trace follows one copy at a time: this
            # copy's Send is traced once the previous copy's fate is (see _promote).
            if wqe.pending is None:
                wqe.pending = deque()
            wqe.pending.append([wqe.attempt, now, None, None])
            self._promote(wqe)
            if wqe.opcode not in _SENDS:
                wqe.resp = None
        op = wqe.opcode
        if op == WR.IBV_WR_RDMA_READ or op in _ATOMICS:
            payload = b""
            if not self._local_sges_ok(wqe):
                self._complete_error(wqe, S.IBV_WC_LOC_PROT_ERR)
                return
        else:
            got = self._gather(wqe)
            if got is None:
                self._complete_error(wqe, S.IBV_WC_LOC_PROT_ERR)
                return
            payload = got
        fabric = self.fabric
        fabric.msg_count += 1
        drop = -1 if fabric.taps is None else fabric.taps.on_message(fabric.msg_count, self, wqe)
        peer_nic = fabric.by_gid.get(self.attr.ah_attr.gr.dgid)
        npkts = wqe.npkts
        nbytes = (wqe.length if op != WR.IBV_WR_RDMA_READ else 0) + npkts * ROCE_HEADER_BYTES
        self._arm_timer(force=len(self.sq_inflight) == 1)
        arrival = None if peer_nic is None else fabric.transit(self.nic, peer_nic, nbytes)
        if arrival is None:
            self._lost(wqe, wqe.attempt)
            return
        link = self.nic.link
        lost_idx = -1
        if link.loss_prob or link.drop_psns:
            lost_idx = self._first_lost(link.loss_prob, link.drop_psns, wqe.psn, npkts)
        if 0 <= drop < npkts and (lost_idx < 0 or drop < lost_idx):
            fabric.note_fault(f"drop_message:{fabric.msg_count}:{self.nic.name}:qp{self.qp_num}:psn{wqe.psn + drop}")
            lost_idx = drop
        if lost_idx == 0:
            self._lost(wqe, wqe.attempt)
            return
        fabric.env.schedule_at(arrival, _deliver_request, self, wqe, payload, lost_idx, wqe.attempt)

    def _first_lost(self, prob: float, drops: dict[tuple[int, int], int], psn: int, npkts: int) -> int:
        """Index of the first dropped packet of a message, or -1 (one uniform draw per packet with loss)."""
        rng = self.fabric.rng
        for i in range(npkts):
            if drops:
                for key in ((self.qp_num, psn + i), (-1, psn + i)):
                    left = drops.get(key)
                    if left:
                        drops[key] = left - 1
                        self.fabric.note_fault(f"packet_loss:{self.nic.name}:qp{self.qp_num}:psn{psn + i}")
                        return i
            if prob and rng.random() < prob:
                return i
        return -1

    def _lost(self, wqe: SendWQE, attempt: int) -> None:
        """The copy sent as ``attempt`` never reached (or was discarded by) the responder."""
        self._fate(wqe, attempt, "lost")

    def _fate(self, wqe: SendWQE, attempt: int, fate: str, res: OpResult | None = None) -> None:
        """Trace what became of copy ``attempt`` of ``wqe``: ``lost``, ``exec`` (executed with ``res``) or
        ``absorbed`` (a duplicate answered from responder state, nothing executed). Copies are traced in the
        order they were sent, each after the previous one's fate, so every physical execution is in the trace
        at a place the per-op automaton accepts."""
        if attempt == wqe.open and not wqe.resolved and wqe.phase != "done":
            self._apply_fate(wqe, fate, res)
            self._promote(wqe)
            return
        if wqe.pending:
            for entry in wqe.pending:
                if entry[0] == attempt:
                    if entry[2] is None:
                        entry[2], entry[3] = fate, res
                    return
        if fate == "exec":  # a copy nobody waits for any more (the WR already finished)
            self.fabric.untraced_executions += 1

    def _apply_fate(self, wqe: SendWQE, fate: str, res: OpResult | None) -> None:
        now = self.fabric.env.now
        wqe.resolved = True
        if fate == "lost":
            wqe.phase = "lost"
            self._emit(ev.PacketLost(wqe.op, now))
        elif fate == "exec":
            wqe.phase = "executed"
            self._emit(ev.Receive(wqe.op, now))
            self._emit(ev.Execute(wqe.op, res, now))  # type: ignore[arg-type]
        # "absorbed": the phase stays "sent"; a later Completion carries the first execution's result

    def _promote(self, wqe: SendWQE) -> None:
        """Open the next copy's trace once the current copy's fate is known."""
        while wqe.pending and wqe.resolved and wqe.phase != "done":
            attempt, sent_at, fate, res = wqe.pending.popleft()
            now = self.fabric.env.now
            if wqe.phase == "executed":  # its ACK had not come back when this copy was sent
                self._emit(ev.AckLost(wqe.op, wqe.lost_at or now))
            elif wqe.phase == "sent":  # absorbed duplicate, followed by another copy
                self._emit(ev.PacketLost(wqe.op, now))
            self._emit(ev.Send(wqe.op, sent_at))
            wqe.phase, wqe.lost_at, wqe.open, wqe.resolved = "sent", 0, attempt, False
            if fate is not None:
                self._apply_fate(wqe, fate, res)

    def _local_sges_ok(self, wqe: SendWQE) -> bool:
        for addr, length, lkey in wqe.sges:
            mr = self.fabric.mrs.get(lkey)
            if (mr is None or mr.pd is not self.pd or addr < mr.buf
                    or addr + length > mr.buf + mr.length
                    or not mr.access & ibv_access_flags.IBV_ACCESS_LOCAL_WRITE):
                return False
        return True

    def _arm_timer(self, force: bool = True) -> None:
        """(Re)start the local ACK timer. It runs from the first unacknowledged transmission and restarts on
        progress (an ACK retiring WRs) and on a retransmission, as in rxe (``retrans_timer``); later
        transmissions of a busy queue do not push it out."""
        t = self._timeout_ns()
        if not t:
            return
        if force or not self.timer_armed:
            self.deadline = self.fabric.env.now + t
        if not self.timer_armed:
            self.timer_armed = True
            self.fabric.env.schedule(t, self._timer_check)

    def _timer_check(self) -> None:
        self.timer_armed = False
        if self.qp_state != ibv_qp_state.IBV_QPS_RTS or not self.sq_inflight or self.rnr_wait:
            return
        now = self.fabric.env.now
        if now < self.deadline:
            self.timer_armed = True
            self.fabric.env.schedule(self.deadline - now, self._timer_check)
            return
        if self.retries_left <= 0:
            self._complete_error(self.sq_inflight[0], S.IBV_WC_RETRY_EXC_ERR)
            return
        self.retries_left -= 1
        self._rewind_to(self.sq_inflight[0])

    def _rewind_to(self, wqe: SendWQE, resend: bool = True) -> None:
        """Go-back-N: everything from ``wqe`` on goes back to the send queue, to be sent again."""
        infl = self.sq_inflight
        back: list[SendWQE] = []
        while infl and infl[-1] is not wqe:
            back.append(infl.pop())
        if infl:
            back.append(infl.pop())
        self.sq_unsent.extendleft(back)
        self._arm_timer()
        if resend:
            self._pump()

    def _on_response(self, kind: str, wqe: SendWQE, data: Any) -> None:
        """An ACK, NAK or read/atomic response for ``wqe`` arrives at the requester."""
        if self.qp_state not in (ibv_qp_state.IBV_QPS_RTS, ibv_qp_state.IBV_QPS_SQD):
            return
        if kind == "ack":
            self._cumulative_ack(wqe, data=data)
        elif kind == "nak_seq":  # ``data`` is the PSN the responder expects
            wqe = next((w for w in self.sq_inflight if w.psn <= data < w.psn + w.npkts), wqe)
            if wqe in self.sq_inflight:
                self._cumulative_ack(wqe, inclusive=False)
                if self._retrying(wqe):
                    return  # a NAK for the round already being resent
                self.retries_left -= 1
                if self.retries_left < 0:
                    self._complete_error(self.sq_inflight[0], S.IBV_WC_RETRY_EXC_ERR)
                    return
                self._rewind_to(wqe)
                self.retry_guard = (wqe, wqe.attempt)
        elif kind == "rnr":
            if wqe not in self.sq_inflight:
                return
            self._cumulative_ack(wqe, inclusive=False)
            if self.attr.rnr_retry != 7:
                if self.rnr_left <= 0:
                    self._complete_error(wqe, S.IBV_WC_RNR_RETRY_EXC_ERR)
                    return
                self.rnr_left -= 1
            self.rnr_wait = True
            self._rewind_to(wqe, resend=False)
            self.fabric.env.schedule(int(RNR_TIMER_US[data] * 1000), self._rnr_expired)
        elif kind in ("nak_access", "nak_inv"):
            self._cumulative_ack(wqe, inclusive=False)
            if self.sq_inflight and self.sq_inflight[0] is wqe:
                self._complete_error(wqe, S.IBV_WC_REM_ACCESS_ERR if kind == "nak_access"
                                     else S.IBV_WC_REM_INV_REQ_ERR)

    def _rnr_expired(self) -> None:
        self.rnr_wait = False
        if self.qp_state == ibv_qp_state.IBV_QPS_RTS:
            self._arm_timer()
            self._pump()

    def _cumulative_ack(self, wqe: SendWQE, inclusive: bool = True, data: Any = None) -> None:
        """An ACK (or NAK) for ``wqe`` acknowledges every earlier WR too, except a READ or atomic whose
        response is missing: that is an implied NAK, the requester resends from it, and this response's data
        is discarded (responses are consumed in PSN order, as rxe's completer does)."""
        infl = self.sq_inflight
        if wqe.phase == "done" or wqe.acked or wqe not in infl:
            return
        for w in infl:
            if w is wqe:
                if inclusive:
                    if data is not None:
                        w.resp = data
                    w.acked = True
                break
            if w.resp is None and (w.opcode == WR.IBV_WR_RDMA_READ or w.opcode in _ATOMICS):
                self._retire()
                if not self._retrying(w):
                    self._rewind_to(w)
                    self.retry_guard = (w, w.attempt)
                return
            w.acked = True
        self._retire()

    def _retrying(self, wqe: SendWQE) -> bool:
        """True while the retransmission started at ``wqe`` is still on its way: ACKs and NAKs of the copies
        sent before it must not start another go-back-N round (rxe's ``started_retry``)."""
        return self.retry_guard is not None and self.retry_guard[0] is wqe and self.retry_guard[1] == wqe.attempt

    def _retire(self) -> None:
        """Retire acknowledged WRs in order (RC completions are in order)."""
        infl = self.sq_inflight
        progressed = False
        now = self.fabric.env.now
        while infl and infl[0].acked:
            wqe = infl.popleft()
            progressed = True
            self._complete_ok(wqe, now)
        if progressed:
            self.retries_left = self.attr.retry_cnt
            self.rnr_left = self.attr.rnr_retry
            if infl:
                self._arm_timer()

    def _complete_ok(self, wqe: SendWQE, now: int) -> None:
        op = wqe.opcode
        res: OpResult
        if op == WR.IBV_WR_RDMA_READ:
            self._scatter(wqe.sges, wqe.resp)
            res = ReadVal(word(wqe.resp))
        elif op == WR.IBV_WR_ATOMIC_FETCH_AND_ADD:
            self._scatter(wqe.sges, wqe.resp.to_bytes(8, "little"))
            res = FADDVal(wqe.resp)
        elif op == WR.IBV_WR_ATOMIC_CMP_AND_SWP:
            self._scatter(wqe.sges, wqe.resp.to_bytes(8, "little"))
            res = CASResult(wqe.resp == wqe.compare_add, wqe.resp)
        elif op in _SENDS:
            res = SendResult(wqe.resp)
        else:
            res = WriteAck()
        self._promote(wqe)
        wqe.pending = None
        wqe.phase = "done"
        self._emit(ev.Completion(wqe.op, res, now))
        if wqe.signaled or self.sq_sig_all:
            self.scq._push(WC(wqe.wr_id, S.IBV_WC_SUCCESS, _WC_OPCODE[op], self.qp_num,
                              byte_len=wqe.length if op == WR.IBV_WR_RDMA_READ else 0))

    def _scatter(self, sges: list[tuple[int, int, int]], data: bytes) -> None:
        pos = 0
        for addr, length, lkey in sges:
            mr = self.fabric.mrs[lkey]
            chunk = data[pos:pos + length]
            off = addr - mr.buf
            mr._mem[off:off + len(chunk)] = chunk
            pos += length

    def _complete_error(self, wqe: SendWQE, status: ibv_wc_status) -> None:
        """Complete ``wqe`` with an error and move the QP to ERR (which flushes the rest)."""
        now = self.fabric.env.now
        self._settle_for_timeout(wqe)
        wqe.phase = "done"
        self._emit(ev.Timeout(wqe.op, status.name.removeprefix("IBV_WC_"), now))
        if wqe in self.sq_inflight:
            self.sq_inflight.remove(wqe)
        elif wqe in self.sq_unsent:
            self.sq_unsent.remove(wqe)
        self.scq._push(WC(wqe.wr_id, status, _WC_OPCODE[wqe.opcode], self.qp_num))
        self._to_error()

    def _settle_for_timeout(self, wqe: SendWQE) -> None:
        """Before a Timeout, say why the last attempt failed: an ACK loss, or a request that never reached
        the responder (never sent, or in flight when the QP died)."""
        self._promote(wqe)
        wqe.pending = None  # copies still in flight: if one executes later it is counted as untraced
        if wqe.phase == "executed":
            self._emit(ev.AckLost(wqe.op, wqe.lost_at or self.fabric.env.now))
            wqe.phase = "ack_lost"
        elif wqe.phase == "sent":
            self._emit(ev.PacketLost(wqe.op, self.fabric.env.now))
            wqe.phase = "lost"

    def _to_error(self) -> None:
        """QP -> ERR: flush every outstanding send and receive WR (``IBV_WC_WR_FLUSH_ERR``)."""
        if self.qp_state == ibv_qp_state.IBV_QPS_ERR:
            return
        self.qp_state = ibv_qp_state.IBV_QPS_ERR
        self._flush()

    def _flush(self) -> None:
        now = self.fabric.env.now
        pending = list(self.sq_inflight) + list(self.sq_unsent)
        self.sq_inflight.clear()
        self.sq_unsent.clear()
        for wqe in pending:
            if wqe.phase == "done":
                continue
            self._settle_for_timeout(wqe)
            wqe.phase = "done"
            self._emit(ev.Timeout(wqe.op, "WR_FLUSH_ERR", now))
            self.scq._push(WC(wqe.wr_id, S.IBV_WC_WR_FLUSH_ERR, _WC_OPCODE[wqe.opcode], self.qp_num))
        while self.rq:
            r = self.rq.popleft()
            self.rcq._push(WC(r.wr_id, S.IBV_WC_WR_FLUSH_ERR, ibv_wc_opcode.IBV_WC_RECV, self.qp_num))

    # -------------------------------------------------------------- responder
    def _respond(self, kind: str, wqe: SendWQE, data: Any, requester: RCTransport, drop_ack: bool) -> None:
        """Send an ACK/NAK/response back to the requester (unless the fault schedule drops it)."""
        fabric = self.fabric
        fabric.resp_count += 1
        if fabric.taps is not None and fabric.taps.on_response(fabric.resp_count, self, requester, kind, wqe):
            fabric.note_fault(f"drop_response:{fabric.resp_count}:{requester.nic.name}:qp{requester.qp_num}")
            drop_ack = True
        arrival: int | None
        if kind == "ack" and isinstance(data, bytes):  # a READ response carries data: it queues like data
            arrival = fabric.transit(self.nic, requester.nic, ACK_BYTES + len(data))
        elif self.nic.usable and requester.nic.usable:
            arrival = fabric.fifo(self.nic, requester.nic, fabric.env.now + fabric.ack_delay(self.nic, requester.nic))
        else:
            arrival = None
        if arrival is None or drop_ack:
            if kind == "ack" and wqe.phase == "executed" and not wqe.lost_at:
                wqe.lost_at = fabric.env.now
            return
        fabric.env.schedule_at(arrival, _deliver_response, requester, kind, wqe, data)

    def _ack_dropped(self, requester: RCTransport, wqe: SendWQE) -> bool:
        link = requester.nic.link
        if link.drop_ack_psns:
            last = wqe.psn + wqe.npkts - 1
            for key in ((requester.qp_num, last), (-1, last)):
                left = link.drop_ack_psns.get(key)
                if left:
                    link.drop_ack_psns[key] = left - 1
                    self.fabric.note_fault(f"ack_loss:{requester.nic.name}:qp{requester.qp_num}:psn{last}")
                    return True
        return bool(link.ack_loss_prob) and self.fabric.rng.random() < link.ack_loss_prob

    def _on_request(self, req: RCTransport, wqe: SendWQE, payload: bytes, lost_idx: int, attempt: int) -> None:
        """A request message arrives (``lost_idx`` > 0: only its first packets made it)."""
        if (not self.nic.usable or not req.nic.usable
                or self.qp_state not in (ibv_qp_state.IBV_QPS_RTR, ibv_qp_state.IBV_QPS_RTS)):
            req._lost(wqe, attempt)  # a port on the path went down while the message was on its way
            return
        first = wqe.psn
        last = first + wqe.npkts - 1
        if last < self.epsn:
            self._duplicate(req, wqe, payload, attempt)
            return
        if first > self.epsn:
            req._lost(wqe, attempt)  # out of sequence: discarded; one NAK per gap
            if not self.nak_sent:
                self.nak_sent = True
                self._respond("nak_seq", wqe, self.epsn, req, False)
            return
        op = wqe.opcode
        if lost_idx > 0:
            # The first packets were accepted; a WRITE's first bytes are already in memory (partial
            # placement, undefined until completion), then the gap: a NAK and a retransmission.
            if op in (WR.IBV_WR_RDMA_WRITE, WR.IBV_WR_RDMA_WRITE_WITH_IMM):
                mr = self._check_rkey(wqe, ibv_access_flags.IBV_ACCESS_REMOTE_WRITE)
                if mr is not None:
                    part = payload[:lost_idx * req._mtu()]
                    off = wqe.remote_addr - mr.buf
                    mr._mem[off:off + len(part)] = part
            req._lost(wqe, attempt)
            if not self.nak_sent:
                self.nak_sent = True
                self._respond("nak_seq", wqe, self.epsn, req, False)
            return
        # in sequence: execute exactly once for this arrival
        if op in _NEEDS_RECV and not self.rq:
            req._lost(wqe, attempt)  # RNR: discarded for lack of a receive WQE
            self._respond("rnr", wqe, self.attr.min_rnr_timer, req, False)
            return
        res, data, err = self._execute(wqe, payload)
        if err:
            req._lost(wqe, attempt)
            self._respond(err, wqe, None, req, False)
            self._responder_error(err)
            return
        self.epsn = last + 1
        self.nak_sent = False
        req._note_execute(wqe, res, attempt)
        self._respond("ack", wqe, data, req, self._ack_dropped(req, wqe))

    def _note_execute(self, wqe: SendWQE, res: OpResult, attempt: int) -> None:
        """Trace an execution by copy ``attempt`` (see :meth:`_fate`)."""
        self._fate(wqe, attempt, "exec", res)

    def _responder_error(self, err: str) -> None:
        """Class C errors move the responder QP to ERR too (rxe ``do_class_ac_error``)."""
        self.nic.post_async(ibv_event_type.IBV_EVENT_QP_ACCESS_ERR if err == "nak_access"
                            else ibv_event_type.IBV_EVENT_QP_REQ_ERR, self.qp_num)
        self._to_error()

    def _check_rkey(self, wqe: SendWQE, need: int, size: int | None = None) -> Any:
        mr = self.fabric.mrs.get(wqe.rkey)
        length = wqe.length if size is None else size
        if (mr is None or mr.pd is not self.pd or not mr.access & need
                or wqe.remote_addr < mr.buf or wqe.remote_addr + length > mr.buf + mr.length):
            return None
        return mr

    def _execute(self, wqe: SendWQE, payload: bytes) -> tuple[OpResult, Any, str]:
        """Execute one in-sequence request: (model result, response data, NAK kind or '')."""
        op = wqe.opcode
        if op == WR.IBV_WR_RDMA_WRITE or op == WR.IBV_WR_RDMA_WRITE_WITH_IMM:
            mr = self._check_rkey(wqe, ibv_access_flags.IBV_ACCESS_REMOTE_WRITE)
            if mr is None:
                return WriteAck(), None, "nak_access"
            off = wqe.remote_addr - mr.buf
            mr._mem[off:off + len(payload)] = payload
            if op == WR.IBV_WR_RDMA_WRITE_WITH_IMM:
                r = self.rq.popleft()
                self.rcq._push(WC(r.wr_id, S.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RECV_RDMA_WITH_IMM, self.qp_num,
                                  byte_len=len(payload), imm_data=wqe.imm, wc_flags=int(ibv_wc_flags.IBV_WC_WITH_IMM),
                                  src_qp=self.attr.dest_qp_num))
            return WriteAck(), None, ""
        if op in _SENDS:
            r = self.rq[0]
            cap = sum(s[1] for s in r.sges)
            if len(payload) > cap:
                return SendResult(None), None, "nak_inv"
            self.rq.popleft()
            pos = 0
            for addr, length, lkey in r.sges:
                mr = self.fabric.mrs.get(lkey)
                if mr is None:
                    break
                chunk = payload[pos:pos + length]
                off = addr - mr.buf
                mr._mem[off:off + len(chunk)] = chunk
                pos += length
            imm = op == WR.IBV_WR_SEND_WITH_IMM
            self.rcq._push(WC(r.wr_id, S.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RECV, self.qp_num,
                              byte_len=len(payload), imm_data=wqe.imm if imm else 0,
                              wc_flags=int(ibv_wc_flags.IBV_WC_WITH_IMM) if imm else 0,
                              src_qp=self.attr.dest_qp_num))
            buf = r.sges[0][0] if r.sges else 0
            wqe.resp = buf
            return SendResult(buf), None, ""
        if op == WR.IBV_WR_RDMA_READ:
            mr = self._check_rkey(wqe, ibv_access_flags.IBV_ACCESS_REMOTE_READ)
            if mr is None:
                return ReadVal(0), None, "nak_access"
            off = wqe.remote_addr - mr.buf
            data = bytes(mr._mem[off:off + wqe.length])
            return ReadVal(word(data)), data, ""
        # atomics: 8 bytes, 8-byte aligned
        mr = self._check_rkey(wqe, ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC, 8)
        if mr is None or wqe.remote_addr % 8:
            return FADDVal(0), None, "nak_access"
        off = wqe.remote_addr - mr.buf
        old = int.from_bytes(mr._mem[off:off + 8], "little")
        if op == WR.IBV_WR_ATOMIC_FETCH_AND_ADD:
            new = (old + wqe.compare_add) & MASK64
            res: OpResult = FADDVal(old)
        else:
            new = wqe.swap & MASK64 if old == wqe.compare_add else old
            res = CASResult(old == wqe.compare_add, old)
        mr._mem[off:off + 8] = new.to_bytes(8, "little")
        self.atomic_cache[wqe.psn] = old
        if len(self.atomic_cache) > 64:
            self.atomic_cache.pop(next(iter(self.atomic_cache)))
        return res, old, ""

    def _duplicate(self, req: RCTransport, wqe: SendWQE, payload: bytes, attempt: int) -> None:
        """A request whose PSN was already executed (its ACK was lost or it was retransmitted early)."""
        op = wqe.opcode
        data: Any = None
        if op == WR.IBV_WR_RDMA_WRITE and self.fabric.dup_write == "reexecute":
            res, _, err = self._execute(wqe, payload)
            if err:
                return
            req._note_execute(wqe, res, attempt)
        elif op == WR.IBV_WR_RDMA_READ:
            res, data, err = self._execute(wqe, payload)
            if err:
                return
            req._note_execute(wqe, res, attempt)
        elif op in _ATOMICS:
            if wqe.psn not in self.atomic_cache:
                req._lost(wqe, attempt)  # resource gone: class D, silently dropped
                return
            data = self.atomic_cache[wqe.psn]
            self._dedup_note(req, wqe, attempt)
        else:
            self._dedup_note(req, wqe, attempt)  # SEND / WRITE_WITH_IMM / WRITE under ack_only: ACK again only
        self._respond("ack", wqe, data, req, self._ack_dropped(req, wqe))

    def _dedup_note(self, req: RCTransport, wqe: SendWQE, attempt: int) -> None:
        """A duplicate answered from responder state (PSN dedup, atomic cache): nothing executes, so the trace
        records no execution; the requester's ``Completion`` then carries the first execution's result (the
        model's automaton admits that, ``DEDUP_FROM``)."""
        self.fabric.dedups.append(wqe.op)
        req._fate(wqe, attempt, "absorbed")


def _deliver_request(qp: RCTransport, wqe: SendWQE, payload: bytes, lost_idx: int, attempt: int) -> None:
    peer = qp._peer()
    if peer is None:
        qp._lost(wqe, attempt)
        return
    peer._on_request(qp, wqe, payload, lost_idx, attempt)


def _deliver_response(qp: RCTransport, kind: str, wqe: SendWQE, data: Any) -> None:
    peer = qp._peer()
    if not qp.nic.usable or (peer is not None and not peer.nic.usable):
        if kind == "ack" and wqe.phase == "executed" and not wqe.lost_at:
            wqe.lost_at = qp.fabric.env.now
        return
    qp._on_response(kind, wqe, data)


__all__ = ["RNR_TIMER_US", "RCTransport", "RecvWQE", "SendWQE", "word"]
