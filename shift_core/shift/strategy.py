"""The failover strategies of the fault matrix, and which Trilemma property each one gives up.

The Trilemma (paper abstract): no cross-NIC failover keeps exactly-once execution, receiver-NIC opacity and a
zero-copy datapath at once. Each strategy is one corner (``none`` gives up continuity instead: the job dies).
A strategy is data, not a class hierarchy: :class:`~shift_core.shift.qp.ShiftQP` reads these switches, so the
five strategies share one datapath and differ exactly where the table says they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from shift_core.errors import ShiftUserError
from shift_core.vocabulary import STRATEGIES, TRILEMMA


@dataclass(frozen=True, slots=True)
class Strategy:
    """One failover strategy.

    :param name: the vocabulary name (:data:`shift_core.vocabulary.STRATEGIES`).
    :param gives_up: the Trilemma property given up (:data:`~shift_core.vocabulary.TRILEMMA`), or ``"continuity"``.
    :param failover: move traffic to the backup NIC at all (``none``: stock RDMA, the error goes to the app).
    :param safe_check: surface the error when an atomic or app-flagged WR is outstanding (SHIFT's check).
    :param counters: skip sends the peer already consumed (receive-counter handshake; no queue sliding).
    :param switch_back: probe the default path and switch back behind a fence.
    :param completion_log: piggyback a log WRITE after every WR and READ the peer's log after a fault
        (Varuna / NCCL port failover): the layer learns how far the responder got, so opacity is gone.
    :param staging: every WR lands in a staging slot and the receiver CPU commits it once (dedup by sequence
        number), so a retransmission never reaches application memory twice: zero-copy is gone.
    """

    name: str
    gives_up: str
    failover: bool
    safe_check: bool
    counters: bool
    switch_back: bool
    completion_log: bool = False
    staging: bool = False
    summary: str = ""


STRATEGY_TABLE: dict[str, Strategy] = {
    "none": Strategy("none", "continuity", failover=False, safe_check=False, counters=False, switch_back=False,
                     summary="stock RDMA: the first error completion goes to the app; the job dies"),
    "naive": Strategy("naive", "exactly_once", failover=True, safe_check=False, counters=False, switch_back=False,
                      summary="retransmit every in-flight WR on the backup NIC (no checks, no counters)"),
    "shift": Strategy("shift", "exactly_once", failover=True, safe_check=True, counters=True, switch_back=True,
                      summary="SHIFT: retransmission-safe check, WQ rewind, receive-counter handshake, "
                              "probe and fenced switch-back"),
    "receiver_log": Strategy("receiver_log", "receiver_opacity", failover=True, safe_check=False, counters=True,
                             switch_back=True, completion_log=True,
                             summary="responder completion log read after a fault; resend only what it lacks"),
    "staging": Strategy("staging", "zero_copy", failover=True, safe_check=False, counters=False,
                        switch_back=False, staging=True,
                        summary="writes land in staging slots; the receiver CPU commits each sequence once"),
}

assert tuple(STRATEGY_TABLE) == STRATEGIES
assert all(s.gives_up in (*TRILEMMA, "continuity") for s in STRATEGY_TABLE.values())


def get_strategy(name: str | Strategy) -> Strategy:
    """The strategy named ``name`` (a :class:`shift_core.shift.strategy.Strategy` passes through).

    :raises ShiftUserError: for an unknown name (the message lists the known ones).
    """
    if isinstance(name, Strategy):
        return name
    try:
        return STRATEGY_TABLE[name]
    except KeyError:
        raise ShiftUserError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}") from None
