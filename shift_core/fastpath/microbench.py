"""Fast-path microbenchmark: ns per WR that libshift.so adds to the data verbs (``csrc/shift_bench``), to data/fastpath.

Why C and the fake provider: a cffi call costs far more than libshift itself, so the timing loop is
``csrc/shift_bench.c``, run under ``LD_PRELOAD=libshift.so`` on the fake libibverbs in bench mode (a provider
that writes one 64-byte WQE per WR and completes at once). It times the application's path (libshift's
swapped ops: QP/CQ lookup, biased lock, WR log, retirement) against the provider's own functions, same
process, alternating. Patterns: a lone signaled post_send, NCCL's 7 unsignaled + 1 signaled, post_recv, and
poll_cq. The goal of the issue (<= 5 ns added per WR) is reported as met / not met, never asserted, next to the
paper's per-verb anchors (mlx5 post_send ~39 ns, post_recv ~23 ns; SHIFT-D Fig 9). On this noisy shared
machine, valgrind's callgrind also counts the instructions each path executes per WR (repeatable, where the
nanoseconds are not). Run: ``python -m shift_core.fastpath.microbench [--repeats N] [--no-callgrind]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from shift_core.errors import ShiftUserError
from shift_core.fastpath.gen_machine import REPO_ROOT
from shift_core.results import manifest, write_json_atomic, write_text_atomic

CSRC = REPO_ROOT / "csrc"
#: the issue's goal for the added cost of logging, ns per WR
GOAL_ADDED_NS = 5.0
#: reference values from the paper (SHIFT-D Fig 9, mlx5, with and without SHIFT), for scale only
PAPER_VERB_NS = {"post_send": 39.0, "post_recv": 23.0, "poll_cq": 24.0}


#: WRs per timed phase in csrc/shift_bench.c
PHASE = 64
PATTERNS = ("post_send_signaled", "post_send_batch8_last_signaled", "post_recv")


def build_bench() -> Path:
    """``make -C csrc`` of the benchmark, libshift.so and the fake provider; one-line ShiftUserError if not."""
    if shutil.which("make") is None:
        raise ShiftUserError("make not found: apt-get install make gcc libibverbs-dev")
    proc = subprocess.run(["make", "-s", "-C", str(CSRC), "shift_bench", "libshift.so", "fakeverbs/libibverbs.so.1"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stdout + proc.stderr).strip().splitlines()
        raise ShiftUserError(f"cannot build csrc/shift_bench: {last[-1] if last else 'make failed'}")
    return CSRC / "shift_bench"


def bench_env() -> dict[str, str]:
    """libshift preloaded on the fake provider in bench mode, no backup device (the fast path is the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIFT_", "FAKEVERBS_", "LD_"))}
    env.update(LD_LIBRARY_PATH=str(CSRC / "fakeverbs"), LD_PRELOAD=str(CSRC / "libshift.so"), FAKEVERBS_BENCH="1",
               SHIFT_LOG="0")
    return env


def instructions(exe: Path, wrs: int = 64_000) -> dict[str, dict[str, float]] | None:
    """Instructions per WR of each pattern on each path (valgrind --tool=callgrind), or None without valgrind.

    Each count covers the posts *and* the polls that retire them; valgrind cannot run membarrier, so libshift's
    locks take their spinlock path there (a few more instructions than the biased fast path).
    """
    if shutil.which("valgrind") is None:
        return None
    out: dict[str, dict[str, float]] = {}
    for pattern in PATTERNS:
        counts = {}
        for path in ("base", "shift"):
            proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(exe),
                                   "--count", pattern, path, str(wrs)], capture_output=True, text=True,
                                  env=bench_env(), timeout=600)
            m = re.search(r"Collected : (\d+)", proc.stderr)
            if proc.returncode != 0 or not m:
                return None
            counts[path] = int(m.group(1))
        # the fixed start-up cost cancels in the difference; per WR it is small against `wrs`
        out[pattern] = {"base_instr_per_wr": counts["base"] / wrs, "shift_instr_per_wr": counts["shift"] / wrs,
                        "added_instr_per_wr": (counts["shift"] - counts["base"]) / wrs}
    return out


def run(repeats: int = 101, wrs: int = 4096, callgrind: bool = True) -> dict[str, Any]:
    """Build and run the benchmark; the parsed results plus goal verdicts and machine facts."""
    if not 1 <= repeats <= 256 or wrs < PHASE:
        raise ShiftUserError(f"--repeats must be 1..256 and --wrs at least {PHASE}")
    exe = build_bench()
    load_before = os.getloadavg()[0]
    proc = subprocess.run([str(exe), str(repeats), str(wrs // PHASE)], capture_output=True, text=True,
                          env=bench_env())
    if proc.returncode != 0:
        raise ShiftUserError(f"csrc/shift_bench failed: {(proc.stderr or proc.stdout).strip()[-200:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    # a shared machine inflates both loops unequally: record how busy it was, so readers can judge the numbers
    out["loadavg_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    for row in out["results"]:
        row["goal_added_ns"] = GOAL_ADDED_NS
        row["goal_met"] = row["added_ns_per_wr"] <= GOAL_ADDED_NS
    out["cpu"] = _cpu_model()
    out["cores_online"] = os.cpu_count()
    out["method"] = ("libshift.so preloaded on the fake provider in bench mode; per repeat, phases of 64 WRs on the "
                     "provider's own data verbs (base) and on the application's path through libshift (logged), "
                     "alternating; post_send/post_recv rows time the posts, poll_cq the polls (batches of 16) that "
                     "retire lone signaled WRs; added = median of paired differences over repeats; *_min = fastest "
                     "repeat; goal_met judges the median")
    out["instructions"] = instructions(exe) if callgrind else None
    out["paper_reference_ns"] = PAPER_VERB_NS
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write(result: dict[str, Any], data_dir: Path) -> Path:
    """microbench.json + microbench.csv + manifest.json under ``data_dir`` (atomic writes)."""
    path = write_json_atomic(data_dir / "microbench.json", result)
    cols = ["pattern", "batch", "base_ns_per_wr", "logged_ns_per_wr", "added_ns_per_wr", "ratio", "goal_met"]
    rows = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in result["results"]]
    write_text_atomic(data_dir / "microbench.csv", "\n".join(rows) + "\n")
    write_json_atomic(data_dir / "manifest.json",
                      manifest("native", {"repeats": result["results"][0]["repeats"],
                                          "wrs": result["results"][0]["wrs_per_repeat"]},
                               extra={"outputs": ["microbench.json", "microbench.csv"]}))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=101)
    parser.add_argument("--wrs", type=int, default=4096,
                        help="WRs per pattern and path per repeat (short runs fit in one scheduler slice)")
    parser.add_argument("--no-callgrind", action="store_true", help="skip the valgrind instruction counts")
    parser.add_argument("--out", type=Path,
                        default=Path(os.environ.get("SHIFT_DATA_DIR", REPO_ROOT / "data")) / "fastpath")
    args = parser.parse_args(argv)
    try:
        result = run(args.repeats, args.wrs, callgrind=not args.no_callgrind)
    except ShiftUserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = write(result, args.out)
    for r in result["results"]:
        verdict = "met" if r["goal_met"] else "NOT met"
        print(f"{r['pattern']:32s} base {r['base_ns_per_wr']:6.2f} ns/WR  logged {r['logged_ns_per_wr']:6.2f}  "
              f"added {r['added_ns_per_wr']:5.2f} ns (fastest runs {r['added_min_ns_per_wr']:5.2f})  "
              f"ratio {r['ratio']:.2f}  goal<=5ns {verdict}")
    for pattern, ins in (result.get("instructions") or {}).items():
        print(f"{pattern:32s} instructions per WR (post + retiring poll): base {ins['base_instr_per_wr']:.1f}  "
              f"libshift {ins['shift_instr_per_wr']:.1f}  added {ins['added_instr_per_wr']:.1f}")
    load = result["loadavg_1min"]
    print(f"load average (1 min) {load['before']:.2f} -> {load['after']:.2f} on {result['cores_online']} cores; "
          f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
