"""``shift rxe``: bad arguments and missing hardware are one-line messages, never tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shift_core.cli.main import main


def test_unknown_part_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rxe", "test", "--parts", "bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown --parts bogus" in err


def test_nic_stage_without_named_devices_records_a_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFT_NIC_DEVICES", raising=False)
    main(["rxe", "nic", "--out", str(tmp_path)])
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["backend"] == "nic" and m["status"] == "skipped" and "no NICs named" in m["reason"]
    assert "nic: skipped:" in capsys.readouterr().out


def test_nic_stage_with_an_interpreter_lacking_pyverbs_records_why(tmp_path: Path) -> None:
    import sys

    main(["rxe", "nic", "--devices", "a,b,c,d", "--python", sys.executable, "--out", str(tmp_path)])
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["status"] == "skipped" and ("pyverbs" in m["reason"] or "not found" in m["reason"])
