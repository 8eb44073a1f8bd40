"""Run the ``shift`` CLI in-process, as the tests of every subcommand do: exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from shift_core.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``shift <argv>``'s exit code (0 when it returns) and what it printed."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
