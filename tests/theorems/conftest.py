"""Shared fixtures: each check's default results, computed once per test session."""

from __future__ import annotations

import pytest

from shift_core.model.check import CheckResult
from shift_core.theorems import run_check


@pytest.fixture(scope="session")
def results() -> dict[str, CheckResult]:
    """Every theorem check at its default bounds, by result id."""
    return {r.check_id: r for r in run_check("all")}
