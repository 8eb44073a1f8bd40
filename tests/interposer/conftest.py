"""Fixtures: csrc/ built once per session (make -C csrc); skipped with the one-line reason when it cannot be.

The fake provider (csrc/fakeverbs/libibverbs.so.1) stands in for libibverbs under LD_LIBRARY_PATH, so the
tests run the real libshift.so exactly as deployed -- preloaded under an unmodified verbs program -- on this
machine without RDMA. Hosts A (fake_p0, backup fake_b0) and B (fake_p1, backup fake_b1) share one process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shift_core.fastpath.gen_machine import REPO_ROOT

CSRC = REPO_ROOT / "csrc"
BACKUPS = "fake_p0:fake_b0,fake_p1:fake_b1"


@pytest.fixture(scope="session")
def csrc() -> Path:
    """The csrc directory with libshift.so, the fake provider and the test programs built."""
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


@dataclass
class Run:
    """One program run on the fake provider: exit code, its JSON lines, libshift's log and transition trace."""

    rc: int
    hosts: dict[str, dict[str, Any]]
    stderr: str
    trace: list[dict[str, Any]] = field(default_factory=list)

    def transitions(self, qpn: int | None = None) -> list[str]:
        """``"sq DEFAULT-ERROR_SAFE->FALLBACK"``-style strings, in order."""
        return [f"{t['queue']} {t['from']}-{t['event']}->{t['to']}" for t in self.trace
                if "queue" in t and (qpn is None or t["qpn"] == qpn)]

    def summaries(self) -> dict[int, dict[str, Any]]:
        return {t["qpn"]: t["summary"] for t in self.trace if "summary" in t}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIFT_", "FAKEVERBS_", "LD_"))}
    env.update(extra)
    return env


@pytest.fixture
def fake(csrc: Path, tmp_path: Path) -> Any:
    """Run a csrc program on the fake provider, with or without libshift preloaded."""

    def run(program: str, *args: str, shift: bool = True, backups: str | None = BACKUPS, timeout: float = 120,
            **extra: str) -> Run:
        trace = tmp_path / f"trace-{len(list(tmp_path.glob('trace-*')))}.jsonl"
        env = clean_env(LD_LIBRARY_PATH=str(csrc / "fakeverbs"), SHIFT_KV_DIR=str(tmp_path / "kv"),
                        SHIFT_PROBE_MS="10", SHIFT_TRACE=str(trace), **extra)
        if shift:
            env["LD_PRELOAD"] = str(csrc / "libshift.so")
        if backups:
            env["SHIFT_BACKUP_DEVICE"] = backups
        proc = subprocess.run([str(csrc / program), *args], capture_output=True, text=True, env=env,
                              timeout=timeout)
        hosts = {}
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                obj = json.loads(line)
                hosts[obj.get("host", "all")] = obj
        events = [json.loads(x) for x in trace.read_text().splitlines()] if trace.exists() else []
        return Run(proc.returncode, hosts, proc.stderr, events)

    return run
