"""Helpers shared by the theorem checks: a stopwatch and the verdict of an expected counterexample.

No Rocq counterpart. Each check module builds :class:`~shift_core.model.check.CheckResult` records; these
helpers keep the timing and the "found / not found" bookkeeping identical across modules.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shift_core.model.check import Verdict


@dataclass(slots=True)
class Stopwatch:
    """Wall-clock seconds of one block (``with timed() as sw: ...; sw.seconds``)."""

    start: float = 0.0
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Stopwatch]:
    sw = Stopwatch(time.perf_counter())
    try:
        yield sw
    finally:
        sw.seconds = time.perf_counter() - sw.start


def verdict(found: bool) -> Verdict:
    """``counterexample`` when the search found one, else ``holds``."""
    return "counterexample" if found else "holds"
