"""pyverbs ``CQ`` (``ibv_create_cq`` / ``ibv_poll_cq``) and ``CompChannel`` (``ibv_get_cq_event``).

``poll`` turns each ``ibv_wc`` into the project's :class:`~shift_core.backend.WC` (error status = data) and
records the sender-side model event of every send completion, so a pyverbs run is judged like a sim run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import WC
from shift_core.backend.enums import ibv_wc_opcode, ibv_wc_status
from shift_core.verbs.eventfd import event_fds, new_event_fd, readable
from shift_core.verbs.pyverbs_api import pyverbs, rdma_error
from shift_core.verbs.tracing import completion_event

if TYPE_CHECKING:
    from shift_core.verbs.backend import VerbsBackend
    from shift_core.verbs.context import VerbsContext


class VerbsCompChannel:
    """A completion channel; ``get_cq_event`` is non-blocking. One CQ per channel (pyverbs needs the CQ it
    expects the event for)."""

    def __init__(self, ctx: VerbsContext) -> None:
        pv = pyverbs()
        before = event_fds()
        try:
            self._cc: Any = pv.cq.CompChannel(ctx._ctx)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to create a completion channel on {ctx.name}", exc) from None
        self._fd = new_event_fd(before)
        self.cqs: list[VerbsCQ] = []

    def get_cq_event(self, timeout_s: float = 0.0) -> VerbsCQ | None:
        """The CQ whose armed notification fired, or ``None`` if none within ``timeout_s``."""
        if not self.cqs or not readable(self._fd, timeout_s):
            return None
        cq = self.cqs[0]
        self._cc.get_cq_event(cq._cq)
        cq.num_events += 1
        return cq

    def close(self) -> None:
        for cq in list(self.cqs):
            cq.close()
        if self._cc is not None:
            self._cc.close()
            self._cc = None

    def __enter__(self) -> VerbsCompChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VerbsCQ:
    """A completion queue on ``ctx``."""

    def __init__(self, ctx: VerbsContext, cqe: int, cq_context: object = None,
                 channel: VerbsCompChannel | None = None, comp_vector: int = 0) -> None:
        pv = pyverbs()
        self.context = ctx
        self.backend: VerbsBackend = ctx.backend
        self.channel = channel
        self.num_events = 0
        try:
            self._cq: Any = pv.cq.CQ(ctx._ctx, cqe, None, channel._cc if channel else None, comp_vector)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to create a CQ of {cqe} entries on {ctx.name}", exc) from None
        if channel is not None:
            channel.cqs.append(self)

    def poll(self, num_entries: int = 1) -> tuple[int, list[WC]]:
        n, raw = self._cq.poll(num_entries)
        out: list[WC] = []
        for w in raw:
            status = ibv_wc_status(w.status)
            qp = self.backend._qps.get((id(self.context), w.qp_num))
            posted = qp._retire(w.wr_id, w.opcode, status) if qp is not None else None
            if posted is not None:  # a send completion: opcode is undefined on error WCs, use the posted one
                opcode = _SEND_WC_OPCODE[int(posted.opcode)]
                t = self.backend.now_ns()
                self.backend.recorder.emit(completion_event(posted, WC(w.wr_id, status, opcode, w.qp_num),
                                                            self.backend.read_local(id(self.context)), t))
            else:
                opcode = _wc_opcode(w.opcode, status)
            out.append(WC(wr_id=w.wr_id, status=status, opcode=opcode, qp_num=w.qp_num, byte_len=w.byte_len,
                          imm_data=w.imm_data, wc_flags=w.wc_flags, vendor_err=w.vendor_err, src_qp=w.src_qp))
        return n, out

    def req_notify(self, solicited_only: bool = False) -> None:
        try:
            self._cq.req_notify(solicited_only)
        except pyverbs().pyverbs_error.PyverbsError as exc:
            raise rdma_error("Failed to arm CQ notification", exc) from None

    def ack_events(self, num_events: int) -> None:
        self._cq.ack_events(num_events)
        self.num_events -= num_events

    def close(self) -> None:
        if self._cq is not None:
            if self.channel is not None and self in self.channel.cqs:
                self.channel.cqs.remove(self)
            self._cq.close()
            self._cq = None

    def __enter__(self) -> VerbsCQ:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: ibv_wr_opcode -> the ibv_wc_opcode of its send completion
_SEND_WC_OPCODE = {0: ibv_wc_opcode.IBV_WC_RDMA_WRITE, 1: ibv_wc_opcode.IBV_WC_RDMA_WRITE,
                   2: ibv_wc_opcode.IBV_WC_SEND, 3: ibv_wc_opcode.IBV_WC_SEND, 4: ibv_wc_opcode.IBV_WC_RDMA_READ,
                   5: ibv_wc_opcode.IBV_WC_COMP_SWAP, 6: ibv_wc_opcode.IBV_WC_FETCH_ADD}


def _wc_opcode(raw: int, status: ibv_wc_status) -> ibv_wc_opcode:
    """A receive completion's opcode; error WCs carry no valid opcode (verbs), report them as RECV."""
    try:
        return ibv_wc_opcode(raw)
    except ValueError:
        if status != ibv_wc_status.IBV_WC_SUCCESS:
            return ibv_wc_opcode.IBV_WC_RECV
        raise
