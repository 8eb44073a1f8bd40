"""The interposer's data path and failover against a fake verbs provider (tests/interposer/fake_provider.c).

No RDMA hardware here, so fake_provider.c compiles csrc/shift_interpose.c together with a provider that keeps
objects in memory and injects error completions; each scenario's checks are in the C file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def harness(csrc: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("fake") / "fake_provider"
    subprocess.run(["cc", "-std=gnu11", "-g", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{csrc}", "-o", str(exe),
                    str(HERE / "fake_provider.c"), str(csrc / "shift_wrlog.c"), str(csrc / "shift_kv.c"),
                    "-ldl", "-libverbs", "-lpthread"], check=True, capture_output=True, text=True)
    return exe


def run(harness: Path, scenario: str, tmp_path: Path, backup: bool = True,
        **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFT_")} | extra
    env["SHIFT_KV_DIR"] = str(tmp_path / "kv")
    if backup:
        env["SHIFT_BACKUP_DEVICE"] = "fake1"
    proc = subprocess.run([str(harness), scenario], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"ok {scenario}", proc.stdout + proc.stderr
    return proc


def test_ops_swapped_wrs_logged_and_retired(harness: Path, tmp_path: Path) -> None:
    run(harness, "log", tmp_path)


def test_safe_error_fails_over_and_replays_in_order(harness: Path, tmp_path: Path) -> None:
    err = run(harness, "failover", tmp_path).stderr
    assert "DEFAULT --ERROR_SAFE--> FALLBACK (3 send / 1 recv WRs outstanding)" in err
    assert "failed over to backup QP" in err


def test_backup_connects_at_failover_when_the_peer_published_late(harness: Path, tmp_path: Path) -> None:
    run(harness, "latepeer", tmp_path)


def test_atomic_outstanding_surfaces_the_error(harness: Path, tmp_path: Path) -> None:
    assert "DEFAULT --ERROR_UNSAFE--> FAILED" in run(harness, "unsafe", tmp_path).stderr


def test_without_backup_device_the_error_is_surfaced(harness: Path, tmp_path: Path) -> None:
    err = run(harness, "nobackup", tmp_path, backup=False).stderr
    assert "FALLBACK --SECOND_FAILURE--> FAILED" in err


def test_log_overflow_unprotects_but_passes_through(harness: Path, tmp_path: Path) -> None:
    assert "WR log full; this QP is no longer protected" in run(harness, "overflow", tmp_path).stderr


def test_application_errors_are_surfaced_not_failed_over(harness: Path, tmp_path: Path) -> None:
    assert "DEFAULT --ERROR_UNSAFE--> FAILED" in run(harness, "apperror", tmp_path).stderr


def test_port_error_event_fails_over_before_any_error_completion(harness: Path, tmp_path: Path) -> None:
    assert "port error event: DEFAULT --ERROR_SAFE--> FALLBACK" in run(harness, "porterr", tmp_path).stderr


def test_two_sided_outstanding_fails_closed_without_the_handshake(harness: Path, tmp_path: Path) -> None:
    err = run(harness, "twosided", tmp_path).stderr
    assert "libshift has no counter handshake: failing closed" in err
    assert "DEFAULT --ERROR_UNSAFE--> FAILED" in err


def test_two_sided_replay_when_explicitly_allowed(harness: Path, tmp_path: Path) -> None:
    err = run(harness, "failover", tmp_path, SHIFT_REPLAY_TWO_SIDED="1").stderr
    assert "DEFAULT --ERROR_SAFE--> FALLBACK" in err
