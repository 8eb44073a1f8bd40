"""The interposer's KV store (csrc/shift_kv.c) through csrc/shift_kvtool: file store, and Redis when installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def kvtool(csrc: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SHIFT_")} | env
    return subprocess.run([str(csrc / "shift_kvtool"), *args], capture_output=True, text=True, env=full, timeout=30)


def test_file_store_round_trip_and_absent_key(csrc: Path, tmp_path: Path) -> None:
    env = {"SHIFT_KV_DIR": str(tmp_path / "kv")}
    key = "qp:fe800000000000000000000000000001:17"
    assert kvtool(csrc, env, "put", key, "fe80 42 0 00000000000000aa").returncode == 0
    got = kvtool(csrc, env, "get", key)
    assert (got.returncode, got.stdout) == (0, "fe80 42 0 00000000000000aa\n")
    assert not [p for p in (tmp_path / "kv").iterdir() if ".tmp." in p.name]  # atomic: no temp file left
    assert kvtool(csrc, env, "get", "mr:absent:1", "30").returncode == 1
    assert kvtool(csrc, env, "del", key).returncode == 0
    assert kvtool(csrc, env, "get", key).returncode == 1
    assert kvtool(csrc, env, "del", key).returncode == 0  # deleting an absent key is fine


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed: apt-get install redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_store_round_trip(csrc: Path, redis_port: int) -> None:
    env = {"SHIFT_KV_REDIS": f"127.0.0.1:{redis_port}"}
    assert kvtool(csrc, env, "put", "mr:00000000000000aa:4660", "8721").returncode == 0
    got = kvtool(csrc, env, "get", "mr:00000000000000aa:4660")
    assert (got.returncode, got.stdout) == (0, "8721\n")
    assert kvtool(csrc, env, "get", "mr:00000000000000aa:1").returncode == 1
    assert kvtool(csrc, env, "del", "mr:00000000000000aa:4660").returncode == 0
    assert kvtool(csrc, env, "get", "mr:00000000000000aa:4660").returncode == 1


def test_unreachable_redis_is_a_failure_not_a_hang(csrc: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once the socket closes
    env = {"SHIFT_KV_REDIS": f"127.0.0.1:{port}"}
    assert kvtool(csrc, env, "put", "k", "v").returncode == 1
    assert kvtool(csrc, env, "get", "k", "50").returncode == 1
