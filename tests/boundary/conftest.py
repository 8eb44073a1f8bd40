"""Shared helpers for the boundary tests: a deterministic fault-free walk (a run built without the search)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shift_core.boundary.protocol import BoundaryProtocol
from shift_core.boundary.transport import Step


def fault_free_run(proto: BoundaryProtocol, limit: int = 500) -> tuple[Step, ...]:
    """Follow the first enabled move that is neither a fault nor a violation until every iteration is consumed."""
    table = proto.table()
    s = proto.init()
    steps: list[Step] = []
    while not proto.done(s):
        for step, nxt, violation in proto.successors(s, table):
            if violation is None and "path fails" not in step.text:
                steps.append(step)
                s = nxt
                break
        else:
            raise AssertionError(f"{proto.check_id}: stuck after {len(steps)} steps")
        assert len(steps) < limit
    return tuple(steps)


@pytest.fixture
def walk() -> Callable[[BoundaryProtocol], tuple[Step, ...]]:
    """:func:`fault_free_run` as a fixture (test modules here are not a package)."""
    return fault_free_run
