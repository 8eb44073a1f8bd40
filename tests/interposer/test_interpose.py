"""libshift.so: builds, exports the control verbs, binds ahead of libibverbs in an unmodified verbs program,
fails cleanly without an RDMA device, reports a missing libibverbs-dev in one line, and runs the generated
state machine of the current machine.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shift_core.fastpath import gen_machine

CONTROL_VERBS = ["ibv_get_device_list", "ibv_open_device", "ibv_close_device", "ibv_alloc_pd", "ibv_dealloc_pd",
                 "ibv_reg_mr", "ibv_reg_mr_iova", "ibv_reg_mr_iova2", "ibv_dereg_mr", "ibv_create_cq",
                 "ibv_destroy_cq", "ibv_create_qp", "ibv_modify_qp", "ibv_destroy_qp", "ibv_get_async_event",
                 "ibv_reg_dmabuf_mr", "ibv_get_cq_event", "ibv_ack_cq_events", "dlsym", "dlvsym"]
PROBE_CALLS = ["ibv_get_device_list", "ibv_open_device", "ibv_close_device", "ibv_alloc_pd", "ibv_dealloc_pd",
               "ibv_create_cq", "ibv_destroy_cq", "ibv_create_qp", "ibv_modify_qp", "ibv_destroy_qp"]


def preload_env(csrc: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFT_")}
    env.update(LD_PRELOAD=str(csrc / "libshift.so"), **extra)
    return env


def test_library_exports_every_interposed_control_verb(csrc: Path) -> None:
    out = subprocess.run(["nm", "-D", "--defined-only", str(csrc / "libshift.so")], capture_output=True, text=True,
                         check=True).stdout
    exported = set(re.findall(r" T (\w+)", out))
    assert set(CONTROL_VERBS) <= exported
    assert not {"ibv_post_send", "ibv_post_recv", "ibv_poll_cq"} & exported  # static inline: swapped, not exported
    assert exported <= set(CONTROL_VERBS)  # nothing else leaks (libshift's internals are local)


def test_preload_binds_the_programs_control_verbs_to_libshift(csrc: Path) -> None:
    """LD_BIND_NOW resolves every symbol at start-up, so the loader's trace shows where each one went."""
    proc = subprocess.run([str(csrc / "shift_probe")], capture_output=True, text=True,
                          env=preload_env(csrc, LD_DEBUG="bindings", LD_BIND_NOW="1"))
    for verb in PROBE_CALLS:
        lines = [ln for ln in proc.stderr.splitlines() if "shift_probe" in ln.split("binding file")[-1].split(" to ")[0]
                 and f"`{verb}'" in ln]
        assert lines, f"no binding of {verb} from shift_probe in the loader trace"
        assert all("libshift.so" in ln.split(" to ")[1] for ln in lines), lines


def test_no_device_fails_cleanly_with_a_clear_message(csrc: Path, rdma_devices: bool) -> None:
    if rdma_devices:
        pytest.skip("this host has an RDMA device; the no-device path does not apply")
    probe = subprocess.run([str(csrc / "shift_probe")], capture_output=True, text=True, env=preload_env(csrc))
    assert probe.returncode == 3, probe.stderr  # its own "no device" exit, not a signal
    assert "libshift: no RDMA device found" in probe.stderr
    assert "SHIFT is inactive" in probe.stderr
    tool = shutil.which("ibv_devinfo")
    if tool is None:
        pytest.skip("ibverbs-utils not installed: ibv_devinfo unavailable for the second program")
    run = subprocess.run([tool], capture_output=True, text=True, env=preload_env(csrc))
    assert run.returncode >= 0  # exited, not killed by a signal
    assert "libshift: no RDMA device found" in run.stderr


def test_loads_the_current_state_machine(csrc: Path) -> None:
    proc = subprocess.run([str(csrc / "shift_probe")], capture_output=True, text=True,
                          env=preload_env(csrc, SHIFT_LOG="2"))
    assert f"state machine {gen_machine.fingerprint()}" in proc.stderr


def test_config_file_is_read_and_environment_wins(csrc: Path, tmp_path: Path) -> None:
    conf = tmp_path / "shift.conf"
    conf.write_text("# comment\nbackup_device = rxe9\nkv_dir = /tmp/from-file\nbogus = 1\nlog = 2\n")
    proc = subprocess.run([str(csrc / "shift_probe")], capture_output=True, text=True,
                          env=preload_env(csrc, SHIFT_CONFIG=str(conf), SHIFT_KV_DIR=str(tmp_path)))
    assert "unknown option 'bogus' ignored" in proc.stderr
    assert f"backup device rxe9; kv dir {tmp_path}" in proc.stderr


def test_missing_libibverbs_dev_is_a_one_line_error(csrc: Path) -> None:
    proc = subprocess.run(["make", "-s", "-C", str(csrc), "check-verbs", "CC=cc --sysroot=/nonexistent"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "csrc: <infiniband/verbs.h> not found: apt-get install libibverbs-dev" in proc.stdout
