"""Fixtures: csrc/ built once per session (make -C csrc); skipped with the one-line reason when it cannot be."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shift_core.fastpath.gen_machine import REPO_ROOT

CSRC = REPO_ROOT / "csrc"


@pytest.fixture(scope="session")
def csrc() -> Path:
    """The csrc directory with libshift.so, shift_probe and shift_kvtool built."""
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make/cc not installed: apt-get install make gcc libibverbs-dev")
    proc = subprocess.run(["make", "-s", "-C", str(CSRC)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"csrc does not build here: {(proc.stdout + proc.stderr).strip().splitlines()[-1]}")
    return CSRC


@pytest.fixture(scope="session")
def rdma_devices(csrc: Path) -> bool:
    """True when this host has an RDMA device (then the no-device tests do not apply)."""
    return subprocess.run([str(csrc / "shift_probe")], capture_output=True).returncode != 3
