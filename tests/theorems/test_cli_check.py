"""``shift check``: summary table, exit status, one-line errors, the boundary hook."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from shift_core.cli import check as check_cli
from shift_core.cli.main import main


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_table_and_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["check", "thm2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cas_double_success" in out and "Rocq name" in out and "cex" in out and "all 7 checks passed" in out
    assert (tmp_path / "thm2_atomics.json").exists() and (tmp_path / "thm2_queue_sliding.json").exists()


def test_failed_expectation_exits_1(tmp_path: Path) -> None:
    assert _run(["check", "thm1", "--bound", "4", "--mode", "causal", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("argv", [["check", "thm7"], ["check", "thm1", "--bound", "0"],
                                  ["check", "thm1", "--mode", "tla"], ["check", "thm1", "--bound", "x"]])
def test_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("shift: error:") and "\n" not in err and "Traceback" not in err


def _no_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> ModuleType:
        if name == "shift_core.boundary":
            raise ModuleNotFoundError(name)
        return real(name, package)

    monkeypatch.setattr(check_cli.importlib, "import_module", fake)


def test_boundary_not_built(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _no_boundary(monkeypatch)
    assert _run(["check", "boundary"]) == 2
    assert "not built yet" in capsys.readouterr().err


def test_all_skips_a_missing_boundary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _no_boundary(monkeypatch)
    monkeypatch.setattr(check_cli, "resolve", lambda _t: ("thm2_queue_sliding",))
    assert _run(["check", "all", "--out", str(tmp_path / "theorems")]) == 0
    assert "boundary skipped" in capsys.readouterr().out


def test_show_prints_counterexamples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["check", "thm2_atomics", "--show", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "S: retry CAS(a0,0->1) -> ok,old=0" in out and "1. P:CAS(a0,0->1)" in out


def test_paper_disagreement_is_reported_not_failed() -> None:
    """A complete, controlled search that contradicts a *paper* claim is a finding (exit 0, flagged); the same
    mismatch against a *theorem* is a failure."""
    from shift_core.model.check import CheckResult, Control

    base = dict(check_id="x", title="t", kind="E", rocq_name="", paper_name="", mode="bfs", bound={},
                expected="counterexample", verdict="holds", states=1, unique_states=1, max_depth=1, complete=True,
                seconds=0.0, controls=(Control("c", True),))
    paper = CheckResult(**base, expected_from="paper")  # type: ignore[arg-type]
    theorem = CheckResult(**base)  # type: ignore[arg-type]
    assert paper.disagrees_with_paper and not paper.passed
    assert not theorem.disagrees_with_paper and not theorem.passed
    failed_control = CheckResult(**{**base, "controls": (Control("c", False),)}, expected_from="paper")  # type: ignore[arg-type]
    assert not failed_control.disagrees_with_paper
