"""pyverbs ``QP`` (RC): ``ibv_create_qp``, ``ibv_modify_qp``, ``ibv_query_qp``, ``ibv_post_send/recv``.

Every post records a model ``Send``/``PostRecv`` event; the posted WR is kept until its completion (or flush)
so :meth:`VerbsQP._retire` can name the operation a completion belongs to. Unsignaled WRs retire silently when
a later signaled WR completes, as on hardware.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import GlobalRoute, QPAttr, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import (
    ibv_mtu,
    ibv_qp_attr_mask,
    ibv_qp_state,
    ibv_qp_type,
    ibv_wc_status,
    ibv_wr_opcode,
)
from shift_core.errors import ShiftUserError
from shift_core.model import events as ev
from shift_core.verbs.pyverbs_api import pyverbs, rdma_error
from shift_core.verbs.tracing import Posted, op_of

if TYPE_CHECKING:
    from shift_core.verbs.backend import VerbsBackend
    from shift_core.verbs.memory import VerbsPD

M = ibv_qp_attr_mask
INIT_MASK = M.IBV_QP_STATE | M.IBV_QP_PKEY_INDEX | M.IBV_QP_PORT | M.IBV_QP_ACCESS_FLAGS
RTR_MASK = (M.IBV_QP_STATE | M.IBV_QP_AV | M.IBV_QP_PATH_MTU | M.IBV_QP_DEST_QPN | M.IBV_QP_RQ_PSN
            | M.IBV_QP_MAX_DEST_RD_ATOMIC | M.IBV_QP_MIN_RNR_TIMER)
RTS_MASK = (M.IBV_QP_STATE | M.IBV_QP_TIMEOUT | M.IBV_QP_RETRY_CNT | M.IBV_QP_RNR_RETRY | M.IBV_QP_SQ_PSN
            | M.IBV_QP_MAX_QP_RD_ATOMIC)
_RDMA = (ibv_wr_opcode.IBV_WR_RDMA_WRITE, ibv_wr_opcode.IBV_WR_RDMA_WRITE_WITH_IMM, ibv_wr_opcode.IBV_WR_RDMA_READ)
_ATOMIC = (ibv_wr_opcode.IBV_WR_ATOMIC_CMP_AND_SWP, ibv_wr_opcode.IBV_WR_ATOMIC_FETCH_AND_ADD)
_QP_FIELDS = ("qp_state", "cur_qp_state", "path_mtu", "qp_access_flags", "pkey_index", "port_num", "dest_qp_num",
              "rq_psn", "sq_psn", "max_rd_atomic", "max_dest_rd_atomic", "min_rnr_timer", "timeout", "retry_cnt",
              "rnr_retry")


class VerbsQP:
    """An RC queue pair on ``pd``'s device."""

    def __init__(self, pd: VerbsPD, init_attr: QPInitAttr) -> None:
        pv = pyverbs()
        if init_attr.qp_type != ibv_qp_type.IBV_QPT_RC:
            raise ShiftUserError(f"only RC QPs are supported, got {ibv_qp_type(init_attr.qp_type).name}: "
                                 "use ibv_qp_type.IBV_QPT_RC")
        self.pd = pd
        self.backend: VerbsBackend = pd.backend
        self.device = pd.context.name
        self._ctx_id = id(pd.context)
        self.init_attr = init_attr
        c = init_attr.cap
        cap = pv.qp.QPCap(max_send_wr=c.max_send_wr, max_recv_wr=c.max_recv_wr, max_send_sge=c.max_send_sge,
                          max_recv_sge=c.max_recv_sge, max_inline_data=c.max_inline_data)
        scq = getattr(init_attr.scq, "_cq", None)
        rcq = getattr(init_attr.rcq, "_cq", None)
        attr = pv.qp.QPInitAttr(qp_type=int(init_attr.qp_type), scq=scq, rcq=rcq, cap=cap,
                                sq_sig_all=init_attr.sq_sig_all)
        try:
            self._qp: Any = pv.qp.QP(pd._pd, attr)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to create QP on {self.device}", exc) from None
        self.qp_num: int = int(self._qp.qp_num)
        self._sq: deque[Posted] = deque()
        self._rq: deque[int] = deque()
        self.backend._qps[(self._ctx_id, self.qp_num)] = self

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def qp_state(self) -> ibv_qp_state:
        attr, _ = self._qp.query(int(M.IBV_QP_STATE))
        return ibv_qp_state(attr.qp_state)

    def modify(self, attr: QPAttr, attr_mask: int) -> None:
        pv = pyverbs()
        a = pv.qp.QPAttr()
        for f in _QP_FIELDS:
            setattr(a, f, int(getattr(attr, f)))
        if attr_mask & M.IBV_QP_AV:
            a.ah_attr = self._ah(attr)
        try:
            self._qp.modify(a, int(attr_mask))
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to modify QP {self.qp_num} on {self.device} to "
                             f"{ibv_qp_state(attr.qp_state).name}", exc) from None

    def _ah(self, attr: QPAttr) -> Any:
        pv = pyverbs()
        gr: GlobalRoute = attr.ah_attr.gr
        if not gr.dgid:
            raise ShiftUserError("RoCE needs a global route: set QPAttr.ah_attr.gr.dgid to the peer's GID "
                                 "(Context.query_gid(port, backend.gid_index))")
        route = pv.addr.GlobalRoute(dgid=pv.addr.GID(gr.dgid), sgid_index=gr.sgid_index,
                                    hop_limit=max(gr.hop_limit, 1))
        return pv.addr.AHAttr(gr=route, is_global=1, port_num=attr.ah_attr.port_num, dlid=attr.ah_attr.dlid)

    def query(self, attr_mask: int = 0) -> tuple[QPAttr, QPInitAttr]:
        raw, _ = self._qp.query(int(attr_mask) or int(M.IBV_QP_STATE))
        out = QPAttr()
        for f in _QP_FIELDS:
            try:
                setattr(out, f, int(getattr(raw, f)))
            except (AttributeError, TypeError):
                continue
        out.qp_state = ibv_qp_state(out.qp_state)
        out.cur_qp_state = ibv_qp_state(out.cur_qp_state)
        out.path_mtu = ibv_mtu(out.path_mtu) if out.path_mtu else ibv_mtu.IBV_MTU_1024
        return out, self.init_attr

    def to_init(self, attr: QPAttr) -> None:
        attr.qp_state = ibv_qp_state.IBV_QPS_INIT
        self.modify(attr, INIT_MASK)

    def to_rtr(self, attr: QPAttr) -> None:
        if self.qp_state == ibv_qp_state.IBV_QPS_RESET:
            self.to_init(attr)
        attr.qp_state = ibv_qp_state.IBV_QPS_RTR
        self.modify(attr, RTR_MASK)

    def to_rts(self, attr: QPAttr) -> None:
        if self.qp_state in (ibv_qp_state.IBV_QPS_RESET, ibv_qp_state.IBV_QPS_INIT):
            self.to_rtr(attr)
        attr.qp_state = ibv_qp_state.IBV_QPS_RTS
        self.modify(attr, RTS_MASK)

    def reset(self) -> None:
        """Move to RESET (drops every posted WR without completions, as ``ibv_modify_qp`` does)."""
        self.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_RESET), M.IBV_QP_STATE)
        self._sq.clear()
        self._rq.clear()

    # -- data path -----------------------------------------------------------------------------------------
    def post_send(self, wr: SendWR | list[SendWR]) -> None:
        for w in wr if isinstance(wr, list) else [wr]:
            self._post_one(w)

    def _post_one(self, w: SendWR) -> None:
        pv = pyverbs()
        opcode = ibv_wr_opcode(w.opcode)
        sges = [pv.wr.SGE(s.addr, s.length, s.lkey) for s in w.sg_list] or [self._empty_sge()]
        raw = pv.wr.SendWR(wr_id=w.wr_id, opcode=int(opcode), num_sge=len(sges), imm_data=w.imm_data, sg=sges,
                           send_flags=int(w.send_flags))
        if opcode in _RDMA:
            raw.set_wr_rdma(w.rkey, w.remote_addr)
        elif opcode in _ATOMIC:
            raw.set_wr_atomic(w.rkey, w.remote_addr, w.compare_add, w.swap)
        op = op_of(w, self.backend.read_local(self._ctx_id))
        try:
            self._qp.post_send(raw)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to post send on QP {self.qp_num} ({self.device})", exc) from None
        signaled = bool(w.signaled or self.init_attr.sq_sig_all)
        self._sq.append(Posted(w.wr_id, opcode, op, signaled, tuple((s.addr, s.length, s.lkey) for s in w.sg_list)))
        self.backend.recorder.emit(ev.Send(op, self.backend.now_ns()))

    def _empty_sge(self) -> Any:
        """pyverbs refuses a WR without SGEs; a zero-length SGE on any MR of the PD means the same thing."""
        if not self.pd.mrs:
            raise ShiftUserError("a zero-length WR needs one MR registered in its PD (pyverbs requires an SGE)")
        mr = self.pd.mrs[0]
        return pyverbs().wr.SGE(mr.buf, 0, mr.lkey)

    def post_recv(self, wr: RecvWR | list[RecvWR]) -> None:
        pv = pyverbs()
        for w in wr if isinstance(wr, list) else [wr]:
            sges = [pv.wr.SGE(s.addr, s.length, s.lkey) for s in w.sg_list] or [self._empty_sge()]
            try:
                self._qp.post_recv(pv.wr.RecvWR(wr_id=w.wr_id, num_sge=len(sges), sg=sges))
            except pv.pyverbs_error.PyverbsError as exc:
                raise rdma_error(f"Failed to post recv on QP {self.qp_num} ({self.device})", exc) from None
            self._rq.append(w.wr_id)
            self.backend.recorder.emit(ev.PostRecv(w.sg_list[0].addr if w.sg_list else 0, self.backend.now_ns()))

    def _retire(self, wr_id: int, raw_opcode: int, status: ibv_wc_status) -> Posted | None:
        """Match a completion to its posted WR; returns the send WR it completes (``None`` for receives).

        A successful receive completion has opcode bit 0x80; an error completion has no valid opcode, so a
        ``wr_id`` outstanding on the send queue is taken as a send completion.
        """
        is_recv = status == ibv_wc_status.IBV_WC_SUCCESS and raw_opcode & 0x80
        if not is_recv:
            for i, p in enumerate(self._sq):
                if p.wr_id == wr_id:
                    for _ in range(i + 1):  # earlier unsignaled WRs completed with it
                        self._sq.popleft()
                    return p
        if wr_id in self._rq:
            self._rq.remove(wr_id)
        return None

    @property
    def outstanding_sends(self) -> int:
        """Send WRs posted and not yet completed or flushed."""
        return len(self._sq)

    def close(self) -> None:
        if self._qp is not None:
            self.backend._qps.pop((self._ctx_id, self.qp_num), None)
            self._qp.close()
            self._qp = None

    def __enter__(self) -> VerbsQP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

