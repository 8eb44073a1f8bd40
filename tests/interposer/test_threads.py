"""Thread safety as a real application needs it: Q QPs, P poster threads per QP, K threads polling each shared
CQ (and reposting RECVs from there), a thread blocked in ibv_get_async_event; a link fault and its repair in the
middle. Nothing may deadlock (csrc/shift_threads reports no progress for 20 s as a stall) and every message is
delivered exactly once. Run with biased locks (the default) and with plain spinlocks, and under
ThreadSanitizer."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interposer.conftest import BACKUPS, clean_env

HERE = Path(__file__).resolve().parent

ARGS = ["--qps", "4", "--posters", "2", "--pollers", "2", "--n", "20000", "--fault-at", "0.05",
        "--restore-at", "0.4"]


@pytest.mark.parametrize("biased", ["1", "0"])
@pytest.mark.parametrize("fault", ["down", "ackloss", "blackhole"])
def test_many_threads_fail_over_without_deadlock_or_duplicates(fake: Any, fault: str, biased: str) -> None:
    run = fake("shift_threads", *ARGS, "--fault", f"fake:p:{fault}", "--restore", "fake:p:up",
               SHIFT_BIASED_LOCKS=biased, SHIFT_LOG="0")
    res = run.hosts["all"]
    assert run.rc == 0 and res["ok"], (res, run.stderr[-2000:])
    assert res["duplicates"] == 0 and res["lost"] == 0 and res["corrupt"] == 0 and res["errors"] == 0
    steps = run.transitions()
    assert sum("FENCE_DONE" in s for s in steps) >= 4, steps  # each of the 4 sending QPs came back


def test_thread_sanitizer_finds_no_race(csrc: Path, tmp_path: Path) -> None:
    """libshift, the fake provider and the program built with -fsanitize=thread; plain spinlocks (ThreadSanitizer
    does not model the biased locks' membarrier fence). The fake's DMA-like copies are suppressed (tsan.supp)."""
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed")
    out = tmp_path / "tsan"
    out.mkdir()
    lib = ["shift_interpose.c", "shift_datapath.c", "shift_failover.c", "shift_dlsym.c", "shift_biaslock.c",
           "shift_wire.c", "shift_wrlog.c", "shift_kv.c"]
    flags = [cc, "-std=gnu11", "-O1", "-g", "-fsanitize=thread"]
    for cmd in ([*flags, "-fPIC", "-shared", "-Wl,--version-script=libshift.map", "-o", str(out / "libshift.so"),
                 *lib, "-ldl", "-libverbs", "-lpthread"],
                [*flags, "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,--version-script=fakeverbs/fakeverbs.map",
                 "-Wl,-soname,libibverbs.so.1", "-o", str(out / "libibverbs.so.1"), "fakeverbs/fakeverbs.c",
                 "-lpthread"],
                [*flags, "-o", str(out / "shift_threads"), "shift_threads.c", "-libverbs", "-ldl", "-lpthread"],
                [*flags, "-o", str(out / "shift_pair"), "shift_pair.c", "-libverbs", "-ldl", "-lpthread"]):
        subprocess.run(cmd, cwd=csrc, check=True, capture_output=True)
    env = clean_env(LD_LIBRARY_PATH=str(out), LD_PRELOAD=str(out / "libshift.so"), SHIFT_KV_DIR=str(tmp_path / "kv"),
                    SHIFT_PROBE_MS="10", SHIFT_BACKUP_DEVICE=BACKUPS, SHIFT_BIASED_LOCKS="0", SHIFT_LOG="0",
                    TSAN_OPTIONS=f"halt_on_error=0 report_thread_leaks=0 suppressions={HERE / 'tsan.supp'}")
    for fault in ("down", "ackloss"):
        proc = subprocess.run([str(out / "shift_threads"), "--qps", "2", "--posters", "2", "--pollers", "2", "--n",
                               "3000", "--fault", f"fake:p:{fault}", "--fault-at", "0.2", "--restore-at", "1.0",
                               "--restore", "fake:p:up"], capture_output=True, text=True, env=env, timeout=600)
        assert "WARNING: ThreadSanitizer" not in proc.stderr, proc.stderr[-4000:]
        assert proc.returncode == 0 and '"ok": true' in proc.stdout, proc.stdout + proc.stderr[-2000:]
    # completion channels: each host's thread asleep in ibv_get_cq_event, woken by libshift while failed over
    proc = subprocess.run([str(out / "shift_pair"), "--events", "--workload", "pingpong", "--n", "400",
                           "--fault", "fake:p:down", "--fault-at", "100", "--restore", "fake:p:up", "--restore-at",
                           "250", "--pace-us", "300"], capture_output=True, text=True, env=env, timeout=600)
    assert "WARNING: ThreadSanitizer" not in proc.stderr, proc.stderr[-4000:]
    assert proc.returncode == 0 and proc.stdout.count('"ok": true') == 2, proc.stdout + proc.stderr[-2000:]
