"""Session fixture of the rxe tests: build the guest image once, boot it ONCE, run the whole in-guest suite.

Policy (the guest costs about a minute to build and one to two to run under TCG):
- ``CI=true``: the rxe tests must run; a missing tool is a failure, not a skip.
- elsewhere: they run when asked (``make rxe``, ``pytest -m rxe``, or ``SHIFT_RXE=1``), and skip with the
  reason when QEMU / debootstrap / root are missing; the quick local loop skips them, saying how to run them.

This file is also loaded by the guest's pytest (tests/rdma/guest): it imports nothing beyond stdlib + pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

PROJECT = Path(__file__).resolve().parents[2]
RXE_DIR = PROJECT / "workflow" / "scripts" / "rxe"
DATA = PROJECT / "data" / "rxe"
IN_GUEST = os.environ.get("SHIFT_RXE_GUEST") == "1"


def _guest_module() -> Any:
    if str(RXE_DIR) not in sys.path:
        sys.path.insert(0, str(RXE_DIR))
    import rxe_guest

    return rxe_guest


def _asked(config: pytest.Config) -> bool:
    expr = config.getoption("-m") or ""
    return (os.environ.get("CI") == "true" or os.environ.get("SHIFT_RXE") == "1"
            or ("rxe" in expr and "not rxe" not in expr))


def _unavailable(what: str, why: str) -> NoReturn:
    """CI must run the guests (a missing tool there is a failure); elsewhere their tests skip with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} unavailable in CI: {why}")
    pytest.skip(f"{what} unavailable: {why}")


@pytest.fixture(scope="session")
def rxe_suite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The in-guest suite's results (:class:`rxe_guest.SuiteRun`), from one boot per test session."""
    if IN_GUEST:
        pytest.skip("already inside the guest")
    if not _asked(request.config):
        pytest.skip("rxe guest tests (~2-3 min under QEMU/TCG) run in CI or when asked: `make rxe`, "
                    "`pytest -m rxe tests/rdma` or SHIFT_RXE=1")
    g = _guest_module()
    reason = g.preflight()
    if reason:
        _unavailable("rxe guest", reason)
    run_dir = Path(os.environ.get("SHIFT_RXE_RUN_DIR", tmp_path_factory.mktemp("rxe-run")))
    try:
        run = g.run_suite(run_dir)
    except g.GuestUnavailable as exc:
        _unavailable("rxe guest", str(exc))
    summary = g.summarize(run)
    print("\n" + summary, file=sys.stderr)
    (run_dir / "summary.txt").write_text(summary)
    return run


@pytest.fixture(scope="session")
def twohost(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two guests up, the nic stage run against them by Snakemake as a user would (see test_twohost.py)."""
    import yaml  # not at the top: the guest's pytest loads this file too, with stdlib + pytest only

    if IN_GUEST:
        pytest.skip("already inside a guest")
    if not _asked(request.config):
        pytest.skip("two-guest suite (~20-30 min under QEMU/TCG) runs in CI or when asked: `pytest -m rxe "
                    "tests/rdma` or SHIFT_RXE=1")
    g = _guest_module()
    import twohost as th

    why = th.preflight()
    if why:
        _unavailable("two guests", why)
    work = tmp_path_factory.mktemp("twohost")
    t0 = time.monotonic()
    try:
        with th.two_guests(work) as guests:
            overlay = work / "guests.yaml"
            overlay.write_text(yaml.safe_dump({"backends": {"nic": guests.stage_config()}}))
            boot = time.monotonic() - t0
            # the target first: --configfile and --forcerun take every word after them
            proc = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "data/rxe/twohost.json",
                                   "--snakefile", "workflow/Snakefile", "--profile", "workflow/profiles/quick",
                                   "--forcerun", "twohost_suite", "--configfile", str(overlay)],
                                  cwd=PROJECT, capture_output=True, text=True, timeout=5000, check=False)
    except g.GuestUnavailable as exc:
        _unavailable("two guests", str(exc))
    wall = time.monotonic() - t0
    log = (PROJECT / "logs" / "rxe" / "twohost.log")
    manifest = DATA / "twohost.json"
    print(f"\ntwo-guest nic stage: boot {boot:.0f} s, whole run {wall:.0f} s\n"
          + (log.read_text()[-3000:] if log.exists() else proc.stderr[-3000:]), file=sys.stderr)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return {"manifest": json.loads(manifest.read_text()), "wall_s": wall}
