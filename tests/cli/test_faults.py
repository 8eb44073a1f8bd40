"""``shift faults``: a small matrix through the real CLI entry point, and one-line errors on bad input."""

from __future__ import annotations

import csv
import json

import pytest

from shift_core.cli.main import main


def test_shift_faults_writes_csv_and_json(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["faults", "--runs", "12", "--processes", "1", "--steps", "4", "--workload", "send_recv",
          "--strategy", "shift", "--strategy", "none", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Outcomes per strategy and workload" in out and "12 schedules" in out
    rows = list(csv.DictReader((tmp_path / "faults.csv").open()))
    assert len(rows) == 12 and {r["strategy"] for r in rows} == {"shift", "none"}
    doc = json.loads((tmp_path / "faults.json").read_text())
    assert doc["summary"]["runs"] == 12 and doc["manifest"]["backend"] == "sim"


def test_bad_arguments_are_one_line_errors(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["faults", "--runs", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("shift: error:") and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["faults", "--strategy", "magic"])
