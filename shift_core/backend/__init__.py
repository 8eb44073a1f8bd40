"""The small, typed backend interface (pyverbs names) shared by ``sim``, ``rxe`` and ``nic``.

Standard library only: it runs on a guest's distribution python3 beside Debian's python3-pyverbs.
"""

from shift_core.backend.attrs import (
    SGE,
    WC,
    AHAttr,
    AsyncEvent,
    GlobalRoute,
    PortAttr,
    QPAttr,
    QPCap,
    QPInitAttr,
    RecvWR,
    SendWR,
)
from shift_core.backend.enums import (
    ibv_access_flags,
    ibv_event_type,
    ibv_mtu,
    ibv_port_state,
    ibv_qp_attr_mask,
    ibv_qp_state,
    ibv_qp_type,
    ibv_send_flags,
    ibv_wc_flags,
    ibv_wc_opcode,
    ibv_wc_status,
    ibv_wr_opcode,
    local_ack_timeout_ns,
    mtu_bytes,
)
from shift_core.backend.interface import CQ, MR, PD, QP, Backend, CompChannel, Context, TraceRecorder

__all__ = [
    "CQ", "MR", "PD", "QP", "SGE", "WC", "AHAttr", "AsyncEvent", "Backend", "CompChannel", "Context",
    "GlobalRoute", "PortAttr", "QPAttr", "QPCap", "QPInitAttr", "RecvWR", "SendWR", "TraceRecorder",
    "ibv_access_flags", "ibv_event_type", "ibv_mtu", "ibv_port_state", "ibv_qp_attr_mask", "ibv_qp_state",
    "ibv_qp_type", "ibv_send_flags", "ibv_wc_flags", "ibv_wc_opcode", "ibv_wc_status", "ibv_wr_opcode",
    "local_ack_timeout_ns", "mtu_bytes",
]
