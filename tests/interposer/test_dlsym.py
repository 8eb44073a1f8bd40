"""Programs that resolve the verbs themselves (dlopen + dlsym / dlvsym, like NCCL's ibvwrap) get SHIFT too.

csrc/shift_pair_dl does not link libibverbs: it dlopens "libibverbs.so" and looks every verb up with
dlvsym(..., "IBVERBS_1.1"), as NCCL does. libshift interposes dlsym/dlvsym and maps libibverbs' functions to
its own wrappers by address (csrc/shift_dlsym.c), so the program's QPs are protected."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interposer.conftest import clean_env
from tests.interposer.test_failover import assert_intact, pair

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("workload", ["send", "nccl", "read"])
def test_dlvsym_resolved_program_fails_over_and_switches_back(fake: Any, workload: str) -> None:
    run = pair(fake, workload, "ackloss", program="shift_pair_dl")
    assert "ibv_open_device resolved to" in run.stderr and "libshift.so" in run.stderr
    assert_intact(run)
    assert sum(s["switch_backs"] for s in run.summaries().values()) >= 2


def test_without_libshift_the_dlvsym_program_dies_on_the_fault(fake: Any) -> None:
    run = pair(fake, "send", "down", program="shift_pair_dl", shift=False)
    assert run.rc != 0 and run.hosts["A"]["errors"] > 0
    assert "libshift.so" not in run.stderr


def test_rtld_next_keeps_the_callers_identity(csrc: Path, tmp_path: Path) -> None:
    """Another preload that wraps a function with dlsym(RTLD_NEXT) still finds the next definition."""
    shim = tmp_path / "shim.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(HERE / "rtld_next_shim.c"), "-ldl"],
                   check=True)
    env = clean_env(LD_PRELOAD=f"{csrc / 'libshift.so'} {shim}")
    proc = subprocess.run(["python3", "-c", "import os; print(os.getpid() > 0)"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr[-2000:]


def test_dlsym_forwards_rtld_next_as_a_tail_call(csrc: Path) -> None:
    """glibc names the caller from the return address: the forwarding must be a jump, not a call."""
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(csrc / "libshift.so")], capture_output=True,
                         text=True, check=True).stdout
    for fn in ("dlsym", "dlvsym"):
        body = asm.split(f"<{fn}>:")[1].split("\n\n")[0]
        assert "jmp    *" in body, f"{fn} does not forward with an indirect jump:\n{body}"
