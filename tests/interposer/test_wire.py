"""A C end (libshift.so) and a Python end (shift_core.shift on pyverbs) of one connection speak the same
formats: the KV schema (keys, JSON values, pyverbs' GID spelling), the 32-byte handshake message, and the
constants of the probe / notification / filler WRs. The bytes are compared both ways here; the live pairing
(C under libshift on one end, the Python layer on the other) runs in the rxe guest (libshift_guest.py)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shift_core.kv.dir_store import DirKV
from shift_core.shift import mailbox, qp
from shift_core.shift.exchange import mr_key, qp_key, region_key
from tests.interposer.conftest import BACKUPS, clean_env

HERE = Path(__file__).resolve().parent
GID = re.compile(r"^[0-9a-f]{4}(:[0-9a-f]{4}){7}$")  # pyverbs' GID.gid


@pytest.fixture(scope="module")
def wire(csrc: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    exe = tmp_path_factory.mktemp("wire") / "wire_check"
    subprocess.run(["cc", "-std=gnu11", "-O1", "-Wall", "-Werror", f"-I{csrc}", "-o", str(exe),
                    str(HERE / "wire_check.c"), str(csrc / "shift_wire.c")], check=True)

    def call(*args: str) -> str:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout.strip()

    return call


u64 = st.integers(0, 2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(u64, st.sampled_from([mailbox.REQ, mailbox.ACK]), u64, u64)
def test_handshake_bytes_are_the_python_layers(wire: Any, number: int, kind: int, count: int, stale: int) -> None:
    msg = mailbox.Handshake(number, kind, count, stale)
    assert wire("pack", str(number), str(kind), str(count), str(stale)) == msg.pack().hex()
    assert wire("unpack", msg.pack().hex()) == f"{number} {kind} {count} {stale}"


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_gid_spelling_is_pyverbs(wire: Any, raw: bytes) -> None:
    text = wire("gid", raw.hex())
    h = raw.hex()
    assert text == ":".join(h[i:i + 4] for i in range(0, 32, 4))  # pyverbs.utils.gid_str
    assert wire("parse", text) == raw.hex()


def test_json_values_written_by_python_are_read_by_c(wire: Any) -> None:
    for value in ({"gid": "fe80:0000:0000:0000:0000:0000:0000:0001", "qpn": 17}, {"rkey": 4242},
                  {"addr": 2**47 + 3, "rkey": 9, "brkey": 11}):
        text = json.dumps(value)
        for k, v in value.items():
            assert wire("str" if isinstance(v, str) else "u64", text, k) == str(v)
    assert wire("u64", json.dumps({"gid": "qpn", "x": 1}), "qpn") == "absent"  # a value is not a key
    assert wire("u64", json.dumps({"rkey": 5}), "qpn") == "absent"


def test_constants_agree(csrc: Path) -> None:
    header = (csrc / "shift_wire.h").read_text()

    def const(name: str) -> int:
        m = re.search(rf"#define {name} (0x[0-9a-fA-F]+|\d+)u?", header)
        assert m, name
        return int(m.group(1), 0)

    assert const("SHIFT_MAILBOX_BYTES") == mailbox.MAILBOX_BYTES
    assert const("SHIFT_HS_REQ") == mailbox.REQ and const("SHIFT_HS_ACK") == mailbox.ACK
    assert const("SHIFT_NOTIFY_IMM") == qp._NOTIFY_IMM


def test_libshift_publishes_what_the_python_layer_looks_up(csrc: Path, tmp_path: Path) -> None:
    """libshift's KV entries, read with the Python layer's own store and key functions."""
    kv_dir = tmp_path / "kv"
    env = clean_env(LD_LIBRARY_PATH=str(csrc / "fakeverbs"), LD_PRELOAD=str(csrc / "libshift.so"),
                    SHIFT_KV_DIR=str(kv_dir), SHIFT_BACKUP_DEVICE=BACKUPS)
    proc = subprocess.Popen([str(csrc / "shift_pair"), "--n", "50", "--wait-s", "4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(kv_dir.glob("mbox_*"))) < 2:
            time.sleep(0.05)
        time.sleep(0.2)  # the MRs are published at the same RTR
        check_entries(DirKV(str(kv_dir)), sorted(p.name for p in kv_dir.iterdir() if not p.name.startswith(".")))
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0


def check_entries(store: DirKV, names: list[str]) -> None:
    """Every QP's mailbox, backup route and MR keys, looked up the way shift_core.shift.qp does."""
    mboxes = [n for n in names if n.startswith("mbox_")]
    assert len(mboxes) == 2, names
    for name in mboxes:
        parts = name.split("_")
        gid, qpn = ":".join(parts[1:9]), int(parts[9])
        assert GID.match(gid)
        region = store.get(region_key("mbox", gid, qpn))
        assert region is not None and {"addr", "rkey", "brkey"} <= region.keys()
        backup = store.get(qp_key(gid, qpn))
        assert backup is not None and GID.match(backup["gid"]) and isinstance(backup["qpn"], int)
        assert backup["gid"] != gid  # the backup device's GID
        mrs = [n for n in names if n.startswith("mr_" + "_".join(parts[1:9]) + "_")]
        assert mrs, names
        for m in mrs:
            got = store.get(mr_key(gid, int(m.split("_")[9])))
            assert got is not None and isinstance(got["rkey"], int)
