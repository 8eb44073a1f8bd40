"""The logged work request: a compact, immutable copy of ``ibv_send_wr`` / ``ibv_recv_wr`` (``struct shift_wr``).

Shared by both WR-log implementations. Opcodes are ``ibv_wr_opcode`` values; a receive WR has
``OP_RECV``. The two predicates below are the single Python statement of which WRs count toward SHIFT's
send/receive counters and which make a failover unsafe; ``csrc/shift_wrlog.h`` states the same in C.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ibv_wr_opcode values (<infiniband/verbs.h>) that the log distinguishes, and the receive marker
OP_RDMA_WRITE, OP_RDMA_WRITE_WITH_IMM, OP_SEND, OP_SEND_WITH_IMM, OP_RDMA_READ = 0, 1, 2, 3, 4
OP_ATOMIC_CMP_AND_SWP, OP_ATOMIC_FETCH_AND_ADD, OP_SEND_WITH_INV, OP_RECV = 5, 6, 9, 128
#: scatter/gather entries one record holds (csrc SHIFT_MAX_SGE)
MAX_SGE = 4
#: record flag: the application's ineligibility hint (never retransmit)
WR_APP_UNSAFE = 1

_TWO_SIDED = frozenset({OP_SEND, OP_SEND_WITH_IMM, OP_RDMA_WRITE_WITH_IMM, OP_SEND_WITH_INV, OP_RECV})


@dataclass(frozen=True, slots=True)
class SGE:
    """One scatter/gather entry (``struct ibv_sge``)."""

    addr: int
    length: int
    lkey: int


@dataclass(frozen=True, slots=True)
class WR:
    """One logged work request (``struct shift_wr`` without the log's running totals)."""

    wr_id: int
    opcode: int
    signaled: bool = True
    sg_list: tuple[SGE, ...] = ()
    remote_addr: int = 0
    rkey: int = 0
    imm_data: int = 0
    compare_add: int = 0
    swap: int = 0
    flags: int = 0
    send_flags: int = 0


def two_sided(wr: WR) -> bool:
    """Consumes a RECV at the peer (or is one): counts toward SHIFT's send/receive counters (paper §4.3.2)."""
    return wr.opcode in _TWO_SIDED


def unsafe(wr: WR) -> bool:
    """Not retransmission-safe: an atomic, an opcode the log does not understand, or app-flagged (§4.3.2 step 2)."""
    return bool(wr.flags & WR_APP_UNSAFE) or (wr.opcode > OP_RDMA_READ and wr.opcode not in (OP_SEND_WITH_INV,
                                                                                              OP_RECV))
