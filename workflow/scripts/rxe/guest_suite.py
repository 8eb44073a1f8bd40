#!/usr/bin/python3
"""The in-guest suite: everything the rxe stage measures, in ONE boot of the guest (Debian python3, stdlib).

    python3 workflow/scripts/rxe/guest_suite.py OUTDIR [--parts versions,conformance,perftest,pingpong,failover]

Each part writes ``OUTDIR/<part>.json`` (status ok / error / skipped + reason) and never takes the others down;
the host (rxe_guest.collect) turns them into data/rxe/ with a manifest. Parts:

- versions:    the guest's package versions (libibverbs, rdma-core, pyverbs, perftest, kernel).
- conformance: pytest on the backend conformance tests (tests/rdma/guest + sim's portable ones) on real rxe.
- perftest:    ib_write_bw / ib_write_lat with and without the interposer (LD_PRELOAD), interleaved in the
               same run, reported as ratios.
- pingpong:    rdma-core's ibv_rc_pingpong, unmodified, under the interposer.
- failover:    link faults (ip link down peer/local, netem 100 % loss) in the middle of traffic; see
               failover_guest.py.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(os.environ.get("SHIFT_PROJECT", "/project"))
PARTS = ("versions", "conformance", "perftest", "pingpong", "failover", "libshift")
VERSION_PACKAGES = ("libibverbs1", "ibverbs-providers", "ibverbs-utils", "python3-pyverbs", "perftest",
                    "python3", "iproute2", "python3-pytest")
#: the backend conformance tests: the same bodies run on sim in the host test run (tests/rdma/guest)
CONFORMANCE_PATHS = ("tests/rdma/guest",)
SERVER, CLIENT = "rxe_p1", "rxe_p0"


def log(msg: str) -> None:
    print(f"[suite {time.monotonic():9.3f}] {msg}", flush=True)


def write(out: Path, part: str, obj: dict[str, Any]) -> None:
    tmp = out / f".{part}.json.tmp"
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    tmp.replace(out / f"{part}.json")


def sh(cmd: list[str] | str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# -- versions -----------------------------------------------------------------------------------------------
def part_versions(out: Path) -> dict[str, Any]:
    r = sh(["dpkg-query", "-W", "-f", "${Package}\t${Version}\n", *VERSION_PACKAGES])
    versions = dict(line.split("\t", 1) for line in r.stdout.splitlines() if "\t" in line)
    versions["kernel"] = os.uname().release
    return {"status": "ok", "versions": versions}


# -- conformance --------------------------------------------------------------------------------------------
def part_conformance(out: Path) -> dict[str, Any]:
    paths = [p for p in CONFORMANCE_PATHS if (PROJECT / p).exists()]
    xml = out / "conformance.xml"
    r = sh([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", f"--junitxml={xml}", *paths],
           timeout=900, env={"SHIFT_BACKEND": "rxe", "SHIFT_DEVICES": "rxe_p0,rxe_b0,rxe_p1,rxe_b1"})
    (out / "conformance.log").write_text(r.stdout + r.stderr)
    cases: list[dict[str, str]] = []
    if xml.is_file():
        for case in ET.parse(xml).getroot().iter("testcase"):
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                el = case.find(tag)
                if el is not None:
                    outcome = {"failure": "failed"}.get(tag, tag)
                    cases.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                                  "message": (el.get("message") or "")[:300]})
                    break
            else:
                cases.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome})
    counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error", "skipped")}
    return {"status": "ok" if r.returncode in (0, 5) else "failed", "pytest_rc": r.returncode, "paths": paths,
            "counts": counts, "cases": cases}


# -- perftest -----------------------------------------------------------------------------------------------
def interposer_env() -> tuple[dict[str, str] | None, str]:
    """LD_PRELOAD environment for libshift, or (None, why not)."""
    so = os.environ.get("SHIFT_LIBSHIFT", "")
    if not so:
        return None, "libshift.so not found in the project (build it with the interposer's make target)"
    path = PROJECT / so if not so.startswith("/") else Path(so)
    if not path.is_file():
        return None, f"{path} does not exist"
    env = {"LD_PRELOAD": str(path), "SHIFT_BACKUP_GID_INDEX": "1", "SHIFT_KV_DIR": "/tmp/shift-kv"}
    for kv in os.environ.get("SHIFT_INTERPOSER_ENV", "").split():
        k, _, v = kv.partition("=")
        env[k] = v
    return env, ""


def run_pair(tool: str, args: list[str], env: dict[str, str] | None,
             timeout: float = 120) -> tuple[int, str, str, str]:
    """Server on rxe_p1 (host B, backup rxe_b1), client on rxe_p0 (host A, backup rxe_b0); the TCP exchange goes
    over loopback, RDMA traffic over the p0<->p1 veth. ``env`` (the interposer's) applies to both ends.
    Returns (exit status, client stdout, client stderr, server output)."""
    srv_env = {**env, "SHIFT_BACKUP_DEVICE": "rxe_b1"} if env else {}
    cli_env = {**env, "SHIFT_BACKUP_DEVICE": "rxe_b0"} if env else {}
    srv = subprocess.Popen([tool, "-d", SERVER, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, **srv_env})
    time.sleep(0.7)
    try:
        cli = sh([tool, "-d", CLIENT, *args, "127.0.0.1"], timeout=timeout, env=cli_env)
        srv_out, _ = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    return cli.returncode or (srv.returncode or 0), cli.stdout, cli.stderr, srv_out or ""


PERFTESTS = {
    "ib_write_bw": ["-x", "1", "-F", "--report_gbits", "-s", "65536", "-n", "300"],
    "ib_write_lat": ["-x", "1", "-F", "-s", "2", "-n", "1000"],
}


def perftest_row(tool: str, mode: str, rep: int, rc: int, stdout: str, stderr: str, server: str) -> dict[str, Any]:
    """One rep as a row: its finite values, ``valid``, and for a failed rep the reason and the output tail."""
    from shift_core.realverbs import perftest_output

    return perftest_output.rep_row(tool, mode, rep, rc, stdout, stderr, server)


def part_perftest(out: Path, reps: int = 3) -> dict[str, Any]:
    """perftest with and without the interposer, interleaved; a failed rep is a row with its reason, not a crash."""
    from shift_core.realverbs import perftest_output

    env, why = interposer_env()
    rows: list[dict[str, Any]] = []
    for rep in range(reps):
        for tool, args in PERFTESTS.items():
            modes = ["plain", "interposer"] if env is not None else ["plain"]
            if rep % 2:
                modes.reverse()  # alternate the order so drift in the (TCG) guest cancels out
            for mode in modes:
                row = perftest_row(tool, mode, rep, *run_pair(tool, args, env if mode == "interposer" else None))
                rows.append(row)
                log(f"perftest {tool} {mode} rep {rep}: rc={row['rc']} valid={row['valid']} "
                    f"{row.get('reason', '')}")
    summary: dict[str, Any] = {}
    for tool in PERFTESTS:
        metric = perftest_output.METRIC[perftest_output.kind(tool)]
        good = [r for r in rows if r["tool"] == tool and r["valid"]]
        med = {m: statistics.median(r[metric] for r in good if r["mode"] == m)
               for m in ("plain", "interposer") if any(r["mode"] == m for r in good)}
        summary[tool] = {"metric": metric, **{f"median_{m}": v for m, v in med.items()},
                         "failed_reps": sum(1 for r in rows if r["tool"] == tool and not r["valid"])}
        pairs = [(p[metric], i[metric]) for p, i in _pairs(good, tool)]
        if pairs:  # adjacent plain/interposer runs of one rep: drift of the (TCG) guest cancels within a pair
            summary[tool]["median_pair_ratio"] = statistics.median(i / p for p, i in pairs)
        tail = [(p["t_avg_us"], i["t_avg_us"]) for p, i in _pairs(good, tool) if "t_avg_us" in p and "t_avg_us" in i]
        if tail:  # the mean includes the tail (max): it shows what the typical (median) latency hides
            summary[tool]["median_pair_ratio_t_avg"] = statistics.median(i / p for p, i in tail)
        if len(med) == 2 and med["plain"]:
            # overhead > 0 means the interposer is slower: lower bandwidth or higher latency
            ratio = med["interposer"] / med["plain"]
            summary[tool]["ratio_interposer_over_plain"] = ratio
            summary[tool]["overhead"] = (1 / ratio - 1) if tool == "ib_write_bw" else (ratio - 1)
    measured = all(any(r["tool"] == t and r["mode"] == "plain" for r in rows if r["valid"]) for t in PERFTESTS)
    return {"status": "ok" if measured else "failed",
            "reason": "" if measured else "no valid plain rep of some tool (see the failed rows)",
            "interposer": "absent: " + why if env is None else env["LD_PRELOAD"], "reps": reps, "rows": rows,
            "summary": summary}


def _pairs(rows: list[dict[str, Any]], tool: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(plain, interposer) rows of the same rep of ``tool``."""
    by_rep: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r["tool"] == tool:
            by_rep.setdefault(r["rep"], {})[r["mode"]] = r
    return [(m["plain"], m["interposer"]) for m in by_rep.values() if "plain" in m and "interposer" in m]


# -- pingpong -----------------------------------------------------------------------------------------------
def part_pingpong(out: Path) -> dict[str, Any]:
    env, why = interposer_env()
    args = ["-g", "1", "-n", "500", "-s", "4096"]
    plain = run_pair("ibv_rc_pingpong", args, None)
    res: dict[str, Any] = {"plain_rc": plain[0], "plain_output": (plain[1] + plain[2])[-600:]}
    if env is None:
        return {"status": "skipped", "reason": why, **res}
    rc, cli, err, srv = run_pair("ibv_rc_pingpong", args, env)
    m = re.search(r"([\d.]+) usec/iter", cli)
    return {"status": "ok" if rc == 0 else "failed", "interposer_rc": rc, "usec_per_iter": float(m.group(1)) if m
            else None, "interposer_output": (cli + err + srv)[-1500:], **res}


# -- failover -----------------------------------------------------------------------------------------------
def part_failover(out: Path) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import failover_guest

    return failover_guest.run_all(out)


RUNNERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "versions": part_versions, "conformance": part_conformance, "perftest": part_perftest,
    "pingpong": part_pingpong, "failover": part_failover,
    "libshift": lambda out: __import__("libshift_guest").run_all(out),  # libshift under unmodified programs
}


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "/host/out")
    parts = PARTS
    if len(argv) > 3 and argv[2] == "--parts":
        parts = tuple(p for p in argv[3].split(",") if p)
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for part in parts:
        t0 = time.monotonic()
        log(f"part {part} start")
        try:
            res = RUNNERS[part](out)
        except Exception as exc:  # a part's crash is a result, and must not hide the other parts
            res = {"status": "error", "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        res["seconds"] = round(time.monotonic() - t0, 2)
        write(out, part, res)
        bad += res["status"] in ("error", "failed")
        log(f"part {part} {res['status']} in {res['seconds']} s")
    return 1 if bad else 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    # Skip interpreter teardown: pyverbs objects finalised in arbitrary order at exit can touch closed device
    # fds (seen as "Failed to dereg MR ... Bad file descriptor" and a segfault); the kernel releases every RDMA
    # resource of an exiting process anyway, and every result is already written.
    os._exit(code)
