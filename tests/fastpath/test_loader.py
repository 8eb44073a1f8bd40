"""shift_core.fastpath.load(): compiled when built, else the reference with a reason that says what to do."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

from shift_core import fastpath
from shift_core.fastpath import reference


def test_load_prefers_the_compiled_module(native: ModuleType) -> None:
    fp = fastpath.load()
    assert fp.kind == "c" and fp.module is native


def test_load_falls_back_with_a_clear_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shift_core.fastpath.native", None)  # import now raises ImportError
    fp = fastpath.load()
    assert fp.kind == "python" and fp.module is reference
    assert "python -m shift_core.fastpath.build" in fp.reason


def test_python_can_be_requested() -> None:
    assert fastpath.load(prefer="python").module is reference
