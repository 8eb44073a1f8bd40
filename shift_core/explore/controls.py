"""Deliberately broken strategy variants: the explorer's positive control (it must catch them).

Each variant is SHIFT with one of its safeguards switched off, so a theorem predicts a silent corruption the
exploration has to find: without the retransmission-safe check an executed FADD or CAS whose reply was lost is
executed again (Thm 2); without the receive-counter handshake a re-posted SEND the peer already consumed lands in
the next receive WQE (queue sliding, Thm 2). They exist only for exploration and its tests; they are not
strategies of the fault matrix.
"""

from __future__ import annotations

import dataclasses

from shift_core.shift.strategy import STRATEGY_TABLE, Strategy

_SHIFT = STRATEGY_TABLE["shift"]

CONTROL_STRATEGIES: dict[str, Strategy] = {
    "shift_unchecked": dataclasses.replace(
        _SHIFT, name="shift_unchecked", safe_check=False,
        summary="CONTROL: SHIFT without the retransmission-safe check (retransmits atomics)"),
    "shift_uncounted": dataclasses.replace(
        _SHIFT, name="shift_uncounted", counters=False,
        summary="CONTROL: SHIFT without the receive-counter handshake (re-posts consumed SENDs)"),
}


def resolve_strategy(name: str) -> Strategy:
    """A matrix strategy or a control variant by name.

    :raises KeyError: for an unknown name.
    """
    if name in STRATEGY_TABLE:
        return STRATEGY_TABLE[name]
    return CONTROL_STRATEGIES[name]
