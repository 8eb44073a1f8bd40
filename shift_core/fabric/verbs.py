"""The sim backend's verbs objects, shaped like pyverbs' ``Context``, ``PD``, ``MR``, ``CQ``, ``CompChannel``
and ``QP`` (``pyverbs/device.pyx``, ``pd.pyx``, ``mr.pyx``, ``cq.pyx``, ``qp.pyx``).

Creators come first (``PD(ctx)``, ``MR(pd, length, access)``, ``QP(pd, init_attr, qp_attr)``), failed calls
raise :class:`~shift_core.errors.ShiftRDMAError` with an errno and a "Failed to <verb>" message, and a work
completion with an error status is data returned by ``CQ.poll``. Nothing here blocks: time moves only when
the caller runs the event loop (``backend.advance(ns)``), so "wait for a completion" is a poll loop around
``advance``, exactly as a busy-polling RDMA application is.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import Any, ClassVar

from shift_core.backend.attrs import WC, AsyncEvent, PortAttr, QPAttr, QPCap, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import (
    ibv_access_flags,
    ibv_event_type,
    ibv_qp_attr_mask,
    ibv_qp_state,
    ibv_qp_type,
    ibv_send_flags,
    ibv_wr_opcode,
    mtu_bytes,
)
from shift_core.errors import ShiftRDMAError
from shift_core.fabric.batch import try_batch, try_extend
from shift_core.fabric.topology import Fabric, Nic
from shift_core.fabric.transport import RCTransport, RecvWQE, SendWQE, word
from shift_core.model import events as ev
from shift_core.model.operations import CAS, FADD, Op, Read, Write
from shift_core.model.operations import Send as SendOp

M = ibv_qp_attr_mask
QPS = ibv_qp_state
WR = ibv_wr_opcode


class _Resource:
    """Context-manager support shared by every verbs object (pyverbs ``PyverbsCM``)."""

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Context(_Resource):
    """pyverbs ``Context``: an opened sim device (``h0.nic0``). Bound to a fabric by the backend."""

    _fabric: ClassVar[Fabric | None] = None

    def __init__(self, name: str = "", **_kw: Any) -> None:
        if self._fabric is None:
            raise ShiftRDMAError("Failed to open device: this Context class is not bound to a fabric "
                                 "(use make_fabric(...).Context)", errno.ENODEV)
        self.fabric = self._fabric
        self.nic: Nic = self.fabric.nic(name)
        self.name = name
        self._async_events: deque[AsyncEvent] = deque()
        self.nic.contexts.append(self)
        self._closed = False

    def query_port(self, port_num: int = 1) -> PortAttr:
        """``ibv_query_port``."""
        return PortAttr(self.nic.port_state)

    def query_gid(self, port_num: int = 1, index: int = 0) -> str:
        """``ibv_query_gid``: the sim GID, ``sim:<device>``."""
        return self.nic.gid

    def get_async_event(self) -> AsyncEvent | None:
        """``ibv_get_async_event``, non-blocking."""
        return self._async_events.popleft() if self._async_events else None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self in self.nic.contexts:
                self.nic.contexts.remove(self)


class PD(_Resource):
    """pyverbs ``PD``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.fabric = ctx.fabric

    def close(self) -> None:
        pass


class MR(_Resource):
    """pyverbs ``MR``: a registered buffer of real bytes at a fabric-wide unique address ``buf``."""

    def __init__(self, pd: PD, length: int, access: int = int(ibv_access_flags.IBV_ACCESS_LOCAL_WRITE),
                 address: int | None = None) -> None:
        if length <= 0:
            raise ShiftRDMAError("Failed to register a MR: length must be positive", errno.EINVAL)
        if (access & (ibv_access_flags.IBV_ACCESS_REMOTE_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC)
                and not access & ibv_access_flags.IBV_ACCESS_LOCAL_WRITE):
            raise ShiftRDMAError("Failed to register a MR: remote write/atomic needs IBV_ACCESS_LOCAL_WRITE",
                                 errno.EINVAL)
        self.pd = pd
        self.fabric = pd.fabric
        self.length = length
        self.access = int(access)
        self.lkey = self.rkey = self.fabric.alloc_key()
        self._mem: bytearray | memoryview
        if address is None:
            self.buf = self.fabric.alloc_addr(length)
            self._mem = bytearray(length)
        else:
            # pyverbs ``MR(pd, length, access, address=...)``: register memory the host already has. In the
            # sim a host's memory is what its MRs hold, so the range must lie inside an MR on the same host
            # (e.g. SHIFT registering an application buffer on the backup NIC): both MRs see the same bytes.
            host = pd.ctx.nic.host
            base = next((m for m in self.fabric.mrs.values() if m.pd.ctx.nic.host == host
                         and m.buf <= address and address + length <= m.buf + m.length), None)
            if base is None:
                raise ShiftRDMAError(f"Failed to register a MR at address {address:#x}: not inside memory of "
                                     f"host {host} (register the buffer with MR(pd, length) first)", errno.EFAULT)
            off = address - base.buf
            self.buf = address
            self._mem = memoryview(base._mem)[off:off + length]
        self.fabric.mrs[self.lkey] = self

    def write(self, data: bytes | str, length: int, offset: int = 0) -> None:
        """pyverbs ``MR.write``: a local CPU store (invisible to the NIC's trace)."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if offset < 0 or offset + length > self.length:
            raise ShiftRDMAError("Failed to write MR: out of bounds", errno.EINVAL)
        self._mem[offset:offset + length] = raw[:length].ljust(length, b"\0")

    def read(self, length: int, offset: int = 0) -> bytes:
        """pyverbs ``MR.read``."""
        if offset < 0 or offset + length > self.length:
            raise ShiftRDMAError("Failed to read MR: out of bounds", errno.EINVAL)
        return bytes(self._mem[offset:offset + length])

    def close(self) -> None:
        self.fabric.mrs.pop(self.lkey, None)


class CompChannel(_Resource):
    """pyverbs ``CompChannel``: CQs that fired since they were armed with ``req_notify``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._events: deque[CQ] = deque()

    def get_cq_event(self) -> CQ | None:
        """``ibv_get_cq_event``, non-blocking."""
        return self._events.popleft() if self._events else None

    def close(self) -> None:
        self._events.clear()


class CQ(_Resource):
    """pyverbs ``CQ``."""

    def __init__(self, ctx: Context, cqe: int, cq_context: Any = None, channel: CompChannel | None = None,
                 comp_vector: int = 0) -> None:
        if cqe <= 0:
            raise ShiftRDMAError("Failed to create a CQ: cqe must be positive", errno.EINVAL)
        self.ctx = ctx
        self.cqe = cqe
        self.cq_context = cq_context
        self.channel = channel
        self._wcs: deque[WC] = deque()
        self._armed = False
        self._solicited_only = False
        self.overrun = False
        self.events_acked = 0

    def _push(self, wc: WC) -> None:
        if len(self._wcs) >= self.cqe:
            if not self.overrun:  # a real CQ overrun is an async error, and completions are lost
                self.overrun = True
                self.ctx.nic.post_async(ibv_event_type.IBV_EVENT_CQ_ERR)
            return
        self._wcs.append(wc)
        if self._armed and self.channel is not None:
            self._armed = False
            self.channel._events.append(self)

    def poll(self, num_entries: int = 1) -> tuple[int, list[WC]]:
        """``ibv_poll_cq``: up to ``num_entries`` completions, oldest first."""
        q = self._wcs
        n = min(num_entries, len(q))
        return n, [q.popleft() for _ in range(n)]

    def req_notify(self, solicited_only: bool = False) -> None:
        """``ibv_req_notify_cq``: the next completion raises one event on the channel."""
        self._armed = True
        self._solicited_only = solicited_only

    def ack_events(self, num_events: int) -> None:
        """``ibv_ack_cq_events``."""
        self.events_acked += num_events

    def close(self) -> None:
        self._wcs.clear()


#: attribute mask bit -> QPAttr field
_MASK_FIELDS: tuple[tuple[int, str], ...] = (
    (M.IBV_QP_ACCESS_FLAGS, "qp_access_flags"), (M.IBV_QP_PKEY_INDEX, "pkey_index"),
    (M.IBV_QP_PORT, "port_num"), (M.IBV_QP_AV, "ah_attr"), (M.IBV_QP_PATH_MTU, "path_mtu"),
    (M.IBV_QP_TIMEOUT, "timeout"), (M.IBV_QP_RETRY_CNT, "retry_cnt"), (M.IBV_QP_RNR_RETRY, "rnr_retry"),
    (M.IBV_QP_RQ_PSN, "rq_psn"), (M.IBV_QP_MAX_QP_RD_ATOMIC, "max_rd_atomic"),
    (M.IBV_QP_MIN_RNR_TIMER, "min_rnr_timer"), (M.IBV_QP_SQ_PSN, "sq_psn"),
    (M.IBV_QP_MAX_DEST_RD_ATOMIC, "max_dest_rd_atomic"), (M.IBV_QP_DEST_QPN, "dest_qp_num"),
)

#: RC: the attributes each transition needs (pyverbs ``_get_comp_mask``; ``ibv_modify_qp(3)``)
REQUIRED_MASK: dict[tuple[QPS, QPS], int] = {
    (QPS.IBV_QPS_RESET, QPS.IBV_QPS_INIT): M.IBV_QP_STATE | M.IBV_QP_PKEY_INDEX | M.IBV_QP_PORT
    | M.IBV_QP_ACCESS_FLAGS,
    (QPS.IBV_QPS_INIT, QPS.IBV_QPS_INIT): M.IBV_QP_STATE,
    (QPS.IBV_QPS_INIT, QPS.IBV_QPS_RTR): M.IBV_QP_STATE | M.IBV_QP_AV | M.IBV_QP_PATH_MTU | M.IBV_QP_DEST_QPN
    | M.IBV_QP_RQ_PSN | M.IBV_QP_MAX_DEST_RD_ATOMIC | M.IBV_QP_MIN_RNR_TIMER,
    (QPS.IBV_QPS_RTR, QPS.IBV_QPS_RTS): M.IBV_QP_STATE | M.IBV_QP_TIMEOUT | M.IBV_QP_RETRY_CNT
    | M.IBV_QP_RNR_RETRY | M.IBV_QP_SQ_PSN | M.IBV_QP_MAX_QP_RD_ATOMIC,
    (QPS.IBV_QPS_RTS, QPS.IBV_QPS_RTS): M.IBV_QP_STATE,
}


class QP(RCTransport, _Resource):
    """pyverbs ``QP`` (RC only): ``modify``/``to_init``/``to_rtr``/``to_rts``, ``post_send``/``post_recv``.

    ``QP(pd, init_attr, qp_attr)`` moves the new QP to INIT, as pyverbs does when given a ``QPAttr``.
    """

    def __init__(self, pd: PD, init_attr: QPInitAttr, qp_attr: QPAttr | None = None) -> None:
        if init_attr.qp_type != ibv_qp_type.IBV_QPT_RC:
            raise ShiftRDMAError("Failed to create QP: the sim backend implements RC only", errno.EOPNOTSUPP)
        if init_attr.scq is None or init_attr.rcq is None:
            raise ShiftRDMAError("Failed to create QP: send and receive CQs are required", errno.EINVAL)
        self.pd = pd
        self.fabric = pd.fabric
        self.nic = pd.ctx.nic
        self.scq = init_attr.scq
        self.rcq = init_attr.rcq
        self.cap: QPCap = init_attr.cap
        self.sq_sig_all = init_attr.sq_sig_all
        self.init_attr = init_attr
        self.qp_num = self.fabric.alloc_qpn()
        self.qp_state = QPS.IBV_QPS_RESET
        self.attr = QPAttr()
        self._init_transport()
        self.nic.qps[self.qp_num] = self
        if qp_attr is not None:
            self.to_init(qp_attr)

    # -------------------------------------------------------------- state machine
    def modify(self, attr: QPAttr, attr_mask: int) -> None:
        """``ibv_modify_qp``."""
        cur = self.qp_state
        new = attr.qp_state if attr_mask & M.IBV_QP_STATE else cur
        if new not in (QPS.IBV_QPS_RESET, QPS.IBV_QPS_ERR):
            need = REQUIRED_MASK.get((cur, new))
            if need is None:
                raise ShiftRDMAError(f"Failed to modify QP state to {new.name.removeprefix('IBV_QPS_')} "
                                     f"from {cur.name.removeprefix('IBV_QPS_')}", errno.EINVAL)
            missing = need & ~attr_mask
            if missing:
                names = "|".join(m.name or "" for m in M if m & missing)
                raise ShiftRDMAError(f"Failed to modify QP state to {new.name.removeprefix('IBV_QPS_')}: "
                                     f"missing {names}", errno.EINVAL)
        for bit, name in _MASK_FIELDS:
            if attr_mask & bit:
                setattr(self.attr, name, getattr(attr, name))
        self.attr.qp_state = new
        if new == cur:
            return
        if new in (QPS.IBV_QPS_RESET, QPS.IBV_QPS_ERR):
            self.fabric.split_batches()
        if new == QPS.IBV_QPS_RESET:
            self.qp_state = new
            self._init_transport()
        elif new == QPS.IBV_QPS_ERR:
            self._to_error()
        else:
            self.qp_state = new
            if new == QPS.IBV_QPS_RTR:
                self.epsn = self.attr.rq_psn
                self.resp_qp_cache = None
            elif new == QPS.IBV_QPS_RTS:
                self.next_psn = self.attr.sq_psn
                self.retries_left = self.attr.retry_cnt
                self.rnr_left = self.attr.rnr_retry
                self._pump()

    def query(self, attr_mask: int = 0) -> tuple[QPAttr, QPInitAttr]:
        """``ibv_query_qp``: a copy of the current attributes."""
        a = QPAttr(**{f: getattr(self.attr, f) for f in QPAttr.__dataclass_fields__})
        a.qp_state = a.cur_qp_state = self.qp_state
        return a, self.init_attr

    def to_init(self, attr: QPAttr) -> None:
        """RESET -> INIT (pyverbs ``QP.to_init``)."""
        attr.qp_state = QPS.IBV_QPS_INIT
        self.modify(attr, REQUIRED_MASK[(QPS.IBV_QPS_RESET, QPS.IBV_QPS_INIT)])

    def to_rtr(self, attr: QPAttr) -> None:
        """-> RTR, through INIT if needed (pyverbs ``QP.to_rtr``)."""
        if self.qp_state == QPS.IBV_QPS_RESET:
            self.to_init(attr)
        attr.qp_state = QPS.IBV_QPS_RTR
        self.modify(attr, REQUIRED_MASK[(QPS.IBV_QPS_INIT, QPS.IBV_QPS_RTR)])

    def to_rts(self, attr: QPAttr) -> None:
        """-> RTS, through INIT and RTR if needed (pyverbs ``QP.to_rts``)."""
        if self.qp_state in (QPS.IBV_QPS_RESET, QPS.IBV_QPS_INIT):
            self.to_rtr(attr)
        attr.qp_state = QPS.IBV_QPS_RTS
        self.modify(attr, REQUIRED_MASK[(QPS.IBV_QPS_RTR, QPS.IBV_QPS_RTS)])

    # -------------------------------------------------------------- data path
    def post_send(self, wr: SendWR | list[SendWR], bad_wr: Any = None) -> None:
        """``ibv_post_send``: queue one WR or a list; each becomes one model op (``Send`` in the trace)."""
        wrs = wr if isinstance(wr, list) else [wr]
        if self.qp_state not in (QPS.IBV_QPS_RTS, QPS.IBV_QPS_SQD, QPS.IBV_QPS_ERR):
            raise ShiftRDMAError("Failed to post send: QP is not in RTS", errno.EINVAL)
        now = self.fabric.env.now
        room = self.cap.max_send_wr - len(wrs) - len(self.sq_unsent) - len(self.sq_inflight)
        if self.batch_wrs - self.batch_acked > room:
            # batched WRs hold a slot only until acknowledged: count them exactly only near a full queue, and
            # remember how many were acknowledged (ACKs only accumulate until a batch is retired)
            out = 0
            for bt in self.batches:
                out += bt.outstanding(now)
            self.batch_acked = self.batch_wrs - out
            if out > room:
                raise ShiftRDMAError("Failed to post send: send queue full", errno.ENOMEM)
        if self.qp_state == QPS.IBV_QPS_RTS and (try_extend(self, wrs) or try_batch(self, wrs)):
            return
        mtu = mtu_bytes(self.attr.path_mtu)
        fresh = []
        for w in wrs:
            wqe = self._make_wqe(w, mtu)
            self._emit(ev.Send(wqe.op, now))
            fresh.append(wqe)
        if self.qp_state == QPS.IBV_QPS_ERR:
            self.sq_unsent.extend(fresh)
            self._flush()
            return
        self.sq_unsent.extend(fresh)
        self._pump()

    def _make_wqe(self, w: SendWR, mtu: int) -> SendWQE:
        if len(w.sg_list) > self.cap.max_send_sge:
            raise ShiftRDMAError("Failed to post send: too many SGEs", errno.EINVAL)
        wqe = SendWQE()
        op = w.opcode
        wqe.wr_id, wqe.opcode, wqe.imm = w.wr_id, op, w.imm_data
        wqe.remote_addr, wqe.rkey, wqe.compare_add, wqe.swap = w.remote_addr, w.rkey, w.compare_add, w.swap
        wqe.sges = [(s.addr, s.length, s.lkey) for s in w.sg_list]
        wqe.signaled = bool(w.send_flags & ibv_send_flags.IBV_SEND_SIGNALED)
        length = sum(s.length for s in w.sg_list)
        wqe.length = length
        wqe.inline = None
        if w.send_flags & ibv_send_flags.IBV_SEND_INLINE and op not in (WR.IBV_WR_RDMA_READ,
                                                                        WR.IBV_WR_ATOMIC_CMP_AND_SWP,
                                                                        WR.IBV_WR_ATOMIC_FETCH_AND_ADD):
            if length > self.cap.max_inline_data:
                raise ShiftRDMAError("Failed to post send: inline data exceeds max_inline_data", errno.EINVAL)
            wqe.inline = self._gather(wqe) or b"\0" * length  # copied now: the buffer is free on return
        if op in (WR.IBV_WR_ATOMIC_CMP_AND_SWP, WR.IBV_WR_ATOMIC_FETCH_AND_ADD):
            if length != 8:
                raise ShiftRDMAError("Failed to post send: an atomic needs one 8-byte SGE", errno.EINVAL)
            npkts = 1
        else:
            npkts = max(1, -(-length // mtu))
        wqe.npkts = npkts
        wqe.psn = self.next_psn
        self.next_psn += npkts
        uid = self.fabric.alloc_uid()
        mop: Op
        if op in (WR.IBV_WR_RDMA_WRITE, WR.IBV_WR_RDMA_WRITE_WITH_IMM):
            mop = Write(w.remote_addr, self._first_word(wqe), uid)
        elif op in (WR.IBV_WR_SEND, WR.IBV_WR_SEND_WITH_IMM):
            mop = SendOp(self._first_word(wqe), uid)
        elif op == WR.IBV_WR_RDMA_READ:
            mop = Read(w.remote_addr, uid)
        elif op == WR.IBV_WR_ATOMIC_FETCH_AND_ADD:
            mop = FADD(w.remote_addr, w.compare_add, uid)
        elif op == WR.IBV_WR_ATOMIC_CMP_AND_SWP:
            mop = CAS(w.remote_addr, w.compare_add, w.swap, uid)
        else:
            raise ShiftRDMAError(f"Failed to post send: opcode {op!r} is not supported", errno.EOPNOTSUPP)
        wqe.op = mop
        return wqe

    def _first_word(self, wqe: SendWQE) -> int:
        """The model value of a WRITE/SEND: the first 8 payload bytes as they are at post time."""
        if wqe.inline is not None:
            return word(wqe.inline)
        out = b""
        for addr, length, lkey in wqe.sges:
            mr = self.fabric.mrs.get(lkey)
            if mr is None or addr < mr.buf or addr + length > mr.buf + mr.length:
                break
            off = addr - mr.buf
            out += bytes(mr._mem[off:off + min(length, 8 - len(out))])
            if len(out) >= 8:
                break
        return word(out)

    def post_recv(self, wr: RecvWR | list[RecvWR], bad_wr: Any = None) -> None:
        """``ibv_post_recv``: queue receive WQEs (``PostRecv(buf)`` in the trace, ``buf`` = first SGE)."""
        wrs = wr if isinstance(wr, list) else [wr]
        if self.qp_state == QPS.IBV_QPS_RESET:
            raise ShiftRDMAError("Failed to post recv: QP is in RESET", errno.EINVAL)
        if len(self.rq) + len(wrs) > self.cap.max_recv_wr:
            raise ShiftRDMAError("Failed to post recv: receive queue full", errno.ENOMEM)
        now = self.fabric.env.now
        for w in wrs:
            if len(w.sg_list) > self.cap.max_recv_sge:
                raise ShiftRDMAError("Failed to post recv: too many SGEs", errno.EINVAL)
            sges = [(s.addr, s.length, s.lkey) for s in w.sg_list]
            self.rq.append(RecvWQE(w.wr_id, sges))
            self._emit(ev.PostRecv(sges[0][0] if sges else 0, now))
        if self.qp_state == QPS.IBV_QPS_ERR:
            self._flush()

    def close(self) -> None:
        self.nic.qps.pop(self.qp_num, None)
