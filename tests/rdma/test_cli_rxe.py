"""``shift rxe``: bad arguments, a missing peer, an unreachable peer and a host without pyverbs are one-line
messages (exit 2), never tracebacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shift_core.cli.main import main


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shift: error: "), err
    return err


def test_unknown_part_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, ["rxe", "test", "--parts", "bogus"])
    assert "unknown --parts bogus" in err
    assert "libshift" in err  # the list it offers is the suite's own (libshift included)


def test_nic_stage_without_a_peer_says_which_key_to_set(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = _one_line_error(capsys, ["rxe", "nic", "--data", str(tmp_path)])
    assert "backends.nic.peer" in err
    assert not list(tmp_path.iterdir())  # nothing written: no numbers that were not measured


def test_nic_stage_with_an_unknown_part_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, ["rxe", "nic", "--peer", "local", "--parts", "timeline,bogus"])
    assert "unknown --parts bogus" in err


@pytest.mark.skipif(shutil.which("ssh") is None, reason="ssh client not installed")
def test_unreachable_peer_is_one_line_naming_the_host(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = _one_line_error(capsys, ["rxe", "nic", "--peer", "ssh://nobody@127.0.0.1:1", "--devices", "mlx5_0,mlx5_1",
                                   "--data", str(tmp_path)])
    assert "peer 'ssh://nobody@127.0.0.1:1' is unreachable over ssh" in err and "backends.nic.peer" in err


def test_a_host_without_pyverbs_is_one_line_saying_what_to_install(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import pyverbs"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("this interpreter has pyverbs")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"backends:\n  nic:\n    python: {sys.executable}\n")
    err = _one_line_error(capsys, ["rxe", "nic", "--config", str(cfg), "--host", "local", "--peer", "local",
                                   "--devices", "mlx5_0,mlx5_1", "--data", str(tmp_path)])
    assert "host local" in err and "pyverbs not importable" in err and "python3-pyverbs" in err
