"""``python -m shift_core.theorems <id|alias> [--out DIR] [--bound N] [--mode rocq|causal]`` (pipeline entry)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shift_core.errors import ShiftUserError
from shift_core.theorems.registry import resolve
from shift_core.theorems.runner import DEFAULT_OUT, run_and_write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shift_core.theorems", description=__doc__)
    parser.add_argument("check", help="check id or alias (all, thm1, thm2, thm3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--bound", type=int, default=None)
    parser.add_argument("--mode", choices=("rocq", "causal"), default=None)
    args = parser.parse_args(argv)
    try:
        passed = run_and_write(resolve(args.check), args.out, args.bound, args.mode)
    except ShiftUserError as exc:
        print(f"shift: error: {exc}", file=sys.stderr)
        return 2
    for cid, ok in passed.items():
        print(f"{cid}: {'passed' if ok else 'FAILED'}")
    return 0 if all(passed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
