"""Fixtures: both WR-log implementations; the compiled one is built once per session when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from shift_core.fastpath import build, reference


@pytest.fixture(scope="session")
def native() -> ModuleType:
    """The compiled fast path (``shift_core.fastpath.native``), (re)built first if absent or stale."""
    if not build.is_current():
        try:
            import cffi  # noqa: F401
        except ImportError:
            pytest.skip("cffi is not installed: cannot build the compiled fast path")
        build.build()
    return importlib.import_module("shift_core.fastpath.native")


@pytest.fixture(params=["python", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each implementation in turn: every ring test runs on the reference and on the C ring."""
    if request.param == "python":
        return reference
    return request.getfixturevalue("native")
