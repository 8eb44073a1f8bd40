"""The theorem checks by vocabulary id, their aliases, and their default bounds.

One name per concept: each id in :data:`shift_core.vocabulary.THEOREM_CHECKS` is a module here whose
``run(bound, mode) -> list[CheckResult]`` produces all of that result's evidence (W, E, P).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shift_core.errors import ShiftUserError
from shift_core.model.check import CheckResult
from shift_core.vocabulary import THEOREM_CHECKS

RunFn = Callable[..., list[CheckResult]]

#: short names accepted by the CLI and the runner
ALIASES: dict[str, tuple[str, ...]] = {
    "all": THEOREM_CHECKS,
    "thm1": ("thm1_indistinguishability",),
    "thm2": ("thm2_atomics", "thm2_queue_sliding"),
    "thm3": ("thm3_consensus",),
}

#: what ``--bound N`` means per check (the book and the CLI help show it)
BOUND_MEANING: dict[str, str] = {
    "core_laws": "fixed (addresses {0,1,2} x values {0..3})",
    "thm1_indistinguishability": "max trace length (default causal 8, rocq 6)",
    "thm2_atomics": "max third-party ops around S's CAS and its retry (default 2)",
    "thm2_queue_sliding": "max messages (default 3; <= 4 receive WQEs)",
    "thm3_consensus": "max third-party ops of the derived ABA histories (default 2)",
}


def resolve(name: str) -> tuple[str, ...]:
    """Expand an id or alias to check ids; a bad name raises a one-line :class:`~shift_core.errors.ShiftUserError`."""
    if name in ALIASES:
        return ALIASES[name]
    if name in THEOREM_CHECKS:
        return (name,)
    choices = ", ".join([*ALIASES, *THEOREM_CHECKS])
    raise ShiftUserError(f"unknown theorem check {name!r}: choose one of {choices}")


def runner_for(check_id: str) -> RunFn:
    """The ``run`` function of one check module."""
    module: Any = importlib.import_module(f"shift_core.theorems.{check_id}")
    fn: RunFn = module.run
    return fn
