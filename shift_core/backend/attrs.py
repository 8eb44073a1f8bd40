"""Verbs attribute and work-request structs as plain dataclasses, named like pyverbs' classes.

pyverbs builds ``SendWR`` then calls ``set_wr_rdma``/``set_wr_atomic``; here those are fields, and the same
two helpers exist so code reads the same on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shift_core.backend.enums import (
    ibv_access_flags,
    ibv_event_type,
    ibv_mtu,
    ibv_port_state,
    ibv_qp_state,
    ibv_qp_type,
    ibv_send_flags,
    ibv_wc_opcode,
    ibv_wc_status,
    ibv_wr_opcode,
)


@dataclass(slots=True)
class SGE:
    """``struct ibv_sge``: a local buffer slice (``addr`` inside an MR registered with ``lkey``)."""

    addr: int
    length: int
    lkey: int


@dataclass(slots=True)
class SendWR:
    """``struct ibv_send_wr`` (one WR; pass a list to post several)."""

    wr_id: int = 0
    opcode: ibv_wr_opcode = ibv_wr_opcode.IBV_WR_SEND
    sg_list: list[SGE] = field(default_factory=list)
    send_flags: int = int(ibv_send_flags.IBV_SEND_SIGNALED)
    imm_data: int = 0
    remote_addr: int = 0
    rkey: int = 0
    compare_add: int = 0
    swap: int = 0

    @property
    def num_sge(self) -> int:
        return len(self.sg_list)

    def set_wr_rdma(self, rkey: int, addr: int) -> None:
        """pyverbs ``SendWR.set_wr_rdma``."""
        self.rkey, self.remote_addr = rkey, addr

    def set_wr_atomic(self, rkey: int, addr: int, compare_add: int, swap: int = 0) -> None:
        """pyverbs ``SendWR.set_wr_atomic``."""
        self.rkey, self.remote_addr, self.compare_add, self.swap = rkey, addr, compare_add, swap

    @property
    def signaled(self) -> bool:
        return bool(self.send_flags & ibv_send_flags.IBV_SEND_SIGNALED)


@dataclass(slots=True)
class RecvWR:
    """``struct ibv_recv_wr``."""

    wr_id: int = 0
    sg_list: list[SGE] = field(default_factory=list)

    @property
    def num_sge(self) -> int:
        return len(self.sg_list)


@dataclass(frozen=True, slots=True)
class WC:
    """``struct ibv_wc``: a work completion. An error status is data, not an exception."""

    wr_id: int
    status: ibv_wc_status
    opcode: ibv_wc_opcode
    qp_num: int
    byte_len: int = 0
    imm_data: int = 0
    wc_flags: int = 0
    vendor_err: int = 0
    src_qp: int = 0

    @property
    def ok(self) -> bool:
        return self.status == ibv_wc_status.IBV_WC_SUCCESS


@dataclass(slots=True)
class QPCap:
    """``struct ibv_qp_cap``."""

    max_send_wr: int = 512
    max_recv_wr: int = 256
    max_send_sge: int = 1
    max_recv_sge: int = 1
    max_inline_data: int = 64


@dataclass(slots=True)
class QPInitAttr:
    """``struct ibv_qp_init_attr``: ``scq``/``rcq`` are backend CQ objects."""

    qp_type: ibv_qp_type = ibv_qp_type.IBV_QPT_RC
    scq: object | None = None
    rcq: object | None = None
    cap: QPCap = field(default_factory=QPCap)
    sq_sig_all: int = 0


@dataclass(slots=True)
class GlobalRoute:
    """``struct ibv_global_route``: the destination GID (a string like ``fe80::...`` or ``sim:h1.nic0``)."""

    dgid: str = ""
    sgid_index: int = 0
    hop_limit: int = 1


@dataclass(slots=True)
class AHAttr:
    """``struct ibv_ah_attr``."""

    gr: GlobalRoute = field(default_factory=GlobalRoute)
    is_global: int = 1
    port_num: int = 1
    dlid: int = 0


@dataclass(slots=True)
class QPAttr:
    """``struct ibv_qp_attr``: what ``modify``/``query`` exchange. Fault tests set their own ``retry_cnt``:
    on rxe 7 means "retry forever"."""

    qp_state: ibv_qp_state = ibv_qp_state.IBV_QPS_RESET
    cur_qp_state: ibv_qp_state = ibv_qp_state.IBV_QPS_RESET
    path_mtu: ibv_mtu = ibv_mtu.IBV_MTU_1024
    qp_access_flags: int = int(ibv_access_flags.IBV_ACCESS_LOCAL_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_WRITE
                               | ibv_access_flags.IBV_ACCESS_REMOTE_READ
                               | ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC)
    pkey_index: int = 0
    port_num: int = 1
    dest_qp_num: int = 0
    rq_psn: int = 0
    sq_psn: int = 0
    max_rd_atomic: int = 1
    max_dest_rd_atomic: int = 1
    min_rnr_timer: int = 12
    timeout: int = 14
    retry_cnt: int = 6
    rnr_retry: int = 6
    ah_attr: AHAttr = field(default_factory=AHAttr)


@dataclass(frozen=True, slots=True)
class PortAttr:
    """``struct ibv_port_attr`` (the fields failover cares about)."""

    state: ibv_port_state
    active_mtu: ibv_mtu = ibv_mtu.IBV_MTU_1024
    gid_tbl_len: int = 1


@dataclass(frozen=True, slots=True)
class AsyncEvent:
    """``struct ibv_async_event``: ``element`` is the QP number, port number or 0 for the device."""

    event_type: ibv_event_type
    element: int = 0
    device: str = ""
