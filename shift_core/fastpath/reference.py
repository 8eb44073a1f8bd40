"""Pure-Python reference of the C fast path (``csrc/shift_wrlog.h``, ``csrc/shift_qpcore.h``): same semantics.

Why it exists: it is the executable specification the compiled ring is tested against (a Hypothesis
differential test drives both with the same operations), and the fallback when the compiled module is
absent (e.g. a guest without a C compiler). It mirrors the C ring literally -- a fixed array of ``capacity``
slots indexed by 64-bit sequence numbers -- so wraparound is exercised in both.

Semantics (DMTCP's IB-plugin log, SHIFT's WQ rewind): ``post`` appends; a successful signaled completion
retires the oldest signaled record and every unsignaled record before it; ``replay`` yields what is still
outstanding in posting order; ``ack_remote`` applies the peer's receive counter; a full ring raises
:class:`~shift_core.fastpath.errors.RingOverflow`. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator

from shift_core.fastpath import errors
from shift_core.fastpath.records import MAX_SGE, OP_RDMA_READ, WR, two_sided, unsafe
from shift_core.shift.machine import RQEvent, RQState, SQEvent, SQState, next_rq, next_sq

_MAX_CAPACITY = 1 << 24


class WRLog:
    """One queue's WR log (``struct shift_wrlog``): a ring of :class:`~shift_core.fastpath.records.WR` records."""

    def __init__(self, capacity: int) -> None:
        if not 0 < capacity <= _MAX_CAPACITY:
            raise ValueError(f"WR log capacity must be in 1..{_MAX_CAPACITY}, got {capacity}")
        cap = 1
        while cap < capacity:
            cap <<= 1
        self._mask = cap - 1
        # slot: (record, two-sided running total, unsafe running total)
        self._ring: list[tuple[WR, int, int] | None] = [None] * cap
        self._head = self._tail = 0
        self.two_sided_posted = self.two_sided_retired = 0
        self._unsafe_posted = self._unsafe_retired = 0

    def _slot(self, seq: int) -> tuple[WR, int, int]:
        entry = self._ring[seq & self._mask]
        assert entry is not None
        return entry

    @property
    def capacity(self) -> int:
        return self._mask + 1

    @property
    def posted(self) -> int:
        return self._head

    @property
    def retired(self) -> int:
        return self._tail

    @property
    def outstanding(self) -> int:
        return self._head - self._tail

    @property
    def unsafe_outstanding(self) -> int:
        return self._unsafe_posted - self._unsafe_retired

    def post(self, wr: WR) -> None:
        """Append ``wr`` (Python analog of the log side of ``ibv_post_send`` / ``ibv_post_recv``)."""
        if len(wr.sg_list) > MAX_SGE:
            errors.raise_for(errors.TooManySGE.code, "post WR")
        if self._head - self._tail > self._mask:
            errors.raise_for(errors.RingOverflow.code, "post WR")
        self.two_sided_posted += two_sided(wr)
        self._unsafe_posted += unsafe(wr)
        self._ring[self._head & self._mask] = (wr, self.two_sided_posted, self._unsafe_posted)
        self._head += 1

    def _retire_to(self, end: int) -> int:
        _, self.two_sided_retired, self._unsafe_retired = self._slot(end - 1)
        n, self._tail = end - self._tail, end
        return n

    def complete(self, wr_id: int) -> int:
        """A successful signaled completion for ``wr_id``: retire through the oldest signaled record."""
        for seq in range(self._tail, self._head):
            wr = self._slot(seq)[0]
            if wr.signaled:
                if wr.wr_id != wr_id:
                    errors.raise_for(errors.WrIdMismatch.code, "complete WR")
                return self._retire_to(seq + 1)
        errors.raise_for(errors.NoSignaledRecord.code, "complete WR")
        raise AssertionError("unreachable")

    def ack_remote(self, peer_count: int) -> int:
        """Retire what the peer provably received: through the ``peer_count``-th two-sided record.

        RDMA READs in that prefix stay outstanding (their data may not have arrived here), moved in order to
        just before the first record kept, as the Python layer re-posts them (``shift_core.shift.qp``).
        """
        if peer_count > self.two_sided_posted:
            errors.raise_for(errors.CounterAhead.code, "apply peer counter")
        if peer_count <= self.two_sided_retired:
            return 0
        end = next(s for s in range(self._tail, self._head) if self._slot(s)[1] == peer_count) + 1
        _, two, unsafe_n = self._slot(end - 1)
        reads = [self._slot(s)[0] for s in range(self._tail, end) if self._slot(s)[0].opcode == OP_RDMA_READ]
        start = self._tail
        new_tail = end - len(reads)
        for i, wr in enumerate(reads):
            self._ring[(new_tail + i) & self._mask] = (wr, two, unsafe_n)
        self.two_sided_retired, self._unsafe_retired = two, unsafe_n
        self._tail = new_tail
        return new_tail - start

    def truncate(self, new_head: int) -> None:
        """Undo the newest posts down to ``new_head`` (the provider rejected them: ``bad_wr``)."""
        if not self._tail <= new_head <= self._head:
            errors.raise_for(errors.OutOfRange.code, "truncate WR log")
        self._head = new_head
        if new_head == self._tail:
            self.two_sided_posted, self._unsafe_posted = self.two_sided_retired, self._unsafe_retired
        else:
            _, self.two_sided_posted, self._unsafe_posted = self._slot(new_head - 1)

    def replay(self) -> Iterator[WR]:
        """The outstanding records, oldest first (the replay cursor; skips records retired meanwhile)."""
        seq = self._tail
        while True:
            seq = max(seq, self._tail)
            if seq >= self._head:
                return
            yield self._slot(seq)[0]
            seq += 1


class QPCore:
    """One SHIFT QP's core (``struct shift_qp_core``): send/receive logs and the machine states."""

    def __init__(self, sq_capacity: int, rq_capacity: int) -> None:
        self.sq, self.rq = WRLog(sq_capacity), WRLog(rq_capacity)
        self.sq_state, self.rq_state = SQState.DEFAULT, RQState.DEFAULT

    def sq_event(self, event: SQEvent) -> SQState:
        """Apply ``event`` to the send-queue machine (raises ``IllegalTransition``; state then unchanged)."""
        self.sq_state = next_sq(self, self.sq_state, event)
        return self.sq_state

    def rq_event(self, event: RQEvent) -> RQState:
        """Apply ``event`` to the receive-queue machine (raises ``IllegalTransition``)."""
        self.rq_state = next_rq(self, self.rq_state, event)
        return self.rq_state

    def error_event(self, on_backup: bool) -> SQEvent:
        """Which event an error completion is (paper §4.3.2 step 2; ``shift_core_error_event`` in C)."""
        if self.sq_state is SQState.DEFAULT and not on_backup:
            return SQEvent.ERROR_UNSAFE if self.sq.unsafe_outstanding else SQEvent.ERROR_SAFE
        return SQEvent.SECOND_FAILURE if on_backup else SQEvent.DEFAULT_ERROR

    def on_error(self, on_backup: bool = False) -> SQState:
        """Drive the send-queue machine on an error completion or port-error event."""
        return self.sq_event(self.error_event(on_backup))
