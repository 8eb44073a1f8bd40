"""The transition table is well-formed: the single source of truth the C helper and the book read."""

from __future__ import annotations

import pytest

from shift_core.shift.machine import (
    RQ_TRANSITIONS,
    SQ_TRANSITIONS,
    IllegalTransition,
    RQEvent,
    RQState,
    SQEvent,
    SQState,
    next_rq,
    next_sq,
)


def _reachable(table: dict, start: object) -> set:  # type: ignore[type-arg]
    seen, todo = {start}, [start]
    while todo:
        s = todo.pop()
        for (frm, _), to in table.items():
            if frm == s and to not in seen:
                seen.add(to)
                todo.append(to)
    return seen


def test_every_state_is_reachable_from_default() -> None:
    assert _reachable(SQ_TRANSITIONS, SQState.DEFAULT) == set(SQState)
    assert _reachable(RQ_TRANSITIONS, RQState.DEFAULT) == set(RQState)


def test_failed_is_terminal_and_every_event_is_used() -> None:
    assert not [k for k in SQ_TRANSITIONS if k[0] is SQState.FAILED]
    assert not [k for k in RQ_TRANSITIONS if k[0] is RQState.FAILED]
    assert {e for _, e in SQ_TRANSITIONS} == set(SQEvent)
    assert {e for _, e in RQ_TRANSITIONS} == set(RQEvent)


def test_the_send_queue_cycle_of_the_paper() -> None:
    s = SQState.DEFAULT
    for ev in (SQEvent.ERROR_SAFE, SQEvent.PROBE_OK, SQEvent.FENCE_POSTED, SQEvent.FENCE_DONE):
        s = next_sq("qp", s, ev)
    assert s is SQState.DEFAULT
    assert next_rq("qp", next_rq("qp", RQState.DEFAULT, RQEvent.HANDSHAKE), RQEvent.SWITCH_BACK) is RQState.DEFAULT


def test_illegal_transition_names_qp_state_and_event() -> None:
    with pytest.raises(IllegalTransition, match="QP 7: no transition from DEFAULT on FENCE_DONE"):
        next_sq(7, SQState.DEFAULT, SQEvent.FENCE_DONE)
    with pytest.raises(IllegalTransition):
        next_rq(7, RQState.FAILED, RQEvent.SWITCH_BACK)
