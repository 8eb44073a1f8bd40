"""The build step: a module built from an older machine.py is recognised as stale (and then rebuilt/fallen back)."""

from __future__ import annotations

from types import ModuleType

import pytest

from shift_core.fastpath import build, gen_machine


def test_fresh_build_is_current(native: ModuleType) -> None:
    assert build.is_current()
    assert build.fingerprint_path().read_text().strip() == gen_machine.fingerprint()


def test_changed_machine_makes_the_build_stale(native: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen_machine, "fingerprint", lambda: "0000000000000000")
    assert not build.is_current()


def test_missing_compiler_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    assert build.main() == 2
    assert capsys.readouterr().err == "error: no C compiler found: apt-get install gcc " \
                                      "(the pure-Python fast path stays in use)\n"
