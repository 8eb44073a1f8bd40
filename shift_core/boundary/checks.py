"""The boundary checks: paper Table 1's rows (and its stated exceptions) as protocol models with expectations.

Each :class:`BoundaryCheck` pairs a protocol model with the paper's verdict for it, the deliberately broken
variant its positive control must catch, and the paper's wording. A row whose paper verdict is "mostly
resilient, except X" is two checks: the main path (expected ``holds``) and the exception X (expected
``counterexample``), so each has a crisp expectation.

Expectations come from the PAPER (draft [D] Table 1), never from what the search finds; a mismatch is
reported as a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shift_core.boundary.ll import LL
from shift_core.boundary.protocol import BoundaryProtocol
from shift_core.boundary.put_signal import SignalProtocol
from shift_core.boundary.simple import Simple, SimpleCTS
from shift_core.boundary.transport import Policy
from shift_core.errors import ShiftUserError
from shift_core.model.check import Verdict

DEFAULT_STEPS = 4  #: iterations per run (the ``bound`` of :func:`shift_core.boundary.run`)
DEFAULT_SLOTS = 2  #: receive slots (CTS FIFO entries) reused round-robin; capped at ``steps - 1`` so a slot is reused


LL_ASSUMPTIONS = ("NCCL's LL/LL128 flag is the 32-bit step number (NCCL_LL_FLAG(step + 1)), so a retransmitted line "
                  "of an older step never matches the flag the receiver waits for, and a retransmitted line of the "
                  "current step carries the same bytes. LL keeps 8-byte (data, flag) atomicity; LL128 writes a line "
                  "data-then-flag, so an OLDER line rewritten over a newer one tears it (new flag, old data): that "
                  "happens under the literal and ACK-only restart readings (see `sensitivity`), not with the "
                  "receive-counter handshake, since a newer line in a slot implies the older step's WRITE_WITH_IMM "
                  "executed. Assumes the backup NIC's path keeps those write guarantees (NCCL requires them of the "
                  "primary path).")
SIGNAL_ASSUMPTIONS = ("Main path: SHIFT's retransmission-safe check refuses to fail over while an atomic is "
                      "outstanding (error_surfaced); the exception disables that guard, i.e. retransmits past an "
                      "executed atomic.")
SIMPLE_ASSUMPTIONS = ("SHIFT resubmits from the first unacknowledged WR moved past the last WRITE_WITH_IMM the "
                      "receiver's receive counter reports consumed (counted at the NIC: the receiver drains its CQ "
                      "before answering the handshake); see `sensitivity` for the literal and ACK-only readings, "
                      "which are vulnerable.")
CTS_ASSUMPTIONS = ("The sender checks slots[j].idx, then reads addr/rkey/size/tag (as ncclIbIsend does), and the "
                   "resubmitted stale entry lands between the two: the model is untimed, and in real time that "
                   "window is the few instructions between the two loads unless the thread is preempted. It also "
                   "needs a FIFO round of CTS WRITEs unacknowledged (64 slots in NCCL, 32 in older releases); CTS "
                   "WRITEs are signaled once per round, so SHIFT's known prefix lags by up to a round.")


@dataclass(frozen=True)
class BoundaryCheck:
    """One row (or exception) of paper Table 1, as a search with an expectation.

    :param expected: the paper's verdict: ``holds`` (resilient to WR-level retransmission) or ``counterexample``.
    :param paper: the paper's wording for this row.
    :param broken: a deliberately broken variant that must yield a counterexample (``None``: the check's own
        expectation is a counterexample, or no meaningful broken rule exists).
    :param broken_what: what is broken in it.
    :param assumptions: what the verdict rests on beyond the shared fault model (always reported).
    """

    model: BoundaryProtocol
    expected: Verdict
    paper: str
    broken: BoundaryProtocol | None = None
    broken_what: str = ""
    assumptions: str = ""

    @property
    def check_id(self) -> str:
        return self.model.check_id


def all_checks(steps: int = DEFAULT_STEPS, slots: int = DEFAULT_SLOTS) -> list[BoundaryCheck]:
    """Every boundary check at the given bound, in Table 1 order."""
    if steps < 2:
        raise ShiftUserError(f"boundary bound {steps} is too small: use at least 2 iterations (slot reuse is what "
                             "a retransmission can hit)")
    slots = max(1, min(slots, steps - 1))
    guard_off = Policy(atomic_guard=False)
    simple = Simple(steps=steps, slots=slots, reuse="in_place",
                    title="NCCL Simple data chain: data WRITEs + WRITE_WITH_IMM, receiver reads after the IMM's CQE, "
                          "then reuses the buffer (in place, then for the next chunk)")
    ll = LL(steps=steps, slots=slots, lines=2)
    ll128 = LL(protocol="nccl_ll128", steps=steps, slots=slots, lines=1, line_bytes=128, split_line=True,
               title="NCCL LL128: 128-byte lines (120 B data + 8 B flag), consumed when the flag matches")
    nvshmem = SignalProtocol(steps=steps, slots=1)
    mscclpp = SignalProtocol(protocol="mscclpp", steps=steps, slots=slots, reuse="slot",
                             title="MSCCL++ putWithSignal: data WRITE + atomic semaphore add, receiver wait()s",
                             ops="WRITE + ATOMIC_FETCH_AND_ADD (semaphore)")
    return [
        BoundaryCheck(simple, "holds",
                      "Mostly resilient: the receiver reads the buffer only after the WC of the notification, so "
                      "only data past the last successful WR is overwritten.",
                      replace(simple, policy=Policy(restart="ack_only")),
                      "SHIFT without the receive-counter handshake (resubmit from the first unacknowledged WR)",
                      SIMPLE_ASSUMPTIONS),
        BoundaryCheck(SimpleCTS(steps=steps, slots=slots), "counterexample",
                      "Exception: the reverse CTS is a plain WRITE carrying remote addr, rkey and tag; overwriting "
                      "it could corrupt (< 0.02% of RDMA traffic).", assumptions=CTS_ASSUMPTIONS),
        BoundaryCheck(ll, "counterexample",
                      "Vulnerable: the receiver may consume as soon as the flag lands, so an overwrite can corrupt.",
                      replace(ll, flag="valid_bit"), "an unversioned valid-bit flag, cleared by the receiver",
                      LL_ASSUMPTIONS),
        BoundaryCheck(ll128, "counterexample",
                      "Vulnerable: the receiver may consume as soon as the flag lands, so an overwrite can corrupt.",
                      replace(ll128, flag="valid_bit"), "an unversioned valid-bit flag, cleared by the receiver",
                      LL_ASSUMPTIONS),
        BoundaryCheck(nvshmem, "holds",
                      "Mostly resilient: the receiver waits on a signal updated by the atomic.",
                      replace(nvshmem, early_read=True), "the receiver reads without waiting for the signal",
                      SIGNAL_ASSUMPTIONS),
        BoundaryCheck(replace(nvshmem, variant="atomic_completes", policy=guard_off,
                              title="NVSHMEM exception: the atomic signal completed, then earlier data is "
                                    "overwritten (retransmission past an executed atomic)"),
                      "counterexample",
                      "Exception: if the atomic completes but earlier data is then overwritten, the receiver may "
                      "read corrupt data.", assumptions=SIGNAL_ASSUMPTIONS),
        BoundaryCheck(mscclpp, "holds", "Same as NVSHMEM: mostly resilient.",
                      replace(mscclpp, early_read=True), "the receiver reads without waiting for the semaphore",
                      SIGNAL_ASSUMPTIONS),
        BoundaryCheck(replace(mscclpp, variant="atomic_completes", policy=guard_off,
                              title="MSCCL++ exception: the atomic semaphore add completed, then earlier data is "
                                    "overwritten"),
                      "counterexample", "Same as NVSHMEM: exception when the atomic completes and data is then "
                                        "overwritten.", assumptions=SIGNAL_ASSUMPTIONS),
    ]
