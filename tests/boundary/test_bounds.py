"""Larger bounds: the verdicts do not change with more iterations and slots (slow; run with -m slow)."""

from __future__ import annotations

import pytest

from shift_core.boundary.checks import all_checks
from shift_core.boundary.search import search

EXPECTED_VULNERABLE = {"boundary/nccl_simple/cts", "boundary/nvshmem/atomic_completes",
                       "boundary/mscclpp/atomic_completes"}


@pytest.mark.slow
@pytest.mark.parametrize(("steps", "slots"), [(5, 2), (5, 3), (6, 2)])
def test_verdicts_are_stable_at_larger_bounds(steps, slots):
    for c in all_checks(steps, slots):
        r = search(c.model)
        assert r.complete
        assert bool(r.witnesses) == (c.check_id in EXPECTED_VULNERABLE), (c.check_id, sorted(r.witnesses))
