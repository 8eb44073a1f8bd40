"""SHIFT's per-QP failover state machine: one transition table, the single source of truth.

Paper §4.3 (Fig 5): the send queue moves Default -> Fallback -> WaitSignaled -> WaitDrained -> Default; the
receive queue moves Default <-> Fallback. ``Failed`` is terminal: the error was surfaced to the application
(an atomic or app-flagged WR in flight, a second failure, or the KV store unreachable). The C core's table
(``shift_core/fastpath``) is generated from :data:`SQ_TRANSITIONS` / :data:`RQ_TRANSITIONS`, and the book
renders them, so there is one design, not two.
"""

from __future__ import annotations

import enum


class SQState(enum.Enum):
    """Send-queue state of one SHIFT QP."""

    DEFAULT = "default"              # traffic on the default QP
    FALLBACK = "fallback"            # traffic on the backup QP; default QP reset and probed
    WAIT_SIGNALED = "wait_signaled"  # probe succeeded; waiting for the app's next signaled WR (the fence)
    WAIT_DRAINED = "wait_drained"    # fence posted on backup; new WRs queued on default without doorbell
    FAILED = "failed"                # error surfaced to the application; no failover


class RQState(enum.Enum):
    """Receive-queue state of one SHIFT QP."""

    DEFAULT = "default"
    FALLBACK = "fallback"
    FAILED = "failed"


class SQEvent(enum.Enum):
    """What moves the send-queue machine."""

    ERROR_SAFE = "error_safe"          # first error WC (or failed post); outstanding set is retransmission-safe
    ERROR_UNSAFE = "error_unsafe"      # first error WC; an atomic or app-flagged WR is outstanding
    PROBE_OK = "probe_ok"              # the probe WRITE on the reset default QP completed
    FENCE_POSTED = "fence_posted"      # the app's next signaled WR was posted on the backup QP
    FENCE_DONE = "fence_done"          # the fence WR's completion was polled; doorbell rung for withheld WRs
    DEFAULT_ERROR = "default_error"    # the default path failed again before the switch-back finished
    SECOND_FAILURE = "second_failure"  # the backup QP failed, or the KV store is unreachable
    PEER_FALLBACK = "peer_fallback"    # the peer's handshake arrived first: this side fails over too (§4.3.2 (2))


class RQEvent(enum.Enum):
    """What moves the receive-queue machine."""

    HANDSHAKE = "handshake"            # receive counters exchanged; outstanding RECVs reposted on backup
    SWITCH_BACK = "switch_back"        # the peer's switch-back notification arrived; RECVs reposted on default
    SECOND_FAILURE = "second_failure"
    SURFACED = "surfaced"              # the QP's error went to the app (unsafe WR, second failure): no failover


#: the send-queue transition table: (state, event) -> next state (the single source of truth)
SQ_TRANSITIONS: dict[tuple[SQState, SQEvent], SQState] = {
    (SQState.DEFAULT, SQEvent.ERROR_SAFE): SQState.FALLBACK,
    (SQState.DEFAULT, SQEvent.ERROR_UNSAFE): SQState.FAILED,
    (SQState.DEFAULT, SQEvent.SECOND_FAILURE): SQState.FAILED,    # backup unusable at the first error
    (SQState.DEFAULT, SQEvent.PEER_FALLBACK): SQState.FALLBACK,
    (SQState.FALLBACK, SQEvent.ERROR_UNSAFE): SQState.FAILED,     # outstanding set unsafe once the peer answered
    (SQState.FALLBACK, SQEvent.PROBE_OK): SQState.WAIT_SIGNALED,
    (SQState.FALLBACK, SQEvent.SECOND_FAILURE): SQState.FAILED,
    (SQState.WAIT_SIGNALED, SQEvent.FENCE_POSTED): SQState.WAIT_DRAINED,
    (SQState.WAIT_SIGNALED, SQEvent.DEFAULT_ERROR): SQState.FALLBACK,
    (SQState.WAIT_SIGNALED, SQEvent.SECOND_FAILURE): SQState.FAILED,
    (SQState.WAIT_DRAINED, SQEvent.FENCE_DONE): SQState.DEFAULT,
    (SQState.WAIT_DRAINED, SQEvent.DEFAULT_ERROR): SQState.FALLBACK,
    (SQState.WAIT_DRAINED, SQEvent.SECOND_FAILURE): SQState.FAILED,
}

#: the receive-queue transition table: (state, event) -> next state
RQ_TRANSITIONS: dict[tuple[RQState, RQEvent], RQState] = {
    (RQState.DEFAULT, RQEvent.HANDSHAKE): RQState.FALLBACK,
    (RQState.FALLBACK, RQEvent.SWITCH_BACK): RQState.DEFAULT,
    (RQState.FALLBACK, RQEvent.HANDSHAKE): RQState.FALLBACK,
    (RQState.FALLBACK, RQEvent.SECOND_FAILURE): RQState.FAILED,
    (RQState.DEFAULT, RQEvent.SURFACED): RQState.FAILED,
    (RQState.FALLBACK, RQEvent.SURFACED): RQState.FAILED,
}


class IllegalTransition(Exception):
    """Raised when an event arrives in a state whose row has no entry for it (a SHIFT bug, not user error)."""

    def __init__(self, qp: object, from_: enum.Enum, event: enum.Enum) -> None:
        self.qp, self.from_, self.event = qp, from_, event
        super().__init__(f"QP {qp}: no transition from {from_.name} on {event.name}")


def next_sq(qp: object, state: SQState, event: SQEvent) -> SQState:
    """The send-queue state after ``event``; raises :class:`IllegalTransition` when there is none."""
    try:
        return SQ_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(qp, state, event) from None


def next_rq(qp: object, state: RQState, event: RQEvent) -> RQState:
    """The receive-queue state after ``event``; raises :class:`IllegalTransition` when there is none."""
    try:
        return RQ_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(qp, state, event) from None
