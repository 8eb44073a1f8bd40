"""The compiled fast path (``_fastpath``, cffi API mode over ``csrc/``) behind the reference's Python API.

Same classes, same methods, same errors as :mod:`shift_core.fastpath.reference`; only the storage is C
(``struct shift_wrlog`` / ``struct shift_qp_core``), so the Python SHIFT layer swaps one for the other. The
cffi call overhead (~100+ ns) dominates here; the C cost itself is measured by ``csrc/shift_bench``.
Importing this module raises ``ImportError`` when the extension has not been built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shift_core.fastpath import errors, gen_machine
from shift_core.fastpath._fastpath import ffi, lib
from shift_core.fastpath.records import MAX_SGE, SGE, WR
from shift_core.shift.machine import IllegalTransition, RQEvent, RQState, SQEvent, SQState

if ffi.string(lib.SHIFT_MACHINE_FINGERPRINT).decode() != gen_machine.fingerprint():
    raise ImportError("the compiled fast path was built from an older shift_core/shift/machine.py (stale "
                      "state machine); rebuild it with `python -m shift_core.fastpath.build`")

_SQ_STATES, _SQ_EVENTS = list(SQState), list(SQEvent)
_RQ_STATES, _RQ_EVENTS = list(RQState), list(RQEvent)


def _to_c(wr: WR) -> tuple[Any, Any]:
    """The record and its extension (``struct shift_wr``, ``struct shift_wr_ext``)."""
    if len(wr.sg_list) > MAX_SGE:
        errors.raise_for(errors.TooManySGE.code, "post WR")
    c, x = ffi.new("struct shift_wr *"), ffi.new("struct shift_wr_ext *")
    c.wr_id, c.opcode, c.signaled, c.num_sge = wr.wr_id, wr.opcode, int(wr.signaled), len(wr.sg_list)
    c.remote_addr, c.rkey, c.imm_data = wr.remote_addr, wr.rkey, wr.imm_data
    c.compare_add, c.swap, c.flags, c.send_flags = wr.compare_add, wr.swap, wr.flags, wr.send_flags
    for i, sge in enumerate(wr.sg_list):
        dst = c.sge0 if i == 0 else x.sge[i - 1]
        dst.addr, dst.length, dst.lkey = sge.addr, sge.length, sge.lkey
    return c, x


def _from_c(log: Any, c: Any) -> WR:
    x = lib.shift_wrlog_ext(log, c)
    sges = tuple(SGE(e.addr, e.length, e.lkey) for e in [c.sge0, *(x.sge[i] for i in range(MAX_SGE - 1))]
                 [:c.num_sge])
    return WR(wr_id=c.wr_id, opcode=c.opcode, signaled=bool(c.signaled), sg_list=sges, remote_addr=c.remote_addr,
              rkey=c.rkey, imm_data=c.imm_data, compare_add=c.compare_add, swap=c.swap, flags=c.flags,
              send_flags=c.send_flags)


class WRLog:
    """One queue's WR log in C (``struct shift_wrlog``); API of :class:`shift_core.fastpath.reference.WRLog`."""

    def __init__(self, capacity: int) -> None:
        ptr = lib.shift_wrlog_create(capacity) if 0 < capacity <= 1 << 24 else ffi.NULL
        if ptr == ffi.NULL:
            raise ValueError(f"WR log capacity must be in 1..{1 << 24}, got {capacity}")
        self._log = ffi.gc(ptr, lib.shift_wrlog_destroy)

    @property
    def capacity(self) -> int:
        return int(lib.shift_wrlog_capacity(self._log))

    @property
    def posted(self) -> int:
        return int(self._log.head)

    @property
    def retired(self) -> int:
        return int(self._log.tail)

    @property
    def outstanding(self) -> int:
        return int(lib.shift_wrlog_outstanding(self._log))

    @property
    def unsafe_outstanding(self) -> int:
        return int(lib.shift_wrlog_unsafe_outstanding(self._log))

    @property
    def two_sided_posted(self) -> int:
        return int(lib.shift_wrlog_two_sided_posted(self._log))

    @property
    def two_sided_retired(self) -> int:
        return int(self._log.two_sided_retired)

    def post(self, wr: WR) -> None:
        c, x = _to_c(wr)
        errors.raise_for(lib.shift_wrlog_post(self._log, c, x), "post WR")

    def complete(self, wr_id: int) -> int:
        n = int(lib.shift_wrlog_complete(self._log, wr_id))
        errors.raise_for(n, "complete WR")
        return n

    def ack_remote(self, peer_count: int) -> int:
        n = int(lib.shift_wrlog_ack_remote(self._log, peer_count))
        errors.raise_for(n, "apply peer counter")
        return n

    def truncate(self, new_head: int) -> None:
        if new_head < 0:  # below any tail; uint64_t cannot carry it
            errors.raise_for(errors.OutOfRange.code, "truncate WR log")
        errors.raise_for(lib.shift_wrlog_truncate(self._log, new_head), "truncate WR log")

    def replay(self) -> Iterator[WR]:
        cur = ffi.new("struct shift_cursor *")
        lib.shift_wrlog_replay_begin(self._log, cur)
        while (rec := lib.shift_wrlog_replay_next(self._log, cur)) != ffi.NULL:
            yield _from_c(self._log, rec)


class QPCore:
    """One SHIFT QP's core in C (``struct shift_qp_core``); API of :class:`shift_core.fastpath.reference.QPCore`."""

    def __init__(self, sq_capacity: int, rq_capacity: int) -> None:
        self.sq, self.rq = WRLog(sq_capacity), WRLog(rq_capacity)
        self._core = ffi.new("struct shift_qp_core *")
        self._core.sq, self._core.rq = self.sq._log, self.rq._log

    @property
    def sq_state(self) -> SQState:
        return _SQ_STATES[self._core.sq_state]

    @property
    def rq_state(self) -> RQState:
        return _RQ_STATES[self._core.rq_state]

    def sq_event(self, event: SQEvent) -> SQState:
        before = self.sq_state
        if lib.shift_core_sq_event(self._core, _SQ_EVENTS.index(event)) == lib.SHIFT_E_ILLEGAL:
            raise IllegalTransition(self, before, event)
        return self.sq_state

    def rq_event(self, event: RQEvent) -> RQState:
        before = self.rq_state
        if lib.shift_core_rq_event(self._core, _RQ_EVENTS.index(event)) == lib.SHIFT_E_ILLEGAL:
            raise IllegalTransition(self, before, event)
        return self.rq_state

    def error_event(self, on_backup: bool) -> SQEvent:
        return _SQ_EVENTS[lib.shift_core_error_event(self._core, int(on_backup))]

    def on_error(self, on_backup: bool = False) -> SQState:
        return self.sq_event(self.error_event(on_backup))
